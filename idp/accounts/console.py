"""The account console's home (`/accounts/`).

A route on the `accounts` blueprint (imported at the end of idp/accounts/views.py). The home says who
is logged in (name, kind, personal ID masked but for its last 3 digits), how well the identity was
proven (the strongest linked source), how strong this session is and whether a deletion is pending,
and links to every part of the console; the same links are the navigation of every account page
(templates/accounts/_nav.html). What the console's pages share is in idp/accounts/pages.py.
"""

from __future__ import annotations

from flask import render_template
from flask import url_for
from werkzeug.wrappers import Response

from idp.accounts.deletion import pending_deletion
from idp.accounts.linking import identity_level
from idp.accounts.pages import KIND_LABELS  # noqa: F401 - re-exported: the admin console reads these names here
from idp.accounts.pages import TEMPLATE_HELPERS
from idp.accounts.pages import console_login
from idp.accounts.pages import kind_name
from idp.accounts.pages import level_name  # noqa: F401 - re-exported (admin statistics)
from idp.accounts.pages import source_name  # noqa: F401 - re-exported (admin statistics and accounts)
from idp.accounts.views import bp
from idp.masking import mask_identifier
from idp.verifiers.base import Level


@bp.app_context_processor
def console_helpers() -> dict:
    return TEMPLATE_HELPERS


@bp.get("/")
def console() -> Response | str:
    """The console's home: who you are, your identity level, and every part of the console."""
    login, refusal = console_login(url_for("accounts.console"))
    if refusal is not None:
        return refusal
    account = login.account
    return render_template("accounts/console.html", account=account, masked_id=mask_identifier(account.identifier),
                           kind=kind_name(account), identity_level=identity_level(account),
                           session_level=Level.from_acr(login.acr) or Level.LOW,
                           pending=pending_deletion(account.id))
