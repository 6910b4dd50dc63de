"""Property-based fuzzing of every webhook route against a real Odoo server.

Hypothesis generates requests to the HubSpot, Salesforce and PSA intake
routes: random bytes, text in several encodings, nested JSON, vendor-shaped
events with values of every type, SOAP envelopes, XML with entity
declarations, bodies over the size limit, chunked bodies, random headers
and signatures that are valid, wrong or missing. For every request:

- the status is one the intake documents, never a 5xx (the database is up);
- the body contains no traceback and no local file content;
- a request without a valid signature stores no job;
- every refusal leaves exactly one audit entry with its status, and every
  acknowledgement one entry with outcome ok.

These tests commit to the test database, so they clean up what they made.
"""

import gzip
import json
import time
from urllib.parse import urlencode

import pytest
import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.bench.committed import create_backend, delete_backend_data, query
from tests.bench.servers import server_on_test_database
from tests.bench.signing import hubspot_v3_headers, psa_headers

SECRET = "fuzz-webhook-secret"
ORGANIZATION_ID = "00D5g000004ABCDEAA"
SIZE_LIMIT = 16 * 1024
DOCUMENTED_STATUSES = {200, 400, 401, 404, 413, 429}
EXAMPLES_PER_ROUTE = 120
FORBIDDEN_IN_BODY = ("Traceback", 'File "/', "root:x:0:0", "psycopg2", "odoo.")

# ---------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------

# Values that PostgreSQL, JSON or UTF-8 handle badly: NUL, lone surrogates,
# NaN and infinities, integers past 64 bits, bidirectional overrides.
AWKWARD_TEXT = st.sampled_from(
    [
        "a\x00b",
        "\ud800",
        "",
        " ",
        "\u202eevil\u202c",
        "שלום עולם",
        "مرحبا",
        "👩‍💻🚀",
        "x" * 3000,
    ]
)
AWKWARD = AWKWARD_TEXT | st.sampled_from(
    [
        float("nan"),
        float("inf"),
        2**80,
        -(2**63) - 1,
        [],
        {},
        {"nested": [{"deeper": [None, True, 1.5]}]},
        True,
        None,
    ]
)
UNICODE = (
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
    | AWKWARD_TEXT
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | UNICODE
    | AWKWARD
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(UNICODE, children, max_size=4)
    ),
    max_leaves=25,
)
DATES = (
    st.sampled_from(
        [
            "2024-05-01T10:00:00Z",
            "2024-05-01T10:00:00+02:00",
            "2024-05-01",
            "01/05/2024",
            "May 1, 2024",
            "0000-00-00",
            "0001-01-01T00:00:00-01:00",
            "9999-12-31T23:59:59",
            "",
        ]
    )
    | UNICODE
)
# URLs carry UTF-8, which has no encoding of a lone surrogate.
QUERY_TEXT = UNICODE.filter(lambda text: text != "\ud800")
# A key given this value is removed from the event.
REMOVE = object()


def json_bytes(value, ascii_only=False):
    """Serialize as a sender might: NaN allowed, escapes or raw UTF-8."""
    text = json.dumps(value, allow_nan=True, ensure_ascii=ascii_only)
    return text.encode("utf-8", "surrogatepass")


def mutated(base, mutations):
    """Return `base` with some keys replaced by generated values or removed."""
    event = dict(base)
    for key, value in mutations.items():
        if value is REMOVE:
            event.pop(key, None)
        else:
            event[key] = value
    return event


def events_of(base, keys):
    """Return a strategy of events: valid ones with up to two keys mutated."""
    mutations = st.dictionaries(
        st.sampled_from([*keys, "extra"]), SCALARS | st.just(REMOVE), max_size=2
    )
    return st.builds(mutated, st.fixed_dictionaries(base), mutations)


HUBSPOT_EVENT = events_of(
    {
        "eventId": st.integers(min_value=1, max_value=2**40),
        "subscriptionType": st.sampled_from(
            ["contact.creation", "company.propertyChange", "deal.deletion"]
        ),
        "objectId": st.integers(min_value=1, max_value=2**40),
        "occurredAt": st.just(1714557600000),
        "portalId": st.just(62515),
        "propertyName": UNICODE,
        "propertyValue": JSON_VALUES,
    },
    ["eventId", "subscriptionType", "objectId", "occurredAt"],
)
HUBSPOT_BODIES = st.builds(
    json_bytes, st.lists(HUBSPOT_EVENT | JSON_VALUES, max_size=5), st.booleans()
)
PSA_EVENT = events_of(
    {
        "id": st.from_regex(r"\Aevt-[0-9]{1,9}\Z"),
        "type": st.sampled_from(["time_entry.updated", "project.created"]),
        "object": st.fixed_dictionaries({"id": st.integers(1, 10**9)})
        | st.dictionaries(UNICODE, JSON_VALUES, max_size=4),
        "occurred_at": DATES,
    },
    ["id", "type", "object", "occurred_at"],
)
PSA_BODIES = st.builds(json_bytes, PSA_EVENT, st.booleans()) | st.builds(
    lambda events, ascii_only: json_bytes({"events": events}, ascii_only),
    st.lists(PSA_EVENT | JSON_VALUES, max_size=4),
    st.booleans(),
)


