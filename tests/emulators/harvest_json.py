"""Harvest API v2 JSON shapes of the emulator's records.

Dates are `YYYY-MM-DD`, timestamps ISO-8601 UTC with `Z` and whole seconds,
money and hours are JSON numbers. Time entries carry `user_assignment`,
`task_assignment` and `invoice` only when read one at a time, as Harvest
documents for `GET /v2/time_entries/{id}`.
"""

from .harvest_store import HarvestError


def timestamp(when):
    """Format an aware datetime as Harvest does: 2024-06-10T09:40:00Z."""
    return when.strftime("%Y-%m-%dT%H:%M:%SZ") if when else None


def day(value):
    """Format a date as YYYY-MM-DD, or None."""
    return value.isoformat() if value else None


def number(value):
    """Return a Decimal as a JSON number, or None."""
    return None if value is None else float(value)


def user_json(store, user):
    """Return a user as `GET /v2/users/{id}` does."""
    return {
        "id": user.id,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "telephone": user.telephone,
        "timezone": user.timezone,
        "has_access_to_all_future_projects": False,
        "is_contractor": user.is_contractor,
        "is_active": user.is_active,
        "weekly_capacity": user.weekly_capacity,
        "default_hourly_rate": number(user.default_hourly_rate),
        "cost_rate": number(user.cost_rate),
        "roles": list(user.roles),
        "access_roles": list(user.access_roles),
        "avatar_url": f"https://avatars.example.invalid/{user.id}.png",
        "created_at": timestamp(user.created_at),
        "updated_at": timestamp(user.updated_at),
    }


def client_json(store, client):
    """Return a client as `GET /v2/clients/{id}` does."""
    return {
        "id": client.id,
        "name": client.name,
        "is_active": client.is_active,
        "address": client.address,
        "statement_key": client.statement_key,
        "currency": client.currency,
        "created_at": timestamp(client.created_at),
        "updated_at": timestamp(client.updated_at),
    }


def project_json(store, project):
    """Return a project as `GET /v2/projects/{id}` does."""
    client = _optional(store, "clients", project.client_id)
    return {
        "id": project.id,
        "name": project.name,
        "code": project.code,
        "is_active": project.is_active,
        "is_billable": project.is_billable,
        "is_fixed_fee": project.is_fixed_fee,
        "bill_by": project.bill_by,
        "hourly_rate": number(project.hourly_rate),
        "budget": number(project.budget),
        "budget_by": project.budget_by,
        "budget_is_monthly": project.budget_is_monthly,
        "notify_when_over_budget": project.notify_when_over_budget,
        "over_budget_notification_percentage": number(
            project.over_budget_notification_percentage
        ),
        "show_budget_to_all": project.show_budget_to_all,
        "cost_budget": number(project.cost_budget),
        "cost_budget_include_expenses": project.cost_budget_include_expenses,
        "fee": number(project.fee),
        "notes": project.notes,
        "starts_on": day(project.starts_on),
        "ends_on": day(project.ends_on),
        "created_at": timestamp(project.created_at),
        "updated_at": timestamp(project.updated_at),
        "client": _ref(client, "currency"),
    }


def task_json(store, task):
    """Return a task as `GET /v2/tasks/{id}` does."""
    return {
        "id": task.id,
        "name": task.name,
        "billable_by_default": task.billable_by_default,
        "default_hourly_rate": number(task.default_hourly_rate),
        "is_default": task.is_default,
        "is_active": task.is_active,
        "created_at": timestamp(task.created_at),
        "updated_at": timestamp(task.updated_at),
    }


def task_assignment_json(store, assignment):
    """Return a task assignment with its project and task references."""
    project = _optional(store, "projects", assignment.project_id)
    task = _optional(store, "tasks", assignment.task_id)
    return {
        "id": assignment.id,
        "billable": assignment.billable,
        "is_active": assignment.is_active,
        "created_at": timestamp(assignment.created_at),
        "updated_at": timestamp(assignment.updated_at),
        "hourly_rate": number(assignment.hourly_rate),
        "budget": number(assignment.budget),
        "project": _ref(project, "code"),
        "task": _ref(task),
    }


def user_assignment_json(store, assignment):
    """Return a user assignment with its project and user references."""
    project = _optional(store, "projects", assignment.project_id)
    user = _optional(store, "users", assignment.user_id)
    return {
        "id": assignment.id,
        "is_project_manager": assignment.is_project_manager,
        "is_active": assignment.is_active,
        "use_default_rates": assignment.use_default_rates,
        "budget": number(assignment.budget),
        "created_at": timestamp(assignment.created_at),
        "updated_at": timestamp(assignment.updated_at),
        "hourly_rate": number(assignment.hourly_rate),
        "project": _ref(project, "code"),
        "user": _user_ref(user),
    }


