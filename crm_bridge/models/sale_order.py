"""Sale orders made from CRM deals: their deal link and close date."""

from odoo import _, fields, models
from odoo.exceptions import UserError


class SaleOrder(models.Model):
    _name = "sale.order"
    _inherit = ["sale.order", "crm.bridge.link.mixin"]

    crm_close_date = fields.Date(
        string="CRM close date",
        readonly=True,
        copy=False,
        help="Close date of the won deal this order was made from.",
    )

    def _crm_enqueue_invoice_status(self):
        """Queue the invoice status of these orders for their CRM deals."""
        return self.env["crm.bridge.deal.push"]._enqueue_invoice_status(self)

    def action_crm_push_status(self):
        """Send the invoice status of this order to its deal now."""
        if not self._crm_mappings():
            raise UserError(
                _(
                    "Order %(order)s was not made from a CRM deal, so there is no "
                    "deal to update.",
                    order=self[:1].name,
                )
            )
        self._crm_enqueue_invoice_status()
        return True
