"""One INSERT for many rows of a plain model: the ledger and mapping rows of a page.

A PSA page of 2000 time entries adds 2000 mappings and 2000 ledger rows
next to its 2000 timesheets. ORM `create()` prepares each row on its own
(defaults, conversions, cache, recomputation marks), which costs about
as much again as the timesheets' own business logic. These rows have no
business logic: the caller gives every stored value, and this module
writes them in one statement while keeping what the ORM promises
around a create:

- pending ORM writes of the model are flushed first, so the INSERT meets
  the same rows a `create()` would;
- access rights and record rules are checked as `create()` checks them;
- fields elsewhere that depend on the model are marked to recompute,
  the given values being protected as `create()` protects them.

Models whose fields need a default, a computation or a Python constraint
that the values do not settle are refused, so nothing `create()` would
have filled in is left empty by mistake.
"""

from odoo.models import LOG_ACCESS_COLUMNS
from odoo.tools import SQL


def insert_rows(model, vals_list, skip_conflicts_on=None):
    """Insert `vals_list` (dicts of stored values) into `model`; return the records.

    Every dict may name different fields; a field a dict leaves out is
    NULL in its row. The records come back in the order of `vals_list`.
    With `skip_conflicts_on` (the columns of a unique constraint), a row
    whose key is already stored is skipped (``ON CONFLICT DO NOTHING``) and
    only the inserted records come back.
    """
    if not vals_list:
        return model.browse()
    names = sorted({name for vals in vals_list for name in vals})
    _check_insertable(model, names)
    model.flush_model()

    env = model.env
    now = env.cr.now()
    fields = [model._fields[name] for name in names]
    rows = []
    for vals in vals_list:
        row = [
            field.convert_to_column_insert(vals.get(field.name), model, vals)
            for field in fields
        ]
        row.extend((env.uid, now, env.uid, now))
        rows.append(tuple(row))
    columns = names + LOG_ACCESS_COLUMNS
    conflict = SQL()
    if skip_conflicts_on:
        conflict = SQL(
            "ON CONFLICT (%s) DO NOTHING",
            SQL(", ").join(map(SQL.identifier, skip_conflicts_on)),
        )
    env.cr.execute(
        SQL(
            "INSERT INTO %s (%s) VALUES %s %s RETURNING id",
            SQL.identifier(model._table),
            SQL(", ").join(map(SQL.identifier, columns)),
            SQL(", ").join(rows),
            conflict,
        )
    )
    records = model.browse([row[0] for row in env.cr.fetchall()])

    records.check_access("create")
    with env.protecting(fields, records):
        records.modified(names, create=True)
    return records


def _check_insertable(model, names):
    """Raise ValueError when the values leave out what ORM `create()` fills in."""
    given = set(names)
    unknown = given - set(model._fields)
    if unknown:
        raise ValueError(f"{model._name} has no field {', '.join(sorted(unknown))}")
    for name, field in model._fields.items():
        if not field.store or not field.column_type or name == "id":
            if name in given:
                raise ValueError(
                    f"{model._name}.{name} is not a stored column, so it cannot "
                    "be inserted"
                )
            continue
        if name in LOG_ACCESS_COLUMNS or name in given:
            continue
        if field.compute or field.default or field.required:
            raise ValueError(
                f"{model._name}.{name} is missing from the values, but it is "
                "computed, required or has a default; pass its value or use create()"
            )
    if model._constraint_methods:
        raise ValueError(
            f"{model._name} has Python constraints, which only create() checks"
        )