def soap_envelope(organization_id, notifications):
    items = "".join(
        f"<Notification><Id>{nid}</Id>"
        f'<sObject xsi:type="sf:{kind}">{fields}</sObject></Notification>'
        for nid, kind, fields in notifications
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<soapenv:Body>"
        '<notifications xmlns="http://soap.sforce.com/2005/09/outbound"'
        ' xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
        f"<OrganizationId>{organization_id}</OrganizationId>"
        "<ActionId>04k5g000000ABCDAAA</ActionId>"
        '<SessionId xsi:nil="true"/>'
        f"{items}</notifications></soapenv:Body></soapenv:Envelope>"
    ).encode("utf-8", "surrogatepass")


def xml_text(text):
    return text.replace("&", "&amp;").replace("<", "&lt;")


SF_FIELDS = st.lists(
    st.tuples(
        st.sampled_from(["sf:Id", "sf:Name", "sf:SystemModstamp", "sf:Amount"])
        | st.from_regex(r"\Asf:[A-Za-z]{1,8}\Z"),
        UNICODE.map(xml_text) | DATES.map(xml_text),
    ),
    max_size=5,
).map(lambda pairs: "".join(f"<{name}>{value}</{name}>" for name, value in pairs))
SF_NOTIFICATIONS = st.lists(
    st.tuples(
        UNICODE.map(xml_text),
        st.sampled_from(["Account", "Opportunity", "Contact"])
        | st.from_regex(r"\A\w{1,8}\Z"),
        SF_FIELDS,
    ),
    max_size=4,
)
XML_ATTACKS = st.sampled_from(
    [
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><a>&lol3;</a>',
        b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        b"<a>&e;</a>",
        b'<!DOCTYPE a [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd"> %p;]><a/>',
        b'<!-- c --><!DOCTYPE a SYSTEM "file:///etc/passwd"><a/>',
        b"<a>&undefined;</a>",
        b"<a><b></a>",
        b'<?xml version="1.0" encoding="UTF-16"?><a/>',
    ]
)
SOAP_BODIES = (
    st.builds(
        soap_envelope,
        st.just(ORGANIZATION_ID) | UNICODE.map(xml_text),
        SF_NOTIFICATIONS,
    )
    | XML_ATTACKS
    | st.builds(
        lambda attack, envelope: attack + envelope,
        st.sampled_from([b"<!DOCTYPE x>", b"", b"\xef\xbb\xbf"]),
        st.builds(soap_envelope, st.just(ORGANIZATION_ID), SF_NOTIFICATIONS),
    )
)


def encoded_text(pair):
    text, encoding = pair
    return text.encode(encoding, "replace")


ANY_BODIES = (
    st.binary(max_size=300)
    | st.tuples(UNICODE, st.sampled_from(["utf-8", "utf-16", "latin-1", "cp1252"])).map(
        encoded_text
    )
    | st.builds(json_bytes, JSON_VALUES, st.booleans())
    | st.builds(
        lambda chunk, times: chunk * times,
        st.binary(min_size=1, max_size=400),
        st.integers(min_value=1, max_value=120),
    )
)
# Printable ASCII without surrounding blanks, which HTTP clients refuse to send.
HEADER_VALUES = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60
).map(str.strip)
EXTRA_HEADERS = st.dictionaries(
    st.sampled_from(
        [
            "Content-Type",
            "Content-Encoding",
            "X-Forwarded-For",
            "X-HubSpot-Signature",
            "X-HubSpot-Signature-Version",
            "X-Request-Id",
            "Accept",
            "SOAPAction",
        ]
    ),
    HEADER_VALUES
    | st.sampled_from(
        [
            "gzip",
            "application/json; charset=utf-16",
            "text/xml; charset=iso-8859-1",
            "v1",
            "v2",
        ]
    ),
    max_size=3,
)
SIGNING = st.sampled_from(["valid", "valid", "valid", "wrong", "missing", "stale"])


