"""JSON:API reading for the Productive emulator: filters, sort, include, output.

Filters take Productive's form: `filter[person_id]=24`, an operator as in
`filter[updated_at][gt_eq]=...` (eq, not_eq, contains, not_contain, gt,
gt_eq, lt, lt_eq), and logical groups `filter[$op]=or` with
`filter[0][...]`, `filter[1][...]`. A filter a type does not support gets
400 "Unsupported Filter". `include` takes dotted relationship paths such
as `service.deal.project` and adds the related resources under `included`.
"""

import re
from datetime import date, datetime

from .base import ApiError, isoformat_ms, parse_iso
from .productive_store import RELATIONSHIPS

OPERATORS = ("eq", "not_eq", "contains", "not_contain", "gt", "gt_eq", "lt", "lt_eq")

# Time entry states of filter[status]: 1 approved, 2 unapproved, 3 rejected,
# 5 submitted, 6 draft. An unapproved entry is any entry neither approved nor
# rejected, so it is also submitted or draft.
STATUS_APPROVED, STATUS_UNAPPROVED, STATUS_REJECTED = 1, 2, 3
STATUS_SUBMITTED, STATUS_DRAFT = 5, 6

SORTABLE = {
    "time_entries": ("id", "date", "updated_at", "created_at"),
    "expenses": ("id", "date", "updated_at", "created_at"),
}
DEFAULT_SORTABLE = ("id", "name", "updated_at", "created_at")

_FILTER_KEY = re.compile(r"filter((?:\[[^\[\]]*\])+)")
_FILTER_PART = re.compile(r"\[([^\[\]]*)\]")


def entry_statuses(resource):
    """Return the filter[status] values that match a time entry or expense."""
    attributes = resource.attributes
    if attributes["approved"]:
        return {STATUS_APPROVED}
    if attributes["rejected"]:
        return {STATUS_REJECTED}
    if attributes.get("submitted"):
        return {STATUS_UNAPPROVED, STATUS_SUBMITTED}
    return {STATUS_UNAPPROVED, STATUS_DRAFT}


def _attribute(name):
    return lambda store, resource: resource.attributes.get(name)


def _relation(name):
    return lambda store, resource: resource.related_id(name)


def _timestamp(name):
    return lambda store, resource: getattr(resource, name)


def _project(store, resource):
    return store.project_of(resource)


def _deal(store, resource):
    if resource.related_id("deal") is not None:
        return resource.related_id("deal")
    service = store.find("services", resource.related_id("service"))
    return service and service.related_id("deal")


def _company(store, resource):
    project = store.find("projects", store.project_of(resource))
    return project and project.related_id("company")


def _billing_type(store, resource):
    service = store.find("services", resource.related_id("service"))
    return service and service.attributes["billing_type_id"]


# Supported filters per type: name -> (how to read the value, value kind).
# NOTE: whether `after` and `before` include the given day is not
# verified. The emulator includes it.
_ENTRY_FILTERS = {
    "person_id": (_relation("person"), "id"),
    "service_id": (_relation("service"), "id"),
    "project_id": (_project, "id"),
    "deal_id": (_deal, "id"),
    "company_id": (_company, "id"),
    "approver_id": (_relation("approver"), "id"),
    "after": (_attribute("date"), "date"),
    "before": (_attribute("date"), "date"),
    "date": (_attribute("date"), "date"),
    "status": (lambda store, resource: entry_statuses(resource), "int"),
    "invoiced": (_attribute("invoiced"), "bool"),
    "approved_at": (_attribute("approved_at"), "datetime"),
    "updated_at": (_timestamp("updated_at"), "datetime"),
    "created_at": (_timestamp("created_at"), "datetime"),
}

FILTERS = {
    "time_entries": {
        **_ENTRY_FILTERS,
        "task_id": (_relation("task"), "id"),
        "billing_type_id": (_billing_type, "int"),
    },
    "expenses": {**_ENTRY_FILTERS, "approved": (_attribute("approved"), "bool")},
    "people": {
        "email": (_attribute("email"), "str"),
        "updated_at": (_timestamp("updated_at"), "datetime"),
    },
    "companies": {
        "name": (_attribute("name"), "str"),
        "company_code": (_attribute("company_code"), "str"),
    },
    "projects": {
        "name": (_attribute("name"), "str"),
        "project_number": (_attribute("project_number"), "str"),
        "company_id": (_relation("company"), "id"),
    },
    "deals": {
        "project_id": (_relation("project"), "id"),
        "company_id": (_relation("company"), "id"),
    },
    "services": {
        "deal_id": (_relation("deal"), "id"),
        "project_id": (_project, "id"),
        "name": (_attribute("name"), "str"),
    },
    "service_types": {"name": (_attribute("name"), "str")},
    "tasks": {
        "project_id": (_relation("project"), "id"),
        "title": (_attribute("title"), "str"),
    },
}

# The operator a filter uses when the query names none.
_DEFAULT_OPERATORS = {"after": "gt_eq", "before": "lt_eq"}


