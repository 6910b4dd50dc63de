"""Webhook bodies turned into sync-job values: one job per event.

Every job gets an idempotency key built from the sender's own event ID, so a
second delivery of the same event (HubSpot and Salesforce both retry, and
keep the ID across retries) maps to the job already stored:

- HubSpot: flow ``hubspot.webhook``, key ``hubspot:event:<eventId>``, the
  event as payload, the object type from ``subscriptionType``
  (``contact.creation`` gives ``contact``), the change time from
  ``occurredAt`` in epoch milliseconds.
- Salesforce Outbound Messages: flow ``salesforce.outbound_message``, key
  ``salesforce:notification:<Notification Id>``, the change time from
  ``SystemModstamp``, or ``LastModifiedDate`` when only that was selected.
- PSA: flow ``psa.webhook``, key ``psa:event:<id>``; the body is
  ``{"events": [...]}`` or one event ``{"id", "type", "object",
  "occurred_at"}``, ``occurred_at`` in ISO 8601 or Unix seconds.

Nothing here reads the database; the controller stores what these return.
"""

import json
import math
from datetime import UTC, datetime

MAX_ID_LENGTH = 255


class MalformedEvent(ValueError):
    """The body or one of its events lacks a part the intake needs."""


def load_json(body):
    """Parse a raw JSON body, raising `MalformedEvent` when it is not JSON.

    Values PostgreSQL cannot store in a jsonb payload are rejected too: NaN
    and infinite numbers, NUL characters and lone UTF-16 surrogates.
    """
    raw = isinstance(body, bytes)
    if raw:
        # Strict UTF-8: json.loads would let encoded lone surrogates through.
        try:
            body = body.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise MalformedEvent(f"The body is not valid UTF-8: {error}") from None
    try:
        value = json.loads(
            body, parse_constant=_reject_constant, parse_float=_finite_float
        )
    except MalformedEvent:
        raise
    except ValueError as error:
        raise MalformedEvent(f"The body is not valid JSON: {error}") from None
    # JSON text cannot hold a raw NUL, and strict UTF-8 no lone surrogate,
    # so in a body received as bytes only a \u escape can bring either.
    if not raw or "\\u" in body:
        _check_storable(value)
    return value


def _reject_constant(name):
    raise MalformedEvent(f"{name} is not a JSON number")


def _finite_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise MalformedEvent("The body contains a number too large to store.")
    return value


def _check_storable(value):
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, float) and not math.isfinite(item):
            raise MalformedEvent("The body contains a number too large to store.")
        elif isinstance(item, str):
            _check_storable_text(item)


def _check_storable_text(text):
    if "\x00" in text:
        raise MalformedEvent(
            "The body contains a NUL character, which cannot be stored."
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedEvent(
            "The body contains a lone UTF-16 surrogate, which is not valid Unicode."
        ) from None


def _event_id(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise MalformedEvent(f"An event has no usable {name}.")
    text = str(value).strip()
    if not text or len(text) > MAX_ID_LENGTH:
        raise MalformedEvent(f"An event has an empty or overlong {name}.")
    return text


def from_epoch(value, unit_seconds=1.0):
    """Return the naive UTC datetime of a Unix time, or False when absent."""
    if value is None or value == "":
        return False
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MalformedEvent(f"The event time {value!r} is not a number.")
    try:
        moment = datetime.fromtimestamp(value * unit_seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise MalformedEvent(f"The event time {value!r} is out of range.") from None
    return moment.replace(tzinfo=None)


def from_iso(value):
    """Return the naive UTC datetime of an ISO 8601 text, or False when absent."""
    if not value:
        return False
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise MalformedEvent(f"The event time {value!r} is not ISO 8601.") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def hubspot_jobs(body):
    """Return the job values of a HubSpot webhook body (a JSON array)."""
    events = load_json(body)
    if not isinstance(events, list) or not events:
        raise MalformedEvent("A HubSpot webhook body must be a non-empty JSON array.")
    return [_hubspot_job(event) for event in events]


def _hubspot_job(event):
    if not isinstance(event, dict):
        raise MalformedEvent("A HubSpot event must be a JSON object.")
    subscription = event.get("subscriptionType")
    if not isinstance(subscription, str) or not subscription:
        raise MalformedEvent("A HubSpot event has no subscriptionType.")
    return {
        "flow": "hubspot.webhook",
        "idempotency_key": "hubspot:event:"
        + _event_id(event.get("eventId"), "eventId"),
        "payload": event,
        "direction": "inbound",
        "external_model": subscription.partition(".")[0],
        "external_id": _event_id(event.get("objectId"), "objectId"),
        "external_updated_at": from_epoch(event.get("occurredAt"), unit_seconds=0.001),
    }


def salesforce_jobs(message):
    """Return the job values of a parsed Outbound Message (see soap.py)."""
    return [_salesforce_job(message, item) for item in message["notifications"]]


def _salesforce_job(message, notification):
    fields = notification["fields"]
    changed = fields.get("SystemModstamp") or fields.get("LastModifiedDate")
    return {
        "flow": "salesforce.outbound_message",
        "idempotency_key": "salesforce:notification:"
        + _event_id(notification["id"], "Notification Id"),
        "payload": {
            "object": notification["object"],
            "fields": fields,
            "action_id": message["action_id"],
            "organization_id": message["organization_id"],
        },
        "direction": "inbound",
        "external_model": notification["object"],
        "external_id": _event_id(fields["Id"], "sObject Id"),
        "external_updated_at": from_iso(changed),
    }


def psa_jobs(body):
    """Return the job values of a PSA webhook body: one event or a list."""
    document = load_json(body)
    if isinstance(document, dict) and "events" in document:
        events = document["events"]
    else:
        events = [document]
    if not isinstance(events, list) or not events:
        raise MalformedEvent(
            'A PSA webhook body must be an event or {"events": [...]}.'
        )
    return [_psa_job(event) for event in events]


def _psa_job(event):
    if not isinstance(event, dict):
        raise MalformedEvent("A PSA event must be a JSON object.")
    event_type = event.get("type")
    record = event.get("object")
    if (
        not isinstance(event_type, str)
        or not event_type
        or not isinstance(record, dict)
    ):
        raise MalformedEvent("A PSA event needs a type and an object.")
    occurred_at = event.get("occurred_at")
    if isinstance(occurred_at, str):
        changed = from_iso(occurred_at)
    else:
        changed = from_epoch(occurred_at)
    external_id = record.get("id")
    return {
        "flow": "psa.webhook",
        "idempotency_key": f"psa:event:{_event_id(event.get('id'), 'id')}",
        "payload": event,
        "direction": "inbound",
        "external_model": event_type.rpartition(".")[0] or event_type,
        "external_id": _event_id(external_id, "object id") if external_id else False,
        "external_updated_at": changed,
    }
