"""What a deal needs besides its own fields, read from each CRM on demand.

A won deal becomes an order only with its company, its line items and its
owner's e-mail. HubSpot keeps these in associations and the owners API,
Salesforce in related records. A source object reads each one on first
use only, so a deal that is not won costs no extra call.
"""

from functools import cached_property

from . import crm_records
from .salesforce_client import soql_ids, soql_select


class HubSpotDealSource:
    """Company, line items and owner of one HubSpot deal."""

    def __init__(self, client, deal):
        self.client = client
        self.deal = deal

    def _associated(self, to_type):
        """Return associated ids, from the deal as read or else the associations API."""
        known = self.deal.get("associated")
        if known is not None:
            return known[to_type]
        return self.client.associated_ids("deals", self.deal["ref"], to_type)

    @cached_property
    def company_ref(self):
        """Return the id of the deal's first associated company, or None."""
        ids = self._associated("companies")
        return ids[0] if ids else None

    @cached_property
    def line_items(self):
        """Return the deal's line items as neutral dicts, in id order."""
        ids = self._associated("line_items")
        if not ids:
            return []
        properties = self.client.properties_of("line_items")
        records = self.client.batch_read("line_items", ids, properties)
        items = [crm_records.hubspot_line_item(record) for record in records]
        return sorted(items, key=lambda item: _numeric_key(item["ref"]))

    @cached_property
    def owner_email(self):
        """Return the e-mail of the deal owner, or None."""
        owner_ref = self.deal.get("owner_ref")
        owner = self.client.owner(owner_ref) if owner_ref else None
        return (owner or {}).get("email")


class SalesforceDealSource:
    """Account, line items and owner of one Salesforce opportunity."""

    def __init__(self, client, deal):
        self.client = client
        self.deal = deal

    @cached_property
    def company_ref(self):
        """Return the opportunity's AccountId in 18-character form, or None."""
        return self.deal.get("company_ref")

    @cached_property
    def line_items(self):
        """Return the opportunity's line items as neutral dicts."""
        soql = soql_select(
            "OpportunityLineItem",
            self.client.fields_of("OpportunityLineItem"),
            where=f"OpportunityId IN {soql_ids([self.deal['ref']])}",
            order_by="Id",
        )
        records = self.client.query_records(soql)
        return [crm_records.salesforce_line_item(record) for record in records]

    @cached_property
    def owner_email(self):
        """Return the e-mail of the opportunity owner, or None."""
        if self.deal.get("owner_email"):
            return self.deal["owner_email"]
        owner_ref = self.deal.get("owner_ref")
        if not owner_ref:
            return None
        users = self.client.query_records(
            soql_select("User", ["Id", "Email"], where=f"Id IN {soql_ids([owner_ref])}")
        )
        return users[0].get("Email") if users else None


def _numeric_key(value):
    text = str(value)
    return (0, int(text), "") if text.isdigit() else (1, 0, text)
