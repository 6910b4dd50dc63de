"""Wizard that writes off the selected unbilled timesheets with a reason."""

from odoo import fields, models


class BillingWriteOffWizard(models.TransientModel):
    _name = "billing.write.off.wizard"
    _description = "Write Off Unbilled Time"

    timesheet_ids = fields.Many2many(
        "account.analytic.line",
        string="Timesheets",
        default=lambda self: self.env.context.get("active_ids"),
    )
    reason = fields.Text(required=True)
    hours = fields.Float(compute="_compute_hours")

    def _compute_hours(self):
        for wizard in self:
            wizard.hours = sum(wizard.timesheet_ids.mapped("unit_amount"))

    def action_write_off(self):
        """Write off the selected time and open the write-off."""
        self.ensure_one()
        write_off = self.env["billing.write.off"]._write_off(
            self.timesheet_ids, self.reason
        )
        return {
            "type": "ir.actions.act_window",
            "res_model": "billing.write.off",
            "res_id": write_off.id,
            "view_mode": "form",
        }
