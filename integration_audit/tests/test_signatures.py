"""Webhook signatures against the vendors' published vectors, and their checks."""

import time
from types import SimpleNamespace

from werkzeug.datastructures import Headers

from odoo.addons.integration_audit.services import signatures
from odoo.tests import TransactionCase, tagged

# HubSpot's documentation and SDK tests use this placeholder client secret.
SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
WEBHOOK_URI = "https://www.example.com/webhook_uri"
# The body of HubSpot's v1 documentation example.
V1_DOC_BODY = (
    '[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":'
    '1564113600000,"subscriptionType":"contact.creation","attemptNumber":0,'
    '"objectId":123,"changeSource":"CRM","changeFlag":"NEW","appId":54321}]'
)
# The body of the SDK's signature tests, single quotes as written there.
SDK_BODY = "{'example_field':'example_value'}"


def delivery(headers, body=b"{}", method="POST", url=WEBHOOK_URI):
    return SimpleNamespace(headers=Headers(headers), body=body, method=method, url=url)


@tagged("post_install", "-at_install")
class TestHubSpotVectors(TransactionCase):
    """Vectors from HubSpot's legacy docs (v1, v2) and its Python SDK tests."""

    def test_v1_documentation_vector(self):
        self.assertEqual(
            signatures.hubspot_v1(SECRET, V1_DOC_BODY),
            "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de",
        )

    def test_v2_documentation_get_vector(self):
        self.assertEqual(
            signatures.hubspot_v2(SECRET, "GET", WEBHOOK_URI, ""),
            "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e",
        )

    def test_v2_documentation_post_vector(self):
        body = '{"example_field":"example_value"}'
        self.assertEqual(
            signatures.hubspot_v2(SECRET, "POST", WEBHOOK_URI, body),
            "9569219f8ba981ffa6f6f16aa0f48637d35d728c7e4d93d0d52efaa512af7900",
        )

    def test_v3_sdk_vector(self):
        self.assertEqual(
            signatures.hubspot_v3(SECRET, "POST", WEBHOOK_URI, SDK_BODY, "15000000"),
            "HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw=",
        )

    def test_v1_and_v2_sdk_vectors(self):
        self.assertEqual(
            signatures.hubspot_v1(SECRET, SDK_BODY),
            "69fc6631a867edd4f9e9e627fc5c1148e3fbdd8b21837b6d2b8901c1fa57f750",
        )
        self.assertEqual(
            signatures.hubspot_v2(SECRET, "POST", WEBHOOK_URI, SDK_BODY),
            "4fe4e3a7d3cf09db53be39d0a58130e2aaba074ec123a9e355b876a689a1c383",
        )

    def test_bytes_and_text_sign_alike(self):
        as_bytes = signatures.hubspot_v3(
            SECRET.encode(),
            b"POST",
            WEBHOOK_URI.encode(),
            SDK_BODY.encode(),
            b"15000000",
        )
        self.assertEqual(as_bytes, "HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw=")

    def test_v3_is_standard_padded_base64(self):
        signature = signatures.hubspot_v3(SECRET, "POST", WEBHOOK_URI, V1_DOC_BODY, 1)
        self.assertTrue(signature.endswith("="))
        self.assertNotIn("-", signature)
        self.assertNotIn("_", signature)


