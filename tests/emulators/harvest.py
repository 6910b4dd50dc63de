"""HTTP layer of the Harvest API v2 emulator.

Serves `/v2/...` in Harvest's wire format. Every request needs the three
headers Harvest requires: `Authorization: Bearer <token>` (a personal
access token, or an OAuth token from `/api/v2/oauth2/token`),
`Harvest-Account-Id` and `User-Agent` (400 without it). Lists are paged
with `page` or `cursor` and `per_page` (default and maximum 2000), carry
Harvest's paging metadata, and `links.next` uses a keyset cursor, so a
record changed between two pages is neither skipped nor repeated. Each
token may make 100 requests per 15 seconds, then gets 429 with
`Retry-After`. The data lives in a `HarvestStore`; `load_firm` fills one
from the fake firm, and `make_harvest_server` wraps the app in a server.
"""

import json
import math
from base64 import urlsafe_b64decode, urlsafe_b64encode
from urllib.parse import urlencode

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
from .harvest_json import SERIALIZERS, expense_json, time_entry_json, timestamp
from .harvest_load import load_firm
from .harvest_store import HarvestError, HarvestStore
from .harvest_writes import HarvestWrites, as_bool, as_date, as_int

_PUBLIC_ENDPOINTS = ("oauth_token", "get_receipt")

_ERROR_CODES = {
    400: "bad_request",
    401: "invalid_token",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    500: "internal_server_error",
}

# Filters each list endpoint accepts. Harvest ignores other parameters.
# NOTE: Harvest's reference does not confirm the approval_status filter;
# the emulator accepts it so clients can narrow a pull when it exists.
LIST_FILTERS = {
    "users": ("is_active", "updated_since"),
    "clients": ("is_active", "updated_since"),
    "projects": ("is_active", "client_id", "updated_since"),
    "tasks": ("is_active", "updated_since"),
    "task_assignments": ("is_active", "updated_since"),
    "user_assignments": ("user_id", "is_active", "updated_since"),
    "expense_categories": ("is_active", "updated_since"),
    "time_entries": (
        "user_id",
        "client_id",
        "project_id",
        "task_id",
        "external_reference_id",
        "is_billed",
        "is_running",
        "approval_status",
        "updated_since",
        "from",
        "to",
    ),
    "expenses": (
        "user_id",
        "client_id",
        "project_id",
        "is_billed",
        "approval_status",
        "updated_since",
        "from",
        "to",
    ),
}

_INT_FILTERS = ("user_id", "client_id", "project_id", "task_id")
_BOOL_FILTERS = ("is_active", "is_billed", "is_running")

# Lists sorted by spent date, newest first. The others list newest-created first.
_BY_SPENT_DATE = ("time_entries", "expenses")


