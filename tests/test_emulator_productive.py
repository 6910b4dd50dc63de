"""The Productive.io API v2 emulator (JSON:API) over real HTTP on 127.0.0.1."""

import json
from datetime import date

import pytest
import requests

from tests.emulators.firm import build_firm
from tests.emulators.productive import load_firm, make_productive_server
from tests.emulators.productive_load import minor_units
from tests.emulators.productive_store import ProductiveConfig, ProductiveStore

JSON_API = "application/vnd.api+json"


@pytest.fixture(scope="module")
def firm():
    return build_firm("small", seed=1234)


@pytest.fixture(scope="module")
def running_server(firm):
    with make_productive_server(load_firm(firm)) as running:
        yield running


@pytest.fixture
def server(running_server, firm):
    """Return the module's server with fresh data and no faults."""
    running_server.faults.clear()
    running_server.app.reset(load_firm(firm))
    return running_server


@pytest.fixture
def api(server):
    return ProductiveApi(server)


class ProductiveApi:
    """A minimal JSON:API client sending Productive's headers."""

    def __init__(self, server):
        config = server.store.config
        self.server = server
        self.session = requests.Session()
        self.session.headers.update(
            {
                "X-Auth-Token": config.api_token,
                "X-Organization-Id": config.organization_id,
                "Content-Type": JSON_API,
            }
        )

    def get(self, path, **params):
        return self.session.get(self.server.url + path, params=params, timeout=10)

    def send(self, method, path, body=None, **kwargs):
        data = None if body is None else json.dumps(body)
        return self.session.request(
            method, self.server.url + path, data=data, timeout=10, **kwargs
        )

    def all_pages(self, path, **params):
        params.setdefault("page[size]", 10)
        records, number = [], 1
        while True:
            body = self.get(path, **{**params, "page[number]": number}).json()
            records += body["data"]
            if body["links"]["next"] is None:
                return records, body["meta"]
            number += 1


def productive_entries(firm):
    return list(firm.time_entries("productive"))


def entry_id(server, entry):
    return server.store.id_of(entry.key)


# Headers and errors.


def test_valid_headers_accepted(api):
    response = api.get("/api/v2/people")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith(JSON_API)


def test_bad_token_rejected_as_json_api(api):
    response = api.session.get(
        api.server.url + "/api/v2/people", headers={"X-Auth-Token": "wrong"}, timeout=10
    )
    assert response.status_code == 403
    error = response.json()["errors"][0]
    assert error["status"] == 403
    assert error["title"]
    assert "X-Auth-Token" in error["detail"]


def test_missing_organization_rejected(api):
    response = api.session.get(
        api.server.url + "/api/v2/people",
        headers={"X-Organization-Id": None},
        timeout=10,
    )
    assert response.status_code == 403


def test_unauthenticated_status_configurable(firm):
    store = load_firm(
        firm, ProductiveStore(ProductiveConfig(unauthenticated_status=401))
    )
    with make_productive_server(store) as server:
        response = requests.get(server.url + "/api/v2/people", timeout=10)
        assert response.status_code == 401


def test_write_needs_json_api_content_type(api, server):
    entry = server.store.all("time_entries")[0]
    path = f"/api/v2/time_entries/{entry.id}/approve"
    wrong = api.send("PATCH", path, headers={"Content-Type": "application/json"})
    assert wrong.status_code == 415
    assert wrong.json()["errors"][0]["status"] == 415
    missing = api.send("PATCH", path, headers={"Content-Type": None})
    assert missing.status_code == 415
    assert api.send("PATCH", path).status_code == 200
    with_extension = {"Content-Type": f"{JSON_API}; ext=bulk"}
    assert api.send("PATCH", path, headers=with_extension).status_code == 200


def test_read_without_content_type(api):
    response = api.session.get(
        api.server.url + "/api/v2/projects", headers={"Content-Type": None}, timeout=10
    )
    assert response.status_code == 200


