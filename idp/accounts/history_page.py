"""The person's login history (`/accounts/history`): the latest logins to their account.

Each row of idp.accounts.history is shown with its time (Vietnam time), the portal and its agency
(or these account pages), how the person logged in (the source), the level reached, the approximate
place and the device. The "place" is only the masked network the login came from (an IPv4 /24 or an
IPv6 /48): there is no GeoIP database in this service, so no town or province is guessed from it.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import render_template
from flask import url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from idp.accounts.history import recent_logins
from idp.accounts.pages import console_login
from idp.accounts.views import bp
from idp.auth.agents import device_parts
from idp.extensions import db
from idp.settings import current_settings

SHOWN = 50  # the latest logins; the data export has all of them


@dataclass(frozen=True, slots=True)
class Portal:
    name: str
    agency: str | None


def portals(client_ids: set[str]) -> dict[str, Portal]:
    """Names and agencies of these portals (one query; a portal since removed is absent)."""
    from idp.oidc.models import Client

    if not client_ids:
        return {}
    rows = db.session.execute(select(Client.client_id, Client.name, Client.agency)
                              .where(Client.client_id.in_(client_ids))).all()
    return {client_id: Portal(name, agency) for client_id, name, agency in rows}


@bp.get("/history")
def history() -> Response | str:
    """The latest logins: when, into which portal, how, at which level, from where and which device."""
    login, refusal = console_login(url_for("accounts.history"))
    if refusal is not None:
        return refusal
    events = recent_logins(login.account.id, limit=SHOWN)
    names = portals({event.client_id for event in events if event.client_id})
    rows = [{"event": event, "portal": names.get(event.client_id) if event.client_id else None,
             "device": device_parts(event.device), "current": event.sid == login.sid} for event in events]
    return render_template("accounts/history.html", rows=rows, shown=SHOWN,
                           days=current_settings().accounts.login_history_days)
