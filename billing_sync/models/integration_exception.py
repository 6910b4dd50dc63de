"""Exceptions: billing alert categories, and corrections of invoiced time."""

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

from ..services.alerts import BillingAlerts

# A person who approves a correction resolves an exception and changes what
# is billed, so both rights are needed.
CORRECTION_GROUPS = (
    "integration_audit.group_integration_manager",
    "account.group_account_invoice",
)

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
    # Computed as superuser, because the generic Record field shows no name
    # to a finance user who may not read timesheets.
    billing_timesheet_id = fields.Many2one(
        "account.analytic.line",
        string="Invoiced timesheet",
        compute="_compute_billing_records",
        compute_sudo=True,
    )
    billing_invoice_id = fields.Many2one(
        "account.move",
        string="Invoice",
        compute="_compute_billing_records",
        compute_sudo=True,
        help="The invoice that billed the timesheet before it changed.",
    )

    @api.depends("category", "res_model", "res_id")
    def _compute_billing_records(self):
        for exception in self:
            timesheet = self.env["account.analytic.line"]
            if exception.category == "timesheet_changed_after_invoicing":
                timesheet = exception._billing_timesheet()
            exception.billing_timesheet_id = timesheet
            exception.billing_invoice_id = timesheet.timesheet_invoice_id

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

        The PSA connector stores them on the exception when it opens it.
        Otherwise the job payload is read as a PSA sent it:
        Harvest's time entry `hours`, or Productive's `attributes.time` in
        minutes.
        """
        self.ensure_one()
        hours = self._psa_corrected_hours()
        if hours is not None:
            return hours
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

    def _billing_open_correction(self, approve_known_hours=True):
        """Create the correction of this exception, prefilled from the PSA.

        It starts with the hours the PSA now records. With
        `approve_known_hours` (a billing run collecting exceptions), a
        correction whose hours are known waits for the run at once.
        Otherwise it is a draft that a person checks and approves.
        """
        self.ensure_one()
        timesheet = self._billing_timesheet()
        if not timesheet.so_line:
            return self.env["billing.correction"]
        hours = self._billing_corrected_hours()
        Correction = self.env["billing.correction"]
        values = Correction._values_from_timesheet(timesheet)
        values.update(
            exception_id=self.id,
            corrected_hours=hours or 0.0,
            reason=self.description or self.name,
            state="pending" if hours is not None and approve_known_hours else "draft",
        )
        correction = Correction.create(values)
        self.message_post(body=_("Billing correction %s opened.", correction.name))
        return correction

    def _billing_close_job(self, correction):
        """Mark the failed job of this exception done: `correction` handles it.

        Its job failed because the invoiced timesheet differs from the PSA;
        the correction bills that difference, so the job leaves the failed
        list with a result naming the correction.
        """
        self.ensure_one()
        job = self.job_id.sudo()
        if job.state in ("failed", "dead"):
            job.write(
                {
                    "state": "done",
                    "result": _("Handled by billing correction %s.", correction.name),
                    "finished_at": fields.Datetime.now(),
                }
            )

    def _billing_reopen_job(self, correction):
        """Mark the job that `correction` closed failed again, as its change is open."""
        self.ensure_one()
        job = self.job_id.sudo()
        if job.state == "done" and correction.name in (job.result or ""):
            job.write({"state": "failed", "result": False})

    def _billing_timesheet(self):
        """Return the invoiced timesheet this exception is about, as superuser.

        Odoo's record rules let invoicing users read analytic lines without
        a project only, so a finance user without timesheet rights cannot
        read the timesheet a correction copies its figures from. Callers
        check the user's rights first (`_billing_check_correction_rights`,
        or a billing run); only this one line is read.
        """
        self.ensure_one()
        Timesheet = self.env["account.analytic.line"].sudo()
        if self.res_model != Timesheet._name or not self.res_id:
            return Timesheet
        return Timesheet.browse(self.res_id).exists()

    def _billing_check_correction_rights(self):
        """Raise unless the user may correct the invoiced time of this exception."""
        if self.category != "timesheet_changed_after_invoicing":
            raise UserError(
                _(
                    "Exception %s is not about invoiced time, so there is nothing "
                    "to correct in a billing run.",
                    self.display_name,
                )
            )
        user = self.env.user
        if not all(user.has_group(group) for group in CORRECTION_GROUPS):
            raise AccessError(
                _(
                    "Correcting invoiced time of exception %(name)s takes both the "
                    "Integrations Manager group and invoicing rights, and "
                    "%(user)s lacks one of them. Ask an administrator for them.",
                    name=self.display_name,
                    user=user.name,
                )
            )
        self.check_access("write")

    def action_open_billing_correction(self):
        """Open the billing correction of this exception, drafting it if none is open."""
        self.ensure_one()
        self._billing_check_correction_rights()
        correction = self.billing_correction_ids.filtered(
            lambda c: c.state != "cancelled"
        )[:1] or self._billing_open_correction(approve_known_hours=False)
        if not correction:
            raise UserError(
                _(
                    "The timesheet of exception %s is not billed through a sale order "
                    "line, so no billing run can correct it. Credit the invoice by "
                    "hand, then resolve the exception.",
                    self.display_name,
                )
            )
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
