"""Messages to account owners: security notifications and recovery messages, through one sender per
channel.

`notify(account, event, **details)` tells the owner that something happened to their account
(login from a new device, factor added or removed, password changed, lockout, recovery code used;
`MESSAGES` lists the events with a text of their own, any other event gets a generic text);
it picks one channel the account has: a verified e-mail, a verified phone, then any e-mail or phone
on file. `send(channel, recipient, event, **params)` delivers one message to one address (a reset
code by SMS, a reset link by e-mail). Texts are translated templates (`MESSAGES`), written in
`notifications.language` (the account's own language is not known: Vietnamese by default); they
never carry a secret except the code or link that is the message's purpose.

Senders are configured per channel in `[notifications]` (idp/settings.py): the development outbox
(shown at /sandbox/outbox), SMTP for e-mail, the SMS gateway's HTTP API for SMS, or none. Network
senders deliver after the response has gone out, so how long a page takes never tells whether a
message was sent (no account enumeration through timing); a failed delivery is logged, never shown.
Logs carry the event and the account id only.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from datetime import timezone
from email.message import EmailMessage
from email.utils import format_datetime
from email.utils import make_msgid
from typing import Any
from typing import Protocol
from typing import runtime_checkable

import requests
from flask import after_this_request
from flask import current_app
from flask import has_request_context
from flask_babel import force_locale
from flask_babel import gettext
from werkzeug.wrappers import Response

from idp.accounts.models import Account
from idp.dbtypes import utcnow
from idp.i18n import N_
from idp.outbox import deliver_to_outbox
from idp.settings import EmailSenderSettings
from idp.settings import Settings
from idp.settings import SmsSenderSettings
from idp.settings import current_settings

log = logging.getLogger(__name__)
VIETNAM_TIME = timezone(timedelta(hours=7))  # no daylight saving time in Vietnam
CHANNELS = ("email", "sms")

# event -> (e-mail subject, e-mail body, SMS text); %(time)s is always available.
MESSAGES: dict[str, tuple[str, str, str]] = {
    "login.new_device": (
        N_("New login to your national account"),
        N_("Your national account was used to log in from a device we had not seen before (%(device)s) on "
           "%(time)s.\n\nIf this was you, there is nothing to do. If it was not, change your password now and "
           "contact support."),
        N_("National account: login from a new device (%(device)s) on %(time)s. Not you? Change your password "
           "now."),
    ),
    "login.locked_out": (
        N_("Your national account is temporarily locked"),
        N_("There were too many failed attempts to log in to your national account (last on %(time)s), so it is "
           "locked for a few minutes.\n\nIf this was not you, someone may be guessing your password: choose a "
           "stronger one and add a second factor."),
        N_("National account: too many failed login attempts on %(time)s; locked for a few minutes. Not you? "
           "Change your password."),
    ),
    "password.changed": (
        N_("The password of your national account was changed"),
        N_("The password of your national account was changed on %(time)s, and every other session was logged "
           "out.\n\nIf you did not do this, reset your password now and contact support."),
        N_("National account: your password was changed on %(time)s. Not you? Reset it now and contact support."),
    ),
    "mfa.added": (
        N_("A sign-in method was added to your national account"),
        N_("A sign-in method (%(kind)s) was added to your national account on %(time)s.\n\nIf you did not do "
           "this, remove it, change your password and contact support."),
        N_("National account: sign-in method added (%(kind)s) on %(time)s. Not you? Contact support."),
    ),
    "mfa.removed": (
        N_("A sign-in method was removed from your national account"),
        N_("A sign-in method (%(kind)s) was removed from your national account on %(time)s.\n\nIf you did not "
           "do this, change your password and contact support."),
        N_("National account: sign-in method removed (%(kind)s) on %(time)s. Not you? Contact support."),
    ),
    "mfa.recovery_used": (
        N_("A recovery code of your national account was used"),
        N_("One of the recovery codes of your national account was used on %(time)s; %(remaining)s are left. "
           "Each code works once; when few are left, make a new set.\n\nIf this was not you, change your "
           "password and contact support."),
        N_("National account: a recovery code was used on %(time)s (%(remaining)s left). Not you? Contact "
           "support."),
    ),
    "mfa.recovery_generated": (
        N_("New recovery codes for your national account"),
        N_("A new set of %(count)s recovery codes was made for your national account on %(time)s; the earlier "
           "codes no longer work.\n\nIf you did not do this, change your password and contact support."),
        N_("National account: new recovery codes made on %(time)s. Not you? Contact support."),
    ),
    "mfa.clone_suspected": (
        N_("A security key of your national account may have been copied"),
        N_("A security key or passkey of your national account (%(kind)s) answered in a way that suggests a "
           "copy of it exists (%(time)s). The login was refused.\n\nRemove that key from your account, register "
           "a new one and contact support."),
        N_("National account: a security key may have been copied (%(time)s). Remove it and contact support."),
    ),
    "login.cross_device": (
        N_("Login on another computer confirmed with your phone"),
        N_("You confirmed with your phone a login to your national account on another computer (%(device)s) on "
           "%(time)s.\n\nIf this was not you, log out everywhere by changing your password, and contact "
           "support."),
        N_("National account: login on another computer (%(device)s) confirmed by your phone on %(time)s. Not "
           "you? Change your password."),
    ),
    "account.deletion_requested": (
        N_("Your national account will be deleted"),
        N_("You asked on %(time)s to delete your national account. It will be deleted on %(date)s, and you were "
           "logged out everywhere.\n\nTo keep your account, log in before that date and cancel the request on "
           "your account page. If you did not ask for this, log in, cancel it and change your password."),
        N_("National account: deletion requested on %(time)s, planned for %(date)s. To keep it, log in and "
           "cancel. Not you? Cancel and change your password."),
    ),
    "account.deletion_cancelled": (
        N_("Your national account will not be deleted"),
        N_("The request to delete your national account was cancelled on %(time)s. Your account stays as it "
           "is.\n\nIf you did not do this, change your password and contact support."),
        N_("National account: the deletion request was cancelled on %(time)s. Not you? Contact support."),
    ),
    "account.deleted": (
        N_("Your national account was deleted"),
        N_("As you asked, your national account and the personal data it held were deleted on %(time)s. The "
           "portals you used were told to log you out.\n\nYou can create a new account at any time."),
        N_("National account: your account was deleted on %(time)s, as you asked."),
    ),
    "password.reset_code": (
        N_("Your password reset code"),
        N_("Your code to reset the password of your national account is %(code)s. It is valid for %(minutes)s "
           "minutes.\n\nNever give this code to anyone, not even to someone who says they work for us."),
        N_("%(code)s is your national account password reset code, valid %(minutes)s minutes. Never share it."),
    ),
    "password.reset_link": (
        N_("Reset the password of your national account"),
        N_("Someone asked to reset the password of your national account. To choose a new password, open this "
           "link within %(minutes)s minutes:\n\n%(link)s\n\nIf you did not ask for this, ignore this message: "
           "your password stays as it is."),
        N_("National account password reset: %(link)s (valid %(minutes)s minutes)."),
    ),
    "email.verify_link": (
        N_("Confirm your e-mail address"),
        N_("To confirm that this e-mail address belongs to your national account, open this link within "
           "%(minutes)s minutes:\n\n%(link)s\n\nIf you did not ask for this, ignore this message."),
        N_("Confirm your e-mail address: %(link)s"),
    ),
    # To the contact of a portal registration request (idp.admin.client_admin), not to an account owner.
    "client.registration_approved": (
        N_("Your portal registration request was approved"),
        N_("The request to connect the portal %(portal)s (client ID %(client_id)s) to national single sign-on was "
           "approved on %(time)s. The portal can now sign people in with the client ID and the credentials it "
           "received when the request was sent."),
        N_("National sign-on: the portal %(portal)s was approved on %(time)s."),
    ),
    "client.registration_rejected": (
        N_("Your portal registration request was not approved"),
        N_("The request to connect the portal %(portal)s (client ID %(client_id)s) to national single sign-on was "
           "reviewed on %(time)s and was not approved.\n\nReason: %(reason)s\n\nYou may correct the request and "
           "send a new one."),
        N_("National sign-on: the portal %(portal)s was not approved. Reason: %(reason)s"),
    ),
}
GENERIC = (
    N_("Security change on your national account"),
    N_("A security setting of your national account changed on %(time)s.\n\nIf you did not do this, change your "
       "password and contact support."),
    N_("National account: a security setting changed on %(time)s. Not you? Contact support."),
)
FOOTER = N_("This is an automatic security message from the national single sign-on service. We never ask for "
            "your password or your codes.")
# Names of authentication methods and second-factor kinds (the `method` or `kind` detail).
METHOD_NAMES = {
    "pwd": N_("password"),
    "totp": N_("authenticator app"),
    "recovery": N_("recovery code"),
    "webauthn": N_("security key or passkey"),
    "passkey": N_("passkey"),
    "sms": N_("text message code"),
    "qr": N_("QR code login from your phone"),
}


@dataclass(frozen=True, slots=True)
class Message:
    """One message, ready for a sender. `event` is for logs and the outbox reference."""

    channel: str
    recipient: str
    subject: str
    body: str
    event: str

    def __repr__(self) -> str:  # no address or content in logs
        return f"<Message {self.event} by {self.channel}>"


@runtime_checkable
class Sender(Protocol):
    channel: str
    # True for network senders: delivery waits until the response has been sent.
    deferred: bool

    def send(self, message: Message) -> None:
        """Deliver the message; raise DeliveryFailed when the upstream refuses or cannot be reached."""


class DeliveryFailed(Exception):
    """The channel's upstream did not accept the message."""


