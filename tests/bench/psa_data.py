"""The fake firm's PSA side committed to the test database, for fault tests.

The consultants become employees and the Harvest projects Odoo projects
(matched by code), and a Harvest backend points at an emulator. Each
function commits on a cursor of its own. `remove_firm` and
`delete_psa_backend` remove what the others made, timesheets included.
"""

from odoo import SUPERUSER_ID, api

from .committed import query

LINE = "account.analytic.line"


def create_firm(registry, firm, label):
    """Create the firm's consultants and Harvest projects; return their ids."""
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        employees = env["hr.employee"].create(
            [
                {"name": f"{label} {person.name}", "work_email": person.psa_email}
                for person in firm.consultants
            ]
        )
        projects = env["project.project"].create(
            [
                {"name": f"{label} {project.name}", "psa_code": project.code}
                for project in firm.projects_for("harvest")
            ]
        )
        return {"employees": employees.ids, "projects": projects.ids}


def remove_firm(registry, ids):
    """Delete the employees and projects of `create_firm`, with their time."""
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        projects = env["project.project"].with_context(active_test=False)
        projects = projects.browse(ids["projects"])
        env[LINE].search([("project_id", "in", projects.ids)]).unlink()
        projects.task_ids.unlink()
        projects.unlink()
        env["hr.employee"].browse(ids["employees"]).unlink()


def create_harvest_backend(registry, emulator, name, flows_off=(), **values):
    """Create a Harvest backend on `emulator`; return its id.

    It authenticates with the personal access token unless `values` set
    other credentials. The flows named in `flows_off` are created switched
    off, so the cron leaves them alone.
    """
    store_config = emulator.store.config
    defaults = {
        "name": name,
        "kind": "harvest",
        "base_url": f"{emulator.url}/v2",
        "api_token": store_config.personal_access_token,
        "account_ref": str(store_config.account_id),
        "rate_limit_requests": 1000,
        "psa_deletion_window_days": 0,
    }
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        backend = env["integration.backend"].create(dict(defaults, **values))
        env["integration.flow"].create(
            [
                {"backend_id": backend.id, "code": code, "enabled": False}
                for code in flows_off
            ]
        )
        return backend.id


def delete_psa_backend(registry, backend_id):
    """Delete a PSA backend with its timesheets, ledger, mappings and logs."""
    with registry.cursor() as cr:
        cr.execute(
            "DELETE FROM account_analytic_line WHERE id IN (SELECT res_id FROM"
            " integration_external_id WHERE backend_id = %s AND res_model = %s)",
            [backend_id, LINE],
        )
        for table in (
            "psa_time_entry",
            "integration_external_id",
            "integration_exception",
            "integration_audit_log",
            "integration_sync_job",
            "integration_flow",
        ):
            cr.execute(f"DELETE FROM {table} WHERE backend_id = %s", [backend_id])
        cr.execute("DELETE FROM integration_backend WHERE id = %s", [backend_id])


def ledger_count(registry, backend_id):
    """Return how many PSA entries the backend's ledger holds."""
    [(count,)] = query(
        registry,
        "SELECT count(*) FROM psa_time_entry WHERE backend_id = %s",
        [backend_id],
    )
    return count


def timesheets_per_entry(registry, backend_id, project_ids):
    """Return {PSA entry id: its timesheets} and the timesheets with no mapping.

    The second figure counts timesheets of `project_ids` that no mapping
    names, such as a second timesheet created for an entry already mapped.
    """
    mapped = dict(
        query(
            registry,
            """
            SELECT mapping.external_id, count(line.id)
              FROM integration_external_id mapping
              LEFT JOIN account_analytic_line line ON line.id = mapping.res_id
             WHERE mapping.backend_id = %s AND mapping.res_model = %s
             GROUP BY mapping.external_id
            """,
            [backend_id, LINE],
        )
    )
    [(unmapped,)] = query(
        registry,
        """
        SELECT count(*) FROM account_analytic_line line
         WHERE line.project_id = ANY(%s) AND NOT EXISTS (
               SELECT 1 FROM integration_external_id mapping
                WHERE mapping.res_model = %s AND mapping.res_id = line.id)
        """,
        [project_ids, LINE],
    )
    return mapped, unmapped


def timesheet_hours(registry, project_ids):
    """Return the hours of every timesheet of `project_ids`."""
    [(hours,)] = query(
        registry,
        "SELECT COALESCE(sum(unit_amount), 0) FROM account_analytic_line"
        " WHERE project_id = ANY(%s)",
        [project_ids],
    )
    return hours
