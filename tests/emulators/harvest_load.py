"""Fill a Harvest emulator store from the fake firm.

Every consultant becomes a user with the e-mail the PSA holds, and every
firm task becomes a task. Only the projects the firm runs in Harvest are
loaded, with their clients, assignments, time entries and expenses. Records keep
the firm's timestamps, and `store.id_of(firm_key)` maps any firm key
(U001, C002, P003, T04, an entry or expense key) to its Harvest id.
"""

from datetime import UTC, datetime, time

from .harvest_store import HarvestReceipt, HarvestStore

PSA = "harvest"

_UNIT_NAMES = {"Mileage": "kilometer"}


def load_firm(firm, store=None):
    """Load the Harvest side of `firm` into `store` (a new one if None)."""
    store = store or HarvestStore()
    with store.lock:
        _load_people(store, firm)
        projects = firm.projects_for(PSA)
        _load_clients(store, firm, projects)
        for project in projects:
            _load_project(store, firm, project)
        for entry in firm.time_entries(PSA):
            _load_entry(store, entry)
        _load_expenses(store, firm)
    return store


def _load_people(store, firm):
    for index, consultant in enumerate(firm.consultants):
        at = datetime.combine(consultant.hired_on, time(8), UTC)
        store.add_user(
            consultant.first_name,
            consultant.last_name,
            consultant.psa_email,
            at=at,
            telephone=consultant.phone,
            timezone=consultant.timezone,
            is_contractor=consultant.is_contractor,
            weekly_capacity=consultant.weekly_capacity_hours * 3600,
            default_hourly_rate=consultant.default_rate,
            cost_rate=consultant.cost_rate,
            roles=[consultant.title, consultant.department],
            access_roles=["administrator"] if index == 0 else ["member"],
            firm_key=consultant.key,
        )
    at = datetime.combine(firm.starts_on, time(8), UTC)
    for task in firm.tasks:
        store.add_task(
            task.name,
            at=at,
            billable_by_default=task.billable,
            default_hourly_rate=task.default_rate or None,
            firm_key=task.key,
        )


def _load_clients(store, firm, projects):
    wanted = {project.client_key for project in projects}
    for client in firm.clients:
        if client.key not in wanted:
            continue
        address = client.address
        lines = [address.street, address.street2, f"{address.zip} {address.city}"]
        lines.append(address.country_name)
        store.add_client(
            client.name,
            at=client.created_at,
            currency=client.currency,
            address="\n".join(line for line in lines if line.strip()),
            firm_key=client.key,
        )


def _load_project(store, firm, project):
    at = project.created_at
    record = store.add_project(
        store.id_of(project.client_key),
        project.name,
        at=at,
        code=project.code,
        is_billable=project.is_billable,
        is_fixed_fee=project.is_fixed_fee,
        bill_by="Project",
        hourly_rate=project.hourly_rate,
        budget=project.budget_hours,
        budget_by="project",
        fee=project.fee,
        notes=f"CRM deal {project.deal_key}",
        starts_on=project.starts_on,
        ends_on=project.ends_on,
        firm_key=project.key,
    )
    for task_key in project.task_keys:
        task = firm.by_key[task_key]
        store.assign_task(
            record.id,
            store.id_of(task_key),
            at=at,
            billable=task.billable,
            hourly_rate=project.hourly_rate if task.billable else None,
        )
    for consultant_key in project.consultant_keys:
        store.assign_user(
            record.id,
            store.id_of(consultant_key),
            at=at,
            is_project_manager=consultant_key == project.manager_key,
        )


def _load_entry(store, entry):
    record = store.add_time_entry(
        store.id_of(entry.consultant_key),
        store.id_of(entry.project_key),
        store.id_of(entry.task_key),
        entry.spent_date,
        at=entry.created_at,
        minutes=entry.minutes,
        notes=entry.notes,
        billable=entry.billable,
        billable_rate=entry.billable_rate,
        cost_rate=entry.cost_rate,
        approval_status=entry.approval_status,
        is_locked=entry.is_locked,
        locked_reason=entry.locked_reason,
        is_billed=entry.is_billed,
        invoice_number=entry.invoice_number,
        invoice_id=_invoice_id(entry.invoice_number),
        firm_key=entry.key,
    )
    record.updated_at = entry.updated_at


def _load_expenses(store, firm):
    categories = {}
    for expense in firm.expenses:
        if expense.psa != PSA:
            continue
        category = categories.get(expense.category)
        if category is None:
            category = categories[expense.category] = store.add_expense_category(
                expense.category,
                at=datetime.combine(firm.starts_on, time(8), UTC),
                unit_name=_UNIT_NAMES.get(expense.category),
                unit_price=expense.unit_price,
            )
        _load_expense(store, expense, category)


def _load_expense(store, expense, category):
    receipt = expense.receipt and HarvestReceipt(
        expense.receipt.file_name, expense.receipt.content_type, expense.receipt.data
    )
    record = store.add_expense(
        store.id_of(expense.consultant_key),
        store.id_of(expense.project_key),
        category.id,
        expense.spent_date,
        expense.amount,
        at=expense.created_at,
        units=expense.units,
        notes=expense.notes,
        billable=expense.billable,
        approval_status=expense.approval_status,
        is_locked=expense.is_locked,
        locked_reason=expense.locked_reason,
        is_billed=expense.is_billed,
        receipt=receipt,
        firm_key=expense.key,
    )
    record.updated_at = expense.updated_at


def _invoice_id(invoice_number):
    """Return a stable invoice id derived from the firm's invoice number."""
    if not invoice_number:
        return None
    digits = "".join(character for character in invoice_number if character.isdigit())
    return int(digits)
