"""The Harvest API v2 emulator over real HTTP on 127.0.0.1."""

import hashlib
import hmac
import json
from datetime import date, timedelta

import pytest
import requests
from urllib3.util import SKIP_HEADER

from tests.emulators.base import EmulatorServer
from tests.emulators.firm import build_firm
from tests.emulators.harvest import load_firm, make_harvest_server
from tests.emulators.harvest_store import (
    LOCKED_REASON_APPROVED,
    HarvestConfig,
    HarvestStore,
)
from tests.emulators.psa_events import post_events

TIME_ENTRY_FIELDS = {
    "id",
    "spent_date",
    "user",
    "client",
    "project",
    "task",
    "external_reference",
    "hours",
    "hours_without_timer",
    "rounded_hours",
    "notes",
    "is_locked",
    "locked_reason",
    "approval_status",
    "is_closed",
    "is_billed",
    "timer_started_at",
    "started_time",
    "ended_time",
    "is_running",
    "billable",
    "budgeted",
    "billable_rate",
    "cost_rate",
    "created_at",
    "updated_at",
}

EXPENSE_FIELDS = {
    "id",
    "client",
    "project",
    "expense_category",
    "user",
    "user_assignment",
    "receipt",
    "invoice",
    "notes",
    "units",
    "total_cost",
    "billable",
    "is_closed",
    "is_locked",
    "is_billed",
    "locked_reason",
    "spent_date",
    "created_at",
    "updated_at",
}


@pytest.fixture(scope="module")
def firm():
    return build_firm("small", seed=1234)


@pytest.fixture(scope="module")
def running_server(firm):
    with make_harvest_server(load_firm(firm)) as running:
        yield running


@pytest.fixture
def server(running_server, firm):
    """Return the module's server with fresh data, tokens and no faults."""
    running_server.faults.clear()
    running_server.app.reset(load_firm(firm))
    running_server.clear_requests()
    return running_server


@pytest.fixture
def api(server):
    return HarvestApi(server)


class HarvestApi:
    """A minimal client that sends the three headers Harvest requires."""

    def __init__(self, server, token=None):
        config = server.store.config
        self.server = server
        self.session = requests.Session()
        self.session.headers.update(
            {
                "Authorization": f"Bearer {token or config.personal_access_token}",
                "Harvest-Account-Id": str(config.account_id),
                "User-Agent": "Emulator tests (tests@example.com)",
            }
        )

    def get(self, path, **params):
        return self.session.get(self.server.url + path, params=params, timeout=10)

    def send(self, method, path, **kwargs):
        return self.session.request(
            method, self.server.url + path, timeout=10, **kwargs
        )

    def all_pages(self, path, key, **params):
        """Follow links.next from the first page; return records and pages."""
        response = self.get(path, **params)
        pages = [response.json()]
        while pages[-1]["links"]["next"]:
            response = self.session.get(pages[-1]["links"]["next"], timeout=10)
            assert response.status_code == 200, response.text
            pages.append(response.json())
        return [record for page in pages for record in page[key]], pages


def harvest_entries(firm):
    return list(firm.time_entries("harvest"))


# Required headers and authentication.


def test_all_headers_accepted(api):
    response = api.get("/v2/users/me")
    assert response.status_code == 200
    assert response.json()["email"].lower().endswith(".example")


def test_missing_user_agent_rejected(api):
    # urllib3 adds its own User-Agent unless the request sets SKIP_HEADER.
    response = api.session.get(
        api.server.url + "/v2/users/me", headers={"User-Agent": SKIP_HEADER}, timeout=10
    )
    assert response.status_code == 400
    assert "User-Agent" in response.json()["error_description"]


