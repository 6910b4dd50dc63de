"""Redaction of payloads before they reach the audit log."""

import hashlib
import json
import re

# Keys whose values are credentials, wherever they appear in a payload.
SECRET_KEY_PATTERN = re.compile(
    r"pass(word)?|secret|token|authorization|api[_-]?key|signature|private[_-]?key|"
    r"session[_-]?id|cookie|assertion",
    re.IGNORECASE,
)
# Credentials inside URL query strings and form bodies: key=value pairs.
SECRET_PAIR_PATTERN = re.compile(
    r"((?:access_token|refresh_token|client_secret|token|password|api_key|assertion)=)"
    r"[^&\s\"']+",
    re.IGNORECASE,
)
# Credentials inside XML bodies, such as a Salesforce Outbound Message's
# <sf:SessionId>: the element's text is replaced, its tags kept.
SECRET_ELEMENT_PATTERN = re.compile(
    r"(<(?:[\w-]+:)?(SessionId|sessionId|Password|password|access_token|"
    r"client_secret)\b[^>]*>)[^<]*(</(?:[\w-]+:)?\2>)"
)
# Every match of the patterns above contains one of these words. So a text
# without any of them, and without a \u escape that could spell one, has
# nothing to redact.
CREDENTIAL_HINTS = (
    "pass",
    "secret",
    "token",
    "authorization",
    "api",
    "signature",
    "private",
    "session",
    "cookie",
    "assertion",
    "\\u",
)
REDACTED = "[redacted]"
DEFAULT_MAX_CHARS = 64 * 1024


def redact(value):
    """Return a copy of a JSON-like value with credential values replaced."""
    if isinstance(value, dict):
        return {
            key: REDACTED if SECRET_KEY_PATTERN.search(str(key)) else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact(item) for item in value]
    if isinstance(value, str):
        return SECRET_PAIR_PATTERN.sub(r"\1" + REDACTED, value)
    return value


def redact_text(text):
    """Redact a raw body: JSON bodies key by key, anything else by pattern."""
    if not text:
        return text
    lowered = text.lower()
    if not any(hint in lowered for hint in CREDENTIAL_HINTS):
        # Nothing that could name a credential, even escaped: kept as received.
        return text
    try:
        parsed = json.loads(text)
    except (ValueError, TypeError):
        text = SECRET_ELEMENT_PATTERN.sub(r"\1" + REDACTED + r"\3", text)
        return SECRET_PAIR_PATTERN.sub(r"\1" + REDACTED, text)
    return json.dumps(redact(parsed), ensure_ascii=False, sort_keys=True)


def digest(raw):
    """Return the SHA-256 hex digest of a body given as bytes or text."""
    if raw is None:
        return False
    if isinstance(raw, str):
        raw = raw.encode()
    return hashlib.sha256(raw).hexdigest()


def truncate(text, max_chars=DEFAULT_MAX_CHARS):
    """Return (text cut to `max_chars`, whether it was cut)."""
    if text and len(text) > max_chars:
        return text[:max_chars], True
    return text, False
