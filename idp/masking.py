"""Masking personal data for pages, lists, audit events and logs: the one convention.

Owns how a personal ID, tax code, phone number, e-mail address, name or any typed identifier is shown
when it must not be shown in full. Pure functions (no Flask, no database), so identity sources use them
too. Every function takes anything (None, an empty or malformed value, a non-string) and never raises;
None and empty values give "".

The rule: **the last 3 characters stay visible, the rest become "•"**, and only when the value has at
least 9 characters (never more than a third of a value is shown; a shorter one is masked entirely).
- Why 3: a person recognises the end of their own number ("ends in 234"), and the helpdesk, who sees
  the full value on an account's page, confirms it with the caller. Digits 1-6 of a personal ID are not
  secret (province, century and sex, year of birth: known to anyone who knows the person), so only the
  6-digit serial protects it. With 3 shown, someone who knows a person's province, sex and year of birth
  still has 1,000 candidates; 4 would leave 100, and first-and-last forms (0010****2345) leave none of
  the prefix hidden. A 12-digit personal ID is therefore never recoverable from a masked form.
- Why one rule everywhere: the same value masked on two surfaces (an audit event, a list, an
  authenticator app's label) shows the same 3 characters, so putting the forms side by side reveals
  nothing more than one of them. Different rules (last 4 here, first 4 there) would add up.
- By kind: personal IDs and tax codes keep their length ("•••••••••234"); phone numbers are shown as
  a number ("0••• ••• 678", "+••• ••• 678" abroad) without their length; an e-mail address keeps its
  domain (shared by many people) and the first character of a local part of 3 or more characters
  ("n•••@example.vn"); a name becomes its initials ("N. V. A.": names are not unique, and no letter of
  a word but the first is shown).
- A last check on every result: no run of more than 3 digits, so a masked value never holds a personal
  ID (12 consecutive digits), a full phone number or a full e-mail address; a value that would is masked
  entirely.
Masking a masked value gives it back unchanged, so stored masked forms can be shown through the same
functions.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from idp.identifiers import is_tax_code

MASK = "•"
VISIBLE = 3
MIN_LENGTH_TO_SHOW = 3 * VISIBLE

_DIGIT_RUN = re.compile(rf"[0-9]{{{VISIBLE + 1},}}")
_PERSONAL_ID = re.compile(r"[0-9]{12}")
_TAX_CODE = re.compile(r"[0-9]{10}(?:-[0-9]{3})?")
_PHONE_SEPARATORS = re.compile(r"[\s.()\-]")
_PHONE = re.compile(r"\+?[0-9]{9,15}")
_MASKED_PHONE = re.compile(rf"[0+]{MASK}{{3}} {MASK}{{3}} [0-9]{{3}}")


def _text(value: object) -> str:
    """The value as trimmed NFC text; None as ""."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return unicodedata.normalize("NFC", text).strip()


def _checked(shown: str, text: str) -> str:
    """`shown`, unless it holds a run of more than VISIBLE digits: then everything masked."""
    return MASK * len(text) if _DIGIT_RUN.search(shown) else shown


def _tail(text: str) -> str:
    if len(text) < MIN_LENGTH_TO_SHOW:
        return MASK * len(text)
    return _checked(MASK * (len(text) - VISIBLE) + text[-VISIBLE:], text)


def mask_personal_id(value: object) -> str:
    """A personal identification number: "001090061234" -> "•••••••••234"."""
    return _tail(_text(value))


def mask_tax_code(value: object) -> str:
    """A tax code: "0100233488" -> "•••••••488", "0100109106-001" -> "•••••••••••001"."""
    return _tail(_text(value))


def mask_phone(value: object) -> str:
    """A phone number however it was stored (0912 345 678, +84912345678, a landline) -> "0••• ••• 678";
    a number with another country code -> "+••• ••• 678". A value that is not a phone number is masked
    as a generic identifier."""
    text = _text(value)
    if _MASKED_PHONE.fullmatch(text):
        return text
    compact = _PHONE_SEPARATORS.sub("", text)
    if not _PHONE.fullmatch(compact):
        return _tail(text)
    lead = "+" if compact.startswith("+") and not compact.startswith("+84") else "0"
    return f"{lead}{MASK * 3} {MASK * 3} {compact[-VISIBLE:]}"


def mask_email(value: object) -> str:
    """An e-mail address: "nguyen.an@example.vn" -> "n•••@example.vn"; a local part of 1-2 characters
    shows none of them ("•••@example.vn"). A value without a local part and a domain is masked as a
    generic identifier."""
    text = _text(value)
    local, at, domain = text.rpartition("@")
    if not (at and local and domain):
        return _tail(text)
    first = local[0] if len(local) >= VISIBLE and local[0] != MASK else ""
    return _checked(f"{first}{MASK * 3}@{domain}", text)


def mask_name(value: object) -> str:
    """A name as the initials of its words: "Nguyễn Văn An" -> "N. V. A."; words that do not start with
    a letter are left out."""
    words = _text(value).split()
    return " ".join(f"{word[0]}." for word in words if word[0].isalpha())


def mask_identifier(value: object) -> str:
    """Anything typed as an identifier (a login box, a search): masked by the kind it looks like (e-mail,
    personal ID, tax code, phone number), else the generic rule (the last 3 of 9 or more characters)."""
    text = _text(value)
    if "@" in text:
        return mask_email(text)
    if _PERSONAL_ID.fullmatch(text):
        return mask_personal_id(text)
    if _TAX_CODE.fullmatch(text) and is_tax_code(text):
        return mask_tax_code(text)
    if _MASKED_PHONE.fullmatch(text) or _PHONE.fullmatch(_PHONE_SEPARATORS.sub("", text)):
        return mask_phone(text)
    return _tail(text)


# Claims and account attributes by name -> how each is masked (the names of IdentityAssertion claims and
# Account columns). A name not listed here is not personal enough to mask (kind, agency) or is dropped
# where data is minimised (see idp.admin.review_admin).
MASK_OF: dict[str, Callable[[object], str]] = {
    "identifier": mask_identifier, "personal_id": mask_personal_id, "tax_code": mask_tax_code,
    "phone": mask_phone, "email": mask_email, "full_name": mask_name,
}
