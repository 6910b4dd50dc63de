"""Business exceptions: problems a person must decide on, with their workflow."""

import re

from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import UserError

# Maximum length of an exception title. The description keeps the whole text.
TITLE_LENGTH = 200
# Two full stops where a name ending in one ("S.Coop.") ends a sentence.
DOUBLED_STOP = re.compile(r"(?<!\.)\.\.(?!\.)")


# Each candidate detail and the fields it is read from: the first of them
# that the candidate's model has.
CANDIDATE_DETAILS = {
    "city": ("city",),
    "vat": ("vat",),
    "email": ("email", "work_email"),
    "reference": ("ref", "default_code", "barcode"),
}


def tidy_text(text):
    """Return `text` with the doubled full stop after an abbreviation removed.

    Markup is returned as it is, because a plain string would lose its markup.
    """
    if not isinstance(text, str) or isinstance(text, Markup):
        return text
    return DOUBLED_STOP.sub(".", text)


def title_from(text):
    """Return `text` as an exception title, shortened at a word with an ellipsis."""
    text = tidy_text(text or "")
    if len(text) <= TITLE_LENGTH:
        return text
    cut = text[: TITLE_LENGTH - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:") + "\u2026"


IMPACTS = [
    ("low", "Low"),
    ("medium", "Medium"),
    ("high", "High"),
    ("critical", "Critical"),
]


class IntegrationException(models.Model):
    _name = "integration.exception"
    _description = "Integration Exception"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "impact_rank desc, id desc"

    name = fields.Char(required=True, tracking=True)
    category = fields.Selection(
        [
            ("configuration", "Configuration missing"),
            ("invalid_payload", "Invalid data received"),
            ("dead_job", "Sync gave up after retries"),
            ("remote_rejected", "Rejected by the external system"),
            ("other", "Other"),
        ],
        required=True,
        default="other",
        tracking=True,
        help="Connector addons add their own categories, such as unmatched "
        "customer or timesheet changed after invoicing.",
    )
    impact = fields.Selection(IMPACTS, required=True, default="medium", tracking=True)
    impact_rank = fields.Integer(compute="_compute_impact_rank", store=True)
    state = fields.Selection(
        [
            ("new", "New"),
            ("in_progress", "In Progress"),
            ("resolved", "Resolved"),
            ("ignored", "Ignored"),
        ],
        required=True,
        default="new",
        tracking=True,
        index=True,
    )
    description = fields.Text(help="What happened, in plain words, and what to do.")
    backend_id = fields.Many2one("integration.backend", index=True, ondelete="set null")
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company, index=True
    )
    job_id = fields.Many2one("integration.sync.job", index=True, ondelete="set null")
    job_state = fields.Selection(related="job_id.state", string="Job state")
    user_id = fields.Many2one("res.users", string="Owner", tracking=True, index=True)
    res_model = fields.Char(string="Record model")
    res_id = fields.Many2oneReference(string="Record ID", model_field="res_model")
    record_ref = fields.Reference(
        selection="_selection_record_ref",
        compute="_compute_record_ref",
        string="Record",
    )
    candidate_model = fields.Char(help="Model of the records this can be linked to.")
    candidate_ids = fields.One2many(
        "integration.exception.candidate",
        "exception_id",
        string="Candidates",
        help="Records that may be the right one; link one to resolve.",
    )
    link_record = fields.Reference(
        selection="_selection_link_record",
        string="Link to",
        help="The existing record the external record is; saved, then linked "
        "by the Link and Retry button.",
    )
    resolution_note = fields.Text(tracking=True)
    resolved_by_id = fields.Many2one("res.users", readonly=True)
    retried_by_id = fields.Many2one(
        "res.users",
        readonly=True,
        help="Who last pressed Retry or Link. When the job then succeeds, the "
        "exception is resolved in their name.",
    )
    resolved_at = fields.Datetime(readonly=True)
    dedup_key = fields.Char(
        index=True,
        help="Exceptions with the same key are the same problem: a retry "
        "reopens the existing one instead of opening another.",
    )

    @api.model_create_multi
    def create(self, vals_list):
        for values in vals_list:
            self._tidy_values(values)
        return super().create(vals_list)

    def write(self, vals):
        return super().write(self._tidy_values(vals))

    def message_post(self, *, body="", **kwargs):
        return super().message_post(body=tidy_text(body), **kwargs)

    @api.model
    def _tidy_values(self, values):
        """Drop doubled full stops from the title and description, in place."""
        for name in ("name", "description"):
            if name in values:
                values[name] = tidy_text(values[name])
        return values

    @api.depends("impact")
    def _compute_impact_rank(self):
        ranks = {key: rank for rank, (key, _label) in enumerate(IMPACTS)}
        for exception in self:
            exception.impact_rank = ranks.get(exception.impact, 0)

    @api.model
    def _selection_record_ref(self):
        return [
            (model.model, model.name)
            for model in self.env["ir.model"].sudo().search([])
        ]

    @api.model
    def _selection_link_record(self):
        """Return the models that exceptions link to, which are their candidates' models."""
        self.env.cr.execute(
            "SELECT DISTINCT candidate_model FROM integration_exception"
            " WHERE candidate_model IS NOT NULL"
        )
        names = [row[0] for row in self.env.cr.fetchall()]
        models = self.env["ir.model"].sudo().search([("model", "in", names)])
        return [(model.model, model.name) for model in models]

    @api.depends("res_model", "res_id")
    def _compute_record_ref(self):
        for exception in self:
            if exception.res_model in self.env and exception.res_id:
                exception.record_ref = f"{exception.res_model},{exception.res_id}"
            else:
                exception.record_ref = False

    # ------------------------------------------------------------------
    # Opening
    # ------------------------------------------------------------------

    @api.model
    def _open(self, values):
        """Open an exception, or reopen the open one with the same `dedup_key`."""
        key = values.get("dedup_key")
        if key:
            existing = self.sudo().search(
                [("dedup_key", "=", key), ("state", "in", ("new", "in_progress"))],
                limit=1,
            )
            if existing:
                existing.write({k: v for k, v in values.items() if k != "state"})
                return existing
        return self.sudo().create(values)

    @api.model
    def _open_from_error(self, job, error):
        """Open the exception of a job that failed with a `BusinessError`."""
        values = {
            "name": title_from(str(error)),
            "description": str(error),
            "category": error.category,
            "impact": self._impact_of(error.category),
            "backend_id": job.backend_id.id,
            "company_id": job.company_id.id,
            "job_id": job.id,
            "dedup_key": f"job:{job.id}:{error.category}",
        }
        records = error.records
        if records:
            values.update(res_model=records._name, res_id=records[:1].id)
        candidates = error.candidates
        if candidates:
            values["candidate_model"] = candidates._name
        elif records:
            values["candidate_model"] = records._name
        exception = self._open(values)
        if candidates:
            exception._set_candidates(candidates)
        return exception

    def _set_candidates(self, candidates):
        self.ensure_one()
        self.candidate_ids.unlink()
        self.env["integration.exception.candidate"].sudo().create(
            [
                {
                    "exception_id": self.id,
                    "res_model": record._name,
                    "res_id": record.id,
                    "name": record.display_name,
                }
                for record in candidates
            ]
        )

    @api.model
    def _open_for_dead_job(self, job, message):
        return self._open(
            {
                "name": _(
                    "%(flow)s gave up after %(attempts)d attempts",
                    flow=job.flow,
                    attempts=job.attempts,
                ),
                "description": _(
                    "The last error was: %(error)s\nFix the cause (credentials, "
                    "the external system's availability), then press Retry.",
                    error=message,
                ),
                "category": "dead_job",
                "impact": "high",
                "backend_id": job.backend_id.id,
                "company_id": job.company_id.id,
                "job_id": job.id,
                "dedup_key": f"job:{job.id}:dead_job",
            }
        )

    @api.model
    def _impact_of(self, category):
        """Return the default impact of a category; connectors extend it."""
        return "medium"

    # ------------------------------------------------------------------
    # Workflow actions
    # ------------------------------------------------------------------

    def action_start(self):
        for exception in self:
            values = {"state": "in_progress"}
            if not exception.user_id:
                values["user_id"] = self.env.user.id
            exception.write(values)
        return True

    def action_retry(self):
        """Requeue the failed job; the exception resolves once the job is done."""
        for exception in self:
            if not exception.job_id:
                raise UserError(
                    _(
                        "Exception %s has no job to retry. Resolve or ignore it instead.",
                        exception.display_name,
                    )
                )
            if exception.job_id.state in ("failed", "dead"):
                exception.job_id.action_requeue()
            else:
                exception.job_id.action_replay()
            exception.message_post(body=_("Job requeued by %s.", self.env.user.name))
            exception.write({"state": "in_progress", "retried_by_id": self.env.user.id})
        return True

    def action_resolve(self):
        for exception in self:
            exception._close("resolved")
        return True

    def action_ignore(self):
        missing = self.filtered(lambda exception: not exception.resolution_note)
        if missing:
            raise UserError(
                _(
                    "Write why exception %s can be ignored in the resolution "
                    "note, then press Ignore again.",
                    missing[0].display_name,
                )
            )
        for exception in self:
            exception._close("ignored")
        return True

    def action_reopen(self):
        self.write(
            {
                "state": "new",
                "resolved_by_id": False,
                "resolved_at": False,
                "retried_by_id": False,
            }
        )
        return True

    def action_link_record(self):
        """Link the record chosen in Link to, then retry the job."""
        for exception in self:
            if not exception.link_record:
                raise UserError(
                    _(
                        "Choose the record to link in the Link to field of "
                        "exception %s, or press Link on one of its candidates.",
                        exception.display_name,
                    )
                )
            exception._link_and_retry(exception.link_record)
        return True

    def _link_and_retry(self, target):
        """Link `target` to the external record, then retry or resolve."""
        self.ensure_one()
        if not target.exists():
            raise UserError(
                _(
                    "The record chosen for exception %s no longer exists. Choose another.",
                    self.display_name,
                )
            )
        if self.candidate_model and target._name != self.candidate_model:
            raise UserError(
                _(
                    "Exception %(name)s links a record of %(expected)s, not of "
                    "%(chosen)s. Choose one in Link to again.",
                    name=self.display_name,
                    expected=self.env["ir.model"]._get(self.candidate_model).name
                    or self.candidate_model,
                    chosen=self.env["ir.model"]._get(target._name).name,
                )
            )
        self._link_record(target)
        self.message_post(
            body=_(
                "Linked to %(record)s by %(user)s.",
                record=target.display_name,
                user=self.env.user.name,
            )
        )
        if self.job_id:
            self.action_retry()
        else:
            self._close("resolved")

    def _link_record(self, target):
        raise UserError(
            _(
                "Exceptions of category %s cannot be resolved by linking a record.",
                self.category,
            )
        )

    def _close(self, state, user=None):
        self.write(
            {
                "state": state,
                "resolved_by_id": (user or self.env.user).id,
                "resolved_at": fields.Datetime.now(),
            }
        )

    @api.model
    def _resolve_for_done_jobs(self, jobs):
        """Resolve the open exceptions of jobs that have now succeeded."""
        open_exceptions = self.sudo().search(
            [("job_id", "in", jobs.ids), ("state", "in", ("new", "in_progress"))]
        )
        for exception in open_exceptions:
            exception.message_post(body=_("The job succeeded on retry."))
            exception._close("resolved", user=exception.retried_by_id)
        return open_exceptions


