"""PSA backends: authentication, settings and the entry points of each pull."""

import logging
from datetime import date, timedelta

from odoo import _, api, fields, models
from odoo.addons.integration_audit.services.errors import (
    BusinessError,
    IntegrationError,
    RemoteRejectedError,
)
from odoo.tools import config

from ..services import harvest, people, productive, project_export, time_sweep
from ..services.expense_import import ExpenseBatch
from ..services.time_batch import FLOW as TIME_FLOW
from ..services.time_batch import TimeBatch
from ..services.validation import PsaBusinessError

_logger = logging.getLogger(__name__)

PSA_KINDS = ("harvest", "productive")
SUITE_USER_AGENT = "Odoo Services Integration Suite"
SUITE_CONTACT = "https://github.com/services-integration-suite"
# Batch flows of a PSA backend run nightly unless their interval is changed.
# The project push runs as soon as a project is sold.
NIGHTLY_MINUTES = 24 * 60
FLOW_DEFAULTS = {"psa.project.push": {"mode": "realtime", "interval_minutes": 15}}
# Share of the cron's real-time limit a pull may use before it hands over
# to the next call of the cron, which resumes after the last stored page.
CRON_TIME_SHARE = 0.8
DEFAULT_CRON_BUDGET_SECONDS = 600


class IntegrationBackend(models.Model):
    _inherit = "integration.backend"

    kind = fields.Selection(
        selection_add=[("psa_file", "PSA file export")],
        ondelete={"psa_file": "cascade"},
    )
    psa_approved_states = fields.Char(
        string="Approved states",
        default="approved",
        help="Comma-separated PSA approval states whose time and expenses are "
        "imported, as the PSA names them: Harvest uses unsubmitted, "
        "submitted, approved; Productive approved, unapproved, rejected, "
        "submitted, draft.",
    )
    psa_max_entry_hours = fields.Float(
        string="Hours limit per entry",
        default=16.0,
        help="Time entries above this many hours are held as exceptions "
        "instead of being imported; 0 disables the check.",
    )
    psa_page_size = fields.Integer(
        string="Page size",
        help="Records asked for per page; 0 uses the PSA's maximum (2000 for "
        "Harvest, 200 for Productive). Smaller pages use less memory per "
        "transaction and more requests.",
    )
    psa_deletion_window_days = fields.Integer(
        string="Deletion check window (days)",
        default=45,
        help="After each complete time pull, entries spent in this many past days "
        "are listed again to find the ones deleted in the PSA; 0 turns the "
        "check off and leaves deletions to webhooks.",
    )
    psa_rate_max_age_days = fields.Integer(
        string="Longest rate age (days)",
        default=31,
        help="A foreign-currency expense is converted at the latest rate on or "
        "before its date; when that rate is older than this many days, the "
        "expense waits in the exception queue instead. 0 accepts any age.",
    )
    psa_routine_lock_reasons = fields.Char(
        string="Routine lock reasons",
        help="Comma-separated lock reasons the PSA gives to entries that are not "
        "in a closed period, such as an account where approval itself locks "
        "entries. Entries locked for any other reason wait in the exception "
        "queue instead of being posted.",
    )
    psa_create_tasks = fields.Boolean(
        string="Create missing tasks",
        default=True,
        help="Create the Odoo task of a PSA task that matches no task of the "
        "mapped project by name; otherwise the time is recorded on the project.",
    )

    # ------------------------------------------------------------------
    # Authentication
    # ------------------------------------------------------------------

    def _get_auth_headers(self):
        """Return the headers that authenticate one request to a PSA.

        Built for every request, so a token refreshed or rotated in the
        middle of a long pull is used from the next page on.
        """
        if self.kind == "harvest":
            return self._harvest_auth_headers()
        if self.kind == "productive":
            return self._productive_auth_headers()
        return super()._get_auth_headers()

    def _harvest_auth_headers(self):
        contact = self.company_id.email or SUITE_CONTACT
        return {
            "Authorization": f"Bearer {self._psa_current_token()}",
            "Harvest-Account-Id": self.account_ref or "",
            "User-Agent": f"{SUITE_USER_AGENT} ({contact})",
        }

    def _productive_auth_headers(self):
        return {
            "X-Auth-Token": self._psa_current_token(),
            "X-Organization-Id": self.account_ref or "",
            "Content-Type": productive.JSON_API_TYPE,
            "Accept": productive.JSON_API_TYPE,
        }

    def _psa_current_token(self):
        """Return the OAuth access token while it is valid, else the API token."""
        expires_at = self.access_token_expires_at
        access_token = self._get_secret("access_token")
        if access_token and (not expires_at or expires_at > fields.Datetime.now()):
            return access_token
        return self._get_secret("api_token") or ""

    def _refresh_access_token(self):
        """Exchange the stored refresh token for a new access token (Harvest OAuth).

        A personal access token cannot be refreshed, so a 401 then means it
        was revoked and the error requests a new one.
        """
        if self.kind not in PSA_KINDS:
            return super()._refresh_access_token()
        refresh_token = self._get_secret("refresh_token")
        if not (self.token_url and refresh_token and self.client_id):
            raise BusinessError(
                _(
                    "%(backend)s rejected the API token (HTTP 401). Enter a valid "
                    "token on the backend, then run the import again.",
                    backend=self.display_name,
                ),
                category="configuration",
            )
        data = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": self.client_id,
            "client_secret": self._get_secret("client_secret") or "",
        }
        try:
            body = self._http_request("POST", self.token_url, data=data).json()
        except RemoteRejectedError as error:
            raise BusinessError(
                _(
                    "%(backend)s refused to refresh the access token (HTTP "
                    "%(status)s). Authorize the connection again, then run the "
                    "import again.",
                    backend=self.display_name,
                    status=error.status_code,
                ),
                category="configuration",
            ) from error
        lifetime = timedelta(seconds=int(body.get("expires_in") or 3600))
        self._set_access_token(body["access_token"], fields.Datetime.now() + lifetime)
        if body.get("refresh_token") and body["refresh_token"] != refresh_token:
            self.sudo().refresh_token = body["refresh_token"]
        return body["access_token"]

    def _test_connection(self):
        """Read the authenticated user of the PSA; raise when that fails."""
        if self.kind == "psa_file":
            return True
        if self.kind not in PSA_KINDS:
            return super()._test_connection()
        return self._psa_client().check_connection()

    def _psa_client(self):
        """Return the API client of this backend's PSA."""
        self.ensure_one()
        classes = {
            "harvest": harvest.HarvestClient,
            "productive": productive.ProductiveClient,
        }
        return classes[self.kind](self)

    # ------------------------------------------------------------------
    # Settings read by the import
    # ------------------------------------------------------------------

    def _psa_approved_states(self):
        """Return the set of approval states (lower case) that count as approved."""
        states = (self.psa_approved_states or "approved").split(",")
        return {state.strip().lower() for state in states if state.strip()}

    def _psa_routine_lock_reasons(self):
        """Return the set of lock reasons that do not hold an entry back."""
        reasons = (self.psa_routine_lock_reasons or "").split(",")
        return {reason.strip() for reason in reasons if reason.strip()}

    def _psa_lock_date(self, journal_type="sale"):
        """Return the last date on which the company's books are locked, or None.

        This is the latest of the global, hard and sales (or, for expenses,
        purchase) lock dates of the company and its parents. User exceptions
        to a lock date do not count, because the import runs for no
        particular user.
        """
        company = self.company_id.sudo()
        dates = [
            company._get_user_lock_date(name, ignore_exceptions=True)
            for name in ("fiscalyear_lock_date", f"{journal_type}_lock_date")
        ]
        dates += [parent.hard_lock_date or date.min for parent in company.parent_ids]
        lock_date = max(dates)
        return None if lock_date == date.min else lock_date

    def _psa_flow(self, code):
        """Return the flow `code`; a new PSA flow is a nightly batch."""
        self.ensure_one()
        flow = self.flow_ids.filtered(lambda f: f.code == code)
        if flow:
            return flow
        return (
            self.env["integration.flow"]
            .sudo()
            .create(
                {
                    "backend_id": self.id,
                    "code": code,
                    "mode": "batch",
                    "interval_minutes": NIGHTLY_MINUTES,
                }
            )
        )

    # ------------------------------------------------------------------
    # Failed records: a job a person can retry, and its exception
    # ------------------------------------------------------------------

    def _psa_failed_job(self, flow, external_id, payload, message, updated_at=None):
        """Store a record the import could not take as a failed job; return it.

        Its key is the record's, so a record that fails again updates the
        same job instead of adding one. The audit log records the rejection,
        as it records the outcome of every job the worker runs.
        """
        self.ensure_one()
        Job = self.env["integration.sync.job"].sudo()
        key = f"{flow.replace('.', ':')}:{external_id}"
        values = {
            "payload": payload,
            "state": "failed",
            "last_error": message,
            "external_updated_at": updated_at,
            "finished_at": fields.Datetime.now(),
            "claim_token": False,
        }
        job = Job.search([("backend_id", "=", self.id), ("idempotency_key", "=", key)])
        if job:
            job.write(values)
        else:
            values.update(
                backend_id=self.id,
                flow=flow,
                idempotency_key=key,
                direction="inbound",
                external_model=flow.split(".")[-1],
                external_id=str(external_id),
            )
            job = Job.create(values)
        self.env["integration.audit.log"]._record(
            self,
            direction="internal",
            endpoint=f"job/{flow}",
            method="REJECT",
            outcome="failed",
            message=message,
            correlation_id=job.correlation_id,
            job=job,
        )
        return job

    def _psa_changed_after_invoicing_error(self, line, entry, values, deleted=False):
        """Return the error of a PSA change to a timesheet that is already invoiced."""
        invoice = line.timesheet_invoice_id
        old = _(
            "%(date)s, %(hours).2f h, %(who)s, %(task)s: %(notes)s",
            date=line.date,
            hours=line.unit_amount,
            who=line.employee_id.name,
            task=line.task_id.name or line.project_id.name,
            notes=line.name,
        )
        # The hours a correction starts from: 0 for a deleted entry. An
        # unapproved or non-billable entry gives none, so a person decides.
        psa_hours = None
        if deleted or entry is None:
            change = _("deleted in the PSA")
            psa_hours = 0.0
        elif values is None:
            change = _("no longer approved in the PSA (%s)", entry.approval_state)
        else:
            psa_hours = entry.unit_amount if entry.billable else None
            change = _(
                "changed in the PSA to %(date)s, %(hours).2f h, %(billable)s: "
                "%(notes)s",
                date=entry.date,
                hours=entry.unit_amount,
                billable=_("billable") if entry.billable else _("not billable"),
                notes=entry.notes,
            )
        external_id = entry.id if entry else line._psa_external_id(self)
        return PsaBusinessError(
            _(
                "Timesheet %(line)s was invoiced on %(invoice)s and is %(change)s. "
                "Billed: %(old)s. The invoiced timesheet was left unchanged, and "
                'Retry cannot change it while it is invoiced. Press "Correct in next '
                'billing run" to credit and rebill the difference, or write why in '
                "the resolution note and press Ignore.",
                line=external_id,
                invoice=invoice.name or invoice.display_name,
                change=change,
                old=old,
            ),
            category="timesheet_changed_after_invoicing",
            dedup_key=f"psa:{self.id}:timesheet_changed_after_invoicing:{external_id}",
            records=line,
            psa_hours=psa_hours,
        )

    # ------------------------------------------------------------------
    # Entry points of the time pull
    # ------------------------------------------------------------------

    def psa_import_all_time_entries(self):
        """Import every approved time entry of this backend; return the counts.

        A whole pull, ignoring the watermark: entries already imported and
        unchanged count as `unchanged`. Memory stays bounded because pages
        are streamed and stored one at a time. Called by the benchmark and
        by administrators over RPC.
        """
        self.ensure_one()
        self.check_access("write")
        return TimeBatch(self.sudo(), full=True).run()

    def action_psa_import_time(self):
        """Pull the time entries changed since the last run, now."""
        self.ensure_one()
        self.check_access("write")
        counts = TimeBatch(self.sudo()).run()
        message = _(
            "%(read)s entries read: %(created)s created, %(updated)s updated, "
            "%(removed)s removed, %(rejected)s rejected, %(held)s held.",
            **counts,
        )
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"type": "info", "message": message, "sticky": False},
        }

    def action_psa_sync_people(self):
        """Map every PSA user to an employee now; report what is left to decide."""
        self.ensure_one()
        self.check_access("write")
        counts = self.sudo()._psa_sync_people()
        message = _(
            "%(read)s active PSA users: %(mapped)s mapped to employees, %(unknown)s "
            "waiting in the exception queue.",
            **counts,
        )
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"type": "info", "message": message, "sticky": False},
        }

    def action_psa_sync_projects(self):
        """Map the PSA's projects to Odoo projects by code, now."""
        self.ensure_one()
        self.check_access("write")
        counts = project_export.sync_projects(self.sudo())
        message = _("%(read)s PSA projects read, %(mapped)s mapped.", **counts)
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"type": "info", "message": message, "sticky": False},
        }

    def _psa_import_expenses(self, full=False, time_budget=None):
        """Run (or resume) this backend's expense pull; return its counts."""
        self.ensure_one()
        return ExpenseBatch(self, full=full, time_budget=time_budget).run()

    def action_psa_import_expenses(self):
        """Pull the expenses changed since the last run, now."""
        self.ensure_one()
        self.check_access("write")
        counts = ExpenseBatch(self.sudo()).run()
        message = _(
            "%(read)s expenses read: %(created)s created, %(updated)s updated, "
            "%(removed)s removed, %(rejected)s rejected.",
            **counts,
        )
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"type": "info", "message": message, "sticky": False},
        }

    def _psa_sync_people(self):
        """Map the PSA's users in a transaction of its own; return the counts.

        Committed before the time pull starts, whose page transactions bind
        people too: an uncommitted mapping here would make them wait.
        """
        self.ensure_one()
        with self.env.registry.cursor() as cr:
            return people.sync_people(self.with_env(self.env(cr=cr)))

    def _psa_import_time(self, full=False, time_budget=None):
        """Run (or resume) this backend's time pull; return its counts."""
        self.ensure_one()
        return TimeBatch(self, full=full, time_budget=time_budget).run()

    @api.model
    def _cron_psa_import_time(self):
        """Pull time entries for every PSA backend whose flow is due.

        The cron runs hourly, and each backend's flow decides how often its
        pull runs (nightly by default). A pull that runs out of time reports
        the rest as remaining, so the cron is called again at once and
        resumes after the last stored page.
        """
        self._psa_run_due(TIME_FLOW, "_psa_cron_time_step")

    @api.model
    def _cron_psa_import_expenses(self):
        """Pull expenses for every PSA backend whose expense flow is due."""
        self._psa_run_due(ExpenseBatch.flow, "_psa_cron_expense_step")

    @api.model
    def _psa_run_due(self, flow, step):
        """Run `step` for each backend whose `flow` is due, one failure apart.

        A backend whose PSA fails is logged and left for the next call (its
        run keeps its position, and a data problem has opened an exception),
        so it does not hold the other backends back.
        """
        budget = self._psa_cron_budget()
        done = 0
        for backend in self._psa_due_backends(flow):
            try:
                counts = getattr(backend, step)(budget, done)
            except IntegrationError as error:
                _logger.warning(
                    "PSA pull %s of backend %s stopped: %s", flow, backend.id, error
                )
                continue
            _logger.info("PSA pull %s of backend %s: %s", flow, backend.id, counts)
            done += counts["read"]
            if not counts["complete"]:
                return

    def _psa_cron_time_step(self, budget, done):
        """Map people, pull time, then look for deletions; return the counts."""
        if not self._psa_run_in_progress(TIME_FLOW):
            self._psa_sync_people()
        counts = TimeBatch(self, time_budget=budget, progress_offset=done).run()
        if counts["complete"]:
            self._psa_sweep_deleted_time()
        return counts

    def _psa_cron_expense_step(self, budget, done):
        """Pull expenses; return the counts."""
        return ExpenseBatch(self, time_budget=budget, progress_offset=done).run()

    def _psa_sweep_deleted_time(self, today=None):
        """Remove the timesheets of entries deleted in the PSA; return the counts."""
        self.ensure_one()
        if self.psa_deletion_window_days <= 0:
            return None
        today = today or fields.Date.context_today(self)
        date_from = today - timedelta(days=self.psa_deletion_window_days)
        return time_sweep.sweep_deleted(self, date_from, today).as_dict()

    @api.model
    def _psa_cron_budget(self):
        limit = config.get("limit_time_real_cron") or 0
        if limit <= 0:
            limit = config.get("limit_time_real") or 0
        return limit * CRON_TIME_SHARE if limit > 0 else DEFAULT_CRON_BUDGET_SECONDS

    def _psa_run_in_progress(self, code):
        """Return whether the pull of flow `code` stopped before its last page."""
        flow = self.flow_ids.filtered(lambda f: f.code == code)
        return bool(flow) and '"run"' in (flow.watermark or "")

    @api.model
    def _psa_due_backends(self, code):
        """Return the active PSA backends whose flow `code` is enabled and due.

        Reads flows without creating them: the pull creates its flow in its
        own transaction, and a row created here, uncommitted, would block it.
        """
        now = fields.Datetime.now()
        due = self.browse()
        for backend in self.search([("kind", "in", PSA_KINDS)]):
            flow = backend.flow_ids.filtered(lambda f, code=code: f.code == code)
            if not flow:
                due |= backend
                continue
            if not flow.enabled:
                continue
            in_progress = backend._psa_run_in_progress(code)
            interval = fields.Datetime.subtract(now, minutes=flow.interval_minutes or 0)
            if in_progress or not flow.last_run_at or flow.last_run_at <= interval:
                due |= backend
        return due
