"""Fault injection shared by every emulator.

A `Faults` object stores the faults a test requested: slow responses, requests
held past the client's timeout, dropped connections, error statuses,
truncated JSON, records with field values the vendor never sends, expired
tokens, tighter rate limits and callbacks that run between two pages of one
sync. `FaultMiddleware` consults it on every
request, so each emulator gets the same faults without code of its own.
Every fault can be limited to a path prefix and an HTTP method.
"""

import json
import logging
import socket
import threading
import time
from dataclasses import dataclass, field

from werkzeug.wrappers import Response

_logger = logging.getLogger(__name__)

# Seconds a `timeout` fault holds a request when the test passes no
# `seconds`: longer than any client timeout the suite configures.
DEFAULT_HOLD_SECONDS = 30.0


@dataclass
class FaultRule:
    """One requested fault and how many more requests it applies to."""

    kind: str
    path: str | None = None
    method: str | None = None
    remaining: int | None = 1
    seconds: float = 0.0
    code: int = 0
    retry_after: float | None = None
    process: bool = False
    record_id: str | None = None
    changes: dict = field(default_factory=dict)

    def matches(self, method, path):
        """Return whether the rule applies to this request and is not used up."""
        if self.remaining is not None and self.remaining <= 0:
            return False
        if self.method and self.method.upper() != method.upper():
            return False
        return self.path is None or path.startswith(self.path)

    def consume(self):
        """Count one application of the rule."""
        if self.remaining is not None:
            self.remaining -= 1


@dataclass
class PageHook:
    """A callback run after a given page of a paged listing was built."""

    callback: object
    after_page: int
    path: str | None
    remaining: int | None


@dataclass
class FaultPlan:
    """What the middleware must do for one request."""

    delay: float = 0.0
    rule: FaultRule | None = None
    rewrites: list = field(default_factory=list)
    fired: list = field(default_factory=list)


class Faults:
    """Thread-safe set of faults that an emulator applies to its requests.

    Rules are tried in the order they were added. `slow` rules add up and
    combine with at most one terminal fault (timeout, drop, status or
    malformed) per request. `fired` lists (kind, method, path) for every
    fault applied, so tests can assert that a fault really happened.
    """

    def __init__(self, hold_seconds=DEFAULT_HOLD_SECONDS):
        self._lock = threading.Lock()
        self._rules = []
        self._page_hooks = []
        self.hold_seconds = hold_seconds
        self.fired = []
        self.token_epoch = 0
        self.static_token_epoch = 0
        self.rate_limit_override = None

    def slow(self, seconds, times=None, path=None, method=None):
        """Delay matching responses by `seconds` (every time unless `times` is set)."""
        self._add(FaultRule("slow", path, method, times, seconds=seconds))

    def timeout(self, times=1, path=None, method=None, seconds=None, process=False):
        """Hold matching requests past the client's timeout, then drop them.

        With `process=True` the emulator applies the request before holding
        it, as a server does that finishes its work after the client gave
        up, so a retry meets the effect of the first attempt.
        """
        hold = self.hold_seconds if seconds is None else seconds
        rule = FaultRule("timeout", path, method, times, seconds=hold, process=process)
        self._add(rule)

    def drop(self, times=1, path=None, method=None, process=False):
        """Close matching connections without a response.

        With `process=True` the request is applied first, so only the
        response is lost.
        """
        self._add(FaultRule("drop", path, method, times, process=process))

    def status(self, code, times=1, retry_after=None, path=None, method=None):
        """Fail matching requests with HTTP `code` in the vendor's error format."""
        rule = FaultRule("status", path, method, times, code=code)
        rule.retry_after = retry_after
        self._add(rule)

    def malformed(self, times=1, path=None, method=None):
        """Return a truncated, invalid JSON body to matching requests."""
        self._add(FaultRule("malformed", path, method, times))

    def rewrite(self, record_id, changes, times=None, path=None, method=None):
        """Serve record `record_id` with `changes` applied to its JSON.

        `changes` maps a field, or a dotted path such as `attributes.date`,
        to the value to send instead; `REMOVED` drops the field. Every
        object of a response whose `id` is `record_id` is changed, in lists
        and single reads alike. Rewrites combine with each other and with
        `slow`, not with a terminal fault.
        """
        rule = FaultRule("rewrite", path, method, times, record_id=str(record_id))
        rule.changes = dict(changes)
        self._add(rule)

    def expire_tokens(self, static=False):
        """Invalidate every access token issued so far.

        Static tokens (private-app tokens, personal access tokens) stay
        valid unless `static` is true, because in the real systems only a
        person can revoke them.
        """
        with self._lock:
            self.token_epoch += 1
            if static:
                self.static_token_epoch += 1

    def rate_limit(self, requests, per_seconds):
        """Replace the emulator's own rate limit by `requests` per `per_seconds`."""
        with self._lock:
            self.rate_limit_override = (int(requests), float(per_seconds))

    def between_pages(self, callback, after_page=1, path=None, times=1):
        """Run `callback(page_number)` once page `after_page` of a listing is built.

        The callback runs before the response is sent, so the client's next
        page request sees whatever the callback changed.
        """
        with self._lock:
            self._page_hooks.append(PageHook(callback, after_page, path, times))

    def clear(self):
        """Remove every fault, rate-limit override and page callback.

        Expired tokens stay expired: clearing faults does not revive them.
        """
        with self._lock:
            self._rules.clear()
            self._page_hooks.clear()
            self.rate_limit_override = None
            self.fired.clear()

    def plan(self, method, path):
        """Consume the rules matching this request and return what to apply."""
        plan = FaultPlan()
        with self._lock:
            for rule in self._rules:
                if not rule.matches(method, path):
                    continue
                if rule.kind == "slow":
                    plan.delay += rule.seconds
                elif rule.kind == "rewrite":
                    plan.rewrites.append(rule)
                elif plan.rule is None:
                    plan.rule = rule
                else:
                    continue
                rule.consume()
                self.fired.append((rule.kind, method, path))
        return plan

    def page_served(self, path, page_number):
        """Run the page callbacks registered for this page of this listing."""
        with self._lock:
            due = [
                hook
                for hook in self._page_hooks
                if hook.after_page == page_number
                and (hook.remaining is None or hook.remaining > 0)
                and (hook.path is None or path.startswith(hook.path))
            ]
            for hook in due:
                if hook.remaining is not None:
                    hook.remaining -= 1
        for hook in due:
            hook.callback(page_number)

    def _add(self, rule):
        with self._lock:
            self._rules.append(rule)


