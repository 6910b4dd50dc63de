"""The Monday view: one card per company with the figures a partner reads first."""

from dateutil.relativedelta import relativedelta

from odoo import fields, models, tools
from odoo.tools import SQL, date_utils


class BillingDashboard(models.Model):
    _name = "billing.dashboard"
    _description = "Billing Dashboard"
    _auto = False

    company_id = fields.Many2one("res.company", readonly=True)
    currency_id = fields.Many2one(related="company_id.currency_id")
    pipeline = fields.Monetary(compute="_compute_figures")
    backlog = fields.Monetary(compute="_compute_figures")
    wip = fields.Monetary(string="Work in progress", compute="_compute_figures")
    invoiced_month = fields.Monetary(
        string="Invoiced this month", compute="_compute_figures"
    )
    invoiced_last_month = fields.Monetary(compute="_compute_figures")
    collected_month = fields.Monetary(
        string="Collected this month", compute="_compute_figures"
    )
    outstanding = fields.Monetary(compute="_compute_figures")
    margin_month = fields.Monetary(
        string="Margin this month", compute="_compute_figures"
    )
    realisation_rate = fields.Float(
        string="Realisation (%)",
        compute="_compute_figures",
        help="Billed value over standard value, last 3 months.",
    )
    utilization_rate = fields.Float(
        string="Utilization (%)",
        compute="_compute_figures",
        help="Billable hours over capacity, last 3 months.",
    )
    open_alert_count = fields.Integer(compute="_compute_figures")
    runs_to_approve = fields.Integer(compute="_compute_figures")

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            SQL(
                "CREATE VIEW %s AS SELECT id, id AS company_id FROM res_company",
                SQL.identifier(self._table),
            )
        )

    def _sum(self, company, names, month_from=None, month_to=None):
        domain = [("company_id", "=", company.id)]
        if month_from:
            domain.append(("month", ">=", month_from))
        if month_to:
            domain.append(("month", "<=", month_to))
        totals = (
            self.env["billing.figure"]
            .sudo()
            ._read_group(domain, [], [f"{name}:sum" for name in names])[0]
        )
        return dict(zip(names, (value or 0.0 for value in totals), strict=True))

    def _compute_figures(self):
        this_month = date_utils.start_of(fields.Date.context_today(self), "month")
        last_month = this_month - relativedelta(months=1)
        quarter = this_month - relativedelta(months=2)
        for card in self:
            company = card.company_id
            stock = self._sum(company, ["pipeline", "backlog", "wip", "outstanding"])
            month = self._sum(
                company, ["invoiced", "collected", "margin"], this_month, this_month
            )
            previous = self._sum(company, ["invoiced"], last_month, last_month)
            rates = self._sum(
                company,
                ["billed_value", "standard_value", "hours_billable", "capacity_hours"],
                quarter,
                this_month,
            )
            card.update(
                {
                    "pipeline": stock["pipeline"],
                    "backlog": stock["backlog"],
                    "wip": stock["wip"],
                    "outstanding": stock["outstanding"],
                    "invoiced_month": month["invoiced"],
                    "collected_month": month["collected"],
                    "margin_month": month["margin"],
                    "invoiced_last_month": previous["invoiced"],
                    "realisation_rate": _ratio(
                        rates["billed_value"], rates["standard_value"]
                    ),
                    "utilization_rate": _ratio(
                        rates["hours_billable"], rates["capacity_hours"]
                    ),
                    "open_alert_count": self.env["integration.exception"]
                    .sudo()
                    .search_count(
                        [
                            ("company_id", "=", company.id),
                            ("state", "in", ("new", "in_progress")),
                        ]
                    ),
                    "runs_to_approve": self.env["billing.run"].search_count(
                        [("company_id", "=", company.id), ("state", "=", "generated")]
                    ),
                }
            )

    def action_open_figures(self):
        """Open the figures of this card's company as a pivot."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "billing_sync.action_billing_figure"
        )
        action["domain"] = [("company_id", "=", self.company_id.id)]
        return action


def _ratio(numerator, denominator):
    return 100.0 * numerator / denominator if denominator else 0.0
