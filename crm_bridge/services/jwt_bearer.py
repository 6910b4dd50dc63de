"""RS256 JSON Web Tokens for Salesforce's OAuth 2.0 JWT bearer flow.

Salesforce accepts only RS256 assertions: base64url of the header, a dot,
base64url of the claims, a dot and base64url of the RSA PKCS#1 v1.5
SHA-256 signature over the first two parts. PyJWT is not a dependency of
the suite, so the token is built with `cryptography`, which Odoo needs
anyway.
"""

import base64
import json
import time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

# Salesforce rejects assertions that expire more than about three minutes ahead.
ASSERTION_LIFETIME_SECONDS = 170


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _json_segment(value):
    return _b64url(json.dumps(value, separators=(",", ":")).encode())


def build_assertion(private_key_pem, issuer, subject, audience, now=None):
    """Return a signed JWT asserting `subject` for the connected app `issuer`.

    `private_key_pem` is the connected app's RSA private key (PEM text);
    `audience` is the login URL, such as https://login.salesforce.com.
    Raises ValueError when the key cannot be loaded.
    """
    issued = int(now if now is not None else time.time())
    claims = {
        "iss": issuer,
        "sub": subject,
        "aud": audience,
        "exp": issued + ASSERTION_LIFETIME_SECONDS,
    }
    signing_input = (
        f"{_json_segment({'alg': 'RS256', 'typ': 'JWT'})}.{_json_segment(claims)}"
    )
    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    signature = key.sign(
        signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256()
    )
    return f"{signing_input}.{_b64url(signature)}"


def verify_assertion(assertion, public_key_pem):
    """Return the claims of `assertion` after checking its RS256 signature.

    Used by the suite's tests. Raises
    cryptography.exceptions.InvalidSignature on a bad signature.
    """
    signing_input, _dot, signature = assertion.rpartition(".")
    key = serialization.load_pem_public_key(public_key_pem.encode())
    padded = signature + "=" * (-len(signature) % 4)
    key.verify(
        base64.urlsafe_b64decode(padded),
        signing_input.encode("ascii"),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    claims_segment = signing_input.split(".")[1]
    claims_padded = claims_segment + "=" * (-len(claims_segment) % 4)
    return json.loads(base64.urlsafe_b64decode(claims_padded))
