"""The audit log: one append-only row per exchange with an external system."""

import json

from odoo import _, api, fields, models
from odoo.exceptions import AccessError

from ..services import redaction


def storable(text):
    """Return `text` as PostgreSQL text can hold it, whatever a sender sent.

    NUL becomes U+FFFD and a lone surrogate (JSON allows escaping one)
    becomes "?"; the entry's digest and size still describe the exact bytes.
    """
    if not text:
        return text
    return text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")


class IntegrationAuditLog(models.Model):
    _name = "integration.audit.log"
    _description = "Integration Audit Log"
    _order = "id desc"
    _rec_name = "endpoint"

    backend_id = fields.Many2one("integration.backend", index=True, ondelete="set null")
    company_id = fields.Many2one("res.company", index=True)
    direction = fields.Selection(
        [("inbound", "Inbound"), ("outbound", "Outbound"), ("internal", "Internal")],
        required=True,
    )
    endpoint = fields.Char(help="Route or URL of the exchange, without credentials.")
    method = fields.Char()
    status_code = fields.Integer(string="HTTP status")
    outcome = fields.Selection(
        [
            ("ok", "OK"),
            ("refused", "Refused"),
            ("error", "Error"),
            ("retry", "Retry"),
            ("failed", "Failed"),
            ("dead", "Dead"),
            ("skipped", "Skipped"),
            ("duplicate", "Duplicate"),
        ],
        required=True,
        default="ok",
        index=True,
    )
    message = fields.Text()
    duration_ms = fields.Float(string="Duration (ms)")
    correlation_id = fields.Char(index=True)
    payload = fields.Text(help="Body with credentials redacted, cut at 64 KiB.")
    payload_sha256 = fields.Char(string="Payload SHA-256")
    payload_size = fields.Integer(string="Payload size (bytes)")
    payload_truncated = fields.Boolean()
    job_id = fields.Many2one("integration.sync.job", index=True, ondelete="set null")

    @api.model
    def _record(
        self, backend, direction, outcome="ok", payload=None, job=None, **values
    ):
        """Append one entry; `payload` may be bytes, text or a JSON value.

        Credentials are redacted before storing; the digest and size are of
        the payload as exchanged.
        """
        if payload is not None and not isinstance(payload, (bytes, str)):
            payload = json.dumps(
                payload, ensure_ascii=False, sort_keys=True, default=str
            )
        raw = payload.encode() if isinstance(payload, str) else payload
        text = raw.decode("utf-8", errors="replace") if raw else False
        redacted, truncated = redaction.truncate(storable(redaction.redact_text(text)))
        values.update(
            backend_id=backend.id if backend else False,
            company_id=backend.company_id.id if backend else self.env.company.id,
            direction=direction,
            outcome=outcome,
            payload=redacted,
            payload_sha256=redaction.digest(raw),
            payload_size=len(raw) if raw else 0,
            payload_truncated=truncated,
            job_id=job.id if job else False,
        )
        if values.get("endpoint"):
            values["endpoint"] = storable(redaction.redact(values["endpoint"])[:2000])
        if values.get("message"):
            values["message"] = storable(redaction.redact(str(values["message"])))
        return self.sudo().create(values)

    def write(self, vals):
        if not (self.env.su and self.env.context.get("integration_audit_purge")):
            raise AccessError(_("Audit log entries cannot be changed."))
        return super().write(vals)

    def unlink(self):
        if not (self.env.su and self.env.context.get("integration_audit_purge")):
            raise AccessError(
                _(
                    "Audit log entries cannot be deleted; the retention job removes old ones."
                )
            )
        return super().unlink()

    @api.model
    def _cron_purge(self):
        """Delete entries older than their backend's retention."""
        backends = (
            self.env["integration.backend"].with_context(active_test=False).search([])
        )
        purged = 0
        for backend in backends:
            limit = fields.Datetime.subtract(
                fields.Datetime.now(), days=backend.audit_retention_days
            )
            old = self.sudo().search(
                [("backend_id", "=", backend.id), ("create_date", "<", limit)]
            )
            purged += len(old)
            old.with_context(integration_audit_purge=True).unlink()
        return purged
