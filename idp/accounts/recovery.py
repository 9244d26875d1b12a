"""Account recovery and password changes (`/accounts/password...`, `/accounts/email...`).

- **Forgot password** (`/accounts/password/forgot`): the person types their identifier; the answer is
  always the same page, whether or not the account exists or has a verified channel (no
  enumeration; network senders deliver after the response, so timing says nothing either). An
  active account with a password receives a 6-digit code by SMS if its phone number is *verified*
  (vouched for by a source such as a telecom operator, not self-asserted) and a link by e-mail if
  its e-mail address is verified. Limits: `recovery.per_ip` requests per client address (429), and
  `recovery.per_identifier` messages per identifier (beyond it nothing is sent; same page).
- **Code** (`/accounts/password/code`): valid `recovery.code_ttl` seconds, `recovery.code_attempts`
  tries, stored as an HMAC; each wrong code also spends the identifier's failure budget, shared
  with the password and second factors (idp.accounts.lockout).
- **Link** (`/accounts/password/reset/<token>`): a 256-bit token stored as its SHA-256, valid
  `recovery.link_ttl` seconds, single use; opening it (e.g. a mail scanner) changes nothing.
- A **reset** sets the new password (policy: idp.passwords), ends every session of the account,
  revokes every token family (refresh tokens) issued to portals, is audited (`password.reset`) and
  notified (`password.changed`).
- **Change password** (`/accounts/password`): logged in recently (`recovery.recent_login`), with
  the current password (a wrong one spends the failure budget); ends the *other* sessions and
  revokes the token families not issued to this session.
- **E-mail verification** (`/accounts/email`): a link to the address on file proves the person
  reads it; recorded as an attribute verification from source "email_link", which makes the
  address usable for recovery.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from datetime import datetime
from datetime import timedelta

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from limits import parse
from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from werkzeug.wrappers import Response

from idp.accounts.forms import ChangePasswordForm
from idp.accounts.forms import ForgotPasswordForm
from idp.accounts.forms import NewPasswordForm
from idp.accounts.forms import ResetCodeForm
from idp.accounts.forms import check_new_password_field
from idp.accounts.lockout import budget_key
from idp.accounts.lockout import clear_failures
from idp.accounts.lockout import count_failure
from idp.accounts.lockout import is_locked
from idp.accounts.models import Account
from idp.accounts.models import AttributeVerification
from idp.accounts.models import LoginSession
from idp.accounts.service import AccountError
from idp.accounts.service import LoginLocked
from idp.accounts.service import authenticate_password
from idp.accounts.service import find_account
from idp.accounts.views import bp
from idp.audit import record
from idp.crypto import SealError
from idp.crypto import seal
from idp.crypto import unseal
from idp.dbtypes import UTCDateTime
from idp.dbtypes import digest
from idp.dbtypes import utcnow
from idp.errors import error_page
from idp.extensions import db
from idp.extensions import limiter
from idp.notify import has_sender
from idp.notify import is_verified
from idp.notify import notify
from idp.notify import send
from idp.passwords import hash_secret
from idp.settings import DEV_SECRET
from idp.settings import current_settings

PENDING = "password_reset"  # session key: the identifier a reset was asked for, and when
RESET_CODE, RESET_LINK, EMAIL_LINK = "reset_code", "reset_link", "email_link"
EMAIL_SOURCE = "email_link"  # AttributeVerification.source of an address proven by a link
TOKEN_MAX = 64  # token_urlsafe(32) is 43 characters


class RecoverySecret(db.Model):
    """A one-time secret sent to a verified channel: a reset code, a reset link or an e-mail link."""

    __tablename__ = "recovery_secret"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))
    # Codes: HMAC (6 digits are too few for a plain hash); links: SHA-256 of the 256-bit token.
    secret_hash: Mapped[str] = mapped_column(String(64), index=True)
    # HMAC of the address it was sent to: the secret is void once the address on file changes.
    target_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<RecoverySecret id={self.id} account_id={self.account_id} purpose={self.purpose}>"


# --- secrets ----------------------------------------------------------------------------------------
def _key() -> bytes:
    secret = (current_settings().subject_secret or DEV_SECRET).encode("utf-8")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"idp at-rest", info=b"recovery").derive(secret)


def _mac(*parts: object) -> str:
    return hmac.new(_key(), ":".join(map(str, parts)).encode("utf-8"), hashlib.sha256).hexdigest()


def _target(address: str | None) -> str:
    return _mac("target", (address or "").strip().casefold())


def _issue(account: Account, purpose: str, address: str, secret_hash: str, ttl: int) -> RecoverySecret:
    """Store a new secret for `purpose`; the account's earlier live ones for it stop working."""
    now = utcnow()
    db.session.execute(update(RecoverySecret).where(
        RecoverySecret.account_id == account.id, RecoverySecret.purpose == purpose,
        RecoverySecret.used_at.is_(None)).values(used_at=now))
    row = RecoverySecret(account_id=account.id, purpose=purpose, secret_hash=secret_hash, target_hash=_target(address),
                         created_at=now, expires_at=now + timedelta(seconds=ttl))
    db.session.add(row)
    return row


