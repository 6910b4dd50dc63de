"""Two Odoo server processes on one database, running one queue at once.

Odoo runs one instance of a cron at a time across every server, because
the cron row is locked while it runs. So the test adds a second cron that
runs the same queue. Each server's cron thread then takes one of the two,
and both processes claim jobs from the same table at the same time. The queue's
`FOR UPDATE SKIP LOCKED` claim and the per-job row lock must keep every
job to exactly one run.

These tests commit to the test database, so each cleans up what it made.
"""

import pytest

from odoo import SUPERUSER_ID, api
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

JOBS = 300
JOB_SECONDS = 0.01
SECOND_CRON_MODULE = "__fault_test__"
SECOND_CRON_NAME = "ir_cron_run_sync_jobs_second"


@pytest.fixture
def backend(registry):
    backend_id = create_backend(registry, name="Two servers test", kind="harvest")
    yield backend_id
    delete_backend_data(registry, backend_id)


@pytest.fixture
def second_cron(registry):
    """A second cron that runs the queue in small batches, removed afterwards."""
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        cron = env["ir.cron"].create(
            {
                "name": "Fault test: run the sync queue, second instance",
                "model_id": env["ir.model"]._get_id("integration.sync.job"),
                "state": "code",
                "code": "model._cron_run_jobs(batch_size=5)",
                "interval_number": 1,
                "interval_type": "minutes",
                "user_id": SUPERUSER_ID,
            }
        )
        env["ir.model.data"].create(
            {
                "module": SECOND_CRON_MODULE,
                "name": SECOND_CRON_NAME,
                "model": "ir.cron",
                "res_id": cron.id,
            }
        )
        cron_id, action_id = cron.id, cron.ir_actions_server_id.id
    yield f"{SECOND_CRON_MODULE}.{SECOND_CRON_NAME}"
    with registry.cursor() as cr:
        cr.execute("DELETE FROM ir_cron_trigger WHERE cron_id = %s", [cron_id])
        cr.execute("DELETE FROM ir_cron WHERE id = %s", [cron_id])
        cr.execute("DELETE FROM ir_act_server WHERE id = %s", [action_id])
        cr.execute(
            "DELETE FROM ir_model_data WHERE module = %s",
            [SECOND_CRON_MODULE],
        )


@pytest.fixture
def servers():
    """Two threaded Odoo servers, each with one cron thread, on the test database."""
    started = []
    try:
        for _server in range(2):
            started.append(server_on_test_database(cron_threads=1).start())
        yield started
    finally:
        for server in started:
            server.stop()


def worker_pids_of_results(registry, job_ids):
    rows = query(
        registry,
        "SELECT result, count(*) FROM integration_sync_job"
        " WHERE id = ANY(%s) AND state = 'done' GROUP BY result",
        [job_ids],
    )
    return {int(result.split()[1]): count for result, count in rows}


@pytest.mark.slow
def test_two_servers_never_run_a_job_twice(registry, backend, second_cron, servers):
    job_ids = enqueue(registry, backend, "test.count", JOBS, {"seconds": JOB_SECONDS})
    crons = ("integration_audit.ir_cron_run_sync_jobs", second_cron)

    def drained():
        wake_queue(registry, crons)
        return job_states(registry, job_ids) == {"done": JOBS}

    assert wait_until(drained, 120, interval=2), job_states(registry, job_ids)
    runs = ping_counts(registry, job_ids)
    assert sorted(runs) == sorted(job_ids), "a job is done without its run recorded"
    assert set(runs.values()) == {1}, "a job ran twice"
    attempts = query(
        registry,
        "SELECT DISTINCT attempts FROM integration_sync_job WHERE id = ANY(%s)",
        [job_ids],
    )
    assert attempts == [(1,)], "a job was claimed more than once"
    by_process = worker_pids_of_results(registry, job_ids)
    server_pids = {server.process.pid for server in servers}
    assert set(by_process) == server_pids, (by_process, server_pids)
    assert min(by_process.values()) >= 10, f"one server barely took part: {by_process}"
