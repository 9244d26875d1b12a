"""What the person agreed to share with which portal (`/accounts/consents`), and taking it back.

Revoking a consent deletes it and revokes the portal's token families for this account, so the
portal's refresh tokens stop at once and its next login asks again (OIDC Core §3.1.2.4).
"""

from __future__ import annotations

from authlib.oauth2.rfc6749.util import scope_to_list
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.wrappers import Response

from idp.accounts.views import bp
from idp.audit import record
from idp.auth.session import current_login
from idp.errors import error_page
from idp.extensions import db


@bp.route("/consents", methods=["GET", "POST"])
def consents() -> Response | str | tuple[str, int]:
    """List the portals the person shares data with; revoke one (POST, CSRF)."""
    from idp.oidc.models import Client
    from idp.oidc.models import Consent
    from idp.oidc.models import Grant
    from idp.oidc.tokens import revoke_grant

    login = current_login()
    if login is None:
        return redirect(url_for("auth.login", next=url_for("accounts.consents")), code=303)
    form = FlaskForm()
    account = login.account
    if request.method == "POST":
        if not form.validate_on_submit():
            return error_page(400, _("This form has expired"), _("Go back, reload the page and try again."))
        consent = db.session.execute(select(Consent).where(
            Consent.account_id == account.id, Consent.client_id == request.form.get("client_id", "")[:64])
        ).scalar_one_or_none()
        if consent is None:
            return error_page(404, _("Not found"), _("You do not share data with this portal."))
        grants = list(db.session.execute(select(Grant.id).where(
            Grant.account_id == account.id, Grant.client_id == consent.client_id,
            Grant.revoked_at.is_(None))).scalars())
        for grant_id in grants:
            revoke_grant(grant_id, reason="consent_revoked")
        db.session.delete(consent)
        record("consent.revoked", account_id=account.id, client_id=consent.client_id, grants=len(grants))
        db.session.commit()
        return redirect(url_for("accounts.consents"), code=303)
    rows = db.session.execute(select(Consent, Client).join(Client, Client.client_id == Consent.client_id)
                              .where(Consent.account_id == account.id).order_by(Consent.granted_at.desc())).all()
    shared = [{"client": client, "scopes": scope_to_list(consent.scope) or [], "granted_at": consent.granted_at,
               "offline": "offline_access" in (scope_to_list(consent.scope) or [])} for consent, client in rows]
    return render_template("accounts/consents.html", shared=shared, form=form)
