"""QR cross-device login: a phone that is already logged in logs a computer in.

The computer (`desktop`) opens `/auth/qr/start`: a request is stored and its page shows a QR code
of `{issuer}/auth/qr/<request id>` and a two-digit number. The person scans the code with a
phone whose browser has a live session; the phone page says which portal and which computer
ask and offers three numbers; tapping the one the computer shows approves, any other cancels.
The computer polls `/auth/qr/<id>/status` (JSON, no WebSockets) and then posts
`/auth/qr/<id>/complete`, which opens its own session (amr `mca`, RFC 8176 multiple-channel
authentication; at most SUBSTANTIAL, because a relayed QR code and number cannot be told apart
from the real ones: docs/authentication.md).

The request id is 256-bit random and stored only as a digest. The computer is bound by a random
secret in its session cookie (stored as a digest, compared in constant time, never in a URL);
the phone by its login session. A request lives two minutes, is scanned by one phone, decided
once and completed once (compare-and-set updates).
"""

from __future__ import annotations

import hmac
import re
import secrets
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

from flask import abort
from flask import jsonify
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from limits import parse
from sqlalchemy import JSON
from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from werkzeug.wrappers import Response

from idp.accounts.models import Account
from idp.audit import record
from idp.auth.agents import describe_agent
from idp.auth.agents import mask_address
from idp.auth.session import LoginState
from idp.auth.session import authenticate
from idp.auth.session import current_login
from idp.auth.views import bp
from idp.auth.views import safe_next
from idp.dbtypes import UTCDateTime
from idp.dbtypes import digest
from idp.dbtypes import utcnow
from idp.extensions import db
from idp.extensions import limiter
from idp.notify import notify
from idp.oidc.pending import remember_pending
from idp.settings import current_settings
from idp.verifiers.base import Level

REQUEST_TTL = timedelta(minutes=2)  # from the QR code on screen to the phone's answer
COMPLETE_WITHIN = timedelta(seconds=30)  # from the phone's approval to the computer's next poll
DECISIONS_PER_ACCOUNT = "5 per 10 minutes"  # approvals and refusals by one account's phones
MAX_LEVEL = Level.SUBSTANTIAL  # what a cross-device login can give at most (it can be relayed)
AMR_MCA = "mca"  # RFC 8176: multiple-channel authentication
DESKTOP_KEY = "crossdevice_key"
NEXT_URL_MAX = 4096  # the column's length
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32): 256 bits
VIETNAM = timezone(timedelta(hours=7))  # times people read are Vietnamese times (no daylight saving)


class Status:
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    COMPLETED = "completed"  # stored only; the computer is told "expired"
    EXPIRED = "expired"  # told only; never stored


class CrossDeviceRequest(db.Model):
    """One computer's request to be logged in by a phone (no personal data until a phone scans it)."""

    __tablename__ = "cross_device_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 of the id in the QR code
    desktop_key_hash: Mapped[str] = mapped_column(String(64))  # SHA-256 of the computer's cookie secret
    next_url: Mapped[str] = mapped_column(String(NEXT_URL_MAX))
    client_id: Mapped[str | None] = mapped_column(String(64))  # the portal asking, when known
    required_acr: Mapped[str | None] = mapped_column(String(64))
    # What the phone shows about the computer: product names from a fixed list, a masked address.
    desktop_browser: Mapped[str] = mapped_column(String(32))
    desktop_os: Mapped[str] = mapped_column(String(32))
    desktop_network: Mapped[str] = mapped_column(String(64))
    number: Mapped[str] = mapped_column(String(2))  # shown on the computer
    candidates: Mapped[list] = mapped_column(JSON)  # shown on the phone: the number and two others
    status: Mapped[str] = mapped_column(String(16), default=Status.PENDING)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    phone_key_hash: Mapped[str | None] = mapped_column(String(64))  # SHA-256 of the phone's session id
    acr: Mapped[str | None] = mapped_column(String(64))  # what the computer's session gets
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    scanned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<CrossDeviceRequest id={self.id} status={self.status}>"

    def public_status(self, now: datetime) -> str:
        """What the computer is told: pending, approved, denied or expired (used up counts as expired)."""
        if self.status == Status.PENDING:
            return Status.PENDING if now < self.expires_at else Status.EXPIRED
        if self.status == Status.APPROVED and self.decided_at and now < self.decided_at + COMPLETE_WITHIN:
            return Status.APPROVED
        return Status.DENIED if self.status == Status.DENIED else Status.EXPIRED


