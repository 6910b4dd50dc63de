"""Won HubSpot deals to confirmed orders and projects, through webhook events.

Events enter as the intake stores them and carry ids only, so every job
reads the deal, its company, line items and owner from the HubSpot
emulator.
"""

from odoo.tests import tagged

from .common import CrmEmulatorCase, now_ms


@tagged("post_install", "-at_install")
class TestHubSpotDeals(CrmEmulatorCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.hubspot.action_crm_ensure_properties()
        cls.owner = cls.hs_store.add_owner(
            "sasha.seller@example.com", "Sasha", "Seller"
        )

    def won_deal(self, name, company_name=None, **properties):
        """Seed a company and a won deal with a time line and a milestone line."""
        company = self.hs_store.add_company(
            company_name or f"{name} Customer Ltd", domain=f"{name.lower()}.example"
        )
        deal = self.hs_store.add_deal(
            name,
            stage="closedwon",
            company_id=company.id,
            amount="11000",
            closedate="2024-06-03T10:00:00.000Z",
            hubspot_owner_id=self.owner["id"],
            **properties,
        )
        self.hs_store.add_line_item(
            deal.id, "Design sprint", 40, 150, hs_sku="SVC-TIME"
        )
        self.hs_store.add_line_item(deal.id, "Go-live", 1, 5000, hs_sku="SVC-MILE")
        return company, deal

    def deal_event(self, event_id, deal, occurred_ms=None, stage="closedwon"):
        return self.hubspot_event(
            event_id,
            "deal.propertyChange",
            deal.id,
            occurred_ms or now_ms(),
            propertyName="dealstage",
            propertyValue=stage,
        )

    def test_won_deal_gives_one_customer_order_project(self):
        company, deal = self.won_deal("Rollout", company_name="Kestrel Analytics")
        (job,) = self.hubspot_events(self.deal_event(91002, deal))
        self.run_jobs()
        self.assertEqual(job.state, "done", job.last_error)
        order = self.order_of(self.hubspot, deal.id)
        customer = self.partner_of(self.hubspot, company.id)
        self.assertEqual(order.partner_id, customer)
        self.assertEqual(customer.name, "Kestrel Analytics")
        self.assertEqual(order.state, "sale")
        self.assertEqual(order.company_id, self.company)
        self.assertEqual(order.user_id, self.seller)
        self.assertEqual(str(order.crm_close_date), "2024-06-03")
        self.assertEqual(str(order.date_order.date()), "2024-06-03")
        self.assertEqual(
            order.order_line.mapped("product_id"),
            self.product_time | self.product_milestone,
        )
        self.assertEqual(order.amount_untaxed, 11000.0)
        self.assertEqual(len(order.project_ids), 1)
        milestones = order.project_ids.milestone_ids
        self.assertEqual(len(milestones), 1)
        self.assertEqual(milestones.sale_line_id.product_id, self.product_milestone)
        push = self.Job.search(
            [("flow", "=", "crm.deal_push"), ("backend_id", "=", self.hubspot.id)]
        )
        self.assertTrue(any(deal.id in job.payload["deals"] for job in push))

        self.run_jobs()
        stored = self.hs_store.get("deals", deal.id)
        self.assertEqual(stored.properties["odoo_order_ref"], order.name)
        self.assertIn(
            f"id={order.project_ids.id}", stored.properties["odoo_project_url"]
        )

    def test_redelivery_and_replay_change_nothing(self):
        _company, deal = self.won_deal("Replay")
        first = self.hubspot_events(self.deal_event(91010, deal))
        again = self.hubspot_events(self.deal_event(91010, deal))
        self.assertEqual(first, again)
        self.run_jobs()
        order = self.order_of(self.hubspot, deal.id)
        self.hubspot_events(self.deal_event(91011, deal, occurred_ms=now_ms(1)))
        first.action_replay()
        self.run_jobs()
        self.assertEqual(self.order_of(self.hubspot, deal.id), order)
        orders = self.env["sale.order"].search(
            [("partner_id", "=", order.partner_id.id)]
        )
        self.assertEqual(len(orders), 1)
        self.assertEqual(len(order.order_line), 2)
        self.assertEqual(len(order.project_ids), 1)
        self.assertEqual(len(self.partners_named("Replay Customer Ltd")), 1)

    def test_late_older_event_changes_nothing(self):
        _company, deal = self.won_deal("Outoforder")
        newer, older = self.hubspot_events(
            self.deal_event(93002, deal, occurred_ms=1717407720000),
            self.deal_event(
                93001, deal, occurred_ms=1717407600000, stage="contractsent"
            ),
        )
        self.run_jobs()
        self.assertEqual(newer.state, "done")
        self.assertEqual(older.state, "done")
        self.assertIn("Skipped", older.result)
        order = self.order_of(self.hubspot, deal.id)
        self.assertEqual(order.state, "sale")
        self.assertFalse(self.open_exceptions("deal_reopened", self.hubspot))
        skipped = self.env["integration.audit.log"].search(
            [("job_id", "=", older.id), ("outcome", "=", "skipped")]
        )
        self.assertEqual(len(skipped), 1)

    def test_bad_deals_fail_alone_in_one_batch(self):
        _company, good = self.won_deal("Goodbatch")
        _company, foreign = self.won_deal("Yenbatch", deal_currency_code="JPY")
        lonely = self.hs_store.add_deal("Lonely", stage="closedwon", amount="900")
        mystery = {
            "id": "990001",
            "properties": {
                "dealname": "Mystery",
                "pipeline": "default",
                "dealstage": "nosuchstage",
                "hs_lastmodifieddate": "2024-06-03T08:00:00.000Z",
            },
            "updatedAt": "2024-06-03T08:00:00.000Z",
        }
        jobs = self.hubspot_events(
            self.deal_event(94001, good),
            self.deal_event(94002, foreign),
            self.deal_event(94003, lonely),
            {"eventId": 94004, "subscriptionType": "deal.creation", "objectId": "x"},
        )
        (mystery_job,) = self.hubspot_records("deals", mystery)
        self.run_jobs()
        self.assertEqual(
            [job.state for job in jobs], ["done", "failed", "failed", "failed"]
        )
        self.assertEqual(mystery_job.state, "failed")
        self.assertTrue(self.order_of(self.hubspot, good.id))
        self.assertFalse(self.order_of(self.hubspot, foreign.id))
        currency = self.open_exceptions("invalid_currency", self.hubspot)
        self.assertEqual(len(currency), 1)
        self.assertIn("JPY", currency.description)
        self.assertIn("Activate", currency.description)
        self.assertEqual(len(self.open_exceptions("missing_customer", self.hubspot)), 1)
        self.assertEqual(len(self.open_exceptions("unknown_stage", self.hubspot)), 1)
        self.assertEqual(len(self.open_exceptions("invalid_payload", self.hubspot)), 1)

        self.env.ref("base.JPY").active = True
        currency.action_retry()
        self.run_jobs()
        order = self.order_of(self.hubspot, foreign.id)
        self.assertEqual(order.currency_id.name, "JPY")
        self.assertEqual(currency.state, "resolved")

    def test_unmapped_product_linked_then_ordered(self):
        _company, deal = self.won_deal("Mapless")
        self.hs_store.add_line_item(deal.id, "Training", 2, 800, hs_product_id="777001")
        (job,) = self.hubspot_events(self.deal_event(95001, deal))
        self.run_jobs()
        exception = self.open_exceptions("unknown_product", self.hubspot)
        self.assertEqual(job.state, "failed")
        self.assertEqual(exception.link_external_id, "777001")
        exception.link_record = f"product.product,{self.product_fixed.id}"
        exception.action_link_record()
        self.run_jobs()
        self.assertEqual(job.state, "done", job.last_error)
        order = self.order_of(self.hubspot, deal.id)
        self.assertIn(self.product_fixed, order.order_line.product_id)
        self.assertEqual(
            self.Mapping._resolve(self.hubspot, "product.product", "777001"),
            self.product_fixed,
        )

    def test_deal_without_line_items_orders_default_product(self):
        company = self.hs_store.add_company("Plain Co")
        deal = self.hs_store.add_deal(
            "Plain deal", stage="closedwon", company_id=company.id, amount="4800.00"
        )
        self.hubspot_events(self.deal_event(96001, deal))
        self.run_jobs()
        order = self.order_of(self.hubspot, deal.id)
        self.assertEqual(
            order.order_line.product_id, self.hubspot.crm_default_product_id
        )
        self.assertEqual(order.amount_untaxed, 4800.0)
        self.assertEqual(order.order_line.name, "Plain deal")
        self.assertEqual(len(order.project_ids), 1)

    def test_archived_customer_stops_the_order(self):
        company, deal = self.won_deal("Archived", company_name="Kestrel Sleeping")
        sleeping = self.Partner.create(
            {"name": "Kestrel Sleeping", "is_company": True, "active": False}
        )
        self.Mapping._bind(
            self.hubspot, sleeping, company.id, external_model="companies"
        )
        (job,) = self.hubspot_events(self.deal_event(97001, deal))
        self.run_jobs()
        self.assertEqual(job.state, "failed")
        self.assertFalse(self.order_of(self.hubspot, deal.id))
        exception = self.open_exceptions("archived_customer", self.hubspot)
        self.assertEqual(exception.res_id, sleeping.id)
        sleeping.active = True
        exception.action_retry()
        self.run_jobs()
        self.assertEqual(self.order_of(self.hubspot, deal.id).partner_id, sleeping)

    def test_deal_change_after_order_updates_or_reports(self):
        company, deal = self.won_deal("Changing")
        self.hubspot_events(self.deal_event(98001, deal))
        self.run_jobs()
        order = self.order_of(self.hubspot, deal.id)
        time_line = order.order_line.filtered(
            lambda line: line.product_id == self.product_time
        )
        items = self.hs_store.associated("deals", deal.id, "line_items")
        time_item = next(
            item
            for item in items
            if self.hs_store.get("line_items", item).properties["hs_sku"] == "SVC-TIME"
        )
        self.hs_store.update("line_items", time_item, {"quantity": "60"}, notify=False)
        other = self.hs_store.add_company("Someone Else")
        self.hs_store.dissociate(
            "deals", deal.id, "companies", company.id, notify=False
        )
        self.hs_store.associate("deals", deal.id, "companies", other.id, notify=False)
        self.hs_store.update(
            "deals", deal.id, {"closedate": "2024-06-10T10:00:00.000Z"}, notify=False
        )
        self.hubspot_events(self.deal_event(98002, deal, occurred_ms=now_ms(5)))
        self.run_jobs()
        self.assertEqual(time_line.product_uom_qty, 60)
        self.assertEqual(str(order.crm_close_date), "2024-06-10")
        self.assertEqual(order.partner_id, self.partner_of(self.hubspot, company.id))
        changed = self.open_exceptions("deal_changed", self.hubspot)
        self.assertEqual(len(changed), 1)
        self.assertIn("company", changed.description)

        self.hs_store.update(
            "deals", deal.id, {"dealstage": "closedlost"}, notify=False
        )
        self.hubspot_events(
            self.deal_event(98003, deal, occurred_ms=now_ms(9), stage="closedlost")
        )
        self.run_jobs()
        self.assertEqual(order.state, "sale")
        self.assertEqual(len(self.open_exceptions("deal_reopened", self.hubspot)), 1)

    def test_contact_merge_keeps_old_ids_resolving(self):
        avery_a = self.Partner.create(
            {"name": "Avery Quill", "email": "avery.a@example.com"}
        )
        avery_b = self.Partner.create(
            {"name": "Avery Q.", "email": "avery.b@example.com"}
        )
        order = self.env["sale.order"].create({"partner_id": avery_b.id})
        first = self.hs_store.add_contact(
            "avery.quill@example.com", firstname="Avery", lastname="Quill"
        )
        second = self.hs_store.add_contact(
            "avery.q@example.com", firstname="Avery", lastname="Q."
        )
        self.Mapping._bind(self.hubspot, avery_a, first.id, external_model="contacts")
        self.Mapping._bind(self.hubspot, avery_b, second.id, external_model="contacts")

        self.hs_store.take_events()
        merged = self.hs_store.merge("contacts", first.id, second.id)
        events = [
            event
            for event in self.hs_store.take_events()
            if event["subscriptionType"] == "contact.merge"
        ]
        self.assertEqual(len(events), 1)
        self.hubspot_events(*events)
        self.run_jobs()
        self.run_jobs()

        survivor = self.partner_of(self.hubspot, merged.id)
        self.assertEqual(survivor, avery_a)
        self.assertEqual(self.partner_of(self.hubspot, second.id), avery_a)
        self.assertEqual(self.partner_of(self.hubspot, first.id), avery_a)
        self.assertTrue(avery_b.exists())
        self.assertEqual(order.partner_id, avery_b)
        exception = self.open_exceptions("crm_merge", self.hubspot)
        self.assertEqual(len(exception), 1)
        self.assertEqual(
            set(exception.candidate_ids.mapped("res_id")), {avery_a.id, avery_b.id}
        )

        count = self.Partner.search_count([])
        self.hubspot_events(
            self.hubspot_event(
                99002,
                "contact.propertyChange",
                merged.id,
                now_ms(60),
                propertyName="email",
            )
        )
        self.run_jobs()
        self.assertEqual(self.Partner.search_count([]), count)

    def test_own_property_echo_ignored(self):
        _company, deal = self.won_deal("Echo")
        self.hubspot_events(self.deal_event(99101, deal))
        self.run_jobs()
        (echo,) = self.hubspot_events(
            self.hubspot_event(
                99102,
                "deal.propertyChange",
                deal.id,
                now_ms(1),
                propertyName="odoo_invoice_status",
                propertyValue="paid",
            )
        )
        calls = len(self.hs.requests)
        self.run_jobs()
        self.assertEqual(echo.state, "done")
        self.assertIn("own write", echo.result)
        self.assertEqual(len(self.hs.requests), calls)
