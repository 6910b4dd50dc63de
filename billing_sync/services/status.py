"""Invoice status back to the CRM and invoice links to the PSA, as sync jobs.

Jobs carry an idempotency key built from the invoice and the status sent,
so the same status is queued once however often it is pushed, and every
change of state, payment state or residual amount is queued once more.
"""

CRM_KINDS = ("hubspot", "salesforce")
PSA_KINDS = ("harvest", "productive")
CRM_STATUS_FLOW = "crm.invoice_status"
CRM_BRIDGE_FLOW = "crm.deal_push"
CRM_BRIDGE_PUSH = "crm.bridge.deal.push"
PSA_LINK_FLOW = "psa.invoice_link"


def status_signature(move):
    """Return the text that changes whenever the CRM should hear of `move` again."""
    residual = move.currency_id.round(move.amount_residual)
    return f"{move.state}:{move.payment_state}:{residual}"


def crm_deal_mappings(move):
    """Return the CRM mappings of the orders or opportunities `move` bills."""
    orders = move.line_ids.sale_line_ids.order_id
    domain = [
        ("backend_id.kind", "in", CRM_KINDS),
        ("is_alias", "=", False),
        "|",
        "&",
        ("res_model", "=", "sale.order"),
        ("res_id", "in", orders.ids),
        "&",
        ("res_model", "=", "crm.lead"),
        ("res_id", "in", orders.opportunity_id.ids),
    ]
    return move.env["integration.external.id"].sudo().search(domain)


def crm_status_payload(move, mapping):
    """Return the payload of one invoice status job for one mapped deal."""
    return {
        "invoice_id": move.id,
        "invoice_number": move.name,
        "move_type": move.move_type,
        "state": move.state,
        "payment_state": move.payment_state,
        "amount_total": move.amount_total,
        "amount_residual": move.amount_residual,
        "currency": move.currency_id.name,
        "invoice_date": str(move.invoice_date or ""),
        "invoice_date_due": str(move.invoice_date_due or ""),
        "orders": move.line_ids.sale_line_ids.order_id.mapped("name"),
        "deal_model": mapping.res_model,
        "deal_external_id": mapping.external_id,
        "url": f"{move.get_base_url()}/odoo/account.move/{move.id}",
    }


def enqueue_crm_status(move):
    """Queue the status of `move` for its mapped CRM deals; return the jobs.

    The CRM bridge's deal push is used when it is installed; otherwise one
    `crm.invoice_status` job per mapped deal carries the status.
    """
    if CRM_BRIDGE_PUSH in move.env:
        orders = move.line_ids.sale_line_ids.order_id
        return move.env[CRM_BRIDGE_PUSH].sudo()._enqueue_invoice_status(orders)
    Job = move.env["integration.sync.job"].sudo()
    signature = status_signature(move)
    jobs = Job.browse()
    for mapping in crm_deal_mappings(move):
        jobs |= Job._enqueue(
            mapping.backend_id,
            CRM_STATUS_FLOW,
            f"{CRM_STATUS_FLOW}:{move.id}:{mapping.external_id}:{signature}",
            crm_status_payload(move, mapping),
            direction="outbound",
            external_model=mapping.external_model or mapping.res_model,
            external_id=mapping.external_id,
            res_model="account.move",
            res_id=move.id,
        )
    return jobs


def enqueue_psa_links(move):
    """Queue an invoice link per PSA backend whose time `move` bills.

    Only backends whose connector registers a handler for the link flow
    get a job: a PSA whose API takes no invoice reference gets nothing.
    """
    Job = move.env["integration.sync.job"].sudo()
    if PSA_LINK_FLOW not in Job._get_flow_handlers():
        return Job.browse()
    mappings = (
        move.env["integration.external.id"]
        .sudo()
        .search(
            [
                ("backend_id.kind", "in", PSA_KINDS),
                ("res_model", "=", "account.analytic.line"),
                ("res_id", "in", move.timesheet_ids.ids),
                ("is_alias", "=", False),
            ]
        )
    )
    jobs = Job.browse()
    for backend in mappings.backend_id:
        entries = mappings.filtered(lambda m, b=backend: m.backend_id == b)
        jobs |= Job._enqueue(
            backend,
            PSA_LINK_FLOW,
            f"{PSA_LINK_FLOW}:{move.id}:{move.state}",
            {
                "invoice_id": move.id,
                "invoice_number": move.name,
                "state": move.state,
                "time_entry_ids": entries.mapped("external_id"),
            },
            direction="outbound",
            res_model="account.move",
            res_id=move.id,
        )
    return jobs


def job_mentions_deal(job, external_id):
    """Return True when status job `job` carries the status of deal `external_id`."""
    payload = job.payload if isinstance(job.payload, dict) else {}
    if payload.get("deal_external_id") == external_id:
        return True
    deals = payload.get("deals")
    return isinstance(deals, dict) and external_id in deals
