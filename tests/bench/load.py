"""A bounded load generator: a fixed list of requests, a few threads, a time cap.

Every request goes to the URL it was built with; callers build loopback URLs
of servers they started. The run stops when every request was sent or the
time cap passed, whichever comes first.
"""

import statistics
import threading
import time
from dataclasses import dataclass, field

import requests


@dataclass(frozen=True)
class PreparedRequest:
    """One POST to send: URL, headers and raw body, built before the clock runs."""

    url: str
    headers: dict
    body: bytes


@dataclass
class LoadResult:
    """The requests a run sent and the statuses and latencies of the responses."""

    sent: int = 0
    elapsed: float = 0.0
    statuses: dict = field(default_factory=dict)
    latencies: list = field(default_factory=list)

    @property
    def rate(self):
        return self.sent / self.elapsed if self.elapsed else 0.0

    def percentile(self, fraction):
        """Return the latency in seconds below which `fraction` of requests fell."""
        ordered = sorted(self.latencies)
        if not ordered:
            return 0.0
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

    @property
    def median(self):
        return statistics.median(self.latencies) if self.latencies else 0.0


def _send_all(requests_to_send, cursor, lock, result, deadline):
    session = requests.Session()
    while time.monotonic() < deadline:
        with lock:
            if cursor[0] >= len(requests_to_send):
                return
            prepared = requests_to_send[cursor[0]]
            cursor[0] += 1
        started = time.perf_counter()
        try:
            status = session.post(
                prepared.url, data=prepared.body, headers=prepared.headers, timeout=60
            ).status_code
        except requests.RequestException as error:
            status = type(error).__name__
        latency = time.perf_counter() - started
        with lock:
            result.sent += 1
            result.latencies.append(latency)
            result.statuses[status] = result.statuses.get(status, 0) + 1


def run_load(requests_to_send, threads=4, time_cap=120.0):
    """Send every request with `threads` concurrent senders; return a `LoadResult`."""
    result = LoadResult()
    lock = threading.Lock()
    cursor = [0]
    started = time.perf_counter()
    deadline = time.monotonic() + time_cap
    senders = [
        threading.Thread(
            target=_send_all, args=(requests_to_send, cursor, lock, result, deadline)
        )
        for _index in range(threads)
    ]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    result.elapsed = time.perf_counter() - started
    return result
