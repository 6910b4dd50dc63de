"""Steps 4 to 6 of the demo: delivery, billing and money.

The nightly pulls bring approved time and expenses in; finance creates the
consultant HR forgot from the exception. A billing run per closed month is
validated, previewed, generated, approved and posted, last month's accrual
is computed, and consultants then change invoiced time in the PSAs.
Customers pay and the invoice status reaches the CRM deals.
"""

from datetime import timedelta

from demo_context import (
    EXPENSE_FLOW,
    PSA_KINDS,
    TIME_FLOW,
    month_end,
    switch_on,
)

PSA_TIME_CRON = "psa_connector.ir_cron_psa_import_time"
PSA_EXPENSE_CRON = "psa_connector.ir_cron_psa_import_expenses"
ACCRUAL_CRON = "billing_sync.ir_cron_billing_prepare_accruals"
STATUS_PUSH_CRON = "billing_sync.ir_cron_billing_push_invoice_status"
# Share of posted invoices paid in full, and of those left, paid in part.
PAID_SHARE = 0.6
PARTLY_PAID_SHARE = 0.25
# Payments are registered one by one over XML-RPC; this keeps the step short.
MAX_PAID = 30
# Timesheets edited in each PSA after they were invoiced.
LATE_EDITS = 3


def delivery(demo):
    """Switch the nightly pulls on, run them, then add the missing employee."""
    switch_on(demo, PSA_KINDS, [TIME_FLOW, EXPENSE_FLOW])
    demo.run_cron(PSA_TIME_CRON)
    for _attempt in range(5):
        if not _time_pull_in_progress(demo):
            break
        demo.run_cron(PSA_TIME_CRON)
    demo.run_cron(PSA_EXPENSE_CRON)
    demo.wait()
    _create_missing_employee(demo)


def _create_missing_employee(demo):
    """Create the consultant HR forgot from the exception, then link the other PSA.

    Create Employee on the first exception links the new employee and
    queues that PSA's waiting entries again. On the other PSA's exception,
    finance picks the new employee in Link to and presses Link and Retry.
    """
    exceptions = demo.odoo.search(
        "integration.exception",
        [
            ("category", "=", "unknown_employee"),
            ("state", "in", ("new", "in_progress")),
        ],
    )
    if not exceptions:
        demo.note("No exception was opened for the consultant missing in Odoo.")
        return
    demo.call_button(
        "integration.exception", "action_psa_create_employee", exceptions[:1]
    )
    employee = demo.odoo.search(
        "hr.employee", [("work_email", "=ilike", demo.missing_consultant.email)]
    )
    for exception_id in exceptions[1:]:
        demo.odoo.write(
            "integration.exception",
            [exception_id],
            {"link_record": f"hr.employee,{employee[0]}"},
        )
        demo.call_button("integration.exception", "action_link_record", [exception_id])


def _time_pull_in_progress(demo):
    rows = demo.odoo.read("integration.flow", [("code", "=", TIME_FLOW)], ["watermark"])
    return any('"run"' in (row["watermark"] or "") for row in rows)


def count_delivery(demo):
    """Return the timesheets, hours and expenses imported, and the exceptions."""
    odoo = demo.odoo
    timesheets = odoo.read(
        "account.analytic.line", [("project_id", "!=", False)], ["unit_amount"]
    )
    return {
        "timesheets": len(timesheets),
        "hours": round(sum(row["unit_amount"] for row in timesheets), 1),
        "timesheets_mapped_to_psa": odoo.count(
            "integration.external.id", [("res_model", "=", "account.analytic.line")]
        ),
        "expenses": odoo.count("hr.expense"),
        "exceptions_opened": odoo.grouped_count(
            "integration.exception",
            "category",
            [("backend_id", "in", [demo.backends[kind] for kind in PSA_KINDS])],
        ),
        "exceptions_resolved": odoo.count(
            "integration.exception",
            [
                ("backend_id", "in", [demo.backends[kind] for kind in PSA_KINDS]),
                ("state", "=", "resolved"),
            ],
        ),
        "employees_created_from_exception": odoo.count(
            "hr.employee",
            [("work_email", "=ilike", demo.missing_consultant.email)],
        ),
    }