# ---------------------------------------------------------------------------
# The server and its backends
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def backends(registry):
    common = {"webhook_secret": SECRET, "webhook_max_bytes": SIZE_LIMIT}
    ids = {
        "hubspot": create_backend(
            registry,
            name="Fuzz HubSpot",
            kind="hubspot",
            hubspot_signature_versions="v3",
            **common,
        ),
        "salesforce": create_backend(
            registry,
            name="Fuzz Salesforce",
            kind="salesforce",
            account_ref=ORGANIZATION_ID,
            **common,
        ),
        "psa": create_backend(registry, name="Fuzz PSA", kind="harvest", **common),
        "archived": create_backend(
            registry, name="Fuzz archived", kind="hubspot", active=False, **common
        ),
    }
    yield ids
    for backend_id in ids.values():
        delete_backend_data(registry, backend_id)
    with registry.cursor() as cr:
        cr.execute(
            "DELETE FROM integration_audit_log WHERE backend_id IS NULL"
            " AND endpoint LIKE '/integration/webhook/%%' AND create_date >= %s",
            [FUZZ_STARTED],
        )


FUZZ_STARTED = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())


@pytest.fixture(scope="module")
def server(backends):
    with server_on_test_database(workers=2) as odoo_server:
        yield odoo_server


# ---------------------------------------------------------------------------
# One request and its checks
# ---------------------------------------------------------------------------


def backend_path(sender, target, backends):
    """Return the URL path for `target`: the right backend or a wrong one."""
    backend_id = {
        "own": backends[sender],
        "archived": backends["archived"],
        "other": backends["psa" if sender != "psa" else "hubspot"],
        "missing": 2**31 - 1,
        "zero": 0,
        "too_big": 2**31,
    }[target]
    return f"/integration/webhook/{sender}/{backend_id}"


def signature_headers(sender, signing, url, body):
    """Return the signature headers of one request (none for Salesforce)."""
    if signing == "missing" or sender == "salesforce":
        return {}
    secret = SECRET if signing != "wrong" else "not-the-secret"
    if sender == "hubspot":
        stamp = None if signing != "stale" else int((time.time() - 3600) * 1000)
        return hubspot_v3_headers(secret, url, body, timestamp_ms=stamp)
    stamp = None if signing != "stale" else int(time.time()) - 3600
    return psa_headers(secret, body, timestamp=stamp)


def salesforce_token(signing):
    """Return the query argument that authenticates a Salesforce message."""
    if signing == "missing":
        return {}
    return {"token": SECRET if signing != "wrong" else "not-the-secret"}


def is_validly_signed(sender, case):
    if case["target"] != "own":
        return False
    # Salesforce messages carry no timestamp: a "stale" one is still valid.
    return case["signing"] == "valid" or (
        sender == "salesforce" and case["signing"] == "stale"
    )


def snapshot(registry):
    [(audit_id, job_id)] = query(
        registry,
        "SELECT (SELECT COALESCE(max(id), 0) FROM integration_audit_log),"
        " (SELECT COALESCE(max(id), 0) FROM integration_sync_job)",
    )
    return audit_id, job_id


def changes_since(registry, mark):
    audit_id, job_id = mark
    audits = query(
        registry,
        "SELECT outcome, status_code FROM integration_audit_log"
        " WHERE id > %s AND direction = 'inbound'",
        [audit_id],
    )
    [(jobs,)] = query(
        registry, "SELECT count(*) FROM integration_sync_job WHERE id > %s", [job_id]
    )
    return audits, jobs


def post(server, sender, case, backends):
    """Send one generated request; return the response."""
    url = server.url + backend_path(sender, case["target"], backends)
    body = gzip.compress(case["body"]) if case["gzip"] else case["body"]
    query_args = dict(case["query"])
    if sender == "salesforce":
        query_args.update(salesforce_token(case["signing"]))
    if query_args:
        url = f"{url}?{urlencode(query_args)}"
    headers = signature_headers(sender, case["signing"], url, body)
    headers.update(case["headers"])
    if case["gzip"]:
        headers["Content-Encoding"] = "gzip"
    data = iter([body]) if case["chunked"] else body
    return requests.post(url, data=data, headers=headers, timeout=60)


def check_response(registry, server, sender, case, backends):
    mark = snapshot(registry)
    response = post(server, sender, case, backends)
    audits, new_jobs = changes_since(registry, mark)

    assert response.status_code in DOCUMENTED_STATUSES, (
        response.status_code,
        response.text[:300],
    )
    for marker in FORBIDDEN_IN_BODY:
        assert marker not in response.text, response.text[:300]
    if not is_validly_signed(sender, case):
        assert new_jobs == 0, "a job was stored without a valid signature"
        assert response.status_code != 200
    if response.status_code == 200:
        # A generated body may repeat an event ID of an earlier example: the
        # intake then stores nothing and audits the delivery as a duplicate.
        assert audits in ([("ok", 200)], [("duplicate", 200)]), audits
    else:
        assert new_jobs == 0, "a refused request stored jobs"
        assert audits == [("refused", response.status_code)], audits


