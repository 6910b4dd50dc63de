"""The steps of the demo's lead-to-cash cycle, each through production entry points.

Every step acts the way production does: the outside world changes data in
the emulated CRM or PSA and sends its webhooks through the vendors' own
delivery format (`tests/emulators/senders.py`, `psa_events.py`); Odoo's
side is driven over XML-RPC as an administrator or finance user would
press buttons, and scheduled actions are started with Run Now
(`ir.cron.method_direct_trigger`) or left to the cron worker. Nothing is
written to the database behind the suite's back.

`STEPS` lists (title, run, count): `demo_cycle.py` calls `run`, waits until
the sync queue is drained, then calls `count` for the step's figures.
"""

import secrets
from datetime import date, timedelta

from demo_faults import count_faults, faults

from tests.emulators.firm_model import (
    FX_FROM_EUR,
    LOCKED_REASON_INVOICED,
    LOCKED_REASON_PERIOD,
)
from tests.emulators.psa_events import post_events
from tests.emulators.senders import HubSpotWebhookSender, OutboundMessageSender

CRM_KINDS = ("hubspot", "salesforce")
PSA_KINDS = ("harvest", "productive")
CURRENCIES = ("EUR", "USD", "GBP", "JPY")
CRM_POLL_CRON = "crm_bridge.ir_cron_crm_poll"
PSA_TIME_CRON = "psa_connector.ir_cron_psa_import_time"
PSA_EXPENSE_CRON = "psa_connector.ir_cron_psa_import_expenses"
ACCRUAL_CRON = "billing_sync.ir_cron_billing_prepare_accruals"
STATUS_PUSH_CRON = "billing_sync.ir_cron_billing_push_invoice_status"
FIGURES_CRON = "billing_sync.ir_cron_billing_refresh_figures"
PROJECT_PUSH_FLOW = "psa.project.push"
TIME_FLOW = "psa.time_entries"
EXPENSE_FLOW = "psa.expenses"
NIGHTLY_MINUTES = 24 * 60
# Service products the firm sells, by the SKU its CRM line items carry.
PRODUCTS = {
    "CONSULT-HOUR": {
        "name": "Consulting hours",
        "invoice_policy": "delivery",
        "service_type": "timesheet",
        "uom": "uom.product_uom_hour",
    },
    "MILESTONE": {
        "name": "Fixed-price milestone",
        "invoice_policy": "delivery",
        "service_type": "milestones",
        "uom": "uom.product_uom_unit",
    },
    "RETAINER-MONTH": {
        "name": "Monthly retainer",
        "invoice_policy": "order",
        "service_type": "timesheet",
        "uom": "uom.product_uom_unit",
    },
}
# Custom fields that hold the tax id in each CRM, as the firm defined them.
VAT_FIELDS = {"hubspot": "vat_number", "salesforce": "VAT_Number__c"}
HUBSPOT_DEAL_PROPERTIES = (
    "odoo_invoice_status",
    "odoo_amount_invoiced",
    "odoo_amount_paid",
    "odoo_amount_due",
    "odoo_order_ref",
    "odoo_project_name",
    "odoo_project_url",
)
# Records that change in the CRM and reach Odoo by webhook in step 2.
WEBHOOK_CLIENTS = 6
# Share of posted invoices paid in full, and of those left, paid in part.
PAID_SHARE = 0.6
PARTLY_PAID_SHARE = 0.25
# Payments are registered one by one over XML-RPC; this keeps the step short.
MAX_PAID = 30
# Timesheets edited in each PSA after they were invoiced.
LATE_EDITS = 3
FINANCE_LOGIN = "finance"


