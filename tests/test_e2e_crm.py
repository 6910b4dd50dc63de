"""The CRM bridge end to end: emulators, a real Odoo server, real HTTP.

The HubSpot and Salesforce emulators serve the small fake firm. A real
Odoo server process takes signed HubSpot webhook batches and Salesforce
Outbound Messages on its public routes, and runs Sync Now over XML-RPC.
The sync queue runs in this process with the real worker, each job in its
own committed transaction. Faults (HTTP 429, expired tokens) are injected
in the emulators.

These tests commit to the test database, so the module fixture removes
the backends, jobs, mappings and audit entries it made. It deletes the
orders, partners and projects where Odoo allows it and archives the rest.
"""

import time
import uuid
import xmlrpc.client
from datetime import date

import pytest

from odoo import SUPERUSER_ID, api
from odoo.tools import config
from tests.bench.servers import server_on_test_database
from tests.emulators import start_emulators
from tests.emulators.senders import HubSpotWebhookSender, OutboundMessageSender

ADMIN_LOGIN = ADMIN_PASSWORD = "admin"
# Names made by this run, so leftovers of a run on the same database never match.
RUN = uuid.uuid4().hex[:6]
SALESFORCE_TOKEN = "e2e-crm-outbound-token"
PRODUCTS = {
    "CONSULT-HOUR": "delivered_timesheet",
    "MILESTONE": "delivered_milestones",
    "RETAINER-MONTH": "ordered_prepaid",
}
CURRENCIES = ("EUR", "GBP", "USD", "JPY")


@pytest.fixture(scope="module")
def emulators():
    with start_emulators(
        size="small", seed=1234, systems=("hubspot", "salesforce")
    ) as running:
        yield running


@pytest.fixture(scope="module")
def server():
    """One real Odoo server process on the test database, without cron threads."""
    with server_on_test_database() as process:
        yield process


def environment(cr):
    return api.Environment(cr, SUPERUSER_ID, {})


def setup_catalog(env):
    """Create service products for the firm's product codes; activate currencies.

    Returns the ids of the products and of the currencies activated here.
    """
    Product = env["product.product"]
    products = Product.create(
        [
            {
                "name": f"E2E {code}",
                "default_code": code,
                "type": "service",
                "service_tracking": "task_in_project",
                "service_policy": policy,
            }
            for code, policy in PRODUCTS.items()
        ]
    )
    currencies = (
        env["res.currency"]
        .with_context(active_test=False)
        .search([("name", "in", CURRENCIES), ("active", "=", False)])
    )
    currencies.active = True
    return products.ids, currencies.ids


def create_backends(env, emulators):
    """Create the HubSpot and Salesforce backends of the emulators; return ids."""
    hubspot_config = emulators.hubspot.store.config
    salesforce_config = emulators.salesforce.store.config
    common = {"rate_limit_requests": 1000, "retry_base_seconds": 1, "max_attempts": 8}
    hubspot = env["integration.backend"].create(
        dict(
            common,
            name="E2E HubSpot",
            kind="hubspot",
            base_url=emulators.hubspot.url,
            api_token=hubspot_config.private_app_token,
            client_secret=hubspot_config.client_secret,
            account_ref=str(hubspot_config.portal_id),
            hubspot_signature_versions="v1,v3",
            crm_vat_field="vat_number",
        )
    )
    salesforce = env["integration.backend"].create(
        dict(
            common,
            name="E2E Salesforce",
            kind="salesforce",
            base_url=emulators.salesforce.url,
            client_id=salesforce_config.client_id,
            client_secret=salesforce_config.client_secret,
            account_ref=salesforce_config.org_id,
            webhook_secret=SALESFORCE_TOKEN,
            crm_vat_field="VAT_Number__c",
            salesforce_multicurrency=True,
        )
    )
    hubspot.action_crm_ensure_properties()
    return hubspot.id, salesforce.id


@pytest.fixture(scope="module")
def crm(registry, emulators):
    """The firm's catalog in Odoo and the two CRM backends, removed afterwards."""
    with registry.cursor() as cr:
        env = environment(cr)
        product_ids, currency_ids = setup_catalog(env)
        hubspot_id, salesforce_id = create_backends(env, emulators)
    yield {"hubspot": hubspot_id, "salesforce": salesforce_id}
    with registry.cursor() as cr:
        remove_crm_data(environment(cr), [hubspot_id, salesforce_id])
        env = environment(cr)
        env["product.product"].browse(product_ids).write({"active": False})
        env["res.currency"].browse(currency_ids).write({"active": False})


