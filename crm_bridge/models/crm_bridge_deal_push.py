"""Invoice status and project links written back to CRM deals.

When an invoice of an order made from a deal is created, posted, sent,
paid, partly paid or reversed, the order's invoice status and amounts
invoiced, paid and due are queued for the deal. One `crm.deal_push` job
per backend and transaction carries the deals that changed, and is sent
in batches: 100 deals per HubSpot batch update, 200 records per Salesforce
sObject collection.

The last values queued per deal are kept as a digest on the deal's
mapping, so an unchanged status is not sent again. The bridge's own
writes never come back as changes: HubSpot events about these properties
are ignored, and the deal sync does not read them.
"""

import hashlib
import json
from collections import defaultdict

from odoo import _, api, fields, models
from odoo.addons.integration_audit.services.errors import BusinessError
from odoo.tools import float_round

# The deal fields the bridge writes, by CRM.
HUBSPOT_PROPERTIES = {
    "invoice_status": "odoo_invoice_status",
    "amount_invoiced": "odoo_amount_invoiced",
    "amount_paid": "odoo_amount_paid",
    "amount_due": "odoo_amount_due",
    "order_ref": "odoo_order_ref",
    "project_name": "odoo_project_name",
    "project_url": "odoo_project_url",
}
SALESFORCE_FIELDS = {
    "invoice_status": "Odoo_Invoice_Status__c",
    "amount_invoiced": "Odoo_Amount_Invoiced__c",
    "amount_paid": "Odoo_Amount_Paid__c",
    "amount_due": "Odoo_Amount_Due__c",
    "order_ref": "Odoo_Order_Ref__c",
    "project_name": "Odoo_Project_Name__c",
    "project_url": "Odoo_Project_URL__c",
}
OWN_HUBSPOT_PROPERTIES = frozenset(HUBSPOT_PROPERTIES.values())
INVOICE_STATUSES = ("draft", "posted", "sent", "paid", "partially_paid", "reversed")
PAID_STATES = ("paid", "in_payment")
NUMBER_KEYS = ("amount_invoiced", "amount_paid", "amount_due")
# Deals per job; the handler splits them further to each API's batch size.
DEALS_PER_JOB = 200


def _digest(values):
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()


