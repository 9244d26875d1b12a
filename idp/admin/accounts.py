"""Admin pages for accounts: exact search, an account's detail, lock, unlock and end all sessions.

Views are thin: the services (account_search, account_detail, account_actions) hold the logic, shared
with the JSON API (idp.admin.accounts_api). The search is a POST, so the typed personal ID, phone or
e-mail never lands in a URL, the browser history or an access log. A refused action is rolled back
and shown on the account's page with the status the API would use.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from idp.accounts.models import SELF_ASSERTED
from idp.accounts.models import AccountStatus
from idp.admin import bp
from idp.admin import nav_item
from idp.admin.access import ACCOUNTS_READ
from idp.admin.access import ACCOUNTS_UNLOCK
from idp.admin.access import ACCOUNTS_WRITE
from idp.admin.access import ROLES_WRITE
from idp.admin.access import admin_page
from idp.admin.access import current_admin
from idp.admin.account_actions import Outcome
from idp.admin.account_actions import end_all_sessions
from idp.admin.account_actions import lock_account
from idp.admin.account_actions import unlock_account
from idp.admin.account_admin import AdminRefusal
from idp.admin.account_admin import get_account
from idp.admin.account_detail import account_detail
from idp.admin.account_forms import ROLE_LABELS
from idp.admin.account_forms import AccountSearchForm
from idp.admin.account_forms import ReasonForm
from idp.admin.account_search import search_accounts
from idp.errors import error_page
from idp.extensions import db
from idp.i18n import N_

nav_item(N_("Accounts"), "admin.accounts", ACCOUNTS_READ, order=40)

# How staff read the sources that are not identity-source modules (the citizen's console says "you").
ADMIN_SOURCE_LABELS = {SELF_ASSERTED: N_("Declared by the account holder"),
                       "email_link": N_("A link opened from the account's e-mail"),
                       "qr": N_("QR code scanned with a logged-in phone")}

STATUS_LABELS = {AccountStatus.ACTIVE: N_("Active"), AccountStatus.LOCKED: N_("Locked"),
                 AccountStatus.PENDING: N_("Not yet active")}
# What the account page says after an action (?done=...); anything else is ignored.
DONE = {
    "locked": N_("The account is locked. Its sessions ended and its portals are being told to log it out."),
    "unlocked": N_("The account is unlocked and can log in again."),
    "sessions_ended": N_("All sessions of the account ended. Its portals are being told to log it out, and "
                         "their refresh tokens no longer work."),
}


def admin_source_name(source: str) -> str:
    """A source's name for staff: identity sources by their display name (idp.accounts.console)."""
    from idp.accounts.console import source_name

    label = ADMIN_SOURCE_LABELS.get(source)
    return _(label) if label else source_name(source)


@bp.context_processor
def account_helpers() -> dict:
    return {"admin_source_name": admin_source_name}


def _search_page(form: AccountSearchForm, results: list | None = None, error: str | None = None,
                 masked: str | None = None, status: int = 200) -> tuple[str, int]:
    from idp.accounts.console import KIND_LABELS

    return render_template("admin/accounts.html", form=form, results=results, error=error, masked=masked,
                           status_labels=STATUS_LABELS, kind_labels=KIND_LABELS), status


@bp.route("/accounts", methods=["GET", "POST"])
@admin_page(ACCOUNTS_READ)
def accounts() -> tuple[str, int]:
    """The search form; a POST searches (exact match, audited)."""
    form = AccountSearchForm()
    if request.method == "GET":
        return _search_page(form)
    if not form.validate_on_submit():
        return _search_page(form, status=400)
    try:
        query, results = search_accounts(current_admin(), form.kind.data, form.value.data)
    except AdminRefusal as exc:
        db.session.rollback()
        return _search_page(form, error=_(exc.message), status=exc.status)
    db.session.commit()
    return _search_page(form, results=results, masked=query.masked)


def _profile_display(account, detail: dict) -> dict:  # noqa: ANN001 - Account
    """Values as people read them (dates, provinces by name) for the attributes shown in clear."""
    from idp.accounts.profile import display_value

    return {row["name"]: (display_value(account, row["name"]) if row["value"] is not None
                          and row["name"] not in ("phone", "email") else row["value"])
            for row in detail["attributes"]}


def _detail_page(account_id: int, forms: dict | None = None, status: int = 200,
                 refusal: str | None = None) -> tuple[str, int]:
    from idp.accounts.console import KIND_LABELS
    from idp.accounts.profile import ATTRIBUTES

    admin = current_admin()
    try:
        account = get_account(account_id)
    except AdminRefusal as exc:
        return error_page(exc.status, _("No such account"), _(exc.message))
    detail = account_detail(admin, account)
    db.session.commit()
    forms = {"lock": ReasonForm(prefix="lock"), "unlock": ReasonForm(prefix="unlock"),
             "end": ReasonForm(prefix="end"), **(forms or {})}
    done = DONE.get(request.args.get("done", ""))
    return render_template(
        "admin/accounts_detail.html", account=detail, display=_profile_display(account, detail),
        labels=dict(ATTRIBUTES), kind_label=KIND_LABELS.get(account.kind, account.kind),
        status_labels=STATUS_LABELS, role_labels=ROLE_LABELS, forms=forms, refusal=refusal,
        done=_(done) if done else None,
        can_lock=admin.can(ACCOUNTS_WRITE) and account.status == AccountStatus.ACTIVE,
        can_unlock=admin.can(ACCOUNTS_UNLOCK) and (account.status == AccountStatus.LOCKED
                                                   or detail["login_throttled"]),
        can_end=admin.can(ACCOUNTS_WRITE), can_manage_roles=admin.can(ROLES_WRITE)), status


@bp.get("/accounts/<int:account_id>")
@admin_page(ACCOUNTS_READ)
def account(account_id: int) -> tuple[str, int]:
    return _detail_page(account_id)


def _act(account_id: int, name: str, action: Callable[..., Outcome], done: str) -> Response | tuple[str, int]:
    form = ReasonForm(prefix=name)
    if not form.validate_on_submit():  # the reason's own message shows at its field
        return _detail_page(account_id, {name: form}, 400, None if form.reason.errors else _("This form has expired"))
    try:
        action(current_admin(), get_account(account_id), form.reason.data)
    except AdminRefusal as exc:
        db.session.rollback()
        if exc.status == 404:
            return error_page(404, _("No such account"), _(exc.message))
        return _detail_page(account_id, forms={name: form}, status=exc.status, refusal=_(exc.message))
    db.session.commit()
    return redirect(url_for("admin.account", account_id=account_id, done=done), code=303)


@bp.post("/accounts/<int:account_id>/lock")
@admin_page(ACCOUNTS_WRITE, destructive=True)
def account_lock(account_id: int) -> Response | tuple[str, int]:
    return _act(account_id, "lock", lock_account, "locked")


@bp.post("/accounts/<int:account_id>/unlock")
@admin_page(ACCOUNTS_UNLOCK)
def account_unlock(account_id: int) -> Response | tuple[str, int]:
    return _act(account_id, "unlock", unlock_account, "unlocked")


@bp.post("/accounts/<int:account_id>/sessions/end")
@admin_page(ACCOUNTS_WRITE, destructive=True)
def account_end_sessions(account_id: int) -> Response | tuple[str, int]:
    return _act(account_id, "end", end_all_sessions, "sessions_ended")
