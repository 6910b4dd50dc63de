"""Invoice status and amounts back to the deal, as outbound jobs.

Invoices are made, posted, paid and reversed with Odoo's own accounting.
The changes are queued just before commit (here the precommit hooks run
when the cursor is flushed) and sent by the real queue worker to the
emulators.
"""

from odoo.addons.account.tests.common import AccountTestInvoicingCommon
from odoo.tests import tagged

from .common import CrmEmulatorCase

BATCH_UPDATE = "/crm/v3/objects/deals/batch/update"


@tagged("post_install", "-at_install")
class TestInvoiceStatus(CrmEmulatorCase, AccountTestInvoicingCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.hubspot.action_crm_ensure_properties()
        cls.salesforce.salesforce_multicurrency = False

    def hubspot_order(self, name, amount="1000.00"):
        company = self.hs_store.add_company(f"{name} Client")
        deal = self.hs_store.add_deal(
            name, stage="closedwon", company_id=company.id, amount=amount
        )
        self.hubspot_records(
            "deals",
            {
                "id": deal.id,
                "properties": dict(deal.properties),
                "updatedAt": deal.properties["hs_lastmodifieddate"],
            },
        )
        self.run_jobs()
        return deal, self.order_of(self.hubspot, deal.id)

    def invoice(self, order):
        invoice = order._create_invoices()
        invoice.action_post()
        return invoice

    def pay(self, invoice, amount):
        wizard = self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=invoice.ids
        )
        wizard.create({"amount": amount}).action_create_payments()

    def commit_hooks(self):
        """Run what a commit would run first: the flush and precommit hooks."""
        self.env.cr.flush()

    def pushed(self, deal):
        return self.hs_store.get("deals", deal.id).properties

    def test_posted_then_paid_reaches_the_deal(self):
        deal, order = self.hubspot_order("Statusline")
        invoice = self.invoice(order)
        self.commit_hooks()
        self.run_jobs()
        self.assertEqual(self.pushed(deal)["odoo_invoice_status"], "posted")
        self.assertEqual(
            float(self.pushed(deal)["odoo_amount_invoiced"]), invoice.amount_total
        )
        self.assertEqual(
            float(self.pushed(deal)["odoo_amount_due"]), invoice.amount_total
        )

        self.pay(invoice, invoice.amount_total / 2)
        self.commit_hooks()
        self.run_jobs()
        self.assertEqual(self.pushed(deal)["odoo_invoice_status"], "partially_paid")
        self.assertAlmostEqual(
            float(self.pushed(deal)["odoo_amount_paid"]), invoice.amount_total / 2
        )

        self.pay(invoice, invoice.amount_residual)
        self.commit_hooks()
        self.run_jobs()
        self.assertEqual(self.pushed(deal)["odoo_invoice_status"], "paid")
        self.assertEqual(float(self.pushed(deal)["odoo_amount_due"]), 0.0)

    def test_reversed_invoice_reported(self):
        deal, order = self.hubspot_order("Reversal")
        invoice = self.invoice(order)
        reversal = invoice._reverse_moves(cancel=True)
        self.assertEqual(reversal.state, "posted")
        self.commit_hooks()
        self.run_jobs()
        self.assertEqual(self.pushed(deal)["odoo_invoice_status"], "reversed")
        self.assertEqual(float(self.pushed(deal)["odoo_amount_invoiced"]), 0.0)

    def test_changes_batched_per_call_and_not_resent(self):
        first_deal, first = self.hubspot_order("Batch one")
        second_deal, second = self.hubspot_order("Batch two")
        self.hs.clear_requests()
        self.invoice(first)
        self.invoice(second)
        self.commit_hooks()
        jobs = self.Job.search(
            [("flow", "=", "crm.deal_push"), ("state", "=", "pending")]
        )
        self.assertEqual(len(jobs), 1)
        self.assertEqual(set(jobs.payload["deals"]), {first_deal.id, second_deal.id})
        self.run_jobs()
        self.assertEqual(len(self.hs.requests_to(BATCH_UPDATE, "POST")), 1)
        self.assertEqual(self.pushed(first_deal)["odoo_invoice_status"], "posted")
        self.assertEqual(self.pushed(second_deal)["odoo_invoice_status"], "posted")

        first._crm_enqueue_invoice_status()
        self.commit_hooks()
        self.assertFalse(
            self.Job.search([("flow", "=", "crm.deal_push"), ("state", "=", "pending")])
        )

    def test_rate_limited_push_retried_not_lost(self):
        deal, order = self.hubspot_order("Storm")
        self.invoice(order)
        self.commit_hooks()
        (job,) = self.Job.search(
            [("flow", "=", "crm.deal_push"), ("state", "=", "pending")]
        )
        self.hs.faults.status(429, times=2, retry_after=2, path=BATCH_UPDATE)
        self.run_jobs(due_only=True)
        self.assertEqual(job.state, "pending")
        self.assertEqual(job.attempts, 1)
        self.assertIn("429", job.last_error)
        self.assertFalse(self.pushed(deal).get("odoo_invoice_status"))
        self.run_jobs()
        self.run_jobs()
        self.assertEqual(job.state, "done")
        self.assertEqual(job.attempts, 3)
        self.assertEqual(self.pushed(deal)["odoo_invoice_status"], "posted")

    def test_opportunity_gets_status_through_collections(self):
        account = self.sf_store.add_account("Crane Ltd")
        opportunity = self.sf_store.add_opportunity(
            "Crane deal", stage_name="Closed Won", account_id=account["Id"], Amount=3000
        )
        self.salesforce_message(
            ("Opportunity", {"Id": opportunity["Id"], "StageName": "Closed Won"})
        )
        self.run_jobs()
        order = self.order_of(self.salesforce, opportunity["Id"])
        invoice = self.invoice(order)
        self.pay(invoice, invoice.amount_total)
        self.commit_hooks()
        self.run_jobs()
        stored = self.sf_store.get("Opportunity", opportunity["Id"])
        self.assertEqual(stored["Odoo_Invoice_Status__c"], "paid")
        pushes = self.Job.search(
            [("flow", "=", "crm.deal_push"), ("backend_id", "=", self.salesforce.id)]
        )
        self.assertGreaterEqual(len(pushes), 2)
        self.assertEqual(set(pushes.mapped("state")), {"done"})
        self.assertEqual(stored["Odoo_Order_Ref__c"], order.name)
        patches = self.sf.requests_to("/services/data", "PATCH")
        self.assertTrue(
            any("composite/sobjects" in request.path for request in patches)
        )
