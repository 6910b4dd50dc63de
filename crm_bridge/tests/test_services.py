"""The plain-Python parts: Salesforce id checksums and master-data normal forms."""

from odoo.tests import BaseCase, tagged

from ..services import normalize
from ..services.salesforce_ids import checksum, to_18, to_18_or_none

# Vectors from Salesforce's published 15-to-18 conversion, recomputed locally.
ID_VECTORS = {
    "a0RE000000IJmcN": "MAT",
    "a01M00000062mPg": "IAI",
    "001M000000qfPyS": "IAU",
    "a0FE000000D6r3F": "MAR",
    "0F9E000000092w2": "KAA",
    "aaaaaaaaaaaaaaa": "AAA",
    "AbCdEfGhIjKlMnO": "VKV",
    "0019000000B98de": "AAB",
}


@tagged("post_install", "-at_install")
class TestServices(BaseCase):
    def test_salesforce_checksum_vectors(self):
        for id15, suffix in ID_VECTORS.items():
            with self.subTest(id15=id15):
                self.assertEqual(checksum(id15), suffix)
                self.assertEqual(to_18(id15), id15 + suffix)

    def test_salesforce_ids_with_lost_case_repaired(self):
        for id15, suffix in ID_VECTORS.items():
            with self.subTest(id15=id15):
                self.assertEqual(to_18((id15 + suffix).lower()), id15 + suffix)
                self.assertEqual(to_18((id15 + suffix).upper()), id15 + suffix)

    def test_salesforce_malformed_ids_rejected(self):
        for value in ("", "001", "001M000000qfPy!", "001M000000qfPySIA9", None):
            with self.subTest(value=value):
                self.assertIsNone(to_18_or_none(value))

    def test_vat_normal_form_per_country(self):
        cases = [
            ("87654321-X", "ES", "ES87654321X", True),
            ("ES 8765 4321X", None, "ES87654321X", True),
            ("ES87654321A", "ES", "ES87654321A", False),
            ("EL 094 259 216", None, "EL094259216", True),
            ("gb322697939", "GB", "GB322697939", True),
            ("45-6860348", "US", "456860348", None),
        ]
        for raw, country, stored, valid in cases:
            with self.subTest(raw=raw):
                vat = normalize.normalize_vat(raw, country)
                self.assertEqual(vat.value, stored)
                self.assertIs(vat.valid, valid)
        self.assertIsNone(normalize.normalize_vat("  ", "ES"))

    def test_phone_e164_with_partner_country(self):
        for raw in ("020 7946 0123", "(020) 7946-0123", "+44 20 7946 0123"):
            with self.subTest(raw=raw):
                self.assertEqual(normalize.normalize_phone(raw, "GB"), "+442079460123")
        self.assertFalse(normalize.normalize_phone("ask at reception", "GB"))
        self.assertFalse(normalize.normalize_phone("12", "GB"))

    def test_email_domain_and_name_forms(self):
        self.assertEqual(
            normalize.normalize_email(" Avery.Quill@Example.COM "),
            "avery.quill@example.com",
        )
        self.assertFalse(normalize.company_domain("someone@gmail.com"))
        self.assertEqual(normalize.company_domain("a@Acme.example"), "acme.example")
        self.assertEqual(
            normalize.website_domain("https://www.Example.com/about"), "example.com"
        )
        self.assertEqual(normalize.website_domain("example.com"), "example.com")
        self.assertFalse(normalize.website_domain("localhost"))
        self.assertEqual(
            normalize.name_key("Ibérica Tools, S.L."),
            normalize.name_key("iberica tools"),
        )
        self.assertNotEqual(
            normalize.name_key("Quill Ltd"), normalize.name_key("Quills")
        )
