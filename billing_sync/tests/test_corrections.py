"""Corrections of invoiced time and write-offs of unbilled time."""

from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged

from .common import BillingCase

FINANCE_GROUPS = (
    "base.group_user,integration_audit.group_integration_manager,"
    "account.group_account_invoice"
)


@tagged("post_install", "-at_install")
class TestCorrections(BillingCase):
    def _posted_first_run(self, order, hours, other_hours=0):
        timesheet = self._log(order, hours, self._day(3))
        if other_hours:
            self._log(order, other_hours, self._day(4))
        run = self._generated_run(date_to=self._day(10))
        self.company.billing_posting_window_days = 400
        run.action_approve()
        run.action_post()
        return timesheet, run.invoice_ids

    def _changed_after_invoicing(self, timesheet, payload):
        backend = (
            self.env["integration.backend"]
            .sudo()
            .create(
                {"name": "Harvest", "kind": "harvest", "base_url": "http://127.0.0.1:9"}
            )
        )
        job = (
            self.env["integration.sync.job"]
            .sudo()
            ._enqueue(
                backend, "harvest.time_entry", f"harvest:time:{timesheet.id}", payload
            )
        )
        job.state = "failed"
        return (
            self.env["integration.exception"]
            .sudo()
            .create(
                {
                    "name": "Time entry changed after invoicing",
                    "description": "Consultant corrected the hours of 3rd of the month",
                    "category": "timesheet_changed_after_invoicing",
                    "backend_id": backend.id,
                    "job_id": job.id,
                    "res_model": "account.analytic.line",
                    "res_id": timesheet.id,
                }
            )
        )

    def test_correction_credits_and_rebills(self):
        order = self._order(self.customer, [(self.product_tm, 50, 100.0)])
        timesheet, invoice = self._posted_first_run(order, 8, other_hours=2)
        other = invoice.timesheet_ids - timesheet
        self.assertEqual(other.unit_amount, 2)
        exception = self._changed_after_invoicing(timesheet, {"id": 77, "hours": 6.0})
        new_time = self._log(order, 3, self._day(14))

        run = self._generated_run(date_from=self._day(11), include_earlier_time=False)

        correction = run.correction_ids
        self.assertEqual(correction.state, "done")
        credit_note = correction.credit_note_id
        self.assertEqual(credit_note.move_type, "out_refund")
        self.assertEqual(credit_note.state, "draft")
        self.assertEqual(credit_note.reversed_entry_id, invoice)
        self.assertEqual(credit_note.invoice_line_ids.quantity, 8)
        self.assertAlmostEqual(credit_note.amount_untaxed, 800.0)
        self.assertIn("corrected the hours", credit_note.ref)
        rebill = correction.rebill_invoice_id
        self.assertEqual(rebill.move_type, "out_invoice")
        self.assertEqual(rebill.invoice_line_ids.quantity, 9)
        self.assertAlmostEqual(rebill.amount_untaxed, 900.0)
        self.assertEqual(timesheet.unit_amount, 6)
        self.assertEqual(timesheet.timesheet_invoice_id, rebill)
        self.assertEqual(new_time.timesheet_invoice_id, rebill)
        self.assertEqual(other.timesheet_invoice_id, invoice)
        self.assertEqual(exception.state, "resolved")
        self.assertEqual(exception.job_id.state, "done")
        self.assertIn(correction.name, exception.job_id.result)
        self.assertAlmostEqual(run.amount_invoiced, 100.0)
        self.assertAlmostEqual(run.amount_preview, run.amount_invoiced)

        run.action_approve()
        run.action_post()
        self.assertEqual(credit_note.state, "posted")
        line = self._line(order, self.product_tm)
        self.assertAlmostEqual(line.qty_invoiced, 11)
        self.assertAlmostEqual(line.qty_delivered, 11)

        after = self._generated_run(date_from=self._day(20))
        self.assertFalse(after.invoice_ids)

    def test_correction_without_hours_blocks_order(self):
        order = self._order(self.customer, [(self.product_tm, 50, 100.0)])
        timesheet, _invoice = self._posted_first_run(order, 8)
        self._changed_after_invoicing(timesheet, {"id": 78})

        run = self._run(date_from=self._day(11))
        run.action_validate()

        correction = self.env["billing.correction"].search(
            [("timesheet_id", "=", timesheet.id)]
        )
        self.assertEqual(correction.state, "draft")
        issue = run.issue_ids.filtered(lambda i: i.code == "correction")
        self.assertEqual(issue.severity, "blocking")
        self.assertEqual(issue.order_id, order)

    def _user(self, login, groups):
        return new_test_user(
            self.env,
            login=login,
            groups=groups,
            company_id=self.company.id,
            company_ids=self.company.ids,
        )

    def test_finance_user_approves_correction(self):
        order = self._order(self.customer, [(self.product_tm, 50, 100.0)])
        timesheet, invoice = self._posted_first_run(order, 8)
        exception = self._changed_after_invoicing(timesheet, {"id": 79, "hours": 6.5})
        finance = self._user("billing_finance", FINANCE_GROUPS)
        manager = self._user(
            "integration_only",
            "base.group_user,integration_audit.group_integration_manager",
        )
        self.assertFalse(timesheet.with_user(finance).has_access("read"))

        with self.assertRaises(AccessError):
            exception.with_user(manager).action_open_billing_correction()
        action = exception.with_user(finance).action_open_billing_correction()
        correction = self.env["billing.correction"].browse(action["res_id"])
        self.assertEqual(correction.state, "draft")
        self.assertAlmostEqual(correction.corrected_hours, 6.5)
        self.assertAlmostEqual(correction.invoiced_hours, 8)
        self.assertAlmostEqual(correction.difference_hours, -1.5)
        self.assertEqual(correction.invoice_id, invoice)

        correction.with_user(finance).action_confirm()
        self.assertEqual(correction.state, "pending")
        self.assertEqual(exception.state, "resolved")
        self.assertEqual(exception.resolved_by_id, finance)
        self.assertEqual(exception.job_id.state, "done")
        self.assertIn(correction.name, exception.job_id.result)

        correction.with_user(finance).action_cancel()
        self.assertEqual(exception.state, "new")
        self.assertEqual(exception.job_id.state, "failed")
        again = exception.with_user(finance).action_open_billing_correction()
        self.assertNotEqual(again["res_id"], correction.id)

    def test_write_off_stays_out_of_runs(self):
        order = self._order(self.customer, [(self.product_tm, 50, 100.0)])
        kept = self._log(order, 3, self._day(2))
        lost = self._log(order, 2, self._day(3))
        wizard = (
            self.env["billing.write.off.wizard"]
            .with_context(active_ids=lost.ids)
            .create({"reason": "Onboarding time the client did not agree to pay"})
        )
        wizard.action_write_off()
        write_off = lost.billing_write_off_id
        self.assertAlmostEqual(write_off.hours, 2)
        self.assertAlmostEqual(write_off.amount, 200.0)
        self.assertAlmostEqual(self._line(order, self.product_tm).qty_delivered, 3)

        run = self._generated_run()

        self.assertEqual(run.invoice_ids.invoice_line_ids.quantity, 3)
        self.assertEqual(kept.timesheet_invoice_id, run.invoice_ids)
        self.assertFalse(lost.timesheet_invoice_id)
        reported = run.line_ids.filtered(
            lambda line: line.exclusion_reason == "written_off"
        )
        self.assertEqual(reported.quantity, 2)
        later = self._generated_run()
        self.assertFalse(later.invoice_ids)

    def test_write_off_rejects_invoiced_time(self):
        order = self._order(self.customer, [(self.product_tm, 50, 100.0)])
        timesheet = self._log(order, 3, self._day(2))
        self._generated_run()

        with self.assertRaises(UserError):
            self.env["billing.write.off"]._write_off(timesheet, "Too late")

    def test_cancelled_write_off_bills_again(self):
        order = self._order(self.customer, [(self.product_tm, 50, 100.0)])
        timesheet = self._log(order, 2, self._day(2))
        write_off = self.env["billing.write.off"]._write_off(timesheet, "Goodwill")
        write_off.action_cancel()

        run = self._generated_run()

        self.assertEqual(write_off.state, "cancelled")
        self.assertEqual(timesheet.timesheet_invoice_id, run.invoice_ids)