# ----------------------------------------------------------------------
# 5. Billing
# ----------------------------------------------------------------------


def billing(demo):
    """Bill each closed month, accrue the open one, then edit invoiced time."""
    demo.runs = []
    for date_from, date_to in _closed_months(demo):
        demo.runs.append(_bill_month(demo, date_from, date_to))
    demo.wait()
    _draft_accrual(demo)
    _edit_invoiced_time(demo)


def _draft_accrual(demo):
    """Let the accrual cron draft last month, then press Compute on it.

    The cron drafts the accrual once per month, possibly when the server
    started and no time was imported yet; Compute counts it again.
    """
    demo.run_cron(ACCRUAL_CRON)
    period_end = demo.today.replace(day=1) - timedelta(days=1)
    accruals = demo.odoo.search(
        "billing.accrual",
        [("date", "=", str(period_end)), ("state", "in", ("draft", "to_review"))],
    )
    if accruals:
        demo.call_button("billing.accrual", "action_compute", accruals)
    else:
        demo.note(f"No draft accrual exists for {period_end}.")


def _closed_months(demo):
    """Yield (first day, last day) of each month up to the PSA's locked date."""
    start = demo.firm.starts_on.replace(day=1)
    while start <= demo.firm.locked_until:
        end = month_end(start)
        yield start, end
        start = end + timedelta(days=1)


def _bill_month(demo, date_from, date_to):
    """Validate, preview, generate, approve and post one month's run."""
    run_id = demo.odoo.create(
        "billing.run", {"date_from": str(date_from), "date_to": str(date_to)}
    )
    for action in ("validate", "preview", "generate", "approve", "post"):
        before = _run_state(demo, run_id)
        demo.call_button("billing.run", f"action_{action}", [run_id])
        after = _run_state(demo, run_id)
        if action != "approve" and after == before:
            demo.note(
                f"Billing run of {date_from:%B %Y} stopped at {action}: {after}; "
                "see its Issues and Orders tabs."
            )
            break
    print(f"    billing run {date_from:%B %Y}: {_run_state(demo, run_id)}")
    return run_id


def _run_state(demo, run_id):
    return demo.odoo.read("billing.run", [("id", "=", run_id)], ["state"])[0]["state"]


def _edit_invoiced_time(demo):
    """Add half an hour to invoiced entries in each PSA, as consultants do.

    Harvest changes arrive by the PSA webhook; Productive changes wait for
    the next time pull, started with the backend's Import Time Now button.
    """
    for kind in PSA_KINDS:
        store = demo.store(kind)
        store.take_events()
        for external_id in _invoiced_entry_ids(demo, kind)[:LATE_EDITS]:
            _add_half_hour(store, kind, int(external_id))
        if kind == "harvest":
            demo.post_psa_events(kind)
        else:
            demo.call_button(
                "integration.backend", "action_psa_import_time", [demo.backends[kind]]
            )


def _add_half_hour(store, kind, entry_id):
    if kind == "harvest":
        entry = store.get("time_entries", entry_id)
        store.edit_entry(entry_id, minutes=entry.minutes + 30)
    else:
        entry = store.get("time_entries", entry_id)
        minutes = entry.attributes["time"] + 30
        store.edit_entry(entry_id, time=minutes, billable_time=minutes)


def _invoiced_entry_ids(demo, kind):
    """Return the PSA ids of timesheets of this PSA already invoiced."""
    lines = demo.odoo.search(
        "account.analytic.line",
        [("timesheet_invoice_id", "!=", False), ("project_id", "!=", False)],
    )
    rows = demo.odoo.read(
        "integration.external.id",
        [
            ("backend_id", "=", demo.backends[kind]),
            ("res_model", "=", "account.analytic.line"),
            ("res_id", "in", lines),
        ],
        ["external_id"],
        limit=50,
    )
    return [row["external_id"] for row in rows]


