"""Shared fixtures of the CRM bridge tests.

Payloads enter the way the webhook intake stores them: HubSpot bodies and
Outbound Message envelopes go through the core's own parsers
(`webhook_events`, `soap`) and become sync jobs, which the real queue
worker runs. Tests that need the CRM's API run against the suite's HubSpot
and Salesforce emulators on loopback.
"""

import importlib
import json
import sys
import time
from datetime import datetime
from pathlib import Path

from odoo.addons.integration_audit.services import soap, webhook_events
from odoo.tests import TransactionCase

ORG_ID = "00D000000000042AAA"


def now_ms(offset_seconds=0):
    """Return the current time in epoch milliseconds, as HubSpot's occurredAt."""
    return int((time.time() + offset_seconds) * 1000)


def emulators_module(name=""):
    """Import the suite's emulator package (or one of its modules)."""
    root = str(Path(__file__).resolve().parents[2])
    if root not in sys.path:
        sys.path.insert(0, root)
    return importlib.import_module("tests.emulators" + (f".{name}" if name else ""))


class CrmCase(TransactionCase):
    """One HubSpot and one Salesforce backend in a company based in the UK."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.registry.enter_test_mode(cls.cr)
        cls.addClassCleanup(cls.registry.leave_test_mode)
        cls.env.user.groups_id |= (
            cls.env.ref("integration_audit.group_integration_admin")
            | cls.env.ref("sales_team.group_sale_manager")
            | cls.env.ref("project.group_project_manager")
        )

        cls.gb = cls.env.ref("base.uk")
        cls.es = cls.env.ref("base.es")
        cls.company = cls.env.company
        cls.company.country_id = cls.gb

        common = {
            "company_id": cls.company.id,
            "rate_limit_requests": 10000,
            "rate_limit_period": 1,
            "retry_base_seconds": 1,
            "max_attempts": 8,
        }
        cls.hubspot = cls.env["integration.backend"].create(
            dict(
                common,
                name="HubSpot test",
                kind="hubspot",
                base_url="http://127.0.0.1:9",
            )
        )
        cls.salesforce = cls.env["integration.backend"].create(
            dict(
                common,
                name="Salesforce test",
                kind="salesforce",
                base_url="http://127.0.0.1:9",
                account_ref=ORG_ID,
            )
        )

        cls.Mapping = cls.env["integration.external.id"]
        cls.Job = cls.env["integration.sync.job"]
        cls.Partner = cls.env["res.partner"].with_context(active_test=False)

        # One sender per class, so notification ids never repeat between messages.
        senders = emulators_module("senders")
        cls.outbound_sender = senders.OutboundMessageSender(
            "http://127.0.0.1:9/", ORG_ID
        )

    # ------------------------------------------------------------------
    # Feeding payloads
    # ------------------------------------------------------------------

    def hubspot_events(self, *events, backend=None):
        """Store HubSpot webhook events as the intake does; return the jobs."""
        body = json.dumps(list(events)).encode()
        return self.Job._enqueue_many(
            backend or self.hubspot, webhook_events.hubspot_jobs(body)
        )

    def salesforce_message(self, *notifications, backend=None):
        """Store one Outbound Message of (object, fields) pairs; return the jobs."""
        sender = type(self).outbound_sender
        items = [
            sender.notification(sobject, fields) for sobject, fields in notifications
        ]
        message = soap.parse_outbound_message(sender.envelope(items))
        return self.Job._enqueue_many(
            backend or self.salesforce, webhook_events.salesforce_jobs(message)
        )

    def hubspot_records(self, object_type, *records, backend=None):
        """Store records as the HubSpot poller does; return the jobs."""
        backend = backend or self.hubspot
        values = [backend._crm_hubspot_job(object_type, record) for record in records]
        return self.Job._enqueue_many(backend, values)

    def run_jobs(self, due_only=False):
        """Run the queue with the real worker; return the number of jobs run.

        Unless `due_only`, every pending job is made due first, as if its
        retry delay had passed, because the test transaction's clock does not
        move.
        """
        if not due_only:
            self.Job.search([("state", "=", "pending")]).write(
                {"next_attempt_at": datetime(2000, 1, 1)}
            )
        self.env.flush_all()
        ran = self.Job._cron_run_jobs()
        self.env.invalidate_all()
        return ran

    def poll(self, backend):
        """Poll every object of `backend` now, as Sync Now does."""
        self.env.flush_all()
        backend._crm_poll(force=True)
        self.env.invalidate_all()

    # ------------------------------------------------------------------
    # Reading results
    # ------------------------------------------------------------------

    def partner_of(self, backend, external_id):
        return self.Mapping._resolve(backend, "res.partner", external_id)

    def open_exceptions(self, category, backend=None):
        domain = [("category", "=", category), ("state", "in", ("new", "in_progress"))]
        if backend:
            domain.append(("backend_id", "=", backend.id))
        return self.env["integration.exception"].search(domain)

    def partners_named(self, name):
        return self.Partner.search([("name", "=", name)])


def hubspot_company(object_id, updated="2024-06-03T08:00:00.000Z", **properties):
    """Return a HubSpot v3 company record as the API sends it."""
    properties.setdefault("hs_lastmodifieddate", updated)
    properties.setdefault("hs_object_id", str(object_id))
    return {
        "id": str(object_id),
        "properties": properties,
        "createdAt": "2024-01-01T00:00:00.000Z",
        "updatedAt": updated,
        "archived": False,
    }


def hubspot_contact(object_id, updated="2024-06-03T08:00:00.000Z", **properties):
    """Return a HubSpot v3 contact record as the API sends it."""
    properties.setdefault("lastmodifieddate", updated)
    return hubspot_company(object_id, updated, **properties)


class CrmEmulatorCase(CrmCase):
    """The two backends pointed at HubSpot and Salesforce emulators on loopback.

    The emulators start empty for the class; each test seeds the records it
    needs. Three service products cover the invoicing policies a line item
    can map to, by internal reference (the CRM's SKU or product code).
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        emulators = emulators_module().start_emulators(
            size=None, systems=("hubspot", "salesforce")
        )
        cls.addClassCleanup(emulators.stop)
        cls.hs = emulators.hubspot
        cls.sf = emulators.salesforce
        cls.hs_store = cls.hs.store
        cls.sf_store = cls.sf.store
        cls.hubspot.write(
            {
                "base_url": cls.hs.url,
                "api_token": cls.hs_store.config.private_app_token,
                "account_ref": str(cls.hs_store.config.portal_id),
            }
        )
        cls.salesforce.write(
            {
                "base_url": cls.sf.url,
                "client_id": cls.sf_store.config.client_id,
                "client_secret": cls.sf_store.config.client_secret,
                "account_ref": cls.sf_store.config.org_id,
            }
        )
        cls.setup_products()

    @classmethod
    def setup_products(cls):
        Product = cls.env["product.product"]
        common = {"type": "service", "service_tracking": "task_in_project"}
        cls.product_time = Product.create(
            dict(
                common,
                name="Consulting time",
                default_code="SVC-TIME",
                service_policy="delivered_timesheet",
                list_price=150.0,
            )
        )
        cls.product_milestone = Product.create(
            dict(
                common,
                name="Go-live milestone",
                default_code="SVC-MILE",
                service_policy="delivered_milestones",
                list_price=5000.0,
            )
        )
        cls.product_fixed = Product.create(
            dict(
                common,
                name="Fixed-price workshop",
                default_code="SVC-FIX",
                service_policy="ordered_prepaid",
                list_price=2000.0,
            )
        )
        cls.seller = cls.env["res.users"].create(
            {
                "name": "Sasha Seller",
                "login": "sasha.seller@example.com",
                "email": "sasha.seller@example.com",
                "groups_id": [
                    (6, 0, [cls.env.ref("sales_team.group_sale_salesman").id])
                ],
            }
        )

    def hubspot_event(self, event_id, subscription, object_id, occurred_ms, **extra):
        """Return one HubSpot webhook event as HubSpot sends it."""
        return {
            "eventId": event_id,
            "subscriptionId": 4242,
            "portalId": self.hs_store.config.portal_id,
            "appId": self.hs_store.config.app_id,
            "occurredAt": occurred_ms,
            "subscriptionType": subscription,
            "attemptNumber": 0,
            "objectId": int(object_id),
            "changeSource": "CRM_UI",
            **extra,
        }

    def order_of(self, backend, deal_id):
        return self.Mapping._resolve(backend, "sale.order", str(deal_id))
