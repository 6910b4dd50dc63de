"""The PSA side of every time entry read: the PSA's values, and what became of it.

One row per PSA time entry and backend, rewritten whenever the entry
changes in the PSA. The timesheet line is bound to the entry through
`integration.external.id`, and this row keeps the PSA's own figures. The
reconciliation compares them with imported and invoiced hours, and an
exception shows the PSA's new values next to the billed ones.
"""

from odoo import fields, models

ENTRY_STATES = [
    ("imported", "Imported"),
    ("unapproved", "Not approved"),
    ("rejected", "Rejected by validation"),
    ("held", "Held: changed after invoicing"),
    ("removed", "Removed in the PSA"),
]


class PsaTimeEntry(models.Model):
    _name = "psa.time.entry"
    _description = "PSA Time Entry"
    _order = "date desc, id desc"
    _rec_name = "external_id"

    backend_id = fields.Many2one(
        "integration.backend", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    external_id = fields.Char(string="PSA entry ID", required=True)
    person_ref = fields.Char(string="PSA person ID", index=True)
    person_email = fields.Char(string="PSA person e-mail")
    person_name = fields.Char(string="PSA person")
    employee_id = fields.Many2one("hr.employee", index="btree_not_null")
    psa_project_ref = fields.Char(string="PSA project ID", index=True)
    psa_project_name = fields.Char(string="PSA project")
    project_id = fields.Many2one("project.project", index="btree_not_null")
    task_ref = fields.Char(string="PSA task ID")
    task_name = fields.Char(string="PSA task")
    date = fields.Date(required=True)
    hours = fields.Float(help="Hours as the PSA reports them, unrounded.")
    billable = fields.Boolean()
    approval_state = fields.Char(help="Approval state as the PSA names it.")
    approved = fields.Boolean(help="Whether the backend counts this state as approved.")
    psa_locked = fields.Boolean(string="Locked in the PSA")
    locked_reason = fields.Char(string="PSA lock reason")
    psa_invoiced = fields.Boolean(string="Invoiced in the PSA")
    notes = fields.Text()
    updated_at = fields.Datetime(string="Changed in the PSA at")
    payload_hash = fields.Char()
    state = fields.Selection(ENTRY_STATES, required=True, index=True)
    reason = fields.Char(help="Exception category that stopped the import.")
    line_id = fields.Many2one(
        "account.analytic.line", string="Timesheet", ondelete="set null", index=True
    )
    job_id = fields.Many2one("integration.sync.job", ondelete="set null")

    _sql_constraints = [
        (
            "entry_unique",
            "UNIQUE(backend_id, external_id)",
            "A PSA time entry is stored once per backend.",
        ),
    ]
