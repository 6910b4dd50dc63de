"""Record ids, field definitions and stage defaults of the Salesforce emulator.

Ids are base-62, case-sensitive, 15 characters with a 3-character key
prefix; REST returns the 18-character form, whose 3-character suffix lets a
case-insensitive comparison tell ids apart. Field definitions decide which
values a write accepts, how JSON values are converted and which SOQL
literals a filter on the field takes.
"""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from .base import parse_iso

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX_CHARACTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
# A prime that shares no factor with 62, so spreading serials keeps them unique.
_SPREAD = 1_000_000_007

KEY_PREFIXES = {
    "Account": "001",
    "Contact": "003",
    "Opportunity": "006",
    "OpportunityLineItem": "00k",
    "User": "005",
    "Product2": "01t",
    "OpportunityStage": "01J",
    "Organization": "00D",
    "QueryLocator": "01g",
    "OutboundMessageAction": "04k",
    "OutboundNotification": "04l",
}


def checksum_suffix(id15):
    """Return the 3-character suffix that turns a 15-character id into 18.

    Each 5-character chunk gives one character: character j of the chunk
    adds 2**j when it is an uppercase letter A-Z, and the sum (0..31)
    indexes "A".."Z" then "0".."5".
    """
    if len(id15) != 15:
        raise ValueError(
            f"A Salesforce id has 15 characters before the suffix: {id15!r}"
        )
    suffix = ""
    for start in (0, 5, 10):
        chunk = id15[start : start + 5]
        bits = sum(1 << index for index, char in enumerate(chunk) if "A" <= char <= "Z")
        suffix += _SUFFIX_CHARACTERS[bits]
    return suffix


def to_18(record_id):
    """Return the 18-character form of a 15- or 18-character id."""
    record_id = str(record_id)
    if len(record_id) == 18:
        return record_id[:15] + checksum_suffix(record_id[:15])
    return record_id + checksum_suffix(record_id)


def is_valid_id(value):
    """Return whether `value` has the shape of a 15- or 18-character id.

    An 18-character id must carry the right suffix; Salesforce compares the
    suffix case-insensitively.
    """
    text = str(value or "")
    if len(text) not in (15, 18) or not re.fullmatch(r"[0-9A-Za-z]+", text):
        return False
    return len(text) == 15 or text[15:].upper() == checksum_suffix(text[:15])


def make_id(prefix, number):
    """Return the 18-character id with key prefix `prefix` and serial `number`.

    The two characters after the prefix stand for the instance, as in real
    ids. The serial is spread over the remaining ten base-62 characters by
    a multiplication that is one-to-one modulo 62**10, so ids differ in
    case as real ones do and exercise the checksum.
    """
    number = (number * _SPREAD) % 62**10
    digits = ""
    while number:
        number, remainder = divmod(number, 62)
        digits = BASE62[remainder] + digits
    return to_18(prefix + "5g" + digits.rjust(10, "0"))


@dataclass
class FieldDefinition:
    """One field of an sObject type and the rules for writing it."""

    name: str
    type: str = "string"
    createable: bool = True
    updateable: bool = True
    nillable: bool = True
    external_id: bool = False
    reference_to: str | None = None
    relationship_name: str | None = None
    custom: bool = False

    def to_json_value(self, value):
        """Return a stored value as REST JSON shows it."""
        if value is None:
            return None
        if self.type == "datetime":
            return format_datetime(value)
        if self.type == "date":
            return value.isoformat()
        return value

    def from_json(self, value):
        """Convert a JSON value for this field; raise ValueError if invalid."""
        if value is None:
            return None
        converter = _CONVERTERS.get(self.type)
        return converter(value) if converter else str(value)

    def describe(self):
        """Return the field as the describe endpoint lists it."""
        return {
            "name": self.name,
            "type": _DESCRIBE_TYPES.get(self.type, self.type),
            "createable": self.createable,
            "updateable": self.updateable,
            "nillable": self.nillable,
            "externalId": self.external_id,
            "idLookup": self.external_id or self.name == "Id",
            "referenceTo": [self.reference_to] if self.reference_to else [],
            "relationshipName": self.relationship_name,
            "custom": self.custom,
        }


def format_datetime(value):
    """Format an aware datetime as Salesforce does: 2024-06-03T08:00:00.000+0000."""
    value = value.astimezone(UTC)
    return (
        value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"
    )


def _to_bool(value):
    if isinstance(value, bool):
        return value
    raise ValueError(f"{value!r} is not a boolean")


def _to_number(value):
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{value!r} is not a number")
    return float(value)


def _to_int(value):
    number = _to_number(value)
    if not float(number).is_integer():
        raise ValueError(f"{value!r} is not an integer")
    return int(number)


def _to_date(value):
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    return date.fromisoformat(str(value)[:10])


def _to_datetime(value):
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return parse_iso(str(value))


def _to_reference(value):
    if not is_valid_id(value):
        raise ValueError(f"{value!r} is not a valid Salesforce id")
    return to_18(value)


_CONVERTERS = {
    "boolean": _to_bool,
    "double": _to_number,
    "currency": _to_number,
    "percent": _to_number,
    "int": _to_int,
    "date": _to_date,
    "datetime": _to_datetime,
    "reference": _to_reference,
    "id": _to_reference,
}
_DESCRIBE_TYPES = {"string": "string", "datetime": "datetime"}


