"""Create, update and delete endpoints of the Harvest API v2 emulator.

Bodies may be JSON or form data, as Harvest accepts both. Validation
follows Harvest's documented rules. A create needs its required fields.
Client and task names are unique, and so is a project's name within its
client. Time entries go only on tasks and people assigned to the project,
and locked or approved entries do not change. A rejected write gets 422 with
Harvest's `{"message": ...}` body, or 403 for a locked record.
"""

from datetime import date
from decimal import Decimal, InvalidOperation

from werkzeug.wrappers import Response

from .base import ApiError
from .harvest_store import HarvestReceipt, hours_to_minutes


def as_int(value, name):
    """Return `value` as an int, or raise a 422 naming the parameter."""
    try:
        return int(value)
    except (TypeError, ValueError) as error:
        raise ApiError(422, f"{name} must be an integer, not {value!r}") from error


def as_bool(value, name):
    """Return a JSON or form boolean ("true"/"false") as a bool."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise ApiError(422, f"{name} must be true or false, not {value!r}")


def as_date(value, name):
    """Return a YYYY-MM-DD value as a date."""
    try:
        return date.fromisoformat(str(value))
    except ValueError as error:
        raise ApiError(
            422, f"{name} must be a date (YYYY-MM-DD), not {value!r}"
        ) from error


def as_decimal(value, name):
    """Return a number as a Decimal; None and "" stay None."""
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation as error:
        raise ApiError(422, f"{name} must be a number, not {value!r}") from error


def as_text(value, name):
    """Return a value as a string."""
    return "" if value is None else str(value)


def as_reference(value, name):
    """Return an external_reference object (id, group_id, permalink...)."""
    if not isinstance(value, dict) or "id" not in value:
        raise ApiError(422, f"{name} must be an object with an id")
    return {key: value.get(key) for key in _REFERENCE_KEYS}


_REFERENCE_KEYS = (
    "id",
    "group_id",
    "account_id",
    "permalink",
    "service",
    "service_icon_url",
)

WRITABLE = {
    "clients": {
        "name": as_text,
        "is_active": as_bool,
        "address": as_text,
        "currency": as_text,
    },
    "projects": {
        "client_id": as_int,
        "name": as_text,
        "code": as_text,
        "is_active": as_bool,
        "is_billable": as_bool,
        "is_fixed_fee": as_bool,
        "bill_by": as_text,
        "hourly_rate": as_decimal,
        "budget": as_decimal,
        "budget_by": as_text,
        "budget_is_monthly": as_bool,
        "notify_when_over_budget": as_bool,
        "over_budget_notification_percentage": as_decimal,
        "show_budget_to_all": as_bool,
        "cost_budget": as_decimal,
        "cost_budget_include_expenses": as_bool,
        "fee": as_decimal,
        "notes": as_text,
        "starts_on": as_date,
        "ends_on": as_date,
    },
    "tasks": {
        "name": as_text,
        "billable_by_default": as_bool,
        "default_hourly_rate": as_decimal,
        "is_default": as_bool,
        "is_active": as_bool,
    },
    "task_assignments": {
        "task_id": as_int,
        "is_active": as_bool,
        "billable": as_bool,
        "hourly_rate": as_decimal,
        "budget": as_decimal,
    },
    "user_assignments": {
        "user_id": as_int,
        "is_active": as_bool,
        "is_project_manager": as_bool,
        "use_default_rates": as_bool,
        "hourly_rate": as_decimal,
        "budget": as_decimal,
    },
    "time_entries": {
        "user_id": as_int,
        "project_id": as_int,
        "task_id": as_int,
        "spent_date": as_date,
        "hours": as_decimal,
        "notes": as_text,
        "external_reference": as_reference,
        "started_time": as_text,
        "ended_time": as_text,
    },
    "expenses": {
        "user_id": as_int,
        "project_id": as_int,
        "expense_category_id": as_int,
        "spent_date": as_date,
        "units": as_decimal,
        "total_cost": as_decimal,
        "notes": as_text,
        "billable": as_bool,
    },
}

REQUIRED_ON_CREATE = {
    "clients": ("name",),
    "projects": ("client_id", "name", "is_billable", "bill_by", "budget_by"),
    "tasks": ("name",),
    "task_assignments": ("task_id",),
    "user_assignments": ("user_id",),
    "time_entries": ("project_id", "task_id", "spent_date"),
    "expenses": ("project_id", "expense_category_id", "spent_date"),
}

BILL_BY = ("Project", "Tasks", "People", "none")
BUDGET_BY = ("project", "project_cost", "task", "task_fees", "person", "none")


class HarvestWrites:
    """Mixin of `HarvestApp` with the POST, PATCH and DELETE handlers."""

    def create_record(self, request, kind, project_id=None):
        """POST /v2/{kind}: validate the body, create the record, return 201."""
        values = self._values(request, kind)
        missing = [
            name for name in REQUIRED_ON_CREATE[kind] if values.get(name) in (None, "")
        ]
        if missing:
            raise ApiError(422, f"{_label(missing[0])} can't be blank")
        if project_id is not None:
            self.store.get("projects", project_id)
            values["project_id"] = project_id
        values = getattr(self, f"_prepare_{kind}")(values, None)
        if kind == "expenses":
            values["receipt"] = _receipt(request)
        record = self.store.create(kind, **values)
        return self._record_response(kind, record.id, request, status=201)

    def update_record(self, request, kind, record_id, project_id=None):
        """PATCH /v2/{kind}/{id}: change the given fields."""
        record = self.store.get(kind, record_id)
        if project_id is not None and record.project_id != project_id:
            raise ApiError(404, f"{kind} {record_id} is not in project {project_id}")
        values = getattr(self, f"_prepare_{kind}")(self._values(request, kind), record)
        self.store.update(kind, record.id, **values)
        return self._record_response(kind, record.id, request)

    def delete_record(self, request, kind, record_id):
        """DELETE /v2/{kind}/{id}: 200 with an empty body."""
        record = self.store.get(kind, record_id)
        if kind in ("time_entries", "expenses"):
            _check_changeable(kind, record)
        if kind == "clients":
            self._check_unused("projects", "client_id", record)
        if kind == "tasks":
            self._check_unused("time_entries", "task_id", record)
        if kind == "projects":
            self.store.delete_project(record.id)
        else:
            self.store.delete(kind, record.id)
        return Response(status=200)

    # Per-kind validation; each returns the store fields to write.

    def _prepare_clients(self, values, record):
        self._check_unique("clients", values.get("name"), record)
        return values

    def _prepare_tasks(self, values, record):
        self._check_unique("tasks", values.get("name"), record)
        return values

    def _prepare_projects(self, values, record):
        client_id = values.get("client_id", record and record.client_id)
        self._require("clients", client_id, "Client")
        if values.get("bill_by", "none") not in BILL_BY:
            raise ApiError(422, f"Bill by must be one of {', '.join(BILL_BY)}")
        if values.get("budget_by", "none") not in BUDGET_BY:
            raise ApiError(422, f"Budget by must be one of {', '.join(BUDGET_BY)}")
        name = values.get("name")
        for other in self.store.all("projects"):
            same = name and other.name.lower() == name.lower()
            if same and other.client_id == client_id and other is not record:
                raise ApiError(422, "Name has already been taken")
        return values

    def _prepare_task_assignments(self, values, record):
        if record is None:
            self._require("tasks", values["task_id"], "Task")
            if self.store.task_assignment(values["project_id"], values["task_id"]):
                raise ApiError(422, "Task has already been taken")
        return values

    def _prepare_user_assignments(self, values, record):
        if record is None:
            self._require("users", values["user_id"], "User")
            if self.store.user_assignment(values["project_id"], values["user_id"]):
                raise ApiError(422, "User has already been taken")
        return values

    def _prepare_time_entries(self, values, record):
        if record is not None:
            _check_changeable("time_entries", record)
        if "hours" in values:
            values["minutes"] = hours_to_minutes(values.pop("hours") or 0)
        if record is None:
            values.setdefault("user_id", self.store.current_user().id)
            values.setdefault("minutes", 0)
            values.update(self._entry_rates(values))
        return values

    def _prepare_expenses(self, values, record):
        if record is not None:
            _check_changeable("expenses", record)
            return values
        values.setdefault("user_id", self.store.current_user().id)
        self._assignment_of(values)
        category = self._require(
            "expense_categories", values["expense_category_id"], "Expense category"
        )
        if category.unit_price is not None and values.get("units") is not None:
            values["total_cost"] = values["units"] * category.unit_price
        if values.get("total_cost") is None:
            raise ApiError(422, "Total cost can't be blank")
        values.setdefault("billable", True)
        return values

    # Helpers.

    def _values(self, request, kind):
        body = request.form if request.form else self.json_body(request)
        if not isinstance(body, dict) and not hasattr(body, "items"):
            raise ApiError(422, "The request body must be a JSON object or form data")
        fields = WRITABLE[kind]
        return {
            name: fields[name](value, name)
            for name, value in body.items()
            if name in fields
        }

    def _entry_rates(self, values):
        """Return billable, billable_rate and cost_rate of a new time entry."""
        project, task_assignment, user = self._assignment_of(values)
        if task_assignment is None:
            raise ApiError(422, "Task is not assigned to the project")
        billable = project.is_billable and task_assignment.billable
        rate = (
            task_assignment.hourly_rate
            or project.hourly_rate
            or user.default_hourly_rate
        )
        return {
            "billable": billable,
            "billable_rate": rate if billable else None,
            "cost_rate": user.cost_rate,
        }

    def _assignment_of(self, values):
        project = self._require("projects", values["project_id"], "Project")
        user = self._require("users", values["user_id"], "User")
        if self.store.user_assignment(project.id, user.id) is None:
            raise ApiError(422, "User is not assigned to the project")
        task_assignment = None
        if "task_id" in values:
            task_assignment = self.store.task_assignment(project.id, values["task_id"])
        return project, task_assignment, user

    def _require(self, kind, record_id, label):
        try:
            return self.store.get(kind, record_id)
        except ApiError as error:
            raise ApiError(422, f"{label} {record_id} does not exist") from error

    def _check_unique(self, kind, name, record):
        if not name:
            return
        for other in self.store.all(kind):
            if other.name.lower() == name.lower() and other is not record:
                raise ApiError(422, "Name has already been taken")

    def _check_unused(self, kind, field_name, record):
        for other in self.store.all(kind):
            if getattr(other, field_name) == record.id:
                raise ApiError(
                    422,
                    f"{record.name} is used by {kind} {other.id}; archive it "
                    "instead of deleting it",
                )


def _check_changeable(kind, record):
    # NOTE: Harvest's status for changing a locked or approved entry is not
    # verified; the emulator sends 403, as for any forbidden action.
    if record.is_locked:
        raise ApiError(403, f"{kind} {record.id} is locked: {record.locked_reason}")
    if record.approval_status == "approved":
        raise ApiError(403, f"{kind} {record.id} is approved; unapprove it first")


def _receipt(request):
    upload = request.files.get("receipt")
    if upload is None:
        return None
    data = upload.read()
    content_type = upload.mimetype or "application/octet-stream"
    return HarvestReceipt(upload.filename or "receipt", content_type, data)


def _label(name):
    return name.removesuffix("_id").replace("_", " ").capitalize()
