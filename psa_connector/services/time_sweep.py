"""Find time entries deleted in the PSA, which no `updated_since` list returns.

A PSA lists what changed, not what was deleted; webhooks report deletions
as they happen, and this sweep catches the ones no webhook delivered. It
lists the entry ids of a recent date window and compares them with the
entries Odoo imported for that window. Each entry that is missing from
the list is read once more on its own before anything is removed: an entry
whose date was just moved out of the window is then updated, not removed.
"""

import logging

from odoo import SUPERUSER_ID, api

from .time_import import ImportResult, TimeImporter

_logger = logging.getLogger(__name__)


def sweep_deleted(backend, date_from, date_to):
    """Remove (or hold, when invoiced) the timesheets of deleted entries.

    Returns the `ImportResult` counts of the entries it looked at again.
    """
    client = backend._psa_client()
    listed = set()
    for page in client.iter_time_entry_pages(date_from=date_from, date_to=date_to):
        listed.update(entry.id for entry in page.records)
        # An entry the client could not read still exists in the PSA.
        listed.update(item.id for item in page.unreadable)
    imported = backend.env["psa.time.entry"].search_read(
        [
            ("backend_id", "=", backend.id),
            ("date", ">=", date_from),
            ("date", "<=", date_to),
            ("state", "in", ("imported", "held")),
        ],
        ["external_id"],
    )
    missing = [
        row["external_id"] for row in imported if row["external_id"] not in listed
    ]
    result = ImportResult()
    for external_id in missing:
        result.add(_recheck(backend, client, external_id))
    if missing:
        _logger.info(
            "Deletion sweep of backend %s re-read %d entries missing from %s..%s",
            backend.id,
            len(missing),
            date_from,
            date_to,
        )
    return result


def _recheck(backend, client, external_id):
    """Apply the current state of one entry in a transaction of its own."""
    entry = client.get_time_entry(external_id)
    with backend.env.registry.cursor() as cr:
        context = {"allowed_company_ids": backend.company_id.ids}
        env = api.Environment(cr, SUPERUSER_ID, context)
        importer = TimeImporter(env["integration.backend"].browse(backend.id))
        if entry is None:
            return importer.remove_entry(external_id)
        return importer.import_page([entry])