def remove_crm_data(env, backend_ids):
    """Delete what the backends made where Odoo allows it, archive the rest.

    Cancelled orders are deleted. Partners and projects that posted invoices
    refer to cannot be deleted, so they are archived instead.
    """
    mappings = env["integration.external.id"].search(
        [("backend_id", "in", backend_ids)]
    )
    ids = {}
    for mapping in mappings:
        ids.setdefault(mapping.res_model, set()).add(mapping.res_id)
    orders = env["sale.order"].browse(list(ids.get("sale.order", ()))).exists()
    projects = orders.project_ids
    orders.invoice_ids.filtered(lambda move: move.state == "draft").unlink()
    orders.with_context(disable_cancel_warning=True)._action_cancel()
    partners = env["res.partner"].browse(list(ids.get("res.partner", ()))).exists()
    for records in (*orders, *projects, *partners.sorted(lambda p: p.is_company)):
        try:
            with env.cr.savepoint():
                records.unlink()
        except Exception:  # noqa: BLE001 - kept, as invoices refer to it
            records.write({"active": False})
    cr = env.cr
    for table in (
        "integration_exception",
        "integration_audit_log",
        "integration_sync_job",
    ):
        cr.execute(f"DELETE FROM {table} WHERE backend_id = ANY(%s)", [backend_ids])
    mappings.unlink()
    env["integration.backend"].browse(backend_ids).unlink()


def run_queue(registry, rounds=6):
    """Run the queue until it is empty; retried jobs are made due each round.

    Making a retried job due is the same as waiting out its backoff delay.
    """
    total = 0
    for _round in range(rounds):
        with registry.cursor() as cr:
            cr.execute(
                "UPDATE integration_sync_job SET next_attempt_at = now() at time zone 'utc'"
                " - interval '1 second' WHERE state = 'pending'"
            )
        with registry.cursor() as cr:
            ran = environment(cr)["integration.sync.job"]._cron_run_jobs(time_limit=120)
        total += ran
        if not ran:
            break
    return total


def rpc(server, model, method, *args):
    """Call `model.method(*args)` on the server over XML-RPC, as the administrator."""
    common = xmlrpc.client.ServerProxy(f"{server.url}/xmlrpc/2/common")
    uid = common.authenticate(config["db_name"], ADMIN_LOGIN, ADMIN_PASSWORD, {})
    assert uid, "the administrator cannot log in with the default password"
    models = xmlrpc.client.ServerProxy(f"{server.url}/xmlrpc/2/object", allow_none=True)
    return models.execute_kw(
        config["db_name"], uid, ADMIN_PASSWORD, model, method, list(args)
    )


def resolve(registry, backend_id, res_model, external_id):
    """Return the Odoo id mapped to an external id, or None."""
    with registry.cursor() as cr:
        cr.execute(
            "SELECT res_id FROM integration_external_id WHERE backend_id = %s"
            " AND res_model = %s AND external_id = %s",
            [backend_id, res_model, str(external_id)],
        )
        row = cr.fetchone()
    return row[0] if row else None


def read(registry, model, record_id, fields):
    """Return `record.read(fields)` (many2one as (id, name)) and a project count."""
    with registry.cursor() as cr:
        record = (
            environment(cr)[model].with_context(active_test=False).browse(record_id)
        )
        values = record.read(fields)[0]
        if model == "sale.order":
            values["project_count"] = len(record.project_ids)
        return values


def jobs_report(registry, backend_id):
    """Return flow, state, result and last error of a backend's jobs, for messages."""
    with registry.cursor() as cr:
        cr.execute(
            "SELECT flow, state, result, last_error FROM integration_sync_job"
            " WHERE backend_id = %s ORDER BY id",
            [backend_id],
        )
        return cr.fetchall()


def count(registry, sql, params):
    with registry.cursor() as cr:
        cr.execute(sql, params)
        return cr.fetchone()[0]


