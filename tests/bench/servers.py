"""Real Odoo servers in subprocesses, for benchmarks and fault tests.

Each server listens on 127.0.0.1 only, serves one database (through
`--db-filter`, so `auth='none'` routes find it) and logs to a file of its
own. In prefork mode (`workers` > 0) Odoo also starts a gevent process on
a second port.
"""

import os
import signal
import socket
import subprocess
import sys
import time

import requests

HEALTH_PATH = "/web/health"
# Ports to take, as "first-last"; unset means any free ephemeral port.
PORT_RANGE_VARIABLE = "INTEGRATION_TEST_PORTS"


def _is_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ephemeral_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def loopback_ports(count):
    """Return `count` distinct free ports on 127.0.0.1.

    Taken from the range in the INTEGRATION_TEST_PORTS variable when it is
    set (for machines where each user has a block of ports), otherwise
    chosen by the kernel. A port is free when checked, so another process
    may still take it before the server binds it.
    """
    bounds = os.environ.get(PORT_RANGE_VARIABLE)
    if not bounds:
        ports = set()
        while len(ports) < count:
            ports.add(_ephemeral_port())
        return sorted(ports)
    first, last = (int(part) for part in bounds.split("-"))
    ports = [port for port in range(first, last + 1) if _is_free(port)][:count]
    if len(ports) < count:
        raise RuntimeError(
            f"Fewer than {count} free ports in {PORT_RANGE_VARIABLE}={bounds}"
        )
    return ports


class OdooServer:
    """One Odoo server process on loopback, started and stopped by its owner."""

    def __init__(self, database, port, addons_path, workers=2, **options):
        self.database = database
        self.port = port
        self.gevent_port = options.get("gevent_port") or port + 1
        self.addons_path = addons_path
        self.workers = workers
        self.cron_threads = options.get("cron_threads", 0)
        self.data_dir = options.get("data_dir")
        self.log_path = options.get("log_path") or f"/tmp/odoo-{database}-{port}.log"
        self.extra_args = list(options.get("extra_args", ()))
        self.process = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def command(self):
        """Return the command line that starts this server."""
        command = [
            sys.executable, "-m", "odoo",
            "--addons-path", self.addons_path,
            "-d", self.database,
            "--db-filter", f"^{self.database}$",
            "--http-interface", "127.0.0.1",
            "--http-port", str(self.port),
            "--gevent-port", str(self.gevent_port),
            "--workers", str(self.workers),
            "--max-cron-threads", str(self.cron_threads),
            "--log-level", "warn",
            "--logfile", self.log_path,
        ]  # fmt: skip
        if self.data_dir:
            command += ["--data-dir", self.data_dir]
        return command + self.extra_args

    def start(self, timeout=90):
        """Start the server and wait until its health route responds."""
        self.process = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"Odoo on port {self.port} exited with {self.process.returncode};"
                    f" see {self.log_path}"
                )
            try:
                if requests.get(self.url + HEALTH_PATH, timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        self.stop()
        raise TimeoutError(f"Odoo on port {self.port} did not start within {timeout} s")

    def worker_pids(self):
        """Return the process ids of the HTTP and cron workers of a prefork server."""
        path = f"/proc/{self.process.pid}/task/{self.process.pid}/children"
        with open(path, encoding="ascii") as handle:
            return [int(pid) for pid in handle.read().split()]

    def stop(self, timeout=30):
        """Stop the server and its workers: SIGTERM, then SIGKILL after `timeout`."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout)

    def kill(self):
        """Kill the server and its workers at once, as a crash would."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(30)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()
