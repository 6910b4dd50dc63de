"""Invoice changes that the CRM deal of the invoiced order should see.

The invoice status follows `state`, `payment_state`, `is_move_sent` and
the amount due. `payment_state` changes through reconciliation, as a
recomputed field, not through `write`, so changes are caught where every
database update of a move passes (`_write_multi`, and `create`). The ids
are collected and the deal updates are queued by the cursor's precommit
hook. Odoo runs that hook at commit and also whenever a flushing savepoint
opens or closes, so a long transaction may queue more than once; the
digest on each deal's mapping keeps an unchanged status from being sent
twice.
"""

from odoo import api, models

TRACKED_FIELDS = frozenset(
    {"state", "payment_state", "is_move_sent", "amount_residual"}
)
PRECOMMIT_KEY = "crm_bridge.changed_invoices"
INVOICE_TYPES = ("out_invoice", "out_refund")


class AccountMove(models.Model):
    _inherit = "account.move"

    @api.model_create_multi
    def create(self, vals_list):
        moves = super().create(vals_list)
        moves._crm_note_change()
        return moves

    def _write_multi(self, vals_list):
        result = super()._write_multi(vals_list)
        if any(TRACKED_FIELDS.intersection(vals) for vals in vals_list):
            self._crm_note_change()
        return result

    def _crm_note_change(self):
        """Remember these moves until commit; the first one registers the hook."""
        data = self.env.cr.precommit.data
        if PRECOMMIT_KEY not in data:
            data[PRECOMMIT_KEY] = set()
            self.env.cr.precommit.add(
                self.env["account.move"].sudo()._crm_queue_changes
            )
        data[PRECOMMIT_KEY].update(self.ids)

    def _crm_queue_changes(self):
        ids = self.env.cr.precommit.data.pop(PRECOMMIT_KEY, set())
        moves = self.browse(ids).exists()
        invoices = moves.filtered(lambda move: move.move_type in INVOICE_TYPES)
        if invoices:
            invoices._crm_enqueue_invoice_status()
            self.env.flush_all()

    def _crm_enqueue_invoice_status(self):
        """Queue the invoice status of the orders these invoices bill."""
        orders = self.line_ids.sale_line_ids.order_id
        return self.env["crm.bridge.deal.push"]._enqueue_invoice_status(orders)
