"""Staffing allocations: planned hours of a person on a project over a period.

Odoo Community has no planning app, so allocations live here. They come
from the file import (any PSA's staffing export), from a PSA that offers
bookings, or are typed in; Harvest has no allocation API.
"""

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError


class PsaAllocation(models.Model):
    _name = "psa.allocation"
    _description = "Staffing Allocation"
    _order = "date_from desc, id desc"

    employee_id = fields.Many2one("hr.employee", required=True, index=True)
    department_id = fields.Many2one(
        related="employee_id.department_id", string="Team", store=True
    )
    company_id = fields.Many2one(related="employee_id.company_id", store=True)
    project_id = fields.Many2one("project.project", required=True, index=True)
    date_from = fields.Date(required=True)
    date_to = fields.Date(required=True)
    hours = fields.Float(required=True, help="Hours planned over the whole period.")
    source = fields.Selection(
        [("manual", "Entered in Odoo"), ("file", "File import"), ("psa", "PSA")],
        required=True,
        default="manual",
    )
    backend_id = fields.Many2one("integration.backend", ondelete="set null")
    external_id = fields.Char(
        string="Source ID", help="ID of the allocation in the file or the PSA."
    )
    note = fields.Char()

    _sql_constraints = [
        (
            "external_unique",
            "UNIQUE(backend_id, external_id)",
            "An allocation of a PSA is stored once.",
        ),
    ]

    @api.constrains("date_from", "date_to", "hours")
    def _check_period(self):
        for allocation in self:
            if allocation.date_to < allocation.date_from:
                raise ValidationError(
                    _(
                        "The allocation of %(employee)s on %(project)s ends on "
                        "%(end)s, before it starts on %(start)s. Correct the dates.",
                        employee=allocation.employee_id.name,
                        project=allocation.project_id.name,
                        end=allocation.date_to,
                        start=allocation.date_from,
                    )
                )
            if allocation.hours < 0:
                raise ValidationError(
                    _(
                        "The allocation of %(employee)s on %(project)s has negative "
                        "hours (%(hours)s). Enter the planned hours.",
                        employee=allocation.employee_id.name,
                        project=allocation.project_id.name,
                        hours=allocation.hours,
                    )
                )
