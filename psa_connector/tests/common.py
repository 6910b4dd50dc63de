"""Shared fixtures of the PSA connector's tests: a firm with a sold project.

`PsaFixtures` builds, once per test class, what a consulting firm has in
Odoo when PSA time arrives: employees with work e-mails, a service sold
by the hour whose confirmed order created a project, a second project
with no sale, and a Harvest backend whose PSA projects are mapped.
`entry()` builds one normalized PSA time entry with sensible defaults.
"""

import importlib
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from odoo.addons.psa_connector.services.records import TimeEntry, hours_from_minutes
from odoo.tests import TransactionCase

PSA_PROJECT = "14308001"
PSA_INTERNAL_PROJECT = "14308002"
PSA_TASK = "8083001"
LENA = "1780001"
OMAR = "1780002"


class PsaFixtures:
    """Class-level fixtures shared by the PSA test cases."""

    @classmethod
    def setup_firm(cls):
        env = cls.env
        cls.company = env.company
        cls.lena = env["hr.employee"].create(
            {"name": "Lena Marsh", "work_email": "Lena.Marsh@Example.org"}
        )
        cls.omar = env["hr.employee"].create(
            {"name": "Omar Vale", "work_email": "omar.vale@example.org"}
        )
        cls.customer = env["res.partner"].create({"name": "Kestrel Analytics"})
        cls.product = env["product.product"].create(
            {
                "name": "Consulting hour",
                "type": "service",
                "list_price": 120.0,
                "invoice_policy": "delivery",
                "service_type": "timesheet",
                "service_tracking": "project_only",
                "uom_id": env.ref("uom.product_uom_hour").id,
                "uom_po_id": env.ref("uom.product_uom_hour").id,
            }
        )
        cls.order = env["sale.order"].create(
            {
                "partner_id": cls.customer.id,
                "order_line": [
                    (0, 0, {"product_id": cls.product.id, "product_uom_qty": 100})
                ],
            }
        )
        cls.order.action_confirm()
        cls.project = cls.order.order_line.project_id
        cls.project.psa_code = "PRJ-ALPHA"
        cls.internal = env["project.project"].create(
            {"name": "Internal", "allow_billable": False, "psa_code": "PRJ-INT"}
        )
        cls.backend = env["integration.backend"].create(
            {
                "name": "Harvest test",
                "kind": "harvest",
                "base_url": "http://127.0.0.1:9/v2",
                "account_ref": "1100001",
            }
        )
        Mapping = env["integration.external.id"]
        Mapping._bind(cls.backend, cls.project, PSA_PROJECT, external_model="project")
        Mapping._bind(
            cls.backend, cls.internal, PSA_INTERNAL_PROJECT, external_model="project"
        )

    @classmethod
    def entry(cls, entry_id, **values):
        """Return an approved, billable 90-minute entry of Lena on the sold project."""
        minutes = values.pop("minutes", 90)
        defaults = {
            "id": str(entry_id),
            "person_id": LENA,
            "person_email": "lena.marsh@example.org",
            "person_name": "Lena Marsh",
            "project_id": PSA_PROJECT,
            "project_name": "Alpha rollout",
            "task_id": PSA_TASK,
            "task_name": "Design",
            "date": date(2024, 6, 3),
            "minutes": minutes,
            "hours": hours_from_minutes(minutes),
            "notes": f"Work item {entry_id}",
            "billable": True,
            "approval_state": "approved",
            "locked": False,
            "updated_at": datetime(2024, 6, 3, 18, 0, 0),
        }
        defaults.update(values)
        if "hours" in values and "minutes" not in values:
            defaults["minutes"] = None
            defaults["hours"] = Decimal(str(values["hours"]))
        return TimeEntry(**defaults)

    def lines_of(self, *entry_ids):
        """Return the timesheet lines mapped to the given PSA entry ids."""
        mappings = self.env["integration.external.id"].search(
            [
                ("backend_id", "=", self.backend.id),
                ("res_model", "=", "account.analytic.line"),
                ("external_id", "in", [str(i) for i in entry_ids]),
            ]
        )
        return self.env["account.analytic.line"].browse(mappings.mapped("res_id"))

    def run_queue(self):
        """Run the sync queue now, as its cron would.

        Jobs queued in this test's transaction are due at the Python clock,
        later than the transaction's `now()` the worker compares with, so
        they are made due first.
        """
        self.env["integration.sync.job"].search([("state", "=", "pending")]).write(
            {"next_attempt_at": datetime(2000, 1, 1)}
        )
        self.env.flush_all()
        ran = self.env["integration.sync.job"]._cron_run_jobs()
        self.env.invalidate_all()
        return ran

    def open_exceptions(self, category):
        """Return the open exceptions of a category on the test backend."""
        return self.env["integration.exception"].search(
            [
                ("backend_id", "=", self.backend.id),
                ("category", "=", category),
                ("state", "in", ("new", "in_progress")),
            ]
        )


