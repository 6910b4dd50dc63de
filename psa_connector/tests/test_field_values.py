"""Out-of-range field values in PSA records, through the real pulls and queue.

The Harvest and Productive emulators serve a record with one field
rewritten to a value the vendor's documentation does not allow (a date in
another format, NaN hours, a list where text belongs...). The pull, the
webhook job and the file import must either store the value as sent
(notes and names in any script) or reject the record cleanly. A rejected
record has a failed job, an audit entry and an exception that names the
record and the next step and shows no Python error. It has no timesheet,
expense or mapping. The other records of the same page are still
imported, and the pull ends with its watermark moved.
"""

import base64
import hashlib
import io
import re
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from odoo.addons.psa_connector.services import project_export
from odoo.addons.psa_connector.services.productive import ProductiveClient
from odoo.addons.psa_connector.services.records import TimeEntry, Unreadable
from odoo.tests import tagged

from .common import HarvestCase, ProductiveCase, PsaCase, emulators_module

REMOVED = emulators_module("faults").REMOVED
HUGE = "".join(hashlib.sha256(str(n).encode()).hexdigest() for n in range(3200))[
    :100_000
]
JSON_VALUES = st.recursive(
    st.sampled_from(["", "\u200b", "NaN", "-90", "1e400", "2026-02-30", "04/12/2026"])
    | st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)
NEXT_STEP = re.compile(r"\b(Correct|correct|Retry|Create|Link|raise the limit|Add)\b")
PYTHON_ERROR = re.compile(r"Traceback|\b\w+(Error|Exception)\b|File \"|object has no")
# Text that must reach Odoo exactly as the PSA sent it.
VERBATIM = {
    "emoji": "Réunion ☕ 🚀 sprint",
    "arabic": "مراجعة التصميم مع العميل",
    "hebrew": "סקירת עיצוב",
    "mixed bidi": "Review מסמך with فريق (v2)",
    "zero width": "Design\u200breview\u200d done",
}


class FieldValueChecks:
    """Assertions shared by the Harvest, Productive and file-import cases."""

    def assert_clean_message(self, message):
        self.assertRegex(message, NEXT_STEP)
        self.assertNotRegex(message, PYTHON_ERROR)
        self.assertLess(len(message), 2000, "the message quotes no huge value")

    def assert_rejected(self, external_id, flow, category="invalid_payload"):
        """Check the failed job, exception and audit entry of a rejected record."""
        key = f"{flow.replace('.', ':')}:{external_id}"
        job = self.env["integration.sync.job"].search(
            [("backend_id", "=", self.backend.id), ("idempotency_key", "=", key)]
        )
        self.assertEqual(job.state, "failed", f"{key}: {job.last_error}")
        exception = job.exception_ids.filtered(lambda e: e.state == "new")
        self.assertEqual(exception.category, category)
        self.assertIn(str(external_id), exception.description)
        self.assert_clean_message(exception.description)
        audit = self.env["integration.audit.log"].search(
            [("job_id", "=", job.id), ("outcome", "=", "failed")]
        )
        self.assertTrue(audit, f"{key} has no audit entry")
        mapped = self.env["integration.external.id"].search_count(
            [
                ("backend_id", "=", self.backend.id),
                ("external_id", "=", str(external_id)),
                ("res_model", "in", ("account.analytic.line", "hr.expense")),
            ]
        )
        self.assertFalse(mapped, f"{key} is mapped to a record")
        return job


