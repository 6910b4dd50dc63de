from . import (
    test_access,
    test_access_http,
    test_bulk_insert,
    test_http_client,
    test_metrics,
    test_secrets,
    test_signatures,
    test_webhook_intake,
)
