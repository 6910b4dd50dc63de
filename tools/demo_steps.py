"""The steps of the demo's lead-to-cash cycle, each through production entry points.

Every step acts the way production does. The outside world changes data
in the emulated CRM or PSA and sends webhooks in the vendors' own delivery
format (`tests/emulators/senders.py`, `psa_events.py`). Odoo is driven over
XML-RPC with the buttons an administrator or finance user presses, and
scheduled actions are started with Run Now (`ir.cron.method_direct_trigger`)
or left to the cron worker. Nothing is written to the database behind the
suite's back.

`STEPS` lists (title, run, count): `demo_cycle.py` calls `run`, waits until
the sync queue is drained, then calls `count` for the step's figures.
"""

from demo_context import FINANCE_LOGIN, Demo
from demo_crm import count_deals, count_master_data, deals, master_data
from demo_faults import count_faults, faults
from demo_finance import (
    billing,
    count_billing,
    count_delivery,
    count_money,
    delivery,
    money,
)
from demo_setup import configure, count_configuration

FIGURES_CRON = "billing_sync.ir_cron_billing_refresh_figures"

__all__ = ["STEPS", "Demo", "summarize"]


def dashboard(demo):
    """Refresh the executive figures and return the dashboard card's values."""
    demo.run_cron(FIGURES_CRON)
    fields = [
        "pipeline",
        "backlog",
        "wip",
        "invoiced_month",
        "invoiced_last_month",
        "collected_month",
        "outstanding",
        "margin_month",
        "realisation_rate",
        "utilization_rate",
        "open_alert_count",
        "runs_to_approve",
    ]
    cards = demo.odoo.read("billing.dashboard", [], fields)
    figures = {name: round(cards[0][name], 2) for name in fields} if cards else {}
    figures["figure_rows"] = demo.odoo.count("billing.figure")
    return figures


WHERE_TO_LOOK = {
    "Integrations > Exceptions": "the queue a finance user works from",
    "Integrations > Sync Jobs": "what ran, what was retried, what died",
    "Integrations > Audit Log": "every exchange, by correlation ID",
    "Invoicing > Billing Control > Billing Runs": "one run per closed month",
    "Invoicing > Billing Control > Dashboard": "the executive figures",
    "Invoicing > Billing Control > Unbilled Revenue Accruals": "the open month",
    "Invoicing > Billing Control > Figures": "the figures by customer and month",
    "Integrations > PSA > Hours Reconciliation": "PSA hours against Odoo's",
    "Sales > Orders": "orders made from won deals",
    "Project > Projects": "projects, mapped to the PSAs by code",
}


def summarize(demo):
    """Return the demo's summary: counts per step, dashboard, notes."""
    return {
        "steps": demo.steps,
        "dashboard": dashboard(demo),
        "notes": demo.notes,
        "logins": {
            "admin": "admin / admin",
            FINANCE_LOGIN: f"{FINANCE_LOGIN} / {FINANCE_LOGIN} "
            "(Integrations / Manager, invoicing)",
        },
        "where_to_look": WHERE_TO_LOOK,
    }


STEPS = [
    ("1. Configure the backends", configure, count_configuration),
    ("2. Master data: accounts and contacts", master_data, count_master_data),
    ("3. Deals: orders, projects, the PSA", deals, count_deals),
    ("4. Delivery: time and expenses", delivery, count_delivery),
    ("5. Billing: runs, accrual, late edits", billing, count_billing),
    ("6. Money: payments and status to the CRM", money, count_money),
    ("7. Faults on the way", faults, count_faults),
]
