"""Timesheet lines that came from a PSA."""

from odoo import fields, models


class AccountAnalyticLine(models.Model):
    _inherit = "account.analytic.line"

    psa_billable = fields.Boolean(
        string="Billable in the PSA",
        help="Set from the PSA entry. Non-billable time gets no sales order item, "
        "so it is never invoiced.",
    )

    def _psa_is_invoiced(self):
        """Return whether the line is on an invoice that was not cancelled."""
        self.ensure_one()
        return not self._is_not_billed()

    def _psa_write_from_entry(self, values):
        """Write a PSA entry's new values; billable time gets its sale line back.

        A line that turns billable is handed back to `sale_timesheet`'s rule
        for its sales order item; one that turns non-billable loses it.
        """
        self.ensure_one()
        values = dict(values)
        if values.get("psa_billable") and self.is_so_line_edited:
            values["is_so_line_edited"] = False
        self.write(values)
        if values.get("psa_billable"):
            self.so_line = (
                self.project_id.allow_billable and self._timesheet_determine_sale_line()
            )

    def _psa_external_id(self, backend):
        """Return the PSA entry id this line is mapped to on `backend`, or False."""
        return self.env["integration.external.id"]._external_id_of(backend, self)