class Demo:
    """What the steps share: the Odoo client, the emulators and the findings."""

    def __init__(self, odoo, emulators, url, wait):
        self.odoo = odoo
        self.emulators = emulators
        self.url = url
        self.wait = wait
        self.firm = emulators.firm
        self.today = date.today()
        self.backends = {}
        self.webhook_secrets = {}
        self.steps = {}
        self.notes = []
        self.existing_partner_ids = []
        self.won_now = []
        self._outbound_sender = None

    def note(self, text):
        """Record something the summary must say, such as a missing entry point."""
        print(f"    note: {text}")
        self.notes.append(text)

    def store(self, kind):
        return getattr(self.emulators, kind).store

    def webhook_url(self, kind):
        route = "psa" if kind in PSA_KINDS else kind
        return f"{self.url}/integration/webhook/{route}/{self.backends[kind]}"

    def call_button(self, model, method, ids, *args, **kwargs):
        """Press a button; a refusal becomes a note and returns None."""
        try:
            return self.odoo.call(model, method, ids, *args, **kwargs)
        except Exception as error:  # noqa: BLE001 - reported in the summary
            self.note(f"{model}.{method} on {ids} failed: {_first_line(error)}")
            return None

    def deliver_hubspot(self, events):
        """Post HubSpot events to Odoo's webhook route, signed as HubSpot signs."""
        sender = HubSpotWebhookSender(
            self.webhook_url("hubspot"), self.webhook_secrets["hubspot"]
        )
        deliveries = sender.send(events)
        failed = [delivery for delivery in deliveries if not delivery.delivered]
        if failed:
            self.note(f"{len(failed)} HubSpot webhook batches were not accepted.")
        return deliveries

    def outbound_sender(self):
        """Return the sender of Outbound Messages to Odoo's Salesforce route.

        One sender serves the whole demo because it numbers notification ids
        and Odoo stores each notification id once.
        """
        if self._outbound_sender is None:
            token = self.webhook_secrets["salesforce"]
            url = f"{self.webhook_url('salesforce')}?token={token}"
            org_id = self.store("salesforce").config.org_id
            self._outbound_sender = OutboundMessageSender(url, org_id)
        return self._outbound_sender

    def deliver_outbound(self, sender, notifications):
        """Send Outbound Messages until Odoo acknowledges them."""
        deliveries = sender.send(notifications)
        failed = [delivery for delivery in deliveries if not delivery.delivered]
        if failed:
            self.note(
                f"{len(failed)} Salesforce Outbound Messages were not acknowledged."
            )
        return deliveries

    def post_psa_events(self, kind):
        """Relay the PSA's queued change events to Odoo's PSA webhook route."""
        events = self.store(kind).take_events()
        if not events:
            self.note(f"{kind} queued no change event to send.")
            return events
        response = post_events(
            self.webhook_url(kind), self.webhook_secrets[kind], events
        )
        if response.status_code != 200:
            self.note(f"The {kind} webhook answered HTTP {response.status_code}.")
        return events

    @staticmethod
    def sobject_fields(record):
        """Return the fields an Outbound Message carries: the record's set values."""
        skipped = {"IsDeleted", "attributes"}
        return {
            name: value
            for name, value in record.items()
            if name not in skipped and value is not None and not isinstance(value, dict)
        }

    def run_cron(self, xml_id):
        """Run a scheduled action now; a missing one becomes a note."""
        try:
            found = self.odoo.run_cron(xml_id)
        except Exception as error:  # noqa: BLE001 - reported in the summary
            self.note(f"Scheduled action {xml_id} failed: {_first_line(error)}")
            return False
        if not found:
            self.note(f"Scheduled action {xml_id} does not exist.")
        return found


def _first_line(error):
    text = getattr(error, "faultString", None) or str(error)
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else type(error).__name__


# ----------------------------------------------------------------------
# 1. Configuration
# ----------------------------------------------------------------------


def configure(demo):
    """Set up the firm's company, people, products, partners and four backends."""
    _configure_company(demo)
    _configure_users(demo)
    _create_employees(demo)
    _create_products(demo)
    _create_expense_products(demo)
    _create_existing_partners(demo)
    _create_backends(demo)
    for backend_id in demo.backends.values():
        demo.call_button("integration.backend", "action_test_connection", [backend_id])
    _prepare_hubspot(demo)


def _configure_company(demo):
    """Name the company after the firm, bill in EUR and open its posting window."""
    odoo = demo.odoo
    rows = odoo.read(
        "res.currency",
        [("name", "in", CURRENCIES)],
        ["name"],
        context={"active_test": False},
    )
    currency_ids = {row["name"]: row["id"] for row in rows}
    odoo.write("res.currency", list(currency_ids.values()), {"active": True})
    demo.company_id = odoo.ref("base.main_company")
    # Runs of the firm's oldest closed month are posted today, so the
    # posting window reaches back to that month's end.
    window = (demo.today - _month_end(demo.firm.starts_on)).days + 5
    odoo.write(
        "res.company",
        [demo.company_id],
        {
            "name": demo.firm.name,
            "currency_id": currency_ids["EUR"],
            "billing_posting_window_days": window,
        },
    )
    _create_rates(demo, currency_ids)


def _create_rates(demo, currency_ids):
    """Enter a rate on the first of each month, as a rate update cron would."""
    values = []
    day = (demo.firm.starts_on - timedelta(days=1)).replace(day=1)
    while day <= demo.today:
        values += [
            {
                "currency_id": currency_ids[code],
                "name": str(day),
                "rate": float(FX_FROM_EUR[code]),
            }
            for code in CURRENCIES[1:]
        ]
        day = _month_end(day) + timedelta(days=1)
    demo.odoo.create("res.currency.rate", values)


def _configure_users(demo):
    """Make admin a billing approver and add the finance user of the README."""
    odoo = demo.odoo
    approver = odoo.ref("billing_sync.group_billing_approver")
    odoo.write("res.users", [odoo.uid], {"groups_id": [(4, approver)]})
    groups = [
        odoo.ref("base.group_user"),
        odoo.ref("integration_audit.group_integration_manager"),
        odoo.ref("account.group_account_invoice"),
    ]
    odoo.create(
        "res.users",
        {
            "name": "Finance User",
            "login": FINANCE_LOGIN,
            "password": FINANCE_LOGIN,
            "email": f"{FINANCE_LOGIN}@{demo.firm.domain}",
            "groups_id": [(6, 0, [group for group in groups if group])],
        },
    )


