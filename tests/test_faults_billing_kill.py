"""Kill -9 of the Odoo worker in the middle of a billing run's steps.

A billing run generates its invoices, and later posts them, in the request
of the button that starts the step. A real Odoo server (prefork, one HTTP
worker) runs both over JSON-RPC, and the test kills the worker inside each
step's open transaction: in Generate once invoices have been created, in
Post once posting has begun writing. The worker is stopped first, so the
kill cannot land after the commit. Odoo's master starts a new worker and
the step is started again, as a finance user would. Afterwards every order
of the run must have exactly one invoice, posted, billing exactly its
time: no timesheet invoiced twice, none left out.

These tests commit to the test database, so each cleans up what it made.
"""

import os
import signal
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import pytest

from odoo import SUPERUSER_ID, Command, api
from tests.bench.committed import query, stop_when, wait_until
from tests.bench.servers import server_on_test_database

ORDERS = 6
HOURS = (2.0, 3.0, 1.5)
PRICE = 100.0
# Generate is killed once this many invoices exist in its transaction.
INVOICES_BEFORE_KILL = 2


def last_month():
    first_of_this_month = date.today().replace(day=1)
    period_end = first_of_this_month - timedelta(days=1)
    return period_end.replace(day=1), period_end


@pytest.fixture
def firm(registry):
    """Confirmed orders of hourly consulting with time logged last month."""
    date_from, date_to = last_month()
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        company = env.company
        window = company.billing_posting_window_days
        company.billing_posting_window_days = (date.today() - date_to).days + 5
        ids = make_orders(env, company, date_from)
    yield ids
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        remove_orders(env, ids)
        env.company.billing_posting_window_days = window


def make_orders(env, company, date_from):
    """Create the customers, orders and timesheets; return their ids."""
    income = env["account.account"].search(
        [("account_type", "=", "income"), ("company_ids", "in", company.id)], limit=1
    )
    hour = env.ref("uom.product_uom_hour")
    product = env["product.product"].create(
        {
            "name": "Kill test consulting hour",
            "type": "service",
            "list_price": PRICE,
            "uom_id": hour.id,
            "uom_po_id": hour.id,
            "invoice_policy": "delivery",
            "service_type": "timesheet",
            "service_tracking": "project_only",
            "taxes_id": [Command.clear()],
            "property_account_income_id": income.id,
        }
    )
    employee = env["hr.employee"].create(
        {"name": "Kill test consultant", "hourly_cost": 40.0}
    )
    customers = env["res.partner"].create(
        [
            {
                "name": f"Kill test client {number:02d}",
                "is_company": True,
                "vat": "BE0477472701",
                "street": "Rue de la Loi 16",
                "city": "Brussels",
                "zip": "1000",
                "country_id": env.ref("base.be").id,
            }
            for number in range(ORDERS)
        ]
    )
    orders = env["sale.order"].create(
        [
            {
                "partner_id": customer.id,
                "order_line": [
                    Command.create(
                        {
                            "product_id": product.id,
                            "product_uom_qty": 10,
                            "price_unit": PRICE,
                        }
                    )
                ],
            }
            for customer in customers
        ]
    )
    orders.action_confirm()
    timesheets = env["account.analytic.line"].create(
        [
            {
                "name": "Kill test work",
                "project_id": order.order_line.project_id.id,
                "employee_id": employee.id,
                "unit_amount": hours,
                "date": date_from + timedelta(days=day),
                "so_line": order.order_line.id,
            }
            for order in orders
            for day, hours in enumerate(HOURS)
        ]
    )
    return {
        "product": product.id,
        "employee": employee.id,
        "customers": customers.ids,
        "orders": orders.ids,
        "projects": orders.order_line.project_id.ids,
        "timesheets": timesheets.ids,
    }


def remove_orders(env, ids):
    """Delete the runs, invoices, timesheets, orders and customers of `ids`."""
    customers = env["res.partner"].browse(ids["customers"])
    moves = env["account.move"].search([("partner_id", "in", customers.ids)])
    runs = moves.billing_run_id | env["billing.run"].search(
        [("partner_ids", "in", customers.ids)]
    )
    moves.filtered(lambda move: move.state == "posted").button_draft()
    moves.with_context(force_delete=True).unlink()
    runs.unlink()
    env["account.analytic.line"].browse(ids["timesheets"]).unlink()
    orders = env["sale.order"].browse(ids["orders"])
    orders._action_cancel()
    orders.unlink()
    env["project.project"].browse(ids["projects"]).unlink()
    customers.unlink()
    env["product.product"].browse(ids["product"]).product_tmpl_id.unlink()
    env["hr.employee"].browse(ids["employee"]).unlink()


@pytest.fixture
def run_id(registry, firm):
    """A billing run of last month for the test's customers only."""
    date_from, date_to = last_month()
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        run = env["billing.run"].create(
            {
                "date_from": date_from,
                "date_to": date_to,
                "partner_ids": [Command.set(firm["customers"])],
            }
        )
        return run.id


@pytest.fixture
def server():
    with server_on_test_database(workers=1) as odoo_server:
        yield odoo_server


def move_ids_drawn(registry):
    """Return the last journal entry id taken, committed or not."""
    [(value,)] = query(registry, "SELECT last_value FROM account_move_id_seq")
    return value


def writing_elsewhere(registry):
    """Return whether another session of the database has written in an open transaction."""
    [(writing,)] = query(
        registry,
        "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname ="
        " current_database() AND pid <> pg_backend_pid()"
        " AND backend_xid IS NOT NULL)",
    )
    return writing


