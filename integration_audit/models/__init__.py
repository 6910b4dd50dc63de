from . import (
    integration_backend,
    integration_flow,
    integration_external_id,
    integration_sync_job,
    integration_audit_log,
    integration_exception,
    integration_backend_http,
    integration_rate_limit_hit,
    integration_metrics,
)
