"""Reconciliation per project and month: PSA hours, imported, invoiced, and why not.

A database view over the PSA ledger (`psa.time.entry`) and the timesheets
it produced. PSA hours are the hours of the entries the PSA reports as
approved and still present. Imported hours are those of the timesheets
Odoo has for them, and invoiced hours those on an invoice that was not
cancelled. The difference comes with its reasons: the exception
categories of the entries that were rejected or held.
"""

from odoo import api, fields, models, tools
from odoo.tools import SQL

VIEW_QUERY = """
SELECT row_number() OVER (ORDER BY month, backend_id, psa_project_ref) AS id,
       grouped.*,
       COALESCE(psa_hours, 0) - COALESCE(imported_hours, 0) AS difference,
       CASE WHEN abs(COALESCE(psa_hours, 0) - COALESCE(imported_hours, 0)) < 0.005
            THEN 'match' ELSE 'difference' END AS status
  FROM (
    SELECT entry.backend_id,
           entry.company_id,
           entry.project_id,
           COALESCE(entry.psa_project_ref, '') AS psa_project_ref,
           max(entry.psa_project_name) AS psa_project_name,
           date_trunc('month', entry.date)::date AS month,
           sum(entry.hours) FILTER (WHERE entry.approved AND entry.state <> 'removed')
               AS psa_hours,
           sum(entry.hours) FILTER (WHERE entry.approved AND entry.billable
                                      AND entry.state <> 'removed')
               AS psa_billable_hours,
           sum(line.unit_amount) AS imported_hours,
           sum(line.unit_amount) FILTER (WHERE invoice.id IS NOT NULL
                                           AND invoice.state <> 'cancel')
               AS invoiced_hours,
           sum(entry.hours) FILTER (WHERE entry.state = 'rejected') AS rejected_hours,
           sum(entry.hours) FILTER (WHERE entry.state = 'held') AS held_hours,
           string_agg(DISTINCT entry.reason, ',')
               FILTER (WHERE entry.state IN ('rejected', 'held')) AS reasons
      FROM psa_time_entry entry
 LEFT JOIN account_analytic_line line ON line.id = entry.line_id
 LEFT JOIN account_move invoice ON invoice.id = line.timesheet_invoice_id
  GROUP BY entry.backend_id, entry.company_id, entry.project_id,
           COALESCE(entry.psa_project_ref, ''), date_trunc('month', entry.date)
  ) AS grouped
"""


class PsaReconciliation(models.Model):
    _name = "psa.reconciliation"
    _description = "PSA Hours Reconciliation"
    _auto = False
    _order = "month desc, project_id"

    backend_id = fields.Many2one("integration.backend", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    project_id = fields.Many2one("project.project", readonly=True)
    psa_project_ref = fields.Char(string="PSA project ID", readonly=True)
    psa_project_name = fields.Char(string="PSA project", readonly=True)
    month = fields.Date(readonly=True)
    psa_hours = fields.Float(string="PSA hours", readonly=True)
    psa_billable_hours = fields.Float(string="PSA billable hours", readonly=True)
    imported_hours = fields.Float(readonly=True)
    invoiced_hours = fields.Float(readonly=True)
    rejected_hours = fields.Float(
        readonly=True, help="PSA hours waiting on an exception."
    )
    held_hours = fields.Float(
        readonly=True, help="PSA hours of entries changed after they were invoiced."
    )
    difference = fields.Float(readonly=True, help="PSA hours minus imported hours.")
    status = fields.Selection(
        [("match", "Match"), ("difference", "Difference")], readonly=True
    )
    reasons = fields.Char(
        string="Reason keys",
        readonly=True,
        help="Exception categories, comma-separated.",
    )
    reason_text = fields.Char(string="Reasons", compute="_compute_reason_text")

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            SQL("CREATE VIEW %s AS (%s)", SQL.identifier(self._table), SQL(VIEW_QUERY))
        )

    @api.depends("reasons")
    def _compute_reason_text(self):
        labels = dict(
            self.env["integration.exception"]
            ._fields["category"]
            ._description_selection(self.env)
        )
        for row in self:
            keys = [key for key in (row.reasons or "").split(",") if key]
            row.reason_text = ", ".join(labels.get(key, key) for key in keys)
