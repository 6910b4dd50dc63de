"""The reconciliation of PSA, imported and invoiced hours per project and month."""

from datetime import date, datetime

from odoo.addons.psa_connector.services.time_import import TimeImporter
from odoo.tests import tagged

from .common import PsaCase


@tagged("post_install", "-at_install")
class TestReconciliation(PsaCase):
    def row(self, month=date(2024, 6, 1)):
        self.env.flush_all()
        return self.env["psa.reconciliation"].search(
            [
                ("backend_id", "=", self.backend.id),
                ("project_id", "=", self.project.id),
                ("month", "=", month),
            ]
        )

    def test_difference_explained_by_reasons(self):
        importer = TimeImporter(self.backend)
        stranger = {"person_id": "1789990", "person_email": "nobody@example.org"}
        importer.import_page(
            [
                self.entry(1, minutes=90),
                self.entry(2, minutes=120, **stranger),
                self.entry(3, minutes=60),
                self.entry(4, minutes=30, approval_state="submitted"),
            ]
        )
        invoice = self.order._create_invoices()
        invoice.action_post()
        importer.import_page(
            [self.entry(3, minutes=150, updated_at=datetime(2024, 6, 9))]
        )
        row = self.row()

        self.assertAlmostEqual(row.psa_hours, 1.5 + 2 + 2.5)
        self.assertAlmostEqual(row.imported_hours, 1.5 + 1)
        self.assertAlmostEqual(row.invoiced_hours, 2.5)
        self.assertAlmostEqual(row.rejected_hours, 2)
        self.assertAlmostEqual(row.held_hours, 2.5)
        self.assertAlmostEqual(row.difference, 3.5)
        self.assertEqual(row.status, "difference")
        self.assertIn("Unknown employee", row.reason_text)
        self.assertIn("Timesheet changed after invoicing", row.reason_text)

    def test_matching_month(self):
        TimeImporter(self.backend).import_page(
            [
                self.entry(10, minutes=20),
                self.entry(11, minutes=20),
                self.entry(12, minutes=20),
            ]
        )
        row = self.row()
        self.assertAlmostEqual(row.psa_hours, 1.0)
        self.assertAlmostEqual(row.imported_hours, 1.0)
        self.assertEqual(row.status, "match")
        self.assertFalse(row.reason_text)

    def test_other_company_sees_no_rows(self):
        TimeImporter(self.backend).import_page([self.entry(20)])
        other = self.env["res.company"].create({"name": "B Studio Ltd"})
        user = self.env["res.users"].create(
            {
                "name": "Reader B",
                "login": "psa-reader-b",
                "company_id": other.id,
                "company_ids": [(6, 0, other.ids)],
                "groups_id": [
                    (6, 0, self.env.ref("integration_audit.group_integration_user").ids)
                ],
            }
        )
        self.env.flush_all()

        for model in ("psa.time.entry", "psa.reconciliation"):
            self.assertFalse(self.env[model].with_user(user).search([]), model)
        self.assertTrue(self.env["psa.time.entry"].search([("external_id", "=", "20")]))
