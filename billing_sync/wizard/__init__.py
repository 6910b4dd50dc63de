from . import billing_write_off_wizard
