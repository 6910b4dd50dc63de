"""HubSpot deal pipelines and stages, and which stages count as won.

Stage ids outside the default pipeline are opaque numbers, so "won" is read
from each stage's metadata (closed, with probability 1.0) when the
pipelines are loaded. An administrator can then override the flag per
stage and switch whole pipelines off.
"""

from odoo import _, api, fields, models
from odoo.addons.integration_audit.services.errors import BusinessError


class CrmBridgePipeline(models.Model):
    _name = "crm.bridge.pipeline"
    _description = "CRM Deal Pipeline"
    _order = "backend_id, sequence, id"

    backend_id = fields.Many2one(
        "integration.backend", required=True, ondelete="cascade", index=True
    )
    external_id = fields.Char(string="Pipeline ID", required=True)
    name = fields.Char(required=True)
    sequence = fields.Integer(default=10)
    sync_enabled = fields.Boolean(
        string="Sync", default=True, help="Turn won deals of this pipeline into orders."
    )
    stage_ids = fields.One2many(
        "crm.bridge.pipeline.stage", "pipeline_id", string="Stages"
    )

    _sql_constraints = [
        (
            "external_unique",
            "UNIQUE(backend_id, external_id)",
            "A pipeline is listed once per backend.",
        ),
    ]

    @api.model
    def _load_from_hubspot(self, backend, job=None):
        """Create or update the pipelines and stages HubSpot returns."""
        for sequence, data in enumerate(backend._crm_client(job).pipelines("deals")):
            pipeline = self.search(
                [("backend_id", "=", backend.id), ("external_id", "=", str(data["id"]))]
            )
            values = {"name": data.get("label") or data["id"], "sequence": sequence}
            if pipeline:
                pipeline.write(values)
            else:
                pipeline = self.create(
                    dict(values, backend_id=backend.id, external_id=str(data["id"]))
                )
            pipeline._load_stages(data.get("stages") or [])
        return True

    def _load_stages(self, stages):
        Stage = self.env["crm.bridge.pipeline.stage"]
        for sequence, data in enumerate(stages):
            metadata = data.get("metadata") or {}
            is_closed = str(metadata.get("isClosed", "")).lower() == "true"
            probability = float(metadata.get("probability") or 0.0)
            values = {
                "name": data.get("label") or data["id"],
                "sequence": data.get("displayOrder", sequence),
                "is_closed": is_closed,
                "probability": probability,
            }
            stage = self.stage_ids.filtered(
                lambda s, ref=str(data["id"]): s.external_id == ref
            )
            if stage:
                stage.write(values)
            else:
                Stage.create(
                    dict(
                        values,
                        pipeline_id=self.id,
                        external_id=str(data["id"]),
                        is_won=is_closed and probability >= 1.0,
                    )
                )

    @api.model
    def _find_stage(self, backend, pipeline_ref, stage_ref, job=None, deal_ref=None):
        """Return the stage of deal `deal_ref`, reloading the pipelines once if unknown.

        Raises `BusinessError` (unknown_stage) when HubSpot has no such stage
        either, so a deal is never ordered on a guess.
        """
        stage = self._search_stage(backend, pipeline_ref, stage_ref)
        if not stage:
            self._load_from_hubspot(backend, job=job)
            stage = self._search_stage(backend, pipeline_ref, stage_ref)
        if not stage:
            raise BusinessError(
                _(
                    "Deal %(deal)s is in stage %(stage)s of pipeline %(pipeline)s, "
                    "which backend %(backend)s does not know. Check the pipeline in "
                    "HubSpot, press Load Pipelines on the backend, then retry.",
                    deal=deal_ref or "-",
                    stage=stage_ref,
                    pipeline=pipeline_ref,
                    backend=backend.display_name,
                ),
                category="unknown_stage",
            )
        return stage

    @api.model
    def _search_stage(self, backend, pipeline_ref, stage_ref):
        return self.env["crm.bridge.pipeline.stage"].search(
            [
                ("pipeline_id.backend_id", "=", backend.id),
                ("pipeline_id.external_id", "=", pipeline_ref or "default"),
                ("external_id", "=", stage_ref),
            ],
            limit=1,
        )


class CrmBridgePipelineStage(models.Model):
    _name = "crm.bridge.pipeline.stage"
    _description = "CRM Deal Stage"
    _order = "pipeline_id, sequence, id"

    pipeline_id = fields.Many2one(
        "crm.bridge.pipeline", required=True, ondelete="cascade", index=True
    )
    backend_id = fields.Many2one(related="pipeline_id.backend_id", store=True)
    external_id = fields.Char(string="Stage ID", required=True)
    name = fields.Char(required=True)
    sequence = fields.Integer(default=10)
    is_closed = fields.Boolean(string="Closed", help="HubSpot's isClosed metadata.")
    probability = fields.Float(help="HubSpot's probability metadata, 0 to 1.")
    is_won = fields.Boolean(
        string="Counts as won",
        help="A deal reaching this stage becomes a confirmed sale order. Set "
        "from the stage metadata when loaded; change it here to override.",
    )

    _sql_constraints = [
        (
            "external_unique",
            "UNIQUE(pipeline_id, external_id)",
            "A stage is listed once per pipeline.",
        ),
    ]
