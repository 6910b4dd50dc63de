"""Pytest fixtures for the emulators; importable without Odoo or a database.

`registry` is the Odoo registry of the test database, for the tests that
commit or start a real server; it imports Odoo only when used.

`emulators` serves every system filled with the small fake firm for a whole
session. `hubspot_server` and `salesforce_server` serve an empty store per
test, for tests that seed exactly the records they need, and
`harvest_firm_server` serves the small firm's Harvest account per test,
for tests that inject faults or count requests.
"""

import sys
from pathlib import Path

import pytest

# `tests` is a namespace package rooted at the repository; make it
# importable however pytest was started.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.emulators import start_emulators  # noqa: E402
from tests.emulators.firm import build_firm  # noqa: E402
from tests.emulators.harvest import load_firm, make_harvest_server  # noqa: E402
from tests.emulators.hubspot import make_hubspot_server  # noqa: E402
from tests.emulators.salesforce import make_salesforce_server  # noqa: E402


@pytest.fixture(scope="session")
def registry():
    """The registry of the database the tests run against (pytest-odoo's)."""
    # Imported here, so the emulator fixtures keep working without Odoo.
    import odoo  # noqa: PLC0415
    from odoo.tools import config  # noqa: PLC0415

    return odoo.modules.registry.Registry(config["db_name"])


@pytest.fixture(scope="session")
def emulators():
    """Every emulator, filled with the small fake firm (seed 1234)."""
    with start_emulators(size="small", seed=1234) as running:
        yield running


@pytest.fixture
def hubspot_server():
    """A HubSpot emulator with an empty store, stopped after the test."""
    with make_hubspot_server() as server:
        yield server


@pytest.fixture
def salesforce_server():
    """A Salesforce emulator with an empty org, stopped after the test."""
    with make_salesforce_server() as server:
        yield server


@pytest.fixture(scope="session")
def small_firm():
    """The small fake firm (seed 1234) as plain records."""
    return build_firm("small", seed=1234)


@pytest.fixture
def harvest_firm_server(small_firm):
    """A Harvest emulator serving the small firm from a store of its own.

    70 time entries of 4 consultants on 2 projects, 30 of them approved.
    """
    with make_harvest_server(load_firm(small_firm)) as server:
        yield server
