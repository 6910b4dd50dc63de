"""Webhook intake through the real Odoo HTTP server: responses, storage, audit."""

import hashlib
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime

import psycopg2
import psycopg2.pool
import requests

from odoo import SUPERUSER_ID, api
from odoo.addons.integration_audit.controllers import main as intake
from odoo.addons.integration_audit.services import signatures, soap, webhook_events
from odoo.tests import HttpCase, TransactionCase, tagged
from odoo.tools import config, mute_logger

HUBSPOT_SECRET = "hs-client-secret-0a1b2c3d4e"
SALESFORCE_TOKEN = "sf-outbound-token-9z8y7x6w"
PSA_SECRET = "psa-webhook-secret-4e5f6a7b"
ORG_ID_15 = "00D5g000004XyZa"
ORG_ID_18 = "00D5g000004XyZaEAK"
SESSION_ID = "00D5g000004XyZa!AQ0AQsession-secret-value"


def hubspot_event(event_id, object_id=501, subscription="contact.propertyChange"):
    return {
        "eventId": event_id,
        "subscriptionId": 12345,
        "portalId": 62515,
        "appId": 54321,
        "occurredAt": 1564113600000,
        "subscriptionType": subscription,
        "attemptNumber": 0,
        "objectId": object_id,
        "changeSource": "CRM",
        "propertyName": "lifecyclestage",
        "propertyValue": "customer",
    }


