"""The seeded fake firm: determinism, valid identifiers, consistent records."""

import collections
import hashlib
import os
import re
import subprocess
import sys
import time
import tracemalloc
import types
from datetime import timedelta

import phonenumbers
import pytest

from tests.emulators.firm import SIZES, build_firm
from tests.emulators.firm_identity import compact_tax_id, is_valid_tax_id


@pytest.fixture(scope="module")
def firm():
    return build_firm("small", seed=1234)


@pytest.fixture(scope="module")
def demo():
    return build_firm("demo", seed=1234)


@pytest.fixture(scope="module")
def entries(firm):
    return list(firm.time_entries())


def test_small_firm_builds_under_a_second():
    started = time.perf_counter()
    build_firm("small", seed=99)
    assert time.perf_counter() - started < 1.0


def test_same_seed_gives_same_firm(firm, entries):
    again = build_firm("small", seed=1234)
    assert again == firm
    assert list(again.time_entries()) == entries


DIGEST_SCRIPT = """
import hashlib
from tests.emulators.firm import build_firm
firm = build_firm("small", seed=1234)
digest = hashlib.sha256(repr(firm).encode())
for entry in firm.time_entries():
    digest.update(repr(entry).encode())
print(digest.hexdigest())
"""


def test_same_firm_in_other_process(firm, entries):
    # A fresh interpreter with another hash seed must build the same firm.
    digest = hashlib.sha256(repr(firm).encode())
    for entry in entries:
        digest.update(repr(entry).encode())
    environment = dict(os.environ, PYTHONHASHSEED="77")
    result = subprocess.run(
        [sys.executable, "-c", DIGEST_SCRIPT],
        capture_output=True,
        text=True,
        check=True,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        env=environment,
        timeout=60,
    )
    assert result.stdout.strip() == digest.hexdigest()


def test_other_seed_gives_other_firm(firm):
    other = build_firm("small", seed=4321)
    assert [c.name for c in other.clients] != [c.name for c in firm.clients]
    assert [c.email for c in other.consultants] != [c.email for c in firm.consultants]


def test_unknown_size_rejected():
    with pytest.raises(ValueError, match="Unknown firm size"):
        build_firm("huge")


def test_client_tax_ids_valid(firm, demo):
    clients = firm.clients + demo.clients
    countries = {client.address.country_code for client in clients}
    assert {"BE", "DE", "FR", "GB", "NL", "US", "JP"} <= countries
    for client in clients:
        country = client.address.country_code
        assert is_valid_tax_id(country, client.vat), client.vat
        assert compact_tax_id(country, client.vat_as_entered) == client.vat


def test_tax_id_formats_per_country(demo):
    patterns = {
        "BE": r"BE0\d{9}",
        "DE": r"DE\d{9}",
        "FR": r"FR\d{11}",
        "GB": r"GB\d{9}",
        "NL": r"NL\d{9}B\d{2}",
        "US": r"\d{2}-\d{7}",
        "JP": r"\d{13}",
        "ES": r"ES[A-Z]\d{8}",
        "CH": r"CHE\d{9}MWST",
    }
    for client in demo.clients:
        pattern = patterns[client.address.country_code]
        assert re.fullmatch(pattern, client.vat), client.vat


def test_some_tax_ids_typed_differently(demo):
    typed = [c for c in demo.clients if c.vat_as_entered != c.vat]
    assert len(typed) >= 10


def test_phones_parse_to_e164(firm, demo):
    contacts = firm.contacts + demo.contacts
    for record in firm.clients + demo.clients + contacts:
        country = getattr(record, "address", None)
        region = country.country_code if country else None
        if region is None:
            region = (
                firm.by_key.get(record.client_key) or demo.by_key[record.client_key]
            )
            region = region.address.country_code
        parsed = phonenumbers.parse(record.phone, region)
        formatted = phonenumbers.format_number(
            parsed, phonenumbers.PhoneNumberFormat.E164
        )
        assert formatted == record.phone_e164
        assert phonenumbers.is_valid_number(parsed)
    assert any(record.phone != record.phone_e164 for record in contacts)


def test_clients_split_between_crms(firm):
    assert {client.crm for client in firm.clients} == {"hubspot", "salesforce"}
    for contact in firm.contacts:
        assert contact.crm == firm.by_key[contact.client_key].crm
    for deal in firm.deals:
        assert deal.crm == firm.by_key[deal.client_key].crm


def test_pipeline_currencies_and_kinds(firm):
    assert {deal.currency for deal in firm.deals} == {"EUR", "USD", "GBP", "JPY"}
    assert {deal.stage for deal in firm.deals} == {"won", "lost", "open"}
    kinds = {item.kind for deal in firm.deals for item in deal.line_items}
    assert kinds == {"time_and_materials", "fixed_price", "retainer"}
    for deal in firm.deals:
        assert deal.amount == sum(item.amount for item in deal.line_items)
        if deal.currency == "JPY":
            assert deal.amount == deal.amount.to_integral_value()


def test_milestones_dated(firm):
    milestones = [
        item
        for deal in firm.deals
        for item in deal.line_items
        if item.kind == "fixed_price"
    ]
    assert milestones
    assert all(item.milestone_date is not None for item in milestones)


