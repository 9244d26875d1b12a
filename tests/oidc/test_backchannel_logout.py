"""OpenID Connect Back-Channel Logout 1.0: single logout across three portals, one of them down.

§2.4 the logout token (typ logout+jwt, iss, aud, iat, exp, jti, events, sub/sid, no nonce);
§2.5 delivery (form POST of logout_token, 200/204 = done); retries with back-off from a durable
outbox, a final failure recorded for admins, and a logout response that never waits for a portal.
"""

from __future__ import annotations

import socket
import threading
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from urllib.parse import urlencode

import pytest
import time_machine
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import select
from werkzeug.serving import make_server
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from idp.audit import AuditEvent
from idp.extensions import db
from idp.oidc import logout
from idp.oidc.logout import BACKCHANNEL_EVENT
from idp.oidc.logout import LogoutDelivery
from tests.conftest import ISSUER
from tests.conftest import csrf_from
from tests.conftest import decode_with_jwks


def _now() -> datetime:
    """A frozen clock starting at the real now (tokens minted moments ago stay valid)."""
    return datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)


class Receiver:
    """A portal's back-channel logout endpoint on loopback that validates tokens with joserfc."""

    def __init__(self, status: int = 200, gate: threading.Event | None = None) -> None:
        self.status, self.gate = status, gate
        self.arrived = threading.Event()
        self.tokens: list[dict] = []
        self.errors: list[str] = []
        self.keyset: KeySet | None = None
        self.client_id: str | None = None
        self.server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/backchannel"

    def _app(self, environ, start_response):  # noqa: ANN001, ANN202 - WSGI
        request = Request(environ)
        self.arrived.set()
        if self.gate is not None:
            self.gate.wait(timeout=10)
        try:
            assert request.mimetype == "application/x-www-form-urlencoded"
            token = jwt.decode(request.form["logout_token"], self.keyset, algorithms=["ES256", "RS256"])
            header, claims = dict(token.header), dict(token.claims)
            assert header["typ"] == "logout+jwt" and header["kid"]
            registry = jwt.JWTClaimsRegistry(iss={"essential": True, "value": ISSUER},
                                             aud={"essential": True, "value": self.client_id},
                                             iat={"essential": True}, exp={"essential": True},
                                             jti={"essential": True}, sid={"essential": True})
            registry.validate(claims)
            assert claims["events"] == {BACKCHANNEL_EVENT: {}} and "nonce" not in claims
            self.tokens.append(claims)
        except Exception as error:  # noqa: BLE001 - report any validation failure to the test
            self.errors.append(repr(error))
            return Response("bad token", 400)(environ, start_response)
        return Response("", self.status)(environ, start_response)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def dead_uri() -> str:
    """A loopback port that nobody listens on (closed right after binding)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/backchannel"


@pytest.fixture
def receivers():  # noqa: ANN201
    made: list[Receiver] = []

    def make(**kw) -> Receiver:  # noqa: ANN003
        made.append(Receiver(**kw))
        return made[-1]

    yield make
    for r in made:
        r.close()


@pytest.fixture
def launched(monkeypatch):  # noqa: ANN001, ANN201
    """Capture the after-response delivery instead of starting a thread, to observe the order."""
    work: list = []
    monkeypatch.setattr(logout, "launch", work.append)
    return work


def _portal(app, browser, make_client, pin, receiver_or_uri):  # noqa: ANN001, ANN202
    uri = receiver_or_uri if isinstance(receiver_or_uri, str) else receiver_or_uri.uri
    client_id, secret = make_client(trusted=True, backchannel_logout_uri=uri)
    if not isinstance(receiver_or_uri, str):
        receiver_or_uri.client_id = client_id
    params = browser.code_for(pin, client_id)
    id_token = browser.exchange(params["code"], client_id, secret).get_json()["id_token"]
    return client_id, decode_with_jwks(browser.client, id_token)[1], id_token


def _logout(browser, close: bool = True):  # noqa: ANN001, ANN202
    """Log out at /auth/logout; closing the response is what runs its after-response work (call_on_close)."""
    page = browser.client.get("/auth/logout")
    response = browser.client.post("/auth/logout", data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    if close:
        response.close()
    return response


def _rows(app) -> dict[str, LogoutDelivery]:  # noqa: ANN001
    with app.app_context():
        rows = db.session.execute(select(LogoutDelivery)).scalars().all()
        db.session.expunge_all()
        return {r.client_id: r for r in rows}


def _three_portals(app, browser, make_account, make_client, receivers, pin):  # noqa: ANN001, ANN202
    make_account(pin)
    a, b = receivers(), receivers()
    keyset = KeySet.import_key_set(browser.client.get("/jwks.json").get_json())
    a.keyset = b.keyset = keyset
    portals = [_portal(app, browser, make_client, pin, r) for r in (a, b, dead_uri())]
    return a, b, portals


def _deliver(app, ids=None):  # noqa: ANN001, ANN202
    with app.app_context():
        return logout.deliver_due(ids)


def test_single_logout_three_portals_one_down(app, browser, make_account, make_client, receivers, launched):
    """§2.4/§2.5: both live portals get a valid token whose sid/sub match their ID token; the dead one is
    recorded and retried after 10 s; the user's response came back before any delivery."""
    a, b, portals = _three_portals(app, browser, make_account, make_client, receivers, "001090002001")
    (id_a, claims_a, _), (id_b, claims_b, _), (id_c, _, _) = portals
    assert claims_a["sid"] == claims_b["sid"]  # one SSO session, one sid for every portal

    response = _logout(browser, close=False)
    assert response.status_code == 200
    rows = _rows(app)
    assert {r.status for r in rows.values()} == {"pending"} and {r.attempts for r in rows.values()} == {0}
    assert launched == [] and a.tokens == [] and b.tokens == []  # nothing sent before the response is out
    response.close()  # the server finished sending the response: now delivery starts
    assert len(launched) == 1

    clock = _now()
    with time_machine.travel(clock, tick=False):
        launched[0]()
        rows = _rows(app)
        assert a.errors == [] and b.errors == []
        assert [t["sid"] for t in a.tokens] == [claims_a["sid"]] and a.tokens[0]["sub"] == claims_a["sub"]
        assert [t["sid"] for t in b.tokens] == [claims_b["sid"]] and b.tokens[0]["sub"] == claims_b["sub"]
        assert a.tokens[0]["aud"] == id_a and b.tokens[0]["aud"] == id_b
        assert a.tokens[0]["exp"] - a.tokens[0]["iat"] <= 120 and a.tokens[0]["jti"] != b.tokens[0]["jti"]
        assert rows[id_a].status == rows[id_b].status == "delivered"
        dead = rows[id_c]
        assert dead.status == "pending" and dead.attempts == 1 and dead.last_error == "ConnectionError"
        assert dead.next_attempt_at == clock + timedelta(seconds=10)
    # The session is over at the provider too.
    again = browser.authorize(response_type="code", client_id=id_a, scope="openid", prompt="none",
                              redirect_uri="https://portal.example.vn/callback")
    assert "error=login_required" in again.location


