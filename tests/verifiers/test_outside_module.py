"""A fifth identity source, written as a separate package, works with no change to idp/.

The package is "installed" the way pip installs any distribution: a module on sys.path plus a
`.dist-info` folder whose entry_points.txt declares `socialinsurance` in the `idp.verifiers`
group. importlib.metadata then finds it like any installed package.
"""

from __future__ import annotations

import re
import shutil
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from idp import create_app
from idp.accounts.service import find_account
from idp.extensions import db
from idp.verifiers.conformance import CHECKS
from idp.verifiers.conformance import Harness
from idp.verifiers.registry import available_kinds
from tests.conftest import base_settings
from tests.conftest import hidden_fields

SOURCE = Path(__file__).parent / "outside" / "socialinsurance_verifier.py"


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    site = tmp_path / "site-packages"
    dist = site / "socialinsurance_verifier-1.0.dist-info"
    dist.mkdir(parents=True)
    shutil.copy(SOURCE, site / "socialinsurance_verifier.py")
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: socialinsurance-verifier\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[idp.verifiers]\nsocialinsurance = socialinsurance_verifier:create\n")
    monkeypatch.syspath_prepend(str(site))
    yield site
    sys.modules.pop("socialinsurance_verifier", None)


def test_outside_module_is_discovered_and_logs_a_citizen_in(installed, database_url, keys_dir):
    assert "socialinsurance" in available_kinds()
    members = {"001090014001": {"book": "BHXH-0101", "name": "Đỗ Văn Phúc"}}
    app = create_app(base_settings(database_url, keys_dir,
                                   verifiers={"bhxh": {"kind": "socialinsurance", "members": members}}))
    client = app.test_client()
    page = client.get("/auth/login").get_data(as_text=True)
    assert "Bảo hiểm xã hội" in page
    token = re.search(r'action="/auth/sources/bhxh/start">\s*<input id="csrf_token" name="csrf_token" '
                      r'type="hidden" value="([^"]+)"', page).group(1)
    prompt = client.post("/auth/sources/bhxh/start", data={"csrf_token": token})
    html = prompt.get_data(as_text=True)
    action = re.search(r'<form method="post" action="([^"]+)"', html).group(1)
    done = client.post(action, data={**hidden_fields(html), "personal_id": "001090014001"})
    assert done.status_code == 303
    with app.app_context():
        account = find_account("001090014001")
        assert account.full_name == "Đỗ Văn Phúc" and account.verification_of("full_name").source == "bhxh"
        db.session.remove()
        db.engine.dispose()


def test_outside_module_validates_its_own_settings(installed, database_url, keys_dir):
    from idp.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        create_app(base_settings(database_url, keys_dir, verifiers={"bhxh": {"kind": "socialinsurance"}}))
    assert info.value.code == "verifiers.bhxh.members"


class SocialInsuranceDriver:
    kind = "socialinsurance"
    stale_after = timedelta(minutes=15)
    ignored_params = frozenset()

    def build(self, harness: Harness):  # noqa: ANN201
        from socialinsurance_verifier import create

        return create("bhxh", {"members": {"001090014002": {"book": "BHXH-0102", "name": "Mai Thị Quế"}}},
                      harness.services)

    def new_attempt(self, harness: Harness, verifier):  # noqa: ANN001, ANN201
        return harness.new_attempt(verifier.id)

    def prepare(self, harness: Harness, verifier, attempt, step) -> dict[str, str]:  # noqa: ANN001
        return {"nonce": step.fields["nonce"], "personal_id": "001090014002"}


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
def test_outside_module_passes_the_conformance_suite(installed, check):
    """The same suite as the built-in modules (idp/verifiers/conformance.py), from outside the package."""
    check(SocialInsuranceDriver(), Harness())
