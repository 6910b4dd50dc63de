"""Kill -9 of the Odoo cron worker in the middle of a PSA time import.

A real Odoo server (prefork, one cron worker) runs the PSA connector's
time pull from the Harvest emulator, page after page. The test kills the
cron worker while it stores a page whose timesheets are created but not
committed. The worker is stopped first, so the kill cannot land after the
commit. Odoo's master starts a new cron worker, and the next call of the
cron resumes the run. Every approved entry must then have exactly one
timesheet and one mapping, every entry one ledger row, and the resumed run
must continue from the paging link of the last stored page, never from the
first page again.

These tests commit to the test database, so each cleans up what it made.
"""

import json
import math
import os
import signal
from decimal import Decimal
from urllib.parse import urlsplit

import pytest

from tests.bench.committed import query, stop_when, wait_until, wake_queue
from tests.bench.psa_data import (
    create_firm,
    create_harvest_backend,
    delete_psa_backend,
    ledger_count,
    remove_firm,
    timesheet_hours,
    timesheets_per_entry,
)
from tests.bench.psa_import import LOCK_REASONS
from tests.bench.servers import server_on_test_database

PAGE_SIZE = 8
TIME_CRON = "psa_connector.ir_cron_psa_import_time"
TIME_FLOW = "psa.time_entries"
ENTRIES_PATH = "/v2/time_entries"


@pytest.fixture
def firm_in_odoo(registry, small_firm):
    ids = create_firm(registry, small_firm, "Kill test")
    yield ids
    remove_firm(registry, ids)


@pytest.fixture
def backend(registry, harvest_firm_server, firm_in_odoo):
    """A Harvest backend with small pages; its expense pull is switched off."""
    backend_id = create_harvest_backend(
        registry,
        harvest_firm_server,
        "PSA kill test",
        flows_off=("psa.expenses",),
        psa_page_size=PAGE_SIZE,
        psa_routine_lock_reasons=",".join(LOCK_REASONS),
    )
    yield backend_id
    delete_psa_backend(registry, backend_id)


@pytest.fixture
def server():
    with server_on_test_database(workers=1, cron_threads=1) as odoo_server:
        yield odoo_server


def last_line_id_drawn(registry):
    """Return the last timesheet id taken from its sequence, committed or not."""
    [(value,)] = query(registry, "SELECT last_value FROM account_analytic_line_id_seq")
    return value


def lines_uncommitted(registry, baseline):
    """Return whether timesheet ids above `baseline` were drawn but not committed."""
    [(uncommitted,)] = query(
        registry,
        "SELECT (SELECT last_value FROM account_analytic_line_id_seq) > GREATEST(%s,"
        " (SELECT COALESCE(max(id), 0) FROM account_analytic_line))",
        [baseline],
    )
    return uncommitted


def page_in_flight(registry, baseline):
    """Return whether a page's timesheets are created but not yet committed.

    The page transaction takes an advisory lock per entry id. Once it has
    created its timesheets, their ids are drawn from the sequence but no
    committed timesheet has them.
    """
    [(locked,)] = query(
        registry,
        """
        SELECT EXISTS (
               SELECT 1 FROM pg_locks lock
                JOIN pg_stat_activity activity ON activity.pid = lock.pid
               WHERE lock.locktype = 'advisory' AND lock.objsubid = 1
                 AND lock.granted AND activity.datname = current_database())
        """,
    )
    return locked and lines_uncommitted(registry, baseline)


def flow_state(registry, backend_id):
    """Return (watermark dict, last run time) of the backend's time flow."""
    rows = query(
        registry,
        "SELECT watermark, last_run_at FROM integration_flow"
        " WHERE backend_id = %s AND code = %s",
        [backend_id, TIME_FLOW],
    )
    if not rows:
        return {}, None
    watermark, last_run_at = rows[0]
    return json.loads(watermark or "{}"), last_run_at


def same_request(recorded, link):
    parts = urlsplit(link)
    return (recorded.path, recorded.query) == (parts.path, parts.query)


@pytest.mark.slow
def test_killed_worker_resumes_psa_import(
    registry, harvest_firm_server, firm_in_odoo, backend, server
):
    emulator = harvest_firm_server
    entries = emulator.store.all("time_entries")
    approved = [entry for entry in entries if entry.approval_status == "approved"]
    baseline = last_line_id_drawn(registry)
    wake_queue(registry, (TIME_CRON,))
    stored_two_pages = wait_until(
        lambda: ledger_count(registry, backend) >= 2 * PAGE_SIZE, 60
    )
    assert stored_two_pages, "the cron did not store two pages"

    [victim] = server.cron_worker_pids()
    caught = stop_when(registry, victim, lambda: page_in_flight(registry, baseline), 30)
    assert caught, "no page was caught with its timesheets uncommitted"
    os.kill(victim, signal.SIGKILL)
    assert wait_until(lambda: victim not in server.worker_pids(), 10)

    stored = ledger_count(registry, backend)
    mark, _last_run_at = flow_state(registry, backend)
    requested_before = len(emulator.requests_to(ENTRIES_PATH))
    assert lines_uncommitted(registry, baseline), "the killed page was committed"
    assert stored % PAGE_SIZE == 0, "a page was stored in part"
    assert stored < len(entries), "the import finished before the kill"
    assert mark["run"]["next"], "the run did not store its position"
    assert requested_before == stored // PAGE_SIZE + 1

    # A new cron worker may start listening for triggers after the first
    # one was sent, so the cron is woken until the run is over.
    def finished():
        mark, last_run_at = flow_state(registry, backend)
        if "run" in mark or not last_run_at:
            wake_queue(registry, (TIME_CRON,))
            return False
        return True

    assert wait_until(finished, 60, interval=1), flow_state(registry, backend)
    mapped, unmapped = timesheets_per_entry(registry, backend, firm_in_odoo["projects"])
    assert set(mapped) == {str(entry.id) for entry in approved}
    assert set(mapped.values()) == {1}, "an entry has no timesheet or two"
    assert unmapped == 0, "a timesheet was created without its mapping"
    assert ledger_count(registry, backend) == len(entries)
    hours = timesheet_hours(registry, firm_in_odoo["projects"])
    psa_minutes = sum(entry.minutes for entry in approved)
    assert round(Decimal(hours), 4) == round(Decimal(psa_minutes) / 60, 4)

    requests = emulator.requests_to(ENTRIES_PATH)
    resumed = requests[requested_before:]
    assert same_request(resumed[0], mark["run"]["next"]), (
        "the new worker did not resume at the stored paging link"
    )
    assert all("cursor=" in request.query for request in resumed), (
        "the new worker read the first page again"
    )
    # Each page was read once, except the one being stored at the kill.
    assert len(requests) == math.ceil(len(entries) / PAGE_SIZE) + 1
