"""Start Odoo as `odoo-bin` does, for the demo's server.

With workers, Odoo's master process starts its websocket server by running
this same script again with `gevent` as the first argument, and starts a
new one whenever that process exits. When gevent cannot patch the standard
library (some Python installations lack a package a gevent plugin needs),
the websocket process reports the error once and then waits for the master
to stop it, instead of failing again every second. The web client then
works without live updates.
"""

import os
import sys
import time

# Odoo expects the server to run in UTC, as odoo-bin sets it.
os.environ["TZ"] = "UTC"
# Seconds between two checks that the master process is still running.
PARENT_CHECK_SECONDS = 5


def wait_for_parent_exit():
    """Sleep until the master process is gone (this process is then reparented)."""
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)


def main():
    """Start Odoo, or wait quietly when its websocket server cannot start."""
    websocket_server = len(sys.argv) > 1 and sys.argv[1] == "gevent"
    try:
        import odoo  # noqa: PLC0415 - gevent patches the library while it loads
    except Exception as error:
        if not websocket_server:
            raise
        print(
            f"Odoo's websocket server cannot start ({type(error).__name__}: "
            f"{error}); the web client runs without live updates.",
            file=sys.stderr,
        )
        wait_for_parent_exit()
        return 0
    odoo.cli.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
