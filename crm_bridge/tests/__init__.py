from . import (
    test_access,
    test_auth,
    test_hubspot_deals,
    test_invoice_status,
    test_lifecycle,
    test_partner_match,
    test_polling,
    test_salesforce_sync,
    test_services,
)
