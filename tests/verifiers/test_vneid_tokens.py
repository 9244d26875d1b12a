"""The upstream ID token check (OpenID Connect Core 1.0 §3.1.3.7) against a real sandbox over HTTP.

The sandbox mints each hostile token through its `id_token_hook`, so every token below really
travels through the token endpoint, and its keys through the JWKS endpoint.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey
from joserfc.jwk import OctKey

from idp.errors import SourceUnavailable
from idp.errors import VerificationFailed
from idp.verifiers.base import IdentityAssertion
from idp.verifiers.conformance import Harness
from idp.verifiers.vneid import create
from idp.verifiers.vneid.jwks import JwksCache
from idp.verifiers.vneid.sandbox import RunningSandbox
from idp.verifiers.vneid.sandbox import start_in_thread
from idp.verifiers.vneid.sandbox_views import TOKEN_TTL
from tests.verifiers.drivers.vneid import answer_at_sandbox
from tests.verifiers.drivers.vneid import query

CALLBACK = Harness().callback_url("vneid")
SECRET = "tokens-secret"


@pytest.fixture(scope="module")
def upstream() -> Iterator[RunningSandbox]:
    running = start_in_thread({"rp": {"redirect_uris": [CALLBACK], "secret": SECRET}})
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def _honest_again(upstream: RunningSandbox) -> Iterator[None]:
    yield
    upstream.provider.id_token_hook = None


def build(harness: Harness, upstream: RunningSandbox, **extra: Any):  # noqa: ANN201
    return create("vneid", {"issuer": upstream.issuer, "client_id": "rp", "client_secret": SECRET, "sandbox": True,
                            **extra}, harness.services)


def login(verifier, harness: Harness, personal_id: str = "001090012345",  # noqa: ANN001
          advance: timedelta | None = None) -> IdentityAssertion | Exception:
    """begin → the sandbox page → complete; the outcome or the VerificationFailed/SourceUnavailable."""
    attempt = harness.new_attempt(verifier.id)
    params = query(answer_at_sandbox(verifier.begin(attempt).url, personal_id))
    if advance:
        harness.clock.advance(advance)
    try:
        return verifier.complete(attempt, params)
    except (VerificationFailed, SourceUnavailable) as exc:
        return exc


def code_of(outcome: IdentityAssertion | Exception) -> str:
    assert isinstance(outcome, VerificationFailed), outcome
    return outcome.code


def tamper(upstream: RunningSandbox, **changes: Any) -> None:
    """Have the sandbox sign ID tokens with these claims changed (None removes a claim)."""
    def hook(header: dict[str, Any], claims: dict[str, Any]) -> str:
        for name, value in changes.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value(claims) if callable(value) else value
        return upstream.provider.sign(claims)

    upstream.provider.id_token_hook = hook


def raw_token(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return ".".join((part(json.dumps(header).encode()), part(json.dumps(claims).encode()), part(signature)))


def test_an_honest_token_gives_the_assertion(upstream):
    """The baseline the hostile cases differ from: same sandbox, same client, an assertion."""
    outcome = login(build(Harness(), upstream), Harness())
    assert isinstance(outcome, IdentityAssertion) and outcome.claims["personal_id"] == "001090012345"


@pytest.mark.parametrize(("changes", "code"), [
    ({"nonce": "another-login"}, "id_token_nonce"),
    ({"nonce": None}, "id_token_nonce"),
    ({"iss": "https://idp.example.com"}, "id_token_issuer"),
    ({"iss": None}, "id_token_issuer"),
    ({"aud": "another-client"}, "id_token_audience"),
    ({"aud": ["rp", "another-client"]}, "id_token_audience"),  # several audiences and no azp
    ({"azp": "another-client"}, "id_token_audience"),
    ({"aud": 12}, "id_token_audience"),
    ({"exp": lambda c: c["iat"] - 3600}, "id_token_expired"),
    ({"iat": lambda c: c["iat"] - 3600}, "id_token_expired"),  # issued too long ago
    ({"iat": lambda c: c["iat"] + 3600}, "id_token_not_yet_valid"),
    ({"nbf": lambda c: c["iat"] + 3600}, "id_token_not_yet_valid"),
    ({"exp": "tomorrow"}, "id_token_malformed"),
    ({"exp": None}, "id_token_malformed"),
    ({"sub": None}, "id_token_malformed"),
    ({"sub": "x" * 256}, "id_token_malformed"),
    # JSON as Python reads it: NaN compares false with everything, so it would pass every time check.
    ({"exp": float("nan"), "iat": float("nan")}, "id_token_malformed"),
    ({"exp": float("inf")}, "id_token_malformed"),
    ({"exp": 10 ** 400}, "id_token_malformed"),  # too large for a float: OverflowError
])
def test_claims_of_the_id_token_are_checked(upstream, changes, code):
    """OIDC Core §3.1.3.7: iss exact, aud contains us, azp when several audiences, exp/iat/nbf, nonce, sub."""
    tamper(upstream, **changes)
    harness = Harness()
    assert code_of(login(build(harness, upstream), harness)) == code


def test_several_audiences_with_our_azp_are_accepted(upstream):
    """OIDC Core §3.1.3.7 items 3-5: other audiences are fine when azp names us."""
    tamper(upstream, aud=["rp", "another-client"], azp="rp")
    harness = Harness()
    assert isinstance(login(build(harness, upstream), harness), IdentityAssertion)


def test_expiry_follows_the_injected_clock_with_leeway(upstream):
    """exp is compared with services.now(); a small leeway absorbs clock skew, no more."""
    harness = Harness()
    verifier = build(harness, upstream, leeway=60)
    assert isinstance(login(verifier, harness, advance=timedelta(seconds=TOKEN_TTL + 30)), IdentityAssertion)
    harness = Harness()
    verifier = build(harness, upstream, leeway=60)
    assert code_of(login(verifier, harness, advance=timedelta(seconds=TOKEN_TTL + 61))) == "id_token_expired"


def test_a_signature_by_another_key_fails(upstream):
    """The signature must verify with the key the upstream publishes under that kid."""
    forger = ECKey.generate_key("P-256")
    upstream.provider.id_token_hook = lambda header, claims: jwt.encode(header, claims, forger)
    harness = Harness()
    assert code_of(login(build(harness, upstream), harness)) == "id_token_signature"


def test_a_changed_payload_fails_the_signature(upstream):
    def hook(header: dict[str, Any], claims: dict[str, Any]) -> str:
        head, _, signature = upstream.provider.sign(claims).split(".")
        forged = base64.urlsafe_b64encode(json.dumps({**claims, "vneid_level": 2}).encode()).rstrip(b"=").decode()
        return f"{head}.{forged}.{signature}"

    upstream.provider.id_token_hook = hook
    harness = Harness()
    assert code_of(login(build(harness, upstream), harness, "079185000123")) == "id_token_signature"


def test_alg_none_is_refused(upstream):
    """RFC 8725 §3.1: `none` is never accepted, whatever the key set."""
    upstream.provider.id_token_hook = lambda header, claims: raw_token({"alg": "none", "typ": "JWT"}, claims)
    harness = Harness()
    assert code_of(login(build(harness, upstream), harness)) == "id_token_alg"


def test_hs256_is_refused_even_with_the_public_key_as_secret(upstream):
    """RFC 8725 §2.1: the key-confusion attack (HMAC keyed with the published public key) fails."""
    public = json.dumps(upstream.provider.jwks()["keys"][0]).encode()

    def hook(header: dict[str, Any], claims: dict[str, Any]) -> str:
        return jwt.encode({**header, "alg": "HS256"}, claims, OctKey.import_key(public), algorithms=["HS256"])

    upstream.provider.id_token_hook = hook
    harness = Harness()
    assert code_of(login(build(harness, upstream), harness)) == "id_token_alg"


def test_an_algorithm_outside_the_configured_list_is_refused(upstream):
    harness = Harness()
    assert code_of(login(build(harness, upstream, id_token_algs=["RS256"]), harness)) == "id_token_alg"


_NESTED = base64.urlsafe_b64encode(b"[" * 10_000).rstrip(b"=").decode()


@pytest.mark.parametrize("token", ["", "not-a-jwt", "a.b.c", "a.b.c.d.e", "é.b.c", "x" * 20_000,
                                   f"{_NESTED}.e30.sig"])
def test_unreadable_id_tokens(upstream, token):
    upstream.provider.id_token_hook = lambda header, claims: token
    harness = Harness()
    assert code_of(login(build(harness, upstream), harness)) == "id_token_malformed"


def test_key_rotation_upstream_is_followed_with_one_refetch(upstream):
    """An unknown kid makes the module fetch the JWKS again, once, then verify with the new key."""
    harness = Harness()
    verifier = build(harness, upstream)
    assert isinstance(login(verifier, harness), IdentityAssertion)
    fetched = upstream.provider.hits["jwks"]
    assert isinstance(login(verifier, harness), IdentityAssertion)
    assert upstream.provider.hits["jwks"] == fetched  # cached
    upstream.provider.rotate_key()
    assert isinstance(login(verifier, harness), IdentityAssertion)
    assert upstream.provider.hits["jwks"] == fetched + 1


def test_a_kid_the_upstream_never_published_fails_after_one_refetch(upstream):
    harness = Harness()
    verifier = build(harness, upstream)
    assert isinstance(login(verifier, harness), IdentityAssertion)
    fetched = upstream.provider.hits["jwks"]
    upstream.provider.id_token_hook = lambda header, claims: upstream.provider.sign(claims, {"kid": "not-published"})
    assert code_of(login(verifier, harness)) == "id_token_key_unknown"
    assert upstream.provider.hits["jwks"] == fetched + 1


def test_a_token_without_kid_uses_the_only_suitable_key(upstream):
    def hook(header: dict[str, Any], claims: dict[str, Any]) -> str:
        return jwt.encode({"alg": "ES256"}, claims, upstream.provider.keys[0])

    upstream.provider.id_token_hook = hook
    harness = Harness()
    assert isinstance(login(build(harness, upstream), harness), IdentityAssertion)


def test_jwks_cache_expires_after_its_ttl(upstream):
    """Keys are kept cache_ttl seconds (services.now()), then fetched again."""
    harness = Harness()
    cache = JwksCache("vneid", harness.clock, ttl=300, timeout=2)
    jwks_uri = upstream.issuer + "/jwks"
    kid = upstream.provider.keys[0].kid
    before = upstream.provider.hits.get("jwks", 0)
    assert cache.key_for(jwks_uri, kid, "ES256") is not None
    assert cache.key_for(jwks_uri, kid, "ES256") is not None
    assert upstream.provider.hits["jwks"] == before + 1
    harness.clock.advance(timedelta(seconds=301))
    assert cache.key_for(jwks_uri, kid, "ES256") is not None
    assert upstream.provider.hits["jwks"] == before + 2
    assert cache.key_for(jwks_uri, kid, "RS256") is None  # an EC key never verifies RS256
    assert "keys=" in repr(cache)


def test_rsa_signing_upstream(upstream):
    """RS256 works as well as ES256 (the default id_token_algs accept both)."""
    rsa = start_in_thread({"rp": {"redirect_uris": [CALLBACK], "secret": SECRET}}, alg="RS256")
    try:
        harness = Harness()
        verifier = create("vneid", {"issuer": rsa.issuer, "client_id": "rp", "client_secret": SECRET,
                                    "sandbox": True}, harness.services)
        assert isinstance(login(verifier, harness), IdentityAssertion)
    finally:
        rsa.stop()


def test_sandbox_tokens_carry_what_the_check_needs(upstream):
    """The sandbox's honest token: signed ES256 with a published kid, lifetime TOKEN_TTL."""
    seen: list[dict[str, Any]] = []

    def hook(header: dict[str, Any], claims: dict[str, Any]) -> str:
        seen.append(claims)
        return upstream.provider.sign(claims)

    upstream.provider.id_token_hook = hook
    harness = Harness()
    login(build(harness, upstream), harness)
    [claims] = seen
    assert claims["exp"] - claims["iat"] == TOKEN_TTL and claims["aud"] == "rp" and claims["nonce"]
