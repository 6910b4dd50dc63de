"""Billing runs: bill a period's approved work once, under finance control.

A run moves draft -> validated -> previewed -> generated -> posted, or to
cancelled. Validation records checkpoints as issues. The preview records per
order what will be invoiced and what is left out. Generation creates draft
invoices through Odoo's own sale invoicing, one order at a time. Posting
needs a billing approver and happens inside the company's posting window.
The state and the approval change only through these steps' buttons.
"""

from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

from ..services.checkpoints import RunCheckpoints
from ..services.preview import RunPreview

RUN_STATES = [
    ("draft", "Draft"),
    ("validated", "Validated"),
    ("previewed", "Previewed"),
    ("generated", "Generated"),
    ("posted", "Posted"),
    ("cancelled", "Cancelled"),
]
APPROVER_GROUP = "billing_sync.group_billing_approver"


class BillingRun(models.Model):
    _name = "billing.run"
    _description = "Billing Run"
    _inherit = ["billing.workflow.mixin", "mail.thread", "mail.activity.mixin"]
    _order = "date_to desc, id desc"
    _check_company_auto = True
    _workflow_fields = {
        "state": "draft",
        "approved_by_id": False,
        "approved_at": False,
        "posted_at": False,
    }

    name = fields.Char(required=True, copy=False, readonly=True, default="/")
    company_id = fields.Many2one(
        "res.company",
        required=True,
        default=lambda self: self.env.company,
        tracking=True,
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    user_id = fields.Many2one(
        "res.users",
        string="Responsible",
        required=True,
        default=lambda self: self.env.user,
        tracking=True,
    )
    state = fields.Selection(
        RUN_STATES,
        required=True,
        readonly=True,
        default="draft",
        tracking=True,
        copy=False,
        index=True,
    )
    date_from = fields.Date(string="Period start", required=True, tracking=True)
    date_to = fields.Date(string="Period end", required=True, tracking=True)
    invoice_date = fields.Date(
        compute="_compute_invoice_date",
        store=True,
        readonly=False,
        help="Date of the invoices and credit notes this run creates; the period "
        "end unless changed.",
    )
    include_earlier_time = fields.Boolean(
        default=True,
        help="Also bill time dated before the period that was never invoiced. "
        "When unset, only time dated inside the period is billed, except "
        "corrected time, which is always rebilled.",
    )
    partner_ids = fields.Many2many(
        "res.partner", string="Customers", help="Leave empty to bill every customer."
    )
    project_ids = fields.Many2many(
        "project.project", string="Projects", help="Leave empty to bill every project."
    )
    include_time_materials = fields.Boolean(string="Time and materials", default=True)
    include_milestones = fields.Boolean(string="Milestones", default=True)
    include_fixed_price = fields.Boolean(string="Fixed price", default=True)
    include_retainers = fields.Boolean(string="Retainers", default=True)
    include_expenses = fields.Boolean(string="Expenses", default=True)

    issue_ids = fields.One2many("billing.run.issue", "run_id", string="Issues")
    order_ids = fields.One2many("billing.run.order", "run_id", string="Orders")
    line_ids = fields.One2many("billing.run.line", "run_id", string="Preview lines")
    invoice_ids = fields.One2many("account.move", "billing_run_id", string="Invoices")
    correction_ids = fields.One2many(
        "billing.correction", "run_id", string="Corrections"
    )
    previous_run_id = fields.Many2one("billing.run", readonly=True, copy=False)

    blocking_issue_count = fields.Integer(compute="_compute_issue_counts")
    warning_issue_count = fields.Integer(compute="_compute_issue_counts")
    invoice_count = fields.Integer(compute="_compute_amounts")
    amount_preview = fields.Monetary(
        compute="_compute_amounts", help="Untaxed amount the preview expects to bill."
    )
    amount_previous = fields.Monetary(
        compute="_compute_amounts", help="Untaxed amount the previous run billed."
    )
    amount_difference = fields.Monetary(compute="_compute_amounts")
    amount_invoiced = fields.Monetary(
        compute="_compute_amounts",
        help="Untaxed total of this run's invoices net of credit notes.",
    )
    generation_complete = fields.Boolean(compute="_compute_generation_complete")
    posting_deadline = fields.Date(compute="_compute_posting_deadline")
    approved_by_id = fields.Many2one(
        "res.users", readonly=True, copy=False, tracking=True
    )
    approved_at = fields.Datetime(readonly=True, copy=False)
    posted_at = fields.Datetime(readonly=True, copy=False)

    _sql_constraints = [
        (
            "period_order",
            "CHECK(date_from <= date_to)",
            "A period must end on or after its start.",
        ),
    ]

    @api.depends("date_to")
    def _compute_invoice_date(self):
        for run in self:
            run.invoice_date = run.invoice_date or run.date_to

    @api.depends("issue_ids.severity", "issue_ids.waived")
    def _compute_issue_counts(self):
        for run in self:
            active = run.issue_ids.filtered(lambda issue: not issue.waived)
            run.blocking_issue_count = len(
                active.filtered(lambda i: i.severity == "blocking")
            )
            run.warning_issue_count = len(
                active.filtered(lambda i: i.severity == "warning")
            )

    @api.depends(
        "line_ids.amount_company",
        "line_ids.included",
        "invoice_ids.amount_untaxed_signed",
    )
    def _compute_amounts(self):
        for run in self:
            included = run.line_ids.filtered("included")
            run.amount_preview = sum(included.mapped("amount_company"))
            run.amount_previous = run.previous_run_id.amount_invoiced
            run.amount_difference = run.amount_preview - run.amount_previous
            invoices = run.invoice_ids.filtered(lambda move: move.state != "cancel")
            run.invoice_count = len(invoices)
            run.amount_invoiced = sum(invoices.mapped("amount_untaxed_signed"))

    @api.depends("order_ids.state")
    def _compute_generation_complete(self):
        for run in self:
            run.generation_complete = bool(run.order_ids) and all(
                order.state in ("done", "nothing", "held") for order in run.order_ids
            )

    @api.depends("date_to", "company_id.billing_posting_window_days")
    def _compute_posting_deadline(self):
        for run in self:
            days = run.company_id.billing_posting_window_days or 0
            run.posting_deadline = run.date_to and run.date_to + timedelta(days=days)

    @api.model_create_multi
    def create(self, vals_list):
        for values in vals_list:
            if values.get("name", "/") == "/":
                values["name"] = (
                    self.env["ir.sequence"].next_by_code("billing.run") or "/"
                )
        return super().create(vals_list)

    # ------------------------------------------------------------------
    # Scope
    # ------------------------------------------------------------------

    def _scope_billing_types(self):
        """Return the billing type keys this run bills."""
        self.ensure_one()
        flags = {
            "time_materials": self.include_time_materials,
            "milestones": self.include_milestones,
            "fixed_price": self.include_fixed_price,
            "retainers": self.include_retainers,
            "expenses": self.include_expenses,
        }
        return {key for key, enabled in flags.items() if enabled}

    def _scope_order_domain(self):
        """Return the domain of the confirmed orders inside the run's scope."""
        self.ensure_one()
        domain = [("state", "=", "sale"), ("company_id", "=", self.company_id.id)]
        if self.partner_ids:
            domain.append(("partner_id", "child_of", self.partner_ids.ids))
        if self.project_ids:
            domain += [
                "|",
                ("project_id", "in", self.project_ids.ids),
                ("order_line.project_id", "in", self.project_ids.ids),
            ]
        return domain

    def _scope_projects_domain(self):
        """Return the domain of the projects whose time the run checks."""
        self.ensure_one()
        domain = [("company_id", "in", [self.company_id.id, False])]
        if self.project_ids:
            domain.append(("id", "in", self.project_ids.ids))
        if self.partner_ids:
            domain.append(("partner_id", "child_of", self.partner_ids.ids))
        return domain

    def _timesheet_range(self, order):
        """Return the (start, end) dates of the time billed on `order`.

        The start is open when earlier time is billed too; otherwise it
        moves back to the oldest corrected timesheet, so rebills are never
        left out.
        """
        self.ensure_one()
        if self.include_earlier_time:
            return None, self.date_to
        corrections = self.env["billing.correction"].search(
            [("sale_line_id.order_id", "=", order.id), ("state", "=", "pending")]
        )
        dates = corrections.timesheet_id.mapped("date")
        return min([self.date_from, *dates]), self.date_to

    # ------------------------------------------------------------------
    # Steps
    # ------------------------------------------------------------------

    def action_validate(self):
        """Record the checkpoints as issues; validate unless one blocks the run.

        Billing users may only read issues, so that only a billing approver
        can waive one. Validation therefore writes them with superuser rights.
        """
        self.check_access("write")
        for run in self:
            run._check_state("draft", "validated")
            waived = {
                issue._waiver_key(): issue.waived_by_id
                for issue in run.issue_ids
                if issue.waived
            }
            run.issue_ids.sudo().unlink()
            self.env["billing.correction"]._collect_from_exceptions(run.company_id)
            issues = (
                self.env["billing.run.issue"]
                .sudo()
                .create(RunCheckpoints(run).collect())
            )
            # A waiver holds for the same finding when validation runs again.
            for issue in issues:
                approver = waived.get(issue._waiver_key())
                if approver is not None:
                    issue.write({"waived": True, "waived_by_id": approver.id})
            blocking = run.issue_ids.filtered(
                lambda issue: (
                    issue.severity == "blocking"
                    and not issue.order_id
                    and not issue.waived
                )
            )
            if blocking:
                run.message_post(
                    body=_(
                        "Validation found %(count)s issue(s) that block the whole run. "
                        "Fix them, then validate again.",
                        count=len(blocking),
                    )
                )
                continue
            run._write_workflow({"state": "validated"})
        return True

    def action_preview(self):
        """Record what each invoice will contain and what is left out, and why."""
        self.check_access("write")
        for run in self:
            run._check_state("validated", "previewed")
            run.line_ids.unlink()
            run.order_ids.unlink()
            run.previous_run_id = run._find_previous_run()
            RunPreview(run).build()
            run._write_workflow({"state": "previewed"})
        return True

    def action_generate(self):
        """Create the draft invoices, one order per savepoint; resumable.

        Orders already done are skipped, so pressing Generate again after a
        failure bills only what is left. An order that fails keeps its
        error and leaves the run in the previewed state.
        """
        self.check_access("write")
        for run in self:
            run._check_state("previewed", "generated")
            todo = run.order_ids.filtered(
                lambda order: order.state in ("pending", "failed")
            )
            for run_order in todo:
                run_order._generate_in_savepoint()
            failed = run.order_ids.filtered(lambda order: order.state == "failed")
            if failed:
                run.message_post(
                    body=_(
                        "%(count)s order(s) could not be invoiced: %(orders)s. Fix the "
                        "errors shown on each order, then press Generate again.",
                        count=len(failed),
                        orders=", ".join(failed.order_id.mapped("name")),
                    )
                )
                continue
            run._write_workflow({"state": "generated"})
        return True

    def action_approve(self):
        """Record the approval of a billing approver; posting needs it."""
        self._check_approver()
        self.check_access("write")
        for run in self:
            run._check_state("generated", "approved")
            run._write_workflow(
                {
                    "approved_by_id": self.env.user.id,
                    "approved_at": fields.Datetime.now(),
                }
            )
            run.message_post(body=_("Approved for posting by %s.", self.env.user.name))
        return True

    def action_post(self):
        """Post the run's draft invoices and credit notes inside the posting window."""
        self._check_approver()
        self.check_access("write")
        today = fields.Date.context_today(self)
        for run in self:
            run._check_state("generated", "posted")
            if not run.approved_by_id:
                raise UserError(
                    _(
                        "Billing run %s is not approved. A billing "
                        "approver must approve "
                        "it before posting.",
                        run.name,
                    )
                )
            run._check_posting_window(today)
            moves = run.invoice_ids.filtered(lambda move: move.state == "draft")
            moves.action_post()
            run._write_workflow({"state": "posted", "posted_at": fields.Datetime.now()})
        return True

    def action_cancel(self):
        """Cancel the run and the draft invoices it created; posted runs stay."""
        self.check_access("write")
        for run in self:
            if run.state == "posted":
                raise UserError(
                    _(
                        "Billing run %s is posted. Issue credit "
                        "notes from its invoices "
                        "instead of cancelling it.",
                        run.name,
                    )
                )
            run.invoice_ids.filtered(lambda move: move.state == "draft").button_cancel()
            run._write_workflow({"state": "cancelled"})
        return True

    def action_reset_to_draft(self):
        """Return a validated or previewed run to draft to change its scope."""
        self.check_access("write")
        for run in self:
            if run.state not in ("validated", "previewed") or run.invoice_ids:
                raise UserError(
                    _(
                        "Billing run %s has invoices or is not validated or previewed; "
                        "cancel it and start a new run instead.",
                        run.name,
                    )
                )
            run._write_workflow({"state": "draft"})
        return True

    def action_view_invoices(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "account.action_move_out_invoice_type"
        )
        action["domain"] = [("billing_run_id", "=", self.id)]
        action["context"] = {"create": False}
        return action

    def action_open_reconciliation(self):
        """Rebuild the three-way reconciliation of the run's period and open it."""
        self.ensure_one()
        rows = self.env["billing.reconciliation"]._build(
            self.company_id, self.date_from, self.date_to
        )
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "billing_sync.action_billing_reconciliation"
        )
        action["domain"] = [("id", "in", rows.ids)]
        return action

    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------

    def _check_state(self, expected, target):
        if self.state != expected:
            raise UserError(
                _(
                    "Billing run %(run)s is %(state)s; only a "
                    "%(expected)s run can move "
                    "on to %(target)s.",
                    run=self.name,
                    state=dict(RUN_STATES)[self.state],
                    expected=dict(RUN_STATES)[expected],
                    target=target,
                )
            )

    def _check_approver(self):
        if not self.env.user.has_group(APPROVER_GROUP):
            raise AccessError(
                _(
                    "Only billing approvers can approve or post billing runs. Ask an "
                    "accounting administrator to add %s to the Billing approver group.",
                    self.env.user.name,
                )
            )

    def _check_posting_window(self, today):
        """Raise unless `today` is between the period end and the posting deadline."""
        self.ensure_one()
        if self.date_to <= today <= self.posting_deadline:
            return
        raise UserError(
            _(
                "Billing run %(run)s can be posted from %(start)s to %(end)s only, and "
                "today is %(today)s. Post it inside that window, or ask an accounting "
                "administrator to widen the company's posting window.",
                run=self.name,
                start=self.date_to,
                end=self.posting_deadline,
                today=today,
            )
        )

    def _find_previous_run(self):
        self.ensure_one()
        return self.search(
            [
                ("company_id", "=", self.company_id.id),
                ("state", "in", ("generated", "posted")),
                ("date_to", "<", self.date_from),
                ("id", "!=", self.id),
            ],
            order="date_to desc, id desc",
            limit=1,
        )
