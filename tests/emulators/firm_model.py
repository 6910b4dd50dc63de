"""Records of the fake firm and the constants and helpers that shape them.

The dataclasses here are plain data with no behaviour beyond small derived
values, so tests, emulators and the Odoo demo loader can read them freely.
"""

import calendar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from faker import Faker

# Last day of the default period; fixed so two builds agree on every date.
DEFAULT_END = date(2024, 6, 30)

HOME_CURRENCY = "EUR"

# Rough exchange rates from EUR, used only to price deals in other currencies.
FX_FROM_EUR = {
    "EUR": Decimal("1"),
    "USD": Decimal("1.08"),
    "GBP": Decimal("0.85"),
    "JPY": Decimal("165"),
}

CURRENCY_DECIMALS = {"EUR": 2, "USD": 2, "GBP": 2, "JPY": 0}

LOCKED_REASON_INVOICED = "Item Invoiced"
LOCKED_REASON_PERIOD = "Item Approved and Locked for this Time Period"


@dataclass(frozen=True)
class FirmSize:
    """How many records of each kind a firm of one size has.

    `expense_rate` is the chance, per consultant, project and month, of
    each of two possible expenses.
    """

    clients: int
    contacts_per_client: int
    won_deals: int
    lost_deals: int
    open_deals: int
    consultants: int
    months: int
    entries_per_day: tuple
    consultants_per_project: tuple
    expense_rate: float


# The large firm yields about 101,000 time entries (seed 1234: 101,353).
SIZES = {
    "small": FirmSize(4, 2, 3, 2, 1, 4, 1, (1, 2), (2, 3), 0.8),
    "demo": FirmSize(50, 3, 40, 14, 8, 30, 6, (1, 3), (2, 4), 0.3),
    "large": FirmSize(300, 3, 260, 90, 40, 180, 12, (2, 4), (3, 5), 0.12),
}


@dataclass(frozen=True)
class Country:
    """Where a client or consultant is based, and what follows from it."""

    code: str
    name: str
    locale: str
    currency: str
    tld: str
    timezone: str


COUNTRIES = {
    "BE": Country("BE", "Belgium", "nl_BE", "EUR", "be", "Europe/Brussels"),
    "GB": Country("GB", "United Kingdom", "en_GB", "GBP", "co.uk", "Europe/London"),
    "US": Country("US", "United States", "en_US", "USD", "com", "America/New_York"),
    "JP": Country("JP", "Japan", "ja_JP", "JPY", "co.jp", "Asia/Tokyo"),
    "DE": Country("DE", "Germany", "de_DE", "EUR", "de", "Europe/Berlin"),
    "FR": Country("FR", "France", "fr_FR", "EUR", "fr", "Europe/Paris"),
    "NL": Country("NL", "Netherlands", "nl_NL", "EUR", "nl", "Europe/Amsterdam"),
    "ES": Country("ES", "Spain", "es_ES", "EUR", "es", "Europe/Madrid"),
    "CH": Country("CH", "Switzerland", "de_CH", "EUR", "ch", "Europe/Zurich"),
}

# The first clients take these countries in order, so even the small firm
# has four currencies; later clients are drawn with CLIENT_COUNTRY_WEIGHTS.
CLIENT_COUNTRY_ORDER = ("BE", "GB", "US", "JP", "DE", "FR", "NL", "ES", "CH")
CLIENT_COUNTRY_WEIGHTS = (20, 15, 12, 5, 15, 13, 10, 5, 5)


@dataclass
class Address:
    """A postal address; `state_code` is set for US addresses only."""

    street: str
    street2: str
    city: str
    zip: str
    country_code: str
    country_name: str
    state_code: str | None = None


@dataclass
class Client:
    """A customer company, kept in one CRM (`crm` is hubspot or salesforce).

    `vat` is the canonical tax id (compact, country prefix, valid check
    digits); `vat_as_entered` is how it was typed into the CRM. `phone` is
    typed the same loose way and `phone_e164` is its normalised form.
    """

    key: str
    code: str
    name: str
    trade_name: str
    domain: str
    website: str
    email: str
    phone: str
    phone_e164: str
    address: Address
    vat: str
    vat_as_entered: str
    tax_id_kind: str
    currency: str
    industry: str
    crm: str
    lang: str
    created_at: datetime
    updated_at: datetime


@dataclass
class Contact:
    """A person at a client, in the client's CRM.

    `email` is lower-case; `email_as_entered` keeps the case it was typed in.
    """

    key: str
    client_key: str
    first_name: str
    last_name: str
    email: str
    email_as_entered: str
    phone: str
    phone_e164: str
    job_title: str
    is_primary: bool
    crm: str
    created_at: datetime
    updated_at: datetime


@dataclass
class LineItem:
    """One priced line of a deal.

    `kind` is time_and_materials (hours at a rate), fixed_price (one
    milestone, dated by `milestone_date`) or retainer (months at a fee).
    """

    key: str
    deal_key: str
    kind: str
    name: str
    product_code: str
    unit: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    milestone_date: date | None = None


@dataclass
class Deal:
    """An opportunity in the client's CRM; `stage` is won, lost or open.

    `psa` names the PSA that runs the delivery project of a won deal
    (harvest or productive) and is None for other stages.
    """

    key: str
    client_key: str
    crm: str
    name: str
    stage: str
    probability: int
    currency: str
    amount: Decimal
    close_date: date
    owner_email: str
    lost_reason: str | None
    psa: str | None
    line_items: list
    created_at: datetime
    updated_at: datetime


