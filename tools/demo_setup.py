"""Step 1 of the demo: the firm's company, people, products and backends.

The company bills in EUR with a rate each month, and all consultants but
one are employees. The products carry the SKUs of the CRM line items and
the PSAs' expense categories. Before going live, Odoo has partners for
six clients and one more client twice. Each backend points at its
emulator with the emulator's test credentials and a webhook secret; the
PSA flows start switched off.
"""

import secrets
from datetime import timedelta

from demo_context import (
    CRM_KINDS,
    EXPENSE_FLOW,
    FINANCE_LOGIN,
    PROJECT_PUSH_FLOW,
    PSA_KINDS,
    TIME_FLOW,
    WEBHOOK_CLIENTS,
    month_end,
)

from tests.emulators.firm_model import (
    FX_FROM_EUR,
    LOCKED_REASON_INVOICED,
    LOCKED_REASON_PERIOD,
)

CURRENCIES = ("EUR", "USD", "GBP", "JPY")
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
    window = (demo.today - month_end(demo.firm.starts_on)).days + 5
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
        day = month_end(day) + timedelta(days=1)
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
    """Return a client of `crm` with no won or open deal, past those used above.

    Its name is in Latin script, so the README's screenshot of the
    exception queue renders on machines without CJK fonts.
    """
    busy = {deal.client_key for deal in demo.firm.deals if deal.stage != "lost"}
    clients = demo.firm.clients_in(crm)[3 + WEBHOOK_CLIENTS :]
    return next(
        client
        for client in clients
        if client.key not in busy and all(ord(char) < 0x2000 for char in client.name)
    )


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
    the backend, so no cron run finds the backend without them.
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
    """Return the backends, employees, products and deal stages set up."""
    odoo = demo.odoo
    return {
        "backends": odoo.count("integration.backend"),
        "consultants_as_employees": odoo.count(
            "hr.employee", [("work_email", "=ilike", f"%@{demo.firm.domain}")]
        ),
        "service_products": odoo.count(
            "product.product", [("default_code", "in", list(PRODUCTS))]
        ),
        "deal_stages_loaded": odoo.count("crm.bridge.pipeline.stage"),
    }
