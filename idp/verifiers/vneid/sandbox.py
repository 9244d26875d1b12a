"""A small OpenID provider standing in for VNeID in development and tests, reached over real HTTP.

Discovery, JWKS (its own key, made at start), an authorization page (pick a demo citizen, or cancel
→ access_denied; PKCE S256 required), a token endpoint (client_secret_basic, client_secret_post,
private_key_jwt) and UserInfo. Everything is in memory. Development only: `python -m
idp.verifiers.vneid.sandbox --port 5001` refuses to run when IDP_ENV is production, and the vneid
verifier refuses `sandbox = true` in production.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import threading
import time
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

from flask import Flask
from flask import request
from flask_babel import Babel
from flask_babel import get_locale
from joserfc import jwt
from joserfc.jwk import ECKey
from joserfc.jwk import RSAKey
from werkzeug.serving import BaseWSGIServer
from werkzeug.serving import WSGIRequestHandler
from werkzeug.serving import make_server

from idp.verifiers.vneid.config import ASYMMETRIC_ALGS
from idp.verifiers.vneid.demo_citizens import DEMO_CITIZENS
from idp.verifiers.vneid.demo_citizens import Citizen
from idp.verifiers.vneid.sandbox_views import TOKEN_TTL
from idp.verifiers.vneid.sandbox_views import register_routes

IDP = Path(__file__).resolve().parents[2]
OUTPUT_CLAIMS = {"personal_id": "personal_id", "full_name": "name", "birthdate": "birthdate", "gender": "gender",
                 "level": "vneid_level"}
UPSTREAM_AMR = {1: ["pwd"], 2: ["pwd", "otp", "mfa"]}  # what the VNeID app asks for at each account level


@dataclass
class SandboxClient:
    """A relying party registered at the sandbox."""

    client_id: str
    redirect_uris: tuple[str, ...]
    auth_method: str = "client_secret_basic"
    secret: str | None = None
    jwks: Mapping[str, Any] | None = None  # public keys for private_key_jwt
    claims_in_id_token: bool = True  # False: personal claims only at UserInfo

    def __repr__(self) -> str:
        return f"SandboxClient(client_id={self.client_id!r}, auth_method={self.auth_method!r})"


@dataclass
class SandboxProvider:
    """The provider's state: keys, clients, citizens, pending requests, codes and access tokens."""

    issuer: str
    clients: dict[str, SandboxClient]
    citizens: dict[str, Citizen]
    alg: str = "ES256"
    claim_names: Mapping[str, str] = field(default_factory=lambda: dict(OUTPUT_CLAIMS))
    keys: list[ECKey | RSAKey] = field(default_factory=list)
    hits: dict[str, int] = field(default_factory=dict)  # requests per endpoint, for tests
    # Tests set this to mint hostile ID tokens: hook(header, claims) -> compact JWT.
    id_token_hook: Callable[[dict[str, Any], dict[str, Any]], str] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    pending: dict[str, dict[str, Any]] = field(default_factory=dict)
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    access_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    used_jtis: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.keys:
            self.rotate_key()

    def __repr__(self) -> str:
        return f"SandboxProvider(issuer={self.issuer!r})"

    def rotate_key(self, keep_old: bool = False) -> str:
        """Make a new signing key (published first); return its kid."""
        key = ECKey.generate_key("P-256") if self.alg == "ES256" else RSAKey.generate_key(2048)
        key = type(key).import_key(key.as_dict(private=True), {"kid": secrets.token_urlsafe(8), "use": "sig",
                                                               "alg": self.alg})
        self.keys = [key] + (self.keys if keep_old else [])
        return key.kid

    def jwks(self) -> dict[str, Any]:
        return {"keys": [key.as_dict(private=False) for key in self.keys]}

    def sign(self, claims: Mapping[str, Any], header: Mapping[str, Any] | None = None) -> str:
        """Sign with the current key (tests use this to build tampered tokens)."""
        key = self.keys[0]
        return jwt.encode({"alg": self.alg, "kid": key.kid, "typ": "JWT", **(header or {})}, dict(claims), key,
                          algorithms=[self.alg])

    def endpoint(self, name: str) -> str:
        return f"{self.issuer.rstrip('/')}/{name}"

    def metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer, "authorization_endpoint": self.endpoint("authorize"),
            "token_endpoint": self.endpoint("token"), "userinfo_endpoint": self.endpoint("userinfo"),
            "jwks_uri": self.endpoint("jwks"), "response_types_supported": ["code"],
            "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": [self.alg],
            "scopes_supported": ["openid", "profile"], "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": list(ASYMMETRIC_ALGS),
            "grant_types_supported": ["authorization_code"],
            "authorization_response_iss_parameter_supported": True,
            "claims_supported": ["sub", *self.claim_names.values()],
        }

    def personal_claims(self, citizen: Citizen) -> dict[str, Any]:
        names = self.claim_names
        return {names["personal_id"]: citizen.personal_id, names["full_name"]: citizen.full_name,
                names["birthdate"]: citizen.birthdate, names["gender"]: citizen.gender, names["level"]: citizen.level}

    def id_token(self, client: SandboxClient, grant: Mapping[str, Any]) -> str:
        citizen, now = grant["citizen"], int(time.time())
        claims = {"iss": self.issuer, "sub": citizen.subject, "aud": client.client_id, "exp": now + TOKEN_TTL,
                  "iat": now, "auth_time": grant["auth_time"], "sid": grant["sid"], "jti": secrets.token_urlsafe(12),
                  "amr": UPSTREAM_AMR.get(citizen.level, ["pwd"])}
        if grant.get("nonce"):
            claims["nonce"] = grant["nonce"]
        if client.claims_in_id_token:
            claims.update(self.personal_claims(citizen))
        if self.id_token_hook is not None:
            return self.id_token_hook({"alg": self.alg, "kid": self.keys[0].kid, "typ": "JWT"}, claims)
        return self.sign(claims)

    def count(self, name: str) -> None:
        with self.lock:
            self.hits[name] = self.hits.get(name, 0) + 1


