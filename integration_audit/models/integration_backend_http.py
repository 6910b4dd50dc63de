"""Outbound HTTP of a backend: `_http_request`, its auth hooks and limits.

Every call to an external API goes through `_http_request`, which
- waits for a slot of the backend's rate limit, shared by every worker and
  server through PostgreSQL (services/rate_limit.py explains how), for at
  most `rate_limit_max_wait_seconds`, and otherwise raises `RetryableError`
  carrying the wait;
- adds the headers of `_get_auth_headers()` and sends with the backend's
  timeout through one pooled session per backend and process;
- on HTTP 401 calls `_refresh_access_token()` once and sends again once;
- raises `RetryableError` on 429 (honouring Retry-After), 5xx, timeouts and
  connection errors, and `RemoteRejectedError` on any other 4xx;
- writes one audit entry per exchange, in a transaction of its own so that
  the record of a failed exchange survives the rollback of the job that
  made it.
"""

import json
import logging
import time
import uuid

import psycopg2.errors
import requests

from odoo import SUPERUSER_ID, _, api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..services import http_client, rate_limit
from ..services.errors import BusinessError, RemoteRejectedError, RetryableError
from ..services.secrets import MissingKeyError

_logger = logging.getLogger(__name__)

# Every stored credential of a backend, scrubbed from audit text wherever
# it appears (a remote system echoing a header back, for instance).
CREDENTIAL_NAMES = (
    "api_token",
    "access_token",
    "refresh_token",
    "client_secret",
    "webhook_secret",
)
# FOR KEY SHARE is what a foreign-key check takes; NOWAIT turns a wait on
# a lock held by the calling transaction into an immediate error.
KEY_SHARE_QUERIES = {
    "integration_backend": "SELECT id FROM integration_backend WHERE id = %s "
    "FOR KEY SHARE NOWAIT",
    "integration_sync_job": "SELECT id FROM integration_sync_job WHERE id = %s "
    "FOR KEY SHARE NOWAIT",
}


class _RowNotCommittedError(Exception):
    """A row the audit entry refers to is not visible outside this transaction."""


