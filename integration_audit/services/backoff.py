"""Retry timing: exponential backoff with full jitter, never before Retry-After."""

import random


def retry_delay(attempt, base_seconds, max_seconds, retry_after=None, rng=random):
    """Return the delay in seconds before attempt number `attempt + 1`.

    The delay is drawn uniformly between half and all of
    ``base_seconds * 2 ** (attempt - 1)``, capped at `max_seconds`, so that
    workers that failed together do not retry together. A `retry_after`
    sent by the remote system is a floor: the result is never below it, even
    when it exceeds `max_seconds`.
    """
    ceiling = min(max_seconds, base_seconds * 2 ** max(attempt - 1, 0))
    delay = rng.uniform(ceiling / 2, ceiling)
    if retry_after is not None:
        delay = max(delay, float(retry_after))
    return delay
