"""A finance user works the exception queue in the browser, on real data.

The exceptions come from the suite's own handlers. A HubSpot company that
matches no partner fails its job in crm_bridge. A Harvest time entry is
pulled from the Harvest emulator by psa_connector, invoiced by a billing
run of billing_sync, then edited in Harvest. The next pull leaves the
invoiced timesheet unchanged and opens a changed-after-invoicing
exception. A test flow adds one more failure, which the user ignores with
a reason.

The finance user has the Integration Manager group and invoicing rights
only: no timesheet, project or sales rights.
"""

from datetime import UTC, datetime
from decimal import Decimal

from dateutil.relativedelta import relativedelta

from odoo import fields
from odoo.addons.psa_connector.tests.common import PsaFixtures, emulators_module
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import date_utils

EXCEPTIONS_URL = "/odoo/action-integration_audit.action_integration_exception"
FINANCE_GROUPS = (
    "base.group_user,integration_audit.group_integration_manager,"
    "account.group_account_invoice"
)
HISTORY = datetime(2024, 6, 3, 8, 0, tzinfo=UTC)
INVOICED_MINUTES = 480
PSA_HOURS = Decimal("5.7")


@tagged("post_install", "-at_install")
class TestExceptionQueueTour(PsaFixtures, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.finance_user = new_test_user(
            cls.env, login="finance_user", groups=FINANCE_GROUPS
        )
        cls.setup_firm()
        cls._start_harvest()
        cls._invoice_then_change_in_harvest()
        cls._fail_unmatched_hubspot_company()
        cls.duplicate_job = cls.env["integration.sync.job"]._enqueue(
            cls.backend_crm,
            "test.business_error",
            "tour-duplicate",
            {"name": "Duplicate test event"},
        )

    @classmethod
    def _start_harvest(cls):
        """Point the firm's Harvest backend at an emulator holding its project."""
        emulators = emulators_module().start_emulators(size=None, systems=("harvest",))
        cls.addClassCleanup(emulators.stop)
        cls.store = emulators.harvest.store
        cls.store.add_user("Lena", "Marsh", "lena.marsh@example.org", at=HISTORY)
        client = cls.store.add_client("Kestrel Analytics", at=HISTORY)
        psa_project = cls.store.add_project(
            client.id, "Alpha", code="PRJ-ALPHA", at=HISTORY
        )
        task = cls.store.add_task("Design", at=HISTORY)
        cls.store.assign_task(psa_project.id, task.id, at=HISTORY)
        cls.psa_project, cls.psa_task = psa_project, task
        cls.backend.write(
            {
                "base_url": f"{emulators.harvest.url}/v2",
                "api_token": cls.store.config.personal_access_token,
                "account_ref": str(cls.store.config.account_id),
                "rate_limit_requests": 1000,
            }
        )
        Mapping = cls.env["integration.external.id"]
        Mapping.search(
            [("backend_id", "=", cls.backend.id), ("res_model", "=", "project.project")]
        ).unlink()
        Mapping._bind(cls.backend, cls.project, str(psa_project.id))

    @classmethod
    def _invoice_then_change_in_harvest(cls):
        """Pull an 8-hour entry, bill it in a posted run, then shorten it in Harvest."""
        today = fields.Date.context_today(cls.env.user)
        period_start = date_utils.start_of(today - relativedelta(months=1), "month")
        period_end = date_utils.end_of(period_start, "month")
        cls.company.billing_posting_window_days = (today - period_end).days + 5
        cls.customer.write(
            {
                "street": "12 Harbour Road",
                "city": "Leeds",
                "zip": "LS1 4AP",
                "country_id": cls.env.ref("base.uk").id,
            }
        )
        lena = next(iter(cls.store.tables["users"].values()))
        cls.psa_entry = cls.store.add_time_entry(
            lena.id,
            cls.psa_project.id,
            cls.psa_task.id,
            period_start + relativedelta(days=2),
            minutes=INVOICED_MINUTES,
            notes="Workshop with the client",
            approval_status="approved",
            at=HISTORY,
        )
        cls.backend._psa_import_time()
        cls.timesheet = cls.env["integration.external.id"]._resolve(
            cls.backend, "account.analytic.line", str(cls.psa_entry.id)
        )

        run = cls.env["billing.run"].create(
            {
                "date_from": period_start,
                "date_to": period_end,
                "partner_ids": [fields.Command.set(cls.customer.ids)],
            }
        )
        run.action_validate()
        run.action_preview()
        run.action_generate()
        run.action_approve()
        run.action_post()
        cls.invoice = run.invoice_ids

        cls.store.edit_entry(cls.psa_entry.id, hours=PSA_HOURS)
        cls.backend._psa_import_time()
        cls.changed_exception = cls.env["integration.exception"].search(
            [
                ("backend_id", "=", cls.backend.id),
                ("category", "=", "timesheet_changed_after_invoicing"),
            ]
        )

    @classmethod
    def _fail_unmatched_hubspot_company(cls):
        """Queue a HubSpot company as the poller does, with partner creation off."""
        cls.backend_crm = cls.env["integration.backend"].create(
            {
                "name": "HubSpot",
                "kind": "hubspot",
                "base_url": "http://127.0.0.1:9",
                "crm_auto_create_partners": False,
            }
        )
        cls.partner = cls.env["res.partner"].create(
            {"name": "Northwind Advisory Group", "is_company": True}
        )
        record = {
            "id": "9001",
            "properties": {
                "name": "NW Advisory",
                "hs_object_id": "9001",
                "hs_lastmodifieddate": "2024-06-03T08:00:00.000Z",
            },
            "createdAt": "2024-01-01T00:00:00.000Z",
            "updatedAt": "2024-06-03T08:00:00.000Z",
            "archived": False,
        }
        (cls.customer_job,) = cls.env["integration.sync.job"]._enqueue_many(
            cls.backend_crm, [cls.backend_crm._crm_hubspot_job("companies", record)]
        )

    def run_queue(self):
        """Run the sync queue now, as its cron would."""
        self.env["integration.sync.job"].search([("state", "=", "pending")]).write(
            {"next_attempt_at": datetime(2000, 1, 1)}
        )
        self.env.flush_all()
        self.env["integration.sync.job"]._cron_run_jobs(time_limit=30)
        self.env.invalidate_all()

    def test_finance_user_works_the_queue(self):
        self.run_queue()
        customer_exception = self.customer_job.exception_ids
        self.assertEqual(customer_exception.category, "unmatched_partner")
        self.assertEqual(self.customer_job.state, "failed")
        self.assertEqual(self.timesheet.timesheet_invoice_id, self.invoice)
        self.assertEqual(self.invoice.state, "posted")
        self.assertEqual(len(self.changed_exception), 1)
        self.assertEqual(self.changed_exception.record_ref, self.timesheet)

        self.start_tour(
            EXCEPTIONS_URL, "integration_exception_queue", login="finance_user"
        )

        self.env.invalidate_all()
        self.assertEqual(customer_exception.state, "in_progress")
        self.assertEqual(self.customer_job.state, "pending")
        correction = self.changed_exception.billing_correction_ids
        self.assertEqual(correction.state, "pending")
        self.assertAlmostEqual(correction.corrected_hours, 5.7)
        self.assertAlmostEqual(correction.invoiced_hours, 8.0)
        self.assertEqual(correction.invoice_id, self.invoice)
        self.assertEqual(correction.timesheet_id, self.timesheet)
        self.assertEqual(self.changed_exception.state, "resolved")
        self.assertEqual(self.changed_exception.resolved_by_id, self.finance_user)
        self.assertAlmostEqual(self.timesheet.unit_amount, 8.0)
        duplicate = self.duplicate_job.exception_ids
        self.assertEqual(duplicate.state, "ignored")
        self.assertIn("Sent twice", duplicate.resolution_note)
        self.assertEqual(duplicate.resolved_by_id, self.finance_user)

        self.run_queue()
        self.assertEqual(self.customer_job.state, "done")
        self.assertEqual(self.customer_job.res_id, self.partner.id)
        self.assertEqual(
            self.env["integration.external.id"]._resolve(
                self.backend_crm, "res.partner", "9001"
            ),
            self.partner,
        )
        self.assertEqual(customer_exception.state, "resolved")

        self.start_tour(
            EXCEPTIONS_URL, "integration_exception_resolved", login="finance_user"
        )
