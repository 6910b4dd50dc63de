"""Wizards of the billing_sync addon."""

from . import billing_write_off_wizard
