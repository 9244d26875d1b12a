"""The person's linked identity sources (`/accounts/sources`): list, unlink, and add another.

Each link is shown with its source, the level it proved, when it was linked and last used. Adding
starts the source's own flow (idp.auth.sources) and comes back here. Unlinking is a POST with a CSRF
token from a recent login (idp.accounts.security.is_recent; otherwise the person confirms it is them
first); idp.accounts.linking.unlink refuses the only verified source and the last way to log in,
and audits the removal (`link.removed`); the owner is notified.
"""

from __future__ import annotations

from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from idp.accounts.linking import linked_sources
from idp.accounts.linking import unlink
from idp.accounts.pages import console_login
from idp.accounts.pages import is_recent
from idp.accounts.pages import reauth_url
from idp.accounts.pages import reauthenticate
from idp.accounts.views import bp
from idp.auth.session import LoginState
from idp.errors import VerificationFailed
from idp.errors import error_page
from idp.extensions import db
from idp.extensions import limiter
from idp.notify import notify
from idp.settings import current_settings

LINK_ID_MAX = 18  # digits: any larger number names no row


def _ip_limit() -> str:
    return current_settings().login.per_ip


def _page(login: LoginState, error: str | None = None, status: int = 200) -> tuple[str, int]:
    from idp.verifiers.health import is_available
    from idp.verifiers.registry import verifiers

    here = url_for("accounts.sources")
    # Every enabled source can be added from here, including those that prove no level on their
    # own (a letter confirming the address): the login page lists only those that log in.
    addable = [(vid, v.info) for vid, v in verifiers().items() if is_available(v)]
    recent = is_recent(login)
    return render_template("accounts/sources.html", links=linked_sources(login.account), form=FlaskForm(),
                           addable=addable, error=error, recent=recent,
                           reauth_url=None if recent else reauth_url(login.account, here),
                           removed=request.args.get("removed") == "1"), status


@bp.route("/sources", methods=["GET", "POST"])
@limiter.limit(_ip_limit, methods=["POST"])
def sources() -> Response | tuple[str, int]:
    """The person's linked identity sources; unlink one (POST, CSRF, recent login)."""
    here = url_for("accounts.sources")
    login, refusal = console_login(here)
    if refusal is not None:
        return refusal
    if request.method == "GET":
        return _page(login)
    if not FlaskForm().validate_on_submit():
        return error_page(400, _("This form has expired"), _("Go back, reload the page and try again."))
    account = login.account
    if not is_recent(login):
        return reauthenticate(account, here)
    link_id = request.form.get("link_id", "")
    if not (link_id.isascii() and link_id.isdigit() and len(link_id) <= LINK_ID_MAX):
        return _page(login, _("This linked source does not exist."), 404)
    try:
        unlink(account, int(link_id))
    except VerificationFailed as exc:
        db.session.rollback()
        return _page(login, _(exc.message), 404 if exc.code == "link_unknown" else exc.status)
    notify(account, "link.removed")
    db.session.commit()
    return redirect(url_for("accounts.sources", removed="1"), code=303)
