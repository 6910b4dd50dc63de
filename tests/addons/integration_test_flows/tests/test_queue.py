"""The queue worker's outcomes, through the real worker on the test cursor."""

from datetime import timedelta

from odoo import fields
from odoo.tests import TransactionCase, tagged


@tagged("post_install", "-at_install")
class TestQueue(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # The worker opens its own cursors; test mode routes them through
        # this test's transaction.
        cls.registry.enter_test_mode(cls.cr)
        cls.addClassCleanup(cls.registry.leave_test_mode)
        cls.backend = cls.env["integration.backend"].create(
            {"name": "Queue test", "kind": "hubspot", "max_attempts": 3}
        )
        cls.Job = cls.env["integration.sync.job"]

    def enqueue(self, flow, key, payload=None, **values):
        return self.Job._enqueue(self.backend, flow, key, payload or {}, **values)

    def run_queue(self):
        # The worker reads the queue with SQL on its own cursor: write the
        # ORM's pending changes first, as a commit would.
        self.env.flush_all()
        ran = self.Job._cron_run_jobs(time_limit=30)
        self.env.invalidate_all()
        return ran

    def make_due(self, jobs):
        jobs.write({"next_attempt_at": fields.Datetime.now() - timedelta(seconds=1)})
        self.env.flush_all()

    def test_duplicate_key_stores_one_job(self):
        first = self.enqueue("test.noop", "evt-1", {"delivery": 1})
        second = self.enqueue("test.noop", "evt-1", {"delivery": 2})
        self.assertEqual(first, second)
        self.assertEqual(
            self.Job.search_count([("backend_id", "=", self.backend.id)]), 1
        )
        self.assertEqual(first.payload, {"delivery": 1})

    def test_noop_job_ends_done(self):
        job = self.enqueue("test.noop", "noop-1")
        self.assertEqual(self.run_queue(), 1)
        self.assertEqual(job.state, "done")
        self.assertEqual(job.attempts, 1)
        self.assertTrue(job.finished_at)

    def test_business_error_opens_exception(self):
        partner = self.env["res.partner"].create({"name": "Acme"})
        job = self.enqueue(
            "test.business_error", "biz-1", {"name": "Acme", "partner_id": partner.id}
        )
        self.run_queue()
        self.assertEqual(job.state, "failed")
        exception = job.exception_ids
        self.assertEqual(len(exception), 1)
        self.assertEqual(exception.state, "new")
        self.assertEqual(exception.res_model, "res.partner")
        self.assertEqual(exception.res_id, partner.id)
        self.assertIn("Acme", exception.name)

    def test_retry_after_is_a_floor(self):
        job = self.enqueue("test.retry", "retry-1", {"retry_after": 600})
        before = fields.Datetime.now()
        self.run_queue()
        self.assertEqual(job.state, "pending")
        self.assertGreaterEqual(job.next_attempt_at, before + timedelta(seconds=599))
        self.assertIn("429", job.last_error)

    def test_retry_not_run_before_due(self):
        job = self.enqueue("test.retry", "retry-2", {"retry_after": 600})
        self.run_queue()
        self.assertEqual(self.run_queue(), 0)
        self.assertEqual(job.attempts, 1)

    def test_retry_then_success(self):
        job = self.enqueue("test.retry", "retry-3", {"succeed_on_attempt": 2})
        self.run_queue()
        self.assertEqual(job.state, "pending")
        self.make_due(job)
        self.run_queue()
        self.assertEqual(job.state, "done")
        self.assertEqual(job.attempts, 2)
        self.assertEqual(job.result, "succeeded")

    def test_dead_after_max_attempts(self):
        job = self.enqueue("test.retry", "retry-4")
        for _attempt in range(3):
            self.run_queue()
            self.make_due(job)
        self.assertEqual(job.state, "dead")
        self.assertEqual(job.attempts, 3)
        dead = job.exception_ids.filtered(lambda e: e.category == "dead_job")
        self.assertEqual(len(dead), 1)
        self.assertEqual(dead.impact, "high")

    def test_unexpected_error_is_retried(self):
        job = self.enqueue("test.crash", "crash-1")
        with self.assertLogs(
            "odoo.addons.integration_audit.models.integration_sync_job", level="ERROR"
        ):
            self.run_queue()
        self.assertEqual(job.state, "pending")
        self.assertIn("ZeroDivisionError", job.last_error)

    def test_unknown_flow_fails_with_configuration_exception(self):
        job = self.enqueue("nobody.handles.this", "unknown-1")
        self.run_queue()
        self.assertEqual(job.state, "failed")
        self.assertEqual(job.exception_ids.category, "configuration")

    def test_replay_creates_no_second_record(self):
        job = self.enqueue("test.partner", "partner-1", {"id": "C-1", "name": "Globex"})
        self.run_queue()
        partner = self.env["res.partner"].browse(job.res_id)
        self.assertEqual(partner.name, "Globex")
        job.action_replay()
        self.run_queue()
        self.assertEqual(job.state, "done")
        self.assertEqual(
            self.env["res.partner"].search_count([("name", "=", "Globex")]), 1
        )
        again = self.enqueue(
            "test.partner", "partner-1b", {"id": "C-1", "name": "Globex"}
        )
        self.run_queue()
        self.assertEqual(again.res_id, partner.id)
        self.assertEqual(
            self.env["res.partner"].search_count([("name", "=", "Globex")]), 1
        )

    def test_stale_change_is_skipped(self):
        now = fields.Datetime.now()
        newer = self.enqueue(
            "test.partner",
            "p-new",
            {"id": "C-2", "name": "Initech v2"},
            external_id="C-2",
            res_model="res.partner",
            external_updated_at=now,
        )
        self.run_queue()
        older = self.enqueue(
            "test.partner",
            "p-old",
            {"id": "C-2", "name": "Initech v1"},
            external_id="C-2",
            res_model="res.partner",
            external_updated_at=now - timedelta(minutes=5),
        )
        self.run_queue()
        self.assertEqual(newer.state, "done")
        self.assertEqual(older.state, "done")
        self.assertIn("Skipped", older.result)
        partner = self.env["res.partner"].browse(newer.res_id)
        self.assertEqual(partner.name, "Initech v2")
        skipped = older.audit_log_ids.filtered(lambda log: log.outcome == "skipped")
        self.assertEqual(len(skipped), 1)

    def test_same_instant_change_is_skipped(self):
        now = fields.Datetime.now()
        first = self.enqueue(
            "test.partner",
            "same-1",
            {"id": "C-3", "name": "Hooli won"},
            external_id="C-3",
            res_model="res.partner",
            external_updated_at=now,
        )
        self.run_queue()
        second = self.enqueue(
            "test.partner",
            "same-2",
            {"id": "C-3", "name": "Hooli contract sent"},
            external_id="C-3",
            res_model="res.partner",
            external_updated_at=now,
        )
        self.run_queue()
        partner = self.env["res.partner"].browse(first.res_id)
        self.assertEqual(partner.name, "Hooli won")
        self.assertIn("Skipped", second.result)

        partner.name = "Edited in Odoo"
        first.action_replay()
        self.run_queue()
        self.assertEqual(first.state, "done")
        self.assertNotIn("Skipped", first.result or "")
        self.assertEqual(partner.name, "Hooli won")

    def test_exception_retry_resolves_it(self):
        job = self.enqueue("test.retry", "retry-5", {"succeed_on_attempt": 4})
        for _attempt in range(3):
            self.run_queue()
            self.make_due(job)
        self.assertEqual(job.state, "dead")
        exception = job.exception_ids
        exception.action_retry()
        self.assertEqual(job.state, "pending")
        self.assertEqual(job.attempts, 0)
        # The cause is fixed: the next attempt succeeds.
        job.payload = {"succeed_on_attempt": 1}
        self.run_queue()
        self.assertEqual(job.state, "done")
        self.assertEqual(exception.state, "resolved")

    def test_requeue_of_done_job_is_refused(self):
        job = self.enqueue("test.noop", "noop-2")
        self.run_queue()
        with self.assertRaisesRegex(Exception, "Replay"):
            job.action_requeue()

    def test_orphaned_running_job_is_recovered(self):
        job = self.enqueue("test.noop", "orphan-1")
        job.write(
            {
                "state": "running",
                "claim_token": "dead-worker",
                "claimed_at": fields.Datetime.now() - timedelta(hours=1),
            }
        )
        self.env.flush_all()
        recovered = self.Job._recover_stale_jobs(lease_seconds=600)
        self.env.invalidate_all()
        self.assertEqual(recovered, [job.id])
        self.assertEqual(job.state, "pending")
        self.run_queue()
        self.assertEqual(job.state, "done")

    def test_recent_running_job_is_left_alone(self):
        job = self.enqueue("test.noop", "orphan-2")
        job.write(
            {
                "state": "running",
                "claim_token": "live",
                "claimed_at": fields.Datetime.now(),
            }
        )
        self.env.flush_all()
        self.assertEqual(self.Job._recover_stale_jobs(lease_seconds=600), [])

    def test_archived_backend_jobs_wait(self):
        job = self.enqueue("test.noop", "archived-1")
        self.backend.active = False
        self.env.flush_all()
        self.assertEqual(self.run_queue(), 0)
        self.assertEqual(job.state, "pending")
