"""The Salesforce emulator over real HTTP: ids, OAuth, SOQL, paging, upserts.

Also checks replication (getUpdated/getDeleted), merges shown as
deletions, sObject collections, session expiry, the limits header, the
Outbound Message sender and the shared entry point.
"""

import base64
import json
import time
from datetime import timedelta
from xml.etree import ElementTree

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from werkzeug.routing import Rule
from werkzeug.wrappers import Response

from tests.emulators import start_emulators
from tests.emulators.base import EmulatorApp, EmulatorServer
from tests.emulators.salesforce import make_salesforce_server
from tests.emulators.salesforce_schema import (
    checksum_suffix,
    is_valid_id,
    make_id,
    to_18,
)
from tests.emulators.salesforce_store import SalesforceConfig, SalesforceStore
from tests.emulators.senders import OUTBOUND_NS, OutboundMessageSender

VERSION = "62.0"
ID_VECTORS = [
    ("a0RE000000IJmcN", "MAT"),
    ("a01M00000062mPg", "IAI"),
    ("001M000000qfPyS", "IAU"),
    ("a0FE000000D6r3F", "MAR"),
    ("0F9E000000092w2", "KAA"),
    ("aaaaaaaaaaaaaaa", "AAA"),
    ("AbCdEfGhIjKlMnO", "VKV"),
    ("0019000000B98de", "AAB"),
]
ACK = (
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
    "<soapenv:Body>"
    '<notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound">'
    "<Ack>{ack}</Ack></notificationsResponse>"
    "</soapenv:Body></soapenv:Envelope>"
)


def login(server):
    """Return a session authenticated by the client-credentials grant."""
    config = server.store.config
    response = requests.post(
        f"{server.url}/services/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": config.client_id,
            "client_secret": config.client_secret,
        },
        timeout=5,
    )
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
    return session


def data_url(server, path, version=VERSION):
    """Return the URL of a REST resource below /services/data/vXX.X/."""
    return f"{server.url}/services/data/v{version}/{path}"


def soql(session, server, text, endpoint="query", headers=None):
    """Run a SOQL query and return the response."""
    url = data_url(server, endpoint)
    return session.get(url, params={"q": text}, headers=headers, timeout=5)


@pytest.fixture
def api(salesforce_server):
    return login(salesforce_server)


def error_of(response):
    """Return the first error of a Salesforce error array."""
    body = response.json()
    assert isinstance(body, list)
    return body[0]


# Record ids.


@pytest.mark.parametrize(("id15", "suffix"), ID_VECTORS)
def test_checksum_vectors(id15, suffix):
    assert checksum_suffix(id15) == suffix
    assert to_18(id15) == id15 + suffix
    assert is_valid_id(id15 + suffix)


def test_made_ids_valid_and_distinct():
    ids = [make_id("001", number) for number in range(1, 500)]
    assert len(set(ids)) == len(ids)
    assert all(is_valid_id(value) and len(value) == 18 for value in ids)
    assert all(value.startswith("0015g") for value in ids)
    assert not is_valid_id(ids[0][:15] + "ZZZ")
    assert len({value[15:] for value in ids}) > 5


def test_fifteen_char_id_accepted(salesforce_server, api):
    account = salesforce_server.store.add_account("Acme")
    url = data_url(salesforce_server, f"sobjects/Account/{account['Id'][:15]}")
    body = api.get(url, timeout=5).json()
    assert body["Id"] == account["Id"]
    assert len(body["Id"]) == 18
    assert body["attributes"]["type"] == "Account"


def test_malformed_id_rejected(salesforce_server, api):
    url = data_url(salesforce_server, "sobjects/Account/001nothing")
    response = api.get(url, timeout=5)
    assert response.status_code == 400
    assert error_of(response)["errorCode"] == "MALFORMED_ID"


# OAuth and sessions.


