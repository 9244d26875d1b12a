"""The verifier framework: registry through entry points, settings validation, the login flow
through a source (mock module), attempts bound to the browser, and account linking rules."""

from __future__ import annotations

import re
from datetime import UTC
from datetime import datetime

import pytest
from sqlalchemy import select

from idp import create_app
from idp.accounts.linking import LinkingNeedsReview
from idp.accounts.linking import apply_assertion
from idp.accounts.linking import identity_level
from idp.accounts.linking import linked_sources
from idp.accounts.linking import unlink
from idp.accounts.models import Account
from idp.accounts.models import LinkReview
from idp.accounts.service import find_account
from idp.audit import AuditEvent
from idp.errors import ConfigError
from idp.errors import VerificationFailed
from idp.extensions import db
from idp.verifiers.base import IdentityAssertion
from idp.verifiers.base import Level
from tests.conftest import base_settings
from tests.conftest import csrf_from
from tests.conftest import decode_with_jwks
from tests.conftest import dispose
from tests.conftest import hidden_fields
from tests.conftest import press_source
from tests.conftest import query_of
from tests.conftest import submit_form


def assertion(subject: str, level: Level = Level.SUBSTANTIAL, source: str = "mock", **claims: str):
    return IdentityAssertion(source=source, subject=subject, level=level, amr=(source,),
                             verified_at=datetime.now(UTC), claims=claims)


# --- registry -------------------------------------------------------------------------------
@pytest.mark.parametrize(("verifiers", "key"), [
    ({"x": {"kind": "nonexistent"}}, "verifiers.x.kind"),
    ({"mock": {"max_level": "extreme"}}, "verifiers.mock.max_level"),
    ({"mock": {"colour": "red"}}, "verifiers.mock.colour"),
    ({"mock": "not a table"}, "verifiers.mock"),
])
def test_bad_verifier_settings_stop_start_up_naming_the_key(database_url, keys_dir, verifiers, key):
    with pytest.raises(ConfigError) as info:
        create_app(base_settings(database_url, keys_dir, verifiers=verifiers))
    assert info.value.code == key
    if key == "verifiers.x.kind":
        assert "available: " in info.value.message and "mock" in info.value.message


def test_mock_verifier_is_refused_in_production(database_url, keys_dir):
    from idp.verifiers.base import Services
    from idp.verifiers.registry import build_verifiers

    services = Services(hit=lambda key, limit: True, now=lambda: datetime.now(UTC), outbox=lambda *a: None,
                        sandbox=False)
    with pytest.raises(ConfigError) as info:
        build_verifiers({"mock": {"kind": "mock"}}, services, "production")
    assert info.value.code == "verifiers.mock.kind"


def test_same_kind_twice_and_disabled_instances(database_url, keys_dir):
    app = create_app(base_settings(database_url, keys_dir, verifiers={
        "mock": {"kind": "mock"}, "mock_b": {"kind": "mock", "max_level": "low"}, "off": {"kind": "mock",
                                                                                      "enabled": False}}))
    built = app.extensions["idp.verifiers"]
    assert set(built) == {"mock", "mock_b"} and built["mock_b"].info.max_level == Level.LOW
    dispose(app)


# --- the login flow through a source ----------------------------------------------------------
_start = press_source


def _complete(client, prompt, **fields: str):  # noqa: ANN001, ANN202
    """Submit the source's form; also return its action (tests replay it)."""
    action = re.search(r'<form method="post" action="([^"]+)"', prompt.get_data(as_text=True)).group(1)
    return submit_form(client, prompt, **fields), action


