"""Sale order lines as billing runs see them: billing type and billable time.

Written-off timesheets leave Odoo's delivered quantity through the domain
hook sale_timesheet provides, so every invoicing path, not only billing
runs, stops billing them.
"""

from odoo import api, models
from odoo.osv import expression

BILLING_TYPES = [
    ("time_materials", "Time and materials"),
    ("milestones", "Milestones"),
    ("fixed_price", "Fixed price"),
    ("retainers", "Retainers"),
    ("expenses", "Expenses"),
]


class SaleOrderLine(models.Model):
    _inherit = "sale.order.line"

    @api.depends("timesheet_ids.billing_write_off_id")
    def _compute_qty_delivered(self):
        """Recompute delivered time when timesheets are written off or restored."""
        return super()._compute_qty_delivered()

    def _timesheet_compute_delivered_quantity_domain(self):
        domain = super()._timesheet_compute_delivered_quantity_domain()
        return expression.AND([domain, [("billing_write_off_id", "=", False)]])

    def _billing_type(self):
        """Return the billing type key of this line (see BILLING_TYPES).

        Retainers are Odoo's prepaid hours: services invoiced on ordered
        quantity in a unit of time. Other ordered lines are fixed price.
        """
        self.ensure_one()
        if self.is_expense:
            return "expenses"
        if self.qty_delivered_method == "milestones":
            return "milestones"
        if self.product_id.invoice_policy == "delivery":
            return "time_materials"
        if self.remaining_hours_available:
            return "retainers"
        return "fixed_price"

    def _billing_is_timesheet_line(self):
        self.ensure_one()
        return bool(self.product_id) and self.product_id._is_delivered_timesheet()

    def _billing_uninvoiced_timesheet_domain(self, date_start=None, date_end=None):
        """Return the domain of this lines' time that Odoo would still invoice.

        The same filter sale_timesheet applies when it recomputes the
        quantity to invoice for a date range: time not linked to an
        invoice, or linked to a cancelled or reversed one.
        """
        domain = expression.AND(
            [
                self._timesheet_compute_delivered_quantity_domain(),
                [
                    ("so_line", "in", self.ids),
                    "|",
                    "|",
                    ("timesheet_invoice_id", "=", False),
                    ("timesheet_invoice_id.state", "=", "cancel"),
                    ("timesheet_invoice_id.payment_state", "=", "reversed"),
                ],
            ]
        )
        if date_start:
            domain = expression.AND([domain, [("date", ">=", date_start)]])
        if date_end:
            domain = expression.AND([domain, [("date", "<=", date_end)]])
        return domain

    def _billing_uninvoiced_hours(self, date_start=None, date_end=None):
        """Return {line id: uninvoiced time in the line's unit} for the date range."""
        domain = self._billing_uninvoiced_timesheet_domain(date_start, date_end)
        return self.sudo()._get_delivered_quantity_by_analytic(domain)

    def _billing_untaxed_amount(self, quantity):
        """Return the untaxed amount of `quantity` at this line's price and discount."""
        self.ensure_one()
        price = self.price_unit * (1 - (self.discount or 0.0) / 100.0)
        taxes = self.tax_id.compute_all(
            price,
            currency=self.currency_id,
            quantity=quantity,
            product=self.product_id,
            partner=self.order_id.partner_shipping_id,
        )
        return taxes["total_excluded"]