@tagged("post_install", "-at_install")
class TestHarvestFieldValues(FieldValueChecks, HarvestCase):
    page_size = 5

    def rewrite(self, record, changes, path="/v2/time_entries"):
        self.harvest.faults.rewrite(record.id, changes, path=path)

    def pull(self):
        counts = self.backend._psa_import_time()
        self.env.invalidate_all()
        return counts

    def test_time_entry_values_in_one_pull(self):
        stored = {
            **{case: {"notes": text} for case, text in VERBATIM.items()},
            "huge notes": {"notes": HUGE},
            "notes as number": {"notes": 42},
            "hours as text": {"hours": "1.5"},
            "date with offset": {"spent_date": "2026-12-04T10:00:00+05:30"},
        }
        expected_notes = {case: text for case, text in VERBATIM.items()}
        expected_notes.update({"huge notes": HUGE, "notes as number": "42"})
        unreadable = {
            "date day first": {"spent_date": "04/12/2026"},
            "date word": {"spent_date": "yesterday"},
            "date february 30": {"spent_date": "2026-02-30"},
            "date epoch ms": {"spent_date": 1796342400000},
            "date null": {"spent_date": None},
            "date missing": {"spent_date": REMOVED},
            "hours NaN": {"hours": "NaN"},
            "hours infinite": {"hours": "Infinity"},
            "hours text": {"hours": "one and a half"},
            "hours list": {"hours": [1.5]},
            "user list": {"user": [{"id": self.psa_lena.id}]},
            "notes object": {"notes": {"text": "Design"}},
        }
        out_of_range = {
            "hours negative": {"hours": -1.5},
            "hours huge": {"hours": 1e9},
        }
        cases = {**stored, **unreadable, **out_of_range}
        entries = dict(zip(cases, self.add_entries(len(cases)), strict=True))
        for case, changes in cases.items():
            self.rewrite(entries[case], changes)

        counts = self.pull()

        self.assertTrue(counts["complete"])
        self.assertEqual(counts["created"], len(stored))
        self.assertEqual(counts["rejected"], len(unreadable) + len(out_of_range))
        self.assertNotIn('"run"', self.flow().watermark, "the watermark moved")
        for case in stored:
            with self.subTest(case):
                line = self.lines_of_store([entries[case]])
                self.assertEqual(len(line), 1)
                self.assertEqual(line.unit_amount, 1.5)
                if case in expected_notes:
                    self.assertEqual(line.name, expected_notes[case])
        day = self.lines_of_store([entries["date with offset"]]).date
        self.assertEqual(day, date(2026, 12, 4))
        for case in unreadable:
            with self.subTest(case):
                self.assert_rejected(entries[case].id, "psa.time_entry")
        for case in out_of_range:
            with self.subTest(case):
                self.assert_rejected(
                    entries[case].id, "psa.time_entry", "hours_over_limit"
                )

    def test_unreadable_webhook_entry_then_retry(self):
        (entry,) = self.add_entries(1)
        self.rewrite(entry, {"spent_date": "2026-02-30"})
        event = {"id": "fv-1", "type": "time_entry.updated", "object": {"id": entry.id}}
        webhook = self.env["integration.sync.job"]._enqueue(
            self.backend, "psa.webhook", "psa:event:fv-1", event
        )
        self.run_queue()

        self.assertEqual(webhook.state, "done", webhook.last_error)
        job = self.assert_rejected(entry.id, "psa.time_entry")
        self.assertFalse(self.lines_of_store([entry]))

        self.harvest.faults.clear()
        job.exception_ids.action_retry()
        self.run_queue()

        self.assertEqual(job.state, "done", job.last_error)
        self.assertEqual(self.lines_of_store([entry]).date, date(2024, 6, 3))
        self.assertEqual(job.exception_ids.state, "resolved")

    def test_people_names_and_e_mails(self):
        lena, omar = self.psa_lena, self.psa_omar
        nina = self.store.add_user("Nina", "Rook", "nina.rook@example.org")
        self.rewrite(lena, {"email": "lena.marsh\u200b@example.org "}, "/v2/users")
        self.rewrite(omar, {"first_name": "عمر 🙂", "email": 42}, "/v2/users")
        self.rewrite(nina, {"email": ["nina.rook@example.org"]}, "/v2/users")

        counts = self.backend._psa_sync_people()
        self.env.invalidate_all()

        Mapping = self.env["integration.external.id"]
        self.assertEqual(
            Mapping._resolve(self.backend, "hr.employee", str(lena.id)), self.lena
        )
        self.assertEqual(counts["unknown"], 1)
        self.assert_rejected(omar.id, "psa.person", "unknown_employee")
        self.assert_rejected(nina.id, "psa.person")

    def test_projects_with_unreadable_dates(self):
        broken = self.store.add_project(
            self.psa_project.client_id, "Бета 🚧", code="PRJ-BETA"
        )
        self.project.write({"date_start": date(2026, 1, 1), "date": date(2026, 12, 31)})
        self.rewrite(
            self.psa_project,
            {"starts_on": "2026-12-04T10:00:00+05:30"},
            "/v2/projects",
        )
        self.rewrite(broken, {"starts_on": "04/12/2026"}, "/v2/projects")

        counts = project_export.sync_projects(self.backend)
        self.env.invalidate_all()

        self.assertEqual(counts, {"read": 2, "mapped": 1})
        self.assertEqual(self.project.date_start, date(2026, 12, 4))
        exception = self.env["integration.exception"].search(
            [("backend_id", "=", self.backend.id), ("category", "=", "invalid_payload")]
        )
        self.assertIn(str(broken.id), exception.description)
        self.assert_clean_message(exception.description)


