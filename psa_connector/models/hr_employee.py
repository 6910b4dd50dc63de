"""Capacity and utilization target of each employee, for the staffing report."""

from odoo import fields, models


class HrEmployee(models.Model):
    _inherit = "hr.employee"

    psa_weekly_capacity = fields.Float(
        string="Weekly capacity (h)",
        default=40.0,
        groups="hr.group_hr_user",
        help="Hours this person can work in a week, the base of utilization.",
    )
    psa_utilization_target = fields.Float(
        string="Utilization target (%)",
        default=75.0,
        groups="hr.group_hr_user",
        help="Share of the weekly capacity expected to be billable.",
    )
