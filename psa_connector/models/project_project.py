"""Projects and the PSA: each project's PSA code, and its push to the PSA."""

from odoo import api, fields, models

PUSH_FLOW = "psa.project.push"


class ProjectProject(models.Model):
    _inherit = "project.project"

    psa_code = fields.Char(
        string="PSA code",
        index="btree_not_null",
        copy=False,
        help="Project code in the PSA. The PSA project with this code is this "
        "project; a project created from a sales order gets the order's number.",
    )

    @api.model_create_multi
    def create(self, vals_list):
        """Queue the push to the PSA of each project sold by a sales order."""
        projects = super().create(vals_list)
        sold = projects.filtered("sale_line_id")
        if sold:
            sold._psa_assign_codes()
            sold._psa_enqueue_push()
        return projects

    def _psa_assign_codes(self):
        """Give each sold project without a code its order's number (kept unique)."""
        for project in self.filtered(lambda p: not p.psa_code):
            order = project.sale_line_id.order_id
            code = order.name
            taken = self.search_count(
                [("psa_code", "=", code), ("id", "!=", project.id)]
            )
            project.psa_code = f"{code}-{project.sale_line_id.id}" if taken else code

    def _psa_enqueue_push(self):
        """Queue one push job per project and PSA backend of its company."""
        Backend = self.env["integration.backend"].sudo()
        Job = self.env["integration.sync.job"].sudo()
        for project in self:
            company = project.company_id or self.env.company
            backends = Backend.search(
                [
                    ("kind", "in", ("harvest", "productive")),
                    ("company_id", "=", company.id),
                ]
            )
            for backend in backends:
                if not backend._psa_flow(PUSH_FLOW).enabled:
                    continue
                Job._enqueue(
                    backend,
                    PUSH_FLOW,
                    f"psa:project.push:{project.id}",
                    {"project_id": project.id},
                    direction="outbound",
                    res_model="project.project",
                    res_id=project.id,
                )
