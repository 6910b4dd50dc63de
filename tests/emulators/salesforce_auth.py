"""OAuth token endpoint and identity URL of the Salesforce emulator.

`/services/oauth2/token` takes the client-credentials grant (client id and
secret in the form or in HTTP Basic auth) and the JWT bearer grant (an RS256
assertion signed with a key registered through
`SalesforceStore.register_jwt_app`). Neither grant returns a refresh token:
a client gets a new session when the old one expires. Errors use OAuth's
`{"error", "error_description"}` body.
"""

import base64
import hashlib
import hmac
import json

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from .base import ApiError, json_response

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# Tolerated clock difference when checking a JWT's `exp` claim, in seconds.
JWT_LEEWAY_SECONDS = 5


class OAuthError(Exception):
    """A token request the emulator rejects."""

    def __init__(self, error, description, status=400):
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


def b64url_decode(text):
    """Decode unpadded base64url text."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SalesforceAuth:
    """Token and identity endpoints, mixed into `SalesforceApp`."""

    def oauth_token(self, request):
        """POST /services/oauth2/token: client credentials or JWT bearer."""
        grant_type = request.form.get("grant_type")
        try:
            if grant_type == "client_credentials":
                user = self._client_credentials_user(request)
            elif grant_type == JWT_GRANT:
                assertion = request.form.get("assertion") or ""
                user = self._jwt_user(assertion, request.host_url.rstrip("/"))
            else:
                raise OAuthError(
                    "unsupported_grant_type", f"grant type not supported: {grant_type}"
                )
        except OAuthError as error:
            body = {"error": error.error, "error_description": error.description}
            return json_response(body, error.status)
        return json_response(self._token_body(request, user))

    def identity(self, request, org_id, user_id):
        """GET /id/{orgId}/{userId}: the identity of the session's user."""
        user = self.store.get("User", user_id)
        if user is None or org_id[:15] != self.store.config.org_id[:15]:
            raise ApiError(404, "Bad_Id", "NOT_FOUND")
        body = {
            "id": f"{request.host_url}id/{self.store.config.org_id}/{user['Id']}",
            "user_id": user["Id"],
            "organization_id": self.store.config.org_id,
            "username": user["Username"],
            "email": user["Email"],
            "display_name": user["Name"],
            "active": bool(user["IsActive"]),
        }
        return json_response(body)

    def _token_body(self, request, user):
        token = self.tokens.issue(user["Id"], scopes=("api",))
        issued_at = str(int(token.issued_at * 1000))
        identity = f"{request.host_url}id/{self.store.config.org_id}/{user['Id']}"
        # Salesforce signs id + issued_at with the consumer secret.
        digest = hmac.new(
            self.store.config.client_secret.encode(),
            (identity + issued_at).encode(),
            hashlib.sha256,
        ).digest()
        return {
            "access_token": token.value,
            "signature": base64.b64encode(digest).decode(),
            "scope": "api",
            "instance_url": request.host_url.rstrip("/"),
            "id": identity,
            "token_type": "Bearer",
            "issued_at": issued_at,
        }

    def _client_credentials_user(self, request):
        config = self.store.config
        client_id = request.form.get("client_id")
        client_secret = request.form.get("client_secret")
        if request.authorization and request.authorization.type == "basic":
            client_id = request.authorization.username
            client_secret = request.authorization.password
        if client_id != config.client_id:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        if client_secret != config.client_secret:
            raise OAuthError("invalid_client", "invalid client credentials")
        return self.store.integration_user

    def _jwt_user(self, assertion, own_url):
        parts = assertion.split(".")
        if len(parts) != 3:
            raise OAuthError("invalid_grant", "invalid assertion: not a signed JWT")
        try:
            header = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
            signature = b64url_decode(parts[2])
        except ValueError as error:
            raise OAuthError(
                "invalid_grant", "invalid assertion: bad encoding"
            ) from error
        if header.get("alg") != "RS256":
            raise OAuthError("invalid_grant", "invalid assertion: alg must be RS256")
        public_key = self.store.jwt_apps.get(claims.get("iss"))
        if public_key is None:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        signed = f"{parts[0]}.{parts[1]}".encode()
        try:
            public_key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature as error:
            raise OAuthError(
                "invalid_grant", "invalid assertion: bad signature"
            ) from error
        self._check_claims(claims, own_url)
        return self._jwt_subject(claims)

    def _check_claims(self, claims, own_url):
        config = self.store.config
        audiences = (*config.jwt_audiences, own_url)
        if str(claims.get("aud", "")).rstrip("/") not in audiences:
            raise OAuthError("invalid_grant", "audience is invalid")
        now = self.clock.time()
        try:
            expires = float(claims["exp"])
        except (KeyError, TypeError, ValueError) as error:
            raise OAuthError("invalid_grant", "invalid assertion: no exp") from error
        if expires + JWT_LEEWAY_SECONDS < now:
            raise OAuthError("invalid_grant", "expired authorization code")
        if expires > now + config.jwt_max_ahead_seconds + JWT_LEEWAY_SECONDS:
            raise OAuthError(
                "invalid_grant", "invalid assertion: exp is too far in the future"
            )

    def _jwt_subject(self, claims):
        # `prn` is the legacy name of `sub` and wins when both are present.
        username = claims.get("prn") or claims.get("sub")
        users = self.store.find_by("User", "Username", username) if username else []
        if not users or not users[0]["IsActive"]:
            raise OAuthError("invalid_grant", "user hasn't approved this consumer")
        return users[0]
