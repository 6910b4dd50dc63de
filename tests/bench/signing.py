"""Webhook signatures as the senders compute them, written apart from the
intake's own verification code so that a mistake on one side shows.

- HubSpot v3: standard Base64 of HMAC-SHA256 under the app's client secret
  of method, full URL, raw body and the `X-HubSpot-Request-Timestamp`
  header (epoch milliseconds), concatenated without separators.
- PSA: lowercase hex HMAC-SHA256 under the webhook secret of the Unix
  timestamp in seconds, a dot, and the raw body.
"""

import base64
import hashlib
import hmac
import time


def hubspot_v3_headers(secret, url, body, method="POST", timestamp_ms=None):
    """Return the headers of a HubSpot v3 signed request of `body` to `url`."""
    timestamp = str(int(time.time() * 1000) if timestamp_ms is None else timestamp_ms)
    source = method.encode() + url.encode() + body + timestamp.encode()
    digest = hmac.new(secret.encode(), source, hashlib.sha256).digest()
    return {
        "Content-Type": "application/json",
        "X-HubSpot-Request-Timestamp": timestamp,
        "X-HubSpot-Signature-v3": base64.b64encode(digest).decode(),
    }


def psa_headers(secret, body, timestamp=None):
    """Return the `X-Timestamp` and `X-Signature` headers of a PSA webhook."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    source = stamp.encode() + b"." + body
    return {
        "Content-Type": "application/json",
        "X-Timestamp": stamp,
        "X-Signature": hmac.new(secret.encode(), source, hashlib.sha256).hexdigest(),
    }
