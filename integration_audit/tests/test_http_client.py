"""The outbound HTTP client against a local HTTP server, on real cursors.

The backends and one job are committed before the test transaction starts,
so the client's own transactions (rate-limit slots, audit entries) see them
as they would in production. The class removes them when it ends. Rows
those transactions commit are read through a fresh cursor, because the
test transaction's snapshot predates them.
"""

import email.utils
import hashlib
import json
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from odoo import SUPERUSER_ID, api
from odoo.addons.integration_audit.services import http_client, rate_limit
from odoo.addons.integration_audit.services.errors import (
    BusinessError,
    RemoteRejectedError,
    RetryableError,
)
from odoo.exceptions import UserError
from odoo.modules.registry import Registry
from odoo.tests import TransactionCase, tagged
from odoo.tests.common import get_db_name

API_TOKEN = "pat-static-7d1c9e55aa01"
LIMITED_TOKEN = "pat-limited-2b7f90d3c4e5"
WAITING_TOKEN = "pat-waiting-81c3e2a9f0b7"
CLIENT_SECRET = "client-secret-3f9a77c1"
FRESH_TOKEN = "fresh-access-token-51e2c6"
STALE_TOKEN = "stale-access-token-0b9d4e"
SLOW_SECONDS = 11
BIG_BODY_TOKEN = "big-body-token-4411aa"
HUBSPOT_429_BODY = {
    "status": "error",
    "message": "You have reached your daily limit.",
    "errorType": "RATE_LIMIT",
    "correlationId": "c033cdaa-2c40-4a64-ae48-b4cec88dad24",
    "policyName": "DAILY",
    "requestId": "3d3e35b7-0dae-4b9f-a6e3-9c230cbcf8dd",
}


def json_answer(status, document, headers=None):
    return (
        status,
        dict({"Content-Type": "application/json"}, **(headers or {})),
        (json.dumps(document).encode()),
    )


class FakeApi(BaseHTTPRequestHandler):
    """A small API whose behaviour depends on the path; logs every request."""

    def do_GET(self):
        self.serve()

    def do_POST(self):
        self.serve()

    def serve(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = self.path.partition("?")[0]
        self.server.requests.append(
            {
                "method": self.command,
                "path": path,
                "headers": dict(self.headers),
                "body": body,
            }
        )
        route = getattr(self, "route_" + path.strip("/").replace("-", "_"), None)
        status, headers, payload = route() if route else json_answer(404, {})
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if "Content-Length" not in headers and status != 204 and path != "/big-unsized":
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_args):
        return

    def route_ok(self):
        # Echoes the credential back, as some systems do in debug output,
        # under a key and in a header the redaction patterns do not know.
        seen = self.headers.get("Authorization", "")
        return json_answer(200, {"ok": True, "echo": seen}, {"X-Echo": seen})

    def route_slow(self):
        time.sleep(SLOW_SECONDS)
        return json_answer(200, {"ok": True})

    def route_limited(self):
        return json_answer(429, HUBSPOT_429_BODY, {"Retry-After": "7"})

    def route_limited_date(self):
        when = email.utils.formatdate(time.time() + 120, usegmt=True)
        return json_answer(429, HUBSPOT_429_BODY, {"Retry-After": when})

    def route_unavailable(self):
        return json_answer(503, {"message": "maintenance"})

    def route_invalid(self):
        return json_answer(422, {"message": "Validation failed", "errors": ["name"]})

    def route_expiring(self):
        if self.headers.get("Authorization") == f"Bearer {FRESH_TOKEN}":
            return json_answer(200, {"ok": True})
        return self.route_rejecting()

    def route_rejecting(self):
        error = {
            "message": "Session expired or invalid",
            "errorCode": "INVALID_SESSION_ID",
        }
        return json_answer(401, [error])

    def route_token(self):
        token = {
            "access_token": FRESH_TOKEN,
            "token_type": "Bearer",
            "expires_in": 3600,
        }
        return json_answer(200, token)

    def route_big_json(self):
        padding = "p" * (1024 * 1024 + 10)
        return json_answer(200, {"access_token": BIG_BODY_TOKEN, "padding": padding})

    def route_big(self):
        return 200, {"Content-Type": "text/plain"}, b"x" * 5000

    def route_big_unsized(self):
        # No Content-Length: the client reads until the server closes.
        return 200, {"Content-Type": "text/plain", "Connection": "close"}, b"y" * 5000


def closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def create_committed_fixture(registry, base_url):
    """Create and commit the backends and job of the class; return their ids."""
    with registry.cursor() as cr:
        env = api.Environment(
            cr, SUPERUSER_ID, {"tracking_disable": True, "mail_create_nolog": True}
        )
        Backend = env["integration.backend"]
        common = {"base_url": base_url, "rate_limit_requests": 1000}
        static = Backend.create(
            dict(common, name="HTTP static", kind="test_plain", api_token=API_TOKEN)
        )
        oauth = Backend.create(
            dict(
                common,
                name="HTTP OAuth",
                kind="test",
                token_url=f"{base_url}/token",
                client_id="client-1",
                client_secret=CLIENT_SECRET,
            )
        )
        oauth._set_access_token(STALE_TOKEN, "2099-01-01 00:00:00")
        bare = Backend.create(dict(common, name="HTTP no connector", kind="test_plain"))
        bare._set_access_token(STALE_TOKEN, "2099-01-01 00:00:00")
        bare.token_url = f"{base_url}/token"
        limited = Backend.create(
            dict(
                common,
                name="HTTP limited",
                kind="test_plain",
                api_token=LIMITED_TOKEN,
                rate_limit_requests=3,
                rate_limit_period=60,
                rate_limit_max_wait_seconds=0,
            )
        )
        waiting = Backend.create(
            dict(
                common,
                name="HTTP waiting",
                kind="test_plain",
                api_token=WAITING_TOKEN,
                rate_limit_requests=1,
                rate_limit_period=1,
                rate_limit_max_wait_seconds=3,
            )
        )
        job = env["integration.sync.job"]._enqueue(static, "test.noop", "http:job", {})
        return {
            "static": static.id,
            "oauth": oauth.id,
            "bare": bare.id,
            "limited": limited.id,
            "waiting": waiting.id,
            "job": job.id,
        }


def drop_committed_fixture(registry, ids):
    """Remove what the fixture and the client's own transactions committed."""
    if not ids:
        return
    backend_ids = [value for key, value in ids.items() if key != "job"]
    buckets = [f"integration.backend:{backend_id}" for backend_id in backend_ids]
    with registry.cursor() as cr:
        cr.execute(
            "DELETE FROM integration_audit_log WHERE backend_id = ANY(%s)",
            [backend_ids],
        )
        cr.execute(
            "DELETE FROM integration_sync_job WHERE backend_id = ANY(%s)", [backend_ids]
        )
        cr.execute(
            "DELETE FROM integration_rate_limit_hit WHERE bucket = ANY(%s)", [buckets]
        )
        env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
        env["integration.backend"].browse(backend_ids).unlink()


