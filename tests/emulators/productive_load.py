"""Fill a Productive emulator store from the fake firm.

Every consultant becomes a person with the e-mail the PSA holds. Each
project the firm runs in Productive comes with its client company, one
budget deal and one service per task of the project; time entries go on
those services. Expense categories become service types. Money is stored
in minor units (cents, or yen for JPY), time in minutes, and
`store.id_of(firm_key)` maps a firm key to its Productive id. A service's
firm key is `<project key>/<task key>`.
"""

from datetime import UTC, datetime, time
from decimal import Decimal

from .firm_model import CURRENCY_DECIMALS
from .productive_store import ProductiveStore

PSA = "productive"

BILLING_FIXED, BILLING_ACTUALS, BILLING_NON_BILLABLE = 1, 2, 3


def minor_units(amount, currency):
    """Return a money amount as an integer of the currency's minor unit."""
    return int(Decimal(amount).scaleb(CURRENCY_DECIMALS.get(currency, 2)))


def load_firm(firm, store=None):
    """Load the Productive side of `firm` into `store` (a new one if None)."""
    store = store or ProductiveStore()
    with store.lock:
        _load_people(store, firm)
        projects = firm.projects_for(PSA)
        _load_companies(store, firm, projects)
        for project in projects:
            _load_project(store, firm, project)
        for entry in firm.time_entries(PSA):
            _load_entry(store, firm, entry)
        _load_expenses(store, firm)
    return store


def _load_people(store, firm):
    for consultant in firm.consultants:
        store.add(
            "people",
            {
                "first_name": consultant.first_name,
                "last_name": consultant.last_name,
                "email": consultant.psa_email,
                "title": consultant.title,
                "joined_at": consultant.hired_on,
            },
            at=datetime.combine(consultant.hired_on, time(8), UTC),
            firm_key=consultant.key,
        )


def _load_companies(store, firm, projects):
    wanted = {project.client_key for project in projects}
    for client in firm.clients:
        if client.key in wanted:
            store.add(
                "companies",
                {
                    "name": client.name,
                    "billing_name": client.name,
                    "vat": client.vat,
                    "default_currency": client.currency,
                    "company_code": client.code,
                    "domain": client.domain,
                },
                at=client.created_at,
                firm_key=client.key,
            )


def _load_project(store, firm, project):
    at = project.created_at
    company_id = store.id_of(project.client_key)
    record = store.add(
        "projects",
        {"name": project.name, "project_number": project.code, "project_type_id": 2},
        {"company": company_id, "project_manager": store.id_of(project.manager_key)},
        at=at,
        firm_key=project.key,
    )
    deal = store.add(
        "deals",
        {
            "name": f"{project.name} budget",
            "number": project.code,
            "currency": project.currency,
            "date": project.starts_on,
            "end_date": project.ends_on,
        },
        {"company": company_id, "project": record.id},
        at=at,
        firm_key=f"{project.key}/budget",
    )
    for task_key in project.task_keys:
        _load_service(store, firm, project, deal, task_key)


def _load_service(store, firm, project, deal, task_key):
    task = firm.by_key[task_key]
    billing_type = BILLING_ACTUALS
    if not task.billable:
        billing_type = BILLING_NON_BILLABLE
    elif project.is_fixed_fee:
        billing_type = BILLING_FIXED
    store.add(
        "services",
        {
            "name": task.name,
            "billing_type_id": billing_type,
            "unit_id": 1,
            "price": minor_units(project.hourly_rate, project.currency),
        },
        {"deal": deal.id},
        at=project.created_at,
        firm_key=f"{project.key}/{task_key}",
    )


def _load_entry(store, firm, entry):
    approved = entry.approval_status == "approved"
    project = firm.by_key[entry.project_key]
    record = store.add(
        "time_entries",
        {
            "date": entry.spent_date,
            "time": entry.minutes,
            "billable_time": entry.minutes if entry.billable else 0,
            "recognized_time": entry.minutes if entry.billable else 0,
            "note": entry.notes,
            "approved": approved,
            "approved_at": entry.approved_at if approved else None,
            "submitted": entry.approval_status != "unsubmitted",
            "invoiced": entry.is_billed,
            "last_activity_at": entry.updated_at,
            "currency": entry.currency,
        },
        {
            "person": store.id_of(entry.consultant_key),
            "service": store.id_of(f"{entry.project_key}/{entry.task_key}"),
            "approver": store.id_of(project.manager_key) if approved else None,
            "creator": store.id_of(entry.consultant_key),
        },
        at=entry.created_at,
        firm_key=entry.key,
    )
    record.updated_at = entry.updated_at


def _load_expenses(store, firm):
    service_types = {}
    for expense in firm.expenses:
        if expense.psa != PSA:
            continue
        if expense.category not in service_types:
            service_types[expense.category] = store.add(
                "service_types",
                {"name": expense.category},
                at=datetime.combine(firm.starts_on, time(8), UTC),
            )
        _load_expense(store, firm, expense, service_types[expense.category])


def _load_expense(store, firm, expense, service_type):
    approved = expense.approval_status == "approved"
    project = firm.by_key[expense.project_key]
    amount = minor_units(expense.amount, expense.currency)
    record = store.add(
        "expenses",
        {
            "name": expense.notes,
            "date": expense.spent_date,
            "amount": amount,
            "billable_amount": amount if expense.billable else 0,
            "currency": expense.currency,
            "quantity": int(expense.units or 1),
            "approved": approved,
            "approved_at": expense.approved_at if approved else None,
            "invoiced": expense.is_billed,
        },
        {
            "person": store.id_of(expense.consultant_key),
            "deal": store.id_of(f"{project.key}/budget"),
            "service_type": service_type.id,
            "approver": store.id_of(project.manager_key) if approved else None,
        },
        at=expense.created_at,
        firm_key=expense.key,
    )
    record.updated_at = expense.updated_at