@tagged("post_install", "-at_install")
class TestHarvestExpenseFieldValues(FieldValueChecks, HarvestCase):
    page_size = 5

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.train = cls.env["product.product"].create(
            {
                "name": "Train travel",
                "can_be_expensed": True,
                "expense_policy": "cost",
                "type": "service",
            }
        )
        cls.category = cls.store.add_expense_category("Train travel")
        cls.seeded_ids["expense_categories"].add(cls.category.id)
        cls.currency = cls.company.currency_id.name

    def setUp(self):
        super().setUp()
        client = self.store.get("clients", self.psa_project.client_id)
        self.addCleanup(setattr, client, "currency", client.currency)
        client.currency = self.currency

    def test_expense_values_in_one_pull(self):
        stored = {
            **{case: {"notes": text} for case, text in VERBATIM.items()},
            "currency lower case": {"client": {"currency": self.currency.lower()}},
            "total as text": {"total_cost": "84.20"},
        }
        unreadable = {
            "total NaN": {"total_cost": "NaN"},
            "total text": {"total_cost": "84,20 €"},
            "date day first": {"spent_date": "04/12/2026"},
            "date february 30": {"spent_date": "2026-02-30"},
            "category list": {"expense_category": [self.category.id]},
        }
        wrong_currency = {
            "unknown currency": {"client": {"currency": "ZZZ"}},
            "inactive currency": {"client": {"currency": "XAF"}},
        }
        cases = {**stored, **unreadable, **wrong_currency}
        expenses = {}
        for case, changes in cases.items():
            expenses[case] = self.store.add_expense(
                self.psa_omar.id,
                self.psa_project.id,
                self.category.id,
                date(2024, 6, 3),
                "84.20",
                approval_status="approved",
            )
            self.harvest.faults.rewrite(expenses[case].id, changes, path="/v2/expenses")

        counts = self.backend._psa_import_expenses()
        self.env.invalidate_all()

        self.assertTrue(counts["complete"])
        self.assertEqual(counts["created"], len(stored))
        Mapping = self.env["integration.external.id"]
        for case in stored:
            with self.subTest(case):
                expense = Mapping._resolve(
                    self.backend, "hr.expense", str(expenses[case].id)
                )
                self.assertEqual(expense.total_amount_currency, 84.2)
                self.assertEqual(expense.currency_id.name, self.currency)
                if case in VERBATIM:
                    self.assertEqual(expense.name, VERBATIM[case])
        for case in unreadable:
            with self.subTest(case):
                self.assert_rejected(expenses[case].id, "psa.expense")
        for case in wrong_currency:
            with self.subTest(case):
                self.assert_rejected(expenses[case].id, "psa.expense", "fx_mismatch")


