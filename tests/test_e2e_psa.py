"""The PSA connector end to end: emulators, a real Odoo server, real HTTP.

The Harvest and Productive emulators serve the small fake firm. The test
database gets the firm's consultants as employees and its PSA projects as
Odoo projects (matched by code), then a real Odoo server process imports
the PSA's approved time over XML-RPC, takes a signed PSA webhook, and
runs the nightly cron with its progress report. One more test stores the
same page from two transactions at once.

These tests commit to the test database, so the fixtures remove what they
made.
"""

import json
import threading
import time
import xmlrpc.client
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import requests

from odoo import SUPERUSER_ID, api
from odoo.addons.psa_connector.services.records import Page, TimeEntry
from odoo.addons.psa_connector.services.time_batch import TimeBatch
from odoo.addons.psa_connector.services.time_import import TimeImporter
from odoo.tools import config
from tests.bench.servers import server_on_test_database
from tests.bench.signing import psa_headers
from tests.emulators import start_emulators

ADMIN_LOGIN = ADMIN_PASSWORD = "admin"
WEBHOOK_SECRET = "e2e-psa-webhook-secret"


@pytest.fixture(scope="module")
def emulators():
    with start_emulators(
        size="small", seed=1234, systems=("harvest", "productive")
    ) as running:
        yield running


@pytest.fixture(scope="module")
def firm_in_odoo(registry, emulators):
    """The firm's consultants and PSA projects in Odoo, removed afterwards.

    Employees and projects that already exist with the same e-mail or code
    are used as they are, so the e-mail match stays unambiguous.
    """
    firm = emulators.firm
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        known = {
            (email or "").lower()
            for email in env["hr.employee"].search([]).mapped("work_email")
        }
        employees = env["hr.employee"].create(
            [
                {"name": f"E2E {person.name}", "work_email": person.psa_email}
                for person in firm.consultants
                if person.psa_email.lower() not in known
            ]
        )
        codes = set(env["project.project"].search([]).mapped("psa_code"))
        projects = env["project.project"].create(
            [
                {"name": f"E2E {project.name}", "psa_code": project.code}
                for project in firm.projects
                if project.psa in ("harvest", "productive")
                and project.code not in codes
            ]
        )
        ids = {"employees": employees.ids, "projects": projects.ids}
    yield ids
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        projects = (
            env["project.project"]
            .with_context(active_test=False)
            .browse(ids["projects"])
        )
        env["account.analytic.line"].search(
            [("project_id", "in", projects.ids)]
        ).unlink()
        env["psa.time.entry"].search([("project_id", "in", projects.ids)]).unlink()
        projects.task_ids.unlink()
        projects.unlink()
        env["hr.employee"].browse(ids["employees"]).unlink()


def make_backend(registry, kind, server):
    """Create and commit a PSA backend pointing at an emulator; return its id."""
    store = server.store
    if kind == "harvest":
        values = {
            "base_url": f"{server.url}/v2",
            "api_token": store.config.personal_access_token,
            "account_ref": str(store.config.account_id),
        }
    else:
        values = {
            "base_url": f"{server.url}/api/v2",
            "api_token": store.config.api_token,
            "account_ref": store.config.organization_id,
        }
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        backend = env["integration.backend"].create(
            dict(
                values,
                name=f"E2E {kind}",
                kind=kind,
                webhook_secret=WEBHOOK_SECRET,
                rate_limit_requests=1000,
                psa_page_size=10,
            )
        )
        return backend.id


def remove_backend(registry, backend_id):
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        backend = env["integration.backend"].browse(backend_id)
        env["integration.exception"].search([("backend_id", "=", backend_id)]).unlink()
        lines = env["integration.external.id"].search(
            [
                ("backend_id", "=", backend_id),
                ("res_model", "=", "account.analytic.line"),
            ]
        )
        env["account.analytic.line"].browse(lines.mapped("res_id")).exists().unlink()
        cr.execute(
            "DELETE FROM integration_audit_log WHERE backend_id = %s", [backend_id]
        )
        cr.execute(
            "DELETE FROM integration_sync_job WHERE backend_id = %s", [backend_id]
        )
        backend.unlink()


