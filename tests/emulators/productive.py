"""HTTP layer of the Productive.io API v2 emulator (JSON:API).

Serves `/api/v2/...` as Productive does: every request needs
`X-Auth-Token` and `X-Organization-Id`, and POST, PATCH and DELETE need
`Content-Type: application/vnd.api+json` (415 otherwise). Lists take
`filter[...]`, `sort`, `include` and `page[number]`/`page[size]` (default
30), and return `meta` totals and `links`. Time entries and expenses
have the `approve`, `unapprove`, `reject` and `unreject` actions. Errors
are JSON:API error objects. The data lives in a `ProductiveStore`;
`load_firm` fills one from the fake firm.
"""

import json
import math
from datetime import date
from urllib.parse import urlencode

from werkzeug.routing import Rule
from werkzeug.wrappers import Response

from .base import ApiError, EmulatorApp, EmulatorServer, RateLimiter
from .productive_load import load_firm
from .productive_query import (
    included_resources,
    parse_filters,
    resource_json,
    sort_resources,
)
from .productive_store import DEFAULT_ATTRIBUTES, RELATIONSHIPS, ProductiveStore

JSON_API = "application/vnd.api+json"
RESPONSE_TYPE = f"{JSON_API}; charset=utf-8"

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    415: "Unsupported Media Type",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
}

READ_ONLY_TYPES = ("people", "service_types")
DELETABLE_TYPES = ("time_entries", "expenses", "tasks", "services")
ACTIONS = ("approve", "unapprove", "reject", "unreject")

# Attributes and relationships a create must carry.
REQUIRED = {
    "companies": (("name",), ()),
    "projects": (("name",), ("company",)),
    "deals": (("name",), ("company",)),
    "services": (("name",), ("deal",)),
    "tasks": (("title",), ("project",)),
    "time_entries": (("date", "time"), ("person", "service")),
    "expenses": (("name", "date", "amount"), ("person", "deal")),
}

# Attributes only Productive sets. A client that sends one gets 400.
READ_ONLY_ATTRIBUTES = {
    "approved",
    "approved_at",
    "rejected",
    "rejected_reason",
    "rejected_at",
    "invoiced",
    "last_activity_at",
    "recognized_time",
    "archived_at",
}

_DATE_ATTRIBUTES = ("date", "end_date", "due_date", "joined_at")


def jsonapi_response(body, status=200, headers=None):
    """Return a response with a JSON:API body and content type."""
    return Response(
        json.dumps(body), status=status, headers=headers, content_type=RESPONSE_TYPE
    )