def _field(name, type="string", **options):
    return FieldDefinition(name, type, **options)


def _system(name, type="datetime", **options):
    return FieldDefinition(name, type, createable=False, updateable=False, **options)


def _reference(name, target, relationship, **options):
    return FieldDefinition(
        name,
        "reference",
        reference_to=target,
        relationship_name=relationship,
        **options,
    )


_SYSTEM_FIELDS = (
    _system("Id", "id", nillable=False),
    _system("IsDeleted", "boolean", nillable=False),
    _system("CreatedDate"),
    _system("LastModifiedDate"),
    _system("SystemModstamp"),
    _system("CreatedById", "reference", reference_to="User"),
    _system("LastModifiedById", "reference", reference_to="User"),
)

_OWNER = _reference("OwnerId", "User", "Owner")
_CURRENCY = _field("CurrencyIsoCode", "picklist")

OBJECT_FIELDS = {
    "Account": (
        _field("Name", nillable=False),
        _field("AccountNumber"),
        _field("Type", "picklist"),
        _field("Industry", "picklist"),
        _field("Phone"),
        _field("Website"),
        _field("Description"),
        _field("BillingStreet"),
        _field("BillingCity"),
        _field("BillingPostalCode"),
        _field("BillingState"),
        _field("BillingCountry"),
        _field("NumberOfEmployees", "int"),
        _reference("ParentId", "Account", "Parent"),
        _system("MasterRecordId", "reference", reference_to="Account"),
        _OWNER,
        _CURRENCY,
    ),
    "Contact": (
        _reference("AccountId", "Account", "Account"),
        _field("FirstName"),
        _field("LastName", nillable=False),
        _system("Name", "string"),
        _field("Email"),
        _field("Phone"),
        _field("MobilePhone"),
        _field("Title"),
        _field("MailingStreet"),
        _field("MailingCity"),
        _field("MailingPostalCode"),
        _field("MailingState"),
        _field("MailingCountry"),
        _system("MasterRecordId", "reference", reference_to="Contact"),
        _OWNER,
        _CURRENCY,
    ),
    "Opportunity": (
        _field("Name", nillable=False),
        _reference("AccountId", "Account", "Account"),
        _field("StageName", "picklist", nillable=False),
        _field("Amount", "currency"),
        _field("CloseDate", "date", nillable=False),
        _field("Probability", "percent"),
        _field("Type", "picklist"),
        _field("Description"),
        _system("IsWon", "boolean", nillable=False),
        _system("IsClosed", "boolean", nillable=False),
        _OWNER,
        _CURRENCY,
    ),
    "OpportunityLineItem": (
        _reference("OpportunityId", "Opportunity", "Opportunity", updateable=False),
        _reference("Product2Id", "Product2", "Product2"),
        _field("Name", createable=False, updateable=False),
        _system("ProductCode", "string"),
        _field("Description"),
        _field("Quantity", "double", nillable=False),
        _field("UnitPrice", "currency"),
        _system("TotalPrice", "currency"),
        _field("ServiceDate", "date"),
        _CURRENCY,
    ),
    "Product2": (
        _field("Name", nillable=False),
        _field("ProductCode"),
        _field("Description"),
        _field("IsActive", "boolean"),
        _CURRENCY,
    ),
    "User": (
        _field("Username", nillable=False),
        _field("Email", nillable=False),
        _field("FirstName"),
        _field("LastName", nillable=False),
        _system("Name", "string"),
        _field("IsActive", "boolean"),
        _field("Alias"),
        _field("CompanyName"),
    ),
    "OpportunityStage": (
        _system("MasterLabel", "string"),
        _system("ApiName", "string"),
        _system("IsActive", "boolean"),
        _system("IsClosed", "boolean"),
        _system("IsWon", "boolean"),
        _system("DefaultProbability", "percent"),
        _system("SortOrder", "int"),
    ),
}

REQUIRED_ON_CREATE = {
    "Account": ("Name",),
    "Contact": ("LastName",),
    "Opportunity": ("Name", "StageName", "CloseDate"),
    "OpportunityLineItem": ("OpportunityId", "Quantity"),
    "Product2": ("Name",),
    "User": ("Username", "Email", "LastName"),
}

# Default opportunity stages of a new org: (name, IsClosed, IsWon, probability).
DEFAULT_STAGES = (
    ("Prospecting", False, False, 10),
    ("Qualification", False, False, 10),
    ("Needs Analysis", False, False, 20),
    ("Value Proposition", False, False, 50),
    ("Id. Decision Makers", False, False, 60),
    ("Perception Analysis", False, False, 70),
    ("Proposal/Price Quote", False, False, 75),
    ("Negotiation/Review", False, False, 90),
    ("Closed Won", True, True, 100),
    ("Closed Lost", True, False, 0),
)


def object_fields(object_type, multi_currency):
    """Return {name: FieldDefinition} of an sObject type."""
    fields = {field.name: field for field in _SYSTEM_FIELDS}
    for field in OBJECT_FIELDS[object_type]:
        if field.name == "CurrencyIsoCode" and not multi_currency:
            continue
        fields[field.name] = FieldDefinition(**vars(field))
    if object_type == "OpportunityStage":
        for name in ("CreatedById", "LastModifiedById"):
            fields.pop(name)
    return fields
