"""Who sees and does what: the three integration groups, outsiders, companies."""

from odoo.exceptions import AccessError
from odoo.tests import TransactionCase, new_test_user, tagged

from ..models.integration_backend import SECRET_FIELDS, SECRET_MASK
from .access_matrix import INTEGRATION_ROLES, AccessMatrixCase, company_user

# What each role may do on each model of the core. A role left out may do
# nothing. Integration users read the core's records, managers work the
# queue and the exceptions, and administrators configure. The audit log is append-only for
# everyone, and rate-limit hits are bookkeeping an administrator may read.
MODEL_RIGHTS = {
    "integration.backend": {
        "integration_user": "r",
        "integration_manager": "r",
        "integration_admin": "crud",
    },
    "integration.flow": {
        "integration_user": "r",
        "integration_manager": "r",
        "integration_admin": "crud",
    },
    "integration.external.id": {
        "integration_user": "r",
        "integration_manager": "r",
        "integration_admin": "crud",
    },
    "integration.sync.job": {
        "integration_user": "r",
        "integration_manager": "ru",
        "integration_admin": "crud",
    },
    "integration.audit.log": {
        "integration_user": "r",
        "integration_manager": "r",
        "integration_admin": "r",
    },
    "integration.exception": {
        "integration_user": "r",
        "integration_manager": "cru",
        "integration_admin": "crud",
    },
    "integration.exception.candidate": {
        "integration_user": "r",
        "integration_manager": "crud",
        "integration_admin": "crud",
    },
    "integration.rate.limit.hit": {"integration_admin": "r"},
}

# Who can open each window action, and run each server action. Scheduled
# actions are for the scheduler and for settings administrators only.
SCHEDULER_ONLY = {"settings_admin"}
ACTION_OPENERS = {
    "integration_audit.action_integration_backend": INTEGRATION_ROLES,
    "integration_audit.action_integration_external_id": INTEGRATION_ROLES,
    "integration_audit.action_integration_sync_job": INTEGRATION_ROLES,
    "integration_audit.action_integration_sync_job_overview": INTEGRATION_ROLES,
    "integration_audit.action_integration_audit_log": INTEGRATION_ROLES,
    "integration_audit.action_integration_exception": INTEGRATION_ROLES,
    "integration_audit.ir_cron_run_sync_jobs_ir_actions_server": SCHEDULER_ONLY,
    "integration_audit.ir_cron_purge_finished_jobs_ir_actions_server": SCHEDULER_ONLY,
    "integration_audit.ir_cron_purge_audit_log_ir_actions_server": SCHEDULER_ONLY,
}

# Who sees each menu. Only administrators see the configuration menus.
MENU_VIEWERS = {
    "integration_audit.menu_integration_root": INTEGRATION_ROLES,
    "integration_audit.menu_integration_exception": INTEGRATION_ROLES,
    "integration_audit.menu_integration_sync_job": INTEGRATION_ROLES,
    "integration_audit.menu_integration_overview": INTEGRATION_ROLES,
    "integration_audit.menu_integration_audit_log": INTEGRATION_ROLES,
    "integration_audit.menu_integration_configuration": {"integration_admin"},
    "integration_audit.menu_integration_backend": {"integration_admin"},
    "integration_audit.menu_integration_external_id": {"integration_admin"},
}

# Every field of the core named like a credential, by how it is protected.
MASKED_SECRETS = {("integration.backend", name) for name in SECRET_FIELDS}
SYSTEM_ONLY_SECRETS = {
    ("integration.backend", f"{name}_encrypted")
    for name in (*SECRET_FIELDS, "access_token")
}
NOT_SECRETS = {
    ("integration.backend", "token_url"),
    ("integration.backend", "access_token_expires_at"),
    ("integration.backend", "has_webhook_secret"),
    ("integration.backend", "has_credentials"),
    # The claim token identifies the worker that claimed a job.
    ("integration.sync.job", "claim_token"),
}
# Rate-limit hits are keyed by bucket name and hold no business data.
SHARED_ACROSS_COMPANIES = {"integration.rate.limit.hit"}


