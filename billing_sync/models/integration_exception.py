"""Exceptions: billing alert categories, and corrections of invoiced time."""

from odoo import _, api, fields, models

from ..services.alerts import BillingAlerts

BILLING_ALERT_CATEGORIES = [
    ("timesheet_changed_after_invoicing", "Timesheet changed after invoicing"),
    ("won_deal_without_project", "Won deal without a project"),
    ("time_not_invoiced", "Approved time not invoiced"),
    ("crm_shows_unpaid", "Paid invoice shown unpaid in the CRM"),
]


class IntegrationException(models.Model):
    _inherit = "integration.exception"

    category = fields.Selection(
        selection_add=BILLING_ALERT_CATEGORIES,
        ondelete={key: "set default" for key, _label in BILLING_ALERT_CATEGORIES},
    )
    billing_correction_ids = fields.One2many("billing.correction", "exception_id")

    @api.model
    def _impact_of(self, category):
        impacts = {
            "timesheet_changed_after_invoicing": "high",
            "won_deal_without_project": "high",
            "time_not_invoiced": "medium",
            "crm_shows_unpaid": "medium",
        }
        return impacts.get(category) or super()._impact_of(category)

    def _billing_corrected_hours(self):
        """Return the hours the PSA now records for the timesheet, or None.

        Reads the job payload as the PSA sent it: Harvest's time entry
        `hours`, or Productive's `attributes.time` in minutes. The PSA
        connector may override this when it stores the change elsewhere.
        """
        self.ensure_one()
        payload = self.job_id.payload
        if not isinstance(payload, dict):
            return None
        if isinstance(payload.get("hours"), (int, float)):
            return float(payload["hours"])
        attributes = payload.get("attributes")
        if isinstance(attributes, dict) and isinstance(
            attributes.get("time"), (int, float)
        ):
            return attributes["time"] / 60.0
        return None

    def _billing_open_correction(self):
        """Create the correction of this exception; confirmed when hours are known."""
        self.ensure_one()
        timesheet = self.env["account.analytic.line"].browse(self.res_id).exists()
        if not timesheet or not timesheet.so_line:
            return self.env["billing.correction"]
        hours = self._billing_corrected_hours()
        correction = self.env["billing.correction"].create(
            {
                "exception_id": self.id,
                "timesheet_id": timesheet.id,
                "corrected_hours": hours or 0.0,
                "reason": self.description or self.name,
                "state": "pending" if hours is not None else "draft",
            }
        )
        self.message_post(body=_("Billing correction %s opened.", correction.name))
        return correction

    def action_open_billing_correction(self):
        """Open (or create) the billing correction of this exception."""
        self.ensure_one()
        correction = self.billing_correction_ids[:1] or self._billing_open_correction()
        return {
            "type": "ir.actions.act_window",
            "res_model": "billing.correction",
            "res_id": correction.id,
            "view_mode": "form",
        }

    @api.model
    def _cron_billing_alerts(self):
        """Open or refresh the billing alerts of every company."""
        opened = self.browse()
        for company in self.env["res.company"].sudo().search([]):
            opened |= BillingAlerts(company.with_company(company)).raise_all()
        return opened