class OutboxSender:
    """Development: store the message in the sandbox outbox (/sandbox/outbox), in this request's transaction."""

    deferred = False

    def __init__(self, channel: str) -> None:
        self.channel = channel

    def send(self, message: Message) -> None:
        text = f"{message.subject}\n\n{message.body}" if message.channel == "email" else message.body
        deliver_to_outbox(message.channel, message.recipient, text)


class NoSender:
    """No sender configured for this channel: the message is dropped and the drop is logged."""

    deferred = False

    def __init__(self, channel: str) -> None:
        self.channel = channel

    def send(self, message: Message) -> None:
        log.warning("no %s sender configured: %s not delivered", self.channel, message.event)


class SmtpSender:
    """E-mail through an SMTP relay (STARTTLS with certificate checks, optional login)."""

    channel = "email"
    deferred = True

    def __init__(self, settings: EmailSenderSettings,
                 connect: Callable[..., smtplib.SMTP] = smtplib.SMTP) -> None:
        self.settings, self._connect = settings, connect

    def __repr__(self) -> str:
        return f"SmtpSender(host={self.settings.host!r})"

    def build(self, message: Message) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self.settings.from_address
        mail["To"] = message.recipient
        mail["Subject"] = message.subject
        mail["Date"] = format_datetime(utcnow())
        mail["Message-ID"] = make_msgid(domain=self.settings.from_address.rpartition("@")[2])
        mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies
        mail.set_content(message.body)
        return mail

    def send(self, message: Message) -> None:
        settings = self.settings
        try:
            with self._connect(settings.host, settings.port, timeout=settings.timeout) as smtp:
                if settings.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if settings.user:
                    smtp.login(settings.user, settings.password)
                smtp.send_message(self.build(message))
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryFailed(f"SMTP {settings.host}: {type(exc).__name__}") from exc


