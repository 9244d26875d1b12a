"""Client onboarding records: initial access tokens (RFC 7591 §3) and registration requests.

Every token is 256 bits from `secrets` and stored only as its SHA-256 digest: the plaintext is
shown once (the CLI prints the initial access token, the 201 response carries the registration
access token). A full-entropy token needs no slow hash.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from datetime import datetime

from sqlalchemy import JSON
from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from idp.dbtypes import UTCDateTime
from idp.dbtypes import utcnow
from idp.extensions import db


def new_token() -> str:
    """A fresh 256-bit bearer token."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class RegistrationStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    DELETED = "deleted"


class InitialAccessToken(db.Model):
    """Permission to register one portal through POST /oauth2/register; single use, expiring."""

    __tablename__ = "initial_access_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_for_client_id: Mapped[str | None] = mapped_column(String(64))

    def is_usable(self, now: datetime) -> bool:
        return self.used_at is None and self.expires_at > now


class RegistrationRequest(db.Model):
    """A portal registered through the API: its review status and its registration access token digest."""

    __tablename__ = "registration_request"

    client_id: Mapped[str] = mapped_column(ForeignKey("client.client_id", ondelete="CASCADE"), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default=RegistrationStatus.PENDING)
    reason: Mapped[str | None] = mapped_column(String(500))
    # RFC 7592 §3: the bearer token for /oauth2/register/<client_id>; None once the client is deleted.
    registration_token_hash: Mapped[str | None] = mapped_column(String(64))
    initial_token_id: Mapped[int | None] = mapped_column(
        ForeignKey("initial_access_token.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Who decided, as idp.admin.client_admin.actor_label writes it ("account:12", "api:admin-x"); None: the CLI.
    decided_by: Mapped[str | None] = mapped_column(String(100))
    # Web requests (/clients/register): who asked, and whom the operator contacts about it.
    submitted_by: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    # RFC 7591 §2 `contacts` of an API request (at most 5 e-mail addresses), replaced by each RFC 7592 update;
    # told of the decision like contact_email. None for web requests.
    contacts: Mapped[list | None] = mapped_column(JSON)
