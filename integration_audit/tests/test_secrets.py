"""Secrets: encrypted at rest, never shown, never logged, rotatable, neutralized."""

import logging
import os
from unittest.mock import patch

from cryptography.fernet import Fernet

from odoo.addons.integration_audit.models.integration_backend import SECRET_MASK
from odoo.exceptions import UserError
from odoo.modules.neutralize import neutralize_database
from odoo.tests import TransactionCase, tagged

WEBHOOK_SECRET = "whsec-7f3a9c2e-do-not-leak"
API_TOKEN = "pat-na1-5be1c0de-do-not-leak"


class CapturingHandler(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@tagged("post_install", "-at_install")
class TestSecrets(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.backend = cls.env["integration.backend"].create(
            {
                "name": "Secret holder",
                "kind": "hubspot",
                "webhook_secret": WEBHOOK_SECRET,
                "api_token": API_TOKEN,
            }
        )

    def table_text(self, table):
        self.env.flush_all()
        self.env.cr.execute(f"SELECT t::text FROM {table} t")
        return "\n".join(row[0] for row in self.env.cr.fetchall())

    def test_database_holds_no_clear_secret(self):
        stored = self.table_text("integration_backend")
        self.assertNotIn(WEBHOOK_SECRET, stored)
        self.assertNotIn(API_TOKEN, stored)
        self.assertTrue(self.backend.sudo().webhook_secret_encrypted)

    def test_secret_reads_back_masked(self):
        values = self.backend.read(
            ["webhook_secret", "api_token", "has_webhook_secret"]
        )[0]
        self.assertEqual(values["webhook_secret"], SECRET_MASK)
        self.assertEqual(values["api_token"], SECRET_MASK)
        self.assertTrue(values["has_webhook_secret"])

    def test_clear_value_only_through_get_secret(self):
        self.assertEqual(self.backend._get_secret("webhook_secret"), WEBHOOK_SECRET)
        self.assertEqual(self.backend._get_secret("api_token"), API_TOKEN)
        self.assertFalse(self.backend._get_secret("client_secret"))

    def test_saving_the_mask_keeps_the_secret(self):
        self.backend.write({"webhook_secret": SECRET_MASK, "name": "Renamed"})
        self.assertEqual(self.backend._get_secret("webhook_secret"), WEBHOOK_SECRET)

    def test_clearing_a_secret(self):
        self.backend.write({"api_token": False})
        self.assertFalse(self.backend._get_secret("api_token"))
        self.assertFalse(self.backend.api_token)

    def test_audit_log_redacts_credentials(self):
        log = self.env["integration.audit.log"]._record(
            self.backend,
            "outbound",
            endpoint=f"https://api.example.test/x?access_token={API_TOKEN}&page=2",
            payload={
                "api_key": API_TOKEN,
                "nested": [{"client_secret": WEBHOOK_SECRET}],
                "name": "Acme",
            },
            message=f"refresh_token={API_TOKEN} failed",
        )
        self.assertIn("Acme", log.payload)
        self.assertIn("page=2", log.endpoint)
        audit = self.table_text("integration_audit_log")
        self.assertNotIn(API_TOKEN, audit)
        self.assertNotIn(WEBHOOK_SECRET, audit)
        self.assertEqual(len(log.payload_sha256), 64)

    def test_server_log_never_shows_a_secret(self):
        handler = CapturingHandler()
        # Odoo's loggers may be set above DEBUG by the test runner: lower them so
        # every SQL statement, with its parameters, reaches the handler.
        odoo_logger = logging.getLogger("odoo")
        previous_level = odoo_logger.level
        odoo_logger.addHandler(handler)
        odoo_logger.setLevel(logging.DEBUG)
        try:
            backend = self.env["integration.backend"].create(
                {
                    "name": "Logged",
                    "kind": "salesforce",
                    "client_secret": WEBHOOK_SECRET,
                }
            )
            backend._get_secret("client_secret")
            backend.write({"client_secret": API_TOKEN})
            self.env.flush_all()
        finally:
            odoo_logger.removeHandler(handler)
            odoo_logger.setLevel(previous_level)
        self.assertTrue(
            any("INSERT INTO" in message for message in handler.messages),
            "no SQL statement was captured, so the check proves nothing",
        )
        for message in handler.messages:
            self.assertNotIn(WEBHOOK_SECRET, message)
            self.assertNotIn(API_TOKEN, message)

    def test_key_rotation_reencrypts_everything(self):
        old_key = os.environ["INTEGRATION_SECRET_KEYS"].split(",")[0]
        new_key = Fernet.generate_key().decode()
        before = self.backend.sudo().webhook_secret_encrypted
        with patch.dict(
            os.environ, {"INTEGRATION_SECRET_KEYS": f"{new_key},{old_key}"}
        ):
            rotated = self.env["integration.backend"]._rotate_secret_key()
        self.assertGreaterEqual(rotated, 2)
        after = self.backend.sudo().webhook_secret_encrypted
        self.assertNotEqual(before, after)
        with patch.dict(os.environ, {"INTEGRATION_SECRET_KEYS": new_key}):
            self.assertEqual(self.backend._get_secret("webhook_secret"), WEBHOOK_SECRET)

    def test_wrong_key_gives_a_clear_error(self):
        other_key = Fernet.generate_key().decode()
        with patch.dict(os.environ, {"INTEGRATION_SECRET_KEYS": other_key}):
            with self.assertRaisesRegex(UserError, "cannot be decrypted"):
                self.backend._get_secret("webhook_secret")

    def test_missing_key_gives_a_clear_error(self):
        with patch.dict(os.environ, {"INTEGRATION_SECRET_KEYS": ""}):
            with self.assertRaisesRegex(UserError, "INTEGRATION_SECRET_KEYS"):
                self.env["integration.backend"].create(
                    {"name": "No key", "kind": "harvest", "api_token": "x"}
                )

    def test_neutralized_copy_disables_every_backend(self):
        job = self.env["integration.sync.job"]._enqueue(
            self.backend, "test.noop", "n-1", {}
        )
        self.backend._set_access_token("live-access-token", False)
        self.env["ir.config_parameter"].set_param(
            "integration_audit.metrics_token", "production-scraper-token"
        )
        self.env.flush_all()
        neutralize_database(self.env.cr)
        self.env.invalidate_all()
        self.assertFalse(
            self.env["integration.backend"]
            .with_context(active_test=False)
            .search_count([("active", "=", True)])
        )
        self.assertFalse(self.backend.sudo().access_token_encrypted)
        self.assertEqual(job.state, "failed")
        self.assertFalse(
            self.env["ir.config_parameter"].get_param("integration_audit.metrics_token")
        )
