"""Postal settings are checked at start-up (STYLE §3: fail at start-up, naming the key), and the
staff-role store behind the clerk pages (idp.accounts.roles, `idp accounts grant-role`)."""

from __future__ import annotations

import json
from datetime import UTC
from datetime import datetime

import pytest
from sqlalchemy import select

from idp import create_app
from idp.accounts.roles import AUDITOR
from idp.accounts.roles import POSTAL_CLERK
from idp.accounts.roles import AccountRole
from idp.accounts.roles import RoleError
from idp.accounts.roles import grant_role
from idp.accounts.roles import has_role
from idp.accounts.roles import revoke_role
from idp.accounts.roles import roles_of
from idp.accounts.service import find_account
from idp.audit import AuditEvent
from idp.errors import ConfigError
from idp.extensions import db
from idp.verifiers.base import Level
from idp.verifiers.base import Services
from idp.verifiers.postal import create_counter
from idp.verifiers.postal import create_letter
from tests.conftest import base_settings


def services(sandbox: bool = True) -> Services:
    return Services(hit=lambda key, limit: True, now=lambda: datetime.now(UTC), outbox=lambda *a: None,
                    sandbox=sandbox)


@pytest.mark.parametrize(("kind", "settings", "key"), [
    ("postal_counter", {"colour": "red"}, "colour"),
    ("postal_counter", {"chip_level": "extreme"}, "chip_level"),
    ("postal_counter", {"chip_level": 3}, "chip_level"),
    ("postal_counter", {"no_chip_level": "none"}, "no_chip_level"),  # a counter check proves a person
    ("postal_counter", {"chip_level": "substantial", "no_chip_level": "high"}, "no_chip_level"),
    ("postal_counter", {"request_ttl_days": 0}, "request_ttl_days"),
    ("postal_counter", {"request_ttl_days": "30"}, "request_ttl_days"),
    ("postal_counter", {"request_ttl_days": True}, "request_ttl_days"),
    ("postal_counter", {"clerk_min_level": "none"}, "clerk_min_level"),
    ("postal_counter", {"names": "VNPost"}, "names"),
    ("postal_counter", {"names": {"vi": ""}}, "names"),
    ("postal_letter", {"max_attempts": 0}, "max_attempts"),
    ("postal_letter", {"max_attempts": 21}, "max_attempts"),
    ("postal_letter", {"code_ttl_days": 366}, "code_ttl_days"),
    ("postal_letter", {"sandbox": "yes"}, "sandbox"),
    ("postal_letter", {"level": "high"}, "level"),  # a letter's level is not configurable: it proves no person
])
def test_bad_settings_stop_start_up_naming_the_key(database_url, keys_dir, kind, settings, key):
    with pytest.raises(ConfigError) as info:
        create_app(base_settings(database_url, keys_dir, verifiers={"vnpost": {"kind": kind, **settings}}))
    assert info.value.code == f"verifiers.vnpost.{key}"


def test_defaults_follow_docs_assurance():
    counter = create_counter("vnpost", {}, services())
    assert (counter.chip_level, counter.no_chip_level, counter.info.max_level) == (Level.HIGH, Level.SUBSTANTIAL,
                                                                                    Level.HIGH)
    assert counter.ttl.days == 30 and counter.clerk_min_level == Level.SUBSTANTIAL
    letter = create_letter("letter", {}, services())
    assert letter.info.max_level == Level.NONE and letter.max_attempts == 5 and letter.ttl.days == 30
    tuned = create_counter("vnpost", {"chip_level": "substantial", "no_chip_level": "low",
                                      "request_ttl_days": 14, "names": {"vi": "Bưu điện", "en": "Post"}},
                           services())
    assert tuned.info.max_level == Level.SUBSTANTIAL and tuned.info.name_for("en") == "Post"


def test_the_letter_sandbox_is_refused_in_production():
    with pytest.raises(ConfigError) as info:
        create_letter("letter", {"sandbox": True}, services(sandbox=False))
    assert info.value.code == "verifiers.letter.sandbox"
    assert create_letter("letter", {}, services(sandbox=False)).sandbox is False  # off by default there