def request_cases(bodies):
    return st.fixed_dictionaries(
        {
            "body": bodies,
            "signing": SIGNING,
            "target": st.sampled_from(
                [
                    "own",
                    "own",
                    "own",
                    "own",
                    "archived",
                    "other",
                    "missing",
                    "zero",
                    "too_big",
                ]
            ),
            "headers": EXTRA_HEADERS,
            "query": st.dictionaries(
                st.sampled_from(["a", "token", "ü", "portalId"]), QUERY_TEXT, max_size=2
            ),
            "gzip": st.sampled_from([False, False, False, True]),
            "chunked": st.booleans(),
        }
    )


FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES_PER_ROUTE,
    deadline=None,
    database=None,
    # Shrinking replays hundreds of HTTP requests; the unshrunk failing
    # example is reported instead.
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


@pytest.mark.slow
@FUZZ_SETTINGS
@given(case=request_cases(HUBSPOT_BODIES | ANY_BODIES))
def test_hubspot_route_fuzzed(registry, server, backends, case):
    check_response(registry, server, "hubspot", case, backends)


@pytest.mark.slow
@FUZZ_SETTINGS
@given(case=request_cases(SOAP_BODIES | ANY_BODIES))
def test_salesforce_route_fuzzed(registry, server, backends, case):
    check_response(registry, server, "salesforce", case, backends)


@pytest.mark.slow
@FUZZ_SETTINGS
@given(case=request_cases(PSA_BODIES | ANY_BODIES))
def test_psa_route_fuzzed(registry, server, backends, case):
    check_response(registry, server, "psa", case, backends)


def test_valid_webhooks_accepted(registry, server, backends):
    """The control case: well-formed, validly signed deliveries are stored."""
    hubspot = [
        {
            "eventId": 7001,
            "subscriptionType": "contact.creation",
            "objectId": 51,
            "occurredAt": int(time.time() * 1000),
            "portalId": 1,
        }
    ]
    psa = {
        "id": "evt-7001",
        "type": "time_entry.updated",
        "object": {"id": 9001},
        "occurred_at": "2024-05-01T10:00:00Z",
    }
    account = ("04l000000000001AAA", "Account", "<sf:Id>0015g00000ABCDEAAA</sf:Id>")
    salesforce = soap_envelope(ORGANIZATION_ID, [account])
    bodies = {
        "hubspot": json_bytes(hubspot),
        "psa": json_bytes(psa),
        "salesforce": salesforce,
    }
    for sender, body in bodies.items():
        case = {
            "body": body,
            "signing": "valid",
            "target": "own",
            "headers": {},
            "query": {},
            "gzip": False,
            "chunked": False,
        }
        mark = snapshot(registry)
        response = post(server, sender, case, backends)
        audits, new_jobs = changes_since(registry, mark)
        assert response.status_code == 200, (sender, response.text[:300])
        assert new_jobs == 1, sender
        assert audits == [("ok", 200)], sender


AWKWARD_EVENTS = {
    "NUL in a value": {"propertyValue": "a\x00b"},
    "NUL in a key": {"a\x00": 1},
    "NaN": {"propertyValue": float("nan")},
    "infinity": {"propertyValue": float("inf")},
    "lone surrogate": {"propertyValue": "\ud800"},
    "NUL in the type": {"subscriptionType": "con\x00tact.creation"},
    "NUL in the event id": {"eventId": "6\x00"},
    "NUL in the object id": {"objectId": "5\x00"},
}


@pytest.mark.parametrize("name", sorted(AWKWARD_EVENTS))
def test_awkward_signed_event_not_500(registry, server, backends, name):
    """Values PostgreSQL cannot store as sent get a 2xx or a 400, never a 500."""
    event = {
        "eventId": 8100 + sorted(AWKWARD_EVENTS).index(name),
        "subscriptionType": "contact.creation",
        "objectId": 51,
        "occurredAt": int(time.time() * 1000),
        "portalId": 62515,
        **AWKWARD_EVENTS[name],
    }
    for ascii_only in (False, True):
        case = {"body": json_bytes([event], ascii_only), "signing": "valid",
                "target": "own", "headers": {}, "query": {}, "gzip": False,
                "chunked": False}  # fmt: skip
        check_response(registry, server, "hubspot", case, backends)
