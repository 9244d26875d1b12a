"""Staff roles in the admin console, pages and API (roles.write: national administrators): list every
grant, grant a role with its scope, revoke one. The rules (scopes, no lock-out) live in
idp.admin.role_admin."""

from __future__ import annotations

from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from idp.accounts.roles import KNOWN_ROLES
from idp.admin import bp
from idp.admin import nav_item
from idp.admin.access import ROLES_WRITE
from idp.admin.access import admin_page
from idp.admin.access import current_admin
from idp.admin.account_admin import REASON_MAX
from idp.admin.account_admin import REASON_MIN
from idp.admin.account_admin import REASON_SCHEMA
from idp.admin.account_admin import AdminRefusal
from idp.admin.account_admin import api_json
from idp.admin.account_admin import api_refusal
from idp.admin.account_forms import ROLE_LABELS
from idp.admin.account_forms import GrantRoleForm
from idp.admin.account_forms import ReasonForm
from idp.admin.openapi import operation
from idp.admin.openapi import request_body
from idp.admin.role_admin import find_staff_account
from idp.admin.role_admin import grant
from idp.admin.role_admin import revoke
from idp.admin.role_admin import staff_grants
from idp.extensions import db
from idp.i18n import N_

nav_item(N_("Staff roles"), "admin.roles", ROLES_WRITE, order=45)

DONE = {"granted": N_("The role was granted."), "revoked": N_("The role was revoked.")}


def _page(form: GrantRoleForm | None = None, error: str | None = None, revoke_error: tuple[int, str] | None = None,
          status: int = 200) -> tuple[str, int]:
    done = DONE.get(request.args.get("done", ""))
    return render_template("admin/roles.html", grants=staff_grants(), form=form or GrantRoleForm(),
                           revoke_form=ReasonForm(prefix="revoke"), error=error, revoke_error=revoke_error,
                           role_labels=ROLE_LABELS, me=current_admin().account_id,
                           done=_(done) if done else None), status


@bp.get("/roles")
@admin_page(ROLES_WRITE)
def roles() -> tuple[str, int]:
    return _page()


@bp.post("/roles")
@admin_page(ROLES_WRITE, destructive=True)
def role_grant() -> Response | tuple[str, int]:
    form = GrantRoleForm()
    if not form.validate_on_submit():
        return _page(form, status=400)
    try:
        account = find_staff_account(form.identifier.data)
        grant(current_admin(), account.id, form.role.data, form.scope.data, form.reason.data)
    except AdminRefusal as exc:
        db.session.rollback()
        return _page(form, _(exc.message), status=exc.status)
    db.session.commit()
    return redirect(url_for("admin.roles", done="granted"), code=303)


@bp.post("/roles/<int:grant_id>/revoke")
@admin_page(ROLES_WRITE, destructive=True)
def role_revoke(grant_id: int) -> Response | tuple[str, int]:
    form = ReasonForm(prefix="revoke")
    if not form.validate_on_submit():
        message = next(iter(form.reason.errors), None) or _("Give a reason (at least 3 characters).")
        return _page(revoke_error=(grant_id, str(message)), status=400)
    try:
        revoke(current_admin(), grant_id, form.reason.data)
    except AdminRefusal as exc:
        db.session.rollback()
        return _page(revoke_error=(grant_id, _(exc.message)), status=exc.status)
    db.session.commit()
    return redirect(url_for("admin.roles", done="revoked"), code=303)


# --- API -------------------------------------------------------------------------------------------
GRANT_SCHEMA = {"type": "object", "properties": {
    "id": {"type": "integer"}, "account_id": {"type": "integer"}, "role": {"enum": list(KNOWN_ROLES)},
    "scope": {"type": ["string", "null"]}, "granted_at": {"type": "string", "format": "date-time"}}}
GRANT_BODY = {"type": "object", "required": ["account_id", "role", "reason"], "additionalProperties": False,
              "properties": {
                  "account_id": {"type": "integer", "minimum": 1},
                  "role": {"enum": list(KNOWN_ROLES)},
                  "scope": {"type": ["string", "null"], "maxLength": 64,
                            "description": "Post office code (postal_clerk) or agency code (agency_admin); "
                                           "none for the national roles."},
                  "reason": {"type": "string", "minLength": REASON_MIN, "maxLength": REASON_MAX}}}


def _grant_json(row) -> dict:  # noqa: ANN001 - AccountRole
    return {"id": row.id, "account_id": row.account_id, "role": row.role, "scope": row.scope,
            "granted_at": row.granted_at}


@operation("/roles", "GET", permission=ROLES_WRITE, summary="Every staff role grant", tag="roles",
           response_schema={"type": "object", "properties": {"grants": {"type": "array", "items": GRANT_SCHEMA}}})
def api_roles() -> Response:
    return api_json({"grants": [{key: row[key] for key in ("id", "account_id", "role", "scope", "granted_at")}
                                for row in staff_grants()]})


@operation("/roles", "POST", permission=ROLES_WRITE, summary="Grant a staff role (with its scope)", tag="roles",
           request_schema=GRANT_BODY, response_schema=GRANT_SCHEMA, status=201,
           errors={"404": "No such account (error: account_not_found).",
                   "409": "The account already holds this role (error: role_held)."})
def api_grant() -> Response:
    body = request_body()
    try:
        row = grant(current_admin(), body["account_id"], body["role"], body.get("scope"), body["reason"])
    except AdminRefusal as exc:
        return api_refusal(exc)
    db.session.commit()
    return api_json(_grant_json(row), 201)


@operation("/roles/<int:grant_id>/revoke", "POST", permission=ROLES_WRITE, summary="Revoke a staff role grant",
           tag="roles", request_schema=REASON_SCHEMA, response_schema=GRANT_SCHEMA,
           errors={"404": "No such grant (error: grant_not_found).",
                   "409": "It would leave no national administrator, or it is your own last one "
                          "(error: last_national_admin, own_last_national_admin)."})
def api_revoke(grant_id: int) -> Response:
    try:
        row = revoke(current_admin(), grant_id, request_body()["reason"])
    except AdminRefusal as exc:
        return api_refusal(exc)
    result = _grant_json(row)
    db.session.commit()
    return api_json(result)
