"""HubSpot emulator endpoints beyond single objects.

Batch read/create/update/upsert/archive with 207 partial failures, the
OAuth token endpoint, account usage, deal pipelines, property definitions,
owners and v4 associations. `HubSpotRoutes` is mixed into `HubSpotApp`,
which provides authentication, the error format and record rendering.
"""

import uuid
from datetime import timedelta

from werkzeug.routing import Rule

from .base import ApiError, isoformat_ms, json_response
from .hubspot_schema import OBJECT_TYPE_ALIASES, SINGULAR
from .hubspot_store import HubSpotError

_V4 = "/crm/v4/objects/<from_type>/<from_id>/associations"
_V4_BATCH = "/crm/v4/associations/<from_type>/<to_type>"


class HubSpotRoutes:
    """Batch, OAuth, pipeline, property, owner and association endpoints."""

    def extra_rules(self):
        """Return the routing rules of these endpoints."""
        return [
            Rule("/oauth/v1/token", endpoint="oauth_token", methods=["POST"]),
            Rule(
                "/oauth/v1/access-tokens/<token>",
                endpoint="oauth_token_info",
                methods=["GET"],
            ),
            Rule(
                "/account-info/v3/api-usage/daily/private-apps",
                endpoint="api_usage",
                methods=["GET"],
            ),
            Rule(
                "/crm/v3/pipelines/<object_type>",
                endpoint="list_pipelines",
                methods=["GET"],
            ),
            Rule(
                "/crm/v3/pipelines/<object_type>",
                endpoint="create_pipeline",
                methods=["POST"],
            ),
            Rule(
                "/crm/v3/pipelines/<object_type>/<pipeline_id>",
                endpoint="pipeline",
                methods=["GET"],
            ),
            Rule(
                "/crm/v3/pipelines/<object_type>/<pipeline_id>/stages",
                endpoint="pipeline_stages",
                methods=["GET"],
            ),
            Rule(
                "/crm/v3/properties/<object_type>",
                endpoint="list_properties",
                methods=["GET"],
            ),
            Rule(
                "/crm/v3/properties/<object_type>",
                endpoint="create_property",
                methods=["POST"],
            ),
            Rule(
                "/crm/v3/properties/<object_type>/<name>",
                endpoint="get_property",
                methods=["GET"],
            ),
            Rule("/crm/v3/owners", endpoint="list_owners", methods=["GET"]),
            Rule("/crm/v3/owners/<owner_id>", endpoint="get_owner", methods=["GET"]),
            Rule(
                f"{_V4}/default/<to_type>/<to_id>",
                endpoint="associate_default",
                methods=["PUT"],
            ),
            Rule(f"{_V4}/<to_type>", endpoint="list_associations", methods=["GET"]),
            Rule(
                f"{_V4}/<to_type>/<to_id>",
                endpoint="remove_association",
                methods=["DELETE"],
            ),
            Rule(
                f"{_V4_BATCH}/batch/associate/default",
                endpoint="batch_associate_default",
                methods=["POST"],
            ),
            Rule(
                f"{_V4_BATCH}/batch/read",
                endpoint="batch_read_associations",
                methods=["POST"],
            ),
            Rule(f"{_V4_BATCH}/labels", endpoint="association_labels", methods=["GET"]),
        ]

    # Batch endpoints.

    def batch_objects(self, request, object_type, action):
        """POST /crm/v3/objects/{type}/batch/{read|create|update|upsert|archive}."""
        object_type = self._object_type(object_type)
        handler = getattr(self, f"_batch_{action}", None)
        if handler is None:
            raise ApiError(404, f"Unknown batch action: {action}", "OBJECT_NOT_FOUND")
        payload = self._payload(request)
        inputs = payload.get("inputs")
        if not isinstance(inputs, list):
            raise ApiError(400, "The body must contain a list in 'inputs'.")
        maximum = self.store.config.batch_max_inputs
        if len(inputs) > maximum:
            raise ApiError(
                400,
                f"Batch input is limited to {maximum} inputs, got {len(inputs)}.",
                "VALIDATION_ERROR",
            )
        return handler(request, object_type, payload, inputs)

    def _batch_read(self, request, object_type, payload, inputs):
        id_property = payload.get("idProperty")
        archived = bool(payload.get("archived"))
        names = payload.get("properties") or self._names(request, object_type)
        results, missing = [], []
        for entry in inputs:
            object_id = str(entry.get("id", ""))
            record = self._lookup(object_type, object_id, id_property)
            if record is None or record.archived != archived:
                missing.append(object_id)
                continue
            results.append(self._record(request, object_type, record, names))
        errors = []
        if missing:
            errors.append(
                _batch_error(
                    "OBJECT_NOT_FOUND",
                    f"Could not get some {SINGULAR[object_type].upper()} objects, "
                    "they may be deleted or not exist. Check that ids are valid.",
                    {"ids": missing},
                )
            )
        return self._batch_response(results, errors)

    def _batch_create(self, request, object_type, payload, inputs):
        results, errors = [], []
        for entry in inputs:
            properties = entry.get("properties") or {}
            try:
                record = self.store.create(object_type, properties)
            except HubSpotError as error:
                errors.append(_from_store_error(error, entry))
                continue
            names = self._names(request, object_type, properties)
            results.append(self._traced(request, object_type, record, names, entry))
        return self._batch_response(results, errors, success_status=201)

    def _batch_update(self, request, object_type, payload, inputs):
        results, errors = [], []
        for entry in inputs:
            object_id = str(entry.get("id", ""))
            id_property = entry.get("idProperty") or payload.get("idProperty")
            record = self._lookup(object_type, object_id, id_property)
            if record is None or record.archived:
                errors.append(_missing_error(object_type, object_id, entry))
                continue
            properties = entry.get("properties") or {}
            try:
                record = self.store.update(object_type, record.id, properties)
            except HubSpotError as error:
                errors.append(_from_store_error(error, entry))
                continue
            names = self._names(request, object_type, properties)
            results.append(self._traced(request, object_type, record, names, entry))
        return self._batch_response(results, errors)

    def _batch_upsert(self, request, object_type, payload, inputs):
        results, errors = [], []
        for entry in inputs:
            try:
                record, created = self._upsert_one(object_type, payload, entry)
            except HubSpotError as error:
                errors.append(_from_store_error(error, entry))
                continue
            properties = entry.get("properties") or {}
            names = self._names(request, object_type, properties)
            row = self._traced(request, object_type, record, names, entry)
            row["new"] = created
            results.append(row)
        return self._batch_response(results, errors)

    def _upsert_one(self, object_type, payload, entry):
        id_property = entry.get("idProperty") or payload.get("idProperty")
        value = str(entry.get("id", ""))
        definition = self.store.definition(object_type, id_property or "")
        if definition is None or not definition.unique:
            raise HubSpotError(
                400,
                f"idProperty {id_property!r} must name a property with unique values.",
                "VALIDATION_ERROR",
            )
        properties = dict(entry.get("properties") or {})
        with self.store.lock:
            record = self.store.find_by(object_type, id_property, value)
            if record is not None:
                return self.store.update(object_type, record.id, properties), False
            properties[id_property] = value
            return self.store.create(object_type, properties), True

    def _batch_archive(self, request, object_type, payload, inputs):
        for entry in inputs:
            record = self.store.get(object_type, str(entry.get("id", "")))
            if record is not None:
                self.store.archive(object_type, record.id)
        return json_response(None, 204)

    def _traced(self, request, object_type, record, names, entry):
        row = self._record(request, object_type, record, names)
        if entry.get("objectWriteTraceId"):
            row["objectWriteTraceId"] = entry["objectWriteTraceId"]
        return row

    def _batch_response(self, results, errors, success_status=200):
        body = {"status": "COMPLETE", "results": results, **self.timestamps()}
        if errors:
            body["numErrors"] = len(errors)
            body["errors"] = errors
        body["links"] = {}
        return json_response(body, 207 if errors else success_status)

    # OAuth and account.

    def oauth_token(self, request):
        """POST /oauth/v1/token: refresh_token and authorization_code grants."""
        form = request.form
        config = self.store.config
        if form.get("client_id") != config.client_id:
            return _oauth_error("BAD_CLIENT_ID", "missing or unknown client id")
        if form.get("client_secret") != config.client_secret:
            return _oauth_error("BAD_CLIENT_SECRET", "missing or invalid client secret")
        grant_type = form.get("grant_type")
        if grant_type == "refresh_token":
            if form.get("refresh_token") not in self.refresh_tokens:
                return _oauth_error(
                    "BAD_REFRESH_TOKEN", "missing or unknown refresh token"
                )
            refresh_token = form["refresh_token"]
        elif grant_type == "authorization_code":
            if form.get("code") not in self.authorization_codes:
                return _oauth_error("BAD_AUTH_CODE", "missing or unknown auth code")
            self.authorization_codes.discard(form["code"])
            refresh_token = config.refresh_token
        else:
            return _oauth_error(
                "BAD_GRANT_TYPE", f"unsupported grant_type {grant_type!r}"
            )
        token = self.tokens.issue(f"app:{config.app_id}")
        body = {
            "token_type": "bearer",
            "refresh_token": refresh_token,
            "access_token": token.value,
            "expires_in": self.tokens.ttl_seconds,
        }
        return json_response(body)

    def oauth_token_info(self, request, token):
        """GET /oauth/v1/access-tokens/{token}: metadata of a valid OAuth token."""
        found = self.tokens.lookup(token)
        if found is None or found.static:
            return _oauth_error("NOT_FOUND", "access token not found or expired", 404)
        config = self.store.config
        body = {
            "token": found.value,
            "hub_id": config.portal_id,
            "app_id": config.app_id,
            "scopes": list(found.scopes),
            "expires_in": int(found.expires_at - self.clock.time()),
            "token_type": "access",
        }
        return json_response(body)

    def api_usage(self, request):
        """GET /account-info/v3/api-usage/daily/private-apps."""
        now = self.clock.now()
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        row = {
            "name": "private-apps-api-calls-daily",
            "usageLimit": self.store.config.daily_limit,
            "currentUsage": self.daily_usage.get(self._day(), 0),
            "collectedAt": isoformat_ms(now),
            "fetchStatus": "SUCCESS",
            "resetsAt": isoformat_ms(midnight + timedelta(days=1)),
        }
        return json_response({"results": [row]})

    # Pipelines and properties.

    def list_pipelines(self, request, object_type):
        """GET /crm/v3/pipelines/deals: every pipeline with its stages."""
        self._deals_only(object_type)
        return json_response({"results": list(self.store.pipelines.values())})

    def pipeline(self, request, object_type, pipeline_id):
        """GET /crm/v3/pipelines/deals/{pipelineId}."""
        self._deals_only(object_type)
        pipeline = self.store.pipelines.get(pipeline_id)
        if pipeline is None:
            raise ApiError(
                404, f"Pipeline {pipeline_id} not found.", "OBJECT_NOT_FOUND"
            )
        return json_response(pipeline)

    def pipeline_stages(self, request, object_type, pipeline_id):
        """GET /crm/v3/pipelines/deals/{pipelineId}/stages."""
        pipeline = self.pipeline(request, object_type, pipeline_id).get_json()
        return json_response({"results": pipeline["stages"]})

    def create_pipeline(self, request, object_type):
        """POST /crm/v3/pipelines/deals: label, displayOrder and stages."""
        self._deals_only(object_type)
        payload = self._payload(request)
        missing = [
            key for key in ("label", "displayOrder", "stages") if key not in payload
        ]
        if missing:
            raise ApiError(400, f"Missing required fields: {', '.join(missing)}")
        stages = []
        for offset, stage in enumerate(payload["stages"]):
            metadata = stage.get("metadata") or {}
            if "probability" not in metadata:
                raise ApiError(400, "Every deal stage needs metadata.probability.")
            stage_id = str(
                stage.get("id") or 1_000_000 + len(self.store.pipelines) * 100 + offset
            )
            is_closed = str(metadata.get("isClosed", "false")).lower() == "true"
            stages.append(
                (
                    stage_id,
                    stage.get("label", stage_id),
                    is_closed,
                    metadata["probability"],
                )
            )
        pipeline_id = str(payload.get("id") or 700_000 + len(self.store.pipelines))
        pipeline = self.store.add_pipeline(
            pipeline_id, payload["label"], stages, payload["displayOrder"]
        )
        return json_response(pipeline, 201)

    def list_properties(self, request, object_type):
        """GET /crm/v3/properties/{type}: the property definitions."""
        object_type = self._object_type(object_type)
        rows = [item.to_json() for item in self.store.definitions[object_type].values()]
        return json_response({"results": rows})

    def get_property(self, request, object_type, name):
        """GET /crm/v3/properties/{type}/{name}."""
        object_type = self._object_type(object_type)
        definition = self.store.definitions[object_type].get(name)
        if definition is None:
            raise ApiError(404, f"Property {name} does not exist.", "OBJECT_NOT_FOUND")
        return json_response(definition.to_json())

    def create_property(self, request, object_type):
        """POST /crm/v3/properties/{type}: define a custom property."""
        object_type = self._object_type(object_type)
        payload = self._payload(request)
        required = ("name", "label", "type", "fieldType", "groupName")
        missing = [key for key in required if not payload.get(key)]
        if missing:
            raise ApiError(400, f"Missing required fields: {', '.join(missing)}")
        options = tuple(option.get("value") for option in payload.get("options") or [])
        definition = self._call(
            self.store.add_property,
            object_type,
            payload["name"],
            payload["type"],
        )
        definition.label = payload["label"]
        definition.field_type = payload["fieldType"]
        definition.group_name = payload["groupName"]
        definition.unique = bool(payload.get("hasUniqueValue"))
        definition.options = options
        return json_response(definition.to_json(), 201)

    def _deals_only(self, object_type):
        if OBJECT_TYPE_ALIASES.get(object_type) != "deals":
            raise ApiError(
                400,
                f"The emulator serves deal pipelines only, not {object_type}.",
                "VALIDATION_ERROR",
            )

    # Owners.

    def list_owners(self, request):
        """GET /crm/v3/owners, optionally filtered by `email`."""
        email = (request.args.get("email") or "").casefold()
        rows = [
            owner
            for owner in self.store.owners.values()
            if not email or owner["email"].casefold() == email
        ]
        return json_response({"results": rows})

    def get_owner(self, request, owner_id):
        """GET /crm/v3/owners/{ownerId}."""
        owner = self.store.owners.get(owner_id)
        if owner is None:
            raise ApiError(404, f"Owner {owner_id} not found.", "OBJECT_NOT_FOUND")
        return json_response(owner)

    # v4 associations.

    def associate_default(self, request, from_type, from_id, to_type, to_id):
        """PUT .../associations/default/{toType}/{toId}: both directions."""
        from_type, to_type = self._object_type(from_type), self._object_type(to_type)
        self._call(self.store.associate, from_type, from_id, to_type, to_id)
        source = self.store.get(from_type, from_id)
        target = self.store.get(to_type, to_id)
        results = [
            self._spec_row(from_type, source.id, to_type, target.id),
            self._spec_row(to_type, target.id, from_type, source.id),
        ]
        return json_response(
            {"status": "COMPLETE", "results": results, **self.timestamps()}
        )

    def list_associations(self, request, from_type, from_id, to_type):
        """GET /crm/v4/objects/{fromType}/{id}/associations/{toType}."""
        from_type, to_type = self._object_type(from_type), self._object_type(to_type)
        if self.store.get(from_type, from_id) is None:
            raise self._not_found(from_type, from_id)
        links = self.store.associated(from_type, from_id, to_type)
        return json_response({"results": _link_rows(links)})

    def remove_association(self, request, from_type, from_id, to_type, to_id):
        """DELETE .../associations/{toType}/{toId}: every type between the two."""
        from_type, to_type = self._object_type(from_type), self._object_type(to_type)
        self._call(self.store.dissociate, from_type, from_id, to_type, to_id)
        return json_response(None, 204)

    def batch_associate_default(self, request, from_type, to_type):
        """POST /crm/v4/associations/{from}/{to}/batch/associate/default."""
        from_type, to_type = self._object_type(from_type), self._object_type(to_type)
        results, errors = [], []
        for entry in self._payload(request).get("inputs") or []:
            from_id = str((entry.get("from") or {}).get("id", ""))
            to_id = str((entry.get("to") or {}).get("id", ""))
            try:
                self.store.associate(from_type, from_id, to_type, to_id)
            except HubSpotError as error:
                errors.append(_from_store_error(error, entry))
                continue
            source = self.store.get(from_type, from_id)
            target = self.store.get(to_type, to_id)
            results.append(self._spec_row(from_type, source.id, to_type, target.id))
        return self._batch_response(results, errors)

    def batch_read_associations(self, request, from_type, to_type):
        """POST /crm/v4/associations/{from}/{to}/batch/read."""
        from_type, to_type = self._object_type(from_type), self._object_type(to_type)
        results, missing = [], []
        for entry in self._payload(request).get("inputs") or []:
            from_id = str(entry.get("id", ""))
            record = self.store.get(from_type, from_id)
            if record is None:
                missing.append(from_id)
                continue
            links = self.store.associated(from_type, record.id, to_type)
            results.append({"from": {"id": record.id}, "to": _link_rows(links)})
        errors = []
        if missing:
            message = f"No {SINGULAR[from_type]} is associated with these ids."
            errors.append(_batch_error("OBJECT_NOT_FOUND", message, {"ids": missing}))
        return self._batch_response(results, errors)

    def association_labels(self, request, from_type, to_type):
        """GET /crm/v4/associations/{from}/{to}/labels: the type ids to use."""
        from_type, to_type = self._object_type(from_type), self._object_type(to_type)
        type_id = self.store.config.association_types.get((from_type, to_type))
        rows = []
        if type_id is not None:
            rows.append(
                {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None}
            )
        return json_response({"results": rows})

    def _spec_row(self, from_type, from_id, to_type, to_id):
        return {
            "from": {"id": from_id},
            "to": {"id": to_id},
            "associationSpec": {
                "associationCategory": "HUBSPOT_DEFINED",
                "associationTypeId": self.store.config.association_types[
                    (from_type, to_type)
                ],
            },
        }