def test_client_credentials_token(salesforce_server):
    config = salesforce_server.store.config
    response = requests.post(
        f"{salesforce_server.url}/services/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(config.client_id, config.client_secret),
        timeout=5,
    )
    body = response.json()
    assert response.status_code == 200
    assert body["token_type"] == "Bearer"
    assert body["instance_url"] == salesforce_server.url
    assert body["id"].endswith(salesforce_server.store.integration_user["Id"])
    assert body["issued_at"].isdigit()
    assert "refresh_token" not in body


def test_token_errors(salesforce_server):
    url = f"{salesforce_server.url}/services/oauth2/token"
    config = salesforce_server.store.config
    cases = [
        ({"grant_type": "password"}, "unsupported_grant_type"),
        (
            {
                "grant_type": "client_credentials",
                "client_id": config.client_id,
                "client_secret": "wrong",
            },
            "invalid_client",
        ),
        (
            {"grant_type": "client_credentials", "client_id": "other"},
            "invalid_client_id",
        ),
    ]
    for form, error in cases:
        response = requests.post(url, data=form, timeout=5)
        assert response.status_code == 400
        assert response.json()["error"] == error


def make_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwt_assertion(key, claims):
    def encode(data):
        raw = json.dumps(data).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    signing_input = f"{encode({'alg': 'RS256'})}.{encode(claims)}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    encoded = base64.urlsafe_b64encode(signature).rstrip(b"=").decode()
    return f"{signing_input}.{encoded}"


def test_jwt_bearer_grant(salesforce_server):
    store = salesforce_server.store
    key = make_key()
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    store.register_jwt_app("jwt-app", public_pem)
    user = store.add_user("svc@firm.example", last_name="Service")

    now = int(salesforce_server.clock.time())
    good = {
        "iss": "jwt-app",
        "sub": "svc@firm.example",
        "aud": "https://login.salesforce.com",
        "exp": now + 120,
    }
    cases = [
        (key, good, 200, None),
        (make_key(), good, 400, "invalid_grant"),
        (key, {**good, "exp": now + 3600}, 400, "invalid_grant"),
        (key, {**good, "exp": now - 60}, 400, "invalid_grant"),
        (key, {**good, "sub": "nobody@firm.example"}, 400, "invalid_grant"),
        (key, {**good, "aud": "https://evil.example"}, 400, "invalid_grant"),
        (key, {**good, "iss": "other-app"}, 400, "invalid_client_id"),
    ]

    url = f"{salesforce_server.url}/services/oauth2/token"
    grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
    for signing_key, claims, status, error in cases:
        form = {"grant_type": grant, "assertion": jwt_assertion(signing_key, claims)}
        response = requests.post(url, data=form, timeout=5)
        assert response.status_code == status, claims
        assert response.json().get("error") == error

    token = requests.post(
        url,
        data={"grant_type": grant, "assertion": jwt_assertion(key, good)},
        timeout=5,
    ).json()
    assert token["id"].endswith(user["Id"])


def test_session_expires_when_idle(salesforce_server, api):
    url = data_url(salesforce_server, "limits")
    clock = salesforce_server.clock
    clock.advance(5400)
    assert api.get(url, timeout=5).status_code == 200
    clock.advance(5400)
    assert api.get(url, timeout=5).status_code == 200
    clock.advance(7201)
    expired = api.get(url, timeout=5)
    assert expired.status_code == 401
    assert expired.json() == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]


def test_expire_tokens_fault(salesforce_server, api):
    salesforce_server.faults.expire_tokens()
    response = api.get(data_url(salesforce_server, "limits"), timeout=5)
    assert response.status_code == 401
    assert error_of(response)["errorCode"] == "INVALID_SESSION_ID"


# Limits header, versions and errors.


def test_limit_info_header(salesforce_server, api):
    first = api.get(data_url(salesforce_server, "limits"), timeout=5)
    second = api.get(data_url(salesforce_server, "limits"), timeout=5)
    versions = requests.get(f"{salesforce_server.url}/services/data/", timeout=5)
    assert first.headers["Sforce-Limit-Info"] == "api-usage=1/100000"
    assert second.headers["Sforce-Limit-Info"] == "api-usage=2/100000"
    assert second.json()["DailyApiRequests"]["Remaining"] == 99998
    assert versions.status_code == 200
    assert "Sforce-Limit-Info" not in versions.headers
    assert versions.json()[-1]["version"] == VERSION


