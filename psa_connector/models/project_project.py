"""Projects as the PSA knows them: their code, and their mapping."""

from odoo import fields, models


class ProjectProject(models.Model):
    _inherit = "project.project"

    psa_code = fields.Char(
        string="PSA code",
        index="btree_not_null",
        copy=False,
        help="Project code in the PSA. The PSA project with this code is this "
        "project; a project created from a sales order gets the order's number.",
    )
