"""Data model of the HubSpot CRM v3 emulator.

The store keeps companies, contacts, deals and line items as HubSpot does:
numeric string ids, every property value a string, `hs_object_id` mirroring
the id, archived records that can be restored, merges that leave the old
ids resolving to the surviving record, deal pipelines whose stages say in
their metadata whether they are closed and won, v4 associations and the
webhook events the changes would trigger. Tests seed it directly
(`add_company`, `add_contact`, `add_deal`, ...) and the HTTP layer in
`hubspot.py` reads and writes it.
"""

import itertools
import re
import threading
from collections import deque
from dataclasses import dataclass, field

from .base import EmulatorClock, epoch_ms, isoformat_ms, parse_iso
from .hubspot_schema import (
    DEFAULT_ASSOCIATION_TYPES,
    DEFAULT_STAGES,
    OBJECT_TYPES,
    SINGULAR,
    PropertyDefinition,
    default_properties,
)


@dataclass
class HubSpotConfig:
    """Settings of one HubSpot emulator, including the vendor facts not verified.

    Every unverified vendor fact is a setting, so a test can check that a
    client copes with either reading.
    """

    portal_id: int = 62515
    app_id: int = 54321
    client_id: str = "emulator-client-id"
    client_secret: str = "emulator-client-secret"
    private_app_token: str = "pat-na1-emulator-private-app"
    refresh_token: str = "emulator-refresh-token"
    # Seconds an OAuth access token lives; HubSpot returns this as expires_in.
    access_token_ttl: int = 1800
    # Burst limit per app and daily limit per account (Free/Starter tier).
    burst_limit: int = 100
    burst_window_seconds: float = 10.0
    daily_limit: int = 250_000
    search_requests_per_second: int = 4
    # NOTE: the burst and search policyName strings are not verified.
    burst_policy_name: str = "TEN_SECONDLY_ROLLING"
    search_policy_name: str = "SECONDLY"
    send_retry_after: bool = False
    # NOTE: the search page maximum (100 or 200) is not verified; 200 here.
    search_max_limit: int = 200
    list_max_limit: int = 100
    batch_max_inputs: int = 100
    search_result_cap: int = 10_000
    max_filter_groups: int = 5
    max_filters_per_group: int = 10
    max_filters_total: int = 25
    # Object types whose merge creates a record with a new id.
    merge_new_id_types: tuple = ("companies", "contacts")
    # NOTE: the separator of hs_merged_object_ids is not verified.
    merged_ids_separator: str = ";"
    # NOTE: the company last-modified property name is not verified, so
    # companies carry both names unless a test narrows it.
    company_modified_properties: tuple = ("hs_lastmodifieddate", "lastmodifieddate")
    # Property names accepted without a definition (such as "odoo_").
    auto_property_prefixes: tuple = ()
    association_types: dict = field(
        default_factory=lambda: dict(DEFAULT_ASSOCIATION_TYPES)
    )


@dataclass
class HubSpotRecord:
    """One CRM object: id, string properties, timestamps and archive state."""

    object_type: str
    id: str
    properties: dict
    created_at: object
    updated_at: object
    archived: bool = False
    archived_at: object = None
    merged_into: str | None = None


