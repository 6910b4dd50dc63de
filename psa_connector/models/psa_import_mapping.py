"""Saved column mappings of PSA file exports, one per source system."""

from odoo import _, api, fields, models

FIELD_COLUMNS = [
    ("column_id", "Entry ID"),
    ("column_email", "Person e-mail"),
    ("column_project", "Project code"),
    ("column_task", "Task"),
    ("column_date", "Date (start date for allocations)"),
    ("column_date_to", "End date (allocations)"),
    ("column_duration", "Hours or duration"),
    ("column_notes", "Notes"),
    ("column_billable", "Billable"),
    ("column_approval", "Approval"),
    ("column_updated_at", "Changed at"),
]


class PsaImportMapping(models.Model):
    _name = "psa.import.mapping"
    _description = "PSA File Column Mapping"
    _order = "name"

    name = fields.Char(
        string="Source", required=True, help="The system the file comes from."
    )
    kind = fields.Selection(
        [("time", "Timesheets"), ("allocation", "Staffing allocations")],
        required=True,
        default="time",
    )
    backend_id = fields.Many2one(
        "integration.backend",
        ondelete="restrict",
        help="Backend whose mappings and exceptions the imported rows use; a "
        "file backend named after the source is created when left empty.",
    )
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company
    )
    delimiter = fields.Char(default=",", size=1, help="Field separator of CSV files.")
    date_format = fields.Char(
        default="%Y-%m-%d",
        help="strftime format of the date column, such as %d/%m/%Y. Timestamps in "
        "ISO 8601 with an offset or Z are read too and converted to the "
        "person's time zone.",
    )
    duration_unit = fields.Selection(
        [("hours", "Hours"), ("minutes", "Minutes")],
        default="hours",
        required=True,
        help="Unit of plain numbers in the duration column; 1:30 and PT1H30M are "
        "read whatever the unit.",
    )
    approved_values = fields.Char(
        default="approved,true,yes,1",
        help="Comma-separated values of the approval column that count as "
        "approved. Without an approval column every row counts as approved.",
    )
    billable_values = fields.Char(
        default="true,yes,1,billable,y",
        help="Comma-separated values of the billable column that mean billable.",
    )
    billable_default = fields.Boolean(
        default=True,
        help="Whether rows are billable when the file has no billable column.",
    )
    column_id = fields.Char(string="Entry ID column")
    column_email = fields.Char(string="E-mail column", required=True, default="email")
    column_project = fields.Char(
        string="Project code column", required=True, default="project_code"
    )
    column_task = fields.Char(string="Task column")
    column_date = fields.Char(string="Date column", required=True, default="date")
    column_date_to = fields.Char(string="End date column")
    column_duration = fields.Char(string="Hours column", required=True, default="hours")
    column_notes = fields.Char(string="Notes column")
    column_billable = fields.Char(string="Billable column")
    column_approval = fields.Char(string="Approval column")
    column_updated_at = fields.Char(string="Changed at column")

    @api.model_create_multi
    def create(self, vals_list):
        """Give each mapping without a backend a file backend of its own."""
        for values in vals_list:
            if not values.get("backend_id"):
                values["backend_id"] = self._new_backend(values).id
        return super().create(vals_list)

    @api.model
    def _new_backend(self, values):
        return (
            self.env["integration.backend"]
            .sudo()
            .create(
                {
                    "name": _("File: %s", values.get("name") or _("PSA export")),
                    "kind": "psa_file",
                    "company_id": values.get("company_id") or self.env.company.id,
                }
            )
        )
