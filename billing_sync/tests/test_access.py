"""Who may do what with billing runs, accruals and figures, and across firms."""

from datetime import date

from odoo import Command, fields
from odoo.addons.integration_audit.tests.access_matrix import (
    AccessMatrixCase,
    company_user,
)
from odoo.exceptions import AccessError
from odoo.tests import tagged

# Billing rights follow Odoo's accounting groups. "finance" is the user of
# the README: an integration manager with invoicing rights.
BILLING_ROLES = {
    "accounting_readonly": ("base.group_user", "account.group_account_readonly"),
    "invoicing": ("base.group_user", "account.group_account_invoice"),
    "billing_approver": ("base.group_user", "billing_sync.group_billing_approver"),
    "accountant": ("base.group_user", "account.group_account_user"),
    "accounting_manager": ("base.group_user", "account.group_account_manager"),
    "sales_manager": ("base.group_user", "sales_team.group_sale_manager"),
    "project_manager": ("base.group_user", "project.group_project_manager"),
    "finance": (
        "base.group_user",
        "integration_audit.group_integration_manager",
        "account.group_account_invoice",
    ),
}
BILLING_USERS = {
    "invoicing",
    "billing_approver",
    "accountant",
    "accounting_manager",
    "finance",
}
APPROVERS = {"billing_approver", "accounting_manager"}
FIGURE_READERS = {
    *BILLING_USERS,
    "accounting_readonly",
    "sales_manager",
    "project_manager",
}


def rights(readonly="r", users="cru", manager="crud"):
    """Return the rights of the accounting roles on a billing document."""
    granted = dict.fromkeys(BILLING_USERS, users)
    granted["accounting_readonly"] = readonly
    granted["accounting_manager"] = manager
    return granted


# What each role may do on each model of billing_sync. A role left out may
# do nothing, and no integration group gives any right here. Billing users
# prepare runs, corrections and write-offs and rebuild a run's preview, but
# only accounting managers delete them. Run issues are written by
# validation alone, so only a billing approver's button can waive one.
# Accruals are journal entries, kept by accountants; a billing approver
# reads them to post them with the button. Sales and project managers read
# the figures.
MODEL_RIGHTS = {
    "billing.run": rights(),
    "billing.run.issue": rights(users="r", manager="r"),
    "billing.run.order": rights(users="crud"),
    "billing.run.line": rights(users="crud"),
    "billing.correction": rights(),
    "billing.write.off": rights(),
    "billing.write.off.wizard": dict.fromkeys(BILLING_USERS, "crud"),
    "billing.accrual": {
        "accounting_readonly": "r",
        "billing_approver": "r",
        "accountant": "cru",
        "accounting_manager": "crud",
    },
    "billing.accrual.line": {
        "accounting_readonly": "r",
        "billing_approver": "r",
        "accountant": "cru",
        "accounting_manager": "crud",
    },
    "billing.figure": dict.fromkeys(FIGURE_READERS, "r"),
    "billing.reconciliation": dict.fromkeys(FIGURE_READERS, "r"),
    "billing.dashboard": dict.fromkeys(FIGURE_READERS, "r"),
}

DOCUMENT_READERS = {*BILLING_USERS, "accounting_readonly"}
ACCRUAL_READERS = {
    "accounting_readonly",
    "billing_approver",
    "accountant",
    "accounting_manager",
}
SCHEDULER_ONLY = {"settings_admin"}
ACTION_OPENERS = {
    "billing_sync.action_billing_run": DOCUMENT_READERS,
    "billing_sync.action_billing_correction": DOCUMENT_READERS,
    "billing_sync.action_billing_write_off": DOCUMENT_READERS,
    "billing_sync.action_billing_write_off_wizard": BILLING_USERS,
    "billing_sync.action_billing_accrual": ACCRUAL_READERS,
    "billing_sync.action_billing_dashboard": FIGURE_READERS,
    "billing_sync.action_billing_figure": FIGURE_READERS,
    "billing_sync.action_billing_reconciliation": FIGURE_READERS,
    "billing_sync.action_billing_figure_refresh": BILLING_USERS,
    "billing_sync.ir_cron_billing_refresh_figures_ir_actions_server": SCHEDULER_ONLY,
    "billing_sync.ir_cron_billing_alerts_ir_actions_server": SCHEDULER_ONLY,
    "billing_sync.ir_cron_billing_prepare_accruals_ir_actions_server": SCHEDULER_ONLY,
    "billing_sync.ir_cron_billing_push_invoice_status_ir_actions_server": (
        SCHEDULER_ONLY
    ),
}