def test_new_citizen_through_a_source_gets_an_account_at_that_level(app, browser, client, make_client):
    client_id, secret = make_client(trusted=True)
    start = browser.authorize(response_type="code", client_id=client_id, scope="openid profile",
                              redirect_uri="https://portal.example.vn/callback", nonce="n1")
    prompt = _start(client, next_url=query_of(start.location)["next"])
    assert prompt.status_code == 200
    done, _ = _complete(client, prompt, personal_id="001090012399", full_name="Hoàng Văn Em",
                        birthdate="1990-04-04", level="substantial")
    assert done.status_code == 303
    final = client.get(done.location)
    code = query_of(final.location)["code"]
    body = browser.exchange(code, client_id, secret).get_json()
    claims = decode_with_jwks(client, body["id_token"])[1]
    assert claims["acr"] == "urn:vn:gov:sso:loa:substantial" and claims["amr"] == ["mock"]
    with app.app_context():
        account = find_account("001090012399")
        assert account.full_name == "Hoàng Văn Em"
        assert account.verification_of("full_name").source == "mock"
        assert account.verification_of("full_name").level == Level.SUBSTANTIAL
        assert identity_level(account) == Level.SUBSTANTIAL


def test_completion_is_single_use_and_bound_to_the_browser(app, client):
    prompt = _start(client)
    fields = {"personal_id": "001090012398", "full_name": "A", "level": "low"}
    first, action = _complete(client, prompt, **fields)
    assert first.status_code == 303
    html = prompt.get_data(as_text=True)
    replay = client.post(action, data={"csrf_token": csrf_from(html), **fields})
    assert replay.status_code == 400  # the login renewed the session: the old form and attempt are void
    with app.app_context():
        assert len(db.session.execute(select(AuditEvent).where(AuditEvent.event == "login.succeeded")).all()) == 1
    stranger = app.test_client()
    other_prompt = _start(stranger)
    _, other_action = _complete(stranger, other_prompt, outcome="cancel")
    stolen = client.post(other_action, data={"csrf_token": csrf_from(html), **fields})
    assert stolen.status_code == 400


def test_cancelled_and_malformed_input_give_clear_pages(client):
    cancelled, _ = _complete(client, _start(client), outcome="cancel")
    assert cancelled.status_code == 400
    bad, _ = _complete(client, _start(client), personal_id="12ab", full_name="x")
    assert bad.status_code == 400 and "<h1>" in bad.get_data(as_text=True)
    page = client.get("/auth/login").get_data(as_text=True)
    unknown = client.post("/auth/sources/nope/start", data={"csrf_token": csrf_from(page)})
    assert unknown.status_code == 404


# --- linking rules ----------------------------------------------------------------------------
def test_linking_rules(app, make_account):
    make_account("001090012301", full_name="Lý Thị Hoa")
    with app.app_context():
        existing = find_account("001090012301")
        # Substantial and agreeing with what is on file (only self-asserted data): linked.
        result = apply_assertion(assertion("vn-1", personal_id="001090012301", full_name="Lý Thị Hoa"), None)
        assert result.account.id == existing.id and not result.created
        # The same source subject later: found by the link.
        again = apply_assertion(assertion("vn-1", personal_id="001090012301"), None)
        assert again.account.id == existing.id
        # Now the name is verified; another source with a different name goes to review.
        with pytest.raises(LinkingNeedsReview):
            apply_assertion(assertion("post-9", source="vnpost", personal_id="001090012301", full_name="Lý Thị Hòa"),
                            None)
        # Low level never links on its own.
        with pytest.raises(LinkingNeedsReview):
            apply_assertion(assertion("x-1", level=Level.LOW, source="other", personal_id="001090012301"), None)
        # Phone alone: never finds or creates an account...
        with pytest.raises(VerificationFailed) as info:
            apply_assertion(assertion("+84912345678", level=Level.LOW, source="telecom", phone="+84912345678"), None)
        assert info.value.code == "source_cannot_identify"
        # ...but links to the account already logged in.
        linked = apply_assertion(assertion("+84912345678", level=Level.LOW, source="telecom",
                                           phone="+84912345678"), existing)
        assert linked.account.id == existing.id
        # A subject linked to this account, presented while someone else is logged in: review.
        other = Account(kind="citizen", identifier="001090012302", full_name="B")
        db.session.add(other)
        db.session.flush()
        with pytest.raises(LinkingNeedsReview):
            apply_assertion(assertion("vn-1", personal_id="001090012301"), other)
        db.session.commit()
        reviews = db.session.execute(select(LinkReview.reason)).scalars().all()
        assert sorted(reviews) == ["full_name_differs", "level_too_low_to_link", "subject_linked_elsewhere"]
        events = db.session.execute(select(AuditEvent.event)).scalars().all()
        assert events.count("link.review_opened") == 3


