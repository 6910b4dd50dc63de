"""One connected external system and its settings."""

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..services import secrets

# Credentials and shared secrets: written in clear through these fields,
# stored only encrypted in `<name>_encrypted`, never read back in clear.
SECRET_FIELDS = ("client_secret", "api_token", "refresh_token", "webhook_secret")
SECRET_MASK = "********"  # noqa: S105 - what the form shows in place of a secret


class IntegrationBackend(models.Model):
    _name = "integration.backend"
    _description = "Integration Backend"
    _inherit = ["mail.thread"]
    _order = "sequence, name, id"

    name = fields.Char(required=True, tracking=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True, tracking=True)
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company
    )
    kind = fields.Selection(
        [
            ("hubspot", "HubSpot"),
            ("salesforce", "Salesforce"),
            ("harvest", "Harvest"),
            ("productive", "Productive"),
        ],
        required=True,
        tracking=True,
    )
    environment = fields.Selection(
        [("sandbox", "Sandbox"), ("production", "Production")],
        required=True,
        default="sandbox",
        tracking=True,
    )
    base_url = fields.Char(
        string="Base URL",
        help="Root URL of the external API, for example https://api.hubapi.com.",
    )
    token_url = fields.Char(
        string="Token URL",
        help="OAuth token endpoint; empty when the backend uses a static token.",
    )
    account_ref = fields.Char(
        string="Account ID",
        help="Harvest account ID, Productive organization ID, HubSpot portal ID "
        "or Salesforce organization ID, as the external system shows it.",
    )
    client_id = fields.Char(string="Client ID")
    client_secret = fields.Char(
        compute="_compute_secrets", inverse="_inverse_client_secret"
    )
    api_token = fields.Char(
        string="API Token",
        compute="_compute_secrets",
        inverse="_inverse_api_token",
        help="Personal access token or private-app token, stored encrypted.",
    )
    refresh_token = fields.Char(
        compute="_compute_secrets", inverse="_inverse_refresh_token"
    )
    webhook_secret = fields.Char(
        compute="_compute_secrets",
        inverse="_inverse_webhook_secret",
        help="Shared secret that signs the webhooks this system sends; stored "
        "encrypted and never shown again once saved.",
    )
    client_secret_encrypted = fields.Char(groups="base.group_system", copy=False)
    api_token_encrypted = fields.Char(groups="base.group_system", copy=False)
    refresh_token_encrypted = fields.Char(groups="base.group_system", copy=False)
    webhook_secret_encrypted = fields.Char(groups="base.group_system", copy=False)
    access_token_encrypted = fields.Char(groups="base.group_system", copy=False)
    access_token_expires_at = fields.Datetime(copy=False, readonly=True)
    has_webhook_secret = fields.Boolean(compute="_compute_secrets")
    has_credentials = fields.Boolean(compute="_compute_secrets")

    hubspot_signature_versions = fields.Char(
        string="Accepted HubSpot signature versions",
        default="v3",
        help="Comma-separated list among v1, v2 and v3. HubSpot signs app "
        "webhooks with v3; v1 and v2 remain for older subscriptions.",
    )
    webhook_max_bytes = fields.Integer(
        string="Webhook size limit (bytes)", default=1024 * 1024
    )
    webhook_tolerance_seconds = fields.Integer(
        string="Webhook timestamp window (s)", default=300
    )
    timeout_seconds = fields.Float(string="HTTP timeout (s)", default=30.0)
    rate_limit_requests = fields.Integer(
        default=100, help="Requests allowed per rate-limit period, across workers."
    )
    rate_limit_period = fields.Integer(string="Rate-limit period (s)", default=10)
    max_attempts = fields.Integer(default=8, help="Attempts before a job is dead.")
    retry_base_seconds = fields.Integer(string="First retry delay (s)", default=30)
    retry_max_seconds = fields.Integer(string="Longest retry delay (s)", default=3600)
    audit_retention_days = fields.Integer(default=90)
    job_retention_days = fields.Integer(
        default=30, help="Days finished jobs are kept; failed and dead jobs stay."
    )
    flow_ids = fields.One2many("integration.flow", "backend_id", string="Flows")

    job_ids = fields.One2many("integration.sync.job", "backend_id")
    pending_job_count = fields.Integer(compute="_compute_job_counts")
    failed_job_count = fields.Integer(compute="_compute_job_counts")
    dead_job_count = fields.Integer(compute="_compute_job_counts")
    open_exception_count = fields.Integer(compute="_compute_job_counts")

    _sql_constraints = [
        (
            "positive_limits",
            "CHECK(max_attempts > 0 AND rate_limit_requests > 0 "
            "AND rate_limit_period > 0 AND webhook_max_bytes > 0)",
            "Attempts, rate limits and the webhook size limit must be positive.",
        ),
    ]

    @api.depends(*(f"{name}_encrypted" for name in SECRET_FIELDS))
    @api.depends_context("uid")
    def _compute_secrets(self):
        for backend in self:
            stored = backend.sudo()
            for name in SECRET_FIELDS:
                backend[name] = SECRET_MASK if stored[f"{name}_encrypted"] else False
            backend.has_webhook_secret = bool(stored.webhook_secret_encrypted)
            backend.has_credentials = bool(
                stored.api_token_encrypted or stored.client_secret_encrypted
            )

    def _inverse_secret(self, name):
        for backend in self:
            value = backend[name]
            if value == SECRET_MASK:
                continue
            encrypted = secrets.encrypt(value) if value else False
            backend.sudo()[f"{name}_encrypted"] = encrypted

    def _inverse_client_secret(self):
        self._inverse_secret("client_secret")

    def _inverse_api_token(self):
        self._inverse_secret("api_token")

    def _inverse_refresh_token(self):
        self._inverse_secret("refresh_token")

    def _inverse_webhook_secret(self):
        self._inverse_secret("webhook_secret")

    def _compute_job_counts(self):
        Job = self.env["integration.sync.job"]
        counts = {
            (backend.id, state): count
            for backend, state, count in Job._read_group(
                [("backend_id", "in", self.ids)],
                ["backend_id", "state"],
                ["__count"],
            )
        }
        open_exceptions = dict(
            self.env["integration.exception"]._read_group(
                [
                    ("backend_id", "in", self.ids),
                    ("state", "in", ("new", "in_progress")),
                ],
                ["backend_id"],
                ["__count"],
            )
        )
        for backend in self:
            backend.pending_job_count = counts.get((backend.id, "pending"), 0)
            backend.failed_job_count = counts.get((backend.id, "failed"), 0)
            backend.dead_job_count = counts.get((backend.id, "dead"), 0)
            backend.open_exception_count = open_exceptions.get(backend, 0)

    def _get_secret(self, name):
        """Return the clear value of secret `name`, or False when unset."""
        self.ensure_one()
        if name not in SECRET_FIELDS and name != "access_token":
            raise ValueError(f"{name} is not a secret field of integration.backend")
        encrypted = self.sudo()[f"{name}_encrypted"]
        return secrets.decrypt(encrypted) if encrypted else False

    def _set_access_token(self, token, expires_at):
        """Store a freshly issued OAuth access token, encrypted."""
        self.ensure_one()
        self.sudo().write(
            {
                "access_token_encrypted": secrets.encrypt(token),
                "access_token_expires_at": expires_at,
            }
        )

    @api.model
    def _rotate_secret_key(self):
        """Re-encrypt every stored secret under the current primary key.

        Run after adding a new key in front of `integration_secret_keys`
        (old keys stay listed until this returns); returns the number of
        values re-encrypted.
        """
        backends = self.sudo().with_context(active_test=False).search([])
        names = [f"{name}_encrypted" for name in SECRET_FIELDS]
        names.append("access_token_encrypted")
        rotated = 0
        for backend in backends:
            values = {}
            for name in names:
                if backend[name]:
                    values[name] = secrets.rotate(backend[name])
            if values:
                backend.write(values)
                rotated += len(values)
        return rotated

    def _get_flow(self, code):
        """Return the flow `code` of this backend, creating it when missing."""
        self.ensure_one()
        flow = self.flow_ids.filtered(lambda f: f.code == code)
        if not flow:
            flow = (
                self.env["integration.flow"]
                .sudo()
                .create({"backend_id": self.id, "code": code})
            )
        return flow

    def action_test_connection(self):
        """Call the external system's cheapest authenticated endpoint.

        Only users who may write the backend may test it, because the test
        sends the stored credentials.
        """
        self.ensure_one()
        self.check_access("write")
        try:
            self._test_connection()
        except Exception as error:
            raise UserError(
                _(
                    "The connection test of %(backend)s failed: %(error)s. "
                    "Check the base URL and credentials, then try again.",
                    backend=self.display_name,
                    error=error,
                )
            ) from error
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "message": _("%s answered the connection test.", self.display_name),
            },
        }

    def _test_connection(self):
        """Check connectivity; each connector overrides it for its kind."""
        raise UserError(
            _(
                "No connector for %(kind)s backends is installed. Install the "
                "CRM Bridge or PSA Connector addon.",
                kind=self.kind,
            )
        )

    def action_view_jobs(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "integration_audit.action_integration_sync_job"
        )
        action["domain"] = [("backend_id", "=", self.id)]
        return action

    def action_view_exceptions(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "integration_audit.action_integration_exception"
        )
        action["domain"] = [("backend_id", "=", self.id)]
        return action
