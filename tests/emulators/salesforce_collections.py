"""sObject collection endpoints of the Salesforce emulator.

`/composite/sobjects` creates, updates and deletes up to 200 records of any
types in one request and returns one `{id, success, errors}` result per
record, in order. With `allOrNone` a single failure rolls every change of
the request back and the other records report
ALL_OR_NONE_OPERATION_ROLLED_BACK. `SalesforceCollections` is mixed into
`SalesforceApp`, which provides authentication and the store.
"""

from werkzeug.routing import Rule

from .base import ApiError, json_response
from .salesforce_store import SalesforceError

_COLLECTION = "/services/data/v<version>/composite/sobjects"
_ROLLED_BACK = {
    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "message": "Record rolled back because not all records were valid and the "
    "request was using AllOrNone header",
    "fields": [],
}


class SalesforceCollections:
    """Create, update, upsert, delete and retrieve sObject collections."""

    def collection_rules(self):
        """Return the routing rules of the collection endpoints."""
        return [
            Rule(_COLLECTION, endpoint="collection_create", methods=["POST"]),
            Rule(_COLLECTION, endpoint="collection_update", methods=["PATCH"]),
            Rule(_COLLECTION, endpoint="collection_delete", methods=["DELETE"]),
            Rule(
                f"{_COLLECTION}/<object_type>",
                endpoint="collection_retrieve",
                methods=["GET"],
            ),
            Rule(
                f"{_COLLECTION}/<object_type>/<field>",
                endpoint="collection_upsert",
                methods=["PATCH"],
            ),
        ]

    def collection_create(self, request, version):
        """POST /composite/sobjects: create each record; Id must be absent."""
        records, all_or_none = self._collection_records(request)
        user_id = self._user_id(request)

        def create(record):
            object_type, values = _typed(record)
            if any(name.lower() == "id" for name in values):
                raise SalesforceError(
                    400, "INVALID_FIELD", "cannot specify Id in an insert call", ["Id"]
                )
            created = self.store.create(object_type, values, user_id=user_id)
            return {"id": created["Id"], "success": True, "errors": []}

        return self._run_collection(records, all_or_none, create)

    def collection_update(self, request, version):
        """PATCH /composite/sobjects: update each record by its Id."""
        records, all_or_none = self._collection_records(request)
        user_id = self._user_id(request)

        def update(record):
            object_type, values = _typed(record)
            record_id = next(
                (value for name, value in values.items() if name.lower() == "id"), None
            )
            if not record_id:
                raise SalesforceError(
                    400, "MISSING_ARGUMENT", "Id not specified in an update call"
                )
            changes = {
                name: value for name, value in values.items() if name.lower() != "id"
            }
            self.store.update(object_type, record_id, changes, user_id=user_id)
            return {
                "id": self.store.get(object_type, record_id)["Id"],
                "success": True,
                "errors": [],
            }

        return self._run_collection(records, all_or_none, update)

    def collection_upsert(self, request, version, object_type, field):
        """PATCH /composite/sobjects/{type}/{externalIdField}: upsert each record."""
        object_type = self._call(self.store.type_name, object_type)
        definition = self._external_id_field(object_type, field)
        records, all_or_none = self._collection_records(request)
        user_id = self._user_id(request)

        def upsert(record):
            _, values = _typed(record, object_type)
            key = next(
                (name for name in values if name.lower() == definition.name.lower()),
                None,
            )
            if key is None or values[key] in (None, ""):
                raise SalesforceError(
                    400,
                    "MISSING_ARGUMENT",
                    f"{definition.name} not specified for an upsert",
                    [definition.name],
                )
            matches = self.store.find_by(object_type, definition.name, values[key])
            if len(matches) > 1:
                raise SalesforceError(
                    300,
                    "DUPLICATE_EXTERNAL_ID",
                    f"{definition.name} {values[key]} matches several records",
                    [definition.name],
                )
            if matches:
                changes = {name: value for name, value in values.items() if name != key}
                self.store.update(
                    object_type, matches[0]["Id"], changes, user_id=user_id
                )
                return {
                    "id": matches[0]["Id"],
                    "success": True,
                    "errors": [],
                    "created": False,
                }
            created = self.store.create(object_type, values, user_id=user_id)
            return {"id": created["Id"], "success": True, "errors": [], "created": True}

        return self._run_collection(records, all_or_none, upsert)

    def collection_delete(self, request, version):
        """DELETE /composite/sobjects?ids=...: delete each record by id."""
        ids = [item for item in request.args.get("ids", "").split(",") if item]
        self._check_collection_size(ids)
        all_or_none = request.args.get("allOrNone", "false").lower() == "true"

        def delete(record_id):
            object_type, record = self.store.find_any(record_id)
            if record is None:
                raise SalesforceError(404, "ENTITY_IS_DELETED", "entity is deleted")
            self.store.delete(object_type, record_id)
            return {"id": record["Id"], "success": True, "errors": []}

        return self._run_collection(ids, all_or_none, delete)

    def collection_retrieve(self, request, version, object_type):
        """GET /composite/sobjects/{type}?ids=&fields=: records or null per id."""
        object_type = self._call(self.store.type_name, object_type)
        ids = [item for item in request.args.get("ids", "").split(",") if item]
        if not request.args.get("fields"):
            raise ApiError(400, "fields is required", "MISSING_ARGUMENT")
        self._check_collection_size(ids)
        rows = []
        for record_id in ids:
            record = self.store.get(object_type, record_id)
            rows.append(
                self.render(request, version, object_type, record) if record else None
            )
        return json_response(rows)

    def _collection_records(self, request):
        body = self.json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("records"), list):
            raise ApiError(
                400,
                "The body must be an object with a 'records' list",
                "JSON_PARSER_ERROR",
            )
        self._check_collection_size(body["records"])
        return body["records"], bool(body.get("allOrNone", False))

    def _check_collection_size(self, items):
        maximum = self.store.config.collection_max_records
        if len(items) > maximum:
            # NOTE: the exact error code of an oversized collection is not
            # verified; the message follows the one Salesforce is known to send.
            raise ApiError(
                400,
                f"record limit reached. cannot submit more than {maximum} records "
                "into this call",
                "EXCEEDED_ID_LIMIT",
            )

    def _run_collection(self, items, all_or_none, operation):
        with self.store.lock:
            saved = _snapshot(self.store) if all_or_none else None
            results = []
            for item in items:
                try:
                    results.append(operation(item))
                except SalesforceError as error:
                    results.append(_failure(error))
            failed = any(not result["success"] for result in results)
            if all_or_none and failed:
                _restore(self.store, saved)
                results = [
                    result if not result["success"] else _rolled_back()
                    for result in results
                ]
        return json_response(results)


