"""Out-of-range field values in CRM records, through the real queue worker.

The webhook fuzz tests check what reaches the queue. These check what the
queue does with a record whose fields are wrong. Each HubSpot or Salesforce
record is stored as the pollers store it (`hubspot.record`,
`salesforce.record`) and run by the real worker. The emulators serve the
CRM's API where a deal needs its company, stages or line items.

A value is either stored as sent (names in any script, dates with an
offset converted to UTC) or the job is rejected cleanly. A rejected job
fails at its first attempt, and its exception names the record and the
next step and shows no Python error. The audit log has the outcome, and
no partner, order or mapping of the record exists.
"""

import hashlib
import re
from datetime import date, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from odoo.tests import BaseCase, tagged

from ..services import crm_records
from .common import CrmEmulatorCase

# 100,000 characters that do not compress, so an index entry gets their full size.
HUGE = "".join(hashlib.sha256(str(n).encode()).hexdigest() for n in range(3200))[
    :100_000
]
ZERO_WIDTH = "Zero\u200bWidth\u200dLabs\ufeff"
# A message a person reads names its next step with one of these verbs.
NEXT_STEP = re.compile(r"\b(retry|Retry|Correct|correct|Check|Link|Press|Activate)\b")
PYTHON_ERROR = re.compile(r"Traceback|\b\w+(Error|Exception)\b|File \"|object has no")
UPDATED = "2026-12-04T10:00:00Z"
# Any value a JSON field can carry, awkward ones first.
JSON_VALUES = st.recursive(
    st.sampled_from(
        ["", " ", "\u200b", "NaN", "-1", "1e400", "2026-02-30", "04/12/2026", HUGE]
    )
    | st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)


class FieldValueCase(CrmEmulatorCase):
    """Helpers that run one table of records and check each outcome."""

    def enqueue_record(self, backend, flow, external_model, ref, payload):
        res_model = "sale.order" if external_model in ("deals", "Opportunity") else None
        return self.Job._enqueue(
            backend,
            flow,
            f"field-values:{external_model}:{ref}",
            payload,
            direction="inbound",
            external_model=external_model,
            external_id=str(ref),
            res_model=res_model or "res.partner",
        )

    def hubspot_record_job(self, object_type, ref, properties, **record):
        properties = {key: value for key, value in properties.items()}
        values = {"id": str(ref), "properties": properties, "archived": False}
        values.update(record)
        payload = {"object_type": object_type, "record": values}
        return self.enqueue_record(
            self.hubspot, "hubspot.record", object_type, ref, payload
        )

    def salesforce_record_job(self, sobject, fields):
        payload = {"object": sobject, "record": fields}
        return self.enqueue_record(
            self.salesforce, "salesforce.record", sobject, fields["Id"], payload
        )

    def counts(self):
        return (
            self.Partner.search_count([]),
            self.env["sale.order"].search_count([]),
        )

    def assert_rejected(self, job, category="invalid_payload"):
        """Check that `job` failed cleanly and left nothing behind."""
        self.assertEqual(job.state, "failed", job.last_error)
        self.assertEqual(job.attempts, 1, "a data problem is never retried")
        exception = job.exception_ids.filtered(
            lambda exception: exception.state == "new"
        )
        self.assertEqual(len(exception), 1)
        self.assertEqual(exception.category, category)
        message = exception.description
        self.assertIn(job.external_id[:15], message)
        self.assertRegex(message, NEXT_STEP)
        self.assertNotRegex(message, PYTHON_ERROR)
        self.assertLess(len(message), 2000, "the message quotes no huge value")
        audit = self.env["integration.audit.log"].search(
            [("job_id", "=", job.id), ("outcome", "=", "failed")]
        )
        self.assertTrue(audit)
        mappings = self.Mapping.search(
            [
                ("backend_id", "=", job.backend_id.id),
                ("external_id", "=", job.external_id),
            ]
        )
        self.assertFalse(mappings, "a rejected record is mapped to nothing")

    def stored_partner(self, job):
        self.assertEqual(job.state, "done", job.last_error)
        partner = self.partner_of(job.backend_id, job.external_id)
        self.assertTrue(partner)
        return partner


