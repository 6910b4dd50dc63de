"""Store one page of PSA time entries as Odoo timesheets, exactly once.

The page is validated before anything is written. Each entry that fails a
check becomes an exception for a person, and the others go through. New
entries cost the same calls whatever the page size: one search of the
mappings and one of the PSA ledger, then one batch create each of the
timesheets, their mappings and their ledger rows. Only edits, removals and
rejections touch records one by one.

Every entry id of the page is locked (a transaction-level advisory lock)
before the mappings are read, so two runs that import the same page at
once cannot both create its timesheets; the loser meets the unique
mapping and is retried by its caller in a new transaction.
"""

import json
from dataclasses import asdict, dataclass, fields
from datetime import date, timedelta

from odoo.addons.integration_audit.models.bulk_insert import insert_rows
from odoo.addons.integration_audit.models.integration_exception import title_from

from . import mapping, page_store, validation
from .records import TimeEntry, parse_date, parse_timestamp, to_decimal

LINE = "account.analytic.line"
# Two floats within this many hours are the same quantity (a microsecond).
HOURS_TOLERANCE = 1e-9


@dataclass
class ImportResult:
    """Counts of what one page, or a whole run, did."""

    read: int = 0
    created: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    unapproved: int = 0
    rejected: int = 0
    held: int = 0

    def add(self, other):
        """Add the counts of `other` to these."""
        for item in fields(self):
            setattr(
                self, item.name, getattr(self, item.name) + getattr(other, item.name)
            )
        return self

    def as_dict(self):
        """Return the counts as a plain dict (for RPC callers and logs)."""
        return asdict(self)


def entry_to_payload(entry):
    """Return a JSON-ready dict of a `TimeEntry`, for a retry job."""
    return json.loads(json.dumps(asdict(entry), default=str))


def entry_from_payload(payload):
    """Return the `TimeEntry` a retry job stored."""
    values = dict(payload)
    values["date"] = parse_date(values["date"])
    values["hours"] = to_decimal(values["hours"])
    values["updated_at"] = parse_timestamp(values.get("updated_at"))
    return TimeEntry(**values)


