from . import test_projects, test_time_batch, test_time_import  # noqa: F401
