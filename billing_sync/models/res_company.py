"""Company settings of billing control: posting window, accrual accounts, alerts."""

from odoo import _, fields, models
from odoo.exceptions import UserError


class ResCompany(models.Model):
    _inherit = "res.company"

    billing_posting_window_days = fields.Integer(
        string="Posting window (days)",
        default=5,
        help="Days after the end of a billing run's period during which its "
        "invoices may be posted. Zero allows posting on the period's last day only.",
    )
    billing_accrual_journal_id = fields.Many2one(
        "account.journal",
        string="Accrual journal",
        domain="[('type', '=', 'general'), ('company_id', '=', id)]",
        help="Miscellaneous journal of the month-end unbilled-revenue entries.",
    )
    billing_accrual_account_id = fields.Many2one(
        "account.account",
        string="Unbilled revenue account",
        help="Current-asset account debited with work delivered but not invoiced.",
    )
    billing_accrual_income_account_id = fields.Many2one(
        "account.account",
        string="Accrued income account",
        help="Income account credited by the accrual. When empty, each line "
        "uses its product's income account.",
    )
    billing_alert_won_deal_hours = fields.Integer(
        string="Won deal without project after (hours)",
        default=48,
        help="Hours after a deal is won before a missing project raises an alert.",
    )
    billing_alert_unbilled_days = fields.Integer(
        string="Time not invoiced after (days)",
        default=45,
        help="Days after billable time was worked before it raises an alert "
        "when it is still not invoiced.",
    )
    billing_alert_crm_unpaid_hours = fields.Integer(
        string="Paid invoice not in the CRM after (hours)",
        default=24,
        help="Hours after an invoice is paid before a CRM that "
        "was not told raises an alert.",
    )

    def _billing_accrual_accounts(self):
        """Return (journal, unbilled revenue account), creating defaults when missing.

        Defaults are the company's first miscellaneous journal and a new
        current-asset account next to the existing ones. A company without
        a chart of accounts gets a UserError that names what to configure.
        """
        self.ensure_one()
        journal = self.billing_accrual_journal_id or self.env["account.journal"].search(
            [
                *self.env["account.journal"]._check_company_domain(self),
                ("type", "=", "general"),
            ],
            limit=1,
        )
        account = (
            self.billing_accrual_account_id or self._billing_create_accrual_account()
        )
        if not journal or not account:
            raise UserError(
                _(
                    "Company %(company)s has no miscellaneous journal or no chart of "
                    "accounts. Install a chart of accounts or set the accrual journal "
                    "and account in the Invoicing settings.",
                    company=self.display_name,
                )
            )
        self.sudo().write(
            {
                "billing_accrual_journal_id": journal.id,
                "billing_accrual_account_id": account.id,
            }
        )
        return journal, account

    def _billing_create_accrual_account(self):
        Account = self.env["account.account"].sudo().with_company(self)
        sibling = Account.search(
            [
                *Account._check_company_domain(self),
                ("account_type", "=", "asset_current"),
            ],
            order="code",
            limit=1,
        )
        if not sibling:
            return Account
        return Account.create(
            {
                "name": _("Unbilled Revenue"),
                "code": Account._search_new_account_code(sibling.code),
                "account_type": "asset_current",
                "company_ids": [fields.Command.link(self.id)],
            }
        )
