"""Steps 2 and 3 of the demo: master data and won deals from the CRMs.

Sales reps change records in HubSpot and Salesforce, whose webhooks bring
them in; the poll cron brings the rest. Won deals become confirmed orders
and projects, which are mapped to those the firm already runs in the PSAs.
A deal won during the demo gets its project created in Harvest.
"""

from demo_context import (
    CRM_KINDS,
    PROJECT_PUSH_FLOW,
    PSA_KINDS,
    WEBHOOK_CLIENTS,
    switch_on,
)

CRM_POLL_CRON = "crm_bridge.ir_cron_crm_poll"


def master_data(demo):
    """Bring accounts and contacts in by webhook and by polling."""
    _send_hubspot_changes(demo)
    _send_salesforce_changes(demo)
    demo.run_cron(CRM_POLL_CRON)


def _send_hubspot_changes(demo):
    """Update companies and contacts as sales reps do; post HubSpot's events."""
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
    """Update accounts and contacts as sales reps do; send Outbound Messages."""
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


def _partners_mapped(demo, external_models):
    """Return how many partners are mapped to CRM records of these types."""
    return demo.odoo.count(
        "integration.external.id",
        [
            ("backend_id", "in", [demo.backends[kind] for kind in CRM_KINDS]),
            ("res_model", "=", "res.partner"),
            ("external_model", "in", external_models),
        ],
    )


def count_master_data(demo):
    """Return the partners mapped, matched and the jobs of each intake."""
    odoo = demo.odoo
    companies = _partners_mapped(demo, ["companies", "Account"])
    contacts = _partners_mapped(demo, ["contacts", "Contact"])
    return {
        "partners_from_crm": companies + contacts,
        "companies_mapped": companies,
        "contacts_mapped": contacts,
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
    """Turn won deals into orders and projects, and map them to the PSAs."""
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
    switch_on(demo, ["harvest"], [PROJECT_PUSH_FLOW])


def _win_open_deals(demo):
    """Win an open deal in each CRM; webhooks bring both deals in."""
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
    """Return the deals mapped, orders, customers and projects in Odoo and PSAs."""
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
