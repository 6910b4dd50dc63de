"""Normal forms of the master-data values used to match and store partners.

Each function turns one kind of value as typed in a CRM (a tax id with
spaces, a phone number without its country code, a website with a path)
into the form the suite stores and compares. Two spellings of the same
value then match, and a value that cannot be read is reported instead of
guessed.
"""

import re
import unicodedata
from collections import namedtuple
from urllib.parse import urlsplit

import phonenumbers
from stdnum.exceptions import ValidationError as StdnumValidationError
from stdnum.util import get_cc_module

from odoo.tools.mail import email_normalize

# Free-mail providers: a shared e-mail domain says nothing about the company.
GENERIC_EMAIL_DOMAINS = frozenset(
    {
        "aol.com",
        "gmail.com",
        "gmx.de",
        "gmx.net",
        "googlemail.com",
        "hotmail.com",
        "icloud.com",
        "live.com",
        "mail.com",
        "me.com",
        "msn.com",
        "outlook.com",
        "proton.me",
        "protonmail.com",
        "web.de",
        "yahoo.com",
        "yandex.ru",
    }
)

# Legal-form words dropped from company names before comparing them.
LEGAL_FORMS = frozenset(
    {
        "ab",
        "ag",
        "bv",
        "co",
        "corp",
        "corporation",
        "gmbh",
        "inc",
        "kg",
        "limited",
        "llc",
        "llp",
        "ltd",
        "nv",
        "oy",
        "plc",
        "sa",
        "sarl",
        "sas",
        "sl",
        "spa",
        "srl",
    }
)

# Greece writes VAT numbers with the prefix EL, not its ISO code GR.
VAT_PREFIX_BY_COUNTRY = {"gr": "EL"}
VAT_COUNTRY_BY_PREFIX = {"el": "gr"}

VatNumber = namedtuple("VatNumber", "value valid")


def normalize_email(value):
    """Return the lower-cased address of `value`, or False when it has none."""
    return email_normalize(value or "") or False


def email_domain(value):
    """Return the domain of an e-mail address, or False."""
    normalized = normalize_email(value)
    return normalized.rpartition("@")[2] if normalized else False


def company_domain(value):
    """Return the domain of an e-mail address unless it is a free-mail one."""
    domain = email_domain(value)
    return domain if domain and domain not in GENERIC_EMAIL_DOMAINS else False


def website_domain(value):
    """Return the host name of a website without `www.`, or False.

    Accepts a bare domain (`example.com`) as CRMs store it as well as a URL.
    """
    text = (value or "").strip().lower()
    if not text:
        return False
    if "://" not in text:
        text = f"http://{text}"
    host = urlsplit(text).hostname or ""
    host = host.removeprefix("www.")
    return host if "." in host else False


def website_url(value):
    """Return a website as an https URL on its domain, or False."""
    domain = website_domain(value)
    return f"https://{domain}" if domain else False


def name_key(value):
    """Return a name reduced for comparison.

    Accents, case, punctuation and legal-form words are dropped, so
    "Ibérica Tools, S.L." and "iberica tools" give the same key.
    """
    text = unicodedata.normalize("NFKD", value or "")
    text = "".join(char for char in text if not unicodedata.combining(char))
    text = re.sub(r"[^\w\s]", "", text.casefold())
    words = [word for word in text.split() if word not in LEGAL_FORMS]
    return " ".join(words) or False


def normalize_vat(value, country_code=None):
    """Return the stored form of a tax id and whether it passed its checksum.

    The stored form is upper case, without spaces or punctuation. Where
    python-stdnum has the country's VAT format, the country prefix is
    added (taken from the number itself, or from `country_code`) and
    `valid` says whether the checksum passed. Elsewhere (a US EIN, for
    instance) the number is kept without a prefix and `valid` is None. An
    empty value gives None.
    """
    compact = re.sub(r"[^0-9A-Za-z]", "", value or "").upper()
    if not compact:
        return None
    country, number = _split_vat_prefix(compact, country_code)
    module = get_cc_module(country, "vat") if country else None
    if not module:
        return VatNumber(compact, None)
    prefix = VAT_PREFIX_BY_COUNTRY.get(country, country.upper())
    try:
        number = module.validate(number)
        valid = True
    except StdnumValidationError:
        valid = False
    stored = number if number.startswith(prefix) else prefix + number
    return VatNumber(stored, valid)


def _split_vat_prefix(compact, country_code):
    """Split `compact` into (lower-case country code, number without prefix)."""
    head = compact[:2].lower()
    if head.isalpha():
        country = VAT_COUNTRY_BY_PREFIX.get(head, head)
        if get_cc_module(country, "vat"):
            return country, compact[2:]
    return (country_code or "").lower() or None, compact


def normalize_phone(value, country_code=None):
    """Return a phone number in E.164, or False when it cannot be read.

    A number without an international prefix is read as a number of
    `country_code` (ISO 3166 alpha-2).
    """
    text = (value or "").strip()
    if not text:
        return False
    region = (country_code or "").upper() or None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return False
    if not phonenumbers.is_valid_number(number):
        return False
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
