from . import (
    test_access,
    test_expenses,
    test_file_import,
    test_productive,
    test_projects,
    test_reconciliation,
    test_staffing,
    test_time_batch,
    test_time_import,
)
