"""CRM links of a record: its mappings to HubSpot or Salesforce records.

Partners, sale orders and projects show the CRM records they stand for,
with a link that opens each one in the CRM, and a Sync Now button that
fetches the CRM record again at once.
"""

import uuid

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from .integration_backend import CRM_KINDS


class CrmBridgeLinkMixin(models.AbstractModel):
    _name = "crm.bridge.link.mixin"
    _description = "CRM Links"

    crm_link_ids = fields.Many2many(
        "integration.external.id",
        string="CRM records",
        compute="_compute_crm_link_ids",
        compute_sudo=True,
    )
    crm_link_count = fields.Integer(
        string="CRM links", compute="_compute_crm_link_ids", compute_sudo=True
    )

    @api.depends_context("uid")
    def _compute_crm_link_ids(self):
        rows = self._crm_search_mappings()
        for record in self:
            links = rows.filtered(lambda row, record=record: row.res_id == record.id)
            record.crm_link_ids = links
            record.crm_link_count = len(links)

    def _crm_search_mappings(self, primary_only=False):
        """Return the CRM mappings of these records, read from the database.

        Mappings are created by sync jobs at any time, so callers that act
        on them search afresh instead of trusting the computed field's cache.
        """
        domain = [
            ("res_model", "=", self._name),
            ("res_id", "in", [record.id for record in self if record.id]),
            ("backend_id.kind", "in", CRM_KINDS),
        ]
        if primary_only:
            domain.append(("is_alias", "=", False))
        return self.env["integration.external.id"].sudo().search(domain)

    def _crm_mappings(self):
        """Return the primary CRM mappings of these records."""
        return self._crm_search_mappings(primary_only=True)

    def action_crm_sync_now(self):
        """Queue a fresh read of each linked CRM record."""
        mappings = self._crm_mappings()
        if not mappings:
            raise UserError(
                _(
                    "%(record)s is not linked to any CRM record, so there is nothing "
                    "to sync. Link it from an exception or wait for the CRM to send "
                    "it.",
                    record=self[:1].display_name,
                )
            )
        Job = self.env["integration.sync.job"].sudo()
        for mapping in mappings:
            Job._enqueue(
                mapping.backend_id,
                "crm.refetch",
                f"crm:refetch:{mapping.id}:{uuid.uuid4().hex}",
                payload={
                    "external_model": mapping.external_model,
                    "external_id": mapping.external_id,
                    "res_model": mapping.res_model,
                },
                external_model=mapping.external_model,
                external_id=mapping.external_id,
                priority=5,
            )
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"type": "success", "message": _("A fresh read is queued.")},
        }
