"""Request budgets of the RFC 7591/7592 registration API, per client address (`registration.*` settings).

Over a budget the answer is 429 `slow_down` (the app's JSON answer for 429) with Retry-After (RFC 6585 §4),
and the refused request reads and stores nothing."""

from __future__ import annotations

import json
import time

import pytest
import time_machine
from sqlalchemy import func
from sqlalchemy import select

from idp.errors import ConfigError
from idp.extensions import db
from idp.oidc.models import Client
from idp.oidc.registration_models import InitialAccessToken
from idp.oidc.registration_models import RegistrationRequest
from idp.settings import load_settings

ADDRESS = "127.0.0.1"  # the test client's default REMOTE_ADDR
OTHER = "198.51.100.7"
PER_IP, BAD_TOKENS = 5, 2


@pytest.fixture
def settings_overrides() -> dict:
    return {"registration": {"per_ip": f"{PER_IP} per hour", "bad_token_per_ip": f"{BAD_TOKENS} per hour"}}


def _metadata(name: str = "Cổng Sở Y tế") -> dict:
    return {"client_name": name, "redirect_uris": ["https://yte.example.vn/cb"], "scope": "openid"}


def _iat(runner) -> str:  # noqa: ANN001
    result = runner.invoke(args=["clients", "initial-access-token"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["initial_access_token"]


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _from(address: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}}


def _counts(app) -> tuple[int, int, int]:  # noqa: ANN001
    """(clients, registration requests, used initial access tokens)."""
    with app.app_context():
        return (db.session.scalar(select(func.count()).select_from(Client)),
                db.session.scalar(select(func.count()).select_from(RegistrationRequest)),
                db.session.scalar(select(func.count()).select_from(InitialAccessToken)
                                  .where(InitialAccessToken.used_at.is_not(None))))


def _assert_slow_down(response, window: int = 3600) -> int:  # noqa: ANN001
    """429 in the RFC error format with a usable Retry-After (seconds, within the budget's window)."""
    assert response.status_code == 429, response.get_data(as_text=True)[:300]
    body = response.get_json()
    assert body == {"error": "slow_down", "error_description": "Too many requests; slow down."}
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= window
    return retry_after


def test_registration_is_limited_per_client_address(app, client, runner):
    """POST /oauth2/register: the per_ip budget counts every request; the next one is refused, stores nothing."""
    token = _iat(runner)
    for _ in range(PER_IP):  # malformed metadata: 400, the token stays unused
        answer = client.post("/oauth2/register", json={"client_name": "x"}, headers=_bearer(token))
        assert answer.status_code == 400 and answer.get_json()["error"] == "invalid_redirect_uri"
    refused = client.post("/oauth2/register", json=_metadata(), headers=_bearer(token))
    retry_after = _assert_slow_down(refused)
    assert _counts(app) == (0, 0, 0)  # nothing stored, the initial access token still unused
    assert client.post("/oauth2/register", json=_metadata(), headers=_bearer(token),
                       **_from(OTHER)).status_code == 201  # another address has its own budget
    later = _iat(runner)
    with time_machine.travel(time.time() + retry_after + 1, tick=False):
        assert client.post("/oauth2/register", json=_metadata("Sau"), headers=_bearer(later)).status_code == 201


def test_management_endpoints_share_the_budget(app, client, runner):
    """RFC 7592 GET/PUT/DELETE count against the same per_ip budget; a refused PUT or DELETE changes nothing."""
    registered = client.post("/oauth2/register", json=_metadata(), headers=_bearer(_iat(runner))).get_json()
    uri = f"/oauth2/register/{registered['client_id']}"
    headers = _bearer(registered["registration_access_token"])
    for _ in range(PER_IP - 1):
        assert client.get(uri, headers=headers).status_code == 200
    renamed = {**_metadata("Đổi tên"), "client_id": registered["client_id"]}
    _assert_slow_down(client.put(uri, json=renamed, headers=headers))
    _assert_slow_down(client.delete(uri, headers=headers))
    _assert_slow_down(client.get(uri, headers=headers))
    with app.app_context():
        stored = db.session.get(Client, registered["client_id"])
        assert stored.name == "Cổng Sở Y tế" and stored.status == "pending"
        assert db.session.get(RegistrationRequest, registered["client_id"]).status == "pending"
    assert client.get(uri, headers=headers, **_from(OTHER)).status_code == 200
    assert client.put(uri, json=renamed, headers=headers, **_from(OTHER)).get_json()["client_name"] == "Đổi tên"


def test_wrong_tokens_spend_a_stricter_budget(app, client, runner, registered_elsewhere):
    """Brute-force guard: after bad_token_per_ip wrong tokens even the right token is refused from that address,
    long before per_ip is spent; other addresses are not affected."""
    client_id, management = registered_elsewhere
    uri = f"/oauth2/register/{client_id}"
    for _ in range(BAD_TOKENS):
        wrong = client.get(uri, headers=_bearer("guessed-" + "x" * 40))
        assert wrong.status_code == 401 and wrong.get_json()["error"] == "invalid_token"
    assert BAD_TOKENS + 1 <= PER_IP  # the normal budget alone would allow the next request
    _assert_slow_down(client.get(uri, headers=_bearer(management)))
    token = _iat(runner)
    _assert_slow_down(client.post("/oauth2/register", json=_metadata("Khác"), headers=_bearer(token)))
    assert _counts(app) == (1, 1, 1)  # only the registration made from the other address
    assert client.get(uri, headers=_bearer(management), **_from(OTHER)).status_code == 200


def test_unknown_and_expired_initial_access_tokens_spend_the_bad_token_budget(app, client, runner):
    expired = _iat(runner)
    with app.app_context():
        row = db.session.scalars(select(InitialAccessToken)).one()
        row.expires_at = row.created_at
        db.session.commit()
    assert client.post("/oauth2/register", json=_metadata(), headers=_bearer(expired)).status_code == 401
    assert client.post("/oauth2/register", json=_metadata(), headers=_bearer("made-up")).status_code == 401
    _assert_slow_down(client.post("/oauth2/register", json=_metadata(), headers=_bearer(_iat(runner))))
    assert _counts(app) == (0, 0, 0)


def test_a_missing_token_is_not_a_guess(client):
    """No Authorization header is a 401 (RFC 6750 §3.1) that spends only the normal budget."""
    for _ in range(PER_IP):
        assert client.post("/oauth2/register", json=_metadata()).status_code == 401
    _assert_slow_down(client.post("/oauth2/register", json=_metadata()))


@pytest.fixture
def registered_elsewhere(client, runner) -> tuple[str, str]:  # noqa: ANN001
    """A portal registered from OTHER (so ADDRESS's budgets are untouched): client_id, registration token."""
    body = client.post("/oauth2/register", json=_metadata(), headers=_bearer(_iat(runner)), **_from(OTHER)).get_json()
    return body["client_id"], body["registration_access_token"]


@pytest.mark.parametrize("key", ["per_ip", "bad_token_per_ip"])
def test_a_malformed_limit_stops_start_up(key):
    with pytest.raises(ConfigError) as caught:
        load_settings({"registration": {key: "lots"}})
    assert caught.value.code == f"registration.{key}"


def test_defaults_allow_normal_use():
    settings = load_settings({}).registration
    assert (settings.per_ip, settings.bad_token_per_ip) == ("60 per hour", "10 per hour")
