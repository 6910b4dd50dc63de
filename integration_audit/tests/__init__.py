from . import test_access, test_secrets
from . import test_http_client, test_metrics, test_signatures, test_webhook_intake
