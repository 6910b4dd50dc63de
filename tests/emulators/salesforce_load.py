"""Fill a Salesforce emulator store from the seeded fake firm.

Only the firm's clients kept in Salesforce are loaded: an Account per
client, its Contacts, Opportunities with their line items and products,
and a User per deal owner. Timestamps come from the firm, so a poll on
SystemModstamp sees the firm's history. The tax id goes to the custom
field `VAT_Number__c` and the client code to `AccountNumber`.
`store.firm_ids` maps each firm key (C002, C002-P1, D002, D002-L1) to its
Salesforce id.
"""

from .salesforce_store import SalesforceStore

VAT_FIELD = "VAT_Number__c"
LOST_REASON_FIELD = "Loss_Reason__c"


def load_firm(firm, store=None):
    """Load the firm's Salesforce clients into `store` (a new one by default)."""
    store = store or SalesforceStore()
    store.add_custom_field("Account", VAT_FIELD)
    store.add_custom_field("Opportunity", LOST_REASON_FIELD)
    for client in firm.clients_in("salesforce"):
        _load_client(store, client)
    for contact in firm.contacts:
        if contact.crm == "salesforce":
            _load_contact(store, contact)
    for deal in firm.deals:
        if deal.crm == "salesforce":
            _load_deal(store, deal)
    return store


def _load_client(store, client):
    address = client.address
    street = "\n".join(part for part in (address.street, address.street2) if part)
    record = store.add_account(
        client.name,
        AccountNumber=client.code,
        Phone=client.phone,
        Website=client.website,
        Industry=client.industry,
        BillingStreet=street,
        BillingCity=address.city,
        BillingPostalCode=address.zip,
        BillingState=address.state_code,
        BillingCountry=address.country_name,
        CurrencyIsoCode=_currency(store, client.currency),
        **{VAT_FIELD: client.vat_as_entered},
    )
    _backdate(store, "Account", record, client)
    store.firm_ids[client.key] = record["Id"]


def _load_contact(store, contact):
    record = store.add_contact(
        contact.last_name,
        account_id=store.firm_ids[contact.client_key],
        FirstName=contact.first_name,
        Email=contact.email_as_entered,
        Phone=contact.phone,
        Title=contact.job_title,
    )
    _backdate(store, "Contact", record, contact)
    store.firm_ids[contact.key] = record["Id"]


def _load_deal(store, deal):
    values = {
        "Amount": float(deal.amount),
        "CurrencyIsoCode": _currency(store, deal.currency),
        "OwnerId": _owner(store, deal.owner_email)["Id"],
        "Probability": float(deal.probability),
    }
    if deal.lost_reason:
        values[LOST_REASON_FIELD] = deal.lost_reason
    record = store.add_opportunity(
        deal.name,
        _stage(store, deal),
        deal.close_date,
        account_id=store.firm_ids[deal.client_key],
        **values,
    )
    for line in deal.line_items:
        item = store.add_line_item(
            record["Id"],
            float(line.quantity),
            float(line.unit_price),
            Product2Id=_product(store, line)["Id"],
            Description=line.name,
            ServiceDate=line.milestone_date,
        )
        _backdate(store, "OpportunityLineItem", item, deal)
        store.firm_ids[line.key] = item["Id"]
    _backdate(store, "Opportunity", record, deal)
    store.firm_ids[deal.key] = record["Id"]


def _owner(store, email):
    users = store.find_by("User", "Username", email)
    if users:
        return users[0]
    first, _, last = email.partition("@")[0].partition(".")
    return store.add_user(
        email, last_name=last.capitalize() or first, FirstName=first.capitalize()
    )


def _product(store, line):
    products = store.find_by("Product2", "ProductCode", line.product_code)
    if products:
        return products[0]
    return store.add_product(line.name, ProductCode=line.product_code)


def _stage(store, deal):
    if deal.stage == "won":
        return next(name for name, _closed, won, _p in store.config.stages if won)
    if deal.stage == "lost":
        return next(
            name for name, closed, won, _p in store.config.stages if closed and not won
        )
    open_stages = [row for row in store.config.stages if not row[1]]
    return min(open_stages, key=lambda row: abs(row[3] - deal.probability))[0]


def _currency(store, code):
    return code if code in store.config.currencies else store.config.default_currency


def _backdate(store, object_type, record, source):
    store.set_timestamps(
        object_type, record["Id"], source.created_at, source.updated_at
    )
