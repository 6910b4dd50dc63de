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

from odoo.tools import config

HEALTH_PATH = "/web/health"
# Seconds a JSON-RPC call may take: long enough for a whole PSA pull.
RPC_TIMEOUT = 300
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


def _niceness(pid):
    """Return the nice value of a process, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        # The fields after the command name, which is in parentheses.
        fields = handle.read().rsplit(")", 1)[1].split()
    return int(fields[16])


def _is_gevent_process(pid):
    """Return whether a server's child is the gevent process its command names."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return b"gevent" in handle.read().split(b"\0")
    except FileNotFoundError:
        return False


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

    def cron_worker_pids(self):
        """Return the process ids of the cron workers of a prefork server.

        Odoo's cron workers lower their own scheduling priority (nice 10
        more) when they start; its HTTP workers and gevent process keep the
        master's.
        """
        master = _niceness(self.process.pid)
        pids = []
        for pid in self.worker_pids():
            try:
                if _niceness(pid) > master:
                    pids.append(pid)
            except FileNotFoundError:
                continue  # the process ended after it was listed
        return pids

    def http_worker_pids(self):
        """Return the process ids of the HTTP workers of a prefork server."""
        crons = set(self.cron_worker_pids())
        return [
            pid
            for pid in self.worker_pids()
            if pid not in crons and not _is_gevent_process(pid)
        ]

    def rpc(self, model, method, *args, login="admin", password="admin"):
        """Call `model.method(*args)` over JSON-RPC as `login`; return the result.

        Each request is sent once: `requests` does not send a POST again
        when the connection drops, unlike `xmlrpc.client`, which repeats a
        request once on a reset connection. An Odoo error raises
        `RuntimeError` with Odoo's message.
        """
        database = self.database
        uid = self._json_rpc("common", "authenticate", database, login, password, {})
        if not uid:
            raise RuntimeError(f"{login} cannot log in to {database} on {self.url}")
        return self._json_rpc(
            "object", "execute_kw", database, uid, password, model, method, list(args)
        )

    def _json_rpc(self, service, method, *args):
        body = {
            "jsonrpc": "2.0",
            "method": "call",
            "params": {"service": service, "method": method, "args": list(args)},
        }
        response = requests.post(f"{self.url}/jsonrpc", json=body, timeout=RPC_TIMEOUT)
        response.raise_for_status()
        reply = response.json()
        if "error" in reply:
            raise RuntimeError(reply["error"]["data"]["message"])
        return reply["result"]

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


def server_on_test_database(workers=0, cron_threads=0, **options):
    """Return an unstarted `OdooServer` on the database the tests run against.

    The server takes the database, addons path and data directory of the
    running Odoo configuration (pytest-odoo's), and free loopback ports:
    one for HTTP and, in prefork mode, one for the gevent process.
    Other `options` are those of `OdooServer`.
    """
    http_port, gevent_port = loopback_ports(2)
    options.setdefault("gevent_port", gevent_port)
    options.setdefault("data_dir", config["data_dir"])
    return OdooServer(
        config["db_name"],
        http_port,
        config["addons_path"],
        workers=workers,
        cron_threads=cron_threads,
        **options,
    )
