"""The validation checkpoint every PSA record passes before anything is written.

Each check returns a `PsaBusinessError` or None. The import turns a
failure into an exception for a person and lets the rest of the page go
through. One exception covers one cause: every entry of the same unknown
person, or of the same unknown project, lands on the same exception.
"""

from collections import Counter

from odoo.addons.integration_audit.services.errors import BusinessError

from .records import Expense


class PsaBusinessError(BusinessError):
    """A `BusinessError` that names the open exception it belongs to.

    `dedup_key` groups the failures of one cause into one exception, and
    `candidate_model` is the model a person may link the PSA record to.
    `psa_hours` is what the PSA now records for an invoiced timesheet that
    changed (0 when the entry was deleted), or None when the PSA gives no
    figure to bill, so the exception can keep it for the correction.
    """

    def __init__(
        self,
        message,
        *,
        category,
        dedup_key,
        records=None,
        candidates=None,
        candidate_model=None,
        psa_hours=None,
    ):
        super().__init__(
            message, category=category, records=records, candidates=candidates
        )
        self.dedup_key = dedup_key
        self.candidate_model = candidate_model
        self.psa_hours = psa_hours


def label(record):
    """Return how messages name a record: "time entry 42" or "expense 42"."""
    kind = "expense" if isinstance(record, Expense) else "time entry"
    return f"PSA {kind} {record.id}"


def unreadable_error(backend, unreadable):
    """Return the error of a PSA record whose values cannot be read.

    `unreadable` is a `records.Unreadable`; the error keeps it as its
    `unreadable` attribute, for the caller that stores the record's retry.
    """
    error = PsaBusinessError(
        f"PSA {unreadable.kind} {unreadable.id} on {backend.display_name} cannot "
        f"be read: {unreadable.reason}. Nothing of it was imported; correct it in "
        "the PSA, and the next pull reads it again.",
        category="invalid_payload",
        dedup_key=(
            f"psa:{backend.id}:invalid_payload:{unreadable.kind}:{unreadable.id}"
        ),
    )
    error.unreadable = unreadable
    return error


def split_duplicates(entries):
    """Return (entries whose id is unique in the page, entries whose id repeats)."""
    counts = Counter(entry.id for entry in entries)
    unique = [entry for entry in entries if counts[entry.id] == 1]
    repeated = [entry for entry in entries if counts[entry.id] > 1]
    return unique, repeated


def duplicate_error(backend, entry):
    """Return the error of an entry id that appears twice in one page."""
    return PsaBusinessError(
        f"{label(entry)} appears more than once in one page of "
        f"{backend.display_name}; none of its copies was imported. Check the "
        "entry in the PSA, then press Retry.",
        category="duplicate_entry",
        dedup_key=f"psa:{backend.id}:duplicate_entry:{entry.id}",
    )


def project_error(backend, entry, project):
    """Return why `project` cannot take the entry's time, or None."""
    if not project:
        return PsaBusinessError(
            f"PSA project {entry.project_name or '?'} (id {entry.project_id}) is "
            f"not mapped to an Odoo project on {backend.display_name}. Link it to "
            "a project, or create the project from its sale order, then press Retry.",
            category="unknown_project",
            dedup_key=f"psa:{backend.id}:unknown_project:{entry.project_id}",
            candidate_model="project.project",
        )
    if not project.active or _is_closed(project):
        return PsaBusinessError(
            f"Project {project.display_name} is archived or closed, so "
            f"{label(entry)} of {entry.date} cannot be recorded on it. Reopen the "
            "project or move the entry in the PSA, then press Retry.",
            category="closed_project",
            dedup_key=f"psa:{backend.id}:closed_project:{project.id}",
            records=project,
        )
    return None


def _is_closed(project):
    stage = project.sudo().stage_id
    return bool(stage.fold) or project.last_update_status == "done"


def unknown_person_error(backend, person_id, email):
    """Return the error of a PSA user no employee matches."""
    return PsaBusinessError(
        f"PSA user {email or person_id} (id {person_id}) matches no employee by "
        f"work e-mail on {backend.display_name}. Create the employee or link the "
        "user to an existing one.",
        category="unknown_employee",
        dedup_key=f"psa:{backend.id}:unknown_employee:{person_id}",
        candidate_model="hr.employee",
    )


def employee_error(backend, entry, employee, project):
    """Return why `employee` cannot carry the entry's time, or None."""
    if not employee:
        return unknown_person_error(
            backend, entry.person_id, entry.person_email or entry.person_name
        )
    if not employee.active:
        return PsaBusinessError(
            f"Employee {employee.name} is archived, so {label(entry)} "
            "cannot be recorded. Restore the employee or link the PSA user to "
            "another one, then press Retry.",
            category="unknown_employee",
            dedup_key=f"psa:{backend.id}:unknown_employee:{entry.person_id}",
            records=employee,
            candidate_model="hr.employee",
        )
    if project and project.company_id and employee.company_id != project.company_id:
        return PsaBusinessError(
            f"Employee {employee.name} works for {employee.company_id.name} but "
            f"project {project.display_name} belongs to {project.company_id.name}. "
            "Map the PSA user to the employee of the project's company.",
            category="unknown_employee",
            dedup_key=f"psa:{backend.id}:unknown_employee:{entry.person_id}",
            records=employee,
            candidate_model="hr.employee",
        )
    return None


