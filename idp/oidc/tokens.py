"""Tokens: JWT access tokens (RFC 9068), opaque refresh tokens, and their validation.

Access tokens are short-lived JWTs (`typ: at+jwt`) that are not stored; a revoked one goes on
a denylist until it would have expired. User tokens carry `gid`, the id of their grant (token
family), so revoking the family stops them at once. Refresh tokens are random strings stored
only as SHA-256 digests.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from datetime import timedelta
from typing import Any

from authlib.oauth2.rfc6749 import TokenMixin
from joserfc import jwt
from joserfc.errors import JoseError
from sqlalchemy import select
from sqlalchemy import update

from idp.accounts.models import Account
from idp.dbtypes import digest
from idp.dbtypes import utcnow
from idp.extensions import db
from idp.oidc.models import Client
from idp.oidc.models import Grant
from idp.oidc.models import RefreshToken
from idp.oidc.models import RevokedAccessToken
from idp.oidc.runtime import runtime
from idp.oidc.subject import subject_for
from idp.settings import current_settings

ACCESS_TOKEN_TYP = "at+jwt"
VERIFY_ALGS = ["ES256", "RS256"]


@dataclass(frozen=True, slots=True)
class GrantContext:
    """What the authentication proved, carried from the code or refresh token into new tokens."""

    grant_id: str
    auth_time: int
    acr: str | None = None
    amr: tuple[str, ...] = ()
    sid: str | None = None


def issue_token_response(client: Client, scope: str, account: Account | None, context: GrantContext | None,
                         include_refresh_token: bool) -> dict[str, Any]:
    """Build the token response: a signed access token and, if asked, a new refresh token row."""
    settings = current_settings()
    ttl = settings.oidc.access_token_ttl
    now = int(utcnow().timestamp())
    claims: dict[str, Any] = {
        "iss": settings.issuer,
        "sub": subject_for(account.id, client) if account else client.client_id,
        "aud": client.client_id,
        "client_id": client.client_id,
        "iat": now,
        "exp": now + ttl,
        "jti": secrets.token_urlsafe(16),
        "scope": scope,
    }
    if context is not None:
        claims.update(gid=context.grant_id, auth_time=context.auth_time)
        if context.acr:
            claims["acr"] = context.acr
    alg = settings.oidc.id_token_alg
    key = runtime().keys.signing_key(alg)
    header = {"typ": ACCESS_TOKEN_TYP, "alg": alg, "kid": key.kid}
    token: dict[str, Any] = {
        "token_type": "Bearer",
        "access_token": jwt.encode(header, claims, key, algorithms=[alg]),
        "expires_in": ttl,
        "scope": scope,
    }
    if include_refresh_token and context is not None:
        token["refresh_token"] = _new_refresh_token(client, scope, context.grant_id)
    return token


def _new_refresh_token(client: Client, scope: str, grant_id: str) -> str:
    value = secrets.token_urlsafe(32)
    now = utcnow()
    db.session.add(RefreshToken(
        token_hash=digest(value), grant_id=grant_id, client_id=client.client_id, scope=scope, issued_at=now,
        expires_at=now + timedelta(seconds=current_settings().oidc.refresh_token_ttl),
    ))
    return value


@dataclass
class AccessToken(TokenMixin):
    """A validated JWT access token, shaped for Authlib's endpoints."""

    claims: dict[str, Any]
    client: Client | None = None
    account: Account | None = None
    revoked: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def scope(self) -> str:
        return self.claims.get("scope", "")

    def check_client(self, client: Client) -> bool:
        return self.claims.get("client_id") == client.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return int(self.claims["exp"]) - int(self.claims["iat"])

    def is_expired(self) -> bool:
        return int(self.claims["exp"]) <= int(utcnow().timestamp())

    def is_revoked(self) -> bool:
        return self.revoked

    def get_user(self) -> Account | None:
        return self.account

    def get_client(self) -> Client | None:
        return self.client


def decode_access_token(value: str) -> AccessToken | None:
    """Verify signature, type and issuer; load client, account and revocation state. None if invalid."""
    if not value or len(value) > 4096 or value.count(".") != 2:
        return None
    _, keyset = runtime().keys.public_jwks()
    try:
        token = jwt.decode(value, keyset, algorithms=VERIFY_ALGS)
    except (JoseError, ValueError):
        return None
    claims = dict(token.claims)
    if token.header.get("typ") != ACCESS_TOKEN_TYP or claims.get("iss") != current_settings().issuer:
        return None
    if not isinstance(claims.get("exp"), int) or not isinstance(claims.get("jti"), str):
        return None
    client = runtime().find_client(claims.get("client_id"))
    if client is None:
        return None
    result = AccessToken(claims=claims, client=client)
    result.revoked = not client.is_active or _is_denylisted(claims["jti"])
    grant_id = claims.get("gid")
    if grant_id is not None:
        grant = db.session.get(Grant, grant_id)
        account = db.session.get(Account, grant.account_id) if grant else None
        result.account = account
        result.extra["grant"] = grant
        if grant is None or grant.revoked_at is not None or account is None or not account.is_active:
            result.revoked = True
    return result


def _is_denylisted(jti: str) -> bool:
    return db.session.execute(select(RevokedAccessToken.jti).where(RevokedAccessToken.jti == jti)).first() is not None


def revoke_access_token(token: AccessToken) -> None:
    """Put one access token on the denylist until it would have expired."""
    if not _is_denylisted(token.claims["jti"]):
        expires = datetime.fromtimestamp(int(token.claims["exp"]), tz=utcnow().tzinfo)
        db.session.add(RevokedAccessToken(jti=token.claims["jti"], expires_at=expires))


def find_refresh_token(value: str) -> RefreshToken | None:
    """Return the refresh token row for a presented value, if any."""
    if not value or len(value) > 512:
        return None
    return db.session.get(RefreshToken, digest(value))


def revoke_grant(grant_id: str, reason: str) -> None:
    """Revoke a whole token family: the grant, its refresh tokens, and so its access tokens."""
    from idp.audit import record

    now = utcnow()
    grant = db.session.get(Grant, grant_id)
    if grant is None or grant.revoked_at is not None:
        return
    grant.revoked_at = now
    db.session.execute(
        update(RefreshToken).where(RefreshToken.grant_id == grant_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    record("grant.revoked", account_id=grant.account_id, client_id=grant.client_id, grant_id=grant_id,
           reason=reason)
