"""OpenID Connect Front-Channel Logout 1.0 §3: the logged-out page embeds one invisible iframe per portal
of the session (with iss and sid when the portal asked), and its CSP allows exactly those frames."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

from idp.extensions import db
from idp.oidc.models import Client
from tests.conftest import ISSUER
from tests.conftest import csrf_from
from tests.conftest import decode_with_jwks


def _portal(app, browser, make_client, pin, frontchannel, session_required=True):  # noqa: ANN001, ANN202
    client_id, secret = make_client(trusted=True)
    with app.app_context():
        client = db.session.get(Client, client_id)
        client.frontchannel_logout_uri = frontchannel
        client.frontchannel_logout_session_required = session_required
        db.session.commit()
    params = browser.code_for(pin, client_id)
    id_token = browser.exchange(params["code"], client_id, secret).get_json()["id_token"]
    return client_id, decode_with_jwks(browser.client, id_token)[1], id_token


def _frames(page: str) -> list[str]:
    return [html.unescape(src) for src in re.findall(r'<iframe src="([^"]+)"', page)]


def _logout(browser):  # noqa: ANN001, ANN202
    page = browser.client.get("/auth/logout")
    return browser.client.post("/auth/logout", data={"csrf_token": csrf_from(page.get_data(as_text=True))})


def _check_csp(response, origins: set[str]) -> None:  # noqa: ANN001
    assert "X-Frame-Src" not in response.headers  # idp/security.py turned it into the CSP's frame-src
    csp = response.headers["Content-Security-Policy"]
    directive = next(d.strip() for d in csp.split(";") if d.strip().startswith("frame-src"))
    assert set(directive.split()[1:]) == origins


def test_logged_out_page_has_iframes_with_iss_and_sid(app, browser, make_account, make_client):
    """Front-Channel Logout §3: iss and sid query parameters when frontchannel_logout_session_required."""
    pin = "001090003001"
    make_account(pin)
    _, claims_a, _ = _portal(app, browser, make_client, pin, "https://a.example.vn/fc?x=1")
    _portal(app, browser, make_client, pin, "https://b.example.vn/fc", session_required=False)
    make_client(trusted=True)  # a portal of the session without front-channel logout is not framed
    response = _logout(browser)
    frames = sorted(_frames(response.get_data(as_text=True)))
    assert len(frames) == 2
    first = urlsplit(frames[0])
    assert (first.scheme, first.netloc, first.path) == ("https", "a.example.vn", "/fc")
    assert parse_qs(first.query) == {"x": ["1"], "iss": [ISSUER], "sid": [claims_a["sid"]]}
    assert frames[1] == "https://b.example.vn/fc"
    assert "hidden" in response.get_data(as_text=True)
    _check_csp(response, {"https://a.example.vn", "https://b.example.vn"})


def test_rp_initiated_logout_renders_frames_before_returning(app, browser, make_account, make_client):
    """With front-channel portals, RP-initiated logout shows the iframes and a link back, not a bare redirect."""
    pin = "001090003002"
    make_account(pin)
    _, claims, hint = _portal(app, browser, make_client, pin, "https://a.example.vn/fc")
    response = browser.client.get("/oauth2/logout?" + urlencode({
        "id_token_hint": hint, "post_logout_redirect_uri": "https://portal.example.vn/bye", "state": "s1"}))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert _frames(page) == [f"https://a.example.vn/fc?{urlencode({'iss': ISSUER, 'sid': claims['sid']})}"]
    assert 'href="https://portal.example.vn/bye?state=s1"' in page


def test_no_frames_and_no_frame_src_without_front_channel_portals(app, browser, make_account, make_client):
    pin = "001090003003"
    make_account(pin)
    client_id, _ = make_client(trusted=True)
    browser.code_for(pin, client_id)
    response = _logout(browser)
    assert _frames(response.get_data(as_text=True)) == []
    assert "X-Frame-Src" not in response.headers
    assert "frame-src" not in response.headers["Content-Security-Policy"]


def test_discovery_advertises_single_logout(client):
    """Back-Channel Logout §2.1 and Front-Channel Logout §3: the OP's support and sid support."""
    metadata = client.get("/.well-known/openid-configuration").get_json()
    for name in ("backchannel_logout_supported", "backchannel_logout_session_supported",
                 "frontchannel_logout_supported", "frontchannel_logout_session_supported"):
        assert metadata[name] is True, name
