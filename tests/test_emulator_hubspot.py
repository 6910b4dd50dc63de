"""The HubSpot emulator over real HTTP: auth, limits, paging, merges, faults.

Also checks the webhook signatures against HubSpot's published test
vectors and the webhook sender's batching and retries.
"""

import json
import threading
import time

import pytest
import requests
from werkzeug.routing import Rule

from tests.emulators.base import EmulatorApp, EmulatorServer, json_response
from tests.emulators.hubspot import make_hubspot_server
from tests.emulators.hubspot_store import HubSpotConfig, HubSpotStore
from tests.emulators.senders import (
    HubSpotWebhookSender,
    hubspot_signature_v1,
    hubspot_signature_v2,
    hubspot_signature_v3,
)

SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
V1_DOC_BODY = (
    '[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,'
    '"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,'
    '"changeSource":"CRM","changeFlag":"NEW","appId":54321}]'
)
EXAMPLE_URI = "https://www.example.com/webhook_uri"


def session_for(server, token=None):
    """Return a requests session that authenticates against the emulator."""
    session = requests.Session()
    token = token or server.store.config.private_app_token
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def refresh(server, refresh_token=None):
    """Exchange the configured refresh token for an OAuth access token."""
    config = server.store.config
    return requests.post(
        f"{server.url}/oauth/v1/token",
        data={
            "grant_type": "refresh_token",
            "client_id": config.client_id,
            "client_secret": config.client_secret,
            "refresh_token": refresh_token or config.refresh_token,
        },
        timeout=5,
    )


def search(session, server, object_type, body):
    """POST a search body and return the response."""
    url = f"{server.url}/crm/v3/objects/{object_type}/search"
    return session.post(url, json=body, timeout=5)


@pytest.fixture
def api(hubspot_server):
    return session_for(hubspot_server)


# Signatures: HubSpot's published vectors.


def test_signature_v1_vectors():
    assert (
        hubspot_signature_v1(SECRET, V1_DOC_BODY)
        == "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de"
    )
    sdk_body = "{'example_field':'example_value'}"
    assert (
        hubspot_signature_v1(SECRET, sdk_body)
        == "69fc6631a867edd4f9e9e627fc5c1148e3fbdd8b21837b6d2b8901c1fa57f750"
    )


def test_signature_v2_vectors():
    assert (
        hubspot_signature_v2(SECRET, "GET", EXAMPLE_URI, b"")
        == "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e"
    )
    post_body = '{"example_field":"example_value"}'
    assert (
        hubspot_signature_v2(SECRET, "POST", EXAMPLE_URI, post_body)
        == "9569219f8ba981ffa6f6f16aa0f48637d35d728c7e4d93d0d52efaa512af7900"
    )
    sdk_body = "{'example_field':'example_value'}"
    assert (
        hubspot_signature_v2(SECRET, "POST", EXAMPLE_URI, sdk_body)
        == "4fe4e3a7d3cf09db53be39d0a58130e2aaba074ec123a9e355b876a689a1c383"
    )


def test_signature_v3_vectors():
    sdk_body = "{'example_field':'example_value'}"
    assert (
        hubspot_signature_v3(SECRET, "POST", EXAMPLE_URI, sdk_body, 15000000)
        == "HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw="
    )
    assert (
        hubspot_signature_v3(SECRET, "POST", EXAMPLE_URI, V1_DOC_BODY, 1564113600000)
        == "DxmVAjFNa2xfF3YgQjdZP6TNcok9k1oaH7UXombPtvw="
    )


# Authentication and tokens.


def test_missing_token_rejected(hubspot_server):
    response = requests.get(f"{hubspot_server.url}/crm/v3/objects/contacts", timeout=5)
    body = response.json()
    assert response.status_code == 401
    assert body["status"] == "error"
    assert body["category"] == "INVALID_AUTHENTICATION"
    assert body["correlationId"]


def test_unknown_token_rejected(hubspot_server):
    session = session_for(hubspot_server, token="pat-unknown")
    response = session.get(f"{hubspot_server.url}/crm/v3/objects/contacts", timeout=5)
    assert response.status_code == 401
    assert response.json()["category"] == "INVALID_AUTHENTICATION"


def test_oauth_token_expires_and_refreshes(hubspot_server):
    response = refresh(hubspot_server)
    token = response.json()
    assert response.status_code == 200
    assert token["token_type"] == "bearer"
    assert token["expires_in"] == 1800
    assert token["refresh_token"] == hubspot_server.store.config.refresh_token

    session = session_for(hubspot_server, token["access_token"])
    url = f"{hubspot_server.url}/crm/v3/objects/companies"
    assert session.get(url, timeout=5).status_code == 200

    hubspot_server.clock.advance(1801)
    expired = session.get(url, timeout=5)
    assert expired.status_code == 401
    assert expired.json()["category"] == "EXPIRED_AUTHENTICATION"

    renewed = refresh(hubspot_server).json()["access_token"]
    assert renewed != token["access_token"]
    assert session_for(hubspot_server, renewed).get(url, timeout=5).status_code == 200


