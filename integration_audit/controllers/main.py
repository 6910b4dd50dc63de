"""HTTP routes of the integration core: webhook intake and metrics.

Webhook intake (``POST /integration/webhook/<sender>/<backend id>``) finds
the backend, reads the body with a bounded read, verifies the sender,
turns the body into one sync job per event and stores them with an audit
entry. Odoo commits the request's transaction after the route returns and
before the response is sent, and a failed commit becomes a 5xx, so a 2xx
always means the events are stored. The responses:

- 200: stored; a second delivery of stored events is a no-op that also
  gets 200 (Salesforce gets its SOAP acknowledgement).
- 400: the body is not what the sender documents (JSON, SOAP, no DTD).
- 401: bad signature, token or timestamp, or a HubSpot event from another
  portal, or a Salesforce message from another organization, than the
  backend's ``account_ref`` (when it is set).
- 404: no active backend of the route's kind has this ID.
- 413: the body is larger than the backend's ``webhook_max_bytes``, by its
  Content-Length or by the bytes actually read.
- 429: the intake is saturated: the backend already has
  ``webhook_max_pending_jobs`` pending jobs or more (0 disables the cap).
  The response carries ``Retry-After: 60``.
- 503: the database cannot be reached, a concurrent transaction won a
  race, or the webhook secret cannot be decrypted with the configured keys.
  ``Retry-After: 30`` tells the sender to try again later.
- 500: anything else, without detail; the server log has the traceback.

Every refusal gets an audit entry (outcome refused, status, reason) written
in a transaction of its own, so it is kept although the request's
transaction is rolled back. Only when the database itself is unreachable is
the refusal logged in the server log alone.

The routes use ``auth='none'``: they authenticate the sender themselves and
need no session or public user. It also lets them answer 503 rather than
Odoo's 404 when the database is down, provided the addon is also loaded
server-wide (``--load=base,web,integration_audit``), because Odoo then
dispatches ``auth='none'`` routes without a database.
"""

import logging
import time
from dataclasses import dataclass

import psycopg2
import psycopg2.errors
import psycopg2.pool
import werkzeug.exceptions

from odoo import SUPERUSER_ID, http
from odoo.http import request

from ..services import prometheus, redaction, signatures, soap, webhook_events
from ..services.secrets import MissingKeyError

_logger = logging.getLogger(__name__)


class QueryCredentialFilter(logging.Filter):
    """Redaction of ``token=`` and similar pairs in request log lines.

    The Salesforce route and the metrics route take a secret in the query
    string, and werkzeug logs every request line with its query string.
    """

    def filter(self, record):
        message = record.getMessage()
        redacted = redaction.SECRET_PAIR_PATTERN.sub(
            r"\1" + redaction.REDACTED, message
        )
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


_request_logger = logging.getLogger("werkzeug")
if not any(isinstance(item, QueryCredentialFilter) for item in _request_logger.filters):
    _request_logger.addFilter(QueryCredentialFilter())

WEBHOOK_ROUTE = {
    "type": "http",
    "auth": "none",
    "methods": ["POST"],
    "csrf": False,
    "save_session": False,
    # auth='none' routes default to a read-only cursor that Odoo retries
    # read/write, which would read the body a second time.
    "readonly": False,
}
METRICS_TOKEN_PARAMETER = "integration_audit.metrics_token"  # noqa: S105 - a parameter name
READ_CHUNK_BYTES = 64 * 1024
# An oversized body is read and discarded up to this size before the 413
# is sent, so the sender reads the response instead of a connection reset.
DRAIN_MAX_BYTES = 4 * 1024 * 1024
SATURATED_RETRY_AFTER_SECONDS = 60
UNAVAILABLE_RETRY_AFTER_SECONDS = 30
MAX_POSTGRES_INTEGER = 2**31 - 1
DATABASE_ERRORS = (
    psycopg2.OperationalError,
    psycopg2.InterfaceError,
    psycopg2.pool.PoolError,
)


class IntakeRefusal(Exception):
    """A webhook request the intake rejects with a 4xx status."""

    def __init__(self, status, reason, headers=None):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = headers or {}


def status_of(error):
    """Return (status, reason, headers) of an exception raised while serving.

    This is the only place that turns exceptions into responses. The reason
    is safe to send to the caller and never contains a traceback.
    """
    if isinstance(error, IntakeRefusal):
        return error.status, error.reason, error.headers
    if isinstance(error, signatures.SignatureError):
        return 401, str(error), {}
    if isinstance(error, webhook_events.MalformedEvent | soap.MalformedMessage):
        return 400, str(error), {}
    if isinstance(error, werkzeug.exceptions.BadRequest):
        return 400, "The request body could not be read.", {}
    if isinstance(error, (*DATABASE_ERRORS, MissingKeyError)):
        retry = {"Retry-After": str(UNAVAILABLE_RETRY_AFTER_SECONDS)}
        return 503, "The service is temporarily unavailable; retry later.", retry
    return 500, "The request could not be processed.", {}