@tagged("post_install", "-at_install")
class TestProductiveFieldValues(FieldValueChecks, ProductiveCase):
    page_size = 5

    def test_time_entry_values_in_one_pull(self):
        stored = {
            **{case: {"attributes.note": text} for case, text in VERBATIM.items()},
            "time as text": {"attributes.time": "90"},
        }
        unreadable = {
            "time NaN": {"attributes.time": "NaN"},
            "time fraction": {"attributes.time": 90.5},
            "time text": {"attributes.time": "1h30"},
            "date day first": {"attributes.date": "04/12/2026"},
            "date february 30": {"attributes.date": "2026-02-30"},
            "attributes list": {"attributes": ["date", "2024-06-03"]},
        }
        out_of_range = {"time negative": {"attributes.time": -90}}
        cases = {**stored, **unreadable, **out_of_range}
        entries = dict(zip(cases, self.add_entries(len(cases)), strict=True))
        for case, changes in cases.items():
            self.productive.faults.rewrite(
                entries[case].id, changes, path="/api/v2/time_entries"
            )

        counts = self.backend._psa_import_time()
        self.env.invalidate_all()

        self.assertTrue(counts["complete"])
        self.assertEqual(counts["created"], len(stored))
        for case in stored:
            with self.subTest(case):
                line = self.lines_of_store([entries[case]])
                self.assertEqual(line.unit_amount, 1.5)
                if case in VERBATIM:
                    self.assertEqual(line.name, VERBATIM[case])
        for case in unreadable:
            with self.subTest(case):
                self.assert_rejected(entries[case].id, "psa.time_entry")
        self.assert_rejected(
            entries["time negative"].id, "psa.time_entry", "hours_over_limit"
        )


CSV_HEADER = "id,user_email,project_code,spent_date,hours,notes\n"


