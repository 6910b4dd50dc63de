"""One order of a billing run: its preview totals and its generation progress.

The row is the run's record of what it did for the order. Generation skips
rows already done. Before it creates an invoice, it looks for one this run
already made for the order, so a retried run never bills twice. An order
that a blocking issue held back is billed only once a billing approver
has waived the issue, even when its row was set back to pending.
"""

import logging

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError

from ..services.preview import RunPreview
from .billing_run import APPROVER_GROUP

_logger = logging.getLogger(__name__)

ORDER_STATES = [
    ("pending", "To generate"),
    ("done", "Invoiced"),
    ("nothing", "Nothing to invoice"),
    ("held", "Held back"),
    ("failed", "Failed"),
]


class BillingRunOrder(models.Model):
    _name = "billing.run.order"
    _description = "Billing Run Order"
    _order = "run_id, id"

    run_id = fields.Many2one(
        "billing.run", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="run_id.company_id", store=True)
    order_id = fields.Many2one(
        "sale.order", required=True, ondelete="restrict", index=True
    )
    partner_id = fields.Many2one(related="order_id.partner_id", store=True)
    currency_id = fields.Many2one(related="order_id.currency_id", store=True)
    state = fields.Selection(ORDER_STATES, required=True, default="pending", index=True)
    hold_reason = fields.Char()
    error = fields.Text(readonly=True)
    line_ids = fields.One2many("billing.run.line", "run_order_id", string="Lines")
    invoice_ids = fields.Many2many("account.move", string="Invoices", readonly=True)
    amount_preview = fields.Monetary(compute="_compute_amount_preview", store=True)
    amount_previous = fields.Monetary(
        readonly=True, help="What the previous run invoiced on this order, untaxed."
    )
    amount_difference = fields.Monetary(compute="_compute_amount_preview", store=True)
    amount_invoiced = fields.Monetary(compute="_compute_amount_invoiced")

    _sql_constraints = [
        (
            "run_order_unique",
            "UNIQUE(run_id, order_id)",
            "An order appears once per run.",
        ),
    ]

    @api.depends("line_ids.amount", "line_ids.included", "amount_previous")
    def _compute_amount_preview(self):
        for run_order in self:
            lines = run_order.line_ids.filtered("included")
            run_order.amount_preview = sum(lines.mapped("amount"))
            run_order.amount_difference = (
                run_order.amount_preview - run_order.amount_previous
            )

    @api.depends("invoice_ids.amount_untaxed", "invoice_ids.state")
    def _compute_amount_invoiced(self):
        for run_order in self:
            total = 0.0
            for move in run_order.invoice_ids.filtered(lambda m: m.state != "cancel"):
                sign = -1 if move.move_type == "out_refund" else 1
                total += sign * move.amount_untaxed
            run_order.amount_invoiced = total

    def _generate_in_savepoint(self):
        """Generate this order's documents; record a failure instead of raising.

        An order still held by an issue no approver waived is held again
        instead, however its row came to be pending.
        """
        self.ensure_one()
        issues = self._holding_issues()
        if issues:
            self.write({"state": "held", "hold_reason": issues[0].message})
            return
        try:
            with self.env.cr.savepoint():
                self._generate()
        except (UserError, ValidationError) as error:
            _logger.info(
                "Billing run %s: order %s failed: %s",
                self.run_id.name,
                self.order_id.name,
                error,
            )
            self.write({"state": "failed", "error": str(error)})

    def _generate(self):
        """Credit corrected time, then invoice the order's previewed lines."""
        already = self._existing_invoices()
        if already:
            self._record_documents(already, "done")
            return

        order = self.order_id
        order.partner_invoice_id._billing_check_invoice_data(order)
        corrections = self.run_id.correction_ids.filtered(
            lambda c: c.state == "pending" and c.sale_line_id.order_id == order
        )
        credit_notes = corrections._apply(self.run_id)
        invoices = self._create_order_invoices()
        corrections._mark_rebilled(invoices)

        documents = credit_notes | invoices
        self._record_documents(documents, "done" if documents else "nothing")

    def _existing_invoices(self):
        """Return the invoices this run already created for the order."""
        order = self.order_id
        return self.run_id.invoice_ids.filtered(
            lambda move: (
                move.state != "cancel"
                and move.move_type == "out_invoice"
                and order in move.line_ids.sale_line_ids.order_id
            )
        )

    def _record_documents(self, documents, state):
        self.write(
            {
                "state": state,
                "invoice_ids": [fields.Command.set(documents.ids)],
                "error": False,
            }
        )

    def _create_order_invoices(self):
        """Invoice the included lines with Odoo's `sale.order._create_invoices`.

        NOTE: the quantity of timesheet lines comes from the run's own count
        of uninvoiced time in the range, as sale_timesheet's invoicing wizard
        sets it. The wizard also counts all time of an invoice again once a
        posted credit note reverses it, even partly. After a correction's
        partial credit note, that rule would bill the uncorrected time twice,
        so the run does not use it.
        """
        run = self.run_id
        order = self.order_id
        lines = self.line_ids.filtered(
            lambda line: line.included and line.kind != "credit"
        )
        sale_lines = lines.sale_line_id
        if not sale_lines:
            return self.env["account.move"]
        start, end = run._timesheet_range(order)
        timesheet_lines = sale_lines.filtered(
            lambda line: line._billing_is_timesheet_line()
        )
        hours = timesheet_lines._billing_uninvoiced_hours(start, end)
        for line in timesheet_lines:
            line.qty_to_invoice = hours.get(line.id, 0.0)
        invoices = order.with_context(
            billing_run_line_ids=sale_lines.ids,
            timesheet_start_date=start,
            timesheet_end_date=end,
            raise_if_nothing_to_invoice=False,
        )._create_invoices(grouped=True, final=True)
        values = {"billing_run_id": run.id}
        if run.invoice_date:
            values["invoice_date"] = run.invoice_date
        invoices.write(values)
        return invoices

    def action_hold(self):
        """Leave this order out of the run until it is released."""
        for run_order in self:
            if run_order.state not in ("pending", "failed"):
                raise UserError(
                    _(
                        "Order %s is already invoiced or held in this run.",
                        run_order.order_id.name,
                    )
                )
            run_order.write(
                {"state": "held", "hold_reason": _("Held by %s", self.env.user.name)}
            )
        return True

    def action_release(self):
        """Put held orders back among the orders to generate.

        A billing user releases an order held by hand. An order that a
        blocking issue holds back needs a billing approver: the release
        waives the issue in the approver's name and previews the order
        again, since its lines were left out while it was held.
        """
        for run_order in self.filtered(lambda o: o.state == "held"):
            issues = run_order._holding_issues()
            if issues:
                run_order._check_release_approver(issues)
                issues.action_waive()
            run_order.write({"state": "pending", "hold_reason": False})
            if issues:
                RunPreview(run_order.run_id).rebuild_order(run_order)
        return True

    def _holding_issues(self):
        """Return the blocking issues no approver waived that hold this order."""
        self.ensure_one()
        return self.run_id.issue_ids.filtered(
            lambda issue: (
                issue.order_id == self.order_id
                and issue.severity == "blocking"
                and not issue.waived
            )
        )

    def _check_release_approver(self, issues):
        if self.env.user.has_group(APPROVER_GROUP):
            return
        raise AccessError(
            _(
                "Order %(order)s is held back by a blocking issue: %(issue)s Only "
                "a billing approver can release it, which waives the issue. Ask a "
                "member of the Billing approver group to release it, or fix the "
                "issue, reset the run to draft and validate it again.",
                order=self.order_id.name,
                issue=issues[0].message,
            )
        )
