"""Helpers for fault tests and benchmarks that commit to a real database.

Each helper opens its own cursor and commits, as separate processes would;
`delete_backend_data` removes what a test made, so the shared test
database stays as it was.
"""

import os
import signal
import time

from odoo import SUPERUSER_ID, api


def new_env(registry):
    """Return a superuser environment on a new cursor; the caller closes it."""
    return api.Environment(registry.cursor(), SUPERUSER_ID, {})


def create_backend(registry, **values):
    """Create and commit a backend; return its id."""
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        return env["integration.backend"].create(values).id


def enqueue(registry, backend_id, flow, count, payload=None, *, prefix=None):
    """Store and commit `count` due jobs of `flow`; return their ids."""
    prefix = prefix or flow
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        backend = env["integration.backend"].browse(backend_id)
        values = [
            {"flow": flow, "idempotency_key": f"{prefix}:{n}", "payload": payload}
            for n in range(count)
        ]
        return env["integration.sync.job"]._enqueue_many(backend, values).ids


def wake_queue(registry, cron_xmlids=("integration_audit.ir_cron_run_sync_jobs",)):
    """Ask the servers' cron workers to run the queue crons now."""
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        for xmlid in cron_xmlids:
            env.ref(xmlid)._trigger()


def query(registry, sql, params=None):
    """Run a read query on a new cursor; return all its rows."""
    with registry.cursor() as cr:
        cr.execute(sql, params or [])
        return cr.fetchall()


def job_states(registry, job_ids):
    """Return {state: count} of the given jobs."""
    rows = query(
        registry,
        "SELECT state, count(*) FROM integration_sync_job WHERE id = ANY(%s)"
        " GROUP BY state",
        [list(job_ids)],
    )
    return dict(rows)


def ping_counts(registry, job_ids):
    """Return {job id: committed runs} of `test.count` jobs."""
    rows = query(
        registry,
        "SELECT body, count(*) FROM integration_test_ping WHERE body = ANY(%s)"
        " GROUP BY body",
        [[f"job:{job_id}" for job_id in job_ids]],
    )
    return {int(body.split(":")[1]): count for body, count in rows}


def wait_until(condition, timeout, interval=0.2):
    """Poll `condition` until it returns a true value or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def busy_sessions(registry):
    """Return how many other sessions of the database are running a statement."""
    [(count,)] = query(
        registry,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND pid <> pg_backend_pid() AND state = 'active'",
    )
    return count


def _is_stopped(pid):
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        return handle.read().rsplit(")", 1)[1].split()[0] in ("T", "t")


def stop_when(registry, pid, condition, timeout):
    """Stop process `pid` (SIGSTOP) while `condition()` is true; return whether it did.

    `condition()` checks the database for work of the process that is not
    committed yet. Once it is true, the process is stopped and its sessions
    finish the statement they run. A stopped process sends no COMMIT, so a
    condition still true then stays true until the process is killed. If it
    became false (the work was committed in between), the process continues
    and the wait starts again. The caller kills or continues the process.
    """
    deadline = time.monotonic() + timeout
    while wait_until(condition, deadline - time.monotonic(), interval=0.01):
        os.kill(pid, signal.SIGSTOP)
        wait_until(lambda: _is_stopped(pid), 10, interval=0.01)
        wait_until(lambda: not busy_sessions(registry), 10, interval=0.05)
        if condition():
            return True
        os.kill(pid, signal.SIGCONT)
    return False


def delete_backend_data(registry, backend_id):
    """Delete a backend and every job, audit entry and exception it has."""
    with registry.cursor() as cr:
        cr.execute(
            "DELETE FROM integration_test_ping WHERE body IN (SELECT 'job:' || id"
            " FROM integration_sync_job WHERE backend_id = %s)",
            [backend_id],
        )
        for table in ("integration_exception", "integration_audit_log"):
            cr.execute(f"DELETE FROM {table} WHERE backend_id = %s", [backend_id])
        cr.execute(
            "DELETE FROM integration_sync_job WHERE backend_id = %s", [backend_id]
        )
        cr.execute("DELETE FROM integration_backend WHERE id = %s", [backend_id])
