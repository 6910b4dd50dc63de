"""Shared machinery of the local API emulators.

Each emulator is a WSGI application (a subclass of `EmulatorApp`) served by
an `EmulatorServer`: a real threaded HTTP server bound to a free port on
127.0.0.1. The server keeps a log of every request so tests can assert what
a client sent, and wraps the application in the fault middleware so tests
can make any request slow, failing or malformed. The helpers below (clock,
token issuer, rate limiter) keep token expiry and rate limits the same
across emulators.
"""

import collections
import io
import json
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qs

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, RequestRedirect
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from .faults import FaultMiddleware, Faults

_logger = logging.getLogger(__name__)

LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


def json_response(data, status=200, headers=None):
    """Return a werkzeug response with `data` serialized as JSON."""
    return Response(
        json.dumps(data),
        status=status,
        headers=headers,
        content_type="application/json;charset=utf-8",
    )


class ApiError(Exception):
    """A request the emulator rejects with an error body in the vendor's format.

    `code` is the vendor's error code or category, and `extra` contains
    any further keys of the vendor's error body.
    """

    def __init__(self, status, message, code=None, headers=None, **extra):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}
        self.extra = extra


class EmulatorClock:
    """Wall clock of one emulator that tests can move forward.

    Token expiry, rate-limit windows and record timestamps all read this
    clock, so a test can expire a session or start a new rate-limit window
    by calling `advance` instead of sleeping.
    """

    def __init__(self):
        self._offset = 0.0
        self._lock = threading.Lock()

    def time(self):
        """Return the emulator's current time in epoch seconds."""
        with self._lock:
            return time.time() + self._offset

    def now(self):
        """Return the emulator's current time as an aware UTC datetime."""
        return datetime.fromtimestamp(self.time(), UTC)

    def advance(self, seconds):
        """Move the emulator's time forward by `seconds`."""
        with self._lock:
            self._offset += seconds

    def set(self, when):
        """Move the emulator's time to the aware datetime `when` (never back)."""
        delta = when.timestamp() - self.time()
        if delta > 0:
            self.advance(delta)


@dataclass
class Token:
    """An access token the emulator issued or was configured with."""

    value: str
    subject: str
    issued_at: float
    expires_at: float | None
    epoch: int
    static: bool = False
    scopes: tuple = ()


class TokenIssuer:
    """Issues, looks up and expires bearer tokens for one emulator.

    Issued tokens expire after their TTL on the emulator clock or when a
    test calls `Faults.expire_tokens()`. Static tokens never expire on
    their own; `expire_tokens(static=True)` revokes them too.
    """

    def __init__(self, faults, clock, ttl_seconds, prefix="tok"):
        self.faults = faults
        self.clock = clock
        self.ttl_seconds = ttl_seconds
        self.prefix = prefix
        self._tokens = {}
        self._lock = threading.Lock()

    def issue(self, subject, ttl_seconds=None, scopes=()):
        """Create a new expiring token for `subject` and return it."""
        now = self.clock.time()
        ttl = self.ttl_seconds if ttl_seconds is None else ttl_seconds
        value = f"{self.prefix}-{secrets.token_urlsafe(24)}"
        token = Token(value, subject, now, now + ttl, self.faults.token_epoch)
        token.scopes = tuple(scopes)
        with self._lock:
            self._tokens[value] = token
        return token

    def add_static(self, value, subject, scopes=()):
        """Register a token that never expires, such as a private-app token."""
        token = Token(value, subject, self.clock.time(), None, 0, static=True)
        token.epoch = self.faults.static_token_epoch
        token.scopes = tuple(scopes)
        with self._lock:
            self._tokens[value] = token
        return token

    def lookup(self, value):
        """Return the valid token with this value, or None if unknown or expired."""
        state, token = self.state(value)
        return token if state == "valid" else None

    def state(self, value):
        """Return ("valid" | "expired" | "unknown", token or None) for a value."""
        with self._lock:
            token = self._tokens.get(value)
        if token is None:
            return "unknown", None
        if token.static:
            valid = token.epoch >= self.faults.static_token_epoch
        else:
            valid = token.epoch >= self.faults.token_epoch and (
                self.clock.time() < token.expires_at
            )
        return ("valid" if valid else "expired"), token

    def extend(self, token):
        """Restart an issued token's TTL, for sessions that expire when idle."""
        if not token.static:
            token.expires_at = self.clock.time() + self.ttl_seconds

    def revoke(self, value):
        """Forget a token, as a vendor does when it is revoked."""
        with self._lock:
            self._tokens.pop(value, None)


@dataclass
class RateDecision:
    """The outcome of counting one request against a rate limit."""

    allowed: bool
    limit: int
    remaining: int
    window_seconds: float
    retry_after: float