@tagged("post_install", "-at_install")
class TestHubSpotFieldValues(FieldValueCase):
    def test_company_names_stored_verbatim(self):
        names = {
            "emoji": "Café ☕ Labs 🚀",
            "arabic": "شركة النور للاستشارات",
            "hebrew": "יועצים בע״מ",
            "mixed bidi": "Atlas אטלס Consulting شركة 2024",
            "zero width": ZERO_WIDTH,
            "combining": "Nin\u0303o Tools",
        }
        jobs = {
            case: self.hubspot_record_job(
                "companies", 870001 + n, {"name": name, "hs_lastmodifieddate": UPDATED}
            )
            for n, (case, name) in enumerate(names.items())
        }
        number = self.hubspot_record_job(
            "companies", 870090, {"name": 4242, "hs_lastmodifieddate": UPDATED}
        )
        self.run_jobs()
        for case, job in jobs.items():
            with self.subTest(case):
                self.assertEqual(self.stored_partner(job).name, names[case])
        self.assertEqual(self.stored_partner(number).name, "4242")

    def test_company_invalid_names_rejected(self):
        before = self.counts()
        cases = {
            "empty": {"name": ""},
            "blank": {"name": " \u200b "},
            "missing": {},
            "null": {"name": None},
            "list": {"name": ["Acme", "Ltd"]},
            "object": {"name": {"value": "Acme"}},
            "huge": {"name": HUGE},
        }
        jobs = {
            case: self.hubspot_record_job(
                "companies", 871001 + n, dict(values, hs_lastmodifieddate=UPDATED)
            )
            for n, (case, values) in enumerate(cases.items())
        }
        not_an_object = self.hubspot_record_job("companies", 871090, {})
        not_an_object.payload = {
            "object_type": "companies",
            "record": {"id": "871090", "properties": ["name", "Acme"]},
        }
        self.run_jobs()
        for case, job in [*jobs.items(), ("properties list", not_an_object)]:
            with self.subTest(case):
                self.assert_rejected(job)
        self.assertEqual(self.counts(), before)

    def test_change_time_formats(self):
        stored = {
            "offset": ("2026-12-04T10:00:00+05:30", datetime(2026, 12, 4, 4, 30)),
            "offset without colon": (
                "2026-12-04T10:00:00.000-0800",
                datetime(2026, 12, 4, 18, 0),
            ),
            "epoch ms text": ("1796378400000", datetime(2026, 12, 4, 10, 0)),
            "epoch ms number": (1796378400000, datetime(2026, 12, 4, 10, 0)),
        }
        rejected = {
            "day first": "04/12/2026",
            "word": "yesterday",
            "february 30": "2026-02-30T10:00:00Z",
            "epoch ms too far": "99999999999999999999",
            "list": ["2026-12-04T10:00:00Z"],
        }
        jobs = {}
        for n, (case, (value, _expected)) in enumerate(stored.items()):
            jobs[case] = self.hubspot_record_job(
                "companies",
                872001 + n,
                {"name": f"Dated {case}", "hs_lastmodifieddate": value},
            )
        bad = {
            case: self.hubspot_record_job(
                "companies", 872101 + n, {"name": f"Undated {case}"}, updatedAt=value
            )
            for n, (case, value) in enumerate(rejected.items())
        }
        self.run_jobs()
        for case, job in jobs.items():
            with self.subTest(case):
                self.stored_partner(job)
                mapping = self.Mapping._find(
                    self.hubspot, "res.partner", job.external_id
                )
                self.assertEqual(mapping.external_updated_at, stored[case][1])
        for case, job in bad.items():
            with self.subTest(case):
                self.assert_rejected(job)

    def test_contact_names_and_types(self):
        good = self.hubspot_record_job(
            "contacts",
            873001,
            {
                "firstname": "ليلى",
                "lastname": "Cohen כהן 👩‍💻",
                "email": "leila.cohen@example.org",
                "lastmodifieddate": UPDATED,
            },
        )
        cases = {
            "no name, no e-mail": {"firstname": "", "lastname": None},
            "e-mail list": {"email": ["a@example.org", "b@example.org"]},
            "first name object": {"firstname": {"en": "Ann"}, "lastname": "Lee"},
        }
        jobs = {
            case: self.hubspot_record_job(
                "contacts", 873101 + n, dict(values, lastmodifieddate=UPDATED)
            )
            for n, (case, values) in enumerate(cases.items())
        }
        self.run_jobs()
        self.assertEqual(self.stored_partner(good).name, "ليلى Cohen כהן 👩‍💻")
        for case, job in jobs.items():
            with self.subTest(case):
                self.assert_rejected(job)