def _json_response(status, data, headers=None):
    return request.make_json_response(
        data, headers=list((headers or {}).items()), status=status
    )


def _input_stream():
    # Odoo 18's HTTPRequest wrapper offers get_data() but not the stream, and
    # get_data() reads a chunked body to its end whatever its size (werkzeug
    # 2.2 applies max_content_length to form parsing only). The wrapped
    # werkzeug request's stream allows a bounded read.
    return request.httprequest._HTTPRequest__wrapped.stream


def _read_at_most(stream, size):
    chunks, length = [], 0
    while length < size:
        chunk = stream.read(min(READ_CHUNK_BYTES, size - length))
        if not chunk:
            break
        chunks.append(chunk)
        length += len(chunk)
    return b"".join(chunks)


def read_body(limit):
    """Return the raw body, reading at most `limit` bytes of it.

    Raises a 413 `IntakeRefusal` when the declared Content-Length or the
    bytes actually sent exceed `limit`.
    """
    stream = _input_stream()
    declared = request.httprequest.content_length
    body = b""
    if declared is None or declared <= limit:
        body = _read_at_most(stream, limit + 1)
    if (declared is not None and declared > limit) or len(body) > limit:
        _discard(stream)
        raise IntakeRefusal(413, f"The body exceeds the limit of {limit} bytes.")
    return body


def _discard(stream):
    discarded = 0
    try:
        while discarded < DRAIN_MAX_BYTES:
            chunk = _read_at_most(stream, READ_CHUNK_BYTES)
            if not chunk:
                return
            discarded += len(chunk)
    except (OSError, werkzeug.exceptions.HTTPException):
        return


@dataclass(frozen=True)
class Delivery:
    """One webhook request as the sender signed it."""

    method: str
    url: str
    headers: object
    body: bytes
    args: object


@dataclass(frozen=True)
class StoredEvents:
    """The jobs of one request, and how many of its events were new."""

    jobs: object
    new: int
    duplicates: int


class Sender:
    """Base class of a webhook sender: the steps that differ between systems."""

    kinds = ()

    def verify(self, backend, delivery):
        """Raise `SignatureError` unless the request comes from the backend."""
        raise NotImplementedError

    def jobs(self, backend, delivery):
        """Return the job values of the events the request carries."""
        raise NotImplementedError

    def audit_body(self, body):
        """Return the body as the audit log may keep it."""
        return body

    def acknowledge(self, stored):
        """Return the 200 response once the events are stored."""
        return _json_response(
            200, {"stored": stored.new, "duplicates": stored.duplicates}
        )


def _webhook_secret(backend, fallback=None):
    secret = backend._get_secret("webhook_secret")
    if not secret and fallback:
        secret = backend._get_secret(fallback)
    if not secret:
        raise signatures.SignatureError(
            "No webhook secret is configured for this backend."
        )
    return secret


class HubSpotSender(Sender):
    """HubSpot app webhooks, signed with the app's client secret."""

    kinds = ("hubspot",)

    def verify(self, backend, delivery):
        # HubSpot signs with the app's client secret; a backend may store it
        # as its webhook secret or only as its OAuth client secret.
        signatures.verify_hubspot(
            delivery,
            _webhook_secret(backend, fallback="client_secret"),
            signatures.parse_versions(backend.hubspot_signature_versions),
            backend.webhook_tolerance_seconds,
            time.time(),
        )

    def jobs(self, backend, delivery):
        job_values = webhook_events.hubspot_jobs(delivery.body)
        # One app secret signs the events of every portal the app is
        # installed in, so the portal decides which backend they belong to.
        expected = (backend.account_ref or "").strip()
        portals = {str(values["payload"].get("portalId")) for values in job_values}
        if expected and portals != {expected}:
            raise IntakeRefusal(
                401, "An event's portalId is not the portal of this backend."
            )
        return job_values


class SalesforceSender(Sender):
    """Salesforce Outbound Messages, authenticated by a token in the URL."""

    kinds = ("salesforce",)

    def verify(self, backend, delivery):
        if not signatures.matches(_webhook_secret(backend), delivery.args.get("token")):
            raise signatures.SignatureError("The token query parameter does not match.")

    def jobs(self, backend, delivery):
        message = soap.parse_outbound_message(delivery.body)
        expected = (backend.account_ref or "").strip()
        if expected and not same_organization(expected, message["organization_id"]):
            raise IntakeRefusal(
                401, "The OrganizationId is not the organization of this backend."
            )
        return webhook_events.salesforce_jobs(message)

    def audit_body(self, body):
        return soap.redact_session_id(body) if body else body

    def acknowledge(self, stored):
        return request.make_response(
            soap.ACKNOWLEDGEMENT, headers=[("Content-Type", soap.CONTENT_TYPE)]
        )


