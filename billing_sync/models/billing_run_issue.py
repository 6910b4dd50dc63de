"""Checkpoint findings of a billing run's validation."""

from odoo import _, fields, models

ISSUE_CODES = [
    ("psa_exception", "Time not imported from the PSA"),
    ("psa_queue", "PSA import still queued or failed"),
    ("no_sale_line", "Time without a sale order line"),
    ("missing_rate", "Missing rate"),
    ("missing_product", "Missing product or income account"),
    ("customer_data", "Customer data missing"),
    ("budget_overrun", "Budget overrun"),
    ("milestone_unmarked", "Milestone reached but not marked"),
    ("correction", "Correction needs input"),
]


class BillingRunIssue(models.Model):
    _name = "billing.run.issue"
    _description = "Billing Run Issue"
    _order = "severity, code, id"

    run_id = fields.Many2one(
        "billing.run", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="run_id.company_id", store=True)
    code = fields.Selection(ISSUE_CODES, required=True)
    severity = fields.Selection(
        [("blocking", "Blocking"), ("warning", "Warning")],
        required=True,
        help="A blocking issue holds its order back, or the whole run when it "
        "concerns no single order. A warning is for information.",
    )
    message = fields.Text(required=True)
    order_id = fields.Many2one(
        "sale.order", help="Order held back by a blocking issue."
    )
    partner_id = fields.Many2one("res.partner")
    project_id = fields.Many2one("project.project")
    res_model = fields.Char(string="Record model")
    res_id = fields.Many2oneReference(string="Record ID", model_field="res_model")
    waived = fields.Boolean(
        readonly=True, help="A billing approver accepted the issue."
    )
    waived_by_id = fields.Many2one("res.users", readonly=True)

    def _waiver_key(self):
        """Return what identifies the same finding across validations."""
        self.ensure_one()
        return (
            self.code,
            self.order_id.id,
            self.partner_id.id,
            self.project_id.id,
            self.res_model or False,
            self.res_id or False,
        )

    def action_waive(self):
        """Accept issues so they no longer block; billing approvers only."""
        self.run_id._check_approver()
        for issue in self:
            # Billing users, approvers included, may only read issues.
            issue.sudo().write({"waived": True, "waived_by_id": self.env.user.id})
            issue.run_id.message_post(
                body=_(
                    "Issue waived by %(user)s: %(message)s",
                    user=self.env.user.name,
                    message=issue.message,
                )
            )
        return True

    def action_open_record(self):
        """Open the record the issue is about."""
        self.ensure_one()
        if not self.res_model or not self.res_id:
            return False
        return {
            "type": "ir.actions.act_window",
            "res_model": self.res_model,
            "res_id": self.res_id,
            "view_mode": "form",
        }
