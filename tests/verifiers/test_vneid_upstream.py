"""The upstream's front and back channels over real HTTP: authorization responses (errors, RFC 9207
`iss`, state), the token endpoint (client authentication, errors), outages and garbage from a small
hostile upstream, and the health check. docs/sources/vneid.md lists the failure codes."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwt
from joserfc.jwk import ECKey
from joserfc.jwk import OKPKey
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from idp.errors import SourceUnavailable
from idp.errors import VerificationFailed
from idp.verifiers.base import IdentityAssertion
from idp.verifiers.conformance import Harness
from idp.verifiers.vneid import create
from idp.verifiers.vneid.sandbox import RunningSandbox
from idp.verifiers.vneid.sandbox import start_in_thread
from tests.verifiers.drivers.vneid import answer_at_sandbox
from tests.verifiers.drivers.vneid import query
from tests.verifiers.pki import JumpingClock
from tests.verifiers.pki import StallingServer

CALLBACK = Harness().callback_url("vneid")
SECRET = "upstream-secret"


def _pem(private: Any) -> str:
    return private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()).decode()


EC_PRIVATE = ec.generate_private_key(ec.SECP256R1())
RSA_PRIVATE = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _public_jwks(private: Any) -> dict[str, Any]:
    key = (ECKey if isinstance(private, ec.EllipticCurvePrivateKey) else RSAKey).import_key(private)
    return {"keys": [{**key.as_dict(private=False), "kid": key.thumbprint()}]}


@pytest.fixture(scope="module")
def upstream() -> Iterator[RunningSandbox]:
    running = start_in_thread({
        "rp": {"redirect_uris": [CALLBACK], "secret": SECRET},
        "rp-post": {"redirect_uris": [CALLBACK], "secret": SECRET, "auth_method": "client_secret_post"},
        "rp-ec": {"redirect_uris": [CALLBACK], "auth_method": "private_key_jwt", "jwks": _public_jwks(EC_PRIVATE)},
        "rp-rsa": {"redirect_uris": [CALLBACK], "auth_method": "private_key_jwt", "jwks": _public_jwks(RSA_PRIVATE)},
    })
    yield running
    running.stop()


def build(harness: Harness, issuer: str, **extra: Any):  # noqa: ANN201
    settings = {"issuer": issuer, "client_id": "rp", "client_secret": SECRET, "sandbox": True, **extra}
    return create("vneid", {k: v for k, v in settings.items() if v is not None}, harness.services)


def outcome_of(verifier, attempt, params: dict[str, str]) -> IdentityAssertion | Exception:  # noqa: ANN001
    try:
        return verifier.complete(attempt, params)
    except (VerificationFailed, SourceUnavailable) as exc:
        return exc


def at_sandbox(verifier, harness: Harness, action: str = "login", personal_id: str | None = "001090012345"):  # noqa: ANN001, ANN201
    attempt = harness.new_attempt(verifier.id)
    return attempt, query(answer_at_sandbox(verifier.begin(attempt).url, personal_id, action))


def failure(outcome: object, kind: type = VerificationFailed) -> str:
    assert isinstance(outcome, kind), outcome
    return outcome.code


# --- authorization response -------------------------------------------------------------------------------
def test_the_authorization_request_carries_pkce_state_and_nonce(upstream):
    """OIDC Core §3.1.2.1 and RFC 7636 §4.3: S256 challenge of a fresh verifier, state = attempt id, nonce."""
    harness = Harness()
    verifier = build(harness, upstream.issuer, authorize_params={"ui_locales": "vi", "acr_values": "level2"})
    attempt = harness.new_attempt("vneid")
    sent = query(verifier.begin(attempt).url)
    assert sent["state"] == attempt.id == attempt.data["state"]
    assert sent["nonce"] == attempt.data["nonce"] and sent["code_challenge_method"] == "S256"
    assert sent["code_challenge"] != attempt.data["code_verifier"] and len(sent["code_challenge"]) == 43
    assert sent["redirect_uri"] == CALLBACK and sent["ui_locales"] == "vi" and sent["acr_values"] == "level2"
    other = harness.new_attempt("vneid")
    verifier.begin(other)
    assert other.data["code_verifier"] != attempt.data["code_verifier"] and other.data["nonce"] != sent["nonce"]


def test_cancel_is_the_cancelled_failure(upstream):
    harness = Harness()
    verifier = build(harness, upstream.issuer)
    attempt, params = at_sandbox(verifier, harness, action="cancel", personal_id=None)
    outcome = outcome_of(verifier, attempt, params)
    assert failure(outcome) == "cancelled" and "cancelled" in outcome.message


@pytest.mark.parametrize(("error", "code", "kind"), [
    ("login_required", "upstream_interaction_required", VerificationFailed),
    ("consent_required", "upstream_interaction_required", VerificationFailed),
    ("server_error", "upstream_unavailable", SourceUnavailable),
    ("temporarily_unavailable", "upstream_unavailable", SourceUnavailable),
    ("invalid_request", "upstream_refused_request", SourceUnavailable),
    ("unauthorized_client", "upstream_refused_request", SourceUnavailable),
    ("something_new", "upstream_error", VerificationFailed),
    ("\x00<script>" * 100, "upstream_error", VerificationFailed),
])
def test_other_upstream_errors_have_their_own_outcome(upstream, error, code, kind):
    """RFC 6749 §4.1.2.1 / OIDC Core §3.1.2.6 error codes, each with its own message."""
    harness = Harness()
    verifier = build(harness, upstream.issuer)
    attempt = harness.new_attempt("vneid")
    verifier.begin(attempt)
    outcome = outcome_of(verifier, attempt, {"state": attempt.id, "error": error, "iss": upstream.issuer})
    assert failure(outcome, kind) == code


def test_state_must_be_the_attempts_and_a_wrong_one_does_not_use_it_up(upstream):
    """RFC 6749 §10.12: a callback whose state differs is refused; the real callback still works."""
    harness = Harness()
    verifier = build(harness, upstream.issuer)
    attempt, params = at_sandbox(verifier, harness)
    for state in (params["state"] + "A", "", "\x00", "9" * 20_000):
        assert failure(outcome_of(verifier, attempt, {**params, "state": state})) == "state_mismatch"
    assert failure(outcome_of(verifier, attempt, {k: v for k, v in params.items() if k != "state"})) == \
        "state_mismatch"
    assert isinstance(outcome_of(verifier, attempt, params), IdentityAssertion)
    assert failure(outcome_of(verifier, attempt, params)) == "attempt_used"


def test_a_failed_callback_uses_the_attempt_up(upstream):
    """After one callback with the right state, the attempt is spent even if that callback failed."""
    harness = Harness()
    verifier = build(harness, upstream.issuer)
    attempt, params = at_sandbox(verifier, harness)
    assert failure(outcome_of(verifier, attempt, {**params, "code": "wrong"})) == "upstream_code_rejected"
    assert failure(outcome_of(verifier, attempt, params)) == "attempt_used"


def test_an_attempt_that_never_began_or_expired(upstream):
    harness = Harness()
    verifier = build(harness, upstream.issuer)
    fresh = harness.new_attempt("vneid")
    assert failure(outcome_of(verifier, fresh, {"state": fresh.id, "code": "x"})) == "attempt_used"
    attempt, params = at_sandbox(verifier, harness)
    harness.clock.advance(timedelta(minutes=16))
    assert failure(outcome_of(verifier, attempt, params)) == "attempt_expired"


@pytest.mark.parametrize("code", ["", "a" * 2049, "co\x00de", "mã-đăng-nhập"])
def test_malformed_codes_never_reach_the_token_endpoint(upstream, code):
    harness = Harness()
    verifier = build(harness, upstream.issuer)
    attempt, params = at_sandbox(verifier, harness)
    before = upstream.provider.hits.get("token", 0)
    assert failure(outcome_of(verifier, attempt, {**params, "code": code})) == "callback_malformed"
    assert upstream.provider.hits.get("token", 0) == before


def test_iss_in_the_response_must_be_the_issuer(upstream):
    """RFC 9207 §2.4: a different `iss` (mix-up attack) is refused; when the upstream announces
    authorization_response_iss_parameter_supported, a missing `iss` is refused too."""
    harness = Harness()
    verifier = build(harness, upstream.issuer)
    attempt, params = at_sandbox(verifier, harness)
    assert failure(outcome_of(verifier, attempt, {**params, "iss": "https://attacker.example"})) == "iss_mismatch"
    attempt, params = at_sandbox(verifier, harness)
    del params["iss"]
    assert failure(outcome_of(verifier, attempt, params)) == "iss_missing"


def test_without_discovery_iss_is_checked_only_when_configured(upstream):
    """Explicit endpoints: `iss` is optional unless require_iss = true; a present one is always compared."""
    endpoints = {"discovery": False, "authorization_endpoint": upstream.issuer + "/authorize",
                 "token_endpoint": upstream.issuer + "/token", "jwks_uri": upstream.issuer + "/jwks"}
    harness = Harness()
    verifier = build(harness, upstream.issuer, **endpoints)
    before = upstream.provider.hits.get("discovery", 0)
    attempt, params = at_sandbox(verifier, harness)
    del params["iss"]
    assert isinstance(outcome_of(verifier, attempt, params), IdentityAssertion)
    assert upstream.provider.hits.get("discovery", 0) == before  # never asked
    strict = build(harness, upstream.issuer, require_iss=True, **endpoints)
    attempt, params = at_sandbox(strict, harness)
    del params["iss"]
    assert failure(outcome_of(strict, attempt, params)) == "iss_missing"


# --- token endpoint and client authentication --------------------------------------------------------
@pytest.mark.parametrize(("client_id", "extra"), [
    ("rp", {}),
    ("rp-post", {"client_auth": "client_secret_post"}),
])
def test_client_secret_methods(upstream, client_id, extra):
    """OIDC Core §9: client_secret_basic (the default) and client_secret_post."""
    harness = Harness()
    verifier = build(harness, upstream.issuer, client_id=client_id, **extra)
    attempt, params = at_sandbox(verifier, harness)
    assert isinstance(outcome_of(verifier, attempt, params), IdentityAssertion)


@pytest.mark.parametrize("private", [EC_PRIVATE, RSA_PRIVATE], ids=["ES256", "RS256"])
def test_private_key_jwt_from_a_pem_file(upstream, tmp_path: Path, private):
    """RFC 7523 §2.2 / OIDC Core §9: a JWT signed with our key (kid = RFC 7638 thumbprint by default)."""
    path = tmp_path / "client.pem"
    path.write_text(_pem(private))
    harness = Harness()
    client_id = "rp-ec" if private is EC_PRIVATE else "rp-rsa"
    verifier = build(harness, upstream.issuer, client_id=client_id, client_secret=None, client_auth="private_key_jwt",
                     private_key=str(path))
    attempt, params = at_sandbox(verifier, harness)
    assert isinstance(outcome_of(verifier, attempt, params), IdentityAssertion)
    assert "BEGIN" not in repr(verifier.config) and "BEGIN" not in repr(verifier.config.client_key)


def test_private_key_jwt_with_a_key_the_upstream_does_not_know(upstream):
    harness = Harness()
    verifier = build(harness, upstream.issuer, client_id="rp-ec", client_secret=None, client_auth="private_key_jwt",
                     private_key=_pem(ec.generate_private_key(ec.SECP256R1())))
    attempt, params = at_sandbox(verifier, harness)
    assert failure(outcome_of(verifier, attempt, params), SourceUnavailable) == "upstream_client_rejected"


@pytest.mark.parametrize(("extra", "code"), [
    ({"client_secret": "wrong"}, "upstream_client_rejected"),
    ({"client_auth": "client_secret_post"}, "upstream_client_rejected"),  # not the registered method
])
def test_the_upstream_refusing_our_client_is_an_outage(upstream, extra, code):
    """invalid_client is our configuration, not the person's fault: SourceUnavailable, logged."""
    harness = Harness()
    verifier = build(harness, upstream.issuer, **extra)
    attempt, params = at_sandbox(verifier, harness)
    assert failure(outcome_of(verifier, attempt, params), SourceUnavailable) == code


