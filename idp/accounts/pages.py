"""What every page of the account console shares (no routes here, so any page module may import it).

`console_login` (the live login, or the redirect to the login page), the recent-login check and the
re-authentication for sensitive actions (delegated to idp.accounts.security), readable names of
sources, levels and account kinds, and times in Vietnam time (masking is idp.masking's). The templates
get `level_name`, `source_name`, `local_time` and `local_date` (console.py).
"""

from __future__ import annotations

from datetime import datetime

from flask import redirect
from flask import url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from idp.accounts.models import SELF_ASSERTED
from idp.accounts.models import Account
from idp.accounts.models import AccountKind
from idp.auth.session import LoginState
from idp.auth.session import current_login
from idp.notify import VIETNAM_TIME
from idp.verifiers.base import Level

# Sources that are not identity-source modules: how people read them (login history, provenance).
SOURCE_LABELS = {
    SELF_ASSERTED: _l("Declared by you"),
    "email_link": _l("A link you opened in your e-mail"),
    "password": _l("Password"),
    "passkey": _l("Passkey or security key"),
    "webauthn": _l("Passkey or security key"),
    "qr": _l("QR code scanned with your phone"),
    "sso": _l("Already logged in (single sign-on)"),
    "totp": _l("Authenticator app"),
    "recovery": _l("Recovery code"),
}
LEVEL_LABELS = {Level.NONE: _l("no level"), Level.LOW: _l("low"), Level.SUBSTANTIAL: _l("substantial"),
                Level.HIGH: _l("high")}
KIND_LABELS = {AccountKind.CITIZEN: _l("Citizen"), AccountKind.BUSINESS: _l("Business"),
               AccountKind.OFFICIAL: _l("Public official")}


def console_login(here: str) -> tuple[LoginState | None, Response | None]:
    """The live login, or (None, the redirect to the login page that comes back to `here`)."""
    login = current_login()
    if login is None:
        return None, redirect(url_for("auth.login", next=here), code=303)
    return login, None


def is_recent(login: LoginState) -> bool:
    """Whether the login is recent enough for a sensitive action (idp.accounts.security.is_recent)."""
    from idp.accounts.security import is_recent as recent

    return recent(login)


def reauthenticate(account: Account, back: str) -> Response:
    """Send the person to confirm it is them (a second factor if enrolled, else a login), then to `back`."""
    from idp.accounts.security import reauthenticate as confirm

    return confirm(account, None, back)


def reauth_url(account: Account, back: str) -> str:
    """The link a page offers instead of a sensitive button while the login is not recent."""
    return reauthenticate(account, back).location


def kind_name(account: Account) -> str:
    return str(KIND_LABELS.get(account.kind, account.kind))


def level_name(level: int | None) -> str:
    try:
        return str(LEVEL_LABELS[Level(level or 0)])
    except ValueError:
        return str(level)


def source_name(source: str) -> str:
    """An identity source's display name in the page's language (a source since removed: its id)."""
    from idp.verifiers.registry import verifiers

    verifier = verifiers().get(source)
    if verifier is not None:
        return verifier.info.name_for(str(get_locale() or "vi"))
    label = SOURCE_LABELS.get(source)
    return str(label) if label is not None else source


def local_time(moment: datetime | None) -> str:
    """A time people read: Vietnam time (GMT+7, no daylight saving), 31/12/2026 14:05."""
    return moment.astimezone(VIETNAM_TIME).strftime("%d/%m/%Y %H:%M") if moment is not None else ""


def local_date(moment: datetime | None) -> str:
    """A day people read, in Vietnam time: 31/12/2026."""
    return moment.astimezone(VIETNAM_TIME).strftime("%d/%m/%Y") if moment is not None else ""


TEMPLATE_HELPERS = {"level_name": level_name, "source_name": source_name, "local_time": local_time,
                    "local_date": local_date}
