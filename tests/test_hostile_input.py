"""Every route answers hostile input with a clear 4xx (or a normal answer), never a 500.

The test walks the application's URL map, so a new route is covered the day it is added. Each
route is called with path values a converter accepts but the database may not (0, a number
beyond 64 bits, NUL, a very long string), with hostile query strings, form bodies (with a valid
CSRF token, so the form code really runs), JSON of every shape, deeply nested JSON and bytes that
are not UTF-8 — anonymously, as a national administrator logged in at level high, and, on the
admin API, with a national admin token.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import Rule

from tests.admin.conftest import api_token  # noqa: F401 - fixture
from tests.admin.conftest import staff  # noqa: F401 - fixture
from tests.conftest import csrf_from

JUNK = ["", "\x00", "9" * 30, "-1", "x" * 5000, "ü\u202e<script>'\"", "//evil.example/../..", "[]"]
FIELDS = ["client_id", "redirect_uri", "response_type", "scope", "state", "nonce", "code_challenge",
          "code_challenge_method", "prompt", "max_age", "acr_values", "id_token_hint", "login_hint",
          "post_logout_redirect_uri", "ui_locales", "lang", "next", "page", "start", "end", "q", "query", "kind",
          "value", "token", "token_type_hint", "grant_type", "code", "refresh_token", "personal_id", "password",
          "identifier", "otp", "name", "full_name", "birthdate", "email", "phone", "tax_code", "reason", "role",
          "agency_code", "client_name", "level", "decision", "action", "confirm", "format", "since", "until",
          "request", "request_uri", "registration", "redirect_uris", "contacts", "enabled", "settings",
          "certificate", "sid", "iss", "user_code", "province_code", "word", "label", "credential", "response"]
PATH_VALUES = {"int": ["0", "99999999999999999999999"], "default": ["\x00", "9" * 30 + "ü" * 300]}
BODIES: list[tuple[str, bytes]] = [
    ("application/json", b"{"),
    ("application/json", b"[]"),
    ("application/json", b"\"text\""),
    ("application/json", b"123456789012345678901234567890"),
    ("application/json", b"null"),
    ("application/json", b"[" * 5000 + b"]" * 5000),
    ("application/json", b"\xff\xfe\xfa"),
    ("application/x-www-form-urlencoded", b"a=%ff%fe&b=\xff"),
    ("text/plain", b"\x00\x01\x02"),
]
NATIONAL = "national_admin"


def _rules(app: Flask) -> list[Rule]:
    return sorted((rule for rule in app.url_map.iter_rules() if rule.endpoint != "static"), key=lambda r: r.rule)


def _is_int(rule: Rule, name: str) -> bool:
    return "integer" in type(rule._converters[name]).__name__.lower()  # noqa: SLF001 - the converter decides


def _urls(rule: Rule) -> Iterator[str]:
    """The rule's path with hostile values for its variables (one at a time; the others get a plain value)."""
    if not rule.arguments:
        yield rule.rule
        return
    for name in sorted(rule.arguments):
        for value in PATH_VALUES["int"] if _is_int(rule, name) else PATH_VALUES["default"]:
            path = rule.rule
            for other in rule.arguments:
                replacement = value if other == name else ("1" if _is_int(rule, other) else "x")
                path = re.sub(rf"<(?:[^:<>]+:)?{other}>", lambda _match, r=replacement: r, path)
            yield path


def _json_shapes() -> Iterator[object]:
    for junk in (JUNK[1], None, 1e308, -1, [{}], {"a": {"b": []}}):
        yield dict.fromkeys(FIELDS, junk)


def _call_all(client: FlaskClient, rule: Rule, headers: dict[str, str], csrf: str | None) -> list[str]:
    """Every hostile call of one rule; the list of calls that answered 5xx (or leaked a traceback)."""
    failures: list[str] = []

    def check(method: str, url: str, **kwargs: object) -> None:
        response = client.open(url, method=method, headers=headers, **kwargs)
        body = response.get_data()
        if response.status_code >= 500 or b"Traceback" in body:
            shown = {key: (str(value)[:80]) for key, value in kwargs.items()}
            failures.append(f"{method} {url[:120]!r} {shown} -> {response.status_code}")

    methods = sorted(rule.methods - {"HEAD", "OPTIONS"})
    for url in _urls(rule):
        for method in methods:
            if method == "GET":
                for junk in JUNK:
                    check(method, url, query_string=dict.fromkeys(FIELDS, junk))
                check(method, url, query_string=[(field, junk) for field in FIELDS[:10] for junk in JUNK[:3]])
                continue
            for junk in JUNK:
                form = dict.fromkeys(FIELDS, junk)
                if csrf:
                    form["csrf_token"] = csrf
                check(method, url, data=form)
            for shape in _json_shapes():
                check(method, url, data=json.dumps(shape), content_type="application/json")
            for content_type, raw in BODIES:
                check(method, url, data=raw, content_type=content_type)
    return failures


@pytest.fixture
def identities(app: Flask, staff, api_token) -> dict:  # noqa: ANN001, F811
    admin = staff(NATIONAL)
    csrf = csrf_from(admin.get("/accounts/export").get_data(as_text=True))
    return {"anonymous": (app.test_client(), {}, None),
            "national admin": (admin, {}, csrf),
            "admin API": (app.test_client(), {"Authorization": f"Bearer {api_token('admin:national')}"}, None)}


def test_no_route_answers_hostile_input_with_a_server_error(app: Flask, identities: dict):
    failures: list[str] = []
    rules = _rules(app)
    assert len(rules) > 100  # the whole application, not a part of it
    for who, (client, headers, csrf) in identities.items():
        for rule in rules:
            if who == "admin API" and not rule.rule.startswith("/admin/api"):
                continue
            failures += [f"[{who}] {line}" for line in _call_all(client, rule, headers, csrf)]
    print("\n".join(failures))  # noqa: T201 - the whole list, when the assertion below shows only the start
    assert not failures, f"{len(failures)} server errors:\n" + "\n".join(failures[:60])