def _create_employees(demo):
    """Create the consultants as employees, leaving out the last one hired.

    The PSAs know that consultant, so their time waits in the exception
    queue until finance creates the employee from the exception (step 4).
    """
    consultants = sorted(demo.firm.consultants, key=lambda person: person.hired_on)
    demo.missing_consultant = consultants[-1]
    values = [
        {
            "name": person.name,
            "work_email": person.email,
            "job_title": person.title,
            "hourly_cost": float(person.cost_rate),
        }
        for person in consultants[:-1]
    ]
    demo.odoo.create("hr.employee", values)


def _create_products(demo):
    """Create the service products the CRM line items name by SKU.

    An hour's list price is the firm's usual rate, so the dashboard's
    realisation compares billed hours with their standard value.
    """
    for code, spec in PRODUCTS.items():
        uom = demo.odoo.ref(spec["uom"])
        demo.odoo.create(
            "product.product",
            {
                "name": spec["name"],
                "default_code": code,
                "type": "service",
                "invoice_policy": spec["invoice_policy"],
                "service_type": spec["service_type"],
                "service_tracking": "task_in_project",
                "list_price": _usual_rate(demo) if code == "CONSULT-HOUR" else 0.0,
                "uom_id": uom,
                "uom_po_id": uom,
            },
        )


