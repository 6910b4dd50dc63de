"""Kill -9 of the Odoo cron worker in the middle of a queue batch.

A real Odoo server (prefork, one cron worker) runs the queue. The test
kills its cron worker while it holds a claimed batch, lets Odoo's master
start a new one and ends the dead worker's lease. Then every job must have
run exactly once. Each job's own transaction records its run in
`integration_test_ping`, so a run counted twice or lost shows there.

These tests commit to the test database, so each cleans up what it made.
"""

import os
import signal
from datetime import UTC, datetime

import pytest

from tests.bench.committed import (
    create_backend,
    delete_backend_data,
    enqueue,
    job_states,
    ping_counts,
    query,
    wait_until,
    wake_queue,
)
from tests.bench.servers import server_on_test_database

JOBS = 120
# Each job sleeps this long after its insert, so the kill lands inside a job.
JOB_SECONDS = 0.05


@pytest.fixture
def backend(registry):
    backend_id = create_backend(registry, name="Kill test", kind="harvest")
    yield backend_id
    delete_backend_data(registry, backend_id)


@pytest.fixture
def server():
    with server_on_test_database(workers=1, cron_threads=1) as odoo_server:
        yield odoo_server


def worker_pids_of_results(registry, job_ids):
    rows = query(
        registry,
        "SELECT DISTINCT result FROM integration_sync_job"
        " WHERE id = ANY(%s) AND state = 'done'",
        [job_ids],
    )
    return {int(result.split()[1]) for (result,) in rows}


def end_lease_of_claims_before(registry, moment, job_ids):
    """Move the claims taken before `moment` an hour back, as if their lease ran out."""
    with registry.cursor() as cr:
        cr.execute(
            "UPDATE integration_sync_job"
            " SET claimed_at = claimed_at - interval '1 hour'"
            " WHERE id = ANY(%s) AND state = 'running' AND claimed_at <= %s",
            [job_ids, moment],
        )
        return cr.rowcount


@pytest.mark.slow
def test_killed_cron_worker_loses_nothing(registry, backend, server):
    job_ids = enqueue(registry, backend, "test.count", JOBS, {"seconds": JOB_SECONDS})
    wake_queue(registry)
    assert wait_until(lambda: job_states(registry, job_ids).get("done", 0) >= 20, 60)

    [victim] = worker_pids_of_results(registry, job_ids)
    assert victim in server.worker_pids()
    os.kill(victim, signal.SIGKILL)
    killed_at = datetime.now(UTC).replace(tzinfo=None)
    assert wait_until(lambda: victim not in server.worker_pids(), 10)

    at_kill = job_states(registry, job_ids)
    assert at_kill.get("done", 0) < JOBS, "the worker finished before the kill"
    assert at_kill.get("running", 0) >= 1, at_kill
    orphaned = end_lease_of_claims_before(registry, killed_at, job_ids)
    assert orphaned >= 1

    # The new cron worker may start listening for triggers after the first
    # one was sent. Waking it until the queue is empty avoids waiting for
    # the cron's one-minute interval.
    def drained():
        wake_queue(registry)
        return job_states(registry, job_ids) == {"done": JOBS}

    assert wait_until(drained, 90, interval=2), job_states(registry, job_ids)
    runs = ping_counts(registry, job_ids)
    assert sorted(runs) == sorted(job_ids), "a job is done without its run recorded"
    assert set(runs.values()) == {1}, "a job ran twice"
    workers = worker_pids_of_results(registry, job_ids)
    assert victim in workers
    assert len(workers) >= 2, "no new cron worker took over"