# --- a hostile or broken upstream --------------------------------------------------------------------
class Hostile:
    """A tiny upstream whose every answer a test chooses: path -> function(request) -> Response."""

    def __init__(self) -> None:
        self.routes: dict[str, Callable[[Request], Response]] = {}
        self.server = make_server("127.0.0.1", 0, self, threaded=True)
        self.issuer = f"http://127.0.0.1:{self.server.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        handler = self.routes.get(request.path)
        response = handler(request) if handler else Response("not found", 404)
        return response(environ, start_response)

    def metadata(self, **changes: Any) -> dict[str, Any]:
        document = {"issuer": self.issuer, "authorization_endpoint": self.issuer + "/authorize",
                    "token_endpoint": self.issuer + "/token", "jwks_uri": self.issuer + "/jwks"}
        return {k: v for k, v in {**document, **changes}.items() if v is not None}

    def answer(self, path: str, body: Any, status: int = 200, content_type: str = "application/json") -> None:
        data = body if isinstance(body, bytes | str) else json.dumps(body)
        self.routes[path] = lambda request: Response(data, status, content_type=content_type)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture(scope="module")
def hostile_server() -> Iterator[Hostile]:
    server = Hostile()
    yield server
    server.stop()


@pytest.fixture
def hostile(hostile_server: Hostile) -> Hostile:
    hostile_server.routes.clear()
    return hostile_server


