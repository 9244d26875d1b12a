"""Vietnamese mobile number normalisation (idp/verifiers/telecom/phone.py).

Numbering plan: Circular 22/2014/TT-BTTTT and Decision 798/QĐ-BTTTT (2018 conversion of 11-digit
mobile numbers to 10 digits); landlines use 02x area codes since 2017. Output is E.164: +84 and 9 digits.
"""

from __future__ import annotations

import pytest

from idp.errors import VerificationFailed
from idp.verifiers.telecom.phone import OPERATOR_OF_PREFIX
from idp.verifiers.telecom.phone import normalise
from idp.verifiers.telecom.phone import operator_of

# One number per operator prefix group, in every accepted way of writing it.
VALID = [
    # Viettel: 086, 096-098 and 032-039 (from 0162-0169)
    ("0868 123 456", "+84868123456", "viettel"),
    ("0961234567", "+84961234567", "viettel"),
    ("097.123.4567", "+84971234567", "viettel"),
    ("+84 98 123 4567", "+84981234567", "viettel"),
    ("84321234567", "+84321234567", "viettel"),
    ("039-123-4567", "+84391234567", "viettel"),
    # VinaPhone: 088, 091, 094 and 081-085 (from 0127, 0129, 0123-0125)
    ("0888 123 456", "+84888123456", "vinaphone"),
    ("+84912345678", "+84912345678", "vinaphone"),
    ("0941234567", "+84941234567", "vinaphone"),
    ("081 234 5678", "+84812345678", "vinaphone"),
    ("0851234567", "+84851234567", "vinaphone"),
    # MobiFone: 089, 090, 093, 070 and 076-079 (from 0120-0128)
    ("0891234567", "+84891234567", "mobifone"),
    ("0901234567", "+84901234567", "mobifone"),
    ("0084 93 123 4567", "+84931234567", "mobifone"),
    ("070 123 4567", "+84701234567", "mobifone"),
    ("0761234567", "+84761234567", "mobifone"),
    ("+84 79 123 45 67", "+84791234567", "mobifone"),
    # Vietnamobile 092, 056, 058 (from 0186, 0188), 052; Gmobile 099, 059 (from 0199); Itelecom 087
    ("0921234567", "+84921234567", "vietnamobile"),
    ("0561234567", "+84561234567", "vietnamobile"),
    ("0581234567", "+84581234567", "vietnamobile"),
    ("0991234567", "+84991234567", "gmobile"),
    ("0591234567", "+84591234567", "gmobile"),
    ("0871234567", "+84871234567", "itelecom"),
    # Separators and surrounding spaces; the trunk 0 typed after +84
    ("  0912 345 678  ", "+84912345678", "vinaphone"),
    ("+84 0912 345 678", "+84912345678", "vinaphone"),
    ("840912345678", "+84912345678", "vinaphone"),
    ("0912\t345\t678", "+84912345678", "vinaphone"),
]


@pytest.mark.parametrize(("typed", "e164", "operator"), VALID)
def test_valid_numbers_normalise_to_e164(typed, e164, operator):
    assert normalise(typed) == e164
    assert operator_of(e164) == operator


@pytest.mark.parametrize("prefix", sorted(OPERATOR_OF_PREFIX))
def test_every_allocated_mobile_prefix_is_accepted(prefix):
    assert normalise(f"0{prefix}1234567") == f"+84{prefix}1234567"


TOO_LONG = "This phone number is too long. A mobile number has 10 digits, such as 0912 345 678."
EMPTY = "Enter your mobile phone number."
NOT_DIGITS = "A phone number has only digits (spaces, dots and dashes are allowed)."
NON_ASCII = "Type the phone number with the digits 0 to 9."
LANDLINE = "This is a landline number (area code 02x). Enter a mobile number."
SHORT = ("Short codes and service numbers (such as 1900 or 113) cannot receive a code. "
         "Enter your mobile number.")
OLD = ("Numbers starting with 01 changed to 10 digits in 2018 (for example 0168 became 038). "
       "Enter your new number.")
LENGTH = "A mobile number has 10 digits and starts with 0 (or +84 followed by 9 digits)."
PREFIX = "This is not a Vietnamese mobile number: check the first digits."
FOREIGN = "Only Vietnamese mobile numbers (+84) can be used."

REJECTED = [
    ("", "phone_format", EMPTY),
    ("   ", "phone_format", EMPTY),
    ("+", "phone_format", EMPTY),
    (" - . ", "phone_format", EMPTY),
    (None, "phone_format", EMPTY),
    (912345678, "phone_format", EMPTY),
    (["0912345678"], "phone_format", EMPTY),
    ("0" * 33, "phone_format", TOO_LONG),
    ("9" * 20_000, "phone_format", TOO_LONG),
    ("0912a45678", "phone_format", NOT_DIGITS),
    ("O912345678", "phone_format", NOT_DIGITS),
    ("0912345678; DROP TABLE", "phone_format", NOT_DIGITS),
    ("<script>alert(1)</script>", "phone_format", NOT_DIGITS),
    ("0912345678\x00", "phone_format", NOT_DIGITS),
    ("++84912345678", "phone_format", NOT_DIGITS),
    ("0912+345678", "phone_format", NOT_DIGITS),
    ("(091) 234 5678", "phone_format", NOT_DIGITS),
    ("\u0660\u0669\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668", "phone_format", NON_ASCII),  # Arabic-Indic
    ("\uff10\uff19\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18", "phone_format", NON_ASCII),  # full-width
    ("091234567\u0668", "phone_format", NON_ASCII),
    ("024 3825 1234", "landline", LANDLINE),  # Hà Nội
    ("028 3829 1234", "landline", LANDLINE),  # TP Hồ Chí Minh
    ("+84 236 3821 234", "landline", LANDLINE),  # Đà Nẵng
    ("84 24 3825 1234", "landline", LANDLINE),
    ("8424382512345", "phone_format", LENGTH),
    ("113", "phone_format", SHORT),
    ("1900 1234", "phone_format", SHORT),
    ("1800 1090", "phone_format", SHORT),
    ("1900 123 456", "phone_format", SHORT),
    ("9029", "phone_format", SHORT),
    ("+84 113", "phone_format", SHORT),
    ("0168 123 4567", "phone_format", OLD),
    ("+84 120 123 4567", "phone_format", OLD),
    ("091234567", "phone_format", LENGTH),
    ("09123456789", "phone_format", LENGTH),
    ("912345678", "phone_format", LENGTH),
    ("+8491234567", "phone_format", LENGTH),
    ("0951234567", "phone_format", PREFIX),  # 095 (S-Fone) is not in use
    ("0311234567", "phone_format", PREFIX),
    ("0601234567", "phone_format", PREFIX),
    ("+1 415 555 0100", "phone_format", FOREIGN),
    ("0033 6 12 34 56 78", "phone_format", FOREIGN),
]


@pytest.mark.parametrize(("typed", "code", "message"), REJECTED)
def test_rejections_have_a_code_and_their_own_message(typed, code, message):
    with pytest.raises(VerificationFailed) as info:
        normalise(typed)
    assert (info.value.code, info.value.message) == (code, message)


def test_operator_of_is_none_for_anything_but_e164():
    assert operator_of("0912345678") is None
    assert operator_of("+8491234567") is None
    assert operator_of("+84951234567") is None
