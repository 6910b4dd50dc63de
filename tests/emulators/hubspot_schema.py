"""Object types, property definitions and pipeline defaults of the HubSpot emulator.

Values follow HubSpot CRM v3: every property value travels as a string,
datetimes as ISO-8601 UTC, booleans as "true"/"false". Property types
decide how values are validated on write and compared in search filters.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from .base import epoch_ms, isoformat_ms, parse_iso

OBJECT_TYPES = ("companies", "contacts", "deals", "line_items")
SINGULAR = {
    "companies": "company",
    "contacts": "contact",
    "deals": "deal",
    "line_items": "line_item",
}
# Singular names and object type ids that clients may use in URLs.
OBJECT_TYPE_ALIASES = {
    **{name: name for name in OBJECT_TYPES},
    **{singular: plural for plural, singular in SINGULAR.items()},
    "0-1": "contacts",
    "0-2": "companies",
    "0-3": "deals",
    "0-8": "line_items",
}

# Stages of the default sales pipeline: (id, label, isClosed, probability).
# NOTE: this list comes from memory, not from a HubSpot page; clients must
# read the stage metadata instead of relying on these ids.
DEFAULT_STAGES = (
    ("appointmentscheduled", "Appointment Scheduled", False, 0.2),
    ("qualifiedtobuy", "Qualified To Buy", False, 0.4),
    ("presentationscheduled", "Presentation Scheduled", False, 0.6),
    ("decisionmakerboughtin", "Decision Maker Bought-In", False, 0.8),
    ("contractsent", "Contract Sent", False, 0.9),
    ("closedwon", "Closed Won", True, 1.0),
    ("closedlost", "Closed Lost", True, 0.0),
)

# HUBSPOT_DEFINED association type ids of default associations.
# NOTE: only contact to company (279) is documented; the others are from
# memory, which is why clients should read them from the labels endpoint.
DEFAULT_ASSOCIATION_TYPES = {
    ("contacts", "companies"): 279,
    ("companies", "contacts"): 280,
    ("deals", "companies"): 341,
    ("companies", "deals"): 342,
    ("deals", "contacts"): 3,
    ("contacts", "deals"): 4,
    ("line_items", "deals"): 20,
    ("deals", "line_items"): 19,
}

# Properties returned when a request names none.
DEFAULT_RETURNED = {
    "companies": (
        "createdate",
        "domain",
        "hs_lastmodifieddate",
        "hs_object_id",
        "name",
    ),
    "contacts": (
        "createdate",
        "email",
        "firstname",
        "hs_object_id",
        "lastmodifieddate",
        "lastname",
    ),
    "deals": (
        "amount",
        "closedate",
        "createdate",
        "dealname",
        "dealstage",
        "hs_lastmodifieddate",
        "hs_object_id",
        "pipeline",
    ),
    "line_items": (
        "amount",
        "createdate",
        "hs_lastmodifieddate",
        "hs_object_id",
        "name",
        "price",
        "quantity",
    ),
}

# Properties searched by the free-text `query` of a search request.
QUERY_PROPERTIES = {
    "companies": ("name", "domain", "website", "phone"),
    "contacts": ("firstname", "lastname", "email", "phone", "company"),
    "deals": ("dealname",),
    "line_items": ("name", "hs_sku"),
}

_ERROR_CODES = {
    "number": "INVALID_FLOAT",
    "datetime": "INVALID_DATETIME",
    "date": "INVALID_DATE",
    "bool": "INVALID_BOOLEAN",
    "enumeration": "INVALID_OPTION",
}


@dataclass
class PropertyDefinition:
    """A property of one object type: its type, uniqueness and write rules."""

    name: str
    label: str = ""
    type: str = "string"
    field_type: str = "text"
    group_name: str = "emulator_information"
    unique: bool = False
    read_only: bool = False
    options: tuple = ()
    hubspot_defined: bool = False

    @property
    def error_code(self):
        """Return HubSpot's validation error code for a bad value of this type."""
        return _ERROR_CODES.get(self.type, "INVALID_VALUE")

    def normalize(self, raw):
        """Return `raw` as HubSpot stores it, or raise ValueError if invalid."""
        if raw is None or raw == "":
            return "" if raw == "" else None
        normalizer = getattr(self, f"_normalize_{self.type}", None)
        return normalizer(raw) if normalizer else str(raw)

    def filter_key(self, value):
        """Return `value` in the form search filters compare for this type."""
        text = str(value).strip()
        if self.type == "number":
            return float(text)
        if self.type in ("datetime", "date"):
            return _to_epoch_ms(text)
        return text.casefold()

    def to_json(self):
        """Return the definition as the properties API shows it."""
        return {
            "name": self.name,
            "label": self.label or self.name,
            "type": self.type,
            "fieldType": self.field_type,
            "groupName": self.group_name,
            "description": "",
            "options": [
                {"label": option, "value": option, "hidden": False}
                for option in self.options
            ],
            "hasUniqueValue": self.unique,
            "hubspotDefined": self.hubspot_defined,
            "modificationMetadata": {
                "archivable": not self.hubspot_defined,
                "readOnlyDefinition": self.hubspot_defined,
                "readOnlyValue": self.read_only,
            },
            "calculated": self.read_only,
            "archived": False,
        }

    def _normalize_number(self, raw):
        if isinstance(raw, bool):
            raise ValueError(f"{raw!r} is not a valid number for {self.name}")
        try:
            number = float(raw)
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"{raw!r} is not a valid number for {self.name}"
            ) from error
        if isinstance(raw, str):
            return raw.strip()
        return str(int(number)) if number.is_integer() else repr(number)

    def _normalize_datetime(self, raw):
        try:
            return isoformat_ms(datetime.fromtimestamp(_to_epoch_ms(raw) / 1000, UTC))
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"{raw!r} is not a valid datetime for {self.name}"
            ) from error

    def _normalize_date(self, raw):
        try:
            moment = datetime.fromtimestamp(_to_epoch_ms(raw) / 1000, UTC)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{raw!r} is not a valid date for {self.name}") from error
        return moment.date().isoformat()

    def _normalize_bool(self, raw):
        text = str(raw).strip().lower()
        if text not in ("true", "false"):
            raise ValueError(f"{raw!r} is not a valid boolean for {self.name}")
        return text

    def _normalize_enumeration(self, raw):
        text = str(raw)
        if self.options:
            unknown = [part for part in text.split(";") if part not in self.options]
            if unknown:
                raise ValueError(
                    f"{unknown[0]!r} was not one of the allowed options for "
                    f"{self.name}: {', '.join(self.options)}"
                )
        return text


