"""The telecom source through its own calls, with the in-memory harness (docs/sources/telecom.md):
subscriber match, one-time code rules in controlled time, rate limits, operator and SMS outages,
logged-in phone-only mode, hostile input and configuration validation."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest

from idp.errors import ConfigError
from idp.errors import SourceUnavailable
from idp.errors import VerificationFailed
from idp.verifiers.base import Attempt
from idp.verifiers.base import IdentityAssertion
from idp.verifiers.base import Level
from idp.verifiers.base import Prompt
from idp.verifiers.base import Services
from idp.verifiers.conformance import Harness
from idp.verifiers.telecom import RateLimited
from idp.verifiers.telecom import TelecomVerifier
from idp.verifiers.telecom import create
from idp.verifiers.telecom import operators

PHONE, E164, PID = "0912 345 678", "+84912345678", "001090012345"
OTHER_PID = "079301004567"
IP = "198.51.100.7"
ACCOUNT_REF = "opaque-account-reference-1"
START = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def harness() -> Harness:
    harness = Harness()
    harness.clock.current = START
    return harness


def build(harness: Harness, **settings: Any) -> TelecomVerifier:
    return create("telecom", settings, harness.services)


def begin(verifier: TelecomVerifier, harness: Harness, account_ref: str | None = None,
          on_file: dict[str, str] | None = None) -> Attempt:
    attempt = harness.new_attempt(verifier.id, account_ref=account_ref, on_file=on_file)
    step = verifier.begin(attempt)
    assert isinstance(step, Prompt) and step.template == "verifiers/telecom_phone.html"
    return attempt


def submit_phone(verifier: TelecomVerifier, attempt: Attempt, phone: str = PHONE, personal_id: str = PID,
                 ip: str = IP) -> Prompt:
    step = verifier.complete(attempt, {"phone": phone, "personal_id": personal_id, "remote_addr": ip})
    assert isinstance(step, Prompt) and step.template == "verifiers/telecom_code.html"
    return step


def last_code(harness: Harness) -> str:
    return re.search(r"\b(\d{6})\b", harness.outbox[-1][2]).group(1)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def failure(call) -> VerificationFailed | SourceUnavailable:  # noqa: ANN001
    with pytest.raises((VerificationFailed, SourceUnavailable)) as info:
        call()
    return info.value


# --- the happy paths ---------------------------------------------------------------------------
def test_begin_shows_the_phone_form_and_allows_phone_only_when_logged_in(harness):
    verifier = build(harness)
    assert verifier.begin(harness.new_attempt("telecom")).fields == {"phone_only_allowed": False}
    assert verifier.begin(harness.new_attempt("telecom", account_ref=ACCOUNT_REF)).fields == {
        "phone_only_allowed": True}


def test_subscriber_match_and_code_prove_the_person_at_substantial(harness):
    """Issue: match + code → match_level (default SUBSTANTIAL), claims personal_id and phone, amr sms + mno."""
    verifier = build(harness)
    attempt = begin(verifier, harness)
    step = submit_phone(verifier, attempt)
    assert step.fields["phone_masked"].endswith("678") and "912345" not in json.dumps(step.fields)
    assert step.fields["sandbox_outbox"] is True
    channel, to, text = harness.outbox[-1]
    assert (channel, to) == ("sms", E164) and len(text) <= 160 and text.isascii()
    harness.clock.advance(timedelta(seconds=30))
    result = verifier.complete(attempt, {"code": last_code(harness)})
    assert isinstance(result, IdentityAssertion)
    assert result.level == Level.SUBSTANTIAL and result.amr == ("sms", "mno")
    assert dict(result.claims) == {"personal_id": PID, "phone": E164}
    assert result.verified_at == START + timedelta(seconds=30)
    assert result.source == "telecom" and result.subject.startswith("mno:")
    assert PID not in result.subject and "912345678" not in result.subject
    assert result.evidence_ref and PID not in result.evidence_ref and "912345678" not in result.evidence_ref


def test_subject_is_stable_per_subscriber_and_differs_for_another_holder(harness):
    """The same number and personal ID give the same subject; a recycled number (new holder) does not."""
    verifier = build(harness, operator={"kind": "sandbox", "subscribers": {E164: PID}})

    def subject(personal_id: str, subscribers: dict[str, str]) -> str:
        again = build(harness, operator={"kind": "sandbox", "subscribers": subscribers})
        attempt = begin(again, harness)
        submit_phone(again, attempt, personal_id=personal_id)
        return again.complete(attempt, {"code": last_code(harness)}).subject

    assert subject(PID, {E164: PID}) == subject(PID, {E164: PID})
    assert subject(PID, {E164: PID}) != subject(OTHER_PID, {E164: OTHER_PID})
    assert verifier.info.max_level == Level.SUBSTANTIAL


def test_code_accepts_spaces_and_match_level_is_configurable(harness):
    verifier = build(harness, match_level="low")
    attempt = begin(verifier, harness)
    submit_phone(verifier, attempt)
    code = last_code(harness)
    result = verifier.complete(attempt, {"code": f" {code[:3]} {code[3:]} "})
    assert result.level == Level.LOW and verifier.info.max_level == Level.LOW


def test_code_is_stored_only_as_a_salted_keyed_hash(harness):
    """Issue: codes stored hashed with a per-code salt; the attempt data never holds the code."""
    verifier = build(harness)
    first = begin(verifier, harness)
    submit_phone(verifier, first)
    code = last_code(harness)
    stored = json.dumps(first.data)
    assert code not in stored
    second = begin(verifier, harness)
    submit_phone(verifier, second)
    assert first.data["code"]["salt"] != second.data["code"]["salt"]
    assert re.fullmatch(r"[0-9a-f]{64}", first.data["code"]["mac"])


def test_codes_are_compared_in_constant_time(harness, monkeypatch):
    """Issue: the code check goes through hmac.compare_digest (no early-exit string comparison)."""
    from idp.verifiers.telecom import codes

    calls = []
    real = codes.hmac.compare_digest

    def spy(a, b):  # noqa: ANN001, ANN202
        calls.append((type(a), type(b)))
        return real(a, b)

    monkeypatch.setattr(codes.hmac, "compare_digest", spy)
    verifier = build(harness)
    attempt = begin(verifier, harness)
    submit_phone(verifier, attempt)
    code = last_code(harness)
    assert failure(lambda: verifier.complete(attempt, {"code": wrong(code)})).code == "code_wrong"
    verifier.complete(attempt, {"code": code})
    assert len(calls) == 2


def test_logged_in_person_adds_a_phone_with_the_code_alone_at_low(harness):
    """Issue: logged in + empty personal ID → no operator check, code only, sms_level, claim phone only."""
    verifier = build(harness, operator={"kind": "sandbox", "available": False})  # proves no operator call
    attempt = begin(verifier, harness, account_ref=ACCOUNT_REF)
    submit_phone(verifier, attempt, personal_id="")
    result = verifier.complete(attempt, {"code": last_code(harness)})
    assert result.level == Level.LOW and result.amr == ("sms",)
    assert dict(result.claims) == {"phone": E164} and result.identifier is None
    assert result.subject.startswith("sms:") and "912345678" not in result.subject
    other = begin(verifier, harness, account_ref="opaque-account-reference-2")
    submit_phone(verifier, other, personal_id="")
    assert verifier.complete(other, {"code": last_code(harness)}).subject != result.subject


def test_sms_level_none_is_allowed(harness):
    verifier = build(harness, sms_level="none")
    attempt = begin(verifier, harness, account_ref=ACCOUNT_REF)
    submit_phone(verifier, attempt, personal_id=" ")
    assert verifier.complete(attempt, {"code": last_code(harness)}).level == Level.NONE


def test_logged_in_person_may_still_give_the_personal_id_for_a_subscriber_match(harness):
    verifier = build(harness)
    attempt = begin(verifier, harness, account_ref=ACCOUNT_REF, on_file={"personal_id": PID})
    submit_phone(verifier, attempt)
    assert verifier.complete(attempt, {"code": last_code(harness)}).level == Level.SUBSTANTIAL


# --- person's failures at stage 1 ----------------------------------------------------------------
def test_not_logged_in_without_personal_id_is_refused_and_no_sms_is_sent(harness):
    verifier = build(harness)
    attempt = begin(verifier, harness)
    exc = failure(lambda: verifier.complete(attempt, {"phone": PHONE, "personal_id": ""}))
    assert exc.code == "personal_id_required" and "logged in" in exc.message
    exc = failure(lambda: verifier.complete(attempt, {"phone": PHONE}))
    assert exc.code == "personal_id_required"
    assert harness.outbox == []


def test_operator_mismatch_never_sends_a_code(harness):
    """Issue: the operator says NO → subscriber_mismatch, with a clear message, and no SMS."""
    verifier = build(harness)
    attempt = begin(verifier, harness)
    exc = failure(lambda: verifier.complete(attempt, {"phone": PHONE, "personal_id": OTHER_PID}))
    assert exc.code == "subscriber_mismatch" and "not registered to this personal ID number" in exc.message
    assert harness.outbox == []
    assert attempt.data["stage"] == "phone" and "code" not in attempt.data
    assert failure(lambda: verifier.complete(attempt, {"code": "123456"})).code == "phone_format"


def test_operator_that_cannot_tell_sends_no_code(harness):
    verifier = build(harness)
    attempt = begin(verifier, harness)
    exc = failure(lambda: verifier.complete(attempt, {"phone": "0981 234 567", "personal_id": PID}))
    assert exc.code == "subscriber_unknown" and harness.outbox == []


def test_personal_id_other_than_the_logged_in_account_is_refused_before_the_operator(harness):
    verifier = build(harness, operator={"kind": "sandbox", "available": False})
    attempt = begin(verifier, harness, account_ref=ACCOUNT_REF, on_file={"personal_id": OTHER_PID})
    exc = failure(lambda: verifier.complete(attempt, {"phone": PHONE, "personal_id": PID}))
    assert exc.code == "personal_id_differs" and harness.outbox == []


@pytest.mark.parametrize(("phone", "code"), [("024 3825 1234", "landline"), ("0951234567", "phone_format"),
                                             ("0912a45678", "phone_format")])
def test_bad_numbers_are_refused_before_any_check(harness, phone, code):
    verifier = build(harness, operator={"kind": "sandbox", "available": False})
    attempt = begin(verifier, harness)
    assert failure(lambda: verifier.complete(attempt, {"phone": phone, "personal_id": PID})).code == code
    assert harness.counts == {} and harness.outbox == []


HOSTILE = ["", "9" * 20_000, "\x00<script>'\"", "0912345678' OR '1'='1", "１２３４５６７８９０１２",
           "\u0660" * 12, "00109001234５", "0010900123456", "00109001234"]


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("key", ["phone", "personal_id"])
def test_hostile_input_at_stage_one_is_a_verification_failure(harness, key, value):
    verifier = build(harness)
    attempt = begin(verifier, harness)
    params = {"phone": PHONE, "personal_id": PID, key: value}
    exc = failure(lambda: verifier.complete(attempt, params))
    assert isinstance(exc, VerificationFailed) and exc.code in (
        "phone_format", "personal_id_format", "personal_id_required")
    assert harness.outbox == []


@pytest.mark.parametrize("value", [None, 12, ["0912345678"], {"a": 1}, b"0912345678"])
def test_wrong_types_are_verification_failures(harness, value):
    verifier = build(harness)
    for key in ("phone", "personal_id"):
        attempt = begin(verifier, harness)
        params = {"phone": PHONE, "personal_id": PID, key: value}
        if key == "personal_id" and value is None:
            continue  # no personal ID given: not logged in → personal_id_required, covered above
        assert isinstance(failure(lambda p=params, a=attempt: verifier.complete(a, p)), VerificationFailed)
    attempt = begin(verifier, harness)
    submit_phone(verifier, attempt)
    assert failure(lambda: verifier.complete(attempt, {"code": value, "action": value})).code == "code_format"


# --- one-time code rules, in controlled time ------------------------------------------------------
def test_code_is_valid_until_just_before_five_minutes(harness):
    verifier = build(harness)
    attempt = begin(verifier, harness)
    submit_phone(verifier, attempt)
    harness.clock.advance(timedelta(minutes=5) - timedelta(microseconds=1))
    assert isinstance(verifier.complete(attempt, {"code": last_code(harness)}), IdentityAssertion)


def test_code_expires_at_five_minutes_exactly_and_the_attempt_ends(harness):
    """Issue: 5-minute expiry (services.now()); code_expired is final."""
    verifier = build(harness)
    attempt = begin(verifier, harness)
    submit_phone(verifier, attempt)
    code = last_code(harness)
    harness.clock.advance(timedelta(minutes=5))
    exc = failure(lambda: verifier.complete(attempt, {"code": code}))
    assert exc.code == "code_expired" and "expired" in exc.message
    harness.clock.current = START  # even if the clock went back, the attempt stays ended
    assert failure(lambda: verifier.complete(attempt, {"code": code})).code == "code_expired"
    assert failure(lambda: verifier.complete(attempt, {"action": "resend"})).code == "code_expired"


def test_five_wrong_codes_lock_the_attempt(harness):
    """Issue: at most 5 attempts per code; each wrong one says how many are left; then locked."""
    verifier = build(harness)
    attempt = begin(verifier, harness)
    submit_phone(verifier, attempt)
    code = last_code(harness)
    messages = []
    for _ in range(4):
        exc = failure(lambda: verifier.complete(attempt, {"code": wrong(code)}))
        assert exc.code == "code_wrong"
        messages.append(exc.message)
    assert messages == [f"The code is not correct. You have {n} {'tries' if n > 1 else 'try'} left."
                        for n in (4, 3, 2, 1)]
    assert failure(lambda: verifier.complete(attempt, {"code": wrong(code)})).code == "too_many_attempts"
    assert failure(lambda: verifier.complete(attempt, {"code": code})).code == "too_many_attempts"
    harness.clock.advance(timedelta(minutes=2))
    assert failure(lambda: verifier.complete(attempt, {"action": "resend"})).code == "too_many_attempts"
    assert len(harness.outbox) == 1


def test_a_malformed_code_does_not_use_up_a_try(harness):
    verifier = build(harness)
    attempt = begin(verifier, harness)
    submit_phone(verifier, attempt)
    for typed in ("", "12345", "1234567", "abcdef", "１２３４５６", "12345\x00", "9" * 20_000):
        assert failure(lambda t=typed: verifier.complete(attempt, {"code": t})).code == "code_format"
    assert attempt.data["code"]["tries"] == 0
    assert isinstance(verifier.complete(attempt, {"code": last_code(harness)}), IdentityAssertion)


def test_a_used_code_cannot_be_replayed(harness):
    verifier = build(harness)
    attempt = begin(verifier, harness)
    submit_phone(verifier, attempt)
    code = last_code(harness)
    verifier.complete(attempt, {"code": code})
    assert failure(lambda: verifier.complete(attempt, {"code": code})).code == "code_used"
    assert failure(lambda: verifier.complete(attempt, {"phone": PHONE, "personal_id": PID})).code == "code_used"


def concurrent_copy(attempt: Attempt) -> Attempt:
    """The attempt as another request loaded it: its own copy of `data`, as the core gives each
    request (no row lock), so writes of one request are not seen by the other."""
    return Attempt(id=attempt.id, verifier_id=attempt.verifier_id, data=copy.deepcopy(attempt.data),
                   created_at=attempt.created_at, expires_at=attempt.expires_at, client_ip=attempt.client_ip,
                   account_ref=attempt.account_ref, on_file=attempt.on_file)


def test_concurrent_wrong_codes_cannot_exceed_five_tries(harness):
    """NIST SP 800-63B §5.2.2: at most 5 tries per code, even when requests race on the same
    attempt (each loads the same `tries` and writes back its own count)."""
    verifier = build(harness)
    attempt = begin(verifier, harness)
    submit_phone(verifier, attempt)
    code = last_code(harness)
    guesses = [f"{(int(code) + n) % 1_000_000:06d}" for n in range(1, 13)]
    answers = [failure(lambda g=g: verifier.complete(concurrent_copy(attempt), {"code": g})).code for g in guesses]
    assert answers == ["code_wrong"] * 5 + ["too_many_attempts"] * 7
    assert failure(lambda: verifier.complete(concurrent_copy(attempt), {"code": code})).code == "too_many_attempts"


def test_two_concurrent_right_codes_give_one_assertion(harness):
    """Single use: two requests with the right code at the same moment; only one is accepted."""
    verifier = build(harness)
    attempt = begin(verifier, harness)
    submit_phone(verifier, attempt)
    code = last_code(harness)
    first, second = concurrent_copy(attempt), concurrent_copy(attempt)
    assert isinstance(verifier.complete(first, {"code": code}), IdentityAssertion)
    assert failure(lambda: verifier.complete(second, {"code": code})).code == "code_used"


def test_an_attempt_that_never_began_is_refused(harness):
    verifier = build(harness)
    attempt = harness.new_attempt("telecom")
    assert failure(lambda: verifier.complete(attempt, {"phone": PHONE, "personal_id": PID})).code == "attempt_used"


def test_resend_after_the_cool_down_replaces_the_code(harness):
    """Issue: resend allowed after a cool-down; the new code replaces the old one."""
    verifier = build(harness)
    attempt = begin(verifier, harness)
    submit_phone(verifier, attempt)
    first = last_code(harness)
    harness.clock.advance(timedelta(seconds=59))
    assert failure(lambda: verifier.complete(attempt, {"action": "resend"})).code == "resend_too_soon"
    assert len(harness.outbox) == 1
    harness.clock.advance(timedelta(seconds=1))
    step = verifier.complete(attempt, {"action": "resend", "code": ""})
    assert isinstance(step, Prompt) and step.template == "verifiers/telecom_code.html"
    second = last_code(harness)
    assert len(harness.outbox) == 2
    if second != first:
        assert failure(lambda: verifier.complete(attempt, {"code": first})).code == "code_wrong"
    harness.clock.advance(timedelta(minutes=4, seconds=59))  # valid 5 minutes from the resend
    assert isinstance(verifier.complete(attempt, {"code": second}), IdentityAssertion)


def test_resends_per_attempt_are_capped(harness):
    verifier = build(harness, max_sends=2, resend_after=10)
    attempt = begin(verifier, harness)
    submit_phone(verifier, attempt)
    harness.clock.advance(timedelta(seconds=10))
    verifier.complete(attempt, {"action": "resend"})
    harness.clock.advance(timedelta(seconds=10))
    exc = failure(lambda: verifier.complete(attempt, {"action": "resend"}))
    assert isinstance(exc, RateLimited) and exc.status == 429 and len(harness.outbox) == 2


# --- rate limits (harness counters) ---------------------------------------------------------------
def test_codes_per_number_are_limited_and_resends_count(harness):
    """Issue: resends count against the per-number limit."""
    verifier = build(harness, limits={"sms_per_number": "2 per hour"})
    attempt = begin(verifier, harness)
    submit_phone(verifier, attempt)
    harness.clock.advance(timedelta(minutes=1))
    verifier.complete(attempt, {"action": "resend"})
    harness.clock.advance(timedelta(minutes=1))
    exc = failure(lambda: verifier.complete(attempt, {"action": "resend"}))
    assert exc.code == "rate_limited" and exc.status == 429 and "this phone number" in exc.message
    again = begin(verifier, harness)
    assert failure(lambda: submit_phone(verifier, again)).code == "rate_limited"
    assert len(harness.outbox) == 2


def test_codes_per_logged_in_account_are_limited_across_numbers_and_addresses(harness):
    """Phone-only mode texts any number: one account may not pump SMS by changing number and address."""
    verifier = build(harness, limits={"sms_per_account": "2 per hour"})
    numbers = ["0912 345 678", "0387 654 321", "0701 234 567"]
    for n, number in enumerate(numbers[:2]):
        submit_phone(verifier, begin(verifier, harness, account_ref=ACCOUNT_REF), phone=number, personal_id="",
                     ip=f"198.51.100.{n}")
    attempt = begin(verifier, harness, account_ref=ACCOUNT_REF)
    exc = failure(lambda: submit_phone(verifier, attempt, phone=numbers[2], personal_id="", ip="203.0.113.9"))
    assert exc.code == "rate_limited" and exc.status == 429 and "the most codes allowed" in exc.message
    assert len(harness.outbox) == 2
    other = begin(verifier, harness, account_ref="opaque-account-reference-2")  # another account is not held up
    submit_phone(verifier, other, phone=numbers[2], personal_id="", ip="203.0.113.9")
    assert ACCOUNT_REF not in " ".join(harness.counts)


@pytest.mark.parametrize(("limit", "vary", "words"), [
    ("checks_per_ip", "phone", "your network"),
    ("checks_per_number", "ip", "this phone number"),
    ("checks_per_personal_id", "phone+ip", "this personal ID number"),
    ("sms_per_ip", "phone", "your network"),
])
def test_checks_and_codes_are_limited_per_ip_number_and_personal_id(harness, limit, vary, words):
    subscribers = {"0912345678": PID, "0912345679": PID, "0912345670": PID}
    verifier = build(harness, limits={limit: "2 per hour"}, operator={"kind": "sandbox", "subscribers": subscribers})
    phones, ips = list(subscribers), ["198.51.100.1", "198.51.100.2", "198.51.100.3"]
    for n in range(3):
        attempt = begin(verifier, harness)
        call = lambda a=attempt, n=n: submit_phone(  # noqa: E731
            verifier, a, phone=phones[n] if "phone" in vary else PHONE, ip=ips[n] if "ip" in vary else IP)
        if n < 2:
            call()
        else:
            exc = failure(call)
            assert exc.code == "rate_limited" and words in exc.message
    assert len(harness.outbox) == 2


def test_rate_limit_keys_hold_no_personal_data(harness):
    """Hash personal data out of rate-limit keys (COMMON rules)."""
    verifier = build(harness)
    attempt = begin(verifier, harness)
    submit_phone(verifier, attempt)
    keys = " ".join(harness.counts)
    assert len(harness.counts) == 5
    for secret in ("912345678", PID, IP, "198.51.100"):
        assert secret not in keys


# --- upstream outages ----------------------------------------------------------------------------------
def test_operator_down_is_source_unavailable_and_sends_nothing(harness):
    verifier = build(harness, operator={"kind": "sandbox", "available": False})
    attempt = begin(verifier, harness)
    exc = failure(lambda: submit_phone(verifier, attempt))
    assert isinstance(exc, SourceUnavailable) and exc.code == "operator_unavailable" and exc.status == 503
    assert harness.outbox == [] and attempt.data["stage"] == "phone"


def test_sms_gateway_down_is_source_unavailable(harness):
    verifier = build(harness, sms={"kind": "sandbox", "available": False})
    attempt = begin(verifier, harness)
    exc = failure(lambda: submit_phone(verifier, attempt))
    assert isinstance(exc, SourceUnavailable) and exc.code == "sms_unavailable"
    assert attempt.data["stage"] == "phone" and "code" not in attempt.data
    assert failure(lambda: verifier.complete(attempt, {"code": "000000"})).code == "phone_format"


# --- privacy ----------------------------------------------------------------------------------------
def test_reprs_show_no_personal_data_or_secrets(harness, monkeypatch):
    monkeypatch.setenv("TEST_TELECOM_KEY", "k" * 40)
    verifier = build(harness, hmac_key="env:TEST_TELECOM_KEY",
                     operator={"kind": "http", "endpoint": "https://operator.example.vn/check",
                               "api_key": "super-secret-api-key"},
                     sms={"kind": "http", "endpoint": "https://sms.example.vn/send", "api_key": "another-secret"})
    shown = repr(verifier) + repr(verifier._operator) + repr(verifier._gateway)
    assert "operator.example.vn" in shown
    for secret in ("super-secret-api-key", "another-secret", "k" * 40):
        assert secret not in shown
    sandbox = build(harness)
    assert "912345678" not in repr(sandbox) and PID not in repr(sandbox)


# --- configuration ------------------------------------------------------------------------------------
HTTP_OK = {"kind": "http", "endpoint": "https://operator.example.vn/check", "api_key": "key-1234567890"}
BAD_SETTINGS = [
    ({"colour": "red"}, "verifiers.telecom.colour"),
    ({"match_level": "high"}, "verifiers.telecom.match_level"),
    ({"match_level": "extreme"}, "verifiers.telecom.match_level"),
    ({"match_level": 2}, "verifiers.telecom.match_level"),
    ({"sms_level": "substantial"}, "verifiers.telecom.sms_level"),
    ({"names": {}}, "verifiers.telecom.names"),
    ({"names": {"vi": ""}}, "verifiers.telecom.names"),
    ({"names": "Viettel"}, "verifiers.telecom.names"),
    ({"hmac_key": "short"}, "verifiers.telecom.hmac_key"),
    ({"hmac_key": "env:TELECOM_KEY_THAT_IS_NOT_SET"}, "verifiers.telecom.hmac_key"),
    ({"hmac_key": "file:/nonexistent/telecom.key"}, "verifiers.telecom.hmac_key"),
    ({"hmac_key": 12345}, "verifiers.telecom.hmac_key"),
    ({"resend_after": 5}, "verifiers.telecom.resend_after"),
    ({"resend_after": "60"}, "verifiers.telecom.resend_after"),
    ({"max_sends": 9}, "verifiers.telecom.max_sends"),
    ({"max_sends": True}, "verifiers.telecom.max_sends"),
    ({"limits": "5 per hour"}, "verifiers.telecom.limits"),
    ({"limits": {"per_moon": "1 per hour"}}, "verifiers.telecom.limits.per_moon"),
    ({"limits": {"sms_per_number": "lots"}}, "verifiers.telecom.limits.sms_per_number"),
    ({"limits": {"checks_per_ip": "0 per hour"}}, "verifiers.telecom.limits.checks_per_ip"),
    ({"limits": {"sms_per_ip": 5}}, "verifiers.telecom.limits.sms_per_ip"),
    ({"operator": "sandbox"}, "verifiers.telecom.operator"),
    ({"operator": {"kind": "carrier-pigeon"}}, "verifiers.telecom.operator.kind"),
    ({"operator": {"kind": "sandbox", "colour": 1}}, "verifiers.telecom.operator.colour"),
    ({"operator": {"kind": "sandbox", "available": "no"}}, "verifiers.telecom.operator.available"),
    ({"operator": {"kind": "sandbox", "subscribers": []}}, "verifiers.telecom.operator.subscribers"),
    ({"operator": {"kind": "sandbox", "subscribers": {"024 3825 1234": PID}}},
     "verifiers.telecom.operator.subscribers"),
    ({"operator": {"kind": "sandbox", "subscribers": {"0912345678": "123"}}},
     "verifiers.telecom.operator.subscribers"),
    ({"operator": {"kind": "sandbox", "subscribers": {"0912345678": PID, "+84912345678": PID}}},
     "verifiers.telecom.operator.subscribers"),
    ({"operator": {**HTTP_OK, "endpoint": ""}}, "verifiers.telecom.operator.endpoint"),
    ({"operator": {**HTTP_OK, "endpoint": "ftp://operator.example.vn"}}, "verifiers.telecom.operator.endpoint"),
    ({"operator": {**HTTP_OK, "endpoint": "http://operator.example.vn/check"}},
     "verifiers.telecom.operator.endpoint"),
    ({"operator": {**HTTP_OK, "endpoint": "https://user:pw@operator.example.vn/"}},
     "verifiers.telecom.operator.endpoint"),
    ({"operator": {k: v for k, v in HTTP_OK.items() if k != "api_key"}}, "verifiers.telecom.operator.api_key"),
    ({"operator": {**HTTP_OK, "api_key": "line\nbreak"}}, "verifiers.telecom.operator.api_key"),
    ({"operator": {**HTTP_OK, "timeout": 0}}, "verifiers.telecom.operator.timeout"),
    ({"operator": {**HTTP_OK, "timeout": 60}}, "verifiers.telecom.operator.timeout"),
    ({"operator": {**HTTP_OK, "timeout": "5"}}, "verifiers.telecom.operator.timeout"),
    ({"operator": {**HTTP_OK, "max_response_bytes": 10}}, "verifiers.telecom.operator.max_response_bytes"),
    ({"operator": {**HTTP_OK, "sender": "X"}}, "verifiers.telecom.operator.sender"),
    ({"sms": ["sandbox"]}, "verifiers.telecom.sms"),
    ({"sms": {"kind": "fax"}}, "verifiers.telecom.sms.kind"),
    ({"sms": {"kind": "sandbox", "subscribers": {}}}, "verifiers.telecom.sms.subscribers"),
    ({"sms": {"kind": "sandbox", "available": 1}}, "verifiers.telecom.sms.available"),
    ({"sms": {**HTTP_OK, "sender": "A-VERY-LONG-BRANDNAME"}}, "verifiers.telecom.sms.sender"),
    ({"sms": {**HTTP_OK, "sender": "Bộ Công an"}}, "verifiers.telecom.sms.sender"),
    ({"sms": {**HTTP_OK, "colour": "red"}}, "verifiers.telecom.sms.colour"),
]


@pytest.mark.parametrize(("settings", "key"), BAD_SETTINGS)
def test_each_bad_setting_is_named(harness, settings, key):
    with pytest.raises(ConfigError) as info:
        build(harness, **settings)
    assert info.value.code == key
    assert key in info.value.message or key.rsplit(".", 1)[0] in info.value.message


def production_services() -> Services:
    return Services(hit=lambda key, limit: True, now=lambda: START, outbox=lambda *message: None, sandbox=False)


@pytest.mark.parametrize(("settings", "key"), [
    ({}, "verifiers.telecom.hmac_key"),
    ({"hmac_key": "p" * 32}, "verifiers.telecom.operator.kind"),
    ({"hmac_key": "p" * 32, "operator": {"kind": "sandbox"}}, "verifiers.telecom.operator.kind"),
    ({"hmac_key": "p" * 32, "operator": HTTP_OK}, "verifiers.telecom.sms.kind"),
    ({"hmac_key": "p" * 32, "operator": {**HTTP_OK, "endpoint": "http://127.0.0.1:9/check"}, "sms": HTTP_OK},
     "verifiers.telecom.operator.endpoint"),
])
def test_sandboxes_and_development_keys_are_refused_in_production(settings, key):
    """COMMON rules: sandbox stand-ins are refused when services.sandbox is false (production)."""
    with pytest.raises(ConfigError) as info:
        create("telecom", settings, production_services())
    assert info.value.code == key


def test_production_settings_build(tmp_path, monkeypatch):
    key_file = tmp_path / "telecom.key"
    key_file.write_text("f" * 48 + "\n")
    monkeypatch.setenv("TEST_OPERATOR_KEY", "operator-key-123")
    sms = {**HTTP_OK, "endpoint": "https://sms.example.vn/send", "sender": "DICHVUCONG"}
    verifier = create("viettel", {"hmac_key": f"file:{key_file}", "names": {"vi": "Viettel", "en": "Viettel"},
                                  "operator": {**HTTP_OK, "api_key": "env:TEST_OPERATOR_KEY", "timeout": 3},
                                  "sms": sms}, production_services())
    assert verifier.id == "viettel" and verifier.info.kind == "telecom"
    assert verifier._operator.settings.api_key == "operator-key-123" and verifier._operator.settings.timeout == 3
    assert verifier._gateway.sender == "DICHVUCONG"
    assert verifier._key == b"f" * 48
    assert isinstance(verifier._operator, operators.HttpOperator)


def test_bad_setting_stops_the_app_naming_the_key(database_url, keys_dir):
    from idp import create_app
    from tests.conftest import base_settings

    with pytest.raises(ConfigError) as info:
        create_app(base_settings(database_url, keys_dir, verifiers={"telecom": {"kind": "telecom",
                                                                                "match_level": "high"}}))
    assert info.value.code == "verifiers.telecom.match_level"