def test_unlink_never_removes_the_last_verified_source(app, make_account):
    make_account("001090012303")
    with app.app_context():
        account = find_account("001090012303")
        apply_assertion(assertion("vn-3", personal_id="001090012303"), None)
        apply_assertion(assertion("+84911111111", level=Level.LOW, source="telecom", phone="+84911111111"), account)
        links = {link.source: link.id for link in linked_sources(account)}
        with pytest.raises(VerificationFailed) as info:
            unlink(account, links["mock"])
        assert info.value.code == "last_verified_source"
        unlink(account, links["telecom"])
        assert [link.source for link in linked_sources(account)] == ["mock"]


def test_official_and_business_accounts_from_assertions(app):
    with app.app_context():
        official = apply_assertion(assertion("cert-1", level=Level.HIGH, source="gov_cert", personal_id="001090012304",
                                             full_name="Cán bộ A", kind="official", agency="Bộ Nội vụ"), None)
        business = apply_assertion(assertion("cert-2", source="ca", tax_code="0100109106", full_name="Công ty"), None)
        assert official.account.kind == "official" and official.account.agency == "Bộ Nội vụ"
        assert business.account.kind == "business" and business.created
        assert db.session.get(Account, official.account.id) is not None


def test_a_correctable_failure_shows_the_form_again_with_the_message(client):
    prompt = _start(client)
    bad, action = _complete(client, prompt, personal_id="12ab", full_name="x")
    html = bad.get_data(as_text=True)
    assert bad.status_code == 400 and f'action="{action}"' in html and 'role="alert"' in html
    retry = client.post(action, data={**hidden_fields(html), "personal_id": "001090012397",
                                      "full_name": "Retry", "level": "low"})
    assert retry.status_code == 303


def test_verified_claims_name_the_source_and_time(app, browser, client, make_client):
    """OpenID Connect for Identity Assurance 1.0: a portal that asks learns who verified each claim."""
    import json

    client_id, secret = make_client(trusted=True)
    request = {"verification": {"trust_framework": None}, "claims": {"name": None, "birthdate": None}}
    claims = json.dumps({"userinfo": {"verified_claims": request}, "id_token": {"verified_claims": request}})
    start = browser.authorize(response_type="code", client_id=client_id, scope="openid profile", claims=claims,
                              redirect_uri="https://portal.example.vn/callback")
    prompt = _start(client, next_url=query_of(start.location)["next"])
    done, _ = _complete(client, prompt, personal_id="001090012396", full_name="Vũ Thị Giang",
                        birthdate="1990-02-02", level="substantial")
    code = query_of(client.get(done.location).location)["code"]
    body = browser.exchange(code, client_id, secret).get_json()
    info = client.get("/oauth2/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"}).get_json()
    [element] = info["verified_claims"]
    assert element["verification"]["verification_process"] == "mock"
    assert element["verification"]["trust_framework"] == "vn_national_sso"
    assert element["verification"]["assurance_level"] == "urn:vn:gov:sso:loa:substantial"
    assert element["claims"] == {"name": "Vũ Thị Giang", "birthdate": "1990-02-02"}
    id_claims = decode_with_jwks(client, body["id_token"])[1]
    assert id_claims["verified_claims"][0]["claims"]["name"] == "Vũ Thị Giang"
    assert "name" not in id_claims  # only inside verified_claims, as asked


def test_self_asserted_claims_are_never_reported_as_verified(browser, client, make_account, make_client):
    import json

    make_account("001090012395")
    client_id, secret = make_client(trusted=True)
    claims = json.dumps({"userinfo": {"verified_claims": {"claims": {"name": None}}}})
    params = browser.code_for("001090012395", client_id, scope="openid profile", claims=claims)
    body = browser.exchange(params["code"], client_id, secret).get_json()
    info = client.get("/oauth2/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"}).get_json()
    assert "verified_claims" not in info and info["name"]


