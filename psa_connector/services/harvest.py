"""Harvest API v2 client: paging, normalization and project creation.

Lists are followed through `links.next`, a cursor the server builds, so
records edited during a pull cannot shift the pages. `per_page` is the
backend's page size, at most 2000 (Harvest's maximum). Time entries name
their user but not the user's e-mail, so the client loads the user list
once per run to fill `person_email`.
"""

from decimal import ROUND_HALF_UP

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

PER_PAGE = 2000


class HarvestClient(PsaClient):
    """Reads and writes one Harvest account through its backend."""

    kind = "harvest"
    max_page_size = PER_PAGE

    def __init__(self, backend, sleep=None):
        super().__init__(backend, sleep)
        self._emails = None
        self._whole_minutes = None

    def check_connection(self):
        """Read the authenticated user; raise when Harvest refuses."""
        return self.request("GET", "/users/me")

    # ------------------------------------------------------------------
    # Paging
    # ------------------------------------------------------------------

    def iter_pages(self, path, key, params=None, resume_token=None):
        """Yield (records, next_token, total) for each page of a list.

        `resume_token` is a `links.next` stored by an earlier run; it is
        followed as sent, with no other parameter added.
        """
        if resume_token:
            body = self.request("GET", resume_token)
        else:
            body = self.request(
                "GET", path, params=dict(params or {}, per_page=self.page_size)
            )
        while True:
            next_token = (body.get("links") or {}).get("next")
            yield body.get(key) or [], next_token, body.get("total_entries")
            if not next_token:
                return
            body = self.request("GET", next_token)

    def iter_all(self, path, key, params=None):
        """Yield every raw record of a list, page after page."""
        for records, _next, _total in self.iter_pages(path, key, params):
            yield from records

    # ------------------------------------------------------------------
    # People
    # ------------------------------------------------------------------

    def iter_people(self):
        """Yield every Harvest user as a `Person`, or an `Unreadable`."""
        for user in self.iter_all("/users", "users"):
            people, unreadable = self.read_all("user", [user], self.person_from)
            yield from people or unreadable

    @staticmethod
    def person_from(user):
        """Return the `Person` of a Harvest user object."""
        names = [as_text(user.get("first_name")), as_text(user.get("last_name"))]
        return Person(
            id=str(user["id"]),
            email=as_text(user.get("email")).strip(),
            name=" ".join(filter(None, names)) or as_text(user.get("name")),
            active=user.get("is_active", True) is not False,
        )

    def email_of(self, user_id):
        """Return the e-mail of a user id, loading the user list when needed."""
        if self._emails is None or str(user_id) not in self._emails:
            self._emails = {
                person.id: person.email
                for person in self.iter_people()
                if isinstance(person, Person)
            }
        return self._emails.get(str(user_id), "")

    # ------------------------------------------------------------------
    # Time entries
    # ------------------------------------------------------------------

    def iter_time_entry_pages(
        self, updated_since=None, resume_token=None, date_from=None, date_to=None
    ):
        """Yield `Page`s of time entries changed at or after `updated_since`.

        `date_from` and `date_to` (inclusive) limit the list to entries spent
        in that window.
        """
        params = {"updated_since": updated_since} if updated_since else {}
        if date_from:
            params["from"] = date_from.isoformat()
        if date_to:
            params["to"] = date_to.isoformat()
        pages = self.iter_pages("/time_entries", "time_entries", params, resume_token)
        for raw_entries, next_token, total in pages:
            entries, unreadable = self.read_all(
                "time entry", raw_entries, self.time_entry_from
            )
            yield Page(entries, next_token, total, unreadable)

    def get_time_entry(self, entry_id):
        """Return one time entry, or None when Harvest no longer has it."""
        raw = self.get_or_none(f"/time_entries/{entry_id}")
        return self.read_one("time entry", raw, self.time_entry_from) if raw else None

    def counts_whole_minutes(self):
        """Return whether the account records time as hours and minutes.

        Harvest sends hours rounded to two decimals. Two whole-minute
        durations never round to the same value (a minute is 0.0167 h), so
        in that mode `round(hours * 60)` gives back the exact minutes and
        the hours carry no rounding. In decimal mode the hours are kept as
        sent.
        """
        if self._whole_minutes is None:
            company = self.request("GET", "/company")
            self._whole_minutes = (
                company.get("time_format", "hours_minutes") != "decimal"
            )
        return self._whole_minutes

    def _duration(self, raw):
        hours = to_decimal(raw.get("hours"))
        if not self.counts_whole_minutes():
            return None, hours
        minutes = int((hours * 60).to_integral_value(rounding=ROUND_HALF_UP))
        return minutes, hours_from_minutes(minutes)

    def time_entry_from(self, raw):
        """Return the `TimeEntry` of a Harvest time entry object."""
        minutes, hours = self._duration(raw)
        user = raw.get("user") or {}
        project = raw.get("project") or {}
        task = raw.get("task") or {}
        return TimeEntry(
            id=str(raw["id"]),
            person_id=as_text(user.get("id")),
            person_email=self.email_of(user["id"]) if user.get("id") else "",
            person_name=as_text(user.get("name")),
            project_id=as_text(project.get("id")),
            project_name=as_text(project.get("name")),
            project_code=as_text(project.get("code")),
            task_id=as_text(task.get("id")),
            task_name=as_text(task.get("name")),
            date=parse_date(raw["spent_date"]),
            minutes=minutes,
            hours=hours,
            notes=as_text(raw.get("notes")),
            billable=bool(raw.get("billable")),
            approval_state=approval_state_of(raw),
            locked=bool(raw.get("is_locked")),
            locked_reason=as_text(raw.get("locked_reason")),
            invoiced=bool(raw.get("is_billed")),
            updated_at=parse_timestamp(raw.get("updated_at")),
        )

    # ------------------------------------------------------------------
    # Expenses
    # ------------------------------------------------------------------

    def iter_expense_pages(self, updated_since=None, resume_token=None):
        """Yield `Page`s of expenses changed at or after `updated_since`."""
        params = {"updated_since": updated_since} if updated_since else {}
        for raw_expenses, next_token, total in self.iter_pages(
            "/expenses", "expenses", params, resume_token
        ):
            expenses, unreadable = self.read_all(
                "expense", raw_expenses, self.expense_from
            )
            yield Page(expenses, next_token, total, unreadable)

    def expense_from(self, raw):
        """Return the `Expense` of a Harvest expense object."""
        user = raw.get("user") or {}
        project = raw.get("project") or {}
        category = raw.get("expense_category") or {}
        receipt = raw.get("receipt") or {}
        client = raw.get("client") or {}
        return Expense(
            id=str(raw["id"]),
            person_id=as_text(user.get("id")),
            person_email=self.email_of(user["id"]) if user.get("id") else "",
            person_name=as_text(user.get("name")),
            project_id=as_text(project.get("id")),
            project_name=as_text(project.get("name")),
            category_id=as_text(category.get("id")),
            category_name=as_text(category.get("name")),
            date=parse_date(raw["spent_date"]),
            total=to_decimal(raw.get("total_cost")),
            currency=as_text(client.get("currency") or raw.get("currency"))
            .strip()
            .upper(),
            notes=as_text(raw.get("notes")),
            billable=bool(raw.get("billable")),
            approval_state=approval_state_of(raw),
            locked=bool(raw.get("is_locked")),
            locked_reason=as_text(raw.get("locked_reason")),
            units=to_decimal(raw["units"]) if raw.get("units") is not None else None,
            updated_at=parse_timestamp(raw.get("updated_at")),
            receipt_url=as_text(receipt.get("url")),
            receipt_name=as_text(receipt.get("file_name")),
        )

    def download(self, url):
        """Return the bytes of a receipt stored on the backend's host."""
        self._check_same_host(url)
        return self.backend._http_request("GET", url).content

    # ------------------------------------------------------------------
    # Projects and tasks
    # ------------------------------------------------------------------

    def iter_projects(self):
        """Yield every Harvest project as a `Project` (without its tasks).

        A project whose values cannot be read is yielded as an `Unreadable`.
        """
        for raw in self.iter_all("/projects", "projects"):
            projects, unreadable = self.read_all("project", [raw], self.project_from)
            yield from projects or unreadable

    @staticmethod
    def project_from(raw):
        """Return the `Project` of a Harvest project object."""
        client = raw.get("client") or {}
        budget = raw.get("budget")
        return Project(
            id=str(raw["id"]),
            name=as_text(raw.get("name")),
            code=as_text(raw.get("code")),
            client_id=as_text(client.get("id")),
            client_name=as_text(client.get("name")),
            billable=bool(raw.get("is_billable", True)),
            budget_hours=to_decimal(budget) if budget is not None else None,
            active=raw.get("is_active", True),
            starts_on=parse_date(raw["starts_on"]) if raw.get("starts_on") else None,
            ends_on=parse_date(raw["ends_on"]) if raw.get("ends_on") else None,
        )

    def find_project_by_code(self, code):
        """Return the project whose code is `code`, or None.

        Harvest has no code filter, so this reads the project list; it runs
        once per project created, never per time entry.
        """
        for project in self.iter_projects():
            if code and isinstance(project, Project) and project.code == code:
                return project
        return None

    def find_or_create_client(self, name, currency=None):
        """Return the id of the client named `name`, creating it when missing."""
        for raw in self.iter_all("/clients", "clients"):
            if (raw.get("name") or "").strip().lower() == name.strip().lower():
                return str(raw["id"])
        values = {"name": name, **({"currency": currency} if currency else {})}
        return str(self.request("POST", "/clients", json=values)["id"])

    def create_project(self, project):
        """Create `project` (a `Project`) and return its Harvest id."""
        values = {
            "client_id": int(project.client_id),
            "name": project.name,
            "code": project.code,
            "is_billable": project.billable,
            "bill_by": "Project" if project.billable else "none",
            "budget_by": "project" if project.budget_hours else "none",
        }
        if project.budget_hours:
            values["budget"] = float(project.budget_hours)
        if project.starts_on:
            values["starts_on"] = project.starts_on.isoformat()
        if project.ends_on:
            values["ends_on"] = project.ends_on.isoformat()
        return str(self.request("POST", "/projects", json=values)["id"])

    def project_task_ids(self, project_id):
        """Return {task name (lower case): task id} of a project's assignments."""
        path = f"/projects/{project_id}/task_assignments"
        return {
            (raw["task"]["name"] or "").strip().lower(): str(raw["task"]["id"])
            for raw in self.iter_all(path, "task_assignments")
        }

    def ensure_task(self, project_id, name, billable=True):
        """Return the id of task `name` on a project, assigning or creating it."""
        known = self.project_task_ids(project_id)
        if name.strip().lower() in known:
            return known[name.strip().lower()]
        task_id = None
        for raw in self.iter_all("/tasks", "tasks"):
            if (raw.get("name") or "").strip().lower() == name.strip().lower():
                task_id = str(raw["id"])
                break
        if not task_id:
            task_id = str(self.request("POST", "/tasks", json={"name": name})["id"])
        self.request(
            "POST",
            f"/projects/{project_id}/task_assignments",
            json={"task_id": int(task_id), "billable": billable},
        )
        return task_id


def approval_state_of(raw):
    """Return Harvest's approval status, reading the deprecated flag as a fallback."""
    state = as_text(raw.get("approval_status"))
    if state:
        return state
    return "approved" if raw.get("is_closed") else "unsubmitted"
