"""Models of the psa_connector addon."""

from . import (
    account_analytic_line,
    hr_employee,
    integration_backend,
    integration_exception,
    integration_sync_job,
    project_project,
    psa_allocation,
    psa_import_mapping,
    psa_time_entry,
)

# isort: split
# Database views, created once the tables they read exist.
from . import psa_reconciliation, psa_utilization_report