@tagged("post_install", "-at_install")
class TestHubSpotVerification(TransactionCase):
    def setUp(self):
        super().setUp()
        self.now = time.time()
        self.timestamp = str(int(self.now * 1000))

    def v3_headers(self, body, timestamp=None, secret=SECRET, url=WEBHOOK_URI):
        timestamp = timestamp or self.timestamp
        return {
            "X-HubSpot-Signature-v3": signatures.hubspot_v3(
                secret, "POST", url, body, timestamp
            ),
            "X-HubSpot-Request-Timestamp": timestamp,
        }

    def verify(self, request, versions=("v3",)):
        return signatures.verify_hubspot(request, SECRET, list(versions), 300, self.now)

    def test_v3_accepted(self):
        body = V1_DOC_BODY.encode()
        self.assertEqual(self.verify(delivery(self.v3_headers(body), body)), "v3")

    def test_v3_header_name_is_case_insensitive(self):
        body = b"[]"
        headers = {key.upper(): value for key, value in self.v3_headers(body).items()}
        self.assertEqual(self.verify(delivery(headers, body)), "v3")

    def test_v3_tampered_body_rejected(self):
        headers = self.v3_headers(b'[{"eventId":1}]')
        with self.assertRaisesRegex(signatures.SignatureError, "does not match"):
            self.verify(delivery(headers, b'[{"eventId":2}]'))

    def test_v3_other_url_rejected(self):
        body = b"[]"
        headers = self.v3_headers(body, url="https://attacker.example/webhook_uri")
        with self.assertRaises(signatures.SignatureError):
            self.verify(delivery(headers, body))

    def test_v3_wrong_secret_rejected(self):
        body = b"[]"
        headers = self.v3_headers(body, secret="another-secret")
        with self.assertRaises(signatures.SignatureError):
            self.verify(delivery(headers, body))

    def test_v3_stale_timestamp_rejected(self):
        body = b"[]"
        stale = str(int((self.now - 301) * 1000))
        with self.assertRaisesRegex(signatures.SignatureError, "outside"):
            self.verify(delivery(self.v3_headers(body, stale), body))

    def test_v3_future_timestamp_rejected(self):
        body = b"[]"
        ahead = str(int((self.now + 301) * 1000))
        with self.assertRaisesRegex(signatures.SignatureError, "outside"):
            self.verify(delivery(self.v3_headers(body, ahead), body))

    def test_v3_timestamp_inside_window_accepted(self):
        body = b"[]"
        recent = str(int((self.now - 299) * 1000))
        self.assertEqual(
            self.verify(delivery(self.v3_headers(body, recent), body)), "v3"
        )

    def test_v3_timestamp_not_integer_rejected(self):
        headers = self.v3_headers(b"[]")
        headers["X-HubSpot-Request-Timestamp"] = "yesterday"
        with self.assertRaisesRegex(signatures.SignatureError, "not an integer"):
            self.verify(delivery(headers, b"[]"))

    def test_v1_rejected_unless_listed(self):
        body = V1_DOC_BODY.encode()
        headers = {
            "X-HubSpot-Signature": signatures.hubspot_v1(SECRET, body),
            "X-HubSpot-Signature-Version": "v1",
        }
        with self.assertRaisesRegex(signatures.SignatureError, "accepted version"):
            self.verify(delivery(headers, body))
        self.assertEqual(self.verify(delivery(headers, body), ("v1", "v3")), "v1")

    def test_v2_signs_full_url_with_query(self):
        body = b"[]"
        url = "https://hooks.example.com/integration/webhook/hubspot/7?b=2&a=1"
        headers = {
            "X-HubSpot-Signature": signatures.hubspot_v2(SECRET, "POST", url, body),
            "X-HubSpot-Signature-Version": "v2",
        }
        request = delivery(headers, body, url=url)
        self.assertEqual(self.verify(request, ("v2",)), "v2")
        reordered = delivery(headers, body, url=url.replace("b=2&a=1", "a=1&b=2"))
        with self.assertRaises(signatures.SignatureError):
            self.verify(reordered, ("v2",))

    def test_weaker_signature_never_rescues_v3(self):
        body = V1_DOC_BODY.encode()
        headers = self.v3_headers(b"something else")
        headers["X-HubSpot-Signature"] = signatures.hubspot_v1(SECRET, body)
        headers["X-HubSpot-Signature-Version"] = "v1"
        with self.assertRaisesRegex(signatures.SignatureError, "v3"):
            self.verify(delivery(headers, body), ("v1", "v3"))

    def test_unsigned_request_rejected(self):
        with self.assertRaises(signatures.SignatureError):
            self.verify(delivery({}, b"[]"), ("v1", "v2", "v3"))

    def test_parse_versions(self):
        self.assertEqual(signatures.parse_versions(" V3 , v1,bogus"), ["v1", "v3"])
        self.assertEqual(signatures.parse_versions(False), [])


@tagged("post_install", "-at_install")
class TestPsaSignature(TransactionCase):
    def setUp(self):
        super().setUp()
        self.now = time.time()

    def signed(self, body, timestamp, secret="psa-secret"):
        return delivery(
            {
                "X-Timestamp": str(timestamp),
                "X-Signature": signatures.psa_signature(secret, str(timestamp), body),
            },
            body,
        )

    def test_psa_signature_is_hmac_of_timestamp_dot_body(self):
        # Computed once with the standard library, apart from the code:
        # hmac.new(b"key", b"1700000000.{}", hashlib.sha256).hexdigest()
        expected = "9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"
        self.assertEqual(signatures.psa_signature("key", "1700000000", b"{}"), expected)
        self.assertEqual(signatures.psa_signature("key", 1700000000, "{}"), expected)

    def test_psa_accepted_inside_window(self):
        body = b'{"id": "1"}'
        signatures.verify_psa(
            self.signed(body, int(self.now) - 10), "psa-secret", 300, self.now
        )

    def test_psa_old_timestamp_rejected(self):
        body = b'{"id": "1"}'
        with self.assertRaisesRegex(signatures.SignatureError, "outside"):
            signatures.verify_psa(
                self.signed(body, int(self.now) - 301), "psa-secret", 300, self.now
            )

    def test_psa_wrong_secret_rejected(self):
        body = b'{"id": "1"}'
        request = self.signed(body, int(self.now), secret="other")
        with self.assertRaisesRegex(signatures.SignatureError, "X-Signature"):
            signatures.verify_psa(request, "psa-secret", 300, self.now)

    def test_psa_signature_accepts_uppercase_hex(self):
        body = b"{}"
        request = self.signed(body, int(self.now))
        request.headers["X-Signature"] = request.headers["X-Signature"].upper()
        signatures.verify_psa(request, "psa-secret", 300, self.now)

    def test_matches_handles_non_ascii_and_empty(self):
        self.assertFalse(signatures.matches("abc", "äbc"))
        self.assertFalse(signatures.matches("abc", None))
        self.assertFalse(signatures.matches("", ""))
        self.assertTrue(signatures.matches("token-1", b"token-1"))