def _usual_rate(demo):
    """Return the median hourly rate of the firm's projects sold in EUR."""
    rates = sorted(
        float(project.hourly_rate)
        for project in demo.firm.projects
        if project.currency == "EUR"
    )
    return rates[len(rates) // 2] if rates else 0.0


def _create_expense_products(demo):
    """Create a product per expense category the PSAs use, re-invoiced at cost."""
    categories = sorted({expense.category for expense in demo.firm.expenses})
    demo.odoo.create(
        "product.product",
        [
            {
                "name": category,
                "type": "service",
                "can_be_expensed": True,
                "expense_policy": "cost",
                "invoice_policy": "delivery",
            }
            for category in categories
        ],
    )


def _create_existing_partners(demo):
    """Create partners Odoo had before going live: found by tax id, site or name.

    One client without deals is in Odoo twice under the same name, so its
    import waits in the exception queue until someone links the right one.
    Created before the backends exist, so no poll imports these clients first.
    """
    values = []
    for crm in CRM_KINDS:
        by_vat, by_site, by_name = demo.firm.clients_in(crm)[:3]
        values += [
            {"name": by_vat.name.upper(), "vat": by_vat.vat, "is_company": True},
            {
                "name": by_site.trade_name,
                "website": by_site.website,
                "is_company": True,
            },
            {"name": by_name.name, "is_company": True},
        ]
    twice = _client_without_deals(demo, "hubspot")
    values += [{"name": twice.name, "is_company": True}] * 2
    demo.existing_partner_ids = demo.odoo.create("res.partner", values)


def _client_without_deals(demo, crm):
    """Return a client of `crm` with no won or open deal, past those used above."""
    busy = {deal.client_key for deal in demo.firm.deals if deal.stage != "lost"}
    clients = demo.firm.clients_in(crm)[3 + WEBHOOK_CLIENTS :]
    return next(client for client in clients if client.key not in busy)


def _create_backends(demo):
    """Create the four backends; values of fields the addons lack are noted."""
    known = demo.odoo.call("integration.backend", "fields_get", [], ["type"])
    for kind in (*CRM_KINDS, *PSA_KINDS):
        values = _backend_values(demo, kind)
        unknown = sorted(set(values) - set(known))
        if unknown:
            demo.note(f"Backends have no field {', '.join(unknown)}; left unset.")
        values = {name: value for name, value in values.items() if name in known}
        demo.backends[kind] = demo.odoo.create("integration.backend", values)
        print(f"    backend {kind} is id {demo.backends[kind]}")


def _backend_values(demo, kind):
    """Return the values of one backend pointing at its emulator."""
    server = getattr(demo.emulators, kind)
    config = server.store.config
    values = {
        "name": f"{kind.capitalize()} (emulator)",
        "kind": kind,
        "environment": "sandbox",
        "company_id": demo.company_id,
        # Short retry delays so the faults of step 7 heal within the demo.
        "retry_base_seconds": 2,
        "retry_max_seconds": 60,
    }
    if kind in CRM_KINDS:
        values.update(
            crm_vat_field=VAT_FIELDS[kind],
            crm_sync_deals=False,
            crm_portal_url=server.url,
        )
    else:
        values["flow_ids"] = _held_psa_flows()
    values.update(_KIND_VALUES[kind](demo, server, config))
    return values


def _held_psa_flows():
    """Return the PSA flows, created switched off so they go live in order.

    The firm ran its projects in the PSAs before going live: step 3 maps
    them by code before any sold project is pushed, and step 4 switches the
    nightly pulls on once every project is mapped. They are created with
    the backend, so the cron worker never sees the backend without them.
    """
    flows = [
        {"code": PROJECT_PUSH_FLOW, "enabled": False, "mode": "realtime"},
        {"code": TIME_FLOW, "enabled": False, "mode": "batch"},
        {"code": EXPENSE_FLOW, "enabled": False, "mode": "batch"},
    ]
    return [(0, 0, dict(flow, interval_minutes=NIGHTLY_MINUTES)) for flow in flows]


def _hubspot_values(demo, server, config):
    demo.webhook_secrets["hubspot"] = config.client_secret
    return {
        "base_url": server.url,
        "account_ref": str(config.portal_id),
        "hubspot_auth_flow": "private_app",
        "api_token": config.private_app_token,
        "client_id": config.client_id,
        "client_secret": config.client_secret,
        "webhook_secret": config.client_secret,
        "hubspot_signature_versions": "v1,v3",
    }


def _salesforce_values(demo, server, config):
    demo.webhook_secrets["salesforce"] = secrets.token_urlsafe(24)
    return {
        "base_url": server.url,
        "account_ref": config.org_id,
        "salesforce_auth_flow": "client_credentials",
        "client_id": config.client_id,
        "client_secret": config.client_secret,
        "webhook_secret": demo.webhook_secrets["salesforce"],
        "salesforce_multicurrency": bool(config.multi_currency),
    }


def _harvest_values(demo, server, config):
    demo.webhook_secrets["harvest"] = secrets.token_urlsafe(24)
    return {
        "base_url": f"{server.url}/v2",
        "account_ref": str(config.account_id),
        "api_token": config.personal_access_token,
        "webhook_secret": demo.webhook_secrets["harvest"],
        "rate_limit_requests": config.rate_limit_requests,
        "rate_limit_period": int(config.rate_limit_window_seconds),
        # Harvest locks entries once approved or invoiced; in this firm that
        # is routine, and only Odoo's lock date closes a period.
        "psa_routine_lock_reasons": f"{LOCKED_REASON_PERIOD},{LOCKED_REASON_INVOICED}",
    }


def _productive_values(demo, server, config):
    demo.webhook_secrets["productive"] = secrets.token_urlsafe(24)
    return {
        "base_url": f"{server.url}/api/v2",
        "account_ref": config.organization_id,
        "api_token": config.api_token,
        "webhook_secret": demo.webhook_secrets["productive"],
    }


_KIND_VALUES = {
    "hubspot": _hubspot_values,
    "salesforce": _salesforce_values,
    "harvest": _harvest_values,
    "productive": _productive_values,
}


def _prepare_hubspot(demo):
    """Load the deal pipelines and create the deal properties the bridge writes."""
    backend = [demo.backends["hubspot"]]
    demo.call_button("integration.backend", "action_crm_load_pipelines", backend)
    created = demo.call_button(
        "integration.backend", "action_crm_ensure_properties", backend
    )
    if created is None:
        # A HubSpot administrator creates them under Settings > Properties.
        store = demo.store("hubspot")
        for name in HUBSPOT_DEAL_PROPERTIES:
            if store.definition("deals", name) is None:
                store.add_property("deals", name, label=name.replace("_", " "))
        demo.note(
            "The deal properties of the invoice status were created in the "
            "HubSpot emulator, as a HubSpot administrator would."
        )


def count_configuration(demo):
    odoo = demo.odoo
    return {
        "backends": odoo.count("integration.backend"),
        "employees": odoo.count("hr.employee"),
        "service_products": odoo.count(
            "product.product", [("default_code", "in", list(PRODUCTS))]
        ),
        "deal_stages_loaded": odoo.count("crm.bridge.pipeline.stage"),
    }


# ----------------------------------------------------------------------
# 2. Master data
# ----------------------------------------------------------------------


def master_data(demo):
    """Accounts and contacts arrive by webhook and by polling, matched first."""
    _send_hubspot_changes(demo)
    _send_salesforce_changes(demo)
    demo.run_cron(CRM_POLL_CRON)


def _send_hubspot_changes(demo):
    """Sales reps update companies and contacts; HubSpot posts the events."""
    store = demo.store("hubspot")
    store.take_events()
    for client in demo.firm.clients_in("hubspot")[3 : 3 + WEBHOOK_CLIENTS]:
        company_id = store.firm_ids[client.key]
        store.update("companies", company_id, {"phone": client.phone_e164})
    for contact in _contacts_of(demo, "hubspot")[:WEBHOOK_CLIENTS]:
        contact_id = store.firm_ids[contact.key]
        store.update("contacts", contact_id, {"jobtitle": contact.job_title})
    demo.deliver_hubspot(store.take_events())


def _contacts_of(demo, crm):
    return [contact for contact in demo.firm.contacts if contact.crm == crm]


def _send_salesforce_changes(demo):
    """Sales reps update accounts and contacts; Outbound Messages carry them."""
    store = demo.store("salesforce")
    notifications = []
    sender = demo.outbound_sender()
    for client in demo.firm.clients_in("salesforce")[3 : 3 + WEBHOOK_CLIENTS]:
        account_id = store.firm_ids[client.key]
        record = store.update("Account", account_id, {"Phone": client.phone_e164})
        notifications.append(
            sender.notification("Account", demo.sobject_fields(record))
        )
    for contact in _contacts_of(demo, "salesforce")[:WEBHOOK_CLIENTS]:
        record = store.update(
            "Contact", store.firm_ids[contact.key], {"Title": contact.job_title}
        )
        notifications.append(
            sender.notification("Contact", demo.sobject_fields(record))
        )
    demo.deliver_outbound(sender, notifications)


def count_master_data(demo):
    odoo = demo.odoo
    crm_backends = [demo.backends[kind] for kind in CRM_KINDS]

    def mapped(models):
        return odoo.count(
            "integration.external.id",
            [
                ("backend_id", "in", crm_backends),
                ("res_model", "=", "res.partner"),
                ("external_model", "in", models),
            ],
        )

    return {
        "partners_from_crm": mapped(["companies", "Account", "contacts", "Contact"]),
        "companies_mapped": mapped(["companies", "Account"]),
        "contacts_mapped": mapped(["contacts", "Contact"]),
        "existing_partners_matched": odoo.count(
            "integration.external.id",
            [
                ("res_model", "=", "res.partner"),
                ("res_id", "in", demo.existing_partner_ids),
            ],
        ),
        "jobs_from_webhooks": odoo.count(
            "integration.sync.job",
            [("flow", "in", ("hubspot.webhook", "salesforce.outbound_message"))],
        ),
        "jobs_from_polling": odoo.count(
            "integration.sync.job",
            [("flow", "in", ("hubspot.record", "salesforce.record"))],
        ),
    }


# ----------------------------------------------------------------------
# 3. Deals
# ----------------------------------------------------------------------


def deals(demo):
    """Won deals become orders and projects; the projects meet the PSAs."""
    odoo = demo.odoo
    crm_backends = [demo.backends[kind] for kind in CRM_KINDS]
    odoo.write("integration.backend", crm_backends, {"crm_sync_deals": True})
    demo.run_cron(CRM_POLL_CRON)
    demo.wait()
    _map_existing_psa_projects(demo)
    _release_project_push(demo)
    _win_open_deals(demo)


def _order_of_deal(demo, deal):
    """Return the id of the order made from a firm deal, or None."""
    crm_id = demo.store(deal.crm).firm_ids[deal.key]
    rows = demo.odoo.read(
        "integration.external.id",
        [
            ("backend_id", "=", demo.backends[deal.crm]),
            ("res_model", "=", "sale.order"),
            ("external_id", "=", str(crm_id)),
        ],
        ["res_id"],
    )
    return rows[0]["res_id"] if rows else None


def _map_existing_psa_projects(demo):
    """Give each sold project the code of the PSA project the firm already runs.

    The administrator enters the codes, then presses Map PSA projects on
    each PSA backend, which maps the PSA's projects by code.
    """
    missing = 0
    for project in demo.firm.projects:
        order_id = _order_of_deal(demo, demo.firm.by_key[project.deal_key])
        project_ids = _projects_of_order(demo, order_id)
        if not project_ids:
            missing += 1
            continue
        demo.odoo.write("project.project", project_ids[:1], {"psa_code": project.code})
    if missing:
        demo.note(f"{missing} won deals had no Odoo project to map to the PSA.")
    for kind in PSA_KINDS:
        demo.call_button(
            "integration.backend", "action_psa_sync_projects", [demo.backends[kind]]
        )


def _projects_of_order(demo, order_id):
    if not order_id:
        return []
    return demo.odoo.search("project.project", [("sale_order_id", "=", order_id)])


def _release_project_push(demo):
    """From now on, projects sold go to Harvest, where new work is run."""
    _switch_on(demo, ["harvest"], [PROJECT_PUSH_FLOW])


def _switch_on(demo, kinds, codes):
    """Enable flows, as an administrator does on the backend's Flows tab."""
    flows = demo.odoo.search(
        "integration.flow",
        [
            ("backend_id", "in", [demo.backends[kind] for kind in kinds]),
            ("code", "in", codes),
        ],
    )
    demo.odoo.write("integration.flow", flows, {"enabled": True})


def _win_open_deals(demo):
    """An open deal is won in each CRM; webhooks bring them in."""
    hubspot_deal = _first_open_deal(demo, "hubspot")
    salesforce_deal = _first_open_deal(demo, "salesforce")
    if hubspot_deal:
        store = demo.store("hubspot")
        store.take_events()
        store.update(
            "deals",
            store.firm_ids[hubspot_deal.key],
            {"dealstage": "closedwon", "closedate": f"{demo.today}T00:00:00.000Z"},
        )
        demo.deliver_hubspot(store.take_events())
        demo.won_now.append(hubspot_deal)
    if salesforce_deal:
        store = demo.store("salesforce")
        record = store.update(
            "Opportunity",
            store.firm_ids[salesforce_deal.key],
            {"StageName": _won_stage(store), "CloseDate": demo.today},
        )
        sender = demo.outbound_sender()
        notification = sender.notification("Opportunity", demo.sobject_fields(record))
        demo.deliver_outbound(sender, [notification])
        demo.won_now.append(salesforce_deal)


def _won_stage(store):
    return next(name for name, _closed, won, _rank in store.config.stages if won)


def _first_open_deal(demo, crm):
    for deal in demo.firm.deals:
        if deal.crm == crm and deal.stage == "open" and deal.line_items:
            return deal
    demo.note(f"The {crm} firm has no open deal to win during the demo.")
    return None


def count_deals(demo):
    odoo = demo.odoo
    orders = odoo.read("sale.order", [("state", "=", "sale")], ["partner_id"])
    return {
        "deals_mapped": odoo.count(
            "integration.external.id", [("res_model", "=", "sale.order")]
        ),
        "sale_orders": len(orders),
        "customers": len({row["partner_id"][0] for row in orders}),
        "projects": odoo.count("project.project", [("sale_order_id", "!=", False)]),
        "projects_mapped_to_psa": odoo.count(
            "integration.external.id",
            [
                ("res_model", "=", "project.project"),
                ("backend_id", "in", [demo.backends[kind] for kind in PSA_KINDS]),
            ],
        ),
        "projects_created_in_psa": odoo.count(
            "integration.sync.job",
            [("flow", "=", PROJECT_PUSH_FLOW), ("state", "=", "done")],
        ),
        "deals_won_during_demo": sum(
            1 for deal in demo.won_now if _order_of_deal(demo, deal)
        ),
    }


# ----------------------------------------------------------------------
# 4. Delivery
# ----------------------------------------------------------------------


def delivery(demo):
    """The nightly batches bring the approved time and expenses in."""
    _switch_on(demo, PSA_KINDS, [TIME_FLOW, EXPENSE_FLOW])
    demo.run_cron(PSA_TIME_CRON)
    for _attempt in range(5):
        if not _time_pull_in_progress(demo):
            break
        demo.run_cron(PSA_TIME_CRON)
    demo.run_cron(PSA_EXPENSE_CRON)
    demo.wait()
    _create_missing_employee(demo)


def _create_missing_employee(demo):
    """Create the consultant HR forgot from the exception, then link the other PSA.

    Create Employee on the first exception links the new employee and
    queues that PSA's waiting entries again; on the other PSA's exception,
    finance picks the new employee in Link to and presses Link.
    """
    exceptions = demo.odoo.search(
        "integration.exception",
        [
            ("category", "=", "unknown_employee"),
            ("state", "in", ("new", "in_progress")),
        ],
    )
    if not exceptions:
        demo.note("No exception was opened for the consultant missing in Odoo.")
        return
    demo.call_button(
        "integration.exception", "action_psa_create_employee", exceptions[:1]
    )
    employee = demo.odoo.search(
        "hr.employee", [("work_email", "=ilike", demo.missing_consultant.email)]
    )
    for exception_id in exceptions[1:]:
        demo.odoo.write(
            "integration.exception",
            [exception_id],
            {"link_record": f"hr.employee,{employee[0]}"},
        )
        demo.call_button("integration.exception", "action_link_record", [exception_id])


def _time_pull_in_progress(demo):
    rows = demo.odoo.read("integration.flow", [("code", "=", TIME_FLOW)], ["watermark"])
    return any('"run"' in (row["watermark"] or "") for row in rows)


def count_delivery(demo):
    odoo = demo.odoo
    timesheets = odoo.read(
        "account.analytic.line", [("project_id", "!=", False)], ["unit_amount"]
    )
    return {
        "timesheets": len(timesheets),
        "hours": round(sum(row["unit_amount"] for row in timesheets), 1),
        "timesheets_mapped_to_psa": odoo.count(
            "integration.external.id", [("res_model", "=", "account.analytic.line")]
        ),
        "expenses": odoo.count("hr.expense"),
        "exceptions_opened": odoo.grouped_count(
            "integration.exception",
            "category",
            [("backend_id", "in", [demo.backends[kind] for kind in PSA_KINDS])],
        ),
    }


# ----------------------------------------------------------------------
# 5. Billing
# ----------------------------------------------------------------------


def billing(demo):
    """A billing run per closed month; the accrual of the open month; late edits."""
    demo.runs = []
    for date_from, date_to in _closed_months(demo):
        demo.runs.append(_bill_month(demo, date_from, date_to))
    demo.wait()
    _draft_accrual(demo)
    _edit_invoiced_time(demo)


def _draft_accrual(demo):
    """Let the accrual cron draft last month, then press Compute on it.

    The cron drafts the accrual once per month, possibly when the server
    started and no time was imported yet; Compute counts it again.
    """
    demo.run_cron(ACCRUAL_CRON)
    period_end = demo.today.replace(day=1) - timedelta(days=1)
    accruals = demo.odoo.search(
        "billing.accrual",
        [("date", "=", str(period_end)), ("state", "in", ("draft", "to_review"))],
    )
    if accruals:
        demo.call_button("billing.accrual", "action_compute", accruals)
    else:
        demo.note(f"No draft accrual exists for {period_end}.")


def _closed_months(demo):
    """Yield (first day, last day) of each month up to the PSA's locked date."""
    start = demo.firm.starts_on.replace(day=1)
    while start <= demo.firm.locked_until:
        end = _month_end(start)
        yield start, end
        start = end + timedelta(days=1)


def _month_end(day):
    next_month = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return next_month - timedelta(days=1)


def _bill_month(demo, date_from, date_to):
    """Validate, preview, generate, approve and post one month's run."""
    run_id = demo.odoo.create(
        "billing.run", {"date_from": str(date_from), "date_to": str(date_to)}
    )
    for action in ("validate", "preview", "generate", "approve", "post"):
        before = _run_state(demo, run_id)
        demo.call_button("billing.run", f"action_{action}", [run_id])
        after = _run_state(demo, run_id)
        if action != "approve" and after == before:
            demo.note(
                f"Billing run of {date_from:%B %Y} stopped at {action}: {after}; "
                "see its Issues and Orders tabs."
            )
            break
    print(f"    billing run {date_from:%B %Y}: {_run_state(demo, run_id)}")
    return run_id


def _run_state(demo, run_id):
    return demo.odoo.read("billing.run", [("id", "=", run_id)], ["state"])[0]["state"]


def _edit_invoiced_time(demo):
    """Consultants add half an hour to invoiced entries in each PSA.

    Harvest changes arrive by the PSA webhook; Productive changes wait for
    the next time pull, started with the backend's Import Time Now button.
    """
    for kind in PSA_KINDS:
        store = demo.store(kind)
        store.take_events()
        for external_id in _invoiced_entry_ids(demo, kind)[:LATE_EDITS]:
            _add_half_hour(store, kind, int(external_id))
        if kind == "harvest":
            demo.post_psa_events(kind)
        else:
            demo.call_button(
                "integration.backend", "action_psa_import_time", [demo.backends[kind]]
            )


def _add_half_hour(store, kind, entry_id):
    if kind == "harvest":
        entry = store.get("time_entries", entry_id)
        store.edit_entry(entry_id, minutes=entry.minutes + 30)
    else:
        entry = store.get("time_entries", entry_id)
        minutes = entry.attributes["time"] + 30
        store.edit_entry(entry_id, time=minutes, billable_time=minutes)


def _invoiced_entry_ids(demo, kind):
    """Return the PSA ids of timesheets of this PSA already invoiced."""
    lines = demo.odoo.search(
        "account.analytic.line",
        [("timesheet_invoice_id", "!=", False), ("project_id", "!=", False)],
    )
    rows = demo.odoo.read(
        "integration.external.id",
        [
            ("backend_id", "=", demo.backends[kind]),
            ("res_model", "=", "account.analytic.line"),
            ("res_id", "in", lines),
        ],
        ["external_id"],
        limit=50,
    )
    return [row["external_id"] for row in rows]


def count_billing(demo):
    odoo = demo.odoo
    return {
        "billing_runs_posted": odoo.count("billing.run", [("state", "=", "posted")]),
        "invoices_posted": odoo.count(
            "account.move",
            [("move_type", "=", "out_invoice"), ("state", "=", "posted")],
        ),
        "credit_notes": odoo.count("account.move", [("move_type", "=", "out_refund")]),
        "accruals_to_review": odoo.count(
            "billing.accrual", [("state", "in", ("draft", "to_review"))]
        ),
        "accrued_amount": sum(
            row["amount"] for row in odoo.read("billing.accrual", [], ["amount"])
        ),
        "timesheets_invoiced": odoo.count(
            "account.analytic.line", [("timesheet_invoice_id", "!=", False)]
        ),
        "changed_after_invoicing_open": odoo.count(
            "integration.exception",
            [
                ("category", "=", "timesheet_changed_after_invoicing"),
                ("state", "in", ("new", "in_progress")),
            ],
        ),
    }


# ----------------------------------------------------------------------
# 6. Money
# ----------------------------------------------------------------------


def money(demo):
    """Customers pay; the invoice and payment status reaches each deal."""
    invoices = demo.odoo.read(
        "account.move",
        [("move_type", "=", "out_invoice"), ("state", "=", "posted")],
        ["amount_residual"],
        order="invoice_date, id",
    )
    paid = min(int(len(invoices) * PAID_SHARE), MAX_PAID)
    partly = max(1, int((len(invoices) - paid) * PARTLY_PAID_SHARE))
    for invoice in invoices[:paid]:
        _register_payment(demo, invoice, invoice["amount_residual"])
    for invoice in invoices[paid : paid + partly]:
        _register_payment(demo, invoice, round(invoice["amount_residual"] / 2, 2))
    demo.wait()
    demo.run_cron(STATUS_PUSH_CRON)


def _register_payment(demo, invoice, amount):
    """Register a payment with Odoo's Register Payment wizard."""
    context = {"active_model": "account.move", "active_ids": [invoice["id"]]}
    wizard_id = demo.odoo.create(
        "account.payment.register",
        {"amount": amount, "payment_date": str(demo.today)},
        context=context,
    )
    demo.call_button(
        "account.payment.register", "action_create_payments", [wizard_id],
        context=context,
    )  # fmt: skip


def crm_deal_statuses(demo):
    """Return {status: deals} as the CRMs now show the invoice status."""
    statuses = {}
    hubspot = demo.store("hubspot")
    for record in hubspot.live("deals"):
        status = record.properties.get("odoo_invoice_status")
        if status:
            statuses[f"hubspot {status}"] = statuses.get(f"hubspot {status}", 0) + 1
    for record in demo.store("salesforce").rows("Opportunity"):
        status = record.get("Odoo_Invoice_Status__c")
        if status:
            key = f"salesforce {status}"
            statuses[key] = statuses.get(key, 0) + 1
    return statuses


def count_money(demo):
    odoo = demo.odoo
    statuses = crm_deal_statuses(demo)
    return {
        "payments": odoo.count("account.payment"),
        "invoices_paid": odoo.count(
            "account.move",
            [
                ("move_type", "=", "out_invoice"),
                ("payment_state", "in", ("paid", "in_payment")),
            ],
        ),
        "invoices_partly_paid": odoo.count(
            "account.move",
            [("move_type", "=", "out_invoice"), ("payment_state", "=", "partial")],
        ),
        "status_pushes_done": odoo.count(
            "integration.sync.job",
            [("flow", "=", "crm.deal_push"), ("state", "=", "done")],
        ),
        "deals_with_status_in_crm": sum(statuses.values()),
        "deal_statuses_in_crm": statuses,
    }


# ----------------------------------------------------------------------
# Summary
# ----------------------------------------------------------------------


def dashboard(demo):
    """Refresh the executive figures and return the dashboard card's values."""
    demo.run_cron(FIGURES_CRON)
    fields = [
        "pipeline",
        "backlog",
        "wip",
        "invoiced_month",
        "invoiced_last_month",
        "collected_month",
        "outstanding",
        "margin_month",
        "realisation_rate",
        "utilization_rate",
        "open_alert_count",
        "runs_to_approve",
    ]
    cards = demo.odoo.read("billing.dashboard", [], fields)
    figures = {name: round(cards[0][name], 2) for name in fields} if cards else {}
    figures["figure_rows"] = demo.odoo.count("billing.figure")
    return figures


WHERE_TO_LOOK = {
    "Integrations > Exceptions": "the queue a finance user works from",
    "Integrations > Sync Jobs": "what ran, what was retried, what died",
    "Integrations > Audit Log": "every exchange, by correlation ID",
    "Invoicing > Billing Control > Billing Runs": "one run per closed month",
    "Invoicing > Billing Control > Dashboard": "the executive figures",
    "Invoicing > Billing Control > Unbilled Revenue Accruals": "the open month",
    "Sales > Orders": "orders made from won deals",
    "Project > Projects": "projects, mapped to the PSAs by code",
}


def summarize(demo):
    """Return the demo's summary: counts per step, dashboard, notes."""
    return {
        "steps": demo.steps,
        "dashboard": dashboard(demo),
        "notes": demo.notes,
        "logins": {
            "admin": "admin / admin",
            FINANCE_LOGIN: f"{FINANCE_LOGIN} / {FINANCE_LOGIN} "
            "(Integration Manager, invoicing)",
        },
        "where_to_look": WHERE_TO_LOOK,
    }


STEPS = [
    ("1. Configure the backends", configure, count_configuration),
    ("2. Master data: accounts and contacts", master_data, count_master_data),
    ("3. Deals: orders, projects, the PSA", deals, count_deals),
    ("4. Delivery: time and expenses", delivery, count_delivery),
    ("5. Billing: runs, accrual, late edits", billing, count_billing),
    ("6. Money: payments and status to the CRM", money, count_money),
    ("7. Faults on the way", faults, count_faults),
]
