"""Models of the psa_connector addon."""

from . import (
    account_analytic_line,
    integration_backend,
    integration_exception,
    integration_sync_job,
    project_project,
    psa_time_entry,
)