def parse_filters(kind, args):
    """Return a predicate(store, resource) for every filter[...] parameter."""
    combine = all
    plain, groups = [], {}
    for key, value in args.items(multi=True):
        match = _FILTER_KEY.fullmatch(key)
        if match is None:
            continue
        parts = _FILTER_PART.findall(match.group(1))
        if parts == ["$op"]:
            combine = _logical(value)
        elif parts[0].isdigit():
            groups.setdefault(parts[0], []).append(_condition(kind, parts[1:], value))
        else:
            plain.append(_condition(kind, parts, value))
    terms = plain + [_all_of(conditions) for conditions in groups.values()]
    return lambda store, resource: combine(term(store, resource) for term in terms)


def _logical(value):
    if value not in ("and", "or"):
        raise ApiError(400, f"filter[$op] must be 'and' or 'or', not {value!r}")
    return all if value == "and" else any


def _all_of(conditions):
    return lambda store, resource: all(c(store, resource) for c in conditions)


def _condition(kind, parts, raw):
    supported = FILTERS.get(kind, {})
    if not parts or len(parts) > 2 or parts[0] not in supported:
        raise ApiError(
            400,
            f"Filter '{'.'.join(parts)}' is not supported on {kind}",
            "Unsupported Filter",
        )
    name = parts[0]
    operator = parts[1] if len(parts) == 2 else _DEFAULT_OPERATORS.get(name, "eq")
    if operator not in OPERATORS:
        raise ApiError(
            400, f"Unknown filter operator {operator!r}", "Unsupported Filter"
        )
    read, value_kind = supported[name]
    wanted = [_parse(value_kind, item, name) for item in raw.split(",")]
    return lambda store, resource: _compare(read(store, resource), operator, wanted)


def _parse(value_kind, raw, name):
    try:
        if value_kind in ("id", "int"):
            return int(raw)
        if value_kind == "date":
            return date.fromisoformat(raw)
        if value_kind == "datetime":
            return parse_iso(raw)
    except ValueError as error:
        raise ApiError(400, f"Invalid value {raw!r} for filter {name}") from error
    if value_kind == "bool":
        return raw.strip().lower() in ("true", "1")
    return raw


def _compare(actual, operator, wanted):
    """Apply a filter operator. A set of values matches when one of them does."""
    values = actual if isinstance(actual, set) else {actual}
    if operator == "eq":
        return any(value in wanted for value in values)
    if operator == "not_eq":
        return not any(value in wanted for value in values)
    if operator in ("contains", "not_contain"):
        found = any(str(w).lower() in str(v).lower() for v in values for w in wanted)
        return found if operator == "contains" else not found
    return _ordered(values, operator, wanted[0])


def _ordered(values, operator, bound):
    checks = {
        "gt": lambda value: value > bound,
        "gt_eq": lambda value: value >= bound,
        "lt": lambda value: value < bound,
        "lt_eq": lambda value: value <= bound,
    }
    return any(value is not None and checks[operator](value) for value in values)


def sort_resources(kind, resources, sort):
    """Sort by a `sort` parameter such as `-updated_at,id` (id order if None)."""
    resources.sort(key=lambda resource: resource.id)
    if not sort:
        return resources
    allowed = SORTABLE.get(kind, DEFAULT_SORTABLE)
    for field_name in reversed(sort.split(",")):
        name = field_name.lstrip("-")
        if name not in allowed:
            raise ApiError(400, f"Sort by {name!r} is not supported on {kind}")
        resources.sort(key=_sort_value(name), reverse=field_name.startswith("-"))
    return resources


def _sort_value(name):
    def value(resource):
        if name == "id":
            return resource.id
        if name in ("updated_at", "created_at"):
            return getattr(resource, name)
        return resource.attributes.get(name) or ""

    return value


def included_resources(store, kind, resources, include, strict):
    """Return the resources reached through the `include` paths, each once."""
    found = {}
    for path in filter(None, (include or "").split(",")):
        current = [(kind, resource) for resource in resources]
        for name in path.strip().split("."):
            current = _follow(store, current, name, path, strict)
            for related_kind, related in current:
                found[(related_kind, related.id)] = related
    return list(found.values())


def _follow(store, pairs, name, path, strict):
    reached = []
    for kind, resource in pairs:
        related_kind = RELATIONSHIPS[kind].get(name)
        if related_kind is None:
            if strict:
                raise ApiError(400, f"Invalid include path {path!r} for {kind}")
            continue
        related = store.find(related_kind, resource.related_id(name))
        if related is not None:
            reached.append((related_kind, related))
    return reached


def resource_json(resource):
    """Return the JSON:API object of a resource."""
    attributes = {
        name: _json_value(value) for name, value in resource.attributes.items()
    }
    attributes["created_at"] = isoformat_ms(resource.created_at)
    attributes["updated_at"] = isoformat_ms(resource.updated_at)
    relationships = {}
    for name, related_id in resource.relationships.items():
        related_kind = RELATIONSHIPS[resource.type][name]
        data = None
        if related_id is not None:
            data = {"type": related_kind, "id": str(related_id)}
        relationships[name] = {"data": data}
    return {
        "id": str(resource.id),
        "type": resource.type,
        "attributes": attributes,
        "relationships": relationships,
    }


def _json_value(value):
    if isinstance(value, datetime):
        return isoformat_ms(value)
    if isinstance(value, date):
        return value.isoformat()
    return value
