"""Portal manifests carry `agency_code`: `idp clients sync clients/` sets it, so agency administrators reach
their portals; a manifest or an RFC 7592 update that names none never clears it."""

from __future__ import annotations

import json
from pathlib import Path

from idp.extensions import db
from idp.oidc.models import Client

DEMO = Path(__file__).resolve().parents[2] / "clients"
EXPECTED = {"demo-national-portal": "vpcp", "demo-ministry-finance": "bo-tai-chinh",
            "demo-ministry-health": "bo-y-te", "demo-province-danang": "tp-da-nang",
            "demo-province-hanoi": "tp-ha-noi"}


def _codes(app) -> dict[str, str | None]:  # noqa: ANN001
    with app.app_context():
        return {row.client_id: row.agency_code for row in db.session.query(Client).all()}


def test_sync_sets_the_agency_code_of_the_five_demo_portals(app, runner):
    first = runner.invoke(args=["clients", "sync", str(DEMO)])
    assert first.exit_code == 0, first.output
    assert _codes(app) == EXPECTED
    again = runner.invoke(args=["clients", "sync", str(DEMO)])
    assert {json.loads(line)["result"] for line in again.output.splitlines()} == {"unchanged"}


def test_a_changed_code_is_synced_and_a_missing_one_is_kept(app, runner, tmp_path):
    manifest = tmp_path / "portal.toml"
    base = 'client_id = "so-tu-phap"\nname = "Cổng Sở Tư pháp"\nredirect_uris = ["https://tuphap.example.vn/cb"]\n'
    manifest.write_text(base + 'agency_code = "tp-hue"\n', encoding="utf-8")
    assert runner.invoke(args=["clients", "sync", str(manifest)]).exit_code == 0
    manifest.write_text(base + 'agency_code = "tp-da-nang"\n', encoding="utf-8")
    changed = runner.invoke(args=["clients", "sync", str(manifest)])
    assert json.loads(changed.output)["fields"] == ["agency_code"]
    manifest.write_text(base, encoding="utf-8")
    kept = runner.invoke(args=["clients", "sync", str(manifest)])
    assert json.loads(kept.output)["result"] == "unchanged"
    assert _codes(app)["so-tu-phap"] == "tp-da-nang"


def test_a_bad_agency_code_stops_the_sync_naming_file_and_key(app, runner, tmp_path):
    for value in ('"Bộ Tư pháp"', '"-x"', '"' + "a" * 65 + '"', "12"):
        manifest = tmp_path / "portal.toml"
        manifest.write_text('client_id = "so-tu-phap"\nname = "Cổng"\nredirect_uris = ["https://tp.example.vn/cb"]\n'
                            f"agency_code = {value}\n", encoding="utf-8")
        result = runner.invoke(args=["clients", "sync", str(manifest)])
        assert result.exit_code == 2 and "portal.toml: agency_code:" in result.output, value
    assert "so-tu-phap" not in _codes(app)


def test_rfc7592_update_does_not_clear_the_agency_code(app, client, runner, api_token):
    token = json.loads(runner.invoke(args=["clients", "initial-access-token"]).output)["initial_access_token"]
    meta = {"client_name": "Cổng Sở Xây dựng", "redirect_uris": ["https://xd.example.vn/cb"]}
    registered = client.post("/oauth2/register", headers={"Authorization": f"Bearer {token}"}, json=meta).get_json()
    national = {"Authorization": f"Bearer {api_token('admin:national')}"}
    client_id = registered["client_id"]
    assert client.patch(f"/admin/api/clients/{client_id}", headers=national,
                        json={"agency_code": "tp-hue"}).status_code == 200
    updated = client.put(f"/oauth2/register/{client_id}", json={**meta, "client_id": client_id},
                         headers={"Authorization": f"Bearer {registered['registration_access_token']}"})
    assert updated.status_code == 200, updated.get_json()
    assert _codes(app)[client_id] == "tp-hue"
