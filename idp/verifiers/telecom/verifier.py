"""The telecom verifier: stage 1 (number, personal ID, operator check, code sent), stage 2 (code).

State in `attempt.data`: `stage` ("phone" → "code" → "done", or "failed" with `failure`), the
normalised `phone`, `personal_id` (or None in phone-only mode), `mode` ("mno" or "sms"), a random
`reference`, the number of codes sent (`sends`) and the stored `code` (codes.py: never the code).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

from idp.i18n import N_
from idp.identifiers import is_personal_id
from idp.masking import mask_phone
from idp.verifiers.base import Attempt
from idp.verifiers.base import IdentityAssertion
from idp.verifiers.base import Level
from idp.verifiers.base import Prompt
from idp.verifiers.base import Services
from idp.verifiers.base import VerifierInfo
from idp.verifiers.errors import VerificationFailed
from idp.verifiers.telecom import codes
from idp.verifiers.telecom import phone
from idp.verifiers.telecom.operators import UNKNOWN
from idp.verifiers.telecom.operators import OperatorAdapter
from idp.verifiers.telecom.sms import SandboxGateway
from idp.verifiers.telecom.sms import SmsGateway

log = logging.getLogger(__name__)

# Plain ASCII: one GSM-7 SMS (160 characters) that every phone shows the same way.
SMS_TEXT = "{code} la ma xac thuc Dang nhap quoc gia, hieu luc 5 phut. Khong dua ma nay cho bat ky ai."
# Failures after which the attempt stays ended, whatever is sent later (also in the core's FINAL_FAILURES).
FINAL = {"code_expired": codes.expired, "too_many_attempts": codes.too_many_tries}
MOST_CODES = N_("You have asked for the most codes allowed. Start again later.")
# Window of a code's shared counters (tries, single use): longer than the code's 5-minute life.
CODE_WINDOW_MINUTES = 10


class RateLimited(VerificationFailed):
    """Too many checks or codes for this number, personal ID number or client address."""

    status = 429


@dataclass(frozen=True)
class TelecomConfig:
    match_level: Level
    sms_level: Level
    limits: Mapping[str, str]
    resend_after: timedelta
    max_sends: int
    rules: codes.CodeRules = codes.CodeRules()


class TelecomVerifier:
    """One configured operator (or operator aggregator) with its SMS gateway."""

    def __init__(self, verifier_id: str, info: VerifierInfo, services: Services, config: TelecomConfig,
                 operator: OperatorAdapter, gateway: SmsGateway, key: bytes) -> None:
        self.id, self.info, self._services, self._config = verifier_id, info, services, config
        self._operator, self._gateway, self._key = operator, gateway, key

    def __repr__(self) -> str:
        return f"TelecomVerifier(id={self.id!r}, operator={self._operator!r}, sms={self._gateway!r})"

    def is_healthy(self) -> bool:
        """HealthReporting: down when the operator or the SMS gateway says so. The HTTP adapters have
        no health call of their own and count as up; their failures surface as SourceUnavailable."""
        return all(getattr(part, "available", True) for part in (self._operator, self._gateway))

    # --- the two calls -------------------------------------------------------------------------
    def begin(self, attempt: Attempt) -> Prompt:
        attempt.data.clear()
        attempt.data["stage"] = "phone"
        return self._phone_prompt(attempt)

    def complete(self, attempt: Attempt, params: Mapping[str, str]) -> IdentityAssertion | Prompt:
        stage = attempt.data.get("stage")
        if stage == "phone":
            return self._check_subscriber(attempt, params)
        if stage == "code":
            return self._check_code(attempt, params)
        if stage == "done":
            raise VerificationFailed("code_used", N_("This code was already used. Start again to log in."))
        if stage == "failed" and attempt.data.get("failure") in FINAL:
            raise FINAL[attempt.data["failure"]]()
        raise VerificationFailed("attempt_used", N_("This verification was already used. Please start again."))

    # --- stage 1: phone number and personal ID number ------------------------------------------
    def _check_subscriber(self, attempt: Attempt, params: Mapping[str, str]) -> Prompt:
        e164 = phone.normalise(params.get("phone"))
        personal_id = _personal_id(params.get("personal_id"))
        if not personal_id and attempt.account_ref is None:
            raise VerificationFailed("personal_id_required", N_(
                "Enter your personal ID number. Without it, a phone number can only be added to an account "
                "you are already logged in to."))
        on_file = attempt.on_file.get("personal_id")
        if personal_id and on_file and personal_id != on_file:
            raise VerificationFailed("personal_id_differs", N_(
                "This is not the personal ID number of the account you are logged in to."))
        address = _client_address(attempt, params)
        reference = secrets.token_hex(12)
        if personal_id:
            self._count("checks_per_ip", address, N_(
                "Too many checks from your network. Wait a while and try again, or choose another way to log in."))
            self._count("checks_per_number", e164, N_(
                "Too many checks for this phone number. Wait a while and try again."))
            self._count("checks_per_personal_id", personal_id, N_(
                "Too many checks for this personal ID number. Wait a while and try again."))
            answer = self._operator.is_registered_to(e164, personal_id, reference=reference)
            if answer is UNKNOWN:
                raise VerificationFailed("subscriber_unknown", N_(
                    "Your mobile operator could not confirm who this number is registered to. Check the number, "
                    "or choose another way to log in."))
            if answer is not True:
                log.info("verifier %s: subscriber is not registered to the personal ID given", self.id)
                raise VerificationFailed("subscriber_mismatch", N_(
                    "This phone number is not registered to this personal ID number at your mobile operator. "
                    "Check both numbers, or use a SIM registered in your own name."))
        attempt.data.update(phone=e164, personal_id=personal_id or None, reference=reference,
                            mode="mno" if personal_id else "sms", sends=0)
        self._send_code(attempt, address)
        attempt.data["stage"] = "code"
        return self._code_prompt(attempt)

    # --- stage 2: the code -----------------------------------------------------------------------
    def _check_code(self, attempt: Attempt, params: Mapping[str, str]) -> IdentityAssertion | Prompt:
        data, now = attempt.data, self._services.now()
        if params.get("action") == "resend":
            sent_at = datetime.fromisoformat(data["code"]["sent_at"])
            if now < sent_at + self._config.resend_after:
                raise VerificationFailed("resend_too_soon", N_(
                    "A code was sent a moment ago. Wait a little before asking for a new one."))
            self._send_code(attempt, _client_address(attempt, params))
            return self._code_prompt(attempt)
        typed = params.get("code")
        typed = typed.replace(" ", "") if isinstance(typed, str) and len(typed) <= 20 else None
        if not codes.is_well_formed(typed):
            raise VerificationFailed("code_format", N_("Enter the 6-digit code from the text message."))
        # A fresh dict, never the nested one changed in place: the core stores `data` by value.
        stored = dict(data["code"])
        rules = self._config.rules
        try:
            codes.check(stored, self._key, attempt.id, typed, now, rules, claim_try=lambda: self._services.hit(
                self._code_key("tries", attempt, stored), f"{rules.max_tries} per {CODE_WINDOW_MINUTES} minutes"))
        except VerificationFailed as exc:
            data["code"] = stored
            if exc.code in FINAL:
                data.update(stage="failed", failure=exc.code)
                data.pop("code", None)
            raise
        data["stage"] = "done"
        data.pop("code", None)
        # Single use even when two requests with the right code arrive together (each holds its
        # own copy of `data`): only the first one to mark the code used gets the assertion.
        if not self._services.hit(self._code_key("used", attempt, stored), f"1 per {CODE_WINDOW_MINUTES} minutes"):
            raise VerificationFailed("code_used", N_("This code was already used. Start again to log in."))
        return self._assertion(attempt, now)

    def _code_key(self, what: str, attempt: Attempt, stored: Mapping[str, object]) -> str:
        """The shared counter of one sent code (its salt is random per code)."""
        digest = self._mac(f"code|{attempt.id}|{stored['salt']}")
        return f"telecom|{self.id}|code-{what}|{digest}"

    def _assertion(self, attempt: Attempt, now: datetime) -> IdentityAssertion:
        data = attempt.data
        e164 = data["phone"]
        if data["mode"] == "mno":
            return IdentityAssertion(
                source=self.id, subject="mno:" + self._mac(f"subject|mno|{e164}|{data['personal_id']}"),
                level=self._config.match_level, amr=("sms", "mno"), verified_at=now,
                claims={"personal_id": data["personal_id"], "phone": e164}, evidence_ref=data["reference"])
        if attempt.account_ref is None:  # stage 1 refused this; never assert a bare phone number
            raise VerificationFailed("personal_id_required", N_(
                "Enter your personal ID number. Without it, a phone number can only be added to an account "
                "you are already logged in to."))
        # Per account: a recycled number added by its next owner is a new link, never the old one.
        return IdentityAssertion(
            source=self.id, subject="sms:" + self._mac(f"subject|sms|{e164}|{attempt.account_ref}"),
            level=self._config.sms_level, amr=("sms",), verified_at=now, claims={"phone": e164},
            evidence_ref=data["reference"])

    # --- helpers -----------------------------------------------------------------------------------
    def _send_code(self, attempt: Attempt, address: str) -> None:
        data = attempt.data
        if data.get("sends", 0) >= self._config.max_sends:
            raise RateLimited("rate_limited", MOST_CODES)
        self._count("sms_per_ip", address, N_(
            "Too many codes were requested from your network. Wait a while and try again, or choose another way "
            "to log in."))
        self._count("sms_per_number", data["phone"], N_(
            "Too many codes were sent to this phone number. Wait a while and try again."))
        if attempt.account_ref is not None:  # one account must not text numbers from many addresses
            self._count("sms_per_account", attempt.account_ref, MOST_CODES)
        code = codes.new_code()
        self._gateway.send(data["phone"], SMS_TEXT.format(code=code))
        data["code"] = codes.issue(self._key, attempt.id, code, self._services.now())
        data["sends"] = data.get("sends", 0) + 1

    def _count(self, limit: str, value: str, message: str) -> None:
        """Count one event; personal data is replaced by a keyed hash in the limiter's key."""
        key = f"telecom|{self.id}|{limit}|{self._mac(f'limit|{limit}|{value}')}"
        if not self._services.hit(key, self._config.limits[limit]):
            log.info("verifier %s: rate limit %s reached", self.id, limit)
            raise RateLimited("rate_limited", message)

    def _mac(self, label: str) -> str:
        digest = hmac.new(self._key, label.encode("utf-8"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    def _phone_prompt(self, attempt: Attempt) -> Prompt:
        return Prompt("verifiers/telecom_phone.html", {"phone_only_allowed": attempt.account_ref is not None})

    def _code_prompt(self, attempt: Attempt) -> Prompt:
        return Prompt("verifiers/telecom_code.html", {
            "phone_masked": mask_phone(attempt.data["phone"]),
            "sandbox_outbox": isinstance(self._gateway, SandboxGateway),
            "resend_after": int(self._config.resend_after.total_seconds())})


def _personal_id(raw: object) -> str:
    """Return the 12-digit personal ID number, or "" when none was given; raise when malformed."""
    if raw is None:
        return ""
    if isinstance(raw, str) and len(raw) <= 40:
        value = raw.replace(" ", "").replace(".", "").strip()
        if not value:
            return ""
        if is_personal_id(value):
            return value
    raise VerificationFailed("personal_id_format", N_("The personal ID number must be exactly 12 digits."))


def _client_address(attempt: Attempt, params: Mapping[str, str]) -> str:
    address = params.get("remote_addr")
    return address if isinstance(address, str) and 0 < len(address) <= 64 else (attempt.client_ip or "unknown")