def test_retries_back_off_then_fail_with_audit_event(app, browser, make_account, make_client, receivers, launched):
    """§2.5: the OP retries with back-off (10 s, 1 min, 5 min, 30 min, 2 h) and after the last attempt
    marks the message failed and records logout.delivery_failed for admins."""
    _a, _b, portals = _three_portals(app, browser, make_account, make_client, receivers, "001090002002")
    id_c = portals[2][0]
    _logout(browser)
    clock = _now()
    with time_machine.travel(clock, tick=False) as traveller:
        launched[0]()
        for wait in logout.BACKOFF:
            traveller.move_to(clock + timedelta(seconds=wait - 1))
            assert _deliver(app)["failed"] + _deliver(app)["pending"] == 0  # not due yet: nothing sent
            clock = clock + timedelta(seconds=wait)
            traveller.move_to(clock)
            _deliver(app)
        row = _rows(app)[id_c]
        assert row.status == "failed" and row.attempts == logout.MAX_ATTEMPTS
        assert _deliver(app) == {"delivered": 0, "pending": 0, "failed": 0, "skipped": 0}  # given up
    with app.app_context():
        events = db.session.execute(select(AuditEvent).where(AuditEvent.event == "logout.delivery_failed")).scalars()
        events = list(events)
        assert [e.client_id for e in events] == [id_c]
        assert set(events[0].data) <= {"attempts", "error"}  # ids and an error class only


def test_retry_reaches_recovered_portal_with_fresh_token(app, browser, make_account, make_client, receivers,
                                                         launched):
    """§2.4: a retry after the token's exp re-signs it (same jti), so the recovered portal accepts it."""
    _a, _b, portals = _three_portals(app, browser, make_account, make_client, receivers, "001090002003")
    id_c, claims_c, _ = portals[2]
    _logout(browser)
    clock = _now()
    with time_machine.travel(clock, tick=False) as traveller:
        launched[0]()
        first_jti = _rows(app)[id_c].token
        recovered = receivers()
        recovered.keyset, recovered.client_id = KeySet.import_key_set(browser.client.get("/jwks.json").get_json()), id_c
        with app.app_context():
            from idp.oidc.models import Client

            db.session.get(Client, id_c).backchannel_logout_uri = recovered.uri
            db.session.commit()
        traveller.move_to(clock + timedelta(minutes=10))
        assert _deliver(app)["delivered"] == 1
    assert recovered.errors == [] and recovered.tokens[0]["sid"] == claims_c["sid"]
    assert _rows(app)[id_c].token != first_jti


