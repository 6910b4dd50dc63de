"""Timesheets: write-off and correction links."""

from odoo import fields, models


class AccountAnalyticLine(models.Model):
    _inherit = "account.analytic.line"

    billing_write_off_id = fields.Many2one(
        "billing.write.off",
        string="Write-off",
        index="btree_not_null",
        copy=False,
        readonly=True,
        help="Set when finance wrote this time off: it is no longer billed.",
    )
    billing_correction_ids = fields.One2many(
        "billing.correction",
        "timesheet_id",
        string="Billing corrections",
        readonly=True,
    )
