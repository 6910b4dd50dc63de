"""Billing runs: scope, idempotence, resumption and the posting controls."""

from odoo import Command, fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged

from .common import BillingCase


@tagged("post_install", "-at_install")
class TestBillingRun(BillingCase):
    def test_run_bills_time_of_period(self):
        order = self._order(self.customer, [(self.product_tm, 20, 100.0)])
        in_period = self._log(order, 10, self._day(5))
        after_period = self._log(order, 3, self.next_period_start)

        run = self._generated_run(include_earlier_time=False)

        self.assertEqual(run.state, "generated")
        invoice = run.invoice_ids
        self.assertEqual(len(invoice), 1)
        self.assertEqual(invoice.state, "draft")
        self.assertEqual(invoice.invoice_line_ids.quantity, 10)
        self.assertAlmostEqual(invoice.amount_untaxed, 1000.0)
        self.assertEqual(invoice.invoice_date, self.period_end)
        self.assertEqual(in_period.timesheet_invoice_id, invoice)
        self.assertFalse(after_period.timesheet_invoice_id)
        left_out = run.line_ids.filtered(lambda line: not line.included)
        self.assertEqual(left_out.exclusion_reason, "outside_period")
        self.assertEqual(left_out.quantity, 3)

    def test_second_run_bills_nothing_new(self):
        order = self._order(self.customer, [(self.product_tm, 20, 100.0)])
        self._log(order, 10, self._day(3))
        first = self._generated_run()

        second = self._generated_run()

        self.assertEqual(len(first.invoice_ids), 1)
        self.assertFalse(second.invoice_ids)
        self.assertFalse(second.line_ids.filtered("included"))
        self.assertEqual(len(order.invoice_ids), 1)

    def test_retried_order_reuses_invoice(self):
        order = self._order(self.customer, [(self.product_tm, 20, 100.0)])
        self._log(order, 4, self._day(2))
        run = self._generated_run()
        invoice = run.invoice_ids
        run_order = run.order_ids
        run_order.state = "pending"

        run_order._generate_in_savepoint()

        self.assertEqual(run_order.state, "done")
        self.assertEqual(run_order.invoice_ids, invoice)
        self.assertEqual(order.invoice_ids, invoice)

    def test_interrupted_run_resumes(self):
        order_a = self._order(self.customer, [(self.product_tm, 20, 100.0)])
        order_b = self._order(self.customer_b, [(self.product_tm, 20, 150.0)])
        self._log(order_a, 5, self._day(4))
        self._log(order_b, 2, self._day(6))
        run = self._run()
        run.action_validate()
        run.action_preview()
        self.customer_b.country_id = False

        run.action_generate()

        self.assertEqual(run.state, "previewed")
        by_order = {row.order_id: row for row in run.order_ids}
        self.assertEqual(by_order[order_a].state, "done")
        self.assertEqual(by_order[order_b].state, "failed")
        self.assertIn("country", by_order[order_b].error)
        self.assertEqual(len(run.invoice_ids), 1)
        self.assertFalse(order_b.invoice_ids)

        self.customer_b.country_id = self.country
        run.action_generate()

        self.assertEqual(run.state, "generated")
        self.assertEqual(len(order_a.invoice_ids), 1)
        self.assertEqual(len(order_b.invoice_ids), 1)
        self.assertAlmostEqual(order_b.invoice_ids.amount_untaxed, 300.0)
        self.assertEqual(by_order[order_b].state, "done")

    def test_milestone_billed_once(self):
        order = self._order(self.customer, [(self.product_milestone, 1, 2000.0)])
        line = self._line(order, self.product_milestone)
        design = line.project_id.milestone_ids
        self.assertEqual(len(design), 1)
        design.write({"name": "Design signed off", "quantity_percentage": 0.5})
        delivery = self.env["project.milestone"].create(
            {
                "name": "Go-live",
                "project_id": line.project_id.id,
                "sale_line_id": line.id,
            }
        )
        delivery.quantity_percentage = 0.5
        design.is_reached = True

        first = self._generated_run()
        second = self._generated_run()
        delivery.is_reached = True
        third = self._generated_run()

        self.assertAlmostEqual(first.invoice_ids.amount_untaxed, 1000.0)
        self.assertFalse(second.invoice_ids)
        self.assertAlmostEqual(third.invoice_ids.amount_untaxed, 1000.0)
        self.assertAlmostEqual(line.qty_invoiced, 1.0)

    def test_scope_leaves_out_other_types(self):
        order = self._order(
            self.customer,
            [(self.product_tm, 10, 100.0), (self.product_fixed, 1, 500.0)],
        )
        self._log(order, 2, self._day(8))

        run = self._generated_run(include_fixed_price=False)

        self.assertEqual(run.invoice_ids.invoice_line_ids.product_id, self.product_tm)
        fixed = run.line_ids.filtered(
            lambda line: line.sale_line_id.product_id == self.product_fixed
        )
        self.assertFalse(fixed.included)
        self.assertEqual(fixed.exclusion_reason, "out_of_scope")
        self.assertEqual(self._line(order, self.product_fixed).qty_invoiced, 0)

        later = self._generated_run()
        self.assertEqual(
            later.invoice_ids.invoice_line_ids.product_id, self.product_fixed
        )

    def test_preview_matches_invoices(self):
        order = self._order(
            self.customer,
            [(self.product_tm, 10, 120.0), (self.product_fixed, 2, 500.0)],
        )
        self._log(order, 7.5, self._day(10))

        run = self._generated_run()

        self.assertAlmostEqual(run.amount_preview, 7.5 * 120 + 2 * 500)
        self.assertAlmostEqual(run.amount_invoiced, run.amount_preview)

    def test_preview_shows_difference_from_previous_run(self):
        order = self._order(self.customer, [(self.product_tm, 50, 100.0)])
        self._log(order, 4, self._day(2))
        previous = self._generated_run(date_to=self._day(10))
        self._log(order, 6, self._day(15))

        run = self._run(date_from=self._day(11))
        run.action_validate()
        run.action_preview()

        self.assertEqual(run.previous_run_id, previous)
        self.assertAlmostEqual(run.order_ids.amount_previous, 400.0)
        self.assertAlmostEqual(run.order_ids.amount_preview, 600.0)
        self.assertAlmostEqual(run.order_ids.amount_difference, 200.0)
        self.assertAlmostEqual(run.amount_difference, 200.0)

    def test_customer_without_vat_is_held(self):
        held_customer = self._customer("No VAT Ltd", vat=False)
        order = self._order(held_customer, [(self.product_tm, 10, 100.0)])
        good = self._order(self.customer, [(self.product_tm, 10, 100.0)])
        self._log(order, 1, self._day(2))
        self._log(good, 1, self._day(2))

        run = self._generated_run()

        issue = run.issue_ids.filtered(lambda i: i.code == "customer_data")
        self.assertEqual(issue.severity, "blocking")
        self.assertEqual(issue.order_id, order)
        self.assertIn("tax ID", issue.message)
        self.assertEqual(
            run.order_ids.filtered(lambda o: o.order_id == order).state, "held"
        )
        self.assertFalse(order.invoice_ids)
        self.assertEqual(len(good.invoice_ids), 1)

    def test_approver_release_bills_held_order(self):
        order = self._order(self.customer, [(self.product_tm, 10, 0.0)])
        self._log(order, 3, self._day(2))
        run = self._run()
        run.action_validate()
        run.action_preview()
        run_order = run.order_ids
        self.assertEqual(run_order.state, "held")
        self.assertFalse(run.line_ids.filtered("included"))

        run_order.action_release()
        run.action_generate()

        issue = run.issue_ids.filtered(lambda i: i.code == "missing_rate")
        self.assertEqual(issue.waived_by_id, self.env.user)
        self.assertEqual(run_order.state, "done")
        self.assertEqual(order.invoice_ids.invoice_line_ids.quantity, 3)
        self.assertEqual(run.line_ids.filtered("included").quantity, 3)

    def test_generation_keeps_unwaived_hold(self):
        order = self._order(self.customer, [(self.product_tm, 10, 0.0)])
        self._log(order, 3, self._day(2))
        run = self._run()
        run.action_validate()
        run.action_preview()
        # What a billing user could write over RPC instead of pressing Release.
        run.order_ids.write({"state": "pending", "hold_reason": False})

        run.action_generate()

        self.assertEqual(run.order_ids.state, "held")
        self.assertIn(order.name, run.order_ids.hold_reason)
        self.assertFalse(order.invoice_ids)

    def test_validation_warnings(self):
        order = self._order(self.customer, [(self.product_tm, 1, 100.0)])
        self._log(order, 3, self._day(2))
        project = self._line(order, self.product_tm).project_id
        project.allocated_hours = 2
        self.env["account.analytic.line"].create(
            {
                "name": "Unbilled",
                "project_id": project.id,
                "employee_id": self.employee.id,
                "unit_amount": 1,
                "date": self._day(3),
                "so_line": False,
            }
        )

        run = self._run()
        run.action_validate()

        codes = set(run.issue_ids.mapped("code"))
        self.assertIn("no_sale_line", codes)
        self.assertIn("budget_overrun", codes)
        self.assertEqual(run.state, "validated")
        self.assertEqual(run.blocking_issue_count, 0)

    def test_waiver_survives_validation(self):
        backend = (
            self.env["integration.backend"]
            .sudo()
            .create(
                {"name": "Harvest", "kind": "harvest", "base_url": "http://127.0.0.1:9"}
            )
        )
        self.env["integration.exception"].sudo().create(
            {
                "name": "Unknown employee 43",
                "category": "other",
                "backend_id": backend.id,
            }
        )
        run = self._run()
        run.action_validate()
        self.assertEqual(run.state, "draft")
        issue = run.issue_ids.filtered(lambda i: i.code == "psa_exception")
        self.assertEqual(issue.severity, "blocking")

        issue.action_waive()
        run.action_validate()

        kept = run.issue_ids.filtered(lambda i: i.code == "psa_exception")
        self.assertTrue(kept.waived)
        self.assertEqual(kept.waived_by_id, self.env.user)
        self.assertEqual(run.state, "validated")

    def test_open_psa_exception_blocks_run(self):
        backend = (
            self.env["integration.backend"]
            .sudo()
            .create(
                {"name": "Harvest", "kind": "harvest", "base_url": "http://127.0.0.1:9"}
            )
        )
        self.env["integration.exception"].sudo().create(
            {
                "name": "Unknown employee 42",
                "category": "other",
                "backend_id": backend.id,
            }
        )

        run = self._run()
        run.action_validate()

        self.assertEqual(run.state, "draft")
        blocking = run.issue_ids.filtered(lambda issue: issue.severity == "blocking")
        self.assertEqual(
            blocking.code, "psa_exception", run.issue_ids.mapped("message")
        )
        self.assertIn("Unknown employee 42", blocking.message)

    def test_posting_needs_approval_and_window(self):
        order = self._order(self.customer, [(self.product_tm, 10, 100.0)])
        self._log(order, 2, self._day(2))
        run = self._generated_run()

        with self.assertRaises(UserError):
            run.action_post()
        run.action_approve()
        self.company.billing_posting_window_days = 0
        with self.assertRaisesRegex(UserError, "can be posted from"):
            run.action_post()
        self.assertEqual(run.invoice_ids.state, "draft")

        self.company.billing_posting_window_days = 400
        run.action_post()
        self.assertEqual(run.state, "posted")
        self.assertEqual(run.invoice_ids.state, "posted")

    def test_posting_restricted_to_approvers(self):
        order = self._order(self.customer, [(self.product_tm, 10, 100.0)])
        self._log(order, 2, self._day(2))
        run = self._generated_run()
        clerk = new_test_user(
            self.env,
            login="billing_clerk",
            groups="account.group_account_invoice",
            company_id=self.company.id,
            company_ids=[Command.set(self.company.ids)],
        )

        with self.assertRaises(AccessError):
            run.with_user(clerk).action_approve()
        with self.assertRaises(AccessError):
            run.with_user(clerk).action_post()
        self.assertFalse(run.approved_by_id)
        self.assertTrue(self.env.user.has_group("billing_sync.group_billing_approver"))

    def test_zero_decimal_currency_totals_exactly(self):
        yen = self.setup_other_currency("JPY", rates=[("2000-01-01", 150.0)])
        self.assertEqual(yen.decimal_places, 0)
        pricelist = self.env["product.pricelist"].create(
            {"name": "Yen", "currency_id": yen.id}
        )
        tax = self.env["account.tax"].create(
            {"name": "Sales 10%", "amount": 10.0, "type_tax_use": "sale"}
        )
        order = self._order(self.customer, [(self.product_tm, 10, 12345.0)], pricelist)
        self._line(order, self.product_tm).tax_id = [Command.set(tax.ids)]
        self._log(order, 1.5, self._day(9))

        run = self._generated_run()
        invoice = run.invoice_ids
        invoice.action_post()

        self.assertEqual(invoice.currency_id, yen)
        self.assertEqual(invoice.amount_untaxed, 18518.0)
        self.assertEqual(invoice.amount_tax, 1852.0)
        self.assertEqual(invoice.amount_total, 20370.0)
        for line in invoice.line_ids:
            self.assertEqual(line.amount_currency, round(line.amount_currency))
        self.assertAlmostEqual(sum(invoice.line_ids.mapped("balance")), 0.0)
        receivable = invoice.line_ids.filtered(
            lambda line: line.account_id.account_type == "asset_receivable"
        )
        self.assertEqual(receivable.amount_currency, 20370.0)
        self.assertEqual(fields.Date.to_date(invoice.invoice_date), self.period_end)
