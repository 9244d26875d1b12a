"""From upstream claims to our assertion: claim names, the account level map, `amr`, evidence, and a
second, differently configured instance of the same kind (a ministry's own OpenID provider).

docs/assurance.md: VNeID level 1 → substantial, level 2 → high by default, capped by max_level.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import RSAKey

from idp.accounts.linking import linked_sources
from idp.accounts.service import find_account
from idp.errors import SourceUnavailable
from idp.errors import VerificationFailed
from idp.verifiers.base import IdentityAssertion
from idp.verifiers.base import Level
from idp.verifiers.conformance import Harness
from idp.verifiers.vneid import create
from idp.verifiers.vneid.sandbox import RunningSandbox
from idp.verifiers.vneid.sandbox import start_in_thread
from tests.conftest import decode_with_jwks
from tests.conftest import dispose
from tests.conftest import query_of
from tests.verifiers.drivers.vneid import answer_at_sandbox
from tests.verifiers.drivers.vneid import query

CALLBACK = Harness().callback_url("vneid")
MINISTRY_CALLBACK = Harness().callback_url("moh")
SECRET = "claims-secret"
MINISTRY_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
MINISTRY_PEM = MINISTRY_KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()).decode()
MINISTRY_CLAIMS = {"personal_id": "so_dinh_danh", "full_name": "ho_ten", "birthdate": "ngay_sinh",
                   "gender": "gioi_tinh", "level": "loa"}


@pytest.fixture(scope="module")
def upstream() -> Iterator[RunningSandbox]:
    running = start_in_thread({"rp": {"redirect_uris": [CALLBACK], "secret": SECRET}})
    yield running
    running.stop()


@pytest.fixture(scope="module")
def ministry() -> Iterator[RunningSandbox]:
    """A ministry's provider: RS256, its own claim names, personal claims only at UserInfo,
    private_key_jwt clients."""
    public = RSAKey.import_key(MINISTRY_KEY)
    jwks = {"keys": [{**public.as_dict(private=False), "kid": public.thumbprint()}]}
    running = start_in_thread({"sso": {"redirect_uris": [MINISTRY_CALLBACK], "auth_method": "private_key_jwt",
                                       "jwks": jwks, "claims_in_id_token": False}},
                              alg="RS256", claim_names=MINISTRY_CLAIMS)
    yield running
    running.stop()


def ministry_settings(issuer: str) -> dict[str, Any]:
    return {"kind": "vneid", "sandbox": True, "issuer": issuer, "client_id": "sso", "client_auth": "private_key_jwt",
            "private_key": MINISTRY_PEM, "userinfo": True, "claims": MINISTRY_CLAIMS,
            "level_map": {"1": "low", "2": "substantial"}, "amr": "moh", "report_vn_eid_level": False,
            "names": {"vi": "Tài khoản Bộ Y tế", "en": "Ministry of Health account"}}


@pytest.fixture(autouse=True)
def _honest_again(upstream: RunningSandbox) -> Iterator[None]:
    yield
    upstream.provider.id_token_hook = None


def login(upstream: RunningSandbox, personal_id: str = "001090012345", verifier_id: str = "vneid",
          **settings: Any) -> IdentityAssertion | Exception:
    harness = Harness()
    base = {"issuer": upstream.issuer, "client_id": "rp", "client_secret": SECRET, "sandbox": True}
    verifier = create(verifier_id, {**base, **settings}, harness.services)
    attempt = harness.new_attempt(verifier_id)
    params = query(answer_at_sandbox(verifier.begin(attempt).url, personal_id))
    try:
        return verifier.complete(attempt, params)
    except (VerificationFailed, SourceUnavailable) as exc:
        return exc


def with_claims(upstream: RunningSandbox, **changes: Any) -> None:
    def hook(header: dict[str, Any], claims: dict[str, Any]) -> str:
        for name, value in changes.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        return upstream.provider.sign(claims)

    upstream.provider.id_token_hook = hook


def test_level_2_maps_to_high_with_the_verified_claims(upstream):
    result = login(upstream, "001090012345")
    citizen = upstream.provider.citizens["001090012345"]
    assert result.level == Level.HIGH and result.extra == {"vn_eid_level": 2}
    assert result.claims == {"personal_id": "001090012345", "full_name": "Nguyễn Văn An", "birthdate": "1990-03-15",
                             "gender": "male"}
    assert result.subject == citizen.subject and result.source == "vneid"
    assert result.verified_at.tzinfo is not None


def test_level_1_maps_to_substantial(upstream):
    result = login(upstream, "079185000123")
    assert result.level == Level.SUBSTANTIAL and result.extra == {"vn_eid_level": 1}
    assert result.claims["gender"] == "female"


def test_max_level_caps_and_the_level_map_is_configurable(upstream):
    """A deployment may trust VNeID less: the cap and the map are settings; vn_eid_level stays true."""
    capped = login(upstream, "001090012345", max_level="substantial")
    assert capped.level == Level.SUBSTANTIAL and capped.extra == {"vn_eid_level": 2}
    mapped = login(upstream, "079185000123", level_map={"1": "low", "2": "substantial"})
    assert mapped.level == Level.LOW


def test_amr_is_the_source_plus_chosen_rfc8176_values(upstream):
    """RFC 8176: `vneid` first; upstream otp/mfa passed on; `pwd` never (it would read as our password)."""
    assert login(upstream, "001090012345").amr == ("vneid", "otp", "mfa")
    assert login(upstream, "079185000123").amr == ("vneid",)  # level 1 sandbox users: ["pwd"]
    assert login(upstream, "001090012345", amr_passthrough=["mfa"]).amr == ("vneid", "mfa")
    with_claims(upstream, amr=["hwk", "made-up", 7, "vneid", "face"])
    assert login(upstream).amr == ("vneid", "hwk", "face")
    with_claims(upstream, amr="hwk")  # not a list: ignored
    assert login(upstream).amr == ("vneid",)


def test_evidence_ref_is_traceable_but_not_personal(upstream):
    first, second = login(upstream), login(upstream)
    assert first.evidence_ref != second.evidence_ref and first.evidence_ref.startswith("oidc:")
    for value in (*first.claims.values(), first.subject):
        assert value not in first.evidence_ref
    shown = repr(first) + str(first)
    assert "001090012345" not in shown and "Nguyễn" not in shown


@pytest.mark.parametrize(("changes", "code"), [
    ({"personal_id": None}, "claim_missing"),
    ({"personal_id": "12345"}, "personal_id_format"),
    ({"personal_id": "00109001234５"}, "personal_id_format"),  # a full-width digit
    ({"personal_id": 1090012345}, "personal_id_format"),
    ({"personal_id": "' OR 1=1 --"}, "personal_id_format"),
    ({"vneid_level": None}, "claim_missing"),
    ({"vneid_level": 3}, "level_unknown"),
    ({"vneid_level": "level two"}, "level_unknown"),
    ({"vneid_level": True}, "claim_invalid"),
    ({"vneid_level": [2]}, "claim_invalid"),
    ({"name": "Nguyễn\x00Văn An"}, "claim_invalid"),
    ({"name": "x" * 201}, "claim_invalid"),
    ({"name": 42}, "claim_invalid"),
    ({"birthdate": "15/03/1990"}, "claim_invalid"),
    ({"birthdate": "1990-02-30"}, "claim_invalid"),
    ({"birthdate": "19900315"}, "claim_invalid"),
])
def test_missing_or_unreadable_claims(upstream, changes, code):
    """A signed token is still checked: the personal ID is 12 ASCII digits, the level is a known one."""
    with_claims(upstream, **changes)
    outcome = login(upstream)
    assert isinstance(outcome, VerificationFailed) and outcome.code == code


def test_level_as_a_string_and_genders_in_vietnamese(upstream):
    with_claims(upstream, vneid_level="2", gender="Nữ")
    result = login(upstream)
    assert result.level == Level.HIGH and result.claims["gender"] == "female"
    with_claims(upstream, gender="other", name="  Nguyễn   Văn An ", birthdate=None)
    result = login(upstream)
    assert "gender" not in result.claims and "birthdate" not in result.claims
    assert result.claims["full_name"] == "Nguyễn Văn An"


def test_claim_names_are_settings(upstream):
    """The same module reads another provider's names: here the sandbox's `name` read as personal_id fails."""
    outcome = login(upstream, claims={"personal_id": "name"})
    assert isinstance(outcome, VerificationFailed) and outcome.code == "personal_id_format"
    result = login(upstream, claims={"full_name": ""})
    assert "full_name" not in result.claims


def test_report_vn_eid_level_can_be_off(upstream):
    assert login(upstream, report_vn_eid_level=False).extra == {}


def test_ministry_instance_reads_userinfo_with_its_own_names(ministry):
    """A second upstream (RS256, private_key_jwt, claims at UserInfo, own names and map): same kind."""
    harness = Harness()
    settings = {k: v for k, v in ministry_settings(ministry.issuer).items() if k != "kind"}
    verifier = create("moh", settings, harness.services)
    attempt = harness.new_attempt("moh")
    params = query(answer_at_sandbox(verifier.begin(attempt).url, "031196007890"))
    result = verifier.complete(attempt, params)
    assert result.source == "moh" and result.level == Level.SUBSTANTIAL and result.amr == ("moh", "otp", "mfa")
    assert result.claims["personal_id"] == "031196007890" and result.claims["full_name"] == "Phạm Thị Dung"
    assert result.extra == {} and ministry.provider.hits["userinfo"] >= 1
    assert verifier.info.max_level == Level.SUBSTANTIAL  # the map reaches no higher
    assert verifier.info.name_for("en") == "Ministry of Health account"


def test_userinfo_about_another_person_is_refused(ministry):
    """OIDC Core §5.3.4: UserInfo's sub must equal the ID token's."""
    def hook(header: dict[str, Any], claims: dict[str, Any]) -> str:
        return ministry.provider.sign({**claims, "sub": "someone-else"})

    ministry.provider.id_token_hook = hook
    try:
        harness = Harness()
        settings = {k: v for k, v in ministry_settings(ministry.issuer).items() if k != "kind"}
        verifier = create("moh", settings, harness.services)
        attempt = harness.new_attempt("moh")
        params = query(answer_at_sandbox(verifier.begin(attempt).url, "031196007890"))
        with pytest.raises(VerificationFailed) as info:
            verifier.complete(attempt, params)
        assert info.value.code == "userinfo_subject_mismatch"
    finally:
        ministry.provider.id_token_hook = None


# --- two instances in one provider, end to end ----------------------------------------------------------
@pytest.fixture
def settings_overrides(upstream: RunningSandbox, ministry: RunningSandbox) -> dict[str, Any]:
    return {"verifiers": {
        "vneid": {"kind": "vneid", "sandbox": True, "issuer": upstream.issuer, "client_id": "rp",
                  "client_secret": SECRET},
        "moh": ministry_settings(ministry.issuer)}}


def test_two_instances_of_the_kind_side_by_side(app, browser, client, make_client, upstream, ministry):
    """Both appear on the login page; logging in through the ministry's provider creates the account
    at its mapped level with its own amr, and VNeID then links to the same account."""
    page = client.get("/auth/login", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "VNeID electronic identity" in page and "Ministry of Health account" in page
    client_id, secret = make_client(trusted=True)
    start = browser.authorize(response_type="code", client_id=client_id, scope="openid profile",
                              redirect_uri="https://portal.example.vn/callback", nonce="n-moh")
    next_url = query_of(start.location)["next"]
    page = client.get("/auth/login?next=" + next_url).get_data(as_text=True)
    token = re.search(r'action="/auth/sources/moh/start">\s*<input id="csrf_token" name="csrf_token" '
                      r'type="hidden" value="([^"]+)"', page).group(1)
    to_ministry = client.post("/auth/sources/moh/start", data={"csrf_token": token, "next": next_url})
    assert to_ministry.status_code == 303 and to_ministry.location.startswith(ministry.issuer + "/authorize?")
    location = answer_at_sandbox(to_ministry.location, "092077001122")
    assert location.startswith(MINISTRY_CALLBACK + "?")
    done = client.get(location.removeprefix("http://localhost"))
    assert done.status_code == 303 and done.location == next_url
    final = client.get(done.location)
    tokens = browser.exchange(query_of(final.location)["code"], client_id, secret).get_json()
    claims = decode_with_jwks(client, tokens["id_token"])[1]
    assert claims["acr"] == "urn:vn:gov:sso:loa:substantial" and "moh" in claims["amr"]
    assert "vneid" not in claims["amr"]
    with app.app_context():
        account = find_account("092077001122")
        assert account.full_name == "Hoàng Văn Giang"
        assert [link.source for link in linked_sources(account)] == ["moh"]


def test_the_ministry_key_can_come_from_the_environment(database_url, keys_dir, ministry, monkeypatch, tmp_path: Path):
    """`env:`/`file:` secrets are resolved by the settings loader; a file path works too."""
    from idp import create_app
    from tests.conftest import base_settings

    monkeypatch.setenv("IDP_TEST_MOH_KEY", MINISTRY_PEM)
    app = create_app(base_settings(database_url, keys_dir, verifiers={
        "moh": {**ministry_settings(ministry.issuer), "private_key": "env:IDP_TEST_MOH_KEY"}}))
    assert app.extensions["idp.verifiers"]["moh"].config.client_key.alg == "RS256"
    dispose(app)
    (tmp_path / "moh.pem").write_text(MINISTRY_PEM)
    app = create_app(base_settings(database_url, keys_dir, verifiers={
        "moh": {**ministry_settings(ministry.issuer), "private_key": str(tmp_path / "moh.pem")}}))
    assert app.extensions["idp.verifiers"]["moh"].config.client_key.kid == RSAKey.import_key(MINISTRY_KEY).thumbprint()
    dispose(app)
