"""The steps every PSA page import shares: lock, create and map, close old failures.

Time entries and expenses are stored the same way. Their ids are locked
before their mappings are read. The page's new records are created in
one batch, through the ORM so Odoo's own logic runs, and mapped in one
INSERT. The failed jobs of records now stored are closed, with their
exceptions. Only what a record becomes (a timesheet, an expense) differs,
and that stays with each importer.
"""

MAPPING = "integration.external.id"


def lock_external_ids(env, backend, res_model, external_ids):
    """Hold a transaction lock on each external id until the transaction ends.

    The keys are those `integration.external.id._lock` takes one at a time,
    taken here in one statement and in a fixed order, so two runs that
    import the same page wait for each other instead of deadlocking.
    """
    keys = sorted(f"integration:{backend.id}:{res_model}:{eid}" for eid in external_ids)
    if keys:
        env.cr.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(key, 0))"
            " FROM unnest(%s::text[]) AS key",
            [keys],
        )


def create_mapped(env, backend, res_model, external_model, new):
    """Create the records of `new` and map each one; return the records.

    `new` lists (PSA record, values) pairs of records with no Odoo record
    yet. A mapping left by a record deleted in Odoo is removed first, so
    the new record takes its place. Each mapping keeps the PSA record's
    change time and digest, which tell the next run what is unchanged.
    """
    if not new:
        return env[res_model]
    _drop_mappings(env, backend, res_model, [psa_record.id for psa_record, _v in new])
    records = env[res_model].create([values for _psa_record, values in new])
    env[MAPPING]._bind_new(
        backend,
        res_model,
        [
            {
                "res_id": record.id,
                "external_id": psa_record.id,
                "external_updated_at": psa_record.updated_at,
                "payload_hash": psa_record.digest(),
            }
            for (psa_record, _values), record in zip(new, records, strict=True)
        ],
        external_model,
    )
    return records


def _drop_mappings(env, backend, res_model, external_ids):
    env[MAPPING].sudo().search(
        [
            ("backend_id", "=", backend.id),
            ("res_model", "=", res_model),
            ("external_id", "in", external_ids),
        ]
    ).unlink()


def close_failed_jobs(env, backend, kind, external_ids):
    """Close the failed jobs of PSA records now stored, and so their exceptions.

    `kind` is the middle part of the jobs' idempotency keys
    (`psa:<kind>:<id>`), such as `time_entry` or `expense`.
    """
    if not external_ids:
        return
    keys = [f"psa:{kind}:{external_id}" for external_id in external_ids]
    jobs = (
        env["integration.sync.job"]
        .sudo()
        .search(
            [
                ("backend_id", "=", backend.id),
                ("idempotency_key", "in", keys),
                ("state", "in", ("failed", "dead", "pending")),
            ]
        )
    )
    if jobs:
        jobs.write({"state": "done", "result": "Imported by the batch run."})
        env["integration.exception"]._resolve_for_done_jobs(jobs)
