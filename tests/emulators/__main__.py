"""Serve the emulators until interrupted: `python3 -m tests.emulators --size demo`.

Prints each system's base URL and the emulator's test credentials (fixed
fake values, not secrets), so a developer can point a local Odoo backend
at them. Stops cleanly on Ctrl-C or SIGTERM.
"""

import argparse
import dataclasses
import logging
import signal
import sys
import threading

from . import SYSTEMS, start_emulators

# Config fields worth printing: how a client authenticates.
_CREDENTIAL_HINTS = ("token", "client_id", "client_secret", "account", "org_id")


def _parse_arguments(argv):
    parser = argparse.ArgumentParser(
        prog="python3 -m tests.emulators",
        description="Serve the local API emulators filled with the fake firm.",
    )
    parser.add_argument(
        "--size",
        default="demo",
        choices=("small", "demo", "large", "empty"),
        help="size of the fake firm loaded into the stores (empty: no data)",
    )
    parser.add_argument("--seed", type=int, default=1234, help="seed of the fake firm")
    parser.add_argument(
        "--systems",
        default=",".join(SYSTEMS),
        help=f"comma-separated systems to start (default: {','.join(SYSTEMS)})",
    )
    return parser.parse_args(argv)


def _credentials(server):
    config = getattr(server.store, "config", None)
    if config is None or not dataclasses.is_dataclass(config):
        return {}
    return {
        item.name: getattr(config, item.name)
        for item in dataclasses.fields(config)
        if any(hint in item.name for hint in _CREDENTIAL_HINTS)
    }


def main(argv=None):
    """Start the emulators, print their URLs and wait for a stop signal."""
    arguments = _parse_arguments(argv)
    log_format = "%(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=logging.INFO, format=log_format)
    systems = tuple(name.strip() for name in arguments.systems.split(",") if name)
    size = None if arguments.size == "empty" else arguments.size
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())

    with start_emulators(size=size, seed=arguments.seed, systems=systems) as emulators:
        for name, server in emulators.servers.items():
            print(f"{name}: {server.url}")
            for key, value in _credentials(server).items():
                print(f"    {key} = {value}")
        print("Serving until Ctrl-C.", flush=True)
        try:
            stopping.wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
