"""idp.masking: the one convention for showing personal data masked (the last 3 of 9 or more characters
visible; phone numbers as a number, e-mail addresses with their domain, names as initials)."""

from __future__ import annotations

import re

import pytest

from idp.masking import MASK
from idp.masking import MASK_OF
from idp.masking import mask_email
from idp.masking import mask_identifier
from idp.masking import mask_name
from idp.masking import mask_personal_id
from idp.masking import mask_phone
from idp.masking import mask_tax_code

FUNCTIONS = (mask_personal_id, mask_tax_code, mask_phone, mask_email, mask_name, mask_identifier)
PIN = "001090061234"


@pytest.mark.parametrize(("value", "shown"), [
    (PIN, "•••••••••234"),
    (f"  {PIN} ", "•••••••••234"),  # as typed
    ("12345678", "••••••••"),  # shorter than 9: nothing shown
    ("123456789", "••••••789"),
    ("1", "•"),
])
def test_personal_ids_show_their_last_3_digits(value, shown):
    assert mask_personal_id(value) == shown


@pytest.mark.parametrize(("value", "shown"), [
    ("0100233488", "•••••••488"),
    ("0314409058-002", "•••••••••••002"),
    (PIN, "•••••••••234"),  # an individual's tax code is their personal ID
])
def test_tax_codes_keep_their_length(value, shown):
    assert mask_tax_code(value) == shown


@pytest.mark.parametrize(("value", "shown"), [
    ("0912345678", "0••• ••• 678"),
    ("+84912345678", "0••• ••• 678"),
    ("+84 912 345 678", "0••• ••• 678"),
    ("84912345678", "0••• ••• 678"),
    ("(024) 3825.1234", "0••• ••• 234"),  # a landline typed at registration
    ("+33612345678", "+••• ••• 678"),  # another country
    ("0••• ••• 678", "0••• ••• 678"),  # already masked
    ("113", "•••"),  # not a phone number: the generic rule
])
def test_phone_numbers_show_their_last_3_digits_not_their_length(value, shown):
    assert mask_phone(value) == shown


@pytest.mark.parametrize(("value", "shown"), [
    ("nguyen.an@example.vn", "n•••@example.vn"),
    ("Nguyen.An@Example.VN", "N•••@Example.VN"),
    ("an@example.vn", "•••@example.vn"),  # 1-2 characters: none shown
    ("a@b", "•••@b"),
    ("n•••@example.vn", "n•••@example.vn"),  # already masked
    ("trần@ví-dụ.vn", "t•••@ví-dụ.vn"),
    ("no-at-sign.example.vn", "••••••••••••••••••.vn"),
    ("@example.vn", "••••••••.vn"),
    ("nguyen@", "•••••••"),
    ("someone@001090061234.vn", "•" * 23),  # the domain would show a personal ID: everything masked
])
def test_email_addresses_keep_their_domain_only(value, shown):
    assert mask_email(value) == shown


@pytest.mark.parametrize(("value", "shown"), [
    ("Nguyễn Văn An", "N. V. A."),
    ("Đặng Thị Ánh", "Đ. T. Á."),
    ("Ánh", "Á."),
    ("A\u0301nh", "Á."),  # decomposed (NFD) accents: the composed initial
    ("  Lê   Minh ", "L. M."),
    ("Lê 001090061234", "L."),  # words that do not start with a letter are left out
    ("N. V. A.", "N. V. A."),  # already masked
])
def test_names_become_initials(value, shown):
    assert mask_name(value) == shown


@pytest.mark.parametrize(("value", "shown"), [
    (PIN, "•••••••••234"),
    ("0100233488", "•••••••488"),
    ("0912345678", "0••• ••• 678"),  # not a tax code (check digit): a phone number
    ("+84912345678", "0••• ••• 678"),
    ("nguyen.an@example.vn", "n•••@example.vn"),
    ("mock:001090061234", "••••••••••••••234"),  # a source's subject
    ("admin", "•••••"),
])
def test_identifiers_are_masked_by_the_kind_they_look_like(value, shown):
    assert mask_identifier(value) == shown


@pytest.mark.parametrize("function", FUNCTIONS)
@pytest.mark.parametrize("value", [None, "", "   "])
def test_nothing_gives_an_empty_string(function, value):
    assert function(value) == ""


MALFORMED = [12345678901234, 3.5, b"001090061234", ["x"], {"a": 1}, object(), "\x00\n\t", "@", "@@@", "+", "•" * 40,
             "Nguyễn" * 1000, "\ud800", "0" * 5000, "٠١٢٣٤٥٦٧٨٩٠١"]


@pytest.mark.parametrize("function", FUNCTIONS)
@pytest.mark.parametrize("value", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_input_never_raises(function, value):
    assert isinstance(function(value), str)


SENSITIVE = [PIN, "0912345678", "+84912345678", "84912345678", "nguyen.an@example.vn", "0314409058-002",
             "mock:" + PIN, f"{PIN}@example.vn", f"x{PIN}x", "12345678901234567890", "Nguyễn Văn An"]


@pytest.mark.parametrize("function", FUNCTIONS)
@pytest.mark.parametrize("value", SENSITIVE)
def test_a_masked_value_never_holds_a_personal_id_a_phone_number_or_an_email(function, value):
    shown = function(value)
    assert not re.search(r"[0-9]{4}", shown)  # at most 3 digits in a row: no ID, no phone number
    assert value not in shown and "nguyen.an@" not in shown and "Văn" not in shown
    assert function(shown) == shown  # masking a masked value changes nothing


def test_a_personal_id_is_never_recoverable_from_all_its_masked_forms():
    """Every surface shows the same 3 characters, so the forms side by side still hide 9 digits."""
    forms = {function(PIN) for function in (mask_personal_id, mask_tax_code, mask_identifier)}
    assert forms == {MASK * 9 + "234"}


def test_claims_by_name():
    assert MASK_OF["personal_id"] is mask_personal_id and MASK_OF["phone"] is mask_phone
    assert MASK_OF["full_name"]("Trần Thị Chi") == "T. T. C."