def emulators_module(name=None):
    """Import the suite's emulator package (or its module `name`).

    The emulators live in the repository's tests folder, outside the addons
    path, so the repository root is put on the import path first.
    """
    root = str(Path(__file__).resolve().parents[2])
    if root not in sys.path:
        sys.path.insert(0, root)
    return importlib.import_module("tests.emulators" + (f".{name}" if name else ""))


HISTORY = datetime(2024, 6, 3, 8, 0, tzinfo=UTC)


class HarvestCase(PsaFixtures, TransactionCase):
    """Tests against a Harvest emulator started for the class, with empty data.

    The store gets the firm's two users, one client, the sold project (as
    PRJ-ALPHA, mapped to the Odoo project) and the task Design; each test
    adds the time entries it needs. Pages hold `page_size` entries.
    """

    page_size = 4

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_firm()
        cls.registry.enter_test_mode(cls.cr)
        cls.addClassCleanup(cls.registry.leave_test_mode)
        emulators = emulators_module().start_emulators(size=None, systems=("harvest",))
        cls.addClassCleanup(emulators.stop)
        cls.harvest = emulators.harvest
        cls.store = cls.harvest.store
        cls.seed_harvest()
        cls.seeded_ids = {kind: set(table) for kind, table in cls.store.tables.items()}
        cls.backend.write(
            {
                "base_url": f"{cls.harvest.url}/v2",
                "api_token": cls.store.config.personal_access_token,
                "account_ref": str(cls.store.config.account_id),
                "psa_page_size": cls.page_size,
                "rate_limit_requests": 1000,
            }
        )
        Mapping = cls.env["integration.external.id"]
        Mapping.search(
            [("backend_id", "=", cls.backend.id), ("res_model", "=", "project.project")]
        ).unlink()
        Mapping._bind(cls.backend, cls.project, str(cls.psa_project.id))

    @classmethod
    def seed_harvest(cls):
        store = cls.store
        cls.psa_lena = store.add_user(
            "Lena", "Marsh", "lena.marsh@example.org", at=HISTORY
        )
        cls.psa_omar = store.add_user(
            "Omar", "Vale", "omar.vale@example.org", at=HISTORY
        )
        client = store.add_client("Kestrel Analytics", at=HISTORY)
        cls.psa_project = store.add_project(
            client.id, "Alpha", code="PRJ-ALPHA", at=HISTORY
        )
        cls.psa_task = store.add_task("Design", at=HISTORY)
        store.assign_task(cls.psa_project.id, cls.psa_task.id, at=HISTORY)

    def setUp(self):
        super().setUp()
        self.harvest.faults.clear()
        for kind, table in self.store.tables.items():
            for record_id in set(table) - self.seeded_ids[kind]:
                del table[record_id]
        self.requests_seen = len(self.harvest.requests)

    def new_requests(self):
        """Return the requests the emulator received since the test (or mark) began."""
        return self.harvest.requests[self.requests_seen :]

    def add_entries(self, count, minutes=90, day=date(2024, 6, 3), **values):
        """Seed `count` approved entries of Lena; return them."""
        values.setdefault("approval_status", "approved")
        values.setdefault("at", HISTORY)
        user = values.pop("user", self.psa_lena)
        return [
            self.store.add_time_entry(
                user.id,
                self.psa_project.id,
                self.psa_task.id,
                day,
                minutes=minutes,
                notes=f"Entry {n}",
                **values,
            )
            for n in range(count)
        ]

    def lines_of_store(self, entries):
        """Return the timesheet lines mapped to emulator entries."""
        return self.lines_of(*(entry.id for entry in entries))

    def flow(self):
        """Return the time pull's flow of the test backend."""
        self.env.invalidate_all()
        return self.backend.flow_ids.filtered(lambda f: f.code == "psa.time_entries")


