"""Salesforce Outbound Messages: safe parsing and the acknowledgement.

An Outbound Message is a SOAP 1.1 envelope whose body contains one
``notifications`` element (namespace ``http://soap.sforce.com/2005/09/outbound``)
with ``OrganizationId``, ``ActionId``, a nillable ``SessionId``, the
enterprise and partner URLs, then 1 to 100 ``Notification`` elements, each an
``Id`` and an ``sObject`` typed ``sf:<Object>`` whose children are the
selected fields. Salesforce retries a message until the listener answers
with ``<Ack>true</Ack>``.

The XML comes from the network, so the parser resolves no entity, loads no
DTD, opens no URL and keeps libxml2's size limits; a document that declares a
DTD at all is rejected, which rules out entity expansion and external
entities (defusedxml is not a dependency of this addon).
"""

import re

from lxml import etree

NS_SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
NS_OUTBOUND = "http://soap.sforce.com/2005/09/outbound"
NS_XSI = "http://www.w3.org/2001/XMLSchema-instance"

ACKNOWLEDGEMENT = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
    b"<soapenv:Body>"
    b'<notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound">'
    b"<Ack>true</Ack>"
    b"</notificationsResponse>"
    b"</soapenv:Body>"
    b"</soapenv:Envelope>"
)
CONTENT_TYPE = "text/xml; charset=utf-8"
DTD_REJECTED = "The body declares a DTD, which is not accepted."

# The session ID Salesforce may send is a live credential of the org.
SESSION_ID_PATTERN = re.compile(
    rb"(<(?:[\w.-]+:)?SessionId\b[^>]*>)[^<]*(</(?:[\w.-]+:)?SessionId\s*>)"
)


# A document type declaration in the prolog: after the XML declaration and
# comments, before the root element. Checked before libxml2 parses the body.
DOCTYPE_PATTERN = re.compile(
    rb"^\s*(?:<\?xml[^>]*\?>)?(?:\s*<!--.*?-->)*\s*<!DOCTYPE", re.DOTALL
)


class MalformedMessage(ValueError):
    """The body is not a well-formed, DTD-free Outbound Message."""


def _parser():
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        remove_comments=True,
        remove_pis=True,
    )


def _tag(namespace, name):
    return f"{{{namespace}}}{name}"


def parse_document(body):
    """Parse `body` (bytes) into an element tree; reject any DTD."""
    if DOCTYPE_PATTERN.match(body):
        raise MalformedMessage(DTD_REJECTED)
    try:
        root = etree.fromstring(body, _parser())
    except (etree.XMLSyntaxError, ValueError) as error:
        raise MalformedMessage(f"The body is not well-formed XML: {error}") from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise MalformedMessage(DTD_REJECTED)
    return root


def _child_text(element, name, required=True):
    child = element.find(_tag(NS_OUTBOUND, name))
    text = child.text.strip() if child is not None and child.text else ""
    if required and not text:
        raise MalformedMessage(f"The message has no {name}.")
    return text


def _field_value(element):
    if element.get(_tag(NS_XSI, "nil")) == "true":
        return None
    return element.text or ""


def _parse_notification(element):
    sobject = element.find(_tag(NS_OUTBOUND, "sObject"))
    if sobject is None:
        raise MalformedMessage("A Notification has no sObject.")
    object_type = (sobject.get(_tag(NS_XSI, "type")) or "").rpartition(":")[2]
    fields = {
        etree.QName(child).localname: _field_value(child)
        for child in sobject
        if isinstance(child.tag, str)
    }
    if not object_type or not fields.get("Id"):
        raise MalformedMessage("A Notification's sObject has no type or no Id.")
    return {"id": _child_text(element, "Id"), "object": object_type, "fields": fields}


def parse_outbound_message(body):
    """Return the message as a dict: organization_id, action_id, notifications.

    Each notification is ``{"id", "object", "fields"}`` with field values as
    text, or None for fields sent as ``xsi:nil``. Raises `MalformedMessage`
    when the envelope or a notification lacks a required part.
    """
    root = parse_document(body)
    notifications = root.find(
        f"{_tag(NS_SOAP, 'Body')}/{_tag(NS_OUTBOUND, 'notifications')}"
    )
    if root.tag != _tag(NS_SOAP, "Envelope") or notifications is None:
        raise MalformedMessage("The body is not a SOAP envelope of Outbound Messages.")
    items = notifications.findall(_tag(NS_OUTBOUND, "Notification"))
    if not items:
        raise MalformedMessage("The message contains no Notification.")
    return {
        "organization_id": _child_text(notifications, "OrganizationId"),
        "action_id": _child_text(notifications, "ActionId", required=False),
        "notifications": [_parse_notification(item) for item in items],
    }


def redact_session_id(body):
    """Return `body` with the text of any SessionId element replaced."""
    return SESSION_ID_PATTERN.sub(rb"\1[redacted]\2", body)