def _generate_big() -> Iterator[bytes]:
    for _ in range(400):
        yield b" " * 1024


@pytest.mark.parametrize("set_up", [
    lambda h: h.answer("/.well-known/openid-configuration", {"error": "boom"}, 500),
    lambda h: h.answer("/.well-known/openid-configuration", {}, 503),
    lambda h: h.answer("/.well-known/openid-configuration", "<html>maintenance</html>", 200, "text/html"),
    lambda h: h.answer("/.well-known/openid-configuration", b"\xff\xfe\x00garbage"),
    lambda h: h.answer("/.well-known/openid-configuration", ["a", "list"]),
    lambda h: h.answer("/.well-known/openid-configuration", {"padding": "x" * 300_000}),
    lambda h: h.routes.update({"/.well-known/openid-configuration": lambda r: Response(_generate_big())}),
    lambda h: h.routes.update({"/.well-known/openid-configuration": lambda r: Response(
        "", 302, headers={"Location": "http://127.0.0.1:1/"})}),
    lambda h: h.answer("/.well-known/openid-configuration", h.metadata(issuer="https://other.example")),
    lambda h: h.answer("/.well-known/openid-configuration", h.metadata(token_endpoint=None)),
    lambda h: h.answer("/.well-known/openid-configuration", h.metadata(token_endpoint=42)),
    lambda h: h.answer("/.well-known/openid-configuration", h.metadata(token_endpoint="http://evil.example/t")),
    lambda h: h.answer("/.well-known/openid-configuration", "[" * 100_000),
], ids=["500", "503", "html", "bytes", "list", "too-large", "too-large-chunked", "redirect", "other-issuer",
        "no-token-endpoint", "endpoint-not-a-string", "plain-http-elsewhere", "deeply-nested"])