def _live(row: RecoverySecret | None, account: Account | None, address: str | None) -> bool:
    return (row is not None and account is not None and row.used_at is None and row.expires_at > utcnow()
            and hmac.compare_digest(row.target_hash, _target(address)))


def _burn(row: RecoverySecret) -> bool:
    """Mark a secret used, atomically: False when another request used it first."""
    done = db.session.execute(update(RecoverySecret).where(
        RecoverySecret.id == row.id, RecoverySecret.used_at.is_(None)).values(used_at=utcnow())
        .execution_options(synchronize_session=False)).rowcount
    return done == 1


def _link(endpoint: str, token: str) -> str:
    # From the configured issuer, never the request's Host header (a forged Host must not reach an e-mail).
    return current_settings().issuer + url_for(endpoint, token=token)


def _find_link(token: str, purpose: str) -> tuple[RecoverySecret, Account] | None:
    if not token or len(token) > TOKEN_MAX:
        return None
    row = db.session.execute(select(RecoverySecret).where(
        RecoverySecret.secret_hash == digest(token), RecoverySecret.purpose == purpose)).scalar_one_or_none()
    account = db.session.get(Account, row.account_id) if row is not None else None
    if row is None or account is None or not account.is_active:
        return None
    return (row, account) if _live(row, account, account.email) else None


def _channels(account: Account) -> list[str]:
    channels = []
    if account.phone and is_verified(account, "phone") and has_sender("sms"):
        channels.append("sms")
    if account.email and is_verified(account, "email") and has_sender("email"):
        channels.append("email")
    return channels


