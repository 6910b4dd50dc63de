"""Corrections of invoiced time: a draft credit note, then a rebill.

The PSA connector opens an `integration.exception` of category
`timesheet_changed_after_invoicing` when time that Odoo already invoiced
changes in the PSA. Each such exception becomes one correction here. The
next billing run that covers the order credits the invoiced quantity on a
draft credit note of the original invoice, writes the corrected hours on
the timesheet and frees it, so the same run invoices it again.
"""

from odoo import _, api, fields, models
from odoo.exceptions import UserError

# Fields a correction copies from its timesheet when the create values lack them.
TIMESHEET_FIGURES = {"sale_line_id", "invoice_id", "invoiced_hours", "company_id"}

CORRECTION_STATES = [
    ("draft", "To approve"),
    ("pending", "Waiting for a run"),
    ("done", "Credited and rebilled"),
    ("cancelled", "Cancelled"),
]


class BillingCorrection(models.Model):
    _name = "billing.correction"
    _description = "Billing Correction"
    _inherit = ["mail.thread"]
    _order = "id desc"
    _check_company_auto = True

    name = fields.Char(compute="_compute_name", store=True)
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda s: s.env.company
    )
    state = fields.Selection(
        CORRECTION_STATES, required=True, default="draft", tracking=True
    )
    exception_id = fields.Many2one("integration.exception", readonly=True, index=True)
    timesheet_id = fields.Many2one(
        "account.analytic.line", required=True, ondelete="restrict", index=True
    )
    sale_line_id = fields.Many2one("sale.order.line", required=True, readonly=True)
    invoice_id = fields.Many2one(
        "account.move",
        string="Corrected invoice",
        readonly=True,
        help="The invoice that billed the time before it changed.",
    )
    invoiced_hours = fields.Float(
        readonly=True, help="Hours billed on the corrected invoice."
    )
    corrected_hours = fields.Float(tracking=True, help="Hours the PSA now records.")
    difference_hours = fields.Float(
        string="Difference",
        compute="_compute_difference_hours",
        help="Corrected hours minus invoiced hours: what the run bills again, "
        "or credits when negative.",
    )
    invoiced_quantity = fields.Float(
        compute="_compute_quantities", digits="Product Unit of Measure"
    )
    corrected_quantity = fields.Float(
        compute="_compute_quantities", digits="Product Unit of Measure"
    )
    reason = fields.Text(required=True, tracking=True)
    run_id = fields.Many2one("billing.run", readonly=True, index=True)
    credit_note_id = fields.Many2one("account.move", readonly=True)
    rebill_invoice_id = fields.Many2one("account.move", readonly=True)

    @api.depends("timesheet_id", "invoice_id")
    def _compute_name(self):
        for correction in self:
            correction.name = _(
                "%(invoice)s: %(timesheet)s",
                invoice=correction.invoice_id.name or "-",
                timesheet=correction.timesheet_id.display_name or "",
            )

    @api.depends("invoiced_hours", "corrected_hours")
    def _compute_difference_hours(self):
        for correction in self:
            correction.difference_hours = (
                correction.corrected_hours - correction.invoiced_hours
            )

    @api.depends("invoiced_hours", "corrected_hours", "sale_line_id.product_uom")
    def _compute_quantities(self):
        for correction in self:
            uom = correction.timesheet_id.product_uom_id
            target = correction.sale_line_id.product_uom
            convert = uom and target and uom.category_id == target.category_id
            correction.invoiced_quantity = (
                uom._compute_quantity(correction.invoiced_hours, target)
                if convert
                else correction.invoiced_hours
            )
            correction.corrected_quantity = (
                uom._compute_quantity(correction.corrected_hours, target)
                if convert
                else correction.corrected_hours
            )

    @api.model_create_multi
    def create(self, vals_list):
        Timesheet = self.env["account.analytic.line"]
        for values in vals_list:
            missing = TIMESHEET_FIGURES - values.keys()
            if missing:
                timesheet = Timesheet.browse(values["timesheet_id"])
                copied = self._values_from_timesheet(timesheet)
                values.update({name: copied[name] for name in missing})
        return super().create(vals_list)

    def action_confirm(self):
        """Approve the corrected hours: the next run covering the order applies them.

        The exception the correction came from asked for this decision, so
        it is resolved by the person who approves.
        """
        for correction in self:
            if correction.state != "draft":
                raise UserError(
                    _("Correction %s is already approved.", correction.name)
                )
            correction.state = "pending"
            correction._resolve_exception()
        return True

    def action_cancel(self):
        """Drop a correction that no run applied yet.

        The exception an approved correction resolved opens again, since
        its changed time is no longer handled.
        """
        for correction in self:
            approved = correction.state == "pending"
            if correction.state == "done":
                raise UserError(
                    _(
                        "Correction %s is already credited and rebilled; reverse its "
                        "credit note instead.",
                        correction.name,
                    )
                )
            correction.state = "cancelled"
            if approved:
                correction._reopen_exception()
        return True

    @api.model
    def _values_from_timesheet(self, timesheet):
        """Return what a correction copies from the timesheet it corrects."""
        return {
            "timesheet_id": timesheet.id,
            "sale_line_id": timesheet.so_line.id,
            "invoice_id": timesheet.timesheet_invoice_id.id,
            "invoiced_hours": timesheet.unit_amount,
            "company_id": timesheet.company_id.id,
        }

    def _resolve_exception(self):
        """Resolve the open exception of an approved correction, as its approver.

        Only an approver who may write the exception (an Integrations
        Manager) resolves it here. For anyone else it stays open until the
        billing run that credits and rebills the time resolves it.
        """
        self.ensure_one()
        exception = self.exception_id
        if exception.state not in ("new", "in_progress"):
            return
        if not exception.has_access("write"):
            return
        exception.message_post(
            body=_(
                "%(user)s approved correction %(name)s: %(corrected).2f h instead of "
                "%(invoiced).2f h invoiced. The next billing run that covers the "
                "order credits and rebills it.",
                user=self.env.user.name,
                name=self.name,
                corrected=self.corrected_hours,
                invoiced=self.invoiced_hours,
            )
        )
        exception._billing_close_job(self)
        exception._close("resolved")

    def _reopen_exception(self):
        """Open the exception of a cancelled correction again, for a new decision."""
        self.ensure_one()
        exception = self.exception_id
        if exception.state != "resolved" or not exception.has_access("write"):
            return
        exception.action_reopen()
        exception._billing_reopen_job(self)
        exception.message_post(
            body=_(
                "%(user)s cancelled correction %(name)s; the changed time needs a "
                "new decision.",
                user=self.env.user.name,
                name=self.name,
            )
        )

    @api.model
    def _collect_from_exceptions(self, company):
        """Open a correction for each new changed-after-invoicing exception."""
        exceptions = (
            self.env["integration.exception"]
            .sudo()
            .search(
                [
                    ("company_id", "=", company.id),
                    ("category", "=", "timesheet_changed_after_invoicing"),
                    ("state", "in", ("new", "in_progress")),
                    ("res_model", "=", "account.analytic.line"),
                ]
            )
        )
        known = self.search([("exception_id", "in", exceptions.ids)]).exception_id
        created = self.browse()
        for exception in exceptions - known:
            created |= exception._billing_open_correction()
        return created

    def _apply(self, run):
        """Credit the corrected time and free it for rebilling; return credit notes.

        Corrections of a posted invoice get one draft credit note per
        invoice. When the original invoice is a draft or cancelled, no
        credit is needed: the time is freed and billed again directly.
        """
        credit_notes = self.env["account.move"]
        posted = self.filtered(lambda c: c.invoice_id.state == "posted")
        for invoice in posted.invoice_id:
            corrections = posted.filtered(lambda c, i=invoice: c.invoice_id == i)
            credit_notes |= corrections._create_credit_note(run)
        for correction in self:
            correction._rewrite_timesheet()
        return credit_notes

    def _create_credit_note(self, run):
        """Reverse the invoice, then keep only the corrected quantity per order line."""
        invoice = self.invoice_id
        reasons = "; ".join(self.mapped("reason"))
        date = run.invoice_date or fields.Date.context_today(self)
        credit_note = invoice._reverse_moves(
            [
                {
                    "ref": _(
                        "Correction of %(invoice)s: %(reason)s",
                        invoice=invoice.name,
                        reason=reasons,
                    ),
                    "invoice_date": date,
                    "date": date,
                    "billing_run_id": run.id,
                }
            ]
        )
        commands = []
        for line in credit_note.invoice_line_ids.filtered(
            lambda line: line.display_type == "product"
        ):
            corrections = self.filtered(
                lambda c, move_line=line: c.sale_line_id in move_line.sale_line_ids
            )
            if not corrections:
                commands.append(fields.Command.delete(line.id))
                continue
            quantity = sum(corrections.mapped("invoiced_quantity"))
            commands.append(fields.Command.update(line.id, {"quantity": quantity}))
        credit_note.write({"invoice_line_ids": commands})
        self.write({"credit_note_id": credit_note.id})
        credit_note.message_post(body=_("Credit note of corrected time: %s", reasons))
        return credit_note

    def _rewrite_timesheet(self):
        """Unlink the timesheet from the corrected invoice and set its new hours."""
        timesheet = self.timesheet_id.sudo()
        timesheet.write({"timesheet_invoice_id": False})
        timesheet.write({"unit_amount": self.corrected_hours})

    def _mark_rebilled(self, invoices):
        """Link each correction to the invoice that billed its time again."""
        for correction in self:
            rebill = correction.timesheet_id.timesheet_invoice_id & invoices
            correction.write({"state": "done", "rebill_invoice_id": rebill.id})
            if rebill:
                rebill.message_post(
                    body=_(
                        "Rebills corrected time of %(invoice)s: %(reason)s",
                        invoice=correction.invoice_id.name or "-",
                        reason=correction.reason,
                    )
                )
            exception = correction.exception_id.sudo()
            if exception:
                exception.message_post(
                    body=_(
                        "Credited and rebilled by billing run %s.",
                        correction.run_id.name,
                    )
                )
            if exception.state in ("new", "in_progress"):
                exception._billing_close_job(correction)
                exception._close("resolved")
