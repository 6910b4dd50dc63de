"""HTTP layer of the Salesforce REST API emulator.

Serves `/services/oauth2/token`, `/services/data/vXX.X/` query and queryAll
with `nextRecordsUrl` paging, getUpdated and getDeleted, sObject reads,
writes and upserts by external id, and sObject collections. Sessions expire
after the configured idle time, and requests with an expired session get a
401 INVALID_SESSION_ID error array. Every REST response but the version
list carries `Sforce-Limit-Info`. Errors are JSON arrays of
`{"message", "errorCode", "fields"}`, as Salesforce sends them.
"""

import itertools
import re
import threading
from dataclasses import dataclass
from datetime import timedelta

from werkzeug.routing import Rule
from werkzeug.wrappers import Response

from .base import (
    ApiError,
    EmulatorApp,
    EmulatorServer,
    RateLimiter,
    TokenIssuer,
    json_response,
    parse_iso,
)
from .salesforce_auth import SalesforceAuth
from .salesforce_collections import SalesforceCollections
from .salesforce_load import load_firm
from .salesforce_query import record_url, run_query
from .salesforce_schema import KEY_PREFIXES, format_datetime, make_id
from .salesforce_store import SalesforceError, SalesforceStore

_DEFAULT_CODES = {
    400: "BAD_REQUEST",
    401: "INVALID_SESSION_ID",
    403: "REQUEST_LIMIT_EXCEEDED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "REQUEST_LIMIT_EXCEEDED",
    500: "UNKNOWN_EXCEPTION",
    502: "SERVER_UNAVAILABLE",
    503: "SERVER_UNAVAILABLE",
    504: "SERVER_UNAVAILABLE",
}
_PUBLIC_ENDPOINTS = ("oauth_token", "versions")
_DATA = "/services/data/v<version>"


@dataclass
class QueryCursor:
    """The rows of one query, kept for its `nextRecordsUrl` pages."""

    records: list
    batch_size: int
    last_used: float


