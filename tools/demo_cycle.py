"""Run a services firm's lead-to-cash cycle against a real Odoo server.

The script starts the emulators with the `demo` firm, starts Odoo with two
HTTP workers and a cron worker (so crons run as in production), then runs
the steps of `demo_steps.py` over XML-RPC as the admin user. After each
step it waits until the sync queue is drained and records the step's
counts. It prints a summary and writes it as JSON for tools to read.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import xmlrpc.client
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.emulators import start_emulators  # noqa: E402
from tests.emulators.firm import build_firm  # noqa: E402

ADMIN_LOGIN = "admin"
ADMIN_PASSWORD = "admin"  # noqa: S105 - Odoo's documented default of a new database
QUEUE_CRON = "integration_audit.ir_cron_run_sync_jobs"
# A job due for longer than this with no worker on it gets the queue cron
# started over XML-RPC instead of waiting for the cron worker's next poll.
IDLE_QUEUE_SECONDS = 5
# Retries due within this many seconds are waited for before a step ends.
RETRY_HORIZON_SECONDS = 120


class OdooClient:
    """The XML-RPC calls of the demo, as the admin user."""

    def __init__(self, url, db):
        self.url = url
        self.db = db
        common = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/common", allow_none=True)
        self.uid = common.authenticate(db, ADMIN_LOGIN, ADMIN_PASSWORD, {})
        if not self.uid:
            raise SystemExit(f"Login as {ADMIN_LOGIN} on database {db} failed.")
        self.models = xmlrpc.client.ServerProxy(
            f"{url}/xmlrpc/2/object", allow_none=True
        )

    def call(self, model, method, *args, **kwargs):
        """Call `method` of `model` and return its result.

        Odoo's XML-RPC response cannot carry None. A method that returns None
        has run and committed before the response fails, so that fault is
        returned as None.
        """
        try:
            return self.models.execute_kw(
                self.db, self.uid, ADMIN_PASSWORD, model, method, list(args), kwargs
            )
        except xmlrpc.client.Fault as fault:
            if "cannot marshal None" in fault.faultString:
                return None
            raise

    def count(self, model, domain=None):
        """Return the number of `model` records matching `domain`."""
        return self.call(model, "search_count", domain or [])

    def search(self, model, domain, **kwargs):
        """Return the ids of `model` records matching `domain`."""
        return self.call(model, "search", domain, **kwargs)

    def read(self, model, domain, fields, **kwargs):
        """Return `fields` of the `model` records matching `domain`."""
        return self.call(model, "search_read", domain, fields, **kwargs)

    def create(self, model, values, **kwargs):
        """Create one record (or one per dict of a list); return the id(s)."""
        return self.call(model, "create", values, **kwargs)

    def write(self, model, ids, values):
        """Write `values` on the `model` records `ids`."""
        return self.call(model, "write", ids, values)

    def grouped_count(self, model, field, domain=None):
        """Return {value: count} of `model` grouped by `field`."""
        groups = self.call(
            model, "read_group", domain or [], [field], [field], lazy=False
        )
        return {_group_label(group[field]): group["__count"] for group in groups}

    def ref(self, xml_id):
        """Return the database id of an XML id, or None when it does not exist."""
        module, name = xml_id.split(".")
        rows = self.read(
            "ir.model.data",
            [("module", "=", module), ("name", "=", name)],
            ["res_id"],
        )
        return rows[0]["res_id"] if rows else None

    def run_cron(self, xml_id, attempts=60):
        """Run a scheduled action now, as Settings > Scheduled Actions > Run does.

        While the cron worker runs the same action, tries again every 2 s,
        `attempts` times. Returns True once it ran, False when the action
        does not exist, and None when it stayed busy.
        """
        cron_id = self.ref(xml_id)
        if not cron_id:
            return False
        for attempt in range(attempts):
            try:
                self.call("ir.cron", "method_direct_trigger", [cron_id])
                return True
            except xmlrpc.client.Fault as fault:
                if "currently being executed" not in fault.faultString:
                    raise
                if attempt + 1 < attempts:
                    time.sleep(2)
        return None


def _group_label(value):
    if isinstance(value, list | tuple):
        return str(value[1])
    return str(value)


def start_odoo(args):
    """Start Odoo with two HTTP workers and one cron worker; return the process.

    Both the HTTP port and the websocket (gevent) port listen on 127.0.0.1.

    The request time limits are raised because the demo starts crons over
    XML-RPC, and such a cron runs inside an HTTP worker.
    """
    command = [
        # A script, not `python3 -m odoo`: with workers, Odoo starts its
        # websocket server by running sys.argv[0] again.
        sys.executable, str(ROOT / "tools" / "odoo_server.py"),
        "--addons-path", args.addons_path,
        "-d", args.db,
        "--db-filter", f"^{args.db}$",
        "--http-port", str(args.port),
        "--http-interface", "127.0.0.1",
        "--gevent-port", str(args.gevent_port),
        "--workers", "2",
        "--max-cron-threads", "1",
        "--limit-time-cpu", "900",
        "--limit-time-real", "1200",
        "--data-dir", args.data_dir,
        "--logfile", args.log,
        "--log-level", "info",
    ]  # fmt: skip
    process = subprocess.Popen(command, env=os.environ.copy())
    wait_for_http(f"http://127.0.0.1:{args.port}/web/login", process)
    return process


def wait_for_http(url, process, timeout=180):
    """Wait until `url` responds; stop when Odoo exits or the timeout passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(
                f"Odoo stopped while starting (exit {process.returncode})."
            )
        try:
            with urllib.request.urlopen(url, timeout=5):  # noqa: S310 - loopback
                return
        except OSError:
            time.sleep(1)
    raise SystemExit(f"Odoo did not respond on {url} within {timeout} s; see its log.")


