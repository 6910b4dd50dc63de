"""A test category whose Link action maps the external customer."""

from odoo import fields, models


class IntegrationException(models.Model):
    _inherit = "integration.exception"

    category = fields.Selection(
        selection_add=[("test_unmatched", "Unmatched test customer")],
        ondelete={"test_unmatched": "set default"},
    )

    def _link_record(self, target):
        if self.category != "test_unmatched":
            return super()._link_record(target)
        self.env["integration.external.id"]._bind(
            self.backend_id, target, self.job_id.payload["id"]
        )
