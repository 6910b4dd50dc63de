"""Change events of the PSA emulators, in the suite's PSA webhook format.

Neither Harvest nor Productive pushes time-entry changes, so a deployment
relays them to `POST /integration/webhook/psa/<backend id>`. The PSA
stores queue one event per change made through their API or test
helpers. `post_events` delivers them the way that route expects. The
body is JSON `{"events": [...]}`, `X-Timestamp` holds Unix seconds, and
`X-Signature` is the hex HMAC-SHA256, under the webhook secret, of the
timestamp, a dot and the raw body.
"""

import hashlib
import hmac
import itertools
import json
import time
from urllib.parse import urlsplit

import requests

from .base import LOOPBACK_HOSTS, isoformat_ms


class PsaEventLog:
    """Mixin of a PSA store that queues change events.

    A subclass sets `event_source` (the id prefix) and `event_names` (the
    event name of each record kind); kinds not listed emit nothing.
    """

    event_source = "psa"
    event_names = {}

    def _start_event_log(self):
        self.events = []
        self._event_ids = itertools.count(1)

    def take_events(self):
        """Return and forget the change events queued so far.

        Each event is `{"id", "type", "object": {"type", "id"}, "occurred_at"}`,
        such as a `time_entry.updated` event for an approved entry.
        """
        with self.lock:
            events, self.events = self.events, []
        return events

    def _emit(self, kind, action, record_id, when):
        name = self.event_names.get(kind)
        if name is None:
            return
        with self.lock:
            self.events.append(
                {
                    "id": f"{self.event_source}-{next(self._event_ids)}",
                    "type": f"{name}.{action}",
                    "object": {"type": name, "id": record_id},
                    "occurred_at": isoformat_ms(when),
                }
            )


def sign_psa_body(secret, body, timestamp):
    """Return the X-Signature of a raw body sent at `timestamp` (Unix seconds)."""
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def post_events(url, secret, events, timestamp=None, timeout=10):
    """POST events to the suite's PSA webhook route, signed, and return the response.

    Only loopback URLs are accepted: the emulators talk to local servers.
    """
    host = urlsplit(url).hostname
    if host not in LOOPBACK_HOSTS:
        raise ValueError(f"PSA events go to loopback servers only, not {host!r}")
    body = json.dumps({"events": events}).encode()
    stamp = str(int(time.time() if timestamp is None else timestamp))
    headers = {
        "Content-Type": "application/json",
        "X-Timestamp": stamp,
        "X-Signature": sign_psa_body(secret, body, stamp),
    }
    return requests.post(url, data=body, headers=headers, timeout=timeout)
