"""Month-end accrual of unbilled revenue: work delivered but not invoiced.

One draft journal entry per company and period end debits the unbilled
revenue account and credits income with the value, at the order price, of
what Odoo counts as delivered and not invoiced on that date. An accountant
computes it; a billing approver, who may only read accruals otherwise,
posts it, and its reversal is dated the first day of the next period.
"""

from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import date_utils


class BillingAccrual(models.Model):
    _name = "billing.accrual"
    _description = "Unbilled Revenue Accrual"
    _inherit = ["billing.workflow.mixin", "mail.thread"]
    _order = "date desc, id desc"
    _check_company_auto = True
    _workflow_fields = {
        "state": "draft",
        "move_id": False,
        "reversal_move_id": False,
        "reviewed_by_id": False,
    }

    name = fields.Char(compute="_compute_name", store=True)
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda s: s.env.company
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    date = fields.Date(
        string="Period end",
        required=True,
        default=lambda self: (
            date_utils.start_of(fields.Date.context_today(self), "month")
            - timedelta(days=1)
        ),
    )
    reversal_date = fields.Date(compute="_compute_reversal_date", store=True)
    state = fields.Selection(
        [
            ("draft", "Draft"),
            ("to_review", "To review"),
            ("posted", "Posted"),
            ("cancelled", "Cancelled"),
        ],
        required=True,
        readonly=True,
        default="draft",
        tracking=True,
    )
    line_ids = fields.One2many("billing.accrual.line", "accrual_id", string="Lines")
    amount = fields.Monetary(compute="_compute_amount", store=True)
    move_id = fields.Many2one(
        "account.move", string="Accrual entry", readonly=True, copy=False
    )
    reversal_move_id = fields.Many2one(
        "account.move", string="Reversal entry", readonly=True, copy=False
    )
    reviewed_by_id = fields.Many2one("res.users", readonly=True, copy=False)

    _sql_constraints = [
        (
            "company_date_unique",
            "UNIQUE(company_id, date)",
            "A company has one unbilled revenue accrual per period end.",
        ),
    ]

    @api.depends("company_id", "date")
    def _compute_name(self):
        for accrual in self:
            accrual.name = _("Unbilled revenue %(date)s", date=accrual.date)

    @api.depends("date")
    def _compute_reversal_date(self):
        for accrual in self:
            accrual.reversal_date = accrual.date and accrual.date + timedelta(days=1)

    @api.depends("line_ids.amount_company")
    def _compute_amount(self):
        for accrual in self:
            accrual.amount = sum(accrual.line_ids.mapped("amount_company"))

    def action_compute(self):
        """Compute the lines and the draft entry, replacing earlier drafts.

        Accountants may not delete lines by hand, so the lines of the
        earlier draft go with superuser rights once the accrual's own write
        right is checked.
        """
        self.check_access("write")
        for accrual in self:
            if accrual.state not in ("draft", "to_review"):
                raise UserError(_("Accrual %s is posted or cancelled.", accrual.name))
            if accrual.move_id:
                accrual.move_id.unlink()
            accrual.line_ids.sudo().unlink()
            self.env["billing.accrual.line"].create(accrual._prepare_lines())
            accrual._write_workflow(
                {"move_id": accrual._create_move().id, "state": "to_review"}
            )
        return True

    def action_post(self):
        """Post the reviewed entry and its reversal on the next period's first day.

        A reversal dated in the future stays a draft that Odoo posts on its
        date (auto_post), as for any future-dated entry. A billing approver
        may only read accruals, so the accrual records the posting with
        superuser rights once the approver is checked.
        """
        self.env["billing.run"]._check_approver()
        self.check_access("read")
        for accrual in self:
            if accrual.state != "to_review" or not accrual.move_id:
                raise UserError(
                    _("Compute accrual %s before posting it.", accrual.name)
                )
            accrual.move_id.action_post()
            reversal = accrual.move_id._reverse_moves(
                [
                    {
                        "date": accrual.reversal_date,
                        "ref": _("Reversal of %s", accrual.move_id.ref),
                    }
                ]
            )
            reversal._post(soft=True)
            accrual._write_workflow(
                {
                    "state": "posted",
                    "reversal_move_id": reversal.id,
                    "reviewed_by_id": self.env.user.id,
                }
            )
        return True

    def action_cancel(self):
        """Drop a draft accrual and its draft entry."""
        self.check_access("write")
        for accrual in self:
            if accrual.state == "posted":
                raise UserError(
                    _("Accrual %s is posted; reverse its entry instead.", accrual.name)
                )
            if accrual.move_id:
                accrual.move_id.unlink()
            accrual._write_workflow({"state": "cancelled"})
        return True

    def _delivered_lines(self):
        """Return sale order lines invoiced on delivery with delivered work."""
        return self.env["sale.order.line"].search(
            [
                ("company_id", "=", self.company_id.id),
                ("state", "=", "sale"),
                ("display_type", "=", False),
                ("is_downpayment", "=", False),
                ("product_id.invoice_policy", "=", "delivery"),
                ("qty_delivered", "!=", 0),
            ]
        )

    def _prepare_lines(self):
        """Return accrual line values for the delivered, uninvoiced work."""
        self.ensure_one()
        values = []
        for line in self._delivered_lines():
            quantity, amount = self._to_invoice_on_date(line)
            if not line.currency_id.is_zero(amount):
                values.append(self._line_values(line, quantity, amount))
        return values

    def _to_invoice_on_date(self, line):
        """Return (quantity, untaxed amount) delivered, not invoiced, on the period end.

        Uses Odoo's `accrual_entry_date` context, which limits timesheets
        and invoices to those dated on or before the period end. Only
        posted invoices count, as in Odoo's own amount to invoice.
        """
        dated = line.with_context(accrual_entry_date=self.date)
        delivered = line.qty_delivered
        if line.qty_delivered_method == "timesheet":
            domain = dated._timesheet_compute_delivered_quantity_domain()
            quantities = line.sudo()._get_delivered_quantity_by_analytic(domain)
            delivered = quantities.get(line.id, 0.0)
        invoiced_quantity = invoiced_amount = 0.0
        for invoice_line in dated._get_invoice_lines():
            move = invoice_line.move_id
            if move.state != "posted":
                continue
            sign = -1 if move.move_type == "out_refund" else 1
            invoiced_quantity += sign * invoice_line.product_uom_id._compute_quantity(
                invoice_line.quantity, line.product_uom
            )
            invoiced_amount += sign * invoice_line.currency_id._convert(
                invoice_line.price_subtotal,
                line.currency_id,
                line.company_id,
                move.invoice_date,
            )
        amount = line._billing_untaxed_amount(delivered) - invoiced_amount
        return delivered - invoiced_quantity, amount

    def _line_values(self, line, quantity, amount):
        company = self.company_id
        return {
            "accrual_id": self.id,
            "sale_line_id": line.id,
            "quantity": quantity,
            "currency_id": line.currency_id.id,
            "amount": amount,
            "amount_company": line.currency_id._convert(
                amount, company.currency_id, company, self.date
            ),
        }

    def _create_move(self):
        """Create the draft entry: one income line per order line, one debit."""
        self.ensure_one()
        if not self.line_ids:
            return self.env["account.move"]
        journal, account = self.company_id._billing_accrual_accounts()
        commands = [
            fields.Command.create(line._move_line_values()) for line in self.line_ids
        ]
        commands.append(
            fields.Command.create(
                {
                    "name": _("Unbilled revenue"),
                    "account_id": account.id,
                    "debit": self.amount,
                    "credit": 0.0,
                }
            )
        )
        return self.env["account.move"].create(
            {
                "move_type": "entry",
                "journal_id": journal.id,
                "date": self.date,
                "ref": _("Unbilled revenue accrual as of %s", self.date),
                "line_ids": commands,
            }
        )

    @api.model
    def _cron_prepare_accruals(self):
        """Compute last month's draft accrual of every company that has none."""
        period_end = date_utils.start_of(
            fields.Date.context_today(self), "month"
        ) - timedelta(days=1)
        companies = (
            self.env["res.company"].sudo().search([("chart_template", "!=", False)])
        )
        created = self.browse()
        for company in companies:
            if self.search_count(
                [("company_id", "=", company.id), ("date", "=", period_end)]
            ):
                continue
            accrual = self.create({"company_id": company.id, "date": period_end})
            accrual.with_company(company).action_compute()
            created |= accrual
        return created


