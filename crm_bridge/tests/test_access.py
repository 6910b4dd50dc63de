"""Who may do what with the CRM bridge's models, actions and secrets."""

from odoo.addons.integration_audit.models.integration_backend import SECRET_MASK
from odoo.addons.integration_audit.tests.access_matrix import (
    AccessMatrixCase,
    company_user,
)
from odoo.exceptions import AccessError
from odoo.tests import tagged

# What each role may do on each model of the CRM bridge. A role left out
# may do nothing. Pipelines are backend settings that administrators keep.
# Token rows are written by the bridge itself, with superuser rights.
MODEL_RIGHTS = {
    "crm.bridge.pipeline": {
        "integration_user": "r",
        "integration_manager": "r",
        "integration_admin": "crud",
    },
    "crm.bridge.pipeline.stage": {
        "integration_user": "r",
        "integration_manager": "r",
        "integration_admin": "crud",
    },
    "crm.bridge.token": {"settings_admin": "crud"},
}

ACTION_OPENERS = {"crm_bridge.ir_cron_crm_poll_ir_actions_server": {"settings_admin"}}

# The bridge adds its forms to the core's menus and has none of its own.
MENU_VIEWERS = {}

# Every field the bridge adds that is named like a credential.
MASKED_SECRETS = {("integration.backend", "salesforce_private_key")}
SYSTEM_ONLY_SECRETS = {
    ("integration.backend", "salesforce_private_key_encrypted"),
    ("crm.bridge.token", "token_encrypted"),
    ("crm.bridge.token", "refresh_token_encrypted"),
}
NOT_SECRETS = {("integration.backend", "crm_token_expires_at")}

# Token rows are open to settings administrators only, whose rights span
# companies anyway. The tokens in them are encrypted and hidden from them too.
SHARED_ACROSS_COMPANIES = {"crm.bridge.token"}

PRIVATE_KEY = "-----BEGIN PRIVATE KEY-----\nfirm-a-key\n-----END PRIVATE KEY-----"


@tagged("post_install", "-at_install")
class TestCrmAccessMatrix(AccessMatrixCase):
    module = "crm_bridge"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.backend = cls.env["integration.backend"].create(
            {
                "name": "Firm A Salesforce",
                "kind": "salesforce",
                "salesforce_auth_flow": "jwt_bearer",
                "salesforce_private_key": PRIVATE_KEY,
            }
        )
        # Nothing listens on port 9 of the loopback, so a button that is not
        # rejected fails to connect instead of reaching a real CRM.
        cls.hubspot = cls.env["integration.backend"].create(
            {
                "name": "Firm A HubSpot",
                "kind": "hubspot",
                "base_url": "http://127.0.0.1:9",
                "api_token": "firm-a-token",
            }
        )

    def test_model_rights_per_role(self):
        self.assertModelRights(MODEL_RIGHTS)

    def test_actions_per_role(self):
        self.assertActionOpeners(ACTION_OPENERS)

    def test_menus_per_role(self):
        self.assertMenuViewers(MENU_VIEWERS)

    def test_other_company_sees_no_pipeline(self):
        pipeline = self.env["crm.bridge.pipeline"].create(
            {"backend_id": self.backend.id, "external_id": "default", "name": "Sales"}
        )
        stage = self.env["crm.bridge.pipeline.stage"].create(
            {"pipeline_id": pipeline.id, "external_id": "won", "name": "Won"}
        )
        self.assertEqual(
            {"crm.bridge.pipeline", "crm.bridge.pipeline.stage"}
            | SHARED_ACROSS_COMPANIES,
            self.stored_models(),
        )
        company_b = self.env["res.company"].create({"name": "Firm B"})
        user_b = company_user(
            self.env,
            "crm_admin_b",
            company_b,
            ("base.group_user", "integration_audit.group_integration_admin"),
        )
        self.assertCompanyIsolation(user_b, [pipeline, stage])

    def test_secret_fields_are_classified(self):
        self.assertEqual(
            self.secret_like_fields(),
            MASKED_SECRETS | SYSTEM_ONLY_SECRETS | NOT_SECRETS,
        )

    def test_private_key_reads_masked(self):
        self.assertMaskedSecrets(self.backend, ["salesforce_private_key"], SECRET_MASK)

    def test_encrypted_values_only_for_settings_admins(self):
        self.assertSystemOnlyFields(
            "integration.backend", ["salesforce_private_key_encrypted"]
        )
        self.assertSystemOnlyFields(
            "crm.bridge.token", ["token_encrypted", "refresh_token_encrypted"]
        )

    def test_buttons_rejected_for_lesser_roles(self):
        # Polls write in transactions of their own. Test mode routes them
        # through this test's transaction, so a button that is not rejected
        # cannot wait on rows that this transaction holds.
        self.registry.enter_test_mode(self.cr)
        self.addCleanup(self.registry.leave_test_mode)
        buttons = {
            "action_crm_sync_now": ("integration_user",),
            "action_crm_load_pipelines": ("integration_user", "integration_manager"),
            "action_crm_ensure_properties": (
                "integration_user",
                "integration_manager",
            ),
            "action_test_connection": ("integration_user", "integration_manager"),
        }
        for button, roles in buttons.items():
            for role in roles:
                backend = self.hubspot.with_user(self.role_users[role])
                with self.subTest(button=button, role=role):
                    with self.assertRaises(AccessError):
                        getattr(backend, button)()
        self.assertFalse(self.hubspot.crm_pipeline_ids)
