"""The validation checkpoints of a billing run, each a method returning issues.

Each check returns `billing.run.issue` create values. A blocking issue with
an order holds that order back; one without an order blocks the whole run.
"""

from odoo import _

PSA_KINDS = ("harvest", "productive")


class RunCheckpoints:
    """Collect the issues of one billing run."""

    def __init__(self, run):
        self.run = run
        self.env = run.env
        self.company = run.company_id

    def collect(self):
        """Return the create values of every issue found."""
        checks = [
            self._check_psa_exceptions,
            self._check_psa_queue,
            self._check_time_without_sale_line,
            self._check_rates_and_products,
            self._check_customer_data,
            self._check_budgets,
            self._check_milestones,
            self._check_corrections,
        ]
        issues = []
        for check in checks:
            issues += check()
        return issues

    def _issue(self, code, severity, message, **values):
        return dict(
            values, run_id=self.run.id, code=code, severity=severity, message=message
        )

    def _candidate_lines(self):
        orders = self.env["sale.order"].search(self.run._scope_order_domain())
        return orders.order_line.filtered(
            lambda line: (
                not line.display_type
                and not line.is_downpayment
                and line.qty_to_invoice > 0
                and line._billing_type() in self.run._scope_billing_types()
            )
        )

    def _check_psa_exceptions(self):
        """Open PSA exceptions mean time that did not reach Odoo."""
        exceptions = (
            self.env["integration.exception"]
            .sudo()
            .search(
                [
                    ("company_id", "=", self.company.id),
                    ("state", "in", ("new", "in_progress")),
                    ("backend_id.kind", "in", PSA_KINDS),
                    ("category", "!=", "timesheet_changed_after_invoicing"),
                ]
            )
        )
        return [
            self._issue(
                "psa_exception",
                "blocking",
                _(
                    "PSA exception %(name)s is open: resolve or ignore it, then "
                    "validate again.",
                    name=exception.name,
                ),
                res_model="integration.exception",
                res_id=exception.id,
            )
            for exception in exceptions
        ]

    def _check_psa_queue(self):
        """Queued or failed PSA imports are time not yet in Odoo."""
        Job = self.env["integration.sync.job"].sudo()
        base = [
            ("backend_id.company_id", "=", self.company.id),
            ("backend_id.kind", "in", PSA_KINDS),
            ("direction", "=", "inbound"),
        ]
        issues = []
        failed = Job.search([*base, ("state", "in", ("failed", "dead"))])
        stuck = len(failed.filtered(self._job_blocks_billing))
        if stuck:
            issues.append(
                self._issue(
                    "psa_queue",
                    "blocking",
                    _(
                        "%(count)s PSA import job(s) failed. Replay or resolve them in "
                        "Integrations > Sync Jobs, then validate again.",
                        count=stuck,
                    ),
                )
            )
        queued = Job.search_count([*base, ("state", "in", ("pending", "running"))])
        if queued:
            issues.append(
                self._issue(
                    "psa_queue",
                    "warning",
                    _(
                        "%(count)s PSA import job(s) are still "
                        "queued; time they carry is "
                        "not billed until they run.",
                        count=queued,
                    ),
                )
            )
        return issues

    @staticmethod
    def _job_blocks_billing(job):
        """Return True unless every exception of the failed job is settled.

        Settled means resolved, ignored, or a changed-after-invoicing
        exception, which billing corrections handle.
        """
        if not job.exception_ids:
            return True
        return any(
            exception.state in ("new", "in_progress")
            and exception.category != "timesheet_changed_after_invoicing"
            for exception in job.exception_ids
        )

    def _check_time_without_sale_line(self):
        """Time on billable projects that no sale order line will bill."""
        projects = self.env["project.project"].search(
            [*self.run._scope_projects_domain(), ("allow_billable", "=", True)]
        )
        groups = (
            self.env["account.analytic.line"]
            .sudo()
            ._read_group(
                [
                    ("project_id", "in", projects.ids),
                    ("so_line", "=", False),
                    ("billing_write_off_id", "=", False),
                    ("date", ">=", self.run.date_from),
                    ("date", "<=", self.run.date_to),
                ],
                ["project_id"],
                ["unit_amount:sum"],
            )
        )
        return [
            self._issue(
                "no_sale_line",
                "warning",
                _(
                    "Project %(project)s has %(hours).2f hours in the period without a "
                    "sale order line; they will not be billed.",
                    project=project.display_name,
                    hours=hours,
                ),
                project_id=project.id,
            )
            for project, hours in groups
        ]

    def _check_rates_and_products(self):
        issues = []
        for line in self._candidate_lines():
            order = line.order_id
            if not line.price_unit:
                issues.append(
                    self._issue(
                        "missing_rate",
                        "blocking",
                        _(
                            "Line %(line)s of order %(order)s has no "
                            "price. Set its rate, "
                            "then validate again.",
                            line=line.name,
                            order=order.name,
                        ),
                        order_id=order.id,
                        partner_id=order.partner_id.id,
                    )
                )
            accounts = line.product_id.product_tmpl_id.with_company(
                self.company
            ).get_product_accounts(fiscal_pos=order.fiscal_position_id)
            if not line.product_id or not accounts.get("income"):
                issues.append(
                    self._issue(
                        "missing_product",
                        "blocking",
                        _(
                            "Line %(line)s of order %(order)s has no "
                            "product or no income "
                            "account. Set them, then validate again.",
                            line=line.name,
                            order=order.name,
                        ),
                        order_id=order.id,
                        partner_id=order.partner_id.id,
                    )
                )
        return issues

    def _check_customer_data(self):
        issues = []
        for order in self._candidate_lines().order_id:
            missing = order.partner_invoice_id._billing_missing_invoice_data()
            if missing:
                customer = order.partner_invoice_id.commercial_partner_id
                issues.append(
                    self._issue(
                        "customer_data",
                        "blocking",
                        _(
                            "Customer %(customer)s lacks %(missing)s, "
                            "which order %(order)s's "
                            "invoice needs.",
                            customer=customer.display_name,
                            missing=", ".join(missing),
                            order=order.name,
                        ),
                        order_id=order.id,
                        partner_id=customer.id,
                        res_model="res.partner",
                        res_id=customer.id,
                    )
                )
        return issues

    def _check_budgets(self):
        """Projects over their allocated hours and prepaid lines used up."""
        issues = []
        projects = self.env["project.project"].search(
            [*self.run._scope_projects_domain(), ("allocated_hours", ">", 0)]
        )
        for project in projects.filtered(
            lambda p: p.effective_hours > p.allocated_hours
        ):
            issues.append(
                self._issue(
                    "budget_overrun",
                    "warning",
                    _(
                        "Project %(project)s used %(used).2f of "
                        "%(budget).2f allocated hours.",
                        project=project.display_name,
                        used=project.effective_hours,
                        budget=project.allocated_hours,
                    ),
                    project_id=project.id,
                )
            )
        orders = self.env["sale.order"].search(self.run._scope_order_domain())
        for line in orders.order_line.filtered(
            lambda sol: sol.remaining_hours_available and sol.remaining_hours < 0
        ):
            issues.append(
                self._issue(
                    "budget_overrun",
                    "warning",
                    _(
                        "Prepaid line %(line)s of order %(order)s "
                        "is %(hours).2f hours over.",
                        line=line.name,
                        order=line.order_id.name,
                        hours=-line.remaining_hours,
                    ),
                    partner_id=line.order_id.partner_id.id,
                )
            )
        return issues

    def _check_milestones(self):
        """Milestones whose deadline passed or whose tasks are all closed."""
        orders = self.env["sale.order"].search(self.run._scope_order_domain())
        milestones = (
            self.env["project.milestone"]
            .sudo()
            .search(
                [
                    ("sale_line_id.order_id", "in", orders.ids),
                    ("is_reached", "=", False),
                ]
            )
        )
        issues = []
        for milestone in milestones:
            tasks = milestone.task_ids
            done = bool(tasks) and all(
                task.state in ("1_done", "1_canceled") for task in tasks
            )
            late = milestone.deadline and milestone.deadline <= self.run.date_to
            if done or late:
                issues.append(
                    self._issue(
                        "milestone_unmarked",
                        "warning",
                        _(
                            "Milestone %(milestone)s of project "
                            "%(project)s looks reached "
                            "(%(why)s) but is not marked reached, so it is not billed.",
                            milestone=milestone.name,
                            project=milestone.project_id.display_name,
                            why=_("all its tasks are closed")
                            if done
                            else _("deadline passed"),
                        ),
                        project_id=milestone.project_id.id,
                        res_model="project.milestone",
                        res_id=milestone.id,
                    )
                )
        return issues

    def _check_corrections(self):
        corrections = self.env["billing.correction"].search(
            [("company_id", "=", self.company.id), ("state", "=", "draft")]
        )
        return [
            self._issue(
                "correction",
                "blocking",
                _(
                    "Correction %(name)s waits for approval of its corrected hours. "
                    "Check them and press Approve, then validate again.",
                    name=correction.display_name,
                ),
                order_id=correction.sale_line_id.order_id.id,
                res_model="billing.correction",
                res_id=correction.id,
            )
            for correction in corrections
        ]
