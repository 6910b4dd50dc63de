from . import (
    test_hubspot_deals,
    test_invoice_status,
    test_partner_match,
    test_salesforce_sync,
)
