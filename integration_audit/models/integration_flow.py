"""Per-backend settings of one data flow, and its sync watermark."""

from odoo import fields, models


class IntegrationFlow(models.Model):
    _name = "integration.flow"
    _description = "Integration Flow"
    _order = "backend_id, code"

    backend_id = fields.Many2one(
        "integration.backend", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    code = fields.Char(
        required=True, help="Technical flow name, such as hubspot.company."
    )
    enabled = fields.Boolean(default=True)
    mode = fields.Selection(
        [("realtime", "Real time"), ("batch", "Scheduled batch")],
        required=True,
        default="realtime",
        help="Real-time flows run as soon as a job is queued; batch flows wait "
        "for their scheduled, validated run.",
    )
    interval_minutes = fields.Integer(default=15)
    watermark = fields.Char(
        help="Position the poller resumes from: the newest change time or "
        "cursor stored so far. It only moves after a page is stored."
    )
    overlap_seconds = fields.Integer(
        default=300,
        help="How far before the watermark each poll starts again, so late or "
        "back-dated changes are still found.",
    )
    last_run_at = fields.Datetime(readonly=True)

    _sql_constraints = [
        ("code_unique", "UNIQUE(backend_id, code)", "A backend has one row per flow."),
    ]
