"""Create in the PSA the projects Odoo sells, exactly once; map the rest.

A project made from a won deal's sale order is pushed by a queued job. The
project's PSA code is stored in Odoo before the job is queued and sent
along as the PSA project's code, so after a crash (the PSA created the
project but the answer was lost) the retry finds the project by its code
and maps it instead of creating a second one. Tasks are matched by name
on the PSA project before any is created, for the same reason.
"""

import logging
from decimal import Decimal

from odoo.addons.integration_audit.models.integration_exception import title_from

from . import mapping
from .records import Project
from .validation import unreadable_error

_logger = logging.getLogger(__name__)


def push_project(backend, project):
    """Create (or find) `project` in the PSA, map it and its tasks; return the id."""
    client = backend._psa_client()
    psa_id = backend.env["integration.external.id"]._external_id_of(backend, project)
    if not psa_id:
        psa_id = _find_or_create(backend, client, project)
    _push_tasks(backend, client, project, psa_id)
    return psa_id


def _find_or_create(backend, client, project):
    found = client.find_project_by_code(project.psa_code)
    if found:
        _logger.info(
            "Project %s found in backend %s by code; mapped, not created",
            project.id,
            backend.id,
        )
        psa_id = found.id
    else:
        psa_id = client.create_project(project_values(client, project))
    mapping.bind_many(
        backend.env,
        backend,
        mapping.PROJECT,
        [(psa_id, project)],
        external_model="project",
    )
    return psa_id


def project_values(client, project):
    """Return the `Project` to create in the PSA for an Odoo project."""
    order = project.sale_line_id.order_id
    customer = (project.partner_id or order.partner_id).commercial_partner_id
    currency = order.currency_id.name or project.company_id.currency_id.name
    client_id = client.find_or_create_client(customer.name, currency)
    budget = project.allocated_hours
    return Project(
        id="",
        name=project.name,
        code=project.psa_code,
        client_id=client_id,
        client_name=customer.name,
        billable=project.allow_billable,
        budget_hours=Decimal(str(budget)) if budget else None,
        starts_on=project.date_start or None,
        ends_on=project.date or None,
    )


def _push_tasks(backend, client, project, psa_id):
    """Map each task of the project to the PSA task of the same name, creating it."""
    tasks = project.with_context(active_test=False).task_ids
    Mapping = backend.env["integration.external.id"]
    pairs = []
    for task in tasks.filtered(lambda t: not Mapping._external_id_of(backend, t)):
        billable = bool(project.allow_billable and task.sale_line_id)
        task_id = client.ensure_task(psa_id, task.name, billable=billable)
        pairs.append((mapping.task_key(psa_id, task_id), task))
    mapping.bind_many(backend.env, backend, mapping.TASK, pairs, external_model="task")


def sync_projects(backend):
    """Map the PSA's projects to Odoo projects by code; copy the PSA's schedule.

    Returns {"read", "mapped"}. PSA projects with no Odoo project of the
    same code stay unmapped: time on them opens an "unknown project"
    exception, where a person links the right project. A PSA project that
    cannot be read opens an exception of its own and is left unmapped.
    """
    client = backend._psa_client()
    read = mapped = 0
    for psa_project in client.iter_projects():
        read += 1
        if not isinstance(psa_project, Project):
            _open_unreadable_project(backend, psa_project)
            continue
        codes = {psa_project.id: psa_project.code}
        project = mapping.resolve_projects(backend.env, backend, codes).get(
            psa_project.id
        )
        if not project:
            continue
        mapped += 1
        schedule = {"date_start": psa_project.starts_on, "date": psa_project.ends_on}
        changes = {key: value for key, value in schedule.items() if value}
        if changes and (changes.get("date_start") or project.date_start):
            project.write(changes)
    return {"read": read, "mapped": mapped}


def _open_unreadable_project(backend, unreadable):
    """Open (or refresh) the exception of a PSA project that cannot be read."""
    error = unreadable_error(backend, unreadable)
    return backend.env["integration.exception"]._open(
        {
            "name": title_from(str(error)),
            "description": str(error),
            "category": error.category,
            "backend_id": backend.id,
            "company_id": backend.company_id.id,
            "dedup_key": error.dedup_key,
        }
    )
