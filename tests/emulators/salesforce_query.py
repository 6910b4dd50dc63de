"""Running parsed SOQL against the Salesforce emulator's store.

Field names are resolved against the object's fields, case-insensitively
and through at most one parent relationship such as `Account.Name`. Each
condition's literal is checked against the field type the way Salesforce
checks it. The matching rows are then sorted, cut by OFFSET and LIMIT and
rendered as REST query records with an `attributes` entry.
"""

import re
from dataclasses import dataclass

from .salesforce_schema import FieldDefinition
from .salesforce_store import SalesforceError
from .soql import BoolOp, parse

_LITERAL_KINDS = {
    "datetime": ("datetime", "dateTime"),
    "date": ("date", "date"),
    "boolean": ("boolean", "boolean"),
    "double": ("number", "double"),
    "currency": ("number", "double"),
    "percent": ("number", "double"),
    "int": ("number", "int"),
}
_ID_TYPES = ("id", "reference")


@dataclass
class FieldPath:
    """A selected or filtered field, possibly through a parent relationship."""

    name: str
    definition: FieldDefinition
    relationship: str | None = None
    reference: FieldDefinition | None = None


def run_query(store, text, include_deleted, version):
    """Run a SOQL statement and return (rendered records, total count)."""
    query = parse(text)
    object_type = _object_type(store, query.object_name)
    selected = [_resolve(store, object_type, name) for name in query.fields]
    if query.where is not None:
        _check(store, object_type, query.where)
    order = [
        (_resolve(store, object_type, item.field), item) for item in query.order_by
    ]

    rows = [
        row
        for row in store.rows(object_type, include_deleted)
        if query.where is None or _evaluate(store, row, object_type, query.where)
    ]
    rows = _sorted(store, rows, order)
    rows = rows[query.offset :]
    if query.limit is not None:
        rows = rows[: query.limit]
    if query.count_only:
        return [], len(rows)
    records = [_render(store, object_type, row, selected, version) for row in rows]
    return records, len(records)


def record_url(version, object_type, record_id):
    """Return the REST path of one record."""
    return f"/services/data/v{version}/sobjects/{object_type}/{record_id}"


def _object_type(store, name):
    try:
        return store.type_name(name)
    except SalesforceError as error:
        raise SalesforceError(
            400, "INVALID_TYPE", f"sObject type '{name}' is not supported."
        ) from error


def _invalid_field(name, object_type):
    return SalesforceError(
        400,
        "INVALID_FIELD",
        f"No such column '{name}' on entity '{object_type}'. If you are attempting "
        "to use a custom field, be sure to append the '__c' after the custom field "
        "name.",
    )


def _resolve(store, object_type, name):
    parts = name.split(".")
    if len(parts) > 1 and parts[0].lower() == object_type.lower():
        parts = parts[1:]
    if len(parts) == 1:
        definition = store.field(object_type, parts[0], define_custom=False)
        if definition is None:
            raise _invalid_field(parts[0], object_type)
        return FieldPath(definition.name, definition)
    if len(parts) > 2:
        raise _invalid_field(name, object_type)
    relationship, field_name = parts
    reference = next(
        (
            definition
            for definition in store.fields[object_type].values()
            if (definition.relationship_name or "").lower() == relationship.lower()
        ),
        None,
    )
    if reference is None:
        raise _invalid_field(relationship, object_type)
    definition = store.field(reference.reference_to, field_name, define_custom=False)
    if definition is None:
        raise _invalid_field(field_name, reference.reference_to)
    return FieldPath(
        definition.name, definition, reference.relationship_name, reference
    )


def _value(store, row, path):
    if path.relationship is None:
        return row.get(path.name)
    parent_id = row.get(path.reference.name)
    parent = store.get(path.reference.reference_to, parent_id) if parent_id else None
    return parent.get(path.name) if parent else None


def _check(store, object_type, node):
    if isinstance(node, BoolOp):
        for operand in node.operands:
            _check(store, object_type, operand)
        return
    path = _resolve(store, object_type, node.field)
    node.path = path
    literals = node.value if isinstance(node.value, list) else [node.value]
    for literal in literals:
        _check_literal(path.definition, node.operator, literal)


