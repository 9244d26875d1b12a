"""The password policy (NIST SP 800-63B §5.1.1.2): length after NFKC, no composition rules, the
shipped common-passwords list, no identifier inside, on registration, reset and change."""

from __future__ import annotations

import importlib.util
import unicodedata
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from idp.accounts.models import Account
from idp.errors import ConfigError
from idp.extensions import db
from idp.passwords import PasswordRefused
from idp.passwords import check_new_password
from idp.passwords import common_passwords
from idp.passwords import is_common
from idp.settings import PasswordSettings
from idp.settings import load_settings
from tests.conftest import csrf_from

ROOT = Path(__file__).resolve().parent.parent.parent
EN = {"Accept-Language": "en"}
PIN = "001090077701"  # a man born in 1990 (check_personal_id)


def _generator():  # noqa: ANN202
    spec = importlib.util.spec_from_file_location("build_common_passwords",
                                                  ROOT / "idp" / "data" / "build_common_passwords.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _refusal(password: str, *identifiers: str) -> str | None:
    try:
        check_new_password(password, identifiers, settings=PasswordSettings())
    except PasswordRefused as exc:
        return exc.code
    return None


def _register(client, password: str, confirm: str | None = None, pin: str = PIN):  # noqa: ANN001, ANN202
    page = client.get("/accounts/register", headers=EN)
    return client.post("/accounts/register", headers=EN, data={
        "csrf_token": csrf_from(page.get_data(as_text=True)), "personal_id": pin, "full_name": "Trần Thị Mật",
        "birthdate": "1990-01-01", "gender": "male", "password": password,
        "confirm": password if confirm is None else confirm})


def _login(client, identifier: str, password: str) -> int:  # noqa: ANN001
    page = client.get("/auth/login")
    return client.post("/auth/login", data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                            "identifier": identifier, "password": password}).status_code


# --- the shipped list ---------------------------------------------------------------------------------
def test_the_committed_list_is_what_the_generator_builds():
    """The data file is generated from zxcvbn's password frequency list, never edited by hand."""
    committed = (ROOT / "idp" / "data" / "common-passwords.txt").read_text(encoding="utf-8")
    assert committed == _generator().build(), "run python idp/data/build_common_passwords.py and commit"


def test_the_list_holds_only_normalised_entries_the_length_rule_would_not_refuse_anyway():
    entries = common_passwords()
    assert len(entries) > 10_000
    assert all(len(e) >= 8 and e == unicodedata.normalize("NFKC", e).casefold() for e in entries)
    assert {"password123", "12345678", "iloveyou", "matkhau123", "dichvucong"} <= entries


def test_the_list_is_read_once(app):
    common_passwords.cache_clear()
    with app.app_context():
        is_common("a")
        is_common("b")
    assert common_passwords.cache_info().misses == 1 and common_passwords.cache_info().hits >= 1


# --- the rules, one by one ------------------------------------------------------------------------------
@pytest.mark.parametrize("password", ["password123", "12345678", "matkhau123", "PassWord123", "ＰＡＳＳＷＯＲＤ１２３",
                                      "Iloveyou"])
def test_common_passwords_are_refused_whatever_their_case_or_width(app, password):
    """§5.1.1.2: compare against a list of commonly used passwords (case-insensitively, after NFKC)."""
    with app.app_context():
        assert _refusal(password) == "password_common"


@pytest.mark.parametrize("password", ["correct horse battery", "tôi đi học bằng xe đạp", "ngựa ô đá bóng 7",
                                      "xk3#v9q2", "mèo con ăn cá"])
def test_no_composition_rules(app, password):
    """§5.1.1.2: no rules requiring mixtures of character types; spaces and Vietnamese letters are fine."""
    with app.app_context():
        assert _refusal(password) is None


def test_length_counts_code_points_after_nfkc(app):
    """§5.1.1.2: each Unicode code point counts as one character, after normalisation. "Mẹ Việt"
    decomposed (NFD) has 11 code points but only 7 once composed: too short."""
    decomposed = unicodedata.normalize("NFD", "Mẹ Việt")
    assert len(decomposed) >= 8
    with app.app_context():
        assert _refusal(decomposed) == "password_too_short"
        assert _refusal("abc 9xq") == "password_too_short"  # 7
        assert _refusal("abc 9xqz") is None  # 8


