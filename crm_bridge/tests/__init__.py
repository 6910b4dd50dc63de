from . import test_partner_match
