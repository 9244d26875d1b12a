"""Verification attempts stored server-side: the verifier's scratch space between begin and complete.

The browser holds only the attempt id (random, 256 bits) and the attempt is bound to the
browser session that started it, so a stolen id is useless elsewhere.
"""

from __future__ import annotations

import copy
import secrets
from datetime import datetime
from datetime import timedelta

from sqlalchemy import JSON
from sqlalchemy import String
from sqlalchemy import delete
from sqlalchemy import update
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from idp.accounts.models import Account
from idp.accounts.models import AccountKind
from idp.dbtypes import UTCDateTime
from idp.dbtypes import utcnow
from idp.errors import VerificationFailed
from idp.extensions import db
from idp.i18n import N_
from idp.oidc.subject import keyed_digest
from idp.verifiers.base import Attempt

ATTEMPT_TTL = timedelta(minutes=15)


class VerificationAttempt(db.Model):
    __tablename__ = "verification_attempt"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    verifier_id: Mapped[str] = mapped_column(String(64))
    browser_key: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    next_url: Mapped[str] = mapped_column(String(4096), default="")
    # The form last shown ({"template", "fields"}), shown again with the error after a failure.
    prompt: Mapped[dict | None] = mapped_column(JSON)
    account_id: Mapped[int | None]  # the account logged in when the attempt started (linking)
    client_ip: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def start_attempt(verifier_id: str, browser_key: str, next_url: str, account_id: int | None,
                  client_ip: str | None) -> VerificationAttempt:
    """Create an attempt row (the caller commits after the verifier's begin)."""
    now = utcnow()
    db.session.execute(delete(VerificationAttempt).where(VerificationAttempt.expires_at < now - timedelta(days=1)))
    row = VerificationAttempt(id=secrets.token_urlsafe(32), verifier_id=verifier_id, browser_key=browser_key,
                              data={}, next_url=next_url, account_id=account_id, client_ip=client_ip,
                              created_at=now, expires_at=now + ATTEMPT_TTL)
    db.session.add(row)
    return row


def get_attempt(attempt_id: str, verifier_id: str, browser_key: str) -> VerificationAttempt:
    """Return an open attempt of this browser for this verifier, or raise VerificationFailed."""
    row = db.session.get(VerificationAttempt, attempt_id) if attempt_id and len(attempt_id) <= 64 else None
    if row is None or row.verifier_id != verifier_id or row.browser_key != browser_key:
        raise VerificationFailed("attempt_unknown", N_("This verification is not known. Please start again."))
    if row.completed_at is not None:
        raise VerificationFailed("attempt_used", N_("This verification was already used. Please start again."))
    if row.expires_at <= utcnow():
        raise VerificationFailed("attempt_expired", N_("This verification has expired. Please start again."))
    return row


def claim_completion(row: VerificationAttempt) -> None:
    """Mark the attempt completed, once: a compare-and-set on `completed_at`, so of two requests
    completing the same attempt at the same time (two tabs, a replay) only one logs in. Raise
    VerificationFailed("attempt_used") for the other."""
    now = utcnow()
    claimed = db.session.execute(
        update(VerificationAttempt).where(VerificationAttempt.id == row.id, VerificationAttempt.completed_at.is_(None))
        .values(completed_at=now).execution_options(synchronize_session=False)).rowcount
    if claimed != 1:
        raise VerificationFailed("attempt_used", N_("This verification was already used. Please start again."))
    row.completed_at = now


def as_attempt(row: VerificationAttempt) -> Attempt:
    """The verifier's view of the row (a copy of `data` that `save_data` writes back), with the
    logged-in account's opaque reference and what is on file, when someone was logged in."""
    account = db.session.get(Account, row.account_id) if row.account_id is not None else None
    # A deep copy: a verifier may change nested values in place (counters), and the JSON column
    # only notices a new object when save_data assigns it back.
    return Attempt(id=row.id, verifier_id=row.verifier_id, data=copy.deepcopy(row.data or {}),
                   created_at=row.created_at,
                   expires_at=row.expires_at, client_ip=row.client_ip,
                   account_ref=account_ref(row.verifier_id, account.id) if account else None,
                   on_file=on_file(account) if account else {})


def account_ref(verifier_id: str, account_id: int) -> str:
    """The opaque reference a verifier sees for an account (stable per verifier, unlinkable across)."""
    return keyed_digest(f"verifier-account|{verifier_id}|{account_id}")


def on_file(account: Account) -> dict[str, str]:
    """What a source may need about the logged-in person: identifier, name, postal address."""
    from idp.oidc.claims import postal_address

    found = {"personal_id" if account.kind != AccountKind.BUSINESS else "tax_code": account.identifier,
             "full_name": account.full_name, "kind": str(account.kind)}
    address = postal_address(account)
    if address:
        found["address"] = address["formatted"]
    return {k: v for k, v in found.items() if v}


def save_data(row: VerificationAttempt, attempt: Attempt) -> None:
    row.data = dict(attempt.data)
