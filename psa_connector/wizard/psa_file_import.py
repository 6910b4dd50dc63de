"""Import a PSA's CSV or XLSX export, after a preview of what it will do.

The preview runs the real import inside a savepoint and rolls it back, so
what it shows (create, update, unchanged, skip, reject and why) is what
the import does, by construction.
"""

import base64
import logging

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..services import file_import, mapping
from ..services.records import email_key
from ..services.time_import import TimeImporter

_logger = logging.getLogger(__name__)

# Rows stored per import page, as the API pulls do.
CHUNK_ROWS = 500
ACTIONS = [
    ("create", "Create"),
    ("update", "Update"),
    ("unchanged", "Unchanged"),
    ("skip", "Skip"),
    ("remove", "Remove"),
    ("reject", "Reject"),
]


class _PreviewRollback(Exception):
    """Raised inside the preview's savepoint to undo the trial import."""


class PsaFileImport(models.TransientModel):
    _name = "psa.file.import"
    _description = "PSA File Import"

    mapping_id = fields.Many2one("psa.import.mapping", string="Source", required=True)
    kind = fields.Selection(related="mapping_id.kind")
    file = fields.Binary(required=True, attachment=False)
    filename = fields.Char()
    state = fields.Selection(
        [("upload", "Upload"), ("preview", "Preview"), ("done", "Done")],
        default="upload",
        required=True,
    )
    line_ids = fields.One2many("psa.file.import.line", "wizard_id", readonly=True)
    create_count = fields.Integer(compute="_compute_counts")
    update_count = fields.Integer(compute="_compute_counts")
    reject_count = fields.Integer(compute="_compute_counts")
    unchanged_count = fields.Integer(compute="_compute_counts")
    skip_count = fields.Integer(compute="_compute_counts")
    summary = fields.Text(readonly=True)

    @api.depends("line_ids.action")
    def _compute_counts(self):
        for wizard in self:
            actions = wizard.line_ids.mapped("action")
            wizard.create_count = actions.count("create")
            wizard.update_count = actions.count("update")
            wizard.reject_count = actions.count("reject")
            wizard.unchanged_count = actions.count("unchanged")
            wizard.skip_count = actions.count("skip")

    def action_preview(self):
        """Show what the import will create, update and reject, changing nothing."""
        self.ensure_one()
        lines = []
        try:
            with self.env.cr.savepoint():
                lines = self._run()
                raise _PreviewRollback
        except _PreviewRollback:
            self.env.invalidate_all()
        self.line_ids.unlink()
        self.write({"line_ids": [(0, 0, line) for line in lines], "state": "preview"})
        return self._reopen()

    def action_import(self):
        """Import the file for real, then show what was done."""
        self.ensure_one()
        lines = self._run()
        self.line_ids.unlink()
        self.write({"line_ids": [(0, 0, line) for line in lines], "state": "done"})
        self.summary = _(
            "%(create)s created, %(update)s updated, %(unchanged)s unchanged, "
            "%(skip)s skipped, %(reject)s rejected. Rejected rows that reached the "
            "validation are in the exception queue.",
            create=self.create_count,
            update=self.update_count,
            unchanged=self.unchanged_count,
            skip=self.skip_count,
            reject=self.reject_count,
        )
        _logger.info(
            "PSA file %s imported through mapping %s: %s",
            self.filename,
            self.mapping_id.id,
            self.summary,
        )
        return self._reopen()

    def _reopen(self):
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
        }

    # ------------------------------------------------------------------
    # Reading and importing
    # ------------------------------------------------------------------

    def _rows(self):
        if not self.file:
            raise UserError(_("Choose the file to import first."))
        content = base64.b64decode(self.file)
        try:
            yield from file_import.read_rows(
                content, self.filename or "", self.mapping_id.delimiter
            )
        except (ValueError, KeyError) as error:
            raise UserError(
                _(
                    "File %(file)s cannot be read: %(error)s. Check that it is the "
                    "CSV or XLSX export of %(source)s.",
                    file=self.filename,
                    error=error,
                    source=self.mapping_id.name,
                )
            ) from error

    def _run(self):
        """Import every row; return the preview line values of each."""
        if self.mapping_id.kind == "allocation":
            return self._run_allocations()
        backend = self.mapping_id.backend_id.sudo()
        reader = file_import.RowReader(self.mapping_id, self._timezone_finder())
        importer = TimeImporter(backend)
        lines, chunk = [], []
        for number, row in self._rows():
            try:
                chunk.append((number, reader.time_entry(row)))
            except (file_import.RowError, ValueError) as error:
                lines.append({"row": number, "action": "reject", "reason": str(error)})
            if len(chunk) >= CHUNK_ROWS:
                lines += self._import_chunk(importer, chunk)
                chunk = []
        lines += self._import_chunk(importer, chunk)
        return sorted(lines, key=lambda line: line["row"])

    def _import_chunk(self, importer, chunk):
        if not chunk:
            return []
        importer.import_page([entry for _number, entry in chunk])
        lines = []
        for number, entry in chunk:
            action, reason = importer.outcomes.get(entry.id, ("skip", ""))
            lines.append(
                {
                    "row": number,
                    "external_id": entry.id,
                    "person": entry.person_email,
                    "project": entry.project_id,
                    "date": entry.date,
                    "hours": entry.unit_amount,
                    "action": action,
                    "reason": reason,
                }
            )
        return lines

    def _timezone_finder(self):
        """Return a function giving the time zone of a person's UTC timestamps.

        The employee's own time zone, else the company's working calendar's;
        never the server's.
        """
        company = self.mapping_id.company_id
        fallback = company.resource_calendar_id.tz or "UTC"
        cache = {}

        def timezone_of(email):
            key = email_key(email)
            if key not in cache:
                found = mapping.employees_by_email(self.env, company, {key}).get(key)
                cache[key] = (found[0].tz if found else None) or fallback
            return cache[key]

        return timezone_of

    def _run_allocations(self):
        reader = file_import.RowReader(self.mapping_id, lambda email: None)
        lines = []
        for number, row in self._rows():
            try:
                allocation = reader.allocation(row)
            except (file_import.RowError, ValueError) as error:
                lines.append({"row": number, "action": "reject", "reason": str(error)})
                continue
            action, reason = self._store_allocation(allocation)
            lines.append(
                {
                    "row": number,
                    "external_id": allocation.id,
                    "person": allocation.person_email,
                    "project": allocation.project_id,
                    "date": allocation.date_from,
                    "hours": float(allocation.hours),
                    "action": action,
                    "reason": reason,
                }
            )
        return lines

    def _store_allocation(self, allocation):
        """Create or update one allocation; return (action, reason)."""
        company = self.mapping_id.company_id
        backend = self.mapping_id.backend_id
        key = email_key(allocation.person_email)
        employees = mapping.employees_by_email(self.env, company, {key}).get(key, [])
        projects = self.env["project.project"].search(
            [("psa_code", "=", allocation.project_id)], limit=2
        )
        if len(employees) != 1:
            return "reject", _("no single employee has the e-mail %s", key)
        if len(projects) != 1:
            return "reject", _(
                "no single project has the code %s", allocation.project_id
            )
        if allocation.date_to < allocation.date_from:
            return "reject", _("the end date is before the start date")

        values = {
            "employee_id": employees[0].id,
            "project_id": projects.id,
            "date_from": allocation.date_from,
            "date_to": allocation.date_to,
            "hours": float(allocation.hours),
            "source": "file",
            "backend_id": backend.id,
            "external_id": allocation.id,
        }
        Allocation = self.env["psa.allocation"].sudo()
        existing = Allocation.search(
            [("backend_id", "=", backend.id), ("external_id", "=", allocation.id)]
        )

        if not existing:
            Allocation.create(values)
            return "create", ""
        changed = any(
            (existing[name].id if hasattr(existing[name], "id") else existing[name])
            != value
            for name, value in values.items()
        )
        if changed:
            existing.write(values)
            return "update", ""
        return "unchanged", ""


class PsaFileImportLine(models.TransientModel):
    _name = "psa.file.import.line"
    _description = "PSA File Import Row"
    _order = "row"

    wizard_id = fields.Many2one("psa.file.import", required=True, ondelete="cascade")
    row = fields.Integer()
    external_id = fields.Char(string="Entry ID")
    person = fields.Char()
    project = fields.Char()
    date = fields.Date()
    hours = fields.Float()
    action = fields.Selection(ACTIONS, required=True)
    reason = fields.Char()
