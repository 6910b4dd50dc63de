"""Compute the executive figures of one company, row by row.

A row is (month, customer, project, salesperson); each measure lands in the
row of its own date:

- pipeline: open opportunities' expected revenue, by expected closing month;
- backlog (sold not delivered) and work in progress (delivered not
  invoiced): values as of the refresh, in the month of the refresh;
- invoiced, collected and outstanding: posted customer invoices by invoice
  date, payments by payment date, residual amounts by invoice date;
- cost of time and of expenses, hours, realisation values: by work date;
- capacity: contract hours of the employees who recorded time, in rows
  without a customer, project or salesperson.

Amounts are in the company's currency: untaxed, except collected and
outstanding, which are cash and include taxes.
"""

from collections import defaultdict
from datetime import datetime, time

from dateutil.relativedelta import relativedelta

from odoo.tools import date_utils

MEASURES = (
    "pipeline",
    "backlog",
    "wip",
    "invoiced",
    "collected",
    "outstanding",
    "cost_time",
    "cost_expenses",
    "hours_total",
    "hours_billable",
    "capacity_hours",
    "standard_value",
    "billed_value",
    "written_off_value",
)


def month_of(day):
    return date_utils.start_of(day, "month")


def project_of(sale_line):
    """Return the project a sale order line's work belongs to."""
    order = sale_line.order_id
    return sale_line.project_id or order.project_id or order.sudo().project_ids[:1]


