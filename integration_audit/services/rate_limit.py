"""A rate limit shared by every worker and server of one database.

External APIs count requests per app or account over a rolling window
(HubSpot: 100 to 190 per 10 s; Harvest: 100 per 15 s), so the limit must
hold across all Odoo workers and servers that call the same account. The
database they share is the natural place to count, which adds no moving
part (no Redis, no lock server).

The algorithm is a sliding log: table ``integration_rate_limit_hit`` keeps
one row per request sent in the current window of a bucket (a backend by
default). Taking a slot runs on a cursor of its own:

1. A session-level ``pg_advisory_lock`` serializes takers of the same
   bucket only. It is held for a few statements on a connection of its own,
   so it never waits on a job's long transaction and never blocks other
   buckets.
2. Rows older than the window are deleted.
3. When fewer than `limit` rows remain, a row is inserted and the slot is
   taken. Otherwise the caller gets the time until the oldest row leaves
   the window.

Unlike a fixed-window counter, a sliding log never lets ``2 * limit``
requests through around a window boundary. Times come from the database
clock (``clock_timestamp()``), so servers whose clocks disagree still share
one window. A bucket keeps at most `limit` rows unless its limit was just
lowered.
"""

# First key of the two-integer advisory lock. It keeps these locks apart
# from other users of pg_advisory_lock(int, int) in the same database.
LOCK_NAMESPACE = 0x1A7E_0001


def acquire(cr, bucket, limit, period_seconds):
    """Take one request slot in `bucket`, or return how long until one frees.

    Returns 0.0 when the slot is taken, otherwise the seconds to wait before
    asking again (always positive). `cr` must be a cursor of its own: this
    function commits it.
    """
    lock = [LOCK_NAMESPACE, bucket]
    cr.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", lock)
    # The commits below end transactions of the caller's dedicated cursor,
    # never a request's or a job's transaction.
    try:
        # Odoo cursors run REPEATABLE READ, whose snapshot is taken when the
        # first statement starts, so before the lock wait ended. A new
        # transaction sees the slots others took while this one waited.
        cr.commit()  # pylint: disable=invalid-commit
        wait = _take_slot(cr, bucket, limit, period_seconds)
        cr.commit()  # pylint: disable=invalid-commit
        return wait
    finally:
        # A session lock outlives transactions, so it is released even when
        # the slot could not be taken.
        cr.rollback()
        cr.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", lock)
        cr.commit()  # pylint: disable=invalid-commit


def _take_slot(cr, bucket, limit, period_seconds):
    cr.execute(
        """
        DELETE FROM integration_rate_limit_hit
         WHERE bucket = %(bucket)s
           AND requested_at <= extract(epoch FROM clock_timestamp()) - %(period)s
        """,
        {"bucket": bucket, "period": period_seconds},
    )
    cr.execute(
        """
        SELECT count(*), extract(epoch FROM clock_timestamp())::float8
          FROM integration_rate_limit_hit
         WHERE bucket = %s
        """,
        [bucket],
    )
    used, now = cr.fetchone()
    if used < limit:
        cr.execute(
            "INSERT INTO integration_rate_limit_hit (bucket, requested_at) "
            "VALUES (%s, %s)",
            [bucket, now],
        )
        return 0.0
    # With `used` rows and room for `limit`, the row that must leave the
    # window first is the (used - limit + 1)-th oldest. `used` exceeds
    # `limit` only after someone lowered the limit.
    cr.execute(
        """
        SELECT requested_at FROM integration_rate_limit_hit
         WHERE bucket = %s
         ORDER BY requested_at
        OFFSET %s LIMIT 1
        """,
        [bucket, used - limit],
    )
    (blocking,) = cr.fetchone()
    return max(blocking + period_seconds - now, 0.001)
