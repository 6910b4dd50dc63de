"""Salesforce accounts, contacts and won opportunities, by message and by poll.

Outbound Messages enter as the intake stores them. Polls call the real
poller against the Salesforce emulator, which pages SOQL results with
`nextRecordsUrl` and reports deletions and merges through getDeleted.
"""

from datetime import date, timedelta

from odoo.tests import tagged

from ..services.salesforce_ids import to_18
from .common import CrmEmulatorCase


@tagged("post_install", "-at_install")
class TestSalesforceSync(CrmEmulatorCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        store = cls.sf_store
        cls.sf_time = store.add_product("Consulting time", ProductCode="SVC-TIME")
        cls.sf_fixed = store.add_product("Workshop", ProductCode="SVC-FIX")
        cls.sf_owner = store.add_user(
            "sasha@emulator.example",
            email="sasha.seller@example.com",
            last_name="Seller",
        )

    def won_opportunity(self, account_name, **values):
        account = self.sf_store.add_account(
            account_name, BillingCountry="GB", Phone="020 7946 0777"
        )
        opportunity = self.sf_store.add_opportunity(
            f"{account_name} rollout",
            stage_name="Closed Won",
            close_date=date(2024, 6, 3),
            account_id=account["Id"],
            Amount=8000,
            OwnerId=self.sf_owner["Id"],
            **values,
        )
        self.sf_store.add_line_item(
            opportunity["Id"], 40, 150, Product2Id=self.sf_time["Id"]
        )
        self.sf_store.add_line_item(
            opportunity["Id"], 1, 2000, Product2Id=self.sf_fixed["Id"]
        )
        return account, opportunity

    def opportunity_message(self, opportunity, **fields):
        values = {
            "Id": opportunity["Id"],
            "StageName": opportunity["StageName"],
            "IsWon": opportunity["IsWon"],
            "SystemModstamp": opportunity["SystemModstamp"].isoformat(),
        }
        return self.salesforce_message(("Opportunity", {**values, **fields}))

    def test_won_opportunity_by_message_gives_order_and_project(self):
        account, opportunity = self.won_opportunity("Heron Labs")
        (job,) = self.opportunity_message(opportunity)
        self.run_jobs()
        self.assertEqual(job.state, "done", job.last_error)
        order = self.order_of(self.salesforce, opportunity["Id"])
        self.assertEqual(
            order.partner_id, self.partner_of(self.salesforce, account["Id"])
        )
        self.assertEqual(order.partner_id.phone, "+442079460777")
        self.assertEqual(order.state, "sale")
        self.assertEqual(order.user_id, self.seller)
        self.assertEqual(str(order.crm_close_date), "2024-06-03")
        self.assertEqual(
            order.order_line.product_id, self.product_time | self.product_fixed
        )
        self.assertEqual(order.amount_untaxed, 8000.0)
        self.assertEqual(len(order.project_ids), 1)

        self.opportunity_message(opportunity)
        self.run_jobs()
        self.assertEqual(
            self.env["sale.order"].search_count(
                [("partner_id", "=", order.partner_id.id)]
            ),
            1,
        )

    def test_ids_in_15_chars_resolve_to_18(self):
        account = self.sf_store.add_account("Ibis Partners")
        short = account["Id"][:15]
        (_job,) = self.salesforce_message(
            ("Account", {"Id": short, "Name": "Ibis Partners"})
        )
        self.run_jobs()
        partner = self.partner_of(self.salesforce, account["Id"])
        self.assertTrue(partner)
        mapping = self.Mapping._find(self.salesforce, "res.partner", account["Id"])
        self.assertEqual(mapping.external_id, to_18(short))
        self.assertEqual(len(mapping.external_id), 18)
        damaged = account["Id"].upper()
        self.assertEqual(self.partner_of(self.salesforce, to_18(damaged)), partner)

    def test_poll_pages_soql_and_moves_watermark(self):
        self.sf_store.config.query_batch_size = 2
        self.addCleanup(setattr, self.sf_store.config, "query_batch_size", 2000)
        self.salesforce.crm_sync_deals = False
        accounts = [self.sf_store.add_account(f"Polled {n}") for n in range(5)]
        self.poll(self.salesforce)
        flow = self.salesforce._get_flow("salesforce.poll.Account")
        jobs = self.Job.search(
            [
                ("flow", "=", "salesforce.record"),
                ("backend_id", "=", self.salesforce.id),
            ]
        )
        polled = {job.external_id for job in jobs}
        self.assertTrue({account["Id"] for account in accounts} <= polled)
        self.assertTrue(flow.watermark)
        locators = self.sf.requests_to("/services/data", "GET")
        self.assertTrue(any("/query/" in request.path for request in locators))
        self.run_jobs()
        for account in accounts:
            self.assertTrue(self.partner_of(self.salesforce, account["Id"]))

        count = len(jobs)
        self.poll(self.salesforce)
        again = self.Job.search_count(
            [
                ("flow", "=", "salesforce.record"),
                ("backend_id", "=", self.salesforce.id),
            ]
        )
        self.assertEqual(again, count)

    def test_token_expiring_mid_poll_loses_nothing(self):
        self.sf_store.config.query_batch_size = 2
        self.addCleanup(setattr, self.sf_store.config, "query_batch_size", 2000)
        self.salesforce.crm_sync_deals = False
        accounts = [self.sf_store.add_account(f"Expiring {n}") for n in range(5)]
        self.sf.faults.between_pages(
            lambda _page: self.sf.faults.expire_tokens(), after_page=1
        )
        tokens_before = len(self.sf.requests_to("/services/oauth2/token", "POST"))
        self.poll(self.salesforce)
        polled = set(
            self.Job.search([("flow", "=", "salesforce.record")]).mapped("external_id")
        )
        self.assertTrue({account["Id"] for account in accounts} <= polled)
        tokens_after = len(self.sf.requests_to("/services/oauth2/token", "POST"))
        self.assertGreaterEqual(tokens_after - tokens_before, 1)

    def test_merge_by_get_deleted_keeps_old_id(self):
        keeper = self.sf_store.add_account("Osprey Group")
        loser = self.sf_store.add_account("Osprey Grp")
        self.salesforce_message(
            ("Account", {"Id": keeper["Id"], "Name": "Osprey Group"}),
            ("Account", {"Id": loser["Id"], "Name": "Osprey Holdings"}),
        )
        self.run_jobs()
        kept = self.partner_of(self.salesforce, keeper["Id"])
        lost = self.partner_of(self.salesforce, loser["Id"])
        self.assertNotEqual(kept, lost)
        start = self.sf_store.now() - timedelta(minutes=5)
        self.salesforce._get_flow(
            "salesforce.deleted.Account"
        ).watermark = start.replace(tzinfo=None).isoformat(timespec="milliseconds")
        self.sf_store.merge("Account", keeper["Id"], [loser["Id"]])
        # getDeleted reports whole minutes only: date the merge three minutes back.
        key = ("Account", loser["Id"])
        self.sf_store.deleted_log[key] -= timedelta(minutes=3)
        self.poll(self.salesforce)
        deleted = self.Job.search([("flow", "=", "salesforce.deleted")])
        self.assertIn(loser["Id"], deleted.mapped("external_id"))
        self.run_jobs()
        self.assertEqual(self.partner_of(self.salesforce, loser["Id"]), kept)
        self.assertTrue(lost.exists())
        exception = self.open_exceptions("crm_merge", self.salesforce)
        self.assertEqual(len(exception), 1)
        self.assertEqual(
            set(exception.candidate_ids.mapped("res_id")), {kept.id, lost.id}
        )
