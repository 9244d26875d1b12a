"""The postal sources' own tables: counter requests and letters.

Neither table points at an account: a row carries the opaque `account_ref` the core lends the
verifier, and only the personal data the post office needs, wiped once the request or letter is
decided or used (`wipe`). When the account is deleted, the core calls the verifier's `forget`
(idp.verifiers.base.Forgetting) and its rows go at once (`forget`). Status changes are compare-and-set
updates, so two workers never both confirm, use or export the same row.
"""

from __future__ import annotations

import enum
from datetime import datetime
from datetime import timedelta

from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from idp.dbtypes import UTCDateTime
from idp.extensions import db
from idp.verifiers.postal.codes import new_code


class RequestStatus(enum.StrEnum):
    OPEN = "open"  # waiting for the visit to a post office
    CONFIRMED = "confirmed"  # a clerk checked the card; the citizen may finish online
    REJECTED = "rejected"  # a clerk refused it (reason recorded)
    COMPLETED = "completed"  # the citizen finished online: the assertion was issued


class LetterStatus(enum.StrEnum):
    QUEUED = "queued"  # waiting for the next export batch
    EXPORTED = "exported"  # handed to the postal operator; the code is valid
    USED = "used"  # the code was entered correctly
    LOCKED = "locked"  # too many wrong codes
    SUPERSEDED = "superseded"  # replaced by a newer letter (e.g. the address changed)


REJECT_REASONS = ("personal_id_mismatch", "name_mismatch", "card_invalid", "card_expired", "photo_mismatch",
                  "person_absent", "other")


class CounterRequest(db.Model):
    """A citizen's request to be checked at a post office counter, found by its reference."""

    __tablename__ = "postal_counter_request"
    __table_args__ = (Index("ix_postal_counter_request_account", "account_ref", "verifier_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    verifier_id: Mapped[str] = mapped_column(String(64))
    account_ref: Mapped[str] = mapped_column(String(64))
    # What the citizen's account claims, for the clerk to compare with the card; wiped when decided.
    claimed_personal_id: Mapped[str | None] = mapped_column(String(20))
    claimed_full_name: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=RequestStatus.OPEN)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[int | None]  # the clerk's account id (staff, for the evidence trail)
    post_office: Mapped[str | None] = mapped_column(String(64))
    chip_read: Mapped[bool | None]
    reject_reason: Mapped[str | None] = mapped_column(String(32))
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:  # no personal data, no reference
        return f"<CounterRequest id={self.id} status={self.status}>"

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at <= now

    def wipe(self) -> None:
        self.claimed_personal_id = self.claimed_full_name = None


class Letter(db.Model):
    """A letter carrying an activation code to the address on file; only the code's hash is kept."""

    __tablename__ = "postal_letter"
    __table_args__ = (Index("ix_postal_letter_account", "account_ref", "verifier_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True)  # printed on the letter, for support
    verifier_id: Mapped[str] = mapped_column(String(64))
    account_ref: Mapped[str] = mapped_column(String(64))
    recipient_name: Mapped[str | None] = mapped_column(String(200))  # for the envelope; wiped at export
    address: Mapped[str | None] = mapped_column(String(500))  # the address snapshot; wiped when used
    status: Mapped[str] = mapped_column(String(16), default=LetterStatus.QUEUED)
    batch_id: Mapped[str | None] = mapped_column(String(32), index=True)
    code_salt: Mapped[str | None] = mapped_column(String(32))
    code_hash: Mapped[str | None] = mapped_column(String(64))
    failed_attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    exported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<Letter id={self.id} status={self.status}>"

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at <= now

    def wipe(self) -> None:
        self.recipient_name = self.address = self.code_salt = self.code_hash = None


def add_with_reference(row: CounterRequest | Letter) -> None:
    """Insert a row under a fresh reference not yet in use (50 random bits: a clash is rare, and
    the unique constraint still refuses one that slips between the check and the insert)."""
    model = type(row)
    for _ in range(5):
        candidate = new_code()
        if db.session.execute(select(model.id).where(model.reference == candidate)).first() is None:
            row.reference = candidate
            db.session.add(row)
            db.session.flush()
            return
    raise RuntimeError("could not allocate a unique postal reference")


def find_request(reference: str) -> CounterRequest | None:
    """The counter request with this (normalised) reference, or None."""
    return db.session.execute(select(CounterRequest).where(CounterRequest.reference == reference)).scalar_one_or_none()


def latest_request(verifier_id: str, account_ref: str) -> CounterRequest | None:
    return db.session.execute(select(CounterRequest).where(
        CounterRequest.verifier_id == verifier_id, CounterRequest.account_ref == account_ref)
        .order_by(CounterRequest.created_at.desc(), CounterRequest.id.desc()).limit(1)).scalar_one_or_none()


def latest_letter(verifier_id: str, account_ref: str) -> Letter | None:
    return db.session.execute(select(Letter).where(Letter.verifier_id == verifier_id, Letter.account_ref == account_ref)
                              .order_by(Letter.created_at.desc(), Letter.id.desc()).limit(1)).scalar_one_or_none()


def set_status(model: type[CounterRequest] | type[Letter], row_id: int, expected: str, **values: object) -> bool:
    """Move one row from `expected` to new values; False when someone else changed it first."""
    result = db.session.execute(update(model).where(model.id == row_id, model.status == expected).values(**values)
                                .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        return False
    row = db.session.get(model, row_id)
    if row is not None:
        db.session.refresh(row)
    return True


def forget(model: type[CounterRequest] | type[Letter], verifier_id: str, account_ref: str) -> int:
    """Delete every row of `model` the source `verifier_id` keeps under `account_ref` (the account is
    being deleted: its requests and letters, open or decided, have nothing left to prove). Caller commits."""
    return db.session.execute(delete(model).where(model.verifier_id == verifier_id, model.account_ref == account_ref)
                              .execution_options(synchronize_session="fetch")).rowcount


def purge(now: datetime, retention: timedelta) -> dict[str, int]:
    """Wipe personal data from expired rows and delete rows older than `retention`. Caller commits."""
    counts = {}
    holding = {CounterRequest: CounterRequest.claimed_personal_id.is_not(None),
               Letter: Letter.address.is_not(None) | Letter.recipient_name.is_not(None)}
    for model, has_data in holding.items():
        expired = db.session.execute(select(model).where(model.expires_at <= now, has_data)).scalars().all()
        for row in expired:
            row.wipe()
        gone = db.session.execute(delete(model).where(model.expires_at <= now, model.created_at < now - retention))
        counts[f"{model.__tablename__}_wiped"] = len(expired)
        counts[f"{model.__tablename__}_deleted"] = gone.rowcount
    return counts
