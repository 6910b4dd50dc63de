"""Executive figures and the three-way reconciliation on a small firm."""

from datetime import timedelta

from odoo import fields
from odoo.tests import tagged
from odoo.tools import date_utils

from .common import BillingCase

PRICE = 90.0
LIST_PRICE = 100.0
HOURLY_COST = 40.0


@tagged("post_install", "-at_install")
class TestFigures(BillingCase):
    def setUp(self):
        super().setUp()
        self.today = fields.Date.context_today(self.env.user)
        self.this_month = date_utils.start_of(self.today, "month")

        self.deal = self.env["crm.lead"].create(
            {
                "name": "Acme rollout",
                "type": "opportunity",
                "partner_id": self.customer.id,
                "expected_revenue": 2000.0,
            }
        )
        self.open_deal = self.env["crm.lead"].create(
            {
                "name": "Acme phase 2",
                "type": "opportunity",
                "partner_id": self.customer.id,
                "expected_revenue": 5000.0,
                "date_deadline": self.today,
            }
        )

        self.order = self._order(self.customer, [(self.product_tm, 20, PRICE)])
        self.order.opportunity_id = self.deal
        self.deal.action_set_won()
        self.fixed = self._order(self.customer_b, [(self.product_fixed, 1, 500.0)])
        self.psa_time = self._log(self.order, 10, self._day(5))
        self._log(self.order, 2, self._day(6))

        self.backend = (
            self.env["integration.backend"]
            .sudo()
            .create(
                {"name": "Harvest", "kind": "harvest", "base_url": "http://127.0.0.1:9"}
            )
        )
        self.env["integration.external.id"]._bind(self.backend, self.psa_time, "te-1")

        run = self._generated_run(include_fixed_price=False)
        run.action_approve()
        run.action_post()
        self.invoice = run.invoice_ids
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=self.invoice.ids
        ).create({"amount": 500.0, "payment_date": self.period_end})._create_payments()

        self._log(self.order, 3, self.today)
        lost = self._log(self.order, 1, self.today)
        self.env["billing.write.off"]._write_off(lost, "Rework")

        self.env["billing.figure"]._refresh(self.company, self.today)

    def _sum(self, month, names):
        rows = self.env["billing.figure"].search(
            [("company_id", "=", self.company.id), ("month", "=", month)]
        )
        return {name: sum(rows.mapped(name)) for name in names}

    def _contract_hours(self, month):
        day, hours = month, 0.0
        while day.month == month.month:
            hours += 8.0 if day.weekday() < 5 else 0.0
            day += timedelta(days=1)
        return hours

    def test_period_month_figures(self):
        figures = self._sum(
            self.period_start,
            [
                "invoiced",
                "collected",
                "outstanding",
                "cost_time",
                "margin",
                "hours_total",
                "hours_billable",
                "standard_value",
                "billed_value",
                "capacity_hours",
            ],
        )

        self.assertAlmostEqual(self.invoice.amount_untaxed, 12 * PRICE)
        self.assertAlmostEqual(figures["invoiced"], 12 * PRICE)
        self.assertAlmostEqual(figures["collected"], 500.0)
        self.assertAlmostEqual(figures["outstanding"], 12 * PRICE - 500.0)
        self.assertAlmostEqual(figures["cost_time"], 12 * HOURLY_COST)
        self.assertAlmostEqual(figures["margin"], 12 * PRICE - 12 * HOURLY_COST)
        self.assertAlmostEqual(figures["hours_total"], 12)
        self.assertAlmostEqual(figures["hours_billable"], 12)
        self.assertAlmostEqual(figures["standard_value"], 12 * LIST_PRICE)
        self.assertAlmostEqual(figures["billed_value"], 12 * PRICE)
        self.assertAlmostEqual(
            figures["capacity_hours"], self._contract_hours(self.period_start)
        )

    def test_current_month_figures(self):
        figures = self._sum(
            self.this_month,
            [
                "pipeline",
                "backlog",
                "wip",
                "written_off_value",
                "hours_total",
                "cost_time",
                "billed_value",
            ],
        )

        self.assertAlmostEqual(figures["pipeline"], 5000.0)
        self.assertAlmostEqual(figures["wip"], 3 * PRICE)
        self.assertAlmostEqual(figures["backlog"], (20 - 15) * PRICE + 500.0)
        self.assertAlmostEqual(figures["written_off_value"], 1 * PRICE)
        self.assertAlmostEqual(figures["hours_total"], 4)
        self.assertAlmostEqual(figures["cost_time"], 4 * HOURLY_COST)
        self.assertAlmostEqual(figures["billed_value"], 0.0)

    def test_figures_by_customer_and_salesperson(self):
        rows = self.env["billing.figure"].search([("company_id", "=", self.company.id)])
        customer_b = rows.filtered(lambda r: r.partner_id == self.customer_b)
        self.assertAlmostEqual(sum(customer_b.mapped("backlog")), 500.0)
        self.assertFalse(any(customer_b.mapped("invoiced")))
        mine = rows.filtered(lambda r: r.user_id == self.env.user)
        self.assertAlmostEqual(sum(mine.mapped("invoiced")), 12 * PRICE)
        project = self._line(self.order, self.product_tm).project_id
        self.assertAlmostEqual(
            sum(rows.filtered(lambda r: r.project_id == project).mapped("invoiced")),
            12 * PRICE,
        )

    def test_dashboard_rates(self):
        card = self.env["billing.dashboard"].search(
            [("company_id", "=", self.company.id)]
        )

        billable = 12 + 4
        capacity = self._contract_hours(self.period_start) + self._contract_hours(
            self.this_month
        )
        self.assertAlmostEqual(
            card.realisation_rate, 100 * (12 * PRICE) / (16 * LIST_PRICE)
        )
        self.assertAlmostEqual(card.utilization_rate, 100 * billable / capacity)
        self.assertAlmostEqual(card.wip, 3 * PRICE)
        self.assertAlmostEqual(card.pipeline, 5000.0)

    def test_three_way_reconciliation(self):
        rows = self.env["billing.reconciliation"]._build(
            self.company, self.period_start, self.period_end
        )
        project = self._line(self.order, self.product_tm).project_id
        row = rows.filtered(lambda r: r.project_id == project)

        self.assertAlmostEqual(row.deal_value, 2000.0)
        self.assertAlmostEqual(row.psa_hours, 10)
        self.assertAlmostEqual(row.psa_value, 10 * PRICE)
        self.assertAlmostEqual(row.odoo_hours, 12)
        self.assertAlmostEqual(row.odoo_value, 12 * PRICE)
        self.assertAlmostEqual(row.invoiced, 12 * PRICE)
        self.assertAlmostEqual(row.paid, 500.0)
        self.assertAlmostEqual(row.variance_psa_odoo, -2 * PRICE)
        self.assertAlmostEqual(row.variance_odoo_invoiced, 0.0)
        self.assertAlmostEqual(row.variance_invoiced_paid, 12 * PRICE - 500.0)
        self.assertAlmostEqual(row.variance_deal_invoiced, 2000.0 - 12 * PRICE)
        drill = row.action_open_psa_timesheets()
        self.assertEqual(
            self.env["account.analytic.line"].search(drill["domain"]), self.psa_time
        )
        invoices = row.action_open_invoices()
        self.assertEqual(
            self.env["account.move"].search(invoices["domain"]), self.invoice
        )

    def test_run_opens_reconciliation(self):
        run = self.env["billing.run"].search([("company_id", "=", self.company.id)])

        action = run.action_open_reconciliation()

        rows = self.env["billing.reconciliation"].search(action["domain"])
        project = self._line(self.order, self.product_tm).project_id
        self.assertEqual(rows.project_id, project)
        self.assertEqual(rows.date_from, self.period_start)
        self.assertEqual(rows.date_to, self.period_end)