class ProductiveApp(EmulatorApp):
    """WSGI application emulating Productive's API v2 for one organization."""

    name = "productive"

    def __init__(self, store=None, faults=None):
        store = store or ProductiveStore()
        super().__init__(store, faults, store.clock)
        self.reset(store)

    def reset(self, store):
        """Serve `store` from now on, with fresh rate-limit counts.

        Lets one running server serve many tests, each with fresh data.
        """
        self.store = store
        self.clock = store.clock
        self.limiter = RateLimiter(
            self.faults,
            self.clock,
            store.config.rate_limit_requests,
            store.config.rate_limit_window_seconds,
        )

    def rules(self):
        """Return the routes: list, read and write per type, plus actions."""
        rules = []
        for kind in DEFAULT_ATTRIBUTES:
            path = f"/api/v2/{kind}"
            item = f"{path}/<int:resource_id>"
            defaults = {"kind": kind}
            rules += [
                Rule(
                    path, methods=["GET"], endpoint="list_resources", defaults=defaults
                ),
                Rule(item, methods=["GET"], endpoint="get_resource", defaults=defaults),
            ]
            if kind not in READ_ONLY_TYPES:
                rules += [
                    Rule(
                        path,
                        methods=["POST"],
                        endpoint="create_resource",
                        defaults=defaults,
                    ),
                    Rule(
                        item,
                        methods=["PATCH"],
                        endpoint="update_resource",
                        defaults=defaults,
                    ),
                ]
            if kind in DELETABLE_TYPES:
                rules.append(
                    Rule(
                        item,
                        methods=["DELETE"],
                        endpoint="delete_resource",
                        defaults=defaults,
                    )
                )
        action = f"<any({', '.join(ACTIONS)}):action>"
        for kind in ("time_entries", "expenses"):
            rules.append(
                Rule(
                    f"/api/v2/{kind}/<int:resource_id>/{action}",
                    methods=["PATCH"],
                    endpoint="run_action",
                    defaults={"kind": kind},
                )
            )
        return rules

    def error_response(self, status, message, code=None, headers=None, **extra):
        """Return a JSON:API error document."""
        error = {"status": status, "title": code or _TITLES.get(status, "Error")}
        error["detail"] = message
        error.update(extra)
        return jsonapi_response({"errors": [error]}, status, headers)

    # Headers, authentication and the rate limit.

    def before_request(self, request, endpoint):
        """Check the auth headers, the content type and the rate limit."""
        config = self.store.config
        token = request.headers.get("X-Auth-Token", "").strip()
        if token != config.api_token:
            raise ApiError(
                config.unauthenticated_status,
                "Missing or invalid X-Auth-Token header.",
            )
        organization = request.headers.get("X-Organization-Id", "").strip()
        if organization != config.organization_id:
            raise ApiError(
                403,
                f"X-Organization-Id {organization!r} is missing or not an "
                "organization this token can access.",
            )
        if request.method in ("POST", "PATCH", "DELETE"):
            self._check_content_type(request)
        decision = self.limiter.hit(token)
        if not decision.allowed:
            retry_after = max(math.ceil(decision.retry_after), 1)
            raise ApiError(
                429,
                f"Rate limit exceeded; retry after {retry_after} seconds.",
                headers={"Retry-After": str(retry_after)},
            )

    def _check_content_type(self, request):
        media_type = request.headers.get("Content-Type", "").split(";")[0].strip()
        if media_type != JSON_API:
            raise ApiError(
                415,
                f"Content-Type must be {JSON_API}, not {media_type or 'missing'}.",
            )

    # Reads.

    def list_resources(self, request, kind):
        """GET /api/v2/{kind}: filter, sort, page and include."""
        matches = parse_filters(kind, request.args)
        resources = [r for r in self.store.all(kind) if matches(self.store, r)]
        sort_resources(kind, resources, request.args.get("sort"))
        number, size = self._page_arguments(request)
        total = len(resources)
        total_pages = max(1, math.ceil(total / size))
        chunk = resources[(number - 1) * size : number * size]

        body = {
            "data": [resource_json(resource) for resource in chunk],
            "meta": {
                "current_page": number,
                "total_pages": total_pages,
                "total_count": total,
                "page_size": size,
                "max_page_size": self.store.config.page_size_max,
            },
            "links": self._links(request, number, size, total_pages),
        }
        self._add_included(request, kind, chunk, body)
        self.faults.page_served(request.path, number)
        return jsonapi_response(body)

    def get_resource(self, request, kind, resource_id):
        """GET /api/v2/{kind}/{id}."""
        return self._resource_response(request, self.store.get(kind, resource_id))

    def _resource_response(self, request, resource, status=200):
        body = {"data": resource_json(resource)}
        self._add_included(request, resource.type, [resource], body)
        return jsonapi_response(body, status)

    def _add_included(self, request, kind, resources, body):
        include = request.args.get("include")
        if include:
            strict = self.store.config.reject_unknown_includes
            related = included_resources(self.store, kind, resources, include, strict)
            body["included"] = [resource_json(resource) for resource in related]

    def _page_arguments(self, request):
        config = self.store.config
        try:
            number = int(request.args.get("page[number]", 1))
            size = int(request.args.get("page[size]", config.page_size_default))
        except ValueError as error:
            raise ApiError(
                400, "page[number] and page[size] must be integers"
            ) from error
        if number < 1 or size < 1:
            raise ApiError(400, "page[number] and page[size] must be 1 or more")
        if size > config.page_size_max:
            raise ApiError(
                400, f"page[size] {size} is over the maximum of {config.page_size_max}"
            )
        return number, size

    def _links(self, request, number, size, total_pages):
        def link(page):
            kept = [
                (name, value)
                for name, value in request.args.items(multi=True)
                if name not in ("page[number]", "page[size]")
            ]
            query = [*kept, ("page[number]", page), ("page[size]", size)]
            return f"{request.base_url}?{urlencode(query)}"

        return {
            "first": link(1),
            "last": link(total_pages),
            "prev": link(number - 1) if number > 1 else None,
            "next": link(number + 1) if number < total_pages else None,
        }

    # Writes.

    def create_resource(self, request, kind):
        """POST /api/v2/{kind}: create from a JSON:API document, 201."""
        attributes, relationships = self._document(request, kind)
        required_attributes, required_links = REQUIRED[kind]
        for name in required_attributes:
            if attributes.get(name) in (None, ""):
                raise _invalid(f"{name} can't be blank", f"/data/attributes/{name}")
        for name in required_links:
            if relationships.get(name) is None:
                raise _invalid(f"{name} must exist", f"/data/relationships/{name}")
        attributes, relationships = self._defaults(kind, attributes, relationships)
        resource = self.store.create(kind, attributes, relationships)
        return self._resource_response(request, resource, status=201)

    def update_resource(self, request, kind, resource_id):
        """PATCH /api/v2/{kind}/{id}: change the given attributes."""
        resource = self.store.get(kind, resource_id)
        attributes, relationships = self._document(request, kind, resource_id)
        if kind in ("time_entries", "expenses"):
            _check_changeable(resource)
        resource = self.store.update(kind, resource.id, attributes, relationships)
        return self._resource_response(request, resource)

    def delete_resource(self, request, kind, resource_id):
        """DELETE /api/v2/{kind}/{id}: 204 with no body."""
        resource = self.store.get(kind, resource_id)
        if kind in ("time_entries", "expenses"):
            _check_changeable(resource)
        self.store.delete(kind, resource.id)
        return Response(status=204)

    def run_action(self, request, kind, resource_id, action):
        """PATCH /api/v2/{kind}/{id}/{approve|unapprove|reject|unreject}."""
        store = self.store
        resource = store.get(kind, resource_id)
        if action == "approve":
            resource = store.approve(resource.id, kind=kind)
        elif action == "unapprove":
            resource = store.unapprove(resource.id, kind=kind)
        elif action == "reject":
            reason = self._reject_reason(request)
            resource = store.reject(resource.id, reason, kind=kind)
        else:
            resource = store.unreject(resource.id, kind=kind)
        return self._resource_response(request, resource)

    def _reject_reason(self, request):
        if not request.get_data():
            return ""
        body = self.json_body(request) or {}
        attributes = (body.get("data") or {}).get("attributes") or {}
        return attributes.get("rejected_reason") or ""

    def _document(self, request, kind, resource_id=None):
        """Return (attributes, relationship ids) of a JSON:API request body."""
        body = self.json_body(request)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise ApiError(400, "The body must be a JSON:API document with 'data'.")
        if data.get("type") != kind:
            raise ApiError(409, f"data.type must be {kind!r}, not {data.get('type')!r}")
        if resource_id is not None and str(data.get("id", resource_id)) != str(
            resource_id
        ):
            raise ApiError(409, f"data.id must be {resource_id}")
        attributes = self._attributes(kind, data.get("attributes") or {})
        relationships = _relationship_ids(kind, data.get("relationships") or {})
        return attributes, relationships

    def _attributes(self, kind, raw):
        allowed = set(DEFAULT_ATTRIBUTES[kind]) - READ_ONLY_ATTRIBUTES
        unknown = set(raw) - allowed
        if unknown:
            raise ApiError(
                400, f"Param not allowed on {kind}: {', '.join(sorted(unknown))}"
            )
        values = dict(raw)
        for name in _DATE_ATTRIBUTES:
            if values.get(name):
                try:
                    values[name] = date.fromisoformat(values[name])
                except (TypeError, ValueError) as error:
                    raise _invalid(
                        f"{name} is not a date", f"/data/attributes/{name}"
                    ) from error
        return values

    def _defaults(self, kind, attributes, relationships):
        """Fill what Productive sets itself on a new resource."""
        person = self.store.current_person()
        if kind == "projects":
            relationships.setdefault("project_manager", person.id)
        if kind == "time_entries":
            relationships["creator"] = person.id
            service = self.store.find("services", relationships["service"])
            if service is None:
                pointer = "/data/relationships/service"
                raise _invalid(
                    f"service {relationships['service']} does not exist", pointer
                )
            deal = self.store.find("deals", service.related_id("deal"))
            billable = service.attributes["billing_type_id"] != 3
            attributes.setdefault(
                "billable_time", attributes["time"] if billable else 0
            )
            attributes.setdefault(
                "currency", deal.attributes["currency"] if deal else "EUR"
            )
        return attributes, relationships


def _relationship_ids(kind, raw):
    links = {}
    for name, value in raw.items():
        if name not in RELATIONSHIPS[kind]:
            raise ApiError(400, f"Relationship {name!r} is not allowed on {kind}")
        data = (value or {}).get("data")
        links[name] = int(data["id"]) if data else None
    return links


def _check_changeable(resource):
    attributes = resource.attributes
    if attributes["invoiced"]:
        raise _invalid(
            f"{resource.type} {resource.id} is invoiced and can't be changed"
        )
    if attributes["approved"]:
        raise _invalid(f"{resource.type} {resource.id} is approved, unapprove it first")


def _invalid(detail, pointer=None):
    extra = {"source": {"pointer": pointer}} if pointer else {}
    return ApiError(422, detail, "Validation failed", **extra)


def make_productive_server(store=None, faults=None):
    """Return an unstarted `EmulatorServer` around a `ProductiveApp`."""
    return EmulatorServer(ProductiveApp(store, faults), "productive")


__all__ = [
    "ProductiveApp",
    "ProductiveStore",
    "load_firm",
    "make_productive_server",
]
