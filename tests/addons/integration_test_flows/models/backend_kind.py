"""A backend kind for tests of the core's HTTP client.

Its `_refresh_access_token` does what connectors do for OAuth client
credentials: it posts to the token URL through `_http_request` and stores
the token, so tests can check the refresh-once-then-retry rule against a
local server.
"""

from datetime import timedelta

from odoo import fields, models


class IntegrationBackend(models.Model):
    _inherit = "integration.backend"

    kind = fields.Selection(
        selection_add=[("test", "Test"), ("test_plain", "Test without connector")],
        ondelete={"test": "cascade", "test_plain": "cascade"},
    )

    def _refresh_access_token(self):
        if self.kind != "test":
            return super()._refresh_access_token()
        response = self._http_request(
            "POST",
            self.token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self._get_secret("client_secret"),
            },
            headers={"Authorization": None},
        )
        token = response.json()
        self._set_access_token(
            token["access_token"],
            fields.Datetime.now() + timedelta(seconds=token.get("expires_in", 3600)),
        )
        return token["access_token"]
