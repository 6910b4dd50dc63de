"""Three-way reconciliation per project and period: CRM, PSA and Odoo.

Each row is one project. It holds the deal value sold in the CRM and the
value of the approved billable time the PSA sent. Next to them are the
value of all billable time in Odoo and what Odoo invoiced and was paid.
Variances compare them, and drill-down actions open the rows behind each
figure.
"""

from datetime import timedelta

from odoo import _, api, fields, models
from odoo.tools import date_utils

from ..services.figures import project_of
from ..services.status import CRM_KINDS, PSA_KINDS


class BillingReconciliation(models.Model):
    _name = "billing.reconciliation"
    _description = "Billing Reconciliation"
    _order = "date_from desc, project_id"

    company_id = fields.Many2one(
        "res.company", required=True, readonly=True, index=True
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    date_from = fields.Date(required=True, readonly=True)
    date_to = fields.Date(required=True, readonly=True)
    project_id = fields.Many2one("project.project", required=True, readonly=True)
    partner_id = fields.Many2one(related="project_id.partner_id", store=True)
    deal_value = fields.Monetary(
        readonly=True, help="Value of the CRM deals the project sells."
    )
    psa_hours = fields.Float(string="PSA hours", readonly=True)
    psa_value = fields.Monetary(
        string="PSA approved value",
        readonly=True,
        help="Billable time received from the PSA, at the order price.",
    )
    odoo_hours = fields.Float(readonly=True)
    odoo_value = fields.Monetary(string="Odoo billable value", readonly=True)
    invoiced = fields.Monetary(
        readonly=True, help="Posted in the period, net of credit notes."
    )
    paid = fields.Monetary(readonly=True, help="Part of those invoices paid so far.")
    variance_psa_odoo = fields.Monetary(string="PSA - Odoo", readonly=True)
    variance_odoo_invoiced = fields.Monetary(
        string="Billable - invoiced", readonly=True
    )
    variance_invoiced_paid = fields.Monetary(string="Invoiced - paid", readonly=True)
    variance_deal_invoiced = fields.Monetary(
        string="Deal - invoiced to date",
        readonly=True,
        help="Deal value minus everything invoiced on the project so far.",
    )

    @api.model
    def _build(self, company, date_from, date_to):
        """Rebuild the rows of `company` for the period; return them."""
        self.sudo().search(
            [
                ("company_id", "=", company.id),
                ("date_from", "=", date_from),
                ("date_to", "=", date_to),
            ]
        ).unlink()
        projects = (
            self.env["project.project"]
            .sudo()
            .search(
                [
                    ("company_id", "in", [company.id, False]),
                    ("allow_billable", "=", True),
                ]
            )
        )
        rows = []
        for project in projects:
            values = self._project_values(company, project, date_from, date_to)
            if any(
                values[key]
                for key in ("deal_value", "psa_value", "odoo_value", "invoiced")
            ):
                rows.append(values)
        return self.sudo().create(rows)

    @api.model
    def _build_last_month(self):
        today = fields.Date.context_today(self)
        date_to = date_utils.start_of(today, "month") - timedelta(days=1)
        date_from = date_utils.start_of(date_to, "month")
        for company in self.env["res.company"].search([]):
            self._build(company, date_from, date_to)

    @api.model
    def _project_values(self, company, project, date_from, date_to):
        timesheets = self._timesheets(company, project, date_from, date_to)
        psa = self._psa_timesheets(timesheets)
        invoice_lines = self._invoice_lines(company, project)
        in_period = invoice_lines.filtered(
            lambda line: date_from <= line.move_id.invoice_date <= date_to
        )
        invoiced = -sum(in_period.mapped("balance"))
        paid = self._paid(in_period)
        deal_value = self._deal_value(company, project)
        values = {
            "company_id": company.id,
            "date_from": date_from,
            "date_to": date_to,
            "project_id": project.id,
            "deal_value": deal_value,
            "psa_hours": sum(psa.mapped("unit_amount")),
            "psa_value": self._value(psa, company),
            "odoo_hours": sum(timesheets.mapped("unit_amount")),
            "odoo_value": self._value(timesheets, company),
            "invoiced": invoiced,
            "paid": paid,
        }
        values.update(
            variance_psa_odoo=values["psa_value"] - values["odoo_value"],
            variance_odoo_invoiced=values["odoo_value"] - invoiced,
            variance_invoiced_paid=invoiced - paid,
            variance_deal_invoiced=deal_value + sum(invoice_lines.mapped("balance")),
        )
        return values

    @api.model
    def _timesheets(self, company, project, date_from, date_to):
        return (
            self.env["account.analytic.line"]
            .sudo()
            .search(
                [
                    ("company_id", "=", company.id),
                    ("project_id", "=", project.id),
                    ("so_line", "!=", False),
                    ("date", ">=", date_from),
                    ("date", "<=", date_to),
                ]
            )
        )

    @api.model
    def _psa_timesheets(self, timesheets):
        mapped = (
            self.env["integration.external.id"]
            .sudo()
            .search(
                [
                    ("backend_id.kind", "in", PSA_KINDS),
                    ("res_model", "=", "account.analytic.line"),
                    ("res_id", "in", timesheets.ids),
                ]
            )
        )
        return timesheets.filtered(lambda t: t.id in set(mapped.mapped("res_id")))

    @api.model
    def _value(self, timesheets, company):
        return self.env["billing.write.off"]._value_of(timesheets, company)

    @api.model
    def _invoice_lines(self, company, project):
        lines = (
            self.env["account.move.line"]
            .sudo()
            .search(
                [
                    ("company_id", "=", company.id),
                    ("parent_state", "=", "posted"),
                    ("move_id.move_type", "in", ("out_invoice", "out_refund")),
                    ("display_type", "=", "product"),
                    ("sale_line_ids", "!=", False),
                ]
            )
        )
        return lines.filtered(
            lambda line: project_of(line.sale_line_ids[:1]) == project
        )

    @api.model
    def _paid(self, invoice_lines):
        """Return the paid part of the untaxed amount of `invoice_lines`."""
        paid = 0.0
        for move in invoice_lines.move_id:
            if not move.amount_total_signed:
                continue
            ratio = 1 - move.amount_residual_signed / move.amount_total_signed
            lines = invoice_lines.filtered(lambda line, m=move: line.move_id == m)
            paid += -sum(lines.mapped("balance")) * ratio
        return paid

    @api.model
    def _deal_value(self, company, project):
        orders = project.sudo().sale_line_id.order_id | project.sudo().sale_order_id
        orders |= (
            self.env["sale.order.line"]
            .sudo()
            .search([("project_id", "=", project.id)])
            .order_id
        )
        value = 0.0
        mapped = (
            self.env["integration.external.id"]
            .sudo()
            .search(
                [
                    ("backend_id.kind", "in", CRM_KINDS),
                    ("res_model", "=", "sale.order"),
                    ("res_id", "in", orders.ids),
                ]
            )
        )
        orders = orders.filtered(
            lambda o: o.state == "sale" and o.company_id == company
        )
        for order in orders:
            lead = order.opportunity_id
            if lead:
                amount = lead.expected_revenue
                currency = lead.company_currency
            elif order.id in mapped.mapped("res_id"):
                amount, currency = order.amount_untaxed, order.currency_id
            else:
                continue
            value += currency._convert(
                amount, company.currency_id, company, order.date_order
            )
        return value

    def _drill_down(self, name, model, domain):
        return {
            "type": "ir.actions.act_window",
            "name": name,
            "res_model": model,
            "view_mode": "list,form",
            "domain": domain,
        }

    def action_open_timesheets(self):
        """Open the billable time of the project in the period."""
        self.ensure_one()
        timesheets = self._timesheets(
            self.company_id, self.project_id, self.date_from, self.date_to
        )
        return self._drill_down(
            _("Billable time"), "account.analytic.line", [("id", "in", timesheets.ids)]
        )

    def action_open_psa_timesheets(self):
        """Open the time of the period the PSA sent."""
        self.ensure_one()
        timesheets = self._psa_timesheets(
            self._timesheets(
                self.company_id, self.project_id, self.date_from, self.date_to
            )
        )
        return self._drill_down(
            _("PSA time"), "account.analytic.line", [("id", "in", timesheets.ids)]
        )

    def action_open_invoices(self):
        """Open the invoices of the project posted in the period."""
        self.ensure_one()
        lines = self._invoice_lines(self.company_id, self.project_id).filtered(
            lambda line: self.date_from <= line.move_id.invoice_date <= self.date_to
        )
        return self._drill_down(
            _("Invoices"), "account.move", [("id", "in", lines.move_id.ids)]
        )

    def action_open_orders(self):
        """Open the sale orders and deals the project sells."""
        self.ensure_one()
        orders = (
            self.env["sale.order.line"]
            .search([("project_id", "=", self.project_id.id)])
            .order_id
            | self.project_id.sale_order_id
        )
        return self._drill_down(_("Orders"), "sale.order", [("id", "in", orders.ids)])