class SalesforceApp(SalesforceAuth, SalesforceCollections, EmulatorApp):
    """WSGI application emulating one Salesforce org's REST API."""

    name = "salesforce"

    def __init__(self, store=None, faults=None):
        store = store or SalesforceStore()
        super().__init__(store, faults, store.clock)
        config = store.config
        self.tokens = TokenIssuer(
            self.faults, self.clock, config.session_ttl_seconds, prefix="00D!sess"
        )
        self.api_usage = RateLimiter(
            self.faults, self.clock, config.daily_api_limit, 24 * 3600.0
        )
        self.cursors = {}
        self._cursor_serial = itertools.count(1)
        self._cursor_lock = threading.Lock()

    def rules(self):
        """Return the routes of the REST API."""
        sobject = f"{_DATA}/sobjects/<object_type>"
        return [
            Rule("/services/oauth2/token", endpoint="oauth_token", methods=["POST"]),
            Rule("/services/data", endpoint="versions", methods=["GET"]),
            Rule("/id/<org_id>/<user_id>", endpoint="identity", methods=["GET"]),
            Rule(_DATA, endpoint="resources", methods=["GET"]),
            Rule(f"{_DATA}/limits", endpoint="limits", methods=["GET"]),
            Rule(f"{_DATA}/query", endpoint="query", methods=["GET"]),
            Rule(f"{_DATA}/queryAll", endpoint="query_all", methods=["GET"]),
            Rule(f"{_DATA}/query/<locator>", endpoint="query_more", methods=["GET"]),
            Rule(f"{_DATA}/queryAll/<locator>", endpoint="query_more", methods=["GET"]),
            Rule(f"{_DATA}/sobjects", endpoint="describe_global", methods=["GET"]),
            Rule(sobject, endpoint="sobject_info", methods=["GET"]),
            Rule(sobject, endpoint="create_sobject", methods=["POST"]),
            Rule(f"{sobject}/describe", endpoint="describe", methods=["GET"]),
            Rule(f"{sobject}/updated", endpoint="get_updated", methods=["GET"]),
            Rule(f"{sobject}/deleted", endpoint="get_deleted", methods=["GET"]),
            Rule(f"{sobject}/<record_id>", endpoint="get_sobject", methods=["GET"]),
            Rule(
                f"{sobject}/<record_id>", endpoint="update_sobject", methods=["PATCH"]
            ),
            Rule(
                f"{sobject}/<record_id>", endpoint="delete_sobject", methods=["DELETE"]
            ),
            Rule(
                f"{sobject}/<record_id>",
                endpoint="create_by_id_field",
                methods=["POST"],
            ),
            Rule(
                f"{sobject}/<field>/<path:value>", endpoint="upsert", methods=["PATCH"]
            ),
            Rule(
                f"{sobject}/<field>/<path:value>",
                endpoint="get_by_external_id",
                methods=["GET"],
            ),
            *self.collection_rules(),
        ]

    # Errors, authentication and limits.

    def error_response(self, status, message, code=None, headers=None, **extra):
        """Return Salesforce's error array with one error."""
        error = {"message": message, "errorCode": code or _DEFAULT_CODES.get(status)}
        if extra.get("fields"):
            error["fields"] = extra["fields"]
        return json_response([error], status, headers)

    def before_request(self, request, endpoint):
        """Check the API version, the session and the API request limit."""
        if endpoint in _PUBLIC_ENDPOINTS:
            return None
        version = self._path_version(request.path)
        if version is not None and version not in self.store.config.api_versions:
            raise ApiError(404, "The requested resource does not exist", "NOT_FOUND")
        token = self._session(request)
        request.environ["emulator.token"] = token
        decision = self.api_usage.hit("org")
        request.environ["emulator.usage"] = decision
        if not decision.allowed:
            raise ApiError(
                403, "TotalRequests Limit exceeded.", "REQUEST_LIMIT_EXCEEDED"
            )
        return None

    def after_request(self, request, response):
        """Add `Sforce-Limit-Info` to every REST response but the version list."""
        decision = request.environ.get("emulator.usage")
        if decision is not None:
            used = decision.limit - decision.remaining
            response.headers["Sforce-Limit-Info"] = f"api-usage={used}/{decision.limit}"
        return response

    def _session(self, request):
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        token = None
        if scheme.lower() in ("bearer", "oauth") and value.strip():
            token = self.tokens.lookup(value.strip())
        if token is None:
            raise ApiError(401, "Session expired or invalid", "INVALID_SESSION_ID")
        # Salesforce sessions time out after a period without requests.
        self.tokens.extend(token)
        return token

    @staticmethod
    def _path_version(path):
        match = re.match(r"/services/data/v([^/]+)", path)
        return match.group(1) if match else None

    def _call(self, function, *args, **kwargs):
        try:
            return function(*args, **kwargs)
        except SalesforceError as error:
            raise ApiError(
                error.status, error.message, error.error_code, fields=error.fields
            ) from error

    def _user_id(self, request):
        return request.environ["emulator.token"].subject

    # Versions, resources, limits.

    def versions(self, request):
        """GET /services/data/: the API versions, with no limit header."""
        rows = [
            {
                "label": f"Emulated {version}",
                "url": f"/services/data/v{version}",
                "version": version,
            }
            for version in self.store.config.api_versions
        ]
        return json_response(rows)

    def resources(self, request, version):
        """GET /services/data/vXX.X/: the resources of one version."""
        base = f"/services/data/v{version}"
        names = ("sobjects", "query", "queryAll", "limits", "composite")
        return json_response({name: f"{base}/{name}" for name in names})

    def limits(self, request, version):
        """GET /services/data/vXX.X/limits: the daily API request counter."""
        decision = request.environ["emulator.usage"]
        body = {
            "DailyApiRequests": {"Max": decision.limit, "Remaining": decision.remaining}
        }
        return json_response(body)

    # Query.

    def query(self, request, version):
        """GET /services/data/vXX.X/query?q=: live records."""
        return self._run_query(request, version, include_deleted=False)

    def query_all(self, request, version):
        """GET /services/data/vXX.X/queryAll?q=: deleted and merged records too."""
        return self._run_query(request, version, include_deleted=True)

    def query_more(self, request, version, locator):
        """GET .../query/{locator}-{offset}: the next batch of a query."""
        cursor_id, _, offset = locator.rpartition("-")
        with self._cursor_lock:
            cursor = self.cursors.get(cursor_id)
        ttl = self.store.config.query_locator_ttl_seconds
        if cursor is None or not offset.isdigit():
            raise ApiError(400, "invalid query locator", "INVALID_QUERY_LOCATOR")
        if self.clock.time() - cursor.last_used > ttl:
            with self._cursor_lock:
                self.cursors.pop(cursor_id, None)
            raise ApiError(400, "invalid query locator", "INVALID_QUERY_LOCATOR")
        return self._batch(request, version, cursor_id, cursor, int(offset))

    def _run_query(self, request, version, include_deleted):
        text = request.args.get("q")
        if not text:
            raise ApiError(400, "A query string has to be specified", "MALFORMED_QUERY")
        records, total = self._call(
            run_query, self.store, text, include_deleted, version
        )
        if not records:
            return json_response({"totalSize": total, "done": True, "records": []})
        cursor = QueryCursor(records, self._batch_size(request), self.clock.time())
        serial = next(self._cursor_serial)
        cursor_id = make_id(KEY_PREFIXES["QueryLocator"], serial)
        with self._cursor_lock:
            self.cursors[cursor_id] = cursor
        return self._batch(request, version, cursor_id, cursor, 0)

    def _batch(self, request, version, cursor_id, cursor, offset):
        cursor.last_used = self.clock.time()
        end = offset + cursor.batch_size
        body = {
            "totalSize": len(cursor.records),
            "done": end >= len(cursor.records),
            "records": cursor.records[offset:end],
        }
        if not body["done"]:
            body["nextRecordsUrl"] = (
                f"/services/data/v{version}/query/{cursor_id}-{end}"
            )
        self.faults.page_served(request.path, offset // cursor.batch_size + 1)
        return json_response(body)

    def _batch_size(self, request):
        options = request.headers.get("Sforce-Query-Options", "")
        match = re.search(r"batchSize\s*=\s*(\d+)", options)
        if match:
            # Salesforce takes batch sizes between 200 and 2000.
            return min(max(int(match.group(1)), 200), 2000)
        return self.store.config.query_batch_size

    # Replication: getUpdated and getDeleted.

    def get_updated(self, request, version, object_type):
        """GET .../sobjects/{type}/updated?start=&end=: changed ids in a window."""
        object_type = self._call(self.store.type_name, object_type)
        start, end = self._window(request, self.store.config.updated_window_days)
        ids = self.store.updated_ids(object_type, start, end)
        self._check_id_limit(ids)
        body = {"ids": ids, "latestDateCovered": format_datetime(end)}
        return json_response(body)

    def get_deleted(self, request, version, object_type):
        """GET .../sobjects/{type}/deleted?start=&end=: deleted ids in a window."""
        object_type = self._call(self.store.type_name, object_type)
        days = self.store.config.deleted_window_days
        start, end = self._window(request, days)
        rows = self.store.deleted_records(object_type, start, end)
        self._check_id_limit(rows)
        earliest = max(
            self.store.deleted_log_start, self.store.now() - timedelta(days=days)
        )
        body = {
            "deletedRecords": [
                {"id": record_id, "deletedDate": format_datetime(deleted_at)}
                for record_id, deleted_at in sorted(rows, key=lambda row: row[1])
            ],
            "earliestDateAvailable": format_datetime(_to_minute(earliest)),
            "latestDateCovered": format_datetime(end),
        }
        return json_response(body)

    def _window(self, request, max_days):
        try:
            start = parse_iso(request.args["start"])
            end = parse_iso(request.args["end"])
        except (KeyError, ValueError) as error:
            raise ApiError(
                400,
                "start and end must be ISO-8601 datetimes, such as "
                "2024-06-03T00:00:00+00:00",
                "INVALID_REPLICATION_DATE",
            ) from error
        now = self.store.now()
        # Seconds are ignored, and the window cannot reach into the future.
        start, end = _to_minute(start), _to_minute(min(end, now))
        if start > end:
            raise ApiError(400, "start must be before end", "INVALID_REPLICATION_DATE")
        if start < now - timedelta(days=max_days):
            raise ApiError(
                400,
                f"start must be within the last {max_days} days",
                "INVALID_REPLICATION_DATE",
            )
        return start, end

    def _check_id_limit(self, rows):
        if len(rows) > self.store.config.replication_id_limit:
            raise ApiError(
                400,
                "The result set is larger than the maximum of ids; shorten the "
                "window between start and end",
                "EXCEEDED_ID_LIMIT",
            )

    # sObject endpoints.

    def describe_global(self, request, version):
        """GET .../sobjects: the sObject types of the org."""
        rows = [
            {"name": name, "keyPrefix": KEY_PREFIXES.get(name), "queryable": True}
            for name in self.store.fields
        ]
        return json_response(
            {"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": rows}
        )

    def sobject_info(self, request, version, object_type):
        """GET .../sobjects/{type}: basic information on the type."""
        object_type = self._call(self.store.type_name, object_type)
        body = {
            "objectDescribe": {
                "name": object_type,
                "keyPrefix": KEY_PREFIXES[object_type],
            }
        }
        return json_response(body)

    def describe(self, request, version, object_type):
        """GET .../sobjects/{type}/describe: the type's fields."""
        object_type = self._call(self.store.type_name, object_type)
        fields = [item.describe() for item in self.store.fields[object_type].values()]
        body = {
            "name": object_type,
            "keyPrefix": KEY_PREFIXES[object_type],
            "fields": fields,
        }
        return json_response(body)

    def get_sobject(self, request, version, object_type, record_id):
        """GET .../sobjects/{type}/{id}: all fields or those in `fields`."""
        object_type = self._call(self.store.type_name, object_type)
        record = self._call(self.store.require, object_type, record_id)
        return json_response(self.render(request, version, object_type, record))

    def create_sobject(self, request, version, object_type):
        """POST .../sobjects/{type}: create a record, 201 with its id."""
        object_type = self._call(self.store.type_name, object_type)
        values = self._object_body(request)
        record = self._call(
            self.store.create, object_type, values, user_id=self._user_id(request)
        )
        return json_response({"id": record["Id"], "success": True, "errors": []}, 201)

    def create_by_id_field(self, request, version, object_type, record_id):
        """POST .../sobjects/{type}/Id: create, treating Id as a null external id."""
        if record_id != "Id":
            raise ApiError(
                405,
                "HTTP Method 'POST' not allowed. Allowed are HEAD,GET,PATCH,DELETE",
                "METHOD_NOT_ALLOWED",
            )
        response = self.create_sobject(request, version, object_type)
        body = response.get_json()
        body["created"] = True
        return json_response(body, 201)

    def update_sobject(self, request, version, object_type, record_id):
        """PATCH .../sobjects/{type}/{id}: update fields, 204."""
        object_type = self._call(self.store.type_name, object_type)
        values = self._object_body(request)
        self._call(
            self.store.update,
            object_type,
            record_id,
            values,
            user_id=self._user_id(request),
        )
        return Response(status=204)

    def delete_sobject(self, request, version, object_type, record_id):
        """DELETE .../sobjects/{type}/{id}: move to the recycle bin, 204."""
        object_type = self._call(self.store.type_name, object_type)
        self._call(self.store.delete, object_type, record_id)
        return Response(status=204)

    def upsert(self, request, version, object_type, field, value):
        """PATCH .../sobjects/{type}/{externalIdField}/{value}: upsert.

        A create returns 201. An update returns 204 before the configured
        version and 200 with a body from it. When several records carry the
        value, the response is 300 with their URLs.
        """
        object_type = self._call(self.store.type_name, object_type)
        definition = self._external_id_field(object_type, field)
        values = self._object_body(request)
        if any(name.lower() == definition.name.lower() for name in values):
            raise ApiError(
                400,
                f"The external id field {definition.name} is in the URL and must not "
                "be in the body",
                "INVALID_FIELD",
                fields=[definition.name],
            )
        update_only = request.args.get("updateOnly", "false").lower() == "true"
        user_id = self._user_id(request)
        with_body = float(version) >= self.store.config.upsert_body_from_version
        with self.store.lock:
            matches = self.store.find_by(object_type, definition.name, value)
            if len(matches) > 1:
                urls = [record_url(version, object_type, row["Id"]) for row in matches]
                return json_response(urls, 300)
            if matches:
                record_id = matches[0]["Id"]
                self._call(
                    self.store.update, object_type, record_id, values, user_id=user_id
                )
                if not with_body:
                    return Response(status=204)
                body = {
                    "id": record_id,
                    "success": True,
                    "errors": [],
                    "created": False,
                }
                return json_response(body, 200)
            if update_only:
                message = f"No {object_type} has {definition.name} = {value}"
                raise ApiError(404, message, "NOT_FOUND")
            values[definition.name] = value
            record = self._call(self.store.create, object_type, values, user_id=user_id)
        body = {"id": record["Id"], "success": True, "errors": []}
        if with_body:
            body["created"] = True
        return json_response(body, 201)

    def get_by_external_id(self, request, version, object_type, field, value):
        """GET .../sobjects/{type}/{externalIdField}/{value}."""
        object_type = self._call(self.store.type_name, object_type)
        definition = self._external_id_field(object_type, field)
        matches = self.store.find_by(object_type, definition.name, value)
        if not matches:
            raise ApiError(404, "The requested resource does not exist", "NOT_FOUND")
        if len(matches) > 1:
            urls = [record_url(version, object_type, row["Id"]) for row in matches]
            return json_response(urls, 300)
        return json_response(self.render(request, version, object_type, matches[0]))

    def _external_id_field(self, object_type, field):
        definition = self.store.field(object_type, field)
        if definition is None or not (
            definition.external_id or definition.name == "Id"
        ):
            raise ApiError(
                404,
                "Provided external ID field does not exist or is not accessible: "
                f"{field}",
                "NOT_FOUND",
            )
        return definition

    def _object_body(self, request):
        body = self.json_body(request)
        if not isinstance(body, dict):
            raise ApiError(
                400,
                "Expected a JSON object with field values as the request body",
                "JSON_PARSER_ERROR",
            )
        return body

    def render(self, request, version, object_type, record):
        """Return a record as REST JSON: attributes first, then the fields."""
        requested = request.args.get("fields")
        names = [name.strip() for name in requested.split(",")] if requested else None
        fields = self.store.fields[object_type]
        data = {
            "attributes": {
                "type": object_type,
                "url": record_url(version, object_type, record["Id"]),
            }
        }
        for name, definition in fields.items():
            if names is None or any(name.lower() == item.lower() for item in names):
                data[name] = definition.to_json_value(record.get(name))
        return data


def _to_minute(moment):
    return moment.replace(second=0, microsecond=0)


def make_salesforce_server(store=None, faults=None):
    """Return an unstarted `EmulatorServer` around a `SalesforceApp`."""
    return EmulatorServer(SalesforceApp(store, faults), "salesforce")


__all__ = ["SalesforceApp", "load_firm", "make_salesforce_server"]
