"""Productive API v2 client (JSON:API): paging, normalization and projects.

Lists are read with `page[number]` and `page[size]` and sorted newest change
first (`sort=-updated_at`). An entry edited while the pull pages moves to
the front, so the pages after it can only repeat a record (the import is
idempotent) and never skip one. Related people, projects and tasks come in
the same response through `include`, so the e-mail of each entry's person
needs no extra request. A deletion between two pages can still shift an
entry past a page boundary; the readme's roadmap describes that gap.
"""

from .client import PsaClient
from .records import (
    Expense,
    Page,
    Person,
    Project,
    TimeEntry,
    as_text,
    hours_from_minutes,
    parse_date,
    parse_timestamp,
    to_decimal,
)

JSON_API_TYPE = "application/vnd.api+json"
PAGE_SIZE = 200
# Time entries reach their project through their service's deal (budget).
TIME_INCLUDES = "person,task,service.deal.project"
EXPENSE_INCLUDES = "person,service_type,deal.project"


class ProductiveClient(PsaClient):
    """Reads and writes one Productive organization through its backend."""

    kind = "productive"
    max_page_size = PAGE_SIZE

    def check_connection(self):
        """Read one person of the organization; raise when Productive rejects it."""
        return self.request("GET", "/people", params={"page[size]": 1})

    # ------------------------------------------------------------------
    # Paging
    # ------------------------------------------------------------------

    def iter_pages(self, path, params=None, resume_token=None):
        """Yield (body, next page number or None, total count) for each page."""
        number = int(resume_token or 1)
        while True:
            query = dict(params or {})
            query.update({"page[number]": number, "page[size]": self.page_size})
            body = self.request("GET", path, params=query)
            meta = body.get("meta") or {}
            total_pages = meta.get("total_pages") or 1
            next_token = (
                str(number + 1) if number < total_pages and body.get("data") else None
            )
            yield body, next_token, meta.get("total_count")
            if not next_token:
                return
            number += 1

    def iter_all(self, path, params=None):
        """Yield (resource, included index) for every resource of a list."""
        for body, _next, _total in self.iter_pages(path, params):
            included = index_included(body)
            for resource in body.get("data") or []:
                yield resource, included

    # ------------------------------------------------------------------
    # People
    # ------------------------------------------------------------------

    def iter_people(self):
        """Yield every Productive person as a `Person`, or an `Unreadable`."""
        for resource, _included in self.iter_all("/people"):
            people, unreadable = self.read_all("user", [resource], self.person_from)
            yield from people or unreadable

    @staticmethod
    def person_from(resource):
        """Return the `Person` of a Productive person resource."""
        attributes = resource.get("attributes") or {}
        return Person(
            id=str(resource["id"]),
            email=as_text(attributes.get("email")).strip(),
            name=full_name(resource),
            active=not attributes.get("archived_at"),
        )

    # ------------------------------------------------------------------
    # Time entries
    # ------------------------------------------------------------------

    def iter_time_entry_pages(
        self, updated_since=None, resume_token=None, date_from=None, date_to=None
    ):
        """Yield `Page`s of time entries changed at or after `updated_since`.

        `date_from` and `date_to` limit the list to entries of that window,
        through Productive's `after` and `before` date filters.
        NOTE: whether those filters include the given day is not confirmed
        by Productive's documentation; the deletion sweep re-reads an entry
        before it removes anything, so a day off cannot delete a timesheet.
        """
        params = {"sort": "-updated_at", "include": TIME_INCLUDES}
        if updated_since:
            params["filter[updated_at][gt_eq]"] = updated_since
        if date_from:
            params["filter[after]"] = date_from.isoformat()
        if date_to:
            params["filter[before]"] = date_to.isoformat()
        for body, next_token, total in self.iter_pages(
            "/time_entries", params, resume_token
        ):
            included = index_included(body)
            entries, unreadable = self.read_all(
                "time entry", body.get("data") or [], self.time_entry_from, included
            )
            yield Page(entries, next_token, total, unreadable)

    def get_time_entry(self, entry_id):
        """Return one time entry, or None when Productive no longer has it."""
        params = {"include": TIME_INCLUDES}
        body = self.get_or_none(f"/time_entries/{entry_id}", params=params)
        if not body or not body.get("data"):
            return None
        return self.read_one(
            "time entry", body["data"], self.time_entry_from, index_included(body)
        )

    def time_entry_from(self, resource, included):
        """Return the `TimeEntry` of a time entry resource and its includes."""
        attributes = resource.get("attributes") or {}
        person = related(resource, "person", included)
        project = project_of_service(resource, included)
        task = related(resource, "task", included) or related(
            resource, "service", included
        )
        minutes = whole_minutes(attributes.get("time"))
        person_attributes = person.get("attributes") or {}
        project_attributes = project.get("attributes") or {}
        task_attributes = task.get("attributes") or {}
        return TimeEntry(
            id=str(resource["id"]),
            person_id=as_text(person.get("id")),
            person_email=as_text(person_attributes.get("email")).strip(),
            person_name=full_name(person),
            project_id=as_text(project.get("id")),
            project_name=as_text(project_attributes.get("name")),
            project_code=as_text(project_attributes.get("project_number")),
            task_id=as_text(task.get("id")),
            task_name=as_text(
                task_attributes.get("title") or task_attributes.get("name")
            ),
            date=parse_date(attributes["date"]),
            minutes=minutes,
            hours=hours_from_minutes(minutes),
            notes=as_text(attributes.get("note")),
            billable=is_billable(attributes),
            approval_state=approval_state_of(attributes),
            locked=bool(attributes.get("locked")),
            invoiced=bool(attributes.get("invoiced")),
            updated_at=parse_timestamp(attributes.get("updated_at")),
        )

    # ------------------------------------------------------------------
    # Expenses
    # ------------------------------------------------------------------

    def iter_expense_pages(self, updated_since=None, resume_token=None):
        """Yield `Page`s of expenses changed at or after `updated_since`."""
        params = {"sort": "-updated_at", "include": EXPENSE_INCLUDES}
        if updated_since:
            params["filter[updated_at][gt_eq]"] = updated_since
        for body, next_token, total in self.iter_pages(
            "/expenses", params, resume_token
        ):
            included = index_included(body)
            expenses, unreadable = self.read_all(
                "expense", body.get("data") or [], self.expense_from, included
            )
            yield Page(expenses, next_token, total, unreadable)

    def expense_from(self, resource, included):
        """Return the `Expense` of an expense resource and its includes."""
        attributes = resource.get("attributes") or {}
        person = related(resource, "person", included)
        deal = related(resource, "deal", included)
        project = related(deal, "project", included) if deal else {}
        category = related(resource, "service_type", included)
        amount = attributes.get("amount")
        total = (
            to_decimal(amount) / 100 if isinstance(amount, int) else to_decimal(amount)
        )
        return Expense(
            id=str(resource["id"]),
            person_id=as_text(person.get("id")),
            person_email=as_text((person.get("attributes") or {}).get("email")).strip(),
            person_name=full_name(person),
            project_id=as_text(project.get("id")),
            project_name=as_text((project.get("attributes") or {}).get("name")),
            category_id=as_text(category.get("id")),
            category_name=as_text((category.get("attributes") or {}).get("name")),
            date=parse_date(attributes.get("date") or attributes.get("spent_date")),
            total=total,
            currency=as_text(attributes.get("currency")).strip().upper(),
            notes=as_text(attributes.get("name") or attributes.get("note")),
            billable=bool(attributes.get("billable")),
            approval_state=approval_state_of(attributes),
            locked=bool(attributes.get("locked")),
            updated_at=parse_timestamp(attributes.get("updated_at")),
        )

    # ------------------------------------------------------------------
    # Projects and tasks
    # ------------------------------------------------------------------

    def iter_projects(self):
        """Yield every Productive project as a `Project`, or an `Unreadable`."""
        for resource, included in self.iter_all("/projects", {"include": "company"}):
            projects, unreadable = self.read_all(
                "project", [resource], self.project_from, included
            )
            yield from projects or unreadable

    @staticmethod
    def project_from(resource, included=None):
        """Return the `Project` of a project resource."""
        attributes = resource.get("attributes") or {}
        company = related(resource, "company", included or {})
        return Project(
            id=str(resource["id"]),
            name=as_text(attributes.get("name")),
            code=as_text(attributes.get("project_number")),
            client_id=as_text(company.get("id")),
            client_name=as_text((company.get("attributes") or {}).get("name")),
            active=not attributes.get("archived_at"),
        )

    def find_project_by_code(self, code):
        """Return the project whose project number is `code`, or None."""
        params = {"filter[project_number]": code}
        for resource, included in self.iter_all("/projects", params):
            project = self.project_from(resource, included)
            if project.code == code:
                return project
        return None

    def find_or_create_client(self, name, currency=None):
        """Return the id of the company (client) `name`, creating it when missing."""
        for resource, _included in self.iter_all("/companies", {"filter[name]": name}):
            if (
                (resource.get("attributes") or {}).get("name") or ""
            ).lower() == name.lower():
                return str(resource["id"])
        attributes = {"name": name}
        if currency:
            attributes["default_currency"] = currency
        body = {"data": {"type": "companies", "attributes": attributes}}
        return str(self.request("POST", "/companies", json=body)["data"]["id"])

    def create_project(self, project):
        """Create `project` (a `Project`) and return its Productive id."""
        body = {
            "data": {
                "type": "projects",
                "attributes": {
                    "name": project.name,
                    "project_number": project.code,
                    "project_type_id": 2 if project.billable else 1,
                },
                "relationships": {
                    "company": {"data": {"type": "companies", "id": project.client_id}}
                },
            }
        }
        return str(self.request("POST", "/projects", json=body)["data"]["id"])

    def project_task_ids(self, project_id):
        """Return {task title (lower case): task id} of a project."""
        params = {"filter[project_id]": project_id}
        return {
            ((resource.get("attributes") or {}).get("title") or "")
            .strip()
            .lower(): str(resource["id"])
            for resource, _included in self.iter_all("/tasks", params)
        }

    def ensure_task(self, project_id, name, billable=True):
        """Return the id of task `name` on a project, creating it when missing."""
        known = self.project_task_ids(project_id)
        if name.strip().lower() in known:
            return known[name.strip().lower()]
        body = {
            "data": {
                "type": "tasks",
                "attributes": {"title": name},
                "relationships": {
                    "project": {"data": {"type": "projects", "id": str(project_id)}}
                },
            }
        }
        return str(self.request("POST", "/tasks", json=body)["data"]["id"])


