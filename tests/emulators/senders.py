"""Push deliveries as HubSpot and Salesforce send them, for intake tests.

`HubSpotWebhookSender` posts JSON arrays of up to 100 events, signed with
the v1, v2 or v3 scheme, and retries a failed delivery with the same
`eventId`s and a higher `attemptNumber`. `OutboundMessageSender` posts
Salesforce Outbound Message SOAP envelopes and counts a delivery as done
only when the response is the `notificationsResponse` acknowledgement with
`Ack` true. Both only target URLs on loopback, record every attempt and
take their sleep function as an argument so tests need not wait.
"""

import base64
import copy
import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit
from xml.etree import ElementTree
from xml.sax.saxutils import escape, quoteattr

import requests

from .salesforce_schema import KEY_PREFIXES, make_id

_logger = logging.getLogger(__name__)

HUBSPOT_USER_AGENT = (
    "HubSpot Connect 2.0 (http://dev.hubspot.com/) (namespace: "
    "webhooks-nio-http-client) - WebhooksExecutorDaemon-executor"
)
# HubSpot's old documentation: 10 retries, doubling from 2 minutes. The
# senders default to a fast schedule so tests finish quickly.
HUBSPOT_VENDOR_RETRY_DELAYS = tuple(120 * 2**attempt for attempt in range(10))
FAST_RETRY_DELAYS = (0.05, 0.1, 0.2, 0.4, 0.8)
# Statuses HubSpot does not retry. Every other non-2xx status is retried.
HUBSPOT_FINAL_STATUSES = frozenset({400, 401, 403, 404, 405})
HUBSPOT_MAX_EVENTS = 100

SOAP_ENVELOPE_NS = "http://schemas.xmlsoap.org/soap/envelope/"
OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
SOBJECT_NS = "urn:sobject.enterprise.soap.sforce.com"
SALESFORCE_MAX_NOTIFICATIONS = 100
_LOOPBACK = ("127.0.0.1", "::1", "localhost")


def hubspot_signature_v1(client_secret, body):
    """Return the v1 signature: hex SHA-256 of secret + raw body."""
    return hashlib.sha256(client_secret.encode() + _bytes(body)).hexdigest()


def hubspot_signature_v2(client_secret, method, uri, body):
    """Return the v2 signature: hex SHA-256 of secret + method + URI + body."""
    source = client_secret.encode() + method.encode() + uri.encode() + _bytes(body)
    return hashlib.sha256(source).hexdigest()