# --- what the phone is told about the computer (its names and network: idp.auth.agents) -------------
def portal_of(next_url: str) -> str | None:
    """The registered portal whose authorization request the computer came from, if any."""
    from idp.oidc.runtime import OidcRuntime

    parts = urlsplit(next_url)
    if parts.path != url_for("oidc.authorize_endpoint"):
        return None
    client_id = parse_qs(parts.query).get("client_id", [None])[0]
    client = OidcRuntime.find_client(client_id)
    return client.client_id if client is not None else None


def _numbers() -> tuple[str, list[str]]:
    """The number for the computer and three distinct candidates for the phone, in random order."""
    candidates = [str(n) for n in secrets.SystemRandom().sample(range(10, 100), 3)]
    return secrets.choice(candidates), candidates


# --- look-ups ---------------------------------------------------------------------------------
def _find(request_id: str) -> CrossDeviceRequest | None:
    if not ID_PATTERN.fullmatch(request_id):
        return None
    return db.session.execute(select(CrossDeviceRequest).where(
        CrossDeviceRequest.token_hash == digest(request_id))).scalar_one_or_none()


def _is_desktop(row: CrossDeviceRequest | None) -> bool:
    """Whether this browser started the request (its cookie holds the secret), in constant time."""
    secret = session.get(DESKTOP_KEY)
    if row is None or not isinstance(secret, str):
        return False
    return hmac.compare_digest(row.desktop_key_hash, digest(secret))


def _desktop_request(request_id: str) -> CrossDeviceRequest:
    """The request this browser started, else 404 (unknown, malformed and foreign ids alike)."""
    row = _find(request_id)
    if not _is_desktop(row):
        abort(404)
    return row


def _desktop_key() -> str:
    if not isinstance(session.get(DESKTOP_KEY), str):
        session[DESKTOP_KEY] = secrets.token_urlsafe(32)
    return session[DESKTOP_KEY]


def _phone_key(login: LoginState) -> str:
    return digest(f"crossdevice-phone|{login.sid}")


def _granted(login: LoginState) -> Level:
    return min(Level.from_acr(login.acr) or Level.LOW, MAX_LEVEL)


# --- the computer -----------------------------------------------------------------------------
@bp.app_template_global("crossdevice_offered")
def is_offered(acr: str | None) -> bool:
    """Whether the login page offers "Log in with your phone" for this required level (not above MAX_LEVEL)."""
    required = Level.from_acr(acr or "")
    return required is None or required <= MAX_LEVEL


@bp.get("/qr/start")
@limiter.limit(lambda: current_settings().login.per_ip)
def crossdevice_start() -> Response | tuple[str, int]:
    """Store a new request and send the computer to its page."""
    next_url = safe_next(request.args.get("next"))
    if len(next_url) > NEXT_URL_MAX:
        abort(400)
    required = Level.from_acr(request.args.get("acr", ""))
    if not is_offered(request.args.get("acr")):
        return render_template("auth/crossdevice_message.html", title=_("Log in with your phone"), message=_(
            "This portal needs a higher level of assurance than a login with your phone can give. "
            "Please use one of the other methods on the login page."), login_url=_login_url(next_url, required)), 403
    now = utcnow()
    db.session.execute(delete(CrossDeviceRequest).where(CrossDeviceRequest.expires_at < now - timedelta(days=1)))
    request_id = secrets.token_urlsafe(32)
    browser, system = describe_agent(request.headers.get("User-Agent", ""))
    number, candidates = _numbers()
    row = CrossDeviceRequest(token_hash=digest(request_id), desktop_key_hash=digest(_desktop_key()),
                             next_url=next_url, client_id=portal_of(next_url),
                             required_acr=required.acr if required is not None else None,
                             desktop_browser=browser, desktop_os=system,
                             desktop_network=mask_address(request.remote_addr), number=number,
                             candidates=candidates, status=Status.PENDING, created_at=now,
                             expires_at=now + REQUEST_TTL)
    db.session.add(row)
    db.session.flush()
    record("crossdevice.started", client_id=row.client_id, crossdevice_id=row.id)
    db.session.commit()
    return redirect(url_for("auth.crossdevice_wait", request_id=request_id), code=303)


@bp.get("/qr/<request_id>/wait")
def crossdevice_wait(request_id: str) -> str | tuple[str, int]:
    """The computer's page: the QR code and the number while pending, else the outcome."""
    row = _desktop_request(request_id)
    return _desktop_page(row, request_id)


@bp.get("/qr/<request_id>/status")
def crossdevice_status(request_id: str) -> Response:
    """The computer's poll: {"status": "pending" | "approved" | "denied" | "expired"}."""
    row = _find(request_id)
    if not _is_desktop(row):
        # One answer for unknown, malformed and other browsers' ids: nothing to learn here.
        response = jsonify(error="not_found")
        response.status_code = 404
    else:
        response = jsonify(status=row.public_status(utcnow()))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/qr/<request_id>/complete")
