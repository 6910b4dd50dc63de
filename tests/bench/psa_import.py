"""`import_vs_orm_batch` and `import_vs_native_import`: the PSA time import.

The Harvest emulator serves the `large` fake firm's Harvest time entries,
or the first N of them for a smaller run. The PSA connector's whole pull,
`psa_import_all_time_entries`, runs in a process of its own: pages of up
to 2000 entries over HTTP, validation, mapping of people, projects and
tasks, upsert of timesheets, mappings and the PSA ledger, audit. Its rate
is the timesheets it created per second. Two baselines then write the
very same timesheets (same values, read back from the import) in fresh
processes, in transactions of the same 2000 lines:

- `account.analytic.line.create()` of the values (`import_vs_orm_batch`);
- Odoo's own import, `load()` of the same lines from a CSV file with
  database-id columns, its cheapest form (`import_vs_native_import`).

The pull's deletion sweep (listing recent entries again to find ones
deleted in the PSA) is switched off, because neither baseline does one.
The import runs in rounds, one slice of the firm's entries each, and each
round runs both baselines on its own timesheets right after the import, so
load from other processes on the machine weighs on all three; the ratios
are the medians of the rounds. The peak memory of the import process is
reported for the first round and for one larger import.
"""

import csv
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass

from tests.emulators.firm import build_firm
from tests.emulators.firm_model import LOCKED_REASON_INVOICED, LOCKED_REASON_PERIOD
from tests.emulators.harvest import load_firm, make_harvest_server

from .context import superuser_env

LINE = "account.analytic.line"
PSA = "harvest"
# The fake firm's Harvest lock reasons. Treated as routine, they let every
# approved entry become a timesheet, as in a first backfill where a person
# posts the locked history. Otherwise most of the firm's history would wait
# in the exception queue, one exception per locked month.
LOCK_REASONS = (LOCKED_REASON_INVOICED, LOCKED_REASON_PERIOD)
LINE_FIELDS = [
    "name",
    "date",
    "unit_amount",
    "project_id",
    "task_id",
    "employee_id",
    "psa_billable",
]
CSV_HEADER = [
    "name",
    "date",
    "unit_amount",
    "project_id/.id",
    "task_id/.id",
    "employee_id/.id",
    "psa_billable",
    "is_so_line_edited",
    "so_line/.id",
]


@dataclass(frozen=True)
class Target:
    """The database under test, as this process and the worker processes reach it."""

    registry: object
    database: str
    addons_path: str


class FirmSlice:
    """The fake firm with only entries `start` to `stop` (excluded) of each PSA."""

    def __init__(self, firm, start, stop):
        self._firm = firm
        self._start = start
        self._stop = stop

    def __getattr__(self, name):
        return getattr(self._firm, name)

    def time_entries(self, psa=None):
        """Yield the firm's entries of `psa` from `start` to `stop`."""
        return itertools.islice(self._firm.time_entries(psa), self._start, self._stop)


# ---------------------------------------------------------------------------
# Odoo master data and backends
# ---------------------------------------------------------------------------


def create_master_data(registry, firm):
    """Create the firm's consultants as employees and Harvest projects; return ids."""
    with superuser_env(registry) as env:
        employees = env["hr.employee"].create(
            [
                {"name": f"Bench {person.name}", "work_email": person.psa_email}
                for person in firm.consultants
            ]
        )
        projects = env["project.project"].create(
            [
                {"name": f"Bench {project.name}", "psa_code": project.code}
                for project in firm.projects_for(PSA)
            ]
        )
        return {"employees": employees.ids, "projects": projects.ids}


def delete_master_data(registry, master):
    with superuser_env(registry) as env:
        projects = env["project.project"].with_context(active_test=False)
        projects = projects.browse(master["projects"])
        projects.task_ids.unlink()
        projects.unlink()
        env["hr.employee"].browse(master["employees"]).unlink()


