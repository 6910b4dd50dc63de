"""Data model of the Salesforce REST emulator.

The store keeps Accounts, Contacts, Opportunities, OpportunityLineItems,
Products and Users with 18-character ids and the system fields Salesforce
maintains (SystemModstamp, IsDeleted, MasterRecordId). Deleted records go
to a recycle bin that getDeleted reads. A merge deletes the losing records
and points them at the master. Opportunity stages decide IsWon and
IsClosed. Writes
are validated as the REST API validates them and rejected with its error
codes. Tests seed the store directly (`add_account`, `add_opportunity`, ...).
"""

import itertools
import threading
from dataclasses import dataclass, field
from datetime import timedelta

from cryptography.hazmat.primitives.serialization import load_pem_public_key

from .base import EmulatorClock
from .salesforce_schema import (
    DEFAULT_STAGES,
    KEY_PREFIXES,
    OBJECT_FIELDS,
    REQUIRED_ON_CREATE,
    FieldDefinition,
    is_valid_id,
    make_id,
    object_fields,
)


@dataclass
class SalesforceConfig:
    """Settings of one Salesforce org, including the vendor facts not verified."""

    org_id: str = make_id("00D", 4242)
    client_id: str = "emulator-consumer-key"
    client_secret: str = "emulator-consumer-secret"
    api_versions: tuple = tuple(f"{number}.0" for number in range(31, 63))
    query_batch_size: int = 2000
    # Sessions expire after this many idle seconds (2 hours by default).
    session_ttl_seconds: int = 7200
    daily_api_limit: int = 100_000
    # NOTE: the version from which an upsert that updates returns 200 with a
    # body instead of 204 is not verified; 46.0 here.
    upsert_body_from_version: float = 46.0
    multi_currency: bool = True
    currencies: tuple = ("EUR", "USD", "GBP", "JPY", "CHF")
    default_currency: str = "EUR"
    # Accept unknown custom fields (names ending in __c) as text fields,
    # usable as external ids, instead of rejecting them.
    lenient_custom_fields: bool = True
    updated_window_days: int = 30
    deleted_window_days: int = 15
    replication_id_limit: int = 600_000
    query_locator_ttl_seconds: int = 900
    collection_max_records: int = 200
    jwt_audiences: tuple = (
        "https://login.salesforce.com",
        "https://test.salesforce.com",
    )
    # The JWT `exp` claim may lie at most this far ahead.
    jwt_max_ahead_seconds: int = 180
    # NOTE: Salesforce is believed to store datetimes to the second; set
    # False to keep milliseconds.
    whole_second_timestamps: bool = True
    stages: tuple = field(default=DEFAULT_STAGES)


class SalesforceError(Exception):
    """A request the store rejects, with Salesforce's error code."""

    def __init__(self, status, error_code, message, fields=()):
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.fields = list(fields)