class IntegrationExceptionCandidate(models.Model):
    _name = "integration.exception.candidate"
    _description = "Integration Exception Candidate"
    _order = "id"

    exception_id = fields.Many2one(
        "integration.exception", required=True, ondelete="cascade", index=True
    )
    res_model = fields.Char(required=True)
    res_id = fields.Many2oneReference(model_field="res_model", required=True)
    name = fields.Char(help="The record's name when the exception was opened.")
    record_ref = fields.Reference(
        selection="_selection_record_ref",
        compute="_compute_record_ref",
        string="Record",
    )
    # Details that distinguish two candidates of the same name. They are read
    # as superuser, because the person who links may not read that model.
    city = fields.Char(compute="_compute_details", compute_sudo=True)
    vat = fields.Char(string="Tax ID", compute="_compute_details", compute_sudo=True)
    email = fields.Char(compute="_compute_details", compute_sudo=True)
    reference = fields.Char(
        string="Internal reference", compute="_compute_details", compute_sudo=True
    )

    @api.model
    def _selection_record_ref(self):
        return self.env["integration.exception"]._selection_record_ref()

    @api.depends("res_model", "res_id")
    def _compute_details(self):
        for candidate in self:
            record = candidate._record()
            for name, sources in CANDIDATE_DETAILS.items():
                source = next((f for f in sources if f in record._fields), None)
                value = record[source] if record and source else False
                candidate[name] = value or False

    def _record(self):
        """Return the candidate's record, empty when it was deleted."""
        self.ensure_one()
        if self.res_model not in self.env or not self.res_id:
            return self.env["res.partner"].browse()
        return self.env[self.res_model].browse(self.res_id).exists()

    @api.depends("res_model", "res_id")
    def _compute_record_ref(self):
        for candidate in self:
            candidate.record_ref = f"{candidate.res_model},{candidate.res_id}"

    def action_link(self):
        """Link this candidate to the exception's external record."""
        self.ensure_one()
        self.exception_id.check_access("write")
        record = self.env[self.res_model].browse(self.res_id)
        self.exception_id._link_and_retry(record)
        return True