def kill_worker_when(registry, server, call, condition):
    """Kill the HTTP worker running `call` while `condition()` is true; wait for a new one.

    Returns the error the JSON-RPC client met.
    """
    [victim] = server.http_worker_pids()
    stopped = stop_when(registry, victim, lambda: not call.done() and condition(), 60)
    assert stopped, "the step ended before the worker was stopped inside it"
    os.kill(victim, signal.SIGKILL)
    assert wait_until(
        lambda: victim not in server.worker_pids() and server.http_worker_pids(), 30
    ), "Odoo did not start a new worker"
    return call.exception(timeout=30)


def run_state(registry, run):
    [(state,)] = query(registry, "SELECT state FROM billing_run WHERE id = %s", [run])
    return state


def run_invoices(registry, run):
    """Return [(invoice id, state, order id)] of the run's invoices."""
    return query(
        registry,
        """
        SELECT DISTINCT move.id, move.state, line.order_id
          FROM account_move move
          JOIN account_move_line move_line ON move_line.move_id = move.id
          JOIN sale_order_line_invoice_rel rel ON rel.invoice_line_id = move_line.id
          JOIN sale_order_line line ON line.id = rel.order_line_id
         WHERE move.billing_run_id = %s
        """,
        [run],
    )


def invoiced_hours(registry, ids):
    """Return {order id: hours on its invoices} and {timesheet id: invoice id}."""
    by_order = dict(
        query(
            registry,
            """
            SELECT line.order_id, sum(move_line.quantity)
              FROM account_move_line move_line
              JOIN sale_order_line_invoice_rel rel
                ON rel.invoice_line_id = move_line.id
              JOIN sale_order_line line ON line.id = rel.order_line_id
              JOIN account_move move ON move.id = move_line.move_id
             WHERE line.order_id = ANY(%s) AND move.state != 'cancel'
             GROUP BY line.order_id
            """,
            [ids["orders"]],
        )
    )
    by_timesheet = dict(
        query(
            registry,
            "SELECT id, timesheet_invoice_id FROM account_analytic_line"
            " WHERE id = ANY(%s)",
            [ids["timesheets"]],
        )
    )
    return by_order, by_timesheet


def step_killed(registry, server, run, method, condition):
    """Start `method` of the run; kill the worker running it once `condition()` is true."""
    with ThreadPoolExecutor(max_workers=1) as executor:
        call = executor.submit(server.rpc, "billing.run", method, [run])
        return kill_worker_when(registry, server, call, condition)


@pytest.mark.slow
def test_killed_billing_steps_bill_each_order_once(registry, firm, run_id, server):
    server.rpc("billing.run", "action_validate", [run_id])
    server.rpc("billing.run", "action_preview", [run_id])
    assert run_state(registry, run_id) == "previewed"

    drawn = move_ids_drawn(registry)
    error = step_killed(
        registry,
        server,
        run_id,
        "action_generate",
        lambda: (
            move_ids_drawn(registry) >= drawn + INVOICES_BEFORE_KILL
            and writing_elsewhere(registry)
        ),
    )
    assert error is not None, "the killed Generate returned a result"
    assert run_state(registry, run_id) == "previewed"
    assert run_invoices(registry, run_id) == [], "a killed Generate left invoices"
    [(pending,)] = query(
        registry,
        "SELECT count(*) FROM billing_run_order WHERE run_id = %s AND state ="
        " 'pending'",
        [run_id],
    )
    assert pending == ORDERS

    server.rpc("billing.run", "action_generate", [run_id])
    server.rpc("billing.run", "action_approve", [run_id])
    assert run_state(registry, run_id) == "generated"
    error = step_killed(
        registry, server, run_id, "action_post", lambda: writing_elsewhere(registry)
    )
    assert error is not None, "the killed Post returned a result"
    assert run_state(registry, run_id) == "generated"
    assert {state for _id, state, _order in run_invoices(registry, run_id)} == {
        "draft"
    }, "a killed Post left invoices posted"

    server.rpc("billing.run", "action_post", [run_id])
    assert run_state(registry, run_id) == "posted"
    invoices = run_invoices(registry, run_id)
    assert sorted(order for _id, _state, order in invoices) == sorted(firm["orders"])
    assert {state for _id, state, _order in invoices} == {"posted"}
    [(customer_invoices,)] = query(
        registry,
        "SELECT count(*) FROM account_move WHERE partner_id = ANY(%s)"
        " AND move_type = 'out_invoice'",
        [firm["customers"]],
    )
    assert customer_invoices == ORDERS, "an invoice exists outside the run"
    by_order, by_timesheet = invoiced_hours(registry, firm)
    assert by_order == dict.fromkeys(firm["orders"], sum(HOURS))
    invoice_of_order = {order: move for move, _state, order in invoices}
    [(timesheet_orders,)] = query(
        registry,
        "SELECT json_object_agg(timesheet.id, line.order_id)"
        " FROM account_analytic_line timesheet"
        " JOIN sale_order_line line ON line.id = timesheet.so_line"
        " WHERE timesheet.id = ANY(%s)",
        [firm["timesheets"]],
    )
    assert by_timesheet == {
        int(timesheet): invoice_of_order[order]
        for timesheet, order in timesheet_orders.items()
    }, "a timesheet is not linked to its order's invoice"
