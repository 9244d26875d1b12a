"""Notifications (idp/notify.py): `[notifications]` settings, the senders (outbox, SMTP, SMS gateway),
translated texts, the choice of channel, and delivery after the response."""

from __future__ import annotations

import smtplib
from datetime import UTC
from datetime import datetime
from pathlib import Path

import pytest
import requests
import time_machine
from sqlalchemy import select

from idp.accounts.models import Account
from idp.accounts.models import AttributeVerification
from idp.errors import ConfigError
from idp.extensions import db
from idp.notify import DeliveryFailed
from idp.notify import HttpSmsSender
from idp.notify import Message
from idp.notify import NoSender
from idp.notify import OutboxSender
from idp.notify import SmtpSender
from idp.notify import build_senders
from idp.notify import contact_of
from idp.notify import e164
from idp.notify import notify
from idp.notify import render
from idp.notify import send
from idp.outbox import OutboxMessage
from idp.settings import EmailSenderSettings
from idp.settings import SmsSenderSettings
from idp.settings import load_settings
from tests.test_settings import PRODUCTION

SMTP = {"kind": "smtp", "host": "smtp.example.vn", "port": 587, "from_address": "no-reply@sso.example.vn"}
GATEWAY = {"kind": "http", "endpoint": "https://sms.example.vn/v1/messages", "api_key": "k" * 32,
           "sender": "DICHVUCONG"}


# --- settings ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("notifications", "key"), [
    ({"bogus": 1}, "notifications.bogus"),
    ({"email": {"kind": "smtp", "hots": "x"}}, "notifications.email.hots"),
    ({"email": {"kind": "pigeon"}}, "notifications.email.kind"),
    ({"sms": {"kind": "smtp"}}, "notifications.sms.kind"),
    ({"language": "fr"}, "notifications.language"),
    ({"email": {**SMTP, "host": ""}}, "notifications.email.host"),
    ({"email": {**SMTP, "port": 70000}}, "notifications.email.port"),
    ({"email": {**SMTP, "from_address": "nobody"}}, "notifications.email.from_address"),
    ({"email": {**SMTP, "from_address": "a@b.vn\r\nBcc: x@y.vn"}}, "notifications.email.from_address"),
    ({"email": {**SMTP, "user": "u"}}, "notifications.email.password"),
    ({"email": {**SMTP, "timeout": 0}}, "notifications.email.timeout"),
    ({"email": {**SMTP, "starttls": "yes"}}, "notifications.email.starttls"),
    ({"sms": {**GATEWAY, "endpoint": "http://sms.example.vn/send"}}, "notifications.sms.endpoint"),
    ({"sms": {**GATEWAY, "endpoint": "https://user:pw@sms.example.vn/send"}}, "notifications.sms.endpoint"),
    ({"sms": {**GATEWAY, "api_key": ""}}, "notifications.sms.api_key"),
    ({"sms": {**GATEWAY, "sender": "A VERY LONG BRAND"}}, "notifications.sms.sender"),
])
def test_bad_notification_settings_name_the_key(notifications, key):
    """STYLE §3: refuse to start with a message that names the bad key."""
    with pytest.raises(ConfigError) as info:
        load_settings({"notifications": notifications})
    assert info.value.code == key


@pytest.mark.parametrize("channel", ["email", "sms"])
def test_production_refuses_the_outbox(channel):
    load_settings(PRODUCTION)  # the baseline is acceptable
    with pytest.raises(ConfigError) as info:
        load_settings({**PRODUCTION, "notifications": {channel: {"kind": "outbox"}}})
    assert info.value.code == f"notifications.{channel}.kind"


def test_production_refuses_smtp_without_starttls_except_to_a_local_relay():
    with pytest.raises(ConfigError) as info:
        load_settings({**PRODUCTION, "notifications": {"email": {**SMTP, "starttls": False}}})
    assert info.value.code == "notifications.email.starttls"
    load_settings({**PRODUCTION, "notifications": {"email": {**SMTP, "starttls": False, "host": "localhost"}}})


def test_plain_http_gateway_only_on_loopback_outside_production():
    load_settings({"notifications": {"sms": {**GATEWAY, "endpoint": "http://127.0.0.1:9000/sms"}}})
    with pytest.raises(ConfigError):
        load_settings({**PRODUCTION, "notifications": {"sms": {**GATEWAY, "endpoint": "http://127.0.0.1:9000/sms"}}})


def test_secrets_are_masked_in_repr(monkeypatch):
    monkeypatch.setenv("IDP_SMTP_PASSWORD_T", "smtp-secret-value")
    settings = load_settings({"notifications": {"email": {**SMTP, "user": "u", "password": "env:IDP_SMTP_PASSWORD_T"},
                                                "sms": GATEWAY}})
    assert settings.notifications.email.password == "smtp-secret-value"
    assert "smtp-secret-value" not in repr(settings) and "k" * 32 not in repr(settings)


