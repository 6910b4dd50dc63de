"""Allocations and the utilization report per person, team and week."""

from datetime import date

from odoo.addons.psa_connector.services.time_import import TimeImporter
from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common import PSA_INTERNAL_PROJECT, PsaCase

WEEK = date(2024, 6, 3)


@tagged("post_install", "-at_install")
class TestStaffing(PsaCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.team = cls.env["hr.department"].create({"name": "Delivery"})
        cls.lena.write(
            {
                "department_id": cls.team.id,
                "psa_weekly_capacity": 40,
                "psa_utilization_target": 75,
            }
        )
        cls.omar.write({"department_id": cls.team.id, "psa_weekly_capacity": 20})
        TimeImporter(cls.backend).import_page(
            [
                cls.entry(1, minutes=240),
                cls.entry(2, minutes=120, date=date(2024, 6, 5)),
                cls.entry(
                    3, minutes=120, project_id=PSA_INTERNAL_PROJECT, billable=False
                ),
                cls.entry(4, minutes=60, date=date(2024, 6, 11)),
            ]
        )
        cls.env["psa.allocation"].create(
            {
                "employee_id": cls.lena.id,
                "project_id": cls.project.id,
                "date_from": date(2024, 6, 3),
                "date_to": date(2024, 6, 16),
                "hours": 56,
            }
        )
        cls.env.flush_all()

    def row(self, employee, week):
        return self.env["psa.utilization.report"].search(
            [("employee_id", "=", employee.id), ("week", "=", week)]
        )

    def test_week_row_sums_hours(self):
        row = self.row(self.lena, WEEK)

        self.assertEqual(row.capacity_hours, 40)
        self.assertEqual(row.target_hours, 30)
        self.assertEqual(row.worked_hours, 8)
        self.assertEqual(row.billable_hours, 6)
        self.assertAlmostEqual(row.allocated_hours, 28)
        self.assertAlmostEqual(row.utilization, 15)
        self.assertAlmostEqual(row.target_attainment, 20)
        self.assertAlmostEqual(row.allocation_rate, 70)

    def test_idle_week_has_capacity_and_no_hours(self):
        row = self.row(self.omar, WEEK)
        self.assertEqual(row.capacity_hours, 20)
        self.assertEqual(row.billable_hours, 0)
        self.assertEqual(row.utilization, 0)

    def test_team_ratio_from_summed_hours(self):
        groups = self.env["psa.utilization.report"].read_group(
            [
                ("department_id", "=", self.team.id),
                ("week", "in", (WEEK, date(2024, 6, 10))),
            ],
            ["billable_hours:sum", "capacity_hours:sum", "utilization"],
            ["department_id"],
        )
        # Lena 6 h + 1 h billable over two weeks of 40 h; Omar 2 x 20 h.
        self.assertEqual(groups[0]["capacity_hours"], 120)
        self.assertEqual(groups[0]["billable_hours"], 7)
        self.assertAlmostEqual(groups[0]["utilization"], 100 * 7 / 120)

    def test_allocation_dates_checked(self):
        with self.assertRaises(ValidationError):
            self.env["psa.allocation"].create(
                {
                    "employee_id": self.lena.id,
                    "project_id": self.project.id,
                    "date_from": date(2024, 6, 10),
                    "date_to": date(2024, 6, 3),
                    "hours": 8,
                }
            )
