"""A storm of HTTP 429 and an expired access token in the middle of a PSA pull.

A real Odoo server imports the Harvest emulator's time entries over
JSON-RPC, page after page, with an OAuth access token. Between pages the
emulator starts responding with 429 and a Retry-After header, and once
revokes every access token it issued. The pull must wait as long as each
429 requests before it sends the request again, refresh the token once and
go on with the new one, and write an audit entry for every exchange, the
rejected ones included. In the end every entry is imported exactly once.

These tests commit to the test database, so each cleans up what it made.
"""

import json
from decimal import Decimal
from urllib.parse import urlsplit

import pytest

import odoo
from odoo import SUPERUSER_ID, api, fields
from odoo.tools import config
from tests.bench.committed import query
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
ENTRIES_PATH = "/v2/time_entries"
TOKEN_PATH = "/api/v2/oauth2/token"
# After page 2, two 429s in a row; after page 4, a 429, then the token is
# found revoked. Each Retry-After is longer than the client's own first
# backoff (1 s), so only honouring it makes the waits long enough.
FIRST_STORM = {"times": 2, "retry_after": 3}
SECOND_STORM = {"times": 1, "retry_after": 2}
STORMS = (FIRST_STORM, SECOND_STORM)


@pytest.fixture
def registry():
    return odoo.modules.registry.Registry(config["db_name"])


@pytest.fixture
def firm_in_odoo(registry, small_firm):
    ids = create_firm(registry, small_firm, "Throttling test")
    yield ids
    remove_firm(registry, ids)


@pytest.fixture
def backend(registry, harvest_firm_server, firm_in_odoo):
    """A Harvest backend on OAuth with a valid access token; no cron pulls it."""
    emulator = harvest_firm_server
    store_config = emulator.store.config
    backend_id = create_harvest_backend(
        registry,
        emulator,
        "PSA throttling test",
        flows_off=("psa.time_entries", "psa.expenses"),
        api_token=False,
        token_url=f"{emulator.url}{TOKEN_PATH}",
        client_id=store_config.client_id,
        client_secret=store_config.client_secret,
        refresh_token=store_config.refresh_token,
        psa_page_size=PAGE_SIZE,
        psa_routine_lock_reasons=",".join(LOCK_REASONS),
    )
    token = emulator.app.tokens.issue("oauth")
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        env["integration.backend"].browse(backend_id)._set_access_token(
            token.value, fields.Datetime.add(fields.Datetime.now(), hours=1)
        )
    yield backend_id
    delete_psa_backend(registry, backend_id)


@pytest.fixture
def server():
    with server_on_test_database() as odoo_server:
        yield odoo_server


def plan_faults(emulator):
    """Make the emulator throttle after pages 2 and 4 and revoke tokens after 4."""
    faults = emulator.faults

    def first_storm(_page):
        faults.status(429, path=ENTRIES_PATH, **FIRST_STORM)

    def second_storm(_page):
        faults.status(429, path=ENTRIES_PATH, **SECOND_STORM)
        faults.expire_tokens()

    faults.between_pages(first_storm, after_page=2, path=ENTRIES_PATH)
    faults.between_pages(second_storm, after_page=4, path=ENTRIES_PATH)


def audit_entries(registry, backend_id):
    """Return [(method, endpoint path, status, Retry-After)] of the backend's log."""
    rows = query(
        registry,
        "SELECT method, endpoint, status_code, payload FROM integration_audit_log"
        " WHERE backend_id = %s AND direction = 'outbound' ORDER BY id",
        [backend_id],
    )
    entries = []
    for method, endpoint, status, payload in rows:
        headers = json.loads(payload).get("response", {}).get("headers", {})
        path = urlsplit(endpoint).path
        entries.append((method, path, status, headers.get("Retry-After")))
    return entries


@pytest.mark.slow
def test_throttled_pull_with_expired_token_imports_once(
    registry, harvest_firm_server, firm_in_odoo, backend, server
):
    emulator = harvest_firm_server
    entries = emulator.store.all("time_entries")
    approved = [entry for entry in entries if entry.approval_status == "approved"]
    plan_faults(emulator)

    counts = server.rpc("integration.backend", "psa_import_all_time_entries", [backend])

    assert counts["complete"] is True
    assert counts["read"] == len(entries)
    mapped, unmapped = timesheets_per_entry(registry, backend, firm_in_odoo["projects"])
    assert set(mapped) == {str(entry.id) for entry in approved}
    assert set(mapped.values()) == {1}, "an entry has no timesheet or two"
    assert unmapped == 0
    assert ledger_count(registry, backend) == len(entries)
    psa_minutes = sum(entry.minutes for entry in approved)
    hours = timesheet_hours(registry, firm_in_odoo["projects"])
    assert round(Decimal(hours), 4) == round(Decimal(psa_minutes) / 60, 4)

    # The client sends one request at a time, so the emulator's log and the
    # audit log list the same exchanges in the same order.
    received = emulator.requests
    audited = audit_entries(registry, backend)
    assert [(r.method, r.path) for r in received] == [a[:2] for a in audited], (
        "an exchange is missing from the audit log"
    )
    statuses = [status for _method, _path, status, _after in audited]
    assert statuses.count(429) == sum(storm["times"] for storm in STORMS)
    assert statuses.count(401) == 1
    assert [r.path for r in received].count(TOKEN_PATH) == 1, (
        "the token was refreshed twice"
    )
    for index, (_method, path, status, retry_after) in enumerate(audited):
        if status != 429:
            continue
        request, repeated = received[index], received[index + 1]
        assert repeated.path == path
        waited = repeated.received_at - request.received_at
        assert waited >= int(retry_after), (
            f"request {index + 1} was repeated {waited:.2f} s after a 429 that"
            f" requested a wait of {retry_after} s"
        )
    requested_waits = sum(storm["times"] * storm["retry_after"] for storm in STORMS)
    assert counts["throttled_seconds"] >= requested_waits

    refreshed = next(i for i, r in enumerate(received) if r.path == TOKEN_PATH)
    old_token = received[0].headers["Authorization"]
    new_tokens = {r.headers["Authorization"] for r in received[refreshed + 1 :]}
    assert len(new_tokens) == 1, "the refreshed token changed again"
    assert old_token not in new_tokens
    assert received[refreshed - 1].headers["Authorization"] == old_token
    assert received[refreshed + 1].path == ENTRIES_PATH
