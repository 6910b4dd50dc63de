"""Billing alerts: broken business rules raised as exceptions with an owner.

Each alert has a dedup key, so a cron that finds the same problem again
updates the open exception instead of opening another one.
"""

from datetime import timedelta

from odoo import _, fields

from .status import (
    CRM_BRIDGE_FLOW,
    CRM_KINDS,
    CRM_STATUS_FLOW,
    crm_deal_mappings,
    job_mentions_deal,
)


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

    def _open(self, category, key, *, name, description, record, owner):
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
        for lead in leads.filtered(lambda lead: not lead.order_ids.project_ids):
            exceptions |= self._open(
                "won_deal_without_project",
                f"crm.lead:{lead.id}",
                name=_("Won deal %s has no project", lead.name),
                description=_(
                    "The deal was won on %(date)s and no project delivers it "
                    "yet. Confirm its quotation or create the project.",
                    date=lead.date_closed,
                ),
                record=lead,
                owner=lead.user_id,
            )
        for order in orders.filtered(lambda o: not o.project_ids):
            exceptions |= self._open(
                "won_deal_without_project",
                f"sale.order:{order.id}",
                name=_("Order %s from a won deal has no project", order.name),
                description=_(
                    "The order was confirmed on %(date)s. Create its project or add a "
                    "service that creates one.",
                    date=order.date_order,
                ),
                record=order,
                owner=order.user_id,
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
                name=_(
                    "%(hours).2f hours of %(project)s not invoiced",
                    hours=hours,
                    project=project.display_name,
                ),
                description=_(
                    "Time worked before %(date)s on project %(project)s is still not "
                    "invoiced. Bill it in the next billing run or write it off.",
                    date=limit,
                    project=project.display_name,
                ),
                record=project,
                owner=owner,
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
                name=_(
                    "Invoice %s is paid but the CRM still shows it unpaid", move.name
                ),
                description=_(
                    "The paid status of the invoice did not reach the CRM. Check the "
                    "invoice status jobs in Integrations > Sync Jobs and replay them."
                ),
                record=move,
                owner=move.invoice_user_id,
            )
        return exceptions

    def _crm_status_missing(self, move, limit):
        """Return True when a mapped deal did not receive the payment in time.

        The payment time is when the last payment was matched to the
        invoice. A status job that finished after it delivered the status.
        """
        paid_at = self._paid_at(move)
        if not paid_at or paid_at > limit:
            return False
        jobs = (
            self.env["integration.sync.job"]
            .sudo()
            .search(
                [
                    ("direction", "=", "outbound"),
                    ("flow", "in", (CRM_STATUS_FLOW, CRM_BRIDGE_FLOW)),
                    ("state", "=", "done"),
                    ("finished_at", ">=", paid_at),
                ]
            )
        )
        for mapping in crm_deal_mappings(move):
            told = jobs.filtered(
                lambda job, m=mapping: (
                    job.backend_id == m.backend_id
                    and job_mentions_deal(job, m.external_id)
                )
            )
            if not told:
                return True
        return False

    def _paid_at(self, move):
        receivable = move.line_ids.filtered(
            lambda line: line.account_id.account_type == "asset_receivable"
        )
        partials = receivable.matched_debit_ids | receivable.matched_credit_ids
        return max(partials.mapped("create_date"), default=None)