def test_request_limit_exceeded(salesforce_server, api):
    salesforce_server.faults.rate_limit(2, per_seconds=3600)
    url = data_url(salesforce_server, "limits")
    statuses = [api.get(url, timeout=5).status_code for _ in range(3)]
    last = api.get(url, timeout=5)
    assert statuses == [200, 200, 403]
    assert error_of(last)["errorCode"] == "REQUEST_LIMIT_EXCEEDED"


def test_unknown_version_and_route(salesforce_server, api):
    old = api.get(data_url(salesforce_server, "limits", version="12.0"), timeout=5)
    missing = api.get(data_url(salesforce_server, "nothing/here"), timeout=5)
    assert old.status_code == 404
    assert error_of(old)["errorCode"] == "NOT_FOUND"
    assert missing.status_code == 404
    assert error_of(missing)["errorCode"] == "NOT_FOUND"


def test_status_fault_in_error_array(salesforce_server, api):
    salesforce_server.faults.status(503, path="/services/data", retry_after=5)
    response = api.get(data_url(salesforce_server, "limits"), timeout=5)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert error_of(response)["errorCode"] == "SERVER_UNAVAILABLE"


# SOQL.


def seed_opportunities(store):
    account = store.add_account("Acme", BillingCity="Paris")
    other = store.add_account("Globex")
    records = {
        "won": store.add_opportunity(
            "Won deal", "Closed Won", account_id=account["Id"], Amount=1000
        ),
        "lost": store.add_opportunity(
            "Lost deal", "Closed Lost", account_id=other["Id"], Amount=50
        ),
        "open": store.add_opportunity("Open deal", "Qualification", Amount=None),
    }
    return account, records


