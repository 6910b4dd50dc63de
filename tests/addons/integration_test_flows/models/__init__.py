from . import sync_job, ping