def test_person_lists_and_unlinks_sources(app, client):
    assert client.get("/accounts/sources").status_code == 303  # login first
    done, _ = _complete(client, _start(client), personal_id="001090012394", full_name="H", level="substantial")
    page = client.get("/accounts/sources")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Nguồn thử nghiệm" in html
    link_id = re.search(r'name="link_id" value="(\d+)"', html).group(1)
    refused = client.post("/accounts/sources", data={"csrf_token": csrf_from(html), "link_id": link_id})
    assert refused.status_code == 400  # the only verified source stays
    with app.app_context():
        assert len(linked_sources(find_account("001090012394"))) == 1


def test_a_source_that_is_down_is_shown_unavailable_with_the_alternatives(database_url, keys_dir):
    app = create_app(base_settings(database_url, keys_dir, verifiers={
        "down": {"kind": "mock", "available": False, "names": {"vi": "Nguồn hỏng", "en": "Broken source"}},
        "up": {"kind": "mock", "names": {"vi": "Nguồn tốt", "en": "Working source"}}}))
    client = app.test_client()
    html = client.get("/auth/login").get_data(as_text=True)
    assert "/auth/sources/up/start" in html and "/auth/sources/down/start" not in html
    assert "Nguồn hỏng" in html and "tạm thời không dùng được" in html
    unavailable = re.search(r'<p class="unavailable">(.*?)</p>', html, re.S).group(1)
    assert "Nguồn tốt" in unavailable  # the alternative that reaches the same level is named
    dispose(app)


def test_idp_hint_preselects_a_source(app, browser, client, make_client):
    """The portal's `idp_hint` travels to the login page, which offers that source first."""
    client_id, _ = make_client()
    start = browser.authorize(response_type="code", client_id=client_id, scope="openid",
                              redirect_uri="https://portal.example.vn/callback", nonce="n", idp_hint="mock")
    assert query_of(start.location)["idp_hint"] == "mock"
    html = client.get(start.location).get_data(as_text=True)
    suggested = re.search(r'<section class="suggested".*?</section>', html, re.S).group(0)
    assert "/auth/sources/mock/start" in suggested and 'name="password"' in html
    plain = client.get("/auth/login?idp_hint=nonexistent").get_data(as_text=True)
    assert 'class="suggested"' not in plain


def test_only_known_session_claims_of_the_right_type_reach_the_session():
    """A source's extras become ID token claims only when listed in claims.SESSION_CLAIMS."""
    from idp.oidc.claims import session_claims_from

    assert session_claims_from({"vn_eid_level": 2, "other": "x"}) == {"vn_eid_level": 2}
    assert session_claims_from({"vn_eid_level": "2"}) == {}
    assert session_claims_from({"vn_eid_level": True}) == {}


def test_an_attempt_is_completed_once_even_by_two_requests_at_the_same_time(app):
    """Two requests both loaded the open attempt; the other one completed it first. The
    compare-and-set on completed_at refuses this one although its copy still looks open."""
    from datetime import UTC
    from datetime import datetime

    from sqlalchemy.orm import Session

    from idp.auth.attempts import VerificationAttempt
    from idp.auth.attempts import claim_completion
    from idp.auth.attempts import start_attempt

    with app.app_context():
        row = start_attempt("mock", "browser-1", "/auth/done", None, "127.0.0.1")
        db.session.commit()
        assert row.completed_at is None  # this request's copy: open
        with Session(db.engine) as other, other.begin():  # the other request wins the race
            other.get(VerificationAttempt, row.id).completed_at = datetime.now(UTC)
        with pytest.raises(VerificationFailed) as info:
            claim_completion(row)
        assert info.value.code == "attempt_used"
        db.session.rollback()
        fresh = start_attempt("mock", "browser-1", "/auth/done", None, "127.0.0.1")
        db.session.commit()
        claim_completion(fresh)  # an open attempt is claimed
        assert fresh.completed_at is not None