def _link_rows(links):
    return [
        {
            "toObjectId": int(to_id),
            "associationTypes": [
                {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None}
                for type_id in sorted(type_ids)
            ],
        }
        for to_id, type_ids in sorted(links.items(), key=lambda item: int(item[0]))
    ]


def _batch_error(category, message, context, errors=None):
    return {
        "status": "error",
        "category": category,
        "message": message,
        "context": context,
        "errors": errors or [],
        "links": {},
    }


def _missing_error(object_type, object_id, entry):
    context = {"ids": [object_id]}
    if entry.get("objectWriteTraceId"):
        context["objectWriteTraceId"] = [entry["objectWriteTraceId"]]
    message = f"Could not find {SINGULAR[object_type]} {object_id}."
    return _batch_error("OBJECT_NOT_FOUND", message, context)


def _from_store_error(error, entry):
    context = dict(error.context)
    if entry.get("id") is not None:
        context.setdefault("ids", [str(entry["id"])])
    if entry.get("objectWriteTraceId"):
        context["objectWriteTraceId"] = [entry["objectWriteTraceId"]]
    return _batch_error(error.category, error.message, context, error.errors)


def _oauth_error(status, message, http_status=400):
    body = {"status": status, "message": message, "correlationId": str(uuid.uuid4())}
    return json_response(body, http_status)
