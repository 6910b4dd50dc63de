"""Tax ids, phone numbers and receipts for the fake firm's records.

Real integrations meet tax ids and phone numbers typed by people: spaced,
dotted, lower-cased, without the country prefix. The generator keeps one
canonical value per record (a checksum-valid tax id, an E.164 phone number)
and renders a messy copy of it, so tests can check that matching works on
the canonical form whatever the spelling. python-stdnum computes and
validates the check digits, phonenumbers picks numbers that parse as valid.
"""

import random
import struct
import unicodedata
import zlib

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType
from stdnum import luhn
from stdnum.be import vat as be_vat
from stdnum.ch import uid as ch_uid
from stdnum.ch import vat as ch_vat
from stdnum.de import vat as de_vat
from stdnum.es import cif as es_cif
from stdnum.es import vat as es_vat
from stdnum.fr import vat as fr_vat
from stdnum.gb import vat as gb_vat
from stdnum.iso7064 import mod_11_10
from stdnum.jp import cn as jp_cn
from stdnum.nl import vat as nl_vat
from stdnum.us import ein as us_ein

# Validators per country; US and JP numbers are company ids, not VAT numbers.
TAX_ID_VALIDATORS = {
    "BE": be_vat,
    "CH": ch_vat,
    "DE": de_vat,
    "ES": es_vat,
    "FR": fr_vat,
    "GB": gb_vat,
    "JP": jp_cn,
    "NL": nl_vat,
    "US": us_ein,
}

TAX_ID_KINDS = {
    "BE": "eu_vat",
    "CH": "ch_vat",
    "DE": "eu_vat",
    "ES": "eu_vat",
    "FR": "eu_vat",
    "GB": "gb_vat",
    "JP": "jp_corporate_number",
    "NL": "eu_vat",
    "US": "us_ein",
}

# EIN prefixes that the IRS assigns to its campuses (stdnum checks them).
_EIN_PREFIXES = ("12", "20", "26", "27", "45", "46", "47", "81", "82", "83", "94")


def is_valid_tax_id(country_code, value):
    """Return whether ``value`` is a valid tax id of the country (stdnum)."""
    validator = TAX_ID_VALIDATORS.get(country_code)
    return bool(validator and validator.is_valid(value))


def compact_tax_id(country_code, value):
    """Return the canonical spelling of a tax id typed in any form.

    The country prefix is added when it is missing, so "0477.472.701" typed
    for a Belgian company becomes "BE0477472701".
    """
    validator = TAX_ID_VALIDATORS[country_code]
    compact = validator.compact("".join(c for c in value if c.isalnum())).upper()
    if country_code == "US":
        return validator.format(compact)
    if country_code == "JP":
        return compact
    prefix = "CHE" if country_code == "CH" else country_code
    if compact.startswith(prefix):
        compact = compact[len(prefix) :]
    return prefix + compact


def make_tax_id(rng, country_code):
    """Return a new checksum-valid tax id for a company of the country."""
    make = _TAX_ID_MAKERS[country_code]
    for _attempt in range(50):
        value = make(rng)
        if value and is_valid_tax_id(country_code, value):
            return value
    raise ValueError(f"no valid tax id generated for country {country_code}")


def _make_be(rng):
    base = f"0{rng.randint(2000000, 9999999)}"
    return f"BE{base}{97 - int(base) % 97:02d}"


def _make_de(rng):
    digits = str(rng.randint(10000000, 99999999))
    return f"DE{digits}{mod_11_10.calc_check_digit(digits)}"


def _make_fr(rng):
    digits = str(rng.randint(10000000, 99999999))
    siren = digits + luhn.calc_check_digit(digits)
    return f"FR{(12 + 3 * (int(siren) % 97)) % 97:02d}{siren}"


def _make_gb(rng):
    digits = str(rng.randint(1000000, 9999999))
    total = sum(int(d) * w for d, w in zip(digits, range(8, 1, -1), strict=True))
    return f"GB{digits}{-total % 97:02d}"


def _make_nl(rng):
    digits = str(rng.randint(10000000, 99999999))
    check = sum(int(d) * w for d, w in zip(digits, range(9, 1, -1), strict=True)) % 11
    if check == 10:
        return None
    return f"NL{digits}{check}B{rng.randint(1, 19):02d}"


def _make_es(rng):
    body = f"B{rng.randint(10000000, 99999999)}"[:8]
    return f"ES{body}{es_cif.calc_check_digits(body)[0]}"


