"""Single logout: back-channel logout tokens in a durable outbox, and front-channel iframe URLs.

OIDC Back-Channel Logout 1.0 §2.4 (the logout token) and §2.5 (delivery); Front-Channel Logout 1.0 §3.
When a login session ends, every portal that received a code or tokens in it (`AuthorizationCode` /
`Grant` rows with that `sid`) gets a signed logout token, written to `logout_delivery` in the same
transaction as the logout (a crash loses nothing) and POSTed after the response is sent, so a slow
or dead portal never delays the user. `idp logout deliver` (cron) sends whatever is still due.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from collections.abc import Iterable
from datetime import datetime
from datetime import timedelta
from urllib.parse import urlencode
from urllib.parse import urlsplit

import requests
from flask import Flask
from flask import Response
from flask import after_this_request
from flask import current_app
from flask import g
from flask import has_request_context
from joserfc import jwt
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from idp.audit import record
from idp.dbtypes import UTCDateTime
from idp.dbtypes import utcnow
from idp.extensions import db
from idp.settings import current_settings

log = logging.getLogger(__name__)

LOGOUT_TOKEN_TYP = "logout+jwt"
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
TOKEN_TTL = 120  # seconds; a token is re-signed (same jti) when a retry finds it expired
TIMEOUT = (3, 3)  # connect, read (seconds)
BACKOFF = (10, 60, 300, 1800, 7200)  # wait before attempts 2..6
MAX_ATTEMPTS = len(BACKOFF) + 1
LEASE = 30  # seconds a claimed message is hidden from other workers while it is being sent

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"


class LogoutDelivery(db.Model):
    """One back-channel logout token for one portal, until it is delivered or given up."""

    __tablename__ = "logout_delivery"
    __table_args__ = (Index("ix_logout_delivery_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("client.client_id", ondelete="CASCADE"))
    sid: Mapped[str] = mapped_column(String(64))
    token: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    last_error: Mapped[str | None] = mapped_column(String(200))  # a status code or exception class, never data
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- the logout token (§2.4) ---------------------------------------------------------------------------
def _sign(claims: dict, alg: str) -> str:
    from idp.oidc.runtime import runtime

    key = runtime().keys.signing_key(alg)
    header = {"typ": LOGOUT_TOKEN_TYP, "alg": alg, "kid": key.kid}
    return jwt.encode(header, claims, key, algorithms=[alg])


def logout_token(client, account_id: int, sid: str) -> str:  # noqa: ANN001 - Client model
    """Back-Channel Logout 1.0 §2.4: iss, aud, iat, exp, jti, events, sub and sid; never a nonce."""
    from idp.oidc.subject import subject_for

    now = int(time.time())
    claims = {"iss": current_settings().issuer, "aud": client.client_id, "iat": now, "exp": now + TOKEN_TTL,
              "jti": secrets.token_urlsafe(16), "events": {BACKCHANNEL_EVENT: {}},
              "sub": subject_for(account_id, client), "sid": sid}
    return _sign(claims, client.id_token_signed_response_alg or current_settings().oidc.id_token_alg)


def _refreshed(token: str) -> str:
    """Re-sign an expired stored token with a new iat/exp (same jti, sub, sid): retries stay valid."""
    header, payload = (json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
                       for part in token.split(".")[:2])
    now = int(time.time())
    if payload.get("exp", 0) > now + 10:
        return token
    payload.update(iat=now, exp=now + TOKEN_TTL)
    return _sign(payload, header["alg"])


# --- who was in the session -----------------------------------------------------------------------------
def session_clients(sids: Iterable[str]) -> list:
    """The active portals that received a code or tokens in any of these sessions."""
    from idp.oidc.models import AuthorizationCode
    from idp.oidc.models import Client
    from idp.oidc.models import Grant

    sids = [s for s in sids if s]
    if not sids:
        return []
    ids = set(db.session.execute(select(AuthorizationCode.client_id).where(AuthorizationCode.sid.in_(sids))).scalars())
    ids |= set(db.session.execute(select(Grant.client_id).where(Grant.sid.in_(sids))).scalars())
    if not ids:
        return []
    clients = db.session.execute(select(Client).where(Client.client_id.in_(ids)).order_by(Client.client_id)).scalars()
    return [c for c in clients if c.is_active]


def frontchannel_url(client, sid: str) -> str:  # noqa: ANN001 - Client model
    """Front-Channel Logout 1.0 §3: the portal's URI, with iss and sid when it asked for them."""
    uri = client.frontchannel_logout_uri
    if not client.frontchannel_logout_session_required:
        return uri
    query = urlencode({"iss": current_settings().issuer, "sid": sid})
    return f"{uri}{'&' if urlsplit(uri).query else '?'}{query}"


def _origin(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}"


