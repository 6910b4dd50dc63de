"""A seeded fake services firm, the same data across CRM, PSA and Odoo.

`build_firm(size, seed)` returns plain dataclasses: clients that live in
HubSpot or Salesforce with their contacts and deals, consultants, projects
and tasks in Harvest or Productive for the won deals, staffing allocations,
expenses with receipts, and months of time entries. The same size and seed
always give the same firm, so an emulator filled from it and a test that
reads it agree on every id, e-mail and amount.

Time entries are not stored: `Firm.time_entries()` generates them again on
each call, consultant by consultant, so the large firm (over 100,000
entries) never keeps them all in memory. The data carries the cases real
integrations trip over: tax ids and phone numbers typed in odd forms,
accented and Japanese names, four currencies, entries approved, submitted
and unsubmitted, entries edited after approval, locked and invoiced
periods, consultants in time zones far from UTC.
"""

from dataclasses import dataclass
from datetime import date
from functools import cached_property

from .firm_builder import FirmBuilder
from .firm_model import (
    COUNTRIES,
    DEFAULT_END,
    SIZES,
    Address,
    Allocation,
    Client,
    Consultant,
    Contact,
    Deal,
    Expense,
    LineItem,
    Project,
    Receipt,
    Task,
    TimeEntry,
)
from .firm_time import generate_time_entries


@dataclass
class Firm:
    """The whole fake firm; time entries come from `time_entries()`.

    Work runs from `starts_on` to `ends_on`. Entries up to `locked_until`
    are approved and locked, and their billable ones invoiced. Entries up
    to `approval_cutoff` are approved, later ones submitted or unsubmitted.
    """

    name: str
    domain: str
    country_code: str
    home_currency: str
    size: str
    seed: int
    starts_on: date
    ends_on: date
    locked_until: date
    approval_cutoff: date
    consultants: list
    tasks: list
    clients: list
    contacts: list
    deals: list
    projects: list
    allocations: list
    expenses: list

    @cached_property
    def by_key(self):
        """Map every record key to its record, for lookups across lists."""
        records = {}
        for group in (self.consultants, self.tasks, self.clients, self.contacts):
            records.update((record.key, record) for record in group)
        for group in (self.deals, self.projects, self.allocations, self.expenses):
            records.update((record.key, record) for record in group)
        return records

    def projects_for(self, psa):
        """Return the projects run in the PSA `psa` (harvest or productive)."""
        return [project for project in self.projects if project.psa == psa]

    def clients_in(self, crm):
        """Return the clients kept in the CRM `crm` (hubspot or salesforce)."""
        return [client for client in self.clients if client.crm == crm]

    def time_entries(self, psa=None):
        """Yield every time entry, consultant by consultant, date by date.

        Each call generates the entries again from the seed, so memory stays
        bounded; `psa` keeps only entries of projects in that PSA.
        """
        for entry in generate_time_entries(self):
            if psa is None or entry.psa == psa:
                yield entry

    def count_time_entries(self, psa=None):
        """Return how many entries `time_entries(psa)` yields."""
        return sum(1 for _entry in self.time_entries(psa))


def build_firm(size="small", seed=1234, end=None):
    """Build the firm of a size (small, demo or large) from a seed.

    `end` is the last day of recorded work (default 2024-06-30); pass
    today's date for a demo that looks current.
    """
    if size not in SIZES:
        raise ValueError(f"Unknown firm size {size!r}; use one of {sorted(SIZES)}")
    parts = FirmBuilder(size, SIZES[size], seed, end or DEFAULT_END).build()
    return Firm(size=size, seed=seed, **parts)


__all__ = [
    "COUNTRIES",
    "SIZES",
    "Address",
    "Allocation",
    "Client",
    "Consultant",
    "Contact",
    "Deal",
    "Expense",
    "Firm",
    "LineItem",
    "Project",
    "Receipt",
    "Task",
    "TimeEntry",
    "build_firm",
]
