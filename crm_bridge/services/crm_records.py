"""HubSpot and Salesforce records turned into the bridge's neutral shapes.

The rest of the bridge works on plain dicts that look the same for both
CRMs: a partner (company or person), a deal and its line items. A key that
is absent means the CRM did not send that value, so the bridge leaves the
Odoo field alone. An empty value is treated the same way, because a CRM
that lacks a street must not erase the street Odoo has.
"""

import math
import re
import unicodedata
from datetime import UTC, date, datetime

from .salesforce_ids import to_18_or_none

# Maximum length of a stored name. res.partner indexes names, and PostgreSQL
# rejects an index entry of more than a few kilobytes, so 500 characters keep
# a name under 2 KB even in four-byte UTF-8.
NAME_MAX_LENGTH = 500


class MalformedRecord(ValueError):
    """A record lacks a value the bridge needs, or a value cannot be read."""


def parse_timestamp(value):
    """Return a naive UTC datetime from ISO 8601 text or epoch milliseconds."""
    if value in (None, "", False):
        return None
    text = str(value).strip()
    if re.fullmatch(r"\d{10,}", text):
        try:
            moment = datetime.fromtimestamp(int(text) / 1000, UTC)
        except (OverflowError, OSError, ValueError) as error:
            raise MalformedRecord(f"{text} is not a time in epoch ms") from error
        return moment.replace(tzinfo=None)
    text = text.replace("Z", "+00:00")
    text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise MalformedRecord(f"{_quote(value)} is not a timestamp") from error
    if moment.tzinfo:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def parse_date(value):
    """Return the calendar date of a CRM date or datetime value, or None."""
    if not value:
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    text = str(value).strip()
    if not text:
        return None
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return parse_timestamp(text).date()
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise MalformedRecord(f"{text} is not a calendar date") from error


def parse_number(value, label, minimum=None):
    """Return a float from a CRM number (sent as text), or None when empty.

    NaN, infinities and a value below `minimum` raise `MalformedRecord`.
    """
    if value in (None, "", False):
        return None
    try:
        number = float(str(value).strip())
    except ValueError as error:
        raise MalformedRecord(f"{label} {_quote(value)} is not a number") from error
    if not math.isfinite(number):
        raise MalformedRecord(f"{label} {_quote(value)} is not a finite number")
    if minimum is not None and number < minimum:
        raise MalformedRecord(f"{label} {_quote(value)} is below {minimum:g}")
    return number


def parse_bool(value):
    """Return a CRM boolean sent as a JSON boolean or as "true"/"false" text."""
    if isinstance(value, bool):
        return value
    return str(value or "").strip().lower() == "true"


def split_ids(value):
    """Return the ids of a semicolon- or comma-separated HubSpot id list."""
    return [
        part.strip() for part in re.split(r"[;,]", str(value or "")) if part.strip()
    ]


def _clean(values):
    """Drop keys whose value is empty: the CRM did not provide them."""
    return {key: value for key, value in values.items() if value not in (None, "", [])}


def _text(value):
    """Return a CRM text value without surrounding blanks, or None when empty.

    A value with no visible character (blanks and zero-width characters
    only) is empty. A list or an object is not text and raises
    `MalformedRecord`.
    """
    if value in (None, False):
        return None
    if isinstance(value, (list, dict)):
        raise MalformedRecord(f"{_quote(value)} is a list or an object, not text")
    text = str(value).strip()
    visible = [char for char in text if unicodedata.category(char) != "Cf"]
    return text if "".join(visible).strip() else None


def _name(value, label):
    """Return a name as `_text` does; raise when it is too long to store."""
    text = _text(value)
    if text and len(text) > NAME_MAX_LENGTH:
        raise MalformedRecord(
            f"{label} is {len(text)} characters long; Odoo stores at most "
            f"{NAME_MAX_LENGTH}"
        )
    return text


