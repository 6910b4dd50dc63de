"""Projects made for won deals show the CRM deal of their sale order."""

from odoo import api, models


class ProjectProject(models.Model):
    _name = "project.project"
    _inherit = ["project.project", "crm.bridge.link.mixin"]

    @api.depends("sale_order_id")
    @api.depends_context("uid")
    def _compute_crm_link_ids(self):
        for project in self:
            links = project.sale_order_id.sudo().crm_link_ids
            project.crm_link_ids = links
            project.crm_link_count = len(links)

    def _crm_mappings(self):
        return self.sale_order_id._crm_mappings()