class HarvestApp(HarvestWrites, EmulatorApp):
    """WSGI application emulating Harvest API v2 for one account."""

    name = "harvest"

    def __init__(self, store=None, faults=None):
        store = store or HarvestStore()
        super().__init__(store, faults, store.clock)
        self.reset(store)

    def reset(self, store):
        """Serve `store` from now on, with new tokens and rate-limit counts.

        Lets one running server serve many tests, each with fresh data.
        """
        self.store = store
        self.clock = store.clock
        config = store.config
        self.tokens = TokenIssuer(
            self.faults, self.clock, config.access_token_ttl, prefix="harvest-oauth"
        )
        self.tokens.add_static(config.personal_access_token, "personal")
        self.refresh_tokens = {config.refresh_token}
        self.limiter = RateLimiter(
            self.faults,
            self.clock,
            config.rate_limit_requests,
            config.rate_limit_window_seconds,
        )

    def rules(self):
        """Return the routes: records by kind, nested assignments, OAuth."""
        rules = [
            Rule("/api/v2/oauth2/token", methods=["POST"], endpoint="oauth_token"),
            Rule("/receipts/<int:expense_id>/<file_name>", endpoint="get_receipt"),
            Rule("/v2/company", methods=["GET"], endpoint="get_company"),
            Rule("/v2/users/me", methods=["GET"], endpoint="get_me"),
        ]
        for kind in LIST_FILTERS:
            rules += _record_rules(kind)
        for kind in ("task_assignments", "user_assignments"):
            path = f"/v2/projects/<int:project_id>/{kind}"
            defaults = {"kind": kind}
            rules += [
                Rule(path, methods=["GET"], endpoint="list_nested", defaults=defaults),
                Rule(
                    path, methods=["POST"], endpoint="create_record", defaults=defaults
                ),
                Rule(
                    f"{path}/<int:record_id>",
                    methods=["PATCH"],
                    endpoint="update_record",
                    defaults=defaults,
                ),
            ]
        return rules

    def error_response(self, status, message, code=None, headers=None, **extra):
        """Return Harvest's error body, `message` only for 422 and 429."""
        if status in (422, 429):
            body = {"message": message}
        elif status == 404:
            body = {"status": 404, "error": "Not Found", "error_description": message}
        else:
            error = code or _ERROR_CODES.get(status, "error")
            body = {"error": error, "error_description": message}
        return json_response({**body, **extra}, status, headers)

    # Required headers, authentication and the rate limit.

    def before_request(self, request, endpoint):
        """Check the three required headers, then count against the rate limit."""
        if endpoint in _PUBLIC_ENDPOINTS:
            return None
        if not request.headers.get("User-Agent", "").strip():
            raise ApiError(
                400,
                "Missing User-Agent header: send your application's name and a "
                "contact e-mail or URL, such as 'MyApp (you@example.com)'.",
            )
        token = self._authenticate(request)
        self._check_account(request)
        request.environ["emulator.token"] = token
        decision = self.limiter.hit(token.value)
        if not decision.allowed:
            retry_after = max(math.ceil(decision.retry_after), 1)
            raise ApiError(
                429,
                f"Rate limit of {decision.limit} requests per "
                f"{decision.window_seconds:g} seconds exceeded; retry after "
                f"{retry_after} seconds.",
                headers={"Retry-After": str(retry_after)},
            )
        return None

    def _authenticate(self, request):
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise ApiError(401, "Missing bearer token in the Authorization header.")
        token = self.tokens.lookup(value.strip())
        if token is None:
            raise ApiError(
                401,
                "The access token provided is expired, revoked, malformed or "
                "invalid for other reasons.",
            )
        return token

    def _check_account(self, request):
        # NOTE: Harvest's status for a missing or foreign account id is not
        # verified. The emulator sends 403 because the token itself is valid.
        account = request.headers.get("Harvest-Account-Id", "").strip()
        if account != str(self.store.config.account_id):
            raise ApiError(
                403,
                f"Harvest-Account-Id {account!r} is missing or not an account "
                "this token can access.",
            )

    def oauth_token(self, request):
        """POST /api/v2/oauth2/token: a new access token for a refresh token."""
        values = request.form or self.json_body(request) or {}
        config = self.store.config
        if values.get("grant_type") != "refresh_token":
            raise ApiError(
                400,
                "Only grant_type=refresh_token is supported.",
                "unsupported_grant_type",
            )
        if (values.get("client_id"), values.get("client_secret")) != (
            config.client_id,
            config.client_secret,
        ):
            raise ApiError(401, "Client authentication failed.", "invalid_client")
        if values.get("refresh_token") not in self.refresh_tokens:
            raise ApiError(400, "The refresh token is invalid.", "invalid_grant")
        token = self.tokens.issue("oauth")
        return json_response(
            {
                "access_token": token.value,
                "refresh_token": values["refresh_token"],
                "token_type": "bearer",
                "expires_in": int(token.expires_at - token.issued_at),
            }
        )

    # Reads.

    def get_company(self, request):
        """GET /v2/company: the account's settings."""
        config = self.store.config
        return json_response(
            {
                "base_uri": request.host_url.rstrip("/"),
                "full_domain": request.host,
                "name": config.company_name,
                "is_active": True,
                "week_start_day": config.week_start_day,
                "wants_timestamp_timers": False,
                "time_format": config.time_format,
                "date_format": "%Y-%m-%d",
                "plan_type": "sponsored",
                "clock": "24h",
                "currency_code_display": "iso_code_before_amount",
                "currency_symbol_display": "symbol_before_amount",
                "decimal_symbol": ".",
                "thousands_separator": ",",
                "color_scheme": "orange",
                "weekly_capacity": 144_000,
                "expense_feature": True,
                "invoice_feature": True,
                "estimate_feature": True,
                "approval_feature": True,
                "team_feature": True,
            }
        )

    def get_me(self, request):
        """GET /v2/users/me: the user the token belongs to."""
        return self._record_response("users", self.store.current_user().id, request)

    def get_record(self, request, kind, record_id):
        """GET /v2/{kind}/{id}."""
        return self._record_response(kind, record_id, request)

    def list_records(self, request, kind):
        """GET /v2/{kind}: filtered, sorted and paged."""
        records = self._filtered(kind, request.args, self.store.all(kind))
        return self._page(request, kind, records)

    def list_nested(self, request, kind, project_id):
        """GET /v2/projects/{id}/{kind}: the project's task or user assignments."""
        self.store.get("projects", project_id)
        in_project = [r for r in self.store.all(kind) if r.project_id == project_id]
        records = self._filtered(kind, request.args, in_project)
        return self._page(request, kind, records)

    def get_receipt(self, request, expense_id, file_name):
        """GET /receipts/{expense id}/{file name}: the receipt file itself."""
        expense = self.store.get("expenses", expense_id)
        receipt = expense.receipt
        if receipt is None or receipt.file_name != file_name:
            raise ApiError(404, f"Expense {expense_id} has no receipt {file_name!r}.")
        return Response(receipt.data, content_type=receipt.content_type)

    def serialize(self, kind, record, request, single=False):
        """Return the Harvest JSON of a record."""
        if kind == "time_entries":
            return time_entry_json(self.store, record, single=single)
        if kind == "expenses":
            return expense_json(self.store, record, request.host_url.rstrip("/"))
        return SERIALIZERS[kind](self.store, record)

    def _record_response(self, kind, record_id, request, status=200):
        record = self.store.get(kind, record_id)
        body = self.serialize(kind, record, request, single=True)
        return json_response(body, status)

    # Filtering.

    def _filtered(self, kind, args, records):
        """Return the records that pass every filter given in the query."""
        predicates = [
            self._predicate(name, args[name])
            for name in LIST_FILTERS[kind]
            if args.get(name) is not None
        ]
        return [record for record in records if all(p(record) for p in predicates)]

    def _predicate(self, name, raw):
        if name in _INT_FILTERS:
            wanted = as_int(raw, name)
            return lambda record: self._id_field(record, name) == wanted
        if name in _BOOL_FILTERS:
            wanted = as_bool(raw, name)
            return lambda record: getattr(record, name) == wanted
        if name == "updated_since":
            return self._since_predicate(raw)
        return _value_predicate(name, raw)

    def _since_predicate(self, raw):
        try:
            since = parse_iso(raw)
        except ValueError as error:
            raise ApiError(
                422, f"updated_since is not an ISO 8601 time: {raw!r}"
            ) from error
        if self.store.config.updated_since_inclusive:
            return lambda record: record.updated_at >= since
        return lambda record: record.updated_at > since

    def _id_field(self, record, name):
        """Return the id a filter compares, reading client_id through the project."""
        if name == "client_id" and not hasattr(record, "client_id"):
            try:
                return self.store.get("projects", record.project_id).client_id
            except HarvestError:
                return None
        return getattr(record, name)

    # Paging.

    def _page(self, request, kind, records):
        per_page = self._per_page(request)
        sort_key = _sort_key(kind)
        records.sort(key=sort_key, reverse=True)
        start, by_page = self._start(request, records, sort_key, per_page)

        chunk = records[start : start + per_page]
        number = start // per_page + 1
        has_next = start + per_page < len(records)
        total_pages = max(1, math.ceil(len(records) / per_page))
        next_position = None
        if has_next and by_page:
            next_position = {"page": number + 1, "ref": "next"}
        elif has_next:
            cursor = _encode_cursor(sort_key(chunk[-1]))
            next_position = {"cursor": cursor, "ref": "next_cursor"}

        body = {
            kind: [self.serialize(kind, record, request) for record in chunk],
            "per_page": per_page,
            "total_pages": total_pages,
            "total_entries": len(records),
            **_page_numbers(number, has_next, by_page),
            "links": {
                "first": self._link(request, per_page, page=1, ref="first"),
                "next": next_position
                and self._link(request, per_page, **next_position),
                "previous": None,
                "last": self._link(request, per_page, page=total_pages, ref="last"),
            },
        }
        if by_page and number > 1:
            previous = {"page": number - 1, "ref": "previous"}
            body["links"]["previous"] = self._link(request, per_page, **previous)
        self.faults.page_served(request.path, number)
        return json_response(body)

    def _start(self, request, records, sort_key, per_page):
        """Return (index of the page's first record, whether paged by number)."""
        cursor = request.args.get("cursor")
        if cursor is not None:
            return _position_after(records, sort_key, _decode_cursor(cursor)), False
        if "page" not in request.args:
            return 0, False
        page = as_int(request.args["page"], "page")
        if page < 1:
            raise ApiError(422, f"page must be 1 or more, not {page}")
        return (page - 1) * per_page, True

    def _per_page(self, request):
        config = self.store.config
        raw = request.args.get("per_page")
        per_page = config.per_page_default if raw is None else as_int(raw, "per_page")
        if not 1 <= per_page <= config.per_page_max:
            raise ApiError(
                422,
                f"per_page must be between 1 and {config.per_page_max}, not {per_page}",
            )
        return per_page

    def _link(self, request, per_page, **position):
        """Return the list URL with the request's filters and a new position."""
        kept = [
            (name, value)
            for name, value in request.args.items(multi=True)
            if name not in ("page", "cursor", "per_page", "ref")
        ]
        query = [*kept, *position.items(), ("per_page", per_page)]
        return f"{request.base_url}?{urlencode(query)}"


