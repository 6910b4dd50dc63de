"""The CRM search of the HubSpot emulator: filter groups, sorts and paging.

Filter groups are ORed and the filters inside a group ANDed. `after` is an
offset into the sorted result, as in HubSpot, so a record that changes
between two pages can move across the page boundary. Results past the
10,000th are never returned and asking for them is a 400.
"""

import fnmatch
import re
from dataclasses import dataclass

from .hubspot_schema import QUERY_PROPERTIES, PropertyDefinition
from .hubspot_store import HubSpotError

COMPARISONS = {
    "EQ": lambda left, right: left == right,
    "NEQ": lambda left, right: left != right,
    "LT": lambda left, right: left < right,
    "LTE": lambda left, right: left <= right,
    "GT": lambda left, right: left > right,
    "GTE": lambda left, right: left >= right,
}
OTHER_OPERATORS = (
    "BETWEEN",
    "IN",
    "NOT_IN",
    "HAS_PROPERTY",
    "NOT_HAS_PROPERTY",
    "CONTAINS_TOKEN",
    "NOT_CONTAINS_TOKEN",
)
DEFAULT_LIMIT = 10


@dataclass
class SearchPage:
    """One page of search results."""

    total: int
    records: list
    next_after: str | None
    page_number: int


def search(store, object_type, body):
    """Run a search request body against the store and return one page."""
    body = body or {}
    config = store.config
    groups = _checked_groups(store, object_type, body.get("filterGroups") or [])
    limit = _checked_int(body.get("limit", DEFAULT_LIMIT), "limit", 1)
    if limit > config.search_max_limit:
        raise _invalid(
            f"limit must be at most {config.search_max_limit}, got {limit}",
            "limit",
        )
    offset = _checked_int(body.get("after") or 0, "after", 0)
    if offset >= config.search_result_cap:
        raise _invalid(
            f"Search results are limited to {config.search_result_cap}; "
            f"'after' {offset} is past that cap",
            "after",
        )

    rows = [
        record
        for record in store.live(object_type)
        if _matches_groups(store, object_type, record, groups)
        and _matches_query(object_type, record, body.get("query"))
    ]
    rows = _sorted(store, object_type, rows, body.get("sorts") or [])
    end = min(offset + limit, len(rows), config.search_result_cap)
    more = end < min(len(rows), config.search_result_cap)
    return SearchPage(
        total=len(rows),
        records=rows[offset:end],
        next_after=str(end) if more else None,
        page_number=offset // limit + 1,
    )


def _invalid(message, field=None):
    errors = [{"message": message, "in": field}] if field else []
    return HubSpotError(400, message, "VALIDATION_ERROR", errors=errors)


def _checked_int(value, name, minimum):
    try:
        number = int(value)
    except (TypeError, ValueError) as error:
        raise _invalid(f"{name} must be an integer, got {value!r}", name) from error
    if number < minimum:
        raise _invalid(f"{name} must be at least {minimum}, got {number}", name)
    return number


def _checked_groups(store, object_type, groups):
    config = store.config
    if not isinstance(groups, list):
        raise _invalid("filterGroups must be a list", "filterGroups")
    if len(groups) > config.max_filter_groups:
        raise _invalid(
            f"Too many filterGroups: {len(groups)} (at most "
            f"{config.max_filter_groups})",
            "filterGroups",
        )
    total = 0
    for group in groups:
        filters = group.get("filters") or []
        total += len(filters)
        if len(filters) > config.max_filters_per_group:
            raise _invalid(
                f"Too many filters in one group: {len(filters)} (at most "
                f"{config.max_filters_per_group})",
                "filterGroups",
            )
        for entry in filters:
            _check_filter(store, object_type, entry)
    if total > config.max_filters_total:
        raise _invalid(
            f"Too many filters: {total} (at most {config.max_filters_total})",
            "filterGroups",
        )
    return groups


