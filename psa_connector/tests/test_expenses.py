"""Approved PSA expenses become Odoo expenses at the rate of their own date."""

from datetime import date, datetime
from decimal import Decimal

from odoo.addons.psa_connector.services.expense_import import ExpenseImporter
from odoo.addons.psa_connector.services.records import Expense
from odoo.tests import tagged

from .common import HarvestCase, emulators_module

RECEIPT = b"%PDF-1.4 train ticket"


@tagged("post_install", "-at_install")
class TestExpenses(HarvestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.gbp = cls.env.ref("base.GBP")
        cls.gbp.active = True
        cls.env["res.currency.rate"].create(
            [
                {
                    "currency_id": cls.gbp.id,
                    "name": "2024-05-06",
                    "inverse_company_rate": 1.17,
                },
                {
                    "currency_id": cls.gbp.id,
                    "name": "2024-06-03",
                    "inverse_company_rate": 1.15,
                },
            ]
        )
        cls.train = cls.env["product.product"].create(
            {
                "name": "Train travel",
                "can_be_expensed": True,
                "expense_policy": "cost",
                "standard_price": 0.0,
                "type": "service",
            }
        )
        cls.category = cls.store.add_expense_category("Train travel")
        cls.seeded_ids["expense_categories"].add(cls.category.id)

    def setUp(self):
        super().setUp()
        client = self.store.get("clients", self.psa_project.client_id)
        self.addCleanup(setattr, client, "currency", client.currency)
        client.currency = "GBP"

    def add_expense(self, total="84.20", spent=date(2024, 5, 6), **values):
        values.setdefault("approval_status", "approved")
        values.setdefault("billable", True)
        return self.store.add_expense(
            self.psa_omar.id,
            self.psa_project.id,
            self.category.id,
            spent,
            total,
            **values,
        )

    def expense_of(self, psa_expense):
        mapping = self.env["integration.external.id"].search(
            [
                ("backend_id", "=", self.backend.id),
                ("res_model", "=", "hr.expense"),
                ("external_id", "=", str(psa_expense.id)),
            ]
        )
        return self.env["hr.expense"].browse(mapping.res_id)

    def pull(self):
        counts = self.backend._psa_import_expenses()
        self.env.invalidate_all()
        return counts

    def test_expense_keeps_amount_currency_and_date_rate(self):
        psa_expense = self.add_expense(
            notes="London workshop",
            receipt=self.receipt(),
        )
        counts = self.pull()
        expense = self.expense_of(psa_expense)
        attachment = self.env["ir.attachment"].search(
            [("res_model", "=", "hr.expense"), ("res_id", "=", expense.id)]
        )

        self.assertEqual(counts["created"], 1)
        self.assertEqual(expense.employee_id, self.omar)
        self.assertEqual(expense.product_id, self.train)
        self.assertEqual(expense.currency_id, self.gbp)
        self.assertEqual(expense.total_amount_currency, 84.20)
        self.assertEqual(expense.date, date(2024, 5, 6))
        self.assertEqual(expense.total_amount, 98.51)
        self.assertEqual(expense.sale_order_id, self.order)
        self.assertEqual(expense.name, "London workshop")
        self.assertEqual(attachment.raw, RECEIPT)
        self.assertEqual(attachment.name, "ticket.pdf")

    def receipt(self):
        store_module = emulators_module("harvest_store")
        return store_module.HarvestReceipt("ticket.pdf", "application/pdf", RECEIPT)

    def test_posting_later_keeps_conversion_and_reinvoices(self):
        psa_expense = self.add_expense()
        self.pull()
        expense = self.expense_of(psa_expense)
        sheet = self.env["hr.expense.sheet"].create(
            {
                "name": "June",
                "employee_id": self.omar.id,
                "expense_line_ids": [(6, 0, expense.ids)],
                "accounting_date": date(2024, 6, 3),
            }
        )
        sheet.action_submit_sheet()
        sheet.action_approve_expense_sheets()
        sheet.action_sheet_move_post()
        reinvoiced = self.order.order_line.filtered(
            lambda line: line.product_id == self.train
        )

        self.assertEqual(expense.total_amount, 98.51)
        debit = sum(sheet.account_move_ids.line_ids.mapped("debit"))
        self.assertAlmostEqual(debit, 98.51, places=2)
        self.assertEqual(len(reinvoiced), 1)
        self.assertTrue(reinvoiced.is_expense)

    def test_unapproved_and_repeated_expenses_import_nothing(self):
        self.add_expense(approval_status="submitted")
        approved = self.add_expense(total="12.00")
        first = self.pull()
        second = self.backend._psa_import_expenses(full=True)

        self.assertEqual(first["created"], 1)
        self.assertEqual(first["unapproved"], 1)
        self.assertEqual(second["created"], 0)
        self.assertEqual(second["unchanged"], 1)
        self.assertTrue(self.expense_of(approved))

    def test_non_billable_expense_not_reinvoiced(self):
        psa_expense = self.add_expense(billable=False)
        self.pull()
        self.assertFalse(self.expense_of(psa_expense).sale_order_id)

    def test_unknown_category_linked_then_imported(self):
        taxi = self.store.add_expense_category("Taxi")
        psa_expense = self.store.add_expense(
            self.psa_omar.id,
            self.psa_project.id,
            taxi.id,
            date(2024, 5, 6),
            "20.00",
            approval_status="approved",
        )
        counts = self.pull()
        exception = self.open_exceptions("unknown_expense_category")

        self.assertEqual(counts["rejected"], 1)
        self.assertEqual(exception.candidate_model, "product.product")
        exception.link_record = self.train
        exception.action_link_record()
        self.run_queue()
        self.assertEqual(self.expense_of(psa_expense).product_id, self.train)
        self.assertEqual(exception.state, "resolved")

    def test_missing_rate_goes_to_exception(self):
        self.add_expense(spent=date(2024, 1, 2))
        counts = self.pull()
        exception = self.open_exceptions("fx_mismatch")

        self.assertEqual(counts["rejected"], 1)
        self.assertIn("more than 31 days earlier", exception.description)

    def psa_expense(self, **values):
        defaults = dict(
            id="ex-3301",
            person_id=str(self.psa_omar.id),
            person_email="omar.vale@example.org",
            project_id=str(self.psa_project.id),
            project_name="Alpha",
            category_id=str(self.category.id),
            category_name="Train travel",
            date=date(2024, 5, 6),
            total=Decimal("84.20"),
            currency="GBP",
            notes="Train",
            billable=True,
            approval_state="approved",
            locked=False,
            updated_at=datetime(2024, 5, 7),
        )
        defaults.update(values)
        return Expense(**defaults)

    def test_receipt_on_other_host_left_as_link(self):
        url = "https://files.example.invalid/receipts/r.pdf"
        expense = self.psa_expense(id="ex-3302", receipt_url=url, receipt_name="r.pdf")
        result = ExpenseImporter(self.backend).import_page([expense])
        record = self.expense_of(expense)
        attachments = self.env["ir.attachment"].search(
            [("res_model", "=", "hr.expense"), ("res_id", "=", record.id)]
        )

        self.assertEqual(result.created, 1)
        self.assertFalse(attachments)
        self.assertIn(url, record.message_ids[0].body)

    def test_psa_conversion_mismatch_reported(self):
        expense = self.psa_expense(converted_total=Decimal("97.00"))
        result = ExpenseImporter(self.backend).import_page([expense])
        exception = self.open_exceptions("fx_mismatch")

        self.assertEqual(result.created, 1)
        self.assertEqual(len(exception), 1)
        self.assertIn("98.51", exception.description)
        self.assertIn("97.00", exception.description)
