"""The relying party towards one upstream OpenID provider (VNeID, or a ministry's own provider).

Authorization code flow with PKCE S256 (RFC 7636), `state` (the attempt id) and `nonce`, the RFC 9207
`iss` check, client authentication by secret or private_key_jwt (RFC 7523), and the ID token check
in jwks.py. State between `begin` and `complete` lives in `attempt.data`; nothing personal is logged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl
from urllib.parse import urlencode
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

from joserfc import jwt

from idp.i18n import N_
from idp.verifiers.base import Attempt
from idp.verifiers.base import IdentityAssertion
from idp.verifiers.base import Redirect
from idp.verifiers.base import Services
from idp.verifiers.base import VerifierInfo
from idp.verifiers.errors import SourceUnavailable
from idp.verifiers.errors import VerificationFailed
from idp.verifiers.vneid.claims import assertion_from
from idp.verifiers.vneid.config import UpstreamConfig
from idp.verifiers.vneid.config import check_url
from idp.verifiers.vneid.config import is_loopback
from idp.verifiers.vneid.http import fetch_json
from idp.verifiers.vneid.http import unreachable
from idp.verifiers.vneid.jwks import JwksCache
from idp.verifiers.vneid.jwks import check_id_token

log = logging.getLogger(__name__)
HEALTH_TIMEOUT = 2.0
MAX_PARAM = 2048
# Authorization error codes (RFC 6749 §4.1.2.1, OIDC Core §3.1.2.6) the person can act on.
INTERACTION_ERRORS = frozenset({"login_required", "interaction_required", "consent_required",
                                "account_selection_required"})
OUTAGE_ERRORS = frozenset({"server_error", "temporarily_unavailable"})
CONFIG_ERRORS = frozenset({"invalid_request", "unauthorized_client", "unsupported_response_type", "invalid_scope",
                           "invalid_request_uri", "invalid_request_object", "request_not_supported",
                           "request_uri_not_supported", "registration_not_supported", "invalid_client"})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _is_vschar(value: str, limit: int = MAX_PARAM) -> bool:
    """RFC 6749 Appendix A: codes and error values are printable ASCII (%x20-7E)."""
    return 0 < len(value) <= limit and all(" " <= char <= "~" for char in value)


class UpstreamVerifier:
    """Log a person in through an upstream OpenID provider and vouch for what it says."""

    def __init__(self, config: UpstreamConfig, info: VerifierInfo, services: Services) -> None:
        self.id, self.info, self.config, self._services = config.verifier_id, info, config, services
        self._jwks = JwksCache(config.verifier_id, services.now, config.cache_ttl, config.timeout)
        self._lock = threading.Lock()
        self._metadata: dict[str, Any] | None = None
        self._metadata_at: float | None = None

    def __repr__(self) -> str:
        return f"UpstreamVerifier(id={self.id!r}, issuer={self.config.issuer!r})"

    # --- upstream metadata --------------------------------------------------------------------
    def metadata(self) -> dict[str, Any]:
        """Endpoints and flags: discovered (cached for cache_ttl), with configured endpoints winning."""
        cfg = self.config
        if not cfg.discovery:
            return {**cfg.endpoints, "authorization_response_iss_parameter_supported": cfg.require_iss}
        with self._lock:
            now = self._services.now().timestamp()
            if self._metadata is None or self._metadata_at is None or now - self._metadata_at >= cfg.cache_ttl:
                self._metadata, self._metadata_at = self._discover(cfg.timeout), now
            return self._metadata

    def _discovery_url(self) -> str:
        # OIDC Discovery 1.0 §4: the issuer, without a trailing slash, plus the well-known path.
        return self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"

    def _discover(self, timeout: float) -> dict[str, Any]:
        cfg = self.config
        document = fetch_json(self.id, "discovery", "GET", self._discovery_url(), timeout).body
        # OIDC Discovery 1.0 §4.3: the issuer in the document must be exactly the one configured.
        if document.get("issuer") != cfg.issuer:
            raise unreachable(self.id, "discovery", "issuer in the document differs from the configured issuer")
        needed = ("authorization_endpoint", "token_endpoint", "jwks_uri") + (("userinfo_endpoint",)
                                                                           if cfg.userinfo else ())
        found: dict[str, Any] = {}
        # Plain http to a loopback address is for an upstream that is itself on this machine: an https
        # upstream's document may not send our code and client credentials to a local service.
        local_http = cfg.sandbox or is_loopback(cfg.issuer)
        for name in needed + ("userinfo_endpoint",):
            url = cfg.endpoints.get(name) or document.get(name)
            if url is None and name not in needed:
                continue
            if not isinstance(url, str) or check_url(url, cfg.sandbox) is not None or (
                    name not in cfg.endpoints and not local_http and urlsplit(url).scheme != "https"):
                raise unreachable(self.id, "discovery", f"{name} missing or not acceptable")
            found[name] = url
        found["authorization_response_iss_parameter_supported"] = (
            cfg.require_iss or document.get("authorization_response_iss_parameter_supported") is True)
        return found

    def browser_origins(self) -> tuple[str, ...]:
        """Where `begin` sends the browser (idp.verifiers.base.SendsBrowser): the issuer's origin, a
        configured authorization endpoint's, and a discovered one's once the document is cached."""
        urls = [self.config.issuer, self.config.endpoints.get("authorization_endpoint")]
        if self._metadata is not None:
            urls.append(self._metadata.get("authorization_endpoint"))
        origins = (urlsplit(url) for url in urls if isinstance(url, str))
        return tuple(dict.fromkeys(f"{parts.scheme}://{parts.netloc}" for parts in origins))

    def is_healthy(self) -> bool:
        """Whether the upstream answers with a usable discovery document (without discovery: its
        JWKS), with a short timeout."""
        timeout = min(HEALTH_TIMEOUT, self.config.timeout)
        try:
            if self.config.discovery:
                self._discover(timeout)
            else:
                fetch_json(self.id, "health", "GET", self.config.endpoints["jwks_uri"], timeout)
        except SourceUnavailable:
            return False
        return True

    # --- the flow -------------------------------------------------------------------------------
    def begin(self, attempt: Attempt) -> Redirect:
        """Redirect to the upstream authorization endpoint (OIDC Core §3.1.2.1, RFC 7636 §4.3)."""
        cfg = self.config
        endpoint = self.metadata()["authorization_endpoint"]
        verifier = secrets.token_urlsafe(48)
        attempt.data.update(state=attempt.id, nonce=secrets.token_urlsafe(24), code_verifier=verifier, used=False)
        params = {**cfg.authorize_params, "response_type": "code", "client_id": cfg.client_id,
                  "redirect_uri": self._services.callback_url(self.id), "scope": cfg.scope, "state": attempt.id,
                  "nonce": attempt.data["nonce"], "code_challenge": _b64(hashlib.sha256(verifier.encode()).digest()),
                  "code_challenge_method": "S256"}
        parts = urlsplit(endpoint)
        query = urlencode([*parse_qsl(parts.query), *params.items()])
        return Redirect(urlunsplit((parts.scheme, parts.netloc, parts.path, query, "")))

    def complete(self, attempt: Attempt, params: Mapping[str, str]) -> IdentityAssertion:
        """Check the callback, redeem the code, verify the ID token, map the claims."""
        data = attempt.data
        if not data.get("code_verifier") or data.get("used"):
            raise VerificationFailed("attempt_used", N_("This login was already used. Start again."))
        if self._services.now() >= attempt.expires_at:
            raise VerificationFailed("attempt_expired", N_("This login took too long. Start again."))
        state = params.get("state")
        if not isinstance(state, str) or not hmac.compare_digest(state.encode(), str(data["state"]).encode()):
            raise VerificationFailed("state_mismatch", N_("This answer does not belong to your login. Start again."))
        data["used"] = True  # one callback per attempt, whatever happens next
        metadata = self.metadata()
        self._check_iss(params, metadata)
        if "error" in params:
            raise self._authorization_error(params["error"])
        code = params.get("code") or ""
        if not _is_vschar(code):
            raise VerificationFailed("callback_malformed",
                                     N_("The identity provider's answer is incomplete. Start again."))
        tokens = self._redeem(code, data["code_verifier"], metadata["token_endpoint"])
        claims = check_id_token(tokens.get("id_token"), issuer=self.config.issuer, client_id=self.config.client_id,
                                nonce=data["nonce"], algs=self.config.id_token_algs, leeway=self.config.leeway,
                                now=self._services.now(),
                                keys=lambda kid, alg: self._jwks.key_for(metadata["jwks_uri"], kid, alg))
        if self.config.userinfo:
            claims = {**self._userinfo(tokens, metadata["userinfo_endpoint"], claims["sub"]), **claims}
        return assertion_from(self.config, claims, self._services.now())

    def _check_iss(self, params: Mapping[str, str], metadata: Mapping[str, Any]) -> None:
        """RFC 9207 §2.4: compare `iss` when present; require it when the upstream says it sends it."""
        if "iss" in params:
            if params["iss"] != self.config.issuer:
                raise VerificationFailed("iss_mismatch",
                                         N_("The answer did not come from the expected identity provider."))
        elif metadata.get("authorization_response_iss_parameter_supported"):
            raise VerificationFailed("iss_missing",
                                     N_("The answer does not say which identity provider sent it. Start again."))

    def _authorization_error(self, error: str) -> Exception:
        if error == "access_denied":
            return VerificationFailed("cancelled", N_("You cancelled the login at the identity provider. Start "
                                                      "again, or choose another way to log in."))
        if error in INTERACTION_ERRORS:
            return VerificationFailed("upstream_interaction_required",
                                      N_("The identity provider needs you to finish logging in there. Start again."))
        if error in OUTAGE_ERRORS:
            return unreachable(self.id, "authorization", error)
        if error in CONFIG_ERRORS:
            log.error("upstream of verifier %s refused our authorization request: %s", self.id, error)
            return SourceUnavailable("upstream_refused_request", N_("The identity provider refused the login "
                                                                    "request. Try again later or choose another way "
                                                                    "to log in."))
        shown = error if _is_vschar(error, 64) else "(unreadable)"
        log.warning("upstream of verifier %s answered error %s", self.id, shown)
        return VerificationFailed("upstream_error", N_("The identity provider could not log you in. Start again, or "
                                                       "choose another way to log in."))

    # --- back channel ---------------------------------------------------------------------------
    def _client_auth(self, token_endpoint: str) -> tuple[dict[str, str], dict[str, str]]:
        """Form fields and headers that authenticate us (OIDC Core §9, RFC 7523 §2.2)."""
        cfg = self.config
        if cfg.client_auth == "client_secret_basic":
            # RFC 6749 §2.3.1: both parts form-urlencoded before base64.
            pair = f"{urlencode({'': cfg.client_id})[1:]}:{urlencode({'': cfg.client_secret})[1:]}"
            return {}, {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode("ascii")}
        if cfg.client_auth == "client_secret_post":
            return {"client_id": cfg.client_id, "client_secret": cfg.client_secret}, {}
        key = cfg.client_key
        issued = int(self._services.now().timestamp())
        assertion = jwt.encode({"alg": key.alg, "kid": key.kid},
                               {"iss": cfg.client_id, "sub": cfg.client_id, "aud": token_endpoint,
                                "jti": secrets.token_urlsafe(24), "iat": issued, "exp": issued + 60},
                               key.key, algorithms=[key.alg])
        return {"client_id": cfg.client_id, "client_assertion": assertion,
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, {}

    def _redeem(self, code: str, verifier: str, token_endpoint: str) -> dict[str, Any]:
        """Exchange the code at the token endpoint (RFC 6749 §4.1.3, RFC 7636 §4.5)."""
        fields, headers = self._client_auth(token_endpoint)
        form = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
                "redirect_uri": self._services.callback_url(self.id), **fields}
        response = fetch_json(self.id, "token", "POST", token_endpoint, self.config.timeout, data=form,
                              headers=headers, accept_statuses=(200, 400, 401))
        if response.status == 200:
            return response.body
        error = response.body.get("error")
        if error == "invalid_grant":
            raise VerificationFailed("upstream_code_rejected", N_("The identity provider did not accept this login; "
                                                                  "it may have expired. Start again."))
        if error in ("invalid_client", "unauthorized_client") or response.status == 401:
            log.error("upstream of verifier %s refused our client authentication", self.id)
            raise SourceUnavailable("upstream_client_rejected", N_("The identity provider refused our service. Try "
                                                                   "again later or choose another way to log in."))
        raise unreachable(self.id, "token", f"status {response.status}, error {error!r:.40}")

    def _userinfo(self, tokens: Mapping[str, Any], endpoint: str, subject: str) -> dict[str, Any]:
        """Read the UserInfo claims; OIDC Core §5.3.4: `sub` must be the ID token's."""
        access_token = tokens.get("access_token")
        if not isinstance(access_token, str) or not _is_vschar(access_token, 8192):
            raise unreachable(self.id, "token", "no usable access_token for userinfo")
        body = fetch_json(self.id, "userinfo", "GET", endpoint, self.config.timeout,
                          headers={"Authorization": f"Bearer {access_token}"}).body
        if body.get("sub") != subject:
            raise VerificationFailed("userinfo_subject_mismatch",
                                     N_("The identity provider gave answers about two different people. Start again."))
        return body
