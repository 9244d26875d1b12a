"""Recovery codes (NIST SP 800-63B §5.1.2 look-up secrets): the stored codes and the `recovery` factor.

A set is 10 single-use codes of 10 characters from an alphabet without look-alikes (no 0/O, 1/I),
50 bits each, shown once as "ABCDE-FGH23". Only a keyed hash is stored: HMAC-SHA256 under a key
derived from the deployment's `subject_secret` (HKDF, like idp.crypto), over a random per-code salt,
the account id and the code. A fast keyed hash is enough here: the codes are random (not chosen by
people), the key is not in the database, and checking a code costs at most ten HMACs, where argon2id
at the password cost (64 MiB, 3 passes) would cost ten password hashes per attempt.

The recovery factor is a backup: it is offered only while the account has another second factor
(an authenticator app or a security key). Generating a new set deletes the old one.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from idp.accounts.models import Account
from idp.audit import record
from idp.auth.mfa import FactorResult
from idp.dbtypes import UTCDateTime
from idp.dbtypes import utcnow
from idp.errors import VerificationFailed
from idp.extensions import db
from idp.i18n import N_
from idp.notify import notify
from idp.settings import DEV_SECRET
from idp.settings import current_settings
from idp.verifiers.base import Level

KIND = "recovery"
COUNT = 10
LENGTH = 10
ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # 32 symbols: 5 bits each, no 0/O or 1/I
CODE_INPUT_MAX = 32
AMR_OTP = "otp"  # RFC 8176: a look-up secret is a one-time password

MALFORMED = N_("A recovery code has 10 letters and digits, for example ABCDE-FGH23.")
WRONG = N_("This recovery code is not correct.")
USED = N_("This recovery code has already been used. Each code works only once.")
NOT_SET_UP = N_("This account has no recovery codes.")


class RecoveryCode(db.Model):
    """One single-use recovery code, stored as a keyed hash."""

    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    salt: Mapped[str] = mapped_column(String(32))  # 16 random bytes, hex
    code_hash: Mapped[str] = mapped_column(String(64))  # HMAC-SHA256, hex
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<RecoveryCode id={self.id} account_id={self.account_id} used={self.used_at is not None}>"


def _key() -> bytes:
    secret = (current_settings().subject_secret or DEV_SECRET).encode("utf-8")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"idp at-rest", info=b"recovery-code").derive(secret)


def _digest(key: bytes, salt: str, account_id: int, code: str) -> str:
    return hmac.new(key, f"{salt}:{account_id}:{code}".encode("ascii"), hashlib.sha256).hexdigest()


def display(code: str) -> str:
    """"ABCDEFGH23" -> "ABCDE-FGH23" (how codes are shown; typing the hyphen is optional)."""
    return f"{code[:LENGTH // 2]}-{code[LENGTH // 2:]}"


def normalise(raw: str) -> str:
    """Return the 10 code characters typed (any case; spaces and hyphens ignored); raise
    VerificationFailed("recovery_malformed") for anything else."""
    if not isinstance(raw, str) or len(raw) > CODE_INPUT_MAX:
        raise VerificationFailed("recovery_malformed", MALFORMED)
    code = re.sub(r"[\s\-]", "", unicodedata.normalize("NFKC", raw)).upper()
    if len(code) != LENGTH or any(char not in ALPHABET for char in code):
        raise VerificationFailed("recovery_malformed", MALFORMED)
    return code


def generate(account: Account) -> list[str]:
    """Replace the account's codes with a new set; return the codes (shown once, never stored)."""
    replaced = db.session.execute(delete(RecoveryCode).where(RecoveryCode.account_id == account.id)).rowcount
    key, now = _key(), utcnow()
    codes = ["".join(secrets.choice(ALPHABET) for _ in range(LENGTH)) for _ in range(COUNT)]
    for code in codes:
        salt = secrets.token_hex(16)
        db.session.add(RecoveryCode(account_id=account.id, salt=salt, code_hash=_digest(key, salt, account.id, code),
                                    created_at=now))
    record("mfa.recovery_generated", account_id=account.id, count=COUNT, replaced=replaced)
    notify(account, "mfa.recovery_generated", count=COUNT)
    return [display(code) for code in codes]


