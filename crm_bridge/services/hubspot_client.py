"""Calls to the HubSpot CRM v3/v4 API that the CRM bridge makes.

Every call goes through `backend._http_request`, which adds the bearer
token, applies the timeout and rate limit, refreshes an expired token once,
turns 429 and 5xx into `RetryableError` and other 4xx into
`RemoteRejectedError`, and writes the audit log. This module contains only
HubSpot's paths and body shapes.
"""

import time

from odoo.addons.integration_audit.services.errors import (
    RemoteRejectedError,
    RetryableError,
)

# HubSpot accepts at most 100 inputs per batch call.
BATCH_SIZE = 100
SEARCH_PAGE_SIZE = 100
# The search API's per-second limit: waits a poll takes instead of stopping.
SEARCH_WINDOW_SECONDS = 1.0
SEARCH_MAX_WAIT_SECONDS = 2.0
SEARCH_RETRIES = 3
NOT_FOUND = 404

OBJECT_PROPERTIES = {
    "companies": [
        "name",
        "domain",
        "website",
        "phone",
        "address",
        "address2",
        "city",
        "zip",
        "state",
        "country",
        "hs_lastmodifieddate",
        "lastmodifieddate",
        "hs_merged_object_ids",
    ],
    "contacts": [
        "firstname",
        "lastname",
        "email",
        "phone",
        "mobilephone",
        "jobtitle",
        "address",
        "city",
        "zip",
        "state",
        "country",
        "associatedcompanyid",
        "lastmodifieddate",
        "hs_merged_object_ids",
    ],
    "deals": [
        "dealname",
        "amount",
        "deal_currency_code",
        "pipeline",
        "dealstage",
        "closedate",
        "hubspot_owner_id",
        "hs_lastmodifieddate",
        "hs_merged_object_ids",
    ],
    "line_items": [
        "name",
        "quantity",
        "price",
        "amount",
        "hs_product_id",
        "hs_sku",
        "description",
        "hs_lastmodifieddate",
    ],
}

# The property search filters and sorts on to find changed records.
MODIFIED_PROPERTY = {
    "companies": "hs_lastmodifieddate",
    "contacts": "lastmodifieddate",
    "deals": "hs_lastmodifieddate",
}


