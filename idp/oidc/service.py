"""Database work behind the protocol: codes, grants, refresh rotation, consent, one-time values.

Functions here add to the session and flush where the caller needs the row; the view that
handles the request commits (or rolls back) once, except where noted: burning a code or a
refresh token commits at once, so a failed request can never make either usable again.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from authlib.oauth2.rfc6749.util import scope_to_list
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from idp.accounts.models import Account
from idp.dbtypes import digest
from idp.dbtypes import utcnow
from idp.extensions import db
from idp.oidc.claims import parse_claims_request
from idp.oidc.models import AuthorizationCode
from idp.oidc.models import Client
from idp.oidc.models import Consent
from idp.oidc.models import Grant
from idp.oidc.models import RefreshToken
from idp.oidc.models import UsedAssertion
from idp.oidc.tokens import revoke_grant
from idp.settings import current_settings


def find_active_account(account_id: int) -> Account | None:
    """Return the account if it exists and may log in."""
    account = db.session.get(Account, account_id)
    return account if account is not None and account.is_active else None


def find_grant(grant_id: str) -> Grant | None:
    grant = db.session.get(Grant, grant_id)
    return grant if grant is not None and grant.revoked_at is None else None


def save_authorization_code(code: str, request: Any, login: Any) -> AuthorizationCode:
    """Store a new code (as a digest) with what the login proved."""
    data = request.payload.data
    row = AuthorizationCode(
        code_hash=digest(code),
        client_id=request.client.client_id,
        account_id=request.user.id,
        # As sent: RFC 6749 §4.1.3 asks for redirect_uri at the token endpoint only if it was sent here.
        redirect_uri=request.payload.redirect_uri or "",
        scope=request.scope or "",
        nonce=data.get("nonce"),
        sid=login.sid,
        auth_time=login.auth_time,
        acr=login.acr,
        amr=list(login.amr),
        extra_claims=dict(login.extra_claims) or None,
        claims_request=parse_claims_request(data.get("claims")),
        acr_values=(data.get("acr_values") or None),
        code_challenge=data.get("code_challenge"),
        code_challenge_method="S256" if data.get("code_challenge") else None,
        expires_at=utcnow() + timedelta(seconds=current_settings().oidc.code_ttl),
    )
    db.session.add(row)
    return row


def redeem_authorization_code(code: str, client: Client) -> AuthorizationCode | None:
    """Burn a code for this client and return it; on replay revoke what it issued (RFC 6749 §4.1.2)."""
    if not code or len(code) > 256:
        return None
    row = db.session.get(AuthorizationCode, digest(code))
    if row is None:
        return None
    if row.client_id != client.client_id:
        return None
    now = utcnow()
    burned = db.session.execute(
        update(AuthorizationCode)
        .where(AuthorizationCode.code_hash == row.code_hash, AuthorizationCode.used_at.is_(None))
        .values(used_at=now)
    ).rowcount
    if burned != 1:
        db.session.refresh(row)
        if row.grant_id:
            revoke_grant(row.grant_id, reason="authorization_code_replay")
        db.session.commit()
        return None
    db.session.commit()
    if row.expires_at <= now:
        return None
    return row


def create_grant(code: AuthorizationCode) -> Grant:
    """Open a token family for a redeemed code and remember it on the code."""
    grant = Grant(id=secrets.token_urlsafe(24), client_id=code.client_id, account_id=code.account_id,
                  scope=code.scope, sid=code.sid, auth_time=code.auth_time, acr=code.acr, amr=list(code.amr),
                  extra_claims=code.extra_claims, claims_request=code.claims_request, acr_values=code.acr_values)
    db.session.add(grant)
    code.grant_id = grant.id
    return grant


def authenticate_refresh_token(value: str) -> RefreshToken | None:
    """Return a usable refresh token; a rotated one presented again revokes its family."""
    from idp.oidc.tokens import find_refresh_token

    row = find_refresh_token(value)
    if row is None or row.revoked_at is not None:
        return None
    if row.used_at is not None:
        revoke_grant(row.grant_id, reason="refresh_token_reuse")
        db.session.commit()
        return None
    if row.is_expired() or find_grant(row.grant_id) is None:
        return None
    return row


def mark_refresh_token_used(row: RefreshToken) -> bool:
    """Rotate: mark the old token used, atomically. False if another request used it first."""
    done = db.session.execute(
        update(RefreshToken)
        .where(RefreshToken.token_hash == row.token_hash, RefreshToken.used_at.is_(None))
        .values(used_at=utcnow())
    ).rowcount
    return done == 1


def nonce_was_used(client_id: str, nonce: str) -> bool:
    """Tell whether this client already used this nonce in a code (replay protection)."""
    found = db.session.execute(
        select(AuthorizationCode.code_hash).where(AuthorizationCode.client_id == client_id,
                                                  AuthorizationCode.nonce == nonce).limit(1)
    ).first()
    return found is not None


def remember_once(key: str, ttl: int) -> bool:
    """Record a one-time value; False if it was already recorded and has not expired."""
    from idp.oidc.replay import remember_in_redis

    hashed = digest(key)
    answer = remember_in_redis(hashed, ttl)
    if answer is not None:
        return answer
    now = utcnow()
    db.session.execute(delete(UsedAssertion).where(UsedAssertion.expires_at <= now))
    try:
        with db.session.begin_nested():
            db.session.add(UsedAssertion(key=hashed, expires_at=now + timedelta(seconds=max(ttl, 1))))
    except IntegrityError:
        return False
    return True


def needs_consent(account: Account, client: Client, scope: str) -> bool:
    """Tell whether the account must (again) agree to share this scope with this portal."""
    if client.trusted:
        return False
    consent = db.session.execute(
        select(Consent).where(Consent.account_id == account.id, Consent.client_id == client.client_id)
    ).scalar_one_or_none()
    if consent is None or consent.expires_at <= utcnow():
        return True
    return not set(scope_to_list(scope) or []) <= set(scope_to_list(consent.scope) or [])


def remember_consent(account: Account, client: Client, scope: str) -> None:
    """Store (or widen) the account's consent for this portal."""
    from idp.audit import record

    consent = db.session.execute(
        select(Consent).where(Consent.account_id == account.id, Consent.client_id == client.client_id)
    ).scalar_one_or_none()
    now = utcnow()
    expires = now + timedelta(seconds=current_settings().oidc.consent_ttl)
    if consent is None:
        db.session.add(Consent(account_id=account.id, client_id=client.client_id, scope=scope, granted_at=now,
                               expires_at=expires))
    else:
        merged = sorted(set(scope_to_list(consent.scope) or []) | set(scope_to_list(scope) or []))
        consent.scope, consent.granted_at, consent.expires_at = " ".join(merged), now, expires
    record("consent.granted", account_id=account.id, client_id=client.client_id, scope=scope)
