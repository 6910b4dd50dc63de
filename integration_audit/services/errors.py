"""The two kinds of failure a sync job can end in.

The queue worker reads the class of the exception a handler raises to decide
what happens next. A `RetryableError` puts the job back in the queue with a
backoff. A `BusinessError` stops it and opens an `integration.exception` for
a person to decide on. Anything else is treated as retryable until the
backend's maximum number of attempts, then the job is dead.
"""


class IntegrationError(Exception):
    """Base class of the errors the queue worker classifies by type."""


class RetryableError(IntegrationError):
    """A transient failure: the same job is expected to succeed later.

    `retry_after` is the minimum delay in seconds the remote system asked
    for (a `Retry-After` header); the worker never retries earlier.
    """

    def __init__(self, message, retry_after=None):
        super().__init__(message)
        self.retry_after = retry_after


class BusinessError(IntegrationError):
    """A problem in the data that no retry can fix.

    `category` is a key of `integration.exception.category`, `records` the
    Odoo records the problem is about, and `candidates` records a person may
    link instead (for example the partners an ambiguous match found).
    """

    def __init__(self, message, category="other", records=None, candidates=None):
        super().__init__(message)
        self.category = category
        self.records = records
        self.candidates = candidates


class StaleChangeError(IntegrationError):
    """The change is older than what the mapping already holds; skip it."""


class RemoteRejectedError(BusinessError):
    """The external system rejected a request with a 4xx other than 401/429.

    `status_code` and `body` are the response as received.
    """

    def __init__(
        self, message, status_code=None, body=None, category="remote_rejected"
    ):
        super().__init__(message, category=category)
        self.status_code = status_code
        self.body = body