def test_unusable_discovery_is_an_outage(hostile, set_up):
    """Unreachable, 5xx, garbage, oversized, redirected or inconsistent discovery: SourceUnavailable
    (OIDC Discovery §4.3: the issuer must match), and the health check says down."""
    set_up(hostile)
    harness = Harness()
    verifier = create("vneid", {"issuer": hostile.issuer, "client_id": "rp", "client_secret": "s"}, harness.services)
    with pytest.raises(SourceUnavailable) as info:
        verifier.begin(harness.new_attempt("vneid"))
    assert info.value.code == "upstream_unavailable" and info.value.status == 503
    assert verifier.is_healthy() is False


def test_health_follows_the_discovery_document(hostile):
    """HealthReporting: up when the discovery document answers, down otherwise."""
    harness = Harness()
    verifier = create("vneid", {"issuer": hostile.issuer, "client_id": "rp", "client_secret": "s"}, harness.services)
    assert verifier.is_healthy() is False
    hostile.answer("/.well-known/openid-configuration", hostile.metadata())
    assert verifier.is_healthy() is True
    hostile.answer("/.well-known/openid-configuration", {}, 502)
    assert verifier.is_healthy() is False


def test_connection_refused_and_timeout_are_outages():
    """Nobody listening, or a peer that never answers (bounded by `timeout`): SourceUnavailable."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        refused = closed.getsockname()[1]
    harness = Harness()
    verifier = create("vneid", {"issuer": f"http://127.0.0.1:{refused}", "client_id": "rp", "client_secret": "s"},
                      harness.services)
    with pytest.raises(SourceUnavailable):
        verifier.begin(harness.new_attempt("vneid"))
    assert verifier.is_healthy() is False
    with socket.socket() as silent:  # accepts connections into its backlog, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        port = silent.getsockname()[1]
        slow = create("vneid", {"issuer": f"http://127.0.0.1:{port}", "client_id": "rp", "client_secret": "s",
                                "timeout": 0.2}, harness.services)
        with pytest.raises(SourceUnavailable):
            slow.begin(harness.new_attempt("vneid"))


def test_an_upstream_that_stalls_mid_answer_is_abandoned_at_the_deadline(monkeypatch, caplog):
    """The answer's deadline is checked after every socket read, not after a full 16 KiB chunk that a
    server dripping bytes (each within the read timeout) could delay for hours."""
    from idp.verifiers.vneid import http

    monkeypatch.setattr(http, "time", JumpingClock())
    with StallingServer("application/json") as server, pytest.raises(SourceUnavailable):
        http.fetch_json("vneid", "jwks", "GET", server.url, 5)
    assert "too large or too slow" in caplog.text


@pytest.mark.parametrize(("status", "body", "code", "kind"), [
    (500, {"error": "server_error"}, "upstream_unavailable", SourceUnavailable),
    (502, "<html>bad gateway</html>", "upstream_unavailable", SourceUnavailable),
    (200, "not json", "upstream_unavailable", SourceUnavailable),
    (400, {"error": "invalid_grant"}, "upstream_code_rejected", VerificationFailed),
    (401, {"error": "invalid_client"}, "upstream_client_rejected", SourceUnavailable),
    (400, {"error": "unauthorized_client"}, "upstream_client_rejected", SourceUnavailable),
    (400, {"error": "invalid_request"}, "upstream_unavailable", SourceUnavailable),
    (400, "plain text", "upstream_unavailable", SourceUnavailable),
    (200, {"access_token": "a", "token_type": "Bearer"}, "id_token_malformed", VerificationFailed),
    (200, {"id_token": 12345}, "id_token_malformed", VerificationFailed),
])
def test_token_endpoint_answers(hostile, status, body, code, kind):
    """RFC 6749 §5.2: invalid_grant is the person's (start again); invalid_client and 5xx are ours/outages."""
    hostile.answer("/.well-known/openid-configuration", hostile.metadata(
        authorization_response_iss_parameter_supported=True))
    hostile.answer("/token", body, status)
    harness = Harness()
    verifier = create("vneid", {"issuer": hostile.issuer, "client_id": "rp", "client_secret": "s"}, harness.services)
    attempt = harness.new_attempt("vneid")
    verifier.begin(attempt)
    outcome = outcome_of(verifier, attempt, {"state": attempt.id, "code": "abc", "iss": hostile.issuer})
    assert failure(outcome, kind) == code


