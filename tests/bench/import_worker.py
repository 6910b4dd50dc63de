"""One measured step of the import benchmark, run in a process of its own.

`python3 -m tests.bench.import_worker <step> <database> <addons path> <file>`
runs one step and prints a JSON line: the lines written, the seconds the
step took, the resident memory of this process before the step and its
peak during the step. A fresh process per step keeps each step's memory
figure its own.

Steps:

- `import`: `backend.psa_import_all_time_entries()`, the PSA connector's
  whole pull (pages over HTTP, validation, mapping, upsert, audit). The
  file contains the backend id.
- `create`: bare `account.analytic.line` batch creates of the values in the
  file (a JSON list), one transaction per batch.
- `load`: Odoo's own import, `load()`, of the CSV file, one transaction per
  batch of rows.
"""

import csv
import json
import sys
import time

from .context import load_odoo, superuser_env

BATCH_SIZE = 2000
LINE = "account.analytic.line"


def read_status_mib(field):
    """Return a memory figure of this process from /proc/self/status, in MiB."""
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/self/status has no {field} line")


def reset_peak_rss():
    """Reset this process's peak resident set size (VmHWM) to its current size.

    Linux resets it when "5" is written to /proc/self/clear_refs, so the
    peak read after a step is the step's own, not that of loading Odoo.
    """
    with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
        handle.write("5")


def run_import(registry, path):
    with open(path, encoding="utf-8") as handle:
        backend_id = json.load(handle)["backend_id"]
    with superuser_env(registry) as env:
        counts = (
            env["integration.backend"].browse(backend_id).psa_import_all_time_entries()
        )
    return counts["created"], counts


def run_create(registry, path):
    with open(path, encoding="utf-8") as handle:
        values = json.load(handle)
    for start in range(0, len(values), BATCH_SIZE):
        with superuser_env(registry) as env:
            env[LINE].create(values[start : start + BATCH_SIZE])
    return len(values), {}


def run_load(registry, path):
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = list(reader)
    messages = []
    for start in range(0, len(rows), BATCH_SIZE):
        with superuser_env(registry) as env:
            result = env[LINE].load(header, rows[start : start + BATCH_SIZE])
            errors = [m for m in result["messages"] if m.get("type") == "error"]
            if errors:
                env.cr.rollback()
                messages.extend(errors[:3])
                break
    if messages:
        raise RuntimeError(f"load() refused the rows: {messages}")
    return len(rows), {}


STEPS = {"import": run_import, "create": run_create, "load": run_load}


def main(argv):
    step, database, addons_path, path = argv
    registry = load_odoo(database, addons_path)
    # Warm the registry's caches the way a running server has them.
    with superuser_env(registry) as env:
        env[LINE].search([], limit=1)
    reset_peak_rss()
    before = read_status_mib("VmRSS")
    started = time.perf_counter()
    lines, details = STEPS[step](registry, path)
    seconds = time.perf_counter() - started
    result = {
        "lines": lines,
        "seconds": seconds,
        "rss_before_mib": before,
        "peak_rss_mib": read_status_mib("VmHWM"),
        "details": details,
    }
    print(json.dumps(result, default=str), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
