"""The console's front page: who is acting, with which roles, and where each task lives."""

from __future__ import annotations

from flask import jsonify
from flask import render_template
from werkzeug.wrappers import Response

from idp.admin import bp
from idp.admin.access import ALL_PERMISSIONS
from idp.admin.access import admin_page
from idp.admin.access import current_admin
from idp.admin.openapi import operation
from idp.i18n import N_
from idp.settings import current_settings

ROLE_LABELS = {
    "national_admin": N_("National administrator"),
    "agency_admin": N_("Agency administrator"),
    "helpdesk": N_("Helpdesk"),
    "auditor": N_("Auditor"),
}


@bp.get("/")
@admin_page(None)
def home() -> str:
    admin = current_admin()
    roles = [(ROLE_LABELS[role], sorted(agencies) if agencies else None)
             for role, agencies in sorted(admin.grants.items())]
    return render_template("admin/home.html", roles=roles,
                           minutes=current_settings().admin.session_lifetime // 60)


@operation("/whoami", "GET", permission=None, summary="The caller's roles and permissions", tag="access",
           response_schema={"type": "object", "properties": {
               "client_id": {"type": ["string", "null"]}, "roles": {"type": "array", "items": {"type": "string"}},
               "permissions": {"type": "array", "items": {"type": "string"}}}})
def whoami() -> Response:
    admin = current_admin()
    return jsonify(client_id=admin.client_id, roles=sorted(admin.roles),
                   permissions=sorted(p for p in ALL_PERMISSIONS if admin.can(p)))