def hubspot_sender(server, backend_id, emulators):
    return HubSpotWebhookSender(
        f"{server.url}/integration/webhook/hubspot/{backend_id}",
        emulators.hubspot.store.config.client_secret,
        sleep=lambda _seconds: None,
    )


def seed_hubspot_sale(store, name):
    """Create, as a user would, a company, two contacts and a won deal.

    Returns (company, contacts, deal); the writes produce webhook events.
    """
    domain = f"{name.lower().replace(' ', '-')}.example"
    company = store.create(
        "companies", {"name": name, "domain": domain, "country": "United Kingdom"}
    )
    contacts = []
    for first in ("Ada", "Grace"):
        contact = store.create(
            "contacts",
            {
                "email": f"{first.lower()}@{domain}",
                "firstname": first,
                "lastname": "Webhook",
            },
        )
        store.associate("contacts", contact.id, "companies", company.id)
        contacts.append(contact)
    deal = store.create(
        "deals",
        {
            "dealname": f"{name} rollout",
            "pipeline": "default",
            "dealstage": "closedwon",
            "amount": "11000",
            "deal_currency_code": "GBP",
        },
    )
    store.associate("deals", deal.id, "companies", company.id)
    for label, quantity, price, sku in (
        ("Hours", 40, 150, "CONSULT-HOUR"),
        ("Go-live", 1, 5000, "MILESTONE"),
    ):
        item = store.create(
            "line_items",
            {
                "name": label,
                "quantity": str(quantity),
                "price": str(price),
                "hs_sku": sku,
            },
        )
        store.associate("line_items", item.id, "deals", deal.id)
    return company, contacts, deal


def test_webhooks_give_one_customer_order_and_project(registry, emulators, crm, server):
    store = emulators.hubspot.store
    store.take_events()
    company, contacts, deal = seed_hubspot_sale(store, f"E2E Webhook {RUN} Ltd")
    events = store.take_events()
    sender = hubspot_sender(server, crm["hubspot"], emulators)
    first = sender.send(events)
    again = sender.send(events)
    jobs_after_first = count(
        registry,
        "SELECT count(*) FROM integration_sync_job WHERE backend_id = %s",
        [crm["hubspot"]],
    )
    run_queue(registry)

    assert all(delivery.delivered for delivery in first + again)
    assert jobs_after_first == len(events)
    customer_id = resolve(registry, crm["hubspot"], "res.partner", company.id)
    order_id = resolve(registry, crm["hubspot"], "sale.order", deal.id)
    assert customer_id
    assert order_id, jobs_report(registry, crm["hubspot"])
    order = read(
        registry, "sale.order", order_id, ["state", "partner_id", "currency_id"]
    )
    assert order["state"] == "sale"
    assert order["partner_id"][0] == customer_id
    assert order["currency_id"][1] == "GBP"
    assert order["project_count"] == 1
    for contact in contacts:
        person_id = resolve(registry, crm["hubspot"], "res.partner", contact.id)
        assert (
            read(registry, "res.partner", person_id, ["parent_id"])["parent_id"][0]
            == customer_id
        )
    assert (
        count(
            registry,
            "SELECT count(*) FROM res_partner WHERE name = %s",
            [f"E2E Webhook {RUN} Ltd"],
        )
        == 1
    )
    assert (
        count(
            registry,
            "SELECT count(*) FROM sale_order WHERE partner_id = %s",
            [customer_id],
        )
        == 1
    )

    older = [
        dict(event, eventId=event["eventId"] + 900000, occurredAt=1717400000000)
        for event in events
        if event["subscriptionType"] == "deal.creation"
    ]
    sender.send(older)
    run_queue(registry)
    skipped = count(
        registry,
        "SELECT count(*) FROM integration_sync_job WHERE backend_id = %s"
        " AND result LIKE 'Skipped%%'",
        [crm["hubspot"]],
    )
    assert skipped >= 1


