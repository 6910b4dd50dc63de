"""Data model of the Harvest API v2 emulator.

The store keeps one Harvest account: users, clients, projects, tasks,
task and user assignments, time entries, expense categories and expenses.
Each kind takes integer ids from its own number range, so a client that
mixes up ids of two kinds gets a 404 instead of a wrong record. Timestamps
have whole seconds and come from the emulator clock. Tests seed it with
the `add_*` methods or `harvest.load_firm`, and change it the way people
do in Harvest with `approve`, `unapprove`, `edit_entry`, `delete_entry`,
`lock_period` and the expense counterparts. Those changes bump
`updated_at` and queue a PSA change event (`take_events`); seeding does not.
"""

import itertools
import math
import threading
from dataclasses import dataclass, field, fields
from datetime import date
from decimal import Decimal

from .base import ApiError, EmulatorClock
from .psa_events import PsaEventLog

APPROVAL_STATUSES = ("unsubmitted", "submitted", "approved")

LOCKED_REASON_APPROVED = "Item Approved and Locked for this Time Period"
LOCKED_REASON_INVOICED = "Item Invoiced"

# First id of each kind, far apart so ids of two kinds never collide.
ID_STARTS = {
    "users": 1_780_001,
    "clients": 5_735_001,
    "projects": 14_308_001,
    "tasks": 8_083_001,
    "task_assignments": 155_502_001,
    "user_assignments": 125_068_001,
    "time_entries": 636_708_001,
    "expense_categories": 4_195_001,
    "expenses": 15_296_001,
    "invoices": 13_150_001,
}


@dataclass
class HarvestConfig:
    """Settings of one Harvest emulator, including the unverified vendor facts."""

    account_id: int = 1_100_001
    company_name: str = "Emulated Harvest Account"
    # Personal access tokens never expire, OAuth access tokens do.
    personal_access_token: str = "harvest-emulator-personal-token"
    client_id: str = "harvest-emulator-client-id"
    client_secret: str = "harvest-emulator-client-secret"
    refresh_token: str = "harvest-emulator-refresh-token"
    # NOTE: Harvest's OAuth token lifetime is not verified, 14 days here.
    access_token_ttl: int = 14 * 24 * 3600
    # 100 requests per 15 seconds per token, then 429 with Retry-After.
    rate_limit_requests: int = 100
    rate_limit_window_seconds: float = 15.0
    per_page_default: int = 2000
    per_page_max: int = 2000
    # Time Rounding account setting behind `rounded_hours`, 0 turns it off.
    rounding_minutes: int = 15
    rounding_mode: str = "up"
    currency: str = "EUR"
    # Company setting: "hours_minutes" or "decimal" display of durations.
    time_format: str = "hours_minutes"
    # The user that tokens act as, or None for the first administrator.
    token_user_id: int | None = None
    week_start_day: str = "Monday"
    # NOTE: whether updated_since includes the instant itself is not
    # verified. Including it means a client may see a record twice but
    # never misses one.
    updated_since_inclusive: bool = True


@dataclass
class HarvestUser:
    """A person in the account, with hourly rates in the account currency."""

    id: int
    first_name: str
    last_name: str
    email: str
    created_at: object
    updated_at: object
    telephone: str = ""
    timezone: str = "Europe/Brussels"
    is_contractor: bool = False
    is_active: bool = True
    weekly_capacity: int = 144_000
    default_hourly_rate: Decimal | None = None
    cost_rate: Decimal | None = None
    roles: list = field(default_factory=list)
    access_roles: list = field(default_factory=lambda: ["member"])
    firm_key: str | None = None


@dataclass
class HarvestClient:
    """A customer, whose projects are priced and expensed in `currency`."""

    id: int
    name: str
    created_at: object
    updated_at: object
    currency: str = "EUR"
    address: str = ""
    statement_key: str = ""
    is_active: bool = True
    firm_key: str | None = None


@dataclass
class HarvestProject:
    """A project of a client, with Harvest's billing and budget settings."""

    id: int
    client_id: int
    name: str
    created_at: object
    updated_at: object
    code: str = ""
    is_active: bool = True
    is_billable: bool = True
    is_fixed_fee: bool = False
    bill_by: str = "Project"
    hourly_rate: Decimal | None = None
    budget: Decimal | None = None
    budget_by: str = "project"
    budget_is_monthly: bool = False
    notify_when_over_budget: bool = False
    over_budget_notification_percentage: Decimal = Decimal(80)
    show_budget_to_all: bool = False
    cost_budget: Decimal | None = None
    cost_budget_include_expenses: bool = False
    fee: Decimal | None = None
    notes: str = ""
    starts_on: date | None = None
    ends_on: date | None = None
    firm_key: str | None = None