@tagged("post_install", "-at_install")
class TestHubSpotDealFieldValues(FieldValueCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customer = cls.hs_store.add_company("Field Values Customer Ltd")
        cls.currency_code = cls.company.currency_id.name

    def deal_job(self, ref, **properties):
        values = {
            "dealname": f"Deal {ref}",
            "dealstage": "closedwon",
            "pipeline": "default",
            "amount": "1200",
            "closedate": "2026-12-04T00:00:00Z",
            "hs_lastmodifieddate": UPDATED,
        }
        values.update(properties)
        values = {key: value for key, value in values.items() if value is not ...}
        associations = {
            "companies": {"results": [{"id": str(self.customer.id)}]},
            "line items": {"results": []},
        }
        return self.hubspot_record_job("deals", ref, values, associations=associations)

    def test_deal_dates_amounts_stored(self):
        cases = {
            "offset east": ({"closedate": "2026-12-04T10:00:00+05:30"}, 1200.0),
            "offset west crosses midnight": (
                {"closedate": "2026-12-04T23:30:00-05:00"},
                1200.0,
            ),
            "epoch ms": ({"closedate": "1796342400000"}, 1200.0),
            "plain date": ({"closedate": "2026-12-04"}, 1200.0),
            "currency lower case": (
                {"deal_currency_code": self.currency_code.lower()},
                1200.0,
            ),
            "amount with blanks": ({"amount": " 1500.50 "}, 1500.5),
            "amount as number": ({"amount": 990}, 990.0),
        }
        close_dates = {
            "offset west crosses midnight": date(2026, 12, 5),
        }
        jobs = {
            case: self.deal_job(874001 + n, **values)
            for n, (case, (values, _amount)) in enumerate(cases.items())
        }
        self.run_jobs()
        for case, job in jobs.items():
            with self.subTest(case):
                self.assertEqual(job.state, "done", job.last_error)
                order = self.order_of(self.hubspot, job.external_id)
                self.assertEqual(order.state, "sale")
                self.assertEqual(order.amount_untaxed, cases[case][1])
                self.assertEqual(order.currency_id.name, self.currency_code)
                expected = close_dates.get(case, date(2026, 12, 4))
                self.assertEqual(order.crm_close_date, expected)

    def test_deal_invalid_values_rejected(self):
        before = self.counts()
        cases = {
            "amount NaN": ({"amount": "NaN"}, "invalid_payload"),
            "amount infinite": ({"amount": "1e400"}, "invalid_payload"),
            "amount negative": ({"amount": "-1500"}, "invalid_payload"),
            "amount text": ({"amount": "twelve hundred"}, "invalid_payload"),
            "amount list": ({"amount": [1200]}, "invalid_payload"),
            "close date day first": ({"closedate": "04/12/2026"}, "invalid_payload"),
            "close date word": ({"closedate": "yesterday"}, "invalid_payload"),
            "close date february 30": ({"closedate": "2026-02-30"}, "invalid_payload"),
            "close date list": ({"closedate": ["2026-12-04"]}, "invalid_payload"),
            "unknown stage": ({"dealstage": "closedwon-ish"}, "unknown_stage"),
            "unknown currency": ({"deal_currency_code": "ZZZ"}, "invalid_currency"),
            "currency name": ({"deal_currency_code": "Euro"}, "invalid_currency"),
            "huge name": ({"dealname": HUGE}, "invalid_payload"),
        }
        jobs = {
            case: self.deal_job(875001 + n, **values)
            for n, (case, (values, _category)) in enumerate(cases.items())
        }
        self.run_jobs()
        for case, job in jobs.items():
            with self.subTest(case):
                self.assert_rejected(job, cases[case][1])
        orders_after = self.counts()[1]
        self.assertEqual(orders_after, before[1], "no order was made")


@tagged("post_install", "-at_install")
class TestSalesforceFieldValues(FieldValueCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.account = cls.sf_store.add_account("Field Values Account Ltd")

    def account_fields(self, **values):
        account = self.sf_store.add_account("placeholder")
        fields = {
            "Id": account["Id"],
            "Name": "Account",
            "SystemModstamp": "2026-12-04T10:00:00.000+0000",
        }
        fields.update(values)
        return fields

    def test_account_contact_names_verbatim(self):
        names = {
            "emoji": "Ünïcode 🦉 Owl Partners",
            "arabic": "مجموعة الصقر",
            "hebrew and latin": "Falcon פלקון Group",
            "zero width": ZERO_WIDTH,
        }
        jobs = {
            case: self.salesforce_record_job("Account", self.account_fields(Name=name))
            for case, name in names.items()
        }
        contact = self.sf_store.add_contact("placeholder", self.account["Id"])
        contact_job = self.salesforce_record_job(
            "Contact",
            {
                "Id": contact["Id"],
                "FirstName": "Yael",
                "LastName": "לוי 🎻",
                "Email": "yael@example.org",
                "SystemModstamp": "2026-12-04T10:00:00.000+0530",
            },
        )
        self.run_jobs()
        for case, job in jobs.items():
            with self.subTest(case):
                self.assertEqual(self.stored_partner(job).name, names[case])
        self.assertEqual(self.stored_partner(contact_job).name, "Yael לוי 🎻")
        mapping = self.Mapping._find(
            self.salesforce, "res.partner", contact_job.external_id
        )
        self.assertEqual(mapping.external_updated_at, datetime(2026, 12, 4, 4, 30))

    def test_account_invalid_values_rejected(self):
        before = self.counts()
        cases = {
            "empty name": {"Name": ""},
            "null name": {"Name": None},
            "name list": {"Name": ["Acme"]},
            "huge name": {"Name": HUGE},
            "stamp day first": {"SystemModstamp": "04/12/2026"},
            "stamp february 30": {"SystemModstamp": "2026-02-30T10:00:00.000+0000"},
            "parent id not an id": {"ParentId": "x", "Name": "Ok", "Id": None},
        }
        jobs = {}
        for case, values in cases.items():
            fields = self.account_fields(**values)
            if fields["Id"] is None:
                fields["Id"] = "not-a-salesforce-id"
            jobs[case] = self.salesforce_record_job("Account", fields)
        self.run_jobs()
        for case, job in jobs.items():
            with self.subTest(case):
                self.assert_rejected(job)
        self.assertEqual(self.counts(), before)

    def opportunity_fields(self, **values):
        opportunity = self.sf_store.add_opportunity(
            "placeholder", "Closed Won", account_id=self.account["Id"]
        )
        fields = {
            "Id": opportunity["Id"],
            "Name": "Opportunity",
            "StageName": "Closed Won",
            "IsWon": True,
            "IsClosed": True,
            "Amount": 8000,
            "CloseDate": "2026-12-04",
            "AccountId": self.account["Id"],
            "SystemModstamp": "2026-12-04T10:00:00.000+0000",
        }
        fields.update(values)
        return fields

    def test_opportunity_values(self):
        before = self.counts()
        stored = self.salesforce_record_job(
            "Opportunity", self.opportunity_fields(Name="Προσφορά 🚀 عرض")
        )
        cases = {
            "amount NaN": {"Amount": "NaN"},
            "amount negative": {"Amount": -8000},
            "amount text": {"Amount": "8.000,00"},
            "close date february 30": {"CloseDate": "2026-02-30"},
            "close date day first": {"CloseDate": "04/12/2026"},
            "account id list": {"AccountId": [self.account["Id"]]},
        }
        jobs = {
            case: self.salesforce_record_job(
                "Opportunity", self.opportunity_fields(**values)
            )
            for case, values in cases.items()
        }
        currency = self.salesforce_record_job(
            "Opportunity", self.opportunity_fields(CurrencyIsoCode="ZZZ")
        )

        self.run_jobs()

        self.assertEqual(stored.state, "done", stored.last_error)
        order = self.order_of(self.salesforce, stored.external_id)
        self.assertEqual(order.client_order_ref, "Προσφορά 🚀 عرض")
        self.assertEqual(order.amount_untaxed, 8000.0)
        for case, job in jobs.items():
            with self.subTest(case):
                self.assert_rejected(job)
        self.assert_rejected(currency, "invalid_currency")
        self.assertEqual(self.counts()[1], before[1] + 1)


@tagged("post_install", "-at_install")
class TestRecordReaders(BaseCase):
    """Any field value gives a neutral record or `MalformedRecord`, nothing else."""

    def read_or_reject(self, reader, *args):
        try:
            return reader(*args)
        except crm_records.MalformedRecord:
            return None

    @settings(max_examples=100, deadline=None)
    @given(
        st.fixed_dictionaries(
            {},
            optional={
                key: JSON_VALUES
                for key in (
                    "name",
                    "domain",
                    "phone",
                    "dealname",
                    "amount",
                    "closedate",
                    "deal_currency_code",
                    "hs_lastmodifieddate",
                    "hs_merged_object_ids",
                )
            },
        ),
        JSON_VALUES,
    )
    def test_hubspot_readers_raise_only_malformed(self, properties, updated_at):
        record = {"id": "901", "properties": properties, "updatedAt": updated_at}
        for reader in (
            crm_records.hubspot_company,
            crm_records.hubspot_contact,
            crm_records.hubspot_deal,
            crm_records.hubspot_line_item,
        ):
            data = self.read_or_reject(reader, record)
            if data is None:
                continue
            self.assertEqual(data["ref"], "901")
            for key in ("name", "website", "phone", "currency", "stage"):
                if data.get(key) is not None:
                    self.assertIsInstance(data[key], str)
            amount = data.get("amount")
            if amount is not None:
                self.assertGreaterEqual(amount, 0)
                self.assertLess(amount, float("inf"))
            if data.get("name") is not None:
                self.assertLessEqual(len(data["name"]), crm_records.NAME_MAX_LENGTH)

    @settings(max_examples=100, deadline=None)
    @given(
        st.fixed_dictionaries(
            {},
            optional={
                key: JSON_VALUES
                for key in (
                    "Name",
                    "FirstName",
                    "LastName",
                    "Amount",
                    "CloseDate",
                    "CurrencyIsoCode",
                    "AccountId",
                    "OwnerId",
                    "SystemModstamp",
                    "IsWon",
                )
            },
        )
    )
    def test_salesforce_readers_raise_only_malformed(self, fields):
        record = {"Id": "0015g00000ABCDEAAA", **fields}
        for reader in (
            crm_records.salesforce_account,
            crm_records.salesforce_contact,
            crm_records.salesforce_opportunity,
        ):
            data = self.read_or_reject(reader, record)
            if data is None:
                continue
            close_date = data.get("close_date")
            if close_date is not None:
                self.assertIsInstance(close_date, date)
            updated_at = data.get("updated_at")
            if updated_at is not None:
                self.assertIsNone(updated_at.tzinfo)
