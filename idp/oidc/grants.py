"""Authlib grant subclasses and extensions: code + PKCE + ID token, refresh rotation,
client credentials, and private_key_jwt client authentication.

Database work lives in `idp.oidc.service`; these classes only adapt it to Authlib's hooks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc6749 import InvalidGrantError
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc6749 import InvalidScopeError
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import OpenIDCode
from flask import g
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from idp.accounts.history import record_portal_login
from idp.accounts.models import Account
from idp.audit import record
from idp.oidc import service
from idp.oidc.claims import SCOPES as END_USER_SCOPES
from idp.oidc.claims import for_scope
from idp.oidc.claims import scope_with_requested_claims
from idp.oidc.claims import verified_claims_request
from idp.oidc.claims import with_verified_claims
from idp.oidc.client_keys import CLIENT_ASSERTION_ALGS
from idp.oidc.client_keys import client_public_keys
from idp.oidc.models import AuthorizationCode
from idp.oidc.models import Client
from idp.oidc.models import RefreshToken
from idp.oidc.runtime import runtime
from idp.oidc.tokens import GrantContext
from idp.oidc.tokens import issue_token_response
from idp.settings import current_settings

log = logging.getLogger(__name__)

CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]
CONFIDENTIAL_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]


class PrivateKeyJwtAuth(JWTBearerClientAssertion):
    """RFC 7523 §2.2 client authentication with a signed assertion; a `jti` is accepted once."""

    CLIENT_AUTH_METHOD = "private_key_jwt"

    def get_audiences(self) -> list[str]:
        issuer = current_settings().issuer
        return [issuer, f"{issuer}/oauth2/token"]

    def validate_jti(self, claims: dict[str, Any], jti: str) -> bool:
        ttl = max(int(claims.get("exp", 0)) - int(time.time()), 0) + self.leeway
        return service.remember_once(f"client-assertion|{claims['sub']}|{jti}", ttl)

    def resolve_client_public_key(self, client: Client) -> KeySet | Callable[[Any], KeySet]:
        return client_public_keys(client)  # inline jwks, or jwks_uri through the per-portal key cache

    def process_assertion_claims(self, assertion: str, resolve_key: Any) -> dict[str, Any]:
        """Verify with the algorithms discovery advertises (Authlib's default would allow HS256, not PS256)."""
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=list(CLIENT_ASSERTION_ALGS))
        except JoseError as exc:
            raise InvalidClientError(description=exc.description) from exc
        except ValueError as exc:  # joserfc: no usable key for the header
            raise InvalidClientError(description="No registered key verifies the assertion.") from exc
        self.verify_claims(token.claims)
        return token.claims


