"""Admin pages for client portals: list and search, detail with usage, edit, rotate the secret, suspend and
reactivate, the registration request queue (approve, edit, reject with a reason) and initial access tokens.

Views are thin: idp.admin.client_admin / client_actions hold the logic, shared with the JSON API
(idp.admin.clients_api). A refused action is rolled back and shown with the status the API would use.
"""

from __future__ import annotations

from typing import Any

from flask import make_response
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from idp.accounts.models import Account
from idp.admin import bp
from idp.admin import nav_item
from idp.admin.access import CLIENTS_APPROVE
from idp.admin.access import CLIENTS_READ
from idp.admin.access import CLIENTS_WRITE
from idp.admin.access import admin_page
from idp.admin.access import current_admin
from idp.admin.client_actions import check_editable
from idp.admin.client_actions import decide_request
from idp.admin.client_actions import edit_portal
from idp.admin.client_actions import issue_initial_access_token
from idp.admin.client_actions import pending_requests
from idp.admin.client_actions import recent_initial_access_tokens
from idp.admin.client_actions import rotate_secret
from idp.admin.client_actions import set_portal_suspended
from idp.admin.client_admin import SECRET_METHODS
from idp.admin.client_admin import STATUSES
from idp.admin.client_admin import Portal
from idp.admin.client_admin import PortalAdminError
from idp.admin.client_admin import check_filters
from idp.admin.client_admin import find_portals
from idp.admin.client_admin import get_portal
from idp.admin.client_admin import metadata_of
from idp.admin.client_forms import ActionForm
from idp.admin.client_forms import PortalEditForm
from idp.admin.client_forms import RejectForm
from idp.admin.client_forms import TokenForm
from idp.admin.client_usage import portal_usage
from idp.errors import error_page
from idp.extensions import db
from idp.i18n import N_
from idp.masking import mask_identifier
from idp.oidc.claims import SCOPES

nav_item(N_("Portals"), "admin.clients", CLIENTS_READ, order=20)
nav_item(N_("Registration requests"), "admin.registration_requests", CLIENTS_APPROVE, order=21)

STATUS_LABELS = {
    "active": N_("Active"), "pending": N_("Waiting for review"), "suspended": N_("Suspended"),
    "rejected": N_("Rejected"), "deleted": N_("Deleted by the portal"),
}
# What the detail page says after an action (?done=...); anything else is ignored.
DONE = {
    "updated": N_("The portal was updated."), "unchanged": N_("Nothing was changed."),
    "suspended": N_("The portal is suspended: its tokens stopped working and it cannot sign anyone in."),
    "reactivated": N_("The portal is active again."), "approved": N_("The registration request was approved."),
    "rejected": N_("The registration request was rejected; the reason was kept and sent to the contact e-mail, "
                   "if there is one."),
}
# Metadata names in parse_metadata's messages -> the edit form's field that shows the message.
FIELD_OF = {"client_name": "client_name", "redirect_uris": "redirect_uris", "redirect_uri": "redirect_uris",
            "post_logout_redirect_uris": "post_logout_redirect_uris",
            "post_logout_redirect_uri": "post_logout_redirect_uris", "backchannel_logout_uri": "backchannel_logout_uri",
            "frontchannel_logout_uri": "frontchannel_logout_uri", "jwks_uri": "jwks_uri", "jwks": "jwks_uri",
            "token_endpoint_auth_method": "token_endpoint_auth_method", "minimum_acr": "minimum_acr",
            "default_acr_values": "default_acr", "id_token_signed_response_alg": "id_token_signed_response_alg"}


def _refused(exc: PortalAdminError) -> tuple[str, int]:
    db.session.rollback()
    title = _("No such portal") if exc.status == 404 else _("This cannot be done")
    return error_page(exc.status, title, exc.localized())


def _portal(client_id: str, permission: str = CLIENTS_READ) -> Portal:
    return get_portal(current_admin(), client_id, permission)


@bp.get("/clients")
@admin_page(CLIENTS_READ)
def clients() -> Any:
    try:
        q, status, page = check_filters(request.args.get("q"), request.args.get("status"), request.args.get("page"))
    except PortalAdminError as exc:
        return _refused(exc)
    rows, more = find_portals(current_admin(), q, status, page)
    return render_template("admin/clients.html", rows=rows, more=more, q=q, status=status, page=page,
                           statuses=STATUSES, labels=STATUS_LABELS)


@bp.get("/clients/<client_id>")
@admin_page(CLIENTS_READ)
def client_detail(client_id: str) -> Any:
    try:
        portal = _portal(client_id)
    except PortalAdminError as exc:
        return _refused(exc)
    return _detail(portal, RejectForm(), done=DONE.get(request.args.get("done", "")))


def _detail(portal: Portal, reject_form: RejectForm, done: str | None = None, status: int = 200) -> Any:
    admin = current_admin()
    submitter = portal.request and portal.request.submitted_by
    return render_template(
        "admin/clients_detail.html", portal=portal, meta=metadata_of(portal.client), labels=STATUS_LABELS,
        usage=portal_usage(portal.client.client_id), done=done,
        can_write=admin.can_on_client(CLIENTS_WRITE, portal.client), can_approve=admin.can(CLIENTS_APPROVE),
        has_secret=portal.client.token_endpoint_auth_method in SECRET_METHODS,
        action_form=ActionForm(), reject_form=reject_form, mask=mask_identifier,
        submitter=db.session.get(Account, submitter) if submitter else None), status


