"""Generate the firm's time entries lazily, one consultant-day at a time.

Each consultant-day draws from its own random generator, seeded with the
firm's seed, the consultant and the date. The stream is therefore the
same on every call and in every process, and generating it needs no
memory beyond the entries of one day.
"""

from datetime import UTC, datetime, time, timedelta

from .firm_identity import seeded_rng
from .firm_model import (
    SIZES,
    TimeEntry,
    local_time_utc,
    locked_reason,
    workdays,
)

NOTES = {
    "T01": ("Weekly status report", "Steering committee", "Planning next sprint"),
    "T02": ("Requirements workshop", "Interviews with key users", "Réunion de cadrage"),
    "T03": ("Wireframes for checkout", "Design review", "Abstimmung mit dem Kunden"),
    "T04": ("Invoice export API", "Fixing defects from UAT", "Data migration scripts"),
    "T05": ("Regression tests", "UAT support", "Test plan update"),
    "T06": ("Key-user training", "Training material", "Train-the-trainer session"),
    "T07": ("Support tickets", "Monthly health check", "Incident follow-up"),
    "T08": ("Team meeting", "One-to-one", "Internal knowledge sharing"),
    "T09": ("Travel to client site", "Return travel", "Airport transfer"),
}

DAY_OFF_RATE = 0.08
EDIT_AFTER_APPROVAL_RATE = 0.02
NON_BILLABLE_RATE = 0.05


class _EntryContext:
    """Lookups shared by the whole stream of one firm."""

    def __init__(self, firm):
        self.firm = firm
        self.size = SIZES[firm.size]
        self.projects = {project.key: project for project in firm.projects}
        self.tasks = {task.key: task for task in firm.tasks}
        self.days = workdays(firm.starts_on, firm.ends_on)
        self.period_end = datetime.combine(firm.ends_on, time(18), UTC)
        self.allocations = {}
        for allocation in firm.allocations:
            self.allocations.setdefault(allocation.consultant_key, []).append(
                allocation
            )


def generate_time_entries(firm):
    """Yield the firm's time entries, consultant by consultant, in date order."""
    context = _EntryContext(firm)
    for consultant in firm.consultants:
        yield from _consultant_entries(context, consultant)


def _consultant_entries(context, consultant):
    allocations = context.allocations.get(consultant.key, [])
    edited_one = False
    for day in context.days:
        active = [a for a in allocations if a.starts_on <= day <= a.ends_on]
        if not active:
            continue
        rng = seeded_rng("entries", context.firm.seed, consultant.key, day)
        if rng.random() < DAY_OFF_RATE:
            continue
        for number, (allocation, minutes) in enumerate(_day_plan(context, rng, active)):
            entry = _entry(
                context,
                rng,
                consultant,
                day,
                allocation=allocation,
                number=number,
                minutes=minutes,
            )
            editable = entry.approval_status == "approved" and not entry.is_locked
            if editable and (not edited_one or rng.random() < EDIT_AFTER_APPROVAL_RATE):
                _edit_after_approval(context, rng, entry)
                edited_one = True
            yield entry


def _day_plan(context, rng, active):
    """Return (allocation, minutes) pairs that fill one working day."""
    low, high = context.size.entries_per_day
    count = rng.randint(low, high)
    weights = [float(allocation.hours_per_day) for allocation in active]
    picks = rng.choices(active, weights=weights, k=count)
    total = rng.randint(300, 560)
    shares = [rng.random() + 0.3 for _pick in picks]
    scale = total / sum(shares)
    return [
        (pick, max(5, round(share * scale)))
        for pick, share in zip(picks, shares, strict=True)
    ]


def _entry(context, rng, consultant, day, *, allocation, number, minutes):
    firm = context.firm
    project = context.projects[allocation.project_key]
    task = context.tasks[rng.choice(project.task_keys)]
    billable = (
        project.is_billable and task.billable and rng.random() >= NON_BILLABLE_RATE
    )
    status, submitted_at, approved_at = _approval(context, rng, consultant, day)
    locked = day <= firm.locked_until
    billed = locked and billable and not project.is_fixed_fee
    created_at = local_time_utc(
        day, rng.randint(16, 19), rng.randint(0, 59), consultant.timezone
    )
    return TimeEntry(
        key=f"{consultant.key}-{day:%Y%m%d}-{number + 1}",
        consultant_key=consultant.key,
        project_key=project.key,
        task_key=task.key,
        psa=project.psa,
        spent_date=day,
        minutes=minutes,
        notes=rng.choice(NOTES[task.key]),
        billable=billable,
        billable_rate=project.hourly_rate if billable else None,
        cost_rate=consultant.cost_rate,
        currency=project.currency,
        approval_status=status,
        submitted_at=submitted_at,
        approved_at=approved_at,
        is_locked=locked,
        locked_reason=locked_reason(locked, billed=billed),
        is_billed=billed,
        invoice_number=f"INV-{day:%Y%m}-{project.key}" if billed else None,
        edited_after_approval=False,
        original_minutes=minutes,
        created_at=created_at,
        updated_at=max(filter(None, (created_at, submitted_at, approved_at))),
    )


def _approval(context, rng, consultant, day):
    """Return (status, submitted at, approved at) of an entry made on `day`.

    Weeks are submitted on Friday evening and approved on the next Monday
    morning; recent weeks are still waiting.
    """
    firm = context.firm
    friday = day + timedelta(days=4 - day.weekday())
    submitted_at = local_time_utc(friday, 17, 30, consultant.timezone)
    approved_at = datetime.combine(friday + timedelta(days=3), time(9, 40), UTC)
    if day <= firm.locked_until or (
        day <= firm.approval_cutoff and rng.random() < 0.97
    ):
        return "approved", submitted_at, approved_at
    if friday <= firm.ends_on and rng.random() < 0.6:
        return "submitted", submitted_at, None
    return "unsubmitted", None, None


def _edit_after_approval(context, rng, entry):
    """Change an approved entry a few days after its approval."""
    entry.minutes = max(5, entry.minutes + rng.choice((-45, -20, 15, 30, 60)))
    entry.notes = f"{entry.notes} (corrected)"
    edited_at = entry.approved_at + timedelta(
        days=rng.randint(1, 5), minutes=rng.randint(0, 600)
    )
    entry.updated_at = min(edited_at, context.period_end)
    entry.edited_after_approval = True
