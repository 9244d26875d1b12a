"""Brute-force counters and one-time values live in Redis in production: shared by every worker.

Two application instances stand for two worker processes. Runs when IDP_TEST_REDIS_URL is set
(.ci/run sets it and fails when Redis is unreachable).
"""

from __future__ import annotations

import os
import time
import uuid

import pytest
import redis
from joserfc import jwt
from joserfc.jwk import ECKey

from idp import create_app
from tests.conftest import ISSUER
from tests.conftest import PASSWORD
from tests.conftest import base_settings
from tests.conftest import csrf_from
from tests.conftest import dispose

REDIS_URL = os.environ.get("IDP_TEST_REDIS_URL")
pytestmark = pytest.mark.skipif(not REDIS_URL, reason="IDP_TEST_REDIS_URL not set")


@pytest.fixture
def settings_overrides() -> dict:
    redis.Redis.from_url(REDIS_URL).flushdb()
    return {"redis_url": REDIS_URL}


@pytest.fixture
def second_worker(database_url, keys_dir, settings_overrides):  # noqa: ANN001, ANN201
    app = create_app(base_settings(database_url, keys_dir, **settings_overrides))
    yield app.test_client()

    dispose(app)


def _login(client, identifier: str, password: str) -> int:  # noqa: ANN001
    page = client.get("/auth/login")
    return client.post("/auth/login", data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                            "identifier": identifier, "password": password}).status_code


def test_lockout_is_shared_between_workers(client, second_worker, make_account):
    make_account("001090001401")
    for _ in range(5):
        assert _login(client, "001090001401", "wrong") == 401
    assert _login(second_worker, "001090001401", PASSWORD) == 429
    # The counter really lives in Redis (not in a process's memory).
    assert redis.Redis.from_url(REDIS_URL).keys("*login-failures*")


def test_client_assertion_replay_is_seen_by_another_worker(client, second_worker, make_client):
    key = ECKey.generate_key("P-256", parameters={"kid": "k1"})
    client_id, _ = make_client(token_endpoint_auth_method="private_key_jwt",
                               jwks={"keys": [key.as_dict(private=False)]})
    now = int(time.time())
    assertion = jwt.encode({"alg": "ES256", "kid": "k1"}, {
        "iss": client_id, "sub": client_id, "aud": f"{ISSUER}/oauth2/token", "iat": now, "exp": now + 60,
        "jti": uuid.uuid4().hex}, key, algorithms=["ES256"])
    data = {"grant_type": "client_credentials", "client_assertion": assertion,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}
    assert client.post("/oauth2/token", data=data).status_code == 200
    replay = second_worker.post("/oauth2/token", data=data)
    assert replay.get_json()["error"] == "invalid_client"
    assert redis.Redis.from_url(REDIS_URL).keys("idp:once:*")