def _typed(record, object_type=None):
    if not isinstance(record, dict):
        raise SalesforceError(400, "JSON_PARSER_ERROR", "Each record must be an object")
    declared = (record.get("attributes") or {}).get("type") or object_type
    if not declared:
        raise SalesforceError(
            400, "INVALID_TYPE", "Each record needs attributes.type in a collection"
        )
    values = {name: value for name, value in record.items() if name != "attributes"}
    return declared, values


def _failure(error):
    return {
        "success": False,
        "errors": [
            {
                "statusCode": error.error_code,
                "message": error.message,
                "fields": error.fields,
            }
        ],
    }


def _rolled_back():
    return {"success": False, "errors": [dict(_ROLLED_BACK)]}


def _snapshot(store):
    # Field values are immutable (str, float, bool, date, datetime), so a
    # shallow copy of each record is enough to roll it back.
    records = {
        object_type: {key: dict(record) for key, record in rows.items()}
        for object_type, rows in store.records.items()
    }
    return records, dict(store.deleted_log)


def _restore(store, saved):
    # Records are restored in place, so references held elsewhere stay valid.
    records, deleted_log = saved
    for object_type, rows in store.records.items():
        before = records[object_type]
        for key in set(rows) - set(before):
            del rows[key]
        for key, values in before.items():
            rows.setdefault(key, {}).clear()
            rows[key].update(values)
    store.deleted_log.clear()
    store.deleted_log.update(deleted_log)