class CrmBridgeDealPush(models.AbstractModel):
    _name = "crm.bridge.deal.push"
    _description = "CRM Deal Status Push"

    @api.model
    def _enqueue_invoice_status(self, orders):
        """Queue the invoice status of `orders` for their CRM deals.

        The entry point for billing runs and invoice changes alike; orders
        without a CRM deal and unchanged statuses are skipped. Returns the
        jobs queued.
        """
        values_by_order = {}
        for order in orders.sudo():
            values = self._invoice_values(order)
            if values:
                values_by_order[order] = values
        return self._enqueue(values_by_order, "invoice_status")

    @api.model
    def _enqueue_project_link(self, order):
        """Queue the order reference and project link for the order's deal."""
        project = order.project_ids[:1] or order.project_id
        values = {"order_ref": order.name}
        if project:
            base_url = project.get_base_url()
            values.update(
                project_name=project.name,
                project_url=f"{base_url}/web#model=project.project&id={project.id}"
                "&view_type=form",
            )
        return self._enqueue({order: values}, "project_link")

    @api.model
    def _enqueue(self, values_by_order, topic):
        """Queue `values_by_order` unless each deal already got those values.

        `topic` names the group of values, so the digest of the invoice
        status and that of the project link are compared separately.
        """
        deals_by_backend = defaultdict(dict)
        for order, values in values_by_order.items():
            digest = _digest(values)
            for mapping in order._crm_mappings():
                pushed = dict(mapping.crm_pushed_digests or {})
                if pushed.get(topic) == digest:
                    continue
                pushed[topic] = digest
                mapping.crm_pushed_digests = pushed
                deals_by_backend[mapping.backend_id][mapping.external_id] = values
        jobs = self.env["integration.sync.job"]
        for backend, deals in deals_by_backend.items():
            jobs |= self._enqueue_jobs(backend, deals)
        return jobs

    @api.model
    def _enqueue_jobs(self, backend, deals):
        """Queue `deals` for `backend`, in the job this transaction opened if any.

        Callers that queue invoice by invoice (a billing run posting many)
        then still send one batch per backend and transaction. Only a job
        created in this transaction (its creation time is the transaction's
        start) and not yet run is extended, so no worker can have read it.
        A deal already in that job gets a new job instead, so each status it
        went through is sent in order.
        """
        job = (
            self.env["integration.sync.job"]
            .sudo()
            .search(
                [
                    ("backend_id", "=", backend.id),
                    ("flow", "=", "crm.deal_push"),
                    ("state", "=", "pending"),
                    ("attempts", "=", 0),
                    ("create_date", "=", self.env.cr.now()),
                ],
                order="id desc",
                limit=1,
            )
        )
        queued = (job.payload or {}).get("deals", {})
        fits = len(queued) + len(deals) <= DEALS_PER_JOB
        if job and fits and not set(queued) & set(deals):
            job.payload = {"deals": {**queued, **deals}}
            return job
        return self._create_jobs(backend, deals)

    @api.model
    def _create_jobs(self, backend, deals):
        Job = self.env["integration.sync.job"].sudo()
        refs = sorted(deals)
        jobs = Job.browse()
        stamp = fields.Datetime.now().isoformat()
        for start in range(0, len(refs), DEALS_PER_JOB):
            chunk = {ref: deals[ref] for ref in refs[start : start + DEALS_PER_JOB]}
            key = f"crm:deal_push:{_digest(chunk)}:{stamp}"
            jobs |= Job._enqueue(
                backend,
                "crm.deal_push",
                key,
                payload={"deals": chunk},
                direction="outbound",
            )
        return jobs

    # ------------------------------------------------------------------
    # Invoice status
    # ------------------------------------------------------------------

    @api.model
    def _invoice_values(self, order):
        """Return the invoice status and amounts of `order`, or None."""
        moves = order.invoice_ids.filtered(
            lambda move: (
                move.move_type in ("out_invoice", "out_refund")
                and move.state != "cancel"
            )
        )
        if not moves:
            return None
        posted = moves.filtered(lambda move: move.state == "posted")
        currency = order.currency_id
        invoiced = due = 0.0
        for move in posted:
            sign = -1 if move.move_type == "out_refund" else 1
            invoiced += sign * move.amount_total
            due += sign * move.amount_residual
        values = {
            "invoice_status": self._status(moves, posted),
            "amount_invoiced": float_round(
                invoiced, precision_rounding=currency.rounding
            ),
            "amount_paid": float_round(
                invoiced - due, precision_rounding=currency.rounding
            ),
            "amount_due": float_round(due, precision_rounding=currency.rounding),
        }
        return values

    @api.model
    def _status(self, moves, posted):
        """Return one of INVOICE_STATUSES for the invoices of one order."""
        invoices = posted.filtered(lambda move: move.move_type == "out_invoice")
        if not invoices:
            return "draft" if not posted else "reversed"
        live = invoices.filtered(lambda move: move.payment_state != "reversed")
        if not live:
            return "reversed"
        if all(move.payment_state in PAID_STATES for move in live):
            return "paid"
        if any(move.payment_state in (*PAID_STATES, "partial") for move in live):
            return "partially_paid"
        if any(move.is_move_sent for move in live):
            return "sent"
        return "posted"

    # ------------------------------------------------------------------
    # Sending
    # ------------------------------------------------------------------

    @api.model
    def _send(self, job):
        """Write the job's deal values to the CRM; return a summary."""
        deals = (job.payload or {}).get("deals") or {}
        backend = job.backend_id
        client = backend._crm_client(job)
        if backend.kind == "hubspot":
            errors = self._send_hubspot(client, deals)
        else:
            errors = self._send_salesforce(client, deals)
        if errors:
            raise BusinessError(
                _(
                    "The CRM rejected %(count)d of %(total)d deal updates: "
                    "%(errors)s. Create the missing deal fields (Create CRM Fields on "
                    "the backend) or correct the deals, then retry.",
                    count=len(errors),
                    total=len(deals),
                    errors=json.dumps(errors)[:1500],
                ),
                category="remote_rejected",
            )
        return _("%(count)d deals updated", count=len(deals))

    @api.model
    def _send_hubspot(self, client, deals):
        """Batch-update deal properties; return the errors of a 207 response."""
        inputs = [
            {"id": ref, "properties": self._remote_values(values, HUBSPOT_PROPERTIES)}
            for ref, values in deals.items()
        ]
        return client.batch_update("deals", inputs)

    @api.model
    def _send_salesforce(self, client, deals):
        """Update opportunities by sObject collections; return the failed rows."""
        records = [
            dict(
                self._remote_values(values, SALESFORCE_FIELDS),
                attributes={"type": "Opportunity"},
                Id=ref,
            )
            for ref, values in deals.items()
        ]
        results = client.update_collection(records)
        return [row for row in results if not row.get("success")]

    @api.model
    def _remote_values(self, values, names):
        remote = {}
        for key, value in values.items():
            if key in names:
                remote[names[key]] = str(value) if key in NUMBER_KEYS else value
        return remote

    @api.model
    def _ensure_remote_fields(self, backend):
        """Create the HubSpot deal properties the bridge writes, if missing."""
        if backend.kind != "hubspot":
            raise BusinessError(
                _(
                    "Salesforce fields are created in Setup > Object Manager > "
                    "Opportunity; see the addon's configuration notes for the list."
                ),
                category="configuration",
            )
        client = backend._crm_client()
        existing = client.property_names("deals")
        for key, name in HUBSPOT_PROPERTIES.items():
            if name not in existing:
                client.create_property("deals", self._property_definition(key, name))
        return True

    @api.model
    def _property_definition(self, key, name):
        definition = {
            "name": name,
            "label": "Odoo " + key.replace("_", " "),
            "groupName": "dealinformation",
            "type": "string",
            "fieldType": "text",
        }
        if key in NUMBER_KEYS:
            definition.update(type="number", fieldType="number")
        if key == "invoice_status":
            definition.update(
                type="enumeration",
                fieldType="select",
                options=[
                    {"label": status.replace("_", " ").capitalize(), "value": status}
                    for status in INVOICE_STATUSES
                ],
            )
        return definition
