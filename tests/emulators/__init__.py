"""Local emulators of the external APIs the suite talks to.

`start_emulators()` is the single entry point: it builds the seeded fake
firm, fills each system's store from it and serves every system on its own
loopback port::

    with start_emulators(size="small", seed=1234) as emulators:
        emulators.hubspot.url       # http://127.0.0.1:PORT
        emulators.hubspot.store     # the data, for seeding and assertions
        emulators.hubspot.faults    # slow, drop, 5xx, expired tokens...
        emulators.hubspot.requests  # what clients sent

Each system lives in its own module (`hubspot`, `salesforce`, `harvest`,
`productive`) exposing `load_firm(firm, store=None)` and
`make_<system>_server(store=None, faults=None)`; modules are imported only
when their system is started.
"""

import importlib
import logging

_logger = logging.getLogger(__name__)

SYSTEMS = ("hubspot", "salesforce", "harvest", "productive")


class Emulators:
    """Running emulators, one attribute per system (None when not started).

    Use it as a context manager or call `stop()`. `firm` is the fake firm
    the stores were filled from, or None for empty stores.
    """

    def __init__(self, firm):
        self.firm = firm
        self.servers = {}
        for name in SYSTEMS:
            setattr(self, name, None)

    def add(self, name, server):
        """Register a started server under its system name."""
        self.servers[name] = server
        setattr(self, name, server)

    def urls(self):
        """Return {system: base URL} of the running emulators."""
        return {name: server.url for name, server in self.servers.items()}

    def stop(self):
        """Stop every emulator; safe to call twice."""
        for name, server in list(self.servers.items()):
            try:
                server.stop()
            except OSError:
                _logger.exception("Stopping the %s emulator failed", name)
        self.servers.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stop()


def start_emulators(size="small", seed=1234, systems=SYSTEMS, firm=None):
    """Start the emulators of `systems`, filled from the fake firm.

    `size` is small, demo or large (see `firm.SIZES`); None starts empty
    stores that tests seed themselves. A prebuilt `firm` skips building
    one. If a system fails to start, the ones already running are stopped
    before the error propagates.
    """
    unknown = [name for name in systems if name not in SYSTEMS]
    if unknown:
        raise ValueError(f"Unknown systems {unknown}; choose from {list(SYSTEMS)}")
    if firm is None and size is not None:
        # The firm module loads Faker, so it is imported only when needed.
        firm = importlib.import_module(".firm", __name__).build_firm(size, seed)

    emulators = Emulators(firm)
    try:
        for name in systems:
            emulators.add(name, _start_system(name, firm))
    except BaseException:
        emulators.stop()
        raise
    return emulators


def _start_system(name, firm):
    try:
        module = importlib.import_module(f".{name}", __name__)
    except ModuleNotFoundError as error:
        if error.name != f"{__name__}.{name}":
            raise
        raise RuntimeError(
            f"The {name} emulator module is missing; start the others with "
            f"systems=... : {error}"
        ) from error
    store = module.load_firm(firm) if firm is not None else None
    server = getattr(module, f"make_{name}_server")(store)
    return server.start()
