"""The PSA-agnostic shapes every client and the file import produce.

Hours are `Decimal` so a sum over thousands of entries carries no binary
rounding; a PSA that counts minutes keeps them in `minutes` and its hours
are the exact quotient. Dates are `datetime.date`: a PSA's spent date is a
calendar date and is never converted through a time zone.
"""

import hashlib
import json
import unicodedata
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import cached_property

MINUTES_PER_HOUR = Decimal(60)
NOT_DIGESTED = ("updated_at", "locked", "locked_reason", "invoiced", "receipt_url")


@dataclass(frozen=True)
class Person:
    """A PSA user: the key to an employee."""

    id: str
    email: str
    name: str
    active: bool = True


@dataclass(frozen=True)
class TimeEntry:
    """One time entry, as every PSA client returns it."""

    id: str
    person_id: str
    person_email: str
    person_name: str
    project_id: str
    project_name: str
    task_id: str
    task_name: str
    date: date
    hours: Decimal
    notes: str
    billable: bool
    approval_state: str
    locked: bool
    updated_at: datetime
    minutes: int | None = None
    project_code: str = ""
    locked_reason: str = ""
    invoiced: bool = False

    @property
    def unit_amount(self):
        """Return the hours as the float Odoo stores, unrounded."""
        return float(self.hours)

    def digest(self):
        """Return a SHA-256 of the fields an import writes, to spot no-op edits.

        The change time, lock and invoicing flags are left out: the PSA
        sets them on entries Odoo already holds, and they change nothing
        Odoo records. Computed once per entry, however often it is asked.
        """
        return self._digest

    @cached_property
    def _digest(self):
        return payload_digest(self, exclude=NOT_DIGESTED)


@dataclass(frozen=True)
class Expense:
    """One expense, as every PSA client returns it."""

    id: str
    person_id: str
    person_email: str
    project_id: str
    project_name: str
    category_id: str
    category_name: str
    date: date
    total: Decimal
    currency: str
    notes: str
    billable: bool
    approval_state: str
    locked: bool
    updated_at: datetime
    units: Decimal | None = None
    person_name: str = ""
    locked_reason: str = ""
    receipt_url: str = ""
    receipt_name: str = ""
    converted_total: Decimal | None = None

    def digest(self):
        """Return a SHA-256 of the fields an import writes, to spot no-op edits.

        Computed once per expense, however often it is asked.
        """
        return self._digest

    @cached_property
    def _digest(self):
        return payload_digest(self, exclude=NOT_DIGESTED)


@dataclass(frozen=True)
class Project:
    """A PSA project with its tasks, in either direction."""

    id: str
    name: str
    code: str = ""
    client_id: str = ""
    client_name: str = ""
    billable: bool = True
    budget_hours: Decimal | None = None
    active: bool = True
    starts_on: date | None = None
    ends_on: date | None = None
    tasks: tuple = field(default_factory=tuple)


@dataclass(frozen=True)
class Allocation:
    """Planned hours of one person on one project over a period."""

    id: str
    person_id: str
    person_email: str
    project_id: str
    date_from: date
    date_to: date
    hours: Decimal
    updated_at: datetime | None = None


@dataclass(frozen=True)
class Unreadable:
    """A PSA record a client could not read: its kind, its id and why."""

    kind: str
    id: str
    reason: str


@dataclass
class Page:
    """One page of a list: its records and how to ask for the next one.

    `next_token` is opaque to the caller (a cursor URL or a page number);
    None on the last page. `total` is the number of records the PSA
    reported for the whole list, when it reports one. `unreadable` lists
    the page's records whose values could not be read (`Unreadable`).
    """

    records: list
    next_token: str | None
    total: int | None = None
    unreadable: list = field(default_factory=list)


def payload_digest(record, exclude=()):
    """Return the SHA-256 of a record's fields but `exclude`, stable across runs.

    The records digested contain plain values only (text, numbers, dates),
    so their fields are read as they are. `dataclasses.asdict` would copy
    each value first, which took most of the time and gave the same text.
    """
    values = {
        item.name: getattr(record, item.name)
        for item in fields(record)
        if item.name not in exclude
    }
    text = json.dumps(values, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def parse_date(value):
    """Return the calendar date of an ISO `YYYY-MM-DD` value, unchanged."""
    if isinstance(value, datetime):
        raise ValueError(f"expected a calendar date, got the timestamp {value}")
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise ValueError(f"the date {value!r:.40} is not text in the form YYYY-MM-DD")
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError as error:
        raise ValueError(
            f"the date {value!r:.40} is not a calendar date in the form YYYY-MM-DD"
        ) from error


def parse_timestamp(value):
    """Return an ISO-8601 timestamp as a naive UTC datetime (Odoo's form)."""
    if not value:
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        text = str(value).strip().replace("Z", "+00:00")
        try:
            moment = datetime.fromisoformat(text)
        except ValueError as error:
            raise ValueError(
                f"the change time {value!r:.40} is not an ISO 8601 timestamp"
            ) from error
    if moment.tzinfo:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def format_timestamp(moment):
    """Return a naive UTC datetime as ISO-8601 with a `Z`, as the PSAs expect."""
    return moment.replace(microsecond=0).isoformat() + "Z"


def to_decimal(value):
    """Return `value` as an exact Decimal; floats go through their shortest repr.

    NaN and infinities raise ValueError, because no quantity or amount is
    either.
    """
    if value is None or value == "":
        return Decimal(0)
    if isinstance(value, (bool, list, dict)):
        raise ValueError(f"{value!r:.40} is not a number")
    if isinstance(value, float):
        value = repr(value)
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation as error:
        raise ValueError(f"{value!r:.40} is not a number") from error
    if not number.is_finite():
        raise ValueError(f"{value!r:.40} is not a finite number")
    return number


def email_key(value):
    """Return the form e-mails are compared in: lower case, no invisible characters.

    Zero-width spaces and other format characters pasted along with an
    address are dropped, so the address matches the one typed in Odoo.
    """
    if not isinstance(value, str):
        return ""
    visible = "".join(char for char in value if unicodedata.category(char) != "Cf")
    return visible.strip().lower()


def as_text(value):
    """Return a text value of a PSA record as a string ("" for none).

    Numbers become their text. A list or an object raises ValueError,
    because it is not what the field contains.
    """
    if value is None or value is False:
        return ""
    if isinstance(value, (list, dict)):
        raise ValueError(f"{value!r:.40} is a list or an object, not text")
    return str(value)


def hours_from_minutes(minutes):
    """Return exact hours for a whole number of minutes."""
    return Decimal(int(minutes)) / MINUTES_PER_HOUR
