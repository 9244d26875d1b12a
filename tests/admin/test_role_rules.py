"""One set of staff-role rules at every door (idp.accounts.roles.check_grant / check_revoke): the command
line `idp accounts grant-role|revoke-role` refuses what the admin console refuses - an unscoped postal
clerk or agency administrator (it would reach nothing), a scope on a national role, an agency code that
does not have the syntax of `Client.agency_code`, and removing the last national administrator - with a
clear English error and a non-zero exit, and stores nothing."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from idp.accounts.roles import AGENCY_ADMIN
from idp.accounts.roles import NATIONAL_ADMIN
from idp.accounts.roles import POSTAL_CLERK
from idp.accounts.roles import grant_role
from idp.accounts.roles import roles_of
from idp.audit import AuditEvent
from idp.extensions import db
from tests.admin.accounts_support import REASON
from tests.admin.accounts_support import api
from tests.admin.accounts_support import english
from tests.admin.accounts_support import post_page

PIN = "001090072345"
OTHER_PIN = "001090072346"

# (role, --scope, the error code both doors answer with)
REFUSED_GRANTS = [
    (AGENCY_ADMIN, None, "scope_required"),
    (POSTAL_CLERK, None, "scope_required"),
    (AGENCY_ADMIN, "   ", "scope_required"),
    (AGENCY_ADMIN, "Bo-Tai-Chinh", "invalid_agency_code"),
    (AGENCY_ADMIN, "bộ-tài-chính", "invalid_scope"),
    (AGENCY_ADMIN, "-bo-tai-chinh", "invalid_agency_code"),
    (AGENCY_ADMIN, "bo tai chinh", "invalid_agency_code"),
    (POSTAL_CLERK, "bưu điện", "invalid_scope"),
    (NATIONAL_ADMIN, "hanoi", "scope_not_allowed"),
    ("helpdesk", "hanoi", "scope_not_allowed"),
    ("superuser", None, "unknown_role"),
]
MESSAGES = {
    "scope_required": "This role needs a scope",
    "invalid_agency_code": "An agency code is up to 64 lowercase letters",
    "invalid_scope": "The scope must be up to 64 plain characters.",
    "scope_not_allowed": "This role is national and takes no scope.",
    "unknown_role": "Unknown role.",
}


def _grants(app, account_id: int) -> list[tuple[str, str | None]]:  # noqa: ANN001
    with app.app_context():
        return [(row.role, row.scope) for row in roles_of(account_id)]


def _cli(runner, verb: str, identifier: str, role: str, scope: str | None = None):  # noqa: ANN001, ANN201
    return runner.invoke(args=["accounts", verb, identifier, role, *(["--scope", scope] if scope is not None else [])])


def _role_events(app) -> list[str]:  # noqa: ANN001
    with app.app_context():
        return [e.event for e in db.session.execute(select(AuditEvent).where(AuditEvent.event.like("role.%"))
                                                    .order_by(AuditEvent.id)).scalars()]


@pytest.mark.parametrize(("role", "scope", "code"), REFUSED_GRANTS)
def test_the_command_line_refuses_what_the_console_refuses(app, runner, client, api_token, make_account,
                                                           role, scope, code):
    account_id = make_account(PIN)
    refused = _cli(runner, "grant-role", PIN, role, scope)
    assert refused.exit_code == 2, refused.output
    assert f"error: {code}: {MESSAGES[code]}" in refused.output
    assert ("Known roles: postal_clerk" in refused.output) == (code == "unknown_role")
    # The API door answers with the same code (and the page with the same message, translated).
    body = {"account_id": account_id, "role": role, "reason": REASON, **({"scope": scope} if scope else {})}
    answer = api(client, api_token("admin:national"), "POST", "/admin/api/roles", body)
    assert answer.status_code == 400
    if code != "unknown_role":  # an unknown role stops at the API's JSON Schema (an enum)
        assert answer.get_json()["error"] == code
    assert _grants(app, account_id) == [] and _role_events(app) == []


def test_the_page_refuses_an_agency_code_that_no_portal_can_have(app, staff, make_account):
    """Before, the console stored any printable scope for an agency administrator, e.g. "Bộ Tư pháp" with
    capitals and spaces, which no `Client.agency_code` can equal: a grant that reaches nothing."""
    account_id = make_account(PIN)
    admin = english(staff(NATIONAL_ADMIN))
    response = post_page(admin, "/admin/roles", identifier=PIN, role=AGENCY_ADMIN, scope="Bo Tu Phap", reason=REASON)
    assert response.status_code == 400 and MESSAGES["invalid_agency_code"] in response.get_data(as_text=True)
    assert _grants(app, account_id) == []


def test_the_command_line_grants_what_the_rules_allow(app, runner, make_account):
    account_id = make_account(PIN)
    for role, scope in [(AGENCY_ADMIN, " bo-tai-chinh "), (AGENCY_ADMIN, "tp-ha-noi.so_tu-phap"),
                        (POSTAL_CLERK, "100000"), (NATIONAL_ADMIN, None), ("helpdesk", ""), ("auditor", None)]:
        granted = _cli(runner, "grant-role", PIN, role, scope)
        assert granted.exit_code == 0, granted.output
        stored_scope = scope.strip() or None if scope is not None else None
        assert json.loads(granted.output) == {"account_id": account_id, "role": role, "scope": stored_scope,
                                              "granted": True}
    assert sorted(_grants(app, account_id), key=str) == sorted(
        [(AGENCY_ADMIN, "bo-tai-chinh"), (AGENCY_ADMIN, "tp-ha-noi.so_tu-phap"), (POSTAL_CLERK, "100000"),
         (NATIONAL_ADMIN, None), ("helpdesk", None), ("auditor", None)], key=str)
    assert _role_events(app) == ["role.granted"] * 6
    assert _cli(runner, "grant-role", PIN, AGENCY_ADMIN, "bo-tai-chinh").exit_code == 0  # idempotent, as before
    assert _role_events(app) == ["role.granted"] * 6


def test_the_command_line_never_removes_the_last_national_administrator(app, runner, make_account):
    first, second = make_account(PIN), make_account(OTHER_PIN)
    assert _cli(runner, "grant-role", PIN, NATIONAL_ADMIN).exit_code == 0
    refused = _cli(runner, "revoke-role", PIN, NATIONAL_ADMIN)
    assert refused.exit_code == 2
    assert "error: last_national_admin: This is the last national administrator. Grant the role to someone " \
           "else first." in refused.output
    assert _grants(app, first) == [(NATIONAL_ADMIN, None)] and _role_events(app) == ["role.granted"]
    # Revoking a grant nobody holds changes nothing and is not a lock-out.
    nothing = _cli(runner, "revoke-role", OTHER_PIN, NATIONAL_ADMIN)
    assert nothing.exit_code == 0 and json.loads(nothing.output)["revoked"] is False
    # With a second national administrator the first may go; the second is then the last one.
    assert _cli(runner, "grant-role", OTHER_PIN, NATIONAL_ADMIN).exit_code == 0
    revoked = _cli(runner, "revoke-role", PIN, NATIONAL_ADMIN)
    assert revoked.exit_code == 0 and json.loads(revoked.output)["revoked"] is True
    assert _grants(app, first) == [] and _grants(app, second) == [(NATIONAL_ADMIN, None)]
    assert _cli(runner, "revoke-role", OTHER_PIN, NATIONAL_ADMIN).exit_code == 2
    assert _grants(app, second) == [(NATIONAL_ADMIN, None)]


def test_grants_stored_before_the_rules_can_still_be_revoked(app, runner, make_account):
    """An unscoped agency administrator granted by an older command line reaches nothing: taking it away
    must work (revocation checks only that the role is known, and the national-administrator guard)."""
    account_id = make_account(PIN)
    with app.app_context():
        grant_role(account_id, AGENCY_ADMIN, None)
        grant_role(account_id, POSTAL_CLERK, None)
        db.session.commit()
    for role in (AGENCY_ADMIN, POSTAL_CLERK):
        revoked = _cli(runner, "revoke-role", PIN, role)
        assert revoked.exit_code == 0 and json.loads(revoked.output)["revoked"] is True, revoked.output
    assert _grants(app, account_id) == []
