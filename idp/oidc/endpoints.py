"""Authlib endpoint subclasses: userinfo, revocation (RFC 7009), introspection (RFC 7662),
RP-initiated logout, and the bearer token validator behind userinfo."""

from __future__ import annotations

from typing import Any

from authlib.consts import default_json_headers
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc6750 import InvalidTokenError
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oidc.core import UserInfoEndpoint
from authlib.oidc.rpinitiated import EndSessionEndpoint
from joserfc.jwk import KeySet

from idp.audit import record
from idp.oidc.claims import for_scope
from idp.oidc.claims import verified_claims_request
from idp.oidc.claims import with_verified_claims
from idp.oidc.grants import CLIENT_AUTH_METHODS
from idp.oidc.grants import CONFIDENTIAL_AUTH_METHODS
from idp.oidc.models import RefreshToken
from idp.oidc.runtime import runtime
from idp.oidc.tokens import AccessToken
from idp.oidc.tokens import decode_access_token
from idp.oidc.tokens import find_refresh_token
from idp.oidc.tokens import revoke_access_token
from idp.oidc.tokens import revoke_grant
from idp.settings import current_settings


class AccessTokenValidator(BearerTokenValidator):
    def authenticate_token(self, token_string: str) -> AccessToken | None:
        return decode_access_token(token_string)


class UserInfo(UserInfoEndpoint):
    """OIDC Core §5.3: claims for the token's scope, through the same `for_scope` as ID tokens."""

    def __call__(self, request: Any) -> tuple:
        token = self.resource_protector.acquire_token("openid")
        if token.account is None:
            raise InvalidTokenError(description="This access token has no end-user.")
        released = for_scope(token.account, token.scope, token.client)
        grant = token.extra.get("grant")
        wanted = verified_claims_request(grant.claims_request if grant else None, "userinfo")
        return 200, with_verified_claims(token.account, released, released, wanted), default_json_headers

    def get_issuer(self) -> str:
        return current_settings().issuer

    def resolve_private_key(self) -> Any:
        return runtime().keys.signing_key(current_settings().oidc.id_token_alg)


def _query_any_token(token_string: str, token_type_hint: str | None) -> AccessToken | RefreshToken | None:
    # RFC 7009 §2.1 / RFC 7662 §2.1: the hint is only a hint; look in both places.
    if token_type_hint == "refresh_token":
        return find_refresh_token(token_string) or decode_access_token(token_string)
    return decode_access_token(token_string) or find_refresh_token(token_string)


class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> AccessToken | RefreshToken | None:
        return _query_any_token(token_string, token_type_hint)

    def revoke_token(self, token: AccessToken | RefreshToken, request: Any) -> None:
        if isinstance(token, RefreshToken):
            # RFC 7009 §2.1: revoking a refresh token SHOULD revoke the whole grant.
            revoke_grant(token.grant_id, reason="revoked_by_client")
        else:
            revoke_access_token(token)
            record("token.revoked", account_id=token.account.id if token.account else None,
                   client_id=token.claims.get("client_id"), kind="access_token")


class Introspection(IntrospectionEndpoint):
    """RFC 7662: a portal may introspect only tokens issued to itself."""

    CLIENT_AUTH_METHODS = CONFIDENTIAL_AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> AccessToken | RefreshToken | None:
        return _query_any_token(token_string, token_type_hint)

    def check_permission(self, token: AccessToken | RefreshToken, client: Any, request: Any) -> bool:
        return token.check_client(client)

    def introspect_token(self, token: AccessToken | RefreshToken) -> dict[str, Any]:
        settings = current_settings()
        if isinstance(token, RefreshToken):
            from idp.oidc.service import find_grant

            if find_grant(token.grant_id) is None:
                return {"active": False}
            return {"active": True, "token_type": "refresh_token", "client_id": token.client_id,
                    "scope": token.scope, "iss": settings.issuer, "exp": int(token.expires_at.timestamp()),
                    "iat": int(token.issued_at.timestamp())}
        claims = token.claims
        body = {"active": True, "token_type": "Bearer", "iss": settings.issuer}
        for name in ("scope", "client_id", "sub", "aud", "exp", "iat", "jti", "auth_time", "acr"):
            if name in claims:
                body[name] = claims[name]
        return body


class EndSession(EndSessionEndpoint):
    """OIDC RP-Initiated Logout 1.0: `id_token_hint`, registered `post_logout_redirect_uri`, `state`."""

    def get_server_jwks(self) -> KeySet:
        return runtime().keys.public_jwks()[1]

    def get_algorithms(self) -> list[str]:
        return ["ES256", "RS256"]

    def resolve_client_from_id_token_claims(self, id_token_claims: dict) -> Any | None:
        # Our ID tokens carry aud as a one-element list plus azp (OIDC Core §2).
        aud = id_token_claims.get("aud")
        audiences = [aud] if isinstance(aud, str) else list(aud or [])
        client_id = id_token_claims.get("azp") or (audiences[0] if len(audiences) == 1 else None)
        if client_id not in audiences:
            return None
        return self.server.query_client(client_id)

    def end_session(self, end_session_request: Any) -> None:
        from idp.auth.session import end_login_session

        end_login_session(reason="rp_initiated_logout")
