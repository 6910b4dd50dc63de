"""HTTP layer of the HubSpot CRM v3 emulator.

Serves the endpoints the suite uses, in HubSpot's wire format: bearer
authentication with a private-app token or expiring OAuth tokens (token
endpoint `/oauth/v1/token`), objects and their list, search and batch
endpoints, merges, archived records, pipelines, properties, owners and v4
associations. Every authenticated response carries the
`X-HubSpot-RateLimit-*` headers, and a request over the burst, search or
daily limit gets a 429 with HubSpot's rate-limit body. The data lives in a
`HubSpotStore`, and `hubspot_routes.py` contains the endpoints beyond
objects.
"""

import uuid
from datetime import timedelta

from werkzeug.routing import Rule

from .base import (
    ApiError,
    EmulatorApp,
    EmulatorServer,
    RateLimiter,
    TokenIssuer,
    isoformat_ms,
    json_response,
)
from .hubspot_load import load_firm
from .hubspot_routes import HubSpotRoutes
from .hubspot_schema import DEFAULT_RETURNED, OBJECT_TYPE_ALIASES, SINGULAR
from .hubspot_search import search
from .hubspot_store import HubSpotError, HubSpotStore

_CATEGORIES = {
    400: "VALIDATION_ERROR",
    401: "INVALID_AUTHENTICATION",
    403: "MISSING_SCOPES",
    404: "OBJECT_NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITS",
}
_PUBLIC_ENDPOINTS = ("oauth_token", "oauth_token_info")


