"""Authenticator apps (TOTP, RFC 6238): the stored authenticators and the `totp` second factor.

Codes are 6 digits, every 30 seconds, HMAC-SHA-1 (what every authenticator app supports).
A code is accepted one time step early or late (clock drift) and never twice: each authenticator
remembers the last time step it accepted, and a code of that step or an earlier one is refused
(RFC 6238 §5.2). Secrets are sealed at rest (idp.crypto, purpose "totp") and never logged.
An authenticator is created *pending* when the enrolment page is shown and becomes active only
once the person has typed a valid code from it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
import unicodedata
from collections.abc import Mapping
from datetime import datetime
from datetime import timedelta
from typing import Any

import pyotp
from flask_babel import gettext as _
from sqlalchemy import BigInteger
from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy import delete
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from idp.accounts.models import Account
from idp.auth.mfa import FactorResult
from idp.crypto import seal
from idp.crypto import unseal
from idp.dbtypes import UTCDateTime
from idp.dbtypes import utcnow
from idp.errors import VerificationFailed
from idp.extensions import db
from idp.i18n import N_
from idp.masking import mask_identifier
from idp.settings import current_settings
from idp.verifiers.base import Level

KIND = "totp"
SEAL_PURPOSE = "totp"
DIGITS = 6
PERIOD = 30  # seconds per time step (RFC 6238 §5.2 recommends 30)
WINDOW = 1  # time steps accepted either side of now (RFC 6238 §5.2: at most one transmission delay)
SECRET_LENGTH = 32  # base32 characters: 160 bits, the HMAC-SHA-1 key length RFC 4226 §4 recommends
PENDING_SECONDS = 30 * 60  # how long an enrolment page's secret waits for its first code
MAX_AUTHENTICATORS = 10  # per account: each one is tried for every code typed
NAME_MAX = 64
CODE_INPUT_MAX = 32  # longer input is not a code; refused before any normalisation
DEFAULT_ISSUER = "Đăng nhập một lần quốc gia"
AMR_OTP = "otp"  # RFC 8176

MALFORMED = N_("Enter the 6 digits shown in your authenticator app (digits 0 to 9 only).")
WRONG = N_("The code is not correct. Check that the time on your phone is right and enter the current code.")
REUSED = N_("This code has already been used. Wait for the next code in your authenticator app "
            "(a new one appears every 30 seconds).")
NOT_SET_UP = N_("No authenticator app is set up for this account.")


class TotpAuthenticator(db.Model):
    """One authenticator app of an account: its sealed secret, its name and the replay guard."""

    __tablename__ = "totp_authenticator"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    # Chosen by the person at activation ("Điện thoại của tôi"); None while pending.
    name: Mapped[str | None] = mapped_column(String(NAME_MAX))
    # idp.crypto.seal(base32 secret, "totp"): "v1." + base64url(nonce || ciphertext || tag).
    secret_sealed: Mapped[str] = mapped_column(String(255))
    # The `acr` of the session that activated it: removing the last factor needs a session this strong.
    added_acr: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The last time step (unix time // 30) accepted: that step and earlier ones are refused.
    last_time_step: Mapped[int | None] = mapped_column(BigInteger)

    def __repr__(self) -> str:  # never the secret
        return f"<TotpAuthenticator id={self.id} account_id={self.account_id} active={self.is_active}>"

    @property
    def is_active(self) -> bool:
        return self.activated_at is not None

    @property
    def enrolment_ref(self) -> str:
        """Names this enrolment on its page (row ids are reused after a delete; the sealed value is not)."""
        return hashlib.sha256(self.secret_sealed.encode("ascii")).hexdigest()[:32]

    def secret(self) -> str:
        """The base32 secret (for the enrolment page and for checking codes only)."""
        return unseal(self.secret_sealed, SEAL_PURPOSE).decode("ascii")


# --- reading and writing authenticators -----------------------------------------------------------

def active_authenticators(account: Account) -> list[TotpAuthenticator]:
    """The account's activated authenticators, oldest first."""
    return list(db.session.execute(
        select(TotpAuthenticator).where(TotpAuthenticator.account_id == account.id,
                                        TotpAuthenticator.activated_at.is_not(None))
        .order_by(TotpAuthenticator.id)).scalars())


def find_authenticator(account: Account, authenticator_id: int) -> TotpAuthenticator | None:
    """One active authenticator of this account, or None (another account's is None too)."""
    row = db.session.get(TotpAuthenticator, authenticator_id)
    if row is None or row.account_id != account.id or not row.is_active:
        return None
    return row


def pending_enrolment(account: Account) -> TotpAuthenticator:
    """The account's enrolment in progress (the same secret across reloads), or a new one.

    Enrolments older than PENDING_SECONDS are discarded: their secret may have been seen long ago."""
    cutoff = utcnow() - timedelta(seconds=PENDING_SECONDS)
    db.session.execute(delete(TotpAuthenticator).where(
        TotpAuthenticator.account_id == account.id, TotpAuthenticator.activated_at.is_(None),
        TotpAuthenticator.created_at < cutoff))
    row = db.session.execute(
        select(TotpAuthenticator).where(TotpAuthenticator.account_id == account.id,
                                        TotpAuthenticator.activated_at.is_(None))
        .order_by(TotpAuthenticator.id.desc()).limit(1)).scalar()
    if row is None:
        secret = pyotp.random_base32(length=SECRET_LENGTH)
        row = TotpAuthenticator(account_id=account.id, secret_sealed=seal(secret.encode("ascii"), SEAL_PURPOSE),
                                created_at=utcnow())
        db.session.add(row)
        db.session.flush()
    return row


