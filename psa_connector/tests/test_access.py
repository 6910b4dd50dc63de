"""Who may do what with the PSA connector's models, actions and menus."""

from datetime import date

from odoo.addons.integration_audit.tests.access_matrix import (
    INTEGRATION_ROLES,
    AccessMatrixCase,
    company_user,
)
from odoo.tests import tagged

TIMESHEET_ROLES = {
    "timesheet_user": ("base.group_user", "hr_timesheet.group_hr_timesheet_user"),
    "timesheet_approver": (
        "base.group_user",
        "hr_timesheet.group_hr_timesheet_approver",
    ),
}

# What each role may do on each model of the connector. A role left out may
# do nothing. The PSA ledger is read by integration users and kept by the
# connector. Staffing belongs to the timesheet approvers, who also read
# utilization and the hours reconciliation. Managers import files with a
# column mapping that administrators keep.
MODEL_RIGHTS = {
    "psa.time.entry": {
        "integration_user": "r",
        "integration_manager": "r",
        "integration_admin": "crud",
    },
    "psa.allocation": {
        "integration_user": "r",
        "integration_manager": "r",
        "integration_admin": "r",
        "timesheet_user": "r",
        "timesheet_approver": "crud",
    },
    "psa.utilization.report": {
        "integration_user": "r",
        "integration_manager": "r",
        "integration_admin": "r",
        "timesheet_approver": "r",
    },
    "psa.reconciliation": {
        "integration_user": "r",
        "integration_manager": "r",
        "integration_admin": "r",
        "timesheet_approver": "r",
    },
    "psa.import.mapping": {"integration_manager": "r", "integration_admin": "crud"},
    "psa.file.import": {"integration_manager": "crud", "integration_admin": "crud"},
    "psa.file.import.line": {
        "integration_manager": "crud",
        "integration_admin": "crud",
    },
}

IMPORTERS = {"integration_manager", "integration_admin"}
ACTION_OPENERS = {
    "psa_connector.action_psa_time_entry": INTEGRATION_ROLES,
    "psa_connector.action_psa_allocation": {
        *INTEGRATION_ROLES,
        "timesheet_user",
        "timesheet_approver",
    },
    "psa_connector.action_psa_utilization_report": {
        *INTEGRATION_ROLES,
        "timesheet_approver",
    },
    "psa_connector.action_psa_reconciliation": {
        *INTEGRATION_ROLES,
        "timesheet_approver",
    },
    "psa_connector.action_psa_file_import": IMPORTERS,
    "psa_connector.action_psa_import_mapping": IMPORTERS,
    "psa_connector.ir_cron_psa_import_time_ir_actions_server": {"settings_admin"},
    "psa_connector.ir_cron_psa_import_expenses_ir_actions_server": {"settings_admin"},
}

# The PSA menus sit under the core's Integrations menu. Timesheet approvers
# reach staffing, utilization and the hours reconciliation from the
# Timesheets app instead.
MENU_VIEWERS = {
    "psa_connector.menu_psa_root": INTEGRATION_ROLES,
    "psa_connector.menu_psa_time_entry": INTEGRATION_ROLES,
    "psa_connector.menu_psa_reconciliation": INTEGRATION_ROLES,
    "psa_connector.menu_psa_allocation": INTEGRATION_ROLES,
    "psa_connector.menu_psa_utilization": INTEGRATION_ROLES,
    "psa_connector.menu_psa_file_import": IMPORTERS,
    "psa_connector.menu_psa_import_mapping": {"integration_admin"},
    "psa_connector.menu_psa_timesheet_allocation": {"timesheet_approver"},
    "psa_connector.menu_psa_timesheet_utilization": {"timesheet_approver"},
    "psa_connector.menu_psa_timesheet_reconciliation": {"timesheet_approver"},
}


