"""Customers: the data an invoice legally needs."""

from odoo import _, models
from odoo.exceptions import UserError


class ResPartner(models.Model):
    _inherit = "res.partner"

    def _billing_missing_invoice_data(self):
        """Return the labels of the invoice data this customer lacks.

        Every invoice names the customer's full address and country; a
        company customer also needs its tax ID (VAT number).
        """
        self.ensure_one()
        partner = self.commercial_partner_id
        checks = [
            (partner.street, _("street")),
            (partner.city, _("city")),
            (partner.zip, _("postal code")),
            (partner.country_id, _("country")),
        ]
        missing = [label for value, label in checks if not value]
        if partner.is_company and not partner.vat:
            missing.append(_("tax ID"))
        return missing

    def _billing_check_invoice_data(self, order):
        """Raise a UserError naming the missing data and the order it blocks."""
        self.ensure_one()
        missing = self._billing_missing_invoice_data()
        if missing:
            raise UserError(
                _(
                    "Customer %(customer)s of order %(order)s "
                    "lacks %(missing)s. Complete "
                    "the customer, then generate the run again.",
                    customer=self.commercial_partner_id.display_name,
                    order=order.name,
                    missing=", ".join(missing),
                )
            )
