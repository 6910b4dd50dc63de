"""Authentication of HubSpot and Salesforce backends.

HubSpot: a private-app token is sent as is and never expires. An OAuth app
trades its refresh token for an access token that lives `expires_in`
seconds. HubSpot's usage guidelines tell clients to track that lifetime
rather than wait for a 401, so the token is renewed a minute before it
expires.

Salesforce: the client-credentials and JWT bearer flows each return an
access token without a refresh token or a lifetime. The session lasts
until Salesforce rejects it with a 401, and the HTTP client then calls
`_refresh_access_token` once and repeats the request.

A new token is fetched in a transaction of its own that holds the lock of
the backend's `crm.bridge.token` row, so one worker refreshes at a time
and a failed sync job does not roll the token back. Because a running job
reads the database through an older snapshot, each server process also
keeps the newest token it fetched in memory.
"""

import logging
import threading
from datetime import timedelta

import psycopg2.errors

from odoo import _, fields, models
from odoo.addons.integration_audit.services.errors import (
    BusinessError,
    RemoteRejectedError,
    RetryableError,
)

from ..services import jwt_bearer

_logger = logging.getLogger(__name__)

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# Renew a token this long before its announced expiry.
EXPIRY_MARGIN = timedelta(seconds=60)

# {(database, backend id): {"token", "expires_at" (naive UTC or None),
# "instance_url"}}: the newest token this process fetched, which a running
# job's older database snapshot does not show yet.
_TOKEN_CACHE = {}
_TOKEN_CACHE_LOCK = threading.Lock()


