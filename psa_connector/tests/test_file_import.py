"""The file import wizard: any PSA's CSV or XLSX export, previewed first."""

import base64
import io
from datetime import date

from odoo.tests import tagged

from .common import PsaCase

B07_CSV = """harvest_entry_id,user_email,project_code,spent_date,hours,notes,is_approved
700301,lena.marsh@example.org,PRJ-ALPHA,2024-06-03,1.50,Design review,true
700302,lena.marsh@example.org,PRJ-ALPHA,2024-06-03,2.25,Backlog grooming,true
700303,omar.vale@example.org,PRJ-INT,2024-06-04,7.00,Implementation,true
"""


@tagged("post_install", "-at_install")
class TestFileImport(PsaCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.mapping = cls.env["psa.import.mapping"].create(
            {
                "name": "Harvest CSV",
                "column_id": "harvest_entry_id",
                "column_email": "user_email",
                "column_project": "project_code",
                "column_date": "spent_date",
                "column_duration": "hours",
                "column_notes": "notes",
                "column_approval": "is_approved",
            }
        )

    def wizard(self, content, filename="export.csv", mapping=None):
        data = content.encode() if isinstance(content, str) else content
        return self.env["psa.file.import"].create(
            {
                "mapping_id": (mapping or self.mapping).id,
                "file": base64.b64encode(data),
                "filename": filename,
            }
        )

    def file_lines(self, *entry_ids):
        backend = self.mapping.backend_id
        mappings = self.env["integration.external.id"].search(
            [
                ("backend_id", "=", backend.id),
                ("res_model", "=", "account.analytic.line"),
                ("external_id", "in", [str(i) for i in entry_ids]),
            ]
        )
        return self.env["account.analytic.line"].browse(mappings.mapped("res_id"))

    def test_preview_writes_nothing(self):
        wizard = self.wizard(B07_CSV)
        wizard.action_preview()

        self.assertEqual(wizard.state, "preview")
        self.assertEqual(wizard.create_count, 3)
        self.assertEqual(wizard.reject_count, 0)
        self.assertFalse(self.file_lines(700301, 700302, 700303))
        self.assertFalse(
            self.env["integration.exception"].search(
                [("backend_id", "=", self.mapping.backend_id.id)]
            )
        )

    def test_import_then_reimport_changes_nothing(self):
        wizard = self.wizard(B07_CSV)
        wizard.action_preview()
        wizard.action_import()
        lines = self.file_lines(700301, 700302, 700303)
        again = self.wizard(B07_CSV)
        again.action_preview()

        self.assertEqual(wizard.state, "done")
        self.assertEqual(len(lines), 3)
        self.assertAlmostEqual(sum(lines.mapped("unit_amount")), 10.75)
        self.assertEqual(lines.employee_id, self.lena | self.omar)
        self.assertEqual(self.file_lines(700303).project_id, self.internal)
        self.assertEqual(again.unchanged_count, 3)
        self.assertEqual(again.create_count, 0)

    def test_preview_lists_rejects_and_skips(self):
        content = B07_CSV + (
            "700304,nina.rook@example.org,PRJ-ALPHA,2024-06-04,1.00,Unknown,true\n"
            "700305,lena.marsh@example.org,PRJ-ALPHA,04/06/2024,1.00,Bad date,true\n"
            "700306,lena.marsh@example.org,PRJ-ALPHA,2024-06-04,1.00,Draft,false\n"
            "700307,lena.marsh@example.org,PRJ-NONE,2024-06-04,1.00,No project,true\n"
        )
        wizard = self.wizard(content)
        wizard.action_preview()
        by_row = {line.external_id or line.row: line for line in wizard.line_ids}

        self.assertEqual(wizard.create_count, 3)
        self.assertEqual(wizard.reject_count, 3)
        self.assertEqual(wizard.skip_count, 1)
        self.assertIn("matches no employee", by_row["700304"].reason)
        self.assertIn("not a date", by_row[6].reason)
        self.assertEqual(by_row["700306"].action, "skip")
        self.assertIn("not mapped", by_row["700307"].reason)

    def test_utc_timestamps_dated_in_person_time_zone(self):
        self.lena.tz = "Australia/Brisbane"
        self.omar.tz = "America/Denver"
        mapping = self.env["psa.import.mapping"].create(
            {
                "name": "Clockify",
                "column_id": "id",
                "column_email": "user_email",
                "column_project": "project",
                "column_date": "start",
                "column_duration": "duration",
            }
        )
        content = (
            "id,user_email,project,start,end,duration\n"
            "ck-1,lena.marsh@example.org,PRJ-ALPHA,2024-07-13T21:00:00Z,"
            "2024-07-14T05:00:00Z,PT8H\n"
            "ck-2,omar.vale@example.org,PRJ-ALPHA,2024-03-15T23:30:00Z,"
            "2024-03-16T01:00:00Z,PT1H30M\n"
        )
        self.wizard(content, mapping=mapping).action_import()
        lines = {
            line.employee_id: line
            for line in self.env["account.analytic.line"].search(
                [("name", "=", "/"), ("project_id", "=", self.project.id)]
            )
        }

        self.assertEqual(lines[self.lena].date, date(2024, 7, 14))
        self.assertEqual(lines[self.lena].unit_amount, 8.0)
        self.assertEqual(lines[self.omar].date, date(2024, 3, 15))
        self.assertEqual(lines[self.omar].unit_amount, 1.5)

    def test_xlsx_export_imported(self):
        import openpyxl  # noqa: PLC0415 - the tests build their own XLSX file

        book = openpyxl.Workbook()
        sheet = book.active
        sheet.append(
            [
                "harvest_entry_id",
                "user_email",
                "project_code",
                "spent_date",
                "hours",
                "notes",
                "is_approved",
            ]
        )
        sheet.append(
            [
                800001,
                "lena.marsh@example.org",
                "PRJ-ALPHA",
                date(2024, 6, 5),
                0.75,
                "Standup",
                "true",
            ]
        )
        sheet.append(
            [
                800002,
                "omar.vale@example.org",
                "PRJ-ALPHA",
                date(2024, 6, 6),
                "1:20",
                "Pairing",
                "yes",
            ]
        )
        stream = io.BytesIO()
        book.save(stream)
        wizard = self.wizard(stream.getvalue(), filename="export.xlsx")
        wizard.action_import()

        self.assertEqual(wizard.create_count, 2)
        self.assertEqual(self.file_lines(800001).date, date(2024, 6, 5))
        self.assertEqual(self.file_lines(800001).unit_amount, 0.75)
        self.assertAlmostEqual(self.file_lines(800002).unit_amount, 80 / 60)

    def test_allocations_imported_once(self):
        mapping = self.env["psa.import.mapping"].create(
            {
                "name": "Staffing sheet",
                "kind": "allocation",
                "column_id": "id",
                "column_email": "email",
                "column_project": "project",
                "column_date": "from",
                "column_date_to": "to",
                "column_duration": "hours",
            }
        )
        content = (
            "id,email,project,from,to,hours\n"
            "a1,lena.marsh@example.org,PRJ-ALPHA,2024-06-03,2024-06-14,60\n"
            "a2,omar.vale@example.org,PRJ-NONE,2024-06-03,2024-06-14,20\n"
        )
        first = self.wizard(content, mapping=mapping)
        first.action_import()
        second = self.wizard(content, mapping=mapping)
        second.action_preview()
        allocation = self.env["psa.allocation"].search(
            [("backend_id", "=", mapping.backend_id.id)]
        )

        self.assertEqual(first.create_count, 1)
        self.assertEqual(first.reject_count, 1)
        self.assertEqual(second.unchanged_count, 1)
        self.assertEqual(allocation.employee_id, self.lena)
        self.assertEqual(allocation.hours, 60)
        self.assertEqual(allocation.source, "file")