def outbound_message(org_id, notifications, prolog="", name_text=None):
    """Return an Outbound Message envelope; notifications are (id, sObject id)."""
    items = "".join(
        f"""<Notification><Id>{notification_id}</Id>
<sObject xsi:type="sf:Account" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
<sf:Id>{record_id}</sf:Id><sf:Name>{name_text or "Acme Consulting"}</sf:Name>
<sf:SystemModstamp>2024-05-01T10:00:00.000Z</sf:SystemModstamp>
<sf:Website xsi:nil="true"/></sObject></Notification>"""
        for notification_id, record_id in notifications
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>{prolog}
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<soapenv:Body>
<notifications xmlns="http://soap.sforce.com/2005/09/outbound">
<OrganizationId>{org_id}</OrganizationId>
<ActionId>04k5g000000XyZaAAK</ActionId>
<SessionId>{SESSION_ID}</SessionId>
<EnterpriseUrl>https://acme.my.salesforce.com/services/Soap/c/59.0</EnterpriseUrl>
<PartnerUrl>https://acme.my.salesforce.com/services/Soap/u/59.0</PartnerUrl>
{items}
</notifications>
</soapenv:Body>
</soapenv:Envelope>""".encode()


class CapturingHandler(logging.Handler):
    """A log handler that keeps the formatted messages it receives."""

    def __init__(self):
        super().__init__(level=logging.INFO)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


class WebhookCase(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Backend = cls.env["integration.backend"]
        cls.hubspot = Backend.create(
            {
                "name": "HubSpot intake",
                "kind": "hubspot",
                "webhook_secret": HUBSPOT_SECRET,
            }
        )
        cls.salesforce = Backend.create(
            {
                "name": "Salesforce intake",
                "kind": "salesforce",
                "webhook_secret": SALESFORCE_TOKEN,
                "account_ref": ORG_ID_15,
            }
        )
        cls.harvest = Backend.create(
            {"name": "Harvest intake", "kind": "harvest", "webhook_secret": PSA_SECRET}
        )
        cls.Job = cls.env["integration.sync.job"]
        cls.Audit = cls.env["integration.audit.log"]

    def setUp(self):
        super().setUp()
        self.mark_audit()

    def mark_audit(self):
        """Remember the last audit entry, so later checks see only new ones."""
        self.audit_mark = self.Audit.search([], limit=1).id or 0

    def post(self, path, body, headers=None):
        return self.opener.post(
            self.base_url() + path, data=body, headers=headers or {}, timeout=20
        )

    def new_audit(self, **domain):
        return self.Audit.search(
            [("id", ">", self.audit_mark)]
            + [(name, "=", value) for name, value in domain.items()]
        )

    def jobs_of(self, backend):
        return self.Job.search([("backend_id", "=", backend.id)])

    def assertRejected(self, response, status, backend=None):
        """Check the response and its audit entry; return the entry."""
        self.assertEqual(response.status_code, status, response.text)
        self.assertNotIn("Traceback", response.text)
        entries = self.new_audit(outcome="refused")
        self.assertEqual(len(entries), 1)
        self.assertEqual(entries.direction, "inbound")
        self.assertEqual(entries.status_code, status)
        self.assertEqual(entries.backend_id, backend or self.env["integration.backend"])
        self.assertEqual(entries.message, response.json()["error"])
        self.assertFalse(self.new_audit(outcome="ok"))
        return entries

    # HubSpot helpers

    def hubspot_path(self, backend=None):
        return f"/integration/webhook/hubspot/{(backend or self.hubspot).id}"

    def hubspot_post(self, events=None, backend=None, body=None, **options):
        path = self.hubspot_path(backend)
        if body is None:
            body = json.dumps(events).encode()
        timestamp = options.get("timestamp") or str(int(time.time() * 1000))
        signature = signatures.hubspot_v3(
            options.get("secret", HUBSPOT_SECRET),
            "POST",
            self.base_url() + path,
            body,
            timestamp,
        )
        headers = {
            "Content-Type": "application/json",
            "X-HubSpot-Signature-v3": signature,
            "X-HubSpot-Request-Timestamp": timestamp,
        }
        return self.post(path, body, headers)

    # Salesforce helpers

    def salesforce_post(self, body, token=SALESFORCE_TOKEN, backend=None):
        path = f"/integration/webhook/salesforce/{(backend or self.salesforce).id}"
        if token is not None:
            path += f"?token={token}"
        return self.post(path, body, {"Content-Type": soap.CONTENT_TYPE})

    # PSA helpers

    def psa_post(self, document, backend=None, timestamp=None, secret=PSA_SECRET):
        path = f"/integration/webhook/psa/{(backend or self.harvest).id}"
        body = json.dumps(document).encode()
        timestamp = str(int(time.time()) if timestamp is None else timestamp)
        headers = {
            "Content-Type": "application/json",
            "X-Timestamp": timestamp,
            "X-Signature": signatures.psa_signature(secret, timestamp, body),
        }
        return self.post(path, body, headers)


@tagged("post_install", "-at_install")
class TestHubSpotIntake(WebhookCase):
    def test_batch_stores_one_job_per_event(self):
        events = [hubspot_event(9001, 501), hubspot_event(9002, 777, "deal.creation")]
        response = self.hubspot_post(events)
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.json(), {"stored": 2, "duplicates": 0})

        jobs = self.jobs_of(self.hubspot).sorted("idempotency_key")
        self.assertEqual(
            jobs.mapped("idempotency_key"), ["hubspot:event:9001", "hubspot:event:9002"]
        )
        self.assertEqual(jobs.mapped("flow"), ["hubspot.webhook", "hubspot.webhook"])
        self.assertEqual(jobs.mapped("external_model"), ["contact", "deal"])
        self.assertEqual(jobs.mapped("external_id"), ["501", "777"])
        self.assertEqual(jobs.mapped("state"), ["pending", "pending"])
        self.assertEqual(jobs[0].payload, events[0])
        self.assertEqual(jobs[0].external_updated_at, datetime(2019, 7, 26, 4, 0))

    def test_accepted_request_audited_once(self):
        body = json.dumps([hubspot_event(9003)]).encode()
        self.hubspot_post(body=body)
        entry = self.new_audit()
        self.assertEqual(len(entry), 1)
        self.assertEqual(entry.outcome, "ok")
        self.assertEqual(entry.direction, "inbound")
        self.assertEqual(entry.status_code, 200)
        self.assertEqual(entry.endpoint, self.hubspot_path())
        self.assertEqual(entry.backend_id, self.hubspot)
        self.assertEqual(entry.payload_sha256, hashlib.sha256(body).hexdigest())
        self.assertEqual(json.loads(entry.payload), json.loads(body))
        job = self.jobs_of(self.hubspot)
        self.assertEqual(entry.job_id, job)
        self.assertEqual(entry.correlation_id, job.correlation_id)

    def test_duplicate_delivery_stores_no_second_job(self):
        events = [hubspot_event(9010), hubspot_event(9011)]
        first = self.hubspot_post(events)
        self.assertEqual(first.status_code, 200)
        jobs = self.jobs_of(self.hubspot)

        retried = [dict(event, attemptNumber=1) for event in events]
        second = self.hubspot_post(retried)
        self.assertEqual(second.status_code, 200)
        self.assertEqual(second.json(), {"stored": 0, "duplicates": 2})
        self.assertEqual(self.jobs_of(self.hubspot), jobs)
        self.assertEqual([job.payload["attemptNumber"] for job in jobs], [0, 0])
        outcomes = (
            self.env["integration.audit.log"]
            .search(
                [("backend_id", "=", self.hubspot.id), ("direction", "=", "inbound")]
            )
            .mapped("outcome")
        )
        self.assertEqual(sorted(outcomes), ["duplicate", "ok"])

    def test_same_event_twice_in_batch_stored_once(self):
        response = self.hubspot_post([hubspot_event(9020), hubspot_event(9020)])
        self.assertEqual(response.json(), {"stored": 1, "duplicates": 0})
        self.assertEqual(len(self.jobs_of(self.hubspot)), 1)

    def test_bad_signature_401_audited(self):
        events = [hubspot_event(9030)]
        response = self.hubspot_post(events, secret="not-the-secret")
        entry = self.assertRejected(response, 401, self.hubspot)
        self.assertIn("v3 signature does not match", entry.message)
        self.assertEqual(json.loads(entry.payload), events)
        self.assertFalse(self.jobs_of(self.hubspot))

    def test_stale_timestamp_401(self):
        stale = str(int((time.time() - 600) * 1000))
        response = self.hubspot_post([hubspot_event(9031)], timestamp=stale)
        entry = self.assertRejected(response, 401, self.hubspot)
        self.assertIn("outside the accepted window", entry.message)
        self.assertFalse(self.jobs_of(self.hubspot))

    def test_unsigned_request_401(self):
        body = json.dumps([hubspot_event(9032)]).encode()
        response = self.post(
            self.hubspot_path(), body, {"Content-Type": "application/json"}
        )
        self.assertRejected(response, 401, self.hubspot)

    def test_v1_only_where_backend_lists_it(self):
        body = json.dumps([hubspot_event(9033)]).encode()
        headers = {
            "Content-Type": "application/json",
            "X-HubSpot-Signature": signatures.hubspot_v1(HUBSPOT_SECRET, body),
            "X-HubSpot-Signature-Version": "v1",
        }
        self.assertRejected(
            self.post(self.hubspot_path(), body, headers), 401, self.hubspot
        )

        self.hubspot.hubspot_signature_versions = "v1,v3"
        response = self.post(self.hubspot_path(), body, headers)
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(len(self.jobs_of(self.hubspot)), 1)

    def test_v2_signs_url_as_odoo_rebuilds_it(self):
        self.hubspot.hubspot_signature_versions = "v2"
        body = json.dumps([hubspot_event(9034)]).encode()
        path = self.hubspot_path() + "?portal=62515&source=crm"
        url = self.base_url() + path
        headers = {
            "Content-Type": "application/json",
            "X-HubSpot-Signature": signatures.hubspot_v2(
                HUBSPOT_SECRET, "POST", url, body
            ),
            "X-HubSpot-Signature-Version": "v2",
        }
        response = self.post(path, body, headers)
        self.assertEqual(response.status_code, 200, response.text)

    def test_client_secret_signs_when_no_webhook_secret(self):
        backend = self.env["integration.backend"].create(
            {
                "name": "HubSpot app",
                "kind": "hubspot",
                "client_secret": "app-secret-55aa",
            }
        )
        response = self.hubspot_post(
            [hubspot_event(9035)], backend, secret="app-secret-55aa"
        )
        self.assertEqual(response.status_code, 200, response.text)

    def test_portal_must_match_account_ref(self):
        self.hubspot.account_ref = "62515"
        response = self.hubspot_post([hubspot_event(9037)])
        self.assertEqual(response.status_code, 200, response.text)

        self.mark_audit()
        other_portal = dict(hubspot_event(9038), portalId=99999)
        response = self.hubspot_post([hubspot_event(9039), other_portal])
        entry = self.assertRejected(response, 401, self.hubspot)
        self.assertIn("portalId", entry.message)
        self.assertEqual(len(self.jobs_of(self.hubspot)), 1)

    def test_backend_without_secret_refuses(self):
        backend = self.env["integration.backend"].create(
            {"name": "Bare", "kind": "hubspot"}
        )
        response = self.hubspot_post([hubspot_event(9036)], backend)
        entry = self.assertRejected(response, 401, backend)
        self.assertIn("No webhook secret", entry.message)

    def test_malformed_bodies_400(self):
        cases = [
            b"not json",
            b"[]",
            b'{"eventId": 1}',
            json.dumps(
                [{"subscriptionType": "contact.creation", "objectId": 1}]
            ).encode(),
            json.dumps([{"eventId": 1, "objectId": 1}]).encode(),
            json.dumps([dict(hubspot_event(1), occurredAt="yesterday")]).encode(),
        ]
        for body in cases:
            with self.subTest(body=body):
                self.mark_audit()
                response = self.hubspot_post(body=body)
                self.assertRejected(response, 400, self.hubspot)
        self.assertFalse(self.jobs_of(self.hubspot))

    def test_unknown_backend_404_audited(self):
        body = json.dumps([hubspot_event(9040)]).encode()
        response = self.post("/integration/webhook/hubspot/2147483000", body)
        entry = self.assertRejected(response, 404)
        self.assertEqual(entry.endpoint, "/integration/webhook/hubspot/2147483000")

    def test_id_beyond_integer_range_404(self):
        response = self.post("/integration/webhook/hubspot/99999999999", b"[]")
        self.assertRejected(response, 404)

    def test_archived_backend_404(self):
        self.hubspot.active = False
        response = self.hubspot_post([hubspot_event(9041)])
        self.assertRejected(response, 404, self.hubspot)
        self.assertFalse(self.jobs_of(self.hubspot))

    def test_route_of_other_kind_404(self):
        response = self.hubspot_post([hubspot_event(9042)], self.salesforce)
        self.assertRejected(response, 404, self.salesforce)

    def test_declared_oversize_413(self):
        self.hubspot.webhook_max_bytes = 1024
        events = [hubspot_event(9050 + n) for n in range(40)]
        response = self.hubspot_post(events)
        entry = self.assertRejected(response, 413, self.hubspot)
        self.assertIn("1024 bytes", entry.message)
        self.assertFalse(entry.payload)
        self.assertFalse(self.jobs_of(self.hubspot))

    def test_chunked_oversize_413(self):
        self.hubspot.webhook_max_bytes = 1024

        def chunks():
            yield b"["
            for n in range(40):
                yield json.dumps(hubspot_event(9100 + n)).encode() + b","
            yield b"{}]"

        response = self.post(
            self.hubspot_path(), chunks(), {"Content-Type": "application/json"}
        )
        self.assertRejected(response, 413, self.hubspot)
        self.assertFalse(self.jobs_of(self.hubspot))

    def test_body_at_limit_accepted(self):
        body = json.dumps([hubspot_event(9060)]).encode()
        self.hubspot.webhook_max_bytes = len(body)
        response = self.hubspot_post(body=body)
        self.assertEqual(response.status_code, 200, response.text)

    def test_saturated_intake_429(self):
        self.hubspot.webhook_max_pending_jobs = 2
        self.Job._enqueue_many(
            self.hubspot,
            [
                {"flow": "test.noop", "idempotency_key": f"backlog:{n}"}
                for n in range(2)
            ],
        )
        response = self.hubspot_post([hubspot_event(9070)])
        entry = self.assertRejected(response, 429, self.hubspot)
        self.assertEqual(response.headers["Retry-After"], "60")
        self.assertIn("saturated", entry.message)
        self.assertEqual(len(self.jobs_of(self.hubspot)), 2)

        self.jobs_of(self.hubspot)[:1].state = "done"
        response = self.hubspot_post([hubspot_event(9070)])
        self.assertEqual(response.status_code, 200, response.text)

    def test_zero_cap_never_saturates(self):
        self.hubspot.webhook_max_pending_jobs = 0
        self.Job._enqueue_many(
            self.hubspot,
            [
                {"flow": "test.noop", "idempotency_key": f"backlog:{n}"}
                for n in range(3)
            ],
        )
        response = self.hubspot_post([hubspot_event(9071)])
        self.assertEqual(response.status_code, 200, response.text)

    def test_undecryptable_secret_503_without_detail(self):
        self.hubspot.sudo().webhook_secret_encrypted = "gAAAAA-not-a-fernet-token"
        response = self.hubspot_post([hubspot_event(9080)])
        entry = self.assertRejected(response, 503, self.hubspot)
        self.assertEqual(response.headers["Retry-After"], "30")
        self.assertEqual(
            entry.message, "The service is temporarily unavailable; retry later."
        )

    def test_get_not_allowed(self):
        response = self.opener.get(self.base_url() + self.hubspot_path(), timeout=20)
        self.assertEqual(response.status_code, 405)
        self.assertFalse(self.jobs_of(self.hubspot))


@tagged("post_install", "-at_install")
class TestSalesforceIntake(WebhookCase):
    def test_message_acknowledged_and_stored(self):
        body = outbound_message(
            ORG_ID_18, [("04l5g0000001AbCAAU", "0015g00000AbCdEAAV")]
        )
        response = self.salesforce_post(body)
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.content, soap.ACKNOWLEDGEMENT)
        self.assertTrue(response.headers["Content-Type"].startswith("text/xml"))

        job = self.jobs_of(self.salesforce)
        self.assertEqual(len(job), 1)
        self.assertEqual(job.flow, "salesforce.outbound_message")
        self.assertEqual(
            job.idempotency_key, "salesforce:notification:04l5g0000001AbCAAU"
        )
        self.assertEqual(job.external_model, "Account")
        self.assertEqual(job.external_id, "0015g00000AbCdEAAV")
        self.assertEqual(job.external_updated_at, datetime(2024, 5, 1, 10, 0))
        self.assertEqual(
            job.payload,
            {
                "object": "Account",
                "fields": {
                    "Id": "0015g00000AbCdEAAV",
                    "Name": "Acme Consulting",
                    "SystemModstamp": "2024-05-01T10:00:00.000Z",
                    "Website": None,
                },
                "action_id": "04k5g000000XyZaAAK",
                "organization_id": ORG_ID_18,
            },
        )

    def test_session_id_not_audited(self):
        body = outbound_message(
            ORG_ID_18, [("04l5g0000001AbDAAU", "0015g00000AbCdFAAV")]
        )
        self.salesforce_post(body)
        entry = self.new_audit(outcome="ok")
        self.assertEqual(len(entry), 1)
        self.assertNotIn(SESSION_ID, entry.payload)
        self.assertIn("<SessionId>[redacted]</SessionId>", entry.payload)
        self.assertNotIn(SALESFORCE_TOKEN, entry.endpoint or "")

    def test_several_notifications_one_job_each(self):
        body = outbound_message(
            ORG_ID_15,
            [
                ("04l5g0000001AbEAAU", "0015g00000AbCdGAAV"),
                ("04l5g0000001AbFAAU", "0015g00000AbCdHAAV"),
            ],
        )
        response = self.salesforce_post(body)
        self.assertEqual(response.content, soap.ACKNOWLEDGEMENT)
        self.assertEqual(len(self.jobs_of(self.salesforce)), 2)

    def test_duplicate_notification_acknowledged_once_stored(self):
        body = outbound_message(
            ORG_ID_18, [("04l5g0000001AbGAAU", "0015g00000AbCdIAAV")]
        )
        self.assertEqual(self.salesforce_post(body).content, soap.ACKNOWLEDGEMENT)
        again = self.salesforce_post(body)
        self.assertEqual(again.content, soap.ACKNOWLEDGEMENT)
        self.assertEqual(len(self.jobs_of(self.salesforce)), 1)

    def test_wrong_token_401(self):
        body = outbound_message(
            ORG_ID_18, [("04l5g0000001AbHAAU", "0015g00000AbCdJAAV")]
        )
        entry = self.assertRejected(
            self.salesforce_post(body, token="guess"), 401, self.salesforce
        )
        self.assertNotIn("guess", entry.endpoint)
        self.assertFalse(self.jobs_of(self.salesforce))

    def test_token_not_in_request_log(self):
        body = outbound_message(
            ORG_ID_18, [("04l5g0000001AbPAAU", "0015g00000AbCdRAAV")]
        )
        handler = CapturingHandler()
        request_logger = logging.getLogger("werkzeug")
        request_logger.addHandler(handler)
        self.addCleanup(request_logger.removeHandler, handler)
        self.addCleanup(request_logger.setLevel, request_logger.level)
        request_logger.setLevel(logging.INFO)

        self.assertEqual(self.salesforce_post(body).status_code, 200)
        # The server logs the request line once the response is sent.
        deadline = time.monotonic() + 5
        while not handler.lines and time.monotonic() < deadline:
            time.sleep(0.05)
        lines = "\n".join(handler.lines)
        self.assertIn("/integration/webhook/salesforce/", lines)
        self.assertIn("token=[redacted]", lines)
        self.assertNotIn(SALESFORCE_TOKEN, lines)

    def test_missing_token_401(self):
        body = outbound_message(
            ORG_ID_18, [("04l5g0000001AbIAAU", "0015g00000AbCdKAAV")]
        )
        self.assertRejected(
            self.salesforce_post(body, token=None), 401, self.salesforce
        )

    def test_other_organization_refused(self):
        body = outbound_message(
            "00D000000000001AAA", [("04l5g0000001AbJAAU", "0015g00000AbCdLAAV")]
        )
        entry = self.assertRejected(self.salesforce_post(body), 401, self.salesforce)
        self.assertIn("OrganizationId", entry.message)
        self.assertFalse(self.jobs_of(self.salesforce))

    def test_any_organization_without_account_ref(self):
        self.salesforce.account_ref = False
        body = outbound_message(
            "00D000000000001AAA", [("04l5g0000001AbKAAU", "0015g00000AbCdMAAV")]
        )
        self.assertEqual(self.salesforce_post(body).content, soap.ACKNOWLEDGEMENT)

    def test_entity_expansion_rejected_400(self):
        prolog = (
            '\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
            '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
            '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;'
            '&lol2;">]>'
        )
        body = outbound_message(
            ORG_ID_18, [("04l5g0000001AbLAAU", "0015g00000AbCdNAAV")], prolog, "&lol3;"
        )
        response = self.salesforce_post(body)
        entry = self.assertRejected(response, 400, self.salesforce)
        self.assertIn("DTD", entry.message)
        self.assertNotIn("lollol", response.text)
        self.assertNotIn("lollollol", entry.payload)
        self.assertFalse(self.jobs_of(self.salesforce))

    def test_external_entity_not_read(self):
        marker = "xxe-marker-5c1f0e93"
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
            handle.write(marker)
        self.addCleanup(os.unlink, handle.name)
        prolog = f'\n<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file://{handle.name}">]>'
        body = outbound_message(
            ORG_ID_18, [("04l5g0000001AbMAAU", "0015g00000AbCdOAAV")], prolog, "&xxe;"
        )
        response = self.salesforce_post(body)
        entry = self.assertRejected(response, 400, self.salesforce)
        self.assertNotIn(marker, response.text)
        self.assertNotIn(marker, entry.payload)
        self.assertNotIn(marker, entry.message)
        self.assertFalse(self.jobs_of(self.salesforce))

    def test_not_an_outbound_message_400(self):
        cases = [
            b"<unclosed>",
            b"<Envelope/>",
            outbound_message(ORG_ID_18, []),
            outbound_message(ORG_ID_18, [("", "0015g00000AbCdPAAV")]),
        ]
        for body in cases:
            with self.subTest(body=body[:40]):
                self.mark_audit()
                self.assertRejected(self.salesforce_post(body), 400, self.salesforce)


@tagged("post_install", "-at_install")
class TestPsaIntake(WebhookCase):
    def event(self, event_id, **values):
        return dict(
            {
                "id": event_id,
                "type": "time_entry.updated",
                "object": {"id": 636709355, "hours": 2.5},
                "occurred_at": "2024-05-01T10:00:00Z",
            },
            **values,
        )

    def test_event_list_stored(self):
        events = [self.event("evt-1"), self.event("evt-2", occurred_at=1714557600)]
        response = self.psa_post({"events": events})
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.json(), {"stored": 2, "duplicates": 0})
        jobs = self.jobs_of(self.harvest).sorted("idempotency_key")
        self.assertEqual(
            jobs.mapped("idempotency_key"), ["psa:event:evt-1", "psa:event:evt-2"]
        )
        self.assertEqual(jobs.mapped("flow"), ["psa.webhook", "psa.webhook"])
        self.assertEqual(jobs.mapped("external_model"), ["time_entry", "time_entry"])
        self.assertEqual(jobs.mapped("external_id"), ["636709355", "636709355"])
        self.assertEqual(
            jobs.mapped("external_updated_at"),
            [datetime(2024, 5, 1, 10, 0), datetime(2024, 5, 1, 10, 0)],
        )
        self.assertEqual(jobs[0].payload, events[0])

    def test_single_event_stored(self):
        response = self.psa_post(self.event("evt-3"))
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(self.jobs_of(self.harvest).idempotency_key, "psa:event:evt-3")

    def test_productive_backend_accepted(self):
        productive = self.env["integration.backend"].create(
            {"name": "Productive", "kind": "productive", "webhook_secret": PSA_SECRET}
        )
        response = self.psa_post(self.event("evt-4"), productive)
        self.assertEqual(response.status_code, 200, response.text)

    def test_duplicate_event_no_second_job(self):
        self.psa_post(self.event("evt-5"))
        response = self.psa_post(self.event("evt-5"))
        self.assertEqual(response.json(), {"stored": 0, "duplicates": 1})
        self.assertEqual(len(self.jobs_of(self.harvest)), 1)

    def test_timestamp_outside_window_401(self):
        # 30 s past the 300 s window, so a slow request cannot bring a
        # future timestamp back inside it before the server checks it.
        for offset in (-330, 330):
            with self.subTest(offset=offset):
                self.mark_audit()
                response = self.psa_post(
                    self.event("evt-6"), timestamp=int(time.time()) + offset
                )
                entry = self.assertRejected(response, 401, self.harvest)
                self.assertIn("outside the accepted window", entry.message)
        self.assertFalse(self.jobs_of(self.harvest))

    def test_backend_window_setting_applies(self):
        self.harvest.webhook_tolerance_seconds = 30
        response = self.psa_post(self.event("evt-7"), timestamp=int(time.time()) - 60)
        self.assertRejected(response, 401, self.harvest)

    def test_bad_signature_401(self):
        response = self.psa_post(self.event("evt-8"), secret="other-secret")
        self.assertRejected(response, 401, self.harvest)

    def test_missing_headers_401(self):
        path = f"/integration/webhook/psa/{self.harvest.id}"
        response = self.post(path, json.dumps(self.event("evt-9")).encode())
        self.assertRejected(response, 401, self.harvest)

    def test_event_without_type_400(self):
        response = self.psa_post({"events": [{"id": "evt-10", "object": {}}]})
        self.assertRejected(response, 400, self.harvest)

    def test_hubspot_backend_on_psa_route_404(self):
        response = self.psa_post(self.event("evt-11"), self.hubspot)
        self.assertRejected(response, 404, self.hubspot)


@tagged("post_install", "-at_install")
class TestIntakeErrors(TransactionCase):
    """The one mapping from exceptions to responses, and the pure parsers."""

    def test_status_of_each_error(self):
        cases = [
            (intake.IntakeRefusal(413, "too big"), 413),
            (signatures.SignatureError("bad"), 401),
            (webhook_events.MalformedEvent("bad"), 400),
            (soap.MalformedMessage("bad"), 400),
            (psycopg2.OperationalError("server closed the connection"), 503),
            (psycopg2.InterfaceError("connection already closed"), 503),
            (psycopg2.pool.PoolError("The Connection Pool Is Full"), 503),
            (ZeroDivisionError("division by zero"), 500),
        ]
        for error, status in cases:
            with self.subTest(error=type(error).__name__):
                self.assertEqual(intake.status_of(error)[0], status)

    def test_unexpected_error_reason_is_generic(self):
        status, reason, headers = intake.status_of(KeyError("secret_internal_name"))
        self.assertEqual(status, 500)
        self.assertNotIn("secret_internal_name", reason)
        self.assertEqual(headers, {})

    def test_database_error_asks_for_retry(self):
        _status, _reason, headers = intake.status_of(psycopg2.OperationalError("down"))
        self.assertEqual(headers, {"Retry-After": "30"})

    def test_same_organization(self):
        self.assertTrue(intake.same_organization(ORG_ID_15, ORG_ID_18))
        self.assertTrue(intake.same_organization(ORG_ID_18, ORG_ID_15))
        self.assertFalse(intake.same_organization(ORG_ID_15, ORG_ID_15.lower()))
        self.assertFalse(intake.same_organization("short", "shorter"))

    def test_outbound_message_parsed(self):
        message = soap.parse_outbound_message(
            outbound_message(ORG_ID_18, [("04l5g0000001AbNAAU", "0015g00000AbCdQAAV")])
        )
        self.assertEqual(message["organization_id"], ORG_ID_18)
        self.assertEqual(message["action_id"], "04k5g000000XyZaAAK")
        self.assertEqual(message["notifications"][0]["id"], "04l5g0000001AbNAAU")
        self.assertEqual(message["notifications"][0]["fields"]["Website"], None)

    def test_dtd_rejected_in_any_encoding(self):
        document = '<?xml version="1.0" encoding="UTF-16"?>'
        document += '<!DOCTYPE x [<!ENTITY a "expanded">]><x>&a;</x>'
        with self.assertRaisesRegex(soap.MalformedMessage, "DTD"):
            soap.parse_document(document.encode("utf-16"))

    def test_session_id_redaction(self):
        nil = b"<SessionId xsi:nil='true'/>"
        body = b"<a><sf:SessionId xmlns:sf='x'>abc!def</sf:SessionId>" + nil + b"</a>"
        self.assertEqual(
            soap.redact_session_id(body),
            b"<a><sf:SessionId xmlns:sf='x'>[redacted]</sf:SessionId>" + nil + b"</a>",
        )

    def test_psa_time_formats(self):
        self.assertEqual(
            webhook_events.from_iso("2024-05-01T12:00:00+02:00"),
            datetime(2024, 5, 1, 10),
        )
        self.assertEqual(
            webhook_events.from_epoch(1714557600), datetime(2024, 5, 1, 10)
        )
        with self.assertRaises(webhook_events.MalformedEvent):
            webhook_events.from_epoch(True)
        with self.assertRaises(webhook_events.MalformedEvent):
            webhook_events.from_epoch(10**20)


@tagged("post_install", "-at_install")
class TestConcurrentDelivery(TransactionCase):
    """Two deliveries of one event race; the later one counts it as stored.

    Both transactions run on connections of their own and commit, so the
    test removes what they committed.
    """

    def drop_backend(self, backend_id):
        with self.registry.cursor() as cr:
            cr.execute(
                "DELETE FROM integration_sync_job WHERE backend_id = %s", [backend_id]
            )
            cr.execute("DELETE FROM integration_backend WHERE id = %s", [backend_id])

    def test_key_committed_after_snapshot_is_duplicate(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            backend_id = (
                env["integration.backend"]
                .create({"name": "Race", "kind": "hubspot"})
                .id
            )
        self.addCleanup(self.drop_backend, backend_id)
        body = json.dumps([hubspot_event(1), hubspot_event(2)])
        values = webhook_events.hubspot_jobs(body)

        with self.registry.cursor() as late:
            env = api.Environment(late, SUPERUSER_ID, {})
            backend = env["integration.backend"].browse(backend_id)
            # The first read fixes the late transaction's snapshot.
            self.assertEqual(backend.kind, "hubspot")
            with self.registry.cursor() as early:
                early_env = api.Environment(early, SUPERUSER_ID, {})
                early_backend = early_env["integration.backend"].browse(backend_id)
                early_env["integration.sync.job"]._enqueue_many(
                    early_backend, values[:1]
                )

            with mute_logger("odoo.sql_db"):
                stored = intake.IntegrationController()._store(backend, values)
            self.assertEqual(stored.new, 1)
            self.assertEqual(stored.duplicates, 1)
            self.assertEqual(stored.jobs.mapped("idempotency_key"), ["hubspot:event:2"])

        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT idempotency_key FROM integration_sync_job "
                "WHERE backend_id = %s ORDER BY idempotency_key",
                [backend_id],
            )
            keys = [row[0] for row in cr.fetchall()]
        self.assertEqual(keys, ["hubspot:event:1", "hubspot:event:2"])


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@tagged("post_install", "-at_install")
class TestIntakeWithoutDatabase(TransactionCase):
    """A server that cannot reach the database answers 503, not 404.

    The addon is loaded server-wide in a second Odoo process whose database
    filter matches no database, so Odoo serves requests without a database.
    """

    def start_server(self, port, data_dir):
        command = [
            sys.executable,
            "-m",
            "odoo",
            "server",
            f"--addons-path={config['addons_path']}",
            f"--data-dir={data_dir}",
            "--http-interface=127.0.0.1",
            f"--http-port={port}",
            "--db-filter=^integration_audit_no_such_database$",
            "--load=base,web,integration_audit",
            "--max-cron-threads=0",
            "--log-level=warn",
        ]
        for option in ("db_host", "db_port", "db_user", "db_password"):
            if config.get(option):
                command.append(f"--{option.replace('_', '-')}={config[option]}")
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self.addCleanup(self.stop_server, process)
        return process

    def stop_server(self, process):
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)

    def wait_for_port(self, port, process, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                self.fail(
                    f"The Odoo server exited: {process.stderr.read().decode()[-2000:]}"
                )
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return
            except OSError:
                time.sleep(0.3)
        self.fail("The Odoo server did not open its port in time.")

    def test_no_database_answers_503(self):
        port = free_port()
        with tempfile.TemporaryDirectory() as data_dir:
            process = self.start_server(port, data_dir)
            self.wait_for_port(port, process)
            url = f"http://127.0.0.1:{port}/integration/webhook/hubspot/1"
            response = requests.post(url, data=b"[]", timeout=30)
        self.assertEqual(response.status_code, 503, response.text)
        self.assertEqual(response.headers["Retry-After"], "30")
        self.assertEqual(
            response.json(),
            {"error": "The service is temporarily unavailable; retry later."},
        )