class ProductiveCase(PsaFixtures, TransactionCase):
    """Tests against a Productive emulator started for the class, with empty data.

    The organization gets the two people, a company, the sold project (as
    PRJ-ALPHA, mapped) with its deal, a billable and a non-billable
    service, and the task Design.
    """

    page_size = 4

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_firm()
        cls.registry.enter_test_mode(cls.cr)
        cls.addClassCleanup(cls.registry.leave_test_mode)
        emulators = emulators_module().start_emulators(
            size=None, systems=("productive",)
        )
        cls.addClassCleanup(emulators.stop)
        cls.productive = emulators.productive
        cls.store = cls.productive.store
        cls.seed_productive()
        cls.seeded_ids = {kind: set(table) for kind, table in cls.store.tables.items()}
        cls.backend.write(
            {
                "kind": "productive",
                "base_url": f"{cls.productive.url}/api/v2",
                "api_token": cls.store.config.api_token,
                "account_ref": cls.store.config.organization_id,
                "psa_page_size": cls.page_size,
                "rate_limit_requests": 1000,
            }
        )
        Mapping = cls.env["integration.external.id"]
        Mapping.search(
            [("backend_id", "=", cls.backend.id), ("res_model", "=", "project.project")]
        ).unlink()
        Mapping._bind(cls.backend, cls.project, str(cls.psa_project.id))

    @classmethod
    def seed_productive(cls):
        add = cls.store.add
        cls.psa_lena = add(
            "people",
            {
                "first_name": "Lena",
                "last_name": "Marsh",
                "email": "lena.marsh@example.org",
            },
            at=HISTORY,
        )
        cls.psa_omar = add(
            "people",
            {
                "first_name": "Omar",
                "last_name": "Vale",
                "email": "omar.vale@example.org",
            },
            at=HISTORY,
        )
        company = add("companies", {"name": "Kestrel Analytics"}, at=HISTORY)
        cls.psa_project = add(
            "projects",
            {"name": "Alpha", "project_number": "PRJ-ALPHA"},
            {"company": company.id},
            at=HISTORY,
        )
        deal = add(
            "deals",
            {"name": "Alpha budget", "currency": "EUR"},
            {"company": company.id, "project": cls.psa_project.id},
            at=HISTORY,
        )
        cls.psa_deal = deal
        cls.psa_service = add(
            "services", {"name": "Consulting"}, {"deal": deal.id}, at=HISTORY
        )
        cls.psa_internal_service = add(
            "services",
            {"name": "Internal", "billing_type_id": 3},
            {"deal": deal.id},
            at=HISTORY,
        )
        cls.psa_task = add(
            "tasks", {"title": "Design"}, {"project": cls.psa_project.id}, at=HISTORY
        )

    def setUp(self):
        super().setUp()
        self.productive.faults.clear()
        for kind, table in self.store.tables.items():
            for record_id in set(table) - self.seeded_ids[kind]:
                del table[record_id]
        self.requests_seen = len(self.productive.requests)

    def new_requests(self):
        """Return the requests the emulator received since the test began."""
        return self.productive.requests[self.requests_seen :]

    def add_entries(self, count, minutes=90, day=date(2024, 6, 3), **values):
        """Seed `count` approved, billable entries of Lena; return them."""
        person = values.pop("person", self.psa_lena)
        service = values.pop("service", self.psa_service)
        at = values.pop("at", HISTORY)
        attributes = {
            "date": day,
            "time": minutes,
            "billable_time": minutes
            if service.attributes["billing_type_id"] != 3
            else 0,
            "approved": True,
        }
        attributes.update(values)
        return [
            self.store.add(
                "time_entries",
                dict(attributes, note=f"Entry {n}"),
                {"person": person.id, "service": service.id, "task": self.psa_task.id},
                at=at,
            )
            for n in range(count)
        ]

    def lines_of_store(self, entries):
        """Return the timesheet lines mapped to emulator entries."""
        return self.lines_of(*(entry.id for entry in entries))


class PsaCase(PsaFixtures, TransactionCase):
    """A TransactionCase with the firm set up once per class."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_firm()
