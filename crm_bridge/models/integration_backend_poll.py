"""Polling of HubSpot and Salesforce for changes a webhook may have missed.

Each polled object has a flow row with its watermark: the newest change
time stored so far. A poll starts `overlap_seconds` before the watermark.
For each page it stores one job per record version and moves the
watermark, both in one transaction of their own. A crash mid-poll
therefore loses nothing and repeats at most one page, and the job keys
(record id plus change time) turn a repeat into a no-op.

HubSpot: each page is a fresh search for records changed at or after the
newest timestamp stored so far, oldest first. No query pages deep, so the
search API's 10,000-result cap is never reached, and a record edited
during the poll cannot shift another out of the page window. When a whole
page shares one timestamp, the rest of that instant is read by id (keyset
paging), then the poll goes on strictly after it.

Salesforce: SOQL on SystemModstamp, oldest first, following
`nextRecordsUrl`; deletions and merges come from getDeleted.
"""

import logging
from datetime import UTC, timedelta

from odoo import api, fields, models
from odoo.addons.integration_audit.services.errors import BusinessError, RetryableError

from ..services.crm_records import parse_timestamp
from ..services.hubspot_client import MODIFIED_PROPERTY
from ..services.salesforce_client import soql_datetime, soql_select
from .integration_backend import CRM_KINDS

_logger = logging.getLogger(__name__)

HUBSPOT_PRIORITY = {"companies": 5, "contacts": 7, "deals": 9}
SALESFORCE_PRIORITY = {"Account": 5, "Contact": 7, "Opportunity": 9}
RES_MODEL = {
    "companies": "res.partner",
    "contacts": "res.partner",
    "deals": "sale.order",
    "Account": "res.partner",
    "Contact": "res.partner",
    "Opportunity": "sale.order",
}
# Pages one poll of one object reads at most; the next poll continues.
MAX_PAGES = 50
# getDeleted serves the last 15 days only and needs at least one minute.
DELETED_HORIZON = timedelta(days=15)
DELETED_MIN_SPAN = timedelta(minutes=1)


def epoch_ms(moment):
    """Return a naive UTC datetime as epoch milliseconds."""
    return int(moment.replace(tzinfo=UTC).timestamp() * 1000)


def _has_next(page):
    return bool(((page.get("paging") or {}).get("next") or {}).get("after"))


def watermark_text(moment):
    """Return a naive UTC datetime as the text stored in a flow's watermark.

    A fixed ISO 8601 format with milliseconds, so watermarks compare as text.
    """
    return moment.isoformat(timespec="milliseconds") if moment else None