class IntegrationBackend(models.Model):
    _inherit = "integration.backend"

    rate_limit_max_wait_seconds = fields.Float(
        string="Longest rate-limit wait (s)",
        default=5.0,
        help="When the rate limit is reached, a request waits this long at most "
        "for a free slot; beyond that the job is retried later.",
    )
    webhook_max_pending_jobs = fields.Integer(
        string="Webhook intake cap (pending jobs)",
        default=10000,
        help="The webhook routes respond 429 Too Many Requests while this backend "
        "has this many pending jobs or more, so the sender retries later. "
        "0 turns the cap off.",
    )

    @api.constrains(
        "rate_limit_max_wait_seconds", "webhook_max_pending_jobs", "timeout_seconds"
    )
    def _check_http_limits(self):
        for backend in self:
            if backend.timeout_seconds <= 0:
                raise ValidationError(
                    _(
                        "The HTTP timeout of %(backend)s must be positive.",
                        backend=backend.name,
                    )
                )
            if (
                backend.rate_limit_max_wait_seconds < 0
                or backend.webhook_max_pending_jobs < 0
            ):
                raise ValidationError(
                    _(
                        "The rate-limit wait and the webhook intake cap of %(backend)s "
                        "cannot be negative.",
                        backend=backend.name,
                    )
                )

    # ------------------------------------------------------------------
    # Hooks the connectors override
    # ------------------------------------------------------------------

    def _get_auth_headers(self):
        """Return the headers that authenticate a request to this backend.

        The default sends the stored OAuth access token as a bearer token
        when a token URL is set, else the API token. Connectors override it
        for schemes such as Productive's X-Auth-Token.
        """
        self.ensure_one()
        name = "access_token" if self.token_url else "api_token"
        token = self._get_secret(name)
        return {"Authorization": f"Bearer {token}"} if token else {}

    def _refresh_access_token(self):
        """Obtain and store a new access token after an HTTP 401.

        Connectors implement it for their kind and store the token with
        `_set_access_token`. The core cannot know the token endpoint's
        protocol, so it stops with the next step to take.
        """
        self.ensure_one()
        raise UserError(
            _(
                "%(backend)s rejected the access token (HTTP 401) and no connector "
                "for %(kind)s backends is installed to refresh it. Install the CRM "
                "Bridge or PSA Connector addon, or enter a valid API token on the "
                "backend.",
                backend=self.display_name,
                kind=self.kind,
            )
        )

    def _http_rate_limit_bucket(self):
        """Return the key the rate limit counts under: one per backend.

        Override to share one limit between backends that use the same
        external account.
        """
        self.ensure_one()
        return f"integration.backend:{self.id}"

    # ------------------------------------------------------------------
    # The exchange
    # ------------------------------------------------------------------

    def _http_request(  # noqa: PLR0917 - the signature connectors call
        self,
        method,
        url_or_path,
        params=None,
        json=None,
        data=None,
        headers=None,
        job=None,
        timeout=None,
    ):
        """Send one request to this backend and return the `requests.Response`.

        `url_or_path` is absolute or relative to `base_url`. `headers` are
        added to the auth headers and win over them. `job` links the audit
        entries to a sync job and its correlation ID. `timeout` in seconds
        defaults to `timeout_seconds`. Raises `RetryableError` or
        `RemoteRejectedError` as the module docstring lists.
        """
        self.ensure_one()
        call = {
            "method": method.upper(),
            "url": self._http_url(url_or_path),
            "params": params,
            "json_body": json,
            "data": data,
            "headers": headers,
            "timeout": timeout or self.timeout_seconds,
            "job": job,
            "correlation_id": job.correlation_id if job else uuid.uuid4().hex,
        }
        response = self._http_exchange(call)
        if response.status_code == 401 and not self.env.context.get(
            "integration_refreshing_token"
        ):
            # The flag stops a refresh that itself gets 401 from recursing.
            self.with_context(integration_refreshing_token=True)._refresh_access_token()
            response = self._http_exchange(call)
        self._http_raise_for_status(call, response)
        return response

    def _http_url(self, url_or_path):
        if url_or_path.startswith(("https://", "http://")):
            return url_or_path
        if not self.base_url:
            raise BusinessError(
                _(
                    "%(backend)s has no base URL. Set it on the backend, then retry "
                    "the job.",
                    backend=self.display_name,
                ),
                category="configuration",
            )
        return f"{self.base_url.rstrip('/')}/{url_or_path.lstrip('/')}"

    def _http_exchange(self, call):
        """Send `call` once after a rate-limit slot; audit and map errors."""
        self._http_wait_for_slot()
        session = http_client.get_session((self.env.cr.dbname, self.id))
        headers = dict(self._get_auth_headers(), **(call["headers"] or {}))
        try:
            prepared = http_client.prepare(
                session,
                call["method"],
                call["url"],
                params=call["params"],
                json_body=call["json_body"],
                data=call["data"],
                headers=headers,
            )
        except (requests.RequestException, ValueError) as error:
            raise BusinessError(
                _(
                    "The request URL %(url)s of %(backend)s is invalid: %(error)s",
                    url=http_client.strip_credentials(call["url"]),
                    backend=self.display_name,
                    error=error,
                ),
                category="configuration",
            ) from None

        started = time.monotonic()
        response = error = None
        try:
            response = http_client.send(session, prepared, call["timeout"])
        except requests.RequestException as caught:
            error = caught
        self._http_audit(call, prepared, response, error, started)

        if error is not None:
            raise self._http_transport_error(call, error) from error
        return response

    def _http_transport_error(self, call, error):
        values = {
            "backend": self.display_name,
            "method": call["method"],
            "url": http_client.strip_credentials(call["url"]),
            "timeout": call["timeout"],
        }
        if isinstance(error, http_client.ResponseTooLargeError):
            return RemoteRejectedError(
                _(
                    "The answer of %(backend)s to %(method)s %(url)s is too large: "
                    "%(error)s",
                    error=error,
                    **values,
                )
            )
        if isinstance(error, requests.Timeout):
            message = _(
                "%(backend)s did not answer %(method)s %(url)s within %(timeout)s s; "
                "the job will be retried.",
                **values,
            )
        else:
            message = _(
                "The connection to %(backend)s for %(method)s %(url)s failed "
                "(%(error)s); the job will be retried.",
                error=type(error).__name__,
                **values,
            )
        return RetryableError(message)

    def _http_raise_for_status(self, call, response):
        status = response.status_code
        if status < 400:
            return
        values = {
            "backend": self.display_name,
            "method": call["method"],
            "url": http_client.strip_credentials(call["url"]),
            "status": status,
        }
        if status == 429 or status >= 500:
            retry_after = http_client.parse_retry_after(
                response.headers.get("Retry-After")
            )
            raise RetryableError(
                _(
                    "%(backend)s answered HTTP %(status)s to %(method)s %(url)s; "
                    "the job will be retried.",
                    **values,
                ),
                retry_after=retry_after,
            )
        detail = self._http_scrub(response.text[:500])
        raise RemoteRejectedError(
            _(
                "%(backend)s rejected %(method)s %(url)s with HTTP %(status)s: "
                "%(detail)s Correct the data or the backend's settings, then retry "
                "the job.",
                detail=detail,
                **values,
            ),
            status_code=status,
            body=self._http_scrub(response.text[:2000]),
        )

    # ------------------------------------------------------------------
    # Rate limit
    # ------------------------------------------------------------------

    def _http_wait_for_slot(self):
        """Take a rate-limit slot, sleeping for one at most the allowed time."""
        deadline = time.monotonic() + max(self.rate_limit_max_wait_seconds, 0.0)
        while True:
            wait = self._http_take_slot()
            if not wait:
                return
            if time.monotonic() + wait > deadline:
                raise RetryableError(
                    _(
                        "%(backend)s reached its rate limit of %(limit)s requests per "
                        "%(period)s s; the next slot frees in %(wait).1f s, so the job "
                        "will be retried.",
                        backend=self.display_name,
                        limit=self.rate_limit_requests,
                        period=self.rate_limit_period,
                        wait=wait,
                    ),
                    retry_after=wait,
                )
            time.sleep(wait)

    def _http_take_slot(self):
        # A cursor of its own: the slot is visible to every worker at once,
        # whatever becomes of the calling transaction.
        with self.env.registry.cursor() as cr:
            return rate_limit.acquire(
                cr,
                self._http_rate_limit_bucket(),
                self.rate_limit_requests,
                self.rate_limit_period,
            )

    # ------------------------------------------------------------------
    # Audit
    # ------------------------------------------------------------------

    def _http_credentials(self):
        values = []
        for name in CREDENTIAL_NAMES:
            try:
                values.append(self._get_secret(name))
            except MissingKeyError:
                continue
        return [value for value in values if value]

    def _http_scrub(self, text, headers=None):
        secrets = http_client.secret_values(headers, self._http_credentials())
        return http_client.scrub(text or "", secrets)

    def _http_audit(self, call, prepared, response, error, started):
        document = http_client.describe_exchange(prepared, response)
        text = json.dumps(document, ensure_ascii=False, sort_keys=True, default=str)
        succeeded = response is not None and response.status_code < 400
        message = f"{type(error).__name__}: {error}" if error is not None else False
        self._audit_autonomously(
            "outbound",
            "ok" if succeeded else "error",
            job=call["job"],
            payload=self._http_scrub(text, prepared.headers),
            endpoint=self._http_scrub(http_client.strip_credentials(prepared.url)),
            method=prepared.method,
            status_code=response.status_code if response is not None else 0,
            duration_ms=(time.monotonic() - started) * 1000,
            correlation_id=call["correlation_id"],
            message=self._http_scrub(message, prepared.headers) if message else False,
        )

    def _audit_autonomously(self, direction, outcome, job=None, **values):
        """Append an audit entry in a transaction of its own, committed at once.

        The entry then survives a rollback of the calling transaction (a job
        that fails after the exchange, a refused webhook). When the backend
        row is not committed yet, or the caller holds a lock that would make
        the foreign-key check wait, the entry is written in the calling
        transaction instead. A job the caller locks FOR UPDATE is left out
        of the entry, which still carries the job's correlation ID when the
        caller passes it. Returns the id of the entry.
        """
        try:
            with self.env.registry.cursor() as cr:
                if self and not self._key_share(cr, "integration_backend", self.id):
                    raise _RowNotCommittedError
                if job and not self._key_share(cr, "integration_sync_job", job.id):
                    job = None
                env = api.Environment(cr, SUPERUSER_ID, {})
                entry = env["integration.audit.log"]._record(
                    self.with_env(env),
                    direction,
                    outcome=outcome,
                    job=job.with_env(env) if job else None,
                    **values,
                )
                return entry.id
        except _RowNotCommittedError:
            entry = self.env["integration.audit.log"]._record(
                self, direction, outcome=outcome, job=job, **values
            )
            return entry.id

    @api.model
    def _key_share(self, cr, table, record_id):
        """Lock a row FOR KEY SHARE without waiting; return whether it worked.

        False means the row is not visible to `cr` (not committed yet) or
        another transaction, usually the caller's, locks it FOR UPDATE.
        """
        try:
            with cr.savepoint(flush=False):
                cr.execute(KEY_SHARE_QUERIES[table], [record_id], log_exceptions=False)
                return bool(cr.fetchone())
        except psycopg2.errors.LockNotAvailable:
            return False