def count_billing(demo):
    """Return the runs posted, invoices, accruals and late-edit exceptions."""
    odoo = demo.odoo
    return {
        "billing_runs_posted": odoo.count("billing.run", [("state", "=", "posted")]),
        "invoices_posted": odoo.count(
            "account.move",
            [("move_type", "=", "out_invoice"), ("state", "=", "posted")],
        ),
        "credit_notes": odoo.count("account.move", [("move_type", "=", "out_refund")]),
        "accruals_to_review": odoo.count(
            "billing.accrual", [("state", "in", ("draft", "to_review"))]
        ),
        "accrued_amount": sum(
            row["amount"] for row in odoo.read("billing.accrual", [], ["amount"])
        ),
        "timesheets_invoiced": odoo.count(
            "account.analytic.line", [("timesheet_invoice_id", "!=", False)]
        ),
        "changed_after_invoicing_open": odoo.count(
            "integration.exception",
            [
                ("category", "=", "timesheet_changed_after_invoicing"),
                ("state", "in", ("new", "in_progress")),
            ],
        ),
    }


# ----------------------------------------------------------------------
# 6. Money
# ----------------------------------------------------------------------


def money(demo):
    """Register payments, then send the invoice status to the CRM deals."""
    invoices = demo.odoo.read(
        "account.move",
        [("move_type", "=", "out_invoice"), ("state", "=", "posted")],
        ["amount_residual"],
        order="invoice_date, id",
    )
    paid = min(int(len(invoices) * PAID_SHARE), MAX_PAID)
    partly = max(1, int((len(invoices) - paid) * PARTLY_PAID_SHARE))
    for invoice in invoices[:paid]:
        _register_payment(demo, invoice, invoice["amount_residual"])
    for invoice in invoices[paid : paid + partly]:
        _register_payment(demo, invoice, round(invoice["amount_residual"] / 2, 2))
    demo.wait()
    demo.run_cron(STATUS_PUSH_CRON)


def _register_payment(demo, invoice, amount):
    """Register a payment with Odoo's Register Payment wizard."""
    context = {"active_model": "account.move", "active_ids": [invoice["id"]]}
    wizard_id = demo.odoo.create(
        "account.payment.register",
        {"amount": amount, "payment_date": str(demo.today)},
        context=context,
    )
    demo.call_button(
        "account.payment.register", "action_create_payments", [wizard_id],
        context=context,
    )  # fmt: skip


def crm_deal_statuses(demo):
    """Return {status: deals} as the CRMs now show the invoice status."""
    statuses = {}
    hubspot = demo.store("hubspot")
    for record in hubspot.live("deals"):
        status = record.properties.get("odoo_invoice_status")
        if status:
            statuses[f"hubspot {status}"] = statuses.get(f"hubspot {status}", 0) + 1
    for record in demo.store("salesforce").rows("Opportunity"):
        status = record.get("Odoo_Invoice_Status__c")
        if status:
            key = f"salesforce {status}"
            statuses[key] = statuses.get(key, 0) + 1
    return statuses


def count_money(demo):
    """Return the payments, paid invoices and the statuses the CRMs now show."""
    odoo = demo.odoo
    statuses = crm_deal_statuses(demo)
    return {
        "payments": odoo.count("account.payment"),
        "invoices_paid": odoo.count(
            "account.move",
            [
                ("move_type", "=", "out_invoice"),
                ("payment_state", "in", ("paid", "in_payment")),
            ],
        ),
        "invoices_partly_paid": odoo.count(
            "account.move",
            [("move_type", "=", "out_invoice"), ("payment_state", "=", "partial")],
        ),
        "status_pushes_done": odoo.count(
            "integration.sync.job",
            [("flow", "=", "crm.deal_push"), ("state", "=", "done")],
        ),
        "deals_with_status_in_crm": sum(statuses.values()),
        "deal_statuses_in_crm": statuses,
    }