def _check_literal(definition, operator, literal):
    if literal.kind == "null":
        if operator not in ("=", "!=", "IN", "NOT IN"):
            raise SalesforceError(
                400, "INVALID_QUERY_FILTER_OPERATOR", f"null used with {operator}"
            )
        return
    expected, type_label = _LITERAL_KINDS.get(definition.type, ("string", "string"))
    if literal.kind != expected:
        quoted = "should not" if expected != "string" else "should"
        raise SalesforceError(
            400,
            "INVALID_FIELD",
            f"value of filter criterion for field '{definition.name}' must be of type "
            f"{type_label} and {quoted} be enclosed in quotes",
        )
    if definition.type in _ID_TYPES and not _looks_like_id(literal.value):
        raise SalesforceError(
            400, "INVALID_QUERY_FILTER_OPERATOR", f"invalid ID field: {literal.value}"
        )
    if operator == "LIKE" and expected != "string":
        raise SalesforceError(
            400,
            "INVALID_QUERY_FILTER_OPERATOR",
            f"invalid operator on field {definition.name}: LIKE",
        )


def _looks_like_id(value):
    return len(value) in (15, 18) and value.isalnum()


_ORDERING = {
    "<": lambda left, right: left < right,
    "<=": lambda left, right: left <= right,
    ">": lambda left, right: left > right,
    ">=": lambda left, right: left >= right,
}


def _evaluate(store, row, object_type, node):
    if not isinstance(node, BoolOp):
        return _evaluate_condition(store, row, node)
    results = (_evaluate(store, row, object_type, item) for item in node.operands)
    if node.operator == "NOT":
        return not next(results)
    return all(results) if node.operator == "AND" else any(results)


def _evaluate_condition(store, row, node):
    current = _value(store, row, node.path)
    definition = node.path.definition
    if node.operator in ("IN", "NOT IN"):
        found = any(_equal(definition, current, item.value) for item in node.value)
        return found == (node.operator == "IN")
    literal = node.value.value
    if node.operator in ("=", "!="):
        # As in SOQL, a null field is "not equal" to any non-null value.
        return _equal(definition, current, literal) == (node.operator == "=")
    if current is None or literal is None:
        return False
    if node.operator == "LIKE":
        return _like(current, literal)
    left, right = _key(definition, current), _key(definition, literal)
    return _ORDERING[node.operator](left, right)


def _equal(definition, current, literal):
    if current is None or literal is None:
        return current is None and literal is None
    return _key(definition, current) == _key(definition, literal)


def _key(definition, value):
    if definition.type in _ID_TYPES:
        return str(value)[:15]
    if isinstance(value, str):
        return value.casefold()
    return value


def _like(current, pattern):
    wildcards = {"%": ".*", "_": "."}
    regex = "".join(wildcards.get(char) or re.escape(char) for char in pattern)
    return re.fullmatch(regex, str(current), re.IGNORECASE | re.DOTALL) is not None


def _sorted(store, rows, order):
    for path, item in reversed(order):
        present = [row for row in rows if _value(store, row, path) is not None]
        missing = [row for row in rows if _value(store, row, path) is None]
        present.sort(
            key=lambda row, path=path: _key(path.definition, _value(store, row, path)),
            reverse=item.descending,
        )
        rows = missing + present if item.nulls_first else present + missing
    return rows


def _render(store, object_type, row, selected, version):
    record = {
        "attributes": {
            "type": object_type,
            "url": record_url(version, object_type, row["Id"]),
        }
    }
    for path in selected:
        if path.relationship is None:
            record[path.name] = path.definition.to_json_value(row.get(path.name))
            continue
        parent_type = path.reference.reference_to
        parent_id = row.get(path.reference.name)
        parent = store.get(parent_type, parent_id) if parent_id else None
        if parent is None:
            record[path.relationship] = None
            continue
        nested = record.get(path.relationship) or {
            "attributes": {
                "type": parent_type,
                "url": record_url(version, parent_type, parent["Id"]),
            }
        }
        nested[path.name] = path.definition.to_json_value(parent.get(path.name))
        record[path.relationship] = nested
    return record
