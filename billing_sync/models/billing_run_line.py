"""One line of a billing run's preview: billed, credited or left out, and why."""

from odoo import api, fields, models

from .sale_order_line import BILLING_TYPES

EXCLUSION_REASONS = [
    ("out_of_scope", "Billing type outside the run's scope"),
    ("outside_period", "Time dated outside the period"),
    ("held", "Order held back by a blocking issue"),
    ("negative", "More invoiced than delivered"),
    ("written_off", "Written off"),
]


class BillingRunLine(models.Model):
    _name = "billing.run.line"
    _description = "Billing Run Preview Line"
    _order = "run_order_id, included desc, id"

    run_id = fields.Many2one(
        "billing.run", required=True, ondelete="cascade", index=True
    )
    run_order_id = fields.Many2one(
        "billing.run.order", required=True, ondelete="cascade"
    )
    company_id = fields.Many2one(related="run_id.company_id", store=True)
    order_id = fields.Many2one(related="run_order_id.order_id", store=True)
    sale_line_id = fields.Many2one("sale.order.line", required=True, ondelete="cascade")
    product_id = fields.Many2one(related="sale_line_id.product_id")
    project_id = fields.Many2one("project.project")
    kind = fields.Selection(
        [("invoice", "Invoice"), ("credit", "Credit note"), ("rebill", "Rebill")],
        required=True,
        default="invoice",
    )
    billing_type = fields.Selection(BILLING_TYPES, required=True)
    included = fields.Boolean()
    exclusion_reason = fields.Selection(EXCLUSION_REASONS)
    note = fields.Char()
    quantity = fields.Float(digits="Product Unit of Measure")
    price_unit = fields.Float(digits="Product Price")
    currency_id = fields.Many2one(related="run_order_id.currency_id", store=True)
    amount = fields.Monetary(help="Untaxed amount in the order's currency.")
    company_currency_id = fields.Many2one(
        related="company_id.currency_id", string="Company Currency"
    )
    amount_company = fields.Monetary(
        currency_field="company_currency_id",
        compute="_compute_amount_company",
        store=True,
        help="Untaxed amount in the company's currency at the period end.",
    )

    @api.depends("amount", "currency_id", "run_id.date_to")
    def _compute_amount_company(self):
        for line in self:
            company = line.company_id
            line.amount_company = (
                line.currency_id._convert(
                    line.amount, company.currency_id, company, line.run_id.date_to
                )
                if line.currency_id
                else line.amount
            )
