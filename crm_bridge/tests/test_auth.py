"""HubSpot and Salesforce authentication against the emulators' token endpoints."""

from datetime import datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from odoo.exceptions import UserError
from odoo.tests import tagged

from ..models import integration_backend_auth
from ..services import jwt_bearer
from .common import CrmEmulatorCase

HUBSPOT_TOKEN = "/oauth/v1/token"
SALESFORCE_TOKEN = "/services/oauth2/token"


def rsa_key_pair():
    """Return (private PEM, public PEM) of a fresh 2048-bit RSA key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        .decode()
    )
    return private, public


@tagged("post_install", "-at_install")
class TestCrmAuth(CrmEmulatorCase):
    def hubspot_oauth(self, refresh_token=None):
        config = self.hs_store.config
        return self.env["integration.backend"].create(
            {
                "name": "HubSpot OAuth",
                "kind": "hubspot",
                "base_url": self.hs.url,
                "hubspot_auth_flow": "oauth",
                "client_id": config.client_id,
                "client_secret": config.client_secret,
                "refresh_token": refresh_token or config.refresh_token,
                "rate_limit_requests": 1000,
            }
        )

    def token_requests(self, server, path):
        return len(server.requests_to(path, "POST"))

    def test_hubspot_oauth_refreshes_before_expiry_and_on_401(self):
        backend = self.hubspot_oauth()
        before = self.token_requests(self.hs, HUBSPOT_TOKEN)
        backend.action_test_connection()
        self.assertEqual(self.token_requests(self.hs, HUBSPOT_TOKEN), before + 1)
        self.assertTrue(backend._crm_token_row()._token())
        self.assertGreater(backend.crm_token_expires_at, datetime.now())

        backend.action_test_connection()
        self.assertEqual(self.token_requests(self.hs, HUBSPOT_TOKEN), before + 1)

        self.hs.faults.expire_tokens()
        backend.action_test_connection()
        self.assertEqual(self.token_requests(self.hs, HUBSPOT_TOKEN), before + 2)

        # A token past its announced lifetime, read by a process without it in memory.
        backend._crm_token_row().expires_at = datetime(2000, 1, 1)
        self.env.flush_all()
        integration_backend_auth._TOKEN_CACHE.clear()
        unauthorized = len([r for r in self.hs.requests if r.path.startswith("/crm")])
        backend.action_test_connection()
        self.assertEqual(self.token_requests(self.hs, HUBSPOT_TOKEN), before + 3)
        calls = len([r for r in self.hs.requests if r.path.startswith("/crm")])
        self.assertEqual(calls, unauthorized + 1)

    def test_token_never_in_audit_log(self):
        backend = self.hubspot_oauth()
        backend.action_test_connection()
        token = backend._crm_token_row()._token()
        entries = self.env["integration.audit.log"].search(
            [("backend_id", "=", backend.id)]
        )
        self.assertTrue(entries)
        for entry in entries:
            self.assertNotIn(token, entry.payload or "")
            self.assertNotIn(self.hs_store.config.client_secret, entry.payload or "")

    def test_rejected_refresh_token_opens_auth_exception(self):
        backend = self.hubspot_oauth(refresh_token="revoked-token")
        with self.assertRaises(UserError):
            backend.action_test_connection()
        (job,) = self.hubspot_events(
            self.hubspot_event(1, "company.creation", 424242, 1717400000000),
            backend=backend,
        )
        self.run_jobs()
        self.assertEqual(job.state, "failed")
        exception = self.open_exceptions("crm_auth", backend)
        self.assertEqual(len(exception), 1)
        self.assertEqual(exception.impact, "critical")

    def test_private_app_token_rejected(self):
        backend = self.hubspot.copy({"name": "Bad token", "api_token": "pat-wrong"})
        with self.assertRaises(UserError):
            backend.action_test_connection()

    def test_salesforce_client_credentials(self):
        self.salesforce.action_test_connection()
        self.salesforce.invalidate_recordset()
        self.assertEqual(self.salesforce.salesforce_instance_url, self.sf.url)
        self.assertTrue(self.token_requests(self.sf, SALESFORCE_TOKEN))

    def test_salesforce_jwt_bearer(self):
        private, public = rsa_key_pair()
        self.sf_store.register_jwt_app("jwt-consumer-key", public)
        backend = self.env["integration.backend"].create(
            {
                "name": "Salesforce JWT",
                "kind": "salesforce",
                "base_url": self.sf.url,
                "salesforce_auth_flow": "jwt_bearer",
                "client_id": "jwt-consumer-key",
                "salesforce_username": self.sf_store.integration_user["Username"],
                "salesforce_audience": "https://login.salesforce.com",
                "salesforce_private_key": private,
                "rate_limit_requests": 1000,
            }
        )
        backend.invalidate_recordset()
        self.assertEqual(backend.salesforce_private_key, "********")
        self.assertNotIn("PRIVATE KEY", backend.sudo().salesforce_private_key_encrypted)
        backend.action_test_connection()
        self.assertTrue(backend._crm_token_row()._token())

        wrong_private, _public = rsa_key_pair()
        backend.salesforce_private_key = wrong_private
        self.sf.faults.expire_tokens()
        with self.assertRaises(UserError):
            backend.action_test_connection()

    def test_jwt_assertion_claims_and_signature(self):
        private, public = rsa_key_pair()
        assertion = jwt_bearer.build_assertion(
            private,
            "consumer",
            "user@example.com",
            "https://test.salesforce.com",
            now=1000,
        )
        claims = jwt_bearer.verify_assertion(assertion, public)
        self.assertEqual(claims["iss"], "consumer")
        self.assertEqual(claims["sub"], "user@example.com")
        self.assertEqual(claims["aud"], "https://test.salesforce.com")
        self.assertEqual(claims["exp"], 1000 + jwt_bearer.ASSERTION_LIFETIME_SECONDS)
        self.assertLessEqual(jwt_bearer.ASSERTION_LIFETIME_SECONDS, 180)
