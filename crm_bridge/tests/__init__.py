from . import test_hubspot_deals, test_partner_match