def _record_rules(kind):
    path = f"/v2/{kind}"
    defaults = {"kind": kind}
    rules = [
        Rule(path, methods=["GET"], endpoint="list_records", defaults=defaults),
        Rule(
            f"{path}/<int:record_id>",
            methods=["GET"],
            endpoint="get_record",
            defaults=defaults,
        ),
    ]
    if kind in ("users", "expense_categories", "task_assignments", "user_assignments"):
        return rules
    return [
        *rules,
        Rule(path, methods=["POST"], endpoint="create_record", defaults=defaults),
        Rule(
            f"{path}/<int:record_id>",
            methods=["PATCH"],
            endpoint="update_record",
            defaults=defaults,
        ),
        Rule(
            f"{path}/<int:record_id>",
            methods=["DELETE"],
            endpoint="delete_record",
            defaults=defaults,
        ),
    ]


def _value_predicate(name, raw):
    if name == "from":
        since = as_date(raw, name)
        return lambda record: record.spent_date >= since
    if name == "to":
        until = as_date(raw, name)
        return lambda record: record.spent_date <= until
    if name == "external_reference_id":
        return lambda record: str((record.external_reference or {}).get("id")) == raw
    return lambda record: getattr(record, name) == raw


def _sort_key(kind):
    if kind in _BY_SPENT_DATE:
        return lambda record: (record.spent_date.isoformat(), record.id)
    return lambda record: ("", record.id)


