"""Fill a HubSpot emulator store from the seeded fake firm.

Only the firm's clients kept in HubSpot are loaded, with their contacts,
deals, line items and deal owners. Timestamps come from the firm, so a
poll by modification date sees the firm's history. The firm's tax id is
kept in the custom company property `vat_number`, as a firm would define
it, because HubSpot has no standard property for it. `store.firm_ids`
maps each firm key (C001, C001-P1, D001, D001-L1) to its HubSpot id.
"""

from datetime import UTC, datetime, time

from .base import isoformat_ms
from .hubspot_store import HubSpotStore

VAT_PROPERTY = "vat_number"
LOST_REASON_PROPERTY = "closed_lost_reason"
# Open deals go to the default-pipeline stage of the nearest probability.
_OPEN_STAGES = (
    (20, "appointmentscheduled"),
    (40, "qualifiedtobuy"),
    (60, "presentationscheduled"),
    (80, "decisionmakerboughtin"),
    (90, "contractsent"),
)


def load_firm(firm, store=None):
    """Load the firm's HubSpot clients into `store` (a new one by default)."""
    store = store or HubSpotStore()
    _define_properties(store)
    for client in firm.clients_in("hubspot"):
        _load_client(store, client)
    for contact in firm.contacts:
        if contact.crm == "hubspot":
            _load_contact(store, contact)
    for deal in firm.deals:
        if deal.crm == "hubspot":
            _load_deal(store, deal)
    store.take_events()
    return store


def _define_properties(store):
    for object_type, name in (
        ("companies", VAT_PROPERTY),
        ("deals", LOST_REASON_PROPERTY),
    ):
        if name not in store.definitions[object_type]:
            store.add_property(object_type, name, label=name.replace("_", " "))


def _load_client(store, client):
    address = client.address
    record = store.add_company(
        client.name,
        domain=client.domain,
        website=client.website,
        phone=client.phone,
        address=address.street,
        address2=address.street2,
        city=address.city,
        zip=address.zip,
        state=address.state_code or "",
        country=address.country_name,
        industry=client.industry,
        **{VAT_PROPERTY: client.vat_as_entered},
    )
    store.set_timestamps(record, client.created_at, client.updated_at)
    store.firm_ids[client.key] = record.id


def _load_contact(store, contact):
    record = store.add_contact(
        contact.email_as_entered,
        company_id=store.firm_ids[contact.client_key],
        firstname=contact.first_name,
        lastname=contact.last_name,
        phone=contact.phone,
        jobtitle=contact.job_title,
    )
    store.set_timestamps(record, contact.created_at, contact.updated_at)
    store.firm_ids[contact.key] = record.id


def _load_deal(store, deal):
    owner = _owner(store, deal.owner_email)
    properties = {
        "amount": str(deal.amount),
        "deal_currency_code": deal.currency,
        "closedate": isoformat_ms(_midnight(deal.close_date)),
        "hubspot_owner_id": owner["id"],
    }
    if deal.lost_reason:
        properties[LOST_REASON_PROPERTY] = deal.lost_reason
    record = store.add_deal(
        deal.name,
        stage=_stage(deal),
        company_id=store.firm_ids[deal.client_key],
        **properties,
    )
    for line in deal.line_items:
        item = store.add_line_item(
            record.id,
            line.name,
            line.quantity,
            line.unit_price,
            hs_sku=line.product_code,
        )
        store.set_timestamps(item, deal.created_at, deal.updated_at)
        store.firm_ids[line.key] = item.id
    store.set_timestamps(record, deal.created_at, deal.updated_at)
    store.firm_ids[deal.key] = record.id


def _owner(store, email):
    for owner in store.owners.values():
        if owner["email"] == email:
            return owner
    first, _, rest = email.partition("@")[0].partition(".")
    return store.add_owner(email, first.capitalize(), rest.capitalize())


def _stage(deal):
    if deal.stage == "won":
        return "closedwon"
    if deal.stage == "lost":
        return "closedlost"
    return min(_OPEN_STAGES, key=lambda row: abs(row[0] - deal.probability))[1]


def _midnight(day):
    return datetime.combine(day, time(), UTC)