def full_name(person):
    """Return "first last" of a person resource."""
    attributes = person.get("attributes") or {}
    names = [
        as_text(attributes.get("first_name")),
        as_text(attributes.get("last_name")),
    ]
    return " ".join(filter(None, names))


def whole_minutes(value):
    """Return Productive's `time` (whole minutes) as an int; raise on any other value."""
    number = to_decimal(value)
    if number != number.to_integral_value():
        raise ValueError(f"the time {value!r:.40} is not a whole number of minutes")
    return int(number)


def index_included(body):
    """Return {(type, id): resource} of a JSON:API response's `included` list."""
    return {
        (resource.get("type"), str(resource.get("id"))): resource
        for resource in body.get("included") or []
    }


def related(resource, name, included):
    """Return the included resource of relationship `name`, or a stub with its id."""
    data = ((resource.get("relationships") or {}).get(name) or {}).get("data")
    if not data:
        return {}
    key = (data.get("type"), str(data.get("id")))
    return included.get(key) or {"id": data.get("id"), "type": data.get("type")}


def project_of_service(resource, included):
    """Return the project of an entry's service (service -> deal -> project)."""
    service = related(resource, "service", included)
    deal = related(service, "deal", included) if service else {}
    return related(deal, "project", included) if deal else {}


def is_billable(attributes):
    """Return whether an entry is billable: billable minutes or a billable type."""
    if "billable_time" in attributes:
        return whole_minutes(attributes.get("billable_time")) > 0
    return attributes.get("billing_type_id") not in (3, "3")


def approval_state_of(attributes):
    """Return one state name from Productive's approval flags."""
    if attributes.get("approved"):
        return "approved"
    if attributes.get("rejected"):
        return "rejected"
    if attributes.get("submitted"):
        return "submitted"
    return "unapproved"
