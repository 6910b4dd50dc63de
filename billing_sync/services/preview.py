"""The preview of a billing run: per order, what is billed, credited or left out.

The preview counts quantities the same way generation bills them, so the
preview and the invoices agree; a test compares them.
"""

from odoo import _
from odoo.tools import float_is_zero


class RunPreview:
    """Build the `billing.run.order` and `billing.run.line` rows of one run."""

    def __init__(self, run):
        self.run = run
        self.env = run.env
        self.scope = run._scope_billing_types()
        self.precision = self.env["decimal.precision"].precision_get(
            "Product Unit of Measure"
        )
        self.held_orders = {
            issue.order_id.id: issue.message
            for issue in run.issue_ids
            if issue.severity == "blocking" and issue.order_id and not issue.waived
        }

    def build(self):
        """Create the rows of every order that has something to bill or to report."""
        corrections = self._pending_corrections()
        lines = self._candidate_lines(corrections)
        previous = self._previous_amounts()
        for order in lines.order_id:
            run_order = self._create_run_order(order, previous.get(order.id, 0.0))
            self._preview_order(run_order, lines, corrections)
        return self.run.order_ids

    def rebuild_order(self, run_order):
        """Preview one order again after the issues that held it back were waived."""
        run_order.line_ids.unlink()
        corrections = self.run.correction_ids.filtered(
            lambda c: (
                c.state == "pending" and c.sale_line_id.order_id == run_order.order_id
            )
        )
        lines = self._candidate_lines(corrections)
        self._preview_order(run_order, lines, corrections)

    def _preview_order(self, run_order, lines, corrections):
        """Preview the lines and corrections of `run_order`'s sale order."""
        order = run_order.order_id
        order_lines = lines.filtered(lambda line: line.order_id == order)
        for line in order_lines:
            self._preview_line(run_order, line)
        for correction in corrections.filtered(
            lambda c: c.sale_line_id.order_id == order
        ):
            self._preview_correction(run_order, correction)
        self._preview_written_off(run_order, order_lines)

    def _pending_corrections(self):
        corrections = self.env["billing.correction"].search(
            [("company_id", "=", self.run.company_id.id), ("state", "=", "pending")]
        )
        orders = self.env["sale.order"].search(self.run._scope_order_domain())
        corrections = corrections.filtered(lambda c: c.sale_line_id.order_id in orders)
        corrections.write({"run_id": self.run.id})
        return corrections

    def _candidate_lines(self, corrections):
        orders = self.env["sale.order"].search(self.run._scope_order_domain())
        return orders.order_line.filtered(
            lambda line: (
                not line.display_type
                and not line.is_downpayment
                and (
                    not float_is_zero(
                        line.qty_to_invoice, precision_digits=self.precision
                    )
                    or line in corrections.sale_line_id
                )
            )
        )

    def _previous_amounts(self):
        previous = self.run.previous_run_id
        return {row.order_id.id: row.amount_invoiced for row in previous.order_ids}

    def _create_run_order(self, order, previous_amount):
        values = {
            "run_id": self.run.id,
            "order_id": order.id,
            "amount_previous": previous_amount,
        }
        if order.id in self.held_orders:
            values.update(state="held", hold_reason=self.held_orders[order.id])
        return self.env["billing.run.order"].create(values)

    def _add(
        self, run_order, line, quantity, *, reason=False, kind="invoice", note=False
    ):
        """Create one preview line; a line with a `reason` is left out."""
        return self.env["billing.run.line"].create(
            {
                "run_id": self.run.id,
                "run_order_id": run_order.id,
                "sale_line_id": line.id,
                "project_id": (line.project_id or line.order_id.project_id).id,
                "kind": kind,
                "billing_type": line._billing_type(),
                "included": not reason,
                "exclusion_reason": reason,
                "note": note,
                "quantity": quantity,
                "price_unit": line.price_unit,
                "amount": line._billing_untaxed_amount(quantity),
            }
        )

    def _preview_line(self, run_order, line):
        """Record one order line: billed, partly billed, or left out with a reason."""
        quantity = line.qty_to_invoice
        if float_is_zero(quantity, precision_digits=self.precision):
            return
        if line._billing_type() not in self.scope:
            self._add(run_order, line, quantity, reason="out_of_scope")
        elif run_order.state == "held":
            self._add(
                run_order, line, quantity, reason="held", note=run_order.hold_reason
            )
        elif quantity < 0:
            self._add(
                run_order,
                line,
                quantity,
                reason="negative",
                note=_("Issue a credit note from the order for the difference."),
            )
        elif line._billing_is_timesheet_line():
            self._preview_time(run_order, line, quantity)
        else:
            self._add(run_order, line, quantity)

    def _preview_time(self, run_order, line, quantity):
        """Split a timesheet line into time inside the billed range and outside it."""
        start, end = self.run._timesheet_range(line.order_id)
        in_range = line._billing_uninvoiced_hours(start, end).get(line.id, 0.0)
        if not float_is_zero(in_range, precision_digits=self.precision):
            self._add(run_order, line, in_range)
        outside = quantity - in_range
        if outside > 0 and not float_is_zero(outside, precision_digits=self.precision):
            self._add(
                run_order,
                line,
                outside,
                reason="outside_period",
                note=_("Billed by the run whose period contains that time."),
            )

    def _preview_correction(self, run_order, correction):
        line = correction.sale_line_id
        if run_order.state == "held":
            return
        self._add(
            run_order,
            line,
            -correction.invoiced_quantity,
            kind="credit",
            note=correction.reason,
        )
        self._add(
            run_order,
            line,
            correction.corrected_quantity,
            kind="rebill",
            note=correction.reason,
        )

    def _preview_written_off(self, run_order, lines):
        """Report written-off time of the period as left out."""
        timesheet_lines = lines.filtered(lambda line: line._billing_is_timesheet_line())
        if not timesheet_lines:
            return
        groups = (
            self.env["account.analytic.line"]
            .sudo()
            ._read_group(
                [
                    ("so_line", "in", timesheet_lines.ids),
                    ("billing_write_off_id", "!=", False),
                    ("timesheet_invoice_id", "=", False),
                    ("date", ">=", self.run.date_from),
                    ("date", "<=", self.run.date_to),
                ],
                ["so_line"],
                ["unit_amount:sum"],
            )
        )
        for line, hours in groups:
            self._add(run_order, line, hours, reason="written_off")