class HubSpotApp(HubSpotRoutes, EmulatorApp):
    """WSGI application emulating HubSpot's CRM API for one portal."""

    name = "hubspot"

    def __init__(self, store=None, faults=None):
        store = store or HubSpotStore()
        super().__init__(store, faults, store.clock)
        config = store.config
        self.tokens = TokenIssuer(
            self.faults, self.clock, config.access_token_ttl, prefix="oauth"
        )
        self.tokens.add_static(config.private_app_token, "private-app")
        self.refresh_tokens = {config.refresh_token}
        self.authorization_codes = set()
        self.burst = RateLimiter(
            self.faults,
            self.clock,
            config.burst_limit,
            config.burst_window_seconds,
        )
        self.search_limiter = RateLimiter(
            self.faults, self.clock, config.search_requests_per_second, 1.0
        )
        self.daily_usage = {}

    def rules(self):
        """Return the routes of the object endpoints and of `HubSpotRoutes`."""
        objects = "/crm/v3/objects/<object_type>"
        return [
            Rule(objects, endpoint="list_objects", methods=["GET"]),
            Rule(objects, endpoint="create_object", methods=["POST"]),
            Rule(f"{objects}/search", endpoint="search_objects", methods=["POST"]),
            Rule(f"{objects}/merge", endpoint="merge_objects", methods=["POST"]),
            Rule(
                f"{objects}/batch/<action>", endpoint="batch_objects", methods=["POST"]
            ),
            Rule(f"{objects}/<object_id>", endpoint="get_object", methods=["GET"]),
            Rule(f"{objects}/<object_id>", endpoint="update_object", methods=["PATCH"]),
            Rule(
                f"{objects}/<object_id>", endpoint="archive_object", methods=["DELETE"]
            ),
            *self.extra_rules(),
        ]

    # Errors in HubSpot's format.

    def error_response(self, status, message, code=None, headers=None, **extra):
        """Return HubSpot's error body: status, message, correlationId, category."""
        body = {
            "status": "error",
            "message": message,
            "correlationId": str(uuid.uuid4()),
            "category": code or _CATEGORIES.get(status, "INTERNAL_ERROR"),
        }
        body.update({key: value for key, value in extra.items() if value})
        return json_response(body, status, headers)

    def fault_response(self, status, retry_after=None):
        """Return an injected error; a 429 carries HubSpot's rate-limit body."""
        headers = {}
        if retry_after is not None:
            headers["Retry-After"] = str(int(retry_after))
        if status == 429:
            return self._rate_limited(self.store.config.burst_policy_name, headers)
        return self.error_response(
            status, f"Injected fault: HTTP {status}", headers=headers
        )

    def _rate_limited(self, policy_name, headers=None):
        body = {
            "status": "error",
            "message": f"You have reached your {policy_name.lower()} limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": str(uuid.uuid4()),
            "policyName": policy_name,
            "requestId": str(uuid.uuid4()),
        }
        return json_response(body, 429, headers)

    # Authentication and rate limits, run before every handler.

    def before_request(self, request, endpoint):
        """Authenticate the bearer token and count the request against the limits."""
        if endpoint in _PUBLIC_ENDPOINTS:
            return None
        token = self._authenticate(request)
        request.environ["emulator.token"] = token
        decision = self.burst.hit(token.subject)
        request.environ["emulator.rate"] = decision
        if not decision.allowed:
            return self._over_limit(self.store.config.burst_policy_name, decision)
        if not self._count_daily(token):
            return self._rate_limited("DAILY")
        if endpoint == "search_objects":
            per_second = self.search_limiter.hit(token.value)
            if not per_second.allowed:
                policy = self.store.config.search_policy_name
                return self._over_limit(policy, per_second)
        return None

    def after_request(self, request, response):
        """Add the X-HubSpot-RateLimit-* headers to authenticated responses."""
        decision = request.environ.get("emulator.rate")
        if decision is None:
            return response
        headers = response.headers
        window_ms = int(decision.window_seconds * 1000)
        headers["X-HubSpot-RateLimit-Interval-Milliseconds"] = str(window_ms)
        headers["X-HubSpot-RateLimit-Max"] = str(decision.limit)
        headers["X-HubSpot-RateLimit-Remaining"] = str(decision.remaining)
        token = request.environ["emulator.token"]
        if token.static:
            # HubSpot sends the daily headers only to non-OAuth calls.
            used = self.daily_usage.get(self._day(), 0)
            limit = self.store.config.daily_limit
            headers["X-HubSpot-RateLimit-Daily"] = str(limit)
            headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(max(limit - used, 0))
        return response

    def _authenticate(self, request):
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise ApiError(
                401,
                "Authentication credentials not found. This API supports OAuth 2.0 "
                "authentication and private app access tokens.",
                "INVALID_AUTHENTICATION",
            )
        state, token = self.tokens.state(value.strip())
        if state == "expired":
            raise ApiError(
                401,
                "The OAuth token used to make this call expired. Refresh it and "
                "retry the call.",
                "EXPIRED_AUTHENTICATION",
            )
        if state == "unknown":
            raise ApiError(
                401,
                "Authentication credentials are invalid: unknown access token.",
                "INVALID_AUTHENTICATION",
            )
        return token

    def _over_limit(self, policy_name, decision):
        headers = {}
        if self.store.config.send_retry_after:
            headers["Retry-After"] = str(max(int(decision.retry_after + 0.999), 1))
        return self._rate_limited(policy_name, headers)

    def _count_daily(self, token):
        # Every app of the account shares the daily limit.
        with self.store.lock:
            day = self._day()
            used = self.daily_usage.get(day, 0)
            if used >= self.store.config.daily_limit:
                return False
            self.daily_usage[day] = used + 1
            return True

    def _day(self):
        # NOTE: HubSpot resets the daily limit at midnight in the account's
        # time zone; the emulator uses UTC.
        return self.clock.now().date()

    # Object endpoints.

    def list_objects(self, request, object_type):
        """GET /crm/v3/objects/{type}: records in id order, `after` cursor."""
        object_type = self._object_type(object_type)
        limit = self._limit(request, 10, self.store.config.list_max_limit)
        archived = request.args.get("archived", "false").lower() == "true"
        rows = self.store.live(object_type, archived)
        after = request.args.get("after")
        if after:
            rows = [row for row in rows if int(row.id) >= _cursor(after)]
        page, rest = rows[:limit], rows[limit:]
        body = {
            "results": [self._record(request, object_type, row) for row in page],
        }
        if rest:
            body["paging"] = self._paging(request, rest[0].id)
        total = len(self.store.live(object_type, archived))
        self.faults.page_served(request.path, (total - len(rows)) // limit + 1)
        return json_response(body)

    def create_object(self, request, object_type):
        """POST /crm/v3/objects/{type}: create with properties and associations."""
        object_type = self._object_type(object_type)
        payload = self._payload(request)
        with self.store.lock:
            links = self._inline_associations(object_type, payload)
            record = self._call(
                self.store.create, object_type, payload.get("properties") or {}
            )
            for to_type, to_id, type_id in links:
                self.store.associate(
                    object_type, record.id, to_type, to_id, type_id=type_id
                )
        names = self._names(request, object_type, payload.get("properties") or {})
        return json_response(self._record(request, object_type, record, names), 201)

    def get_object(self, request, object_type, object_id):
        """GET /crm/v3/objects/{type}/{id}: merged ids resolve to the survivor."""
        object_type = self._object_type(object_type)
        archived = request.args.get("archived", "false").lower() == "true"
        record = self._lookup(object_type, object_id, request.args.get("idProperty"))
        if record is not None and record.archived != archived:
            record = None
        if record is None:
            raise self._not_found(object_type, object_id)
        return json_response(self._record(request, object_type, record))

    def update_object(self, request, object_type, object_id):
        """PATCH /crm/v3/objects/{type}/{id}: change property values."""
        object_type = self._object_type(object_type)
        payload = self._payload(request)
        record = self._lookup(object_type, object_id, request.args.get("idProperty"))
        if record is None or record.archived:
            raise self._not_found(object_type, object_id)
        properties = payload.get("properties") or {}
        record = self._call(self.store.update, object_type, record.id, properties)
        names = self._names(request, object_type, properties)
        return json_response(self._record(request, object_type, record, names))

    def archive_object(self, request, object_type, object_id):
        """DELETE /crm/v3/objects/{type}/{id}: archive; unknown ids are a no-op."""
        object_type = self._object_type(object_type)
        record = self.store.get(object_type, object_id)
        if record is not None:
            self.store.archive(object_type, record.id)
        return json_response(None, 204)

    def search_objects(self, request, object_type):
        """POST /crm/v3/objects/{type}/search: filterGroups, sorts, `after`."""
        object_type = self._object_type(object_type)
        payload = self._payload(request)
        page = self._call(search, self.store, object_type, payload)
        names = self._search_names(object_type, payload.get("properties"))
        body = {
            "total": page.total,
            "results": [
                self._record(request, object_type, row, names) for row in page.records
            ],
        }
        if page.next_after is not None:
            body["paging"] = {"next": {"after": page.next_after}}
        self.faults.page_served(request.path, page.page_number)
        return json_response(body)

    def _search_names(self, object_type, requested):
        # Search always returns the id and the create and modify dates.
        if not requested:
            return None
        modified = self.store.modified_properties(object_type)
        always = ["hs_object_id", "createdate", *modified]
        return list(requested) + [name for name in always if name not in requested]

    def merge_objects(self, request, object_type):
        """POST /crm/v3/objects/{type}/merge: primaryObjectId, objectIdToMerge."""
        object_type = self._object_type(object_type)
        payload = self._payload(request)
        primary = payload.get("primaryObjectId")
        merged = payload.get("objectIdToMerge")
        if not primary or not merged:
            raise ApiError(
                400,
                "Both primaryObjectId and objectIdToMerge are required.",
                "VALIDATION_ERROR",
            )
        record = self._call(self.store.merge, object_type, str(primary), str(merged))
        return json_response(self._record(request, object_type, record))

    # Helpers shared with the other routes.

    def _object_type(self, name):
        object_type = OBJECT_TYPE_ALIASES.get(name)
        if object_type is None:
            raise ApiError(
                400,
                f"Unable to infer object type from: {name}",
                "VALIDATION_ERROR",
            )
        return object_type

    def _payload(self, request):
        payload = self.json_body(request)
        if payload is None:
            return {}
        if not isinstance(payload, dict):
            raise ApiError(400, "The request body must be a JSON object.")
        return payload

    def _limit(self, request, default, maximum):
        raw = request.args.get("limit", default)
        try:
            limit = int(raw)
        except ValueError as error:
            raise ApiError(400, f"limit must be an integer, got {raw!r}") from error
        if not 1 <= limit <= maximum:
            raise ApiError(400, f"limit must be between 1 and {maximum}, got {limit}")
        return limit

    def _paging(self, request, next_id):
        link = f"{request.base_url}?after={next_id}&limit={request.args.get('limit')}"
        return {"next": {"after": str(next_id), "link": link}}

    def _lookup(self, object_type, object_id, id_property=None):
        if id_property:
            return self.store.find_by(object_type, id_property, object_id)
        return self.store.resolve(object_type, object_id)

    def _not_found(self, object_type, object_id):
        return ApiError(
            404,
            f"Object not found. objectId are usually numeric. ({SINGULAR[object_type]}"
            f" {object_id})",
            "OBJECT_NOT_FOUND",
            context={"id": [str(object_id)]},
        )

    def _call(self, function, *args):
        try:
            return function(*args)
        except HubSpotError as error:
            raise ApiError(
                error.status,
                error.message,
                error.category,
                errors=error.errors,
                context=error.context,
            ) from error

    def _names(self, request, object_type, written=()):
        """Return the property names a response shows for this request."""
        requested = []
        for value in request.args.getlist("properties"):
            requested += [name.strip() for name in value.split(",") if name.strip()]
        if requested:
            return requested
        defined = self.store.definitions[object_type]
        defaults = [name for name in DEFAULT_RETURNED[object_type] if name in defined]
        return defaults + [name for name in written if name not in defaults]

    def _record(self, request, object_type, record, names=None):
        """Return a record as HubSpot shows it, with `names` or the default set."""
        names = names or self._names(request, object_type)
        data = {
            "id": record.id,
            "properties": {name: record.properties.get(name) for name in names},
            "createdAt": isoformat_ms(record.created_at),
            "updatedAt": isoformat_ms(record.updated_at),
            "archived": record.archived,
        }
        if record.archived:
            data["archivedAt"] = isoformat_ms(record.archived_at)
        requested_links = request.args.get("associations")
        if requested_links:
            data["associations"] = self._record_links(
                object_type, record, requested_links
            )
        return data

    def _record_links(self, object_type, record, requested):
        links = {}
        for name in requested.split(","):
            to_type = OBJECT_TYPE_ALIASES.get(name.strip())
            if to_type is None:
                continue
            type_label = f"{SINGULAR[object_type]}_to_{SINGULAR[to_type]}"
            results = [
                {"id": to_id, "type": type_label}
                for to_id in self.store.associated(object_type, record.id, to_type)
            ]
            if results:
                links[to_type] = {"results": results}
        return links

    def _inline_associations(self, object_type, payload):
        links = []
        for entry in payload.get("associations") or []:
            to_id = str((entry.get("to") or {}).get("id", ""))
            for spec in entry.get("types") or [{}]:
                type_id = spec.get("associationTypeId")
                to_type = self._association_target(object_type, type_id)
                if self.store.get(to_type, to_id) is None:
                    raise ApiError(
                        400,
                        f"Association target {to_type} {to_id} does not exist.",
                        "VALIDATION_ERROR",
                    )
                links.append((to_type, to_id, type_id))
        return links

    def _association_target(self, object_type, type_id):
        for (from_type, to_type), known in self.store.config.association_types.items():
            if from_type == object_type and known == type_id:
                return to_type
        raise ApiError(
            400,
            f"associationTypeId {type_id} is not valid from {object_type}; read the "
            "type ids from /crm/v4/associations/{from}/{to}/labels.",
            "VALIDATION_ERROR",
        )

    def timestamps(self):
        """Return requestedAt/startedAt/completedAt values of a batch response."""
        now = self.clock.now()
        return {
            "requestedAt": isoformat_ms(now - timedelta(milliseconds=3)),
            "startedAt": isoformat_ms(now - timedelta(milliseconds=2)),
            "completedAt": isoformat_ms(now),
        }


def _cursor(after):
    try:
        return int(after)
    except ValueError as error:
        raise ApiError(400, f"Invalid 'after' cursor: {after!r}") from error


def make_hubspot_server(store=None, faults=None):
    """Return an unstarted `EmulatorServer` around a `HubSpotApp`."""
    return EmulatorServer(HubSpotApp(store, faults), "hubspot")


__all__ = ["HubSpotApp", "load_firm", "make_hubspot_server"]