def _quote(value):
    """Return the repr of a received value, cut to a length a message can show."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


# ----------------------------------------------------------------------
# HubSpot
# ----------------------------------------------------------------------


def _hubspot_common(record):
    if not isinstance(record, dict) or not isinstance(
        record.get("properties", {}), dict
    ):
        raise MalformedRecord("the HubSpot record is not an object with properties")
    if not record.get("id"):
        raise MalformedRecord("the HubSpot record has no id")
    props = record.get("properties") or {}
    return props, {
        "ref": str(record["id"]),
        "updated_at": parse_timestamp(
            record.get("updatedAt")
            or props.get("hs_lastmodifieddate")
            or props.get("lastmodifieddate")
        ),
        "archived": bool(record.get("archived")),
        "merged_ids": split_ids(props.get("hs_merged_object_ids")),
    }


def associated_ids(record, to_type):
    """Return the ids a record read with `?associations=` lists for `to_type`.

    Returns None when the record was read without associations, so the
    caller knows to ask the associations API instead.
    """
    links = record.get("associations")
    if not isinstance(links, dict):
        return None
    group = links.get(to_type) or links.get(to_type.replace("_", " ")) or {}
    return [str(row["id"]) for row in group.get("results", []) if row.get("id")]


def hubspot_company(record, vat_property=None):
    """Return the neutral partner dict of a HubSpot company."""
    props, common = _hubspot_common(record)
    values = {
        "is_company": True,
        "name": _name(props.get("name"), "name"),
        "website": _text(props.get("website") or props.get("domain")),
        "domain": _text(props.get("domain")),
        "phone": _text(props.get("phone")),
        "street": _text(props.get("address")),
        "street2": _text(props.get("address2")),
        "city": _text(props.get("city")),
        "zip": _text(props.get("zip")),
        "state": _text(props.get("state")),
        "country": _text(props.get("country")),
        "vat": _text(props.get(vat_property)) if vat_property else None,
    }
    return {**common, **_clean(values)}


def hubspot_contact(record):
    """Return the neutral partner dict of a HubSpot contact."""
    props, common = _hubspot_common(record)
    first = _name(props.get("firstname"), "firstname")
    last = _name(props.get("lastname"), "lastname")
    values = {
        "is_company": False,
        "name": " ".join(part for part in (first, last) if part) or None,
        "email": _text(props.get("email")),
        "phone": _text(props.get("phone")),
        "mobile": _text(props.get("mobilephone")),
        "function": _text(props.get("jobtitle")),
        "street": _text(props.get("address")),
        "city": _text(props.get("city")),
        "zip": _text(props.get("zip")),
        "state": _text(props.get("state")),
        "country": _text(props.get("country")),
        "parent_ref": _text(props.get("associatedcompanyid"))
        or next(iter(associated_ids(record, "companies") or []), None),
    }
    return {**common, **_clean(values)}


def hubspot_deal(record):
    """Return the neutral deal dict of a HubSpot deal (won is decided later)."""
    props, common = _hubspot_common(record)
    values = {
        "name": _name(props.get("dealname"), "dealname"),
        "amount": parse_number(props.get("amount"), "amount", minimum=0),
        "currency": _text(props.get("deal_currency_code")),
        "close_date": parse_date(props.get("closedate")),
        "pipeline": _text(props.get("pipeline")) or "default",
        "stage": _text(props.get("dealstage")),
        "owner_ref": _text(props.get("hubspot_owner_id")),
    }
    deal = {**common, **_clean(values)}
    companies = associated_ids(record, "companies")
    if companies is not None:
        deal["associated"] = {
            "companies": companies,
            "line_items": associated_ids(record, "line_items"),
        }
    return deal


def hubspot_line_item(record):
    """Return the neutral line dict of a HubSpot line item."""
    props, common = _hubspot_common(record)
    values = {
        "name": _name(props.get("name"), "name"),
        "quantity": parse_number(props.get("quantity"), "quantity"),
        "price": parse_number(props.get("price"), "price"),
        "product_ref": _text(props.get("hs_product_id")),
        "sku": _text(props.get("hs_sku")),
        "description": _text(props.get("description")),
    }
    return {"ref": common["ref"], **_clean(values)}


# ----------------------------------------------------------------------
# Salesforce
# ----------------------------------------------------------------------


def _salesforce_id(fields, name="Id", required=True):
    if not isinstance(fields, dict):
        raise MalformedRecord("the Salesforce record is not an object")
    value = fields.get(name)
    if not value:
        if required:
            raise MalformedRecord(f"the Salesforce record has no {name}")
        return None
    identifier = to_18_or_none(value) if isinstance(value, str) else None
    if not identifier:
        raise MalformedRecord(f"{name} {_quote(value)} is not a Salesforce id")
    return identifier


def _related(fields, name):
    value = fields.get(name)
    return value if isinstance(value, dict) else {}


def _salesforce_common(fields):
    if not isinstance(fields, dict):
        raise MalformedRecord("the Salesforce record is not an object")
    return {
        "ref": _salesforce_id(fields),
        "updated_at": parse_timestamp(
            fields.get("SystemModstamp") or fields.get("LastModifiedDate")
        ),
        "archived": parse_bool(fields.get("IsDeleted")),
        "merged_ids": [],
    }


def salesforce_account(fields, vat_field=None):
    """Return the neutral partner dict of an Account (SOQL record or message)."""
    values = {
        "is_company": True,
        "name": _name(fields.get("Name"), "Name"),
        "website": _text(fields.get("Website")),
        "phone": _text(fields.get("Phone")),
        "street": _text(fields.get("BillingStreet")),
        "city": _text(fields.get("BillingCity")),
        "zip": _text(fields.get("BillingPostalCode")),
        "state": _text(fields.get("BillingStateCode") or fields.get("BillingState")),
        "country": _text(
            fields.get("BillingCountryCode") or fields.get("BillingCountry")
        ),
        "vat": _text(fields.get(vat_field)) if vat_field else None,
    }
    return {**_salesforce_common(fields), **_clean(values)}


def salesforce_contact(fields):
    """Return the neutral partner dict of a Contact."""
    first = _name(fields.get("FirstName"), "FirstName")
    last = _name(fields.get("LastName"), "LastName")
    values = {
        "is_company": False,
        "name": " ".join(part for part in (first, last) if part) or None,
        "email": _text(fields.get("Email")),
        "phone": _text(fields.get("Phone")),
        "mobile": _text(fields.get("MobilePhone")),
        "function": _text(fields.get("Title")),
        "street": _text(fields.get("MailingStreet")),
        "city": _text(fields.get("MailingCity")),
        "zip": _text(fields.get("MailingPostalCode")),
        "state": _text(fields.get("MailingStateCode") or fields.get("MailingState")),
        "country": _text(
            fields.get("MailingCountryCode") or fields.get("MailingCountry")
        ),
        "parent_ref": _salesforce_id(fields, "AccountId", required=False),
    }
    return {**_salesforce_common(fields), **_clean(values)}


def salesforce_opportunity(fields):
    """Return the neutral deal dict of an Opportunity."""
    values = {
        "name": _name(fields.get("Name"), "Name"),
        "amount": parse_number(fields.get("Amount"), "Amount", minimum=0),
        "currency": _text(fields.get("CurrencyIsoCode")),
        "close_date": parse_date(fields.get("CloseDate")),
        "stage": _text(fields.get("StageName")),
        "owner_ref": _salesforce_id(fields, "OwnerId", required=False),
        "owner_email": _text(_related(fields, "Owner").get("Email")),
        "company_ref": _salesforce_id(fields, "AccountId", required=False),
    }
    deal = {**_salesforce_common(fields), **_clean(values)}
    deal["is_won"] = parse_bool(fields.get("IsWon"))
    deal["is_closed"] = parse_bool(fields.get("IsClosed"))
    return deal


def salesforce_line_item(fields):
    """Return the neutral line dict of an OpportunityLineItem."""
    values = {
        "name": _name(fields.get("Name"), "Name"),
        "quantity": parse_number(fields.get("Quantity"), "Quantity"),
        "price": parse_number(fields.get("UnitPrice"), "UnitPrice"),
        "product_ref": _salesforce_id(fields, "Product2Id", required=False),
        "sku": _text(fields.get("ProductCode")),
        "description": _text(fields.get("Description")),
    }
    return {"ref": _salesforce_id(fields), **_clean(values)}
