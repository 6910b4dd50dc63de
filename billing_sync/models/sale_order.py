"""Sale orders: restrict Odoo's invoiceable lines to those a billing run bills."""

from odoo import models


class SaleOrder(models.Model):
    _inherit = "sale.order"

    def _get_invoiceable_lines(self, final=False):
        """Keep only the lines of context key `billing_run_line_ids`, when given.

        A billing run passes the lines its scope and period allow, so an
        order's out-of-scope lines stay for a later run. Down payment lines
        stay as Odoo chose them, and a section stays only when one of its
        lines does.
        """
        lines = super()._get_invoiceable_lines(final=final)
        allowed = self.env.context.get("billing_run_line_ids")
        if allowed is None:
            return lines
        kept = self.env["sale.order.line"]
        section = self.env["sale.order.line"]
        for line in lines:
            if line.display_type == "line_section":
                section = line
            elif line.display_type or line.is_downpayment or line.id in allowed:
                if section and not line.display_type and not line.is_downpayment:
                    kept |= section
                    section = self.env["sale.order.line"]
                kept |= line
        return kept
