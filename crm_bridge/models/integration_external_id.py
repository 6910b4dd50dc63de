"""CRM extras of external-ID mappings: record links and last synced values."""

from odoo import api, fields, models

HUBSPOT_TYPE_IDS = {"contacts": "0-1", "companies": "0-2", "deals": "0-3"}


class IntegrationExternalId(models.Model):
    _inherit = "integration.external.id"

    crm_synced_values = fields.Json(
        string="Last synced values",
        help="Values of the owned partner fields as the CRM last sent them; a "
        "field that differs from them was changed in Odoo since.",
    )
    crm_pushed_digests = fields.Json(
        string="Last values sent",
        help="Digest of the values last queued for the CRM record, per group "
        "of values, so unchanged values are not sent again.",
    )
    crm_url = fields.Char(string="Open in CRM", compute="_compute_crm_url")

    @api.depends("backend_id.kind", "external_model", "external_id")
    def _compute_crm_url(self):
        for mapping in self:
            mapping.crm_url = mapping._crm_build_url()

    def _crm_build_url(self):
        backend = self.backend_id
        if backend.kind == "hubspot" and self.external_model in HUBSPOT_TYPE_IDS:
            root = (backend.crm_portal_url or "https://app.hubspot.com").rstrip("/")
            portal = backend.account_ref or "0"
            type_id = HUBSPOT_TYPE_IDS[self.external_model]
            return f"{root}/contacts/{portal}/record/{type_id}/{self.external_id}"
        if backend.kind == "salesforce" and self.external_model:
            root = backend.crm_portal_url or backend._crm_instance_url()
            if root:
                path = f"lightning/r/{self.external_model}/{self.external_id}/view"
                return f"{root.rstrip('/')}/{path}"
        return False

    @api.model
    def _crm_link(self, backend, target, external_id, external_model=None):
        """Map `external_id` to `target`, moving its merge aliases along.

        When `target` already has its own primary mapping on this backend,
        the external id becomes an alias of it: two CRM records then stand
        for one Odoo record, and both keep resolving.
        """
        mapping = self._find(backend, target._name, external_id)
        previous_id = mapping.res_id if mapping else None
        owned = self._external_id_of(backend, target)
        if owned and owned != str(external_id):
            self._add_alias(backend, target, external_id)
        else:
            self._bind(backend, target, external_id, external_model=external_model)
        if previous_id and previous_id != target.id:
            self._crm_follow_aliases(backend, target, previous_id)
        return self._find(backend, target._name, external_id)

    def _crm_follow_aliases(self, backend, target, previous_id):
        domain = [("backend_id", "=", backend.id), ("res_model", "=", target._name)]
        domain += [("res_id", "=", previous_id), ("is_alias", "=", True)]
        self.sudo().search(domain).write({"res_id": target.id})