def test_projects_only_for_won_deals(firm):
    won = {deal.key for deal in firm.deals if deal.stage == "won"}
    assert {project.deal_key for project in firm.projects} == won
    assert {project.psa for project in firm.projects} == {"harvest", "productive"}
    for project in firm.projects:
        assert firm.by_key[project.deal_key].psa == project.psa
        assert project.manager_key in project.consultant_keys
        assert set(project.task_keys) <= {task.key for task in firm.tasks}
    assert len({project.code for project in firm.projects}) == len(firm.projects)


def test_consultant_emails(firm):
    emails = [consultant.email for consultant in firm.consultants]
    assert len(set(emails)) == len(emails)
    for consultant in firm.consultants:
        assert consultant.email == consultant.email.lower()
        assert consultant.email.endswith("@" + firm.domain)
        assert consultant.email.isascii()
        assert consultant.psa_email.lower() == consultant.email
    assert any(c.psa_email != c.email for c in firm.consultants)


def test_every_consultant_staffed(firm):
    staffed = {allocation.consultant_key for allocation in firm.allocations}
    assert staffed == {consultant.key for consultant in firm.consultants}
    for allocation in firm.allocations:
        project = firm.by_key[allocation.project_key]
        assert allocation.consultant_key in project.consultant_keys
        assert allocation.psa == project.psa


def test_small_firm_about_hundred_entries(entries):
    assert 80 <= len(entries) <= 140


def test_entry_statuses_and_locks(firm, entries):
    statuses = collections.Counter(entry.approval_status for entry in entries)
    assert set(statuses) == {"approved", "submitted", "unsubmitted"}
    locked = [entry for entry in entries if entry.is_locked]
    assert locked
    for entry in locked:
        assert entry.spent_date <= firm.locked_until
        assert entry.approval_status == "approved"
        assert entry.locked_reason
    billed = [entry for entry in entries if entry.is_billed]
    assert billed
    assert all(entry.is_locked and entry.billable for entry in billed)
    assert all(entry.invoice_number for entry in billed)


def test_entries_edited_after_approval(entries):
    edited = [entry for entry in entries if entry.edited_after_approval]
    assert edited
    for entry in edited:
        assert entry.approval_status == "approved"
        assert entry.updated_at > entry.approved_at
        assert entry.minutes != entry.original_minutes


def test_entries_minute_precision(entries):
    assert any(entry.minutes % 15 for entry in entries)
    assert all(entry.minutes > 0 for entry in entries)
    assert any(entry.hours != round(entry.hours, 1) for entry in entries)


def test_entries_billable_and_rates(firm, entries):
    assert any(entry.billable for entry in entries)
    assert any(not entry.billable for entry in entries)
    for entry in entries:
        project = firm.by_key[entry.project_key]
        assert entry.currency == project.currency
        if entry.billable:
            assert entry.billable_rate == project.hourly_rate
        else:
            assert entry.billable_rate is None


def test_entries_consistent_with_staffing(firm, entries):
    keys = [entry.key for entry in entries]
    assert len(set(keys)) == len(keys)
    for entry in entries:
        project = firm.by_key[entry.project_key]
        assert entry.consultant_key in project.consultant_keys
        assert entry.task_key in project.task_keys
        assert firm.starts_on <= entry.spent_date <= firm.ends_on
        assert entry.spent_date.weekday() < 5
        assert entry.psa == project.psa
        assert entry.created_at <= entry.updated_at


def test_entries_filter_by_psa(firm, entries):
    harvest = list(firm.time_entries("harvest"))
    productive = list(firm.time_entries("productive"))
    assert harvest
    assert productive
    assert len(harvest) + len(productive) == len(entries)


def test_far_timezone_changes_utc_date(demo):
    far = {c.key for c in demo.consultants if c.timezone == "America/Denver"}
    assert far
    shifted = [
        entry
        for entry in demo.time_entries()
        if entry.consultant_key in far and entry.created_at.date() != entry.spent_date
    ]
    assert shifted


def test_expenses_with_receipts(firm, demo):
    expenses = firm.expenses + demo.expenses
    assert expenses
    receipts = [expense.receipt for expense in expenses if expense.receipt]
    assert any(r.data.startswith(b"%PDF-") for r in receipts)
    assert any(r.data.startswith(b"\x89PNG\r\n\x1a\n") for r in receipts)
    for expense in demo.expenses:
        project = demo.by_key[expense.project_key]
        assert expense.currency == project.currency
        assert expense.amount > 0
        if expense.units is not None:
            assert expense.receipt is None
    currencies = {expense.currency for expense in demo.expenses}
    assert {"EUR", "GBP"} <= currencies


def test_demo_firm_dimensions(demo):
    size = SIZES["demo"]
    assert len(demo.clients) == size.clients == 50
    assert len([deal for deal in demo.deals if deal.stage == "won"]) == 40
    assert len(demo.consultants) == 30
    assert demo.ends_on - demo.starts_on >= timedelta(days=180)
    assert demo.count_time_entries() > 3000


def test_entry_stream_memory_bounded(demo):
    tracemalloc.start()
    try:
        count = sum(1 for _entry in demo.time_entries())
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count > 3000
    # A list of the demo firm's entries takes over 3 MB; the stream keeps
    # one consultant-day at a time.
    assert peak < 1_000_000


def test_large_firm_streams_entries():
    started = time.perf_counter()
    large = build_firm("large", seed=1234)
    stream = large.time_entries()
    assert isinstance(stream, types.GeneratorType)
    count = sum(1 for _entry in stream)
    assert count >= 100_000
    assert time.perf_counter() - started < 30