def hubspot_signature_v3(client_secret, method, uri, body, timestamp_ms):
    """Return the v3 signature: Base64 HMAC-SHA256 of method+URI+body+timestamp."""
    source = method.encode() + uri.encode() + _bytes(body) + str(timestamp_ms).encode()
    digest = hmac.new(client_secret.encode(), source, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _bytes(body):
    return body.encode() if isinstance(body, str) else (body or b"")


def _check_loopback(url):
    host = urlsplit(url).hostname
    if host not in _LOOPBACK:
        raise ValueError(f"Senders only deliver to loopback addresses, not {host!r}")


@dataclass
class Attempt:
    """One HTTP attempt of a delivery."""

    number: int
    status: int | None
    error: str | None
    headers: dict
    body: bytes
    response_text: str = ""
    accepted: bool = False
    response_headers: dict = field(default_factory=dict)


@dataclass
class Delivery:
    """All attempts to deliver one batch, and whether it was accepted."""

    attempts: list = field(default_factory=list)
    delivered: bool = False
    gave_up: bool = False

    @property
    def statuses(self):
        """Return the HTTP status (or None after a network error) of each attempt."""
        return [attempt.status for attempt in self.attempts]


class _RetryingSender:
    """Retry loop shared by both senders."""

    def __init__(self, url, timeout, retry_delays, sleep, session):
        _check_loopback(url)
        self.url = url
        self.timeout = timeout
        self.retry_delays = tuple(retry_delays)
        self.sleep = sleep
        self.session = session or requests.Session()

    def _deliver(self, build_request, is_accepted, is_final):
        delivery = Delivery()
        for number in range(len(self.retry_delays) + 1):
            headers, body = build_request(number)
            attempt = self._attempt(number, headers, body, is_accepted)
            delivery.attempts.append(attempt)
            if attempt.accepted:
                delivery.delivered = True
                return delivery
            if attempt.status is not None and is_final(attempt.status):
                break
            if number < len(self.retry_delays):
                self.sleep(self._delay(number, attempt))
        delivery.gave_up = True
        _logger.warning(
            "Delivery to %s failed after %s attempts", self.url, len(delivery.attempts)
        )
        return delivery

    def _attempt(self, number, headers, body, is_accepted):
        try:
            response = self.session.post(
                self.url, data=body, headers=headers, timeout=self.timeout
            )
        except requests.RequestException as error:
            _logger.info(
                "Delivery attempt %s to %s failed: %s", number, self.url, error
            )
            return Attempt(number, None, type(error).__name__, headers, body)
        attempt = Attempt(
            number, response.status_code, None, headers, body, response.text
        )
        attempt.response_headers = dict(response.headers)
        attempt.accepted = is_accepted(response)
        return attempt

    def _delay(self, number, attempt):
        return self.retry_delays[number]


class HubSpotWebhookSender(_RetryingSender):
    """Posts HubSpot webhook batches to a receiver, with signatures and retries.

    `signature_versions` lists the signatures to send: "v1" or "v2" in
    `X-HubSpot-Signature` (with `X-HubSpot-Signature-Version`), and "v3" in
    `X-HubSpot-Signature-v3` with `X-HubSpot-Request-Timestamp`. Real
    deliveries carry v1 and v3 together. `signed_url` is the URL the
    signatures cover (by default the target URL), so a test can sign the
    public URL a proxy forwards from. `clock` returns epoch seconds and sets
    the v3 timestamp.
    """

    def __init__(
        self,
        url,
        client_secret,
        *,
        signature_versions=("v1", "v3"),
        signed_url=None,
        timeout=10.0,
        retry_delays=FAST_RETRY_DELAYS,
        sleep=time.sleep,
        clock=time.time,
        session=None,
        ensure_ascii=False,
    ):
        super().__init__(url, timeout, retry_delays, sleep, session)
        if "v1" in signature_versions and "v2" in signature_versions:
            raise ValueError("v1 and v2 share one header; send one of them")
        self.client_secret = client_secret
        self.signature_versions = tuple(signature_versions)
        self.signed_url = signed_url or url
        self.clock = clock
        self.ensure_ascii = ensure_ascii

    def send(self, events):
        """Deliver events in batches of up to 100; return one Delivery per batch."""
        events = list(events)
        return [
            self.deliver(events[start : start + HUBSPOT_MAX_EVENTS])
            for start in range(0, len(events), HUBSPOT_MAX_EVENTS)
        ]

    def deliver(self, events):
        """Deliver one batch, retrying with the same eventIds until accepted."""
        if len(events) > HUBSPOT_MAX_EVENTS:
            raise ValueError(f"A batch holds at most {HUBSPOT_MAX_EVENTS} events")

        def build(number):
            batch = copy.deepcopy(events)
            for event in batch:
                event["attemptNumber"] = number
            body = json.dumps(
                batch, separators=(",", ":"), ensure_ascii=self.ensure_ascii
            )
            body = body.encode()
            return self.headers_for(body), body

        return self._deliver(build, _is_2xx, HUBSPOT_FINAL_STATUSES.__contains__)

    def headers_for(self, body, method="POST"):
        """Return the request headers, signatures included, for a raw body."""
        timestamp_ms = int(self.clock() * 1000)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": HUBSPOT_USER_AGENT,
            "X-HubSpot-Timeout-Millis": str(int(self.timeout * 1000)),
        }
        secret, uri = self.client_secret, self.signed_url
        if "v1" in self.signature_versions:
            headers["X-HubSpot-Signature"] = hubspot_signature_v1(secret, body)
            headers["X-HubSpot-Signature-Version"] = "v1"
        if "v2" in self.signature_versions:
            headers["X-HubSpot-Signature"] = hubspot_signature_v2(
                secret, method, uri, body
            )
            headers["X-HubSpot-Signature-Version"] = "v2"
        if "v3" in self.signature_versions:
            headers["X-HubSpot-Signature-v3"] = hubspot_signature_v3(
                secret, method, uri, body, timestamp_ms
            )
            headers["X-HubSpot-Request-Timestamp"] = str(timestamp_ms)
        return headers

    def _delay(self, number, attempt):
        # A 429 is retried after the receiver's Retry-After when it sent one.
        if attempt.status == 429:
            retry_after = _retry_after(attempt)
            if retry_after is not None:
                return retry_after
        return self.retry_delays[number]


