"""Issue 3 acceptance, scripted end to end with the real sandboxes:

1. a new citizen logs in through the VNeID sandbox (a real OpenID provider over HTTP) as a level-1
   VNeID user → the national account is created at SUBSTANTIAL;
2. another portal asks for `urn:vn:gov:sso:loa:high` → step-up inside the same authorization with a
   certificate issued in person (test PKI, revocation served over HTTP) → the ID token's `acr` is
   high, `amr` shows both methods, `vn_eid_level` is still there, and `verified_claims` names the
   sources;
3. the same person later logs in, in another browser, by telecom subscriber match + SMS code and
   lands in the same account;
4. linking never happens on a phone number alone.
"""

from __future__ import annotations

import html
import json
import re
import secrets
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from idp.accounts.linking import identity_level
from idp.accounts.linking import linked_sources
from idp.accounts.models import Account
from idp.accounts.models import LoginSession
from idp.accounts.service import find_account
from idp.extensions import db
from idp.outbox import OutboxMessage
from idp.verifiers.base import Level
from idp.verifiers.vneid.sandbox import RunningSandbox
from idp.verifiers.vneid.sandbox import start_in_thread
from tests.conftest import BrowserFlow
from tests.conftest import decode_with_jwks
from tests.conftest import press_source
from tests.conftest import query_of
from tests.conftest import submit_form
from tests.verifiers.drivers.vneid import answer_at_sandbox
from tests.verifiers.pki import Holder
from tests.verifiers.pki import make_leaf
from tests.verifiers.pki import name
from tests.verifiers.pki import sign

PERSONAL_ID = "079185000123"  # a level-1 citizen of the VNeID sandbox (Trần Thị Bình)
PHONE = "0387111222"
IN_PERSON_POLICY = "1.3.6.1.4.1.55555.1.2"  # the test CA's "issued after an in-person check" policy
CALLBACK = "http://localhost/auth/sources/vneid/callback"
PORTAL_CALLBACK = "https://portal.example.vn/callback"
HIGH = "urn:vn:gov:sso:loa:high"
SUBSTANTIAL = "urn:vn:gov:sso:loa:substantial"


@pytest.fixture(scope="module")
def upstream() -> Iterator[RunningSandbox]:
    running = start_in_thread({"national-sso": {"redirect_uris": [CALLBACK], "secret": "acceptance-secret"}})
    yield running
    running.stop()



@pytest.fixture(scope="module")
def citizen_certificate(pki) -> Holder:
    """Her certificate from the public CA, issued in person (policy OID), CCCD in the UID."""
    return make_leaf(pki.intermediate, name("Trần Thị Bình", uid=[f"CCCD:{PERSONAL_ID}"]),
                     policies=[IN_PERSON_POLICY], crl_url=pki.server.url("/public.crl"))



@pytest.fixture
def settings_overrides(upstream: RunningSandbox, pki) -> dict[str, Any]:
    return {"verifiers": {
        "vneid": {"kind": "vneid", "sandbox": True, "issuer": upstream.issuer, "client_id": "national-sso",
                  "client_secret": "acceptance-secret"},
        "certificate": {"kind": "certificate", "anchors": [
            {"pem": pki.root.pem, "kind": "public", "name": "Test public CA", "intermediates": [pki.intermediate.pem],
             "in_person_policy_oids": [IN_PERSON_POLICY]}]},
        "telecom": {"kind": "telecom", "operator": {"kind": "sandbox", "subscribers": {PHONE: PERSONAL_ID}}},
    }}


def _finish(browser: BrowserFlow, client, done, client_id: str, secret: str) -> dict[str, Any]:  # noqa: ANN001
    """The source sent the browser back to the authorization request: get the code, exchange it."""
    assert done.status_code == 303, done.get_data(as_text=True)[:500]
    final = client.get(done.location)
    assert final.status_code == 302 and final.location.startswith(PORTAL_CALLBACK), final.location
    tokens = browser.exchange(query_of(final.location)["code"], client_id, secret).get_json()
    return decode_with_jwks(client, tokens["id_token"])[1]


def _authorize(browser: BrowserFlow, client_id: str, **params: str):  # noqa: ANN202
    return browser.authorize(response_type="code", client_id=client_id, redirect_uri=PORTAL_CALLBACK,
                             nonce=secrets.token_hex(8), **params)


