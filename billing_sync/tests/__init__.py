from . import (
    test_accrual,
    test_billing_run,
    test_corrections,
    test_figures,
    test_status,
)
