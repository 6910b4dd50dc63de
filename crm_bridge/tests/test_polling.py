"""Polling, Sync Now, another company's backend and the CRM links on forms."""

from datetime import UTC, datetime, timedelta

from odoo.tests import Form, tagged

from .common import CrmEmulatorCase, emulators_module

SEARCH = "/crm/v3/objects/companies/search"


@tagged("post_install", "-at_install")
class TestPolling(CrmEmulatorCase):
    def stamp(self, record, moment):
        """Set a HubSpot record's change time, as if it changed at `moment`."""
        isoformat_ms = emulators_module("base").isoformat_ms
        record.updated_at = moment
        for name in ("hs_lastmodifieddate", "lastmodifieddate"):
            record.properties[name] = isoformat_ms(moment)

    def polled(self, object_type="companies"):
        return self.Job.search(
            [
                ("flow", "=", "hubspot.record"),
                ("backend_id", "=", self.hubspot.id),
                ("external_model", "=", object_type),
            ]
        )

    def test_hubspot_poll_skips_nothing_when_records_move(self):
        self.hubspot.write({"crm_sync_contacts": False, "crm_sync_deals": False})
        base = datetime(2024, 6, 3, 8, 0, tzinfo=UTC)
        same = [self.hs_store.add_company(f"Same instant {n}") for n in range(105)]
        for record in same:
            self.stamp(record, base)
        later = [self.hs_store.add_company(f"Later {n}") for n in range(30)]
        for offset, record in enumerate(later, start=1):
            self.stamp(record, base + timedelta(seconds=offset))
        moved = same[3]
        self.hs.faults.between_pages(
            lambda _page: self.hs_store.update("companies", moved.id, {"city": "Hull"}),
            after_page=1,
            path=SEARCH,
        )
        self.poll(self.hubspot)

        jobs = self.polled()
        seeded = {record.id for record in same + later}
        self.assertTrue(seeded <= set(jobs.mapped("external_id")))
        self.assertEqual(len(jobs.filtered(lambda job: job.external_id == moved.id)), 2)
        flow = self.hubspot._get_flow("hubspot.poll.companies")
        newest = self.hs_store.get("companies", moved.id).updated_at
        self.assertEqual(
            flow.watermark,
            newest.replace(tzinfo=None).isoformat(timespec="milliseconds"),
        )
        searches = self.hs.requests_to(SEARCH, "POST")
        self.assertTrue(all(b'"limit": 100' in request.body for request in searches))

        self.run_jobs()
        self.assertEqual(self.partner_of(self.hubspot, moved.id).city, "Hull")
        self.assertEqual(self.partner_of(self.hubspot, later[-1].id).name, "Later 29")
        count = len(self.polled())
        self.poll(self.hubspot)
        self.assertEqual(len(self.polled()), count)

    def test_contact_poll_finds_company_through_associations(self):
        self.hubspot.write({"crm_sync_deals": False})
        company = self.hs_store.add_company("Associated Ltd")
        contact = self.hs_store.add_contact(
            "ada@associated.example",
            company_id=company.id,
            firstname="Ada",
            lastname="Byron",
        )
        self.poll(self.hubspot)
        self.run_jobs()
        person = self.partner_of(self.hubspot, contact.id)
        self.assertEqual(person.parent_id, self.partner_of(self.hubspot, company.id))
        batch = self.hs.requests_to(
            "/crm/v4/associations/contacts/companies/batch/read"
        )
        self.assertTrue(batch)

    def test_sync_now_on_partner_reads_record_again(self):
        company = self.hs_store.add_company("Syncable Ltd", city="Leeds")
        self.hubspot_events(
            self.hubspot_event(7001, "company.creation", company.id, 1717400000000)
        )
        self.run_jobs()
        partner = self.partner_of(self.hubspot, company.id)
        self.assertEqual(partner.city, "Leeds")
        self.assertEqual(partner.crm_link_count, 1)
        self.assertIn(f"/record/0-2/{company.id}", partner.crm_link_ids.crm_url)
        self.hs_store.update("companies", company.id, {"city": "York"}, notify=False)
        partner.action_crm_sync_now()
        self.run_jobs()
        self.assertEqual(partner.city, "York")

    def test_backend_of_other_company_orders_in_that_company(self):
        other = self.env["res.company"].create({"name": "B Studio Ltd"})
        self.env.user.company_ids |= other
        backend = self.hubspot.copy(
            {
                "name": "HubSpot B",
                "company_id": other.id,
                "api_token": self.hs_store.config.private_app_token,
            }
        )
        company = self.hs_store.add_company("Kestrel Analytics B")
        deal = self.hs_store.add_deal(
            "B deal", stage="closedwon", company_id=company.id, amount="4800.00"
        )
        (job,) = self.hubspot_events(
            self.hubspot_event(7101, "deal.creation", deal.id, 1717400000000),
            backend=backend,
        )
        self.assertEqual(job.company_id, other)
        self.run_jobs()
        self.assertEqual(job.state, "done", job.last_error)
        order = self.order_of(backend, deal.id)
        self.assertEqual(order.company_id, other)
        self.assertEqual(order.project_ids.company_id, other)
        customer = self.partner_of(backend, company.id)
        self.assertFalse(customer.company_id)
        self.assertFalse(self.order_of(self.hubspot, deal.id))

    def test_forms_show_crm_settings_and_links(self):
        backend_form = Form(self.hubspot)
        self.assertEqual(backend_form.crm_owner_names, "crm")
        backend_form.crm_owner_billing = "crm"
        backend_form.crm_poll_interval = 5
        backend_form.save()
        self.assertEqual(
            self.hubspot._get_flow("hubspot.poll.deals").interval_minutes, 5
        )
        partner_view = self.env["res.partner"].get_view(view_type="form")["arch"]
        self.assertIn("crm_link_ids", partner_view)
        order_view = self.env["sale.order"].get_view(view_type="form")["arch"]
        self.assertIn("crm_link_ids", order_view)
        project_view = self.env["project.project"].get_view(view_type="form")["arch"]
        self.assertIn("crm_link_ids", project_view)