def chunks(items, size=BATCH_SIZE):
    """Yield successive slices of `items` of at most `size` elements."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


class HubSpotClient:
    """HubSpot API calls of one backend, audited under one sync job."""

    def __init__(self, backend, job=None):
        self.backend = backend
        self.job = job

    def _call(self, method, path, **kwargs):
        response = self.backend._http_request(method, path, job=self.job, **kwargs)
        if response.status_code == 204 or not response.content:
            return {}
        return response.json()

    def properties_of(self, object_type, extra=()):
        """Return the property names the bridge reads for `object_type`."""
        names = list(OBJECT_PROPERTIES[object_type])
        names += [name for name in extra if name and name not in names]
        return names

    def get(self, object_type, object_id, properties, associations=()):
        """Return one record, or None when HubSpot has no such record.

        A record merged into another comes back under its new id.
        """
        params = {"properties": ",".join(properties)}
        if associations:
            params["associations"] = ",".join(associations)
        try:
            return self._call(
                "GET", f"/crm/v3/objects/{object_type}/{object_id}", params=params
            )
        except RemoteRejectedError as error:
            if error.status_code == NOT_FOUND:
                return None
            raise

    def batch_read(self, object_type, ids, properties):
        """Return the records of `ids` that exist, in batches of 100."""
        records = []
        for batch in chunks(list(ids)):
            body = {
                "properties": properties,
                "inputs": [{"id": str(object_id)} for object_id in batch],
            }
            result = self._call(
                "POST", f"/crm/v3/objects/{object_type}/batch/read", json=body
            )
            records += result.get("results", [])
        return records

    def associated_ids(self, from_type, from_id, to_type):
        """Return the ids of the `to_type` records associated with one record."""
        return self.associated_ids_batch(from_type, [from_id], to_type).get(
            str(from_id), []
        )

    def associated_ids_batch(self, from_type, from_ids, to_type):
        """Return {from id: [associated `to_type` ids]}, 100 records per call."""
        associated = {}
        for batch in chunks([str(from_id) for from_id in from_ids]):
            body = {"inputs": [{"id": from_id} for from_id in batch]}
            result = self._call(
                "POST",
                f"/crm/v4/associations/{from_type}/{to_type}/batch/read",
                json=body,
            )
            for row in result.get("results", []):
                targets = [str(target["toObjectId"]) for target in row.get("to", [])]
                associated[str(row["from"]["id"])] = targets
        return associated

    def search_modified(self, object_type, since_ms, properties, operator="GTE"):
        """Return the first page of records changed since `since_ms`, oldest first.

        `operator` is GTE (at or after) or GT (strictly after). The poller
        restarts this search from the newest timestamp it has stored
        instead of paging deep.
        """
        modified = MODIFIED_PROPERTY[object_type]
        filters = [
            {"propertyName": modified, "operator": operator, "value": str(since_ms)}
        ]
        return self._search(object_type, filters, modified, properties)

    def search_instant(self, object_type, instant_ms, after_id, properties):
        """Return records changed exactly at `instant_ms` with an id above `after_id`.

        Sorted by id, so a poll pages through one crowded instant by id
        instead of by an offset that shifts when a record changes.
        """
        filters = [
            {
                "propertyName": MODIFIED_PROPERTY[object_type],
                "operator": "EQ",
                "value": str(instant_ms),
            },
            {"propertyName": "hs_object_id", "operator": "GT", "value": str(after_id)},
        ]
        return self._search(object_type, filters, "hs_object_id", properties)

    def _search(self, object_type, filters, sort_property, properties):
        """POST one search, waiting out the search API's per-second limit.

        HubSpot allows 4 search requests per second per token. A 429 with a
        short Retry-After (or none) is waited out here, at most
        `SEARCH_RETRIES` times, so a poll is not abandoned for a second.
        """
        body = {
            "filterGroups": [{"filters": filters}],
            "sorts": [{"propertyName": sort_property, "direction": "ASCENDING"}],
            "properties": properties,
            "limit": SEARCH_PAGE_SIZE,
        }
        path = f"/crm/v3/objects/{object_type}/search"
        for attempt in range(SEARCH_RETRIES + 1):
            try:
                return self._call("POST", path, json=body)
            except RetryableError as error:
                wait = error.retry_after or SEARCH_WINDOW_SECONDS
                if attempt == SEARCH_RETRIES or wait > SEARCH_MAX_WAIT_SECONDS:
                    raise
                time.sleep(wait)
        return {}

    def pipelines(self, object_type="deals"):
        """Return the pipelines of `object_type` with their stages."""
        return self._call("GET", f"/crm/v3/pipelines/{object_type}").get("results", [])

    def owner(self, owner_id):
        """Return the owner `owner_id` (id, email, names), or None."""
        try:
            return self._call("GET", f"/crm/v3/owners/{owner_id}")
        except RemoteRejectedError as error:
            if error.status_code == NOT_FOUND:
                return None
            raise

    def batch_update(self, object_type, inputs):
        """Write properties of up to 100 records per call; return the errors."""
        errors = []
        for batch in chunks(inputs):
            result = self._call(
                "POST",
                f"/crm/v3/objects/{object_type}/batch/update",
                json={"inputs": batch},
            )
            errors += result.get("errors", [])
        return errors

    def property_names(self, object_type):
        """Return the names of the properties `object_type` has."""
        result = self._call("GET", f"/crm/v3/properties/{object_type}")
        return {prop["name"] for prop in result.get("results", [])}

    def create_property(self, object_type, definition):
        """Create one custom property of `object_type`."""
        return self._call("POST", f"/crm/v3/properties/{object_type}", json=definition)

    def test(self):
        """Read one company: the cheapest call that needs valid credentials."""
        return self._call("GET", "/crm/v3/objects/companies", params={"limit": 1})