def crossdevice_complete(request_id: str) -> Response | str | tuple[str, int]:
    """After the phone's approval: open this browser's session and go on to `next`."""
    row = _desktop_request(request_id)
    if not FlaskForm().validate_on_submit():
        abort(400)
    now = utcnow()
    status = row.public_status(now)
    if status == Status.PENDING:  # "Check now" before the phone answered
        return redirect(url_for("auth.crossdevice_wait", request_id=request_id), code=303)
    if status != Status.APPROVED:
        return _desktop_page(row, request_id)
    account = db.session.get(Account, row.account_id)
    # Compare-and-set: of two completions (two tabs, a replay) only one logs in.
    claimed = db.session.execute(
        update(CrossDeviceRequest).where(CrossDeviceRequest.id == row.id, CrossDeviceRequest.status == Status.APPROVED,
                                         CrossDeviceRequest.completed_at.is_(None))
        .values(status=Status.COMPLETED, completed_at=now).execution_options(synchronize_session=False)).rowcount
    if claimed != 1 or account is None or not account.is_active:
        db.session.rollback()
        return _desktop_page(row, request_id, used=True)
    authenticate(account, Level.from_acr(row.acr or "") or Level.LOW, [AMR_MCA])
    record("crossdevice.completed", account_id=account.id, client_id=row.client_id, crossdevice_id=row.id)
    # Product names and a masked network only, language-neutral (the message has its own language).
    device = " · ".join(part for part in (row.desktop_browser, row.desktop_os, row.desktop_network) if part)
    notify(account, "login.cross_device", device=device)
    session["fresh_login_for"] = row.next_url
    db.session.commit()
    return redirect(row.next_url, code=303)


def _desktop_page(row: CrossDeviceRequest, request_id: str, used: bool = False) -> str | tuple[str, int]:
    status = Status.EXPIRED if used else row.public_status(utcnow())
    remember_pending(row.next_url)  # "Continue" ends at the portal (CSP form-action)
    if status in (Status.PENDING, Status.APPROVED):
        qr_url = f"{current_settings().issuer}/auth/qr/{request_id}"
        from idp.qr import qr_svg

        return render_template("auth/crossdevice_desktop.html", row=row, status=status, qr_url=qr_url,
                               qr=qr_svg(qr_url), form=FlaskForm(), portal=_portal(row.client_id),
                               expires_at=row.expires_at.astimezone(VIETNAM).strftime("%H:%M"),
                               request_id=request_id,
                               login_url=_login_url(row.next_url, Level.from_acr(row.required_acr or "")))
    restart = url_for("auth.crossdevice_start", next=row.next_url,
                      **({"acr": row.required_acr} if row.required_acr else {}))
    if status == Status.DENIED:
        message = _("The login was cancelled on the phone. If you did not cancel it, start again.")
    else:
        message = _("This QR code has expired or was already used. Show a new one to try again.")
    return render_template("auth/crossdevice_message.html", title=_("Log in with your phone"), message=message,
                           restart_url=restart,
                           login_url=_login_url(row.next_url, Level.from_acr(row.required_acr or ""))), 410


def _login_url(next_url: str, required: Level | None) -> str:
    params = {"next": next_url, **({"acr": required.acr} if required is not None and required.acr else {})}
    return url_for("auth.login") + "?" + urlencode(params)


def _portal(client_id: str | None) -> tuple[str, str | None] | None:
    """(name, agency) of the portal, None for the national login page itself."""
    from idp.oidc.runtime import OidcRuntime

    client = OidcRuntime.find_client(client_id) if client_id else None
    return (client.name, client.agency) if client is not None else None


# --- the phone --------------------------------------------------------------------------------
def _phone_message(message: str, status: int) -> tuple[str, int]:
    return render_template("auth/crossdevice_message.html", title=_("Log in on another device"),
                           message=message), status


def _phone_request(request_id: str) -> tuple[CrossDeviceRequest | None, LoginState | None, Response | tuple | None]:
    """The request and the phone's login, or the response to send instead."""
    row = _find(request_id)
    if row is None:
        return None, None, _phone_message(_("This QR code is not valid. Start again on the computer."), 404)
    login = current_login()
    if login is None:  # log in on the phone first, then come back here
        return row, None, redirect(url_for("auth.login", next=url_for("auth.crossdevice_phone",
                                                                      request_id=request_id)), code=303)
    if row.phone_key_hash is not None and not hmac.compare_digest(row.phone_key_hash, _phone_key(login)):
        record("crossdevice.refused", account_id=login.account.id, crossdevice_id=row.id, reason="already_scanned")
        db.session.commit()
        return row, login, _phone_message(_("This QR code was already scanned on another device. "
                                            "If that was not you, do not confirm anything and change your password."),
                                          409)
    if row.status != Status.PENDING or utcnow() >= row.expires_at:
        return row, login, _phone_message(_("This request has expired or was already answered. "
                                            "Start again on the computer if needed."), 410)
    return row, login, None