@dataclass
class HarvestTask:
    """A kind of work that can be assigned to projects."""

    id: int
    name: str
    created_at: object
    updated_at: object
    billable_by_default: bool = True
    default_hourly_rate: Decimal | None = None
    is_default: bool = False
    is_active: bool = True
    firm_key: str | None = None


@dataclass
class HarvestTaskAssignment:
    """A task enabled on a project."""

    id: int
    project_id: int
    task_id: int
    created_at: object
    updated_at: object
    is_active: bool = True
    billable: bool = True
    hourly_rate: Decimal | None = None
    budget: Decimal | None = None


@dataclass
class HarvestUserAssignment:
    """A user's membership of a project."""

    id: int
    project_id: int
    user_id: int
    created_at: object
    updated_at: object
    is_active: bool = True
    is_project_manager: bool = False
    use_default_rates: bool = True
    hourly_rate: Decimal | None = None
    budget: Decimal | None = None


@dataclass
class HarvestTimeEntry:
    """A time entry, with `minutes` the exact duration behind `hours`."""

    id: int
    user_id: int
    project_id: int
    task_id: int
    spent_date: date
    minutes: int
    created_at: object
    updated_at: object
    notes: str = ""
    billable: bool = True
    billable_rate: Decimal | None = None
    cost_rate: Decimal | None = None
    approval_status: str = "unsubmitted"
    is_locked: bool = False
    locked_reason: str | None = None
    is_billed: bool = False
    invoice_id: int | None = None
    invoice_number: str | None = None
    external_reference: dict | None = None
    is_running: bool = False
    timer_started_at: object = None
    started_time: str | None = None
    ended_time: str | None = None
    budgeted: bool = True
    firm_key: str | None = None


@dataclass
class HarvestExpenseCategory:
    """An expense category, with `unit_price` set for per-unit categories."""

    id: int
    name: str
    created_at: object
    updated_at: object
    unit_name: str | None = None
    unit_price: Decimal | None = None
    is_active: bool = True


@dataclass
class HarvestReceipt:
    """A receipt file attached to an expense."""

    file_name: str
    content_type: str
    data: bytes = field(repr=False)


@dataclass
class HarvestExpense:
    """An expense, with `total_cost` in the currency of the project's client."""

    id: int
    user_id: int
    project_id: int
    expense_category_id: int
    spent_date: date
    total_cost: Decimal
    created_at: object
    updated_at: object
    units: Decimal | None = None
    notes: str = ""
    billable: bool = True
    approval_status: str = "unsubmitted"
    is_locked: bool = False
    locked_reason: str | None = None
    is_billed: bool = False
    invoice_id: int | None = None
    invoice_number: str | None = None
    receipt: HarvestReceipt | None = None
    firm_key: str | None = None


KINDS = {
    "users": HarvestUser,
    "clients": HarvestClient,
    "projects": HarvestProject,
    "tasks": HarvestTask,
    "task_assignments": HarvestTaskAssignment,
    "user_assignments": HarvestUserAssignment,
    "time_entries": HarvestTimeEntry,
    "expense_categories": HarvestExpenseCategory,
    "expenses": HarvestExpense,
}

# Event type prefix of each kind that emits PSA change events.
EVENT_NAMES = {
    "clients": "client",
    "projects": "project",
    "tasks": "task",
    "time_entries": "time_entry",
    "expenses": "expense",
    "users": "user",
}


class HarvestError(ApiError):
    """A change the store rejects, with the HTTP `status` Harvest sends."""


