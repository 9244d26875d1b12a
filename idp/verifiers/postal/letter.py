"""Vietnam Post letter: an activation code mailed to the address on file confirms that address.

1. Logged in, with an address on file, the citizen asks for a letter: a row is queued with the
   address snapshot and no code yet.
2. `idp postal export-letters` hands the queued letters to the postal operator as one batch. The
   code is generated at that moment, written only into the batch, and stored as a salted scrypt
   hash: no plaintext code ever rests in the database, so there is no key to protect and nothing
   to wipe afterwards. The code is valid for `code_ttl_days` from the export.
3. Logged in again, the citizen types the code: right → an assertion at Level.NONE (the letter
   proves an address, not a person) with the claim `address`; wrong `max_attempts` times → the
   letter is locked. Codes are single use and compared in constant time.

`amr` is ("vnpost",) only: RFC 8176 "otp" names one-time-password authenticators (RFC 4226,
RFC 6238) a person keeps using; a letter code is a one-off proof of receiving mail, and listing
"otp" would let a portal count it as a second factor.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy import update

from idp.extensions import db
from idp.i18n import N_
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
from idp.verifiers.postal.codes import hash_code
from idp.verifiers.postal.codes import matches
from idp.verifiers.postal.codes import new_code
from idp.verifiers.postal.codes import normalise
from idp.verifiers.postal.config import Checked
from idp.verifiers.postal.counter import expiry_text
from idp.verifiers.postal.models import Letter
from idp.verifiers.postal.models import LetterStatus
from idp.verifiers.postal.models import add_with_reference
from idp.verifiers.postal.models import forget
from idp.verifiers.postal.models import latest_letter
from idp.verifiers.postal.models import set_status

KIND = "postal_letter"
SETTINGS = ("names", "code_ttl_days", "max_attempts", "sandbox")
NAMES = {"vi": "Mã kích hoạt gửi qua thư (VNPost)", "en": "Activation code by letter (VNPost)"}
NEW_LETTERS = "3 per 30 days"
OPEN = (LetterStatus.QUEUED, LetterStatus.EXPORTED)
ADDRESS_MAX = 500  # postal_letter.address


class LetterVerifier:
    """The letter source; `export` is called by `idp postal export-letters`."""

    def __init__(self, verifier_id: str, info: VerifierInfo, services: Services, ttl: timedelta, max_attempts: int,
                 sandbox: bool) -> None:
        self.id, self.info, self._services = verifier_id, info, services
        self.ttl, self.max_attempts, self.sandbox = ttl, max_attempts, sandbox

    def __repr__(self) -> str:
        return f"LetterVerifier(id={self.id!r})"

    def forget(self, account_ref: str) -> int:
        """The account is being deleted: delete its letters (idp.verifiers.base.Forgetting)."""
        return forget(Letter, self.id, account_ref)

    def begin(self, attempt: Attempt) -> Prompt:
        account_ref, address = _account(attempt)
        row = latest_letter(self.id, account_ref)
        now = self._services.now()
        if row is not None and row.status in OPEN and not row.is_expired(now) and row.address == address:
            attempt.data.update(stage="letter", letter=row.id)
            return self._step(row, checked=False)
        previous = None
        if row is not None:
            previous = ("address_changed" if row.status in OPEN and not row.is_expired(now)
                        else "expired" if row.status in OPEN else row.status)
        attempt.data.update(stage="request")
        return Prompt("verifiers/postal_letter_request.html", {"address": address, "previous": previous})

    def complete(self, attempt: Attempt, params: Mapping[str, str]) -> IdentityAssertion | Prompt:
        if attempt.data.get("done"):
            raise VerificationFailed("attempt_used", N_("This verification was already used. Start again."))
        account_ref, address = _account(attempt)
        now = self._services.now()
        if attempt.data.get("stage") == "request":
            if params.get("action") != "request":
                raise VerificationFailed("action_missing", N_("Choose “Send me the letter” to continue."))
            row = self._queue(attempt, account_ref, address, now)
            attempt.data.update(stage="letter", letter=row.id)
            return self._step(row, checked=False)
        row = db.session.get(Letter, attempt.data.get("letter") or 0)
        if attempt.data.get("stage") != "letter" or row is None or row.account_ref != account_ref \
                or row.verifier_id != self.id:
            raise VerificationFailed("attempt_unknown", N_("This verification is not known. Please start again."))
        self._check_usable(row, address, now)
        if row.status == LetterStatus.QUEUED or "code" not in params:
            return self._step(row, checked=row.status == LetterStatus.QUEUED)
        code = normalise(params.get("code"))
        if code is None:
            raise VerificationFailed("code_format", N_(
                "The code has 10 letters and digits, as printed in the letter (for example ABCDE-12345)."))
        if not matches(code, row.code_salt or "", row.code_hash or ""):
            self._count_failure(row)
        snapshot = row.address or ""
        if not set_status(Letter, row.id, LetterStatus.EXPORTED, status=LetterStatus.USED, used_at=now,
                          address=None, code_salt=None, code_hash=None):
            raise VerificationFailed("code_used", N_("This code was already used."))
        attempt.data["done"] = True
        return IdentityAssertion(source=self.id, subject=f"letter:{account_ref}", level=Level.NONE, amr=("vnpost",),
                                 verified_at=now, claims={"address": snapshot}, evidence_ref=display(row.reference))

    def export(self, batch_id: str) -> list[dict[str, str]]:
        """Give every queued, unexpired letter its code; return the batch entries (the only copy
        of the codes). The caller writes them out, then commits; a failure before the commit
        leaves the letters queued for the next batch."""
        now = self._services.now()
        rows = db.session.execute(select(Letter).where(
            Letter.verifier_id == self.id, Letter.status == LetterStatus.QUEUED, Letter.expires_at > now)
            .order_by(Letter.id)).scalars().all()
        entries = []
        for row in rows:
            code, salt = new_code(), secrets.token_bytes(16)
            name, address, valid_until = row.recipient_name or "", row.address or "", now + self.ttl
            if not set_status(Letter, row.id, LetterStatus.QUEUED, status=LetterStatus.EXPORTED, batch_id=batch_id,
                              code_salt=salt.hex(), code_hash=hash_code(code, salt), exported_at=now,
                              expires_at=valid_until, recipient_name=None):
                continue  # another export took it
            entries.append({"batch_id": batch_id, "letter": display(row.reference), "recipient": name,
                            "address": address, "code": display(code), "valid_until": expiry_text(valid_until)})
            if self.sandbox:
                self._services.outbox("letter", address, (
                    f"VNPost. Mã kích hoạt / Activation code: {display(code)}. "
                    f"Hiệu lực đến / Valid until {expiry_text(valid_until)}. Thư / Letter {display(row.reference)}."))
        return entries

    def _queue(self, attempt: Attempt, account_ref: str, address: str, now: datetime) -> Letter:
        if not self._services.hit(f"postal-letter-new|{account_ref}", NEW_LETTERS):
            raise VerificationFailed("too_many_attempts", N_(
                "You have asked for too many letters recently. Please wait for the letters already sent."))
        db.session.execute(update(Letter).where(Letter.verifier_id == self.id, Letter.account_ref == account_ref,
                                                Letter.status.in_(OPEN))
                           .values(status=LetterStatus.SUPERSEDED, recipient_name=None, address=None, code_salt=None,
                                   code_hash=None).execution_options(synchronize_session="fetch"))
        row = Letter(verifier_id=self.id, account_ref=account_ref, status=LetterStatus.QUEUED, address=address,
                     recipient_name=(attempt.on_file.get("full_name") or "")[:200] or None, failed_attempts=0,
                     created_at=now, expires_at=now + self.ttl)
        add_with_reference(row)
        return row

    def _step(self, row: Letter, checked: bool) -> Prompt:
        if row.status == LetterStatus.QUEUED:
            return Prompt("verifiers/postal_letter_status.html", {
                "letter": display(row.reference), "checked": checked})
        return Prompt("verifiers/postal_letter_code.html", {
            "letter": display(row.reference), "expires_on": expiry_text(row.expires_at)})

    def _check_usable(self, row: Letter, address: str, now: datetime) -> None:
        if row.status == LetterStatus.USED:
            raise VerificationFailed("code_used", N_("This code was already used."))
        if row.status == LetterStatus.LOCKED:
            raise VerificationFailed("too_many_attempts", N_(
                "The code was entered wrongly too many times and is now locked. Ask for a new letter."))
        if row.status == LetterStatus.SUPERSEDED:
            raise VerificationFailed("letter_superseded", N_(
                "A newer letter replaced this one. Use the code from the newest letter."))
        if row.is_expired(now):
            raise VerificationFailed("code_expired", N_("This code has expired. Ask for a new letter."))
        if row.address != address:
            raise VerificationFailed("address_changed", N_(
                "Your address changed after this letter was requested. Ask for a new letter to the new address."))

    def _count_failure(self, row: Letter) -> None:
        db.session.execute(update(Letter).where(Letter.id == row.id)
                           .values(failed_attempts=Letter.failed_attempts + 1)
                           .execution_options(synchronize_session=False))
        db.session.refresh(row)
        if row.failed_attempts >= self.max_attempts:
            set_status(Letter, row.id, LetterStatus.EXPORTED, status=LetterStatus.LOCKED, code_salt=None,
                       code_hash=None)
            raise VerificationFailed("too_many_attempts", N_(
                "The code was entered wrongly too many times and is now locked. Ask for a new letter."))
        raise VerificationFailed("code_wrong", N_("The code is not correct. Check the letter and try again."))


def _account(attempt: Attempt) -> tuple[str, str]:
    if not attempt.account_ref:
        raise VerificationFailed("login_required", N_("Log in first, then ask for a letter with an activation code."))
    # Cut to what the letter row keeps (500), so the snapshot compares equal to the address on file.
    address = (attempt.on_file.get("address") or "").strip()[:ADDRESS_MAX]
    if not address:
        raise VerificationFailed("no_address", N_(
            "There is no postal address on your account. Add your address first, then ask for a letter."))
    return attempt.account_ref, address


def create(verifier_id: str, settings: Mapping[str, Any], services: Services) -> LetterVerifier:
    """Build the letter source. Settings (all optional): `names`, `code_ttl_days` (30), `max_attempts`
    (5), `sandbox` (copy exported letters to the development outbox; refused in production)."""
    checked = Checked(verifier_id, settings, SETTINGS)
    names = checked.names(NAMES)
    ttl = checked.integer("code_ttl_days", 30, 1, 365)
    max_attempts = checked.integer("max_attempts", 5, 1, 20)
    sandbox = checked.boolean("sandbox", services.sandbox)
    if sandbox and not services.sandbox:
        raise ConfigError(checked.key("sandbox"), f"{checked.key('sandbox')} is for development only.")
    info = VerifierInfo(kind=KIND, names=names, max_level=Level.NONE, attributes=("address",),
                        interaction=Interaction.ASYNC)
    return LetterVerifier(verifier_id, info, services, timedelta(days=ttl), max_attempts, sandbox)
