"""Sandbox outbox: messages (SMS, letters) that development deployments show instead of sending."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from idp.dbtypes import UTCDateTime
from idp.dbtypes import utcnow
from idp.extensions import db


class OutboxMessage(db.Model):
    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def deliver_to_outbox(channel: str, recipient: str, body: str) -> None:
    """Store a sandbox message; committed with the request that produced it."""
    db.session.add(OutboxMessage(channel=channel, recipient=recipient[:255], body=body[:2000]))