class HubSpotError(Exception):
    """A write the store rejects, with HubSpot's error category and details."""

    def __init__(self, status, message, category, errors=None, context=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.category = category
        self.errors = errors or []
        self.context = context or {}


class HubSpotStore:
    """Thread-safe in-memory HubSpot portal."""

    def __init__(self, config=None, clock=None):
        self.config = config or HubSpotConfig()
        self.clock = clock or EmulatorClock()
        self.lock = threading.RLock()
        self.records = {object_type: {} for object_type in OBJECT_TYPES}
        self.aliases = {object_type: {} for object_type in OBJECT_TYPES}
        self.definitions = {
            object_type: default_properties(object_type, self.config)
            for object_type in OBJECT_TYPES
        }
        self.associations = {}
        self.pipelines = {}
        self.owners = {}
        self.events = deque()
        # Firm keys (C001, D001, ...) to HubSpot ids, filled by `load_firm`.
        self.firm_ids = {}
        self._ids = itertools.count(1001)
        self._event_ids = itertools.count(1)
        self.add_pipeline("default", "Sales Pipeline", DEFAULT_STAGES)

    # Seeding helpers: these do not emit webhook events.

    def add_company(self, name, **properties):
        """Seed a company and return its record."""
        return self.create("companies", {"name": name, **properties}, notify=False)

    def add_contact(self, email, company_id=None, **properties):
        """Seed a contact, optionally associated with a company."""
        record = self.create("contacts", {"email": email, **properties}, notify=False)
        if company_id:
            self.associate("contacts", record.id, "companies", company_id, notify=False)
        return record

    def add_deal(self, name, stage="appointmentscheduled", company_id=None, **props):
        """Seed a deal in the default pipeline unless `pipeline` is given."""
        values = {"dealname": name, "pipeline": "default", "dealstage": stage}
        record = self.create("deals", {**values, **props}, notify=False)
        if company_id:
            self.associate("deals", record.id, "companies", company_id, notify=False)
        return record

    def add_line_item(self, deal_id, name, quantity, price, **properties):
        """Seed a line item on a deal."""
        values = {"name": name, "quantity": str(quantity), "price": str(price)}
        record = self.create("line_items", {**values, **properties}, notify=False)
        self.associate("line_items", record.id, "deals", deal_id, notify=False)
        return record

    def add_owner(self, email, first_name="", last_name="", owner_id=None):
        """Seed a CRM user who can own records (`hubspot_owner_id`)."""
        with self.lock:
            owner_id = str(owner_id or next(self._ids))
            now = isoformat_ms(self.clock.now())
            self.owners[owner_id] = {
                "id": owner_id,
                "email": email,
                "firstName": first_name,
                "lastName": last_name,
                "userId": int(owner_id),
                "createdAt": now,
                "updatedAt": now,
                "archived": False,
            }
            return self.owners[owner_id]

    def add_pipeline(self, pipeline_id, label, stages, display_order=0):
        """Add a deal pipeline; `stages` are (id, label, is_closed, probability)."""
        now = isoformat_ms(self.clock.now())
        stage_rows = [
            {
                "id": stage_id,
                "label": stage_label,
                "displayOrder": order,
                "metadata": {
                    "isClosed": "true" if is_closed else "false",
                    "probability": f"{float(probability):.1f}",
                },
                "createdAt": now,
                "updatedAt": now,
                "archived": False,
            }
            for order, (stage_id, stage_label, is_closed, probability) in enumerate(
                stages
            )
        ]
        pipeline = {
            "id": pipeline_id,
            "label": label,
            "displayOrder": display_order,
            "stages": stage_rows,
            "createdAt": now,
            "updatedAt": now,
            "archived": False,
        }
        with self.lock:
            self.pipelines[pipeline_id] = pipeline
        return pipeline

    def add_property(self, object_type, name, type="string", **options):
        """Define a property, as POST /crm/v3/properties/{objectType} does."""
        with self.lock:
            definitions = self.definitions[object_type]
            if name in definitions:
                raise HubSpotError(
                    409,
                    f"A property named '{name}' already exists.",
                    "OBJECT_ALREADY_EXISTS",
                )
            definitions[name] = PropertyDefinition(name, type=type, **options)
            return definitions[name]

    # Reads.

    def resolve(self, object_type, object_id):
        """Follow merges from `object_id` to the record that represents it now."""
        with self.lock:
            seen = set()
            current = str(object_id)
            while current in self.aliases[object_type] and current not in seen:
                seen.add(current)
                current = self.aliases[object_type][current]
            return self.records[object_type].get(current)

    def get(self, object_type, object_id, archived=False):
        """Return the live (or, with `archived`, the archived) record or None."""
        record = self.resolve(object_type, object_id)
        if record is None or record.archived != archived:
            return None
        return record

    def find_by(self, object_type, property_name, value, archived=False):
        """Return the first record whose property equals `value` (ignoring case)."""
        if property_name in ("hs_object_id", "id"):
            return self.get(object_type, value, archived)
        wanted = str(value).casefold()
        for record in self.live(object_type, archived):
            current = record.properties.get(property_name)
            if current is not None and current.casefold() == wanted:
                return record
        return None

    def live(self, object_type, archived=False):
        """Return records not merged away, sorted by numeric id."""
        with self.lock:
            rows = [
                record
                for record in self.records[object_type].values()
                if record.merged_into is None and record.archived == archived
            ]
        return sorted(rows, key=lambda record: int(record.id))

    def stage(self, pipeline_id, stage_id):
        """Return the stage row of a pipeline, or None."""
        pipeline = self.pipelines.get(pipeline_id)
        stages = pipeline["stages"] if pipeline else []
        return next((row for row in stages if row["id"] == stage_id), None)

    def is_won(self, record):
        """Return whether a deal's stage metadata marks it closed and won."""
        row = self.stage(
            record.properties.get("pipeline"), record.properties.get("dealstage")
        )
        if row is None:
            return False
        metadata = row["metadata"]
        return metadata["isClosed"] == "true" and float(metadata["probability"]) >= 1

    def definition(self, object_type, name):
        """Return a property definition, or None when the name is unknown."""
        definition = self.definitions[object_type].get(name)
        if definition is None and name.startswith(self.config.auto_property_prefixes):
            definition = PropertyDefinition(name)
        return definition

    def set_timestamps(self, record, created_at, updated_at):
        """Backdate a seeded record's creation and last modification."""
        with self.lock:
            record.created_at = created_at
            record.properties["createdate"] = isoformat_ms(created_at)
            self._stamp(record, updated_at)

    # Writes: these emit webhook events unless `notify` is false.

    def create(self, object_type, properties, notify=True):
        """Create a record from property values and return it."""
        with self.lock:
            values = self._validated(object_type, properties, None)
            now = self.clock.now()
            record = HubSpotRecord(object_type, str(next(self._ids)), {}, now, now)
            record.properties.update(values)
            record.properties.setdefault("createdate", isoformat_ms(now))
            self._stamp(record, now)
            self.records[object_type][record.id] = record
            if notify:
                self._emit(object_type, "creation", record.id, changeFlag="NEW")
            return record

    def update(self, object_type, object_id, properties, notify=True):
        """Change property values of a live record and return it."""
        with self.lock:
            record = self._require(object_type, object_id)
            values = self._validated(object_type, properties, record)
            changed = {
                name: value
                for name, value in values.items()
                if record.properties.get(name) != value
            }
            record.properties.update(values)
            self._stamp(record, self.clock.now())
            for name, value in changed.items():
                if notify:
                    self._emit(
                        object_type,
                        "propertyChange",
                        record.id,
                        propertyName=name,
                        propertyValue=value or "",
                    )
            return record

    def archive(self, object_type, object_id, notify=True):
        """Archive (delete) a record; it stays restorable."""
        with self.lock:
            record = self._require(object_type, object_id)
            now = self.clock.now()
            record.archived = True
            record.archived_at = now
            record.updated_at = now
            if notify:
                self._emit(object_type, "deletion", record.id)
            return record

    def restore(self, object_type, object_id, notify=True):
        """Restore an archived record, as a user does from the recycle bin."""
        with self.lock:
            record = self.get(object_type, object_id, archived=True)
            if record is None:
                raise self._not_found(object_type, object_id)
            record.archived = False
            record.archived_at = None
            self._stamp(record, self.clock.now())
            if notify:
                self._emit(object_type, "restore", record.id)
            return record

    def merge(self, object_type, primary_id, merged_id, notify=True):
        """Merge `merged_id` into `primary_id` and return the resulting record.

        For the types in `config.merge_new_id_types` the result is a new
        record with a new id, and both old ids become aliases of it. For
        other types the primary keeps its id. `hs_merged_object_ids` lists
        every id merged into the result.
        """
        with self.lock:
            primary = self._require(object_type, primary_id)
            secondary = self._require(object_type, merged_id)
            if primary.id == secondary.id:
                raise HubSpotError(
                    400, "Cannot merge an object with itself.", "VALIDATION_ERROR"
                )
            if object_type in self.config.merge_new_id_types:
                result, merged_away = self._merge_into_new(primary, secondary)
            else:
                result, merged_away = primary, [secondary]
            self._absorb(result, merged_away)
            if notify:
                self._emit(
                    object_type,
                    "merge",
                    result.id,
                    primaryObjectId=int(result.id),
                    mergedObjectIds=[int(record.id) for record in merged_away],
                    numberOfPropertiesMoved=len(secondary.properties),
                )
            return result

    def associate(
        self, from_type, from_id, to_type, to_id, *, notify=True, type_id=None
    ):
        """Associate two records in both directions with the default type."""
        with self.lock:
            source = self._require(from_type, from_id)
            target = self._require(to_type, to_id)
            forward = type_id or self.config.association_types[(from_type, to_type)]
            backward = self.config.association_types[(to_type, from_type)]
            self._link(from_type, source.id, to_type, target.id, forward)
            self._link(to_type, target.id, from_type, source.id, backward)
            if notify:
                self._emit_association(from_type, source.id, to_type, target.id, False)
            return forward

    def dissociate(self, from_type, from_id, to_type, to_id, *, notify=True):
        """Remove every association between two records."""
        with self.lock:
            source = self._require(from_type, from_id)
            target = self._require(to_type, to_id)
            self.associations.get((from_type, source.id), {}).get(to_type, {}).pop(
                target.id, None
            )
            self.associations.get((to_type, target.id), {}).get(from_type, {}).pop(
                source.id, None
            )
            if notify:
                self._emit_association(from_type, source.id, to_type, target.id, True)

    def associated(self, from_type, from_id, to_type):
        """Return {to_id: set of association type ids} for one record."""
        record = self.resolve(from_type, from_id)
        if record is None:
            return {}
        with self.lock:
            links = self.associations.get((from_type, record.id), {}).get(to_type, {})
            return {to_id: set(types) for to_id, types in links.items()}

    def take_events(self):
        """Remove and return the webhook events emitted so far, oldest first."""
        with self.lock:
            events = list(self.events)
            self.events.clear()
            return events

    # Internals.

    def _require(self, object_type, object_id):
        record = self.get(object_type, object_id)
        if record is None:
            raise self._not_found(object_type, object_id)
        return record

    @staticmethod
    def _not_found(object_type, object_id):
        return HubSpotError(
            404,
            f"Object not found. objectId are usually numeric: {object_type} "
            f"{object_id}",
            "OBJECT_NOT_FOUND",
            context={"id": [str(object_id)]},
        )

    def _validated(self, object_type, properties, record):
        errors = []
        values = {}
        for name, raw in (properties or {}).items():
            problem, value = self._validate_one(object_type, name, raw, record)
            if problem:
                errors.append(problem)
            else:
                values[name] = value
        if errors:
            raise HubSpotError(
                400,
                "Property values were not valid: "
                + "; ".join(error["message"] for error in errors),
                "VALIDATION_ERROR",
                errors=errors,
            )
        self._check_unique(object_type, values, record)
        return values

    def _validate_one(self, object_type, name, raw, record):
        definition = self.definition(object_type, name)
        if definition is None:
            return _property_error(
                name, f'Property "{name}" does not exist', "PROPERTY_DOESNT_EXIST"
            ), None
        if definition.read_only:
            message = f"{name} is a read only property; its value cannot be set."
            return _property_error(name, message, "READ_ONLY_VALUE"), None
        try:
            value = definition.normalize(raw)
        except ValueError as error:
            return _property_error(name, str(error), definition.error_code), None
        if name == "dealstage" and value is not None:
            pipeline = self._pipeline_of(record, value)
            if self.stage(pipeline, value) is None:
                message = f"{value} is not a valid stage of pipeline {pipeline}"
                return _property_error(name, message, "INVALID_OPTION"), None
        return None, value

    def _pipeline_of(self, record, stage_id):
        if record is not None and record.properties.get("pipeline"):
            return record.properties["pipeline"]
        for pipeline_id, pipeline in self.pipelines.items():
            if any(row["id"] == stage_id for row in pipeline["stages"]):
                return pipeline_id
        return "default"

    def _check_unique(self, object_type, values, record):
        for name, value in values.items():
            definition = self.definition(object_type, name)
            if not definition.unique or not value:
                continue
            existing = self.find_by(object_type, name, value)
            if existing is not None and (record is None or existing.id != record.id):
                raise HubSpotError(
                    409,
                    f"{SINGULAR[object_type].capitalize()} already exists. "
                    f"Existing ID: {existing.id}",
                    "CONFLICT",
                )

    def _stamp(self, record, now):
        record.updated_at = now
        record.properties["hs_object_id"] = record.id
        for name in self.modified_properties(record.object_type):
            record.properties[name] = isoformat_ms(now)
        if record.object_type == "deals":
            record.properties["hs_is_closed_won"] = str(self.is_won(record)).lower()
        if record.object_type == "line_items":
            record.properties["amount"] = _line_amount(record.properties)

    def modified_properties(self, object_type):
        """Return the last-modified property names of an object type."""
        if object_type == "contacts":
            return ("lastmodifieddate",)
        if object_type == "companies":
            return self.config.company_modified_properties
        return ("hs_lastmodifieddate",)

    def _merge_into_new(self, primary, secondary):
        now = self.clock.now()
        merged_values = {**secondary.properties, **_non_empty(primary.properties)}
        result = HubSpotRecord(
            primary.object_type,
            str(next(self._ids)),
            merged_values,
            primary.created_at,
            now,
        )
        self.records[primary.object_type][result.id] = result
        return result, [primary, secondary]

    def _absorb(self, result, merged_away):
        separator = self.config.merged_ids_separator
        former = _split_ids(result.properties.get("hs_merged_object_ids"), separator)
        for record in merged_away:
            former += _split_ids(
                record.properties.get("hs_merged_object_ids"), separator
            )
            former.append(record.id)
            record.merged_into = result.id
            self.aliases[result.object_type][record.id] = result.id
            self._move_links(record, result)
        unique_ids = sorted(set(former) - {result.id}, key=int)
        result.properties["hs_merged_object_ids"] = separator.join(unique_ids)
        if result.object_type == "contacts":
            result.properties["hs_calculated_merged_vids"] = separator.join(unique_ids)
        self._stamp(result, self.clock.now())

    def _move_links(self, source, target):
        links = self.associations.pop((source.object_type, source.id), {})
        for to_type, targets in links.items():
            for to_id, type_ids in targets.items():
                for type_id in type_ids:
                    self._link(source.object_type, target.id, to_type, to_id, type_id)
                back = self.associations.get((to_type, to_id), {}).get(
                    source.object_type, {}
                )
                back_types = back.pop(source.id, set())
                for type_id in back_types:
                    self._link(to_type, to_id, source.object_type, target.id, type_id)

    def _link(self, from_type, from_id, to_type, to_id, type_id):
        targets = self.associations.setdefault((from_type, from_id), {})
        targets.setdefault(to_type, {}).setdefault(to_id, set()).add(type_id)

    def _emit(self, object_type, action, object_id, **extra):
        singular = SINGULAR[object_type]
        subscription_type = f"{singular}.{action}"
        event = {
            "eventId": next(self._event_ids),
            "subscriptionId": _subscription_id(subscription_type),
            "portalId": self.config.portal_id,
            "appId": self.config.app_id,
            "occurredAt": epoch_ms(self.clock.now()),
            "subscriptionType": subscription_type,
            "attemptNumber": 0,
            "objectId": int(object_id),
            "changeSource": "API",
            **extra,
        }
        self.events.append(event)
        return event

    def _emit_association(self, from_type, from_id, to_type, to_id, removed):
        type_name = f"{SINGULAR[from_type]}_TO_{SINGULAR[to_type]}".upper()
        self._emit(
            from_type,
            "associationChange",
            from_id,
            associationType=type_name,
            fromObjectId=int(from_id),
            toObjectId=int(to_id),
            associationRemoved=removed,
            isPrimaryAssociation=False,
        )


def _property_error(name, message, code):
    return {
        "message": message,
        "code": code,
        "context": {"propertyName": [name]},
    }


def _non_empty(properties):
    return {
        name: value for name, value in properties.items() if value not in ("", None)
    }


def _split_ids(text, separator):
    return [
        part for part in re.split(rf"[{re.escape(separator)},\s]+", text or "") if part
    ]


def _line_amount(properties):
    try:
        amount = float(properties.get("quantity") or 0) * float(
            properties.get("price") or 0
        )
    except ValueError:
        return properties.get("amount")
    return f"{amount:.2f}"


def _subscription_id(subscription_type):
    # Stable per subscription type, like the id HubSpot gives a subscription.
    return 100000 + sum(ord(char) for char in subscription_type)


def parse_timestamp_value(text):
    """Return a HubSpot datetime value (epoch ms or ISO-8601) as epoch ms."""
    text = str(text).strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    return epoch_ms(parse_iso(text))