class HttpSmsSender:
    """SMS through the gateway's JSON API, the contract of the telecom module's gateway: POST endpoint,
    `Authorization: Bearer <api_key>`, body {"to": "+84...", "text": "...", "sender": "<brand>"}; 2xx = accepted."""

    channel = "sms"
    deferred = True

    def __init__(self, settings: SmsSenderSettings, post: Callable[..., Any] = requests.post) -> None:
        self.settings, self._post = settings, post

    def __repr__(self) -> str:
        return "HttpSmsSender()"

    def send(self, message: Message) -> None:
        settings = self.settings
        payload = {"to": e164(message.recipient), "text": message.body, "sender": settings.sender}
        try:
            response = self._post(settings.endpoint, json=payload, timeout=(settings.timeout, settings.timeout),
                                  allow_redirects=False, stream=True,
                                  headers={"Authorization": f"Bearer {settings.api_key}"})
            response.close()  # the answer's body is not needed
        except requests.RequestException as exc:
            raise DeliveryFailed(f"SMS gateway: {type(exc).__name__}") from exc
        if not 200 <= response.status_code < 300:
            raise DeliveryFailed(f"SMS gateway: status {response.status_code}")


def e164(phone: str) -> str:
    """A Vietnamese number as +84...: 0912345678 and 84912345678 become +84912345678."""
    digits = "".join(c for c in phone if c.isdigit())
    if phone.strip().startswith("+"):
        return "+" + digits
    if digits.startswith("0"):
        return "+84" + digits[1:]
    return "+" + digits