def hours_error(backend, entry):
    """Return an error when the entry's hours exceed the backend's limit."""
    limit = backend.psa_max_entry_hours
    if entry.hours < 0 or (limit and entry.hours > limit):
        return PsaBusinessError(
            f"PSA time entry {entry.id} of {entry.date} has {entry.hours} h, "
            f"outside 0 to {limit:g} h. Correct it in the PSA, or raise the limit "
            f"on {backend.display_name} and press Retry.",
            category="hours_over_limit",
            dedup_key=f"psa:{backend.id}:hours_over_limit:{entry.id}",
        )
    return None


def lock_error(backend, entry, lock_date, existing_date=None, psa_lock_allowed=False):
    """Return an error when the entry or the line it changes is in a locked period.

    A lock the PSA set counts unless its reason is one the backend lists as
    routine, or `psa_lock_allowed` (a person chose to post the period).
    Odoo's own lock date always counts. Failures of one month share one
    exception, which names the period.
    """
    dates = [entry.date] + ([existing_date] if existing_date else [])
    routine = backend._psa_routine_lock_reasons()
    if lock_date and any(day <= lock_date for day in dates):
        reason = f"on or before the accounting lock date {lock_date}"
    elif entry.locked and not psa_lock_allowed and entry.locked_reason not in routine:
        reason = f"in a period the PSA locked ({entry.locked_reason or 'locked'})"
    else:
        return None
    month = entry.date.strftime("%Y-%m")
    return PsaBusinessError(
        f"PSA records of {month} on {backend.display_name} are in a locked period, "
        f"so they were not posted; the first was {label(entry)} of {entry.date}, "
        f"{reason}. Reopen the period and press Retry, or post the period's "
        "records anyway.",
        category="locked_period",
        dedup_key=f"psa:{backend.id}:locked_period:{month}",
    )


def category_error(backend, expense, products):
    """Return an error when no expensable product stands for the category."""
    if expense.category_id in products:
        return None
    return PsaBusinessError(
        f"PSA expense category {expense.category_name or '?'} (id "
        f"{expense.category_id}) matches no product that can be expensed on "
        f"{backend.display_name}. Link a product, or create one of that name "
        "with Can be Expensed set, then press Retry.",
        category="unknown_expense_category",
        dedup_key=f"psa:{backend.id}:unknown_expense_category:{expense.category_id}",
        candidate_model="product.product",
    )


def currency_error(backend, expense, currency):
    """Return an error when Odoo has no current rate for the expense's date.

    The rate used is the latest one on or before the expense date. When it
    is older than the backend's maximum rate age, it would be a stale rate.
    """
    if not currency:
        problem = f"currency {expense.currency or '(none)'} is not known to Odoo"
    elif currency == backend.company_id.currency_id:
        return None
    elif not currency.active:
        problem = f"currency {currency.name} is not active"
    else:
        problem = _rate_problem(backend, expense, currency)
        if not problem:
            return None
    return PsaBusinessError(
        f"{label(expense)} of {expense.date} cannot be converted: {problem}. Add "
        "the currency and its rate for that date, then press Retry.",
        category="fx_mismatch",
        dedup_key=f"psa:{backend.id}:fx_mismatch:{expense.id}",
    )


def _rate_problem(backend, expense, currency):
    company = backend.company_id
    rates = currency.rate_ids.filtered(
        lambda rate: (
            rate.name <= expense.date and rate.company_id in (company, company.browse())
        )
    )
    if not rates:
        return f"currency {currency.name} has no rate on or before {expense.date}"
    latest = max(rates.mapped("name"))
    max_age = backend.psa_rate_max_age_days
    if max_age and (expense.date - latest).days > max_age:
        return (
            f"the latest rate of {currency.name} before {expense.date} is of "
            f"{latest}, more than {max_age} days earlier"
        )
    return None


def fx_mismatch_error(backend, expense, record, ours):
    """Return the report of a PSA conversion that differs from Odoo's."""
    company_currency = backend.company_id.currency_id.name
    return PsaBusinessError(
        f"{label(expense)} of {expense.total} {expense.currency} on {expense.date} "
        f"is {ours} {company_currency} in Odoo but {expense.converted_total} in the "
        f"PSA. Expense {record.display_name} was imported at Odoo's rate; check the "
        "rate of that date, then resolve this exception.",
        category="fx_mismatch",
        dedup_key=f"psa:{backend.id}:fx_mismatch:{expense.id}",
        records=record,
    )


def expense_posted_error(backend, expense, record):
    """Return the error of a PSA change to an expense already in a report."""
    return PsaBusinessError(
        f"{label(expense)} changed in the PSA (now {expense.total} "
        f"{expense.currency}, {expense.approval_state}) but expense "
        f"{record.display_name} is already {record.state}; it was left unchanged. "
        "Correct the expense report, then resolve this exception.",
        category="expense_changed_after_posting",
        dedup_key=f"psa:{backend.id}:expense_changed_after_posting:{expense.id}",
        records=record,
    )