def _utc_text(seconds_ahead=0):
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(time.time() + seconds_ahead))


def wait_for_queue(odoo, timeout=600):
    """Wait until no job runs or is due soon; return the seconds it took.

    Jobs are run by the cron worker, which the queue wakes. When due jobs
    wait with no job running (a retry whose time has come is not a wake-up
    call), the queue cron is started over XML-RPC.
    """
    started = time.monotonic()
    idle_since = None
    while time.monotonic() - started < timeout:
        # One count decides, so a job claimed between two queries is not missed.
        if not odoo.count("integration.sync.job", _busy_domain()):
            return time.monotonic() - started
        running = odoo.count("integration.sync.job", [("state", "=", "running")])
        due = odoo.count("integration.sync.job", _due_domain(_utc_text()))
        idle_since = (idle_since or time.monotonic()) if due and not running else None
        if idle_since and time.monotonic() - idle_since > IDLE_QUEUE_SECONDS:
            odoo.run_cron(QUEUE_CRON, attempts=1)
            idle_since = None
        time.sleep(2)
    print(f"    the queue still had work after {timeout} s; moving on")
    return time.monotonic() - started


def _due_domain(moment):
    return [("state", "=", "pending"), ("next_attempt_at", "<=", moment)]


def _busy_domain():
    """Return the domain of jobs running, or pending and due within the horizon."""
    return [
        "|",
        ("state", "=", "running"),
        "&",
        *_due_domain(_utc_text(RETRY_HORIZON_SECONDS)),
    ]


def queue_counts(odoo):
    """Return the queue's and the exception queue's counts."""
    return {
        "jobs_done": odoo.count("integration.sync.job", [("state", "=", "done")]),
        "jobs_retried": odoo.count("integration.sync.job", [("attempts", ">", 1)]),
        "jobs_failed": odoo.count("integration.sync.job", [("state", "=", "failed")]),
        "jobs_dead": odoo.count("integration.sync.job", [("state", "=", "dead")]),
        "jobs_waiting": odoo.count(
            "integration.sync.job", [("state", "in", ("pending", "running"))]
        ),
        "audit_entries": odoo.count("integration.audit.log"),
        "webhook_refusals": odoo.count(
            "integration.audit.log", [("outcome", "=", "refused")]
        ),
        "exceptions_open_by_category": odoo.grouped_count(
            "integration.exception",
            "category",
            [("state", "in", ("new", "in_progress"))],
        ),
    }


