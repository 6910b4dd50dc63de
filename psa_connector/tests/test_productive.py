"""The same pulls and push against the Productive emulator (JSON:API)."""

import json
from datetime import date
from decimal import Decimal

from odoo.tests import tagged

from .common import ProductiveCase


@tagged("post_install", "-at_install")
class TestProductive(ProductiveCase):
    def run_pull(self):
        counts = self.backend._psa_import_time()
        self.env.invalidate_all()
        return counts

    def test_pull_sends_productive_headers(self):
        self.add_entries(1)
        self.run_pull()
        request = next(
            r for r in self.new_requests() if r.path == "/api/v2/time_entries"
        )

        self.assertEqual(request.headers["X-Auth-Token"], self.store.config.api_token)
        self.assertEqual(
            request.headers["X-Organization-Id"], self.store.config.organization_id
        )
        self.assertEqual(request.headers["Content-Type"], "application/vnd.api+json")
        self.assertEqual(request.args["sort"], ["-updated_at"])
        self.assertEqual(request.args["page[size]"], ["4"])

    def test_connection_test_reads_people(self):
        body = self.backend._test_connection()
        self.assertEqual(body["data"][0]["type"], "people")

    def test_minutes_become_exact_hours(self):
        minutes = [20, 20, 20, 7, 13, 59, 61]
        entries = [self.add_entries(1, minutes=value)[0] for value in minutes]
        counts = self.run_pull()
        lines = self.lines_of_store(entries)

        self.assertEqual(counts["pages"], 2)
        self.assertEqual(len(lines), 7)
        self.assertEqual(
            round(Decimal(sum(lines.mapped("unit_amount"))), 2),
            round(Decimal(sum(minutes)) / 60, 2),
        )
        self.assertEqual(lines[0].project_id, self.project)
        self.assertEqual(set(lines.task_id.mapped("name")), {"Design"})

    def test_only_approved_and_billable_rules(self):
        approved = self.add_entries(2)
        self.add_entries(2, approved=False, submitted=True)
        internal = self.add_entries(1, service=self.psa_internal_service)
        counts = self.run_pull()

        self.assertEqual(counts["created"], 3)
        self.assertEqual(counts["unapproved"], 2)
        self.assertEqual(self.lines_of_store(approved).so_line, self.order.order_line)
        self.assertFalse(self.lines_of_store(internal).so_line)

    def test_second_run_and_edit_between_pages(self):
        entries = self.add_entries(8)
        store = self.store

        def edit(_page):
            store.edit_entry(entries[0].id, time=150)

        self.productive.faults.between_pages(edit, path="/api/v2/time_entries")
        self.run_pull()
        self.run_pull()
        third = self.run_pull()

        self.assertEqual(len(self.lines_of_store(entries)), 8)
        self.assertEqual(self.lines_of_store(entries[:1]).unit_amount, 2.5)
        self.assertEqual(third["created"], 0)
        self.assertEqual(third["updated"], 0)

    def test_interrupted_run_resumes_at_next_page(self):
        entries = self.add_entries(10)
        faults = self.productive.faults
        faults.between_pages(
            lambda _page: faults.status(503, times=10, path="/api/v2/time_entries")
        )
        try:
            self.run_pull()
        except Exception:  # noqa: BLE001 - the run must stop, whatever it raised
            self.env.invalidate_all()
        mark = json.loads(self.backend._psa_flow("psa.time_entries").watermark)

        self.assertEqual(mark["run"]["next"], "2")
        self.assertEqual(len(self.lines_of_store(entries)), 4)
        faults.clear()
        self.run_pull()
        self.assertEqual(len(self.lines_of_store(entries)), 10)

    def test_deleted_entry_webhook_removes_line(self):
        entry = self.add_entries(1)[0]
        self.run_pull()
        self.store.delete_entry(entry.id)
        event = {
            "id": "p1",
            "type": "time_entry.deleted",
            "object": {"type": "time_entry", "id": entry.id},
        }
        self.env["integration.sync.job"]._enqueue(
            self.backend, "psa.webhook", "psa:event:p1", event
        )
        self.run_queue()
        self.assertFalse(self.lines_of_store([entry]))

    def test_sold_project_pushed_once(self):
        order = self.env["sale.order"].create(
            {
                "partner_id": self.customer.id,
                "order_line": [
                    (0, 0, {"product_id": self.product.id, "product_uom_qty": 10})
                ],
            }
        )
        order.action_confirm()
        project = order.order_line.project_id
        self.run_queue()
        created = [
            p
            for p in self.store.all("projects")
            if p.attributes["project_number"] == project.psa_code
        ]
        tasks = [
            t
            for t in self.store.all("tasks")
            if t.related_id("project") == created[0].id
        ]

        self.assertEqual(len(created), 1)
        self.assertEqual(
            self.env["integration.external.id"]._external_id_of(self.backend, project),
            str(created[0].id),
        )
        self.assertEqual(len(tasks), len(project.task_ids))

    def test_expense_amount_in_cents(self):
        category = self.store.add("service_types", {"name": "Train travel"})
        self.env["product.product"].create(
            {"name": "Train travel", "can_be_expensed": True, "standard_price": 0.0}
        )
        psa_expense = self.store.add(
            "expenses",
            {
                "name": "Workshop train",
                "date": date(2024, 6, 3),
                "amount": 8420,
                "currency": self.company.currency_id.name,
                "approved": True,
            },
            {
                "person": self.psa_omar.id,
                "deal": self.psa_deal.id,
                "service_type": category.id,
            },
        )
        counts = self.backend._psa_import_expenses()
        self.env.invalidate_all()
        mapping = self.env["integration.external.id"].search(
            [
                ("res_model", "=", "hr.expense"),
                ("external_id", "=", str(psa_expense.id)),
            ]
        )
        expense = self.env["hr.expense"].browse(mapping.res_id)

        self.assertEqual(counts["created"], 1)
        self.assertEqual(expense.total_amount_currency, 84.20)
        self.assertEqual(expense.employee_id, self.omar)
