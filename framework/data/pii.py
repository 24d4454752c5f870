"""Does a column look like personal data? From its name, and from a sample of its string values.

Conservative on purpose: a finding is a prompt for the person who reviews the contract, so it must
rarely be wrong. Values count only where most of a sample matches (emails, IPv4/IPv6 addresses,
phone numbers written as phone numbers, i.e. with a leading `+` or separators; bare digit strings
are ids as often as phone numbers, so they are not flagged), and person names only where the sample
is also mostly distinct (a column of city names repeats its values, a column of customers does not).
Hex hashes such as Criteo's categorical values match none of the patterns.

Example:
    >>> finding = detect_pii("contact", pa.array(["ana@example.com", "bo@example.org"] * 10))
    >>> finding.reason
    '100% of 20 sampled values look like email addresses'
    >>> detect_pii("customer_email").reason
    "the name 'customer_email' suggests an email address"
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["PiiFinding", "detect_pii", "pii_from_name", "pii_from_values"]

VALUE_FRACTION = 0.5  # share of sampled values that must match a pattern
NAME_FRACTION = 0.8  # person names: stricter, as capitalised word pairs are common outside names
NAME_DISTINCT_FRACTION = 0.5  # person names: share of sampled values that are distinct
MIN_VALUES = 5  # fewer non-null sampled values than this say nothing

# kind → (what one value is, what many values are)
KINDS = {
    "email": ("an email address", "email addresses"),
    "ip": ("an IP address", "IP addresses"),
    "phone": ("a phone number", "phone numbers"),
    "person_name": ("a person's name", "names of people"),
    "address": ("a postal address", "postal addresses"),
    "ssn": ("a social security number", "social security numbers"),
    "birth_date": ("a date of birth", "dates of birth"),
}

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_PHONE_GROUPED = re.compile(r"(\+\d{1,3}[ .-]?)?(\(\d{1,4}\)[ .-]?)?\d{1,4}([ .-]\d{1,5}){1,5}")
_PHONE_INTERNATIONAL = re.compile(r"\+\d{8,15}")

# Name hints: whole tokens of the column name (`customerEmail` → customer, email).
_NAME_TOKENS = {
    "email": {"email", "mail", "emailaddress", "emailaddr"},
    "ip": {"ip", "ipv4", "ipv6", "ipaddress", "ipaddr"},
    "phone": {"phone", "telephone", "tel", "msisdn", "phonenumber", "cellphone", "mobilephone", "mobilenumber"},
    "ssn": {"ssn", "socialsecurity", "socialsecuritynumber"},
    "birth_date": {"dob", "birthdate", "birthday", "dateofbirth"},
    "person_name": {"firstname", "lastname", "fullname", "middlename", "maidenname", "surname", "givenname",
                    "familyname"},
    "address": {"address", "street", "streetaddress", "homeaddress", "postaladdress"},
}
_PERSON_WORDS = {"customer", "user", "person", "contact", "patient", "employee", "client", "member", "owner"}
_NOT_POSTAL = {"mac", "ip", "email", "mail", "web", "url", "memory", "wallet"}  # `mac_address` is no street


@dataclass(frozen=True)
class PiiFinding:
    """Why a column looks like personal data: `kind` (a key of KINDS) and a sentence for the reviewer."""

    kind: str
    reason: str


def _tokens(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", name))
    return [t for t in re.split(r"[\W_]+", spaced.lower()) if t]


def _name_kind(tokens: list[str]) -> str | None:
    joined = {"".join(tokens[i:j]) for i in range(len(tokens)) for j in range(i + 1, len(tokens) + 1)}
    for kind, hints in _NAME_TOKENS.items():
        if kind == "address" and _NOT_POSTAL & set(tokens):
            continue
        if hints & joined:
            return kind
    if tokens == ["name"] or (len(tokens) == 2 and tokens[1] == "name" and tokens[0] in _PERSON_WORDS):
        return "person_name"
    return None


def pii_from_name(name: str) -> PiiFinding | None:
    """A finding when the column's name says what it holds (`email`, `phone_number`, `last_name`...)."""
    kind = _name_kind(_tokens(name))
    if kind is None:
        return None
    return PiiFinding(kind, f"the name {name!r} suggests {KINDS[kind][0]}")


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _is_phone(value: str) -> bool:
    digits = sum(c.isdigit() for c in value)
    if _PHONE_INTERNATIONAL.fullmatch(value):
        return True
    return 9 <= digits <= 15 and bool(_PHONE_GROUPED.fullmatch(value))


def _is_name_word(word: str) -> bool:
    """`Ada`, `O'Brien`, `Jean-Luc`, `McDonald`; not `USA`, `a`, `x7`."""
    parts = re.split(r"['-]", word)
    return len(word) > 1 and not word.isupper() and all(p.isalpha() and p[0].isupper() for p in parts)


def _is_person_name(value: str) -> bool:
    words = value.split(" ")
    return 2 <= len(words) <= 3 and all(_is_name_word(w) for w in words)


_CHECKS = (("email", _EMAIL.fullmatch), ("ip", _is_ip), ("phone", _is_phone), ("person_name", _is_person_name))


def _kind_of(value: str) -> str | None:
    """The first kind a value matches, so a dotted IPv4 address never also counts as a phone number."""
    for kind, matches in _CHECKS:
        if matches(value):
            return kind
    return None


def pii_from_values(values: pa.Array | pa.ChunkedArray) -> PiiFinding | None:
    """A finding when most non-null sampled strings look like one kind of personal data."""
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        return None
    sample = [v.strip() for v in pc.drop_null(values).to_pylist()]
    if len(sample) < MIN_VALUES:
        return None
    kinds = [_kind_of(v) for v in sample]
    for kind, _ in _CHECKS:
        fraction = kinds.count(kind) / len(sample)
        needed = NAME_FRACTION if kind == "person_name" else VALUE_FRACTION
        if fraction < needed:
            continue
        if kind == "person_name" and len(set(sample)) / len(sample) < NAME_DISTINCT_FRACTION:
            continue
        return PiiFinding(kind, f"{fraction:.0%} of {len(sample):,} sampled values look like {KINDS[kind][1]}")
    return None


def detect_pii(name: str, values: pa.Array | pa.ChunkedArray | None = None) -> PiiFinding | None:
    """The sampled values' evidence when there is some, else the name's; None when neither says PII."""
    found = pii_from_values(values) if values is not None else None
    return found or pii_from_name(name)