@pytest.fixture
def harvest_backend(registry, emulators, firm_in_odoo):
    backend_id = make_backend(registry, "harvest", emulators.harvest)
    yield backend_id
    remove_backend(registry, backend_id)


@pytest.fixture
def productive_backend(registry, emulators, firm_in_odoo):
    backend_id = make_backend(registry, "productive", emulators.productive)
    yield backend_id
    remove_backend(registry, backend_id)


@pytest.fixture(scope="module")
def server():
    """One real Odoo server process on the test database, without cron threads."""
    with server_on_test_database() as process:
        yield process


def rpc(server, model, method, *args):
    """Call `model.method(*args)` on the server over XML-RPC, as the administrator."""
    common = xmlrpc.client.ServerProxy(f"{server.url}/xmlrpc/2/common")
    uid = common.authenticate(config["db_name"], ADMIN_LOGIN, ADMIN_PASSWORD, {})
    assert uid, "the administrator cannot log in with the default password"
    models = xmlrpc.client.ServerProxy(f"{server.url}/xmlrpc/2/object", allow_none=True)
    return models.execute_kw(
        config["db_name"], uid, ADMIN_PASSWORD, model, method, list(args)
    )


def query(registry, sql, params):
    with registry.cursor() as cr:
        cr.execute(sql, params)
        return cr.fetchall()


def imported_hours(registry, backend_id):
    """Return {PSA entry id: timesheet hours} of a backend's imported entries."""
    rows = query(
        registry,
        """
        SELECT mapping.external_id, line.unit_amount
          FROM integration_external_id mapping
          JOIN account_analytic_line line ON line.id = mapping.res_id
         WHERE mapping.backend_id = %s
           AND mapping.res_model = 'account.analytic.line'
        """,
        [backend_id],
    )
    return dict(rows)


def test_whole_pull_over_rpc_matches_harvest(
    registry, emulators, harvest_backend, server
):
    store = emulators.harvest.store
    approved = [e for e in store.all("time_entries") if e.approval_status == "approved"]
    open_entries = [e for e in approved if not e.is_locked]
    counts = rpc(
        server, "integration.backend", "psa_import_all_time_entries", [harvest_backend]
    )
    hours = imported_hours(registry, harvest_backend)
    psa_hours = sum(Decimal(e.minutes) for e in open_entries) / 60

    assert counts["complete"] is True
    assert counts["read"] == len(store.all("time_entries"))
    assert counts["created"] == len(open_entries)
    assert counts["rejected"] == len(approved) - len(open_entries)
    assert set(hours) == {str(e.id) for e in open_entries}
    assert round(Decimal(sum(hours.values())), 2) == round(psa_hours, 2)
    again = rpc(
        server, "integration.backend", "psa_import_all_time_entries", [harvest_backend]
    )
    assert again["created"] == 0
    assert again["updated"] == 0
    assert len(imported_hours(registry, harvest_backend)) == len(open_entries)


def test_locked_invoiced_entries_wait_per_month(
    registry, emulators, harvest_backend, server
):
    store = emulators.harvest.store
    locked = [e for e in store.all("time_entries") if e.is_locked]
    rpc(server, "integration.backend", "psa_import_all_time_entries", [harvest_backend])
    months = {e.spent_date.strftime("%Y-%m") for e in locked}
    rows = query(
        registry,
        "SELECT dedup_key FROM integration_exception WHERE backend_id = %s"
        " AND category = 'locked_period' AND state = 'new'",
        [harvest_backend],
    )

    assert locked
    assert {key.rsplit(":", 1)[1] for (key,) in rows} == months


