"""PSA exception categories and how a person resolves them."""

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..services.time_import import TimeImporter, entry_from_row, locked_rows_domain

# Entries of a locked month are imported this many at a time.
PERIOD_CHUNK = 500

PSA_CATEGORIES = [
    ("unknown_employee", "Unknown employee"),
    ("unknown_project", "Unknown project"),
    ("closed_project", "Closed or archived project"),
    ("hours_over_limit", "Hours above the limit"),
    ("duplicate_entry", "Duplicate entry in one page"),
    ("locked_period", "Locked period"),
    ("timesheet_changed_after_invoicing", "Timesheet changed after invoicing"),
    ("unknown_expense_category", "Unknown expense category"),
    ("expense_changed_after_posting", "Expense changed after posting"),
    ("fx_mismatch", "Currency conversion mismatch"),
]
IMPACTS = {
    "timesheet_changed_after_invoicing": "high",
    "locked_period": "high",
    "fx_mismatch": "high",
    "expense_changed_after_posting": "high",
    "unknown_employee": "medium",
    "unknown_project": "medium",
}


class IntegrationException(models.Model):
    _inherit = "integration.exception"

    category = fields.Selection(
        selection_add=PSA_CATEGORIES,
        ondelete={key: "set default" for key, _label in PSA_CATEGORIES},
    )
    psa_hours = fields.Float(
        string="Hours now in the PSA",
        readonly=True,
        help="What the PSA now records for an invoiced timesheet that changed. "
        "A billing correction starts from it.",
    )
    psa_hours_known = fields.Boolean(
        readonly=True,
        help="Unset when the PSA gives no hours to bill, such as an entry no "
        "longer approved: a person enters them.",
    )

    @api.model
    def _impact_of(self, category):
        """Return a billing problem's impact: high when invoiced money is at stake."""
        return IMPACTS.get(category) or super()._impact_of(category)

    @api.model
    def _open_from_error(self, job, error):
        """Open one exception per cause when the error names its cause.

        A PSA error carries a `dedup_key` (the unknown person, the unknown
        project...), so the fifty entries of one unknown person make one
        exception, not fifty. The exception points at the latest job of
        that cause.
        """
        key = getattr(error, "dedup_key", None)
        if not key:
            return super()._open_from_error(job, error)
        hours = getattr(error, "psa_hours", None)
        figures = {"psa_hours": hours or 0.0, "psa_hours_known": hours is not None}
        existing = self.sudo().search(
            [("dedup_key", "=", key), ("state", "in", ("new", "in_progress"))], limit=1
        )
        if existing:
            existing.write({"job_id": job.id, "description": str(error), **figures})
            return existing
        exception = super()._open_from_error(job, error)
        values = {"dedup_key": key, **figures}
        if getattr(error, "candidate_model", None) and not exception.candidate_model:
            values["candidate_model"] = error.candidate_model
        exception.write(values)
        return exception

    def _psa_corrected_hours(self):
        """Return the hours the PSA now records for the held timesheet, or None."""
        self.ensure_one()
        return self.psa_hours if self.psa_hours_known else None

    # ------------------------------------------------------------------
    # Resolution
    # ------------------------------------------------------------------

    def _link_record(self, target):
        """Map the PSA person or project of this exception to `target`.

        Then every other failed entry of the same person or project is
        queued again, so one link clears the whole backlog of that cause.
        """
        field = {
            "unknown_employee": ("hr.employee", "person_id", "user"),
            "unknown_project": ("project.project", "project_id", "project"),
            "unknown_expense_category": (
                "product.product",
                "category_id",
                "expense_category",
            ),
        }.get(self.category)
        if not field:
            return super()._link_record(target)
        model, key, external_model = field
        external_id = (self.job_id.payload or {}).get(key)
        if target._name != model or not external_id:
            raise UserError(
                _(
                    "Exception %(name)s has no PSA record to link to a %(model)s; "
                    "retry its job instead.",
                    name=self.display_name,
                    model=model,
                )
            )
        self._psa_bind(target, str(external_id), external_model)
        self._psa_requeue_related(key, str(external_id))
        return True

    def _psa_bind(self, target, external_id, external_model):
        Mapping = self.env["integration.external.id"].sudo()
        taken = Mapping.search(
            [
                ("backend_id", "=", self.backend_id.id),
                ("res_model", "=", target._name),
                ("res_id", "=", target.id),
                ("is_alias", "=", False),
                ("external_id", "!=", external_id),
            ],
            limit=1,
        )
        if taken:
            raise UserError(
                _(
                    "%(record)s is already linked to PSA record %(other)s on "
                    "%(backend)s. Choose another record, or remove that link first.",
                    record=target.display_name,
                    other=taken.external_id,
                    backend=self.backend_id.display_name,
                )
            )
        Mapping._bind(
            self.backend_id, target, external_id, external_model=external_model
        )

    def _psa_requeue_related(self, key, external_id):
        """Queue again the failed PSA jobs of the same person, project or category."""
        self.env["integration.sync.job"].flush_model(["payload", "state", "flow"])
        self.env.cr.execute(
            """
            SELECT id FROM integration_sync_job
             WHERE backend_id = %s
               AND flow IN ('psa.time_entry', 'psa.expense', 'psa.person')
               AND state IN ('failed', 'dead')
               AND id != %s
               AND payload ->> %s = %s
            """,
            [self.backend_id.id, self.job_id.id or 0, key, external_id],
        )
        ids = [row[0] for row in self.env.cr.fetchall()]
        if ids:
            self.env["integration.sync.job"].browse(ids).action_requeue()

    def action_psa_create_employee(self):
        """Create the employee of an unknown PSA user, link it and retry."""
        self.ensure_one()
        payload = self.job_id.payload or {}
        if self.category != "unknown_employee" or not payload.get("person_id"):
            raise UserError(
                _(
                    "Exception %s is not about an unknown PSA user; use Retry or "
                    "Link instead.",
                    self.display_name,
                )
            )
        email = payload.get("person_email") or False
        employee = self.env["hr.employee"].create(
            {
                "name": payload.get("person_name") or email or payload["person_id"],
                "work_email": email,
                "company_id": self.backend_id.company_id.id,
            }
        )
        self.candidate_model = "hr.employee"
        self._link_and_retry(employee)
        return True

    # ------------------------------------------------------------------
    # Locked periods
    # ------------------------------------------------------------------

    def action_psa_retry_period(self):
        """Import the month's held entries again, now that the period may be open."""
        return self._psa_import_period(allow_psa_lock=False)

    def action_psa_post_period(self):
        """Post the month's entries although the PSA locked them.

        A person decides this for the whole month; Odoo's own lock date
        still holds, so nothing lands in closed books.
        """
        return self._psa_import_period(allow_psa_lock=True)

    def _psa_import_period(self, allow_psa_lock):
        """Import a locked month's entries for an integration manager.

        The import itself runs with superuser rights, so the right to write
        the exception, which integration users lack, is checked first.
        """
        self.ensure_one()
        self.check_access("write")
        key_parts = (self.dedup_key or "").split(":")
        if self.category != "locked_period" or len(key_parts) != 4:
            raise UserError(
                _(
                    "Exception %s is not a locked period of PSA entries.",
                    self.display_name,
                )
            )
        month = key_parts[3]

        backend = self.backend_id.sudo()
        Ledger = self.env["psa.time.entry"].sudo()
        entries = [
            entry_from_row(row)
            for row in Ledger.search(locked_rows_domain(backend, month))
        ]
        importer = TimeImporter(backend, allow_psa_lock=allow_psa_lock)
        created = 0
        for start in range(0, len(entries), PERIOD_CHUNK):
            created += importer.import_page(
                entries[start : start + PERIOD_CHUNK]
            ).created

        remaining = Ledger.search_count(locked_rows_domain(backend, month))
        self.message_post(
            body=_(
                "%(user)s imported %(created)s entries of %(month)s; %(remaining)s "
                "remain held.",
                user=self.env.user.name,
                created=created,
                month=month,
                remaining=remaining,
            )
        )
        if not remaining and self.state in ("new", "in_progress"):
            self._close("resolved")
        return True