def build_senders(settings: Settings) -> dict[str, Sender]:
    """One sender per channel from `[notifications]` (validated at start-up by idp.settings)."""
    from idp.sandbox import sandbox_allowed

    def auto(kind: str) -> str:
        return kind if kind != "auto" else ("outbox" if sandbox_allowed(settings) else "none")

    email, sms = settings.notifications.email, settings.notifications.sms
    senders: dict[str, Sender] = {}
    kinds = {"email": auto(email.kind), "sms": auto(sms.kind)}
    for channel, kind in kinds.items():
        if kind == "outbox":
            senders[channel] = OutboxSender(channel)
        elif kind == "smtp":
            senders[channel] = SmtpSender(email)
        elif kind == "http":
            senders[channel] = HttpSmsSender(sms)
        else:
            senders[channel] = NoSender(channel)
    return senders


def senders() -> dict[str, Sender]:
    """The application's senders (built on first use and kept in `app.extensions`)."""
    found = current_app.extensions.get("idp.notification_senders")
    if found is None:
        found = current_app.extensions["idp.notification_senders"] = build_senders(current_settings())
    return found


def has_sender(channel: str) -> bool:
    """Whether messages on this channel go anywhere (recovery offers only channels that do)."""
    return not isinstance(senders().get(channel), NoSender | None)


class _Values(dict):
    """Message parameters; one a template names but the caller did not give shows as "?"."""

    def __missing__(self, key: str) -> str:
        return "?"


def render(channel: str, recipient: str, event: str, **params: Any) -> Message:
    """Write the message for `event` in the configured language."""
    subject, body, short = MESSAGES.get(event, GENERIC)
    values = {"time": utcnow().astimezone(VIETNAM_TIME).strftime("%d/%m/%Y %H:%M") + " (GMT+7)", **params}
    with force_locale(current_settings().notifications.language):
        for name in ("method", "kind"):  # a factor kind, shown by its name
            value = values.get(name)
            values[name] = gettext(METHOD_NAMES[value]) if value in METHOD_NAMES else (value or "?")
        values["device"] = values.get("device") or gettext("unknown device")
        filled = _Values({key: str(value) for key, value in values.items()})
        if channel == "sms":
            return Message(channel, recipient, "", gettext(short) % filled, event)
        text = gettext(body) % filled + "\n\n-- \n" + gettext(FOOTER) + f"\nRef: {event}"
        return Message(channel, recipient, gettext(subject) % filled, text, event)


def send(channel: str, recipient: str, event: str, **params: Any) -> None:
    """Deliver one message (best effort: a failure is logged). Network senders deliver after the response."""
    if not recipient or any(c in recipient for c in "\r\n") or len(recipient) > 254:
        log.warning("message %s by %s: unusable recipient", event, channel)
        return
    sender = senders().get(channel) or NoSender(channel)
    message = render(channel, recipient, event, **params)
    if sender.deferred and has_request_context():
        @after_this_request
        def deliver_later(response: Response) -> Response:
            response.call_on_close(lambda: _deliver(sender, message))
            return response
        return
    _deliver(sender, message)


def _deliver(sender: Sender, message: Message) -> None:
    try:
        sender.send(message)
    except DeliveryFailed as exc:
        log.warning("message %s by %s not delivered: %s", message.event, message.channel, exc)


def contact_of(account: Account) -> tuple[str, str] | None:
    """The channel and address for notifications: a verified e-mail or phone first, then any on file."""
    email, phone = ("email", account.email), ("sms", account.phone)
    verified = [c for c in (email, phone) if c[1] and is_verified(account, "email" if c[0] == "email" else "phone")]
    on_file = [c for c in (email, phone) if c[1]]
    found = (verified or on_file or [None])[0]
    return (found[0], found[1]) if found else None


def is_verified(account: Account, attribute: str) -> bool:
    """An attribute some source vouched for (a telecom operator, VNeID, an e-mail link), not self-asserted."""
    return any(v.attribute == attribute and not v.is_self_asserted for v in account.verifications)


def notify(account: Account, event: str, **details: Any) -> None:
    """Tell the owner of `account` that `event` happened (best effort: a failed delivery is logged)."""
    contact = contact_of(account)
    if contact is None:
        log.info("notification %s for account %s: no e-mail or phone on file", event, account.id)
        return
    channel, address = contact
    send(channel, address, event, **details)
    log.info("notification %s for account %s by %s", event, account.id, channel)