def test_soql_polling_query(salesforce_server, api):
    store = salesforce_server.store
    _account, records = seed_opportunities(store)
    salesforce_server.clock.advance(5)
    store.update("Opportunity", records["lost"]["Id"], {"StageName": "Closed Won"})
    watermark = (store.now() - timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    text = (
        "SELECT Id, Name, IsWon, StageName, Amount, CurrencyIsoCode, CloseDate, "
        "OwnerId, AccountId, Account.Name, SystemModstamp FROM Opportunity "
        f"WHERE SystemModstamp > {watermark} AND IsWon = true "
        "ORDER BY SystemModstamp ASC LIMIT 10"
    )
    body = soql(api, salesforce_server, text).json()
    row = body["records"][0]
    assert body["totalSize"] == 1
    assert body["done"] is True
    assert row["Id"] == records["lost"]["Id"]
    assert row["IsWon"] is True
    assert row["Amount"] == 50.0
    assert row["CurrencyIsoCode"] == "EUR"
    assert row["Account"]["Name"] == "Globex"
    assert row["SystemModstamp"].endswith(".000+0000")
    assert row["attributes"]["url"].endswith(f"/Opportunity/{row['Id']}")


SOQL_CASES = [
    ("SELECT Id FROM Opportunity WHERE StageName IN ('Closed Won','Closed Lost')", 2),
    ("SELECT Id FROM Opportunity WHERE StageName NOT IN ('Closed Won')", 2),
    ("SELECT Id FROM Opportunity WHERE Amount = null", 1),
    ("SELECT Id FROM Opportunity WHERE Amount != null AND Amount >= 50", 2),
    (
        "SELECT Id FROM Opportunity "
        "WHERE (IsWon = true OR Amount < 100) AND IsClosed = true",
        2,
    ),
    ("SELECT Id FROM Opportunity WHERE NOT (StageName = 'closed won')", 2),
    ("SELECT Id FROM Opportunity WHERE Name LIKE '%deal' AND Name LIKE 'W%'", 1),
    ("SELECT Id FROM Opportunity WHERE Account.BillingCity = 'Paris'", 1),
    ("SELECT Id FROM Opportunity WHERE CloseDate > 2000-01-01", 3),
    ("SELECT COUNT() FROM Opportunity WHERE IsClosed = false", 1),
    ("select id from opportunity where isWon = TRUE limit 5", 1),
]


@pytest.mark.parametrize(("text", "total"), SOQL_CASES)
def test_soql_conditions(salesforce_server, text, total):
    seed_opportunities(salesforce_server.store)
    body = soql(login(salesforce_server), salesforce_server, text).json()
    assert body["totalSize"] == total


def test_soql_id_filters_accept_15_chars(salesforce_server, api):
    _account, records = seed_opportunities(salesforce_server.store)
    won = records["won"]["Id"]
    text = f"SELECT Id FROM Opportunity WHERE Id = '{won[:15]}'"
    body = soql(api, salesforce_server, text).json()
    assert [row["Id"] for row in body["records"]] == [won]


def test_soql_order_nulls_and_offset(salesforce_server, api):
    seed_opportunities(salesforce_server.store)
    text = "SELECT Name FROM Opportunity ORDER BY Amount DESC NULLS LAST, Name"
    names = [
        row["Name"] for row in soql(api, salesforce_server, text).json()["records"]
    ]
    assert names == ["Won deal", "Lost deal", "Open deal"]
    text = "SELECT Name FROM Opportunity ORDER BY Amount ASC LIMIT 1 OFFSET 1"
    names = [
        row["Name"] for row in soql(api, salesforce_server, text).json()["records"]
    ]
    assert names == ["Lost deal"]


SOQL_ERRORS = [
    ("SELECT Id FROM Account GROUP BY Name", "MALFORMED_QUERY"),
    ("SELECT Id, (SELECT Id FROM Contacts) FROM Account", "MALFORMED_QUERY"),
    (
        "SELECT Id FROM Account WHERE Name = 'a' AND Name = 'b' OR Name = 'c'",
        "MALFORMED_QUERY",
    ),
    ("SELECT Id FROM Opportunity WHERE CloseDate = TODAY", "MALFORMED_QUERY"),
    ("SELECT Id FROM Account WHERE", "MALFORMED_QUERY"),
    (
        "SELECT Id FROM Account WHERE SystemModstamp > '2024-01-01T00:00:00Z'",
        "INVALID_FIELD",
    ),
    ("SELECT Id FROM Opportunity WHERE IsWon = 'true'", "INVALID_FIELD"),
    ("SELECT Id FROM Opportunity WHERE Amount > '5'", "INVALID_FIELD"),
    ("SELECT Id FROM Account WHERE Name = 5", "INVALID_FIELD"),
    ("SELECT Nope FROM Account", "INVALID_FIELD"),
    ("SELECT Id FROM Invoice__x", "INVALID_TYPE"),
    ("SELECT Id FROM Account WHERE Id = 'abc'", "INVALID_QUERY_FILTER_OPERATOR"),
]


@pytest.mark.parametrize(("text", "code"), SOQL_ERRORS)
def test_soql_errors(salesforce_server, text, code):
    response = soql(login(salesforce_server), salesforce_server, text)
    assert response.status_code == 400
    assert error_of(response)["errorCode"] == code


def test_query_paging_default_batch_2000(salesforce_server, api):
    store = salesforce_server.store
    for number in range(2001):
        store.add_account(f"Account {number}")
    first = soql(api, salesforce_server, "SELECT Id FROM Account").json()
    assert first["totalSize"] == 2001
    assert len(first["records"]) == 2000
    assert first["done"] is False
    second = api.get(salesforce_server.url + first["nextRecordsUrl"], timeout=5).json()
    assert len(second["records"]) == 1
    assert second["done"] is True
    assert "nextRecordsUrl" not in second


def test_query_paging_small_batches():
    store = SalesforceStore(SalesforceConfig(query_batch_size=3))
    ids = [store.add_account(f"A{number}")["Id"] for number in range(7)]
    with make_salesforce_server(store) as server:
        session = login(server)
        body = soql(session, server, "SELECT Id FROM Account ORDER BY Name").json()
        pages = [body]
        while not body["done"]:
            locator = body["nextRecordsUrl"]
            assert "/query/01g" in locator
            body = session.get(server.url + locator, timeout=5).json()
            pages.append(body)
    seen = [row["Id"] for page in pages for row in page["records"]]
    assert [len(page["records"]) for page in pages] == [3, 3, 1]
    assert seen == ids


def test_query_options_batch_size_header(salesforce_server, api):
    for number in range(450):
        salesforce_server.store.add_account(f"B{number}")
    headers = {"Sforce-Query-Options": "batchSize=10"}
    body = soql(api, salesforce_server, "SELECT Id FROM Account", headers=headers)
    assert len(body.json()["records"]) == 200


def test_query_locator_expires(salesforce_server, api):
    store = salesforce_server.store
    store.config.query_batch_size = 1
    store.add_account("One")
    store.add_account("Two")
    locator = soql(api, salesforce_server, "SELECT Id FROM Account").json()
    salesforce_server.clock.advance(901)
    response = api.get(salesforce_server.url + locator["nextRecordsUrl"], timeout=5)
    assert response.status_code == 400
    assert error_of(response)["errorCode"] == "INVALID_QUERY_LOCATOR"


def test_between_pages_callback_runs(salesforce_server, api):
    store = salesforce_server.store
    store.config.query_batch_size = 1
    first = store.add_account("One")
    store.add_account("Two")
    pages = []
    salesforce_server.faults.between_pages(pages.append, after_page=1)
    body = soql(api, salesforce_server, "SELECT Id FROM Account").json()
    api.get(salesforce_server.url + body["nextRecordsUrl"], timeout=5)
    assert pages == [1]
    assert store.get("Account", first["Id"]) is not None


def test_query_all_shows_deleted_and_merged(salesforce_server, api):
    store = salesforce_server.store
    master = store.add_account("Acme")
    loser = store.add_account("ACME Inc")
    contact = store.add_contact("Quill", account_id=loser["Id"])
    deleted = store.add_account("Old")
    store.delete("Account", deleted["Id"])
    store.merge("Account", master["Id"], [loser["Id"]])

    text = "SELECT Id, IsDeleted, MasterRecordId FROM Account ORDER BY Name"
    live = soql(api, salesforce_server, text).json()["records"]
    everything = soql(api, salesforce_server, text, endpoint="queryAll").json()
    by_id = {row["Id"]: row for row in everything["records"]}
    assert [row["Id"] for row in live] == [master["Id"]]
    assert everything["totalSize"] == 3
    assert by_id[loser["Id"]]["IsDeleted"] is True
    assert by_id[loser["Id"]]["MasterRecordId"] == master["Id"]
    assert by_id[deleted["Id"]]["MasterRecordId"] is None
    assert store.get("Contact", contact["Id"])["AccountId"] == master["Id"]


# Replication.


def test_get_updated_window(salesforce_server, api):
    store = salesforce_server.store
    clock = salesforce_server.clock
    start = store.now()
    clock.advance(120)
    changed = store.add_account("Changed")
    clock.advance(120)
    params = {
        "start": start.isoformat(),
        "end": (store.now() + timedelta(days=1)).isoformat(),
    }
    url = data_url(salesforce_server, "sobjects/Account/updated/")
    body = api.get(url, params=params, timeout=5).json()
    assert body["ids"] == [changed["Id"]]
    assert body["latestDateCovered"].endswith(":00.000+0000")

    too_old = {**params, "start": (store.now() - timedelta(days=31)).isoformat()}
    response = api.get(url, params=too_old, timeout=5)
    assert response.status_code == 400
    assert error_of(response)["errorCode"] == "INVALID_REPLICATION_DATE"


def test_get_deleted_lists_merge_losers(salesforce_server, api):
    store = salesforce_server.store
    clock = salesforce_server.clock
    start = store.now()
    master = store.add_account("Acme")
    loser = store.add_account("Acme dup")
    clock.advance(60)
    store.merge("Account", master["Id"], [loser["Id"]])
    clock.advance(120)
    params = {"start": start.isoformat(), "end": store.now().isoformat()}
    url = data_url(salesforce_server, "sobjects/Account/deleted/")
    body = api.get(url, params=params, timeout=5).json()
    assert [row["id"] for row in body["deletedRecords"]] == [loser["Id"]]
    assert body["deletedRecords"][0]["deletedDate"].endswith("+0000")
    assert body["earliestDateAvailable"]
    assert body["latestDateCovered"]


# sObject writes.


def test_sobject_create_update_delete(salesforce_server, api):
    base = data_url(salesforce_server, "sobjects/Opportunity")
    body = {"Name": "New", "StageName": "Prospecting", "CloseDate": "2024-07-01"}
    created = api.post(base, json=body, timeout=5)
    record_id = created.json()["id"]
    assert created.status_code == 201
    assert created.json()["success"] is True

    won = api.patch(f"{base}/{record_id}", json={"StageName": "Closed Won"}, timeout=5)
    assert won.status_code == 204
    fetched = api.get(f"{base}/{record_id}", params={"fields": "IsWon,Probability"})
    assert fetched.json()["IsWon"] is True
    assert fetched.json()["Probability"] == 100.0
    assert set(fetched.json()) == {"attributes", "IsWon", "Probability"}

    assert api.delete(f"{base}/{record_id}", timeout=5).status_code == 204
    deleted = api.get(f"{base}/{record_id}", timeout=5)
    assert deleted.status_code == 404
    assert error_of(deleted)["errorCode"] == "ENTITY_IS_DELETED"


SOBJECT_ERRORS = [
    (
        {"Name": "X", "StageName": "Prospecting"},
        "REQUIRED_FIELD_MISSING",
        ["CloseDate"],
    ),
    (
        {"Name": "X", "StageName": "Nope", "CloseDate": "2024-07-01"},
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        ["StageName"],
    ),
    (
        {
            "Name": "X",
            "StageName": "Prospecting",
            "CloseDate": "2024-07-01",
            "IsWon": True,
        },
        "INVALID_FIELD_FOR_INSERT_UPDATE",
        ["IsWon"],
    ),
    ({"Name": "X", "Colour": "red"}, "INVALID_FIELD", ["Colour"]),
    (
        {"Name": "X", "StageName": "Prospecting", "CloseDate": "someday"},
        "JSON_PARSER_ERROR",
        ["CloseDate"],
    ),
    (
        {
            "Name": "X",
            "StageName": "Prospecting",
            "CloseDate": "2024-07-01",
            "CurrencyIsoCode": "XYZ",
        },
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        ["CurrencyIsoCode"],
    ),
    (
        {
            "Name": "X",
            "StageName": "Prospecting",
            "CloseDate": "2024-07-01",
            "AccountId": "001000000000000AAA",
        },
        "INVALID_CROSS_REFERENCE_KEY",
        ["AccountId"],
    ),
]


@pytest.mark.parametrize(("body", "code", "fields"), SOBJECT_ERRORS)
def test_sobject_write_errors(salesforce_server, body, code, fields):
    url = data_url(salesforce_server, "sobjects/Opportunity")
    response = login(salesforce_server).post(url, json=body, timeout=5)
    assert response.status_code == 400
    assert error_of(response)["errorCode"] == code
    assert error_of(response)["fields"] == fields


def test_upsert_statuses_by_version(salesforce_server, api):
    path = "sobjects/Account/Odoo_Ref__c/P-1"
    created = api.patch(data_url(salesforce_server, path), json={"Name": "A"})
    updated = api.patch(data_url(salesforce_server, path), json={"Name": "B"})
    legacy = api.patch(data_url(salesforce_server, path, "45.0"), json={"Name": "C"})
    assert created.status_code == 201
    assert created.json()["created"] is True
    assert updated.status_code == 200
    assert updated.json()["created"] is False
    assert updated.json()["id"] == created.json()["id"]
    assert legacy.status_code == 204
    assert salesforce_server.store.get("Account", created.json()["id"])["Name"] == "C"


def test_upsert_conflicts_and_update_only(salesforce_server, api):
    store = salesforce_server.store
    store.add_custom_field("Account", "Ext__c", external_id=True)
    first = store.add_account("One", Ext__c="DUP")
    store.add_account("Two", Ext__c="dup")
    several = api.patch(
        data_url(salesforce_server, "sobjects/Account/Ext__c/DUP"), json={"Name": "X"}
    )
    assert several.status_code == 300
    assert any(first["Id"] in url for url in several.json())

    missing = api.patch(
        data_url(salesforce_server, "sobjects/Account/Ext__c/NONE"),
        params={"updateOnly": "true"},
        json={"Name": "X"},
    )
    assert missing.status_code == 404
    in_body = api.patch(
        data_url(salesforce_server, "sobjects/Account/Ext__c/NEW"),
        json={"Name": "X", "Ext__c": "NEW"},
    )
    assert in_body.status_code == 400
    assert error_of(in_body)["errorCode"] == "INVALID_FIELD"


def test_collections_create_and_rollback(salesforce_server, api):
    url = data_url(salesforce_server, "composite/sobjects")
    records = [
        {"attributes": {"type": "Account"}, "Name": "Kept"},
        {"attributes": {"type": "Contact"}, "LastName": "Quill"},
    ]
    created = api.post(url, json={"allOrNone": False, "records": records}).json()
    assert [row["success"] for row in created] == [True, True]

    broken = [*records, {"attributes": {"type": "Contact"}, "FirstName": "No last"}]
    rolled = api.post(url, json={"allOrNone": True, "records": broken}).json()
    codes = [row["errors"][0]["statusCode"] for row in rolled]
    assert codes == [
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "REQUIRED_FIELD_MISSING",
    ]
    names = [row["Name"] for row in salesforce_server.store.rows("Account")]
    assert names == ["Kept"]

    partial = api.post(url, json={"allOrNone": False, "records": broken}).json()
    assert [row["success"] for row in partial] == [True, True, False]


def test_collections_update_delete_retrieve(salesforce_server, api):
    store = salesforce_server.store
    first = store.add_account("One")
    second = store.add_account("Two")
    url = data_url(salesforce_server, "composite/sobjects")
    updates = [{"attributes": {"type": "Account"}, "Id": first["Id"], "Name": "Uno"}]
    assert api.patch(url, json={"records": updates}).json()[0]["success"] is True

    retrieved = api.get(
        f"{url}/Account",
        params={"ids": f"{first['Id']},{make_id('001', 99999)}", "fields": "Name"},
    ).json()
    assert retrieved[0]["Name"] == "Uno"
    assert retrieved[1] is None

    deleted = api.delete(url, params={"ids": second["Id"]}).json()
    assert deleted[0]["success"] is True
    assert store.get("Account", second["Id"]) is None


def test_collections_upsert_and_size_cap(salesforce_server, api):
    url = data_url(salesforce_server, "composite/sobjects/Account/Odoo_Ref__c")
    records = [
        {"attributes": {"type": "Account"}, "Odoo_Ref__c": "P-1", "Name": "One"},
        {"attributes": {"type": "Account"}, "Odoo_Ref__c": "P-1", "Name": "Again"},
    ]
    results = api.patch(url, json={"records": records}).json()
    assert [row["created"] for row in results] == [True, False]
    too_many = [{"attributes": {"type": "Account"}, "Name": "X"}] * 201
    response = api.post(
        data_url(salesforce_server, "composite/sobjects"), json={"records": too_many}
    )
    assert response.status_code == 400
    assert error_of(response)["errorCode"] == "EXCEEDED_ID_LIMIT"


# Outbound Message sender.


class _SoapReceiver(EmulatorApp):
    """An Outbound Message listener that returns the responses a test lists."""

    name = "soap-receiver"

    def __init__(self, answers):
        super().__init__(store=None)
        self.answers = list(answers)

    def rules(self):
        return [Rule("/om", endpoint="listen", methods=["POST"])]

    def listen(self, request):
        status, body = (
            self.answers.pop(0) if self.answers else (200, ACK.format(ack="true"))
        )
        return Response(body, status=status, content_type="text/xml; charset=utf-8")


def test_outbound_message_envelope():
    sender = OutboundMessageSender("http://127.0.0.1:9/om", make_id("00D", 1))
    notification = sender.notification(
        "Opportunity", {"Id": make_id("006", 5), "Name": "A & B", "IsWon": True}
    )
    root = ElementTree.fromstring(sender.envelope([notification]))
    ns = {"o": OUTBOUND_NS, "sf": "urn:sobject.enterprise.soap.sforce.com"}
    body = root.find("{http://schemas.xmlsoap.org/soap/envelope/}Body")
    notifications = body.find("o:notifications", ns)
    sobject = notifications.find("o:Notification/o:sObject", ns)
    xsi_type = "{http://www.w3.org/2001/XMLSchema-instance}type"
    assert notifications.find("o:OrganizationId", ns).text == make_id("00D", 1)
    assert (
        notifications.find("o:SessionId", ns).get(
            "{http://www.w3.org/2001/XMLSchema-instance}nil"
        )
        == "true"
    )
    assert notifications.find("o:Notification/o:Id", ns).text == notification.id
    assert notification.id.startswith("04l")
    assert sobject.get(xsi_type) == "sf:Opportunity"
    assert sobject.find("sf:Name", ns).text == "A & B"
    assert sobject.find("sf:IsWon", ns).text == "true"


def test_outbound_retried_until_acknowledged():
    answers = [
        (500, "oops"),
        (200, "<ok/>"),
        (200, ACK.format(ack="false")),
        (200, ACK.format(ack="true")),
    ]
    with EmulatorServer(_SoapReceiver(answers), "soap-receiver") as receiver:
        sender = OutboundMessageSender(
            f"{receiver.url}/om", make_id("00D", 1), sleep=lambda _seconds: None
        )
        notification = sender.notification("Account", {"Id": make_id("001", 3)})
        delivery = sender.deliver([notification])
        bodies = [request.body for request in receiver.requests]
        content_type = receiver.requests[0].headers["Content-Type"]
    assert delivery.delivered
    assert delivery.statuses == [500, 200, 200, 200]
    assert len(set(bodies)) == 1
    assert notification.id.encode() in bodies[0]
    assert content_type == "text/xml; charset=utf-8"


def test_outbound_splits_at_100():
    with EmulatorServer(_SoapReceiver([]), "soap-receiver") as receiver:
        sender = OutboundMessageSender(f"{receiver.url}/om", make_id("00D", 1))
        notifications = [
            sender.notification("Account", {"Id": make_id("001", number)})
            for number in range(1, 151)
        ]
        deliveries = sender.send(notifications)
        counts = [
            request.body.count(b"<Notification>") for request in receiver.requests
        ]
    assert [delivery.delivered for delivery in deliveries] == [True, True]
    assert counts == [100, 50]


# Entry point.


def test_start_emulators_loads_firm():
    started = time.monotonic()
    with start_emulators("small", seed=1234, systems=("hubspot", "salesforce")) as run:
        hubspot_ids = run.hubspot.store.firm_ids
        salesforce_ids = run.salesforce.store.firm_ids
        session = login(run.salesforce)
        accounts = soql(
            session, run.salesforce, "SELECT Id, VAT_Number__c FROM Account"
        )
        urls = run.urls()
        assert run.harvest is None
        assert run.productive is None
    firm = run.firm
    hubspot_keys = {client.key for client in firm.clients_in("hubspot")}
    salesforce_keys = {client.key for client in firm.clients_in("salesforce")}
    assert hubspot_keys <= set(hubspot_ids)
    assert salesforce_keys <= set(salesforce_ids)
    assert accounts.json()["totalSize"] == len(salesforce_keys)
    assert all(row["VAT_Number__c"] for row in accounts.json()["records"])
    assert set(urls) == {"hubspot", "salesforce"}
    assert all(url.startswith("http://127.0.0.1:") for url in urls.values())
    assert run.servers == {}
    assert time.monotonic() - started < 10
    with pytest.raises(requests.ConnectionError):
        requests.get(urls["hubspot"], timeout=1)
