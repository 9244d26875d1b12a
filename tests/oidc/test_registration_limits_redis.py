"""The registration API's budgets live in Redis in production: one spent on one worker holds on every worker.

Two application instances stand for two worker processes. Runs when IDP_TEST_REDIS_URL is set."""

from __future__ import annotations

import os

import pytest
import redis

from idp import create_app
from tests.conftest import base_settings
from tests.conftest import dispose

REDIS_URL = os.environ.get("IDP_TEST_REDIS_URL")
pytestmark = pytest.mark.skipif(not REDIS_URL, reason="IDP_TEST_REDIS_URL not set")


@pytest.fixture
def settings_overrides() -> dict:
    redis.Redis.from_url(REDIS_URL).flushdb()
    return {"redis_url": REDIS_URL, "registration": {"per_ip": "50 per hour", "bad_token_per_ip": "2 per hour"}}


@pytest.fixture
def second_worker(database_url, keys_dir, settings_overrides):  # noqa: ANN001, ANN201
    app = create_app(base_settings(database_url, keys_dir, **settings_overrides))
    yield app.test_client()
    dispose(app)


def test_bad_token_budget_is_shared_between_workers(client, second_worker):
    meta = {"client_name": "Cổng", "redirect_uris": ["https://cong.example.vn/cb"]}
    for _ in range(2):
        assert client.post("/oauth2/register", json=meta, headers={"Authorization": "Bearer guess"}).status_code == 401
    refused = second_worker.post("/oauth2/register", json=meta, headers={"Authorization": "Bearer guess"})
    assert refused.status_code == 429 and refused.headers["Retry-After"]
    assert redis.Redis.from_url(REDIS_URL).keys("*registration-bad-token*")
