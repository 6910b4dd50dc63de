"""Data model of the Productive.io API v2 emulator.

Productive speaks JSON:API, so the store keeps every record the same way:
a resource with a type, an integer id, an attribute dict and to-one
relationships to other resources. The types are people, companies,
projects, deals (budgets), services (budget lines), service types,
tasks, time entries and expenses. Time is in minutes and money in minor
units (cents). Tests seed it with `add` or `productive.load_firm`, and
change it as people do in Productive with `approve`, `unapprove`,
`reject`, `edit_entry`, `delete_entry` and the expense counterparts.
Those changes bump `updated_at` and queue a PSA change event
(`take_events`). Seeding does not.
"""

import itertools
import threading
from dataclasses import dataclass, field

from .base import ApiError, EmulatorClock
from .psa_events import PsaEventLog

# First id of each type, far apart so ids of two types never collide.
ID_STARTS = {
    "people": 310_001,
    "companies": 520_001,
    "projects": 730_001,
    "deals": 940_001,
    "services": 1_150_001,
    "service_types": 60_001,
    "tasks": 2_360_001,
    "time_entries": 8_570_001,
    "expenses": 4_780_001,
}

# Attributes every resource of a type carries, with their defaults.
DEFAULT_ATTRIBUTES = {
    "people": {
        "first_name": "",
        "last_name": "",
        "email": "",
        "title": "",
        "archived_at": None,
        "joined_at": None,
    },
    "companies": {
        "name": "",
        "billing_name": "",
        "vat": "",
        "default_currency": "EUR",
        "company_code": "",
        "domain": "",
        "archived_at": None,
    },
    "projects": {
        "name": "",
        "project_number": "",
        "project_type_id": 2,
        "archived_at": None,
        "last_activity_at": None,
    },
    "deals": {
        "name": "",
        "number": "",
        "budget": True,
        "currency": "EUR",
        "date": None,
        "end_date": None,
    },
    "services": {
        "name": "",
        "billing_type_id": 2,
        "unit_id": 1,
        "price": 0,
        "quantity": 0,
        "budgeted_time": 0,
    },
    "service_types": {"name": "", "archived_at": None},
    "tasks": {"title": "", "closed": False, "due_date": None},
    "time_entries": {
        "date": None,
        "time": 0,
        "billable_time": 0,
        "recognized_time": 0,
        "note": "",
        "track_method_id": 1,
        "started_at": None,
        "timer_started_at": None,
        "timer_stopped_at": None,
        "approved": False,
        "approved_at": None,
        "rejected": False,
        "rejected_reason": None,
        "rejected_at": None,
        "submitted": False,
        "invoiced": False,
        "overhead": False,
        "last_activity_at": None,
        "currency": "EUR",
    },
    "expenses": {
        "name": "",
        "date": None,
        "amount": 0,
        "billable_amount": 0,
        "currency": "EUR",
        "quantity": 1,
        "approved": False,
        "approved_at": None,
        "rejected": False,
        "rejected_reason": None,
        "rejected_at": None,
        "reimbursed": False,
        "invoiced": False,
    },
}

# To-one relationships of each type: relationship name -> related type.
RELATIONSHIPS = {
    "people": {},
    "companies": {},
    "projects": {"company": "companies", "project_manager": "people"},
    "deals": {"company": "companies", "project": "projects"},
    "services": {"deal": "deals", "service_type": "service_types"},
    "service_types": {},
    "tasks": {"project": "projects"},
    "time_entries": {
        "person": "people",
        "service": "services",
        "task": "tasks",
        "approver": "people",
        "creator": "people",
    },
    "expenses": {
        "person": "people",
        "deal": "deals",
        "service": "services",
        "service_type": "service_types",
        "approver": "people",
    },
}

EVENT_NAMES = {
    "people": "person",
    "companies": "company",
    "projects": "project",
    "time_entries": "time_entry",
    "expenses": "expense",
}


