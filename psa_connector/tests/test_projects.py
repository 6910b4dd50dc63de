"""Projects sold in Odoo reach the PSA once; PSA projects are mapped, not doubled."""

from datetime import date

from odoo.tests import tagged

from .common import HarvestCase


@tagged("post_install", "-at_install")
class TestProjectPush(HarvestCase):
    def sell_project(self, name="Beta rollout"):
        """Confirm an order for the hourly service; return its new project."""
        order = self.env["sale.order"].create(
            {
                "partner_id": self.customer.id,
                "order_line": [
                    (0, 0, {"product_id": self.product.id, "product_uom_qty": 40})
                ],
            }
        )
        order.action_confirm()
        project = order.order_line.project_id
        project.write(
            {"name": name, "date_start": date(2024, 7, 1), "date": date(2024, 12, 31)}
        )
        self.env["project.task"].create({"name": "Discovery", "project_id": project.id})
        return project

    def push_job(self, project):
        """Return the push job of `project` to the test backend."""
        return self.env["integration.sync.job"].search(
            [
                ("backend_id", "=", self.backend.id),
                ("idempotency_key", "=", f"psa:project.push:{project.id}"),
            ]
        )

    def psa_projects(self, code):
        return [p for p in self.store.all("projects") if p.code == code]

    def test_sold_project_created_in_psa(self):
        project = self.sell_project()
        job = self.push_job(project)
        self.run_queue()
        created = self.psa_projects(project.psa_code)
        client = self.store.get("clients", created[0].client_id)
        assigned = {
            self.store.get("tasks", row.task_id).name
            for row in self.store.all("task_assignments")
            if row.project_id == created[0].id
        }
        psa_id = self.env["integration.external.id"]._external_id_of(
            self.backend, project
        )

        self.assertEqual(job.direction, "outbound")
        self.assertEqual(job.state, "done")
        self.assertEqual(project.psa_code, project.sale_line_id.order_id.name)
        self.assertEqual(len(created), 1)
        self.assertEqual(psa_id, str(created[0].id))
        self.assertEqual(client.name, "Kestrel Analytics")
        self.assertTrue(created[0].is_billable)
        self.assertEqual(created[0].budget, 40)
        self.assertEqual(created[0].starts_on, date(2024, 7, 1))
        self.assertIn("Discovery", assigned)

    def test_lost_answer_retry_creates_no_second_project(self):
        project = self.sell_project()
        self.harvest.faults.drop(
            times=1, path="/v2/projects", method="POST", process=True
        )
        self.run_queue()
        job = self.push_job(project)
        self.assertEqual(job.state, "pending")
        self.assertEqual(len(self.psa_projects(project.psa_code)), 1)

        self.run_queue()
        psa_id = self.env["integration.external.id"]._external_id_of(
            self.backend, project
        )
        self.assertEqual(job.state, "done")
        self.assertEqual(len(self.psa_projects(project.psa_code)), 1)
        self.assertEqual(psa_id, str(self.psa_projects(project.psa_code)[0].id))

    def test_existing_psa_project_mapped_not_created(self):
        order_name = self.env["ir.sequence"].next_by_code("sale.order")
        existing = self.store.add_project(
            self.psa_project.client_id, "Gamma", code=order_name
        )
        design = self.store.add_task("Discovery")
        self.store.assign_task(existing.id, design.id)
        project = self.env["project.project"].create(
            {
                "name": "Gamma",
                "psa_code": order_name,
                "sale_line_id": self.order.order_line.id,
            }
        )
        self.env["project.task"].create({"name": "Discovery", "project_id": project.id})
        project.task_ids._origin.flush_recordset()
        self.run_queue()

        self.assertEqual(len(self.psa_projects(order_name)), 1)
        self.assertEqual(
            self.env["integration.external.id"]._external_id_of(self.backend, project),
            str(existing.id),
        )
        task_count = len([t for t in self.store.all("tasks") if t.name == "Discovery"])
        self.assertEqual(task_count, 1)

    def test_replayed_push_changes_nothing(self):
        project = self.sell_project()
        self.run_queue()
        job = self.push_job(project)
        job.action_replay()
        self.run_queue()
        self.assertEqual(job.state, "done")
        self.assertEqual(len(self.psa_projects(project.psa_code)), 1)

    def test_project_sync_maps_code_and_dates(self):
        beta = self.env["project.project"].create({"name": "Beta", "psa_code": "PRJ-B"})
        psa_beta = self.store.add_project(
            self.psa_project.client_id,
            "Beta",
            code="PRJ-B",
            starts_on=date(2024, 3, 1),
            ends_on=date(2024, 9, 30),
        )
        self.backend.action_psa_sync_projects()

        self.assertEqual(
            self.env["integration.external.id"]._external_id_of(self.backend, beta),
            str(psa_beta.id),
        )
        self.assertEqual(beta.date_start, date(2024, 3, 1))
        self.assertEqual(beta.date, date(2024, 9, 30))
