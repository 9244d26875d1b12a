"""Vietnam Post counter check: a clerk compares the citizen's chip ID card with the account's claim.

1. Logged in with a password, the citizen starts this source: `begin` opens a request (or shows
   the open one) with a short reference and its QR code.
2. At any post office, before the request expires, a clerk (staff pages in idp.postal) finds the
   request, checks the card, types its personal ID number (it must equal the claimed one) and
   confirms the name, noting whether the chip was read by NFC; or rejects it with a reason.
3. Logged in again, the citizen returns to this source: `complete` gives the assertion once a
   clerk confirmed, shows the same page while the request waits, and fails when it was rejected
   or has expired.

The assertion's `subject` is the personal ID number (`pid:<12 digits>`): what the post office
vouches for is the card, so the same person gets the same subject from every visit. A keyed hash
would hide nothing, since the same number is a claim and the account's key.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from typing import Any

from idp.errors import IdpError
from idp.extensions import db
from idp.i18n import N_
from idp.qr import qr_svg
from idp.verifiers.base import Attempt
from idp.verifiers.base import IdentityAssertion
from idp.verifiers.base import Interaction
from idp.verifiers.base import Level
from idp.verifiers.base import Prompt
from idp.verifiers.base import Services
from idp.verifiers.base import VerifierInfo
from idp.verifiers.errors import ConfigError
from idp.verifiers.errors import VerificationFailed
from idp.verifiers.postal.codes import display
from idp.verifiers.postal.codes import normalise
from idp.verifiers.postal.config import Checked
from idp.verifiers.postal.models import REJECT_REASONS
from idp.verifiers.postal.models import CounterRequest
from idp.verifiers.postal.models import RequestStatus
from idp.verifiers.postal.models import add_with_reference
from idp.verifiers.postal.models import forget
from idp.verifiers.postal.models import latest_request
from idp.verifiers.postal.models import set_status

KIND = "postal_counter"
SETTINGS = ("names", "request_ttl_days", "chip_level", "no_chip_level", "clerk_min_level")
NAMES = {"vi": "Xác minh tại bưu cục (VNPost)", "en": "Check at a post office (VNPost)"}
VIETNAM = timezone(timedelta(hours=7))  # dates people read are Vietnamese dates (no daylight saving)
NEW_REQUESTS = "5 per day"
# RFC 8176: "hwk" is proof of possession of a hardware-protected key; reading the chip by NFC runs
# the card's chip authentication. Without the chip read, only the source is named.
AMR_SOURCE = "vnpost"
AMR_CHIP = "hwk"

REJECTED_MESSAGES = {
    "personal_id_mismatch": N_("The post office refused the check: the personal ID number on your card is not the "
                               "one on your account."),
    "name_mismatch": N_("The post office refused the check: the name on your card is not the one on your account."),
    "card_invalid": N_("The post office refused the check: the ID card could not be accepted."),
    "card_expired": N_("The post office refused the check: the ID card has expired."),
    "photo_mismatch": N_("The post office refused the check: the photo on the card did not match."),
    "person_absent": N_("The post office refused the check: the card holder was not present."),
    "other": N_("The post office refused the check. Ask at the counter for the reason."),
}


class ClerkInputError(IdpError):
    """What the clerk typed cannot be used; the form is shown again."""

    status = 400


class RequestClosed(IdpError):
    """The request can no longer be decided: already decided, or expired."""

    status = 409


def expiry_text(moment: datetime) -> str:
    """A date people read, in Vietnamese time: 31/12/2026."""
    return moment.astimezone(VIETNAM).strftime("%d/%m/%Y")


class CounterVerifier:
    """The counter source; `confirm` and `reject` are called by the clerk pages."""

    def __init__(self, verifier_id: str, info: VerifierInfo, services: Services, ttl: timedelta,
                 chip_level: Level, no_chip_level: Level, clerk_min_level: Level) -> None:
        self.id, self.info, self._services = verifier_id, info, services
        self.ttl, self.chip_level, self.no_chip_level = ttl, chip_level, no_chip_level
        self.clerk_min_level = clerk_min_level

    def __repr__(self) -> str:
        return f"CounterVerifier(id={self.id!r})"

    def forget(self, account_ref: str) -> int:
        """The account is being deleted: delete its requests (idp.verifiers.base.Forgetting)."""
        return forget(CounterRequest, self.id, account_ref)

    # --- the citizen ------------------------------------------------------------------------
    def begin(self, attempt: Attempt) -> Prompt:
        account_ref = _logged_in(attempt)
        if not attempt.on_file.get("personal_id"):
            raise VerificationFailed("personal_id_missing", N_(
                "The post office check is for accounts with a personal ID number."))
        now = self._services.now()
        row = latest_request(self.id, account_ref)
        if row is not None and row.status != RequestStatus.COMPLETED and (
                row.status == RequestStatus.REJECTED or row.is_expired(now)):
            attempt.data.update(stage="notice", request=row.id)
            return self._notice(row)
        if row is None or row.status == RequestStatus.COMPLETED:
            row = self._open(attempt, account_ref, now)
        attempt.data.update(stage="status", request=row.id)
        return self._status(row, checked=False)

    def complete(self, attempt: Attempt, params: Mapping[str, str]) -> IdentityAssertion | Prompt:
        if attempt.data.get("done"):
            raise VerificationFailed("attempt_used", N_("This verification was already used. Start again."))
        account_ref = _logged_in(attempt)
        now = self._services.now()
        row = db.session.get(CounterRequest, attempt.data.get("request") or 0)
        if row is None or row.account_ref != account_ref or row.verifier_id != self.id:
            raise VerificationFailed("attempt_unknown", N_("This verification is not known. Please start again."))
        if attempt.data.get("stage") == "notice":
            if params.get("action") != "new":
                raise VerificationFailed("action_missing", N_("Choose “Make a new request” to continue."))
            # One request open per account: another tab may have made the new one already.
            latest = latest_request(self.id, account_ref)
            if latest is not None and latest.id != row.id and self._is_pending(latest, now):
                row = latest
            else:
                row = self._open(attempt, account_ref, now)
            attempt.data.update(stage="status", request=row.id)
            return self._status(row, checked=False)
        typed = normalise(params.get("reference"))
        if typed is None or not hmac.compare_digest(typed, row.reference):
            raise VerificationFailed("reference_mismatch", N_(
                "This page is out of date. Go back to the login page and choose the post office check again."))
        if row.status == RequestStatus.COMPLETED:
            raise VerificationFailed("attempt_used", N_("This confirmation was already used. Start again."))
        if row.status == RequestStatus.REJECTED:
            raise VerificationFailed("request_rejected", REJECTED_MESSAGES.get(row.reject_reason or "other",
                                                                               REJECTED_MESSAGES["other"]))
        if row.is_expired(now):
            raise VerificationFailed("request_expired", N_(
                "Your post office request has expired. Start again to get a new reference."))
        if row.status == RequestStatus.OPEN:
            return self._status(row, checked=True)
        return self._assertion(attempt, row, now)

    @staticmethod
    def _is_pending(row: CounterRequest, now: datetime) -> bool:
        """Waiting for the clerk, or confirmed and not used yet; in both cases within its time."""
        return row.status in (RequestStatus.OPEN, RequestStatus.CONFIRMED) and not row.is_expired(now)

    def _open(self, attempt: Attempt, account_ref: str, now: datetime) -> CounterRequest:
        if not self._services.hit(f"postal-counter-new|{account_ref}", NEW_REQUESTS):
            raise VerificationFailed("too_many_attempts", N_(
                "You have started too many post office requests today. Please try again tomorrow."))
        row = CounterRequest(verifier_id=self.id, account_ref=account_ref, status=RequestStatus.OPEN,
                             claimed_personal_id=attempt.on_file["personal_id"],
                             claimed_full_name=(attempt.on_file.get("full_name") or "")[:200],
                             created_at=now, expires_at=now + self.ttl)
        add_with_reference(row)
        return row

    def _status(self, row: CounterRequest, checked: bool) -> Prompt:
        reference = display(row.reference)
        return Prompt("verifiers/postal_counter_status.html", {
            "reference": reference, "qr_svg": qr_svg(reference), "status": row.status,
            "expires_on": expiry_text(row.expires_at), "checked": checked})

    def _notice(self, row: CounterRequest) -> Prompt:
        outcome = "rejected" if row.status == RequestStatus.REJECTED else "expired"
        message = REJECTED_MESSAGES.get(row.reject_reason or "other", REJECTED_MESSAGES["other"])
        return Prompt("verifiers/postal_counter_notice.html", {
            "outcome": outcome, "reason_message": message, "reference": display(row.reference)})

    def _assertion(self, attempt: Attempt, row: CounterRequest, now: datetime) -> IdentityAssertion:
        personal_id, full_name = row.claimed_personal_id or "", row.claimed_full_name or ""
        if not hmac.compare_digest(personal_id, attempt.on_file.get("personal_id") or ""):
            raise VerificationFailed("account_changed", N_(
                "This confirmation was made for another account. Start again."))
        chip = bool(row.chip_read)
        claims = {"personal_id": personal_id}
        if full_name:
            claims["full_name"] = full_name
        assertion = IdentityAssertion(
            source=self.id, subject=f"pid:{personal_id}", level=self.chip_level if chip else self.no_chip_level,
            amr=(AMR_SOURCE, AMR_CHIP) if chip else (AMR_SOURCE,), verified_at=row.decided_at or now,
            claims=claims, evidence_ref=display(row.reference))
        if not set_status(CounterRequest, row.id, RequestStatus.CONFIRMED, status=RequestStatus.COMPLETED,
                          completed_at=now, claimed_personal_id=None, claimed_full_name=None):
            raise VerificationFailed("attempt_used", N_("This confirmation was already used. Start again."))
        attempt.data["done"] = True
        return assertion

    # --- the clerk (called by the staff pages, idp.postal.views) ------------------------------
    def confirm(self, row: CounterRequest, typed_personal_id: str, name_confirmed: bool, chip_read: bool,
                clerk_id: int, post_office: str | None) -> str:
        """Record the clerk's check; return "confirmed", or "rejected" when the typed number differs.

        Raise ClerkInputError for a malformed number or an unconfirmed name (nothing recorded),
        RequestClosed when the request is no longer open."""
        now = self._check_open(row)
        typed = "".join((typed_personal_id or "").split())
        if not (len(typed) == 12 and typed.isascii() and typed.isdigit()):
            raise ClerkInputError("personal_id_format", N_(
                "Type the 12-digit personal ID number printed on the card."))
        if not hmac.compare_digest(typed, row.claimed_personal_id or ""):
            self._decide(row, now, clerk_id, post_office, status=RequestStatus.REJECTED,
                         reject_reason="personal_id_mismatch")
            return "rejected"
        if not name_confirmed:
            raise ClerkInputError("name_not_confirmed", N_(
                "Tick the box to confirm that the name on the card is the one shown, or reject the request."))
        self._decide(row, now, clerk_id, post_office, status=RequestStatus.CONFIRMED, chip_read=bool(chip_read),
                     expires_at=now + self.ttl)
        return "confirmed"

    def reject(self, row: CounterRequest, reason: str, clerk_id: int, post_office: str | None) -> None:
        """Record a refusal with one of REJECT_REASONS."""
        now = self._check_open(row)
        if reason not in REJECT_REASONS:
            raise ClerkInputError("reason_unknown", N_("Choose the reason for the refusal."))
        self._decide(row, now, clerk_id, post_office, status=RequestStatus.REJECTED, reject_reason=reason)

    def is_open(self, row: CounterRequest) -> bool:
        """Tell whether a clerk may still decide the request."""
        return row.status == RequestStatus.OPEN and not row.is_expired(self._services.now())

    def _check_open(self, row: CounterRequest) -> datetime:
        now = self._services.now()
        if row.status != RequestStatus.OPEN:
            raise RequestClosed("request_decided", N_("This request was already decided."))
        if row.is_expired(now):
            raise RequestClosed("request_expired", N_("This request has expired. The citizen must start again."))
        return now

    def _decide(self, row: CounterRequest, now: datetime, clerk_id: int, post_office: str | None,
                **values: Any) -> None:
        if values["status"] == RequestStatus.REJECTED:
            values.update(claimed_personal_id=None, claimed_full_name=None)
        if not set_status(CounterRequest, row.id, RequestStatus.OPEN, decided_at=now, decided_by=clerk_id,
                          post_office=post_office, **values):
            raise RequestClosed("request_decided", N_("This request was already decided."))


def _logged_in(attempt: Attempt) -> str:
    if not attempt.account_ref:
        raise VerificationFailed("login_required", N_(
            "Log in with your password first, then choose the post office check."))
    return attempt.account_ref


def create(verifier_id: str, settings: Mapping[str, Any], services: Services) -> CounterVerifier:
    """Build the counter source. Settings (all optional): `names`, `request_ttl_days` (30),
    `chip_level` ("high"), `no_chip_level` ("substantial"), `clerk_min_level` ("substantial")."""
    checked = Checked(verifier_id, settings, SETTINGS)
    names = checked.names(NAMES)
    ttl = checked.integer("request_ttl_days", 30, 1, 365)
    chip_level = checked.level("chip_level", "high", Level.LOW)
    no_chip_level = checked.level("no_chip_level", "substantial", Level.LOW)
    if no_chip_level > chip_level:
        raise ConfigError(checked.key("no_chip_level"),
                          f"{checked.key('no_chip_level')} cannot be higher than chip_level.")
    clerk_min_level = checked.level("clerk_min_level", "substantial", Level.LOW)
    info = VerifierInfo(kind=KIND, names=names, max_level=chip_level, attributes=("personal_id", "full_name"),
                        interaction=Interaction.ASYNC)
    return CounterVerifier(verifier_id, info, services, timedelta(days=ttl), chip_level, no_chip_level,
                           clerk_min_level)