def test_long_passwords_are_accepted_up_to_the_configured_maximum(app):
    """§5.1.1.2: at least 64 characters must be accepted; the default maximum is 256."""
    with app.app_context():
        assert _refusal("ngựa ô " * 10) is None  # 70
        assert _refusal(("ngựa ô chạy " * 30)[:256]) is None
        assert _refusal(("ngựa ô chạy " * 30)[:257]) == "password_too_long"


@pytest.mark.parametrize(("password", "identifiers"), [
    ("001090077701", ("001090077701",)),
    ("my id 001090077701!", ("001090077701",)),
    ("001-090-077-701 xyz", ("001090077701",)),
    ("congty 0101234567 abc", ("0101234567-001",)),  # a branch's tax code, by its base
])
def test_passwords_containing_the_identifier_are_refused(app, password, identifiers):
    """§5.1.1.2: context-specific words such as the username (here the personal ID or tax code)."""
    with app.app_context():
        assert _refusal(password, *identifiers) == "password_contains_identifier"


@pytest.mark.parametrize("password", ["aaaaaaaaaa", "abababababab", "qrstuvwxyz", "98765432", "zzzzzzzzz1"])
def test_repetitive_and_sequential_passwords_are_refused(app, password):
    """§5.1.1.2: repetitive or sequential characters (e.g. 'aaaaaa', '1234abcd')."""
    with app.app_context():
        assert _refusal(password) in ("password_repetitive", "password_common")


# --- through the registration page ----------------------------------------------------------------------
def test_registration_refuses_a_common_password_with_a_clear_message(app, client):
    response = _register(client, "password123")
    assert response.status_code == 400
    assert "too common" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.execute(select(Account)).first() is None


def test_registration_refuses_the_personal_id_as_password(app, client):
    response = _register(client, f"x{PIN}x")
    assert response.status_code == 400
    assert "must not contain your personal ID number" in response.get_data(as_text=True)


def test_registration_messages_have_a_vietnamese_version():
    """Every policy message has a Vietnamese translation in the catalogue handed to the lead."""
    po = Path("/tmp/i18n/recovery.po")
    if not po.exists():
        pytest.skip("the translations are merged into idp/translations by the lead")
    text = po.read_text(encoding="utf-8")
    for message in ("The password must not contain your personal ID number or tax code.",
                    "This password is too common: it is on the lists attackers try first. Choose another one."):
        assert f'msgid "{message}"' in text


def test_a_70_character_password_registers_and_logs_in(app, client):
    long_password = "một câu dài về con ngựa ô và chiếc xe đạp màu xanh ở Hà Nội năm 2024 ok"
    assert len(long_password) >= 64
    assert _register(client, long_password).status_code == 303
    assert _login(app.test_client(), PIN, long_password) == 303


def test_a_full_width_password_equals_its_normalised_form(app, client):
    """NFKC before hashing: typed in full-width forms (an East Asian keyboard), checked in ASCII, and back."""
    full_width = "ｇｒｅｅｎ ｒｉｖｅｒ ９"
    assert unicodedata.normalize("NFKC", full_width) == "green river 9"
    assert _register(client, full_width).status_code == 303
    assert _login(app.test_client(), PIN, "green river 9") == 303
    assert _login(app.test_client(), PIN, full_width) == 303


def test_no_composition_rule_at_registration(app, client):
    assert _register(client, "correct horse battery").status_code == 303


def test_the_page_recommends_12_characters(client):
    html = client.get("/accounts/register", headers=EN).get_data(as_text=True)
    assert "12 or more" in html and 'aria-describedby="password-hint"' in html


# --- settings --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("change", "key"), [
    ({"min_length": 6}, "passwords.min_length"),
    ({"max_length": 32}, "passwords.max_length"),
    ({"max_length": 5000}, "passwords.max_length"),
])
def test_settings_refuse_a_policy_below_nist(change, key):
    with pytest.raises(ConfigError) as info:
        load_settings({"passwords": change})
    assert info.value.code == key


def test_create_account_applies_the_policy_too(app):
    """The service refuses a common password even without the form (CLI, demo data)."""
    from idp.accounts.service import AccountError
    from idp.accounts.service import NewAccount
    from idp.accounts.service import create_account

    with app.app_context(), pytest.raises(AccountError) as info:
        create_account(NewAccount(kind="citizen", identifier="001090077702", full_name="A", password="12345678",
                                  birthdate=date(1990, 1, 1)))
    assert info.value.code == "password_common"
