"""Signatures of the webhooks the suite receives, and their verification.

Each function builds the exact bytes a sender signs, so tests can check them
against the vendors' published vectors:

- HubSpot v1: lowercase hex SHA-256 of ``client secret + raw body``.
- HubSpot v2: lowercase hex SHA-256 of ``client secret + method + URI + raw
  body``, where the URI is the full URL the request reached, scheme and query
  string included.
- HubSpot v3: standard Base64 of HMAC-SHA256 under the client secret of
  ``method + URI + raw body + timestamp``; the timestamp is the
  ``X-HubSpot-Request-Timestamp`` header in epoch milliseconds.
- PSA webhooks: lowercase hex HMAC-SHA256 under the webhook secret of
  ``timestamp + "." + raw body``, the timestamp in Unix seconds.

Sources: HubSpot's "Validating requests" pages and the signature tests of
HubSpot's Python SDK (hubspot-api-python, tests/spec/utils/test_signature.py).
Every comparison runs in constant time.
"""

import base64
import hashlib
import hmac

HUBSPOT_VERSIONS = ("v1", "v2", "v3")


class SignatureError(Exception):
    """The request is not signed by the expected sender, or too old.

    The message is safe to return to the caller: it names the failed check,
    never the expected value.
    """


def _utf8(value):
    return value if isinstance(value, bytes) else str(value).encode()


def hubspot_v1(secret, body):
    """Return the v1 signature of `body`: hex SHA-256 of secret and body."""
    return hashlib.sha256(_utf8(secret) + _utf8(body)).hexdigest()


def hubspot_v2(secret, method, uri, body):
    """Return the v2 signature: hex SHA-256 of secret, method, URI and body."""
    source = _utf8(secret) + _utf8(method) + _utf8(uri) + _utf8(body or b"")
    return hashlib.sha256(source).hexdigest()


def hubspot_v3(secret, method, uri, body, timestamp):
    """Return the v3 signature: Base64 HMAC-SHA256 of method, URI, body, time."""
    source = _utf8(method) + _utf8(uri) + _utf8(body or b"") + _utf8(timestamp)
    mac = hmac.new(_utf8(secret), source, hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def psa_signature(secret, timestamp, body):
    """Return the PSA signature: hex HMAC-SHA256 of ``timestamp.body``."""
    source = _utf8(timestamp) + b"." + _utf8(body)
    return hmac.new(_utf8(secret), source, hashlib.sha256).hexdigest()


def matches(expected, received):
    """Compare two signatures or tokens in constant time.

    Both sides are compared as UTF-8 bytes, so a header holding non-ASCII
    text is a mismatch rather than a TypeError.
    """
    if not expected or not received:
        return False
    return hmac.compare_digest(_utf8(expected), _utf8(received))


def check_timestamp(raw, now, tolerance_seconds, unit_seconds=1.0):
    """Raise `SignatureError` unless `raw` is within the window around `now`.

    `raw` is the header text, `unit_seconds` its unit (0.001 for HubSpot's
    milliseconds), `now` Unix seconds. The window is symmetric, so a sender
    whose clock runs ahead is held to the same tolerance as a replay.
    """
    try:
        moment = int(raw) * unit_seconds
    except (TypeError, ValueError):
        raise SignatureError(
            "The request timestamp is missing or not an integer."
        ) from None
    if abs(now - moment) > tolerance_seconds:
        raise SignatureError("The request timestamp is outside the accepted window.")
    return moment


def parse_versions(text):
    """Return the HubSpot signature versions listed in a backend setting."""
    listed = {part.strip().lower() for part in (text or "").split(",")}
    return [version for version in HUBSPOT_VERSIONS if version in listed]


def verify_hubspot(request, secret, allowed_versions, tolerance_seconds, now):
    """Check a HubSpot request's signature; return the version that matched.

    `request` carries ``headers``, ``method``, ``url`` (as the sender
    called it) and ``body`` (raw bytes). The strongest signature the request
    carries among `allowed_versions` decides: v3 when its header is present,
    otherwise the version ``X-HubSpot-Signature-Version`` names. A weaker
    signature never rescues a failed stronger one.
    """
    headers = request.headers
    if "v3" in allowed_versions and headers.get("X-HubSpot-Signature-v3"):
        timestamp = headers.get("X-HubSpot-Request-Timestamp")
        check_timestamp(timestamp, now, tolerance_seconds, unit_seconds=0.001)
        expected = hubspot_v3(
            secret, request.method, request.url, request.body, timestamp
        )
        return _accept("v3", expected, headers.get("X-HubSpot-Signature-v3"))
    version = (headers.get("X-HubSpot-Signature-Version") or "").strip().lower()
    received = headers.get("X-HubSpot-Signature")
    if version not in allowed_versions or version == "v3" or not received:
        raise SignatureError(
            "The request carries no HubSpot signature of an accepted version "
            f"({', '.join(allowed_versions) or 'none configured'})."
        )
    if version == "v1":
        expected = hubspot_v1(secret, request.body)
    else:
        expected = hubspot_v2(secret, request.method, request.url, request.body)
    return _accept(version, expected, received.strip().lower())


def _accept(version, expected, received):
    if not matches(expected, received):
        raise SignatureError(f"The HubSpot {version} signature does not match.")
    return version


def verify_psa(request, secret, tolerance_seconds, now):
    """Check a PSA webhook's ``X-Timestamp`` and ``X-Signature`` headers."""
    timestamp = (request.headers.get("X-Timestamp") or "").strip()
    check_timestamp(timestamp, now, tolerance_seconds)
    received = (request.headers.get("X-Signature") or "").strip().lower()
    if not matches(psa_signature(secret, timestamp, request.body), received):
        raise SignatureError("The X-Signature header does not match the body.")
