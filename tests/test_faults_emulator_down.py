"""An external API down for a while, then back: the backlog drains by itself.

A real Odoo server (one cron thread) runs jobs that call the Harvest
emulator through the suite's HTTP client. The emulator is stopped before
the jobs run, so every call is refused and each job is retried with
exponential backoff. Once the emulator listens again on the same port,
the test leaves the queue alone. The retries must drain it by themselves
within the backoff schedule: the longest delay plus processing time.

These tests commit to the test database, so each cleans up what it made.
"""

import time

import pytest

from tests.bench.committed import (
    create_backend,
    delete_backend_data,
    enqueue,
    job_states,
    query,
    wait_until,
    wake_queue,
)
from tests.bench.servers import server_on_test_database
from tests.emulators.base import EmulatorServer
from tests.emulators.harvest import make_harvest_server

JOBS = 20
OUTAGE_SECONDS = 6
RETRY_BASE_SECONDS = 1
RETRY_MAX_SECONDS = 4
# Time for the cron to wake and run the due jobs once the emulator is back.
PROCESSING_SLACK_SECONDS = 15


@pytest.fixture
def harvest():
    """A Harvest emulator with an empty store; the test stops and restarts it."""
    servers = [make_harvest_server().start()]
    yield servers
    for server in servers:
        server.stop()


@pytest.fixture
def backend(registry, harvest):
    store_config = harvest[0].store.config
    backend_id = create_backend(
        registry,
        name="Emulator outage test",
        kind="harvest",
        base_url=f"{harvest[0].url}/v2",
        api_token=store_config.personal_access_token,
        account_ref=str(store_config.account_id),
        retry_base_seconds=RETRY_BASE_SECONDS,
        retry_max_seconds=RETRY_MAX_SECONDS,
        max_attempts=12,
        timeout_seconds=5,
    )
    yield backend_id
    delete_backend_data(registry, backend_id)


@pytest.fixture
def server():
    with server_on_test_database(cron_threads=1) as odoo_server:
        yield odoo_server


def retry_count(registry, job_ids):
    [(count,)] = query(
        registry,
        "SELECT count(*) FROM integration_audit_log"
        " WHERE job_id = ANY(%s) AND outcome = 'retry'",
        [job_ids],
    )
    return count


@pytest.mark.slow
def test_backlog_drains_after_emulator_outage(registry, backend, harvest, server):
    emulator = harvest[0]
    port, app = emulator.port, emulator.app
    emulator.stop()

    store_config = app.store.config
    payload = {
        "path": "company",
        "headers": {
            "Harvest-Account-Id": str(store_config.account_id),
            "User-Agent": "Integration fault test (ops@example.com)",
        },
    }
    job_ids = enqueue(registry, backend, "test.http_get", JOBS, payload)
    wake_queue(registry)
    assert wait_until(lambda: retry_count(registry, job_ids) >= JOBS, 30), (
        "the jobs were not tried while the emulator was down"
    )
    time.sleep(OUTAGE_SECONDS)
    # The worker keeps retrying during the outage, so some jobs may be
    # running; none can have finished, failed or died.
    assert set(job_states(registry, job_ids)) <= {"pending", "running"}

    harvest.append(EmulatorServer(app, "harvest", port=port).start())
    back_at = time.monotonic()
    budget = RETRY_MAX_SECONDS + PROCESSING_SLACK_SECONDS
    drained = wait_until(
        lambda: job_states(registry, job_ids) == {"done": JOBS}, budget
    )
    waited = time.monotonic() - back_at

    assert drained, (
        f"{job_states(registry, job_ids)} {waited:.0f} s after the emulator came"
        f" back; the longest backoff is {RETRY_MAX_SECONDS} s"
    )
    served = harvest[1].requests_to("/v2/company")
    assert len(served) == JOBS, (
        "a job called the emulator more than once once it was up"
    )
    [(attempts,)] = query(
        registry,
        "SELECT min(attempts) FROM integration_sync_job WHERE id = ANY(%s)",
        [job_ids],
    )
    assert attempts >= 2
