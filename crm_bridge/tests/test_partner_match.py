"""Companies and contacts to partners: match before create, never double.

Every payload enters as the webhook intake or the poller stores it and is
run by the real queue worker. No test here needs the CRM's API: Outbound
Messages carry their fields, and poll jobs carry the whole record.
"""

from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import CrmCase, hubspot_company, hubspot_contact


@tagged("post_install", "-at_install")
class TestPartnerMatch(CrmCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.hubspot.crm_vat_field = "vat_number"
        cls.salesforce.crm_vat_field = "VAT_Number__c"

    def test_vat_in_two_spellings_gives_one_partner(self):
        self.salesforce_message(
            (
                "Account",
                {
                    "Id": "0015g00000aaaaaAAA",
                    "Name": "Ibérica Tools SL",
                    "BillingCountry": "ES",
                    "VAT_Number__c": "87654321-X",
                    "SystemModstamp": "2024-06-03T08:00:00.000Z",
                },
            )
        )
        self.hubspot_records(
            "companies",
            hubspot_company(
                6620, name="Iberica Tools", country="ES", vat_number="ES 8765 4321X"
            ),
        )
        self.run_jobs()
        from_salesforce = self.partner_of(self.salesforce, "0015g00000aaaaaAAA")
        from_hubspot = self.partner_of(self.hubspot, "6620")
        self.assertTrue(from_salesforce)
        self.assertEqual(from_salesforce, from_hubspot)
        self.assertEqual(from_salesforce.vat, "ES87654321X")
        self.assertEqual(
            self.Partner.search_count([("crm_vat_key", "=", "ES87654321X")]), 1
        )
        audit = self.env["integration.audit.log"].search(
            [("backend_id", "=", self.hubspot.id), ("method", "=", "MATCH")]
        )
        self.assertIn("matched_by=tax id", audit.message)

    def test_invalid_vat_stored_without_vat(self):
        self.salesforce_message(
            (
                "Account",
                {
                    "Id": "0015g00000bbbbbAAA",
                    "Name": "Falsa Herramientas",
                    "BillingCountry": "ES",
                    "VAT_Number__c": "ES87654321A",
                },
            )
        )
        self.run_jobs()
        partner = self.partner_of(self.salesforce, "0015g00000bbbbbAAA")
        self.assertEqual(partner.name, "Falsa Herramientas")
        self.assertFalse(partner.vat)
        exception = self.open_exceptions("invalid_vat", self.salesforce)
        self.assertEqual(len(exception), 1)
        self.assertEqual(exception.res_id, partner.id)
        audit = self.env["integration.audit.log"].search(
            [("backend_id", "=", self.salesforce.id), ("method", "=", "VAT")]
        )
        self.assertIn("ES87654321A", audit.message)

    def test_email_matches_case_insensitively_never_substring(self):
        avery = self.Partner.create(
            {"name": "Avery Quill", "email": "Avery.Quill@Example.COM"}
        )
        rowan = self.Partner.create(
            {"name": "Rowan Quill", "email": "rowan.quill@example.com"}
        )
        self.hubspot_records(
            "contacts",
            hubspot_contact(
                501,
                firstname="Avery",
                lastname="Quill",
                email="avery.quill@example.com",
            ),
            hubspot_contact(
                502, firstname="R.", lastname="Quill", email="quill@example.com"
            ),
            hubspot_contact(
                503, firstname="Avery", lastname="Q.", email="AVERY.QUILL@example.com"
            ),
        )
        self.run_jobs()

        self.assertEqual(self.partner_of(self.hubspot, "501"), avery)
        self.assertEqual(self.partner_of(self.hubspot, "503"), avery)
        other = self.partner_of(self.hubspot, "502")
        self.assertTrue(other)
        self.assertNotIn(other, avery | rowan)
        self.assertEqual(other.email, "quill@example.com")
        self.assertEqual(avery.email, "Avery.Quill@Example.COM")

        audit = self.env["integration.audit.log"].search(
            [("backend_id", "=", self.hubspot.id), ("method", "=", "MATCH")]
        )
        self.assertTrue(
            any(
                "matched_by=email_normalized" in text
                for text in audit.mapped("message")
            )
        )

    def test_ambiguous_match_opens_exception_then_link_resolves(self):
        first = self.Partner.create(
            {
                "name": "Northwind Ltd",
                "vat": "GB123456727",
                "is_company": True,
                "country_id": self.gb.id,
            }
        )
        second = self.Partner.create(
            {
                "name": "Northwind Trading",
                "vat": "GB 123 456 727",
                "is_company": True,
                "country_id": self.gb.id,
                "city": "Leeds",
                "email": "accounts@northwind-trading.example.com",
                "ref": "NWT-01",
            }
        )
        (job,) = self.hubspot_records(
            "companies",
            hubspot_company(
                7001, name="Northwind", vat_number="GB123456727", country="GB"
            ),
        )
        self.run_jobs()
        self.assertEqual(job.state, "failed")
        exception = self.open_exceptions("ambiguous_partner", self.hubspot)
        self.assertEqual(len(exception), 1)
        self.assertEqual(
            set(exception.candidate_ids.mapped("res_id")), {first.id, second.id}
        )
        self.assertEqual(exception.link_external_id, "7001")
        self.assertFalse(self.partner_of(self.hubspot, "7001"))
        self.assertEqual(
            self.Partner.search_count([("crm_vat_key", "=", "GB123456727")]), 2
        )

        candidate = exception.candidate_ids.filtered(
            lambda row: row.res_id == second.id
        )
        self.assertEqual(candidate.city, "Leeds")
        self.assertEqual(candidate.vat, "GB 123 456 727")
        self.assertEqual(candidate.email, "accounts@northwind-trading.example.com")
        self.assertEqual(candidate.reference, "NWT-01")
        linkable = dict(
            exception._fields["link_record"]._description_selection(self.env)
        )
        self.assertIn("res.partner", linkable)
        self.assertNotIn("res.users", linkable)
        with self.assertRaises(UserError):
            exception._link_and_retry(self.env.user)
        candidate.action_link()
        self.run_jobs()
        self.assertEqual(job.state, "done")
        self.assertEqual(self.partner_of(self.hubspot, "7001"), second)
        self.assertEqual(exception.state, "resolved")
        self.assertEqual(
            self.Partner.search_count([("crm_vat_key", "=", "GB123456727")]), 2
        )

    def test_create_new_after_ambiguous_match(self):
        self.Partner.create(
            {"name": "Acme A", "email": "ops@acme.test", "is_company": False}
        )
        self.Partner.create(
            {"name": "Acme B", "email": "OPS@acme.test", "is_company": False}
        )
        (job,) = self.hubspot_records(
            "contacts",
            hubspot_contact(
                7101, firstname="Ops", lastname="Desk", email="ops@acme.test"
            ),
        )
        self.run_jobs()
        exception = self.open_exceptions("ambiguous_partner", self.hubspot)
        exception.action_crm_create_new()
        self.run_jobs()
        self.assertEqual(job.state, "done")
        created = self.partner_of(self.hubspot, "7101")
        self.assertEqual(created.name, "Ops Desk")
        self.assertEqual(
            self.Partner.search_count([("email_normalized", "=", "ops@acme.test")]), 3
        )

    def test_phone_formats_match_one_person(self):
        tarn = self.Partner.create({"name": "Mika Tarn", "phone": "+44 20 7946 0123"})
        self.assertEqual(tarn.crm_phone_e164, "+442079460123")
        self.hubspot_records(
            "contacts",
            hubspot_contact(
                610, firstname="Mika", lastname="Tarn", phone="020 7946 0123"
            ),
        )
        self.salesforce_message(
            (
                "Contact",
                {
                    "Id": "0035g00000bbbbbAAA",
                    "FirstName": "M.",
                    "LastName": "Tarn",
                    "Phone": "(020) 7946-0123",
                },
            )
        )
        self.run_jobs()
        self.assertEqual(self.partner_of(self.hubspot, "610"), tarn)
        self.assertFalse(self.partner_of(self.salesforce, "0035g00000bbbbbAAA"))
        duplicate = self.open_exceptions("possible_duplicate", self.salesforce)
        self.assertEqual(len(duplicate), 1)
        self.assertEqual(duplicate.candidate_ids.res_id, tarn.id)
        self.assertEqual(
            self.Partner.search_count([("crm_phone_e164", "=", "+442079460123")]), 1
        )
        self.assertEqual(tarn.phone, "+44 20 7946 0123")

    def test_phone_stored_e164_or_flagged_as_typed(self):
        self.hubspot_records(
            "companies",
            hubspot_company(
                620, name="Brightline", country="GB", phone="020 7946 0999"
            ),
            hubspot_company(
                621, name="Fogline", country="GB", phone="ask at reception"
            ),
        )
        self.run_jobs()
        readable = self.partner_of(self.hubspot, "620")
        unreadable = self.partner_of(self.hubspot, "621")
        self.assertEqual(readable.phone, "+442079460999")
        self.assertFalse(readable.crm_phone_unparsable)
        self.assertEqual(unreadable.phone, "ask at reception")
        self.assertTrue(unreadable.crm_phone_unparsable)

    def test_archived_partner_updated_not_duplicated(self):
        kestrel = self.Partner.create(
            {
                "name": "Kestrel Analytics",
                "is_company": True,
                "active": False,
                "country_id": self.gb.id,
            }
        )
        self.Mapping._bind(self.hubspot, kestrel, "5551", external_model="companies")
        self.hubspot_records(
            "companies",
            hubspot_company(5551, name="Kestrel Analytics", phone="+44 20 7946 0011"),
        )
        self.run_jobs()
        self.assertEqual(self.partner_of(self.hubspot, "5551"), kestrel)
        self.assertEqual(len(self.partners_named("Kestrel Analytics")), 1)
        self.assertFalse(kestrel.active)
        self.assertEqual(kestrel.phone, "+442079460011")
        self.assertEqual(
            len(self.open_exceptions("update_on_archived", self.hubspot)), 1
        )

    def test_archived_partner_matched_by_vat_not_duplicated(self):
        dormant = self.Partner.create(
            {
                "name": "Dormant GmbH",
                "vat": "DE123456704",
                "is_company": True,
                "active": False,
            }
        )
        self.hubspot_records(
            "companies",
            hubspot_company(5552, name="Dormant", vat_number="DE 123 456 704"),
        )
        self.run_jobs()
        self.assertEqual(self.partner_of(self.hubspot, "5552"), dormant)
        self.assertEqual(
            self.Partner.search_count([("crm_vat_key", "=", "DE123456704")]), 1
        )

    def test_person_created_under_its_company(self):
        self.hubspot_records(
            "companies",
            hubspot_company(630, name="Lumen Works", domain="lumen.example"),
        )
        self.run_jobs()
        self.hubspot_records(
            "contacts",
            hubspot_contact(
                631,
                firstname="Ida",
                lastname="Lumen",
                email="ida@lumen.example",
                associatedcompanyid="630",
            ),
        )
        self.run_jobs()
        company = self.partner_of(self.hubspot, "630")
        person = self.partner_of(self.hubspot, "631")
        self.assertEqual(person.parent_id, company)
        self.assertTrue(company.is_company)
        self.assertFalse(person.is_company)
        self.assertEqual(company.website, "https://lumen.example")

    def test_company_matched_by_website_domain(self):
        existing = self.Partner.create(
            {
                "name": "Old Name Co",
                "is_company": True,
                "website": "http://www.harbour.example/",
            }
        )
        self.hubspot_records(
            "companies",
            hubspot_company(640, name="Harbour", domain="harbour.example"),
        )
        self.run_jobs()
        self.assertEqual(self.partner_of(self.hubspot, "640"), existing)

    def test_odoo_owned_tax_id_never_overwritten(self):
        self.hubspot_records(
            "companies",
            hubspot_company(
                650, name="Vatline", vat_number="GB123456727", country="GB"
            ),
        )
        self.run_jobs()
        partner = self.partner_of(self.hubspot, "650")
        self.assertEqual(partner.vat, "GB123456727")
        self.hubspot_records(
            "companies",
            hubspot_company(
                650,
                updated="2024-06-04T08:00:00.000Z",
                name="Vatline",
                vat_number="GB999999918",
                country="GB",
            ),
        )
        self.run_jobs()
        self.assertEqual(partner.vat, "GB123456727")
        notes = partner.message_ids.filtered(
            lambda message: "Odoo owns it" in message.body
        )
        self.assertEqual(len(notes), 1)
        self.assertIn("GB999999918", notes.body)

    def test_crm_owned_field_overwrites_and_logs_odoo_edit(self):
        self.hubspot_records(
            "companies",
            hubspot_company(660, name="Cityline", city="Leeds", country="GB"),
        )
        self.run_jobs()
        partner = self.partner_of(self.hubspot, "660")
        partner.city = "York"
        self.hubspot_records(
            "companies",
            hubspot_company(
                660,
                updated="2024-06-04T08:00:00.000Z",
                name="Cityline",
                city="Hull",
                country="GB",
            ),
        )
        self.run_jobs()
        self.assertEqual(partner.city, "Hull")
        notes = partner.message_ids.filtered(
            lambda message: "CRM owns it" in message.body
        )
        self.assertEqual(len(notes), 1)
        self.assertIn("York", notes.body)

    def test_malformed_record_fails_alone(self):
        good, bad = self.hubspot_records(
            "companies",
            hubspot_company(670, name="Goodline"),
            hubspot_company(671, name=""),
        )
        self.run_jobs()
        self.assertEqual(good.state, "done")
        self.assertEqual(bad.state, "failed")
        self.assertEqual(len(self.open_exceptions("invalid_payload", self.hubspot)), 1)
        self.assertTrue(self.partner_of(self.hubspot, "670"))

    def test_replay_changes_nothing(self):
        jobs = self.salesforce_message(
            (
                "Account",
                {
                    "Id": "0015g00000cccccAAA",
                    "Name": "Replay Ltd",
                    "SystemModstamp": "2024-06-03T08:00:00.000Z",
                },
            )
        )
        self.run_jobs()
        partner = self.partner_of(self.salesforce, "0015g00000cccccAAA")
        jobs.action_replay()
        self.run_jobs()
        self.assertEqual(jobs.state, "done")
        self.assertEqual(
            self.partner_of(self.salesforce, "0015g00000cccccAAA"), partner
        )
        self.assertEqual(len(self.partners_named("Replay Ltd")), 1)

    def test_older_message_is_skipped(self):
        self.salesforce_message(
            (
                "Account",
                {
                    "Id": "0015g00000dddddAAA",
                    "Name": "Newer Name",
                    "SystemModstamp": "2024-06-03T09:00:00.000Z",
                },
            )
        )
        self.run_jobs()
        (late,) = self.salesforce_message(
            (
                "Account",
                {
                    "Id": "0015g00000dddddAAA",
                    "Name": "Older Name",
                    "SystemModstamp": "2024-06-03T08:00:00.000Z",
                },
            )
        )
        self.run_jobs()
        self.assertEqual(late.state, "done")
        self.assertIn("Skipped", late.result)
        self.assertEqual(
            self.partner_of(self.salesforce, "0015g00000dddddAAA").name, "Newer Name"
        )

    def test_damaged_salesforce_ids_resolve(self):
        self.salesforce_message(
            ("Account", {"Id": "0015g00000AbCdE", "Name": "Caseful"})
        )
        self.run_jobs()
        partner = self.partner_of(self.salesforce, "0015g00000AbCdEAAV")
        self.assertTrue(partner)
        self.salesforce_message(
            (
                "Account",
                {
                    "Id": "0015G00000ABCDEAAV",
                    "Name": "Caseful",
                    "Phone": "+44 20 7946 0555",
                },
            )
        )
        self.run_jobs()
        self.assertEqual(len(self.partners_named("Caseful")), 1)
        self.assertEqual(partner.phone, "+442079460555")
        mapping = self.Mapping._find(
            self.salesforce, "res.partner", "0015g00000AbCdEAAV"
        )
        self.assertEqual(mapping.external_id, "0015g00000AbCdEAAV")
