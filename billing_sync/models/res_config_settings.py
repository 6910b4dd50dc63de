"""Invoicing settings of billing control, stored on the company."""

from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    billing_posting_window_days = fields.Integer(
        related="company_id.billing_posting_window_days", readonly=False
    )
    billing_accrual_journal_id = fields.Many2one(
        related="company_id.billing_accrual_journal_id", readonly=False
    )
    billing_accrual_account_id = fields.Many2one(
        related="company_id.billing_accrual_account_id", readonly=False
    )
    billing_accrual_income_account_id = fields.Many2one(
        related="company_id.billing_accrual_income_account_id", readonly=False
    )
    billing_alert_won_deal_hours = fields.Integer(
        related="company_id.billing_alert_won_deal_hours", readonly=False
    )
    billing_alert_unbilled_days = fields.Integer(
        related="company_id.billing_alert_unbilled_days", readonly=False
    )
    billing_alert_crm_unpaid_hours = fields.Integer(
        related="company_id.billing_alert_crm_unpaid_hours", readonly=False
    )
