from . import (
    test_access,
    test_accrual,
    test_billing_run,
    test_corrections,
    test_figures,
    test_status,
)