def _position_after(records, sort_key, after):
    """Return the index of the first record sorted after the cursor's key."""
    for index, record in enumerate(records):
        if sort_key(record) < after:
            return index
    return len(records)


def _encode_cursor(key):
    spent_date, record_id = key
    after = {"id": record_id}
    if spent_date:
        after["spent_date"] = spent_date
    raw = json.dumps({"after": after}, separators=(",", ":")).encode()
    return urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor):
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        after = json.loads(urlsafe_b64decode(padded))["after"]
        return (after.get("spent_date", ""), int(after["id"]))
    except (ValueError, KeyError, TypeError) as error:
        raise ApiError(422, f"Invalid cursor {cursor!r}; follow links.next") from error


def _page_numbers(number, has_next, by_page):
    """Return page, next_page and previous_page as Harvest fills them.

    With cursor paging Harvest sets them on the first and last pages only.
    """
    first, last = number == 1, not has_next
    if not (by_page or first or last):
        return {"page": None, "next_page": None, "previous_page": None}
    return {
        "page": number,
        "next_page": number + 1 if has_next else None,
        "previous_page": number - 1 if number > 1 else None,
    }


def make_harvest_server(store=None, faults=None):
    """Return an unstarted `EmulatorServer` around a `HarvestApp`."""
    return EmulatorServer(HarvestApp(store, faults), "harvest")


__all__ = [
    "HarvestApp",
    "HarvestStore",
    "load_firm",
    "make_harvest_server",
    "timestamp",
]
