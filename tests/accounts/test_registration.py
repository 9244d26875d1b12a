"""Self-registration of a citizen account: lowest level, validated identifier, provenance recorded."""

from __future__ import annotations

import pytest
from sqlalchemy import func
from sqlalchemy import select

from idp.accounts.models import Account
from idp.extensions import db
from tests.conftest import csrf_from

FORM = {"personal_id": "079301004567", "full_name": "Trần Thị Bình", "birthdate": "2001-09-03",
        "gender": "female", "email": "binh@example.vn", "phone": "", "password": "a long enough pass",
        "confirm": "a long enough pass"}


def _register(client, **changes: str):  # noqa: ANN001, ANN202
    page = client.get("/accounts/register")
    return client.post("/accounts/register", data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                                   **FORM, **changes})


def _accounts(app) -> int:  # noqa: ANN001
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(Account)).scalar_one()


def test_registration_creates_self_asserted_citizen_account(app, client):
    response = _register(client)
    assert response.status_code == 303
    with app.app_context():
        account = db.session.execute(select(Account)).scalar_one()
        assert account.kind == "citizen" and account.identifier == "079301004567"
        assert account.password_hash.startswith("$argon2id$")
        name = account.verification_of("full_name")
        assert name.source == "self" and name.is_self_asserted and name.level == 0


@pytest.mark.parametrize(("changes", "message"), [
    ({"personal_id": "12345"}, "exactly 12 digits"),
    ({"personal_id": "097301004567"}, "province"),
    ({"birthdate": "1999-09-03"}, "date of birth"),
    ({"gender": "male"}, "sex"),
    ({"password": "short", "confirm": "short"}, "too short"),
    ({"confirm": "something else"}, "not the same"),
])
def test_invalid_registration_keeps_input_and_stores_nothing(app, client, changes: dict, message: str):
    response = _register(client, **changes)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'value="Trần Thị Bình"' in html  # what the person typed is kept
    assert _accounts(app) == 0


def test_duplicate_registration_is_refused(app, client):
    assert _register(client).status_code == 303
    assert _register(client).status_code == 400
    assert _accounts(app) == 1


@pytest.fixture
def settings_overrides(request) -> dict:  # noqa: ANN001
    return getattr(request, "param", {})


@pytest.mark.parametrize("settings_overrides", [{"accounts": {"required_source": {"citizen": "vneid"}}}],
                         indirect=True)
def test_deployment_can_require_an_identity_source(app, client):
    """Vietnamese law may require VNeID for citizens: then password self-registration is closed."""
    response = client.get("/accounts/register")
    assert response.status_code == 403
    assert "VNeID" in response.get_data(as_text=True)