class RateLimiter:
    """Sliding-window request counter per key (token, app or account).

    The limit a test sets with `Faults.rate_limit` replaces the emulator's
    own limit for as long as it is set.
    """

    def __init__(self, faults, clock, max_requests, window_seconds):
        self.faults = faults
        self.clock = clock
        self.max_requests = max_requests
        self.window_seconds = window_seconds
        self._hits = collections.defaultdict(collections.deque)
        self._lock = threading.Lock()

    def hit(self, key):
        """Count one request for `key` and return whether it is allowed."""
        limit, window = self.faults.rate_limit_override or (
            self.max_requests,
            self.window_seconds,
        )
        now = self.clock.time()
        with self._lock:
            hits = self._hits[key]
            while hits and hits[0] <= now - window:
                hits.popleft()
            if len(hits) >= limit:
                retry_after = max(hits[0] + window - now, 0.0)
                return RateDecision(False, limit, 0, window, retry_after)
            hits.append(now)
            return RateDecision(True, limit, limit - len(hits), window, 0.0)


class EmulatorApp:
    """Base WSGI application of an emulator: routing and the error format.

    A subclass lists werkzeug routing rules in `rules()`, each endpoint
    naming one of its methods, which receives the request and the URL
    arguments and returns a response. Handlers raise `ApiError` for
    requests they reject; the subclass's `error_response` turns it into
    the vendor's error body. Requests that no rule matches get a 404 or
    405 in the vendor's format and logged, so a client bug is never silent.
    """

    name = "emulator"

    def __init__(self, store, faults=None, clock=None):
        self.store = store
        self.faults = faults or Faults()
        self.clock = clock or getattr(store, "clock", None) or EmulatorClock()
        self.url_map = Map(self.rules(), strict_slashes=False)

    def rules(self):
        """Return the werkzeug routing rules of this emulator."""
        raise NotImplementedError

    def error_response(self, status, message, code=None, headers=None, **extra):
        """Return an error response in the vendor's format (override per vendor)."""
        body = {"error": code or "error", "message": message, **extra}
        return json_response(body, status, headers)

    def fault_response(self, status, retry_after=None):
        """Return the response of an injected `status` fault."""
        headers = {}
        if retry_after is not None:
            headers["Retry-After"] = str(int(retry_after))
        message = f"Injected fault: HTTP {status}"
        return self.error_response(status, message, headers=headers)

    def before_request(self, request, endpoint):
        """Check authentication and limits; return a response to stop the request."""
        return None

    def after_request(self, request, response):
        """Add the headers every response carries (rate limits, usage)."""
        return response

    def __call__(self, environ, start_response):
        """Serve one WSGI request."""
        request = Request(environ)
        response = self.dispatch(request)
        return response(environ, start_response)

    def dispatch(self, request):
        """Route the request to its handler and turn rejections into errors."""
        adapter = self.url_map.bind_to_environ(request.environ)
        try:
            endpoint, arguments = adapter.match()
        except RequestRedirect as redirect:
            endpoint, arguments = adapter.match(redirect.new_url.split("?")[0])
        except NotFound:
            return self._reject_unknown(request, 404, "Resource not found")
        except MethodNotAllowed:
            return self._reject_unknown(request, 405, "HTTP method not allowed")

        try:
            early = self.before_request(request, endpoint)
            response = early or getattr(self, endpoint)(request, **arguments)
        except ApiError as error:
            _logger.info(
                "%s emulator rejected %s %s: %s",
                self.name,
                request.method,
                request.path,
                error.message,
            )
            response = self.error_response(
                error.status, error.message, error.code, error.headers, **error.extra
            )
        except Exception:
            _logger.exception(
                "%s emulator failed on %s %s", self.name, request.method, request.path
            )
            response = self.error_response(500, "Internal emulator error")
        return self.after_request(request, response)

    def _reject_unknown(self, request, status, message):
        _logger.warning(
            "%s emulator does not serve %s %s (HTTP %s)",
            self.name,
            request.method,
            request.path,
            status,
        )
        detail = f"{message}: {request.method} {request.path}"
        return self.error_response(status, detail)

    @staticmethod
    def json_body(request):
        """Return the parsed JSON body, or raise a 400 `ApiError`."""
        try:
            return json.loads(request.get_data(cache=True) or b"null")
        except ValueError as error:
            raise ApiError(400, f"Invalid JSON in request body: {error}") from error


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the emulator received it."""

    method: str
    path: str
    query: str
    headers: dict
    body: bytes
    received_at: float

    @property
    def args(self):
        """Return the query parameters as a dict of value lists."""
        return parse_qs(self.query, keep_blank_values=True)

    def json(self):
        """Return the body parsed as JSON."""
        return json.loads(self.body)


class _RequestRecorder:
    """WSGI middleware that stores every request before anything else runs."""

    def __init__(self, app, log, lock):
        self.app = app
        self.log = log
        self.lock = lock

    def __call__(self, environ, start_response):
        body = Request(environ).get_data()
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        recorded = RecordedRequest(
            method=environ["REQUEST_METHOD"],
            path=environ.get("PATH_INFO", ""),
            query=environ.get("QUERY_STRING", ""),
            headers=dict(Request(environ).headers),
            body=body,
            received_at=time.time(),
        )
        with self.lock:
            self.log.append(recorded)
        return self.app(environ, start_response)


class _QuietRequestHandler(WSGIRequestHandler):
    """Request handler that leaves access logging to the request log."""

    def log_request(self, code="-", size="-"):
        """Skip werkzeug's per-request access log line."""


