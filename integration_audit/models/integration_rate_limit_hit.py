"""One request sent in the current rate-limit window of a bucket.

The rows are written and read with SQL by `services/rate_limit.py`, which
explains the algorithm. The model exists so that Odoo creates, upgrades and
drops the table with the addon.
"""

from odoo import fields, models


class IntegrationRateLimitHit(models.Model):
    _name = "integration.rate.limit.hit"
    _description = "Integration Rate-Limit Hit"
    _log_access = False

    # A plain key rather than a many2one: the hit is written in its own
    # transaction, and a foreign key would make that transaction wait on
    # locks the calling transaction holds on the backend row.
    bucket = fields.Char(
        required=True, help="Rate-limit key, by default one per backend."
    )
    requested_at = fields.Float(
        required=True, help="Database clock time of the request, in Unix seconds."
    )

    def init(self):
        self.env.cr.execute(
            """
            CREATE INDEX IF NOT EXISTS integration_rate_limit_hit_bucket_time_idx
            ON integration_rate_limit_hit (bucket, requested_at)
            """
        )