def test_bad_refresh_token_rejected(hubspot_server):
    response = refresh(hubspot_server, refresh_token="not-issued")
    assert response.status_code == 400
    assert response.json()["status"] == "BAD_REFRESH_TOKEN"


def test_expire_tokens_fault_spares_static(hubspot_server, api):
    oauth = session_for(hubspot_server, refresh(hubspot_server).json()["access_token"])
    url = f"{hubspot_server.url}/crm/v3/objects/companies"
    hubspot_server.faults.expire_tokens()
    assert oauth.get(url, timeout=5).status_code == 401
    assert api.get(url, timeout=5).status_code == 200

    hubspot_server.faults.expire_tokens(static=True)
    assert api.get(url, timeout=5).status_code == 401


# Rate limits.


def test_rate_limit_headers_private_app(hubspot_server, api):
    response = api.get(f"{hubspot_server.url}/crm/v3/objects/companies", timeout=5)
    headers = response.headers
    assert headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert headers["X-HubSpot-RateLimit-Max"] == "100"
    assert headers["X-HubSpot-RateLimit-Remaining"] == "99"
    assert headers["X-HubSpot-RateLimit-Daily"] == "250000"
    assert headers["X-HubSpot-RateLimit-Daily-Remaining"] == "249999"


def test_oauth_calls_lack_daily_headers(hubspot_server):
    session = session_for(
        hubspot_server, refresh(hubspot_server).json()["access_token"]
    )
    response = session.get(f"{hubspot_server.url}/crm/v3/objects/companies", timeout=5)
    assert "X-HubSpot-RateLimit-Max" in response.headers
    assert "X-HubSpot-RateLimit-Daily" not in response.headers
    assert "X-HubSpot-RateLimit-Daily-Remaining" not in response.headers


def test_burst_limit_then_window_passes(hubspot_server, api):
    url = f"{hubspot_server.url}/crm/v3/objects/companies"
    statuses = [api.get(url, timeout=5).status_code for _ in range(101)]
    assert statuses[:100] == [200] * 100
    assert statuses[100] == 429

    limited = api.get(url, timeout=5)
    body = limited.json()
    assert body["status"] == "error"
    assert body["errorType"] == "RATE_LIMIT"
    assert body["policyName"] == "TEN_SECONDLY_ROLLING"
    assert body["correlationId"]
    assert body["requestId"]
    assert "Retry-After" not in limited.headers

    hubspot_server.clock.advance(10)
    assert api.get(url, timeout=5).status_code == 200


