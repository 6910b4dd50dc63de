from . import (
    integration_audit_log,
    integration_backend,
    integration_backend_http,
    integration_exception,
    integration_external_id,
    integration_flow,
    integration_metrics,
    integration_rate_limit_hit,
    integration_sync_job,
)
