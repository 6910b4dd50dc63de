"""The sync queue: one row per unit of work, and the worker that runs them.

A job is stored (idempotently, by its key) before anything acknowledges the
event that caused it. The worker claims due jobs with `FOR UPDATE SKIP
LOCKED` and commits the claim. It then runs each job in a transaction of
its own while holding the job's row lock. Any number of workers on any
number of servers can therefore share the queue without a job running
twice. A worker that dies mid-job leaves the job `running` and unlocked, and
a later worker puts it back in the queue once the claim's lease has ended.
"""

import logging
import time
import uuid
from datetime import timedelta

import psycopg2.errors
import requests

from odoo import SUPERUSER_ID, _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import config, mute_logger

from ..services import cron_wakeup
from ..services.backoff import retry_delay
from ..services.errors import BusinessError, RetryableError, StaleChangeError
from .bulk_insert import insert_rows

_logger = logging.getLogger(__name__)

JOB_STATES = [
    ("pending", "Pending"),
    ("running", "Running"),
    ("done", "Done"),
    ("failed", "Failed"),
    ("dead", "Dead"),
]

# Database errors raised when a concurrent transaction won a race; a retry
# from a fresh snapshot is expected to succeed.
TRANSIENT_DB_ERRORS = (
    psycopg2.errors.SerializationFailure,
    psycopg2.errors.DeadlockDetected,
    psycopg2.errors.LockNotAvailable,
    psycopg2.errors.UniqueViolation,
)
# Errors raised by inserting a key that a concurrent transaction stored first.
KEY_TAKEN_ERRORS = (
    psycopg2.errors.SerializationFailure,
    psycopg2.errors.UniqueViolation,
)
TRANSIENT_NETWORK_ERRORS = (requests.ConnectionError, requests.Timeout)
# Claims lost to a concurrent worker are tried again this many times.
CLAIM_ATTEMPTS = 5
# While a cron run waits for jobs due soon, it polls the queue this often.
WAIT_POLL_SECONDS = 1.0
WAIT_POLL_MIN_SECONDS = 0.05


