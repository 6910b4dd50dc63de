"""The queue under real concurrency: several connections, a killed worker.

These tests commit to the test database, so each cleans up what it made.
"""

import subprocess
import sys
import textwrap
import threading
import time

import pytest

import odoo
from odoo import SUPERUSER_ID, api
from odoo.tools import config


@pytest.fixture
def registry():
    return odoo.modules.registry.Registry(config["db_name"])


@pytest.fixture
def backend(registry):
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        record = env["integration.backend"].create(
            {"name": "Worker test", "kind": "harvest", "retry_base_seconds": 1}
        )
        backend_id = record.id
    yield backend_id
    with registry.cursor() as cr:
        cr.execute("DELETE FROM integration_test_ping WHERE body LIKE 'job:%%'")
        cr.execute(
            "DELETE FROM integration_exception WHERE backend_id = %s", [backend_id]
        )
        cr.execute(
            "DELETE FROM integration_audit_log WHERE backend_id = %s", [backend_id]
        )
        cr.execute(
            "DELETE FROM integration_sync_job WHERE backend_id = %s", [backend_id]
        )
        cr.execute("DELETE FROM integration_backend WHERE id = %s", [backend_id])


def enqueue(registry, backend_id, flow, count, payload=None):
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        backend = env["integration.backend"].browse(backend_id)
        jobs = env["integration.sync.job"]._enqueue_many(
            backend,
            [
                {"flow": flow, "idempotency_key": f"{flow}:{n}", "payload": payload}
                for n in range(count)
            ],
        )
        return jobs.ids


def run_worker(registry, results, index):
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        results[index] = env["integration.sync.job"]._cron_run_jobs(
            batch_size=5, time_limit=120
        )


def job_states(registry, job_ids):
    with registry.cursor() as cr:
        cr.execute(
            "SELECT state, count(*) FROM integration_sync_job WHERE id = ANY(%s) GROUP BY state",
            [job_ids],
        )
        return dict(cr.fetchall())


def test_two_workers_never_run_a_job_twice(registry, backend):
    # Each job pauses 10 ms so that the workers' claims interleave.
    job_ids = enqueue(registry, backend, "test.count", 200, {"pause": 0.01})
    results = {}
    workers = [
        threading.Thread(target=run_worker, args=(registry, results, index))
        for index in range(3)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=180)

    with registry.cursor() as cr:
        cr.execute(
            "SELECT body, count(*) FROM integration_test_ping WHERE body LIKE 'job:%%'"
            " GROUP BY body"
        )
        runs = dict(cr.fetchall())
    assert job_states(registry, job_ids) == {"done": 200}
    assert len(runs) == 200
    assert max(runs.values()) == 1
    assert sum(results.values()) == 200
    assert sum(1 for ran in results.values() if ran) >= 2, results


WORKER_SCRIPT = textwrap.dedent(
    """
    import sys
    import odoo
    from odoo import SUPERUSER_ID, api
    odoo.tools.config.parse_config(["--addons-path", sys.argv[1], "-d", sys.argv[2]])
    registry = odoo.modules.registry.Registry(sys.argv[2])
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        env["integration.sync.job"]._cron_run_jobs(batch_size=1, time_limit=120)
    """
)


def wait_for_state(registry, job_id, state, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if job_states(registry, [job_id]).get(state):
            return True
        time.sleep(0.2)
    return False


def test_killed_worker_leaves_job_recoverable(registry, backend):
    [job_id] = enqueue(registry, backend, "test.sleep", 1, {"seconds": 60})
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER_SCRIPT, config["addons_path"], config["db_name"]],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_for_state(registry, job_id, "running"), (
            "the worker never claimed the job"
        )
        time.sleep(1.0)
        Job = api.Environment(registry.cursor(), SUPERUSER_ID, {})[
            "integration.sync.job"
        ]
        try:
            # The live worker holds the job's row lock: recovery must not steal it.
            assert Job._recover_stale_jobs(lease_seconds=0) == []
        finally:
            Job.env.cr.close()
    finally:
        worker.kill()
        worker.wait(timeout=30)

    assert job_states(registry, [job_id]) == {"running": 1}
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        Job = env["integration.sync.job"]
        assert Job._recover_stale_jobs(lease_seconds=0) == [job_id]
        job = Job.browse(job_id)
        assert job.state == "pending"
        assert "Recovered" in job.last_error
        job.payload = {"seconds": 0}
        cr.commit()
        assert Job._cron_run_jobs(time_limit=30) == 1
        job.invalidate_recordset()
        assert job.state == "done"
        assert job.attempts == 2


def test_concurrent_duplicate_delivery_stores_one_job(registry, backend):
    """Two deliveries of one event race: the loser finds the winner's job."""
    first_cr = registry.cursor()
    try:
        first_env = api.Environment(first_cr, SUPERUSER_ID, {})
        first_backend = first_env["integration.backend"].browse(backend)
        first_job = first_env["integration.sync.job"]._enqueue(
            first_backend, "test.noop", "race:1", {"delivery": 1}
        )
        first_env.flush_all()
        results = {}

        def second_delivery():
            with registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                jobs = env["integration.sync.job"]._enqueue(
                    env["integration.backend"].browse(backend),
                    "test.noop",
                    "race:1",
                    {"delivery": 2},
                )
                results["ids"] = jobs.ids

        racer = threading.Thread(target=second_delivery)
        racer.start()
        # The second delivery now waits on the unique index for this commit.
        time.sleep(1.0)
        first_cr.commit()
        racer.join(timeout=60)
    finally:
        first_cr.close()

    # The loser's snapshot predates the winner's commit, so it cannot return
    # the winner's job; what matters is that it stored no second one and
    # raised nothing.
    assert results["ids"] == []
    assert first_job.ids
    with registry.cursor() as cr:
        cr.execute(
            "SELECT count(*) FROM integration_sync_job WHERE idempotency_key = 'race:1'"
        )
        assert cr.fetchone()[0] == 1