def create_backend(registry, emulator, size):
    store_config = emulator.store.config
    with superuser_env(registry) as env:
        backend = env["integration.backend"].create(
            {
                "name": f"Benchmark Harvest {size}",
                "kind": PSA,
                "base_url": f"{emulator.url}/v2",
                "api_token": store_config.personal_access_token,
                "account_ref": str(store_config.account_id),
                "rate_limit_requests": 1000,
                "psa_deletion_window_days": 0,
                "psa_routine_lock_reasons": ",".join(LOCK_REASONS),
                "psa_create_tasks": True,
            }
        )
        return backend.id


def imported_line_ids(registry, backend_id):
    with superuser_env(registry) as env:
        env.cr.execute(
            "SELECT res_id FROM integration_external_id"
            " WHERE backend_id = %s AND res_model = %s ORDER BY res_id",
            [backend_id, LINE],
        )
        return [row[0] for row in env.cr.fetchall()]


def line_values(registry, line_ids):
    """Return the create() values of the given timesheets, as the import wrote them."""
    with superuser_env(registry) as env:
        rows = env[LINE].browse(line_ids).read(LINE_FIELDS, load=None)
    values = []
    for row in rows:
        row.pop("id")
        row["date"] = str(row["date"])
        if not row["psa_billable"]:
            row.update(so_line=False, is_so_line_edited=True)
        values.append(row)
    return values


def write_csv(path, values):
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_HEADER)
        for row in values:
            billable = row["psa_billable"]
            writer.writerow(
                [
                    row["name"],
                    row["date"],
                    repr(row["unit_amount"]),
                    row["project_id"],
                    row["task_id"] or "",
                    row["employee_id"],
                    "1" if billable else "0",
                    "0" if billable else "1",
                    "",
                ]
            )


def delete_lines(registry, line_ids):
    """Remove timesheets by SQL: fast, and only used on benchmark data."""
    with superuser_env(registry) as env:
        env.cr.execute(
            "DELETE FROM account_analytic_line WHERE id = ANY(%s)", [line_ids]
        )


def lines_of_projects_after(registry, project_ids, after_id):
    with superuser_env(registry) as env:
        env.cr.execute(
            "SELECT id FROM account_analytic_line WHERE project_id = ANY(%s) AND id > %s",
            [project_ids, after_id],
        )
        return [row[0] for row in env.cr.fetchall()]


def delete_backend(registry, backend_id):
    """Remove a benchmark backend, its timesheets and everything it logged."""
    line_ids = imported_line_ids(registry, backend_id)
    with superuser_env(registry) as env:
        cr = env.cr
        cr.execute("DELETE FROM psa_time_entry WHERE backend_id = %s", [backend_id])
        cr.execute("DELETE FROM account_analytic_line WHERE id = ANY(%s)", [line_ids])
        for table in (
            "integration_external_id",
            "integration_exception",
            "integration_audit_log",
            "integration_sync_job",
            "integration_flow",
        ):
            cr.execute(f"DELETE FROM {table} WHERE backend_id = %s", [backend_id])
        cr.execute("DELETE FROM integration_backend WHERE id = %s", [backend_id])


# ---------------------------------------------------------------------------
# Measured steps, each in its own process
# ---------------------------------------------------------------------------


