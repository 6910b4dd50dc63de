"""Salesforce record ids in their 18-character, case-insensitive-safe form.

Salesforce ids are case-sensitive base-62 strings of 15 characters. The
18-character form appends three characters that encode, five characters at
a time, which letters of the 15 are upper case, so the id survives systems
that compare or store text without case. The suite stores 18-character ids
and turns every id it receives into that form: a 15-character id gains its
suffix, and an 18-character id whose letters lost their case is repaired
from its suffix.
"""

import re

SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
ID_PATTERN = re.compile(r"^[0-9A-Za-z]{15}(?:[0-9A-Za-z]{3})?$")


def _upper_case_bits(chunk):
    """Return the number whose bit j is set when character j is an A-Z letter."""
    return sum(
        1 << position for position, char in enumerate(chunk) if "A" <= char <= "Z"
    )


def checksum(id15):
    """Return the three suffix characters of a 15-character id."""
    chunks = (id15[start : start + 5] for start in range(0, 15, 5))
    return "".join(SUFFIX_ALPHABET[_upper_case_bits(chunk)] for chunk in chunks)


def _restore_case(id15, suffix):
    """Return `id15` with the letter case that `suffix` encodes."""
    chars = []
    for index, char in enumerate(id15):
        bits = SUFFIX_ALPHABET.index(suffix[index // 5])
        upper = bits & (1 << (index % 5))
        chars.append(char.upper() if upper else char.lower())
    return "".join(chars)


def to_18(value):
    """Return the canonical 18-character form of a Salesforce id.

    Accepts a 15-character id (case intact) or an 18-character id whose
    first 15 characters may have lost their case. Raises ValueError for
    anything that is not a Salesforce id, so a malformed id never becomes
    a mapping key.
    """
    text = (value or "").strip()
    if not ID_PATTERN.match(text):
        raise ValueError(f"{value!r} is not a 15- or 18-character Salesforce id")
    if len(text) == 15:
        return text + checksum(text)
    suffix = text[15:].upper()
    if any(char not in SUFFIX_ALPHABET for char in suffix):
        raise ValueError(f"{value!r} has an invalid 18-character suffix")
    id15 = _restore_case(text[:15], suffix)
    return id15 + suffix


def to_18_or_none(value):
    """Return `to_18(value)`, or None when `value` is empty or not an id."""
    try:
        return to_18(value)
    except ValueError:
        return None