def test_rate_limit_fault_tightens_limit(hubspot_server, api):
    hubspot_server.faults.rate_limit(2, per_seconds=60)
    url = f"{hubspot_server.url}/crm/v3/objects/companies"
    statuses = [api.get(url, timeout=5).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert hubspot_server.store.config.burst_limit == 100


def test_search_limit_four_per_second(hubspot_server, api):
    statuses = [
        search(api, hubspot_server, "companies", {}).status_code for _ in range(5)
    ]
    assert statuses == [200, 200, 200, 200, 429]
    assert search(api, hubspot_server, "companies", {}).json()["policyName"] == (
        "SECONDLY"
    )


def test_daily_limit_reached():
    store = HubSpotStore(HubSpotConfig(daily_limit=2))
    with make_hubspot_server(store) as server:
        session = session_for(server)
        url = f"{server.url}/crm/v3/objects/companies"
        statuses = [session.get(url, timeout=5).status_code for _ in range(3)]
        body = session.get(url, timeout=5).json()
    assert statuses == [200, 200, 429]
    assert body["policyName"] == "DAILY"
    assert body["message"] == "You have reached your daily limit."


# Objects, list paging and search.


def test_list_pages_end_and_cover_all(hubspot_server, api):
    store = hubspot_server.store
    ids = [store.add_company(f"Company {number:02d}").id for number in range(25)]
    url = f"{hubspot_server.url}/crm/v3/objects/companies"
    seen, after, pages = [], None, 0
    while True:
        params = {"limit": 10, **({"after": after} if after else {})}
        body = api.get(url, params=params, timeout=5).json()
        pages += 1
        seen += [row["id"] for row in body["results"]]
        if "paging" not in body:
            break
        after = body["paging"]["next"]["after"]
        assert body["paging"]["next"]["link"].startswith(url)
    assert pages == 3
    assert seen == ids


def test_list_limit_over_100_rejected(hubspot_server, api):
    url = f"{hubspot_server.url}/crm/v3/objects/companies"
    response = api.get(url, params={"limit": 101}, timeout=5)
    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"


def test_record_shape_and_hs_object_id(hubspot_server, api):
    company = hubspot_server.store.add_company("Acme", numberofemployees=12)
    url = f"{hubspot_server.url}/crm/v3/objects/companies/{company.id}"
    body = api.get(url, params={"properties": "name,numberofemployees"}, timeout=5)
    record = body.json()
    assert record["id"] == company.id
    assert record["properties"] == {"name": "Acme", "numberofemployees": "12"}
    assert record["archived"] is False
    assert record["createdAt"].endswith("Z")
    default = api.get(url, timeout=5).json()["properties"]
    assert default["hs_object_id"] == company.id
    assert "hs_lastmodifieddate" in default


def test_create_update_and_unique_email(hubspot_server, api):
    base = f"{hubspot_server.url}/crm/v3/objects/contacts"
    created = api.post(
        base, json={"properties": {"email": "a@x.example", "firstname": "A"}}, timeout=5
    )
    contact_id = created.json()["id"]
    assert created.status_code == 201
    assert created.json()["properties"]["firstname"] == "A"

    duplicate = api.post(base, json={"properties": {"email": "A@X.example"}}, timeout=5)
    assert duplicate.status_code == 409
    assert duplicate.json()["category"] == "CONFLICT"

    updated = api.patch(
        f"{base}/{contact_id}", json={"properties": {"lastname": "B"}}, timeout=5
    )
    assert updated.status_code == 200
    assert updated.json()["properties"]["lastname"] == "B"
    by_email = api.get(
        f"{base}/a@x.example", params={"idProperty": "email"}, timeout=5
    ).json()
    assert by_email["id"] == contact_id


def test_read_only_and_unknown_properties_rejected(hubspot_server, api):
    deal = hubspot_server.store.add_deal("Deal")
    url = f"{hubspot_server.url}/crm/v3/objects/deals/{deal.id}"
    unknown = api.patch(url, json={"properties": {"odoo_invoice": "x"}}, timeout=5)
    errors = unknown.json()["errors"]
    assert unknown.status_code == 400
    assert unknown.json()["category"] == "VALIDATION_ERROR"
    assert errors[0]["code"] == "PROPERTY_DOESNT_EXIST"
    read_only = api.patch(url, json={"properties": {"hs_object_id": "1"}}, timeout=5)
    assert read_only.json()["errors"][0]["code"] == "READ_ONLY_VALUE"
    bad_stage = api.patch(url, json={"properties": {"dealstage": "nope"}}, timeout=5)
    assert bad_stage.json()["errors"][0]["code"] == "INVALID_OPTION"


def test_custom_deal_property_created(hubspot_server, api):
    deal = hubspot_server.store.add_deal("Deal")
    definition = {
        "name": "odoo_invoice_status",
        "label": "Odoo invoice status",
        "type": "string",
        "fieldType": "text",
        "groupName": "dealinformation",
    }
    base = f"{hubspot_server.url}/crm/v3/properties/deals"
    created = api.post(base, json=definition, timeout=5)
    assert created.status_code == 201
    assert api.post(base, json=definition, timeout=5).status_code == 409
    assert api.get(f"{base}/odoo_invoice_status", timeout=5).status_code == 200

    url = f"{hubspot_server.url}/crm/v3/objects/deals/{deal.id}"
    properties = {"odoo_invoice_status": "posted"}
    response = api.patch(url, json={"properties": properties}, timeout=5)
    assert response.status_code == 200
    assert response.json()["properties"]["odoo_invoice_status"] == "posted"


def test_auto_property_prefix_accepted():
    store = HubSpotStore(HubSpotConfig(auto_property_prefixes=("odoo_",)))
    deal = store.add_deal("Deal")
    store.update("deals", deal.id, {"odoo_payment_status": "paid"})
    assert store.get("deals", deal.id).properties["odoo_payment_status"] == "paid"


def seed_search_companies(store):
    rows = [
        ("Alpha Consulting", "alpha.example", "10"),
        ("Beta Labs", "beta.example", "50"),
        ("Gamma Consulting Group", "", "200"),
        ("Delta", "delta.example", None),
    ]
    records = {}
    for name, domain, size in rows:
        values = {"domain": domain}
        if size:
            values["numberofemployees"] = size
        records[name.split()[0]] = store.add_company(name, **values)
    return records


SEARCH_CASES = [
    ("EQ", {"propertyName": "name", "operator": "EQ", "value": "beta labs"}, ["Beta"]),
    (
        "NEQ",
        {"propertyName": "name", "operator": "NEQ", "value": "Beta Labs"},
        ["Alpha", "Gamma", "Delta"],
    ),
    (
        "GT",
        {"propertyName": "numberofemployees", "operator": "GT", "value": "50"},
        ["Gamma"],
    ),
    (
        "GTE",
        {"propertyName": "numberofemployees", "operator": "GTE", "value": "50"},
        ["Beta", "Gamma"],
    ),
    (
        "LT",
        {"propertyName": "numberofemployees", "operator": "LT", "value": "50"},
        ["Alpha"],
    ),
    (
        "LTE",
        {"propertyName": "numberofemployees", "operator": "LTE", "value": "50"},
        ["Alpha", "Beta"],
    ),
    (
        "IN",
        {
            "propertyName": "domain",
            "operator": "IN",
            "values": ["alpha.example", "delta.example"],
        },
        ["Alpha", "Delta"],
    ),
    (
        "HAS_PROPERTY",
        {"propertyName": "numberofemployees", "operator": "HAS_PROPERTY"},
        ["Alpha", "Beta", "Gamma"],
    ),
    (
        "NOT_HAS_PROPERTY",
        {"propertyName": "domain", "operator": "NOT_HAS_PROPERTY"},
        ["Gamma"],
    ),
    (
        "CONTAINS_TOKEN",
        {"propertyName": "name", "operator": "CONTAINS_TOKEN", "value": "consulting"},
        ["Alpha", "Gamma"],
    ),
    (
        "BETWEEN",
        {
            "propertyName": "numberofemployees",
            "operator": "BETWEEN",
            "value": "10",
            "highValue": "60",
        },
        ["Alpha", "Beta"],
    ),
]


@pytest.mark.parametrize(
    ("operator", "condition", "expected"),
    SEARCH_CASES,
    ids=[case[0] for case in SEARCH_CASES],
)
def test_search_operator(hubspot_server, operator, condition, expected):
    records = seed_search_companies(hubspot_server.store)
    body = {"filterGroups": [{"filters": [condition]}], "limit": 100}
    response = search(session_for(hubspot_server), hubspot_server, "companies", body)
    found = [row["id"] for row in response.json()["results"]]
    assert response.status_code == 200
    assert found == [records[name].id for name in expected]


def test_search_groups_or_filters_and(hubspot_server, api):
    records = seed_search_companies(hubspot_server.store)
    body = {
        "filterGroups": [
            {
                "filters": [
                    {
                        "propertyName": "name",
                        "operator": "CONTAINS_TOKEN",
                        "value": "*",
                    },
                    {
                        "propertyName": "numberofemployees",
                        "operator": "GT",
                        "value": 100,
                    },
                ]
            },
            {"filters": [{"propertyName": "name", "operator": "EQ", "value": "Delta"}]},
        ],
        "sorts": [{"propertyName": "name", "direction": "DESCENDING"}],
    }
    results = search(api, hubspot_server, "companies", body).json()["results"]
    assert [row["id"] for row in results] == [records["Gamma"].id, records["Delta"].id]


def test_search_properties_and_total(hubspot_server, api):
    seed_search_companies(hubspot_server.store)
    body = {"properties": ["domain"], "limit": 2}
    response = search(api, hubspot_server, "companies", body).json()
    assert response["total"] == 4
    assert set(response["results"][0]["properties"]) >= {"domain", "hs_object_id"}
    assert "name" not in response["results"][0]["properties"]
    assert response["paging"]["next"]["after"] == "2"


def test_search_rejects_bad_requests(hubspot_server, api):
    too_many_groups = {
        "filterGroups": [
            {"filters": [{"propertyName": "name", "operator": "HAS_PROPERTY"}]}
        ]
        * 6
    }
    cases = [
        {"limit": 201},
        {"after": "10000"},
        too_many_groups,
        {"filterGroups": [{"filters": [{"propertyName": "x", "operator": "EQ"}]}]},
        {
            "filterGroups": [
                {"filters": [{"propertyName": "name", "operator": "SOUNDS_LIKE"}]}
            ]
        },
    ]
    for body in cases:
        hubspot_server.clock.advance(1)
        response = search(api, hubspot_server, "companies", body)
        assert response.status_code == 400, body
        assert response.json()["category"] == "VALIDATION_ERROR"


def test_search_stops_at_10000_results(hubspot_server, api):
    store = hubspot_server.store
    for number in range(10_050):
        store.create("companies", {"name": f"C{number}"}, notify=False)
    last = search(api, hubspot_server, "companies", {"limit": 200, "after": "9800"})
    body = last.json()
    assert body["total"] == 10_050
    assert len(body["results"]) == 200
    assert "paging" not in body

    hubspot_server.clock.advance(1)
    beyond = search(api, hubspot_server, "companies", {"limit": 200, "after": 10000})
    assert beyond.status_code == 400


def test_search_offset_paging_skips_moved_record(hubspot_server, api):
    # An offset cursor over a sort on the modified date loses a record
    # edited between pages, as HubSpot's search does.
    store = hubspot_server.store
    names = ["A", "B", "C", "D"]
    records = {}
    for name in names:
        records[name] = store.add_company(name)
        hubspot_server.clock.advance(1)
    body = {
        "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
        "limit": 2,
    }
    calls = []

    def edit_a(page_number):
        calls.append(page_number)
        hubspot_server.clock.advance(60)
        store.update("companies", records["A"].id, {"phone": "+32 2 000 00 00"})

    hubspot_server.faults.between_pages(edit_a, after_page=1)
    first = search(api, hubspot_server, "companies", body).json()
    body["after"] = first["paging"]["next"]["after"]
    second = search(api, hubspot_server, "companies", body).json()
    ids = [row["id"] for row in first["results"] + second["results"]]
    assert calls == [1]
    assert ids == [records[name].id for name in ("A", "B", "D", "A")]


# Batch endpoints.


def test_batch_read_partial_failure(hubspot_server, api):
    contact = hubspot_server.store.add_contact("a@x.example")
    url = f"{hubspot_server.url}/crm/v3/objects/contacts/batch/read"
    body = {"inputs": [{"id": contact.id}, {"id": "999999"}], "properties": ["email"]}
    response = api.post(url, json=body, timeout=5)
    payload = response.json()
    assert response.status_code == 207
    assert payload["status"] == "COMPLETE"
    assert [row["id"] for row in payload["results"]] == [contact.id]
    assert payload["numErrors"] == 1
    assert payload["errors"][0]["category"] == "OBJECT_NOT_FOUND"
    assert payload["errors"][0]["context"]["ids"] == ["999999"]


def test_batch_update_partial_failure(hubspot_server, api):
    store = hubspot_server.store
    first = store.add_company("One")
    second = store.add_company("Two")
    inputs = [
        {"id": first.id, "properties": {"city": "Ghent"}, "objectWriteTraceId": "t1"},
        {"id": second.id, "properties": {"no_such": "x"}, "objectWriteTraceId": "t2"},
        {"id": "424242", "properties": {"city": "Liège"}, "objectWriteTraceId": "t3"},
    ]
    url = f"{hubspot_server.url}/crm/v3/objects/companies/batch/update"
    response = api.post(url, json={"inputs": inputs}, timeout=5)
    payload = response.json()
    assert response.status_code == 207
    assert payload["numErrors"] == 2
    assert payload["results"][0]["objectWriteTraceId"] == "t1"
    traces = sorted(
        error["context"]["objectWriteTraceId"][0] for error in payload["errors"]
    )
    assert traces == ["t2", "t3"]
    assert store.get("companies", first.id).properties["city"] == "Ghent"


def test_batch_upsert_by_email(hubspot_server, api):
    existing = hubspot_server.store.add_contact("old@x.example", firstname="Old")
    inputs = [
        {
            "id": "OLD@x.example",
            "idProperty": "email",
            "properties": {"firstname": "N"},
        },
        {
            "id": "new@x.example",
            "idProperty": "email",
            "properties": {"firstname": "M"},
        },
    ]
    url = f"{hubspot_server.url}/crm/v3/objects/contacts/batch/upsert"
    payload = api.post(url, json={"inputs": inputs}, timeout=5).json()
    by_new = {row["new"]: row for row in payload["results"]}
    assert by_new[False]["id"] == existing.id
    assert by_new[True]["properties"]["firstname"] == "M"
    assert (
        hubspot_server.store.get("contacts", existing.id).properties["firstname"] == "N"
    )


def test_batch_over_100_inputs_rejected(hubspot_server, api):
    url = f"{hubspot_server.url}/crm/v3/objects/companies/batch/read"
    inputs = [{"id": str(number)} for number in range(101)]
    response = api.post(url, json={"inputs": inputs}, timeout=5)
    assert response.status_code == 400


# Archive, restore and merges.


def test_archive_and_restore(hubspot_server, api):
    store = hubspot_server.store
    company = store.add_company("Gone")
    url = f"{hubspot_server.url}/crm/v3/objects/companies/{company.id}"
    assert api.delete(url, timeout=5).status_code == 204
    assert api.get(url, timeout=5).status_code == 404
    archived = api.get(url, params={"archived": "true"}, timeout=5).json()
    assert archived["archived"] is True
    assert archived["archivedAt"]
    listing = api.get(
        f"{hubspot_server.url}/crm/v3/objects/companies",
        params={"archived": "true"},
        timeout=5,
    ).json()
    assert [row["id"] for row in listing["results"]] == [company.id]

    store.restore("companies", company.id)
    assert api.get(url, timeout=5).status_code == 200
    types = [event["subscriptionType"] for event in store.take_events()]
    assert types == ["company.deletion", "company.restore"]


def test_contact_merge_gets_new_id(hubspot_server, api):
    store = hubspot_server.store
    company = store.add_company("Quill Ltd")
    first = store.add_contact("avery@quill.example", company.id, firstname="Avery")
    second = store.add_contact("a.quill@quill.example", lastname="Quill")
    base = f"{hubspot_server.url}/crm/v3/objects/contacts"
    body = {"primaryObjectId": first.id, "objectIdToMerge": second.id}
    merged = api.post(f"{base}/merge", json=body, timeout=5).json()
    new_id = merged["id"]
    assert new_id not in (first.id, second.id)

    for old_id in (first.id, second.id):
        record = api.get(
            f"{base}/{old_id}", params={"properties": "hs_merged_object_ids"}, timeout=5
        ).json()
        assert record["id"] == new_id
        merged_ids = record["properties"]["hs_merged_object_ids"].split(";")
        assert sorted(merged_ids) == sorted([first.id, second.id])

    survivor = store.get("contacts", new_id).properties
    assert survivor["firstname"] == "Avery"
    assert survivor["lastname"] == "Quill"
    assert survivor["email"] == "avery@quill.example"
    assert list(store.associated("contacts", new_id, "companies")) == [company.id]
    listed = [row.id for row in store.live("contacts")]
    assert listed == [new_id]

    event = store.take_events()[-1]
    assert event["subscriptionType"] == "contact.merge"
    assert event["primaryObjectId"] == int(new_id)
    assert sorted(event["mergedObjectIds"]) == sorted([int(first.id), int(second.id)])


def test_batch_read_of_merged_id(hubspot_server, api):
    store = hubspot_server.store
    first = store.add_company("One")
    second = store.add_company("Two")
    survivor = store.merge("companies", first.id, second.id)
    url = f"{hubspot_server.url}/crm/v3/objects/companies/batch/read"
    payload = api.post(url, json={"inputs": [{"id": second.id}]}, timeout=5).json()
    assert [row["id"] for row in payload["results"]] == [survivor.id]


def test_deal_merge_keeps_primary_id(hubspot_server):
    store = hubspot_server.store
    primary = store.add_deal("Primary")
    other = store.add_deal("Other")
    result = store.merge("deals", primary.id, other.id)
    assert result.id == primary.id
    assert result.properties["hs_merged_object_ids"] == other.id
    assert store.get("deals", other.id).id == primary.id


# Pipelines and associations.


def test_pipeline_stage_metadata_says_won(hubspot_server, api):
    store = hubspot_server.store
    stages = [("1001", "Signed", True, 1.0), ("1002", "Talking", False, 0.3)]
    store.add_pipeline("777", "Partner deals", stages)
    deal = store.add_deal("Partner", stage="1001", pipeline="777")
    pipelines = api.get(f"{hubspot_server.url}/crm/v3/pipelines/deals", timeout=5)
    by_id = {row["id"]: row for row in pipelines.json()["results"]}
    signed = by_id["777"]["stages"][0]
    assert signed["metadata"] == {"isClosed": "true", "probability": "1.0"}
    default_ids = [stage["id"] for stage in by_id["default"]["stages"]]
    assert "closedwon" in default_ids
    assert store.get("deals", deal.id).properties["hs_is_closed_won"] == "true"


def test_v4_associations_round_trip(hubspot_server, api):
    store = hubspot_server.store
    deal = store.add_deal("Deal")
    company = store.add_company("Client")
    base = f"{hubspot_server.url}/crm/v4/objects/deals/{deal.id}/associations"
    put = api.put(f"{base}/default/companies/{company.id}", timeout=5).json()
    spec = put["results"][0]["associationSpec"]
    assert spec["associationCategory"] == "HUBSPOT_DEFINED"

    listed = api.get(f"{base}/companies", timeout=5).json()["results"]
    assert listed[0]["toObjectId"] == int(company.id)
    labels = api.get(
        f"{hubspot_server.url}/crm/v4/associations/deals/companies/labels", timeout=5
    ).json()["results"]
    assert labels[0]["typeId"] == spec["associationTypeId"]

    batch = api.post(
        f"{hubspot_server.url}/crm/v4/associations/companies/deals/batch/read",
        json={"inputs": [{"id": company.id}]},
        timeout=5,
    ).json()
    assert batch["results"][0]["to"][0]["toObjectId"] == int(deal.id)

    assert api.delete(f"{base}/companies/{company.id}", timeout=5).status_code == 204
    assert api.get(f"{base}/companies", timeout=5).json()["results"] == []


def test_create_with_inline_association(hubspot_server, api):
    company = hubspot_server.store.add_company("Client")
    body = {
        "properties": {"email": "x@client.example"},
        "associations": [
            {
                "to": {"id": company.id},
                "types": [
                    {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}
                ],
            }
        ],
    }
    url = f"{hubspot_server.url}/crm/v3/objects/contacts"
    contact_id = api.post(url, json=body, timeout=5).json()["id"]
    linked = hubspot_server.store.associated("contacts", contact_id, "companies")
    assert list(linked) == [company.id]


# Faults, request log and unknown routes.


def test_status_fault_only_on_prefix(hubspot_server, api):
    hubspot_server.faults.status(
        503, times=1, retry_after=7, path="/crm/v3/objects/deals"
    )
    companies = api.get(f"{hubspot_server.url}/crm/v3/objects/companies", timeout=5)
    deals = api.get(f"{hubspot_server.url}/crm/v3/objects/deals", timeout=5)
    again = api.get(f"{hubspot_server.url}/crm/v3/objects/deals", timeout=5)
    assert companies.status_code == 200
    assert deals.status_code == 503
    assert deals.headers["Retry-After"] == "7"
    assert deals.json()["status"] == "error"
    assert again.status_code == 200


def test_injected_429_has_rate_limit_body(hubspot_server, api):
    hubspot_server.faults.status(429, retry_after=2)
    response = api.get(f"{hubspot_server.url}/crm/v3/objects/companies", timeout=5)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "2"
    assert response.json()["errorType"] == "RATE_LIMIT"


def test_malformed_drop_and_timeout_faults(hubspot_server, api):
    url = f"{hubspot_server.url}/crm/v3/objects/companies"
    hubspot_server.faults.malformed()
    with pytest.raises(ValueError):
        json.loads(api.get(url, timeout=5).text)

    hubspot_server.faults.drop()
    with pytest.raises(requests.ConnectionError):
        api.get(url, timeout=5)

    hubspot_server.faults.timeout(seconds=2)
    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        api.get(url, timeout=0.3)
    assert time.monotonic() - started < 1.5
    assert [kind for kind, _method, _path in hubspot_server.faults.fired] == [
        "malformed",
        "drop",
        "timeout",
    ]


def test_timeout_fault_can_apply_write(hubspot_server, api):
    hubspot_server.faults.timeout(seconds=1, process=True, method="POST")
    url = f"{hubspot_server.url}/crm/v3/objects/companies"
    with pytest.raises(requests.Timeout):
        api.post(url, json={"properties": {"name": "Twice?"}}, timeout=0.3)
    names = [row.properties["name"] for row in hubspot_server.store.live("companies")]
    assert names == ["Twice?"]


def test_slow_fault_delays_response(hubspot_server, api):
    hubspot_server.faults.slow(0.4, times=1)
    url = f"{hubspot_server.url}/crm/v3/objects/companies"
    started = time.monotonic()
    api.get(url, timeout=5)
    slow = time.monotonic() - started
    started = time.monotonic()
    api.get(url, timeout=5)
    assert slow >= 0.4
    assert time.monotonic() - started < 0.4


def test_request_log_keeps_body_and_headers(hubspot_server, api):
    url = f"{hubspot_server.url}/crm/v3/objects/companies/search"
    api.post(url, json={"query": "acme"}, timeout=5)
    logged = hubspot_server.requests_to("/crm/v3/objects/companies/search")[-1]
    assert logged.method == "POST"
    assert logged.json() == {"query": "acme"}
    assert logged.headers["Authorization"].startswith("Bearer ")


def test_unknown_route_logged_in_vendor_format(hubspot_server, api, caplog):
    with caplog.at_level("WARNING", logger="tests.emulators.base"):
        response = api.get(f"{hubspot_server.url}/crm/v3/nothing/here", timeout=5)
    assert response.status_code == 404
    assert response.json()["status"] == "error"
    assert "does not serve GET /crm/v3/nothing/here" in caplog.text


# Webhook sender.


class _Receiver(EmulatorApp):
    """A webhook receiver that accepts everything; faults make it fail."""

    name = "receiver"

    def rules(self):
        return [Rule("/hook", endpoint="hook", methods=["POST"])]

    def hook(self, request):
        return json_response(None, 204)


@pytest.fixture
def receiver():
    with EmulatorServer(_Receiver(store=None), "receiver") as server:
        yield server


def make_events(count):
    return [
        {
            "eventId": 500 + number,
            "subscriptionType": "deal.propertyChange",
            "objectId": 7000 + number,
            "propertyName": "dealstage",
            "propertyValue": "closedwon",
            "occurredAt": 1717406000000,
            "attemptNumber": 0,
        }
        for number in range(count)
    ]


def test_sender_retries_keep_event_ids(receiver):
    receiver.faults.status(500, times=2)
    sender = HubSpotWebhookSender(f"{receiver.url}/hook", SECRET, sleep=lambda _s: None)
    delivery = sender.deliver(make_events(2))
    bodies = [request.json() for request in receiver.requests]
    assert delivery.delivered
    assert delivery.statuses == [500, 500, 204]
    assert [[event["eventId"] for event in body] for body in bodies] == [[500, 501]] * 3
    assert [body[0]["attemptNumber"] for body in bodies] == [0, 1, 2]


def test_sender_signatures_verify(receiver):
    url = f"{receiver.url}/hook"
    sender = HubSpotWebhookSender(url, SECRET, clock=lambda: 1717406000.5)
    sender.deliver(make_events(1))
    request = receiver.requests[-1]
    headers = request.headers
    assert headers["X-Hubspot-Signature-Version"] == "v1"
    assert headers["X-Hubspot-Signature"] == hubspot_signature_v1(SECRET, request.body)
    assert headers["X-Hubspot-Request-Timestamp"] == "1717406000500"
    expected_v3 = hubspot_signature_v3(SECRET, "POST", url, request.body, 1717406000500)
    assert headers["X-Hubspot-Signature-V3"] == expected_v3


def test_sender_v2_signs_public_url(receiver):
    public = "https://odoo.example.com/integration/webhook/hubspot/1"
    sender = HubSpotWebhookSender(
        f"{receiver.url}/hook", SECRET, signature_versions=("v2",), signed_url=public
    )
    sender.deliver(make_events(1))
    request = receiver.requests[-1]
    expected = hubspot_signature_v2(SECRET, "POST", public, request.body)
    assert request.headers["X-Hubspot-Signature-Version"] == "v2"
    assert request.headers["X-Hubspot-Signature"] == expected
    assert "X-Hubspot-Signature-V3" not in request.headers


def test_sender_batches_of_100(receiver):
    sender = HubSpotWebhookSender(f"{receiver.url}/hook", SECRET)
    deliveries = sender.send(make_events(250))
    sizes = [len(request.json()) for request in receiver.requests]
    assert [delivery.delivered for delivery in deliveries] == [True] * 3
    assert sizes == [100, 100, 50]


def test_sender_no_retry_on_4xx(receiver):
    receiver.faults.status(401, times=5)
    sender = HubSpotWebhookSender(f"{receiver.url}/hook", SECRET, sleep=lambda _s: None)
    delivery = sender.deliver(make_events(1))
    assert delivery.statuses == [401]
    assert delivery.gave_up


def test_sender_retries_timeout_and_429(receiver):
    receiver.faults.timeout(seconds=1)
    receiver.faults.status(429, retry_after=3)
    waits = []
    sender = HubSpotWebhookSender(
        f"{receiver.url}/hook", SECRET, timeout=0.3, sleep=waits.append
    )
    delivery = sender.deliver(make_events(1))
    assert delivery.statuses == [None, 429, 204]
    assert delivery.attempts[0].error == "ReadTimeout"
    assert waits[1] == 3.0


def test_sender_refuses_remote_hosts():
    with pytest.raises(ValueError):
        HubSpotWebhookSender("https://example.com/hook", SECRET)


def test_store_events_feed_sender(hubspot_server, receiver):
    store = hubspot_server.store
    deal = store.add_deal("Deal")
    store.update("deals", deal.id, {"dealstage": "closedwon"})
    events = store.take_events()
    HubSpotWebhookSender(f"{receiver.url}/hook", SECRET).send(events)
    delivered = receiver.requests[-1].json()[0]
    assert delivered["subscriptionType"] == "deal.propertyChange"
    assert delivered["objectId"] == int(deal.id)
    assert delivered["propertyName"] == "dealstage"
    assert delivered["propertyValue"] == "closedwon"


def test_concurrent_clients_served(hubspot_server):
    statuses = []

    def fetch():
        session = session_for(hubspot_server)
        url = f"{hubspot_server.url}/crm/v3/objects/companies"
        statuses.append(session.get(url, timeout=5).status_code)

    hubspot_server.faults.slow(0.3, times=4)
    threads = [threading.Thread(target=fetch) for _ in range(4)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 4
    assert time.monotonic() - started < 1.0
