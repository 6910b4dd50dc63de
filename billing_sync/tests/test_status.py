"""Invoice status back to the CRM, and the billing alerts."""

from datetime import timedelta

from odoo import fields
from odoo.addons.billing_sync.services.alerts import BillingAlerts
from odoo.addons.billing_sync.services.status import job_mentions_deal
from odoo.tests import tagged

from .common import BillingCase


@tagged("post_install", "-at_install")
class TestStatusAndAlerts(BillingCase):
    def setUp(self):
        super().setUp()
        self.crm = (
            self.env["integration.backend"]
            .sudo()
            .create(
                {"name": "HubSpot", "kind": "hubspot", "base_url": "http://127.0.0.1:9"}
            )
        )
        self.order = self._order(self.customer, [(self.product_tm, 20, 100.0)])
        self.env["integration.external.id"]._bind(
            self.crm, self.order, "deal-991", external_model="deal"
        )
        self._log(self.order, 5, self._day(3))

    def _status_jobs(self):
        """Return the outbound jobs that carry a status for deal-991."""
        jobs = (
            self.env["integration.sync.job"]
            .sudo()
            .search(
                [("backend_id", "=", self.crm.id), ("direction", "=", "outbound")],
                order="id",
            )
        )
        return jobs.filtered(lambda job: job_mentions_deal(job, "deal-991"))

    def _pay(self, invoice):
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=invoice.ids
        ).create({"payment_date": self.period_end})._create_payments()

    def test_post_and_payment_queue_status(self):
        run = self._generated_run()
        invoice = run.invoice_ids
        before = self._status_jobs()

        run.action_approve()
        run.action_post()
        posted = self._status_jobs() - before
        self.assertTrue(posted)
        if posted[:1].flow == "crm.invoice_status":
            self.assertEqual(posted.payload["invoice_number"], invoice.name)
            self.assertEqual(posted.payload["payment_state"], "not_paid")
            self.assertAlmostEqual(posted.payload["amount_residual"], 500.0)
            self.assertEqual(posted.external_id, "deal-991")

        self._pay(invoice)
        paid = self._status_jobs() - before - posted
        self.assertTrue(paid)
        if paid[:1].flow == "crm.invoice_status":
            self.assertIn(paid.payload["payment_state"], ("paid", "in_payment"))
            self.assertAlmostEqual(paid.payload["amount_residual"], 0.0)

        self.env["account.move"]._cron_billing_push_status()
        self.assertEqual(self._status_jobs(), before | posted | paid)

    def test_paid_invoice_unknown_to_crm_alerts(self):
        run = self._generated_run()
        run.action_approve()
        run.action_post()
        invoice = run.invoice_ids
        self._pay(invoice)
        self.company.billing_alert_crm_unpaid_hours = 0
        exceptions = self.env["integration.exception"].sudo()

        alert = exceptions._cron_billing_alerts().filtered(
            lambda a: a.category == "crm_shows_unpaid"
        )

        self.assertEqual(alert.res_id, invoice.id)
        self.assertEqual(alert.user_id, invoice.invoice_user_id)
        again = exceptions._cron_billing_alerts()
        self.assertEqual(
            again.filtered(lambda a: a.category == "crm_shows_unpaid"), alert
        )
        self._status_jobs().write(
            {"state": "done", "finished_at": fields.Datetime.now()}
        )
        company = self.company.sudo()
        self.assertFalse(BillingAlerts(company).paid_invoices_unpaid_in_crm())

    def test_won_deal_without_project_alerts(self):
        lead = self.env["crm.lead"].create(
            {
                "name": "Won without order",
                "type": "opportunity",
                "user_id": self.env.user.id,
            }
        )
        lead.action_set_won()
        lead.date_closed = fields.Datetime.now() - timedelta(hours=72)
        self.company.billing_alert_won_deal_hours = 48

        alerts = self.env["integration.exception"].sudo()._cron_billing_alerts()

        alert = alerts.filtered(lambda a: a.category == "won_deal_without_project")
        self.assertEqual(alert.res_model, "crm.lead")
        self.assertEqual(alert.res_id, lead.id)
        self.assertEqual(alert.user_id, self.env.user)
        self.assertEqual(alert.impact, "high")

    def test_old_unbilled_time_alerts(self):
        self.company.billing_alert_unbilled_days = 1
        project = self._line(self.order, self.product_tm).project_id

        alerts = self.env["integration.exception"].sudo()._cron_billing_alerts()

        alert = alerts.filtered(lambda a: a.category == "time_not_invoiced")
        self.assertEqual(alert.res_id, project.id)
        self.assertIn("5.00 hours", alert.name)
