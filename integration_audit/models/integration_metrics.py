"""The figures `GET /integration/metrics` exposes to Prometheus.

Queue figures (depth, jobs, failures, retries) are read from the jobs stored
now, so they are gauges: they fall when the retention cron deletes finished
jobs. Webhook and latency figures are read from the audit log of the last
hour. Every query is one aggregate over an indexed column, across all
companies; the route is for monitoring, guarded by its own token.
"""

from datetime import timedelta

from odoo import api, fields, models

from ..services import prometheus

JOB_STATES = ("pending", "running", "done", "failed", "dead")
LATENCY_QUANTILES = (0.5, 0.9, 0.99)
WINDOW = timedelta(hours=1)


class IntegrationMetrics(models.AbstractModel):
    _name = "integration.metrics"
    _description = "Integration Metrics"

    @api.model
    def _render_prometheus(self):
        """Return every metric family in the Prometheus text format."""
        self.env.flush_all()
        backends = self._backend_labels()
        since = fields.Datetime.now() - WINDOW
        families = [
            self._queue_depth(backends),
            self._oldest_due_job(backends),
            *self._jobs_by_flow(backends),
            *self._webhook_deliveries(backends, since),
            self._api_latency(backends, since),
            self._open_exceptions(),
        ]
        return prometheus.render(families)

    def _backend_labels(self):
        self.env.cr.execute(
            "SELECT id, name, active FROM integration_backend ORDER BY id"
        )
        return {
            backend_id: {
                "labels": {"backend_id": backend_id, "backend": name},
                "active": active,
            }
            for backend_id, name, active in self.env.cr.fetchall()
        }

    def _labels(self, backends, backend_id):
        if backend_id in backends:
            return dict(backends[backend_id]["labels"])
        return {"backend_id": "", "backend": ""}

    def _queue_depth(self, backends):
        family = prometheus.Family(
            "integration_queue_jobs",
            "gauge",
            "Sync jobs stored now, by backend and state.",
        )
        self.env.cr.execute(
            "SELECT backend_id, state, count(*) FROM integration_sync_job "
            "GROUP BY backend_id, state"
        )
        counts = {
            (backend_id, state): count
            for backend_id, state, count in self.env.cr.fetchall()
        }
        # Every state of every active backend, zeros included, so that an
        # empty queue reads 0 rather than no data.
        keys = {
            (backend_id, state)
            for backend_id, info in backends.items()
            if info["active"]
            for state in JOB_STATES
        }
        for backend_id, state in sorted(keys | set(counts)):
            family.add(
                counts.get((backend_id, state), 0),
                state=state,
                **self._labels(backends, backend_id),
            )
        return family

    def _oldest_due_job(self, backends):
        family = prometheus.Family(
            "integration_queue_oldest_due_seconds",
            "gauge",
            "Seconds the oldest due pending job of each backend has waited past its "
            "due time.",
        )
        self.env.cr.execute(
            """
            SELECT backend_id, extract(epoch FROM %(now)s - min(next_attempt_at))
              FROM integration_sync_job
             WHERE state = 'pending' AND next_attempt_at <= %(now)s
             GROUP BY backend_id
            """,
            {"now": fields.Datetime.now()},
        )
        for backend_id, seconds in self.env.cr.fetchall():
            family.add(max(float(seconds), 0.0), **self._labels(backends, backend_id))
        return family

    def _jobs_by_flow(self, backends):
        jobs = prometheus.Family(
            "integration_jobs", "gauge", "Sync jobs stored now, by backend and flow."
        )
        failures = prometheus.Family(
            "integration_job_failures",
            "gauge",
            "Stored sync jobs that ended failed or dead, by backend and flow.",
        )
        retries = prometheus.Family(
            "integration_job_retries",
            "gauge",
            "Attempts beyond the first, summed over stored sync jobs, by backend "
            "and flow.",
        )
        self.env.cr.execute(
            """
            SELECT backend_id, flow, count(*),
                   count(*) FILTER (WHERE state IN ('failed', 'dead')),
                   coalesce(sum(greatest(attempts - 1, 0)), 0)
              FROM integration_sync_job
             GROUP BY backend_id, flow
             ORDER BY backend_id, flow
            """
        )
        for backend_id, flow, total, failed, retried in self.env.cr.fetchall():
            labels = dict(self._labels(backends, backend_id), flow=flow)
            jobs.add(total, **labels)
            failures.add(failed, **labels)
            retries.add(retried, **labels)
        return [jobs, failures, retries]

    def _webhook_deliveries(self, backends, since):
        accepted = prometheus.Family(
            "integration_webhook_accepted_last_hour",
            "gauge",
            "Webhook requests stored and acknowledged in the last hour, by backend.",
        )
        refused = prometheus.Family(
            "integration_webhook_refusals_last_hour",
            "gauge",
            "Webhook requests refused in the last hour, by backend and HTTP status; "
            "an empty backend_id is an unknown backend.",
        )
        self.env.cr.execute(
            """
            SELECT backend_id, outcome, status_code, count(*)
              FROM integration_audit_log
             WHERE direction = 'inbound'
               AND endpoint LIKE '/integration/webhook/%%'
               AND outcome IN ('ok', 'refused')
               AND create_date >= %s
             GROUP BY backend_id, outcome, status_code
             ORDER BY backend_id NULLS FIRST, outcome, status_code
            """,
            [since],
        )
        for backend_id, outcome, status, count in self.env.cr.fetchall():
            labels = self._labels(backends, backend_id)
            if outcome == "ok":
                accepted.add(count, **labels)
            else:
                refused.add(count, status=status or 0, **labels)
        return [accepted, refused]

    def _api_latency(self, backends, since):
        family = prometheus.Family(
            "integration_api_latency_seconds",
            "summary",
            "Duration of outbound API exchanges in the last hour, by backend, from "
            "the audit log.",
        )
        self.env.cr.execute(
            """
            SELECT backend_id, count(*), sum(duration_ms),
                   percentile_cont(%s::float8[]) WITHIN GROUP (ORDER BY duration_ms)
              FROM integration_audit_log
             WHERE direction = 'outbound'
               AND duration_ms IS NOT NULL
               AND create_date >= %s
             GROUP BY backend_id
             ORDER BY backend_id NULLS FIRST
            """,
            [list(LATENCY_QUANTILES), since],
        )
        for backend_id, count, total_ms, quantiles in self.env.cr.fetchall():
            labels = self._labels(backends, backend_id)
            for quantile, value_ms in zip(LATENCY_QUANTILES, quantiles, strict=True):
                family.add(value_ms / 1000, quantile=quantile, **labels)
            family.add(total_ms / 1000, suffix="_sum", **labels)
            family.add(count, suffix="_count", **labels)
        return family

    def _open_exceptions(self):
        family = prometheus.Family(
            "integration_open_exceptions",
            "gauge",
            "Exceptions in state new or in progress, by category and impact.",
        )
        self.env.cr.execute(
            """
            SELECT category, impact, count(*) FROM integration_exception
             WHERE state IN ('new', 'in_progress')
             GROUP BY category, impact
             ORDER BY category, impact
            """
        )
        for category, impact, count in self.env.cr.fetchall():
            family.add(count, category=category, impact=impact)
        return family
