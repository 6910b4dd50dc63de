"""The suite's HTTP surface, requested with no session, a portal or an employee.

Every request goes through the real Odoo HTTP server. A session never
replaces a webhook signature or the metrics token, and the web client's
RPC routes give outsiders nothing of the core models or of the secrets.
"""

import json

from odoo import Command, http
from odoo.http import _generate_routing_rules
from odoo.tests import HttpCase, tagged
from odoo.tests.common import JsonRpcException

from ..controllers.main import METRICS_TOKEN_PARAMETER
from ..models.integration_backend import SECRET_FIELDS, SECRET_MASK
from .access_matrix import SUITE_MODULES

# Every route the suite's addons declare, by the `auth` Odoo applies before
# the route runs. The webhooks and the metrics check the caller themselves.
ROUTES = {
    "/integration/webhook/hubspot/<int:backend_id>": "none",
    "/integration/webhook/salesforce/<int:backend_id>": "none",
    "/integration/webhook/psa/<int:backend_id>": "none",
    "/integration/metrics": "none",
}
SESSIONS = ("public", "portal", "internal")
CORE_MODELS = (
    "integration.backend",
    "integration.external.id",
    "integration.sync.job",
    "integration.audit.log",
    "integration.exception",
)
SECRETS = {
    "webhook_secret": "http-webhook-secret-5d1e",
    "api_token": "http-api-token-8c2f",
    "client_secret": "http-client-secret-3b7a",
    "refresh_token": "http-refresh-token-9e4c",
}
METRICS_TOKEN = "http-metrics-token-0f6b"
ENVELOPE = b"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
<soapenv:Body><notifications xmlns="http://soap.sforce.com/2005/09/outbound">
<OrganizationId>00D000000000001AAA</OrganizationId></notifications>
</soapenv:Body></soapenv:Envelope>"""


@tagged("post_install", "-at_install")
class TestHttpAccess(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Backend = cls.env["integration.backend"]
        cls.backends = {
            "hubspot": Backend.create({"name": "HTTP HubSpot", "kind": "hubspot"}),
            "salesforce": Backend.create(
                {"name": "HTTP Salesforce", "kind": "salesforce"}
            ),
            "psa": Backend.create({"name": "HTTP Harvest", "kind": "harvest"}),
        }
        for backend in cls.backends.values():
            backend.write(SECRETS)
        cls.env["ir.config_parameter"].set_param(METRICS_TOKEN_PARAMETER, METRICS_TOKEN)
        cls.logins = {
            role: f"http_{role}"
            for role in ("portal", "internal", "integration_user", "integration_admin")
        }
        groups = {
            "portal": ("base.group_portal",),
            "internal": ("base.group_user",),
            "integration_user": (
                "base.group_user",
                "base.group_allow_export",
                "integration_audit.group_integration_user",
            ),
            "integration_admin": (
                "base.group_user",
                "base.group_allow_export",
                "integration_audit.group_integration_admin",
            ),
        }
        # One create for all the users, which is much faster than one each.
        cls.env["res.users"].with_context(no_reset_password=True).create(
            [
                {
                    "name": login,
                    "login": login,
                    "password": login,
                    "groups_id": [
                        Command.set([cls.env.ref(xmlid).id for xmlid in groups[role]])
                    ],
                }
                for role, login in cls.logins.items()
            ]
        )

    def open_session(self, role):
        """Authenticate the opener as `role`, or drop the session for public."""
        login = self.logins.get(role)
        self.authenticate(login, login)

    def unsigned_request(self, kind):
        """Send a well-formed webhook body with no signature, token or timestamp."""
        backend = self.backends[kind]
        path = f"/integration/webhook/{kind}/{backend.id}"
        if kind == "salesforce":
            headers = {"Content-Type": "text/xml; charset=utf-8"}
            return path, self.url_open(path, data=ENVELOPE, headers=headers)
        events = [{"eventId": 1, "portalId": 1, "subscriptionType": "contact.creation"}]
        if kind == "psa":
            events = {"events": [{"id": "e-1", "type": "time_entry.updated"}]}
        headers = {"Content-Type": "application/json"}
        body = json.dumps(events).encode()
        return path, self.url_open(path, data=body, headers=headers)

    def call_kw(self, model, method, args, kwargs=None):
        return self.make_jsonrpc_request(
            f"/web/dataset/call_kw/{model}/{method}",
            {"model": model, "method": method, "args": args, "kwargs": kwargs or {}},
        )

    def test_routes_are_all_listed(self):
        found = {}
        for url, endpoint in _generate_routing_rules(
            list(SUITE_MODULES), nodb_only=False
        ):
            module = endpoint.original_endpoint.__module__
            if any(module.startswith(f"odoo.addons.{name}.") for name in SUITE_MODULES):
                found[url] = endpoint.routing["auth"]
        self.assertEqual(found, ROUTES)

    def test_unsigned_webhook_rejected_and_audited(self):
        Audit = self.env["integration.audit.log"]
        Job = self.env["integration.sync.job"]
        for role in SESSIONS:
            self.open_session(role)
            for kind, backend in self.backends.items():
                mark = Audit.search([], limit=1, order="id desc").id or 0
                path, response = self.unsigned_request(kind)
                with self.subTest(role=role, route=path):
                    self.assertEqual(response.status_code, 401, response.text)
                    refused = Audit.search(
                        [("id", ">", mark), ("outcome", "=", "refused")]
                    )
                    self.assertEqual(len(refused), 1)
                    self.assertEqual(refused.status_code, 401)
                    self.assertEqual(refused.backend_id, backend)
                    self.assertEqual(refused.endpoint, path)
                    self.assertFalse(Job.search([("backend_id", "=", backend.id)]))

    def test_metrics_need_the_token(self):
        for role in SESSIONS:
            self.open_session(role)
            for query in ("", "?token=not-the-token"):
                response = self.url_open(f"/integration/metrics{query}")
                with self.subTest(role=role, query=query):
                    self.assertEqual(response.status_code, 401)
                    self.assertNotIn("integration_queue_jobs", response.text)
                    self.assertNotIn("HTTP HubSpot", response.text)
        headers = {"Authorization": f"Bearer {METRICS_TOKEN}"}
        response = self.url_open("/integration/metrics", headers=headers)
        self.assertEqual(response.status_code, 200)
        self.assertIn("integration_queue_jobs", response.text)

    def test_rpc_gives_outsiders_no_core_record(self):
        expected_errors = {
            "public": "odoo.http.SessionExpiredException",
            "portal": "odoo.exceptions.AccessError",
            "internal": "odoo.exceptions.AccessError",
        }
        for role, error in expected_errors.items():
            self.open_session(role)
            for model in CORE_MODELS:
                with self.subTest(role=role, model=model):
                    with self.assertRaises(JsonRpcException) as raised:
                        self.call_kw(model, "search_read", [[]], {"limit": 1})
                    self.assertEqual(str(raised.exception), error)

    def test_rpc_shows_secrets_masked(self):
        backend = self.backends["psa"]
        clear_values = list(SECRETS.values())
        for role in ("integration_user", "integration_admin"):
            self.open_session(role)
            with self.subTest(role=role):
                rows = self.call_kw(
                    "integration.backend", "read", [backend.ids, list(SECRET_FIELDS)]
                )
                self.assertEqual(
                    {name: rows[0][name] for name in SECRET_FIELDS},
                    dict.fromkeys(SECRET_FIELDS, SECRET_MASK),
                )
                with self.assertRaises(JsonRpcException) as raised:
                    self.call_kw(
                        "integration.backend",
                        "search_read",
                        [[("id", "=", backend.id)], ["webhook_secret_encrypted"]],
                    )
                self.assertEqual(str(raised.exception), "odoo.exceptions.AccessError")
                form = self.form_values(backend)
                for value in clear_values:
                    self.assertNotIn(value, form)
                self.assertNotIn(backend.sudo().webhook_secret_encrypted, form)

    def form_values(self, backend):
        """Return, as JSON text, what the web client reads to show the form."""
        views = self.call_kw(
            "integration.backend", "get_views", [], {"views": [[False, "form"]]}
        )
        fields = views["models"]["integration.backend"]["fields"]
        self.assertFalse([name for name in fields if name.endswith("_encrypted")])
        spec = {name: {} for name in fields}
        values = self.call_kw(
            "integration.backend", "web_read", [backend.ids], {"specification": spec}
        )
        return json.dumps(values)

    def test_export_shows_secrets_masked(self):
        backend = self.backends["psa"]
        self.open_session("integration_admin")
        names = [*SECRET_FIELDS, "webhook_secret_encrypted"]
        for name in names:
            response = self.export_csv(backend, name)
            with self.subTest(field=name):
                for value in SECRETS.values():
                    self.assertNotIn(value, response.text)
                self.assertNotIn(backend.sudo().webhook_secret_encrypted, response.text)
                if name in SECRET_FIELDS:
                    self.assertEqual(response.status_code, 200)
                    self.assertIn(SECRET_MASK, response.text)
                else:
                    self.assertNotEqual(response.status_code, 200)

    def export_csv(self, backend, name):
        data = {
            "model": "integration.backend",
            "fields": [{"name": name, "label": name}],
            "ids": backend.ids,
            "domain": [],
            "import_compat": True,
        }
        return self.url_open(
            "/web/export/csv",
            data={
                "data": json.dumps(data),
                "csrf_token": http.Request.csrf_token(self),
            },
        )