class IntegrationSyncJob(models.Model):
    _name = "integration.sync.job"
    _description = "Integration Sync Job"
    _order = "id desc"
    _rec_name = "idempotency_key"

    # A webhook batch adds a hundred rows to every index of this table. So
    # only these queries have an index: the unique key (which starts with
    # backend_id), the due-job and attention indexes of `init`, and the
    # lookups by external and correlation ID.
    backend_id = fields.Many2one(
        "integration.backend", required=True, ondelete="restrict"
    )
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    direction = fields.Selection(
        [("inbound", "Inbound"), ("outbound", "Outbound")],
        required=True,
        default="inbound",
    )
    flow = fields.Char(required=True, help="Handler name, such as hubspot.company.")
    idempotency_key = fields.Char(
        required=True,
        help="The same event delivered twice carries the same key and is stored once.",
    )
    payload = fields.Json()
    state = fields.Selection(JOB_STATES, required=True, default="pending")
    priority = fields.Integer(default=10, help="Lower runs first.")
    attempts = fields.Integer(default=0, readonly=True)
    next_attempt_at = fields.Datetime(default=fields.Datetime.now)
    last_error = fields.Text(readonly=True)
    result = fields.Text(readonly=True)
    correlation_id = fields.Char(
        default=lambda self: uuid.uuid4().hex, index=True, readonly=True
    )
    external_model = fields.Char()
    external_id = fields.Char(string="External ID", index=True)
    external_updated_at = fields.Datetime(
        help="Change time of the external record this job applies."
    )
    res_model = fields.Char(string="Odoo Model")
    res_id = fields.Many2oneReference(string="Record ID", model_field="res_model")
    is_replay = fields.Boolean(
        readonly=True,
        copy=False,
        help="Run again by a person: its own change is applied again even if "
        "the mapping already holds a change of the same time.",
    )
    claim_token = fields.Char(readonly=True, copy=False)
    claimed_at = fields.Datetime(readonly=True, copy=False)
    finished_at = fields.Datetime(readonly=True, copy=False)
    exception_ids = fields.One2many("integration.exception", "job_id")
    audit_log_ids = fields.One2many("integration.audit.log", "job_id")

    _sql_constraints = [
        (
            "idempotency_key_unique",
            "UNIQUE(backend_id, idempotency_key)",
            "A job with this idempotency key already exists for this backend.",
        ),
    ]

    def init(self):
        self.env.cr.execute(
            """
            CREATE INDEX IF NOT EXISTS integration_sync_job_due_idx
            ON integration_sync_job (priority, next_attempt_at, id)
            WHERE state = 'pending'
            """
        )
        # Running, failed and dead jobs: lease recovery and the lists people
        # work from. Pending and done jobs, the many, stay out of it.
        self.env.cr.execute(
            """
            CREATE INDEX IF NOT EXISTS integration_sync_job_attention_idx
            ON integration_sync_job (state, backend_id)
            WHERE state IN ('running', 'failed', 'dead')
            """
        )

    @api.depends("flow", "external_id", "idempotency_key")
    def _compute_display_name(self):
        for job in self:
            job.display_name = f"{job.flow}: {job.external_id or job.idempotency_key}"

    # ------------------------------------------------------------------
    # Enqueueing
    # ------------------------------------------------------------------

    @api.model
    def _enqueue(self, backend, flow, idempotency_key, payload=None, **values):
        """Store a job unless one with the same key exists; return the job.

        Extra `values` are job fields (direction, external_id, res_model...).
        A second call with the same key returns the first job unchanged, so
        a duplicate delivery is a no-op.
        """
        jobs = self._enqueue_many(
            backend,
            [dict(values, flow=flow, idempotency_key=idempotency_key, payload=payload)],
        )
        return jobs

    @api.model
    def _enqueue_many(self, backend, job_values):
        """Store many jobs in one statement, skipping keys already stored.

        Returns the jobs of the given keys, new and existing alike, except
        one that a concurrent transaction committed after this transaction's
        snapshot (it exists, but is not visible here). Wakes the worker when
        a job was created.
        """
        created = self._enqueue_new(backend, job_values)
        keys = [values["idempotency_key"] for values in job_values]
        existing = self.browse()
        if len(created) < len(set(keys)):
            existing = self.sudo().search(
                [
                    ("backend_id", "=", backend.id),
                    ("idempotency_key", "in", keys),
                    ("id", "not in", created.ids),
                ]
            )
        return (existing | created).with_env(self.env)

    @api.model
    def _enqueue_new(self, backend, job_values):
        """Store the jobs whose keys are new for `backend`; return only those.

        Intake stores batches of a hundred events per request, so the rows
        go in with one ``INSERT ... ON CONFLICT DO NOTHING`` rather than
        through `create()`, with the fields' own defaults. A key
        already stored, or stored meanwhile by a concurrent delivery, is
        skipped. Wakes the worker when a job was created.
        """
        fresh, seen = [], set()
        for values in job_values:
            if values["idempotency_key"] not in seen:
                seen.add(values["idempotency_key"])
                fresh.append(values)
        if not fresh:
            return self.browse()
        rows = self._job_rows(backend, fresh)
        try:
            with self.env.cr.savepoint(), mute_logger("odoo.sql_db"):
                created_ids = self._insert_rows(rows)
        except TRANSIENT_DB_ERRORS:
            _logger.info(
                "A concurrent delivery stored some of %d jobs; storing them one by one",
                len(rows),
            )
            created_ids = []
            for row in rows:
                try:
                    with self.env.cr.savepoint(), mute_logger("odoo.sql_db"):
                        created_ids += self._insert_rows([row])
                except KEY_TAKEN_ERRORS:
                    _logger.info(
                        "Sync job %s of backend %s was stored by a concurrent delivery",
                        row["idempotency_key"],
                        backend.id,
                    )
        created = self.browse(created_ids)
        if created:
            self._wake_worker()
        return created.with_env(self.env)

    @api.model
    def _job_rows(self, backend, job_values):
        """Return the column values of new jobs: defaults, then the given values.

        The defaults are the fields' own. Unlike `create()`, context keys and
        `ir.default` entries do not apply: a job's values come from its code.
        """
        Job = self.sudo()
        defaults = {
            name: field.default(Job)
            for name, field in Job._fields.items()
            if field.store
            and field.column_type
            and field.default
            and name not in models.MAGIC_COLUMNS
        }
        common = dict(defaults, backend_id=backend.id, company_id=backend.company_id.id)
        rows = []
        for values in job_values:
            row = dict(common, correlation_id=uuid.uuid4().hex)
            row.update(values)
            rows.append(row)
        return rows

    @api.model
    def _insert_rows(self, rows):
        """Insert job rows; return the ids of those whose key was not stored."""
        jobs = insert_rows(
            self.sudo(), rows, skip_conflicts_on=("backend_id", "idempotency_key")
        )
        return jobs.ids

    @api.model
    def _wake_worker(self):
        """Ask the cron to run the queue now instead of at its next interval.

        What `ir.cron._trigger()` does, at a fraction of its cost, since
        intake calls it for every request: one trigger row, then, once the
        transaction is committed, the notification over a kept connection
        (see `cron_wakeup`).
        """
        cron_id = self.env["ir.model.data"]._xmlid_to_res_id(
            "integration_audit.ir_cron_run_sync_jobs", raise_if_not_found=False
        )
        if not cron_id:
            return
        self.env.cr.execute(
            """
            INSERT INTO ir_cron_trigger
                   (cron_id, call_at, create_uid, write_uid, create_date, write_date)
            VALUES (%(cron)s, %(call_at)s, %(uid)s, %(uid)s, %(now)s, %(now)s)
            """,
            {
                "cron": cron_id,
                "call_at": fields.Datetime.now(),
                "now": self.env.cr.now(),
                "uid": self.env.uid,
            },
        )
        dbname = self.env.cr.dbname
        self.env.cr.postcommit.add(lambda: cron_wakeup.notify_cron_workers(dbname))

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------

    def action_requeue(self):
        """Put failed, dead or pending jobs back in the queue, due now."""
        blocked = self.filtered(lambda job: job.state in ("running", "done"))
        if blocked:
            raise UserError(
                _(
                    "Job %(job)s is %(state)s and cannot be requeued. Use Replay "
                    "to run a finished job again.",
                    job=blocked[0].display_name,
                    state=blocked[0].state,
                )
            )
        self._reset_for_run(_("requeued"), replay=False)
        return True

    def action_replay(self):
        """Run finished jobs again; handlers upsert, so nothing is doubled."""
        blocked = self.filtered(lambda job: job.state == "running")
        if blocked:
            raise UserError(
                _(
                    "Job %(job)s is running now. Wait for it to finish, then replay it.",
                    job=blocked[0].display_name,
                )
            )
        self._reset_for_run(_("replayed"), replay=True)
        return True

    def _reset_for_run(self, verb, replay):
        self.check_access("write")
        for job in self.sudo():
            job.write(
                {
                    "state": "pending",
                    "attempts": 0,
                    "next_attempt_at": fields.Datetime.now(),
                    "last_error": False,
                    "claim_token": False,
                    "is_replay": replay,
                }
            )
            self.env["integration.audit.log"]._record(
                job.backend_id,
                direction="internal",
                endpoint=f"job/{job.flow}",
                method=verb.upper(),
                outcome="ok",
                message=_(
                    "Job %(job)s %(verb)s by %(user)s.",
                    job=job.display_name,
                    verb=verb,
                    user=self.env.user.name,
                ),
                job=job,
            )
        self._wake_worker()

    # ------------------------------------------------------------------
    # The worker
    # ------------------------------------------------------------------

    @api.model
    def _cron_run_jobs(self, batch_size=50, time_limit=240, wait_seconds=0):
        """Run due jobs until the queue is empty or `time_limit` seconds pass.

        Safe to run in several workers at once. Returns the number of jobs
        this call ran. With `wait_seconds`, an empty queue whose next job
        is due within that many seconds is polled until it is due, instead
        of left to the next cron run (see `_pause_before_next_due`).
        """
        self._recover_stale_jobs()
        started = time.monotonic()
        deadline = started + time_limit
        wait_until = started + min(wait_seconds, self._wait_budget())
        ran = 0
        while time.monotonic() < deadline:
            claimed = self._claim_jobs(batch_size)
            if not claimed:
                pause = self._pause_before_next_due(wait_until - time.monotonic())
                if pause is None:
                    break
                time.sleep(pause)
                continue
            token, job_ids = claimed
            for job_id in job_ids:
                ran += self._run_claimed_job(job_id, token)
        return ran

    @api.model
    def _wait_budget(self):
        """Return the seconds a cron run may spend waiting for jobs to be due.

        Half the cron worker's real-time limit, so the wait never gets the
        worker killed; one minute when no limit is configured.
        """
        limit = config.get("limit_time_real_cron") or 0
        if limit <= 0:
            limit = config.get("limit_time_real") or 0
        return limit / 2 if limit > 0 else 60

    @api.model
    def _pause_before_next_due(self, horizon):
        """Return the seconds to sleep before polling the queue again, or None.

        Odoo's cron workers wake once a minute unless a trigger is due now,
        so a retry due in a few seconds would otherwise wait for the next
        wake-up instead of following its backoff. None means no pending job
        is due within `horizon` seconds. The pause is at most
        `WAIT_POLL_SECONDS`, so jobs that webhooks store meanwhile start
        within that time.
        """
        if horizon <= 0:
            return None
        with self.env.registry.cursor() as cr:
            cr.execute(
                """
                SELECT min(job.next_attempt_at)
                  FROM integration_sync_job job
                  JOIN integration_backend backend
                    ON backend.id = job.backend_id AND backend.active
                 WHERE job.state = 'pending'
                """
            )
            next_due = cr.fetchone()[0]
        if next_due is None:
            return None
        delay = (next_due - fields.Datetime.now()).total_seconds()
        if delay > horizon:
            return None
        return min(max(delay, WAIT_POLL_MIN_SECONDS), WAIT_POLL_SECONDS)

    @api.model
    def _claim_jobs(self, limit):
        """Claim up to `limit` due jobs and commit; return (token, ids) or None.

        Odoo's transactions are REPEATABLE READ: a claim whose snapshot
        predates another worker's committed claim of the same rows fails
        with a serialization error, and is tried again from a new snapshot.
        None means the queue has no due job, or every attempt lost the race.
        """
        for _attempt in range(CLAIM_ATTEMPTS):
            try:
                with mute_logger("odoo.sql_db"):
                    return self._claim_due_jobs(limit)
            except psycopg2.errors.SerializationFailure:
                _logger.debug("A concurrent claim won the race; claiming again")
        return None

    @api.model
    def _claim_due_jobs(self, limit):
        token = uuid.uuid4().hex
        with self.env.registry.cursor() as cr:
            cr.execute(
                """
                UPDATE integration_sync_job job
                   SET state = 'running',
                       claim_token = %(token)s,
                       claimed_at = %(now)s,
                       attempts = job.attempts + 1
                 WHERE job.id IN (
                        SELECT due.id
                          FROM integration_sync_job due
                          JOIN integration_backend backend
                            ON backend.id = due.backend_id AND backend.active
                         WHERE due.state = 'pending'
                           AND due.next_attempt_at <= %(now)s
                         ORDER BY due.priority, due.external_updated_at NULLS FIRST,
                                  due.next_attempt_at, due.id
                         LIMIT %(limit)s
                           FOR UPDATE OF due SKIP LOCKED)
             RETURNING job.id
                """,
                {"token": token, "limit": limit, "now": fields.Datetime.now()},
            )
            job_ids = sorted(row[0] for row in cr.fetchall())
        return (token, job_ids) if job_ids else None

    @api.model
    def _recover_stale_jobs(self, lease_seconds=900):
        """Return jobs orphaned in `running` by a dead worker to the queue.

        A live worker holds the row lock of the job it runs, so SKIP LOCKED
        leaves those jobs alone. The lease spares jobs that are claimed but
        still waiting in a live worker's batch.
        """
        try:
            with mute_logger("odoo.sql_db"), self.env.registry.cursor() as cr:
                cr.execute(
                    """
                    UPDATE integration_sync_job job
                       SET state = 'pending',
                           claim_token = NULL,
                           next_attempt_at = %(now)s,
                           last_error = 'Recovered: the worker running this job stopped.'
                     WHERE job.id IN (
                            SELECT stale.id FROM integration_sync_job stale
                             WHERE stale.state = 'running'
                               AND stale.claimed_at < %(limit)s
                               FOR UPDATE SKIP LOCKED)
                 RETURNING job.id
                    """,
                    {
                        "now": fields.Datetime.now(),
                        "limit": fields.Datetime.now()
                        - timedelta(seconds=lease_seconds),
                    },
                )
                recovered = [row[0] for row in cr.fetchall()]
        except psycopg2.errors.SerializationFailure:
            # Another worker recovered or claimed these rows after this
            # transaction's snapshot; it has them in hand.
            return []
        if recovered:
            _logger.warning(
                "Recovered %d orphaned sync jobs: %s", len(recovered), recovered
            )
        return recovered

    @api.model
    def _run_claimed_job(self, job_id, token):
        """Run one claimed job in its own transaction; return 1 if it ran.

        When the transaction cannot commit (a serialization failure while
        the outcome is recorded), the claim is released so the job runs
        again soon, instead of waiting in `running` for the lease to end.
        """
        try:
            with self.env.registry.cursor() as cr:
                cr.execute(
                    "SELECT id FROM integration_sync_job WHERE id = %s"
                    " AND claim_token = %s AND state = 'running' FOR NO KEY UPDATE",
                    [job_id, token],
                )
                if not cr.fetchone():
                    return 0
                env = api.Environment(cr, SUPERUSER_ID, {})
                job = env["integration.sync.job"].browse(job_id)
                company = job.company_id
                job = job.with_company(company).with_context(
                    allowed_company_ids=company.ids
                )
                job._execute()
        except TRANSIENT_DB_ERRORS as error:
            _logger.warning(
                "Sync job %s could not record its outcome and is queued again: %s",
                job_id,
                error,
            )
            self._release_claim(job_id, token, f"{type(error).__name__}: {error}")
            return 0
        return 1

    @api.model
    def _release_claim(self, job_id, token, message):
        """Put a claimed job back in the queue after its transaction failed."""
        with self.env.registry.cursor() as cr:
            cr.execute(
                """
                UPDATE integration_sync_job
                   SET state = 'pending', claim_token = NULL,
                       next_attempt_at = %s, last_error = %s
                 WHERE id = %s AND claim_token = %s
                """,
                [fields.Datetime.now() + timedelta(seconds=5), message, job_id, token],
            )

    def _execute(self):
        """Call the flow's handler in a savepoint and record the outcome."""
        self.ensure_one()
        started = time.monotonic()
        try:
            with self.env.cr.savepoint():
                job = self.with_context(integration_replay=self.is_replay)
                job._check_freshness()
                outcome = job._get_handler()()
        except StaleChangeError as error:
            self._finish("done", result=_("Skipped: %s", error))
            self._log_outcome("skipped", str(error), started)
        except BusinessError as error:
            self._finish("failed", error=str(error))
            self.env["integration.exception"]._open_from_error(self, error)
            self._log_outcome("failed", str(error), started)
        except RetryableError as error:
            self._retry_or_die(str(error), error.retry_after, started)
        except TRANSIENT_NETWORK_ERRORS + TRANSIENT_DB_ERRORS as error:
            self._retry_or_die(f"{type(error).__name__}: {error}", None, started)
        except Exception as error:
            _logger.exception(
                "Sync job %s (%s) raised an unexpected error", self.id, self.flow
            )
            self._retry_or_die(f"{type(error).__name__}: {error}", None, started)
        else:
            self._finish("done", result=self._describe_outcome(outcome))
            self.env["integration.exception"]._resolve_for_done_jobs(self)

    def _check_freshness(self):
        if self.external_id and self.res_model and self.external_updated_at:
            self.env["integration.external.id"]._check_fresh(
                self.backend_id,
                self.res_model,
                self.external_id,
                self.external_updated_at,
                allow_equal=self.is_replay,
            )

    def _get_handler(self):
        handlers = self._get_flow_handlers()
        if self.flow not in handlers:
            raise BusinessError(
                _(
                    "No handler is installed for flow %(flow)s. Install the addon "
                    "that provides it, then retry the job.",
                    flow=self.flow,
                ),
                category="configuration",
            )
        return getattr(self, handlers[self.flow])

    @api.model
    def _get_flow_handlers(self):
        """Return {flow: name of the job method that runs it}.

        Connector addons extend this mapping; a handler method takes no
        argument, reads `self.payload` and returns the Odoo record it
        created or updated (or None).
        """
        return {}

    def _describe_outcome(self, outcome):
        if isinstance(outcome, models.BaseModel) and len(outcome) == 1:
            self.write({"res_model": outcome._name, "res_id": outcome.id})
            return f"{outcome._name},{outcome.id}"
        return str(outcome) if outcome is not None else False

    def _finish(self, state, result=False, error=False):
        self.write(
            {
                "state": state,
                "result": result,
                "last_error": error,
                "finished_at": fields.Datetime.now(),
                "claim_token": False,
            }
        )

    def _retry_or_die(self, message, retry_after, started):
        backend = self.backend_id
        if self.attempts >= backend.max_attempts:
            self._finish("dead", error=message)
            self.env["integration.exception"]._open_for_dead_job(self, message)
            self._log_outcome("dead", message, started)
            return
        delay = retry_delay(
            self.attempts,
            backend.retry_base_seconds,
            backend.retry_max_seconds,
            retry_after,
        )
        self.write(
            {
                "state": "pending",
                "last_error": message,
                "claim_token": False,
                "next_attempt_at": fields.Datetime.now() + timedelta(seconds=delay),
            }
        )
        self._log_outcome(
            "retry",
            _("%(error)s; retry in %(delay)d s", error=message, delay=delay),
            started,
        )

    def _log_outcome(self, outcome, message, started):
        self.env["integration.audit.log"]._record(
            self.backend_id,
            direction="internal",
            endpoint=f"job/{self.flow}",
            method="RUN",
            outcome=outcome,
            message=message,
            duration_ms=(time.monotonic() - started) * 1000,
            correlation_id=self.correlation_id,
            job=self,
        )

    # ------------------------------------------------------------------
    # Retention
    # ------------------------------------------------------------------

    @api.model
    def _cron_purge_finished_jobs(self):
        """Delete done jobs older than their backend's retention."""
        backends = (
            self.env["integration.backend"].with_context(active_test=False).search([])
        )
        purged = 0
        for backend in backends:
            limit = fields.Datetime.now() - timedelta(days=backend.job_retention_days)
            old = self.sudo().search(
                [
                    ("backend_id", "=", backend.id),
                    ("state", "=", "done"),
                    ("finished_at", "<", limit),
                    ("exception_ids", "=", False),
                ]
            )
            purged += len(old)
            old.unlink()
        return purged
