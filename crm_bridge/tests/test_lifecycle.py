"""Deletions, restores, pipelines, rejected pushes and failed polls."""

from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import CrmEmulatorCase, hubspot_contact, now_ms

OCCURRED = 1717400000000


@tagged("post_install", "-at_install")
class TestLifecycle(CrmEmulatorCase):
    def event(self, event_id, subscription, object_id, **extra):
        return self.hubspot_event(event_id, subscription, object_id, OCCURRED, **extra)

    def test_company_deletion_keeps_partner_and_notes_it(self):
        company = self.hs_store.add_company("Deleted Co")
        self.hubspot_events(self.event(8001, "company.creation", company.id))
        self.run_jobs()
        partner = self.partner_of(self.hubspot, company.id)
        self.hs_store.archive("companies", company.id, notify=False)
        (job,) = self.hubspot_events(
            self.hubspot_event(8002, "company.deletion", company.id, now_ms(1))
        )
        self.run_jobs()
        self.assertEqual(job.state, "done")
        self.assertTrue(partner.exists())
        self.assertTrue(partner.active)
        self.assertTrue(
            partner.message_ids.filtered(lambda message: "Deleted in" in message.body)
        )
        self.hs_store.restore("companies", company.id, notify=False)
        self.hs_store.update("companies", company.id, {"city": "Bath"}, notify=False)
        self.hubspot_events(
            self.hubspot_event(8003, "company.restore", company.id, now_ms(2))
        )
        self.run_jobs()
        self.assertEqual(partner.city, "Bath")

    def test_deal_deletion_after_order_opens_exception(self):
        company = self.hs_store.add_company("Dropped Deal Co")
        deal = self.hs_store.add_deal(
            "Dropped", stage="closedwon", company_id=company.id, amount="100"
        )
        self.hubspot_events(self.event(8101, "deal.creation", deal.id))
        self.run_jobs()
        order = self.order_of(self.hubspot, deal.id)
        self.hubspot_events(
            self.hubspot_event(8102, "deal.deletion", deal.id, now_ms(3))
        )
        self.run_jobs()
        self.assertEqual(order.state, "sale")
        exception = self.open_exceptions("deal_deleted", self.hubspot)
        self.assertEqual(exception.res_id, order.id)

    def test_custom_pipeline_stage_metadata_and_switch(self):
        self.hs_store.add_pipeline(
            "services",
            "Services",
            (("3001", "Scoping", False, 0.3), ("3002", "Signed", True, 1.0)),
        )
        company = self.hs_store.add_company("Pipeline Co")
        signed = self.hs_store.add_deal(
            "Signed work",
            stage="3002",
            company_id=company.id,
            amount="500",
            pipeline="services",
        )
        self.hubspot_events(self.event(8201, "deal.creation", signed.id))
        self.run_jobs()
        self.assertTrue(self.order_of(self.hubspot, signed.id))

        pipeline = self.hubspot.crm_pipeline_ids.filtered(
            lambda row: row.external_id == "services"
        )
        self.assertEqual(
            pipeline.stage_ids.filtered("is_won").mapped("external_id"), ["3002"]
        )

        pipeline.sync_enabled = False
        other = self.hs_store.add_deal(
            "Signed later",
            stage="3002",
            company_id=company.id,
            amount="700",
            pipeline="services",
        )
        (job,) = self.hubspot_events(self.event(8202, "deal.creation", other.id))
        self.run_jobs()
        self.assertEqual(job.state, "done")
        self.assertFalse(self.order_of(self.hubspot, other.id))

    def test_unmatched_partner_when_creation_is_off(self):
        self.hubspot.crm_auto_create_partners = False
        (job,) = self.hubspot_records(
            "contacts",
            hubspot_contact(
                8301,
                firstname="Nobody",
                lastname="Known",
                email="nobody@unknown.example",
            ),
        )
        self.run_jobs()
        self.assertEqual(job.state, "failed")
        exception = self.open_exceptions("unmatched_partner", self.hubspot)
        self.assertEqual(exception.candidate_model, "res.partner")
        chosen = self.Partner.create({"name": "Known Person"})
        exception.link_record = f"res.partner,{chosen.id}"
        exception.action_link_record()
        self.run_jobs()
        self.assertEqual(job.state, "done")
        self.assertEqual(self.partner_of(self.hubspot, "8301"), chosen)

    def test_rejected_deal_update_opens_exception(self):
        job = self.Job._enqueue(
            self.hubspot,
            "crm.deal_push",
            "crm:deal_push:test-missing-deal",
            payload={"deals": {"99999999": {"invoice_status": "paid"}}},
            direction="outbound",
        )
        self.run_jobs()
        self.assertEqual(job.state, "failed")
        self.assertEqual(job.attempts, 1)
        self.assertEqual(len(self.open_exceptions("remote_rejected", self.hubspot)), 1)

    def test_failed_token_refresh_stops_poll_keeps_watermark(self):
        config = self.hs_store.config
        backend = self.env["integration.backend"].create(
            {
                "name": "HubSpot revoked",
                "kind": "hubspot",
                "base_url": self.hs.url,
                "hubspot_auth_flow": "oauth",
                "client_id": config.client_id,
                "client_secret": config.client_secret,
                "refresh_token": "revoked",
                "rate_limit_requests": 1000,
            }
        )
        flow = backend._get_flow("hubspot.poll.companies")
        flow.watermark = "2024-06-03T08:00:00.000"
        self.env.flush_all()
        self.env["integration.backend"]._cron_poll_crm()
        self.env.invalidate_all()
        self.assertEqual(flow.watermark, "2024-06-03T08:00:00.000")
        self.assertEqual(len(self.open_exceptions("crm_auth", backend)), 1)
        self.assertFalse(self.Job.search([("backend_id", "=", backend.id)]))

    def test_sync_now_failure_shown_to_user(self):
        self.hs.faults.status(400, times=1, path="/crm/v3/objects/companies/search")
        with self.assertRaises(UserError) as raised:
            self.hubspot.action_crm_sync_now()
        self.assertIn("HubSpot test", str(raised.exception))
        self.assertIn("400", str(raised.exception))
