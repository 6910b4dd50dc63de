"""Executive figures per customer, project, salesperson and month.

A table rebuilt per company by a cron (and a Refresh button) from Odoo's own
records; see services/figures.py for what each measure counts.
"""

from odoo import api, fields, models

from ..services.figures import FigureBuilder


class BillingFigure(models.Model):
    _name = "billing.figure"
    _description = "Billing Figure"
    _order = "month desc, partner_id, project_id"

    company_id = fields.Many2one(
        "res.company", required=True, index=True, readonly=True
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    month = fields.Date(required=True, index=True, readonly=True)
    partner_id = fields.Many2one(
        "res.partner", string="Customer", readonly=True, index=True
    )
    project_id = fields.Many2one("project.project", readonly=True, index=True)
    user_id = fields.Many2one(
        "res.users", string="Salesperson", readonly=True, index=True
    )
    pipeline = fields.Monetary(
        readonly=True, help="Open opportunities' expected revenue."
    )
    backlog = fields.Monetary(
        readonly=True, help="Sold and not yet delivered, as of the refresh."
    )
    wip = fields.Monetary(
        string="Work in progress",
        readonly=True,
        help="Delivered and not yet invoiced, as of the refresh.",
    )
    invoiced = fields.Monetary(
        readonly=True, help="Posted invoices net of credit notes."
    )
    collected = fields.Monetary(
        readonly=True, help="Payments received, taxes included, by payment date."
    )
    outstanding = fields.Monetary(
        readonly=True, help="Unpaid part of the month's invoices, taxes included."
    )
    cost_time = fields.Monetary(string="Cost of time", readonly=True)
    cost_expenses = fields.Monetary(string="Cost of expenses", readonly=True)
    margin = fields.Monetary(
        readonly=True, help="Invoiced minus the cost of time and expenses."
    )
    hours_total = fields.Float(string="Hours", readonly=True)
    hours_billable = fields.Float(string="Billable hours", readonly=True)
    capacity_hours = fields.Float(
        readonly=True, help="Contract hours of the employees who recorded time."
    )
    standard_value = fields.Monetary(
        readonly=True, help="Billable hours at the product's list price."
    )
    billed_value = fields.Monetary(
        readonly=True, help="Value, at the order price, of the hours invoiced."
    )
    written_off_value = fields.Monetary(
        string="Lost realisation",
        readonly=True,
        help="Value of written-off hours at the order price.",
    )

    @api.model
    def _refresh(self, companies=None, today=None):
        """Rebuild the figures of `companies` (every company when None)."""
        companies = companies or self.env["res.company"].search([])
        today = today or fields.Date.context_today(self)
        for company in companies:
            self.sudo().search([("company_id", "=", company.id)]).unlink()
            rows = FigureBuilder(company.with_company(company), today).build()
            self.sudo().create(rows)
        return True

    @api.model
    def _cron_refresh(self):
        """Rebuild every company's figures and last month's reconciliation."""
        self._refresh()
        self.env["billing.reconciliation"]._build_last_month()
        return True

    @api.model
    def action_refresh(self):
        """Rebuild the figures of the current companies now."""
        self._refresh(self.env.companies)
        return {"type": "ir.actions.client", "tag": "reload"}