@bp.get("/qr/<request_id>")
def crossdevice_phone(request_id: str) -> Response | str | tuple:
    """The phone's page: who asks, and the three numbers."""
    row, login, refusal = _phone_request(request_id)
    if refusal is not None:
        return refusal
    if row.phone_key_hash is None:
        # Compare-and-set: the first phone to scan the code keeps it.
        claimed = db.session.execute(
            update(CrossDeviceRequest).where(CrossDeviceRequest.id == row.id,
                                             CrossDeviceRequest.phone_key_hash.is_(None))
            .values(phone_key_hash=_phone_key(login), account_id=login.account.id, scanned_at=utcnow())
            .execution_options(synchronize_session=False)).rowcount
        if claimed != 1:
            db.session.rollback()
            return crossdevice_phone(request_id)
        record("crossdevice.scanned", account_id=login.account.id, crossdevice_id=row.id)
        db.session.commit()
    return _confirm_page(row, login, request_id)


def _confirm_page(row: CrossDeviceRequest, login: LoginState, request_id: str, error: str | None = None,
                  status: int = 200) -> tuple[str, int]:
    required = Level.from_acr(row.required_acr or "")
    too_weak = required is not None and _granted(login) < required
    here = url_for("auth.crossdevice_phone", request_id=request_id)
    return render_template(
        "auth/crossdevice_phone.html", row=row, form=FlaskForm(), portal=_portal(row.client_id), error=error,
        too_weak=too_weak, step_up_url=url_for("auth.login", acr=row.required_acr, next=here) if too_weak else None,
        action=url_for("auth.crossdevice_confirm", request_id=request_id),
        requested_at=row.created_at.astimezone(VIETNAM).strftime("%H:%M")), status


@bp.post("/qr/<request_id>/confirm")
def crossdevice_confirm(request_id: str) -> Response | str | tuple:
    """The phone's answer: the number it saw on the computer, or a refusal."""
    row, login, refusal = _phone_request(request_id)
    if refusal is not None:
        return refusal
    if row.phone_key_hash is None:  # confirm without having seen the page: scan first
        abort(400)
    if not FlaskForm().validate_on_submit():
        abort(400)
    decline = request.form.get("decision") == "deny"
    number = request.form.get("number", "")
    if not decline and not (len(number) == 2 and number.isascii() and number.isdigit()):
        return _confirm_page(row, login, request_id, _("Tap one of the numbers."), 400)
    if not limiter.limiter.hit(parse(DECISIONS_PER_ACCOUNT), "crossdevice-decisions", str(login.account.id)):
        record("crossdevice.refused", account_id=login.account.id, crossdevice_id=row.id, reason="rate_limited")
        db.session.commit()
        return _phone_message(_("Too many attempts. Please wait a few minutes and try again."), 429)
    matched = not decline and hmac.compare_digest(number.encode(), row.number.encode())
    required = Level.from_acr(row.required_acr or "")
    if matched and required is not None and _granted(login) < required:
        return _confirm_page(row, login, request_id, status=403)
    decided = db.session.execute(
        update(CrossDeviceRequest).where(CrossDeviceRequest.id == row.id, CrossDeviceRequest.status == Status.PENDING,
                                         CrossDeviceRequest.phone_key_hash == _phone_key(login))
        .values(status=Status.APPROVED if matched else Status.DENIED, decided_at=utcnow(),
                acr=_granted(login).acr if matched else None)
        .execution_options(synchronize_session=False)).rowcount
    if decided != 1:
        db.session.rollback()
        return _phone_message(_("This request has expired or was already answered. "
                                "Start again on the computer if needed."), 410)
    if matched:
        record("crossdevice.approved", account_id=login.account.id, client_id=row.client_id, crossdevice_id=row.id,
               acr=_granted(login).acr)
        db.session.commit()
        return _phone_message(_("Done. The computer will be logged in in a moment. You can close this page."), 200)
    record("crossdevice.denied", account_id=login.account.id, client_id=row.client_id, crossdevice_id=row.id,
           reason="declined" if decline else "number_mismatch")
    db.session.commit()
    if decline:
        return _phone_message(_("The request was cancelled. The computer was not logged in."), 200)
    return _phone_message(_("The number did not match, so the request was cancelled and the computer was not "
                            "logged in. If you started it, show a new QR code on the computer and try again."), 403)