@dataclass
class ProductiveConfig:
    """Settings of one Productive emulator, including the unverified facts."""

    organization_id: str = "20001"
    api_token: str = "productive-emulator-token"
    # NOTE: older Productive docs reject a bad token with 401, newer ones
    # with 403. The emulator follows the newer reading unless a test sets 401.
    unauthenticated_status: int = 403
    page_size_default: int = 30
    # NOTE: Productive's maximum page size is not verified. The emulator
    # allows 200 and rejects a larger page[size] with 400.
    page_size_max: int = 200
    # NOTE: Productive's rate limit is not verified, so the emulator limits
    # nothing unless a test sets one (or calls `Faults.rate_limit`).
    rate_limit_requests: int = 1_000_000
    rate_limit_window_seconds: float = 10.0
    # The JSON:API specification requires 400 for an unknown include path.
    reject_unknown_includes: bool = True
    currency: str = "EUR"


@dataclass
class Resource:
    """One JSON:API resource: type, id, attributes and to-one relationships."""

    type: str
    id: int
    attributes: dict
    relationships: dict
    created_at: object
    updated_at: object
    firm_key: str | None = field(default=None, compare=False)

    def related_id(self, name):
        """Return the id of the resource related as `name`, or None."""
        return self.relationships.get(name)


class ProductiveError(ApiError):
    """A change or read the store rejects, with its HTTP status."""


