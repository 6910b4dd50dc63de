"""The OAuth access token of a CRM backend, stored apart from the backend.

A token is renewed in a transaction of its own while sync jobs of the same
backend run. Were it written to the backend's row, a running job could no
longer insert a row that refers to the backend, such as an audit entry.
PostgreSQL's foreign-key check locks the referenced row, and under Odoo's
repeatable-read isolation a row that another transaction changed since
the job began cannot be locked. The token row takes that change instead.
Its row lock also lets one worker renew the token at a time.
"""

from odoo import api, fields, models
from odoo.addons.integration_audit.services import secrets


class CrmBridgeToken(models.Model):
    _name = "crm.bridge.token"
    _description = "CRM Access Token"

    backend_id = fields.Many2one(
        "integration.backend", required=True, ondelete="cascade", index=True
    )
    token_encrypted = fields.Char(groups="base.group_system")
    refresh_token_encrypted = fields.Char(
        groups="base.group_system",
        help="Refresh token the token endpoint issued in place of the configured one.",
    )
    expires_at = fields.Datetime(help="Expiry the token endpoint announced, if any.")
    instance_url = fields.Char(help="Salesforce API host named by the token response.")

    _sql_constraints = [
        ("backend_unique", "UNIQUE(backend_id)", "A backend has one token row."),
    ]

    @api.model
    def _locked_row(self, backend):
        """Return the token row of `backend` locked until commit, creating it if new.

        Two workers creating it at once collide on the unique constraint;
        the caller retries and then finds the other's row.
        """
        self.env.cr.execute(
            "SELECT id FROM crm_bridge_token WHERE backend_id = %s FOR UPDATE",
            [backend.id],
        )
        row = self.env.cr.fetchone()
        if row:
            return self.browse(row[0])
        return self.create({"backend_id": backend.id})

    def _token(self):
        """Return the clear access token, or False."""
        encrypted = self.sudo().token_encrypted
        return secrets.decrypt(encrypted) if encrypted else False

    def _refresh_token(self):
        """Return the clear refresh token the endpoint issued, or False."""
        encrypted = self.sudo().refresh_token_encrypted
        return secrets.decrypt(encrypted) if encrypted else False

    def _store(self, token, expires_at, instance_url=None, refresh_token=None):
        """Store a new access token, encrypted, with what came along with it."""
        values = {"token_encrypted": secrets.encrypt(token), "expires_at": expires_at}
        if instance_url:
            values["instance_url"] = instance_url
        if refresh_token:
            values["refresh_token_encrypted"] = secrets.encrypt(refresh_token)
        self.sudo().write(values)