class TimeImporter:
    """Validates and stores pages of `TimeEntry` for one backend.

    `raise_errors` makes a failed check raise its error instead of opening
    an exception: a retry job uses it, so its own failure is the exception.
    """

    def __init__(self, backend, raise_errors=False, allow_psa_lock=False):
        self.backend = backend
        self.env = backend.env
        self.raise_errors = raise_errors
        self.allow_psa_lock = allow_psa_lock
        self.approved_states = backend._psa_approved_states()
        self.lock_date = backend._psa_lock_date()
        self.result = ImportResult()
        self.employees, self.projects, self.tasks = {}, {}, {}
        self.assignable = set()
        self.lines, self.ledger = {}, {}
        self.new_lines, self.new_ledger = [], []
        # What happened to each entry id: (action, reason), for previews.
        self.outcomes = {}
        self.period_exceptions = {}
        self.released_months = set()

    # ------------------------------------------------------------------
    # The page
    # ------------------------------------------------------------------

    def import_page(self, entries):
        """Validate and store `entries`; return this page's `ImportResult`."""
        self.result = ImportResult(read=len(entries))
        self.employees, self.projects, self.tasks = {}, {}, {}
        self.assignable = set()
        self.new_lines, self.new_ledger = [], []
        unique, repeated = validation.split_duplicates(entries)
        self._lock(entries)
        self.lines = self._mapped_lines(unique)
        self.ledger = self._ledger_rows(entries)
        for entry in {entry.id: entry for entry in repeated}.values():
            self.result.rejected += len([e for e in repeated if e.id == entry.id]) - 1
            self._reject(entry, validation.duplicate_error(self.backend, entry))
        changed = [entry for entry in unique if self._has_changed(entry)]
        self._resolve(changed)
        for entry in changed:
            self._apply(entry)
        self._flush_new()
        self._resolve_released_months()
        return self.result

    def reject_unreadable(self, unreadable):
        """Open the exception of each entry of the page the client could not read."""
        for item in unreadable:
            error = validation.unreadable_error(self.backend, item)
            if self.raise_errors:
                raise error
            self.result.read += 1
            self.result.rejected += 1
            self.outcomes[item.id] = ("reject", str(error))
            open_unreadable(self.backend, "psa.time_entry", item, error)

    def _lock(self, entries):
        page_store.lock_external_ids(
            self.env, self.backend, LINE, [entry.id for entry in entries]
        )

    def _mapped_lines(self, entries):
        return mapping.mapped_records(
            self.env, self.backend, LINE, {e.id for e in entries}
        )

    def _ledger_rows(self, entries):
        rows = self.env["psa.time.entry"].search(
            [
                ("backend_id", "=", self.backend.id),
                ("external_id", "in", [entry.id for entry in entries]),
            ]
        )
        return {row.external_id: row for row in rows}

    def _has_changed(self, entry):
        """Return False for an entry the ledger already records as it is now.

        Rejected entries are checked again on every run: the cause (a
        missing employee, a closed project) may have been fixed in Odoo.
        A retry job checks a held entry again too, so it fails again while
        the timesheet is still invoiced and the PSA still differs.
        """
        row = self.ledger.get(entry.id)
        if not row or row.state == "rejected":
            return True
        if row.state == "held" and self.raise_errors:
            return True
        if row.updated_at and entry.updated_at and entry.updated_at < row.updated_at:
            return self._unchanged(entry, "older than the version imported")
        line_gone = row.state == "imported" and entry.id not in self.lines
        if row.payload_hash == entry.digest() and not line_gone:
            return self._unchanged(entry, "")
        return True

    def _unchanged(self, entry, reason):
        self.result.unchanged += 1
        self.outcomes[entry.id] = ("unchanged", reason)
        return False

    def _resolve(self, entries):
        approved = [entry for entry in entries if self._is_approved(entry)]
        people = {e.person_id: e.person_email for e in approved if e.person_id}
        self.employees = mapping.resolve_employees(self.env, self.backend, people)
        codes = {e.project_id: e.project_code for e in approved if e.project_id}
        self.projects = mapping.resolve_projects(self.env, self.backend, codes)
        wanted = {
            mapping.task_key(e.project_id, e.task_id): (
                self.projects[e.project_id],
                e.task_name,
            )
            for e in approved
            if e.task_id and e.project_id in self.projects
        }
        create = self.backend.psa_create_tasks
        self.tasks = mapping.resolve_tasks(
            self.env, self.backend, wanted, create=create
        )

    def _is_approved(self, entry):
        return entry.approval_state in self.approved_states

    # ------------------------------------------------------------------
    # One entry
    # ------------------------------------------------------------------

    def _apply(self, entry):
        line = self.lines.get(entry.id)
        if not self._is_approved(entry):
            self._apply_unapproved(entry, line)
            return
        error = self._check(entry, line)
        if error:
            self._reject(entry, error)
            return
        values = self._line_values(entry)
        if not line:
            self.new_lines.append((entry, values))
            self.outcomes[entry.id] = ("create", "")
        elif not self._differs(line, values):
            self._write_ledger(entry, "imported", line=line)
            self._unchanged(entry, "")
        elif line._psa_is_invoiced():
            self._hold(entry, line, values)
        else:
            line._psa_write_from_entry(values)
            self._write_ledger(entry, "imported", line=line)
            self._resolve_rejections(entry)
            self.result.updated += 1
            self.outcomes[entry.id] = ("update", "")

    def _check(self, entry, line):
        project = self.projects.get(entry.project_id)
        employee = self.employees.get(entry.person_id)
        backend = self.backend
        return (
            self._assignment_error(entry, project, employee)
            or validation.hours_error(backend, entry)
            or validation.lock_error(
                backend,
                entry,
                self.lock_date,
                line.date if line else None,
                psa_lock_allowed=self.allow_psa_lock,
            )
        )

    def _assignment_error(self, entry, project, employee):
        """Return why the entry's project or employee cannot take it, or None.

        Both checks depend on the project and the employee alone, so a pair
        that passed once passes for every other entry of the page.
        """
        pair = (project.id, employee.id) if project and employee else None
        if pair in self.assignable:
            return None
        error = validation.project_error(
            self.backend, entry, project
        ) or validation.employee_error(self.backend, entry, employee, project)
        if not error and pair:
            self.assignable.add(pair)
        return error

    def _apply_unapproved(self, entry, line):
        """Remove the timesheet of an entry no longer approved, unless it is billed."""
        if not line:
            self._write_ledger(entry, "unapproved")
            self.result.unapproved += 1
            self.outcomes[entry.id] = ("skip", "not approved")
        elif line._psa_is_invoiced():
            self._hold(entry, line, None)
        else:
            self._remove_line(entry, line, "unapproved")

    def remove_entry(self, external_id):
        """Remove the timesheet of an entry deleted in the PSA, unless billed."""
        row = self._ledger_rows([_IdOnly(external_id)]).get(external_id)
        self.ledger = {external_id: row} if row else {}
        lines = mapping.mapped_records(self.env, self.backend, LINE, {external_id})
        line = lines.get(external_id)
        if not line:
            if row:
                row.write({"state": "removed", "line_id": False})
            return self.result
        entry = entry_from_row(row) if row else None
        if line._psa_is_invoiced():
            self._hold(entry, line, None, deleted=True, external_id=external_id)
        else:
            self._remove_line(entry, line, "removed", external_id=external_id)
        return self.result

    def _remove_line(self, entry, line, state, external_id=None):
        external_id = external_id or entry.id
        self.env["integration.external.id"].sudo().search(
            [
                ("backend_id", "=", self.backend.id),
                ("res_model", "=", LINE),
                ("external_id", "=", external_id),
            ]
        ).unlink()
        line.unlink()
        self.outcomes[external_id] = ("remove", state)
        if entry:
            self._write_ledger(entry, state)
        else:
            self.ledger_row(external_id).write({"state": state, "line_id": False})
        self.result.removed += 1

    def ledger_row(self, external_id):
        """Return the ledger row of an entry id (empty when never read)."""
        return self._ledger_rows([_IdOnly(external_id)]).get(
            external_id, self.env["psa.time.entry"]
        )

    def _hold(self, entry, line, values, deleted=False, external_id=None):
        """Leave an invoiced timesheet as billed and open an exception."""
        error = self.backend._psa_changed_after_invoicing_error(
            line, entry, values, deleted=deleted
        )
        if entry:
            self._write_ledger(entry, "held", line=line, reason=error.category)
            self.outcomes[entry.id] = ("reject", str(error))
        self.result.held += 1
        self._open_exception(entry, error, external_id=external_id)

    # ------------------------------------------------------------------
    # Values
    # ------------------------------------------------------------------

    def _line_values(self, entry):
        """Return the timesheet values of an approved, valid entry.

        Non-billable time gets no sale order line and is marked as edited,
        so `sale_timesheet` never fills one in. Billable time leaves the
        sale order line to `sale_timesheet`'s own rules.
        """
        task = self.tasks.get(mapping.task_key(entry.project_id, entry.task_id))
        values = {
            "name": entry.notes or "/",
            "date": entry.date,
            "unit_amount": entry.unit_amount,
            "project_id": self.projects[entry.project_id].id,
            "task_id": task.id if task else False,
            "employee_id": self.employees[entry.person_id].id,
            "psa_billable": entry.billable,
        }
        if not entry.billable:
            values.update(so_line=False, is_so_line_edited=True)
        return values

    @staticmethod
    def _differs(line, values):
        for name, value in values.items():
            if name in ("so_line", "is_so_line_edited"):
                continue
            current = line[name]
            if hasattr(current, "_name"):
                current = current.id
            if name == "unit_amount":
                if abs((current or 0.0) - value) > HOURS_TOLERANCE:
                    return True
            elif (current or False) != (value or False):
                return True
        return False

    # ------------------------------------------------------------------
    # Writing
    # ------------------------------------------------------------------

    def _flush_new(self):
        """Create the page's new timesheets with their mappings, then its ledger rows.

        The timesheets go through `create()`, so Odoo computes their
        accounts, sales order items and costs. The ledger rows are plain
        records of the PSA's values, written in one INSERT.
        """
        if self.new_lines:
            lines = page_store.create_mapped(
                self.env, self.backend, LINE, "time_entry", self.new_lines
            )
            for (entry, _values), line in zip(self.new_lines, lines, strict=True):
                self._write_ledger(entry, "imported", line=line)
            self.result.created += len(lines)
            page_store.close_failed_jobs(
                self.env,
                self.backend,
                "time_entry",
                [entry.id for entry, _values in self.new_lines],
            )
        if self.new_ledger:
            insert_rows(self.env["psa.time.entry"], self.new_ledger)
            self.new_ledger = []

    def _write_ledger(self, entry, state, line=None, reason=False, job=None):
        row = self.ledger.get(entry.id)
        values = self._ledger_values(entry, state, line, reason, job)
        values.update(self._ledger_links(entry, row))
        if row and row.reason == "locked_period" and state == "imported":
            self.released_months.add(entry.date.strftime("%Y-%m"))
        if row:
            row.write(values)
        else:
            values.update(
                backend_id=self.backend.id,
                company_id=self.backend.company_id.id,
                external_id=entry.id,
            )
            self.new_ledger.append(values)

    def _ledger_values(self, entry, state, line, reason, job):
        values = {
            "person_ref": entry.person_id,
            "person_email": entry.person_email,
            "person_name": entry.person_name,
            "psa_project_ref": entry.project_id,
            "psa_project_name": entry.project_name,
            "task_ref": entry.task_id,
            "task_name": entry.task_name,
            "date": entry.date,
            "hours": entry.unit_amount,
            "billable": entry.billable,
            "approval_state": entry.approval_state,
            "approved": self._is_approved(entry),
            "psa_locked": entry.locked,
            "locked_reason": entry.locked_reason,
            "psa_invoiced": entry.invoiced,
            "notes": entry.notes,
            "updated_at": entry.updated_at,
            "payload_hash": entry.digest(),
            "state": state,
            "reason": reason,
        }
        if line is not None or state in ("removed", "unapproved"):
            values["line_id"] = line.id if line else False
        if job is not None:
            values["job_id"] = job.id
        return values

    def _ledger_links(self, entry, row):
        """Return the employee and project a ledger row points at.

        Entries that were not resolved on this page (not approved, or
        removed) keep the links the row has, unless their PSA person or
        project changed.
        """
        links = {}
        employee = self.employees.get(entry.person_id)
        if employee or not row or row.person_ref != entry.person_id:
            links["employee_id"] = employee.id if employee else False
        project = self.projects.get(entry.project_id)
        if project or not row or row.psa_project_ref != entry.project_id:
            links["project_id"] = project.id if project else False
        return links

    # ------------------------------------------------------------------
    # Rejections
    # ------------------------------------------------------------------

    def _reject(self, entry, error):
        """Open (or reopen) the exception of a failed check; keep the entry's job."""
        if self.raise_errors:
            raise error
        self.result.rejected += 1
        self.outcomes[entry.id] = ("reject", str(error))
        row = self.ledger.get(entry.id)
        if (
            row
            and row.state == "rejected"
            and row.reason == error.category
            and row.payload_hash == entry.digest()
        ):
            return
        if error.category == "locked_period":
            self._open_period_exception(error)
            self._write_ledger(entry, "rejected", reason=error.category)
            return
        job = self._open_exception(entry, error)
        self._write_ledger(entry, "rejected", reason=error.category, job=job)

    def _open_period_exception(self, error):
        """Open one exception per locked month, with no job per entry.

        A closed month can contain thousands of entries. Its exception is
        resolved from its own buttons (retry, or post anyway), which re-read
        the month's entries from the ledger.
        """
        if error.dedup_key in self.period_exceptions:
            return
        self.period_exceptions[error.dedup_key] = self.env[
            "integration.exception"
        ]._open(
            {
                "name": title_from(str(error)),
                "description": str(error),
                "category": error.category,
                "impact": "high",
                "backend_id": self.backend.id,
                "company_id": self.backend.company_id.id,
                "dedup_key": error.dedup_key,
            }
        )

    def _resolve_released_months(self):
        """Resolve the locked-period exception of each month with nothing left."""
        for month in self.released_months:
            if not self.env["psa.time.entry"].search_count(
                locked_rows_domain(self.backend, month)
            ):
                key = f"psa:{self.backend.id}:locked_period:{month}"
                exceptions = self.env["integration.exception"].search(
                    [("dedup_key", "=", key), ("state", "in", ("new", "in_progress"))]
                )
                exceptions._close("resolved")
        self.released_months = set()

    def _open_exception(self, entry, error, external_id=None):
        """Store the entry as a failed retry job and open its exception."""
        if self.raise_errors:
            raise error
        external_id = external_id or entry.id
        job = self.backend._psa_failed_job(
            "psa.time_entry",
            external_id,
            entry_to_payload(entry) if entry else {"id": external_id, "deleted": True},
            str(error),
            updated_at=entry.updated_at if entry else None,
        )
        self.env["integration.exception"]._open_from_error(job, error)
        return job

    def _resolve_rejections(self, entry):
        """Close the failed job (and so the exception) of an entry now imported."""
        page_store.close_failed_jobs(self.env, self.backend, "time_entry", [entry.id])