def same_organization(expected, received):
    """Compare Salesforce org IDs; a 15-character ID equals its 18-character form.

    The 18-character form appends a case checksum to the 15-character one,
    so the first 15 characters decide, compared case-sensitively.
    """
    if len(expected) >= 15 and len(received) >= 15:
        return expected[:15] == received[:15]
    return expected == received


class PsaSender(Sender):
    """PSA webhooks: X-Timestamp and an HMAC of timestamp and body."""

    kinds = ("harvest", "productive")

    def verify(self, backend, delivery):
        signatures.verify_psa(
            delivery,
            _webhook_secret(backend),
            backend.webhook_tolerance_seconds,
            time.time(),
        )

    def jobs(self, backend, delivery):
        return webhook_events.psa_jobs(delivery.body)


class IntegrationController(http.Controller):
    @http.route("/integration/webhook/hubspot/<int:backend_id>", **WEBHOOK_ROUTE)
    def hubspot_webhook(self, backend_id, **_params):
        """Store a HubSpot webhook batch, one job per event."""
        return self._receive(backend_id, HubSpotSender())

    @http.route("/integration/webhook/salesforce/<int:backend_id>", **WEBHOOK_ROUTE)
    def salesforce_webhook(self, backend_id, **_params):
        """Store a Salesforce Outbound Message, one job per notification."""
        return self._receive(backend_id, SalesforceSender())

    @http.route("/integration/webhook/psa/<int:backend_id>", **WEBHOOK_ROUTE)
    def psa_webhook(self, backend_id, **_params):
        """Store PSA webhook events, one job per event."""
        return self._receive(backend_id, PsaSender())

    @http.route(
        "/integration/metrics",
        type="http",
        auth="none",
        methods=["GET"],
        csrf=False,
        save_session=False,
        readonly=True,
    )
    def metrics(self, token=None, **_params):
        """Return the suite's metrics in the Prometheus text format.

        The token is the ``integration_audit.metrics_token`` system
        parameter, sent as ``Authorization: Bearer <token>`` or
        ``?token=``. Without a configured token the route answers 404, as if
        it did not exist; a missing or wrong token gets 401.
        """
        if not request.db:
            return self._unavailable()
        try:
            env = request.env(user=SUPERUSER_ID)
            expected = env["ir.config_parameter"].get_param(METRICS_TOKEN_PARAMETER)
            if not expected:
                return _json_response(404, {"error": "Not found."})
            if not signatures.matches(expected, self._bearer_token() or token):
                _logger.info(
                    "Metrics request without a valid token rejected with HTTP 401"
                )
                return _json_response(
                    401,
                    {"error": "A valid metrics token is required."},
                    {"WWW-Authenticate": 'Bearer realm="integration metrics"'},
                )
            text = env["integration.metrics"]._render_prometheus()
        except Exception as error:  # noqa: BLE001 - mapped to a status, logged below
            status, reason, headers = status_of(error)
            self._log_failure(status, "/integration/metrics", reason, error)
            return _json_response(status, {"error": reason}, headers)
        return request.make_response(
            text, headers=[("Content-Type", prometheus.CONTENT_TYPE)]
        )

    # ------------------------------------------------------------------
    # Intake steps
    # ------------------------------------------------------------------

    def _receive(self, backend_id, sender):
        if not request.db:
            return self._unavailable()
        started = time.monotonic()
        env = request.env(user=SUPERUSER_ID)
        backend = env["integration.backend"]
        body = None
        try:
            backend = self._find_backend(env, backend_id)
            self._check_backend(backend, sender)
            body = read_body(backend.webhook_max_bytes)
            httprequest = request.httprequest
            delivery = Delivery(
                httprequest.method,
                httprequest.url,
                httprequest.headers,
                body,
                httprequest.args,
            )
            sender.verify(backend, delivery)
            job_values = sender.jobs(backend, delivery)
            self._check_capacity(backend)
            stored = self._store(backend, job_values)
            self._audit_accepted(backend, sender, body, stored, started)
            # Write now, so a write error gets its status here. Odoo would
            # rerun the route after a failed flush, with the body already read.
            env.flush_all()
        except Exception as error:  # noqa: BLE001 - every failure becomes a status
            return self._refuse(backend, sender, body, error, started)
        return sender.acknowledge(stored)

    def _find_backend(self, env, backend_id):
        if not 0 < backend_id <= MAX_POSTGRES_INTEGER:
            return env["integration.backend"]
        return env["integration.backend"].browse(backend_id).exists()

    def _check_backend(self, backend, sender):
        if not backend or not backend.active or backend.kind not in sender.kinds:
            raise IntakeRefusal(404, "No active backend of this kind has this ID.")

    def _check_capacity(self, backend):
        cap = backend.webhook_max_pending_jobs
        if not cap:
            return
        backend.env.cr.execute(
            """
            SELECT count(*) FROM (
                SELECT 1 FROM integration_sync_job
                 WHERE backend_id = %s AND state = 'pending'
                 LIMIT %s
            ) AS pending
            """,
            [backend.id, cap],
        )
        if backend.env.cr.fetchone()[0] >= cap:
            raise IntakeRefusal(
                429,
                f"The intake of this backend is saturated ({cap} pending jobs); "
                "retry later.",
                {"Retry-After": str(SATURATED_RETRY_AFTER_SECONDS)},
            )

    def _store(self, backend, job_values):
        """Store one job per event; return what was new and what was known.

        A key that a concurrent delivery committed after this transaction's
        snapshot is skipped by `_enqueue_new` and counted as known here. The
        jobs are the new ones, or the stored one of a single known event.
        """
        Job = backend.env["integration.sync.job"]
        keys = {values["idempotency_key"] for values in job_values}
        jobs = Job._enqueue_new(backend, job_values)
        new = len(jobs)
        if len(keys) == 1 and not jobs:
            jobs = Job.search(
                [("backend_id", "=", backend.id), ("idempotency_key", "in", list(keys))]
            )
        return StoredEvents(jobs, new, len(keys) - new)

    def _audit_accepted(self, backend, sender, body, stored, started):
        single = stored.jobs if len(stored.jobs) == 1 else None
        # A redelivery that stores nothing new is marked as such in the audit log.
        outcome = "duplicate" if stored.duplicates and not stored.new else "ok"
        backend.env["integration.audit.log"]._record(
            backend,
            "inbound",
            outcome=outcome,
            payload=sender.audit_body(body),
            endpoint=request.httprequest.path,
            method=request.httprequest.method,
            status_code=200,
            message=f"{stored.new} new events stored, {stored.duplicates} already "
            "stored.",
            duration_ms=(time.monotonic() - started) * 1000,
            correlation_id=single.correlation_id if single else False,
            job=single,
        )

    # ------------------------------------------------------------------
    # Refusals
    # ------------------------------------------------------------------

    def _refuse(self, backend, sender, body, error, started):
        status, reason, headers = status_of(error)
        path = request.httprequest.path
        self._log_failure(status, path, reason, error)
        self._rollback_request()
        try:
            backend._audit_autonomously(
                "inbound",
                "refused",
                payload=sender.audit_body(body) if status != 413 else None,
                endpoint=path,
                method=request.httprequest.method,
                status_code=status,
                message=reason,
                duration_ms=(time.monotonic() - started) * 1000,
            )
        except DATABASE_ERRORS as audit_error:
            _logger.warning(
                "The refusal of %s (HTTP %s) could not be audited: %s",
                path,
                status,
                audit_error,
            )
        return _json_response(status, {"error": reason}, headers)

    def _rollback_request(self):
        try:
            request.env.cr.rollback()
        except DATABASE_ERRORS as error:
            _logger.warning("Rolling back a refused webhook request failed: %s", error)

    def _log_failure(self, status, path, reason, error):
        # A sender's mistake is logged as information and an unreadable
        # secret as a configuration fault. Anything else gets its traceback.
        if status < 500:
            _logger.info(
                "Request to %s rejected with HTTP %s: %s", path, status, reason
            )
        elif isinstance(error, MissingKeyError):
            _logger.error("Request to %s responded 503: %s", path, error)
        elif status == 503:
            _logger.warning("Request to %s responded 503: %s", path, error)
        else:
            _logger.error(
                "Request to %s failed with HTTP %s", path, status, exc_info=error
            )

    def _unavailable(self):
        _logger.warning(
            "Request to %s responded 503: no database", request.httprequest.path
        )
        return _json_response(
            503,
            {"error": "The service is temporarily unavailable; retry later."},
            {"Retry-After": str(UNAVAILABLE_RETRY_AFTER_SECONDS)},
        )

    def _bearer_token(self):
        scheme, _space, value = (
            request.httprequest.headers.get("Authorization") or ""
        ).partition(" ")
        return value.strip() if scheme.lower() == "bearer" else None