def test_vneid_then_certificate_step_up_then_telecom_one_account(app, client, make_client, upstream, pki,
                                                                  citizen_certificate):
    browser = BrowserFlow(client)
    ministry_id, ministry_secret = make_client(trusted=True, name="Bộ Tư pháp")
    province_id, province_secret = make_client(trusted=True, name="UBND tỉnh Nghệ An")

    # 1. A new citizen, through the VNeID sandbox as a level-1 user.
    start = _authorize(browser, ministry_id, scope="openid profile")
    assert start.status_code == 302 and "/auth/login" in start.location
    to_vneid = press_source(client, "vneid", query_of(start.location)["next"])
    assert to_vneid.status_code == 303 and to_vneid.location.startswith(upstream.issuer + "/authorize?")
    back = answer_at_sandbox(to_vneid.location, PERSONAL_ID)
    assert back.startswith(CALLBACK + "?")
    first = _finish(browser, client, client.get(back.removeprefix("http://localhost")), ministry_id,
                    ministry_secret)
    assert first["acr"] == SUBSTANTIAL and first["amr"] == ["vneid"] and first["vn_eid_level"] == 1
    with app.app_context():
        account = find_account(PERSONAL_ID)
        assert account is not None and account.full_name == "Trần Thị Bình"
        assert identity_level(account) == Level.SUBSTANTIAL
        account_id = account.id

    # 2. The provincial portal needs HIGH and asks who verified the name and birth date.
    wanted = {"verification": {"trust_framework": None}, "claims": {"name": None, "birthdate": None}}
    start = _authorize(browser, province_id, scope="openid profile", acr_values=HIGH,
                       claims=json.dumps({"id_token": {"verified_claims": wanted}}))
    assert start.status_code == 302 and query_of(start.location)["acr"] == HIGH  # step-up, same authorization
    login_page = client.get(start.location).get_data(as_text=True)
    assert 'name="password"' not in login_page and "/auth/sources/telecom/start" not in login_page
    assert "/auth/sources/certificate/start" in login_page and "/auth/sources/vneid/start" in login_page
    prompt = press_source(client, "certificate", query_of(start.location)["next"])
    challenge = html.unescape(re.search(r'<textarea id="challenge"[^>]*>([^<]+)</textarea>',
                                        prompt.get_data(as_text=True)).group(1))
    done = submit_form(client, prompt, certificate=citizen_certificate.pem, chain=pki.chain,
                   signature=sign(citizen_certificate, challenge))
    second = _finish(browser, client, done, province_id, province_secret)
    assert second["acr"] == HIGH
    assert {"vneid", "x509"} <= set(second["amr"])
    assert second["vn_eid_level"] == 1  # VNeID took part in this session
    assert second["sid"] == first["sid"]  # stepped up, not a new session
    # OpenID Connect for Identity Assurance: the name is now vouched for by the certificate (the
    # stronger source), the birth date still by VNeID.
    by_source = {element["verification"]["verification_process"]: element for element in second["verified_claims"]}
    assert set(by_source) == {"vneid", "certificate"}
    assert by_source["certificate"]["claims"] == {"name": "Trần Thị Bình"}
    assert by_source["certificate"]["verification"]["assurance_level"] == HIGH
    assert by_source["vneid"]["claims"] == {"birthdate": "1985-11-02"}
    with app.app_context():
        assert identity_level(db.session.get(Account, account_id)) == Level.HIGH

    # 3. Later, another browser: telecom subscriber match + SMS code, same account.
    phone_browser = app.test_client()
    other = BrowserFlow(phone_browser)
    start = _authorize(other, ministry_id, scope="openid")
    phone_page = press_source(phone_browser, "telecom", query_of(start.location)["next"])
    code_page = submit_form(phone_browser, phone_page, phone=PHONE, personal_id=PERSONAL_ID)
    assert 'name="code"' in code_page.get_data(as_text=True)
    with app.app_context():
        sms = db.session.execute(select(OutboxMessage).where(OutboxMessage.channel == "sms")
                                 .order_by(OutboxMessage.id.desc())).scalars().first()
        code = re.search(r"\b(\d{6})\b", sms.body).group(1)
    done = submit_form(phone_browser, code_page, code=code)
    third = _finish(other, phone_browser, done, ministry_id, ministry_secret)
    assert third["sub"] == first["sub"]  # the same national account (pairwise sub of the same portal)
    assert third["acr"] == SUBSTANTIAL and {"sms", "mno"} <= set(third["amr"]) and "vn_eid_level" not in third
    with app.app_context():
        account = db.session.get(Account, account_id)
        assert sorted(link.source for link in linked_sources(account)) == ["certificate", "telecom", "vneid"]
        assert db.session.execute(select(Account)).scalars().all() == [account]
        sessions = db.session.execute(select(LoginSession).where(LoginSession.account_id == account_id)).scalars()
        assert len(list(sessions)) == 2


def test_a_phone_number_alone_never_finds_or_creates_an_account(app, client, make_account):
    """docs/assurance.md rule 4: an SMS code alone cannot identify a person who is not logged in."""
    make_account(PERSONAL_ID, full_name="Trần Thị Bình", phone="+84387111222", birthdate=date(1985, 11, 2),
                 gender="female")
    phone_page = press_source(client, "telecom", "/auth/done")
    refused = submit_form(client, phone_page, phone=PHONE, personal_id="")
    assert refused.status_code == 400 and 'name="code"' not in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.execute(select(OutboxMessage)).first() is None  # no code was even sent
        assert len(db.session.execute(select(Account)).scalars().all()) == 1
        assert linked_sources(find_account(PERSONAL_ID)) == []