def create_sandbox_app(issuer: str, clients: Mapping[str, Mapping[str, Any]] | Iterable[SandboxClient],
                       citizens: Iterable[Citizen] = DEMO_CITIZENS, *, alg: str = "ES256",
                       claim_names: Mapping[str, str] | None = None) -> Flask:
    """Build the sandbox provider's own Flask app; `app.extensions["vneid_sandbox"]` is its state."""
    if alg not in ("ES256", "RS256"):
        raise ValueError("the sandbox signs with ES256 or RS256")
    if isinstance(clients, Mapping):
        registered = [SandboxClient(client_id=cid, redirect_uris=tuple(raw["redirect_uris"]),
                                    **{k: v for k, v in raw.items() if k != "redirect_uris"})
                      for cid, raw in clients.items()]
    else:
        registered = list(clients)
    provider = SandboxProvider(issuer=issuer.rstrip("/"), clients={c.client_id: c for c in registered},
                               citizens={c.personal_id: c for c in citizens}, alg=alg,
                               claim_names={**OUTPUT_CLAIMS, **(claim_names or {})})
    app = Flask(__name__, template_folder=str(IDP / "templates"))
    app.extensions["vneid_sandbox"] = provider
    Babel(app, default_translation_directories=str(IDP / "translations"),
          locale_selector=lambda: request.accept_languages.best_match(["vi", "en"]) or "vi")
    app.jinja_env.globals["current_locale"] = lambda: str(get_locale() or "vi")
    register_routes(app, provider)
    return app


# --- serving -------------------------------------------------------------------------------------
class _Dispatch:
    """Lets the server bind a port before the app, whose issuer names that port, exists."""

    app: Flask | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        return self.app(environ, start_response)


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Tests and the conformance driver run many flows: no access log."""


@dataclass
class RunningSandbox:
    """A sandbox served by werkzeug in a background thread (tests, the conformance driver)."""

    issuer: str
    app: Flask
    server: BaseWSGIServer
    thread: threading.Thread

    @property
    def provider(self) -> SandboxProvider:
        return self.app.extensions["vneid_sandbox"]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def start_in_thread(clients: Mapping[str, Mapping[str, Any]] | Iterable[SandboxClient], host: str = "127.0.0.1",
                    port: int = 0, **options: Any) -> RunningSandbox:
    """Serve a sandbox on `host` (port 0: any free port) in a daemon thread."""
    dispatch = _Dispatch()
    server = make_server(host, port, dispatch, threaded=True, request_handler=_QuietHandler)
    issuer = f"http://{host}:{server.port}"
    dispatch.app = create_sandbox_app(issuer, clients, **options)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="vneid-sandbox",
                              daemon=True)
    thread.start()
    return RunningSandbox(issuer=issuer, app=dispatch.app, server=server, thread=thread)


def main(argv: list[str] | None = None) -> None:
    """Serve the sandbox for `make run`: one client, the development redirect URI."""
    parser = argparse.ArgumentParser(prog="python -m idp.verifiers.vneid.sandbox", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5001)
    parser.add_argument("--issuer", help="default: http://<host>:<port>")
    parser.add_argument("--client-id", default="vneid-dev")
    parser.add_argument("--client-secret", default="vneid-sandbox-secret")
    parser.add_argument("--redirect-uri", action="append",
                        help="repeatable; default: http://127.0.0.1:5000/auth/sources/vneid/callback")
    parser.add_argument("--auth-method", default="client_secret_basic",
                        choices=["client_secret_basic", "client_secret_post", "private_key_jwt"])
    parser.add_argument("--client-jwks", type=Path, help="JSON file with the client's public JWK set "
                                                         "(private_key_jwt)")
    parser.add_argument("--alg", default="ES256", choices=["ES256", "RS256"])
    args = parser.parse_args(argv)
    if os.environ.get("IDP_ENV") == "production":
        parser.error("the VNeID sandbox is for development only (IDP_ENV is production)")
    jwks = json.loads(args.client_jwks.read_text(encoding="utf-8")) if args.client_jwks else None
    client = SandboxClient(client_id=args.client_id, auth_method=args.auth_method, jwks=jwks,
                           secret=None if args.auth_method == "private_key_jwt" else args.client_secret,
                           redirect_uris=tuple(args.redirect_uri or
                                               ["http://127.0.0.1:5000/auth/sources/vneid/callback"]))
    issuer = args.issuer or f"http://{args.host}:{args.port}"
    app = create_sandbox_app(issuer, [client], alg=args.alg)
    print(f"VNeID sandbox (development only) at {issuer}; client {args.client_id}, "  # noqa: T201
          f"{args.auth_method}; {len(DEMO_CITIZENS)} demo citizens")
    from werkzeug.serving import run_simple

    run_simple(args.host, args.port, app, threaded=True)


if __name__ == "__main__":
    main()