def test_http_error_and_redirect_are_failures(app, browser, make_account, make_client, receivers, launched):
    """§2.5: only 200/204 count; a redirect is not followed."""
    make_account("001090002004")
    keyset = KeySet.import_key_set(browser.client.get("/jwks.json").get_json())
    bad, moved = receivers(status=500), receivers(status=302)
    bad.keyset = moved.keyset = keyset
    ids = [_portal(app, browser, make_client, "001090002004", r)[0] for r in (bad, moved)]
    _logout(browser)
    launched[0]()
    rows = _rows(app)
    assert rows[ids[0]].last_error == "HTTP 500" and rows[ids[1]].last_error == "HTTP 302"
    assert {rows[i].status for i in ids} == {"pending"}
    assert len(moved.tokens) == 1


def test_concurrent_deliver_runs_do_not_double_send(app, browser, make_account, make_client, receivers, launched):
    """A row-level claim (conditional UPDATE) hands each due message to exactly one worker."""
    make_account("001090002005")
    gate = threading.Event()
    slow = receivers(gate=gate)
    slow.keyset = KeySet.import_key_set(browser.client.get("/jwks.json").get_json())
    client_id = _portal(app, browser, make_client, "001090002005", slow)[0]
    _logout(browser)
    results: list = []
    first = threading.Thread(target=lambda: results.append(_deliver(app)))
    first.start()
    try:
        assert slow.arrived.wait(timeout=10)  # the first worker claimed the message and is sending it
        second = _deliver(app)  # the second worker, meanwhile
    finally:
        gate.set()
        first.join(timeout=10)
    assert second["delivered"] == 0
    assert results[0]["delivered"] == 1 and len(slow.tokens) == 1
    assert _rows(app)[client_id].status == "delivered"


def test_claim_is_exclusive(app, browser, make_account, make_client, launched):
    make_account("001090002006")
    client_id = _portal(app, browser, make_client, "001090002006", dead_uri())[0]
    _logout(browser)
    row_id = _rows(app)[client_id].id
    with app.app_context():
        assert logout.claim(row_id) is True
        assert logout.claim(row_id) is False


def test_rp_initiated_logout_from_one_portal_logs_out_all(app, browser, make_account, make_client, receivers,
                                                          launched):
    """RP-Initiated Logout at one portal ends the session everywhere: every portal gets its token."""
    a, b, portals = _three_portals(app, browser, make_account, make_client, receivers, "001090002007")
    hint = portals[0][2]
    response = browser.client.get("/oauth2/logout?" + urlencode({
        "id_token_hint": hint, "post_logout_redirect_uri": "https://portal.example.vn/bye"}))
    response.close()
    assert response.status_code == 302  # no front-channel portals: straight back
    assert set(_rows(app)) == {p[0] for p in portals}
    launched[0]()
    assert len(a.tokens) == len(b.tokens) == 1


def test_session_replaced_and_real_thread_delivery(app, browser, make_account, make_client, receivers):
    """A new login in the same browser ends the old session: its portals are logged out, in a thread."""
    make_account("001090002008")
    make_account("001090002009")
    a = receivers()
    a.keyset = KeySet.import_key_set(browser.client.get("/jwks.json").get_json())
    client_id = _portal(app, browser, make_client, "001090002008", a)[0]
    threads: list[threading.Thread] = []
    original = logout._thread_launch
    logout.launch = lambda work: threads.append(original(work))
    try:
        browser.login("001090002009").close()
    finally:
        logout.launch = original
    for thread in threads:
        thread.join(timeout=10)
    assert _rows(app)[client_id].status == "delivered" and len(a.tokens) == 1


def test_portal_without_backchannel_uri_and_other_sessions_get_nothing(app, browser, make_account, make_client,
                                                                       launched):
    make_account("001090002010")
    client_id, secret = make_client(trusted=True)
    browser.code_for("001090002010", client_id)
    make_client(trusted=True, backchannel_logout_uri=dead_uri())  # registered, but never used in this session
    response = _logout(browser)
    assert response.status_code == 200 and _rows(app) == {} and launched == []


def test_cli_deliver(app, runner, browser, make_account, make_client, receivers, launched):
    """`idp logout deliver` (cron) sends every due message and prints the counts."""
    make_account("001090002011")
    a = receivers()
    a.keyset = KeySet.import_key_set(browser.client.get("/jwks.json").get_json())
    _portal(app, browser, make_client, "001090002011", a)
    _logout(browser)
    result = runner.invoke(args=["logout", "deliver"])
    assert result.exit_code == 0, result.output
    assert '"delivered": 1' in result.output and len(a.tokens) == 1
