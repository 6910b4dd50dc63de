"""Flows that exist only to exercise the queue: each payload says what to do."""

import os
import time

from odoo import models
from odoo.addons.integration_audit.services.errors import (
    BusinessError,
    RetryableError,
)


class IntegrationSyncJob(models.Model):
    _inherit = "integration.sync.job"

    def _get_flow_handlers(self):
        handlers = super()._get_flow_handlers()
        handlers.update(
            {
                "test.noop": "_handle_test_noop",
                "test.partner": "_handle_test_partner",
                "test.business_error": "_handle_test_business_error",
                "test.retry": "_handle_test_retry",
                "test.crash": "_handle_test_crash",
                "test.count": "_handle_test_count",
                "test.sleep": "_handle_test_sleep",
                "test.http_get": "_handle_test_http_get",
            }
        )
        return handlers

    def _handle_test_noop(self):
        return None

    def _handle_test_partner(self):
        """Upsert a partner the way connector handlers do."""
        payload = self.payload
        return self.env["integration.external.id"]._upsert(
            self.backend_id,
            "res.partner",
            payload["id"],
            {"name": payload["name"], "email": payload.get("email")},
            updated_at=self.external_updated_at,
        )

    def _handle_test_business_error(self):
        partner = (
            self.env["res.partner"]
            .browse((self.payload or {}).get("partner_id"))
            .exists()
        )
        raise BusinessError(
            f"Customer {(self.payload or {}).get('name')} matches no partner.",
            category="other",
            records=partner or None,
        )

    def _handle_test_retry(self):
        """Fail with a retryable error until the given attempt."""
        if self.attempts < (self.payload or {}).get("succeed_on_attempt", 99):
            raise RetryableError(
                "remote answered 429", (self.payload or {}).get("retry_after")
            )
        return "succeeded"

    def _handle_test_crash(self):
        raise ZeroDivisionError("handler bug")

    def _handle_test_count(self):
        """Record each run in the job's own transaction, to count double runs.

        Sleeps for the payload's `seconds` (default none) after the insert,
        so a fault test can stop a worker in the middle of a job, and
        returns the worker's process id, so a test can tell which process
        ran the job.
        """
        self.env.cr.execute(
            "INSERT INTO integration_test_ping (body, create_date) "
            "VALUES (%s, now() AT TIME ZONE 'UTC')",
            [f"job:{self.id}"],
        )
        time.sleep((self.payload or {}).get("seconds", 0))
        return f"pid {os.getpid()}"

    def _handle_test_sleep(self):
        time.sleep((self.payload or {}).get("seconds", 1))
        return "slept"

    def _handle_test_http_get(self):
        """GET the payload's `path` from the backend through the HTTP client."""
        payload = self.payload or {}
        response = self.backend_id._http_request(
            "GET", payload["path"], headers=payload.get("headers"), job=self
        )
        return f"HTTP {response.status_code}"
