"""Handlers of the CRM bridge's flows on the sync queue.

Inbound flows:

- `hubspot.webhook`: one HubSpot webhook event. Events carry ids only, so
  the handler reads the record again and imports its current state. An
  event older than the change already applied is skipped unread.
- `hubspot.record`: one record a HubSpot search poll returned.
- `salesforce.outbound_message`: one Outbound Message notification,
  imported from its fields when they suffice, else read again.
- `salesforce.record`: one record a SOQL poll returned.
- `salesforce.deleted`: one id getDeleted returned (a deletion or merge).
- `crm.refetch`: the Sync Now button of a linked record.

Outbound flow `crm.deal_push` writes invoice status and project links to
deals. A record the CRM sent that cannot be read opens an
`invalid_payload` exception. The other jobs of the batch are unaffected,
because each job runs on its own.
"""

from odoo import _, models
from odoo.addons.integration_audit.services.errors import BusinessError

from ..services.crm_records import MalformedRecord
from ..services.salesforce_ids import to_18_or_none
from .crm_bridge_deal_push import OWN_HUBSPOT_PROPERTIES
from .crm_bridge_sync import HUBSPOT_TYPES, res_model_of

CRM_FLOWS = {
    "hubspot.webhook": "_crm_handle_hubspot_webhook",
    "hubspot.record": "_crm_handle_hubspot_record",
    "salesforce.outbound_message": "_crm_handle_salesforce_message",
    "salesforce.record": "_crm_handle_salesforce_record",
    "salesforce.deleted": "_crm_handle_salesforce_deleted",
    "crm.refetch": "_crm_handle_refetch",
    "crm.deal_push": "_crm_handle_deal_push",
}
HUBSPOT_REFETCH_ACTIONS = ("creation", "propertyChange", "restore", "associationChange")
HUBSPOT_DELETE_ACTIONS = ("deletion", "privacyDeletion")


class IntegrationSyncJob(models.Model):
    _inherit = "integration.sync.job"

    def _get_flow_handlers(self):
        handlers = super()._get_flow_handlers()
        handlers.update(CRM_FLOWS)
        return handlers

    def _crm_sync(self, method, first, second, **kwargs):
        """Call `crm.bridge.sync.<method>(backend, first, second, job=self)`.

        A record that cannot be read becomes an `invalid_payload` business
        error, so the job fails alone with an exception instead of retrying.
        """
        sync = getattr(self.env["crm.bridge.sync"], method)
        try:
            return sync(self.backend_id, first, second, job=self, **kwargs)
        except MalformedRecord as error:
            raise BusinessError(
                _(
                    "Job %(job)s received a record that cannot be read: %(error)s. "
                    "Correct the record in the CRM; its next change is synced again.",
                    job=self.display_name,
                    error=error,
                ),
                category="invalid_payload",
            ) from error

    # ------------------------------------------------------------------
    # HubSpot
    # ------------------------------------------------------------------

    def _crm_handle_hubspot_webhook(self):
        event, object_type, object_id, action = self._crm_hubspot_event()
        if not object_type:
            # Line items, tickets and the like come in with the deals that use them.
            return _(
                "Ignored: the bridge does not sync HubSpot %(type)s events.",
                type=event.get("subscriptionType"),
            )
        own = event.get("propertyName") in OWN_HUBSPOT_PROPERTIES
        if action == "propertyChange" and own:
            return _(
                "Ignored: the change is the bridge's own write to %(property)s.",
                property=event["propertyName"],
            )
        self._crm_check_fresh(res_model_of(object_type), object_id)
        Sync = self.env["crm.bridge.sync"]
        if action in HUBSPOT_DELETE_ACTIONS:
            return Sync._record_deletion(self.backend_id, object_type, object_id)
        merged = []
        if action == "merge":
            object_id = str(event.get("primaryObjectId") or object_id)
            merged = [str(value) for value in event.get("mergedObjectIds") or []]
        elif action not in HUBSPOT_REFETCH_ACTIONS:
            return _(
                "Ignored: HubSpot event type %(type)s.",
                type=event.get("subscriptionType"),
            )
        return self._crm_sync(
            "_refetch_hubspot", object_type, object_id, merged_ids=merged
        )

    def _crm_hubspot_event(self):
        """Return (event, object type or None, object id, action) of an event."""
        event = self.payload if isinstance(self.payload, dict) else {}
        subscription = str(event.get("subscriptionType") or "")
        object_name, _dot, action = subscription.partition(".")
        object_id = str(event.get("objectId") or "")
        if not action or not object_id.isdigit():
            self._crm_malformed(
                _(
                    "a HubSpot event without an object type, an action and a numeric "
                    "object id (%(type)s, %(id)s)",
                    type=subscription or "-",
                    id=object_id or "-",
                )
            )
        return event, HUBSPOT_TYPES.get(object_name), object_id, action

    def _crm_check_fresh(self, res_model, external_id):
        """Skip the job when its change is not newer than the one applied."""
        self.env["integration.external.id"]._check_fresh(
            self.backend_id,
            res_model,
            external_id,
            self.external_updated_at,
            allow_equal=self.env.context.get("integration_replay", False),
        )

    def _crm_handle_hubspot_record(self):
        object_type, record = self._crm_payload("object_type", "record")
        return self._crm_sync("_import_hubspot", object_type, record)

    # ------------------------------------------------------------------
    # Salesforce
    # ------------------------------------------------------------------

    def _crm_handle_salesforce_message(self):
        payload = self.payload if isinstance(self.payload, dict) else {}
        sobject = payload.get("object")
        fields = payload.get("fields") or {}
        record_id = to_18_or_none(fields.get("Id"))
        if not (sobject and record_id):
            return self._crm_malformed(
                _("an Outbound Message without an object and a valid Id")
            )
        self._crm_check_fresh(res_model_of(sobject), record_id)
        Sync = self.env["crm.bridge.sync"]
        if Sync._salesforce_message_is_complete(sobject, fields):
            return self._crm_sync("_import_salesforce", sobject, fields)
        return self._crm_sync("_refetch_salesforce", sobject, record_id)

    def _crm_handle_salesforce_record(self):
        sobject, record = self._crm_payload("object", "record")
        return self._crm_sync("_import_salesforce", sobject, record)

    def _crm_handle_salesforce_deleted(self):
        sobject, record_id = self._crm_payload("object", "id")
        return self._crm_sync("_apply_salesforce_deletion", sobject, record_id)

    # ------------------------------------------------------------------
    # Both
    # ------------------------------------------------------------------

    def _crm_handle_refetch(self):
        external_model, external_id = self._crm_payload("external_model", "external_id")
        result = self._crm_sync("_refetch", external_model, external_id)
        if isinstance(result, models.BaseModel) and result._name == "sale.order":
            self.env["crm.bridge.deal.push"]._enqueue_invoice_status(result)
        return result

    def _crm_handle_deal_push(self):
        return self.env["crm.bridge.deal.push"]._send(self)

    def _crm_payload(self, *keys):
        """Return the payload's values of `keys`; raise when one is missing."""
        payload = self.payload if isinstance(self.payload, dict) else {}
        missing = [key for key in keys if not payload.get(key)]
        if missing:
            self._crm_malformed(
                _("a payload without %(keys)s", keys=", ".join(missing))
            )
        return [payload[key] for key in keys]

    def _crm_malformed(self, what):
        raise BusinessError(
            _(
                "Job %(job)s received %(what)s. Nothing was imported; check the "
                "sender's configuration.",
                job=self.display_name,
                what=what,
            ),
            category="invalid_payload",
        )