def open_unreadable(backend, flow, unreadable, error):
    """Store an unreadable PSA record as a failed job of `flow`; open its exception.

    The job's payload makes its handler read the record from the PSA
    again, and its key is the record's, so importing the corrected record
    later closes the job and its exception.
    """
    payload = {"id": unreadable.id, "refetch": True}
    job = backend._psa_failed_job(flow, unreadable.id, payload, str(error))
    backend.env["integration.exception"]._open_from_error(job, error)
    return job


def locked_rows_domain(backend, month):
    """Return the domain of a month's entries held back by a locked period."""
    first = date.fromisoformat(f"{month}-01")
    following = (first + timedelta(days=32)).replace(day=1)
    return [
        ("backend_id", "=", backend.id),
        ("state", "=", "rejected"),
        ("reason", "=", "locked_period"),
        ("date", ">=", first),
        ("date", "<", following),
    ]


class _IdOnly:
    """Stands for an entry when only its id is known (a deletion)."""

    def __init__(self, external_id):
        self.id = external_id


def entry_from_row(row):
    """Return the `TimeEntry` a ledger row last recorded."""
    return TimeEntry(
        id=row.external_id,
        person_id=row.person_ref or "",
        person_email=row.person_email or "",
        person_name=row.person_name or "",
        project_id=row.psa_project_ref or "",
        project_name=row.psa_project_name or "",
        task_id=row.task_ref or "",
        task_name=row.task_name or "",
        date=row.date,
        hours=to_decimal(row.hours),
        notes=row.notes or "",
        billable=row.billable,
        approval_state=row.approval_state or "",
        locked=row.psa_locked,
        locked_reason=row.locked_reason or "",
        updated_at=row.updated_at,
    )