def print_summary(summary, url):
    """Print the summary as an indented outline."""
    print("\n==> Demo summary")
    _print_tree(summary, "  ")
    print(f"\nOpen {url} (login {ADMIN_LOGIN}, password {ADMIN_PASSWORD}):")
    for place, what in summary.get("where_to_look", {}).items():
        print(f"  {place:<56} {what}")


def _print_tree(value, indent):
    for key, item in value.items():
        if key == "where_to_look":
            continue
        if isinstance(item, dict):
            print(f"{indent}{key}:")
            _print_tree(item, indent + "  ")
        elif isinstance(item, list):
            print(f"{indent}{key}:{'' if item else ' none'}")
            for line in item:
                print(f"{indent}  - {line}")
        else:
            print(f"{indent}{key}: {item}")


def run_steps(demo, steps):
    """Run each step, wait for the queue, then record the step's counts."""
    for title, run, count in steps:
        print(f"==> {title}")
        started = time.monotonic()
        run(demo)
        waited = wait_for_queue(demo.odoo)
        demo.steps[title] = count(demo)
        demo.steps[title]["seconds"] = round(time.monotonic() - started, 1)
        print(
            f"    done in {time.monotonic() - started:.1f} s "
            f"(queue drained in {waited:.1f} s): {demo.steps[title]}"
        )


def parse_args():
    """Return the command-line arguments that demo.sh passes."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True)
    parser.add_argument("--port", type=int, default=8069)
    # With workers, Odoo also listens on this port for websockets, so a
    # second Odoo on the machine needs another one.
    parser.add_argument("--gevent-port", type=int, default=8072)
    parser.add_argument("--addons-path", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--summary", required=True)
    parser.add_argument("--seed", type=int, default=1234)
    return parser.parse_args()


def stop_on_terminate(_signum, _frame):
    """Turn SIGTERM into the same clean stop as Ctrl+C."""
    raise KeyboardInterrupt


def run_cycle(args, emulators, url, started):
    """Run every step against the started server; write and print the summary."""
    import demo_steps  # noqa: PLC0415 - sits beside this script

    odoo = OdooClient(url, args.db)
    demo = demo_steps.Demo(odoo, emulators, url, wait=lambda: wait_for_queue(odoo))
    run_steps(demo, demo_steps.STEPS)
    summary = demo_steps.summarize(demo)
    summary["queue"] = queue_counts(demo.odoo)
    summary["cycle_seconds"] = round(time.monotonic() - started, 1)
    if os.environ.get("DEMO_STARTED_AT"):
        total = time.time() - float(os.environ["DEMO_STARTED_AT"])
        summary["total_seconds_with_install"] = round(total, 1)
    Path(args.summary).write_text(json.dumps(summary, indent=2, default=str))
    print_summary(summary, url)
    print(f"\nThe summary is also in {args.summary}.")


def stop(server, emulators):
    """Stop Odoo (killing it after 30 s) and the emulators."""
    server.send_signal(signal.SIGINT)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
    emulators.stop()


def main():
    """Start the emulators and Odoo, run the cycle, then serve unless told not to."""
    args = parse_args()
    # A shell that starts this script in the background ignores Ctrl+C for
    # it; restore the default so Ctrl+C and SIGTERM stop Odoo and emulators.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, stop_on_terminate)
    started = time.monotonic()
    print("==> Starting the emulators with the demo firm, working until today")
    firm = build_firm("demo", args.seed, end=date.today())
    emulators = start_emulators(size="demo", seed=args.seed, firm=firm)
    print("==> Starting Odoo with two workers and a cron worker on port", args.port)
    server = start_odoo(args)
    try:
        run_cycle(args, emulators, f"http://127.0.0.1:{args.port}", started)
        if os.environ.get("DEMO_SERVE", "1") != "0":
            print("\nOdoo keeps serving; press Ctrl+C to stop.")
            server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop(server, emulators)
    return 0


if __name__ == "__main__":
    sys.exit(main())
