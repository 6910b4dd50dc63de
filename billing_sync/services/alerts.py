"""Billing alerts: broken business rules raised as exceptions with an owner.

Each alert has a dedup key, so a cron that finds the same problem again
updates the open exception instead of opening another one.
"""

from datetime import timedelta

from odoo import _, fields

from .status import CRM_KINDS, CRM_STATUS_FLOW, crm_deal_mappings


class BillingAlerts:
    """Find the alerts of one company and open their exceptions."""

    def __init__(self, company):
        self.company = company
        self.env = company.env
        self.now = fields.Datetime.now()
        self.Exception = self.env["integration.exception"].sudo()

    def raise_all(self):
        """Open or refresh every alert; return the exceptions."""
        return (
            self.won_deals_without_project()
            | self.time_not_invoiced()
            | self.paid_invoices_unpaid_in_crm()
        )

    def _open(self, category, key, name, description, record, owner):
        return self.Exception._open(
            {
                "name": name,
                "description": description,
                "category": category,
                "impact": self.Exception._impact_of(category),
                "company_id": self.company.id,
                "res_model": record._name,
                "res_id": record.id,
                "user_id": owner.id or False,
                "dedup_key": f"billing:{category}:{key}",
            }
        )

    def won_deals_without_project(self):
        """Won opportunities and CRM orders with no project after the set hours."""
        limit = self.now - timedelta(hours=self.company.billing_alert_won_deal_hours)
        leads = (
            self.env["crm.lead"]
            .sudo()
            .search(
                [
                    ("company_id", "in", [self.company.id, False]),
                    ("type", "=", "opportunity"),
                    ("stage_id.is_won", "=", True),
                    ("date_closed", "<", limit),
                ]
            )
        )
        mapped = (
            self.env["integration.external.id"]
            .sudo()
            .search(
                [
                    ("backend_id.kind", "in", CRM_KINDS),
                    ("res_model", "=", "sale.order"),
                    ("backend_id.company_id", "=", self.company.id),
                ]
            )
        )
        orders = self.env["sale.order"].sudo().browse(mapped.mapped("res_id")).exists()
        orders = orders.filtered(lambda o: o.state == "sale" and o.date_order < limit)
        exceptions = self.Exception.browse()
        for lead in leads.filtered(lambda line: not line.order_ids.project_ids):
            exceptions |= self._open(
                "won_deal_without_project",
                f"crm.lead:{lead.id}",
                _("Won deal %s has no project", lead.name),
                _(
                    "The deal was won on %(date)s and no project delivers it yet. Confirm "
                    "its quotation or create the project.",
                    date=lead.date_closed,
                ),
                lead,
                lead.user_id,
            )
        for order in orders.filtered(lambda o: not o.project_ids):
            exceptions |= self._open(
                "won_deal_without_project",
                f"sale.order:{order.id}",
                _("Order %s from a won deal has no project", order.name),
                _(
                    "The order was confirmed on %(date)s. Create its project or add a "
                    "service that creates one.",
                    date=order.date_order,
                ),
                order,
                order.user_id,
            )
        return exceptions

    def time_not_invoiced(self):
        """Billable time older than the set days that is still not invoiced."""
        limit = fields.Date.context_today(self.company) - timedelta(
            days=self.company.billing_alert_unbilled_days
        )
        groups = (
            self.env["account.analytic.line"]
            .sudo()
            ._read_group(
                [
                    ("company_id", "=", self.company.id),
                    ("project_id", "!=", False),
                    ("so_line", "!=", False),
                    ("timesheet_invoice_id", "=", False),
                    ("billing_write_off_id", "=", False),
                    ("date", "<", limit),
                    ("so_line.product_id.invoice_policy", "=", "delivery"),
                ],
                ["project_id"],
                ["unit_amount:sum"],
            )
        )
        exceptions = self.Exception.browse()
        for project, hours in groups:
            owner = project.user_id or project.sale_line_id.order_id.user_id
            exceptions |= self._open(
                "time_not_invoiced",
                f"project.project:{project.id}",
                _(
                    "%(hours).2f hours of %(project)s not invoiced",
                    hours=hours,
                    project=project.display_name,
                ),
                _(
                    "Time worked before %(date)s on project %(project)s is still not "
                    "invoiced. Bill it in the next billing run or write it off.",
                    date=limit,
                    project=project.display_name,
                ),
                project,
                owner,
            )
        return exceptions

    def paid_invoices_unpaid_in_crm(self):
        """Paid invoices whose paid status the CRM has not received in time."""
        limit = self.now - timedelta(hours=self.company.billing_alert_crm_unpaid_hours)
        moves = (
            self.env["account.move"]
            .sudo()
            .search(
                [
                    ("company_id", "=", self.company.id),
                    ("move_type", "=", "out_invoice"),
                    ("state", "=", "posted"),
                    ("payment_state", "in", ("paid", "in_payment")),
                ]
            )
        )
        exceptions = self.Exception.browse()
        for move in moves:
            if not self._crm_status_missing(move, limit):
                continue
            exceptions |= self._open(
                "crm_shows_unpaid",
                f"account.move:{move.id}",
                _("Invoice %s is paid but the CRM still shows it unpaid", move.name),
                _(
                    "The paid status of the invoice did not reach the CRM. Check the "
                    "invoice status jobs in Integrations > Sync Jobs and replay them."
                ),
                move,
                move.invoice_user_id,
            )
        return exceptions

    def _crm_status_missing(self, move, limit):
        """Return True when a mapped deal has not received the paid status in time."""
        if not crm_deal_mappings(move):
            return False
        jobs = (
            self.env["integration.sync.job"]
            .sudo()
            .search(
                [
                    ("flow", "=", CRM_STATUS_FLOW),
                    ("res_model", "=", "account.move"),
                    ("res_id", "=", move.id),
                ]
            )
        )
        paid = [
            job
            for job in jobs
            if (job.payload or {}).get("payment_state") == move.payment_state
        ]
        if any(job.state == "done" for job in paid):
            return False
        sent_at = min((job.create_date for job in paid), default=None)
        return sent_at is None or sent_at < limit