def test_a_jwks_that_is_garbage_is_an_outage(hostile, upstream):
    """The token is real, but the upstream's JWKS is unusable: SourceUnavailable, not a crash."""
    token = upstream.provider.sign({"iss": hostile.issuer, "sub": "s", "aud": "rp", "exp": 2**40, "iat": 1})
    hostile.answer("/.well-known/openid-configuration", hostile.metadata())
    hostile.answer("/token", {"id_token": token})
    hostile.answer("/jwks", {"keys": "none"})
    harness = Harness()
    verifier = create("vneid", {"issuer": hostile.issuer, "client_id": "rp", "client_secret": "s"}, harness.services)
    attempt = harness.new_attempt("vneid")
    verifier.begin(attempt)
    assert failure(outcome_of(verifier, attempt, {"state": attempt.id, "code": "abc"}), SourceUnavailable) == \
        "upstream_unavailable"


def test_symmetric_and_private_jwks_entries_are_never_used(hostile, upstream):
    """An `oct` key or private key material in the JWKS is skipped: the token's kid stays unknown."""
    key = upstream.provider.keys[0]
    token = upstream.provider.sign({"iss": hostile.issuer, "sub": "s", "aud": "rp", "exp": 2**40, "iat": 1})
    hostile.answer("/.well-known/openid-configuration", hostile.metadata())
    hostile.answer("/token", {"id_token": token})
    hostile.answer("/jwks", {"keys": [key.as_dict(private=True), {"kty": "oct", "k": "c2VjcmV0", "kid": key.kid},
                                      "junk", {"kty": "EC", "kid": "broken"}]})
    harness = Harness()
    verifier = create("vneid", {"issuer": hostile.issuer, "client_id": "rp", "client_secret": "s"}, harness.services)
    attempt = harness.new_attempt("vneid")
    verifier.begin(attempt)
    assert failure(outcome_of(verifier, attempt, {"state": attempt.id, "code": "abc"})) == "id_token_key_unknown"


