"""Login history: one row per successful authentication and per portal login that reused a session.

The schema is agreed with the statistics (docs/architecture.md): the console shows a person their
own rows (`/accounts/history`), the statistics count them per day, portal, source and province.

Rows are written from two places only:
- `idp.auth.session`: every login and step-up (`record_login`); the portal is not known yet there
  (client_id None), it is filled in when the same request chain ends in a code for a portal;
- the authorization endpoint's code (`record_portal_login`): after a fresh login it names the portal
  on the login's row; a code from a reused session adds a row with source "sso".
Failures stay in the audit trail only. No raw User-Agent and no full address is stored: a device
label from a fixed list and the client's network (IPv4 /24, IPv6 /48), see idp.auth.agents.
Rows older than `accounts.login_history_days` are deleted by `idp purge` (`purge_login_history`).
When an account is deleted its rows stay for the statistics, detached and stripped of what was the
person's (`detach_logins`): only time, portal, source, level and province remain.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from datetime import timedelta

from flask import has_request_context
from flask import request
from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from idp.accounts.models import Account
from idp.auth.agents import device_label
from idp.auth.agents import masked_network
from idp.dbtypes import UTCDateTime
from idp.dbtypes import utcnow
from idp.extensions import db
from idp.verifiers.base import Level

SSO = "sso"  # a portal login that reused a live session
SOURCE_MAX = 32
# How the person logged in, when the caller names no identity source: from the methods (RFC 8176 amr).
SOURCE_OF_AMR = (("mca", "qr"), ("pwd", "password"), ("hwk", "passkey"))


class LoginEvent(db.Model):
    """One successful login (or step-up, or single sign-on into a portal) of an account."""

    __tablename__ = "login_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # None once the account is deleted (`detach_logins`): the row stays a statistical fact, no longer a person's.
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"), index=True)
    sid: Mapped[str | None] = mapped_column(String(64))  # the login session
    client_id: Mapped[str | None] = mapped_column(String(64), index=True)  # portal; None = the IdP's own pages
    # How: verifier id ("vneid", "telecom", ...), "password", "passkey", "qr", a second factor's kind,
    # or "sso" (a reused session).
    source: Mapped[str] = mapped_column(String(SOURCE_MAX))
    level: Mapped[int] = mapped_column()  # idp.verifiers.base.Level value reached
    province_code: Mapped[str | None] = mapped_column(String(8))  # the account's province at that time
    network: Mapped[str | None] = mapped_column(String(64))  # masked client network ("203.0.113.0/24")
    device: Mapped[str | None] = mapped_column(String(128))  # "Chrome on Android", never the raw User-Agent

    def __repr__(self) -> str:
        return f"<LoginEvent id={self.id} account_id={self.account_id} source={self.source}>"


def source_of(amr: Iterable[str]) -> str:
    """The login's source named from its methods: "qr", "password", "passkey", else the first method."""
    methods = list(amr)
    for method, source in SOURCE_OF_AMR:
        if method in methods:
            return source
    return (methods[0] if methods else "unknown")[:SOURCE_MAX]


def record_login(account: Account, *, sid: str | None, client_id: str | None, source: str,
                 level: int | None) -> None:
    """Add a row for a successful authentication (level None: low); network and device come from the
    request. Caller commits."""
    network = device = None
    if has_request_context():
        network = masked_network(request.remote_addr)
        device = device_label(request.headers.get("User-Agent", ""))
    db.session.add(LoginEvent(at=utcnow(), account_id=account.id, sid=sid, client_id=client_id,
                              source=source[:SOURCE_MAX], level=int(level or Level.LOW),
                              province_code=account.province_code, network=network, device=device))


def record_portal_login(account: Account, sid: str, acr: str, client_id: str, *, fresh: bool) -> None:
    """A code was issued to portal `client_id` in session `sid`. After a fresh login the login's own
    row names the portal; otherwise the session was reused and a "sso" row is added. Caller commits."""
    if fresh:
        latest = db.session.execute(select(LoginEvent).where(LoginEvent.sid == sid)
                                    .order_by(LoginEvent.id.desc()).limit(1)).scalar_one_or_none()
        if latest is not None and latest.client_id is None and latest.source != SSO:
            latest.client_id = client_id
            return
    record_login(account, sid=sid, client_id=client_id, source=SSO, level=Level.from_acr(acr) or Level.LOW)


def recent_logins(account_id: int, limit: int = 50) -> list[LoginEvent]:
    """The account's latest rows, newest first."""
    return list(db.session.execute(select(LoginEvent).where(LoginEvent.account_id == account_id)
                                   .order_by(LoginEvent.at.desc(), LoginEvent.id.desc()).limit(limit)).scalars())


def session_devices(sids: Iterable[str]) -> dict[str, str | None]:
    """The device label each of these sessions logged in from (its first row), for the sessions page."""
    sids = [sid for sid in sids if sid]
    if not sids:
        return {}
    rows = db.session.execute(select(LoginEvent.sid, LoginEvent.device).where(LoginEvent.sid.in_(sids))
                              .order_by(LoginEvent.id.desc())).all()
    return {sid: device for sid, device in rows}  # newest first: the session's first row (its login) wins


def detach_logins(account_id: int) -> int:
    """Keep the account's rows as statistics only: no account, session, network or device; return how
    many. The account is being deleted (idp.accounts.deletion). Caller commits."""
    return db.session.execute(update(LoginEvent).where(LoginEvent.account_id == account_id)
                              .values(account_id=None, sid=None, network=None, device=None)
                              .execution_options(synchronize_session=False)).rowcount


def purge_login_history(now: datetime, days: int) -> int:
    """Delete rows older than `days`; return how many. Caller commits."""
    return db.session.execute(delete(LoginEvent).where(LoginEvent.at < now - timedelta(days=days))).rowcount