def activate(row: TotpAuthenticator, name: str, code: str, acr: str) -> None:
    """Check the first code from a pending authenticator and activate it under `name`.

    Raises VerificationFailed (malformed or wrong code); the code's time step is remembered, so the
    same code cannot log in afterwards."""
    typed = normalise_code(code)
    step = _matching_step(row.secret(), typed, current_step())
    if step is None:
        raise VerificationFailed("totp_wrong", WRONG)
    row.name, row.added_acr, row.activated_at, row.last_time_step = name, acr, utcnow(), step


def remove(row: TotpAuthenticator) -> None:
    db.session.delete(row)


# --- codes ----------------------------------------------------------------------------------------

def current_step(now: float | None = None) -> int:
    """RFC 6238 §4.2: T = floor((unix time - T0) / X) with T0 = 0, X = 30."""
    return int((time.time() if now is None else now) // PERIOD)


def normalise_code(raw: str) -> str:
    """Return the 6 ASCII digits typed (spaces and hyphens allowed, full-width digits folded by NFKC);
    raise VerificationFailed("totp_malformed") for anything else (other scripts' digits included)."""
    if not isinstance(raw, str) or len(raw) > CODE_INPUT_MAX:
        raise VerificationFailed("totp_malformed", MALFORMED)
    code = re.sub(r"[\s\-]", "", unicodedata.normalize("NFKC", raw))
    if len(code) != DIGITS or not (code.isascii() and code.isdigit()):
        raise VerificationFailed("totp_malformed", MALFORMED)
    return code


def _matching_step(secret: str, code: str, step: int) -> int | None:
    """The time step within the window whose code is `code`, or None (compared in constant time)."""
    generator = pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD)
    found = None
    for candidate in range(step - WINDOW, step + WINDOW + 1):
        if hmac.compare_digest(generator.generate_otp(candidate), code):
            found = candidate
    return found


def check_code(account: Account, raw: str) -> TotpAuthenticator:
    """Find the authenticator that produced `raw` now and consume its time step.

    Raises VerificationFailed: totp_malformed, totp_not_set_up, totp_reused (the step was already
    accepted, RFC 6238 §5.2), totp_wrong."""
    code = normalise_code(raw)
    authenticators = active_authenticators(account)
    if not authenticators:
        raise VerificationFailed("totp_not_set_up", NOT_SET_UP)
    step, reused = current_step(), False
    for row in authenticators:
        matched = _matching_step(row.secret(), code, step)
        if matched is None:
            continue
        # Conditional update: two requests racing with the same code cannot both win.
        done = db.session.execute(
            update(TotpAuthenticator)
            .where(TotpAuthenticator.id == row.id,
                   or_(TotpAuthenticator.last_time_step.is_(None), TotpAuthenticator.last_time_step < matched))
            .values(last_time_step=matched, last_used_at=utcnow())
            .execution_options(synchronize_session="fetch"))
        if done.rowcount == 1:
            return row
        reused = True
    if reused:
        raise VerificationFailed("totp_reused", REUSED)
    raise VerificationFailed("totp_wrong", WRONG)


# --- enrolment page helpers -----------------------------------------------------------------------

def issuer() -> str:
    """The issuer shown in authenticator apps (setting `mfa.totp_issuer`, default the service's name)."""
    mfa = getattr(current_settings(), "mfa", None)
    return getattr(mfa, "totp_issuer", None) or DEFAULT_ISSUER


def provisioning_uri(secret: str, account: Account) -> str:
    """The otpauth:// URI (Google Authenticator key URI format) the QR code carries."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD).provisioning_uri(
        name=mask_identifier(account.identifier), issuer_name=issuer())


def grouped(secret: str) -> str:
    """The secret in groups of four for typing by hand: "ABCD EFGH ..."."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


# --- the second factor ----------------------------------------------------------------------------

class TotpFactor:
    """`totp`: a code from an authenticator app; with the password it proves SUBSTANTIAL (amr otp)."""

    kind = KIND

    def is_enrolled(self, account: Account) -> bool:
        return db.session.execute(
            select(TotpAuthenticator.id).where(TotpAuthenticator.account_id == account.id,
                                               TotpAuthenticator.activated_at.is_not(None)).limit(1)
        ).first() is not None

    def challenge(self, account: Account) -> Mapping[str, Any]:
        names = ", ".join(row.name or "" for row in active_authenticators(account))
        return {"template": "mfa/code_challenge.html", "title": _("Authenticator app"),
                "label": _("6-digit code"),
                "hint": _("Open your authenticator app (%(names)s) and enter the code it shows now.", names=names),
                "inputmode": "numeric", "maxlength": 16}

    def verify(self, account: Account, form: Mapping[str, str]) -> FactorResult:
        check_code(account, form.get("code", ""))
        return FactorResult(amr=(AMR_OTP,), level=Level.SUBSTANTIAL)


FACTOR = TotpFactor()
