"""Write-offs: unbilled time finance decided not to bill, with the reason.

Written-off timesheets carry the write-off, which removes them from Odoo's
delivered quantity (see sale_order_line.py), so no later run bills them.
Their value at the order price is the lost realisation the figures report.
"""

from odoo import _, api, fields, models
from odoo.exceptions import UserError


class BillingWriteOff(models.Model):
    _name = "billing.write.off"
    _description = "Billing Write-off"
    _inherit = ["mail.thread"]
    _order = "date desc, id desc"
    _check_company_auto = True

    name = fields.Char(required=True, copy=False, readonly=True, default="/")
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda s: s.env.company
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    date = fields.Date(required=True, default=fields.Date.context_today)
    user_id = fields.Many2one(
        "res.users", required=True, default=lambda s: s.env.user, readonly=True
    )
    reason = fields.Text(required=True, tracking=True)
    state = fields.Selection(
        [("done", "Written off"), ("cancelled", "Cancelled")],
        required=True,
        default="done",
        tracking=True,
    )
    timesheet_ids = fields.One2many(
        "account.analytic.line", "billing_write_off_id", string="Timesheets"
    )
    restored_timesheet_ids = fields.Many2many(
        "account.analytic.line", string="Restored time", readonly=True
    )
    hours = fields.Float(readonly=True)
    amount = fields.Monetary(
        string="Lost realisation",
        readonly=True,
        help="Value of the written-off time at its sale "
        "order price, in company currency.",
    )

    @api.model_create_multi
    def create(self, vals_list):
        for values in vals_list:
            if values.get("name", "/") == "/":
                values["name"] = (
                    self.env["ir.sequence"].next_by_code("billing.write.off") or "/"
                )
        return super().create(vals_list)

    @api.model
    def _write_off(self, timesheets, reason):
        """Write `timesheets` off with `reason`; return the write-off."""
        self._check_writable(timesheets)
        company = timesheets.company_id
        write_off = self.create(
            {
                "company_id": company.id,
                "reason": reason,
                "hours": sum(timesheets.mapped("unit_amount")),
                "amount": self._value_of(timesheets, company),
            }
        )
        timesheets.sudo().write({"billing_write_off_id": write_off.id})
        return write_off

    @api.model
    def _check_writable(self, timesheets):
        if not timesheets:
            raise UserError(_("Select the unbilled timesheets to write off."))
        if len(timesheets.company_id) > 1:
            raise UserError(_("Write off the time of one company at a time."))
        for timesheet in timesheets:
            if not timesheet.so_line:
                raise UserError(
                    _(
                        "Timesheet %s is not billable, so there "
                        "is nothing to write off.",
                        timesheet.display_name,
                    )
                )
            if not timesheet._is_not_billed() or timesheet.billing_write_off_id:
                raise UserError(
                    _(
                        "Timesheet %s is already invoiced or "
                        "written off. Issue a credit "
                        "note instead.",
                        timesheet.display_name,
                    )
                )

    @api.model
    def _value_of(self, timesheets, company):
        """Return the value of `timesheets` at their order line price.

        The value is in the currency of `company`, converted on each
        timesheet's date.
        """
        total = 0.0
        for timesheet in timesheets:
            line = timesheet.so_line
            quantity = timesheet.product_uom_id._compute_quantity(
                timesheet.unit_amount, line.product_uom, raise_if_failure=False
            )
            amount = line._billing_untaxed_amount(quantity)
            total += line.currency_id._convert(
                amount, company.currency_id, company, timesheet.date
            )
        return total

    def action_cancel(self):
        """Restore the time so a later run bills it; billing approvers only."""
        self.env["billing.run"]._check_approver()
        for write_off in self.filtered(lambda w: w.state == "done"):
            timesheets = write_off.timesheet_ids
            timesheets.sudo().write({"billing_write_off_id": False})
            write_off.write(
                {
                    "state": "cancelled",
                    "restored_timesheet_ids": [fields.Command.set(timesheets.ids)],
                }
            )
        return True
