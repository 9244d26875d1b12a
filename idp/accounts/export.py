"""Data export (`/accounts/export`): everything held about the person, as one JSON file.

The right of access of Decree 13/2023/ND-CP on personal data protection (Art. 9, 14): the account's
attributes and who verified them, linked sources, second factors (names, kinds and dates), devices,
sessions, consents, grants, login history, the audit events about the account, roles,
representations, recovery messages, cross-device logins, portal registrations and deletion requests.
Never a secret: no password hash, TOTP seed, recovery code or reset secret hash, key material, token
or client secret is read into the document (each section lists the columns it copies).

Downloading is a POST with a CSRF token from a recent login (idp.accounts.security.is_recent; else
the person confirms it is them first); the response is an attachment, never cached, and the export
is audited (`account.exported`).
"""

from __future__ import annotations

import json
from datetime import date
from datetime import datetime
from typing import Any

from authlib.oauth2.rfc6749.util import scope_to_list
from flask import Response
from flask import render_template
from flask import url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from sqlalchemy import or_
from sqlalchemy import select

from idp.accounts.models import Account
from idp.accounts.pages import console_login
from idp.accounts.pages import is_recent
from idp.accounts.pages import reauth_url
from idp.accounts.pages import reauthenticate
from idp.accounts.pages import source_name
from idp.accounts.views import bp
from idp.audit import record
from idp.dbtypes import utcnow
from idp.errors import error_page
from idp.extensions import db
from idp.extensions import limiter
from idp.settings import current_settings

FORMAT = "national-sso-account-export/1"
ACCOUNT_FIELDS = ("id", "kind", "identifier", "status", "full_name", "given_name", "family_name", "birthdate",
                  "gender", "phone", "email", "street_address", "ward_code", "province_code", "agency",
                  "created_at", "updated_at")


def _value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


def _pick(row: Any, fields: tuple[str, ...], **extra: Any) -> dict[str, Any]:
    """Copy exactly these columns (never a whole row: secrets stay out by construction)."""
    return {**{name: _value(getattr(row, name)) for name in fields}, **{k: _value(v) for k, v in extra.items()}}


def _rows(statement: Any) -> list[Any]:
    return list(db.session.execute(statement).scalars())


def _factors(account: Account) -> dict[str, Any]:
    from idp.auth.mfa.recovery import RecoveryCode
    from idp.auth.mfa.totp import TotpAuthenticator
    from idp.auth.mfa.webauthn import WebAuthnCredential

    codes = _rows(select(RecoveryCode).where(RecoveryCode.account_id == account.id).order_by(RecoveryCode.id))
    return {
        "authenticator_apps": [_pick(r, ("name", "created_at", "activated_at", "last_used_at")) for r in _rows(
            select(TotpAuthenticator).where(TotpAuthenticator.account_id == account.id)
            .order_by(TotpAuthenticator.id))],
        "passkeys_and_security_keys": [
            _pick(r, ("name", "created_at", "last_used_at", "backup_eligible", "discoverable")) for r in _rows(
                select(WebAuthnCredential).where(WebAuthnCredential.account_id == account.id)
                .order_by(WebAuthnCredential.id))],
        "recovery_codes": {"total": len(codes), "unused": sum(1 for c in codes if c.used_at is None),
                           "created_at": _value(codes[0].created_at) if codes else None},
        "has_password": account.password_hash is not None,
    }


def _portals(account: Account) -> dict[str, list[dict[str, Any]]]:
    from idp.oidc.models import Client
    from idp.oidc.models import Consent
    from idp.oidc.models import Grant

    consents = db.session.execute(select(Consent, Client).join(Client, Client.client_id == Consent.client_id)
                                  .where(Consent.account_id == account.id).order_by(Consent.id)).all()
    grants = db.session.execute(select(Grant, Client).join(Client, Client.client_id == Grant.client_id)
                                .where(Grant.account_id == account.id).order_by(Grant.created_at)).all()
    return {
        "consents": [_pick(c, ("client_id", "granted_at", "expires_at"), portal=p.name, agency=p.agency,
                           scopes=scope_to_list(c.scope) or []) for c, p in consents],
        "grants": [_pick(g, ("client_id", "created_at", "revoked_at", "acr", "amr"), portal=p.name, agency=p.agency,
                         scopes=scope_to_list(g.scope) or []) for g, p in grants],
    }