class IntegrationBackend(models.Model):
    _inherit = "integration.backend"

    @api.model
    def _cron_poll_crm(self):
        """Poll every active CRM backend whose polling interval has passed.

        A transient failure (429, timeout) ends that backend's poll until the
        next run, which resumes from the stored watermark. A business error,
        such as rejected credentials, also opens an exception.
        """
        for backend in self.search([("kind", "in", CRM_KINDS)]):
            try:
                backend.with_company(backend.company_id)._crm_poll()
            except RetryableError as error:
                _logger.info("Backend %s: poll postponed: %s", backend.id, error)
            except BusinessError as error:
                _logger.warning("Backend %s: poll failed: %s", backend.id, error)
                self.env["integration.exception"]._open_review(
                    backend,
                    error.category,
                    str(error),
                    dedup_key=f"crm_poll:{backend.id}:{error.category}",
                )

    def _crm_poll(self, force=False):
        """Poll each enabled object of this backend that is due (or all, forced)."""
        self.ensure_one()
        # Flow rows are read and written in cursors of their own, which only see
        # what this transaction has written to the database.
        self.env.flush_all()
        for object_type in self._crm_polled_objects():
            code, poll = self._crm_poll_plan(object_type)
            state = self._crm_flow_state(code)
            if state["enabled"] and (force or state["due"]):
                poll(code, object_type, state)
                self._crm_store_page(code, [], None)

    def _crm_polled_objects(self):
        objects = []
        if self.crm_sync_companies:
            objects.append("companies")
        if self.crm_sync_contacts:
            objects.append("contacts")
        if self.crm_sync_deals:
            objects.append("deals")
        if self.kind == "salesforce":
            names = {
                "companies": "Account",
                "contacts": "Contact",
                "deals": "Opportunity",
            }
            objects = [names[name] for name in objects]
            objects += [f"deleted:{name}" for name in list(objects)]
        return objects

    def _crm_poll_plan(self, object_type):
        if self.kind == "hubspot":
            return f"hubspot.poll.{object_type}", self._crm_poll_hubspot
        if object_type.startswith("deleted:"):
            sobject = object_type.partition(":")[2]
            return f"salesforce.deleted.{sobject}", self._crm_poll_salesforce_deleted
        return f"salesforce.poll.{object_type}", self._crm_poll_salesforce

    # ------------------------------------------------------------------
    # Flow rows, read and written in transactions of their own
    # ------------------------------------------------------------------

    def _crm_flow_state(self, code):
        """Return the flow's settings and watermark, creating the flow if new."""
        with self.env.registry.cursor() as cr:
            flow = self.with_env(self.env(cr=cr)).sudo()._get_flow(code)
            last_run = flow.last_run_at
            due_at = (
                last_run + timedelta(minutes=flow.interval_minutes)
                if last_run
                else None
            )
            return {
                "enabled": flow.enabled,
                "due": not due_at or due_at <= fields.Datetime.now(),
                "watermark": flow.watermark,
                "overlap": timedelta(seconds=flow.overlap_seconds or 0),
            }

    def _crm_store_page(self, code, job_values, watermark):
        """Store one page's jobs and move the watermark, then commit both.

        With no jobs and no watermark, only records the run's end time.
        """
        with self.env.registry.cursor() as cr:
            backend = self.with_env(self.env(cr=cr)).sudo()
            flow = backend._get_flow(code)
            if job_values:
                backend.env["integration.sync.job"]._enqueue_many(backend, job_values)
            values = {"last_run_at": fields.Datetime.now()}
            if watermark is not None and (
                not flow.watermark or watermark > flow.watermark
            ):
                values["watermark"] = watermark
            flow.write(values)

    # ------------------------------------------------------------------
    # HubSpot
    # ------------------------------------------------------------------

    def _crm_poll_hubspot(self, code, object_type, state):
        client = self._crm_client()
        extra = [self.crm_vat_field] if object_type == "companies" else []
        properties = client.properties_of(object_type, extra)
        watermark = parse_timestamp(state["watermark"])
        since = epoch_ms(watermark - state["overlap"]) if watermark else 0
        operator = "GTE"
        for _page in range(MAX_PAGES):
            page = client.search_modified(object_type, since, properties, operator)
            records = page.get("results") or []
            if not records:
                return
            stamps = self._crm_store_hubspot_page(code, object_type, client, records)
            if not _has_next(page):
                return
            newest = max(stamps)
            operator = "GTE"
            if min(stamps) == newest:
                # A full page of one instant: read the rest of it by id, then
                # go on strictly after it.
                self._crm_drain_instant(code, object_type, client, properties, records)
                operator = "GT"
            since = newest

    def _crm_drain_instant(self, code, object_type, client, properties, records):
        """Store every record of the instant `records` share, paging by id."""
        instant = self._crm_hubspot_stamp(object_type, records[0])
        last_id = max(int(record["id"]) for record in records)
        for _page in range(MAX_PAGES):
            page = client.search_instant(object_type, instant, last_id, properties)
            records = page.get("results") or []
            if not records:
                return
            self._crm_store_hubspot_page(code, object_type, client, records)
            last_id = max(int(record["id"]) for record in records)
            if not _has_next(page):
                return

    def _crm_store_hubspot_page(self, code, object_type, client, records):
        """Store one page's jobs, move the watermark; return the page's timestamps."""
        stamps = [self._crm_hubspot_stamp(object_type, record) for record in records]
        if object_type == "contacts":
            self._crm_add_contact_companies(client, records)
        jobs = [self._crm_hubspot_job(object_type, record) for record in records]
        self._crm_store_page(code, jobs, watermark_text(parse_timestamp(max(stamps))))
        return stamps

    @api.model
    def _crm_add_contact_companies(self, client, records):
        """Fill `associatedcompanyid` from the associations API where missing.

        Search results carry no associations, so one batch read per page
        finds the company of every contact that lacks the property.
        """
        missing = [
            record
            for record in records
            if not (record.get("properties") or {}).get("associatedcompanyid")
        ]
        if not missing:
            return
        ids = [record["id"] for record in missing]
        companies = client.associated_ids_batch("contacts", ids, "companies")
        for record in missing:
            found = companies.get(str(record["id"]))
            if found:
                record.setdefault("properties", {})["associatedcompanyid"] = found[0]

    @api.model
    def _crm_hubspot_stamp(self, object_type, record):
        props = record.get("properties") or {}
        moment = parse_timestamp(
            props.get(MODIFIED_PROPERTY[object_type]) or record.get("updatedAt")
        )
        return epoch_ms(moment) if moment else 0

    @api.model
    def _crm_hubspot_job(self, object_type, record):
        stamp = self._crm_hubspot_stamp(object_type, record)
        return {
            "flow": "hubspot.record",
            "idempotency_key": f"hubspot:{object_type}:{record['id']}:{stamp}",
            "payload": {"object_type": object_type, "record": record},
            "direction": "inbound",
            "external_model": object_type,
            "external_id": str(record["id"]),
            "external_updated_at": parse_timestamp(stamp) if stamp else False,
            "res_model": RES_MODEL[object_type],
            "priority": HUBSPOT_PRIORITY[object_type],
        }

    # ------------------------------------------------------------------
    # Salesforce
    # ------------------------------------------------------------------

    def _crm_poll_salesforce(self, code, sobject, state):
        client = self._crm_client()
        soql = self._crm_soql(client, sobject, state)
        page = client.query(soql)
        for _page in range(MAX_PAGES):
            records = page.get("records") or []
            if records:
                jobs = [self._crm_salesforce_job(sobject, record) for record in records]
                newest = max(record.get("SystemModstamp") or "" for record in records)
                self._crm_store_page(
                    code, jobs, watermark_text(parse_timestamp(newest))
                )
            if page.get("done", True) or not page.get("nextRecordsUrl"):
                return
            page = client.next_page(page["nextRecordsUrl"])

    def _crm_soql(self, client, sobject, state):
        extra = []
        if sobject == "Account" and self.crm_vat_field:
            extra.append(self.crm_vat_field)
        if sobject == "Opportunity" and self.salesforce_multicurrency:
            extra.append("CurrencyIsoCode")
        where = ""
        if state["watermark"]:
            since = parse_timestamp(state["watermark"]) - state["overlap"]
            where = f"SystemModstamp > {soql_datetime(since)}"
        return soql_select(
            sobject, client.fields_of(sobject, extra), where, "SystemModstamp ASC"
        )

    @api.model
    def _crm_salesforce_job(self, sobject, record):
        changed = parse_timestamp(record.get("SystemModstamp"))
        record = {key: value for key, value in record.items() if key != "attributes"}
        return {
            "flow": "salesforce.record",
            "idempotency_key": (
                f"salesforce:{sobject}:{record['Id']}:{record.get('SystemModstamp')}"
            ),
            "payload": {"object": sobject, "record": record},
            "direction": "inbound",
            "external_model": sobject,
            "external_id": record["Id"],
            "external_updated_at": changed or False,
            "res_model": RES_MODEL[sobject],
            "priority": SALESFORCE_PRIORITY[sobject],
        }

    def _crm_poll_salesforce_deleted(self, code, object_type, state):
        sobject = object_type.partition(":")[2]
        now = fields.Datetime.now()
        start = parse_timestamp(state["watermark"])
        start = max(
            start or now - DELETED_HORIZON, now - DELETED_HORIZON + DELETED_MIN_SPAN
        )
        if now - start < DELETED_MIN_SPAN:
            return
        result = self._crm_client().deleted(sobject, start, now)
        earliest = parse_timestamp(result.get("earliestDateAvailable"))
        if earliest and earliest > start:
            _logger.warning(
                "Backend %s: Salesforce no longer lists %s deletions before %s; "
                "deletions between %s and then were missed",
                self.id,
                sobject,
                earliest,
                start,
            )
        jobs = [
            self._crm_deleted_job(sobject, row)
            for row in result.get("deletedRecords") or []
        ]
        covered = parse_timestamp(result.get("latestDateCovered")) or now
        self._crm_store_page(code, jobs, watermark_text(covered))

    @api.model
    def _crm_deleted_job(self, sobject, row):
        return {
            "flow": "salesforce.deleted",
            "idempotency_key": (
                f"salesforce:deleted:{sobject}:{row['id']}:{row.get('deletedDate')}"
            ),
            "payload": {
                "object": sobject,
                "id": row["id"],
                "deleted_at": row.get("deletedDate"),
            },
            "direction": "inbound",
            "external_model": sobject,
            "external_id": row["id"],
            "priority": 20,
        }
