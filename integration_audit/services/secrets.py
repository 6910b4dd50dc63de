"""Encryption at rest of credentials and webhook secrets.

The keys live outside the database: the `integration_secret_keys` option of
the Odoo configuration file, or the `INTEGRATION_SECRET_KEYS` environment
variable, holds one or more Fernet keys separated by commas. The first key
encrypts; every listed key decrypts, so a rotation adds the new key in
front, runs `integration.backend._rotate_secret_key()`, then drops the old
key. A copied database without the keys holds only ciphertext.

Generate a key with:
    python3 -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"
"""

import os

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from odoo.exceptions import UserError
from odoo.tools import config

CONFIG_OPTION = "integration_secret_keys"
ENVIRONMENT_VARIABLE = "INTEGRATION_SECRET_KEYS"


class MissingKeyError(UserError):
    """No encryption key is configured on this server."""


def _keys():
    raw = config.get(CONFIG_OPTION) or os.environ.get(ENVIRONMENT_VARIABLE) or ""
    keys = [key.strip() for key in raw.split(",") if key.strip()]
    if not keys:
        raise MissingKeyError(
            "No encryption key for integration secrets is configured. Set "
            f"{CONFIG_OPTION} in the Odoo configuration file or the "
            f"{ENVIRONMENT_VARIABLE} environment variable to a Fernet key, "
            "then save the secret again."
        )
    return keys


def _cipher():
    try:
        return MultiFernet([Fernet(key.encode()) for key in _keys()])
    except ValueError as error:
        raise MissingKeyError(
            f"The key in {CONFIG_OPTION} is not a valid Fernet key ({error}). "
            "Generate one with cryptography's Fernet.generate_key()."
        ) from error


def encrypt(clear_text):
    """Return `clear_text` encrypted under the primary key, as text."""
    return _cipher().encrypt(clear_text.encode()).decode()


def decrypt(token):
    """Return the clear text of `token`; raise when no listed key opens it."""
    try:
        return _cipher().decrypt(token.encode()).decode()
    except InvalidToken as error:
        raise MissingKeyError(
            "A stored integration secret cannot be decrypted with the "
            f"configured keys. Add the key it was encrypted with to {CONFIG_OPTION}, "
            "or enter the secret again on the backend."
        ) from error


def rotate(token):
    """Return `token` re-encrypted under the primary key."""
    return _cipher().rotate(token.encode()).decode()