def _send_reset(account: Account) -> list[str]:
    """Send a code to the verified phone and a link to the verified e-mail; return the channels used."""
    settings = current_settings().recovery
    channels = _channels(account)
    if "sms" in channels:
        code = f"{secrets.randbelow(10 ** 6):06d}"
        _issue(account, RESET_CODE, account.phone or "", _mac("code", account.id, code), settings.code_ttl)
        send("sms", account.phone or "", "password.reset_code", code=code, minutes=settings.code_ttl // 60)
    if "email" in channels:
        token = secrets.token_urlsafe(32)
        _issue(account, RESET_LINK, account.email or "", digest(token), settings.link_ttl)
        send("email", account.email or "", "password.reset_link", link=_link("accounts.reset_with_link", token),
             minutes=settings.link_ttl // 60)
    return channels


# --- ending what the old password opened -------------------------------------------------------------
def end_sessions(account: Account, reason: str, keep_sid: str | None = None, only_sid: str | None = None) -> int:
    """End every live session of the account (but `keep_sid`; or only `only_sid`), with single
    logout for their portals; return how many ended."""
    query = update(LoginSession).where(LoginSession.account_id == account.id, LoginSession.ended_at.is_(None))
    live = select(LoginSession.sid).where(LoginSession.account_id == account.id, LoginSession.ended_at.is_(None))
    if keep_sid:
        query = query.where(LoginSession.sid != keep_sid)
        live = live.where(LoginSession.sid != keep_sid)
    if only_sid:
        query = query.where(LoginSession.sid == only_sid)
        live = live.where(LoginSession.sid == only_sid)
    sids = list(db.session.execute(live).scalars())
    ended = db.session.execute(query.values(ended_at=utcnow()).execution_options(synchronize_session=False)).rowcount
    if ended:
        from idp.oidc.logout import sessions_ended

        sessions_ended(account.id, sids)  # single logout: the portals of every ended session
        record("logout", account_id=account.id, reason=reason, sessions=ended)
    return ended


def revoke_grants(account: Account, reason: str, keep_sid: str | None = None) -> int:
    """Revoke every token family of the account (but those of session `keep_sid`): refresh tokens stop at once."""
    from idp.oidc.models import Grant
    from idp.oidc.tokens import revoke_grant

    query = select(Grant.id).where(Grant.account_id == account.id, Grant.revoked_at.is_(None))
    if keep_sid:
        query = query.where(or_(Grant.sid.is_(None), Grant.sid != keep_sid))
    grant_ids = list(db.session.execute(query).scalars())
    for grant_id in grant_ids:
        revoke_grant(grant_id, reason=reason)
    return len(grant_ids)


def _reset(account: Account, password: str, channel: str) -> Response:
    """Set the new password and close everything the old one opened; the caller checked the policy."""
    from idp.auth.session import end_login_session

    account.password_hash = hash_secret(password)
    db.session.execute(update(RecoverySecret).where(
        RecoverySecret.account_id == account.id, RecoverySecret.purpose.in_((RESET_CODE, RESET_LINK)),
        RecoverySecret.used_at.is_(None)).values(used_at=utcnow()).execution_options(synchronize_session=False))
    end_sessions(account, reason="password_reset")
    revoke_grants(account, reason="password_reset")
    # Proof of a verified channel: the person may log in with the new password at once.
    clear_failures(account.identifier)
    record("password.reset", account_id=account.id, channel=channel)
    notify(account, "password.changed")
    end_login_session(reason="password_reset", audit=False)  # this browser starts afresh too
    db.session.commit()
    return redirect(url_for("accounts.reset_done"), code=303)


# --- pages -------------------------------------------------------------------------------------------
def _recovery_ip_limit() -> str:
    return current_settings().recovery.per_ip


def _login_ip_limit() -> str:
    return current_settings().login.per_ip


def _hint() -> str:
    policy = current_settings().passwords
    return _("At least %(min)d characters; a phrase of 12 or more is safer. Any characters, spaces included.",
             min=policy.min_length)


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(_recovery_ip_limit, methods=["POST"])
def forgot_password() -> Response | str | tuple[str, int]:
    form = ForgotPasswordForm()
    if not form.validate_on_submit():
        return render_template("accounts/reset_forgot.html", form=form), 400 if form.is_submitted() else 200
    identifier = (form.identifier.data or "").strip()
    # Beyond the per-identifier budget nothing is sent, known account or not: same answer.
    allowed = limiter.limiter.hit(parse(current_settings().recovery.per_identifier), "reset-requests",
                                  budget_key(identifier))
    account = find_account(identifier)
    if account is not None and account.is_active and account.password_hash:
        if allowed:
            channels = _send_reset(account)
            record("password.reset_requested", account_id=account.id, channels=channels)
        else:
            record("password.reset_throttled", account_id=account.id)
    # Sealed: the signed session cookie is readable by whoever holds the browser; the personal ID is not.
    session[PENDING] = {"identifier": seal(identifier.encode("utf-8"), PENDING), "at": int(time.time())}
    db.session.commit()
    return redirect(url_for("accounts.reset_with_code"), code=303)


def _pending_identifier() -> str | None:
    pending = session.get(PENDING)
    if not isinstance(pending, dict) or not isinstance(pending.get("identifier"), str):
        return None
    # The page outlives the code a little, so an expired code gets its own message.
    if time.time() - pending.get("at", 0) > 2 * current_settings().recovery.code_ttl:
        session.pop(PENDING, None)
        return None
    try:
        return unseal(pending["identifier"], PENDING).decode("utf-8")
    except (SealError, UnicodeDecodeError):
        session.pop(PENDING, None)
        return None


def _code_page(form: ResetCodeForm, error: str | None = None, status: int = 200) -> tuple[str, int]:
    return render_template("accounts/reset_code.html", form=form, error=error, hint=_hint(),
                           minutes=current_settings().recovery.code_ttl // 60), status


@bp.route("/password/code", methods=["GET", "POST"])
@limiter.limit(_login_ip_limit, methods=["POST"])
def reset_with_code() -> Response | tuple[str, int]:
    identifier = _pending_identifier()
    if identifier is None:
        return redirect(url_for("accounts.forgot_password"), code=303)
    form = ResetCodeForm()
    if not form.is_submitted():
        return _code_page(form)
    if not form.validate_on_submit():
        return _code_page(form, status=400)
    if is_locked(identifier):
        return _code_page(form, _("Too many failed attempts. Please wait and try again later."), 429)
    account = find_account(identifier)
    account = account if account is not None and account.is_active and account.password_hash else None
    row = None
    if account is not None:
        row = db.session.execute(select(RecoverySecret).where(
            RecoverySecret.account_id == account.id, RecoverySecret.purpose == RESET_CODE,
            RecoverySecret.used_at.is_(None)).order_by(RecoverySecret.id.desc()).limit(1)).scalar_one_or_none()
    code = (form.code.data or "").strip()
    expected = row.secret_hash if row is not None else "0" * 64
    right = hmac.compare_digest(expected, _mac("code", account.id if account else 0, code))
    if not (right and _live(row, account, account.phone if account else None)):
        if row is not None and row.used_at is None:
            row.attempts += 1
            if row.attempts >= current_settings().recovery.code_attempts:
                row.used_at = utcnow()  # no more tries for this code
        count_failure(identifier, account, "reset_code")
        db.session.commit()
        return _code_page(ResetCodeForm(formdata=None), _("The code is not correct or has expired."), 401)
    try:
        check_new_password_field(form.password, (account.identifier,))
    except ValueError as exc:  # wtforms ValidationError: the code stays valid for another try
        form.password.errors = [str(exc)]
        return _code_page(form, status=400)
    if not _burn(row):
        db.session.rollback()
        return _code_page(ResetCodeForm(formdata=None), _("The code is not correct or has expired."), 401)
    session.pop(PENDING, None)
    return _reset(account, form.password.data or "", "sms")


def _link_refused() -> tuple[str, int]:
    return error_page(400, _("This link does not work any more"),
                      _("Links to reset a password work once and for a short time. Ask for a new one from the "
                        "\"Forgot your password?\" page."))


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@limiter.limit(_login_ip_limit, methods=["POST"])
def reset_with_link(token: str) -> Response | str | tuple[str, int]:
    found = _find_link(token, RESET_LINK)
    if found is None:
        return _link_refused()
    row, account = found
    form = NewPasswordForm()
    if form.validate_on_submit():
        try:
            check_new_password_field(form.password, (account.identifier,))
        except ValueError as exc:
            form.password.errors = [str(exc)]
        else:
            if not _burn(row):
                db.session.rollback()
                return _link_refused()
            return _reset(account, form.password.data or "", "email")
    status = 400 if form.is_submitted() else 200
    # Referrer-Policy same-origin and no third-party content: the token never leaves this page.
    return render_template("accounts/reset_new.html", form=form, hint=_hint(),
                           action=url_for("accounts.reset_with_link", token=token)), status


@bp.get("/password/done")
def reset_done() -> str:
    return render_template("accounts/reset_done.html")


@bp.route("/password", methods=["GET", "POST"])
@limiter.limit(_login_ip_limit, methods=["POST"])
def change_password() -> Response | str | tuple[str, int]:
    from idp.auth.session import current_login

    login = current_login()
    here = url_for("accounts.change_password")
    if login is None or time.time() - login.auth_time > current_settings().recovery.recent_login:
        # NIST SP 800-63B §6.1.2: changing the password needs a fresh authentication.
        return redirect(url_for("auth.login", next=here), code=303)
    account = login.account
    form = ChangePasswordForm()
    if account.password_hash is None:
        return render_template("accounts/reset_change.html", form=form, no_password=True)
    if not form.is_submitted():
        return _change_page(form)
    if not form.validate_on_submit():
        return _change_page(form, status=400)
    try:
        current_ok = authenticate_password(account.identifier, form.current.data or "")
    except LoginLocked as exc:
        db.session.commit()
        return _change_page(form, _(exc.message), exc.status)
    except AccountError as exc:
        db.session.commit()
        return _change_page(form, _(exc.message), 403)
    if current_ok is None:
        db.session.commit()
        form.current.errors = [_("The current password is not correct.")]
        return _change_page(form, status=401)
    try:
        check_new_password_field(form.password, (account.identifier,))
    except ValueError as exc:
        form.password.errors = [str(exc)]
        return _change_page(form, status=400)
    account.password_hash = hash_secret(form.password.data or "")
    end_sessions(account, reason="password_changed", keep_sid=login.sid)
    revoke_grants(account, reason="password_changed", keep_sid=login.sid)
    record("password.changed", account_id=account.id)
    notify(account, "password.changed")
    db.session.commit()
    return render_template("accounts/reset_changed.html")


def _change_page(form: ChangePasswordForm, error: str | None = None, status: int = 200) -> tuple[str, int]:
    return render_template("accounts/reset_change.html", form=form, error=error, hint=_hint()), status


# --- e-mail verification -------------------------------------------------------------------------
@bp.route("/email", methods=["GET", "POST"])
@limiter.limit(_recovery_ip_limit, methods=["POST"])
def email_verification() -> Response | str | tuple[str, int]:
    """The e-mail address on file, whether it is verified, and a button that sends a verification link."""
    from idp.auth.session import current_login

    login = current_login()
    if login is None:
        return redirect(url_for("auth.login", next=url_for("accounts.email_verification")), code=303)
    account = login.account
    form = FlaskForm()
    sent = False
    if request.method == "POST":
        if not form.validate_on_submit():
            return error_page(400, _("This form has expired"), _("Go back, reload the page and try again."))
        if account.email and not is_verified(account, "email") and has_sender("email"):
            allowed = limiter.limiter.hit(parse(current_settings().recovery.per_identifier), "email-links",
                                          str(account.id))
            if allowed:
                token = secrets.token_urlsafe(32)
                ttl = current_settings().recovery.link_ttl
                _issue(account, EMAIL_LINK, account.email, digest(token), ttl)
                send("email", account.email, "email.verify_link", link=_link("accounts.confirm_email", token),
                     minutes=ttl // 60)
                record("email.verification_sent", account_id=account.id)
                db.session.commit()
            sent = True
    return render_template("accounts/reset_email.html", account=account, form=form, sent=sent,
                           verified=is_verified(account, "email"), available=has_sender("email"))


@bp.route("/email/verify/<token>", methods=["GET", "POST"])
@limiter.limit(_login_ip_limit, methods=["POST"])
def confirm_email(token: str) -> Response | str | tuple[str, int]:
    """Opening the link shows a button (mail scanners open links); pressing it confirms the address."""
    found = _find_link(token, EMAIL_LINK)
    if found is None:
        return error_page(400, _("This link does not work any more"),
                          _("Verification links work once and for a short time. Ask for a new one on your account "
                            "page."))
    row, account = found
    form = FlaskForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            return error_page(400, _("This form has expired"), _("Go back, reload the page and try again."))
        if not _burn(row):
            db.session.rollback()
            return redirect(url_for("accounts.confirm_email", token=token), code=303)
        mine = next((v for v in account.verifications if v.attribute == "email" and v.source == EMAIL_SOURCE), None)
        if mine is None:
            # LOW: control of the mailbox, nothing about the person (used for recovery and email_verified).
            account.verifications.append(AttributeVerification(attribute="email", source=EMAIL_SOURCE, level=1,
                                                                verified_at=utcnow()))
        else:
            mine.verified_at = utcnow()
        record("email.verified", account_id=account.id)
        db.session.commit()
        return render_template("accounts/reset_email_done.html")
    return render_template("accounts/reset_email_confirm.html", form=form,
                           action=url_for("accounts.confirm_email", token=token))