def _retry_after(attempt):
    value = attempt.response_headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _is_2xx(response):
    return 200 <= response.status_code < 300


@dataclass
class Notification:
    """One Outbound Message notification: its id and the sObject's fields."""

    sobject_type: str
    fields: dict
    id: str = ""


class OutboundMessageSender(_RetryingSender):
    """Posts Salesforce Outbound Messages and retries until acknowledged.

    Anything but a 2xx response whose SOAP body is a `notificationsResponse`
    with `Ack` true counts as a failure and is retried with the same
    notification ids, as Salesforce does.
    """

    def __init__(
        self,
        url,
        organization_id,
        *,
        action_id=None,
        session_id=None,
        instance_url="https://emulator.my.salesforce.com",
        api_version="62.0",
        timeout=10.0,
        retry_delays=FAST_RETRY_DELAYS,
        sleep=time.sleep,
        session=None,
    ):
        super().__init__(url, timeout, retry_delays, sleep, session)
        self.organization_id = organization_id
        self.action_id = action_id or make_id(KEY_PREFIXES["OutboundMessageAction"], 1)
        self.session_id = session_id
        self.instance_url = instance_url
        self.api_version = api_version
        self._serial = 0

    def notification(self, sobject_type, fields):
        """Return a Notification with a new notification id."""
        self._serial += 1
        prefix = KEY_PREFIXES["OutboundNotification"]
        return Notification(sobject_type, dict(fields), make_id(prefix, self._serial))

    def send(self, notifications):
        """Deliver notifications in messages of up to 100; one Delivery each."""
        notifications = list(notifications)
        step = SALESFORCE_MAX_NOTIFICATIONS
        return [
            self.deliver(notifications[start : start + step])
            for start in range(0, len(notifications), step)
        ]

    def deliver(self, notifications):
        """Deliver one message, retrying until the receiver acknowledges it."""
        body = self.envelope(notifications)
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}

        def build(number):
            return headers, body

        return self._deliver(build, is_acknowledgement, lambda status: False)

    def envelope(self, notifications):
        """Return the SOAP envelope of a message as UTF-8 bytes."""
        org = self.organization_id
        base = f"{self.instance_url}/services/Soap"
        session = (
            f"<SessionId>{escape(self.session_id)}</SessionId>"
            if self.session_id
            else '<SessionId xsi:nil="true"/>'
        )
        parts = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENVELOPE_NS}" '
            'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">',
            "<soapenv:Body>",
            f'<notifications xmlns="{OUTBOUND_NS}">',
            f"<OrganizationId>{escape(org)}</OrganizationId>",
            f"<ActionId>{escape(self.action_id)}</ActionId>",
            session,
            f"<EnterpriseUrl>{escape(f'{base}/c/{self.api_version}/{org}')}</EnterpriseUrl>",
            f"<PartnerUrl>{escape(f'{base}/u/{self.api_version}/{org}')}</PartnerUrl>",
            *(self._notification_xml(item) for item in notifications),
            "</notifications>",
            "</soapenv:Body>",
            "</soapenv:Envelope>",
        ]
        return "".join(parts).encode()

    def _notification_xml(self, notification):
        if not notification.id:
            notification.id = self.notification(notification.sobject_type, {}).id
        fields = "".join(
            f"<sf:{name}>{escape(_soap_value(value))}</sf:{name}>"
            for name, value in notification.fields.items()
            if value is not None
        )
        object_type = quoteattr(f"sf:{notification.sobject_type}")
        return (
            f"<Notification><Id>{escape(notification.id)}</Id>"
            f'<sObject xsi:type={object_type} xmlns:sf="{SOBJECT_NS}">'
            f"{fields}</sObject></Notification>"
        )


def _soap_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def is_acknowledgement(response):
    """Return whether a response acknowledges an Outbound Message.

    It must be 2xx and its SOAP body must hold a `notificationsResponse` in
    the outbound namespace whose `Ack` is true.
    """
    if not 200 <= response.status_code < 300:
        return False
    try:
        root = ElementTree.fromstring(response.content)
    except ElementTree.ParseError:
        return False
    body = root.find(f"{{{SOAP_ENVELOPE_NS}}}Body")
    if root.tag != f"{{{SOAP_ENVELOPE_NS}}}Envelope" or body is None:
        return False
    ack = body.find(f"{{{OUTBOUND_NS}}}notificationsResponse/{{{OUTBOUND_NS}}}Ack")
    return ack is not None and (ack.text or "").strip() == "true"
