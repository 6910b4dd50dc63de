"""Invoice lines: never link written-off time to an invoice."""

from odoo import api, models
from odoo.osv import expression


class AccountMoveLine(models.Model):
    _inherit = "account.move.line"

    @api.model
    def _timesheet_domain_get_invoiced_lines(self, sale_line_delivery):
        domain = super()._timesheet_domain_get_invoiced_lines(sale_line_delivery)
        return expression.AND([domain, [("billing_write_off_id", "=", False)]])
