"""Calls to the Salesforce REST API that the CRM bridge makes.

Calls go through `backend._http_request` (bearer token, timeout, rate
limit, one refresh on 401, retry classification, audit log). The API host
is the `instance_url` of the last token response, or the backend's base
URL until a token names one.
"""

import re
from urllib.parse import urljoin

from .salesforce_ids import to_18

# sObject collections take at most 200 records per request.
COLLECTION_SIZE = 200

OBJECT_FIELDS = {
    "Account": [
        "Id",
        "Name",
        "Website",
        "Phone",
        "BillingStreet",
        "BillingCity",
        "BillingPostalCode",
        "BillingState",
        "BillingCountry",
        "SystemModstamp",
    ],
    "Contact": [
        "Id",
        "AccountId",
        "FirstName",
        "LastName",
        "Email",
        "Phone",
        "MobilePhone",
        "Title",
        "MailingStreet",
        "MailingCity",
        "MailingPostalCode",
        "MailingState",
        "MailingCountry",
        "SystemModstamp",
    ],
    "Opportunity": [
        "Id",
        "Name",
        "AccountId",
        "StageName",
        "IsWon",
        "IsClosed",
        "Amount",
        "CloseDate",
        "OwnerId",
        "SystemModstamp",
    ],
    "OpportunityLineItem": [
        "Id",
        "OpportunityId",
        "Product2Id",
        "ProductCode",
        "Name",
        "Quantity",
        "UnitPrice",
        "Description",
    ],
}


def soql_datetime(moment):
    """Return a naive UTC datetime as a SOQL datetime literal."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def soql_ids(ids):
    """Return a SOQL list of quoted ids, each checked to be a Salesforce id."""
    return "(" + ", ".join(f"'{to_18(value)}'" for value in ids) + ")"


def soql_select(sobject, fields, where="", order_by=""):
    """Return a SOQL SELECT statement.

    Object and field names are checked against the API name pattern, and
    `where` must be built from these helpers' literals, so no value from a
    payload reaches the statement unchecked.
    """
    names = ", ".join(check_field_name(name) for name in fields)
    statement = f"SELECT {names} FROM {check_field_name(sobject)}"  # noqa: S608 - SOQL
    if where:
        statement += f" WHERE {where}"
    if order_by:
        statement += f" ORDER BY {order_by}"
    return statement


def check_field_name(name):
    """Return `name` if it is a valid API field name, else raise ValueError."""
    if not re.fullmatch(
        r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)?", name or ""
    ):
        raise ValueError(f"{name!r} is not a Salesforce field name")
    return name


class SalesforceClient:
    """Salesforce API calls of one backend, audited under one sync job."""

    def __init__(self, backend, job=None):
        self.backend = backend
        self.job = job

    @property
    def instance_url(self):
        return self.backend._crm_instance_url()

    def data_url(self, path):
        """Return the absolute URL of `path` under the REST API's versioned root."""
        version = self.backend.salesforce_api_version or "v60.0"
        return f"{self.instance_url}/services/data/{version}/{path.lstrip('/')}"

    def _call(self, method, url, **kwargs):
        response = self.backend._http_request(method, url, job=self.job, **kwargs)
        if response.status_code == 204 or not response.content:
            return {}
        return response.json()

    def fields_of(self, sobject, extra=()):
        """Return the field names the bridge reads for `sobject`."""
        names = list(OBJECT_FIELDS[sobject])
        names += [
            check_field_name(name) for name in extra if name and name not in names
        ]
        return names

    def query(self, soql, include_deleted=False):
        """Return the first page of a SOQL query."""
        resource = "queryAll" if include_deleted else "query"
        return self._call("GET", self.data_url(resource), params={"q": soql})

    def next_page(self, next_records_url):
        """Return the page a `nextRecordsUrl` locator points at."""
        return self._call("GET", urljoin(self.instance_url + "/", next_records_url))

    def query_records(self, soql, include_deleted=False):
        """Return every record of a SOQL query, following `nextRecordsUrl`."""
        page = self.query(soql, include_deleted=include_deleted)
        records = list(page.get("records", []))
        while not page.get("done", True) and page.get("nextRecordsUrl"):
            page = self.next_page(page["nextRecordsUrl"])
            records += page.get("records", [])
        return records

    def get_by_ids(self, sobject, ids, fields):
        """Return the records of `ids` with `fields`, deleted ones excluded."""
        if not ids:
            return []
        return self.query_records(
            soql_select(sobject, fields, f"Id IN {soql_ids(ids)}")
        )

    def deleted(self, sobject, start, end):
        """Return getDeleted's response for `sobject` between two naive UTC datetimes."""
        params = {"start": f"{soql_datetime(start)}", "end": f"{soql_datetime(end)}"}
        return self._call(
            "GET", self.data_url(f"sobjects/{sobject}/deleted/"), params=params
        )

    def update_collection(self, records):
        """Update up to 200 records per request; return the per-record results."""
        results = []
        for start in range(0, len(records), COLLECTION_SIZE):
            body = {
                "allOrNone": False,
                "records": records[start : start + COLLECTION_SIZE],
            }
            result = self._call("PATCH", self.data_url("composite/sobjects"), json=body)
            results += result if isinstance(result, list) else []
        return results

    def test(self):
        """Run the cheapest query that needs a valid session."""
        return self.query("SELECT Id FROM Account LIMIT 1")
