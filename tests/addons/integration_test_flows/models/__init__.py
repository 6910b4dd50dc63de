from . import backend_kind, ping, sync_job
