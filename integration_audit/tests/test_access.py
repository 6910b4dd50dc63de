"""Who sees and does what: the three integration groups, outsiders, companies."""

from odoo.exceptions import AccessError
from odoo.http import _generate_routing_rules
from odoo.tests import TransactionCase, new_test_user, tagged


@tagged("post_install", "-at_install")
class TestAccess(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_b = cls.env["res.company"].create({"name": "Second Firm"})
        cls.backend = cls.env["integration.backend"].create(
            {"name": "Main CRM", "kind": "hubspot", "webhook_secret": "s3cret-value"}
        )
        cls.backend_b = cls.env["integration.backend"].create(
            {
                "name": "Other firm CRM",
                "kind": "hubspot",
                "company_id": cls.company_b.id,
            }
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

    def test_encrypted_columns_hidden_from_non_system_users(self):
        for user in (self.reader, self.manager, self.admin):
            with self.subTest(user=user.login):
                with self.assertRaises(AccessError):
                    self.as_user(user, self.backend).read(["webhook_secret_encrypted"])

    def test_audit_log_is_append_only(self):
        for user in (self.manager, self.admin):
            with self.subTest(user=user.login):
                with self.assertRaises(AccessError):
                    self.as_user(user, self.log).write({"message": "edited"})
                with self.assertRaises(AccessError):
                    self.as_user(user, self.log).unlink()
        with self.assertRaises(AccessError):
            self.log.write({"message": "even the superuser cannot edit"})

    def test_other_company_is_invisible(self):
        backends = (
            self.env["integration.backend"]
            .with_user(self.admin)
            .with_context(allowed_company_ids=self.admin.company_ids.ids)
            .search([])
        )
        self.assertIn(self.backend, backends)
        self.assertNotIn(self.backend_b, backends)
        with self.assertRaises(AccessError):
            self.as_user(self.admin, self.backend_b).read(["name"])

    def test_public_routes_are_only_the_intake_and_metrics(self):
        modules = ["integration_audit", "crm_bridge", "psa_connector", "billing_sync"]
        open_routes = set()
        for url, endpoint in _generate_routing_rules(modules, nodb_only=False):
            routing = endpoint.routing
            module = endpoint.original_endpoint.__module__
            if not any(f"odoo.addons.{name}." in module for name in modules):
                continue
            if (
                routing.get("auth") in ("public", "none")
                or routing.get("csrf") is False
            ):
                open_routes.add(url)
        allowed = {
            "/integration/webhook/hubspot/<int:backend_id>",
            "/integration/webhook/salesforce/<int:backend_id>",
            "/integration/webhook/psa/<int:backend_id>",
            "/integration/metrics",
        }
        self.assertEqual(open_routes, allowed)
