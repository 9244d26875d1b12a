"""Known devices: tell the owner when their account logs in from a browser it was never used in.

Each browser gets a long-lived random device id in its own cookie (`idp_device`: HttpOnly,
SameSite=Lax, Secure on https, 400 days — the longest browsers keep a cookie). The provider stores
only an HMAC of that id per account (`known_device`: account id, HMAC, first and last seen), so
the table cannot be used to recognise a browser without the cookie, and the cookie alone names no
account. `remember_device` runs when a login session starts: an id the account has not seen is
recorded, audited (`login.new_device`) and notified — except for the account's very first device
(nothing to compare with yet) and for a cross-device QR login, which sends its own message.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import after_this_request
from flask import request
from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy import UniqueConstraint
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from werkzeug.wrappers import Response

from idp.accounts.models import Account
from idp.audit import record
from idp.dbtypes import UTCDateTime
from idp.dbtypes import utcnow
from idp.extensions import db
from idp.settings import DEV_SECRET
from idp.settings import current_settings

COOKIE = "idp_device"
COOKIE_MAX_AGE = 400 * 24 * 3600  # browsers cap cookie lifetimes at 400 days
DEVICE_ID = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)
AMR_CROSS_DEVICE = "mca"  # RFC 8176 multiple-channel authentication: the QR login notifies by itself


class KnownDevice(db.Model):
    """A browser (by the HMAC of its device cookie) that an account has logged in from."""

    __tablename__ = "known_device"
    __table_args__ = (UniqueConstraint("account_id", "device_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    device_hash: Mapped[str] = mapped_column(String(64))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<KnownDevice id={self.id} account_id={self.account_id}>"


def device_hash(device_id: str) -> str:
    """HMAC-SHA256 of a device id, keyed from subject_secret (which never changes, so devices stay known)."""
    secret = (current_settings().subject_secret or DEV_SECRET).encode("utf-8")
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"idp at-rest", info=b"known-device").derive(secret)
    return hmac.new(key, device_id.encode("ascii"), hashlib.sha256).hexdigest()


def current_device_id() -> str | None:
    """This browser's device id, if it sent a well-formed one."""
    value = request.cookies.get(COOKIE, "")
    return value if DEVICE_ID.fullmatch(value) else None


def describe_device(user_agent: str) -> str:
    """Browser and system names from a fixed list ("Firefox · Windows"); "" when not recognised."""
    from idp.auth.agents import describe_agent

    return " · ".join(part for part in describe_agent(user_agent) if part)


def remember_device(account: Account, amr: list[str] | tuple[str, ...] = ()) -> bool:
    """Record this browser as a device of `account` (and renew its cookie); return True when it is new.

    A new device is audited and, unless it is the account's first or the login came through the
    cross-device QR flow, notified to the owner ("login.new_device").
    """
    device_id = current_device_id() or secrets.token_urlsafe(32)
    hashed = device_hash(device_id)
    _set_cookie(device_id)
    now = utcnow()
    known = db.session.execute(select(KnownDevice).where(
        KnownDevice.account_id == account.id, KnownDevice.device_hash == hashed)).scalar_one_or_none()
    if known is not None:
        known.last_seen_at = now
        return False
    first = db.session.execute(select(KnownDevice.id).where(KnownDevice.account_id == account.id).limit(1)).first()
    try:
        with db.session.begin_nested():  # two logins of one browser at once: the second finds the first's row
            db.session.add(KnownDevice(account_id=account.id, device_hash=hashed, first_seen_at=now,
                                       last_seen_at=now))
    except IntegrityError:
        return False
    record("login.new_device", account_id=account.id, first=first is None)
    if first is not None and AMR_CROSS_DEVICE not in amr:
        from idp.notify import notify

        notify(account, "login.new_device", device=describe_device(request.headers.get("User-Agent", "")))
    return True


def _set_cookie(device_id: str) -> None:
    secure = current_settings().is_https

    @after_this_request
    def set_device_cookie(response: Response) -> Response:
        response.set_cookie(COOKIE, device_id, max_age=COOKIE_MAX_AGE, httponly=True, samesite="Lax",
                            secure=secure, path="/")
        return response

