"""Invoices: the billing run that made them, and status back to CRM and PSA."""

from odoo import api, fields, models

from ..services import status

CUSTOMER_TYPES = ("out_invoice", "out_refund")


class AccountMove(models.Model):
    _inherit = "account.move"

    billing_run_id = fields.Many2one(
        "billing.run",
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="Billing run that generated this invoice or credit note.",
    )
    billing_status_signature = fields.Char(
        readonly=True,
        copy=False,
        help="Last invoice status queued for the CRM; a new "
        "one is queued when it changes.",
    )

    def _post(self, soft=True):
        posted = super()._post(soft=soft)
        posted._billing_push_status(links=True)
        return posted

    def button_draft(self):
        result = super().button_draft()
        self._billing_push_status()
        return result

    def button_cancel(self):
        result = super().button_cancel()
        self._billing_push_status()
        return result

    def _billing_push_status(self, links=False):
        """Queue status jobs for customer invoices whose status changed.

        Invoices of orders without a CRM deal are left untouched. With
        `links`, also queue invoice links to the PSA for the time each
        invoice bills.
        """
        for move in self.filtered(lambda m: m.move_type in CUSTOMER_TYPES):
            signature = status.status_signature(move)
            changed = move.billing_status_signature != signature
            if changed and status.crm_deal_mappings(move):
                status.enqueue_crm_status(move)
                move.sudo().billing_status_signature = signature
            if links and move.state == "posted":
                status.enqueue_psa_links(move)

    @api.model
    def _cron_billing_push_status(self):
        """Queue the status of mapped orders' invoices that changed without a hook."""
        mappings = (
            self.env["integration.external.id"]
            .sudo()
            .search(
                [
                    ("backend_id.kind", "in", status.CRM_KINDS),
                    ("res_model", "=", "sale.order"),
                ]
            )
        )
        orders = (
            self.env["sale.order"].sudo().browse(mappings.mapped("res_id")).exists()
        )
        moves = orders.invoice_ids.filtered(lambda m: m.state != "draft")
        moves._billing_push_status()
        return len(moves)


class AccountPartialReconcile(models.Model):
    _inherit = "account.partial.reconcile"

    @api.model_create_multi
    def create(self, vals_list):
        partials = super().create(vals_list)
        moves = (partials.debit_move_id | partials.credit_move_id).move_id
        moves._billing_push_status()
        return partials

    def unlink(self):
        moves = (self.debit_move_id | self.credit_move_id).move_id
        result = super().unlink()
        moves.exists()._billing_push_status()
        return result
