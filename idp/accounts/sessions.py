"""The person's live single sign-on sessions (`/accounts/sessions`) and logging out of them.

Each live session is listed with when it opened, when it was last used and the portals it logged
into (the clients that received a code or tokens with its `sid`). Logging out of a session ends it
exactly like /auth/logout does, so single logout (back- and front-channel) reaches those portals:
this browser's session through `end_login_session`, the others through `recovery.end_sessions`.
The device is the label the login history recorded (idp.accounts.history; never the raw User-Agent).
"""

from __future__ import annotations

from datetime import timedelta

from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.wrappers import Response

from idp.accounts.models import LoginSession
from idp.accounts.recovery import end_sessions
from idp.accounts.views import bp
from idp.auth.session import current_login
from idp.auth.session import end_login_session
from idp.dbtypes import utcnow
from idp.errors import error_page
from idp.extensions import db
from idp.oidc.logout import session_clients
from idp.settings import current_settings


@bp.route("/sessions", methods=["GET", "POST"])
def sessions() -> Response | str | tuple[str, int]:
    """List the live sessions; end one (`sid`) or all of them (`all`), POST with CSRF."""
    login = current_login()
    if login is None:
        return redirect(url_for("auth.login", next=url_for("accounts.sessions")), code=303)
    form = FlaskForm()
    account = login.account
    if request.method == "POST":
        if not form.validate_on_submit():
            return error_page(400, _("This form has expired"), _("Go back, reload the page and try again."))
        if request.form.get("all"):
            end_sessions(account, reason="account_page_all", keep_sid=login.sid)
            end_login_session(reason="account_page_all")
            db.session.commit()
            return render_template("auth/logged_out.html", continue_to=None)
        sid = request.form.get("sid", "")[:64]
        if sid == login.sid:
            end_login_session(reason="account_page")
            db.session.commit()
            return render_template("auth/logged_out.html", continue_to=None)
        if sid not in {row.sid for row in _live(account.id)}:
            return error_page(404, _("Not found"), _("This session has already ended."))
        end_sessions(account, reason="account_page", only_sid=sid)
        db.session.commit()
        return render_template("accounts/sessions.html", rows=_rows(login), form=form, ended=True)
    return render_template("accounts/sessions.html", rows=_rows(login), form=form, ended=False)


def _rows(login) -> list[dict]:  # noqa: ANN001 - LoginState
    from idp.accounts.history import session_devices
    from idp.auth.agents import device_parts

    live = _live(login.account.id)
    devices = session_devices(row.sid for row in live)
    rows = [{"sid": row.sid, "current": row.sid == login.sid, "created_at": row.created_at,
             "last_seen_at": row.last_seen_at or row.created_at, "acr": row.acr,
             "device": device_parts(devices.get(row.sid)),
             "portals": [c.name for c in session_clients([row.sid])]} for row in live]
    rows.sort(key=lambda r: (not r["current"], -r["created_at"].timestamp()))
    return rows


def _live(account_id: int) -> list[LoginSession]:
    """The account's sessions that neither ended nor ran out (absolute or idle lifetime)."""
    now = utcnow()
    idle = timedelta(seconds=current_settings().login.session_idle_lifetime)
    rows = db.session.execute(select(LoginSession).where(
        LoginSession.account_id == account_id, LoginSession.ended_at.is_(None),
        LoginSession.expires_at > now)).scalars()
    return [row for row in rows if now - (row.last_seen_at or row.created_at) < idle]