@dataclass
class Consultant:
    """A person of the firm who records time; `email` is their Odoo login too.

    `psa_email` is the address the PSA holds, which for a few people
    differs from `email` in letter case only. Rates are in EUR per hour.
    """

    key: str
    first_name: str
    last_name: str
    name: str
    email: str
    psa_email: str
    phone: str
    title: str
    department: str
    country_code: str
    timezone: str
    cost_rate: Decimal
    default_rate: Decimal
    weekly_capacity_hours: int
    is_contractor: bool
    hired_on: date


@dataclass
class Task:
    """A kind of work booked on projects (Harvest task, Productive service)."""

    key: str
    name: str
    billable: bool
    default_rate: Decimal


@dataclass
class Project:
    """The delivery project of a won deal, in the PSA named by `psa`.

    Rates and fees are in the deal's currency; `budget_hours` is the hours
    budget and `fee` the fixed fee (None unless `is_fixed_fee`).
    """

    key: str
    deal_key: str
    client_key: str
    psa: str
    name: str
    code: str
    billing: str
    currency: str
    is_billable: bool
    is_fixed_fee: bool
    fee: Decimal | None
    hourly_rate: Decimal
    budget_hours: Decimal
    starts_on: date
    ends_on: date
    manager_key: str
    task_keys: list
    consultant_keys: list
    created_at: datetime


@dataclass
class Allocation:
    """A consultant staffed on a project for a date range, hours per workday."""

    key: str
    consultant_key: str
    project_key: str
    psa: str
    starts_on: date
    ends_on: date
    hours_per_day: Decimal


@dataclass
class Receipt:
    """A receipt file attached to an expense."""

    file_name: str
    content_type: str
    data: bytes = field(repr=False)


@dataclass
class TimeEntry:
    """One time entry as the PSA stores it, with `minutes` exact to the minute.

    `approval_status` is unsubmitted, submitted or approved. An entry with
    `edited_after_approval` was changed after `approved_at`, and
    `original_minutes` is what was approved.
    """

    key: str
    consultant_key: str
    project_key: str
    task_key: str
    psa: str
    spent_date: date
    minutes: int
    notes: str
    billable: bool
    billable_rate: Decimal | None
    cost_rate: Decimal
    currency: str
    approval_status: str
    submitted_at: datetime | None
    approved_at: datetime | None
    is_locked: bool
    locked_reason: str | None
    is_billed: bool
    invoice_number: str | None
    edited_after_approval: bool
    original_minutes: int
    created_at: datetime
    updated_at: datetime

    @property
    def hours(self):
        """Return the duration in hours, rounded to two decimals."""
        return round(self.minutes / 60, 2)


@dataclass
class Expense:
    """An expense a consultant incurred on a project, in the project currency.

    `units` and `unit_price` are set for per-unit categories (mileage);
    `receipt` is None where no receipt exists.
    """

    key: str
    consultant_key: str
    project_key: str
    psa: str
    category: str
    spent_date: date
    amount: Decimal
    currency: str
    units: Decimal | None
    unit_price: Decimal | None
    billable: bool
    notes: str
    approval_status: str
    approved_at: datetime | None
    is_locked: bool
    locked_reason: str | None
    is_billed: bool
    receipt: Receipt | None
    created_at: datetime
    updated_at: datetime


def locked_reason(locked, billed):
    """Return the PSA's reason text for a locked entry, None if not locked."""
    if not locked:
        return None
    return LOCKED_REASON_INVOICED if billed else LOCKED_REASON_PERIOD


def money(amount, currency):
    """Round an amount to the currency's minor unit (JPY has none)."""
    exponent = Decimal(1).scaleb(-CURRENCY_DECIMALS[currency])
    return Decimal(amount).quantize(exponent, rounding=ROUND_HALF_UP)


def convert(amount_eur, currency):
    """Convert an EUR amount to `currency` at the firm's fixed rates."""
    return money(Decimal(amount_eur) * FX_FROM_EUR[currency], currency)


def month_starts(starts_on, ends_on):
    """Return the first day of every month touching the date range."""
    current = starts_on.replace(day=1)
    months = []
    while current <= ends_on:
        months.append(current)
        days = calendar.monthrange(current.year, current.month)[1]
        current = current + timedelta(days=days)
    return months


def workdays(starts_on, ends_on):
    """Return the Monday-to-Friday dates of the range, both ends included."""
    days = (ends_on - starts_on).days + 1
    every_day = (starts_on + timedelta(days=offset) for offset in range(days))
    return [day for day in every_day if day.weekday() < 5]


def local_time_utc(day, hour, minute, timezone):
    """Return the UTC instant of a wall-clock time in a time zone."""
    local = datetime.combine(day, time(hour, minute), ZoneInfo(timezone))
    return local.astimezone(UTC)


def faker_for(locale, seed):
    """Return a Faker for one locale, seeded for this build."""
    faker = _FAKERS.get(locale)
    if faker is None:
        faker = _FAKERS[locale] = Faker(locale, providers=list(FAKER_PROVIDERS))
    faker.seed_instance(f"{seed}:{locale}")
    return faker


# One Faker per locale, created on first use. A Faker of several locales,
# or of every provider, scans Faker's package tree and took close to a
# second to build on a 2-core machine. One locale with three providers
# took about 20 ms there.
_FAKERS = {}
FAKER_PROVIDERS = (
    "faker.providers.person",
    "faker.providers.company",
    "faker.providers.address",
)
