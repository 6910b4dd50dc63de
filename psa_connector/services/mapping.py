"""Find the Odoo employee, project and task of many PSA records at once.

Each resolver answers for a whole page with a fixed number of queries:
one search of the mapping table, then one matching query for what is not
mapped yet, then one create of the new mappings. Matches are bound at
once, so the next page and the next run find them in the mapping table.
"""

from collections import defaultdict

from .records import email_key

EMPLOYEE = "hr.employee"
PROJECT = "project.project"
TASK = "project.task"


def mapped_records(env, backend, res_model, external_ids):
    """Return {external id: record} of the mapped ones among `external_ids`."""
    if not external_ids:
        return {}
    mappings = (
        env["integration.external.id"]
        .sudo()
        .search_read(
            [
                ("backend_id", "=", backend.id),
                ("res_model", "=", res_model),
                ("external_id", "in", list(external_ids)),
            ],
            ["external_id", "res_id"],
        )
    )
    records = (
        env[res_model]
        .with_context(active_test=False)
        .browse([row["res_id"] for row in mappings])
        .exists()
    )
    present = set(records.ids)
    return {
        row["external_id"]: records.browse(row["res_id"])
        for row in mappings
        if row["res_id"] in present
    }


def bind_many(env, backend, res_model, pairs, external_model=None):
    """Map each (external id, record) pair in one INSERT; return the mappings."""
    bindings = [
        {"res_id": record.id, "external_id": external_id}
        for external_id, record in pairs
    ]
    return env["integration.external.id"]._bind_new(
        backend, res_model, bindings, external_model
    )


def resolve_employees(env, backend, people):
    """Return {person id: employee} for `people` (id -> e-mail), matching by e-mail.

    An unmapped person matches the one employee of the backend's company
    whose work e-mail equals theirs, ignoring case, surrounding blanks and
    zero-width characters; several such employees, or none, leave the
    person unresolved.
    """
    found = mapped_records(env, backend, EMPLOYEE, people)
    pending = {
        pid: email_key(email)
        for pid, email in people.items()
        if pid not in found and email_key(email)
    }
    matches = employees_by_email(env, backend.company_id, set(pending.values()))
    bound = (
        env["integration.external.id"]
        .sudo()
        .search_read(
            [
                ("backend_id", "=", backend.id),
                ("res_model", "=", EMPLOYEE),
                ("res_id", "in", [e.id for emps in matches.values() for e in emps]),
                ("is_alias", "=", False),
            ],
            ["res_id"],
        )
    )
    taken = {row["res_id"] for row in bound}
    pairs = []
    for person_id, email in pending.items():
        candidates = matches.get(email, [])
        if len(candidates) == 1 and candidates[0].id not in taken:
            taken.add(candidates[0].id)
            pairs.append((person_id, candidates[0]))
            found[person_id] = candidates[0]
    bind_many(env, backend, EMPLOYEE, pairs, external_model="user")
    return found


def employees_by_email(env, company, emails):
    """Return {lower-case e-mail: [employees]} of a company's active employees.

    Compares in SQL on `lower(btrim(work_email))` so neither letter case nor
    the wildcards `_` and `%` of an ILIKE can make a wrong match.
    """
    if not emails:
        return {}
    env["hr.employee"].flush_model(["work_email", "company_id", "active"])
    env.cr.execute(
        """
        SELECT lower(btrim(work_email)), id FROM hr_employee
         WHERE lower(btrim(work_email)) = ANY(%s)
           AND company_id = %s AND active
         ORDER BY id
        """,
        [[email_key(email) for email in emails], company.id],
    )
    result = defaultdict(list)
    Employee = env["hr.employee"]
    for email, employee_id in env.cr.fetchall():
        result[email].append(Employee.browse(employee_id))
    return result


def resolve_projects(env, backend, codes):
    """Return {PSA project id: project} for `codes` (id -> PSA project code).

    An unmapped PSA project matches the Odoo project whose PSA code equals
    its code; projects are never matched by name, which is too loose.
    """
    found = mapped_records(env, backend, PROJECT, codes)
    pending = {pid: code for pid, code in codes.items() if pid not in found and code}
    if not pending:
        return found
    projects = (
        env[PROJECT]
        .with_context(active_test=False)
        .search(
            [
                ("psa_code", "in", list(pending.values())),
                ("company_id", "in", (backend.company_id.id, False)),
            ]
        )
    )
    by_code = defaultdict(list)
    for project in projects:
        by_code[project.psa_code].append(project)
    taken = set(_bound_ids(env, backend, PROJECT, projects.ids))
    pairs = []
    for project_ref, code in pending.items():
        candidates = by_code.get(code, [])
        if len(candidates) == 1 and candidates[0].id not in taken:
            taken.add(candidates[0].id)
            pairs.append((project_ref, candidates[0]))
            found[project_ref] = candidates[0]
    bind_many(env, backend, PROJECT, pairs, external_model="project")
    return found


def _bound_ids(env, backend, res_model, res_ids):
    rows = (
        env["integration.external.id"]
        .sudo()
        .search_read(
            [
                ("backend_id", "=", backend.id),
                ("res_model", "=", res_model),
                ("res_id", "in", list(res_ids)),
                ("is_alias", "=", False),
            ],
            ["res_id"],
        )
    )
    return [row["res_id"] for row in rows]


def task_key(project_ref, task_ref):
    """Return the external id of a task: Harvest tasks are shared by projects."""
    return f"{project_ref}/{task_ref}"


def resolve_tasks(env, backend, wanted, create=True):
    """Return {task key: task} for `wanted` ({key: (project, task name)}).

    An unmapped task matches the project's task of the same name (ignoring
    case), or is created on the project when `create` is set.
    """
    found = mapped_records(env, backend, TASK, wanted)
    pending = {key: value for key, value in wanted.items() if key not in found}
    if not pending:
        return found
    projects = env[PROJECT].browse({project.id for project, _name in pending.values()})
    existing = (
        env[TASK]
        .with_context(active_test=False)
        .search([("project_id", "in", projects.ids)], order="id")
    )
    by_name = {}
    for task in existing:
        by_name.setdefault(
            (task.project_id.id, (task.name or "").strip().lower()), task
        )
    pairs, to_create = [], {}
    for key, (project, name) in pending.items():
        task = by_name.get((project.id, name.strip().lower()))
        if task:
            pairs.append((key, task))
        elif create and name:
            to_create.setdefault(
                (project.id, name.strip().lower()), (project, name, [])
            )[2].append(key)
    if to_create:
        values = [{"project_id": p.id, "name": n} for p, n, _keys in to_create.values()]
        for task, (_p, _n, keys) in zip(
            env[TASK].create(values), to_create.values(), strict=True
        ):
            pairs.extend((key, task) for key in keys)
    unique_pairs = _one_key_per_task(env, backend, pairs)
    bind_many(env, backend, TASK, unique_pairs, external_model="task")
    found.update(pairs)
    return found


def _one_key_per_task(env, backend, pairs):
    """Keep the first key of each task: a record has one primary mapping."""
    taken = set(_bound_ids(env, backend, TASK, [task.id for _key, task in pairs]))
    result = []
    for key, task in pairs:
        if task.id not in taken:
            taken.add(task.id)
            result.append((key, task))
    return result