class BillingAccrualLine(models.Model):
    _name = "billing.accrual.line"
    _description = "Unbilled Revenue Accrual Line"

    accrual_id = fields.Many2one(
        "billing.accrual", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="accrual_id.company_id", store=True)
    sale_line_id = fields.Many2one("sale.order.line", required=True, ondelete="cascade")
    order_id = fields.Many2one(related="sale_line_id.order_id", store=True)
    partner_id = fields.Many2one(related="sale_line_id.order_id.partner_id", store=True)
    quantity = fields.Float(
        digits="Product Unit of Measure",
        help="Delivered and not invoiced on the period end.",
    )
    currency_id = fields.Many2one("res.currency", required=True)
    amount = fields.Monetary(
        help="Untaxed value at the order price, in the order's currency."
    )
    company_currency_id = fields.Many2one(
        related="company_id.currency_id", string="Company Currency"
    )
    amount_company = fields.Monetary(currency_field="company_currency_id")

    def _move_line_values(self):
        """Return the income line of the accrual entry for this order line."""
        company = self.company_id
        line = self.sale_line_id
        account = (
            company.billing_accrual_income_account_id
            or (
                line.product_id.product_tmpl_id.with_company(
                    company
                ).get_product_accounts(fiscal_pos=line.order_id.fiscal_position_id)[
                    "income"
                ]
            )
        )
        values = {
            "name": _(
                "%(order)s - %(line)s", order=line.order_id.name, line=line.name[:60]
            ),
            "account_id": account.id,
            "debit": 0.0,
            "credit": self.amount_company,
            "analytic_distribution": line.analytic_distribution or False,
        }
        if self.currency_id != company.currency_id:
            values.update(currency_id=self.currency_id.id, amount_currency=-self.amount)
        return values
