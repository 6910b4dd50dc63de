"""Wizards of the psa_connector addon."""

from . import psa_file_import