class HarvestStore(PsaEventLog):
    """Thread-safe in-memory Harvest account."""

    event_source = "harvest"
    event_names = EVENT_NAMES

    def __init__(self, config=None, clock=None):
        self.config = config or HarvestConfig()
        self.clock = clock or EmulatorClock()
        self.lock = threading.RLock()
        self.tables = {kind: {} for kind in KINDS}
        self.deleted = {kind: {} for kind in KINDS}
        self.firm_ids = {}
        self._start_event_log()
        self._ids = {kind: itertools.count(start) for kind, start in ID_STARTS.items()}

    # Seeding: these add records without emitting change events.

    def add(self, kind, at=None, **values):
        """Create a record of `kind` with `values` and return it.

        `at` sets created_at and updated_at (default: now on the clock).
        """
        when = _seconds(at or self.clock.now())
        with self.lock:
            record = KINDS[kind](
                id=next(self._ids[kind]), created_at=when, updated_at=when, **values
            )
            self.tables[kind][record.id] = record
            if getattr(record, "firm_key", None):
                self.firm_ids[record.firm_key] = record.id
            return record

    def add_user(self, first_name, last_name, email, **values):
        """Seed a user."""
        return self.add(
            "users", first_name=first_name, last_name=last_name, email=email, **values
        )

    def add_client(self, name, **values):
        """Seed a client."""
        return self.add("clients", name=name, **values)

    def add_project(self, client_id, name, **values):
        """Seed a project of an existing client."""
        self.get("clients", client_id)
        return self.add("projects", client_id=client_id, name=name, **values)

    def add_task(self, name, **values):
        """Seed a task."""
        return self.add("tasks", name=name, **values)

    def assign_task(self, project_id, task_id, **values):
        """Enable a task on a project and return the task assignment."""
        self.get("projects", project_id)
        self.get("tasks", task_id)
        return self.add(
            "task_assignments", project_id=project_id, task_id=task_id, **values
        )

    def assign_user(self, project_id, user_id, **values):
        """Make a user a member of a project and return the user assignment."""
        self.get("projects", project_id)
        self.get("users", user_id)
        return self.add(
            "user_assignments", project_id=project_id, user_id=user_id, **values
        )

    def add_time_entry(self, user_id, project_id, task_id, spent_date, **values):
        """Seed a time entry from `minutes`, or from `hours` converted to minutes."""
        if "hours" in values:
            values["minutes"] = hours_to_minutes(values.pop("hours"))
        return self.add(
            "time_entries",
            user_id=user_id,
            project_id=project_id,
            task_id=task_id,
            spent_date=spent_date,
            **values,
        )

    def add_expense_category(self, name, **values):
        """Seed an expense category."""
        return self.add("expense_categories", name=name, **values)

    def add_expense(
        self, user_id, project_id, category_id, spent_date, total_cost, **values
    ):
        """Seed an expense."""
        return self.add(
            "expenses",
            user_id=user_id,
            project_id=project_id,
            expense_category_id=category_id,
            spent_date=spent_date,
            total_cost=Decimal(total_cost),
            **values,
        )

    # Reads.

    def get(self, kind, record_id):
        """Return the record of `kind` with this id, or raise a 404 HarvestError."""
        with self.lock:
            record = self.tables[kind].get(_as_int(record_id))
        if record is None:
            raise HarvestError(404, f"No {kind} record has the id {record_id}")
        return record

    def all(self, kind):
        """Return a snapshot list of every record of `kind`."""
        with self.lock:
            return list(self.tables[kind].values())

    def current_user(self):
        """Return the user the access tokens belong to.

        That is the user with id `config.token_user_id`, else the first
        administrator, else the first user.
        """
        users = sorted(self.all("users"), key=lambda user: user.id)
        wanted = self.config.token_user_id
        admins = [user for user in users if "administrator" in user.access_roles]
        for user in [u for u in users if u.id == wanted] or admins or users:
            return user
        raise HarvestError(404, "The account has no users yet")

    def id_of(self, firm_key):
        """Return the Harvest id of the record loaded from a firm key."""
        return self.firm_ids[firm_key]

    def task_assignment(self, project_id, task_id):
        """Return the assignment of a task to a project, or None."""
        return next(
            (
                row
                for row in self.all("task_assignments")
                if row.project_id == project_id and row.task_id == task_id
            ),
            None,
        )

    def user_assignment(self, project_id, user_id):
        """Return the assignment of a user to a project, or None."""
        return next(
            (
                row
                for row in self.all("user_assignments")
                if row.project_id == project_id and row.user_id == user_id
            ),
            None,
        )

    def rounded_minutes(self, minutes):
        """Return `minutes` under the account's Time Rounding setting."""
        step = self.config.rounding_minutes
        if not step:
            return minutes
        if self.config.rounding_mode == "up":
            return math.ceil(minutes / step) * step
        return round(minutes / step) * step

    # Changes, as the API and people in Harvest make them.

    def update(self, kind, record_id, **changes):
        """Change fields of a record, bump its updated_at and emit an event."""
        with self.lock:
            record = self.get(kind, record_id)
            for name, value in changes.items():
                if name not in _FIELD_NAMES[kind]:
                    raise HarvestError(422, f"Unknown field {name!r} for {kind}")
                setattr(record, name, value)
            self._touch(kind, record, "updated")
            return record

    def delete(self, kind, record_id):
        """Remove a record, remember when, and emit a deleted event."""
        with self.lock:
            record = self.get(kind, record_id)
            del self.tables[kind][record.id]
            now = _seconds(self.clock.now())
            self.deleted[kind][record.id] = now
            self._emit(kind, "deleted", record.id, now)
            return record

    def create(self, kind, **values):
        """Create a record as the API does: like `add`, plus a created event."""
        record = self.add(kind, **values)
        self._emit(kind, "created", record.id, record.created_at)
        return record

    def approve(self, entry_id):
        """Approve a time entry, as a manager does on the approval screen."""
        return self.update("time_entries", entry_id, approval_status="approved")

    def unapprove(self, entry_id):
        """Withdraw the approval of a time entry; it goes back to submitted."""
        entry = self.get("time_entries", entry_id)
        if entry.is_billed:
            raise HarvestError(422, f"Time entry {entry_id} is invoiced")
        return self.update(
            "time_entries",
            entry_id,
            approval_status="submitted",
            is_locked=False,
            locked_reason=None,
        )

    def submit(self, entry_id):
        """Submit a time entry for approval."""
        return self.update("time_entries", entry_id, approval_status="submitted")

    def edit_entry(self, entry_id, **changes):
        """Change a time entry whatever its state, as an administrator can.

        `hours` is converted to `minutes`; other names are entry fields.
        """
        if "hours" in changes:
            changes["minutes"] = hours_to_minutes(changes.pop("hours"))
        return self.update("time_entries", entry_id, **changes)

    def delete_entry(self, entry_id):
        """Delete a time entry."""
        return self.delete("time_entries", entry_id)

    def lock_period(self, starts_on, ends_on, reason=LOCKED_REASON_APPROVED):
        """Lock every time entry and expense spent in the date range.

        Returns the locked records; each gets a new updated_at.
        """
        locked = []
        for kind in ("time_entries", "expenses"):
            for record in self.all(kind):
                if starts_on <= record.spent_date <= ends_on and not record.is_locked:
                    locked.append(
                        self.update(
                            kind, record.id, is_locked=True, locked_reason=reason
                        )
                    )
        return locked

    def unlock_period(self, starts_on, ends_on):
        """Unlock the not-invoiced time entries and expenses of the date range."""
        unlocked = []
        for kind in ("time_entries", "expenses"):
            for record in self.all(kind):
                in_range = starts_on <= record.spent_date <= ends_on
                if in_range and record.is_locked and not record.is_billed:
                    unlocked.append(
                        self.update(
                            kind, record.id, is_locked=False, locked_reason=None
                        )
                    )
        return unlocked

    def mark_billed(self, entry_ids, invoice_number, kind="time_entries"):
        """Invoice time entries (or expenses): billed, locked, invoice set."""
        invoice_id = next(self._ids["invoices"])
        return [
            self.update(
                kind,
                entry_id,
                is_billed=True,
                is_locked=True,
                locked_reason=LOCKED_REASON_INVOICED,
                invoice_id=invoice_id,
                invoice_number=invoice_number,
            )
            for entry_id in entry_ids
        ]

    def approve_expense(self, expense_id):
        """Approve an expense."""
        return self.update("expenses", expense_id, approval_status="approved")

    def unapprove_expense(self, expense_id):
        """Withdraw the approval of an expense."""
        return self.update(
            "expenses", expense_id, approval_status="submitted", is_locked=False
        )

    def edit_expense(self, expense_id, **changes):
        """Change an expense whatever its state."""
        if "total_cost" in changes:
            changes["total_cost"] = Decimal(changes["total_cost"])
        return self.update("expenses", expense_id, **changes)

    def delete_expense(self, expense_id):
        """Delete an expense."""
        return self.delete("expenses", expense_id)

    def delete_project(self, project_id):
        """Delete a project with its assignments, time entries and expenses."""
        with self.lock:
            for kind in (
                "time_entries",
                "expenses",
                "task_assignments",
                "user_assignments",
            ):
                for record in self.all(kind):
                    if record.project_id == project_id:
                        self.delete(kind, record.id)
            return self.delete("projects", project_id)

    def _touch(self, kind, record, action):
        now = _seconds(self.clock.now())
        record.updated_at = now
        self._emit(kind, action, record.id, now)


_FIELD_NAMES = {kind: {f.name for f in fields(cls)} for kind, cls in KINDS.items()}


def hours_to_minutes(hours):
    """Return decimal hours as whole minutes (1.25 -> 75)."""
    return round(Decimal(str(hours)) * 60)


def _seconds(when):
    return when.replace(microsecond=0)


def _as_int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
