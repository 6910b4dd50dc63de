"""The scheduled pull of PSA records: pages in, watermark forward, resumable.

`PullRun` is the machinery and `TimeBatch` the pull of time entries. The
expense pull is a `PullRun` too. A run requests the records changed since
the flow's watermark
(minus its overlap window), then stores page after page, each in a
transaction of its own that also records where the run stands. The
watermark itself only moves when the last page is stored:

- while a run is under way, the flow remembers the link (or page number)
  of the next page, so a run that stopped (a crash, a time limit, a PSA
  that kept failing) resumes after the last stored page, with nothing
  doubled and nothing skipped;
- at the end, the new watermark is the earlier of the run's start time
  and the newest change time it read, so an entry changed or back-dated
  while the run was paging is read again by the next run.

Pages are streamed: the run holds one page of records at a time, and each
page gets a fresh environment, so memory stays flat however many entries
the PSA holds.
"""

import json
import logging
import time
from datetime import timedelta

import psycopg2.errors

from odoo import SUPERUSER_ID, api, fields
from odoo.addons.integration_audit.models.integration_exception import title_from
from odoo.addons.integration_audit.services.errors import (
    BusinessError,
    RemoteRejectedError,
)

from .records import format_timestamp, parse_timestamp
from .time_import import ImportResult, TimeImporter

_logger = logging.getLogger(__name__)

FLOW = "psa.time_entries"
# A page that lost a race with a concurrent run is stored again this often.
PAGE_ATTEMPTS = 3
RACE_ERRORS = (psycopg2.errors.UniqueViolation, psycopg2.errors.SerializationFailure)


