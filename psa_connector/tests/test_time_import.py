"""The import of one page of PSA time entries, rule by rule.

These tests feed normalized entries straight to `TimeImporter`, the code
every PSA client and the file import share; the tests of the batch run
cover the wire formats and the paging.
"""

from datetime import date, datetime
from decimal import Decimal

from odoo.addons.psa_connector.services.time_import import TimeImporter
from odoo.tests import new_test_user, tagged

from .common import LENA, OMAR, PSA_INTERNAL_PROJECT, PsaCase


@tagged("post_install", "-at_install")
class TestTimeImport(PsaCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.registry.enter_test_mode(cls.cr)
        cls.addClassCleanup(cls.registry.leave_test_mode)

    def import_page(self, *entries):
        return TimeImporter(self.backend).import_page(list(entries))

    def test_entry_becomes_timesheet_on_mapped_records(self):
        result = self.import_page(self.entry(1), self.entry(2, minutes=45))
        line = self.lines_of(1)

        self.assertEqual(result.created, 2)
        self.assertEqual(line.employee_id, self.lena)
        self.assertEqual(line.project_id, self.project)
        self.assertEqual(line.task_id.name, "Design")
        self.assertEqual(line.task_id.project_id, self.project)
        self.assertEqual(line.date, date(2024, 6, 3))
        self.assertEqual(line.unit_amount, 1.5)
        self.assertEqual(line.name, "Work item 1")
        self.assertEqual(line.so_line, self.order.order_line)
        self.assertEqual(self.lines_of(2).unit_amount, 0.75)
        self.assertEqual(self.lines_of(1, 2).task_id, line.task_id)

    def test_hours_sum_matches_psa_to_hundredth(self):
        minutes = [20] * 30 + [7, 13, 1, 59, 61, 200] * 5
        entries = [self.entry(100 + n, minutes=m) for n, m in enumerate(minutes)]
        self.import_page(*entries)
        lines = self.lines_of(*range(100, 100 + len(minutes)))

        psa_hours = sum(Decimal(m) for m in minutes) / 60
        odoo_hours = sum(lines.mapped("unit_amount"))
        self.assertEqual(len(lines), len(minutes))
        self.assertEqual(round(Decimal(odoo_hours), 2), round(psa_hours, 2))
        self.assertLess(abs(Decimal(odoo_hours) - psa_hours), Decimal("0.0001"))
        # Twenty minutes is a third of an hour, not 0.33: rounding each line
        # to two decimals would lose 0.1 h over these thirty entries.
        self.assertAlmostEqual(self.lines_of(100).unit_amount, 1 / 3, places=9)

    def test_date_kept_for_users_far_from_utc(self):
        for offset, tz in enumerate(("Pacific/Kiritimati", "Pacific/Pago_Pago")):
            self.env.user.tz = tz
            backend = self.backend.with_context(tz=tz)
            late_utc = datetime(2024, 7, 14, 23, 30)
            entry = self.entry(
                200 + offset, date=date(2024, 7, 14), updated_at=late_utc
            )
            TimeImporter(backend).import_page([entry])
            self.assertEqual(self.lines_of(200 + offset).date, date(2024, 7, 14), tz)

    def test_second_import_creates_nothing(self):
        entries = [self.entry(n) for n in range(300, 310)]
        self.import_page(*entries)
        second = self.import_page(*entries)

        self.assertEqual(second.created, 0)
        self.assertEqual(second.updated, 0)
        self.assertEqual(second.unchanged, 10)
        self.assertEqual(len(self.lines_of(*range(300, 310))), 10)

    def test_non_billable_time_stays_out_of_invoicing(self):
        self.import_page(self.entry(400), self.entry(401, billable=False, minutes=120))
        billable, internal = self.lines_of(400), self.lines_of(401)

        self.assertFalse(internal.so_line)
        self.assertEqual(internal.timesheet_invoice_type, "non_billable")
        self.assertEqual(billable.so_line, self.order.order_line)
        self.assertEqual(self.order.order_line.qty_delivered, 1.5)
        invoice = self.order._create_invoices()
        self.assertEqual(billable.timesheet_invoice_id, invoice)
        self.assertFalse(internal.timesheet_invoice_id)
        self.assertEqual(invoice.invoice_line_ids.quantity, 1.5)

    def test_hours_stay_hours_when_sold_in_days(self):
        """Timesheets hold hours; the day-based sale line gets days (8 h a day)."""
        day = self.env.ref("uom.product_uom_day")
        self.company.timesheet_encode_uom_id = day
        consulting_day = self.env["product.product"].create(
            {
                "name": "Consulting day",
                "type": "service",
                "list_price": 900.0,
                "invoice_policy": "delivery",
                "service_type": "timesheet",
                "service_tracking": "project_only",
                "uom_id": day.id,
                "uom_po_id": day.id,
            }
        )
        order = self.env["sale.order"].create(
            {
                "partner_id": self.customer.id,
                "order_line": [
                    (0, 0, {"product_id": consulting_day.id, "product_uom_qty": 5})
                ],
            }
        )
        order.action_confirm()
        self.env["integration.external.id"]._bind(
            self.backend, order.order_line.project_id, "14308100"
        )
        self.import_page(
            self.entry(
                450, project_id="14308100", minutes=8 * 60, date=date(2024, 6, 10)
            ),
            self.entry(
                451, project_id="14308100", minutes=4 * 60, date=date(2024, 6, 11)
            ),
        )
        invoice = order._create_invoices()

        self.assertEqual(self.lines_of(450).unit_amount, 8.0)
        self.assertEqual(self.lines_of(451).unit_amount, 4.0)
        self.assertEqual(order.order_line.qty_delivered, 1.5)
        self.assertEqual(invoice.invoice_line_ids.quantity, 1.5)
        self.assertEqual(invoice.invoice_line_ids.product_uom_id, day)

    def test_unapproved_entry_is_not_imported(self):
        result = self.import_page(self.entry(500, approval_state="submitted"))
        row = self.backend.env["psa.time.entry"].search([("external_id", "=", "500")])

        self.assertEqual(result.unapproved, 1)
        self.assertFalse(self.lines_of(500))
        self.assertEqual(row.state, "unapproved")

    def test_approved_states_follow_backend_setting(self):
        self.backend.psa_approved_states = "submitted, Approved"
        self.import_page(self.entry(510, approval_state="submitted"))
        self.assertTrue(self.lines_of(510))

    def test_unapproval_removes_uninvoiced_line(self):
        self.import_page(self.entry(520))
        result = self.import_page(
            self.entry(520, approval_state="submitted", updated_at=datetime(2024, 6, 4))
        )
        row = self.env["psa.time.entry"].search([("external_id", "=", "520")])

        self.assertEqual(result.removed, 1)
        self.assertFalse(self.lines_of(520))
        self.assertEqual(row.state, "unapproved")
        self.assertEqual(row.project_id, self.project)
        self.assertEqual(row.employee_id, self.lena)

    def test_edit_updates_uninvoiced_line(self):
        self.import_page(self.entry(530))
        edited = self.entry(
            530, minutes=150, notes="Longer review", updated_at=datetime(2024, 6, 4)
        )
        result = self.import_page(edited)
        line = self.lines_of(530)

        self.assertEqual(result.updated, 1)
        self.assertEqual(line.unit_amount, 2.5)
        self.assertEqual(line.name, "Longer review")

    def test_edit_turning_billable_off_drops_sale_line(self):
        self.import_page(self.entry(540))
        self.import_page(
            self.entry(540, billable=False, updated_at=datetime(2024, 6, 4))
        )
        line = self.lines_of(540)
        self.assertFalse(line.so_line)
        self.import_page(
            self.entry(540, billable=True, updated_at=datetime(2024, 6, 5))
        )
        self.assertEqual(line.so_line, self.order.order_line)

    def test_edit_of_invoiced_line_opens_exception(self):
        self.import_page(self.entry(550))
        invoice = self.order._create_invoices()
        invoice.action_post()
        notes = (
            "Workshop at Hoja Verde S.Coop. " + "and the follow-up " * 12 + "S.Coop."
        )
        result = self.import_page(
            self.entry(550, minutes=240, updated_at=datetime(2024, 6, 9), notes=notes)
        )
        line = self.lines_of(550)
        exception = self.open_exceptions("timesheet_changed_after_invoicing")

        self.assertEqual(result.held, 1)
        self.assertEqual(line.unit_amount, 1.5)
        self.assertEqual(line.timesheet_invoice_id, invoice)
        self.assertEqual(len(exception), 1)
        self.assertEqual(exception.record_ref, line)
        self.assertEqual(exception.impact, "high")
        self.assertIn(invoice.name, exception.description)
        self.assertIn("1.50 h", exception.description)
        self.assertIn("4.00 h", exception.description)
        self.assertIn("4.00 h, billable:", exception.description)
        self.assertNotIn("True", exception.description)
        self.assertIn("S.Coop. Billed:", exception.description)
        self.assertNotIn("..", exception.description)
        self.assertIn('Press "Correct in next billing run"', exception.description)
        self.assertNotIn("issue a credit note", exception.description)
        self.assertLessEqual(len(exception.name), 200)
        self.assertTrue(exception.name.endswith("\u2026"))
        self.assertTrue(exception.description.startswith(exception.name[:-1]))
        self.assertFalse(exception.description[len(exception.name) - 1].isalnum())
        self.assertTrue(exception.psa_hours_known)
        self.assertEqual(exception.psa_hours, 4.0)

    def test_retry_keeps_invoiced_change_open(self):
        self.import_page(self.entry(555))
        self.order._create_invoices().action_post()
        self.import_page(self.entry(555, minutes=240, updated_at=datetime(2024, 6, 9)))
        exception = self.open_exceptions("timesheet_changed_after_invoicing")
        exception.action_retry()
        self.run_queue()

        self.assertEqual(exception.job_id.state, "failed")
        self.assertEqual(exception.state, "in_progress")
        self.assertFalse(exception.resolved_by_id)
        self.assertEqual(self.lines_of(555).unit_amount, 1.5)

    def test_unapproval_of_invoiced_line_opens_exception(self):
        self.import_page(self.entry(560))
        self.order._create_invoices()
        self.import_page(
            self.entry(560, approval_state="submitted", updated_at=datetime(2024, 6, 9))
        )
        exception = self.open_exceptions("timesheet_changed_after_invoicing")

        self.assertTrue(self.lines_of(560))
        self.assertIn("no longer approved", exception.description)
        self.assertFalse(exception.psa_hours_known)

    def test_deleted_entry_removes_line_unless_invoiced(self):
        self.import_page(self.entry(570), self.entry(571))
        importer = TimeImporter(self.backend)
        importer.remove_entry("570")
        self.assertFalse(self.lines_of(570))

        self.order._create_invoices()
        importer.remove_entry("571")
        exception = self.open_exceptions("timesheet_changed_after_invoicing")
        self.assertTrue(self.lines_of(571))
        self.assertIn("deleted", exception.description)
        self.assertTrue(exception.psa_hours_known)
        self.assertEqual(exception.psa_hours, 0.0)

    def test_older_change_is_skipped(self):
        self.import_page(self.entry(580, minutes=120, updated_at=datetime(2024, 6, 5)))
        result = self.import_page(
            self.entry(580, minutes=60, updated_at=datetime(2024, 6, 4))
        )
        self.assertEqual(result.unchanged, 1)
        self.assertEqual(self.lines_of(580).unit_amount, 2.0)

    def test_unknown_person_opens_one_exception(self):
        stranger = {"person_id": "1789999", "person_email": "nina.rook@example.org"}
        result = self.import_page(
            self.entry(600, **stranger), self.entry(601, **stranger), self.entry(602)
        )
        exception = self.open_exceptions("unknown_employee")

        self.assertEqual(result.created, 1)
        self.assertEqual(result.rejected, 2)
        self.assertTrue(self.lines_of(602))
        self.assertFalse(self.lines_of(600, 601))
        self.assertEqual(len(exception), 1)
        self.assertEqual(exception.candidate_model, "hr.employee")
        self.assertIn("nina.rook@example.org", exception.description)

    def test_email_matches_case_but_not_wildcards(self):
        self.env["hr.employee"].create(
            {"name": "Li Ng", "work_email": "li_ng@example.org"}
        )
        result = self.import_page(
            self.entry(610, person_id="1780010", person_email="LENA.MARSH@EXAMPLE.ORG"),
            self.entry(611, person_id="1780011", person_email="lixng@example.org"),
        )
        self.assertEqual(result.created, 1)
        self.assertEqual(self.lines_of(610).employee_id, self.lena)
        self.assertFalse(self.lines_of(611))

    def test_link_employee_imports_waiting_entries(self):
        stranger = {"person_id": "1789998", "person_email": "ada.finch@example.org"}
        self.import_page(self.entry(620, **stranger), self.entry(621, **stranger))
        exception = self.open_exceptions("unknown_employee")
        manager = new_test_user(
            self.env,
            login="psa_link_manager",
            groups="base.group_user,integration_audit.group_integration_manager",
        )
        exception.link_record = self.omar
        exception.with_user(manager).action_link_record()
        self.run_queue()

        self.assertEqual(self.lines_of(620, 621).employee_id, self.omar)
        self.assertEqual(len(self.lines_of(620, 621)), 2)
        self.assertEqual(exception.state, "resolved")
        self.assertEqual(exception.resolved_by_id, manager)

        self.omar.name = "Omar Haddad & Co."
        exception.message_post(body=f"Linked to {self.omar.name}.")
        self.assertIn("&amp; Co.</p>", exception.message_ids[0].body)

    def test_create_employee_action_imports_entry(self):
        stranger = {
            "person_id": "1789997",
            "person_email": "rowan.quill@example.org",
            "person_name": "Rowan Quill",
        }
        self.import_page(self.entry(630, **stranger))
        exception = self.open_exceptions("unknown_employee")
        exception.action_psa_create_employee()
        self.run_queue()
        employee = self.lines_of(630).employee_id

        self.assertEqual(employee.name, "Rowan Quill")
        self.assertEqual(employee.work_email, "rowan.quill@example.org")
        self.assertEqual(exception.state, "resolved")

    def test_rejected_entry_imported_once_cause_fixed(self):
        stranger = {"person_id": "1789996", "person_email": "mika.tarn@example.org"}
        self.import_page(self.entry(640, **stranger))
        self.env["hr.employee"].create(
            {"name": "Mika Tarn", "work_email": "mika.tarn@example.org"}
        )
        result = self.import_page(self.entry(640, **stranger))

        self.assertEqual(result.created, 1)
        self.assertFalse(self.open_exceptions("unknown_employee"))

    def test_unknown_project_opens_exception(self):
        result = self.import_page(
            self.entry(650, project_id="14309999", project_code="X-9")
        )
        exception = self.open_exceptions("unknown_project")
        self.assertEqual(result.rejected, 1)
        self.assertEqual(exception.candidate_model, "project.project")

    def test_project_matched_by_psa_code(self):
        beta = self.env["project.project"].create(
            {"name": "Beta", "psa_code": "PRJ-BETA"}
        )
        self.import_page(
            self.entry(655, project_id="14308009", project_code="PRJ-BETA")
        )
        self.assertEqual(self.lines_of(655).project_id, beta)

    def test_closed_or_archived_project_rejected(self):
        closed_stage = self.env["project.project.stage"].create(
            {"name": "Done", "fold": True}
        )
        closed = self.env["project.project"].create(
            {"name": "Closed", "stage_id": closed_stage.id, "psa_code": "PRJ-C"}
        )
        archived = self.env["project.project"].create(
            {"name": "Archived", "psa_code": "PRJ-A", "active": False}
        )
        result = self.import_page(
            self.entry(660, project_id="1", project_code="PRJ-C"),
            self.entry(661, project_id="2", project_code="PRJ-A"),
            self.entry(662),
        )
        self.assertEqual(result.created, 1)
        self.assertEqual(result.rejected, 2)
        self.assertEqual(len(self.open_exceptions("closed_project")), 2)
        self.assertFalse(
            self.env["account.analytic.line"].search(
                [("project_id", "in", (closed | archived).ids)]
            )
        )

    def test_hours_above_limit_rejected(self):
        self.backend.psa_max_entry_hours = 12
        result = self.import_page(
            self.entry(670, minutes=13 * 60), self.entry(671, minutes=12 * 60)
        )
        self.assertEqual(result.rejected, 1)
        self.assertFalse(self.lines_of(670))
        self.assertTrue(self.lines_of(671))
        self.assertEqual(len(self.open_exceptions("hours_over_limit")), 1)

    def test_duplicate_ids_in_page_rejected(self):
        result = self.import_page(
            self.entry(680), self.entry(680, minutes=30), self.entry(681)
        )
        self.assertEqual(result.rejected, 2)
        self.assertEqual(result.created, 1)
        self.assertFalse(self.lines_of(680))
        self.assertEqual(len(self.open_exceptions("duplicate_entry")), 1)

    def test_entry_before_lock_date_goes_to_exception(self):
        self.company.fiscalyear_lock_date = date(2024, 5, 31)
        result = self.import_page(
            self.entry(690, date=date(2024, 5, 31)),
            self.entry(691, date=date(2024, 6, 1)),
        )
        self.assertEqual(result.rejected, 1)
        self.assertFalse(self.lines_of(690))
        self.assertTrue(self.lines_of(691))
        self.assertIn("2024-05-31", self.open_exceptions("locked_period").description)

    def test_locked_month_has_one_exception(self):
        locked = {"locked": True, "locked_reason": "Period closed by finance"}
        result = self.import_page(
            self.entry(696, **locked),
            self.entry(697, **locked),
            self.entry(698, date=date(2024, 7, 1), **locked),
        )
        exceptions = self.open_exceptions("locked_period")

        self.assertEqual(result.rejected, 3)
        self.assertEqual(len(exceptions), 2)
        self.assertFalse(exceptions.job_id)
        self.assertEqual(
            set(exceptions.mapped("dedup_key")),
            {
                f"psa:{self.backend.id}:locked_period:2024-06",
                f"psa:{self.backend.id}:locked_period:2024-07",
            },
        )

    def test_locked_period_retried_then_posted(self):
        locked = {"locked": True, "locked_reason": "Period closed by finance"}
        self.import_page(self.entry(710, **locked), self.entry(711, **locked))
        exception = self.open_exceptions("locked_period")
        exception.action_psa_retry_period()

        self.assertFalse(self.lines_of(710, 711))
        self.assertEqual(exception.state, "new")
        exception.action_psa_post_period()
        self.assertEqual(len(self.lines_of(710, 711)), 2)
        self.assertEqual(exception.state, "resolved")

    def test_post_period_keeps_odoo_lock_date(self):
        self.company.fiscalyear_lock_date = date(2024, 6, 30)
        self.import_page(self.entry(720))
        exception = self.open_exceptions("locked_period")
        exception.action_psa_post_period()
        self.assertFalse(self.lines_of(720))
        self.assertEqual(exception.state, "new")

    def test_routine_lock_reason_imported(self):
        self.backend.psa_routine_lock_reasons = (
            "Item Approved and Locked for this Time Period"
        )
        reason = "Item Approved and Locked for this Time Period"
        self.import_page(self.entry(730, locked=True, locked_reason=reason))
        self.assertTrue(self.lines_of(730))

    def test_unlocked_entry_releases_month(self):
        locked = {"locked": True, "locked_reason": "Period closed by finance"}
        self.import_page(self.entry(740, **locked))
        exception = self.open_exceptions("locked_period")
        self.import_page(self.entry(740, updated_at=datetime(2024, 7, 1)))

        self.assertTrue(self.lines_of(740))
        self.assertEqual(exception.state, "resolved")

    def test_psa_locked_entry_held(self):
        self.import_page(
            self.entry(695, locked=True, locked_reason="Period closed by finance")
        )
        self.assertFalse(self.lines_of(695))
        self.assertEqual(len(self.open_exceptions("locked_period")), 1)

    def test_several_people_projects_one_page(self):
        self.import_page(
            self.entry(700, person_id=OMAR, person_email="omar.vale@example.org"),
            self.entry(701, project_id=PSA_INTERNAL_PROJECT, billable=False),
        )
        self.assertEqual(self.lines_of(700).employee_id, self.omar)
        self.assertEqual(self.lines_of(701).project_id, self.internal)
        self.assertEqual(self.lines_of(701).employee_id, self.lena)
        mapping = self.env["integration.external.id"].search(
            [("backend_id", "=", self.backend.id), ("res_model", "=", "hr.employee")]
        )
        self.assertEqual(set(mapping.mapped("external_id")), {LENA, OMAR})