class SalesforceStore:
    """Thread-safe in-memory Salesforce org."""

    def __init__(self, config=None, clock=None):
        self.config = config or SalesforceConfig()
        self.clock = clock or EmulatorClock()
        self.lock = threading.RLock()
        self.fields = {
            name: object_fields(name, self.config.multi_currency)
            for name in OBJECT_FIELDS
        }
        self.records = {name: {} for name in OBJECT_FIELDS}
        self.deleted_log = {}
        self.deleted_log_start = self.now()
        self.jwt_apps = {}
        # Firm keys (C001, D001, ...) to Salesforce ids, filled by `load_firm`.
        self.firm_ids = {}
        self._serial = itertools.count(62**5 * 11 + 917)
        self._seed_stages()
        self.integration_user = self.add_user(
            "integration@emulator.example", last_name="Integration"
        )

    # Seeding helpers.

    def add_account(self, name, **values):
        """Seed an Account and return its record."""
        return self.create("Account", {"Name": name, **values})

    def add_contact(self, last_name, account_id=None, **values):
        """Seed a Contact, optionally under an Account."""
        return self.create(
            "Contact", {"LastName": last_name, "AccountId": account_id, **values}
        )

    def add_opportunity(
        self, name, stage_name="Prospecting", close_date=None, account_id=None, **values
    ):
        """Seed an Opportunity; CloseDate defaults to 30 days from now."""
        close = close_date or (self.now() + timedelta(days=30)).date()
        base = {"Name": name, "StageName": stage_name, "CloseDate": close}
        return self.create("Opportunity", {**base, "AccountId": account_id, **values})

    def add_line_item(self, opportunity_id, quantity, unit_price, **values):
        """Seed an OpportunityLineItem on an Opportunity."""
        base = {
            "OpportunityId": opportunity_id,
            "Quantity": quantity,
            "UnitPrice": unit_price,
        }
        return self.create("OpportunityLineItem", {**base, **values})

    def add_product(self, name, **values):
        """Seed an active Product2."""
        return self.create("Product2", {"Name": name, "IsActive": True, **values})

    def add_user(self, username, email=None, last_name="User", **values):
        """Seed an active User; its Username is the JWT bearer subject."""
        base = {
            "Username": username,
            "Email": email or username,
            "LastName": last_name,
            "IsActive": True,
        }
        return self.create("User", {**base, **values})

    def add_custom_field(self, object_type, name, type="string", external_id=False):
        """Define a custom field (name ending in __c), optionally an external id."""
        if not name.endswith("__c"):
            raise ValueError(f"Custom field names end in __c: {name!r}")
        definition = FieldDefinition(name, type, external_id=external_id, custom=True)
        with self.lock:
            self.fields[self.type_name(object_type)][name] = definition
        return definition

    def register_jwt_app(self, consumer_key, public_key_pem):
        """Allow JWT bearer logins signed by the key pair of `public_key_pem`."""
        if isinstance(public_key_pem, str):
            public_key_pem = public_key_pem.encode()
        self.jwt_apps[consumer_key] = load_pem_public_key(public_key_pem)

    # Reads.

    def now(self):
        """Return the org's current time, to the second unless configured."""
        moment = self.clock.now()
        if self.config.whole_second_timestamps:
            moment = moment.replace(microsecond=0)
        return moment

    def type_name(self, name):
        """Return the canonical sObject name, or raise NOT_FOUND for an unknown one."""
        for known in self.fields:
            if known.lower() == str(name).lower():
                return known
        raise SalesforceError(
            404,
            "NOT_FOUND",
            f"The requested resource does not exist: sObject type '{name}' is not "
            "supported.",
        )

    def field(self, object_type, name, define_custom=True):
        """Return the FieldDefinition of `name` (case-insensitive), or None."""
        fields = self.fields[object_type]
        for known, definition in fields.items():
            if known.lower() == name.lower():
                return definition
        lenient = self.config.lenient_custom_fields and define_custom
        if lenient and name.endswith("__c") and len(name) > 3:
            return self.add_custom_field(object_type, name, external_id=True)
        return None

    def get(self, object_type, record_id, include_deleted=False):
        """Return a record by 15- or 18-character id, or None."""
        if not is_valid_id(record_id):
            return None
        with self.lock:
            record = self.records[object_type].get(str(record_id)[:15])
        if record is None or (record["IsDeleted"] and not include_deleted):
            return None
        return record

    def find_any(self, record_id, include_deleted=False):
        """Return (type, record) for an id of any type, by its key prefix."""
        for object_type, prefix in KEY_PREFIXES.items():
            if object_type in self.records and str(record_id).startswith(prefix):
                record = self.get(object_type, record_id, include_deleted)
                return (object_type, record) if record else (None, None)
        return None, None

    def find_by(self, object_type, field_name, value):
        """Return the live records whose field equals `value`."""
        with self.lock:
            return [
                record
                for record in self.records[object_type].values()
                if not record["IsDeleted"] and _same(record.get(field_name), value)
            ]

    def rows(self, object_type, include_deleted=False):
        """Return a snapshot list of the records of a type, oldest id first."""
        with self.lock:
            return [
                dict(record)
                for record in self.records[object_type].values()
                if include_deleted or not record["IsDeleted"]
            ]

    def stage(self, stage_name):
        """Return the OpportunityStage record named `stage_name`, or None."""
        for record in self.records["OpportunityStage"].values():
            if record["ApiName"] == stage_name:
                return record
        return None

    def updated_ids(self, object_type, start, end):
        """Return ids of live records whose SystemModstamp is in [start, end)."""
        with self.lock:
            return [
                record["Id"]
                for record in self.records[object_type].values()
                if not record["IsDeleted"] and start <= record["SystemModstamp"] < end
            ]

    def deleted_records(self, object_type, start, end):
        """Return [(id, deleted date)] of records deleted in [start, end)."""
        with self.lock:
            return [
                (record_id, deleted_at)
                for (kind, record_id), deleted_at in self.deleted_log.items()
                if kind == object_type and start <= deleted_at < end
            ]

    def set_timestamps(self, object_type, record_id, created_at, modified_at):
        """Backdate a seeded record: CreatedDate, LastModifiedDate, SystemModstamp."""
        with self.lock:
            record = self.require(self.type_name(object_type), record_id)
            record["CreatedDate"] = created_at
            record["LastModifiedDate"] = modified_at
            record["SystemModstamp"] = modified_at
            return record

    # Writes.

    def create(self, object_type, values, user_id=None):
        """Validate and insert a record; return it."""
        object_type = self.type_name(object_type)
        with self.lock:
            clean = self._validated(object_type, values, creating=True)
            record = {name: None for name in self.fields[object_type]}
            record.update(clean)
            now = self.now()
            record["Id"] = make_id(KEY_PREFIXES[object_type], next(self._serial))
            record["IsDeleted"] = False
            record["CreatedDate"] = now
            if "CreatedById" in record:
                record["CreatedById"] = self._user_id(user_id)
            self._derive(object_type, record, clean)
            self._touch(record, now, user_id)
            self.records[object_type][record["Id"][:15]] = record
            return record

    def update(self, object_type, record_id, values, user_id=None):
        """Validate and apply field changes to a live record; return it."""
        object_type = self.type_name(object_type)
        with self.lock:
            record = self.require(object_type, record_id)
            clean = self._validated(object_type, values, creating=False)
            record.update(clean)
            self._derive(object_type, record, clean)
            self._touch(record, self.now(), user_id)
            return record

    def delete(self, object_type, record_id, master_id=None):
        """Move a record to the recycle bin, with its dependent records."""
        object_type = self.type_name(object_type)
        with self.lock:
            record = self.require(object_type, record_id)
            now = self.now()
            record["IsDeleted"] = True
            if master_id and "MasterRecordId" in record:
                record["MasterRecordId"] = master_id
            self._touch(record, now, None)
            self.deleted_log[(object_type, record["Id"])] = now
            for child_type, _field, child in self._dependents(
                object_type, record["Id"]
            ):
                self.delete(child_type, child["Id"])
            return record

    def undelete(self, object_type, record_id):
        """Restore a record from the recycle bin."""
        object_type = self.type_name(object_type)
        with self.lock:
            record = self.get(object_type, record_id, include_deleted=True)
            if record is None or not record["IsDeleted"]:
                raise _not_found(object_type, record_id)
            record["IsDeleted"] = False
            self.deleted_log.pop((object_type, record["Id"]), None)
            self._touch(record, self.now(), None)
            return record

    def merge(self, object_type, master_id, loser_ids):
        """Merge up to two records into a master, as the merge call does.

        The losers are deleted with MasterRecordId set to the master, and
        the records that pointed at them point at the master afterwards.
        """
        object_type = self.type_name(object_type)
        if object_type not in ("Account", "Contact"):
            raise SalesforceError(
                400, "INVALID_TYPE", f"Cannot merge {object_type} records"
            )
        if not 1 <= len(loser_ids) <= 2:
            raise SalesforceError(
                400, "INVALID_OPERATION", "Merge takes one or two records"
            )
        with self.lock:
            master = self.require(object_type, master_id)
            for loser_id in loser_ids:
                loser = self.require(object_type, loser_id)
                self._reparent(object_type, loser["Id"], master["Id"])
                self.delete(object_type, loser["Id"], master_id=master["Id"])
            self._touch(master, self.now(), None)
            return master

    # Internals.

    def _seed_stages(self):
        for order, (name, is_closed, is_won, probability) in enumerate(
            self.config.stages
        ):
            record = {
                field_name: None for field_name in self.fields["OpportunityStage"]
            }
            now = self.now()
            record.update(
                Id=make_id(KEY_PREFIXES["OpportunityStage"], next(self._serial)),
                IsDeleted=False,
                MasterLabel=name,
                ApiName=name,
                IsActive=True,
                IsClosed=is_closed,
                IsWon=is_won,
                DefaultProbability=float(probability),
                SortOrder=order + 1,
                CreatedDate=now,
                LastModifiedDate=now,
                SystemModstamp=now,
            )
            self.records["OpportunityStage"][record["Id"][:15]] = record

    def require(self, object_type, record_id):
        """Return a live record or raise MALFORMED_ID, ENTITY_IS_DELETED, NOT_FOUND."""
        if not is_valid_id(record_id):
            raise SalesforceError(
                400,
                "MALFORMED_ID",
                f"{object_type} ID: id value of incorrect type: {record_id}",
                ["Id"],
            )
        record = self.get(object_type, record_id)
        if record is None:
            deleted = self.get(object_type, record_id, include_deleted=True)
            if deleted is not None:
                raise SalesforceError(
                    404, "ENTITY_IS_DELETED", "entity is deleted", ["Id"]
                )
            raise _not_found(object_type, record_id)
        return record

    def _validated(self, object_type, values, creating):
        clean = {}
        for name, raw in (values or {}).items():
            if name == "attributes":
                continue
            definition = self.field(object_type, name)
            if definition is None:
                raise SalesforceError(
                    400,
                    "INVALID_FIELD",
                    f"No such column '{name}' on sobject of type {object_type}",
                    [name],
                )
            clean[definition.name] = self._converted(
                object_type, definition, raw, creating
            )
        self._check_required(object_type, clean, creating)
        return clean

    def _converted(self, object_type, definition, raw, creating):
        allowed = definition.createable if creating else definition.updateable
        if not allowed:
            raise SalesforceError(
                400,
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {definition.name}. Please check the "
                "security settings of this field and verify that it is read/write "
                "for your profile or permission set.",
                [definition.name],
            )
        try:
            value = definition.from_json(raw)
        except (TypeError, ValueError) as error:
            code = (
                "MALFORMED_ID"
                if definition.type == "reference"
                else "JSON_PARSER_ERROR"
            )
            raise SalesforceError(
                400,
                code,
                f"Cannot deserialize instance of {definition.type} from value "
                f"{raw!r} for field {definition.name}: {error}",
                [definition.name],
            ) from error
        self._check_value(object_type, definition, value)
        return value

    def _check_value(self, object_type, definition, value):
        if value is None:
            return
        if definition.reference_to and self.get(definition.reference_to, value) is None:
            raise SalesforceError(
                400,
                "INVALID_CROSS_REFERENCE_KEY",
                f"invalid cross reference id: {value} for {definition.name}",
                [definition.name],
            )
        allowed = None
        if definition.name == "StageName":
            allowed = [stage[0] for stage in self.config.stages]
        elif definition.name == "CurrencyIsoCode":
            allowed = list(self.config.currencies)
        if allowed is not None and value not in allowed:
            raise SalesforceError(
                400,
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                f"{definition.name}: bad value for restricted picklist field: {value}",
                [definition.name],
            )

    def _check_required(self, object_type, clean, creating):
        required = REQUIRED_ON_CREATE.get(object_type, ())
        if creating:
            missing = [name for name in required if clean.get(name) in (None, "")]
        else:
            missing = [
                name for name in required if name in clean and clean[name] in (None, "")
            ]
        if missing:
            raise SalesforceError(
                400,
                "REQUIRED_FIELD_MISSING",
                f"Required fields are missing: [{', '.join(missing)}]",
                missing,
            )

    def _derive(self, object_type, record, changed):
        if "Name" in record and object_type in ("Contact", "User"):
            parts = (record.get("FirstName"), record.get("LastName"))
            record["Name"] = " ".join(part for part in parts if part)
        if "CurrencyIsoCode" in record and not record["CurrencyIsoCode"]:
            record["CurrencyIsoCode"] = self._default_currency(object_type, record)
        if object_type == "Opportunity":
            stage = self.stage(record["StageName"])
            record["IsWon"] = bool(stage and stage["IsWon"])
            record["IsClosed"] = bool(stage and stage["IsClosed"])
            if "StageName" in changed and "Probability" not in changed and stage:
                record["Probability"] = stage["DefaultProbability"]
        if object_type == "OpportunityLineItem":
            self._derive_line(record)

    def _derive_line(self, record):
        quantity = record.get("Quantity") or 0.0
        record["TotalPrice"] = round(quantity * (record.get("UnitPrice") or 0.0), 2)
        opportunity = self.get("Opportunity", record["OpportunityId"])
        product = self.get("Product2", record.get("Product2Id") or "")
        parts = (opportunity and opportunity["Name"], product and product["Name"])
        record["Name"] = " ".join(part for part in parts if part)
        record["ProductCode"] = product["ProductCode"] if product else None

    def _default_currency(self, object_type, record):
        if object_type == "OpportunityLineItem":
            opportunity = self.get("Opportunity", record["OpportunityId"])
            if opportunity and opportunity.get("CurrencyIsoCode"):
                return opportunity["CurrencyIsoCode"]
        return self.config.default_currency

    def _touch(self, record, now, user_id):
        record["LastModifiedDate"] = now
        record["SystemModstamp"] = now
        if "LastModifiedById" in record:
            record["LastModifiedById"] = self._user_id(user_id)

    def _user_id(self, user_id):
        if user_id:
            return user_id
        user = getattr(self, "integration_user", None)
        return user["Id"] if user else None

    def _dependents(self, object_type, record_id):
        children = {
            "Account": (("Contact", "AccountId"), ("Opportunity", "AccountId")),
            "Opportunity": (("OpportunityLineItem", "OpportunityId"),),
        }.get(object_type, ())
        for child_type, field_name in children:
            for child in self.find_by(child_type, field_name, record_id):
                yield child_type, field_name, child

    def _reparent(self, object_type, loser_id, master_id):
        now = self.now()
        for _child_type, field_name, child in self._dependents(object_type, loser_id):
            child[field_name] = master_id
            self._touch(child, now, None)


def _same(stored, value):
    if stored is None or value is None:
        return stored is value
    if isinstance(stored, str) and is_valid_id(stored) and is_valid_id(value):
        return stored[:15] == str(value)[:15]
    if isinstance(stored, str):
        return stored.lower() == str(value).lower()
    return stored == value


def _not_found(object_type, record_id):
    return SalesforceError(
        404,
        "NOT_FOUND",
        f"The requested resource does not exist: {object_type} {record_id}",
    )