# --- staff roles ------------------------------------------------------------------------------
def test_roles_are_granted_scoped_revoked_and_audited(app, make_account):
    clerk_id = make_account("001090099901")
    admin_id = make_account("001090099902")
    with app.app_context():
        grant_role(clerk_id, POSTAL_CLERK, "100000", granted_by=admin_id)
        assert grant_role(clerk_id, POSTAL_CLERK, "100000").id == roles_of(clerk_id)[0].id  # idempotent
        assert has_role(clerk_id, POSTAL_CLERK) and has_role(clerk_id, POSTAL_CLERK, "100000")
        assert not has_role(clerk_id, POSTAL_CLERK, "700000") and not has_role(clerk_id, AUDITOR)
        assert not has_role(admin_id, POSTAL_CLERK)
        with pytest.raises(RoleError):
            grant_role(clerk_id, "superuser")
        with pytest.raises(RoleError):
            grant_role(clerk_id, POSTAL_CLERK, "x" * 65)
        assert revoke_role(clerk_id, POSTAL_CLERK, "100000", revoked_by=admin_id)
        assert not revoke_role(clerk_id, POSTAL_CLERK, "100000")
        assert not has_role(clerk_id, POSTAL_CLERK)
        db.session.commit()
        events = [(e.event, e.account_id, e.data) for e in db.session.execute(
            select(AuditEvent).where(AuditEvent.event.like("role.%")).order_by(AuditEvent.id)).scalars()]
    assert events == [
        ("role.granted", clerk_id, {"role": POSTAL_CLERK, "scope": "100000", "granted_by": admin_id}),
        ("role.revoked", clerk_id, {"role": POSTAL_CLERK, "scope": "100000", "revoked_by": admin_id}),
    ]


def test_roles_go_with_a_deleted_account(app, make_account):
    clerk_id = make_account("001090099903")
    with app.app_context():
        grant_role(clerk_id, POSTAL_CLERK)
        db.session.commit()
        db.session.delete(find_account("001090099903"))
        db.session.commit()
        assert db.session.execute(select(AccountRole)).first() is None


def test_grant_and_revoke_role_from_the_command_line(app, runner, make_account):
    make_account("001090099904")
    granted = runner.invoke(args=["accounts", "grant-role", "001090099904", "postal_clerk", "--scope", "100000"])
    assert granted.exit_code == 0, granted.output
    assert json.loads(granted.output) == {"account_id": 1, "role": "postal_clerk", "scope": "100000",
                                          "granted": True}
    with app.app_context():
        assert has_role(1, POSTAL_CLERK, "100000")
    unknown_role = runner.invoke(args=["accounts", "grant-role", "001090099904", "god"])
    assert unknown_role.exit_code == 2 and "unknown_role" in unknown_role.output
    assert "postal_clerk" in unknown_role.output  # the message lists the known roles
    nobody = runner.invoke(args=["accounts", "grant-role", "001090099999", "postal_clerk"])
    assert nobody.exit_code == 2 and "no account" in nobody.output
    revoked = runner.invoke(args=["accounts", "revoke-role", "001090099904", "postal_clerk", "--scope", "100000"])
    assert revoked.exit_code == 0 and json.loads(revoked.output)["revoked"] is True
    with app.app_context():
        assert not has_role(1, POSTAL_CLERK)


def test_the_database_keeps_one_grant_per_role_and_scope(app, make_account, monkeypatch):
    """A unique index (NULL scope included) stops two concurrent grants of the same role both landing;
    grant_role then answers with the grant that won."""
    from sqlalchemy.exc import IntegrityError
    from sqlalchemy.orm import Session

    from idp.accounts import roles

    account_id = make_account("001090077701")
    with app.app_context():
        for scope in (None, "100000"):
            with Session(db.engine) as other, other.begin():  # the other request wins the race
                other.add(roles.AccountRole(account_id=account_id, role="postal_clerk", scope=scope))
            with pytest.raises(IntegrityError), Session(db.engine) as late, late.begin():
                late.add(roles.AccountRole(account_id=account_id, role="postal_clerk", scope=scope))
        [winner] = [row for row in roles.roles_of(account_id, "postal_clerk") if row.scope is None]
        looked_up = roles.roles_of
        answers = iter([[]])  # the look-up before the insert ran before the winner committed
        monkeypatch.setattr(roles, "roles_of", lambda *args: next(answers, None) or looked_up(*args))
        assert roles.grant_role(account_id, "postal_clerk", None).id == winner.id
        db.session.commit()