class ProductiveStore(PsaEventLog):
    """Thread-safe in-memory Productive organization."""

    event_source = "productive"
    event_names = EVENT_NAMES

    def __init__(self, config=None, clock=None):
        self.config = config or ProductiveConfig()
        self.clock = clock or EmulatorClock()
        self.lock = threading.RLock()
        self.tables = {kind: {} for kind in DEFAULT_ATTRIBUTES}
        self.deleted = {kind: {} for kind in DEFAULT_ATTRIBUTES}
        self.firm_ids = {}
        self._start_event_log()
        self._ids = {kind: itertools.count(start) for kind, start in ID_STARTS.items()}

    # Seeding, without change events.

    def add(self, kind, attributes=None, relationships=None, at=None, firm_key=None):
        """Create a resource and return it, with defaults for unset attributes.

        `relationships` maps relationship names to ids; `at` sets
        created_at and updated_at (default: now on the clock).
        """
        when = (at or self.clock.now()).replace(microsecond=0)
        values = {**DEFAULT_ATTRIBUTES[kind], **(attributes or {})}
        links = {name: None for name in RELATIONSHIPS[kind]}
        links.update(relationships or {})
        with self.lock:
            self._check_links(kind, links)
            resource = Resource(
                kind, next(self._ids[kind]), values, links, when, when, firm_key
            )
            self.tables[kind][resource.id] = resource
            if firm_key:
                self.firm_ids[firm_key] = resource.id
            return resource

    # Reads.

    def get(self, kind, resource_id):
        """Return the resource, or raise a 404 ProductiveError."""
        try:
            key = int(resource_id)
        except (TypeError, ValueError):
            key = None
        with self.lock:
            resource = self.tables[kind].get(key)
        if resource is None:
            raise ProductiveError(404, f"No {kind} resource has the id {resource_id}")
        return resource

    def find(self, kind, resource_id):
        """Return the resource, or None when the id is None or unknown."""
        if resource_id is None:
            return None
        with self.lock:
            return self.tables[kind].get(int(resource_id))

    def all(self, kind):
        """Return a snapshot list of the resources of a type, in id order."""
        with self.lock:
            return sorted(self.tables[kind].values(), key=lambda r: r.id)

    def id_of(self, firm_key):
        """Return the Productive id of the resource loaded from a firm key."""
        return self.firm_ids[firm_key]

    def current_person(self):
        """Return the person the API token belongs to: the first person."""
        people = self.all("people")
        if not people:
            raise ProductiveError(404, "The organization has no people yet")
        return people[0]

    def project_of(self, resource):
        """Return the project id of a service, deal, entry or expense."""
        if resource is None:
            return None
        if resource.type == "projects":
            return resource.id
        if resource.type in ("deals", "tasks"):
            return resource.related_id("project")
        if resource.type == "services":
            return self.project_of(self.find("deals", resource.related_id("deal")))
        service = self.find("services", resource.related_id("service"))
        if service is not None:
            return self.project_of(service)
        return self.project_of(self.find("deals", resource.related_id("deal")))

    # Changes, as the API and people in Productive make them.

    def create(self, kind, attributes, relationships):
        """Create a resource as the API does: like `add`, plus an event."""
        resource = self.add(kind, attributes, relationships)
        self._emit(kind, "created", resource.id, resource.created_at)
        return resource

    def update(self, kind, resource_id, attributes=None, relationships=None):
        """Change attributes and relationships, bump updated_at, emit an event."""
        with self.lock:
            resource = self.get(kind, resource_id)
            unknown = set(attributes or {}) - set(DEFAULT_ATTRIBUTES[kind])
            if unknown:
                raise ProductiveError(
                    422, f"Unknown {kind} attributes: {sorted(unknown)}"
                )
            links = dict(relationships or {})
            self._check_links(kind, links)
            resource.attributes.update(attributes or {})
            resource.relationships.update(links)
            resource.updated_at = self.clock.now().replace(microsecond=0)
            self._emit(kind, "updated", resource.id, resource.updated_at)
            return resource

    def delete(self, kind, resource_id):
        """Remove a resource, remember when, and emit a deleted event."""
        with self.lock:
            resource = self.get(kind, resource_id)
            del self.tables[kind][resource.id]
            now = self.clock.now().replace(microsecond=0)
            self.deleted[kind][resource.id] = now
            self._emit(kind, "deleted", resource.id, now)
            return resource

    def approve(self, entry_id, approver_id=None, kind="time_entries"):
        """Approve a time entry (or expense), as an approver does."""
        approver_id = approver_id or self.current_person().id
        return self.update(
            kind,
            entry_id,
            {
                "approved": True,
                "approved_at": self.clock.now().replace(microsecond=0),
                "rejected": False,
                "rejected_reason": None,
                "rejected_at": None,
            },
            {"approver": approver_id},
        )

    def unapprove(self, entry_id, kind="time_entries"):
        """Withdraw an approval, which invoiced entries reject."""
        if self.get(kind, entry_id).attributes["invoiced"]:
            raise ProductiveError(422, f"{kind} {entry_id} is invoiced")
        return self.update(
            kind, entry_id, {"approved": False, "approved_at": None}, {"approver": None}
        )

    def reject(self, entry_id, reason="", kind="time_entries"):
        """Reject a time entry (or expense) with a reason."""
        return self.update(
            kind,
            entry_id,
            {
                "rejected": True,
                "rejected_reason": reason,
                "rejected_at": self.clock.now().replace(microsecond=0),
                "approved": False,
                "approved_at": None,
            },
            {"approver": None},
        )

    def unreject(self, entry_id, kind="time_entries"):
        """Clear a rejection."""
        return self.update(
            kind,
            entry_id,
            {"rejected": False, "rejected_reason": None, "rejected_at": None},
        )

    def submit(self, entry_id):
        """Submit a time entry for approval."""
        return self.update("time_entries", entry_id, {"submitted": True})

    def edit_entry(self, entry_id, **attributes):
        """Change a time entry's attributes whatever its state."""
        return self.update("time_entries", entry_id, attributes)

    def delete_entry(self, entry_id):
        """Delete a time entry."""
        return self.delete("time_entries", entry_id)

    def mark_invoiced(self, entry_ids, kind="time_entries"):
        """Mark time entries (or expenses) as invoiced."""
        return [self.update(kind, i, {"invoiced": True}) for i in entry_ids]

    def approve_expense(self, expense_id):
        """Approve an expense."""
        return self.approve(expense_id, kind="expenses")

    def unapprove_expense(self, expense_id):
        """Withdraw the approval of an expense."""
        return self.unapprove(expense_id, kind="expenses")

    def edit_expense(self, expense_id, **attributes):
        """Change an expense's attributes whatever its state."""
        return self.update("expenses", expense_id, attributes)

    def delete_expense(self, expense_id):
        """Delete an expense."""
        return self.delete("expenses", expense_id)

    def _check_links(self, kind, links):
        for name, related_id in links.items():
            related_type = RELATIONSHIPS[kind].get(name)
            if related_type is None:
                raise ProductiveError(422, f"{kind} have no relationship {name!r}")
            if related_id is not None and self.find(related_type, related_id) is None:
                raise ProductiveError(
                    422, f"{name} {related_id} does not exist in {related_type}"
                )