def _after(client_id: str, done: str) -> Response:
    return redirect(url_for("admin.client_detail", client_id=client_id, done=done), code=303)


def _field_errors(form: PortalEditForm, exc: PortalAdminError) -> None:
    """Put a refusal next to the field it is about (the first word of a registration message names it)."""
    first = exc.message.replace(":", " ").split(" ", 1)[0]
    name = FIELD_OF.get(first) or ("agency_code" if "agency code" in exc.message else None)
    if name is not None:
        form[name].errors = [exc.localized()]


@bp.route("/clients/<client_id>/edit", methods=["GET", "POST"])
@admin_page(CLIENTS_WRITE)
def client_edit(client_id: str) -> Any:
    admin = current_admin()
    try:
        portal = _portal(client_id, CLIENTS_WRITE)
        check_editable(admin, portal)
    except PortalAdminError as exc:
        return _refused(exc)
    national = admin.scope_of(CLIENTS_WRITE) is None
    form = PortalEditForm()
    context = {"portal": portal, "form": form, "scopes": SCOPES, "national": national, "labels": STATUS_LABELS}
    if not form.is_submitted():
        form.fill(metadata_of(portal.client), portal.client.agency, portal.client.agency_code)
        return render_template("admin/clients_edit.html", **context)
    if not form.validate():
        return render_template("admin/clients_edit.html", **context), 400
    try:
        result = edit_portal(admin, portal, form.changes(with_agency_code="agency_code" in request.form))
    except PortalAdminError as exc:
        db.session.rollback()
        _field_errors(form, exc)
        return render_template("admin/clients_edit.html", error=exc.localized(), **context), exc.status
    db.session.commit()
    if result.client_secret:
        return _shown_once(portal, result.client_secret)
    return _after(client_id, "updated" if result.changed else "unchanged")


def _shown_once(portal: Portal, secret: str) -> Response:
    response = make_response(render_template("admin/clients_secret.html", portal=portal, secret=secret,
                                             form=ActionForm()))
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


@bp.route("/clients/<client_id>/secret", methods=["GET", "POST"])
@admin_page(CLIENTS_WRITE, destructive=True)
def client_secret(client_id: str) -> Any:
    """GET: the confirmation step; POST: rotate, show the new secret once (the old one stops at once)."""
    try:
        portal = _portal(client_id, CLIENTS_WRITE)
        if request.method == "GET":
            return render_template("admin/clients_secret.html", portal=portal, secret=None, form=ActionForm())
        secret = rotate_secret(current_admin(), portal)
    except PortalAdminError as exc:
        return _refused(exc)
    db.session.commit()
    return _shown_once(portal, secret)


@bp.post("/clients/<client_id>/suspend")
@admin_page(CLIENTS_WRITE, destructive=True)
def client_suspend(client_id: str) -> Any:
    return _suspension(client_id, suspended=True)


@bp.post("/clients/<client_id>/reactivate")
@admin_page(CLIENTS_WRITE)
def client_reactivate(client_id: str) -> Any:
    return _suspension(client_id, suspended=False)


def _suspension(client_id: str, suspended: bool) -> Any:
    try:
        set_portal_suspended(current_admin(), _portal(client_id, CLIENTS_WRITE), suspended)
    except PortalAdminError as exc:
        return _refused(exc)
    db.session.commit()
    return _after(client_id, "suspended" if suspended else "reactivated")


@bp.post("/clients/<client_id>/approve")
@admin_page(CLIENTS_APPROVE)
def client_approve(client_id: str) -> Any:
    try:
        decide_request(current_admin(), _portal(client_id), approve=True)
    except PortalAdminError as exc:
        return _refused(exc)
    db.session.commit()
    return _after(client_id, "approved")


@bp.post("/clients/<client_id>/reject")
@admin_page(CLIENTS_APPROVE, destructive=True)
def client_reject(client_id: str) -> Any:
    form = RejectForm()
    try:
        portal = _portal(client_id)
        decide_request(current_admin(), portal, approve=False, reason=form.reason.data)
    except PortalAdminError as exc:
        db.session.rollback()
        if exc.status != 400:
            return _refused(exc)
        form.reason.errors = [exc.localized()]
        return _detail(portal, form, status=400)
    db.session.commit()
    return _after(client_id, "rejected")


@bp.get("/registration-requests")
@admin_page(CLIENTS_APPROVE)
def registration_requests() -> Any:
    return _requests_page(TokenForm())


def _requests_page(form: TokenForm, token: str | None = None, row: Any = None, status: int = 200) -> Any:
    response = make_response(render_template(
        "admin/clients_requests.html", pending=pending_requests(), tokens=recent_initial_access_tokens(),
        form=form, token=token, token_row=row, mask=mask_identifier), status)
    if token is not None:
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
    return response


@bp.post("/initial-access-tokens")
@admin_page(CLIENTS_APPROVE)
def initial_access_token() -> Any:
    form = TokenForm()
    try:
        lifetime = int(form.lifetime.data or "")
    except ValueError:
        lifetime = -1
    try:
        token, row = issue_initial_access_token(current_admin(), lifetime)
    except PortalAdminError as exc:
        db.session.rollback()
        form.lifetime.errors = [exc.localized()]
        return _requests_page(form, status=exc.status)
    db.session.commit()
    return _requests_page(TokenForm(), token=token, row=row)