def _make_ch(rng):
    digits = str(rng.randint(10000000, 99999999))
    check = ch_uid.calc_check_digit(digits)
    if check == "10":
        return None
    return f"CHE{digits}{check}MWST"


def _make_us(rng):
    return f"{rng.choice(_EIN_PREFIXES)}-{rng.randint(1000000, 9999999)}"


def _make_jp(rng):
    body = str(rng.randint(10**11, 10**12 - 1))
    return jp_cn.calc_check_digit(body) + body


_TAX_ID_MAKERS = {
    "BE": _make_be,
    "CH": _make_ch,
    "DE": _make_de,
    "ES": _make_es,
    "FR": _make_fr,
    "GB": _make_gb,
    "JP": _make_jp,
    "NL": _make_nl,
    "US": _make_us,
}


def messy_tax_id(rng, country_code, value):
    """Return ``value`` as a person might have typed it into a CRM."""
    validator = TAX_ID_VALIDATORS[country_code]
    prefix = "" if country_code in ("US", "JP") else value[: _prefix_length(value)]
    body = value[len(prefix) :].replace("-", "")
    grouped = " ".join(body[i : i + 3] for i in range(0, len(body), 3))
    forms = [value, value.lower(), f"{prefix} {grouped}".strip()]
    if prefix:
        forms.append(body)
    if hasattr(validator, "format"):
        forms.append(validator.format(value))
    if country_code == "BE":
        forms.append(f"{prefix} {body[:4]}.{body[4:7]}.{body[7:]}")
    return rng.choice(forms)


def _prefix_length(value):
    return 3 if value.startswith("CHE") else 2


def make_phone(rng, country_code):
    """Return a valid fixed-line number of the country in E.164 form."""
    example = phonenumbers.example_number_for_type(
        country_code, PhoneNumberType.FIXED_LINE
    )
    national = str(example.national_number)
    free_digits = min(6, len(national) - 3)
    for _attempt in range(50):
        tail = "".join(str(rng.randint(0, 9)) for _digit in range(free_digits))
        number = phonenumbers.parse(
            f"+{example.country_code}{national[:-free_digits]}{tail}", None
        )
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, PhoneNumberFormat.E164)
    return phonenumbers.format_number(example, PhoneNumberFormat.E164)


def messy_phone(rng, e164):
    """Return an E.164 number in one of the forms people type.

    Every form parses back to ``e164`` with the record's country as the
    default region.
    """
    number = phonenumbers.parse(e164, None)
    international = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
    national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    significant = phonenumbers.national_significant_number(number)
    forms = [
        international,
        national,
        e164,
        international.replace(" ", "-"),
        national.replace(" ", ".") + " ",
    ]
    region = phonenumbers.region_code_for_number(number)
    if (
        phonenumbers.PhoneMetadata.metadata_for_region(region).international_prefix
        == "00"
    ):
        forms.append(f"00{number.country_code} {significant}")
    if national.startswith("0"):
        forms.append(f"+{number.country_code} (0){national[1:]}")
    return rng.choice(forms)


def ascii_slug(text, separator="-"):
    """Return ``text`` folded to lower-case ASCII words joined by ``separator``."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = "".join(c if c.isalnum() else " " for c in folded.lower()).split()
    return separator.join(words)


def make_receipt(key, total, currency, as_pdf):
    """Return (file name, content type, bytes) of a small receipt file."""
    if as_pdf:
        text = f"Receipt {key} total {total} {currency}"
        return f"receipt-{key}.pdf", "application/pdf", _tiny_pdf(text)
    shade = zlib.crc32(key.encode()) & 0xFF
    return f"receipt-{key}.png", "image/png", _tiny_png(shade)


def _tiny_png(shade, size=8):
    """Build a valid grey-scale PNG of ``size`` x ``size`` pixels."""

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0)
    rows = b"".join(b"\x00" + bytes([shade]) * size for _row in range(size))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _tiny_pdf(text):
    """Build a one-page PDF showing ``text``, with a correct xref table."""
    safe = text.replace("\\", "").replace("(", "").replace(")", "")
    stream = f"BT /F1 12 Tf 40 100 Td ({safe}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 144] "
        b"/Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    output = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(output))
        output += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref_at = len(output)
    output += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    output += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    output += b"trailer\n<< /Size %d /Root 1 0 R >>\n" % (len(objects) + 1)
    output += b"startxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(output)


def seeded_rng(*parts):
    """Return a random.Random seeded from ``parts``, stable across processes."""
    return random.Random(":".join(str(part) for part in parts))
