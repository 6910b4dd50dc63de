"""PostgreSQL unreachable during webhook intake: refused with 5xx, nothing lost.

The Odoo server under test reaches PostgreSQL through a TCP proxy on
127.0.0.1. The test takes the proxy down and brings it back, which cuts the
open connections and refuses new ones as a database restart would. The
shared PostgreSQL cluster itself is never touched. A sender posts signed HubSpot
batches throughout. While the database is down every answer must be a
5xx, so the sender keeps the events and retries; afterwards every batch
the intake acknowledged must be stored, and each event exactly once.

These tests commit to the test database, so each cleans up what it made.
"""

import itertools
import os
import threading
import time

import pytest
import requests

from odoo.tools import config
from tests.bench.committed import create_backend, delete_backend_data, query
from tests.bench.servers import loopback_ports, server_on_test_database
from tests.bench.signing import hubspot_v3_headers
from tests.bench.tcp_proxy import TcpProxy
from tests.bench.webhook import hubspot_batch

SECRET = "outage-test-secret"
EVENTS_PER_BATCH = 20
OUTAGE_SECONDS = 4
MAX_SENDS_WHILE_DOWN = 200


@pytest.fixture
def backend(registry):
    backend_id = create_backend(
        registry,
        name="Outage test",
        kind="hubspot",
        webhook_secret=SECRET,
        hubspot_signature_versions="v3",
    )
    yield backend_id
    delete_backend_data(registry, backend_id)


def postgres_address():
    """Return where the test's own connections reach PostgreSQL."""
    host = config["db_host"] or os.environ.get("PGHOST") or "127.0.0.1"
    port = int(config["db_port"] or os.environ.get("PGPORT") or 5432)
    if host.startswith("/"):
        return f"{host}/.s.PGSQL.{port}"
    return (host, port)


@pytest.fixture
def proxied_server():
    """An Odoo server whose only way to PostgreSQL is a proxy the test controls."""
    (proxy_port,) = loopback_ports(1)
    proxy = TcpProxy(proxy_port, postgres_address()).start()
    server = server_on_test_database(
        workers=2,
        # Loaded server-wide, the intake responds 503 when no database is
        # reachable, instead of Odoo's 404 for an unknown route.
        extra_args=[
            "--db_host",
            "127.0.0.1",
            "--db_port",
            str(proxy_port),
            "--load",
            "base,web,integration_audit",
        ],
    )
    try:
        server.start()
        yield server, proxy
    finally:
        server.stop()
        proxy.stop()


class Sender:
    """A webhook sender that signs each attempt and records every outcome."""

    def __init__(self, url):
        self.url = url
        self.session = requests.Session()
        self.event_ids = itertools.count(1)
        self.outcomes = []  # (event ids, status, sent at, response received at)
        self.lock = threading.Lock()

    def new_batch(self):
        return [next(self.event_ids) for _event in range(EVENTS_PER_BATCH)]

    def send(self, batch):
        body = hubspot_batch(batch)
        sent_at = time.monotonic()
        try:
            response = self.session.post(
                self.url,
                data=body,
                headers=hubspot_v3_headers(SECRET, self.url, body),
                timeout=30,
            )
            status = response.status_code
        except requests.RequestException as error:
            status = type(error).__name__
        with self.lock:
            self.outcomes.append((batch, status, sent_at, time.monotonic()))
        return status

    def acknowledged(self):
        return [batch for batch, status, *_times in self.outcomes if status == 200]

    def send_until_stored(self, batch, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.send(batch) == 200:
                return True
            time.sleep(0.5)
        return False


def send_continuously(sender, stop, batches):
    for _send in range(MAX_SENDS_WHILE_DOWN):
        if stop.is_set():
            return
        batch = sender.new_batch()
        batches.append(batch)
        sender.send(batch)
        time.sleep(0.05)


def stored_keys(registry, backend_id):
    rows = query(
        registry,
        "SELECT idempotency_key, count(*) FROM integration_sync_job"
        " WHERE backend_id = %s GROUP BY idempotency_key",
        [backend_id],
    )
    return dict(rows)


@pytest.mark.slow
def test_database_outage_refuses_and_loses_nothing(registry, backend, proxied_server):
    server, proxy = proxied_server
    sender = Sender(f"{server.url}/integration/webhook/hubspot/{backend}")
    for _batch in range(3):
        assert sender.send(sender.new_batch()) == 200

    batches, stop = [], threading.Event()
    thread = threading.Thread(target=send_continuously, args=(sender, stop, batches))
    thread.start()
    time.sleep(1)
    proxy.stop()
    down_from = time.monotonic()
    time.sleep(OUTAGE_SECONDS)
    down_until = time.monotonic()
    proxy.start()
    time.sleep(1)
    stop.set()
    thread.join(60)

    during_outage = [
        status
        for _batch, status, sent_at, received_at in sender.outcomes
        if sent_at >= down_from and received_at <= down_until
    ]
    assert len(during_outage) >= 5, "too few requests landed inside the outage"
    # The intake responds 503 when the database is gone, so the sender
    # retries. A 4xx would tell HubSpot to drop the events.
    assert set(during_outage) == {503}, during_outage

    unacknowledged = [batch for batch in batches if batch not in sender.acknowledged()]
    assert unacknowledged, "no batch was refused: the outage did not happen"
    for batch in unacknowledged:
        assert sender.send_until_stored(batch), f"batch {batch[0]} never stored"

    keys = stored_keys(registry, backend)
    sent = {event for batch, *_rest in sender.outcomes for event in batch}
    assert set(keys) == {f"hubspot:event:{event}" for event in sent}
    assert set(keys.values()) == {1}
    # Requests cut at the moment the database went away may get another
    # 5xx, but never a 4xx nor a dropped connection.
    statuses = {status for _batch, status, *_times in sender.outcomes}
    assert all(status == 200 or 500 <= status < 600 for status in statuses), statuses