def time_entry_json(store, entry, single=False):
    """Return a time entry; `single` adds the fields of a one-record read."""
    project = _optional(store, "projects", entry.project_id)
    client = project and _optional(store, "clients", project.client_id)
    body = {
        "id": entry.id,
        "spent_date": day(entry.spent_date),
        "user": _user_ref(_optional(store, "users", entry.user_id)),
        "client": _ref(client, "currency"),
        "project": _ref(project, "code"),
        "task": _ref(_optional(store, "tasks", entry.task_id)),
        "external_reference": entry.external_reference,
        "hours": round(entry.minutes / 60, 2),
        "hours_without_timer": round(entry.minutes / 60, 2),
        "rounded_hours": round(store.rounded_minutes(entry.minutes) / 60, 2),
        "notes": entry.notes,
        "is_locked": entry.is_locked,
        "locked_reason": entry.locked_reason,
        "approval_status": entry.approval_status,
        "is_closed": entry.approval_status == "approved",
        "is_billed": entry.is_billed,
        "timer_started_at": timestamp(entry.timer_started_at),
        "started_time": entry.started_time,
        "ended_time": entry.ended_time,
        "is_running": entry.is_running,
        "billable": entry.billable,
        "budgeted": entry.budgeted,
        "billable_rate": number(entry.billable_rate),
        "cost_rate": number(entry.cost_rate),
        "created_at": timestamp(entry.created_at),
        "updated_at": timestamp(entry.updated_at),
    }
    if single:
        body.update(_assignments(store, entry.project_id, entry.user_id, entry.task_id))
        body["invoice"] = _invoice(entry)
    return body


def expense_category_json(store, category):
    """Return an expense category as `GET /v2/expense_categories` lists it."""
    return {
        "id": category.id,
        "name": category.name,
        "unit_name": category.unit_name,
        "unit_price": number(category.unit_price),
        "is_active": category.is_active,
        "created_at": timestamp(category.created_at),
        "updated_at": timestamp(category.updated_at),
    }


def expense_json(store, expense, base_url=""):
    """Return an expense; the receipt URL points at this emulator."""
    project = _optional(store, "projects", expense.project_id)
    client = project and _optional(store, "clients", project.client_id)
    category = _optional(store, "expense_categories", expense.expense_category_id)
    user_assignment = store.user_assignment(expense.project_id, expense.user_id)
    return {
        "id": expense.id,
        "notes": expense.notes,
        "total_cost": number(expense.total_cost),
        "units": number(expense.units),
        "is_closed": expense.approval_status == "approved",
        "approval_status": expense.approval_status,
        "is_locked": expense.is_locked,
        "is_billed": expense.is_billed,
        "locked_reason": expense.locked_reason,
        "spent_date": day(expense.spent_date),
        "created_at": timestamp(expense.created_at),
        "updated_at": timestamp(expense.updated_at),
        "billable": expense.billable,
        "receipt": _receipt(expense, base_url),
        "user": _user_ref(_optional(store, "users", expense.user_id)),
        "user_assignment": user_assignment
        and user_assignment_json(store, user_assignment),
        "project": _ref(project, "code"),
        "expense_category": category
        and {
            "id": category.id,
            "name": category.name,
            "unit_price": number(category.unit_price),
            "unit_name": category.unit_name,
        },
        "client": _ref(client, "currency"),
        "invoice": _invoice(expense),
    }


def _assignments(store, project_id, user_id, task_id):
    user_assignment = store.user_assignment(project_id, user_id)
    task_assignment = store.task_assignment(project_id, task_id)
    return {
        "user_assignment": user_assignment
        and user_assignment_json(store, user_assignment),
        "task_assignment": task_assignment
        and task_assignment_json(store, task_assignment),
    }


def _receipt(expense, base_url):
    receipt = expense.receipt
    if receipt is None:
        return None
    return {
        "url": f"{base_url}/receipts/{expense.id}/{receipt.file_name}",
        "file_name": receipt.file_name,
        "file_size": len(receipt.data),
        "content_type": receipt.content_type,
    }


def _invoice(record):
    if record.invoice_id is None:
        return None
    return {"id": record.invoice_id, "number": record.invoice_number}


def _optional(store, kind, record_id):
    try:
        return store.get(kind, record_id)
    except HarvestError:
        return None


def _ref(record, extra=None):
    if record is None:
        return None
    body = {"id": record.id, "name": record.name}
    if extra:
        body[extra] = getattr(record, extra)
    return body


def _user_ref(user):
    if user is None:
        return None
    return {"id": user.id, "name": f"{user.first_name} {user.last_name}"}


SERIALIZERS = {
    "users": user_json,
    "clients": client_json,
    "projects": project_json,
    "tasks": task_json,
    "task_assignments": task_assignment_json,
    "user_assignments": user_assignment_json,
    "time_entries": time_entry_json,
    "expense_categories": expense_category_json,
}