def _activity(account: Account) -> dict[str, Any]:
    from idp.accounts.history import LoginEvent
    from idp.accounts.models import LoginSession
    from idp.audit import AuditEvent
    from idp.auth.crossdevice import CrossDeviceRequest
    from idp.auth.devices import KnownDevice

    return {
        "sessions": [_pick(r, ("created_at", "auth_time", "acr", "amr", "last_seen_at", "expires_at", "ended_at"))
                     for r in _rows(select(LoginSession).where(LoginSession.account_id == account.id)
                                    .order_by(LoginSession.created_at))],
        "login_history": [_pick(r, ("at", "client_id", "source", "level", "province_code", "network", "device"))
                          for r in _rows(select(LoginEvent).where(LoginEvent.account_id == account.id)
                                         .order_by(LoginEvent.at, LoginEvent.id))],
        "known_devices": [_pick(r, ("first_seen_at", "last_seen_at")) for r in _rows(
            select(KnownDevice).where(KnownDevice.account_id == account.id).order_by(KnownDevice.id))],
        "cross_device_logins": [
            _pick(r, ("created_at", "status", "client_id", "desktop_browser", "desktop_os", "desktop_network"))
            for r in _rows(select(CrossDeviceRequest).where(CrossDeviceRequest.account_id == account.id)
                           .order_by(CrossDeviceRequest.id))],
        "audit_events": [_pick(r, ("id", "at", "event", "client_id", "data")) for r in _rows(
            select(AuditEvent).where(AuditEvent.account_id == account.id).order_by(AuditEvent.id))],
    }


def _other(account: Account) -> dict[str, Any]:
    from idp.accounts.deletion import DeletionRequest
    from idp.accounts.models import BusinessRepresentative
    from idp.accounts.recovery import RecoverySecret
    from idp.accounts.roles import AccountRole
    from idp.oidc.registration_models import RegistrationRequest

    return {
        "roles": [_pick(r, ("role", "scope", "granted_at")) for r in _rows(
            select(AccountRole).where(AccountRole.account_id == account.id).order_by(AccountRole.id))],
        "representations": [_pick(r, ("business_id", "citizen_id", "role", "since")) for r in _rows(
            select(BusinessRepresentative).where(or_(BusinessRepresentative.business_id == account.id,
                                                     BusinessRepresentative.citizen_id == account.id))
            .order_by(BusinessRepresentative.id))],
        "recovery_messages": [_pick(r, ("purpose", "created_at", "expires_at", "used_at")) for r in _rows(
            select(RecoverySecret).where(RecoverySecret.account_id == account.id).order_by(RecoverySecret.id))],
        "portal_registrations": [_pick(r, ("client_id", "status", "created_at", "decided_at", "contact_email"))
                                 for r in _rows(select(RegistrationRequest).where(
                                     RegistrationRequest.submitted_by == account.id)
                                     .order_by(RegistrationRequest.created_at))],
        "deletion_requests": [
            _pick(r, ("status", "requested_at", "scheduled_for", "cancelled_at", "completed_at")) for r in _rows(
                select(DeletionRequest).where(DeletionRequest.account_id == account.id).order_by(DeletionRequest.id))],
    }


def export_data(account: Account) -> dict[str, Any]:
    """Everything held about the account, as JSON-ready values (ids, dates as ISO 8601 UTC)."""
    from idp.accounts.linking import linked_sources

    return {
        "format": FORMAT,
        "issuer": current_settings().issuer,
        "generated_at": _value(utcnow()),
        "account": _pick(account, ACCOUNT_FIELDS),
        "verifications": [_pick(v, ("attribute", "source", "level", "verified_at"), source_name=source_name(v.source))
                          for v in sorted(account.verifications, key=lambda v: (v.attribute, v.id or 0))],
        "linked_sources": [_pick(link, ("source", "subject", "level", "linked_at", "last_used_at"),
                                 source_name=source_name(link.source)) for link in linked_sources(account)],
        "second_factors": _factors(account),
        **_portals(account),
        **_activity(account),
        **_other(account),
    }


def _ip_limit() -> str:
    return current_settings().login.per_ip


@bp.route("/export", methods=["GET", "POST"])
@limiter.limit(_ip_limit, methods=["POST"])
def export() -> Response | tuple[str, int]:
    """Explain the export (GET); download it (POST, CSRF, recent login)."""
    here = url_for("accounts.export")
    login, refusal = console_login(here)
    if refusal is not None:
        return refusal
    account = login.account
    form = FlaskForm()
    recent = is_recent(login)
    if not form.is_submitted():
        return render_template("accounts/export.html", form=form, recent=recent,
                               reauth_url=None if recent else reauth_url(account, here)), 200
    if not form.validate_on_submit():
        return error_page(400, _("This form has expired"), _("Go back, reload the page and try again."))
    if not recent:
        return reauthenticate(account, here)
    body = json.dumps(export_data(account), ensure_ascii=False, indent=2, default=str)
    record("account.exported", account_id=account.id)
    db.session.commit()
    response = Response(body, mimetype="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="account-{utcnow():%Y%m%d}.json"'
    response.headers["Cache-Control"] = "no-store"
    return response
