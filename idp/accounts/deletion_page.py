"""The delete-account request page (`/accounts/delete`) and cancelling a pending request.

The page explains the consequences; asking needs a recent login (idp.accounts.security.is_recent,
else the person confirms it is them first), a CSRF token and the confirmation word typed. Asking
logs the person out everywhere (single logout) and shows when the account will be deleted; until
then they can log in and cancel here. Only citizen accounts are deleted this way: business and
official accounts belong to their organisation and are closed through support.
See idp.accounts.deletion for what happens and when.
"""

from __future__ import annotations

import unicodedata

from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import StringField
from wtforms.validators import DataRequired
from wtforms.validators import Length

from idp.accounts.deletion import cancel_deletion
from idp.accounts.deletion import pending_deletion
from idp.accounts.deletion import request_deletion
from idp.accounts.models import AccountKind
from idp.accounts.pages import console_login
from idp.accounts.pages import is_recent
from idp.accounts.pages import reauth_url
from idp.accounts.pages import reauthenticate
from idp.accounts.views import bp
from idp.auth.session import LoginState
from idp.auth.session import end_login_session
from idp.errors import error_page
from idp.extensions import db
from idp.extensions import limiter
from idp.settings import current_settings

CONFIRMATION_MAX = 64
CONFIRMATION_WORD = "DELETE"  # what the person types; its translation is accepted too


class DeletionForm(FlaskForm):
    confirmation = StringField(
        _l("Type the word shown above to confirm"),
        validators=[DataRequired(message=_l("Type the word to confirm that you want to delete your account.")),
                    Length(max=CONFIRMATION_MAX, message=_l("This is not the word shown above."))],
        render_kw={"maxlength": CONFIRMATION_MAX, "autocomplete": "off", "autocapitalize": "characters",
                   "spellcheck": "false", "aria-describedby": "confirmation-hint"},
    )


def _folded(text: str) -> str:
    """Compare typed words without case, accents (xóa, xoá, XOA) or extra spaces."""
    decomposed = unicodedata.normalize("NFKD", text.replace("đ", "d").replace("Đ", "D"))
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).casefold().split())


def is_confirmed(typed: str) -> bool:
    """Whether the person typed the confirmation word (in English or in the page's language)."""
    return _folded(typed) in {_folded(CONFIRMATION_WORD), _folded(_("DELETE"))}


def _ip_limit() -> str:
    return current_settings().login.per_ip


def _page(login: LoginState, form: DeletionForm, error: str | None = None, status: int = 200) -> tuple[str, int]:
    account = login.account
    recent = is_recent(login)
    here = url_for("accounts.delete")
    return render_template(
        "accounts/delete.html", form=form, error=error, pending=pending_deletion(account.id),
        allowed=account.kind == AccountKind.CITIZEN, recent=recent,
        reauth_url=None if recent else reauth_url(account, here), word=_("DELETE"),
        grace_days=current_settings().accounts.deletion_grace_days,
        cancelled=request.args.get("cancelled") == "1"), status


@bp.route("/delete", methods=["GET", "POST"])
@limiter.limit(_ip_limit, methods=["POST"])
def delete() -> Response | tuple[str, int]:
    """Explain, then (POST, CSRF, recent login, confirmation typed) request the account's deletion."""
    here = url_for("accounts.delete")
    login, refusal = console_login(here)
    if refusal is not None:
        return refusal
    form = DeletionForm()
    if request.method == "GET":
        return _page(login, form)
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            return error_page(400, _("This form has expired"), _("Go back, reload the page and try again."))
        return _page(login, form, status=400)
    account = login.account
    if account.kind != AccountKind.CITIZEN:
        return _page(login, form, _("Only citizen accounts can be deleted from this page."), 403)
    if pending_deletion(account.id) is not None:
        return redirect(here, code=303)
    if not is_recent(login):
        return reauthenticate(account, here)
    if not is_confirmed(form.confirmation.data or ""):
        form.confirmation.errors = [_("This is not the word shown above.")]
        return _page(login, form, status=400)
    row = request_deletion(account, login.sid)
    end_login_session(reason="deletion_requested")  # this browser too, with single logout
    db.session.commit()
    return render_template("accounts/delete_requested.html", scheduled_for=row.scheduled_for), 200


@bp.post("/delete/cancel")
@limiter.limit(_ip_limit)
def cancel_delete() -> Response | tuple[str, int]:
    """Cancel the pending request (POST, CSRF)."""
    here = url_for("accounts.delete")
    login, refusal = console_login(here)
    if refusal is not None:
        return refusal
    if not FlaskForm().validate_on_submit():
        return error_page(400, _("This form has expired"), _("Go back, reload the page and try again."))
    if not cancel_deletion(login.account):
        return error_page(404, _("Not found"), _("There is no request to delete your account."))
    db.session.commit()
    return redirect(url_for("accounts.delete", cancelled="1"), code=303)