class IntegrationBackend(models.Model):
    _inherit = "integration.backend"

    def _get_auth_headers(self):
        """Return the Authorization header of a CRM backend's next request."""
        if not self._is_crm():
            return super()._get_auth_headers()
        if self.env.context.get("crm_token_request"):
            return {}
        return {"Authorization": f"Bearer {self._crm_access_token()}"}

    def _refresh_access_token(self):
        """Fetch a new access token, unless another worker just did."""
        if not self._is_crm():
            return super()._refresh_access_token()
        if self.kind == "hubspot" and self.hubspot_auth_flow == "private_app":
            raise self._crm_auth_error(
                _("HubSpot rejected the private app token. Enter a valid token.")
            )
        rejected = self._crm_cached_token()[0]
        for _attempt in range(3):
            try:
                return self._crm_refresh_in_own_transaction(rejected)
            except (
                psycopg2.errors.SerializationFailure,
                psycopg2.errors.UniqueViolation,
            ):
                # Another worker stored a token or created the token row meanwhile.
                continue
        raise RetryableError(
            f"Backend {self.id}: the access token is being renewed by another worker."
        )

    def _test_connection(self):
        """Read one record from the CRM with the stored credentials."""
        if not self._is_crm():
            return super()._test_connection()
        self._crm_client().test()
        return True

    # ------------------------------------------------------------------
    # Token storage
    # ------------------------------------------------------------------

    def _crm_cache_key(self):
        return (self.env.cr.dbname, self.id)

    def _crm_token_row(self):
        return (
            self.env["crm.bridge.token"]
            .sudo()
            .search([("backend_id", "=", self.id)], limit=1)
        )

    def _crm_cached_token(self):
        """Return (token, expiry) from this process, else from the database."""
        with _TOKEN_CACHE_LOCK:
            cached = _TOKEN_CACHE.get(self._crm_cache_key())
        if cached:
            return cached["token"], cached["expires_at"]
        row = self._crm_token_row()
        token = row._token()
        return (token, row.expires_at) if token else (None, None)

    def _crm_remember_token(self, token, expires_at, instance_url):
        with _TOKEN_CACHE_LOCK:
            _TOKEN_CACHE[self._crm_cache_key()] = {
                "token": token,
                "expires_at": expires_at,
                "instance_url": instance_url,
            }

    def _crm_instance_url(self):
        """Return the Salesforce API host: the last token's, else the base URL."""
        with _TOKEN_CACHE_LOCK:
            cached = _TOKEN_CACHE.get(self._crm_cache_key()) or {}
        url = cached.get("instance_url") or self._crm_token_row().instance_url
        return (url or self.base_url or "").rstrip("/")

    def _crm_access_token(self):
        """Return a usable access token, fetching one when needed."""
        self.ensure_one()
        if self.kind == "hubspot" and self.hubspot_auth_flow == "private_app":
            token = self._get_secret("api_token")
            if not token:
                raise self._crm_auth_error(
                    _(
                        "Backend %(name)s has no private app token. Enter one.",
                        name=self.display_name,
                    )
                )
            return token
        token, expires_at = self._crm_cached_token()
        if token and (
            not expires_at or expires_at - EXPIRY_MARGIN > fields.Datetime.now()
        ):
            return token
        return self._refresh_access_token()

    def _crm_refresh_in_own_transaction(self, rejected):
        """Lock the token row, reuse a newer stored token or fetch one."""
        # The token's own transaction reads the backend from the database.
        self.env.flush_all()
        with self.env.registry.cursor() as cr:
            backend = self.with_env(self.env(cr=cr, su=True))
            row = backend.env["crm.bridge.token"]._locked_row(backend)
            stored = row._token()
            expires_at = row.expires_at
            fresh = not expires_at or expires_at - EXPIRY_MARGIN > fields.Datetime.now()
            if stored and stored != rejected and fresh:
                self._crm_remember_token(stored, expires_at, row.instance_url)
                return stored
            token, expires_at, extra = backend._crm_request_token(row)
            row._store(token, expires_at, **extra)
            instance_url = row.instance_url
        self._crm_remember_token(token, expires_at, instance_url)
        return token

    # ------------------------------------------------------------------
    # Token requests
    # ------------------------------------------------------------------

    def _crm_request_token(self, row):
        """Call the token endpoint; return (token, expiry or None, extra values).

        `row` is the backend's token row, holding a refresh token the
        endpoint may have issued in place of the configured one.
        """
        if self.kind == "hubspot":
            form = self._crm_hubspot_refresh_form(row)
        elif self.salesforce_auth_flow == "jwt_bearer":
            form = self._crm_salesforce_jwt_form()
        else:
            form = self._crm_salesforce_client_credentials_form()
        body = self._crm_post_token_form(form)
        token = body.get("access_token")
        if not token:
            raise self._crm_auth_error(
                _("The token endpoint returned no access token.")
            )
        expires_in = body.get("expires_in")
        expires_at = (
            fields.Datetime.now() + timedelta(seconds=int(expires_in))
            if expires_in
            else None
        )
        extra = {"instance_url": body.get("instance_url")}
        if body.get("refresh_token") != form.get("refresh_token"):
            extra["refresh_token"] = body.get("refresh_token")
        return token, expires_at, extra

    def _crm_hubspot_refresh_form(self, row):
        refresh_token = row._refresh_token() or self._get_secret("refresh_token")
        if not (self.client_id and refresh_token):
            raise self._crm_auth_error(
                _(
                    "Backend %(name)s needs a client ID, client secret and refresh "
                    "token for HubSpot OAuth. Enter them.",
                    name=self.display_name,
                )
            )
        return {
            "grant_type": "refresh_token",
            "client_id": self.client_id,
            "client_secret": self._get_secret("client_secret") or "",
            "refresh_token": refresh_token,
        }

    def _crm_salesforce_client_credentials_form(self):
        secret = self._get_secret("client_secret")
        if not (self.client_id and secret):
            raise self._crm_auth_error(
                _(
                    "Backend %(name)s needs a client ID and client secret for the "
                    "client-credentials flow. Enter them.",
                    name=self.display_name,
                )
            )
        return {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": secret,
        }

    def _crm_salesforce_jwt_form(self):
        key = self._crm_private_key()
        if not (self.client_id and key and self.salesforce_username):
            raise self._crm_auth_error(
                _(
                    "Backend %(name)s needs a client ID, a username and a private key "
                    "for the JWT bearer flow. Enter them.",
                    name=self.display_name,
                )
            )
        audience = self.salesforce_audience or (
            "https://login.salesforce.com"
            if self.environment == "production"
            else "https://test.salesforce.com"
        )
        try:
            assertion = jwt_bearer.build_assertion(
                key, self.client_id, self.salesforce_username, audience
            )
        except ValueError as error:
            raise self._crm_auth_error(
                _(
                    "The JWT private key of backend %(name)s cannot be read "
                    "(%(error)s). Paste the PEM key again.",
                    name=self.display_name,
                    error=error,
                )
            ) from error
        return {"grant_type": JWT_GRANT, "assertion": assertion}

    def _crm_token_url(self):
        if self.token_url:
            return self.token_url
        root = (self.base_url or "").rstrip("/")
        path = "oauth/v1/token" if self.kind == "hubspot" else "services/oauth2/token"
        return f"{root}/{path}"

    def _crm_post_token_form(self, form):
        """POST `form` to the token endpoint and return its JSON response.

        The request goes through the audited HTTP client without an
        Authorization header; the audit log redacts the form's secrets
        and the tokens of the response.
        """
        backend = self.with_context(
            crm_token_request=True, integration_refreshing_token=True
        )
        try:
            response = backend._http_request("POST", self._crm_token_url(), data=form)
        except RemoteRejectedError as error:
            raise self._crm_auth_error(
                _(
                    "The token endpoint of %(name)s rejected the credentials "
                    "(%(error)s). Check the client ID, secret, key or refresh token, "
                    "then retry.",
                    name=self.display_name,
                    error=error.body or error.status_code,
                )
            ) from error
        try:
            return response.json()
        except ValueError as error:
            raise self._crm_auth_error(
                _(
                    "The token endpoint of %(name)s did not respond in JSON.",
                    name=self.display_name,
                )
            ) from error

    def _crm_auth_error(self, message):
        _logger.warning("CRM backend %s: authentication failed", self.id)
        return BusinessError(message, category="crm_auth")