@tagged("post_install", "-at_install")
class TestHttpClient(TransactionCase):
    @classmethod
    def setUpClass(cls):
        cls.server = ThreadingHTTPServer(("127.0.0.1", 0), FakeApi)
        cls.server.daemon_threads = True
        cls.server.requests = []
        threading.Thread(target=cls.server.serve_forever, daemon=True).start()
        cls.base_url = f"http://127.0.0.1:{cls.server.server_port}"
        cls.addClassCleanup(cls.server.server_close)
        cls.addClassCleanup(cls.server.shutdown)

        # Registered before the test cursor exists, so it runs after that
        # cursor is closed and holds no lock on these rows.
        registry = Registry(get_db_name())
        cls.fixture_ids = {}
        cls.addClassCleanup(drop_committed_fixture, registry, cls.fixture_ids)
        cls.fixture_ids.update(create_committed_fixture(registry, cls.base_url))
        super().setUpClass()

        Backend = cls.env["integration.backend"]
        cls.static = Backend.browse(cls.fixture_ids["static"])
        cls.oauth = Backend.browse(cls.fixture_ids["oauth"])
        cls.bare = Backend.browse(cls.fixture_ids["bare"])
        cls.limited = Backend.browse(cls.fixture_ids["limited"])
        cls.waiting = Backend.browse(cls.fixture_ids["waiting"])
        cls.job = cls.env["integration.sync.job"].browse(cls.fixture_ids["job"])

    def setUp(self):
        super().setUp()
        self.request_mark = len(self.server.requests)
        with self.registry.cursor() as cr:
            cr.execute("SELECT coalesce(max(id), 0) FROM integration_audit_log")
            self.audit_mark = cr.fetchone()[0]

    def requests_to(self, path):
        return [
            request
            for request in self.server.requests[self.request_mark :]
            if request["path"] == path
        ]

    def committed_audit(self, backend):
        """Return the audit rows committed for `backend` since the test began."""
        with self.registry.cursor() as cr:
            cr.execute(
                """
                SELECT id, direction, outcome, method, endpoint, status_code,
                       duration_ms, correlation_id, payload, message, job_id
                  FROM integration_audit_log
                 WHERE backend_id = %s AND id > %s
                 ORDER BY id
                """,
                [backend.id, self.audit_mark],
            )
            return cr.dictfetchall()

    # ------------------------------------------------------------------
    # Responses and errors
    # ------------------------------------------------------------------

    def test_success_returns_response(self):
        response = self.static._http_request("GET", "/ok")
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response.json()["ok"])
        (sent,) = self.requests_to("/ok")
        self.assertEqual(sent["headers"]["Authorization"], f"Bearer {API_TOKEN}")
        self.assertEqual(sent["headers"]["User-Agent"], http_client.USER_AGENT)

    def test_relative_and_absolute_urls(self):
        self.static._http_request("GET", "ok")
        self.static._http_request("GET", f"{self.base_url}/ok")
        self.assertEqual(len(self.requests_to("/ok")), 2)

    def test_caller_headers_override_auth(self):
        self.static._http_request("GET", "/ok", headers={"Authorization": "Basic abc"})
        (sent,) = self.requests_to("/ok")
        self.assertEqual(sent["headers"]["Authorization"], "Basic abc")

    def test_timeout_raises_retryable(self):
        # Odoo's test case raises every requests timeout below 10 s to 10 s,
        # so the server sleeps longer than that and the test takes 10 s.
        self.static.timeout_seconds = 0.3
        started = time.monotonic()
        with self.assertRaisesRegex(RetryableError, "within 0.3 s") as caught:
            self.static._http_request("GET", "/slow")
        self.assertLess(time.monotonic() - started, SLOW_SECONDS)
        self.assertIsNone(caught.exception.retry_after)
        (entry,) = self.committed_audit(self.static)
        self.assertEqual(entry["status_code"], 0)
        self.assertEqual(entry["outcome"], "error")
        self.assertIn("Timeout", entry["message"])

    def test_429_carries_retry_after_seconds(self):
        with self.assertRaisesRegex(RetryableError, "HTTP 429") as caught:
            self.static._http_request("GET", "/limited")
        self.assertEqual(caught.exception.retry_after, 7.0)

    def test_429_carries_retry_after_date(self):
        with self.assertRaises(RetryableError) as caught:
            self.static._http_request("GET", "/limited-date")
        self.assertGreater(caught.exception.retry_after, 100)
        self.assertLessEqual(caught.exception.retry_after, 121)

    def test_5xx_raises_retryable(self):
        with self.assertRaisesRegex(RetryableError, "HTTP 503") as caught:
            self.static._http_request("GET", "/unavailable")
        self.assertIsNone(caught.exception.retry_after)

    def test_4xx_raises_remote_rejected(self):
        with self.assertRaises(RemoteRejectedError) as caught:
            self.static._http_request("POST", "/invalid", json={"name": ""})
        error = caught.exception
        self.assertIsInstance(error, BusinessError)
        self.assertEqual(error.status_code, 422)
        self.assertEqual(error.category, "remote_rejected")
        self.assertIn("Validation failed", error.body)
        self.assertIn("HTTP 422", str(error))

    def test_refused_connection_raises_retryable(self):
        url = f"http://127.0.0.1:{closed_port()}/ok"
        with self.assertRaisesRegex(RetryableError, "ConnectionError"):
            self.static._http_request("GET", url)

    def test_missing_base_url_is_configuration_error(self):
        self.static.base_url = False
        with self.assertRaises(BusinessError) as caught:
            self.static._http_request("GET", "/ok")
        self.assertEqual(caught.exception.category, "configuration")
        self.assertFalse(self.requests_to("/ok"))

    def test_response_size_capped(self):
        session = http_client.get_session(("size-test", 0))
        for path in ("/big", "/big-unsized"):
            with self.subTest(path=path):
                prepared = http_client.prepare(session, "GET", self.base_url + path)
                with self.assertRaises(http_client.ResponseTooLargeError):
                    http_client.send(session, prepared, 5, max_bytes=1000)
                prepared = http_client.prepare(session, "GET", self.base_url + path)
                response = http_client.send(session, prepared, 5, max_bytes=5000)
                self.assertEqual(len(response.content), 5000)

    # ------------------------------------------------------------------
    # Token refresh
    # ------------------------------------------------------------------

    def test_401_refreshes_once_then_retries(self):
        response = self.oauth._http_request("GET", "/expiring")
        self.assertEqual(response.status_code, 200)

        calls = self.requests_to("/expiring")
        self.assertEqual(len(calls), 2)
        self.assertEqual(calls[0]["headers"]["Authorization"], f"Bearer {STALE_TOKEN}")
        self.assertEqual(calls[1]["headers"]["Authorization"], f"Bearer {FRESH_TOKEN}")
        (token_call,) = self.requests_to("/token")
        self.assertNotIn("Authorization", token_call["headers"])
        self.assertIn(b"grant_type=client_credentials", token_call["body"])
        self.assertEqual(self.oauth._get_secret("access_token"), FRESH_TOKEN)
        self.assertEqual(len(self.committed_audit(self.oauth)), 3)

    def test_401_after_refresh_rejected(self):
        with self.assertRaises(RemoteRejectedError) as caught:
            self.oauth._http_request("GET", "/rejecting")
        self.assertEqual(caught.exception.status_code, 401)
        self.assertEqual(len(self.requests_to("/rejecting")), 2)
        self.assertEqual(len(self.requests_to("/token")), 1)

    def test_401_without_connector_asks_to_install(self):
        with self.assertRaisesRegex(
            UserError, "Install the CRM Bridge or PSA Connector"
        ):
            self.bare._http_request("GET", "/rejecting")
        self.assertEqual(len(self.requests_to("/rejecting")), 1)
        self.assertFalse(self.requests_to("/token"))

    def test_access_token_sent_when_token_url_set(self):
        self.bare._http_request("GET", "/ok")
        (sent,) = self.requests_to("/ok")
        self.assertEqual(sent["headers"]["Authorization"], f"Bearer {STALE_TOKEN}")

    # ------------------------------------------------------------------
    # Audit
    # ------------------------------------------------------------------

    def test_one_audit_entry_per_exchange(self):
        response = self.static._http_request("GET", "/ok", params={"page": 2})
        (entry,) = self.committed_audit(self.static)
        self.assertEqual(entry["direction"], "outbound")
        self.assertEqual(entry["outcome"], "ok")
        self.assertEqual(entry["method"], "GET")
        self.assertEqual(entry["endpoint"], f"{self.base_url}/ok?page=2")
        self.assertEqual(entry["status_code"], 200)
        self.assertGreater(entry["duration_ms"], 0)
        self.assertEqual(len(entry["correlation_id"]), 32)
        document = json.loads(entry["payload"])
        self.assertEqual(document["response"]["status"], 200)
        self.assertEqual(
            document["response"]["sha256"], hashlib.sha256(response.content).hexdigest()
        )
        self.assertIsNone(document["request"]["body"])

    def test_request_body_audited_with_digest(self):
        with self.assertRaises(RemoteRejectedError):
            self.static._http_request("POST", "/invalid", json={"name": "Acme"})
        (entry,) = self.committed_audit(self.static)
        document = json.loads(entry["payload"])
        self.assertEqual(document["request"]["body"], {"name": "Acme"})
        (sent,) = self.requests_to("/invalid")
        self.assertEqual(
            document["request"]["sha256"], hashlib.sha256(sent["body"]).hexdigest()
        )
        self.assertEqual(entry["outcome"], "error")
        self.assertEqual(entry["status_code"], 422)

    def test_audit_links_job_and_correlation(self):
        self.static._http_request("GET", "/ok", job=self.job)
        (entry,) = self.committed_audit(self.static)
        self.assertEqual(entry["job_id"], self.job.id)
        self.assertEqual(entry["correlation_id"], self.job.correlation_id)

    def test_job_locked_by_caller_keeps_correlation(self):
        # The queue worker holds its job FOR UPDATE while the handler runs.
        self.env.cr.execute(
            "SELECT id FROM integration_sync_job WHERE id = %s FOR UPDATE",
            [self.job.id],
        )
        self.static._http_request("GET", "/ok", job=self.job)
        (entry,) = self.committed_audit(self.static)
        self.assertIsNone(entry["job_id"])
        self.assertEqual(entry["correlation_id"], self.job.correlation_id)

    def test_exchange_audit_survives_rollback(self):
        with self.assertRaises(RetryableError):
            with self.env.cr.savepoint():
                self.static._http_request("GET", "/limited")
        (entry,) = self.committed_audit(self.static)
        self.assertEqual(entry["status_code"], 429)
        self.assertEqual(
            json.loads(entry["payload"])["response"]["body"], HUBSPOT_429_BODY
        )

    def test_uncommitted_backend_audited_in_transaction(self):
        backend = self.env["integration.backend"].create(
            {"name": "Fresh", "kind": "test_plain", "base_url": self.base_url}
        )
        self.env.flush_all()
        self.addCleanup(self.drop_hits, backend)
        backend._http_request("GET", "/ok")
        entries = self.env["integration.audit.log"].search(
            [("backend_id", "=", backend.id)]
        )
        self.assertEqual(len(entries), 1)
        self.assertEqual(entries.status_code, 200)
        self.assertFalse(self.committed_audit(backend))

    def drop_hits(self, backend):
        with self.registry.cursor() as cr:
            cr.execute(
                "DELETE FROM integration_rate_limit_hit WHERE bucket = %s",
                [backend._http_rate_limit_bucket()],
            )

    def test_large_json_body_cut_and_redacted(self):
        response = self.static._http_request("GET", "/big-json")
        self.assertEqual(response.json()["access_token"], BIG_BODY_TOKEN)
        (entry,) = self.committed_audit(self.static)
        self.assertNotIn(BIG_BODY_TOKEN, entry["payload"])
        body = json.loads(entry["payload"])["response"]["body"]
        self.assertTrue(body.startswith('{"access_token": "[redacted]'))
        self.assertLessEqual(len(body), http_client.AUDIT_BODY_CHARS)
        self.assertTrue(body.endswith("pppp"))

    def test_credentials_never_in_audit_table(self):
        self.static._http_request("GET", "/ok")
        self.oauth._http_request("GET", "/expiring")
        userinfo_url = (
            f"http://user:pw-secret-123@127.0.0.1:{self.server.server_port}/ok"
        )
        self.static._http_request(
            "GET", userinfo_url, params={"api_key": "key-secret-456"}
        )

        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT t::text FROM integration_audit_log t WHERE id > %s",
                [self.audit_mark],
            )
            table = "\n".join(row[0] for row in cr.fetchall())
        self.assertIn("[redacted]", table)
        for secret in (
            API_TOKEN,
            FRESH_TOKEN,
            STALE_TOKEN,
            CLIENT_SECRET,
            "pw-secret-123",
            "key-secret-456",
        ):
            with self.subTest(secret=secret):
                self.assertNotIn(secret, table)
        self.assertEqual(len(self.requests_to("/ok")), 2)

    # ------------------------------------------------------------------
    # Rate limit and sessions
    # ------------------------------------------------------------------

    def test_rate_limit_holds_across_connections(self):
        # The test transaction and a second connection alternate; Odoo's
        # test runner holds the registry lock, so threads could not build
        # environments here (the service test below uses threads).
        with self.registry.cursor() as cr:
            other = self.limited.with_env(api.Environment(cr, SUPERUSER_ID, {}))
            results = []
            for backend in (self.limited, other) * 3:
                try:
                    backend._http_request("GET", "/ok")
                    results.append("sent")
                except RetryableError as error:
                    results.append(error.retry_after)

        self.assertEqual(results[:3], ["sent", "sent", "sent"])
        for wait in results[3:]:
            self.assertGreater(wait, 55)
            self.assertLessEqual(wait, 60)
        sent = [
            request
            for request in self.requests_to("/ok")
            if request["headers"]["Authorization"] == f"Bearer {LIMITED_TOKEN}"
        ]
        self.assertEqual(len(sent), 3)

    def test_rate_limit_waits_for_free_slot(self):
        started = time.monotonic()
        self.waiting._http_request("GET", "/ok")
        self.waiting._http_request("GET", "/ok")
        self.assertGreaterEqual(time.monotonic() - started, 0.8)
        self.assertEqual(len(self.requests_to("/ok")), 2)

    def test_rate_limit_service_two_connections(self):
        bucket = f"test:{uuid.uuid4().hex}"
        granted = []

        def take_slots():
            for _attempt in range(5):
                with self.registry.cursor() as cr:
                    granted.append(rate_limit.acquire(cr, bucket, 5, 60) == 0.0)

        workers = [threading.Thread(target=take_slots) for _worker in range(2)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(30)
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT count(*) FROM integration_rate_limit_hit WHERE bucket = %s",
                [bucket],
            )
            stored = cr.fetchone()[0]
            cr.execute(
                "DELETE FROM integration_rate_limit_hit WHERE bucket = %s", [bucket]
            )
        self.assertEqual(granted.count(True), 5)
        self.assertEqual(granted.count(False), 5)
        self.assertEqual(stored, 5)

    def test_session_shared_per_backend(self):
        key = (self.env.cr.dbname, self.static.id)
        self.assertIs(http_client.get_session(key), http_client.get_session(key))
        other = (self.env.cr.dbname, self.oauth.id)
        self.assertIsNot(http_client.get_session(key), http_client.get_session(other))