@tagged("post_install", "-at_install")
class TestFileImportFieldValues(FieldValueChecks, PsaCase):
    """The import wizard reads cells of any kind; its preview lines give the reason."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.mapping = cls.env["psa.import.mapping"].create(
            {
                "name": "Field values CSV",
                "column_id": "id",
                "column_email": "user_email",
                "column_project": "project_code",
                "column_date": "spent_date",
                "column_duration": "hours",
                "column_notes": "notes",
            }
        )
        cls.lena.tz = "Asia/Kolkata"
        # The file's own backend, whose rejected rows the checks look up.
        cls.backend = cls.mapping.backend_id

    def import_file(self, content, filename="export.csv"):
        data = content.encode() if isinstance(content, str) else content
        wizard = self.env["psa.file.import"].create(
            {
                "mapping_id": self.mapping.id,
                "file": base64.b64encode(data),
                "filename": filename,
            }
        )
        wizard.action_import()
        return {line.external_id or str(line.row): line for line in wizard.line_ids}

    def test_csv_cells_of_every_kind(self):
        lena = "lena.marsh@example.org"
        rows = {
            **{
                f"ok-{case}": (lena, "2024-06-03", "1.5", f'"{text}"')
                for case, text in VERBATIM.items()
            },
            "ok-huge": (lena, "2024-06-03", "1.5", HUGE),
            "ok-zero-width-email": (
                "lena.marsh\u200b@example.org",
                "2024-06-03",
                "1.5",
                "",
            ),
            "ok-utc-late": (lena, "2026-12-04T20:00:00Z", "1.5", ""),
            "ok-offset": (lena, "2026-12-04T10:00:00+05:30", "1.5", ""),
            "bad-day-first": (lena, "04/12/2026", "1.5", ""),
            "bad-word": (lena, "yesterday", "1.5", ""),
            "bad-february-30": (lena, "2026-02-30", "1.5", ""),
            "bad-epoch": (lena, "1796342400000", "1.5", ""),
            "bad-empty-date": (lena, "", "1.5", ""),
            "bad-nan": (lena, "2024-06-03", "NaN", ""),
            "bad-infinite": (lena, "2024-06-03", "Infinity", ""),
            "bad-text-hours": (lena, "2024-06-03", "one", ""),
            "bad-empty-email": ("", "2024-06-03", "1.5", ""),
            "limit-negative": (lena, "2024-06-03", "-2", ""),
            "limit-huge": (lena, "2024-06-03", "1e9", ""),
        }
        content = CSV_HEADER + "".join(
            f"{key},{email},PRJ-ALPHA,{day},{hours},{notes}\n"
            for key, (email, day, hours, notes) in rows.items()
        )
        lines = self.import_file(content)
        by_key = {}
        for number, key in enumerate(rows, start=2):
            by_key[key] = lines.get(key) or lines[str(number)]

        for key, line in by_key.items():
            with self.subTest(key):
                expected = {"ok": "create", "bad": "reject", "limit": "reject"}
                self.assertEqual(
                    line.action, expected[key.split("-")[0]], line.reason or ""
                )
                if line.action == "reject":
                    self.assertNotRegex(line.reason, PYTHON_ERROR)
        for case, text in VERBATIM.items():
            with self.subTest(case):
                self.assertEqual(self.file_line(f"ok-{case}").name, text)
        self.assertEqual(self.file_line("ok-huge").name, HUGE)
        self.assertEqual(self.file_line("ok-zero-width-email").employee_id, self.lena)
        self.assertEqual(self.file_line("ok-utc-late").date, date(2026, 12, 5))
        self.assertEqual(self.file_line("ok-offset").date, date(2026, 12, 4))
        for key in ("limit-negative", "limit-huge"):
            self.assert_rejected(key, "psa.time_entry", "hours_over_limit")
        for key in rows:
            if not key.startswith("ok"):
                self.assertFalse(self.lines_of(key))

    def test_xlsx_cells_of_the_wrong_type(self):
        import openpyxl  # noqa: PLC0415 - the test builds its own XLSX file

        book = openpyxl.Workbook()
        sheet = book.active
        sheet.append(
            ["id", "user_email", "project_code", "spent_date", "hours", "notes"]
        )
        sheet.append(
            ["x-1", "lena.marsh@example.org", "PRJ-ALPHA", date(2024, 6, 3), 1.5, 42]
        )
        sheet.append(["x-2", 12345, "PRJ-ALPHA", date(2024, 6, 3), 1.5, "n"])
        sheet.append(["x-3", "lena.marsh@example.org", 777, date(2024, 6, 3), 1.5, "n"])
        sheet.append(["x-4", "lena.marsh@example.org", "PRJ-ALPHA", 45000, 1.5, "n"])
        sheet.append(
            ["x-5", "lena.marsh@example.org", "PRJ-ALPHA", date(2024, 6, 3), True, "n"]
        )
        stream = io.BytesIO()
        book.save(stream)

        lines = self.import_file(stream.getvalue(), filename="export.xlsx")

        self.assertEqual(lines["x-1"].action, "create", lines["x-1"].reason)
        self.assertEqual(self.file_line("x-1").name, "42")
        for key in ("x-2", "x-3"):
            line = lines.get(key)
            self.assertEqual(line.action, "reject")
            self.assert_clean_message(line.reason)
        for row in ("5", "6"):
            self.assertEqual(lines[row].action, "reject")
            self.assertNotRegex(lines[row].reason, PYTHON_ERROR)

    def file_line(self, external_id):
        line = self.lines_of(external_id)
        self.assertEqual(len(line), 1, external_id)
        return line


@tagged("post_install", "-at_install")
class TestEntryReader(PsaCase):
    """Any attribute value gives a `TimeEntry` or an `Unreadable`, nothing else."""

    @settings(max_examples=150, deadline=None)
    @given(
        st.fixed_dictionaries(
            {},
            optional={
                key: JSON_VALUES
                for key in (
                    "date",
                    "time",
                    "billable_time",
                    "note",
                    "approved",
                    "updated_at",
                )
            },
        )
    )
    def test_productive_entry_read_or_unreadable(self, attributes):
        client = ProductiveClient(self.backend)
        resource = {"id": "77", "type": "time_entries", "attributes": attributes}
        entries, unreadable = client.read_all(
            "time entry", [resource], client.time_entry_from, {}
        )
        self.assertEqual(len(entries) + len(unreadable), 1)
        if unreadable:
            self.assertIsInstance(unreadable[0], Unreadable)
            self.assertEqual(unreadable[0].id, "77")
            self.assertNotRegex(unreadable[0].reason, PYTHON_ERROR)
            return
        entry = entries[0]
        self.assertIsInstance(entry, TimeEntry)
        self.assertTrue(entry.hours.is_finite())
        self.assertIsInstance(entry.notes, str)
        self.assertIsInstance(entry.date, date)
