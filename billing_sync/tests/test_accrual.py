"""Month-end unbilled revenue accrual and its reversal."""

from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import BillingCase


@tagged("post_install", "-at_install")
class TestAccrual(BillingCase):
    def setUp(self):
        super().setUp()
        self.unbilled = self._order(self.customer, [(self.product_tm, 50, 100.0)])
        self._log(self.unbilled, 7, self._day(5))
        self._log(self.unbilled, 2, self.next_period_start)
        billed = self._order(self.customer_b, [(self.product_tm, 50, 80.0)])
        self._log(billed, 4, self._day(2))
        run = self._generated_run(partner_ids=[(6, 0, self.customer_b.ids)])
        run.action_approve()
        run.action_post()

    def test_accrual_is_delivered_not_invoiced(self):
        accrual = self.env["billing.accrual"].create({"date": self.period_end})

        accrual.action_compute()

        self.assertEqual(accrual.state, "to_review")
        details = [
            (line.order_id.name, line.quantity, line.amount)
            for line in accrual.line_ids
        ]
        self.assertEqual(accrual.line_ids.order_id, self.unbilled, details)
        self.assertAlmostEqual(accrual.line_ids.quantity, 7)
        self.assertAlmostEqual(accrual.amount, 700.0)
        move = accrual.move_id
        self.assertEqual(move.state, "draft")
        self.assertEqual(move.date, self.period_end)
        debit = move.line_ids.filtered(lambda line: line.debit)
        self.assertEqual(debit.account_id, self.company.billing_accrual_account_id)
        self.assertEqual(debit.account_id.account_type, "asset_current")
        self.assertAlmostEqual(debit.debit, 700.0)
        credit = move.line_ids.filtered(lambda line: line.credit)
        self.assertEqual(
            credit.account_id, self.company_data["default_account_revenue"]
        )
        self.assertAlmostEqual(credit.credit, 700.0)

    def test_accrual_reverses_on_first_day(self):
        accrual = self.env["billing.accrual"].create({"date": self.period_end})
        accrual.action_compute()

        accrual.action_post()

        self.assertEqual(accrual.state, "posted")
        self.assertEqual(accrual.move_id.state, "posted")
        reversal = accrual.reversal_move_id
        self.assertEqual(reversal.date, self.next_period_start)
        self.assertEqual(reversal.reversed_entry_id, accrual.move_id)
        self.assertEqual(reversal.state, "posted")
        debit = reversal.line_ids.filtered(lambda line: line.debit)
        self.assertEqual(debit.account_id, self.company_data["default_account_revenue"])
        self.assertAlmostEqual(debit.debit, 700.0)
        balance = sum(
            (accrual.move_id.line_ids | reversal.line_ids)
            .filtered(
                lambda line: line.account_id == self.company.billing_accrual_account_id
            )
            .mapped("balance")
        )
        self.assertAlmostEqual(balance, 0.0)

    def test_cron_prepares_one_accrual(self):
        self.env["billing.accrual"].sudo()._cron_prepare_accruals()
        self.env["billing.accrual"].sudo()._cron_prepare_accruals()

        accruals = self.env["billing.accrual"].search(
            [("company_id", "=", self.company.id)]
        )
        self.assertEqual(len(accruals), 1)
        self.assertEqual(accruals.date, self.period_end)
        self.assertAlmostEqual(accruals.amount, 700.0)
        self.assertEqual(accruals.move_id.state, "draft")

    def test_approver_posts_computed_accrual(self):
        accountant = self._user("accrual_accountant", "account.group_account_user")
        approver = self._user("accrual_approver", "billing_sync.group_billing_approver")
        accrual = self.env["billing.accrual"].create({"date": self.period_end})

        accrual.with_user(accountant).action_compute()
        # Time still coming in: computing again replaces the lines.
        accrual.with_user(accountant).action_compute()
        with self.assertRaises(AccessError):
            accrual.with_user(accountant).action_post()
        with self.assertRaises(AccessError):
            accrual.with_user(approver).action_compute()
        accrual.with_user(approver).action_post()

        self.assertEqual(accrual.state, "posted")
        self.assertAlmostEqual(accrual.amount, 700.0)
        self.assertEqual(accrual.reviewed_by_id, approver)
        self.assertEqual(accrual.move_id.state, "posted")

    def test_accrual_review_fields_reject_writes(self):
        accountant = self._user("accrual_accountant", "account.group_account_user")
        accrual = self.env["billing.accrual"].create({"date": self.period_end})
        accrual.action_compute()

        forged = accrual.with_user(accountant)
        with self.assertRaisesRegex(AccessError, "reviewed_by_id"):
            forged.write({"reviewed_by_id": self.env.user.id})
        with self.assertRaisesRegex(AccessError, "state"):
            forged.write({"state": "posted"})
        self.assertEqual(accrual.state, "to_review")
        self.assertFalse(accrual.reviewed_by_id)

    def _user(self, login, group):
        return new_test_user(
            self.env,
            login=login,
            groups=f"base.group_user,{group}",
            company_id=self.company.id,
            company_ids=[Command.set(self.company.ids)],
        )