def enqueue(account_id: int, sids: Iterable[str]) -> tuple[list[int], list[str]]:
    """Write a logout token per back-channel portal of these sessions (the caller commits); return the
    new outbox ids and the front-channel URLs to render."""
    ids, frames = [], []
    now = utcnow()
    for sid in sids:
        for client in session_clients([sid]):
            if client.backchannel_logout_uri:
                row = LogoutDelivery(client_id=client.client_id, sid=sid, token=logout_token(client, account_id, sid),
                                     attempts=0, next_attempt_at=now, status=PENDING, created_at=now)
                db.session.add(row)
                db.session.flush()
                ids.append(row.id)
            if client.frontchannel_logout_uri:
                frames.append(frontchannel_url(client, sid))
    return ids, frames


def sessions_ended(account_id: int, sids: Iterable[str]) -> None:
    """The hook: sessions `sids` of the account just ended (same transaction). Queue back-channel tokens,
    expose front-channel iframes to the page (`g.logout_frames`) and deliver after the response."""
    ids, frames = enqueue(account_id, list(sids))
    if not has_request_context():
        return
    g.logout_frames = [*getattr(g, "logout_frames", []), *frames]
    if not ids and not frames:
        return
    if getattr(g, "logout_hooked", False):
        g.logout_ids.extend(ids)
        return
    g.logout_hooked, g.logout_ids = True, list(ids)
    app = current_app._get_current_object()

    @after_this_request
    def _after(response: Response) -> Response:
        origins = sorted({_origin(u) for u in getattr(g, "logout_frames", [])})
        if origins and response.mimetype == "text/html":
            response.headers["X-Frame-Src"] = " ".join(origins)  # idp.security adds `frame-src` to the CSP
        pending = list(g.logout_ids)
        if pending:
            response.call_on_close(lambda: launch(lambda: _deliver_in(app, pending)))
        return response


def _deliver_in(app: Flask, ids: list[int]) -> None:
    with app.app_context():
        try:
            deliver_due(ids)
        finally:
            db.session.remove()


def _thread_launch(work: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=work, name="logout-delivery", daemon=True)
    thread.start()
    return thread


launch: Callable[[Callable[[], None]], object] = _thread_launch  # replaced in tests to observe the order


# --- delivery (§2.5) ------------------------------------------------------------------------------------
def claim(row_id: int) -> bool:
    """Take one due message for this worker: a conditional UPDATE, so two workers never both send it."""
    now = utcnow()
    claimed = db.session.execute(
        update(LogoutDelivery)
        .where(LogoutDelivery.id == row_id, LogoutDelivery.status == PENDING, LogoutDelivery.next_attempt_at <= now)
        .values(next_attempt_at=now + timedelta(seconds=LEASE), attempts=LogoutDelivery.attempts + 1)
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return claimed == 1


def post_logout_token(uri: str, token: str) -> str | None:
    """POST the token; return None when delivered (200/204), else a short error without personal data."""
    try:
        response = requests.post(uri, data={"logout_token": token}, timeout=TIMEOUT, allow_redirects=False,
                                 headers={"Cache-Control": "no-store"})
    except requests.RequestException as error:
        return type(error).__name__
    response.close()
    return None if response.status_code in (200, 204) else f"HTTP {response.status_code}"


def deliver_one(row_id: int) -> str | None:
    """Claim, send and record one message; return its new status, or None when another worker has it."""
    from idp.oidc.models import Client

    if not claim(row_id):
        return None
    row = db.session.get(LogoutDelivery, row_id)
    client = db.session.get(Client, row.client_id)
    if client is None or not client.backchannel_logout_uri:
        error = "no backchannel_logout_uri"
    else:
        row.token = _refreshed(row.token)
        db.session.commit()
        error = post_logout_token(client.backchannel_logout_uri, row.token)
    row = db.session.get(LogoutDelivery, row_id)
    if error is None:
        row.status, row.last_error = DELIVERED, None
        record("logout.delivered", client_id=row.client_id, attempts=row.attempts)
    elif row.attempts >= MAX_ATTEMPTS:
        row.status, row.last_error = FAILED, error
        record("logout.delivery_failed", client_id=row.client_id, attempts=row.attempts, error=error)
    else:
        row.last_error = error
        row.next_attempt_at = utcnow() + timedelta(seconds=BACKOFF[row.attempts - 1])
        log.warning("back-channel logout to %s failed (%s); attempt %s", row.client_id, error, row.attempts)
    db.session.commit()
    return row.status


def deliver_due(ids: Iterable[int] | None = None) -> dict[str, int]:
    """Send every due message (or only `ids`); return counts by outcome."""
    query = select(LogoutDelivery.id).where(LogoutDelivery.status == PENDING,
                                            LogoutDelivery.next_attempt_at <= utcnow())
    if ids is not None:
        query = query.where(LogoutDelivery.id.in_(list(ids)))
    due = list(db.session.execute(query.order_by(LogoutDelivery.id)).scalars())
    db.session.commit()
    counts = {DELIVERED: 0, PENDING: 0, FAILED: 0, "skipped": 0}
    for row_id in due:
        counts[deliver_one(row_id) or "skipped"] += 1
    return counts
