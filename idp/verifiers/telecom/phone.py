"""Vietnamese mobile numbers: normalise what a person types to E.164 (+84 and 9 digits).

Numbering plan (Ministry of Information and Communications, now the Ministry of Science and
Technology): the national telecommunications numbering plan (Circular 22/2014/TT-BTTTT, as
amended) and Decision 798/QĐ-BTTTT of 25 May 2018, which converted 11-digit mobile numbers to
10 digits from 15 September 2018 (0162-0169 → 032-039, 0120/0121/0122/0126/0128 → 070/079/077/
076/078, 0123/0124/0125/0127/0129 → 083/084/085/081/082, 0186/0188 → 056/058, 0199 → 059).
Fixed-line area codes moved to 02x in 2017 (Decision 2036/QĐ-BTTTT), so a national number
starting 2 is a landline. A mobile number is 0 + 9 digits nationally, +84 + 9 digits in E.164.

The operator of a prefix is informational only: with number portability (since 2021) a number
keeps its prefix when the subscriber moves to another network.
"""

from __future__ import annotations

from idp.i18n import N_
from idp.verifiers.errors import VerificationFailed

MAX_INPUT = 32  # characters as typed, separators included ("+84 (0) 912.345.678" is 19)
SEPARATORS = frozenset(" .-\t")
ASCII_DIGITS = frozenset("0123456789")

# Two digits after the 0 (or after +84) -> operator the prefix was allocated to.
OPERATOR_OF_PREFIX: dict[str, str] = {
    **{f"3{d}": "viettel" for d in "23456789"},  # 032-039 (from 0162-0169)
    "86": "viettel", "96": "viettel", "97": "viettel", "98": "viettel",
    **{f"8{d}": "vinaphone" for d in "12345"},  # 081-085 (from 0127, 0129, 0123-0125)
    "88": "vinaphone", "91": "vinaphone", "94": "vinaphone",
    "70": "mobifone", "76": "mobifone", "77": "mobifone", "78": "mobifone", "79": "mobifone",  # from 012x
    "89": "mobifone", "90": "mobifone", "93": "mobifone",
    "52": "vietnamobile", "56": "vietnamobile", "58": "vietnamobile", "92": "vietnamobile",
    "59": "gmobile", "99": "gmobile",
    "55": "wintel",  # Reddi (Mobicast), renamed Wintel
    "87": "itelecom",
}
OPERATOR_NAMES = {"viettel": "Viettel", "vinaphone": "VinaPhone", "mobifone": "MobiFone",
                  "vietnamobile": "Vietnamobile", "gmobile": "Gmobile", "wintel": "Wintel", "itelecom": "Itelecom"}


def _fail(message: str, code: str = "phone_format") -> VerificationFailed:
    return VerificationFailed(code, message)


def normalise(raw: object) -> str:
    """Return the E.164 form (+84 and 9 digits) of a Vietnamese mobile number typed in any usual
    way (0912 345 678, +84 912.345.678, 84-912-345-678, 0084...); raise VerificationFailed
    (`phone_format`, or `landline`) with a message saying what is wrong."""
    if not isinstance(raw, str):
        raise _fail(N_("Enter your mobile phone number."))
    if len(raw) > MAX_INPUT:
        raise _fail(N_("This phone number is too long. A mobile number has 10 digits, such as 0912 345 678."))
    text = raw.strip()
    if not text:
        raise _fail(N_("Enter your mobile phone number."))
    plus = text.startswith("+")
    body = text[1:] if plus else text
    digits = []
    for char in body:
        if char in ASCII_DIGITS:
            digits.append(char)
        elif char in SEPARATORS:
            continue
        elif char.isdigit() or char.isnumeric():
            raise _fail(N_("Type the phone number with the digits 0 to 9."))
        else:
            raise _fail(N_("A phone number has only digits (spaces, dots and dashes are allowed)."))
    number = "".join(digits)
    if not number:
        raise _fail(N_("Enter your mobile phone number."))
    if plus or number.startswith("00"):
        international = number[2:] if number.startswith("00") and not plus else number
        if not international.startswith("84"):
            raise _fail(N_("Only Vietnamese mobile numbers (+84) can be used."))
        national = international[2:]
    elif number.startswith("0"):
        national = number[1:]
    elif number.startswith("84") and len(number) in (11, 12):  # 84 + 9 digits (or a landline's 10)
        national = number[2:]
    elif number.startswith("1") or len(number) <= 8:
        # 1800/1900 service numbers, 11x emergency numbers and operators' short codes.
        raise _fail(N_("Short codes and service numbers (such as 1900 or 113) cannot receive a code. "
                       "Enter your mobile number."))
    else:
        raise _fail(N_("A mobile number has 10 digits and starts with 0 (or +84 followed by 9 digits)."))
    return _check_national(national)


def _check_national(national: str) -> str:
    if national.startswith("0"):  # +84 0912...: the trunk 0 typed after the country code
        national = national[1:]
    if national.startswith("2"):
        raise _fail(N_("This is a landline number (area code 02x). Enter a mobile number."), "landline")
    if national.startswith("1") and len(national) == 10:
        raise _fail(N_("Numbers starting with 01 changed to 10 digits in 2018 (for example 0168 became 038). "
                       "Enter your new number."))
    if national.startswith("1") or len(national) <= 5:
        raise _fail(N_("Short codes and service numbers (such as 1900 or 113) cannot receive a code. "
                       "Enter your mobile number."))
    if len(national) != 9:
        raise _fail(N_("A mobile number has 10 digits and starts with 0 (or +84 followed by 9 digits)."))
    if national[:2] not in OPERATOR_OF_PREFIX:
        raise _fail(N_("This is not a Vietnamese mobile number: check the first digits."))
    return "+84" + national


def operator_of(e164: str) -> str | None:
    """Return the operator the number's prefix was allocated to (informational: numbers are portable)."""
    if not (e164.startswith("+84") and len(e164) == 12):
        return None
    return OPERATOR_OF_PREFIX.get(e164[3:5])