@tagged("post_install", "-at_install")
class TestHttpClientHelpers(TransactionCase):
    def test_parse_retry_after(self):
        now = 1_700_000_000
        in_two_minutes = email.utils.formatdate(now + 120, usegmt=True)
        self.assertEqual(http_client.parse_retry_after("120"), 120.0)
        self.assertEqual(http_client.parse_retry_after(in_two_minutes, now=now), 120.0)
        self.assertEqual(
            http_client.parse_retry_after(in_two_minutes, now=now + 600), 0.0
        )
        self.assertIsNone(http_client.parse_retry_after("soon"))
        self.assertIsNone(http_client.parse_retry_after(None))

    def test_strip_credentials(self):
        url = "https://user:secret@api.example.com/v2/items?access_token=abc&page=2"
        self.assertEqual(
            http_client.strip_credentials(url),
            "https://api.example.com/v2/items?access_token=[redacted]&page=2",
        )

    def test_secret_values_include_bearer_token(self):
        values = http_client.secret_values({"Authorization": "Bearer tok-1234567890"})
        self.assertIn("tok-1234567890", values)
        self.assertIn("Bearer tok-1234567890", values)
        self.assertEqual(http_client.secret_values({"Accept": "application/json"}), [])

    def test_short_values_not_scrubbed(self):
        self.assertEqual(http_client.secret_values({}, ["abc", "", None]), [])
