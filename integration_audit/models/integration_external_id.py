"""External-ID mappings: which Odoo record an external record is.

One primary mapping per (backend, model, external id) and per (backend,
model, record). Alias rows keep old external ids resolving after a merge in
the external system: they point at the same record but are exempt from the
one-mapping-per-record rule.
"""

from odoo import api, fields, models

from ..services.errors import StaleChangeError
from .bulk_insert import insert_rows


class IntegrationExternalId(models.Model):
    _name = "integration.external.id"
    _description = "Integration External ID"
    _order = "backend_id, res_model, id"
    _rec_name = "external_id"

    backend_id = fields.Many2one(
        "integration.backend", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    res_model = fields.Char(string="Odoo Model", required=True, index=True)
    res_id = fields.Many2oneReference(
        string="Record ID", model_field="res_model", required=True, index=True
    )
    external_model = fields.Char(
        help="Object type in the external system, such as company or Account."
    )
    external_id = fields.Char(string="External ID", required=True)
    external_updated_at = fields.Datetime(
        help="Change time of the newest version applied, as the external "
        "system reported it. Older changes are skipped."
    )
    external_version = fields.Char()
    payload_hash = fields.Char(
        help="SHA-256 of the last payload applied; an identical payload is a no-op."
    )
    is_alias = fields.Boolean(
        help="An old external ID that now resolves to the record of a merge."
    )
    record_ref = fields.Reference(
        selection="_selection_record_ref", compute="_compute_record_ref"
    )

    _sql_constraints = [
        (
            "external_unique",
            "UNIQUE(backend_id, res_model, external_id)",
            "This external ID is already mapped to a record of this model.",
        ),
    ]

    def init(self):
        self.env.cr.execute(
            """
            CREATE UNIQUE INDEX IF NOT EXISTS integration_external_id_record_unique
            ON integration_external_id (backend_id, res_model, res_id)
            WHERE is_alias IS NOT TRUE
            """
        )

    @api.model
    def _selection_record_ref(self):
        return [
            (model.model, model.name)
            for model in self.env["ir.model"].sudo().search([])
        ]

    @api.depends("res_model", "res_id")
    def _compute_record_ref(self):
        for mapping in self:
            if mapping.res_model in self.env and mapping.res_id:
                mapping.record_ref = f"{mapping.res_model},{mapping.res_id}"
            else:
                mapping.record_ref = False

    @api.model
    def _lock(self, backend, res_model, external_id):
        """Hold a transaction lock on one external record until commit.

        Two workers that receive the same new external record at once both
        search the mapping, find nothing and would both create a record; the
        lock makes the second wait and then find the first one's mapping.
        """
        key = f"integration:{backend.id}:{res_model}:{external_id}"
        self.env.cr.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [key]
        )

    @api.model
    def _find(self, backend, res_model, external_id):
        """Return the mapping of `external_id`, following merge aliases."""
        return self.sudo().search(
            [
                ("backend_id", "=", backend.id),
                ("res_model", "=", res_model),
                ("external_id", "=", str(external_id)),
            ],
            limit=1,
        )

    @api.model
    def _resolve(self, backend, res_model, external_id):
        """Return the Odoo record mapped to `external_id`, or an empty recordset."""
        mapping = self._find(backend, res_model, external_id)
        record = self.env[res_model].browse(mapping.res_id).exists()
        return record.with_context(active_test=False) if mapping else record

    @api.model
    def _external_id_of(self, backend, record):
        """Return the external ID the primary mapping gives `record`, or False."""
        mapping = self.sudo().search(
            [
                ("backend_id", "=", backend.id),
                ("res_model", "=", record._name),
                ("res_id", "=", record.id),
                ("is_alias", "=", False),
            ],
            limit=1,
        )
        return mapping.external_id or False

    @api.model
    def _check_fresh(
        self, backend, res_model, external_id, updated_at, allow_equal=False
    ):
        """Raise `StaleChangeError` unless the change is newer than the applied one.

        A change with the same timestamp as the applied one is skipped too:
        the first applied wins, so two events of the same instant cannot
        flip a record back and forth. A replay passes `allow_equal` to apply
        its own change again.
        """
        if not updated_at:
            return
        mapping = self._find(backend, res_model, external_id)
        applied = mapping.external_updated_at
        if (
            not applied
            or updated_at > applied
            or (allow_equal and updated_at == applied)
        ):
            return
        raise StaleChangeError(
            f"{res_model} {external_id}: the change of {updated_at} is not newer "
            f"than the applied change of {applied}"
        )

    @api.model
    def _bind(
        self,
        backend,
        record,
        external_id,
        *,
        updated_at=None,
        version=None,
        payload_hash=None,
        external_model=None,
    ):
        """Map `record` to `external_id`, creating or updating the mapping."""
        record.ensure_one()
        mapping = self._find(backend, record._name, external_id)
        values = {
            "res_id": record.id,
            "external_updated_at": updated_at,
            "external_version": version,
            "payload_hash": payload_hash,
        }
        if external_model:
            values["external_model"] = external_model
        if mapping:
            mapping.write({k: v for k, v in values.items() if v is not None})
            return mapping
        values.update(
            backend_id=backend.id,
            res_model=record._name,
            external_id=str(external_id),
        )
        return self.sudo().create(values)

    @api.model
    def _bind_new(self, backend, res_model, bindings, external_model=None):
        """Map many records that have no mapping yet, in one INSERT; return them.

        `bindings` are dicts with `res_id` and `external_id`, and optionally
        `external_updated_at` and `payload_hash`. A page of imported
        records is mapped this way: one statement instead of a `create()`
        per mapping. The unique constraints still refuse a second mapping
        of the same external id or record, as for `_bind`.
        """
        values = [
            dict(
                binding,
                backend_id=backend.id,
                company_id=backend.company_id.id,
                res_model=res_model,
                external_id=str(binding["external_id"]),
                external_model=external_model,
            )
            for binding in bindings
        ]
        return insert_rows(self.sudo(), values)

    @api.model
    def _add_alias(self, backend, record, old_external_id):
        """Keep `old_external_id` resolving to `record` after a merge."""
        mapping = self._find(backend, record._name, old_external_id)
        if mapping:
            mapping.write({"res_id": record.id, "is_alias": True})
            return mapping
        return self.sudo().create(
            {
                "backend_id": backend.id,
                "res_model": record._name,
                "res_id": record.id,
                "external_id": str(old_external_id),
                "is_alias": True,
            }
        )

    @api.model
    def _upsert(
        self,
        backend,
        res_model,
        external_id,
        values,
        *,
        updated_at=None,
        payload_hash=None,
        match=None,
        external_model=None,
    ):
        """Create or update the record of one external record; return it.

        Holds the external record's lock, skips a change older than the one
        applied (`StaleChangeError`) and an identical payload, then writes
        the mapped record, or links the record `match()` returns, or
        creates one. Replaying the same change is therefore harmless.
        """
        self._lock(backend, res_model, external_id)
        self._check_fresh(
            backend,
            res_model,
            external_id,
            updated_at,
            allow_equal=self.env.context.get("integration_replay", False),
        )
        mapping = self._find(backend, res_model, external_id)
        record = (
            self.env[res_model].browse(mapping.res_id).exists() if mapping else None
        )
        if record and payload_hash and mapping.payload_hash == payload_hash:
            return record
        if record:
            record.write(values)
        else:
            record = match() if match else None
            if record:
                record.write(values)
            else:
                record = self.env[res_model].create(values)
        self._bind(
            backend,
            record,
            external_id,
            updated_at=updated_at,
            payload_hash=payload_hash,
            external_model=external_model,
        )
        return record
