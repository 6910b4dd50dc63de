"""Waking Odoo's cron workers over one kept connection per process.

Odoo wakes its cron workers with a NOTIFY on the ``postgres`` database,
and opens a new connection for each one, because it never keeps
connections to that database in its pool. Webhook intake wakes the queue
once per request, so each worker process keeps one connection of its own
for that NOTIFY and opens it again only when it breaks.
"""

import logging
import threading

import psycopg2

from odoo import sql_db
from odoo.addons.base.models.ir_cron import ODOO_NOTIFY_FUNCTION
from odoo.tools import SQL

_logger = logging.getLogger(__name__)

_lock = threading.Lock()
_connection = None


def notify_cron_workers(dbname):
    """Send Odoo's ``cron_trigger`` notification for `dbname`; return success.

    A broken connection is opened again once. If that fails too, the
    failure is logged, and the cron workers find the trigger row at their
    next periodic wake-up instead.
    """
    global _connection  # noqa: PLW0603 - one connection per process, by design
    query = SQL(
        "SELECT %s('cron_trigger', %s)", SQL.identifier(ODOO_NOTIFY_FUNCTION), dbname
    )
    with _lock:
        for _attempt in range(2):
            try:
                if _connection is None or _connection.closed:
                    _connection = _connect()
                with _connection.cursor() as cr:
                    cr.execute(query.code, query.params)
                return True
            except psycopg2.Error as error:
                _discard_connection()
                failure = error
        _logger.warning("Could not wake the cron workers: %s", failure)
        return False


def _connect():
    _dbname, info = sql_db.connection_info_for("postgres")
    connection = psycopg2.connect(**info)
    connection.autocommit = True
    return connection


def _discard_connection():
    global _connection  # noqa: PLW0603
    if _connection is not None:
        try:
            _connection.close()
        except psycopg2.Error:
            _logger.debug("Closing a broken wake-up connection failed", exc_info=True)
    _connection = None