class S256Only(CodeChallenge):
    """RFC 7636 with S256 only; RFC 9700 §2.1.1 makes PKCE mandatory for public clients."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant: grants.BaseGrant, redirect_uri: str) -> None:
        data = grant.request.payload.data
        challenge = data.get("code_challenge")
        if challenge and data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256.")
        if not challenge and grant.request.client.is_public:
            raise InvalidRequestError("code_challenge (PKCE, S256) is required for public clients.")
        super().validate_code_challenge(grant, redirect_uri)


class IdTokenExtension(OpenIDCode):
    """OIDC Core §3.1.3.6 ID token: our issuer, key, pairwise `sub`, `sid` and claims."""

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        return service.nonce_was_used(request.payload.client_id, nonce)

    def get_client_claims(self, client: Client) -> dict[str, Any]:
        settings = current_settings()
        now = int(time.time())
        return {"iss": settings.issuer, "aud": [client.client_id], "azp": client.client_id,
                "iat": now, "exp": now + settings.oidc.id_token_ttl}

    def get_client_algorithm(self, client: Client) -> str:
        return client.id_token_signed_response_alg or current_settings().oidc.id_token_alg

    def resolve_client_private_key(self, client: Client) -> Any:
        return runtime().keys.signing_key(self.get_client_algorithm(client))

    def get_encode_header(self, client: Client) -> dict[str, str]:
        key = self.resolve_client_private_key(client)
        return {"alg": self.get_client_algorithm(client), "kid": key.kid, "typ": "JWT"}

    def get_authorization_code_claims(self, authorization_code: AuthorizationCode) -> dict[str, Any]:
        claims = super().get_authorization_code_claims(authorization_code)
        claims["sid"] = authorization_code.sid
        claims.update(authorization_code.extra_claims or {})  # e.g. vn_eid_level (claims.SESSION_CLAIMS)
        return claims

    def generate_user_info(self, user: Account, scope: str) -> dict[str, Any]:
        """OIDC Core §5.4: scope claims come from userinfo; the ID token carries `sub` and only the
        claims requested for it with the `claims` parameter (§5.5), so no personal data travels in
        ID tokens that portals later put in logout URLs."""
        # Authlib passes no client here; the extension is shared by all threads, so the
        # request's client and claims request travel in flask.g, never on self.
        released = for_scope(user, scope, g.oidc_client)
        wanted = {"sub", *g.oidc_id_token_claims}
        chosen = {name: value for name, value in released.items() if name in wanted}
        return with_verified_claims(user, chosen, released, g.oidc_verified_claims)

    def encode_id_token(self, token: dict, request: Any) -> str:
        g.oidc_client = request.client
        claims_request = (request.authorization_code.claims_request or {}) if request.authorization_code else {}
        g.oidc_id_token_claims = tuple((claims_request.get("id_token") or {}).keys())
        g.oidc_verified_claims = verified_claims_request(claims_request, "id_token")
        return super().encode_id_token(token, request)


class CodeGrant(grants.AuthorizationCodeGrant):
    """Authorization code grant: codes are single-use, 60 s, bound to client and redirect URI."""

    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def validate_authorization_request(self) -> str:
        redirect_uri = super().validate_authorization_request()
        request = self.request
        request.scope = scope_with_requested_claims(request.scope or "", request.payload.data.get("claims"),
                                                    request.client)
        return redirect_uri

    def create_authorization_response(self, redirect_uri: str, grant_user: Account) -> tuple:
        """Issue the code; answer with `query` or `form_post` and always `iss` (RFC 9207 §2)."""
        self.request.user = grant_user
        code = self.generate_authorization_code()
        self.save_authorization_code(code, self.request)
        params = [("code", code)]
        if self.request.payload.state:
            params.append(("state", self.request.payload.state))
        params.append(("iss", current_settings().issuer))
        mode = self.request.payload.data.get("response_mode") or "query"
        from idp.oidc.authorize import response_tuple

        return response_tuple(redirect_uri, params, mode)

    def save_authorization_code(self, code: str, request: Any) -> None:
        service.save_authorization_code(code, request, request.login_context)
        from idp.oidc.authorize import is_fresh_login

        login = request.login_context  # login history: this portal login, fresh or through single sign-on
        record_portal_login(request.user, login.sid, login.acr, request.client.client_id, fresh=is_fresh_login())

    def query_authorization_code(self, code: str, client: Client) -> AuthorizationCode | None:
        return service.redeem_authorization_code(code, client)

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        # Redeemed codes stay (marked used) so a replay can revoke what they issued.
        pass

    def authenticate_user(self, authorization_code: AuthorizationCode) -> Account | None:
        return service.find_active_account(authorization_code.account_id)

    def generate_token(self, user: Account | None = None, scope: str | None = None, grant_type: str | None = None,
                       expires_in: int | None = None, include_refresh_token: bool = True) -> dict[str, Any]:
        code: AuthorizationCode = self.request.authorization_code
        grant = service.create_grant(code)
        context = GrantContext(grant_id=grant.id, auth_time=code.auth_time, acr=code.acr,
                               amr=tuple(code.amr), sid=code.sid)
        return issue_token_response(self.request.client, scope or "", user, context, include_refresh_token)


class RotatingRefreshGrant(grants.RefreshTokenGrant):
    """RFC 9700 §4.14.2: every refresh rotates the token; reuse revokes the whole family."""

    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshToken | None:
        return service.authenticate_refresh_token(refresh_token)

    def authenticate_user(self, refresh_token: RefreshToken) -> Account | None:
        grant = service.find_grant(refresh_token.grant_id)
        return service.find_active_account(grant.account_id) if grant else None

    def revoke_old_credential(self, refresh_token: RefreshToken) -> None:
        if not service.mark_refresh_token_used(refresh_token):
            raise InvalidGrantError("The refresh token was already used.")

    def generate_token(self, user: Account | None = None, scope: str | None = None, grant_type: str | None = None,
                       expires_in: int | None = None, include_refresh_token: bool = True) -> dict[str, Any]:
        old: RefreshToken = self.request.refresh_token
        grant = service.find_grant(old.grant_id)
        context = GrantContext(grant_id=grant.id, auth_time=grant.auth_time, acr=grant.acr,
                               amr=tuple(grant.amr), sid=grant.sid)
        return issue_token_response(self.request.client, scope or old.scope, user, context, include_refresh_token)


class PortalCredentialsGrant(grants.ClientCredentialsGrant):
    """RFC 6749 §4.4 for portal back ends; only confidential clients."""

    TOKEN_ENDPOINT_AUTH_METHODS = CONFIDENTIAL_AUTH_METHODS

    def validate_token_request(self) -> None:
        super().validate_token_request()
        # RFC 6749 §3.3 / §5.2: only the portal's allowed scopes, and none that speak for an end-user.
        requested = set((self.request.payload.scope or "").split())
        allowed = set(self.client.get_allowed_scope(" ".join(requested)).split()) - set(END_USER_SCOPES)
        refused = " ".join(sorted(requested - allowed))
        if refused:
            raise InvalidScopeError(f"Scope not allowed for client_credentials: {refused}")

    def generate_token(self, user: Account | None = None, scope: str | None = None, grant_type: str | None = None,
                       expires_in: int | None = None, include_refresh_token: bool = True) -> dict[str, Any]:
        return issue_token_response(self.request.client, scope or "", None, None, False)


def save_token(token: dict[str, Any], request: Any) -> None:
    """Authlib's save hook: rows were added when issued; here the audit event.

    Machine tokens (client_credentials) are stateless but audited too (admin API tokens are among
    them); a portal back end asks for one per token lifetime, not per call.
    """
    account = request.user
    if account is None:
        record("token.issued", client_id=request.client.client_id, grant_type="client_credentials",
               scope=token.get("scope") or "")
        return
    code = request.authorization_code
    record("token.issued", account_id=account.id, client_id=request.client.client_id,
           grant_type=request.payload.grant_type, refresh=("refresh_token" in token),
           acr=code.acr if code else None, acr_values=code.acr_values if code else None)