class PullRun:
    """One run of a pull for one backend; subclasses name what is pulled.

    `flow` is the flow code that keeps the watermark, `fetch_pages`
    requests pages from the client and `make_importer` returns the object
    whose `import_page(records)` stores one page and returns its
    `ImportResult`, and whose `reject_unreadable(items)` opens the exception
    of each record the client could not read.
    """

    flow = None

    def fetch_pages(self, client, since, resume_token):
        """Yield the `Page`s changed since `since`, from `resume_token` on."""
        raise NotImplementedError

    def make_importer(self, backend):
        """Return the importer of one page, bound to `backend`'s environment."""
        raise NotImplementedError

    def __init__(self, backend, full=False, time_budget=None, progress_offset=0):
        self.backend = backend
        self.progress_offset = progress_offset
        self.backend_id = backend.id
        self.company_ids = backend.company_id.ids
        self.registry = backend.env.registry
        self.full = full
        self.deadline = time.monotonic() + time_budget if time_budget else None
        self.result = ImportResult()
        self.pages = 0
        self.stopped_early = False
        self.total = None

    def run(self):
        """Pull and store every page of the run; return the counts as a dict.

        A `BusinessError` (credentials rejected, a paging link that left the
        PSA's host) stops the run with an exception for a person. The run's
        position is kept, so the next call resumes once the cause is fixed.
        """
        state = self._start()
        client = self.backend._psa_client()
        try:
            self._run_pages(client, state)
        except BusinessError as error:
            self._open_run_exception(error)
            raise
        counts = self.result.as_dict()
        counts.update(
            pages=self.pages,
            complete=not self.stopped_early,
            throttled_seconds=round(client.waited_seconds, 3),
        )
        return counts

    def _run_pages(self, client, state):
        for page in self._pages(client, state):
            self._store(page, state)
            self._report(page)
            if page.next_token and self._out_of_time():
                self.stopped_early = True
                return
        self._finish(state)

    def _open_run_exception(self, error):
        key = f"psa:{self.backend_id}:run:{self.flow}:{error.category}"
        with self.registry.cursor() as cr:
            env = self._env(cr)
            env["integration.exception"]._open(
                {
                    "name": title_from(str(error)),
                    "description": str(error),
                    "category": error.category,
                    "impact": "high",
                    "backend_id": self.backend_id,
                    "company_id": self.company_ids[0],
                    "dedup_key": key,
                }
            )

    # ------------------------------------------------------------------
    # Run state
    # ------------------------------------------------------------------

    def _env(self, cr):
        context = {"allowed_company_ids": self.company_ids, "tracking_disable": True}
        return api.Environment(cr, SUPERUSER_ID, context)

    def _locked_flow(self, env):
        """Return the run's flow row, locked until this transaction ends."""
        backend = env["integration.backend"].browse(self.backend_id)
        flow = backend._psa_flow(self.flow)
        env.cr.execute(
            "SELECT id FROM integration_flow WHERE id = %s FOR UPDATE", [flow.id]
        )
        flow.invalidate_recordset(["watermark"])
        return flow

    def _start(self):
        """Begin a run, or continue the one a previous call left unfinished."""
        with self.registry.cursor() as cr:
            flow = self._locked_flow(self._env(cr))
            mark = read_watermark(flow.watermark)
            run = mark.get("run")
            if run and not self.full:
                _logger.info(
                    "Resuming the %s pull of backend %s", self.flow, self.backend_id
                )
                return run
            since = None if self.full else self._since(mark.get("since"), flow)
            run = {
                "since": since,
                "started_at": format_timestamp(fields.Datetime.now()),
                "next": None,
                "high": None,
            }
            mark["run"] = run
            flow.write({"watermark": json.dumps(mark)})
        return run

    @staticmethod
    def _since(since, flow):
        if not since:
            return None
        moment = parse_timestamp(since) - timedelta(seconds=flow.overlap_seconds or 0)
        return format_timestamp(moment)

    def _pages(self, client, state):
        """Yield the run's pages; restart from `since` when a stored link expired."""
        try:
            yield from self.fetch_pages(client, state["since"], state["next"])
        except RemoteRejectedError:
            if not state["next"] or self.pages:
                raise
            _logger.info(
                "Backend %s rejected the stored paging link; restarting the run",
                self.backend_id,
            )
            state["next"] = None
            yield from self.fetch_pages(client, state["since"], None)

    # ------------------------------------------------------------------
    # Pages
    # ------------------------------------------------------------------

    def _store(self, page, state):
        """Store one page and the run's new position in one transaction."""
        for attempt in range(1, PAGE_ATTEMPTS + 1):
            try:
                with self.registry.cursor() as cr:
                    env = self._env(cr)
                    result = self._store_in(env, page, state)
                    # The commit flushes pending writes (the run's new
                    # position among them) only through an environment of
                    # the cursor that is still referenced; flush here.
                    env.flush_all()
                break
            except RACE_ERRORS:
                if attempt == PAGE_ATTEMPTS:
                    raise
                _logger.info(
                    "Page of backend %s met a concurrent import; storing it again",
                    self.backend_id,
                )
        self.result.add(result)
        self.pages += 1
        state["next"] = page.next_token
        state["high"] = newest(state["high"], page.records)
        if page.total is not None:
            self.total = page.total

    def _store_in(self, env, page, state):
        flow = self._locked_flow(env)
        backend = env["integration.backend"].browse(self.backend_id)
        importer = self.make_importer(backend)
        result = importer.import_page(page.records)
        importer.reject_unreadable(page.unreadable)
        mark = read_watermark(flow.watermark)
        mark["run"] = dict(
            state, next=page.next_token, high=newest(state["high"], page.records)
        )
        flow.write({"watermark": json.dumps(mark)})
        return result

    def _report(self, page):
        done = self.result.read
        if self.total is not None:
            remaining = max(self.total - done, 1 if page.next_token else 0)
        else:
            remaining = 1 if page.next_token else 0
        self.backend.env["ir.cron"]._notify_progress(
            done=self.progress_offset + done, remaining=remaining
        )

    def _out_of_time(self):
        return self.deadline is not None and time.monotonic() > self.deadline

    def _finish(self, state):
        """Move the watermark forward once every page of the run is stored."""
        with self.registry.cursor() as cr:
            flow = self._locked_flow(self._env(cr))
            mark = read_watermark(flow.watermark)
            started = parse_timestamp(state["started_at"])
            high = parse_timestamp(state["high"]) if state["high"] else None
            if high:
                mark["since"] = format_timestamp(min(started, high))
            elif not mark.get("since"):
                mark["since"] = state["started_at"]
            mark.pop("run", None)
            flow.write(
                {"watermark": json.dumps(mark), "last_run_at": fields.Datetime.now()}
            )
        self.backend.env["ir.cron"]._notify_progress(
            done=self.progress_offset + self.result.read, remaining=0
        )


class TimeBatch(PullRun):
    """The pull of time entries, which become timesheets."""

    flow = FLOW

    def fetch_pages(self, client, since, resume_token):
        """Yield pages of time entries changed since `since`."""
        return client.iter_time_entry_pages(since, resume_token)

    def make_importer(self, backend):
        """Return a `TimeImporter` of `backend`."""
        return TimeImporter(backend)


def read_watermark(text):
    """Return the flow's watermark as a dict; an old plain timestamp is `since`."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {"since": text}
    return value if isinstance(value, dict) else {"since": str(value)}


def newest(current, records):
    """Return the newest change time among `current` and `records`, as text."""
    moments = [record.updated_at for record in records if record.updated_at]
    if current:
        moments.append(parse_timestamp(current))
    return format_timestamp(max(moments)) if moments else None
