"""A finance user resolves exceptions in the browser, and the job then runs."""

from odoo.tests import HttpCase, new_test_user, tagged

EXCEPTIONS_URL = "/odoo/action-integration_audit.action_integration_exception"


@tagged("post_install", "-at_install")
class TestExceptionQueueTour(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.finance_user = new_test_user(
            cls.env,
            login="finance_user",
            groups="base.group_user,integration_audit.group_integration_manager",
        )
        cls.backend = cls.env["integration.backend"].create(
            {"name": "Tour CRM", "kind": "hubspot"}
        )
        cls.partner = cls.env["res.partner"].create(
            {"name": "Acme Consulting Ltd", "is_company": True}
        )
        Job = cls.env["integration.sync.job"]
        cls.customer_job = Job._enqueue(
            cls.backend,
            "test.customer",
            "tour-customer",
            {"id": "HS-100", "name": "Acme Consulting", "note": "from the CRM"},
        )
        cls.duplicate_job = Job._enqueue(
            cls.backend,
            "test.business_error",
            "tour-duplicate",
            {"name": "Duplicate test event"},
        )

    def run_queue(self):
        self.env.flush_all()
        self.env["integration.sync.job"]._cron_run_jobs(time_limit=30)
        self.env.invalidate_all()

    def test_finance_user_works_the_queue(self):
        self.run_queue()
        customer_exception = self.customer_job.exception_ids
        self.assertEqual(customer_exception.category, "test_unmatched")
        self.assertEqual(customer_exception.candidate_ids.res_id, self.partner.id)
        customer_exception.name = "Acme Consulting (HS-100) matches no partner"
        self.duplicate_job.exception_ids.name = "Duplicate test event"

        self.start_tour(
            EXCEPTIONS_URL, "integration_exception_queue", login="finance_user"
        )

        self.env.invalidate_all()
        self.assertEqual(customer_exception.state, "in_progress")
        self.assertEqual(self.customer_job.state, "pending")
        self.assertEqual(self.duplicate_job.exception_ids.state, "ignored")
        self.assertIn("Sent twice", self.duplicate_job.exception_ids.resolution_note)
        self.assertEqual(
            self.duplicate_job.exception_ids.resolved_by_id, self.finance_user
        )

        self.run_queue()
        self.assertEqual(self.customer_job.state, "done")
        self.assertEqual(self.customer_job.res_id, self.partner.id)
        self.assertEqual(self.partner.comment, "<p>from the CRM</p>")
        self.assertEqual(customer_exception.state, "resolved")

        self.start_tour(
            EXCEPTIONS_URL, "integration_exception_resolved", login="finance_user"
        )