class FigureBuilder:
    """Accumulate measures per row key, then return `billing.figure` values."""

    def __init__(self, company, today, months_back=12):
        self.company = company
        self.env = company.env
        self.today = today
        self.start = month_of(today) - relativedelta(months=months_back)
        self.rows = defaultdict(lambda: defaultdict(float))

    def build(self):
        """Return the create values of every row with a non-zero measure."""
        self._add_pipeline()
        self._add_backlog_and_wip()
        self._add_invoices()
        self._add_timesheets()
        self._add_expenses()
        self._add_capacity()
        values = []
        for (month, partner, project, user), measures in self.rows.items():
            if not any(measures.values()):
                continue
            row = {
                "company_id": self.company.id,
                "month": month,
                "partner_id": partner,
                "project_id": project,
                "user_id": user,
            }
            row.update({name: measures.get(name, 0.0) for name in MEASURES})
            row["margin"] = row["invoiced"] - row["cost_time"] - row["cost_expenses"]
            values.append(row)
        return values

    def _add(self, where, measure, value):
        """Add `value` to `measure` in the row of `where`.

        `where` is (day, customer, project, salesperson).
        """
        day, partner, project, user = where
        key = (
            month_of(day),
            partner.commercial_partner_id.id or False,
            project.id or False,
            user.id or False,
        )
        self.rows[key][measure] += value

    def _to_company(self, amount, currency, day):
        company = self.company
        return currency._convert(
            amount, company.currency_id, company, day or self.today
        )

    def _add_pipeline(self):
        leads = (
            self.env["crm.lead"]
            .sudo()
            .search(
                [
                    ("company_id", "in", [self.company.id, False]),
                    ("type", "=", "opportunity"),
                    ("active", "=", True),
                    ("stage_id.is_won", "=", False),
                    ("probability", "<", 100),
                ]
            )
        )
        for lead in leads:
            day = lead.date_deadline or self.today
            amount = self._to_company(lead.expected_revenue, lead.company_currency, day)
            self._add(
                (day, lead.partner_id, self.env["project.project"], lead.user_id),
                "pipeline",
                amount,
            )

    def _add_backlog_and_wip(self):
        lines = (
            self.env["sale.order.line"]
            .sudo()
            .search(
                [
                    ("company_id", "=", self.company.id),
                    ("state", "=", "sale"),
                    ("display_type", "=", False),
                    ("is_downpayment", "=", False),
                ]
            )
        )
        for line in lines:
            order = line.order_id
            delivered = line._billing_untaxed_amount(line.qty_delivered)
            done = max(delivered, line.untaxed_amount_invoiced)
            backlog = max(line.price_subtotal - done, 0.0)
            wip = (
                line.untaxed_amount_to_invoice
                if line.product_id.invoice_policy == "delivery"
                else 0.0
            )
            for measure, amount in (("backlog", backlog), ("wip", wip)):
                if amount:
                    self._add(
                        (self.today, order.partner_id, project_of(line), order.user_id),
                        measure,
                        self._to_company(amount, line.currency_id, self.today),
                    )

    def _add_invoices(self):
        moves = (
            self.env["account.move"]
            .sudo()
            .search(
                [
                    ("company_id", "=", self.company.id),
                    ("state", "=", "posted"),
                    ("move_type", "in", ("out_invoice", "out_refund")),
                    ("invoice_date", ">=", self.start),
                ]
            )
        )
        for move in moves:
            shares = self._invoice_shares(move)
            collected = self._collected_by_date(move)
            outstanding = (
                -move.amount_residual_signed
                if move.move_type == "out_refund"
                else move.amount_residual_signed
            )
            for project, share, amount in shares:
                self._add(
                    (move.invoice_date, move.partner_id, project, move.invoice_user_id),
                    "invoiced",
                    amount,
                )
                self._add(
                    (move.invoice_date, move.partner_id, project, move.invoice_user_id),
                    "outstanding",
                    outstanding * share,
                )
                for day, paid in collected.items():
                    self._add(
                        (day, move.partner_id, project, move.invoice_user_id),
                        "collected",
                        paid * share,
                    )

    def _invoice_shares(self, move):
        """Return [(project, share of the invoice, untaxed company amount)]."""
        amounts = defaultdict(float)
        projects = {}
        for line in move.invoice_line_ids.filtered(
            lambda line: line.display_type == "product"
        ):
            sale_line = line.sale_line_ids[:1]
            project = (
                project_of(sale_line) if sale_line else self.env["project.project"]
            )
            projects[project.id] = project
            amounts[project.id] += -line.balance
        total = sum(amounts.values())
        return [
            (projects[key], (amount / total) if total else 0.0, amount)
            for key, amount in amounts.items()
        ]

    def _collected_by_date(self, move):
        """Return {payment date: amount paid on `move`}, company currency, signed."""
        sign = -1 if move.move_type == "out_refund" else 1
        lines = move.line_ids.filtered(
            lambda line: line.account_id.account_type == "asset_receivable"
        )
        collected = defaultdict(float)
        for partial in lines.matched_debit_ids | lines.matched_credit_ids:
            collected[partial.max_date] += sign * partial.amount
        return collected

    def _add_timesheets(self):
        timesheets = (
            self.env["account.analytic.line"]
            .sudo()
            .search(
                [
                    ("company_id", "=", self.company.id),
                    ("project_id", "!=", False),
                    ("date", ">=", self.start),
                ]
            )
        )
        for timesheet in timesheets:
            line = timesheet.so_line
            partner = line.order_id.partner_id or timesheet.project_id.partner_id
            user = line.order_id.user_id
            key = (timesheet.date, partner, timesheet.project_id, user)
            self._add(key, "hours_total", timesheet.unit_amount)
            self._add(key, "cost_time", -timesheet.amount)
            if line and line._billing_is_timesheet_line():
                self._add_realisation(timesheet, line, key)

    def _add_realisation(self, timesheet, line, key):
        """Add billable hours and their standard, billed and written-off values."""
        quantity = timesheet.product_uom_id._compute_quantity(
            timesheet.unit_amount, line.product_uom, raise_if_failure=False
        )
        standard = self._to_company(
            line.product_id.lst_price * quantity,
            self.company.currency_id,
            timesheet.date,
        )
        value = self._to_company(
            line._billing_untaxed_amount(quantity), line.currency_id, timesheet.date
        )
        self._add(key, "hours_billable", timesheet.unit_amount)
        self._add(key, "standard_value", standard)
        invoice = timesheet.timesheet_invoice_id
        if timesheet.billing_write_off_id:
            self._add(key, "written_off_value", value)
        elif invoice.state == "posted" and invoice.payment_state != "reversed":
            self._add(key, "billed_value", value)

    def _add_expenses(self):
        expenses = (
            self.env["hr.expense"]
            .sudo()
            .search(
                [
                    ("company_id", "=", self.company.id),
                    ("state", "in", ("approved", "done")),
                    ("date", ">=", self.start),
                ]
            )
        )
        for expense in expenses:
            order = expense.sale_order_id
            project = order.project_id or order.project_ids[:1]
            self._add(
                (expense.date, order.partner_id, project, order.user_id),
                "cost_expenses",
                expense.total_amount,
            )

    def _add_capacity(self):
        """Add each month's contract hours of the employees who recorded time."""
        groups = (
            self.env["account.analytic.line"]
            .sudo()
            ._read_group(
                [
                    ("company_id", "=", self.company.id),
                    ("project_id", "!=", False),
                    ("employee_id", "!=", False),
                    ("date", ">=", self.start),
                ],
                ["date:month", "employee_id"],
            )
        )
        nobody = self.env["res.partner"]
        for month, employee in groups:
            start = datetime.combine(month_of(month), time.min)
            end = datetime.combine(date_utils.end_of(month, "month"), time.max)
            hours = employee._get_work_days_data_batch(start, end, compute_leaves=False)
            self._add(
                (month, nobody, self.env["project.project"], self.env["res.users"]),
                "capacity_hours",
                hours.get(employee.id, {}).get("hours", 0.0),
            )