def test_senders_follow_the_settings():
    """auto = the outbox where sandboxes are allowed, nothing in production; smtp and http as configured."""
    development = build_senders(load_settings({"env": "testing", "features": {"sandbox": True}}))
    assert isinstance(development["email"], OutboxSender) and isinstance(development["sms"], OutboxSender)
    production = build_senders(load_settings(PRODUCTION))
    assert isinstance(production["email"], NoSender) and isinstance(production["sms"], NoSender)
    configured = build_senders(load_settings({**PRODUCTION, "notifications": {"email": SMTP, "sms": GATEWAY}}))
    assert isinstance(configured["email"], SmtpSender) and isinstance(configured["sms"], HttpSmsSender)


def test_the_production_example_configures_real_senders(tmp_path: Path, monkeypatch):
    text = (Path(__file__).resolve().parent.parent / "config" / "production.example.toml").read_text()
    import tomllib

    notifications = tomllib.loads(text)["notifications"]
    monkeypatch.setenv("IDP_SMS_KEY", "s" * 32)
    senders = build_senders(load_settings({**PRODUCTION, "notifications": notifications}))
    assert isinstance(senders["email"], SmtpSender) and isinstance(senders["sms"], HttpSmsSender)


# --- senders ----------------------------------------------------------------------------------------------
class FakeSmtp:
    """Records what smtplib.SMTP would have done."""

    sessions: list[FakeSmtp] = []
    fail_with: Exception | None = None

    def __init__(self, host: str, port: int, timeout: float) -> None:
        if FakeSmtp.fail_with is not None:
            raise FakeSmtp.fail_with
        self.host, self.port, self.timeout = host, port, timeout
        self.calls: list[tuple] = []
        FakeSmtp.sessions.append(self)

    def __enter__(self) -> FakeSmtp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.calls.append(("quit",))

    def starttls(self, context: object) -> None:
        self.calls.append(("starttls", context is not None))

    def login(self, user: str, password: str) -> None:
        self.calls.append(("login", user, password))

    def send_message(self, mail: object) -> None:
        self.calls.append(("send", mail))


@pytest.fixture
def fake_smtp():  # noqa: ANN201
    FakeSmtp.sessions, FakeSmtp.fail_with = [], None
    yield FakeSmtp
    FakeSmtp.fail_with = None


def test_smtp_sender_uses_starttls_login_and_a_proper_message(fake_smtp):
    settings = EmailSenderSettings(**{**SMTP, "user": "sso", "password": "pw"})
    SmtpSender(settings, connect=fake_smtp).send(Message("email", "an@example.vn", "Chủ đề", "Nội dung", "x.y"))
    [smtp] = fake_smtp.sessions
    assert (smtp.host, smtp.port) == ("smtp.example.vn", 587)
    assert [c[0] for c in smtp.calls] == ["starttls", "login", "send", "quit"]
    mail = smtp.calls[2][1]
    assert mail["To"] == "an@example.vn" and mail["From"] == "no-reply@sso.example.vn"
    assert mail["Subject"] == "Chủ đề" and mail["Auto-Submitted"] == "auto-generated"
    assert mail["Message-ID"].endswith("@sso.example.vn>") and "Nội dung" in mail.get_content()


def test_smtp_failures_become_delivery_failures(fake_smtp):
    fake_smtp.fail_with = smtplib.SMTPConnectError(421, "busy")
    with pytest.raises(DeliveryFailed):
        SmtpSender(EmailSenderSettings(**SMTP), connect=fake_smtp).send(Message("email", "a@b.vn", "s", "b", "e"))
    fake_smtp.fail_with = OSError("unreachable")
    with pytest.raises(DeliveryFailed):
        SmtpSender(EmailSenderSettings(**SMTP), connect=fake_smtp).send(Message("email", "a@b.vn", "s", "b", "e"))


class FakeResponse:
    def __init__(self, status_code: int) -> None:
        self.status_code, self.closed = status_code, False

    def close(self) -> None:
        self.closed = True


def test_sms_gateway_contract():
    """POST endpoint, Bearer key, {"to": "+84...", "text", "sender"}; 2xx = accepted."""
    calls = []

    def post(url: str, **kwargs: object) -> FakeResponse:
        calls.append((url, kwargs))
        return FakeResponse(202)

    HttpSmsSender(SmsSenderSettings(**GATEWAY), post=post).send(Message("sms", "0912 345 678", "", "Mã 123", "e"))
    [(url, kwargs)] = calls
    assert url == GATEWAY["endpoint"] and kwargs["json"] == {"to": "+84912345678", "text": "Mã 123",
                                                              "sender": "DICHVUCONG"}
    assert kwargs["headers"] == {"Authorization": "Bearer " + "k" * 32} and kwargs["allow_redirects"] is False


@pytest.mark.parametrize("outcome", [FakeResponse(500), requests.ConnectTimeout("slow")])
def test_sms_gateway_failures_become_delivery_failures(outcome):
    def post(url: str, **kwargs: object) -> FakeResponse:
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    with pytest.raises(DeliveryFailed):
        HttpSmsSender(SmsSenderSettings(**GATEWAY), post=post).send(Message("sms", "+84912345678", "", "x", "e"))


