"""Account models: national accounts, attribute provenance, representatives, login sessions."""

from __future__ import annotations

import enum
from datetime import date
from datetime import datetime

from sqlalchemy import JSON
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import UniqueConstraint
from sqlalchemy import func
from sqlalchemy import text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from idp.dbtypes import UTCDateTime
from idp.dbtypes import utcnow
from idp.extensions import db


class AccountKind(enum.StrEnum):
    CITIZEN = "citizen"
    BUSINESS = "business"
    OFFICIAL = "official"


class AccountStatus(enum.StrEnum):
    ACTIVE = "active"
    LOCKED = "locked"
    PENDING = "pending"


SELF_ASSERTED = "self"


class Account(db.Model):
    """One national account: a citizen (personal ID), a business (tax code) or an official."""

    __tablename__ = "account"
    # Exact look-ups by the admin console's account search (idp.admin.account_search). The e-mail index
    # is on PostgreSQL only: SQLite's reflection warns about expression indexes on a table every other
    # table refers to, which would break later batch migrations there.
    __table_args__ = (Index("ix_account_phone", "phone"),
                      Index("ix_account_email_lower", func.lower(text("email"))).ddl_if(dialect="postgresql"))

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    # Personal identification number (citizen, official) or tax code (business).
    identifier: Mapped[str] = mapped_column(String(20), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=AccountStatus.ACTIVE)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    full_name: Mapped[str] = mapped_column(String(200))
    given_name: Mapped[str | None] = mapped_column(String(100))
    family_name: Mapped[str | None] = mapped_column(String(100))
    birthdate: Mapped[date | None]
    gender: Mapped[str | None] = mapped_column(String(16))
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(254))
    street_address: Mapped[str | None] = mapped_column(String(300))
    province_code: Mapped[str | None] = mapped_column(String(8))
    ward_code: Mapped[str | None] = mapped_column(String(8))
    agency: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    verifications: Mapped[list[AttributeVerification]] = relationship(
        back_populates="account", cascade="all, delete-orphan", lazy="select"
    )

    def get_user_id(self) -> int:
        return self.id

    def __repr__(self) -> str:  # no personal data in logs
        return f"<Account id={self.id} kind={self.kind} status={self.status}>"

    @property
    def is_active(self) -> bool:
        return self.status == AccountStatus.ACTIVE

    def verification_of(self, attribute: str) -> AttributeVerification | None:
        """Return the strongest, most recent verification of one attribute."""
        found = [v for v in self.verifications if v.attribute == attribute]
        return max(found, key=lambda v: (v.level, v.verified_at), default=None)


class AttributeVerification(db.Model):
    """Who vouched for one attribute of an account, at what level and when."""

    __tablename__ = "attribute_verification"
    __table_args__ = (UniqueConstraint("account_id", "attribute", "source"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    attribute: Mapped[str] = mapped_column(String(32))
    # Identity source id ("vneid", "vnpost", ...) or "self" for self-asserted values.
    source: Mapped[str] = mapped_column(String(64))
    level: Mapped[int] = mapped_column(default=0)
    verified_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    account: Mapped[Account] = relationship(back_populates="verifications")

    @property
    def is_self_asserted(self) -> bool:
        return self.source == SELF_ASSERTED


class BusinessRepresentative(db.Model):
    """A citizen account entitled to act for a business account."""

    __tablename__ = "business_representative"
    __table_args__ = (UniqueConstraint("business_id", "citizen_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(64), default="legal_representative")
    since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LoginSession(db.Model):
    """One browser's single sign-on session at the provider (`sid` in ID tokens)."""

    __tablename__ = "login_session"
    __table_args__ = (Index("ix_login_session_account", "account_id", "ended_at"),)

    sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime)
    acr: Mapped[str] = mapped_column(String(64))
    amr: Mapped[list] = mapped_column(JSON, default=list)
    # Claims a source adds to the session's ID tokens, e.g. {"vn_eid_level": 2}.
    extra_claims: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)  # absolute lifetime (login.session_lifetime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Last use, written at most once a minute: the idle lifetime (login.session_idle_lifetime) counts from here.
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LinkedIdentity(db.Model):
    """An identity source that proved this account: (source, subject at the source) is unique."""

    __tablename__ = "linked_identity"
    __table_args__ = (UniqueConstraint("source", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(255))
    level: Mapped[int] = mapped_column(default=0)
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<LinkedIdentity account_id={self.account_id} source={self.source}>"


class LinkReview(db.Model):
    """An assertion that could not be linked automatically; a person decides (admin console)."""

    __tablename__ = "link_review"

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    reason: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(255))
    level: Mapped[int] = mapped_column(default=0)
    # The account the assertion points at (by identifier or existing link) and the one logged in.
    candidate_account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    session_account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    claims: Mapped[dict] = mapped_column(JSON, default=dict)
    evidence_ref: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Who decided it in the admin console (a staff account, or an admin API client) and why.
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    resolved_by_client: Mapped[str | None] = mapped_column(String(64))
    resolution_reason: Mapped[str | None] = mapped_column(String(500))
