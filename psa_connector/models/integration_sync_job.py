"""Job handlers of the PSA flows: retries of single records, webhooks, pushes."""

from odoo import models

from ..services import mapping, project_export
from ..services.expense_import import ExpenseImporter, expense_from_payload
from ..services.time_import import TimeImporter, entry_from_payload
from ..services.validation import PsaBusinessError, unknown_person_error


class IntegrationSyncJob(models.Model):
    _inherit = "integration.sync.job"

    def _get_flow_handlers(self):
        """Add the PSA flows to the queue's handlers."""
        handlers = super()._get_flow_handlers()
        handlers.update(
            {
                "psa.expense": "_psa_handle_expense",
                "psa.person": "_psa_handle_person",
                "psa.project.push": "_psa_handle_project_push",
                "psa.time_entry": "_psa_handle_time_entry",
                "psa.webhook": "_psa_handle_webhook",
            }
        )
        return handlers

    def _psa_handle_expense(self):
        """Import one expense the batch could not take; raise while it fails.

        An expense the PSA sent unreadable is not read again one by one:
        the next expense pull reads it once it is corrected.
        """
        payload = self.payload or {}
        if payload.get("refetch"):
            raise PsaBusinessError(
                f"PSA expense {payload.get('id')} was unreadable when the pull "
                "read it. Correct it in the PSA; the next expense pull reads it "
                "again and closes this exception.",
                category="invalid_payload",
                dedup_key=f"psa:{self.backend_id.id}:invalid_payload:expense:"
                f"{payload.get('id')}",
            )
        expense = expense_from_payload(payload)
        importer = ExpenseImporter(self.backend_id, raise_errors=True)
        importer.import_page([expense])
        return importer.result.as_dict()

    def _psa_handle_person(self):
        """Map a PSA user to their employee; raise while none matches."""
        payload = self.payload or {}
        person_id = str(payload.get("person_id"))
        employees = mapping.resolve_employees(
            self.env, self.backend_id, {person_id: payload.get("person_email") or ""}
        )
        if person_id not in employees:
            raise unknown_person_error(
                self.backend_id, person_id, payload.get("person_email")
            )
        return employees[person_id]

    def _psa_handle_project_push(self):
        """Create the project (and its tasks) in the PSA, or map the existing one."""
        project = (
            self.env["project.project"].browse(self.payload["project_id"]).exists()
        )
        if not project:
            return "project deleted before its push"
        project_export.push_project(self.backend_id, project)
        return project

    def _psa_handle_time_entry(self):
        """Import (or remove) one time entry the batch could not take.

        The same validation as the batch runs; a failure raises, so this
        job stays failed and its exception open.
        """
        payload = self.payload or {}
        importer = TimeImporter(self.backend_id, raise_errors=True)
        if payload.get("refetch"):
            entry = self.backend_id._psa_client().get_time_entry(str(payload["id"]))
            if entry is None:
                payload = {"id": payload["id"], "deleted": True}
        if payload.get("deleted"):
            importer.remove_entry(str(payload["id"]))
            return importer.ledger_row(str(payload["id"]))
        if not payload.get("refetch"):
            entry = entry_from_payload(payload)
        importer.import_page([entry])
        return importer.ledger_row(entry.id).line_id or importer.ledger_row(entry.id)

    def _psa_handle_webhook(self):
        """Apply one PSA event by reading the record's current state.

        Reading the record again, rather than trusting the event's copy,
        makes late or out-of-order events harmless: the newest state wins.
        An entry that fails validation gets its own retry job and exception,
        as in the batch, and this event's job ends done.
        """
        event = self.payload or {}
        kind, _sep, action = (event.get("type") or "").partition(".")
        record = event.get("object") or {}
        record_id = str(record.get("id") or event.get("object_id") or "")
        if kind != "time_entry" or not record_id:
            return f"ignored {event.get('type')}"
        importer = TimeImporter(self.backend_id)
        try:
            entry = (
                None
                if action == "deleted"
                else self.backend_id._psa_client().get_time_entry(record_id)
            )
        except PsaBusinessError as error:
            if not getattr(error, "unreadable", None):
                raise
            importer.reject_unreadable([error.unreadable])
            return importer.result.as_dict()
        if entry is None:
            importer.remove_entry(record_id)
            return importer.ledger_row(record_id)
        importer.import_page([entry])
        return importer.ledger_row(entry.id)