@tagged("post_install", "-at_install")
class TestAccess(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.backend = cls.env["integration.backend"].create(
            {"name": "Main CRM", "kind": "hubspot", "webhook_secret": "s3cret-value"}
        )
        cls.job = cls.env["integration.sync.job"]._enqueue(
            cls.backend, "test.noop", "a-1", {}
        )
        cls.job.state = "failed"
        cls.exception = cls.env["integration.exception"].create(
            {
                "name": "Unmatched customer",
                "backend_id": cls.backend.id,
                "job_id": cls.job.id,
            }
        )
        cls.log = cls.env["integration.audit.log"]._record(cls.backend, "inbound")

        def user(login, groups):
            return new_test_user(cls.env, login=login, groups=groups)

        cls.employee = user("plain_employee", "base.group_user")
        cls.portal = user("portal_user", "base.group_portal")
        cls.reader = user(
            "integration_reader",
            "base.group_user,integration_audit.group_integration_user",
        )
        cls.manager = user(
            "integration_manager",
            "base.group_user,integration_audit.group_integration_manager",
        )
        cls.admin = user(
            "integration_admin",
            "base.group_user,integration_audit.group_integration_admin",
        )

    def as_user(self, user, record):
        return record.with_user(user).with_context(
            allowed_company_ids=user.company_ids.ids
        )

    def test_outsiders_see_nothing(self):
        for user in (self.employee, self.portal):
            for record in (self.backend, self.job, self.exception, self.log):
                with self.subTest(user=user.login, model=record._name):
                    with self.assertRaises(AccessError):
                        self.as_user(user, record).read(["display_name"])

    def test_reader_reads_but_cannot_act(self):
        for record in (self.backend, self.job, self.exception, self.log):
            self.as_user(self.reader, record).read(["display_name"])
        with self.assertRaises(AccessError):
            self.as_user(self.reader, self.job).action_requeue()
        with self.assertRaises(AccessError):
            self.as_user(self.reader, self.exception).write({"resolution_note": "no"})
        with self.assertRaises(AccessError):
            self.as_user(self.reader, self.backend).write({"name": "Renamed"})

    def test_manager_requeues_and_resolves(self):
        self.as_user(self.manager, self.job).action_requeue()
        self.assertEqual(self.job.state, "pending")
        self.as_user(self.manager, self.exception).action_resolve()
        self.assertEqual(self.exception.state, "resolved")
        self.assertEqual(self.exception.resolved_by_id, self.manager)

    def test_manager_cannot_configure_backends(self):
        with self.assertRaises(AccessError):
            self.as_user(self.manager, self.backend).write(
                {"base_url": "https://evil.test"}
            )
        with self.assertRaises(AccessError):
            self.env["integration.backend"].with_user(self.manager).create(
                {"name": "Rogue", "kind": "harvest"}
            )

    def test_admin_configures_backends(self):
        backend = (
            self.env["integration.backend"]
            .with_user(self.admin)
            .create({"name": "New PSA", "kind": "harvest", "api_token": "token-value"})
        )
        self.assertEqual(backend.sudo()._get_secret("api_token"), "token-value")

    def test_audit_log_is_append_only(self):
        for user in (self.manager, self.admin):
            with self.subTest(user=user.login):
                with self.assertRaises(AccessError):
                    self.as_user(user, self.log).write({"message": "edited"})
                with self.assertRaises(AccessError):
                    self.as_user(user, self.log).unlink()
        with self.assertRaises(AccessError):
            self.log.write({"message": "even the superuser cannot edit"})


@tagged("post_install", "-at_install")
class TestAccessMatrix(AccessMatrixCase):
    module = "integration_audit"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_b = cls.env["res.company"].create({"name": "Firm B"})
        cls.user_b = company_user(
            cls.env,
            "integration_admin_b",
            cls.company_b,
            ("base.group_user", "integration_audit.group_integration_admin"),
        )
        cls.backend = cls.env["integration.backend"].create(
            {
                "name": "Firm A CRM",
                "kind": "hubspot",
                "webhook_secret": "firm-a-webhook-secret",
                "api_token": "firm-a-api-token",
                "client_secret": "firm-a-client-secret",
                "refresh_token": "firm-a-refresh-token",
            }
        )

    def company_a_records(self):
        """Return one record of company A of each company-bound core model."""
        backend = self.backend
        partner = self.env["res.partner"].create({"name": "Firm A client"})
        job = self.env["integration.sync.job"]._enqueue(backend, "test.noop", "a-1", {})
        exception = self.env["integration.exception"].create(
            {"name": "Unmatched", "backend_id": backend.id, "job_id": job.id}
        )
        exception._set_candidates(partner)
        mapping = self.env["integration.external.id"].create(
            {
                "backend_id": backend.id,
                "res_model": "res.partner",
                "res_id": partner.id,
                "external_id": "hs-1",
            }
        )
        log = self.env["integration.audit.log"]._record(backend, "inbound")
        flow = backend._get_flow("hubspot.company")
        return [backend, flow, mapping, job, exception, exception.candidate_ids, log]

    def test_model_rights_per_role(self):
        self.assertModelRights(MODEL_RIGHTS)

    def test_actions_per_role(self):
        self.assertActionOpeners(ACTION_OPENERS)

    def test_menus_per_role(self):
        self.assertMenuViewers(MENU_VIEWERS)

    def test_other_company_sees_no_record(self):
        records = self.company_a_records()
        covered = {record._name for record in records}
        self.assertEqual(covered | SHARED_ACROSS_COMPANIES, self.stored_models())
        self.assertCompanyIsolation(self.user_b, records)

    def test_secret_fields_are_classified(self):
        self.assertEqual(
            self.secret_like_fields(),
            MASKED_SECRETS | SYSTEM_ONLY_SECRETS | NOT_SECRETS,
        )

    def test_secrets_read_masked(self):
        fields = sorted(name for _model, name in MASKED_SECRETS)
        self.assertMaskedSecrets(self.backend, fields, SECRET_MASK)

    def test_encrypted_secrets_only_for_settings_admins(self):
        fields = sorted(name for _model, name in SYSTEM_ONLY_SECRETS)
        self.assertSystemOnlyFields("integration.backend", fields)

    def test_export_shows_masks_only(self):
        exporter = self.role_users["integration_admin"]
        exporter.groups_id |= self.env.ref("base.group_allow_export")
        backend = self.backend.with_user(exporter)
        self.env.invalidate_all()
        rows = backend.export_data(list(SECRET_FIELDS))["datas"]
        self.assertEqual(rows, [[SECRET_MASK] * len(SECRET_FIELDS)])
        for name in SECRET_FIELDS:
            with self.subTest(field=name), self.assertRaises(AccessError):
                self.env.invalidate_all()
                backend.export_data([f"{name}_encrypted"])

    def test_form_view_contains_no_secret(self):
        for role in INTEGRATION_ROLES:
            backend = self.backend.with_user(self.role_users[role])
            views = backend.get_views([(False, "form")])
            arch = views["views"]["form"]["arch"]
            fields = views["models"]["integration.backend"]["fields"]
            with self.subTest(role=role):
                self.assertNotIn("_encrypted", arch)
                self.assertFalse([name for name in fields if "_encrypted" in name])
                spec = {name: {} for name in fields if name in SECRET_FIELDS}
                self.env.invalidate_all()
                values = backend.web_read(spec)[0]
                for name in spec:
                    self.assertIn(values[name], (SECRET_MASK, False), name)
