"""`queue_vs_bare_job`: the queue worker's rate against bare ORM writes.

The worker claims due jobs with SKIP LOCKED, then runs each job in its own
transaction: lock the row, call the handler, write the outcome, commit. The
baseline is the least any worker must do per job: one ORM `write` of the
same job row (result and finish time) in its own transaction and commit.
Both run in this process on the same rows, so the ratio is the queue's
overhead for handlers that do nothing (flow `test.noop`).
"""

import statistics
import time

from odoo import fields

from .committed import create_backend, delete_backend_data
from .context import superuser_env

FLOW = "test.noop"
WARMUP_JOBS = 50


def enqueue_noop_jobs(registry, backend_id, prefix, count):
    """Store `count` due noop jobs; return their ids."""
    with superuser_env(registry) as env:
        backend = env["integration.backend"].browse(backend_id)
        values = [
            {"flow": FLOW, "idempotency_key": f"{prefix}:{n}", "payload": {}}
            for n in range(count)
        ]
        return env["integration.sync.job"]._enqueue_many(backend, values).ids


def run_queue(registry):
    """Run the worker until the queue is empty; return (jobs ran, seconds)."""
    with superuser_env(registry) as env:
        started = time.perf_counter()
        ran = env["integration.sync.job"]._cron_run_jobs(batch_size=50, time_limit=600)
        return ran, time.perf_counter() - started


def run_bare_writes(registry, job_ids):
    """Write each job once in its own transaction; return the seconds taken."""
    started = time.perf_counter()
    for job_id in job_ids:
        with superuser_env(registry) as env:
            env["integration.sync.job"].browse(job_id).write(
                {"result": "baseline", "finished_at": fields.Datetime.now()}
            )
    return time.perf_counter() - started


def measure_round(registry, backend_id, name, count):
    """Run `count` noop jobs, then `count` bare writes; return both durations."""
    job_ids = enqueue_noop_jobs(registry, backend_id, name, count)
    ran, queue_seconds = run_queue(registry)
    if ran != count:
        raise RuntimeError(f"the worker ran {ran} of {count} benchmark jobs")
    return queue_seconds, run_bare_writes(registry, job_ids)


def measure(registry, count=2000, rounds=4):
    """Return the figures of `count` noop jobs against `count` bare writes.

    The two alternate in `rounds` rounds, and the ratio is the median of the
    rounds' ratios, so a burst of load from other processes on the machine
    weighs on both sides instead of on one.
    """
    backend_id = create_backend(registry, name="Benchmark queue", kind="harvest")
    try:
        measure_round(registry, backend_id, "warmup", WARMUP_JOBS)
        timings = [
            measure_round(registry, backend_id, f"round{number}", count // rounds)
            for number in range(rounds)
        ]
    finally:
        delete_backend_data(registry, backend_id)

    ratios = sorted(bare / queue for queue, bare in timings)
    jobs = rounds * (count // rounds)
    return {
        "ratios": {"queue_vs_bare_job": statistics.median(ratios)},
        "absolute": {
            "queue_jobs": jobs,
            "queue_jobs_per_s": jobs / sum(queue for queue, _bare in timings),
            "bare_writes_per_s": jobs / sum(bare for _queue, bare in timings),
        },
    }