class FaultMiddleware:
    """WSGI middleware that applies the faults of a `Faults` object.

    `fault_response(code, retry_after)` builds the error response of a
    `status` fault in the vendor's format. `stopping` is an event the
    server sets on shutdown, so held requests end at once.
    """

    def __init__(self, app, faults, fault_response, stopping):
        self.app = app
        self.faults = faults
        self.fault_response = fault_response
        self.stopping = stopping

    def __call__(self, environ, start_response):
        """Apply the planned faults, then pass the request on or respond."""
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO", "")
        plan = self.faults.plan(method, path)
        if plan.delay:
            self.stopping.wait(plan.delay)

        rule = plan.rule
        if rule is None and plan.rewrites:
            return self._apply_rewrites(plan.rewrites, environ, start_response)
        if rule is None:
            return self.app(environ, start_response)
        _logger.info("Emulator fault %s on %s %s", rule.kind, method, path)
        handler = getattr(self, f"_apply_{rule.kind}")
        return handler(rule, environ, start_response)

    def _apply_status(self, rule, environ, start_response):
        response = self.fault_response(rule.code, rule.retry_after)
        return response(environ, start_response)

    def _apply_malformed(self, rule, environ, start_response):
        response = Response.from_app(self.app, environ, buffered=True)
        body = response.get_data()
        response.set_data(body[: len(body) // 2] if len(body) > 1 else b'{"')
        response.headers["Content-Type"] = "application/json;charset=utf-8"
        return response(environ, start_response)

    def _apply_rewrites(self, rules, environ, start_response):
        response = Response.from_app(self.app, environ, buffered=True)
        try:
            body = json.loads(response.get_data())
        except ValueError:
            return response(environ, start_response)
        for rule in rules:
            _rewrite_records(body, rule.record_id, rule.changes)
        response.set_data(json.dumps(body))
        return response(environ, start_response)

    def _apply_timeout(self, rule, environ, start_response):
        started = time.monotonic()
        if rule.process:
            Response.from_app(self.app, environ, buffered=True)
        remaining = rule.seconds - (time.monotonic() - started)
        self.stopping.wait(max(remaining, 0.0))
        return self._drop_connection(environ)

    def _apply_drop(self, rule, environ, start_response):
        if rule.process:
            Response.from_app(self.app, environ, buffered=True)
        return self._drop_connection(environ)

    def _drop_connection(self, environ):
        # werkzeug's development server exposes the client socket; shutting
        # it down makes the client see a closed connection with no response.
        # The ConnectionAbortedError is caught by werkzeug as a dropped
        # connection, so nothing is written afterwards.
        connection = environ.get("werkzeug.socket")
        if connection is not None:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                _logger.debug("Client socket was already closed")
        raise ConnectionAbortedError("emulator fault: connection dropped")


# Value of a `rewrite` change that removes the field instead of setting it.
REMOVED = object()


def _rewrite_records(node, record_id, changes):
    """Apply `changes` to every object under `node` whose id is `record_id`."""
    if isinstance(node, list):
        for item in node:
            _rewrite_records(item, record_id, changes)
        return
    if not isinstance(node, dict):
        return
    if str(node.get("id")) == record_id:
        for dotted, value in changes.items():
            _set_path(node, dotted.split("."), value)
    for value in node.values():
        if isinstance(value, (dict, list)):
            _rewrite_records(value, record_id, changes)


def _set_path(node, keys, value):
    for key in keys[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    if value is REMOVED:
        node.pop(keys[-1], None)
    else:
        node[keys[-1]] = value
