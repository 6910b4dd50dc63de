"""The scheduled time pull against the Harvest emulator, over real HTTP.

Each test seeds the emulator, runs the pull the way the cron does and
checks Odoo's timesheets against the emulator's own records: paging,
resuming, edits during a run, throttling and token expiry.
"""

import json
import time
from datetime import date, timedelta
from decimal import Decimal

from odoo.addons.integration_audit.services.errors import BusinessError, RetryableError
from odoo.tests import tagged

from .common import HarvestCase


@tagged("post_install", "-at_install")
class TestTimeBatch(HarvestCase):
    def run_pull(self, **options):
        counts = self.backend._psa_import_time(**options)
        self.env.invalidate_all()
        return counts

    def run_pull_failing(self, error_class):
        """Run a pull that must raise `error_class`, keeping what it committed.

        Odoo's `assertRaises` rolls back to a savepoint, which would undo
        the pages the failed run stored; this keeps them.
        """
        try:
            self.run_pull()
        except error_class as error:
            self.env.invalidate_all()
            return error
        self.fail(f"The pull did not raise {error_class.__name__}")

    def test_pull_imports_approved_entries_only(self):
        approved = self.add_entries(6)
        submitted = self.add_entries(3, approval_status="submitted")
        counts = self.run_pull()

        self.assertEqual(counts["read"], 9)
        self.assertEqual(counts["created"], 6)
        self.assertEqual(counts["unapproved"], 3)
        self.assertEqual(counts["pages"], 3)
        self.assertTrue(counts["complete"])
        self.assertEqual(len(self.lines_of_store(approved)), 6)
        self.assertFalse(self.lines_of_store(submitted))

    def test_pull_sends_harvest_headers(self):
        self.add_entries(1)
        self.run_pull()
        request = next(r for r in self.new_requests() if r.path == "/v2/time_entries")

        self.assertEqual(
            request.headers["Authorization"],
            f"Bearer {self.store.config.personal_access_token}",
        )
        self.assertEqual(
            request.headers["Harvest-Account-Id"], str(self.store.config.account_id)
        )
        self.assertIn("Odoo Services Integration Suite", request.headers["User-Agent"])
        self.assertEqual(request.args["per_page"], ["4"])

    def test_connection_test_reads_current_user(self):
        body = self.backend._test_connection()
        self.assertEqual(body["email"], "lena.marsh@example.org")

    def test_hours_sum_matches_emulator(self):
        minutes = [20, 20, 20, 7, 13, 59, 61, 1, 44, 20, 20]
        entries = [self.add_entries(1, minutes=value)[0] for value in minutes]
        self.run_pull()
        lines = self.lines_of_store(entries)

        psa_hours = Decimal(sum(entry.minutes for entry in entries)) / 60
        self.assertEqual(len(lines), len(entries))
        self.assertEqual(
            round(Decimal(sum(lines.mapped("unit_amount"))), 2), round(psa_hours, 2)
        )
        self.assertAlmostEqual(self.lines_of_store(entries[:1]).unit_amount, 1 / 3, 9)

    def test_dates_unchanged_far_from_utc(self):
        self.env.user.tz = "Pacific/Kiritimati"
        late = self.add_entries(2, day=date(2024, 7, 14))
        self.backend.with_context(tz="Pacific/Pago_Pago")._psa_import_time()
        self.env.invalidate_all()
        self.assertEqual(
            set(self.lines_of_store(late).mapped("date")), {date(2024, 7, 14)}
        )

    def test_second_run_imports_nothing(self):
        entries = self.add_entries(10)
        self.run_pull()
        second = self.run_pull()

        self.assertEqual(second["created"], 0)
        self.assertEqual(second["updated"], 0)
        self.assertEqual(second["removed"], 0)
        self.assertEqual(len(self.lines_of_store(entries)), 10)

    def test_watermark_moves_after_last_page(self):
        self.add_entries(5)
        self.run_pull()
        mark = json.loads(self.flow().watermark)

        self.assertNotIn("run", mark)
        self.assertEqual(mark["since"], "2024-06-03T08:00:00Z")
        self.assertTrue(self.flow().last_run_at)

    def test_interrupted_run_resumes_without_doubles(self):
        entries = self.add_entries(10)
        faults = self.harvest.faults
        faults.between_pages(
            lambda _page: faults.status(503, times=10, path="/v2/time_entries")
        )
        self.run_pull_failing(RetryableError)
        mark = json.loads(self.flow().watermark)

        self.assertEqual(len(self.lines_of_store(entries)), 4)
        self.assertIn("cursor=", mark["run"]["next"])
        self.assertNotIn("since", mark)

        faults.clear()
        self.requests_seen = len(self.harvest.requests)
        counts = self.run_pull()
        first_request = [r for r in self.new_requests() if "cursor" in r.query]
        self.assertEqual(counts["created"], 6)
        self.assertEqual(counts["pages"], 2)
        self.assertEqual(len(self.lines_of_store(entries)), 10)
        self.assertTrue(first_request)
        self.assertNotIn("run", json.loads(self.flow().watermark))

    def test_edit_between_pages_read_once(self):
        entries = self.add_entries(8)
        read_first, read_later = entries[0], entries[-1]
        store = self.store

        def edit(_page):
            store.edit_entry(read_first.id, hours=Decimal("2.5"))
            store.edit_entry(read_later.id, hours=Decimal("3.25"))

        self.harvest.faults.between_pages(edit)
        self.run_pull()
        self.assertEqual(len(self.lines_of_store(entries)), 8)
        self.run_pull()

        self.assertEqual(len(self.lines_of_store(entries)), 8)
        self.assertEqual(self.lines_of_store([read_first]).unit_amount, 2.5)
        self.assertEqual(self.lines_of_store([read_later]).unit_amount, 3.25)

    def test_back_dated_entry_found_next_run(self):
        self.add_entries(3)
        self.run_pull()
        late = self.store.add_time_entry(
            self.psa_lena.id,
            self.psa_project.id,
            self.psa_task.id,
            date(2024, 1, 5),
            minutes=30,
            approval_status="approved",
        )
        counts = self.run_pull()

        self.assertEqual(counts["created"], 1)
        self.assertEqual(self.lines_of_store([late]).date, date(2024, 1, 5))

    def test_throttled_run_waits_and_loses_nothing(self):
        entries = self.add_entries(9)
        self.harvest.faults.status(429, times=2, retry_after=1, path="/v2/time_entries")
        started = time.monotonic()
        counts = self.run_pull()

        self.assertGreaterEqual(time.monotonic() - started, 2.0)
        self.assertGreaterEqual(counts["throttled_seconds"], 2.0)
        self.assertEqual(counts["created"], 9)
        self.assertEqual(len(self.lines_of_store(entries)), 9)

    def test_token_expiry_mid_run_refreshes_once(self):
        config = self.store.config
        self.backend.write(
            {
                "api_token": False,
                "token_url": f"{self.harvest.url}/api/v2/oauth2/token",
                "client_id": config.client_id,
                "client_secret": config.client_secret,
                "refresh_token": config.refresh_token,
            }
        )
        entries = self.add_entries(10)
        self.harvest.faults.between_pages(
            lambda _page: self.harvest.faults.expire_tokens()
        )
        counts = self.run_pull()
        refreshes = [r for r in self.new_requests() if r.path == "/api/v2/oauth2/token"]

        self.assertEqual(counts["created"], 10)
        self.assertEqual(len(self.lines_of_store(entries)), 10)
        self.assertEqual(len(refreshes), 2)

    def test_refused_refresh_stops_run_with_exception(self):
        self.backend.write(
            {
                "api_token": False,
                "token_url": f"{self.harvest.url}/api/v2/oauth2/token",
                "client_id": self.store.config.client_id,
                "client_secret": self.store.config.client_secret,
                "refresh_token": "revoked-refresh-token",
            }
        )
        self.add_entries(3)
        self.run_pull_failing(BusinessError)

        self.assertTrue(self.open_exceptions("configuration"))
        self.assertNotIn("since", json.loads(self.flow().watermark))

    def test_cron_reports_progress(self):
        self.add_entries(10)
        cron = self.env.ref("psa_connector.ir_cron_psa_import_time")
        cron, progress = cron._add_progress()
        self.env["integration.backend"].with_context(
            **cron.env.context
        )._cron_psa_import_time()

        self.assertEqual(progress.done, 10)
        self.assertEqual(progress.remaining, 0)

    def test_time_budget_hands_over_to_next_call(self):
        entries = self.add_entries(10)
        cron = self.env.ref("psa_connector.ir_cron_psa_import_time")
        cron, progress = cron._add_progress()
        backend = self.backend.with_context(**cron.env.context)
        counts = backend._psa_import_time(time_budget=0.000001)

        self.assertFalse(counts["complete"])
        self.assertEqual(progress.done, 4)
        self.assertGreater(progress.remaining, 0)
        backend._psa_import_time()
        self.env.invalidate_all()
        self.assertEqual(len(self.lines_of_store(entries)), 10)

    def test_flow_interval_decides_when_due(self):
        self.run_pull()
        Backend = self.env["integration.backend"]
        self.assertNotIn(self.backend, Backend._psa_due_backends("psa.time_entries"))
        self.flow().last_run_at -= timedelta(days=2)
        self.assertIn(self.backend, Backend._psa_due_backends("psa.time_entries"))

    def test_whole_pull_counts_every_entry(self):
        self.add_entries(7)
        self.add_entries(2, approval_status="unsubmitted")
        self.run_pull()
        counts = self.backend.psa_import_all_time_entries()

        self.assertEqual(counts["read"], 9)
        self.assertEqual(counts["created"], 0)
        self.assertEqual(counts["unchanged"], 9)

    def test_webhook_event_rereads_entry(self):
        entry = self.add_entries(1)[0]
        self.run_pull()
        self.store.edit_entry(entry.id, hours=Decimal("4"))
        self.store.take_events()
        self.store.delete_entry(self.add_entries(1)[0].id)
        edited = {"id": "e1", "type": "time_entry.updated", "object": {"id": entry.id}}
        job = self.env["integration.sync.job"]._enqueue(
            self.backend, "psa.webhook", "psa:event:e1", edited
        )
        self.run_queue()

        self.assertEqual(job.state, "done")
        self.assertEqual(self.lines_of_store([entry]).unit_amount, 4.0)

        deleted = {"id": "e2", "type": "time_entry.deleted", "object": {"id": entry.id}}
        self.env["integration.sync.job"]._enqueue(
            self.backend, "psa.webhook", "psa:event:e2", deleted
        )
        self.run_queue()
        self.assertFalse(self.lines_of_store([entry]))

    def test_people_sync_flags_unknown_user(self):
        nina = self.store.add_user("Nina", "Rook", "Nina.Rook@example.org")
        gone = self.store.add_user(
            "Old", "Hand", "old.hand@example.org", is_active=False
        )
        for user in (nina, gone):
            self.addCleanup(self.store.tables["users"].pop, user.id)
        counts = self.backend._psa_sync_people()
        self.env.invalidate_all()
        exception = self.open_exceptions("unknown_employee")

        self.assertEqual(counts, {"read": 3, "mapped": 2, "unknown": 1})
        self.assertEqual(len(exception), 1)
        self.assertIn("Nina.Rook@example.org", exception.description)

        exception.action_psa_create_employee()
        self.run_queue()
        employee = self.env["hr.employee"].search(
            [("work_email", "=", "Nina.Rook@example.org")]
        )
        self.assertEqual(employee.name, "Nina Rook")
        self.assertEqual(exception.state, "resolved")
        mapped = self.env["integration.external.id"]._external_id_of(
            self.backend, employee
        )
        self.assertEqual(mapped, str(nina.id))

    def test_sweep_removes_entries_deleted_in_psa(self):
        today = date(2024, 6, 20)
        kept, deleted, moved = self.add_entries(3, day=date(2024, 6, 10))
        self.run_pull()
        self.store.delete_entry(deleted.id)
        self.store.edit_entry(moved.id, spent_date=date(2024, 1, 8))
        counts = self.backend._psa_sweep_deleted_time(today=today)
        self.env.invalidate_all()

        self.assertEqual(counts["removed"], 1)
        self.assertEqual(counts["updated"], 1)
        self.assertTrue(self.lines_of_store([kept]))
        self.assertFalse(self.lines_of_store([deleted]))
        self.assertEqual(self.lines_of_store([moved]).date, date(2024, 1, 8))

    def test_failing_backend_does_not_stop_cron(self):
        broken = self.env["integration.backend"].create(
            {"name": "A broken Harvest", "kind": "harvest", "sequence": 1}
        )
        entries = self.add_entries(3)
        self.env["integration.backend"]._cron_psa_import_time()
        self.env.invalidate_all()

        self.assertEqual(len(self.lines_of_store(entries)), 3)
        self.assertFalse(broken.flow_ids.filtered("last_run_at"))
