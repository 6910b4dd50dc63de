"""Entry point of inbound CRM records: read, convert, hand to partner or deal sync.

Handlers, pollers and the Sync Now button all end here with a raw
HubSpot or Salesforce record (or an id to fetch), so both CRMs and every
way in share one path to the partner and deal syncs.
"""

from odoo import _, api, models

from ..services import crm_records
from ..services.deal_sources import HubSpotDealSource, SalesforceDealSource
from ..services.salesforce_client import soql_ids, soql_select
from ..services.salesforce_ids import to_18_or_none

HUBSPOT_TYPES = {"company": "companies", "contact": "contacts", "deal": "deals"}
# Associations read together with a record, so its company and lines come along.
ASSOCIATIONS_READ = {"contacts": ("companies",), "deals": ("companies", "line_items")}
SALESFORCE_PARTNER_OBJECTS = {"Account": True, "Contact": False}
# Fields without which an Outbound Message is re-read from the API.
SALESFORCE_REQUIRED_FIELDS = {"Account": ("Name",), "Contact": ("LastName",)}


def res_model_of(external_model):
    """Return the Odoo model a CRM object type is mapped to."""
    return "sale.order" if external_model in ("deals", "Opportunity") else "res.partner"


class CrmBridgeSync(models.AbstractModel):
    _name = "crm.bridge.sync"
    _description = "CRM Record Sync"

    # ------------------------------------------------------------------
    # HubSpot
    # ------------------------------------------------------------------

    @api.model
    def _import_hubspot(self, backend, object_type, record, job=None, merged_ids=()):
        """Import one HubSpot record of `object_type` (plural API name)."""
        if object_type == "companies":
            data = crm_records.hubspot_company(record, backend.crm_vat_field)
        elif object_type == "contacts":
            data = crm_records.hubspot_contact(record)
        elif object_type == "deals":
            return self._import_hubspot_deal(backend, record, job)
        else:
            return None
        data["external_model"] = object_type
        data["merged_ids"] = list(
            dict.fromkeys([*data["merged_ids"], *map(str, merged_ids)])
        )
        return self.env["crm.bridge.partner.sync"]._import(
            backend, data, object_type, job
        )

    @api.model
    def _import_hubspot_deal(self, backend, record, job):
        deal = crm_records.hubspot_deal(record)
        deal.update(external_model="deals", company_model="companies")
        stage = self.env["crm.bridge.pipeline"]._find_stage(
            backend,
            deal.get("pipeline"),
            deal.get("stage"),
            job=job,
            deal_ref=deal["ref"],
        )
        if not stage.pipeline_id.sync_enabled:
            return None
        deal["is_won"] = stage.is_won
        deal["is_closed"] = stage.is_closed
        source = HubSpotDealSource(backend._crm_client(job), deal)
        return self.env["crm.bridge.deal.sync"]._import(backend, deal, source, job)

    @api.model
    def _fetch_hubspot(self, backend, object_type, object_id, job=None):
        """Return the current HubSpot record, or None when HubSpot has none."""
        client = backend._crm_client(job)
        extra = [backend.crm_vat_field] if object_type == "companies" else []
        properties = client.properties_of(object_type, extra)
        return client.get(
            object_type, object_id, properties, ASSOCIATIONS_READ.get(object_type, ())
        )

    @api.model
    def _refetch_hubspot(
        self, backend, object_type, object_id, job=None, merged_ids=()
    ):
        """Read a HubSpot record again and import it; a missing one changes nothing.

        HubSpot serves a merged-away id under the surviving record, and a
        404 alone never means "deleted": only deletion events do.
        """
        record = self._fetch_hubspot(backend, object_type, object_id, job)
        if not record:
            return _(
                "HubSpot has no %(type)s %(id)s; nothing changed.",
                type=object_type,
                id=object_id,
            )
        return self._import_hubspot(backend, object_type, record, job, merged_ids)

    # ------------------------------------------------------------------
    # Salesforce
    # ------------------------------------------------------------------

    @api.model
    def _import_salesforce(self, backend, sobject, fields, job=None):
        """Import one Salesforce record (SOQL row or Outbound Message fields)."""
        if sobject == "Account":
            data = crm_records.salesforce_account(fields, backend.crm_vat_field)
        elif sobject == "Contact":
            data = crm_records.salesforce_contact(fields)
        elif sobject == "Opportunity":
            deal = crm_records.salesforce_opportunity(fields)
            deal.update(external_model="Opportunity", company_model="Account")
            source = SalesforceDealSource(backend._crm_client(job), deal)
            return self.env["crm.bridge.deal.sync"]._import(backend, deal, source, job)
        else:
            return None
        data["external_model"] = sobject
        return self.env["crm.bridge.partner.sync"]._import(backend, data, sobject, job)

    @api.model
    def _fetch_salesforce(self, backend, sobject, record_id, job=None):
        """Return the current fields of one Salesforce record, or None."""
        client = backend._crm_client(job)
        extra = []
        if sobject == "Account" and backend.crm_vat_field:
            extra.append(backend.crm_vat_field)
        if sobject == "Opportunity" and backend.salesforce_multicurrency:
            extra.append("CurrencyIsoCode")
        records = client.get_by_ids(
            sobject, [record_id], client.fields_of(sobject, extra)
        )
        return records[0] if records else None

    @api.model
    def _refetch_salesforce(self, backend, sobject, record_id, job=None):
        """Read a Salesforce record again and import it."""
        fields = self._fetch_salesforce(backend, sobject, record_id, job)
        if not fields:
            return _(
                "Salesforce has no %(object)s %(id)s; nothing changed.",
                object=sobject,
                id=record_id,
            )
        return self._import_salesforce(backend, sobject, fields, job)

    @api.model
    def _apply_salesforce_deletion(self, backend, sobject, record_id, job=None):
        """Follow a Salesforce deletion: a merge when it names a master record.

        Salesforce shows a merge as the deletion of the losing records,
        each with `MasterRecordId` set to the survivor.
        """
        master_ref = None
        if sobject in SALESFORCE_PARTNER_OBJECTS:
            soql = soql_select(
                sobject,
                ["Id", "MasterRecordId"],
                where=f"Id IN {soql_ids([record_id])}",
            )
            rows = backend._crm_client(job).query_records(soql, include_deleted=True)
            master_ref = to_18_or_none(rows[0].get("MasterRecordId")) if rows else None
        if not master_ref:
            return self._record_deletion(backend, sobject, record_id)
        Mapping = self.env["integration.external.id"]
        old_partner = Mapping._resolve(backend, "res.partner", record_id)
        master = Mapping._resolve(backend, "res.partner", master_ref)
        if not master:
            master = self._fetch_and_import_partner(
                backend, master_ref, SALESFORCE_PARTNER_OBJECTS[sobject], job
            )
        if not master:
            return self._record_deletion(backend, sobject, record_id)
        self.env["crm.bridge.partner.sync"]._record_merge(
            backend,
            master_ref,
            master,
            old_ids=[record_id],
            merged_partners=old_partner,
            external_model=sobject,
        )
        return master

    @api.model
    def _salesforce_message_is_complete(self, sobject, fields):
        required = SALESFORCE_REQUIRED_FIELDS.get(sobject)
        return bool(required) and all(fields.get(name) for name in required)

    # ------------------------------------------------------------------
    # Both
    # ------------------------------------------------------------------

    @api.model
    def _fetch_and_import_partner(self, backend, ref, is_company, job=None):
        """Import the CRM company or contact `ref`; return its partner or None."""
        if backend.kind == "hubspot":
            object_type = "companies" if is_company else "contacts"
            record = self._fetch_hubspot(backend, object_type, ref, job)
            result = (
                self._import_hubspot(backend, object_type, record, job)
                if record
                else None
            )
        else:
            sobject = "Account" if is_company else "Contact"
            fields = self._fetch_salesforce(backend, sobject, ref, job)
            result = (
                self._import_salesforce(backend, sobject, fields, job)
                if fields
                else None
            )
        return result if isinstance(result, models.BaseModel) else None

    @api.model
    def _refetch(self, backend, external_model, external_id, job=None):
        """Read any mapped CRM record again and import it."""
        if backend.kind == "hubspot":
            return self._refetch_hubspot(backend, external_model, external_id, job)
        return self._refetch_salesforce(backend, external_model, external_id, job)

    @api.model
    def _record_deletion(self, backend, external_model, external_id):
        """Note a CRM deletion on the mapped record; never delete in Odoo.

        A deleted deal whose order exists opens an exception, because the
        order may already be in delivery or invoiced.
        """
        Mapping = self.env["integration.external.id"]
        res_model = res_model_of(external_model)
        mapping = Mapping._find(backend, res_model, external_id)
        record = Mapping._resolve(backend, res_model, external_id)
        if not record or mapping.is_alias:
            return _(
                "%(id)s was not synced or was merged; nothing to do.", id=external_id
            )
        if res_model == "sale.order":
            self._report_deal_deletion(backend, record, external_id)
        else:
            record.message_post(
                body=_(
                    "Deleted in %(backend)s (record %(id)s). The partner was kept.",
                    backend=backend.display_name,
                    id=external_id,
                )
            )
        return record

    @api.model
    def _report_deal_deletion(self, backend, order, external_id):
        """Open an exception: the CRM deleted the deal of an existing order."""
        self.env["integration.exception"]._open_review(
            backend,
            "deal_deleted",
            _(
                "The CRM deleted the deal of order %(order)s. The order was kept; "
                "cancel it by hand if the sale is off.",
                order=order.name,
            ),
            records=order,
            dedup_key=f"deal_deleted:{backend.id}:{external_id}",
        )
