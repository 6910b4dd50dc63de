"""Models of the billing_sync addon."""

# The mixin first: runs and accruals below inherit it.
from . import billing_workflow_mixin

# isort: split
from . import (
    account_analytic_line,
    account_move,
    account_move_line,
    billing_accrual,
    billing_correction,
    billing_dashboard,
    billing_figure,
    billing_reconciliation,
    billing_run,
    billing_run_issue,
    billing_run_line,
    billing_run_order,
    billing_write_off,
    integration_exception,
    res_company,
    res_config_settings,
    res_partner,
    sale_order,
    sale_order_line,
)