@tagged("post_install", "-at_install")
class TestPsaAccessMatrix(AccessMatrixCase):
    module = "psa_connector"
    extra_roles = TIMESHEET_ROLES

    def test_model_rights_per_role(self):
        self.assertModelRights(MODEL_RIGHTS)

    def test_actions_per_role(self):
        self.assertActionOpeners(ACTION_OPENERS)

    def test_menus_per_role(self):
        self.assertMenuViewers(MENU_VIEWERS)

    def test_no_field_named_like_a_secret(self):
        self.assertEqual(self.secret_like_fields(), set())

    def test_other_company_sees_no_record(self):
        records = self.company_a_records()
        self.assertEqual({record._name for record in records}, self.stored_models())
        company_b = self.env["res.company"].create({"name": "Firm B"})
        user_b = company_user(
            self.env,
            "psa_admin_b",
            company_b,
            (
                "base.group_user",
                "integration_audit.group_integration_admin",
                "hr_timesheet.group_hr_timesheet_approver",
            ),
        )
        self.assertCompanyIsolation(user_b, records)

    def test_locked_period_actions_need_manager(self):
        exception = self.locked_period_exception()
        for method in ("action_psa_retry_period", "action_psa_post_period"):
            with self.subTest(method=method):
                self.assertCallers(exception, method, IMPORTERS)

    def test_timesheet_approver_keeps_staffing(self):
        approver = self.role_users["timesheet_approver"]
        allocation = self.allocation().with_user(approver)

        allocation.write({"hours": 24.0})

        self.assertEqual(allocation.hours, 24.0)
        menu = self.env.ref("psa_connector.menu_psa_timesheet_allocation")
        self.assertIn(menu.id, self.reachable_menus(approver))
        self.assertEqual(menu.action.res_model, "psa.allocation")

    def locked_period_exception(self):
        """Return an open exception of a PSA month held back by a lock."""
        backend = self.env["integration.backend"].create(
            {"name": "Firm A Harvest", "kind": "harvest"}
        )
        return self.env["integration.exception"].create(
            {
                "name": "Locked period 2024-05",
                "category": "locked_period",
                "backend_id": backend.id,
                "dedup_key": f"psa:{backend.id}:locked_period:2024-05",
            }
        )

    def allocation(self):
        return self.env["psa.allocation"].create(
            {
                "employee_id": self.env["hr.employee"].create({"name": "Ada"}).id,
                "project_id": self.env["project.project"].create({"name": "Ops"}).id,
                "date_from": date(2024, 5, 6),
                "date_to": date(2024, 5, 10),
                "hours": 16.0,
            }
        )

    def company_a_records(self):
        """Return records of company A of each stored model of the connector.

        The two reports are database views: a time entry gives a
        reconciliation row, and an employee gives utilization rows.
        """
        backend = self.env["integration.backend"].create(
            {"name": "Firm A Harvest", "kind": "harvest"}
        )
        project = self.env["project.project"].create({"name": "Firm A project"})
        employee = self.env["hr.employee"].create({"name": "Firm A consultant"})
        entry = self.env["psa.time.entry"].create(
            {
                "backend_id": backend.id,
                "external_id": "te-1",
                "date": date(2024, 5, 6),
                "hours": 2.0,
                "state": "unapproved",
            }
        )
        allocation = self.env["psa.allocation"].create(
            {
                "employee_id": employee.id,
                "project_id": project.id,
                "date_from": date(2024, 5, 6),
                "date_to": date(2024, 5, 10),
                "hours": 16.0,
            }
        )
        mapping = self.env["psa.import.mapping"].create({"name": "Firm A columns"})
        self.env.flush_all()
        reconciliation = self.env["psa.reconciliation"].search(
            [("backend_id", "=", backend.id)]
        )
        utilization = self.env["psa.utilization.report"].search(
            [("employee_id", "=", employee.id)], limit=1
        )
        self.assertTrue(reconciliation)
        self.assertTrue(utilization)
        return [entry, allocation, mapping, reconciliation, utilization]
