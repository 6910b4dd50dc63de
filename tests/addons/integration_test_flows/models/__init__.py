from . import backend_kind, integration_exception, ping, sync_job
