"""Read any PSA's timesheet or staffing export (CSV or XLSX) into plain records.

A saved column mapping (`psa.import.mapping`) names the columns. This
module turns each row into a `TimeEntry` or an `Allocation`, or into the
reason it cannot be read. The time entries then go through the same
`TimeImporter` as the API pulls, so the same validation applies.

Dates: a date column holding a calendar date is kept as it is. One holding
a timestamp with an offset or `Z` (an export in UTC) is converted to the
person's own time zone, or the company calendar's when the person has
none (never the server's). An entry that crosses local midnight goes on
its local start date.
"""

import csv
import hashlib
import io
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from .records import Allocation, TimeEntry, email_key, hours_from_minutes, to_decimal

ISO_DURATION = re.compile(
    r"^P(?:(?P<days>\d+)D)?(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?"
    r"(?:(?P<minutes>\d+(?:\.\d+)?)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)
CLOCK_DURATION = re.compile(
    r"^(?P<hours>\d+):(?P<minutes>\d{1,2})(?::(?P<seconds>\d{1,2}))?$"
)


class RowError(ValueError):
    """A row that cannot be read; the message names the column and value."""


def read_rows(content, filename, delimiter=","):
    """Yield (row number, {column: value}) of a CSV or XLSX file's data rows."""
    if filename.lower().endswith((".xlsx", ".xlsm")):
        yield from _xlsx_rows(content)
    else:
        yield from _csv_rows(content, delimiter or ",")


def _csv_rows(content, delimiter):
    text = content.decode("utf-8-sig") if isinstance(content, bytes) else content
    lines = (line for line in io.StringIO(text) if not line.startswith("#"))
    reader = csv.DictReader(lines, delimiter=delimiter)
    for number, row in enumerate(reader, start=2):
        yield number, {(key or "").strip(): value for key, value in row.items()}


def _xlsx_rows(content):
    import openpyxl  # noqa: PLC0415 - only XLSX files need it

    workbook = openpyxl.load_workbook(
        io.BytesIO(content), read_only=True, data_only=True
    )
    try:
        rows = workbook.worksheets[0].iter_rows(values_only=True)
        header = [str(cell or "").strip() for cell in next(rows, ())]
        for number, cells in enumerate(rows, start=2):
            if any(cell not in (None, "") for cell in cells):
                yield number, dict(zip(header, cells, strict=False))
    finally:
        workbook.close()


def parse_duration(value, unit="hours"):
    """Return (minutes or None, hours) of a duration in any common spelling.

    Accepts numbers in `unit` ("1.5", "1,5", 90), clock time ("1:30"), and
    ISO 8601 durations ("PT1H30M"). Whole minutes stay exact.
    """
    if isinstance(value, (int, float, Decimal)):
        text = repr(value) if isinstance(value, float) else str(value)
    else:
        text = str(value or "").strip().replace(",", ".")
    if not text:
        raise RowError("the duration is empty")
    match = CLOCK_DURATION.match(text) or ISO_DURATION.match(text.upper())
    if match:
        parts = {key: Decimal(val or 0) for key, val in match.groupdict().items()}
        minutes = (
            parts.get("days", Decimal(0)) * 1440
            + parts["hours"] * 60
            + parts["minutes"]
            + parts["seconds"] / 60
        )
    else:
        number = to_decimal(text)
        minutes = number * 60 if unit == "hours" else number
    if minutes == minutes.to_integral_value():
        return int(minutes), hours_from_minutes(int(minutes))
    return None, minutes / 60


def parse_day(value, date_format, tz_name):
    """Return a date cell's calendar date; timestamps in UTC move to `tz_name`."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        return value
    else:
        text = str(value or "").strip()
        if not text:
            raise RowError("the date is empty")
        moment = _parse_date_text(text, date_format or "%Y-%m-%d")
        if isinstance(moment, date) and not isinstance(moment, datetime):
            return moment
    if moment.tzinfo is None:
        return moment.date()
    return moment.astimezone(ZoneInfo(tz_name or "UTC")).date()


def _parse_date_text(text, date_format):
    """Return a date in `date_format`, else the ISO 8601 timestamp `text` is."""
    try:
        return datetime.strptime(text, date_format).date()
    except ValueError as format_error:
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise RowError(
                f"{text!r} is not a date in the format {date_format}"
            ) from format_error


def truthy(value, accepted):
    """Return whether a cell's text is one of the `accepted` words (any case)."""
    if isinstance(value, bool):
        return value
    return str(value if value is not None else "").strip().lower() in accepted


def row_id(values):
    """Return a stable id for a row that has no id column: a digest of its content."""
    text = "|".join(str(values.get(key) or "") for key in sorted(values))
    return "row:" + hashlib.sha256(text.encode()).hexdigest()[:20]


class RowReader:
    """Turns rows into records according to one saved column mapping.

    `timezone_of(email)` returns the time zone that dates in UTC are
    converted to for that person.
    """

    def __init__(self, mapping, timezone_of):
        self.mapping = mapping
        self.timezone_of = timezone_of
        self.approved = _words(mapping.approved_values)
        self.billable = _words(mapping.billable_values)

    def cell(self, row, field, required=True):
        """Return the stripped cell of the column the mapping names for `field`."""
        column = self.mapping[f"column_{field}"]
        if not column:
            if required:
                raise RowError(f"the mapping names no column for {field}")
            return None
        if column not in row:
            raise RowError(f"column {column!r} is missing from the file")
        value = row[column]
        return value.strip() if isinstance(value, str) else value

    def time_entry(self, row):
        """Return the `TimeEntry` of one row, or raise `RowError`."""
        email = str(self.cell(row, "email") or "").strip()
        project = str(self.cell(row, "project") or "").strip()
        if not email or not project:
            raise RowError("the person's e-mail and the project code are required")
        duration = self.cell(row, "duration")
        minutes, hours = parse_duration(duration, self.mapping.duration_unit)
        task = str(self.cell(row, "task", required=False) or "").strip()
        values = {
            "person_id": email_key(email),
            "person_email": email,
            "project_id": project,
            "task_id": task.lower(),
            "date": parse_day(
                self.cell(row, "date"),
                self.mapping.date_format,
                self.timezone_of(email),
            ),
            "minutes": minutes,
            "hours": hours,
            "notes": str(self.cell(row, "notes", required=False) or ""),
            "billable": self._flag(
                row, "billable", self.billable, self.mapping.billable_default
            ),
            "approved": self._flag(row, "approval", self.approved, True),
        }
        external_id = str(self.cell(row, "id", required=False) or "") or row_id(values)
        return TimeEntry(
            id=external_id,
            person_id=values["person_id"],
            person_email=email,
            person_name="",
            project_id=project,
            project_name=project,
            project_code=project,
            task_id=values["task_id"],
            task_name=task,
            date=values["date"],
            hours=hours,
            minutes=minutes,
            notes=values["notes"],
            billable=values["billable"],
            approval_state="approved" if values["approved"] else "unapproved",
            locked=False,
            updated_at=self._updated_at(row),
        )

    def allocation(self, row):
        """Return the `Allocation` of one row, or raise `RowError`."""
        email = str(self.cell(row, "email") or "").strip()
        project = str(self.cell(row, "project") or "").strip()
        start = parse_day(self.cell(row, "date"), self.mapping.date_format, None)
        end = parse_day(self.cell(row, "date_to"), self.mapping.date_format, None)
        _minutes, hours = parse_duration(
            self.cell(row, "duration"), self.mapping.duration_unit
        )
        values = {
            "email": email.lower(),
            "project": project,
            "start": start,
            "end": end,
        }
        external_id = str(self.cell(row, "id", required=False) or "") or row_id(values)
        return Allocation(
            id=external_id,
            person_id=email.lower(),
            person_email=email,
            project_id=project,
            date_from=start,
            date_to=end,
            hours=hours,
        )

    def _flag(self, row, field, accepted, default):
        value = self.cell(row, field, required=False)
        if value in (None, ""):
            return default
        return truthy(value, accepted)

    def _updated_at(self, row):
        value = self.cell(row, "updated_at", required=False)
        if not value:
            return datetime(1970, 1, 1)
        if isinstance(value, datetime):
            moment = value
        else:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _words(text):
    return {word.strip().lower() for word in (text or "").split(",") if word.strip()}