# Billing Control sits in the Invoicing app. The Integrations app shows the
# dashboard to finance users only.
MENU_VIEWERS = {
    "billing_sync.menu_billing_control": BILLING_USERS,
    "billing_sync.menu_billing_dashboard": BILLING_USERS,
    "billing_sync.menu_billing_run": BILLING_USERS,
    "billing_sync.menu_billing_correction": BILLING_USERS,
    "billing_sync.menu_billing_write_off": BILLING_USERS,
    "billing_sync.menu_billing_accrual": {
        "billing_approver",
        "accountant",
        "accounting_manager",
    },
    "billing_sync.menu_billing_figure": BILLING_USERS,
    "billing_sync.menu_billing_figure_refresh": BILLING_USERS,
    "billing_sync.menu_billing_reconciliation": BILLING_USERS,
    "billing_sync.menu_billing_integrations": {"finance"},
}


@tagged("post_install", "-at_install")
class TestBillingAccessMatrix(AccessMatrixCase):
    module = "billing_sync"
    extra_roles = BILLING_ROLES

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.billing_run = cls.env["billing.run"].create(
            {"date_from": date(2024, 5, 1), "date_to": date(2024, 5, 31)}
        )
        cls.issue = cls.env["billing.run.issue"].create(
            {
                "run_id": cls.billing_run.id,
                "code": "missing_rate",
                "severity": "blocking",
                "message": "No rate for the consultant.",
            }
        )

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
            "billing_manager_b",
            company_b,
            (
                "base.group_user",
                "account.group_account_manager",
                "account.group_account_readonly",
            ),
        )
        self.assertCompanyIsolation(user_b, records)

    def test_billing_user_cannot_waive_by_writing(self):
        issue = self.issue.with_user(self.role_users["invoicing"])
        with self.assertRaises(AccessError):
            issue.write({"waived": True})
        with self.assertRaises(AccessError):
            issue.unlink()
        with self.assertRaises(AccessError):
            issue.action_waive()
        self.assertFalse(self.issue.waived)

    def test_approver_waives_with_the_button(self):
        approver = self.role_users["billing_approver"]
        with self.assertRaises(AccessError):
            self.issue.with_user(approver).write({"waived": True})
        self.issue.with_user(approver).action_waive()
        self.assertTrue(self.issue.waived)
        self.assertEqual(self.issue.waived_by_id, approver)

    def test_billing_user_validates_a_run(self):
        run = self.billing_run.with_user(self.role_users["invoicing"])
        run.action_validate()
        self.assertFalse(self.issue.exists())
        self.assertEqual(run.state, "validated")

    def test_issue_hold_release_needs_approver(self):
        run_order = self.held_run_order()
        self.assertCallers(run_order, "action_release", APPROVERS)

        clerk = run_order.with_user(self.role_users["invoicing"])
        order = run_order.order_id.name
        with self.assertRaisesRegex(AccessError, f"{order}.*Billing approver"):
            clerk.action_release()
        self.assertEqual(run_order.state, "held")
        self.assertFalse(self.issue_of(run_order).waived)

    def test_approver_release_waives_issue(self):
        run_order = self.held_run_order()
        approver = self.role_users["billing_approver"]

        run_order.with_user(approver).action_release()

        self.assertEqual(run_order.state, "pending")
        issue = self.issue_of(run_order)
        self.assertTrue(issue.waived)
        self.assertEqual(issue.waived_by_id, approver)

    def test_billing_users_release_manual_holds(self):
        run_order = self.held_run_order(issue=False)
        self.assertCallers(run_order, "action_release", BILLING_USERS)

    def test_run_workflow_fields_reject_writes(self):
        approver = self.role_users["billing_approver"]
        forged = {
            "state": "generated",
            "approved_by_id": approver.id,
            "approved_at": fields.Datetime.now(),
            "posted_at": fields.Datetime.now(),
        }
        for name, value in forged.items():
            with self.subTest(field=name):
                self.assertCallers(self.billing_run, "write", set(), {name: value})

        clerk = self.billing_run.with_user(self.role_users["invoicing"])
        with self.assertRaisesRegex(AccessError, "approved_by_id"):
            clerk.write({"approved_by_id": approver.id})
        self.assertFalse(self.billing_run.approved_by_id)

    def test_billing_users_create_draft_runs_only(self):
        period = {"date_from": date(2024, 6, 1), "date_to": date(2024, 6, 30)}
        Run = self.env["billing.run"]
        self.assertCallers(Run, "create", BILLING_USERS, {**period, "state": "draft"})
        self.assertCallers(Run, "create", set(), {**period, "state": "posted"})
        approver = self.role_users["billing_approver"]
        self.assertCallers(
            Run, "create", set(), {**period, "approved_by_id": approver.id}
        )

    def held_run_order(self, issue=True):
        """Return an order of the test run held back, by an issue or by hand."""
        order = self.sale_order()
        run_order = self.env["billing.run.order"].create(
            {
                "run_id": self.billing_run.id,
                "order_id": order.id,
                "state": "held",
                "hold_reason": "Customer has no tax ID.",
            }
        )
        if issue:
            self.env["billing.run.issue"].create(
                {
                    "run_id": self.billing_run.id,
                    "code": "customer_data",
                    "severity": "blocking",
                    "message": "Customer has no tax ID.",
                    "order_id": order.id,
                }
            )
        return run_order

    def issue_of(self, run_order):
        return self.billing_run.issue_ids.filtered(
            lambda issue: issue.order_id == run_order.order_id
        )

    def company_a_records(self):
        """Return a record of company A of each stored model of billing_sync."""
        order = self.sale_order()
        sale_line = order.order_line
        run_order = self.env["billing.run.order"].create(
            {"run_id": self.billing_run.id, "order_id": order.id}
        )
        run_line = self.env["billing.run.line"].create(
            {
                "run_id": self.billing_run.id,
                "run_order_id": run_order.id,
                "sale_line_id": sale_line.id,
                "billing_type": "time_materials",
            }
        )
        accrual = self.env["billing.accrual"].create({})
        company = self.env.company
        return [
            self.billing_run,
            self.issue,
            run_order,
            run_line,
            self.correction(sale_line),
            self.env["billing.write.off"].create({"reason": "Goodwill"}),
            accrual,
            self.env["billing.accrual.line"].create(
                {
                    "accrual_id": accrual.id,
                    "sale_line_id": sale_line.id,
                    "currency_id": company.currency_id.id,
                }
            ),
            self.env["billing.figure"].create(
                {"company_id": company.id, "month": date(2024, 5, 1)}
            ),
            self.env["billing.reconciliation"].create(
                {
                    "company_id": company.id,
                    "date_from": date(2024, 5, 1),
                    "date_to": date(2024, 5, 31),
                    "project_id": self.env["project.project"]
                    .create({"name": "Firm A project"})
                    .id,
                }
            ),
            self.env["billing.dashboard"].browse(company.id),
        ]

    def sale_order(self):
        partner = self.env["res.partner"].create({"name": "Firm A client"})
        product = self.env["product.product"].create(
            {"name": "Consulting hour", "type": "service", "list_price": 120.0}
        )
        return self.env["sale.order"].create(
            {
                "partner_id": partner.id,
                "order_line": [Command.create({"product_id": product.id})],
            }
        )

    def correction(self, sale_line):
        project = self.env["project.project"].create({"name": "Firm A delivery"})
        employee = self.env["hr.employee"].create({"name": "Firm A consultant"})
        timesheet = self.env["account.analytic.line"].create(
            {
                "name": "Workshop",
                "project_id": project.id,
                "employee_id": employee.id,
                "unit_amount": 2.0,
            }
        )
        return self.env["billing.correction"].create(
            {
                "timesheet_id": timesheet.id,
                "sale_line_id": sale_line.id,
                "reason": "Changed in the PSA after invoicing.",
            }
        )