@pytest.mark.parametrize(("raw", "expected"), [("0912345678", "+84912345678"), ("+84 912 345 678", "+84912345678"),
                                               ("84912345678", "+84912345678")])
def test_vietnamese_numbers_become_e164(raw, expected):
    assert e164(raw) == expected


# --- texts ------------------------------------------------------------------------------------------------
@pytest.fixture
def settings_overrides() -> dict:
    return {"notifications": {"language": "en"}}


def test_texts_are_translated_templates_with_the_time_in_vietnam(app):
    with app.app_context(), time_machine.travel(datetime(2026, 3, 1, 17, 30, tzinfo=UTC), tick=False):
        mail = render("email", "a@b.vn", "password.changed")
        sms = render("sms", "+84912345678", "login.new_device", device="Firefox · Windows")
    assert mail.subject == "The password of your national account was changed"
    assert "02/03/2026 00:30 (GMT+7)" in mail.body and "Ref: password.changed" in mail.body
    assert "never ask for your password" in mail.body
    assert sms.subject == "" and "Firefox · Windows" in sms.body and "02/03/2026 00:30" in sms.body


def test_factor_kinds_are_named_and_unknown_events_get_a_generic_text(app):
    with app.app_context():
        assert "authenticator app" in render("email", "a@b.vn", "mfa.added", kind="totp").body
        assert "security key or passkey" in render("sms", "+84912345678", "mfa.removed", kind="webauthn").body
        generic = render("email", "a@b.vn", "something.new", factor_id=7)
    assert generic.subject == "Security change on your national account" and "Ref: something.new" in generic.body


def test_a_reset_code_is_the_only_secret_and_only_in_its_own_message(app):
    with app.app_context():
        code = render("sms", "+84912345678", "password.reset_code", code="482913", minutes=10)
        changed = render("email", "a@b.vn", "password.changed", code="482913")
    assert "482913" in code.body and "10 minutes" in code.body and "Never share" in code.body
    assert "482913" not in changed.body  # a stray detail is not printed by templates that do not name it


def test_vietnamese_is_the_default_language():
    assert load_settings({}).notifications.language == "vi"


# --- choice of channel, outbox, delivery ------------------------------------------------------------------
def test_verified_channels_come_first(app, make_account):
    account_id = make_account("001090088801", email="self@example.vn", phone="0912345678")
    with app.app_context():
        account = db.session.get(Account, account_id)
        assert contact_of(account) == ("email", "self@example.vn")  # both self-asserted: e-mail first
        account.verifications.append(AttributeVerification(attribute="phone", source="viettel", level=1))
        db.session.flush()
        assert contact_of(account) == ("sms", "0912345678")
        account.email, account.phone = None, None
        assert contact_of(account) is None
        notify(account, "password.changed")  # nowhere to send: logged, no error
        assert db.session.execute(select(OutboxMessage)).first() is None


def test_notifications_land_in_the_development_outbox(app, client, make_account):
    account_id = make_account("001090088802", email="an@example.vn")
    with app.app_context():
        notify(db.session.get(Account, account_id), "mfa.recovery_used", remaining=7)
        db.session.commit()
    page = client.get("/sandbox/outbox?channel=email").get_data(as_text=True)
    assert "an@example.vn" in page and "A recovery code of your national account was used" in page
    assert "7 are left" in page


def test_unusable_recipients_are_dropped(app):
    with app.app_context():
        send("email", "a@b.vn\r\nBcc: evil@example.com", "password.changed")
        send("sms", "", "password.changed")
        assert db.session.execute(select(OutboxMessage)).first() is None


class RecordingSender:
    channel, deferred = "email", True

    def __init__(self) -> None:
        self.sent: list[Message] = []

    def send(self, message: Message) -> None:
        self.sent.append(message)


class FailingSender(RecordingSender):
    def send(self, message: Message) -> None:
        raise DeliveryFailed("down")


def test_network_senders_deliver_after_the_response(app):
    """No enumeration through timing: a slow SMTP or SMS gateway never delays the page."""
    recording = RecordingSender()
    app.extensions["idp.notification_senders"] = {"email": recording, "sms": NoSender("sms")}

    @app.get("/_test/send")
    def send_one() -> str:
        send("email", "a@b.vn", "password.changed")
        return "ok"

    client = app.test_client()
    response = client.get("/_test/send")
    assert response.status_code == 200 and recording.sent == []
    response.close()  # the server finished sending the response
    assert [m.event for m in recording.sent] == ["password.changed"]


def test_a_failed_delivery_is_logged_not_raised(app, caplog):
    app.extensions["idp.notification_senders"] = {"email": FailingSender(), "sms": NoSender("sms")}
    with app.app_context():
        send("email", "a@b.vn", "password.changed")
    assert "not delivered" in caplog.text and "a@b.vn" not in caplog.text