def run_step(step, target, path):
    """Run one measured step in a fresh process; return its JSON result."""
    command = [
        sys.executable, "-m", "tests.bench.import_worker",
        step, target.database, target.addons_path, path,
    ]  # fmt: skip
    completed = subprocess.run(
        command, capture_output=True, text=True, check=False, timeout=3600,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
    )  # fmt: skip
    if completed.returncode:
        raise RuntimeError(f"{step} step failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def measure_import(target, firm, start, stop, workdir):
    """Import entries `start` to `stop`; return (import result, backend id)."""
    store = load_firm(FirmSlice(firm, start, stop))
    emulator = make_harvest_server(store).start()
    try:
        backend_id = create_backend(target.registry, emulator, f"{start}-{stop}")
        path = os.path.join(workdir, f"backend-{start}-{stop}.json")
        with open(path, "w", encoding="utf-8") as handle:
            json.dump({"backend_id": backend_id}, handle)
        result = run_step("import", target, path)
    finally:
        emulator.stop()
    result["entries"] = result["details"]["read"]
    return result, backend_id


def measure_baselines(target, values, project_ids, workdir):
    """Write `values` with create() and with load(); return both results."""
    values_path = os.path.join(workdir, "lines.json")
    with open(values_path, "w", encoding="utf-8") as handle:
        json.dump(values, handle)
    csv_path = os.path.join(workdir, "lines.csv")
    write_csv(csv_path, values)

    results = {}
    for step, path in (("create", values_path), ("load", csv_path)):
        with superuser_env(target.registry) as env:
            env.cr.execute("SELECT COALESCE(max(id), 0) FROM account_analytic_line")
            last_id = env.cr.fetchone()[0]
        results[step] = run_step(step, target, path)
        written = lines_of_projects_after(target.registry, project_ids, last_id)
        if len(written) != len(values):
            raise RuntimeError(f"{step} wrote {len(written)} of {len(values)} lines")
        delete_lines(target.registry, written)
    return results


def measure_round(target, firm, master, entries, workdir):
    """Import a (start, stop) slice of entries, then write its timesheets twice."""
    imported, backend_id = measure_import(target, firm, *entries, workdir)
    try:
        line_ids = imported_line_ids(target.registry, backend_id)
        values = line_values(target.registry, line_ids)
        baselines = measure_baselines(target, values, master["projects"], workdir)
    finally:
        delete_backend(target.registry, backend_id)
    return {"import": imported, **baselines}


def measure_memory(target, firm, size, workdir):
    """Import the first `size` entries alone; return the import's result."""
    imported, backend_id = measure_import(target, firm, 0, size, workdir)
    delete_backend(target.registry, backend_id)
    return imported


def measure(registry, database, addons_path, options, seed=1234):
    """Return the import figures.

    `options`: rounds and round_size (the ratios: one slice of the firm's
    entries per round, the import and both baselines on each, the median
    of the rounds' ratios) and memory_size (one more import of that many
    entries, for the second memory figure).
    """
    target = Target(registry, database, addons_path)
    firm = build_firm("large", seed)
    master = create_master_data(registry, firm)
    size = options["round_size"]
    with tempfile.TemporaryDirectory(prefix="bench-import-") as workdir:
        try:
            rounds = [
                measure_round(target, firm, master, (n * size, (n + 1) * size), workdir)
                for n in range(options["rounds"])
            ]
            memory = measure_memory(target, firm, options["memory_size"], workdir)
        finally:
            delete_master_data(registry, master)
    return summarize(rounds, memory, firm.count_time_entries(PSA))


def rate(result):
    return result["lines"] / result["seconds"]


def summarize(rounds, memory, available):
    """Turn the rounds and the memory run into the printed figures."""
    imports = [one["import"] for one in rounds]
    seconds = sum(result["seconds"] for result in imports)
    absolute = {
        "import_entries_available": available,
        "import_rounds": len(rounds),
        "import_entries_read": sum(result["entries"] for result in imports),
        "import_lines_created": sum(result["lines"] for result in imports),
        "import_lines_per_s": sum(result["lines"] for result in imports) / seconds,
        "orm_batch_lines_per_s": statistics.median(
            rate(one["create"]) for one in rounds
        ),
        "native_import_lines_per_s": statistics.median(
            rate(one["load"]) for one in rounds
        ),
    }
    for result in (imports[0], memory):
        size = result["entries"]
        absolute[f"import_rss_before_mib_at_{size}"] = result["rss_before_mib"]
        absolute[f"import_peak_rss_mib_at_{size}"] = result["peak_rss_mib"]
    return {
        "ratios": {
            "import_vs_orm_batch": statistics.median(
                rate(one["import"]) / rate(one["create"]) for one in rounds
            ),
            "import_vs_native_import": statistics.median(
                rate(one["import"]) / rate(one["load"]) for one in rounds
            ),
        },
        "absolute": absolute,
    }
