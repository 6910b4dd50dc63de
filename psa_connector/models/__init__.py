"""Models of the psa_connector addon."""

# Not sorted: the reconciliation view reads psa_time_entry, and Odoo creates
# tables and views in import order, so that model comes first.
from . import (  # noqa: I001
    account_analytic_line,
    hr_employee,
    integration_backend,
    integration_exception,
    integration_sync_job,
    project_project,
    psa_allocation,
    psa_import_mapping,
    psa_time_entry,
    psa_reconciliation,
    psa_utilization_report,
)
