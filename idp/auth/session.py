"""The single sign-on session: a signed cookie naming a server-side `LoginSession` row.

The cookie holds only the session id (`sid`) and the UI language; the row says whether the
session is still alive, so logout in one process ends it for every process.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from datetime import timedelta
from typing import Any

from flask import after_this_request
from flask import g
from flask import has_request_context
from flask import session

from idp.accounts.history import record_login
from idp.accounts.history import source_of
from idp.accounts.models import Account
from idp.accounts.models import LoginSession
from idp.audit import record
from idp.auth.devices import remember_device
from idp.dbtypes import utcnow
from idp.extensions import db
from idp.oidc.logout import sessions_ended
from idp.settings import current_settings
from idp.verifiers.base import Level


@dataclass(frozen=True, slots=True)
class LoginState:
    """What the current browser session proved, and when."""

    sid: str
    account: Account
    auth_time: int
    acr: str
    amr: tuple[str, ...]
    extra_claims: Mapping[str, Any] = field(default_factory=dict)  # from sources, e.g. vn_eid_level


TOUCH_EVERY = timedelta(seconds=60)  # last_seen_at is written at most once a minute per session


def current_login() -> LoginState | None:
    """Return the live login of this browser, or None.

    A session ends at `expires_at` (login.session_lifetime, absolute) or when it was not used for
    login.session_idle_lifetime seconds (NIST SP 800-63B §7.1: reauthentication after inactivity).
    Using it counts as activity, recorded at most once a minute (TOUCH_EVERY) to keep hot paths cheap.
    """
    sid = session.get("sid")
    if not isinstance(sid, str):
        return None
    row = db.session.get(LoginSession, sid)
    now = utcnow()
    if row is None or row.ended_at is not None or row.expires_at <= now:
        return None
    last_seen = row.last_seen_at or row.created_at
    if now - last_seen >= timedelta(seconds=current_settings().login.session_idle_lifetime):
        return None
    account = db.session.get(Account, row.account_id)
    if account is None or not account.is_active:
        return None
    if now - last_seen >= TOUCH_EVERY:
        _touch(row, now)
    return LoginState(sid=row.sid, account=account, auth_time=int(row.auth_time.timestamp()), acr=row.acr,
                      amr=tuple(row.amr), extra_claims=dict(row.extra_claims or {}))


def _touch(row: LoginSession, now: datetime) -> None:
    """Record activity: the change rides along with the request's own commit; a request that commits
    nothing (a GET page) commits it after the view, unless the view failed or left other changes."""
    row.last_seen_at = now
    if not has_request_context() or g.get("login_touch_hooked"):
        return
    g.login_touch_hooked = True

    @after_this_request
    def _commit_touch(response):  # noqa: ANN001, ANN202 - Flask response
        pending = set(db.session.new) | set(db.session.deleted) | (set(db.session.dirty) - {row})
        if response.status_code < 400 and not pending and db.session().in_transaction():
            db.session.commit()  # the touch (flushed or not); nothing when the view committed already
        return response


def start_login_session(account: Account, acr: str, amr: list[str],
                        extra_claims: Mapping[str, Any] | None = None, source: str | None = None) -> LoginSession:
    """Open a new session (always a fresh `sid`: no session fixation) and set the cookie; `source` (the
    identity source's id, else named from `amr`) goes to the login history."""
    now = utcnow()
    end_login_session(reason="replaced", audit=False)
    row = LoginSession(sid=secrets.token_urlsafe(24), account_id=account.id, auth_time=now, acr=acr, amr=amr,
                       extra_claims=dict(extra_claims) if extra_claims else None, created_at=now, last_seen_at=now,
                       expires_at=now + timedelta(seconds=current_settings().login.session_lifetime))
    db.session.add(row)
    record("login.succeeded", account_id=account.id, acr=acr, amr=amr, source=source or source_of(amr))
    record_login(account, sid=row.sid, client_id=None, source=source or source_of(amr), level=Level.from_acr(acr))
    session.clear()
    session.permanent = True
    session["sid"] = row.sid
    remember_device(account, amr)  # a login from a browser the account never used is notified
    return row


def step_up_login_session(login: LoginState, acr: str, amr: list[str],
                          extra_claims: Mapping[str, Any] | None = None, source: str | None = None) -> None:
    """Add a stronger method to the current session (same `sid`): new level, amr union, auth_time now,
    the new source's session claims added to the earlier ones."""
    row = db.session.get(LoginSession, login.sid)
    row.acr = acr
    row.amr = sorted(set(row.amr) | set(amr))
    if extra_claims:
        row.extra_claims = {**(row.extra_claims or {}), **extra_claims}
    row.auth_time = row.last_seen_at = utcnow()
    record("login.stepped_up", account_id=login.account.id, acr=acr, amr=row.amr, source=source or source_of(amr))
    record_login(login.account, sid=row.sid, client_id=None, source=source or source_of(amr),
                 level=Level.from_acr(acr))


def authenticate(account: Account, level: Level, methods: list[str],
                 extra_claims: Mapping[str, Any] | None = None, source: str | None = None) -> None:
    """A method proved `level` for `account` (an identity source, a second factor): step up this
    browser's session when it is the same account, otherwise open a new one.

    docs/assurance.md: the session's level is the lower of the account's identity level (its
    strongest linked source) and what the session's methods proved (the strongest of them).
    """
    from idp.accounts.linking import identity_level

    ceiling = identity_level(account)
    login = current_login()
    if login is not None and login.account.id == account.id:
        current = Level.from_acr(login.acr) or Level.LOW
        step_up_login_session(login, min(max(current, level), ceiling).acr, methods, extra_claims, source)
    else:
        start_login_session(account, max(min(level, ceiling), Level.LOW).acr, methods, extra_claims, source)


def end_login_session(reason: str, audit: bool = True) -> None:
    """End this browser's session at the provider and clear the cookie."""
    sid = session.get("sid")
    if isinstance(sid, str):
        row = db.session.get(LoginSession, sid)
        if row is not None and row.ended_at is None:
            row.ended_at = utcnow()
            sessions_ended(row.account_id, [row.sid])  # single logout: back- and front-channel, same transaction
            if audit:
                record("logout", account_id=row.account_id, reason=reason)
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