def test_signed_webhook_updates_timesheet(registry, emulators, harvest_backend, server):
    store = emulators.harvest.store
    rpc(server, "integration.backend", "psa_import_all_time_entries", [harvest_backend])
    entry = next(
        e
        for e in store.all("time_entries")
        if e.approval_status == "approved" and not e.is_locked
    )
    original = entry.minutes
    store.take_events()
    store.edit_entry(entry.id, minutes=original + 25)
    body = json.dumps({"events": store.take_events()}).encode()
    try:
        response = requests.post(
            f"{server.url}/integration/webhook/psa/{harvest_backend}",
            data=body,
            headers=psa_headers(WEBHOOK_SECRET, body),
            timeout=30,
        )
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["integration.sync.job"]._cron_run_jobs(time_limit=60)
        hours = imported_hours(registry, harvest_backend)[str(entry.id)]
    finally:
        store.edit_entry(entry.id, minutes=original)

    assert response.status_code == 200
    assert abs(hours - (original + 25) / 60) < 1e-9


def test_cron_pulls_productive_and_reports_progress(
    registry, emulators, productive_backend, server
):
    store = emulators.productive.store
    approved = [e for e in store.all("time_entries") if e.attributes["approved"]]
    cron_id = rpc(
        server,
        "ir.model.data",
        "check_object_reference",
        "psa_connector",
        "ir_cron_psa_import_time",
    )[1]
    started = datetime.now(UTC).replace(tzinfo=None)
    rpc(server, "ir.cron", "method_direct_trigger", [cron_id])
    progress = query(
        registry,
        "SELECT done, remaining FROM ir_cron_progress WHERE cron_id = %s"
        " AND create_date >= %s ORDER BY id DESC LIMIT 1",
        [cron_id, started.replace(microsecond=0)],
    )
    hours = imported_hours(registry, productive_backend)

    assert progress == [(len(store.all("time_entries")), 0)]
    assert set(hours) == {str(e.id) for e in approved}
    psa_hours = sum(Decimal(e.attributes["time"]) for e in approved) / 60
    assert round(Decimal(sum(hours.values())), 2) == round(psa_hours, 2)


def test_same_page_from_two_transactions_stored_once(
    registry, emulators, harvest_backend
):
    firm = emulators.firm
    consultant = firm.consultants[0]
    project = next(p for p in firm.projects if p.psa == "harvest")
    entries = [
        TimeEntry(
            id=f"e2e-race-{n}",
            person_id=f"race-{consultant.key}",
            person_email=consultant.psa_email,
            person_name=consultant.name,
            project_id=f"race-{project.key}",
            project_name=project.name,
            project_code=project.code,
            task_id="",
            task_name="",
            date=firm.ends_on,
            hours=Decimal(n + 1),
            minutes=(n + 1) * 60,
            notes=f"Race {n}",
            billable=True,
            approval_state="approved",
            locked=False,
            updated_at=datetime(2024, 6, 3, 8, 0),
        )
        for n in range(3)
    ]
    first_cr = registry.cursor()
    env = api.Environment(first_cr, SUPERUSER_ID, {})
    first = TimeImporter(
        env["integration.backend"].browse(harvest_backend)
    ).import_page(entries)
    with registry.cursor() as cr:
        env_b = api.Environment(cr, SUPERUSER_ID, {})
        second_batch = TimeBatch(env_b["integration.backend"].browse(harvest_backend))
    state = {
        "since": None,
        "started_at": "2024-06-03T08:00:00Z",
        "next": None,
        "high": None,
    }
    worker = threading.Thread(
        target=second_batch._store, args=(Page(entries, None), state)
    )
    worker.start()
    time.sleep(1.0)
    assert worker.is_alive(), "the second transaction did not wait for the first"
    first_cr.commit()
    first_cr.close()
    worker.join(timeout=60)
    stored = imported_hours(registry, harvest_backend)

    assert first.created == 3
    assert second_batch.result.created == 0
    assert second_batch.result.unchanged == 3
    assert sorted(k for k in stored if k.startswith("e2e-race-")) == [
        "e2e-race-0",
        "e2e-race-1",
        "e2e-race-2",
    ]