def _check_filter(store, object_type, entry):
    operator = entry.get("operator")
    name = entry.get("propertyName")
    if operator not in COMPARISONS and operator not in OTHER_OPERATORS:
        raise _invalid(f"Unknown filter operator {operator!r}", "operator")
    if not name or _definition(store, object_type, name) is None:
        raise _invalid(f"Unknown property {name!r} in a filter", "propertyName")
    if operator in ("IN", "NOT_IN") and not isinstance(entry.get("values"), list):
        raise _invalid(f"Operator {operator} needs a list in 'values'", "values")
    if operator == "BETWEEN" and "highValue" not in entry:
        raise _invalid("Operator BETWEEN needs 'value' and 'highValue'", "highValue")
    needs_value = operator in COMPARISONS or operator.endswith("CONTAINS_TOKEN")
    if needs_value and entry.get("value") in (None, ""):
        raise _invalid(f"Operator {operator} needs a 'value'", "value")


def _definition(store, object_type, name):
    if name == "hs_object_id":
        return PropertyDefinition("hs_object_id", type="number")
    return store.definition(object_type, name)


def _matches_groups(store, object_type, record, groups):
    if not groups:
        return True
    return any(
        all(
            _matches(store, object_type, record, entry)
            for entry in group.get("filters") or []
        )
        for group in groups
    )


def _matches(store, object_type, record, entry):
    operator = entry["operator"]
    definition = _definition(store, object_type, entry["propertyName"])
    current = record.properties.get(entry["propertyName"])
    if current in (None, ""):
        # A record without a value matches only the negative operators.
        return operator in ("NEQ", "NOT_IN", "NOT_HAS_PROPERTY", "NOT_CONTAINS_TOKEN")
    if operator in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
        return operator == "HAS_PROPERTY"
    if operator in ("IN", "NOT_IN"):
        return _is_in(definition, current, entry["values"]) == (operator == "IN")
    if operator.endswith("CONTAINS_TOKEN"):
        found = _contains_token(current, entry["value"])
        return found == (operator == "CONTAINS_TOKEN")
    return _compare(definition, current, operator, entry)


def _compare(definition, current, operator, entry):
    try:
        left = definition.filter_key(current)
        if operator == "BETWEEN":
            low = definition.filter_key(entry["value"])
            return low <= left <= definition.filter_key(entry["highValue"])
        return COMPARISONS[operator](left, definition.filter_key(entry["value"]))
    except (TypeError, ValueError) as error:
        raise _invalid(
            f"Invalid value {entry.get('value')!r} for property "
            f"{definition.name}: {error}",
            "value",
        ) from error


def _is_in(definition, current, values):
    key = definition.filter_key(current)
    return any(key == definition.filter_key(value) for value in values)


def _contains_token(current, pattern):
    # NOTE: HubSpot's tokenizer is not documented; words split on spaces
    # and punctuation, and `*` wildcards match against the words and the
    # whole value.
    text = current.casefold()
    pattern = str(pattern).casefold()
    tokens = set(re.split(r"[\s@.,;:_\-/]+", text)) | set(text.split()) | {text}
    if "*" in pattern:
        return any(fnmatch.fnmatchcase(token, pattern) for token in tokens)
    return pattern in tokens


def _matches_query(object_type, record, query):
    if not query:
        return True
    needle = str(query).casefold()
    return any(
        needle in (record.properties.get(name) or "").casefold()
        for name in QUERY_PROPERTIES[object_type]
    )


def _sorted(store, object_type, rows, sorts):
    rows = sorted(rows, key=lambda record: int(record.id))
    for sort in reversed(_normalized_sorts(sorts)):
        name, descending = sort
        definition = _definition(store, object_type, name)
        if definition is None:
            raise _invalid(f"Unknown property {name!r} in sorts", "sorts")
        present = [row for row in rows if row.properties.get(name) not in (None, "")]
        missing = [row for row in rows if row.properties.get(name) in (None, "")]
        present.sort(
            key=lambda record, definition=definition, name=name: definition.filter_key(
                record.properties[name]
            ),
            reverse=descending,
        )
        rows = present + missing
    return rows


def _normalized_sorts(sorts):
    normalized = []
    for sort in sorts:
        if isinstance(sort, str):
            normalized.append((sort.lstrip("-"), sort.startswith("-")))
        else:
            direction = str(sort.get("direction", "ASCENDING")).upper()
            normalized.append((sort.get("propertyName"), direction == "DESCENDING"))
    return normalized