@pytest.mark.parametrize(("alg", "make_key"), [
    ("PS256", lambda: RSAKey.generate_key(2048)),
    ("ES384", lambda: ECKey.generate_key("P-384")),
    ("ES512", lambda: ECKey.generate_key("P-521")),
    ("Ed25519", lambda: OKPKey.generate_key("Ed25519")),
])
def test_other_asymmetric_algorithms_verify(hostile, alg, make_key):
    """Any accepted asymmetric alg works with a key of the matching type and curve (RFC 7518 §3.1)."""
    key = make_key()
    public = {**key.as_dict(private=False), "kid": "k1"}
    hostile.answer("/.well-known/openid-configuration", hostile.metadata())
    hostile.answer("/jwks", {"keys": [public]})
    harness = Harness()
    verifier = create("vneid", {"issuer": hostile.issuer, "client_id": "rp", "client_secret": "s"}, harness.services)
    attempt = harness.new_attempt("vneid")
    verifier.begin(attempt)
    now = int(harness.clock().timestamp())
    claims = {"iss": hostile.issuer, "sub": "u1", "aud": "rp", "iat": now, "exp": now + 300,
              "nonce": attempt.data["nonce"], "personal_id": "001090012345", "vneid_level": 1}
    hostile.answer("/token", {"id_token": jwt.encode({"alg": alg, "kid": "k1"}, claims, key, algorithms=[alg])})
    outcome = outcome_of(verifier, attempt, {"state": attempt.id, "code": "abc"})
    assert isinstance(outcome, IdentityAssertion) and outcome.subject == "u1"


def test_an_https_upstream_may_not_point_its_endpoints_at_plain_http_on_this_machine(monkeypatch):
    """Loopback http is allowed for an upstream on this machine; an https upstream's discovery document
    naming http://127.0.0.1 would have us post our code and client secret to a local service."""
    from idp.verifiers.vneid import upstream as upstream_module
    from idp.verifiers.vneid.http import JsonResponse

    issuer = "https://vneid.example"
    document = {"issuer": issuer, "authorization_endpoint": issuer + "/authorize",
                "token_endpoint": "http://127.0.0.1:9/internal", "jwks_uri": issuer + "/jwks"}
    monkeypatch.setattr(upstream_module, "fetch_json", lambda *args, **kwargs: JsonResponse(200, document))
    harness = Harness()
    verifier = create("vneid", {"issuer": issuer, "client_id": "rp", "client_secret": "s"}, harness.services)
    with pytest.raises(SourceUnavailable):
        verifier.begin(harness.new_attempt("vneid"))
    document["token_endpoint"] = issuer + "/token"
    assert verifier.begin(harness.new_attempt("vneid")).url.startswith(issuer + "/authorize?")