def test_unknown_resource_404(api):
    response = api.get("/api/v2/time_entries/1")
    assert response.status_code == 404
    assert response.json()["errors"][0]["status"] == 404


# Paging.


def test_default_page_size_and_meta(api, firm):
    expected = productive_entries(firm)
    body = api.get("/api/v2/time_entries").json()
    meta = body["meta"]
    assert meta["page_size"] == 30
    assert meta["current_page"] == 1
    assert meta["total_count"] == len(expected)
    assert meta["total_pages"] == -(-len(expected) // 30)
    assert len(body["data"]) == min(30, len(expected))


def test_pages_read_everything_once(api, firm):
    records, meta = api.all_pages("/api/v2/time_entries", **{"page[size]": 7})
    ids = [record["id"] for record in records]
    assert len(ids) == len(productive_entries(firm))
    assert len(set(ids)) == len(ids)
    assert meta["current_page"] == meta["total_pages"]


def test_page_links(api):
    body = api.get(
        "/api/v2/time_entries", **{"page[number]": 2, "page[size]": 5, "sort": "date"}
    ).json()
    links = body["links"]
    assert "page%5Bnumber%5D=3" in links["next"]
    assert "page%5Bnumber%5D=1" in links["prev"]
    assert "page%5Bnumber%5D=1" in links["first"]
    assert "sort=date" in links["next"]
    following = requests.get(links["next"], headers=api.session.headers, timeout=10)
    assert following.json()["meta"]["current_page"] == 3


def test_page_size_cap(api):
    assert api.get("/api/v2/time_entries", **{"page[size]": 200}).status_code == 200
    over = api.get("/api/v2/time_entries", **{"page[size]": 201})
    assert over.status_code == 400
    assert "page[size]" in over.json()["errors"][0]["detail"]
    assert api.get("/api/v2/time_entries", **{"page[size]": 0}).status_code == 400
    assert api.get("/api/v2/time_entries", **{"page[number]": "x"}).status_code == 400


def test_page_past_end_empty(api):
    body = api.get("/api/v2/time_entries", **{"page[number]": 50}).json()
    assert body["data"] == []
    assert body["links"]["next"] is None


# Filters, sort and include.


def test_filter_person_and_project(api, server, firm):
    entries = productive_entries(firm)
    sample = entries[0]
    expected = [
        e
        for e in entries
        if e.consultant_key == sample.consultant_key
        and e.project_key == sample.project_key
    ]
    body = api.get(
        "/api/v2/time_entries",
        **{
            "filter[person_id]": server.store.id_of(sample.consultant_key),
            "filter[project_id]": server.store.id_of(sample.project_key),
            "page[size]": 200,
        },
    ).json()
    assert body["meta"]["total_count"] == len(expected)
    person_ids = {r["relationships"]["person"]["data"]["id"] for r in body["data"]}
    assert person_ids == {str(server.store.id_of(sample.consultant_key))}


def test_filter_status_values(api, firm):
    entries = productive_entries(firm)
    approved = [e for e in entries if e.approval_status == "approved"]
    submitted = [e for e in entries if e.approval_status == "submitted"]
    drafts = [e for e in entries if e.approval_status == "unsubmitted"]
    counts = {
        status: api.get("/api/v2/time_entries", **{"filter[status]": status}).json()[
            "meta"
        ]["total_count"]
        for status in (1, 2, 3, 5, 6)
    }
    assert counts[1] == len(approved)
    assert counts[2] == len(submitted) + len(drafts)
    assert counts[3] == 0
    assert counts[5] == len(submitted)
    assert counts[6] == len(drafts)


def test_filter_after_before(api, firm):
    start, end = date(2024, 6, 10), date(2024, 6, 14)
    expected = [e for e in productive_entries(firm) if start <= e.spent_date <= end]
    body = api.get(
        "/api/v2/time_entries",
        **{"filter[after]": "2024-06-10", "filter[before]": "2024-06-14"},
    ).json()
    assert body["meta"]["total_count"] == len(expected)


def test_filter_updated_at_operator(api, firm):
    entries = productive_entries(firm)
    since = sorted(e.updated_at for e in entries)[len(entries) // 2]
    expected = [e for e in entries if e.updated_at >= since]
    body = api.get(
        "/api/v2/time_entries",
        **{"filter[updated_at][gt_eq]": since.strftime("%Y-%m-%dT%H:%M:%SZ")},
    ).json()
    assert body["meta"]["total_count"] == len(expected)
    later = api.get(
        "/api/v2/time_entries",
        **{"filter[updated_at][gt]": since.strftime("%Y-%m-%dT%H:%M:%SZ")},
    ).json()
    assert later["meta"]["total_count"] == len(
        [e for e in entries if e.updated_at > since]
    )


def test_filter_not_eq_and_contains(api, server, firm):
    person = server.store.id_of(firm.consultants[0].key)
    everyone = api.get("/api/v2/time_entries").json()["meta"]["total_count"]
    mine = api.get("/api/v2/time_entries", **{"filter[person_id]": person}).json()
    others = api.get(
        "/api/v2/time_entries", **{"filter[person_id][not_eq]": person}
    ).json()
    assert mine["meta"]["total_count"] + others["meta"]["total_count"] == everyone
    fragment = firm.consultants[0].psa_email.split("@")[0][:4].upper()
    people = api.get("/api/v2/people", **{"filter[email][contains]": fragment}).json()
    assert str(person) in {record["id"] for record in people["data"]}


def test_filter_or_groups(api, server, firm):
    first, second = (server.store.id_of(c.key) for c in firm.consultants[:2])
    one = api.get("/api/v2/time_entries", **{"filter[person_id]": first}).json()
    two = api.get("/api/v2/time_entries", **{"filter[person_id]": second}).json()
    either = api.get(
        "/api/v2/time_entries",
        **{
            "filter[$op]": "or",
            "filter[0][person_id]": first,
            "filter[1][person_id]": second,
        },
    ).json()
    total = one["meta"]["total_count"] + two["meta"]["total_count"]
    assert either["meta"]["total_count"] == total
    listed = api.get(
        "/api/v2/time_entries", **{"filter[person_id]": f"{first},{second}"}
    ).json()
    assert listed["meta"]["total_count"] == total


def test_unsupported_filter_rejected(api):
    response = api.get("/api/v2/time_entries", **{"filter[colour]": "red"})
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["title"] == "Unsupported Filter"
    assert "colour" in error["detail"]
    bad_operator = api.get(
        "/api/v2/time_entries", **{"filter[date][near]": "2024-06-01"}
    )
    assert bad_operator.status_code == 400
    bad_value = api.get("/api/v2/time_entries", **{"filter[person_id]": "me"})
    assert bad_value.status_code == 400


def test_sort_by_date_and_updated(api):
    by_date = api.get("/api/v2/time_entries", sort="date", **{"page[size]": 200}).json()
    dates = [r["attributes"]["date"] for r in by_date["data"]]
    assert dates == sorted(dates)
    newest = api.get("/api/v2/time_entries", sort="-updated_at", **{"page[size]": 200})
    stamps = [r["attributes"]["updated_at"] for r in newest.json()["data"]]
    assert stamps == sorted(stamps, reverse=True)
    assert api.get("/api/v2/time_entries", sort="colour").status_code == 400


def test_include_service_deal_project(api, server, firm):
    body = api.get(
        "/api/v2/time_entries",
        include="person,service.deal.project",
        **{"page[size]": 5},
    ).json()
    included = {(r["type"], r["id"]) for r in body["included"]}
    project = firm.projects_for("productive")[0]
    assert ("projects", str(server.store.id_of(project.key))) in included
    for record in body["data"]:
        person = record["relationships"]["person"]["data"]
        assert (person["type"], person["id"]) in included
    projects = [r for r in body["included"] if r["type"] == "projects"]
    assert projects[0]["attributes"]["project_number"] == project.code


def test_unknown_include_rejected(api, firm):
    response = api.get("/api/v2/time_entries", include="project")
    assert response.status_code == 400
    lenient = ProductiveStore(ProductiveConfig(reject_unknown_includes=False))
    store = load_firm(firm, lenient)
    with make_productive_server(store) as server:
        tolerant = ProductiveApi(server).get("/api/v2/time_entries", include="project")
        assert tolerant.status_code == 200
        assert tolerant.json()["included"] == []


# Records.


def test_time_entry_attributes(api, server, firm):
    entry = next(e for e in productive_entries(firm) if e.approval_status == "approved")
    record = api.get(f"/api/v2/time_entries/{entry_id(server, entry)}").json()["data"]
    attributes = record["attributes"]
    assert record["type"] == "time_entries"
    assert attributes["time"] == entry.minutes
    assert attributes["billable_time"] == (entry.minutes if entry.billable else 0)
    assert attributes["date"] == entry.spent_date.isoformat()
    assert attributes["approved"] is True
    assert attributes["approved_at"].startswith(
        entry.approved_at.strftime("%Y-%m-%dT%H")
    )
    assert attributes["note"] == entry.notes
    assert attributes["currency"] == entry.currency
    for name in ("rejected", "rejected_reason", "submitted", "invoiced", "updated_at"):
        assert name in attributes
    relationships = record["relationships"]
    assert set(relationships) >= {"person", "service", "task", "approver"}
    assert relationships["approver"]["data"]["type"] == "people"


def test_people_emails_match_firm(api, firm):
    records, _meta = api.all_pages("/api/v2/people")
    emails = {record["attributes"]["email"] for record in records}
    assert emails == {consultant.psa_email for consultant in firm.consultants}


def test_services_per_project_task(api, server, firm):
    project = firm.projects_for("productive")[0]
    body = api.get(
        "/api/v2/services", **{"filter[project_id]": server.store.id_of(project.key)}
    ).json()
    names = {record["attributes"]["name"] for record in body["data"]}
    assert names == {firm.by_key[key].name for key in project.task_keys}
    non_billable = [r for r in body["data"] if r["attributes"]["billing_type_id"] == 3]
    internal = [key for key in project.task_keys if not firm.by_key[key].billable]
    assert len(non_billable) == len(internal)


def test_expense_amounts_in_minor_units(api, server, firm):
    expected = [e for e in firm.expenses if e.psa == "productive"]
    body = api.get("/api/v2/expenses", include="service_type").json()
    assert body["meta"]["total_count"] == len(expected)
    for record in body["data"]:
        expense = next(
            e for e in expected if str(server.store.id_of(e.key)) == record["id"]
        )
        assert record["attributes"]["amount"] == minor_units(
            expense.amount, expense.currency
        )
        assert record["attributes"]["currency"] == expense.currency
    categories = {r["attributes"]["name"] for r in body["included"]}
    assert categories == {e.category for e in expected}


def test_minor_units_per_currency():
    assert minor_units("12.34", "EUR") == 1234
    assert minor_units("1500", "JPY") == 1500


# Approval actions and changes.


def test_approve_and_unapprove_actions(api, server):
    store = server.store
    entry = next(e for e in store.all("time_entries") if not e.attributes["approved"])
    before = api.get(f"/api/v2/time_entries/{entry.id}").json()["data"]
    server.clock.advance(5)
    approved = api.send("PATCH", f"/api/v2/time_entries/{entry.id}/approve")
    assert approved.status_code == 200
    attributes = approved.json()["data"]["attributes"]
    assert attributes["approved"] is True
    assert attributes["approved_at"] is not None
    assert attributes["updated_at"] > before["attributes"]["updated_at"]
    approver = approved.json()["data"]["relationships"]["approver"]["data"]
    assert approver["id"] == str(store.current_person().id)

    server.clock.advance(5)
    withdrawn = api.send("PATCH", f"/api/v2/time_entries/{entry.id}/unapprove")
    assert withdrawn.status_code == 200
    assert withdrawn.json()["data"]["attributes"]["approved"] is False
    assert withdrawn.json()["data"]["attributes"]["approved_at"] is None
    events = [event["type"] for event in store.take_events()]
    assert events == ["time_entry.updated", "time_entry.updated"]


def test_reject_and_unreject(api, server):
    entry = next(
        e for e in server.store.all("time_entries") if not e.attributes["approved"]
    )
    body = {
        "data": {
            "type": "time_entries",
            "attributes": {"rejected_reason": "Wrong project"},
        }
    }
    rejected = api.send("PATCH", f"/api/v2/time_entries/{entry.id}/reject", body)
    assert rejected.status_code == 200
    attributes = rejected.json()["data"]["attributes"]
    assert attributes["rejected"] is True
    assert attributes["rejected_reason"] == "Wrong project"
    status = api.get("/api/v2/time_entries", **{"filter[status]": 3}).json()
    assert [record["id"] for record in status["data"]] == [str(entry.id)]
    cleared = api.send("PATCH", f"/api/v2/time_entries/{entry.id}/unreject")
    assert cleared.json()["data"]["attributes"]["rejected"] is False


def test_invoiced_entry_not_unapproved(api, server):
    store = server.store
    entry = next(e for e in store.all("time_entries") if e.attributes["approved"])
    store.mark_invoiced([entry.id])
    response = api.send("PATCH", f"/api/v2/time_entries/{entry.id}/unapprove")
    assert response.status_code == 422
    assert "invoiced" in response.json()["errors"][0]["detail"]


def test_approved_entry_not_editable(api, server):
    entry = next(
        e for e in server.store.all("time_entries") if e.attributes["approved"]
    )
    body = {
        "data": {
            "type": "time_entries",
            "id": str(entry.id),
            "attributes": {"time": 60},
        }
    }
    response = api.send("PATCH", f"/api/v2/time_entries/{entry.id}", body)
    assert response.status_code == 422
    assert api.send("DELETE", f"/api/v2/time_entries/{entry.id}").status_code == 422


def test_store_helpers_edit_and_delete(api, server):
    store = server.store
    entry = next(e for e in store.all("time_entries") if e.attributes["approved"])
    server.clock.advance(3)
    store.edit_entry(entry.id, time=95, note="Corrected after approval")
    record = api.get(f"/api/v2/time_entries/{entry.id}").json()["data"]
    assert record["attributes"]["time"] == 95
    assert record["attributes"]["approved"] is True
    since = record["attributes"]["updated_at"]
    changed = api.get("/api/v2/time_entries", **{"filter[updated_at][gt_eq]": since})
    assert [r["id"] for r in changed.json()["data"]] == [str(entry.id)]
    store.delete_entry(entry.id)
    assert api.get(f"/api/v2/time_entries/{entry.id}").status_code == 404
    assert entry.id in store.deleted["time_entries"]


def test_expense_approval_helpers(api, server):
    store = server.store
    expense = next(e for e in store.all("expenses") if not e.attributes["approved"])
    approved = api.send("PATCH", f"/api/v2/expenses/{expense.id}/approve")
    assert approved.json()["data"]["attributes"]["approved"] is True
    store.unapprove_expense(expense.id)
    assert store.get("expenses", expense.id).attributes["approved"] is False
    store.delete_expense(expense.id)
    assert api.get(f"/api/v2/expenses/{expense.id}").status_code == 404


# Creates through the API.


def test_create_project(api, server):
    company = server.store.all("companies")[0]
    body = {
        "data": {
            "type": "projects",
            "attributes": {
                "name": "Odoo project",
                "project_number": "ODOO-7",
                "project_type_id": 2,
            },
            "relationships": {
                "company": {"data": {"type": "companies", "id": str(company.id)}}
            },
        }
    }
    created = api.send("POST", "/api/v2/projects", body)
    assert created.status_code == 201
    data = created.json()["data"]
    assert data["attributes"]["project_number"] == "ODOO-7"
    assert data["relationships"]["company"]["data"]["id"] == str(company.id)
    assert data["relationships"]["project_manager"]["data"] is not None
    found = api.get("/api/v2/projects", **{"filter[project_number]": "ODOO-7"}).json()
    assert [record["id"] for record in found["data"]] == [data["id"]]


def test_create_project_validation(api, server):
    missing = api.send(
        "POST",
        "/api/v2/projects",
        {"data": {"type": "projects", "attributes": {"name": "No company"}}},
    )
    assert missing.status_code == 422
    error = missing.json()["errors"][0]
    assert error["source"]["pointer"] == "/data/relationships/company"
    wrong_type = api.send(
        "POST", "/api/v2/projects", {"data": {"type": "people", "attributes": {}}}
    )
    assert wrong_type.status_code == 409
    unknown = api.send(
        "POST",
        "/api/v2/projects",
        {"data": {"type": "projects", "attributes": {"name": "X", "colour": "red"}}},
    )
    assert unknown.status_code == 400
    not_json = api.session.post(
        api.server.url + "/api/v2/projects", data="{oops", timeout=10
    )
    assert not_json.status_code == 400


def test_create_time_entry(api, server, firm):
    store = server.store
    project = firm.projects_for("productive")[0]
    service_id = store.id_of(f"{project.key}/{project.task_keys[0]}")
    person_id = store.id_of(project.consultant_keys[0])
    body = {
        "data": {
            "type": "time_entries",
            "attributes": {"date": "2024-07-01", "time": 90, "note": "Kick-off"},
            "relationships": {
                "person": {"data": {"type": "people", "id": str(person_id)}},
                "service": {"data": {"type": "services", "id": str(service_id)}},
            },
        }
    }
    created = api.send("POST", "/api/v2/time_entries", body)
    assert created.status_code == 201
    attributes = created.json()["data"]["attributes"]
    assert attributes["time"] == 90
    assert attributes["billable_time"] == 90
    assert attributes["currency"] == project.currency
    assert attributes["approved"] is False
    assert store.take_events()[-1]["type"] == "time_entry.created"

    body["data"]["relationships"]["service"]["data"]["id"] = "1"
    assert api.send("POST", "/api/v2/time_entries", body).status_code == 422
    body["data"]["attributes"]["date"] = "01/07/2024"
    assert api.send("POST", "/api/v2/time_entries", body).status_code == 422


def test_create_company_and_task(api, server):
    company = api.send(
        "POST",
        "/api/v2/companies",
        {"data": {"type": "companies", "attributes": {"name": "Kestrel Analytics"}}},
    )
    assert company.status_code == 201
    project = server.store.all("projects")[0]
    task = api.send(
        "POST",
        "/api/v2/tasks",
        {
            "data": {
                "type": "tasks",
                "attributes": {"title": "Data migration"},
                "relationships": {
                    "project": {"data": {"type": "projects", "id": str(project.id)}}
                },
            }
        },
    )
    assert task.status_code == 201
    tasks = api.get("/api/v2/tasks", **{"filter[project_id]": project.id}).json()
    assert [r["attributes"]["title"] for r in tasks["data"]] == ["Data migration"]


# Rate limit and faults.


def test_rate_limit_returns_retry_after(api, server):
    server.faults.rate_limit(3, 10)
    for _request in range(3):
        assert api.get("/api/v2/people").status_code == 200
    limited = api.get("/api/v2/people")
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 10
    assert limited.json()["errors"][0]["status"] == 429
    server.clock.advance(10)
    assert api.get("/api/v2/people").status_code == 200


def test_change_between_pages(api, server):
    # An entry edited while a client pages by -updated_at moves to page 1,
    # so the later pages repeat a record rather than skip one.
    entries = server.store.all("time_entries")
    server.faults.between_pages(
        lambda _page: server.store.edit_entry(entries[-1].id, note="moved"),
        after_page=1,
    )
    records, _meta = api.all_pages("/api/v2/time_entries", sort="-updated_at")
    seen = {record["id"] for record in records}
    assert seen == {str(entry.id) for entry in entries}
