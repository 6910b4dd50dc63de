"""What the Harvest and Productive clients share: requests, waits, paging.

Every request goes through `backend._http_request`, which adds the
authentication headers, applies the backend's timeout and rate limit,
refreshes an expired token once and writes the audit log. This layer adds
the part a long pull needs: when the PSA answers 429 (or 5xx) it waits as
long as the answer asks and repeats the same request, so a throttled run is
slower but loses no page.
"""

import logging
import time
from urllib.parse import urlsplit

from odoo.addons.integration_audit.services.errors import (
    BusinessError,
    RemoteRejectedError,
    RetryableError,
)

from .records import Unreadable
from .validation import unreadable_error

_logger = logging.getLogger(__name__)

# A throttled request (429 with Retry-After) is sent this many times before
# the run stops and leaves the rest to its next call; the waits honour
# Retry-After. Other transient failures (5xx, timeouts, dropped connections)
# get fewer attempts, because the next call of the run resumes at the same
# page anyway.
THROTTLED_ATTEMPTS = 6
FAILED_ATTEMPTS = 3
FIRST_WAIT_SECONDS = 1.0
MAX_WAIT_SECONDS = 120.0
# Exceptions that the conversion of one PSA record into a `records` dataclass
# raises when a value has the wrong type, is missing or is out of range. The
# conversions only read the record, so these come from its values alone.
READ_ERRORS = (ValueError, TypeError, KeyError, AttributeError, ArithmeticError)


class PsaClient:
    """Base of the PSA clients; one instance serves one backend and one run."""

    kind = None
    max_page_size = None

    def __init__(self, backend, sleep=None):
        self.backend = backend
        self.sleep = sleep or time.sleep
        self.page_size = min(
            backend.psa_page_size or self.max_page_size, self.max_page_size
        )
        self.waited_seconds = 0.0
        self.retried_requests = 0

    def request(self, method, url_or_path, params=None, json=None):
        """Send one request and return its JSON body, waiting out throttling."""
        self._check_same_host(url_or_path)
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self.backend._http_request(
                    method, url_or_path, params=params, json=json
                )
            except RetryableError as error:
                if attempt >= self._attempts_for(method, error):
                    raise
                self._wait(attempt, error)
                continue
            return response.json() if response.content else {}

    @staticmethod
    def _attempts_for(method, error):
        """Return how often a request may be sent when it fails with `error`.

        A write that timed out or got a 5xx may have been applied, so it is
        not sent again here: the job that made it retries later and first
        looks for what the lost attempt created. A 429 was not applied.
        """
        if error.retry_after:
            return THROTTLED_ATTEMPTS
        return FAILED_ATTEMPTS if method.upper() == "GET" else 1

    def get_or_none(self, path, params=None):
        """Return the JSON body of a GET, or None when the PSA answers 404."""
        try:
            return self.request("GET", path, params=params)
        except RemoteRejectedError as error:
            if error.status_code == 404:
                return None
            raise

    def _wait(self, attempt, error):
        backoff = FIRST_WAIT_SECONDS * 2 ** (attempt - 1)
        delay = min(max(float(error.retry_after or 0), backoff), MAX_WAIT_SECONDS)
        _logger.info(
            "%s backend %s throttled or unavailable (%s); retry %d in %.1f s",
            self.kind,
            self.backend.id,
            error,
            attempt,
            delay,
        )
        self.retried_requests += 1
        self.waited_seconds += delay
        self.sleep(delay)

    def _check_same_host(self, url_or_path):
        """Reject an absolute URL (a `links.next`) that leaves the backend's host."""
        if "://" not in str(url_or_path):
            return
        expected = urlsplit(self.backend.base_url or "")
        actual = urlsplit(url_or_path)
        if (actual.scheme, actual.netloc) != (expected.scheme, expected.netloc):
            raise BusinessError(
                f"The {self.kind} API sent a paging link to {actual.netloc}, "
                f"which is not the backend's host {expected.netloc}; the run "
                "stopped. Check the backend's base URL.",
                category="invalid_payload",
            )

    # ------------------------------------------------------------------
    # Reading records
    # ------------------------------------------------------------------

    def read_all(self, kind, raws, convert, *args):
        """Return (records, `Unreadable`s) of a page's raw records.

        `convert(raw, *args)` reads one record; a record whose values it
        cannot read is listed with the reason, and the others are kept.
        """
        records, unreadable = [], []
        for raw in raws:
            try:
                records.append(convert(raw, *args))
            except READ_ERRORS as error:
                unreadable.append(_unreadable(kind, raw, error))
        return records, unreadable

    def read_one(self, kind, raw, convert, *args):
        """Return `convert(raw, *args)`; raise the business error of an unreadable one.

        The error carries the `Unreadable` as its `unreadable` attribute.
        """
        records, unreadable = self.read_all(kind, [raw], convert, *args)
        if unreadable:
            raise unreadable_error(self.backend, unreadable[0])
        return records[0]

    def check_connection(self):
        """Call the cheapest authenticated endpoint; raise when it fails."""
        raise NotImplementedError

    def iter_time_entry_pages(
        self, updated_since=None, resume_token=None, date_from=None, date_to=None
    ):
        """Yield `Page`s of `TimeEntry` changed since `updated_since`."""
        raise NotImplementedError

    def get_time_entry(self, entry_id):
        """Return one `TimeEntry`, or None when the PSA no longer has it."""
        raise NotImplementedError

    def iter_people(self):
        """Yield every PSA user as a `Person`, or an `Unreadable` one."""
        raise NotImplementedError


def _unreadable(kind, raw, error):
    """Return the `Unreadable` of a raw record that `error` stopped."""
    record_id = raw.get("id") if isinstance(raw, dict) else None
    if isinstance(error, KeyError):
        reason = f"the field {error.args[0]} is missing"
    elif isinstance(error, (AttributeError, TypeError)):
        reason = "a field holds a list or an object where text or a number belongs"
    else:
        reason = str(error)
    return Unreadable(kind, str(record_id if record_id is not None else "?"), reason)
