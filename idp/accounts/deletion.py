"""Delete-account requests: asked for in the console, carried out after a grace period.

Design (docs/operations.md, "Account deletion"):
- `request_deletion` stores a pending request scheduled `accounts.deletion_grace_days` ahead, ends
  every session of the account with single logout and revokes every token family (the shared
  idp.accounts.recovery.end_sessions / revoke_grants), audits (`account.deletion_requested`) and
  notifies the owner. The account stays usable meanwhile, so that its owner can log in and cancel.
- `cancel_deletion` (pending only) is audited and notified.
- `process_due_deletions` (`idp purge`) carries out the due requests, one transaction each: live
  sessions end with single logout, the owner is told, link reviews holding the person's claims go,
  and the account row is deleted; every table holding personal data references it with ON DELETE
  CASCADE (attributes, links, sessions, factors, devices, consents, grants, codes, roles). What does
  not cascade is handled here first, in the same transaction (`forget_person`): the login history
  stays for the statistics but detached and stripped (time, portal, source, level, province only);
  the identity sources forget what they keep under the account's reference (postal requests and
  letters, idp.verifiers.base.Forgetting); the contact e-mail of a portal registration the person
  submitted is wiped (the agency's registration stays); unfinished verification attempts go.
  The audit trail stays: its events carry account ids, never names or personal IDs, and
  `account.deleted` closes it with the counts. The request row stays too (ids and dates only), marked completed.
"""

from __future__ import annotations

import enum
import logging
from datetime import datetime
from datetime import timedelta

from sqlalchemy import String
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from idp.accounts.models import Account
from idp.accounts.models import LinkReview
from idp.audit import record
from idp.dbtypes import UTCDateTime
from idp.dbtypes import utcnow
from idp.extensions import db
from idp.notify import notify
from idp.settings import current_settings

log = logging.getLogger(__name__)


class DeletionStatus(enum.StrEnum):
    PENDING = "pending"
    CANCELLED = "cancelled"
    COMPLETED = "completed"


class DeletionRequest(db.Model):
    """A person's request to delete their account; kept (ids and dates only) after it is carried out."""

    __tablename__ = "account_deletion_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    # No foreign key: the row outlives the account it names, like the audit trail.
    account_id: Mapped[int] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(String(16), default=DeletionStatus.PENDING)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    scheduled_for: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<DeletionRequest id={self.id} account_id={self.account_id} status={self.status}>"


def pending_deletion(account_id: int) -> DeletionRequest | None:
    """The account's pending request, if any."""
    return db.session.execute(select(DeletionRequest).where(
        DeletionRequest.account_id == account_id, DeletionRequest.status == DeletionStatus.PENDING)
        .order_by(DeletionRequest.id.desc()).limit(1)).scalar_one_or_none()


def request_deletion(account: Account, sid: str | None) -> DeletionRequest:
    """Schedule the account's deletion and log it out everywhere (but this browser's session `sid`,
    which the caller ends with end_login_session). Returns the pending request. Caller commits."""
    from idp.accounts.pages import local_date
    from idp.accounts.recovery import end_sessions
    from idp.accounts.recovery import revoke_grants

    existing = pending_deletion(account.id)
    if existing is not None:
        return existing
    now = utcnow()
    row = DeletionRequest(account_id=account.id, status=DeletionStatus.PENDING, requested_at=now,
                          scheduled_for=now + timedelta(days=current_settings().accounts.deletion_grace_days))
    db.session.add(row)
    db.session.flush()
    end_sessions(account, reason="deletion_requested", keep_sid=sid)
    revoke_grants(account, reason="deletion_requested")
    record("account.deletion_requested", account_id=account.id, deletion_id=row.id,
           scheduled_for=row.scheduled_for.isoformat())
    notify(account, "account.deletion_requested", date=local_date(row.scheduled_for))
    return row


def cancel_deletion(account: Account) -> bool:
    """Cancel the account's pending request; False when there is none. Caller commits."""
    row = pending_deletion(account.id)
    if row is None:
        return False
    row.status, row.cancelled_at = DeletionStatus.CANCELLED, utcnow()
    record("account.deletion_cancelled", account_id=account.id, deletion_id=row.id)
    notify(account, "account.deletion_cancelled")
    return True


def due_requests(now: datetime) -> list[int]:
    return list(db.session.execute(select(DeletionRequest.id).where(
        DeletionRequest.status == DeletionStatus.PENDING, DeletionRequest.scheduled_for <= now)
        .order_by(DeletionRequest.scheduled_for)).scalars())


def process_due_deletions(now: datetime) -> int:
    """Carry out every pending request scheduled before `now`; return how many accounts were deleted.
    Commits once per request, so one failure leaves the others done (and is logged with ids only)."""
    deleted = 0
    for request_id in due_requests(now):
        row = db.session.get(DeletionRequest, request_id)
        try:
            deleted += delete_account(row, now)
            db.session.commit()
        except SQLAlchemyError:
            db.session.rollback()
            log.exception("account deletion %s (account %s) failed", request_id, row.account_id)
    return deleted


def delete_account(row: DeletionRequest, now: datetime) -> int:
    """Delete the request's account and its personal data, keep the audit trail; return 1 if deleted."""
    from idp.accounts.recovery import end_sessions

    account = db.session.get(Account, row.account_id)
    row.status, row.completed_at = DeletionStatus.COMPLETED, now
    if account is None:  # deleted some other way meanwhile
        record("account.deletion_completed", account_id=row.account_id, deletion_id=row.id, found=False)
        return 0
    # Sessions opened during the grace period end now: portals get their logout tokens (the outbox
    # rows name client and sid, not the account, and are delivered by `idp logout deliver`).
    end_sessions(account, reason="account_deleted")
    notify(account, "account.deleted")
    # A review's claims are what a source said about this person; the review has nothing left to decide.
    db.session.execute(delete(LinkReview).where(LinkReview.candidate_account_id == account.id))
    counts = forget_person(account.id)
    db.session.delete(account)
    db.session.flush()
    record("account.deleted", account_id=row.account_id, deletion_id=row.id, **counts)
    return 1


def forget_person(account_id: int) -> dict[str, int]:
    """Remove the person from the rows that do not cascade with the account row; return counts (no
    personal data) for the audit event. Caller deletes the account and commits."""
    from idp.accounts.history import detach_logins
    from idp.auth.attempts import VerificationAttempt
    from idp.auth.attempts import account_ref
    from idp.oidc.registration_models import RegistrationRequest
    from idp.verifiers.base import Forgetting
    from idp.verifiers.registry import verifiers

    # Every enabled source that keeps rows of its own (the core never imports a verifier).
    source_rows = sum(verifier.forget(account_ref(verifier_id, account_id))
                      for verifier_id, verifier in sorted(verifiers().items()) if isinstance(verifier, Forgetting))
    # The agency's registration stays; whom to write to about it was this person (the operator still has
    # the portal, its agency and the audit trail of who asked).
    contacts = db.session.execute(update(RegistrationRequest).where(RegistrationRequest.submitted_by == account_id)
                                  .values(contact_email=None, submitted_by=None)
                                  .execution_options(synchronize_session=False)).rowcount
    attempts = db.session.execute(delete(VerificationAttempt).where(VerificationAttempt.account_id == account_id)
                                  .execution_options(synchronize_session=False)).rowcount
    return {"logins_detached": detach_logins(account_id), "source_rows_deleted": source_rows,
            "registration_contacts_wiped": contacts, "verification_attempts_deleted": attempts}