def test_bad_token_rejected(api):
    response = api.session.get(
        api.server.url + "/v2/clients",
        headers={"Authorization": "Bearer not-a-token"},
        timeout=10,
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


def test_missing_token_rejected(api):
    response = api.session.get(
        api.server.url + "/v2/clients", headers={"Authorization": None}, timeout=10
    )
    assert response.status_code == 401


def test_wrong_account_rejected(api):
    response = api.session.get(
        api.server.url + "/v2/clients",
        headers={"Harvest-Account-Id": "999"},
        timeout=10,
    )
    assert response.status_code == 403


def test_oauth_token_refresh_and_expiry(server):
    config = server.store.config
    grant = {
        "grant_type": "refresh_token",
        "refresh_token": config.refresh_token,
        "client_id": config.client_id,
        "client_secret": config.client_secret,
    }
    token = requests.post(server.url + "/api/v2/oauth2/token", data=grant, timeout=10)
    assert token.status_code == 200
    assert token.json()["expires_in"] == config.access_token_ttl
    oauth_api = HarvestApi(server, token.json()["access_token"])
    assert oauth_api.get("/v2/users/me").status_code == 200

    server.faults.expire_tokens()
    assert oauth_api.get("/v2/users/me").status_code == 401
    assert HarvestApi(server).get("/v2/users/me").status_code == 200

    bad = dict(grant, refresh_token="stolen")
    refused = requests.post(server.url + "/api/v2/oauth2/token", data=bad, timeout=10)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"


def test_unknown_path_returns_404(api):
    response = api.get("/v2/nothing_here")
    assert response.status_code == 404
    assert response.json()["error"] == "Not Found"


# Paging.


def test_cursor_paging_reads_everything_once(api, firm):
    expected = harvest_entries(firm)
    records, pages = api.all_pages("/v2/time_entries", "time_entries", per_page=15)
    ids = [record["id"] for record in records]
    assert len(ids) == len(expected)
    assert len(set(ids)) == len(ids)
    assert len(pages) == -(-len(expected) // 15)
    assert pages[0]["total_entries"] == len(expected)
    assert pages[0]["total_pages"] == len(pages)
    assert "cursor=" in pages[0]["links"]["next"]
    assert pages[-1]["links"]["next"] is None


def test_cursor_page_numbers_only_first_and_last(api):
    _records, pages = api.all_pages("/v2/time_entries", "time_entries", per_page=10)
    assert len(pages) >= 3
    assert pages[0]["page"] == 1
    assert pages[0]["next_page"] == 2
    assert pages[0]["previous_page"] is None
    for middle in pages[1:-1]:
        assert middle["page"] is None
        assert middle["next_page"] is None
    assert pages[-1]["page"] == len(pages)
    assert pages[-1]["next_page"] is None


def test_links_keep_filters(api, server):
    project_id = server.store.id_of("P001")
    first = api.get("/v2/time_entries", project_id=project_id, per_page=5).json()
    assert f"project_id={project_id}" in first["links"]["next"]
    assert f"project_id={project_id}" in first["links"]["last"]
    records, _pages = api.all_pages(
        "/v2/time_entries", "time_entries", project_id=project_id, per_page=5
    )
    assert {record["project"]["id"] for record in records} == {project_id}


def test_page_number_paging(api):
    everything = api.get("/v2/time_entries").json()["time_entries"]
    second = api.get("/v2/time_entries", page=2, per_page=10).json()
    assert [r["id"] for r in second["time_entries"]] == [
        r["id"] for r in everything[10:20]
    ]
    assert second["page"] == 2
    assert second["previous_page"] == 1
    assert "page=3" in second["links"]["next"]
    assert "page=1" in second["links"]["previous"]


def test_page_past_end_is_empty(api):
    response = api.get("/v2/time_entries", page=99, per_page=50).json()
    assert response["time_entries"] == []
    assert response["links"]["next"] is None


def test_per_page_default_and_cap(api, firm):
    default = api.get("/v2/time_entries").json()
    assert default["per_page"] == 2000
    assert len(default["time_entries"]) == len(harvest_entries(firm))
    assert api.get("/v2/time_entries", per_page=2000).status_code == 200
    over = api.get("/v2/time_entries", per_page=2001)
    assert over.status_code == 422
    assert "per_page" in over.json()["message"]
    assert api.get("/v2/time_entries", per_page=0).status_code == 422
    assert api.get("/v2/time_entries", per_page="many").status_code == 422


def test_invalid_cursor_rejected(api):
    response = api.get("/v2/time_entries", cursor="not-base64!")
    assert response.status_code == 422


def test_entries_newest_spent_date_first(api):
    records = api.get("/v2/time_entries").json()["time_entries"]
    dates = [record["spent_date"] for record in records]
    assert dates == sorted(dates, reverse=True)


def test_cursor_survives_deletion_between_pages(api, server):
    # A record deleted from page 1 shifts every later row back one place;
    # the keyset cursor of links.next still reads every remaining record.
    first = api.get("/v2/time_entries", per_page=10).json()
    victim = first["time_entries"][0]["id"]
    server.faults.between_pages(
        lambda _page: server.store.delete_entry(victim), after_page=1
    )
    records, _pages = api.all_pages("/v2/time_entries", "time_entries", per_page=10)
    remaining = {entry.id for entry in server.store.all("time_entries")}
    seen = {record["id"] for record in records} - {victim}
    assert seen == remaining
    assert len(records) == len(remaining) + 1


def test_page_numbers_skip_after_deletion(api, server):
    # The same change under page-number paging loses the row that moves
    # from page 2 to page 1, as a real offset-paged API does.
    first = api.get("/v2/time_entries", page=1, per_page=10).json()
    victim = first["time_entries"][0]["id"]
    server.store.delete_entry(victim)
    seen = {record["id"] for record in first["time_entries"]} - {victim}
    page = 2
    while True:
        body = api.get("/v2/time_entries", page=page, per_page=10).json()
        seen |= {record["id"] for record in body["time_entries"]}
        if body["links"]["next"] is None:
            break
        page += 1
    remaining = {entry.id for entry in server.store.all("time_entries")}
    assert len(remaining - seen) == 1


# Rate limit.


def test_rate_limit_then_retry_after(api, server):
    for _request in range(100):
        assert api.get("/v2/company").status_code == 200
    limited = api.get("/v2/company")
    assert limited.status_code == 429
    retry_after = int(limited.headers["Retry-After"])
    assert 1 <= retry_after <= 15
    assert "Rate limit" in limited.json()["message"]

    server.clock.advance(15)
    assert api.get("/v2/company").status_code == 200


def test_rate_limit_is_per_token(api, server):
    config = server.store.config
    grant = {
        "grant_type": "refresh_token",
        "refresh_token": config.refresh_token,
        "client_id": config.client_id,
        "client_secret": config.client_secret,
    }
    token = requests.post(server.url + "/api/v2/oauth2/token", data=grant, timeout=10)
    server.faults.rate_limit(3, 60)
    for _request in range(3):
        assert api.get("/v2/company").status_code == 200
    assert api.get("/v2/company").status_code == 429
    other = HarvestApi(server, token.json()["access_token"])
    assert other.get("/v2/company").status_code == 200


def test_configured_rate_window(firm):
    config = HarvestConfig(rate_limit_requests=2, rate_limit_window_seconds=0.5)
    store = load_firm(firm, HarvestStore(config))
    with make_harvest_server(store) as server:
        api = HarvestApi(server)
        assert api.get("/v2/company").status_code == 200
        assert api.get("/v2/company").status_code == 200
        limited = api.get("/v2/company")
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == "1"
        server.clock.advance(0.5)
        assert api.get("/v2/company").status_code == 200


# Filters.


def test_filter_by_project_and_user(api, server, firm):
    entries = harvest_entries(firm)
    sample = entries[0]
    project_id = server.store.id_of(sample.project_key)
    user_id = server.store.id_of(sample.consultant_key)
    expected = [
        entry
        for entry in entries
        if entry.project_key == sample.project_key
        and entry.consultant_key == sample.consultant_key
    ]
    records = api.get(
        "/v2/time_entries", project_id=project_id, user_id=user_id
    ).json()["time_entries"]
    assert len(records) == len(expected)
    assert {r["user"]["id"] for r in records} == {user_id}


def test_filter_by_client(api, server, firm):
    client_key = firm.projects_for("harvest")[0].client_key
    client_id = server.store.id_of(client_key)
    records = api.get("/v2/time_entries", client_id=client_id).json()["time_entries"]
    assert records
    assert {record["client"]["id"] for record in records} == {client_id}


def test_filter_from_to(api, firm):
    start, end = date(2024, 6, 10), date(2024, 6, 14)
    expected = [e for e in harvest_entries(firm) if start <= e.spent_date <= end]
    records = api.get(
        "/v2/time_entries", **{"from": start.isoformat(), "to": end.isoformat()}
    ).json()["time_entries"]
    assert len(records) == len(expected)
    assert all("2024-06-10" <= r["spent_date"] <= "2024-06-14" for r in records)
    assert api.get("/v2/time_entries", **{"from": "10/06/2024"}).status_code == 422


def test_filter_is_billed(api, firm):
    billed = [e for e in harvest_entries(firm) if e.is_billed]
    assert billed
    records = api.get("/v2/time_entries", is_billed="true").json()["time_entries"]
    assert len(records) == len(billed)
    assert all(record["is_billed"] for record in records)
    assert all(record["is_locked"] for record in records)
    unbilled = api.get("/v2/time_entries", is_billed="false").json()["time_entries"]
    assert len(unbilled) == len(harvest_entries(firm)) - len(billed)


def test_filter_approval_status(api, firm):
    for status in ("approved", "submitted", "unsubmitted"):
        expected = [e for e in harvest_entries(firm) if e.approval_status == status]
        records = api.get("/v2/time_entries", approval_status=status).json()
        assert records["total_entries"] == len(expected), status


def test_filter_updated_since(api, firm):
    entries = harvest_entries(firm)
    since = sorted(entry.updated_at for entry in entries)[len(entries) // 2]
    expected = [entry for entry in entries if entry.updated_at >= since]
    records = api.get(
        "/v2/time_entries", updated_since=since.strftime("%Y-%m-%dT%H:%M:%SZ")
    ).json()["time_entries"]
    assert len(records) == len(expected)
    assert api.get("/v2/time_entries", updated_since="yesterday").status_code == 422


# Records and fields.


def test_time_entry_fields(api, server, firm):
    listed = api.get("/v2/time_entries").json()["time_entries"]
    assert TIME_ENTRY_FIELDS <= set(listed[0])
    assert "user_assignment" not in listed[0]
    billed = next(record for record in listed if record["is_billed"])
    single = api.get(f"/v2/time_entries/{billed['id']}").json()
    assert TIME_ENTRY_FIELDS <= set(single)
    assert single["user_assignment"]["user"]["id"] == single["user"]["id"]
    assert single["task_assignment"]["task"]["id"] == single["task"]["id"]
    assert single["invoice"]["number"].startswith("INV-")
    assert single["locked_reason"] == "Item Invoiced"


def test_time_entry_values_match_firm(api, server, firm):
    entry = next(e for e in harvest_entries(firm) if e.billable and e.minutes % 15)
    record = api.get(f"/v2/time_entries/{server.store.id_of(entry.key)}").json()
    assert record["spent_date"] == entry.spent_date.isoformat()
    assert round(record["hours"] * 60) == entry.minutes
    assert record["rounded_hours"] * 60 % 15 == 0
    assert record["rounded_hours"] >= record["hours"]
    assert record["billable_rate"] == float(entry.billable_rate)
    assert record["cost_rate"] == float(entry.cost_rate)
    assert record["approval_status"] == entry.approval_status
    assert record["is_closed"] == (entry.approval_status == "approved")
    assert record["notes"] == entry.notes
    assert record["created_at"].endswith("Z")
    consultant = firm.by_key[entry.consultant_key]
    user = api.get(f"/v2/users/{record['user']['id']}").json()
    assert user["email"] == consultant.psa_email


def test_users_clients_projects_tasks(api, server, firm):
    users = api.get("/v2/users").json()
    assert users["total_entries"] == len(firm.consultants)
    clients = api.get("/v2/clients").json()["clients"]
    harvest_clients = {p.client_key for p in firm.projects_for("harvest")}
    assert len(clients) == len(harvest_clients)
    projects = api.get("/v2/projects").json()["projects"]
    codes = {project["code"] for project in projects}
    assert codes == {p.code for p in firm.projects_for("harvest")}
    tasks = api.get("/v2/tasks").json()["tasks"]
    assert len(tasks) == len(firm.tasks)
    project = firm.projects_for("harvest")[0]
    project_id = server.store.id_of(project.key)
    nested = api.get(f"/v2/projects/{project_id}/task_assignments").json()
    assert nested["total_entries"] == len(project.task_keys)
    members = api.get("/v2/user_assignments", user_id=server.store.id_of("U001"))
    assert members.status_code == 200


def test_missing_record_404(api):
    assert api.get("/v2/time_entries/1").status_code == 404
    assert api.get("/v2/projects/636708001").status_code == 404


def test_expenses_and_receipts(api, server, firm):
    expected = [e for e in firm.expenses if e.psa == "harvest"]
    records = api.get("/v2/expenses").json()["expenses"]
    assert len(records) == len(expected)
    assert EXPENSE_FIELDS <= set(records[0])
    with_receipt = next(r for r in records if r["receipt"])
    expense = next(
        e for e in expected if server.store.id_of(e.key) == with_receipt["id"]
    )
    assert with_receipt["total_cost"] == float(expense.amount)
    assert with_receipt["client"]["currency"] == expense.currency
    download = requests.get(with_receipt["receipt"]["url"], timeout=10)
    assert download.status_code == 200
    assert download.content == expense.receipt.data
    assert download.headers["Content-Type"] == expense.receipt.content_type


# Changes made in Harvest by people, through the store helpers.


def test_approve_and_unapprove_bump_updated_at(api, server):
    store = server.store
    entry = next(
        e for e in store.all("time_entries") if e.approval_status == "submitted"
    )
    before = api.get(f"/v2/time_entries/{entry.id}").json()
    server.clock.advance(5)

    store.approve(entry.id)
    approved = api.get(f"/v2/time_entries/{entry.id}").json()
    assert approved["approval_status"] == "approved"
    assert approved["updated_at"] > before["updated_at"]
    changed = api.get("/v2/time_entries", updated_since=approved["updated_at"]).json()[
        "time_entries"
    ]
    assert [record["id"] for record in changed] == [entry.id]

    server.clock.advance(5)
    store.unapprove(entry.id)
    withdrawn = api.get(f"/v2/time_entries/{entry.id}").json()
    assert withdrawn["approval_status"] == "submitted"
    assert withdrawn["updated_at"] > approved["updated_at"]
    events = [event["type"] for event in store.take_events()]
    assert events == ["time_entry.updated", "time_entry.updated"]


def test_edit_after_approval_visible(api, server):
    store = server.store
    entry = next(
        e
        for e in store.all("time_entries")
        if e.approval_status == "approved" and not e.is_locked
    )
    server.clock.advance(2)
    store.edit_entry(entry.id, hours=1.75, notes="Corrected after approval")
    record = api.get(f"/v2/time_entries/{entry.id}").json()
    assert record["hours"] == 1.75
    assert record["approval_status"] == "approved"
    since = api.get("/v2/time_entries", updated_since=record["updated_at"]).json()
    assert since["total_entries"] == 1


def test_unapprove_invoiced_entry_rejected(server):
    store = server.store
    entry = next(e for e in store.all("time_entries") if e.is_billed)
    with pytest.raises(Exception, match="invoiced"):
        store.unapprove(entry.id)


def test_delete_entry_helper(api, server):
    store = server.store
    entry = store.all("time_entries")[0]
    total = api.get("/v2/time_entries").json()["total_entries"]
    store.delete_entry(entry.id)
    assert api.get(f"/v2/time_entries/{entry.id}").status_code == 404
    assert api.get("/v2/time_entries").json()["total_entries"] == total - 1
    assert entry.id in store.deleted["time_entries"]
    assert store.take_events()[-1]["type"] == "time_entry.deleted"


def test_lock_period_blocks_changes(api, server):
    store = server.store
    entry = next(
        e
        for e in store.all("time_entries")
        if e.approval_status == "unsubmitted" and not e.is_locked
    )
    locked = store.lock_period(entry.spent_date, entry.spent_date)
    assert entry in locked
    record = api.get(f"/v2/time_entries/{entry.id}").json()
    assert record["is_locked"] is True
    assert record["locked_reason"] == LOCKED_REASON_APPROVED
    patch = api.send("PATCH", f"/v2/time_entries/{entry.id}", json={"notes": "late"})
    assert patch.status_code == 403
    delete = api.send("DELETE", f"/v2/time_entries/{entry.id}")
    assert delete.status_code == 403
    store.unlock_period(entry.spent_date, entry.spent_date)
    assert api.get(f"/v2/time_entries/{entry.id}").json()["is_locked"] is False


def test_mark_billed_sets_invoice(api, server):
    store = server.store
    entry = next(e for e in store.all("time_entries") if not e.is_billed)
    store.mark_billed([entry.id], "INV-TEST-1")
    record = api.get(f"/v2/time_entries/{entry.id}").json()
    assert record["is_billed"] is True
    assert record["invoice"]["number"] == "INV-TEST-1"
    assert record["locked_reason"] == "Item Invoiced"


def test_expense_helpers(api, server):
    store = server.store
    expense = next(e for e in store.all("expenses") if e.approval_status != "approved")
    server.clock.advance(3)
    store.approve_expense(expense.id)
    store.edit_expense(expense.id, total_cost="12.34")
    record = api.get(f"/v2/expenses/{expense.id}").json()
    assert record["approval_status"] == "approved"
    assert record["is_closed"] is True
    assert record["total_cost"] == 12.34
    store.delete_expense(expense.id)
    assert api.get(f"/v2/expenses/{expense.id}").status_code == 404


# Writes through the API.


def project_body(client_id, **extra):
    return {
        "client_id": client_id,
        "name": "Odoo-created project",
        "code": "ODOO-001",
        "is_billable": True,
        "bill_by": "Project",
        "budget_by": "project",
        "budget": 120,
        "hourly_rate": 135.5,
        **extra,
    }


def test_create_project_with_json(api, server):
    client_id = server.store.id_of(server.store.all("clients")[0].firm_key)
    response = api.send("POST", "/v2/projects", json=project_body(client_id))
    assert response.status_code == 201
    created = response.json()
    assert created["code"] == "ODOO-001"
    assert created["budget"] == 120.0
    assert created["hourly_rate"] == 135.5
    assert created["client"]["id"] == client_id
    assert api.get(f"/v2/projects/{created['id']}").status_code == 200
    assert server.store.take_events()[-1]["type"] == "project.created"


def test_create_project_with_form_data(api, server):
    client_id = server.store.all("clients")[0].id
    body = project_body(client_id, is_billable="true", name="Form project")
    response = api.send("POST", "/v2/projects", data=body)
    assert response.status_code == 201
    assert response.json()["is_billable"] is True


def test_create_project_validation(api, server):
    client_id = server.store.all("clients")[0].id
    missing = api.send("POST", "/v2/projects", json={"client_id": client_id})
    assert missing.status_code == 422
    assert "can't be blank" in missing.json()["message"]
    unknown = api.send("POST", "/v2/projects", json=project_body(1))
    assert unknown.status_code == 422
    assert (
        api.send("POST", "/v2/projects", json=project_body(client_id)).status_code
        == 201
    )
    duplicate = api.send("POST", "/v2/projects", json=project_body(client_id))
    assert duplicate.status_code == 422
    assert duplicate.json()["message"] == "Name has already been taken"
    bad_bill_by = project_body(client_id, name="Other", bill_by="Hourly")
    assert api.send("POST", "/v2/projects", json=bad_bill_by).status_code == 422


def test_update_and_delete_project(api, server):
    project = server.store.all("projects")[0]
    patch = api.send("PATCH", f"/v2/projects/{project.id}", json={"is_active": False})
    assert patch.status_code == 200
    assert patch.json()["is_active"] is False
    inactive = api.get("/v2/projects", is_active="false").json()["projects"]
    assert [record["id"] for record in inactive] == [project.id]
    delete = api.send("DELETE", f"/v2/projects/{project.id}")
    assert delete.status_code == 200
    entries = api.get("/v2/time_entries", project_id=project.id).json()
    assert entries["total_entries"] == 0


def test_client_with_projects_not_deleted(api, server):
    client = server.store.all("clients")[0]
    response = api.send("DELETE", f"/v2/clients/{client.id}")
    assert response.status_code == 422
    duplicate = api.send("POST", "/v2/clients", json={"name": client.name})
    assert duplicate.status_code == 422


def test_create_time_entry_flow(api, server):
    client = api.send(
        "POST", "/v2/clients", json={"name": "New Client BV", "currency": "EUR"}
    )
    assert client.status_code == 201
    project = api.send(
        "POST", "/v2/projects", json=project_body(client.json()["id"], name="New")
    ).json()
    task_id = server.store.id_of("T04")
    user_id = server.store.id_of("U002")
    base = f"/v2/projects/{project['id']}"
    assert (
        api.send(
            "POST", f"{base}/task_assignments", json={"task_id": task_id}
        ).status_code
        == 201
    )
    unassigned = {
        "project_id": project["id"],
        "task_id": task_id,
        "user_id": user_id,
        "spent_date": "2024-07-01",
        "hours": 1.5,
    }
    refused = api.send("POST", "/v2/time_entries", json=unassigned)
    assert refused.status_code == 422
    assert "not assigned" in refused.json()["message"]
    assert (
        api.send(
            "POST", f"{base}/user_assignments", json={"user_id": user_id}
        ).status_code
        == 201
    )

    body = dict(unassigned, notes="Kick-off", external_reference={"id": "odoo-42"})
    created = api.send("POST", "/v2/time_entries", json=body)
    assert created.status_code == 201
    entry = created.json()
    assert entry["hours"] == 1.5
    assert entry["approval_status"] == "unsubmitted"
    assert entry["billable_rate"] == 135.5
    found = api.get("/v2/time_entries", external_reference_id="odoo-42").json()
    assert [record["id"] for record in found["time_entries"]] == [entry["id"]]

    patch = api.send("PATCH", f"/v2/time_entries/{entry['id']}", json={"hours": 2})
    assert patch.json()["hours"] == 2.0
    assert api.send("DELETE", f"/v2/time_entries/{entry['id']}").status_code == 200


def test_approved_entry_not_editable(api, server):
    entry = next(
        e
        for e in server.store.all("time_entries")
        if e.approval_status == "approved" and not e.is_locked
    )
    response = api.send("PATCH", f"/v2/time_entries/{entry.id}", json={"hours": 1})
    assert response.status_code == 403


def test_injected_fault_uses_harvest_format(api, server):
    server.faults.status(503, path="/v2/time_entries")
    response = api.get("/v2/time_entries")
    assert response.status_code == 503
    assert "error_description" in response.json()
    assert api.get("/v2/time_entries").status_code == 200


def test_load_firm_maps_firm_keys(server, firm):
    store = server.store
    entry = harvest_entries(firm)[-1]
    record = store.get("time_entries", store.id_of(entry.key))
    assert record.minutes == entry.minutes
    assert record.updated_at == entry.updated_at
    assert record.spent_date == entry.spent_date
    assert record.spent_date - firm.starts_on <= timedelta(days=31)


def test_events_posted_signed(server):
    received = []

    def receiver(environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        received.append(
            (environ["HTTP_X_TIMESTAMP"], environ["HTTP_X_SIGNATURE"], body)
        )
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b"{}"]

    store = server.store
    entry = store.all("time_entries")[0]
    store.edit_entry(entry.id, notes="changed")
    events = store.take_events()
    with EmulatorServer(receiver, "psa-receiver") as target:
        response = post_events(
            target.url + "/hook", "s3cret", events, timestamp=1700000000
        )
    assert response.status_code == 200
    stamp, signature, body = received[0]
    assert stamp == "1700000000"
    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature == expected
    assert json.loads(body)["events"][0]["object"] == {
        "type": "time_entry",
        "id": entry.id,
    }


def test_events_only_to_loopback():
    with pytest.raises(ValueError, match="loopback"):
        post_events("http://192.0.2.1/hook", "s3cret", [])