def _to_epoch_ms(value):
    text = str(value).strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        text += "T00:00:00Z"
    return epoch_ms(parse_iso(text))


def _defined(name, type="string", **options):
    return PropertyDefinition(name, type=type, hubspot_defined=True, **options)


_COMMON = (
    _defined("hs_object_id", "number", read_only=True),
    _defined("createdate", "datetime"),
    _defined("hs_merged_object_ids", "enumeration", read_only=True),
    _defined("hubspot_owner_id", "enumeration"),
)

_BY_TYPE = {
    "companies": (
        _defined("name"),
        _defined("domain"),
        _defined("website"),
        _defined("phone"),
        _defined("address"),
        _defined("address2"),
        _defined("city"),
        _defined("zip"),
        _defined("state"),
        _defined("country"),
        _defined("industry"),
        _defined("description"),
        _defined("numberofemployees", "number"),
        _defined("annualrevenue", "number"),
        _defined("hs_lastmodifieddate", "datetime", read_only=True),
        _defined("lastmodifieddate", "datetime", read_only=True),
    ),
    "contacts": (
        _defined("email", unique=True),
        _defined("firstname"),
        _defined("lastname"),
        _defined("phone"),
        _defined("mobilephone"),
        _defined("company"),
        _defined("jobtitle"),
        _defined("address"),
        _defined("city"),
        _defined("zip"),
        _defined("state"),
        _defined("country"),
        _defined("lifecyclestage", "enumeration"),
        _defined("associatedcompanyid", "number"),
        _defined("lastmodifieddate", "datetime", read_only=True),
        _defined("hs_calculated_merged_vids", "enumeration", read_only=True),
    ),
    "deals": (
        _defined("dealname"),
        _defined("amount", "number"),
        _defined("deal_currency_code", "enumeration"),
        _defined("pipeline", "enumeration"),
        _defined("dealstage", "enumeration"),
        _defined("closedate", "datetime"),
        _defined("dealtype", "enumeration"),
        _defined("description"),
        _defined("hs_lastmodifieddate", "datetime", read_only=True),
        _defined("hs_is_closed_won", "bool", read_only=True),
    ),
    "line_items": (
        _defined("name"),
        _defined("quantity", "number"),
        _defined("price", "number"),
        _defined("amount", "number", read_only=True),
        _defined("hs_product_id", "number"),
        _defined("hs_sku"),
        _defined("description"),
        _defined("recurringbillingfrequency", "enumeration"),
        _defined("hs_lastmodifieddate", "datetime", read_only=True),
    ),
}


def default_properties(object_type, config):
    """Return fresh definitions of the HubSpot-defined properties of a type."""
    definitions = {}
    for definition in _COMMON + _BY_TYPE[object_type]:
        definitions[definition.name] = PropertyDefinition(**vars(definition))
    if object_type == "companies":
        for name in ("hs_lastmodifieddate", "lastmodifieddate"):
            if name not in config.company_modified_properties:
                definitions.pop(name)
    return definitions