def test_paid_invoice_shows_on_the_deal(registry, emulators, crm, server):
    store = emulators.hubspot.store
    store.take_events()
    _company, _contacts, deal = seed_hubspot_sale(store, f"E2E Paying {RUN} Ltd")
    hubspot_sender(server, crm["hubspot"], emulators).send(store.take_events())
    run_queue(registry)
    order_id = resolve(registry, crm["hubspot"], "sale.order", deal.id)
    with registry.cursor() as cr:
        env = environment(cr)
        order = env["sale.order"].browse(order_id)
        order.project_ids.milestone_ids.write({"is_reached": True})
        invoice = order._create_invoices()
        invoice.action_post()
        env["account.payment.register"].with_context(
            active_model="account.move", active_ids=invoice.ids
        ).create({"amount": invoice.amount_total}).action_create_payments()
        total = invoice.amount_total
    run_queue(registry)

    properties = store.get("deals", deal.id).properties
    assert properties["odoo_invoice_status"] == "paid"
    assert float(properties["odoo_amount_paid"]) == pytest.approx(total)
    assert float(properties["odoo_amount_due"]) == 0.0
    assert properties["odoo_project_url"]


def test_sync_now_polls_the_firm_once(registry, emulators, crm, server):
    firm = emulators.firm
    backends = [crm["hubspot"], crm["salesforce"]]
    rpc(server, "integration.backend", "action_crm_sync_now", backends)
    run_queue(registry)
    stores = {
        "hubspot": emulators.hubspot.store,
        "salesforce": emulators.salesforce.store,
    }
    for deal in firm.deals:
        backend_id = crm[deal.crm]
        order_id = resolve(
            registry, backend_id, "sale.order", stores[deal.crm].firm_ids[deal.key]
        )
        assert bool(order_id) == (deal.stage == "won"), deal.key
        if order_id:
            client_id = stores[deal.crm].firm_ids[deal.client_key]
            customer_id = resolve(registry, backend_id, "res.partner", client_id)
            order = read(registry, "sale.order", order_id, ["partner_id", "state"])
            assert order["partner_id"][0] == customer_id
            assert order["state"] == "sale"
            assert order["project_count"] == 1
    for client in firm.clients:
        assert (
            count(
                registry,
                "SELECT count(*) FROM res_partner WHERE name = %s AND active",
                [client.name],
            )
            == 1
        ), client.key

    orders = count(registry, "SELECT count(*) FROM sale_order", [])
    partners = count(registry, "SELECT count(*) FROM res_partner", [])
    rpc(server, "integration.backend", "action_crm_sync_now", backends)
    run_queue(registry)
    assert count(registry, "SELECT count(*) FROM sale_order", []) == orders
    assert count(registry, "SELECT count(*) FROM res_partner", []) == partners


def test_rate_limits_and_expired_token_lose_nothing(registry, emulators, crm, server):
    salesforce = emulators.salesforce
    store = salesforce.store
    account = store.add_account(f"E2E Storm {RUN} Ltd", BillingCountry="United Kingdom")
    opportunity = store.add_opportunity(
        "E2E Storm deal",
        "Closed Won",
        date(2024, 6, 3),
        account_id=account["Id"],
        Amount=2500.0,
        CurrencyIsoCode="GBP",
    )
    sender = OutboundMessageSender(
        f"{server.url}/integration/webhook/salesforce/{crm['salesforce']}"
        f"?token={SALESFORCE_TOKEN}",
        store.config.org_id,
        sleep=lambda _seconds: None,
    )
    notification = sender.notification(
        "Opportunity",
        {"Id": opportunity["Id"], "StageName": "Closed Won", "IsWon": True},
    )
    salesforce.faults.status(429, times=4, retry_after=1, path="/services/data")
    salesforce.faults.expire_tokens()
    (delivery,) = sender.send([notification])
    started = time.monotonic()
    run_queue(registry, rounds=10)

    assert delivery.delivered
    assert time.monotonic() - started < 120
    order_id = resolve(registry, crm["salesforce"], "sale.order", opportunity["Id"])
    assert order_id
    assert read(registry, "sale.order", order_id, ["state"])["state"] == "sale"
    retries = count(
        registry,
        "SELECT count(*) FROM integration_audit_log WHERE backend_id = %s"
        " AND outcome = 'retry'",
        [crm["salesforce"]],
    )
    assert retries >= 1
    fired = [kind for kind, _method, _path in salesforce.faults.fired]
    assert fired.count("status") == 4
    assert (
        count(
            registry,
            "SELECT count(*) FROM sale_order WHERE partner_id = %s",
            [resolve(registry, crm["salesforce"], "res.partner", account["Id"])],
        )
        == 1
    )