def discard(account: Account) -> int:
    """Delete the account's codes (when its last second factor goes); return how many there were."""
    return db.session.execute(delete(RecoveryCode).where(RecoveryCode.account_id == account.id)).rowcount


def remaining(account: Account) -> int:
    """How many unused codes the account has."""
    return db.session.execute(select(func.count(RecoveryCode.id)).where(
        RecoveryCode.account_id == account.id, RecoveryCode.used_at.is_(None))).scalar_one()


def has_codes(account: Account) -> bool:
    return db.session.execute(select(RecoveryCode.id).where(RecoveryCode.account_id == account.id).limit(1)
                              ).first() is not None


def has_other_factor(account: Account) -> bool:
    """Whether a second factor other than recovery codes is enrolled (the codes are its backup)."""
    from idp.auth.mfa import has_other_factor as any_other

    return any_other(account, KIND)


def consume(account: Account, raw: str) -> int:
    """Use one code: mark it used, audit and notify; return how many remain.

    Raises VerificationFailed: recovery_malformed, recovery_not_set_up, recovery_used, recovery_wrong."""
    code = normalise(raw)
    rows = list(db.session.execute(select(RecoveryCode).where(RecoveryCode.account_id == account.id)).scalars())
    if not rows:
        raise VerificationFailed("recovery_not_set_up", NOT_SET_UP)
    key = _key()
    matched = None
    for row in rows:  # every row is hashed: the time does not depend on which code matched
        if hmac.compare_digest(row.code_hash, _digest(key, row.salt, account.id, code)):
            matched = row
    if matched is None:
        raise VerificationFailed("recovery_wrong", WRONG)
    # Conditional update: two requests racing with the same code cannot both use it.
    used = db.session.execute(
        update(RecoveryCode).where(RecoveryCode.id == matched.id, RecoveryCode.used_at.is_(None))
        .values(used_at=utcnow()).execution_options(synchronize_session="fetch"))
    if used.rowcount != 1:
        raise VerificationFailed("recovery_used", USED)
    left = remaining(account)
    record("mfa.recovery_used", account_id=account.id, code_id=matched.id, remaining=left)
    notify(account, "mfa.recovery_used", remaining=left)
    return left


class RecoveryFactor:
    """`recovery`: one of the saved single-use codes; with the password it proves SUBSTANTIAL (amr otp)."""

    kind = KIND

    def is_enrolled(self, account: Account) -> bool:
        return remaining(account) > 0 and has_other_factor(account)

    def challenge(self, account: Account) -> Mapping[str, Any]:
        return {"template": "mfa/code_challenge.html", "title": _("Recovery code"),
                "label": _("Recovery code"),
                "hint": _("Lost your phone or security key? Enter one of the recovery codes you saved. "
                          "Each code works once; you have %(count)d left.", count=remaining(account)),
                "inputmode": "text", "maxlength": CODE_INPUT_MAX}

    def verify(self, account: Account, form: Mapping[str, str]) -> FactorResult:
        if not has_other_factor(account):
            raise VerificationFailed("recovery_not_set_up", NOT_SET_UP)
        left = consume(account, form.get("code", ""))
        notice = ngettext("You used a recovery code. %(num)d code is left: make new ones on your security page.",
                          "You used a recovery code. %(num)d codes are left: make new ones on your security page.",
                          left) if left else _("You used your last recovery code. Make new ones on your security page.")
        return FactorResult(amr=(AMR_OTP,), level=Level.SUBSTANTIAL, notice=notice)


FACTOR = RecoveryFactor()