class EmulatorServer:
    """A real threaded HTTP server for one emulator on a free loopback port.

    Use it as a context manager or call `start()` and `stop()`. `url` is the
    base URL, `requests` the requests received so far (the newest
    `max_logged`), `faults` the fault set, `store` the application's data.
    """

    def __init__(self, app, name, host="127.0.0.1", port=0, max_logged=20000):
        if host not in LOOPBACK_HOSTS:
            raise ValueError(f"Emulators bind to loopback only, not {host!r}")
        self.app = app
        self.name = name
        self.host = host
        self.requested_port = port
        self.faults = getattr(app, "faults", None) or Faults()
        self._stopping = threading.Event()
        self._log = collections.deque(maxlen=max_logged)
        self._log_lock = threading.Lock()
        self._server = None
        self._thread = None

    @property
    def store(self):
        """Return the application's data store."""
        return getattr(self.app, "store", None)

    @property
    def clock(self):
        """Return the application's clock."""
        return getattr(self.app, "clock", None)

    @property
    def port(self):
        """Return the port the server listens on (after `start`)."""
        return self._server.server_port if self._server else None

    @property
    def url(self):
        """Return the base URL, such as http://127.0.0.1:41234."""
        return f"http://{self.host}:{self.port}" if self._server else None

    @property
    def requests(self):
        """Return a copy of the request log, oldest first."""
        with self._log_lock:
            return list(self._log)

    def requests_to(self, path_prefix, method=None):
        """Return logged requests whose path starts with `path_prefix`."""
        return [
            entry
            for entry in self.requests
            if entry.path.startswith(path_prefix)
            and (method is None or entry.method == method.upper())
        ]

    def clear_requests(self):
        """Empty the request log."""
        with self._log_lock:
            self._log.clear()

    def start(self):
        """Bind the port and serve requests in a background thread."""
        if self._server is not None:
            return self
        fault_response = getattr(self.app, "fault_response", None)
        wrapped = FaultMiddleware(
            self.app, self.faults, fault_response or _plain_fault, self._stopping
        )
        wrapped = _RequestRecorder(wrapped, self._log, self._log_lock)
        self._stopping.clear()
        self._server = make_server(
            self.host,
            self.requested_port,
            wrapped,
            threaded=True,
            request_handler=_QuietRequestHandler,
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            # A short poll interval makes `stop()` return quickly.
            kwargs={"poll_interval": 0.05},
            name=f"emulator-{self.name}",
            daemon=True,
        )
        self._thread.start()
        _logger.info("%s emulator listening on %s", self.name, self.url)
        return self

    def stop(self):
        """Release held requests, stop serving and close the port."""
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        _logger.info("%s emulator stopped", self.name)
        self._server = None
        self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()


def _plain_fault(status, retry_after=None):
    headers = {"Retry-After": str(int(retry_after))} if retry_after else {}
    return json_response({"message": f"Injected fault: HTTP {status}"}, status, headers)


def isoformat_ms(when):
    """Format an aware datetime as ISO-8601 UTC with milliseconds and `Z`."""
    when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def parse_iso(text):
    """Parse an ISO-8601 timestamp (`Z`, `+0000` or `+00:00`) to aware UTC."""
    value = text.strip().replace("Z", "+00:00")
    if len(value) > 5 and value[-5] in "+-" and value[-3] != ":":
        value = f"{value[:-2]}:{value[-2:]}"
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def epoch_ms(when):
    """Return an aware datetime as integer epoch milliseconds."""
    return int(when.timestamp() * 1000)


def from_epoch_ms(value):
    """Return epoch milliseconds as an aware UTC datetime."""
    return datetime.fromtimestamp(int(value) / 1000, UTC)
