"""Outbound HTTP transport: pooled sessions, bounded reads, audit documents.

`integration.backend._http_request` (models/integration_backend_http.py)
drives an exchange, and this module contains the parts that need no
database:

- one `requests.Session` per backend per process, created once under a lock
  and shared by every thread of the process. The session keeps no state
  between requests (headers are passed per request, and its cookie policy
  stores no cookie), so threads never see each other's credentials. Its
  urllib3 connection pool is thread-safe.
- sending with a timeout always, no redirect (a 3xx is returned as is), no
  automatic retry (the queue retries with backoff), and a cap on the size of
  the response body read into memory.
- the parsing of ``Retry-After`` (seconds or an HTTP date).
- the description of an exchange for the audit log, with credentials
  removed.
"""

import json
import re
import threading
import time
from email.utils import parsedate_to_datetime
from http.cookiejar import DefaultCookiePolicy
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

from . import redaction

USER_AGENT = "Odoo integration_audit (services integration suite)"
MAX_RESPONSE_BYTES = 32 * 1024 * 1024
# Text bodies are cut to this many characters each, so the request and the
# response fit together in the audit log's 64 KiB payload.
AUDIT_BODY_CHARS = 16 * 1024
# Larger JSON bodies are not parsed for the audit log: they are cut as text.
AUDIT_PARSE_MAX_BYTES = 1024 * 1024
# Values shorter than this are not searched for and scrubbed from audit
# text: they would match ordinary words.
MIN_SCRUBBED_SECRET_CHARS = 8
# Credentials inside JSON text cut too short to parse: "access_token": "...".
JSON_SECRET_PAIR_PATTERN = re.compile(
    r'("[^"]*(?:token|secret|password|authorization|api[_-]?key|signature)[^"]*"'
    r'\s*:\s*")[^"]*',
    re.IGNORECASE,
)

_sessions = {}
_sessions_lock = threading.Lock()


class ResponseTooLargeError(requests.RequestException):
    """The response body exceeds `MAX_RESPONSE_BYTES`."""


def get_session(key):
    """Return the process-wide session of `key` (database name, backend id)."""
    with _sessions_lock:
        session = _sessions.get(key)
        if session is None:
            session = _new_session()
            _sessions[key] = session
        return session


def _new_session():
    session = requests.Session()
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=16, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session


def prepare(
    session, method, url, *, params=None, json_body=None, data=None, headers=None
):
    """Return the prepared request, so its final URL and body are known."""
    request = requests.Request(
        method.upper(), url, params=params, json=json_body, data=data, headers=headers
    )
    return session.prepare_request(request)


def send(session, prepared, timeout, max_bytes=MAX_RESPONSE_BYTES):
    """Send `prepared` and read at most `max_bytes` of the response body.

    `timeout` (seconds) bounds the connection and every read, not the whole
    exchange. Raises what requests raises (Timeout, ConnectionError...) and
    `ResponseTooLargeError`.
    """
    settings = session.merge_environment_settings(prepared.url, {}, True, None, None)
    response = session.send(
        prepared, timeout=timeout, allow_redirects=False, **settings
    )
    try:
        response._content = _read_capped(response, max_bytes)
    finally:
        response.close()
    return response


def _read_capped(response, max_bytes):
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise ResponseTooLargeError(f"The response declares {declared} bytes.")
    chunks, size = [], 0
    for chunk in response.iter_content(64 * 1024):
        size += len(chunk)
        if size > max_bytes:
            raise ResponseTooLargeError(f"The response exceeds {max_bytes} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_retry_after(value, now=None):
    """Return the delay in seconds a ``Retry-After`` value requests, or None.

    The value is either a number of seconds or an HTTP date; a date in the
    past gives 0.
    """
    if value is None:
        return None
    text = str(value).strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment is None or moment.tzinfo is None:
        return None
    now = time.time() if now is None else now
    return max(moment.timestamp() - now, 0.0)


def strip_credentials(url):
    """Return `url` without user and password, query credentials redacted."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    clean = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return redaction.redact(clean)


def _describe_body(raw, content_type=""):
    """Return a body as a JSON value when it parses, else as capped text."""
    if not raw:
        return None
    if isinstance(raw, str):
        raw = raw.encode()
    text = raw.decode("utf-8", errors="replace")
    looks_like_json = "json" in content_type or text[:1] in "[{"
    if looks_like_json and len(raw) <= AUDIT_PARSE_MAX_BYTES:
        try:
            return redaction.redact(json.loads(text))
        except ValueError:
            return _cut_text(text)
    return _cut_text(text)


def _cut_text(text):
    cut, _truncated = redaction.truncate(text, AUDIT_BODY_CHARS)
    return JSON_SECRET_PAIR_PATTERN.sub(r"\1" + redaction.REDACTED, cut)


def _describe_headers(headers):
    return {
        name: redaction.REDACTED if redaction.SECRET_KEY_PATTERN.search(name) else value
        for name, value in (headers or {}).items()
    }


def describe_exchange(prepared, response):
    """Return the audit document of one exchange, credentials redacted.

    Bodies keep their SHA-256 as exchanged, so a copy held elsewhere can be
    matched against the log even though the stored text is redacted.
    """
    document = {
        "request": {
            "headers": _describe_headers(prepared.headers),
            "body": _describe_body(
                prepared.body, prepared.headers.get("Content-Type", "")
            ),
            "sha256": redaction.digest(prepared.body) if prepared.body else None,
        }
    }
    if response is not None:
        document["response"] = {
            "status": response.status_code,
            "headers": _describe_headers(response.headers),
            "body": _describe_body(
                response.content, response.headers.get("Content-Type", "")
            ),
            "sha256": redaction.digest(response.content),
        }
    return document


def secret_values(headers, extra=()):
    """Return the credential strings to scrub from audit text.

    They are the values of credential headers (and the token after
    ``Bearer ``) plus `extra`, as sent and as escaped in JSON, each at least
    `MIN_SCRUBBED_SECRET_CHARS` long, longest first.
    """
    values = set(extra)
    for name, value in (headers or {}).items():
        if redaction.SECRET_KEY_PATTERN.search(name) and value:
            values.add(str(value))
            values.add(str(value).rpartition(" ")[2])
    # The audit document is JSON text, where quotes and backslashes of a
    # value appear escaped.
    values |= {json.dumps(value)[1:-1] for value in values if value}
    return sorted(
        (
            value
            for value in values
            if value and len(value) >= MIN_SCRUBBED_SECRET_CHARS
        ),
        key=len,
        reverse=True,
    )


def scrub(text, secrets):
    """Replace every occurrence of each of `secrets` in `text`."""
    for secret in secrets:
        text = text.replace(secret, redaction.REDACTED)
    return text
