"""Odoo configuration and environments for benchmarks run in this process."""

import contextlib

import odoo
from odoo import SUPERUSER_ID, api
from odoo.tools import config


def load_odoo(database, addons_path):
    """Point Odoo's configuration at `database` and return its registry."""
    config.parse_config(
        ["--addons-path", addons_path, "-d", database, "--log-level", "warn"]
    )
    return odoo.modules.registry.Registry(database)


@contextlib.contextmanager
def superuser_env(registry):
    """Yield a superuser environment on a new cursor, committed on exit."""
    with registry.cursor() as cr:
        yield api.Environment(cr, SUPERUSER_ID, {})
