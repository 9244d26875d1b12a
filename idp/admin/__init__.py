"""The admin console: server-rendered pages under /admin and a JSON API under /admin/api.

Each area (portals, identity sources, accounts, audit, statistics) is a module of its own that adds
its pages to `bp` (guarded by idp.admin.access.admin_page), its API operations through
idp.admin.openapi.operation (guarded by admin_api, documented in /admin/api/openapi.json) and its
navigation entry with `nav_item`. PAGE_MODULES lists them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from flask import Blueprint
from flask import Flask

bp = Blueprint("admin", __name__, url_prefix="/admin")

# Modules that add pages and API operations (imported once by init_admin).
PAGE_MODULES = ("idp.admin.home", "idp.admin.clients", "idp.admin.clients_api",
                "idp.admin.accounts", "idp.admin.accounts_api", "idp.admin.reviews", "idp.admin.roles",
                "idp.admin.sources", "idp.admin.sources_api", "idp.admin.audit_pages", "idp.admin.stats_pages")


@dataclass(frozen=True, slots=True)
class NavItem:
    label: str  # a msgid (N_), translated when rendered
    endpoint: str
    permission: str
    order: int


NAV: list[NavItem] = []


def nav_item(label: str, endpoint: str, permission: str, order: int) -> None:
    """Add an entry to the console's navigation, shown to admins holding `permission`."""
    if not any(item.endpoint == endpoint for item in NAV):
        NAV.append(NavItem(label, endpoint, permission, order))
        NAV.sort(key=lambda item: item.order)


def init_admin(app: Flask) -> None:
    from idp.admin.openapi import api
    from idp.extensions import csrf

    for name in PAGE_MODULES:
        importlib.import_module(name)
    csrf.exempt(api)  # bearer-token JSON API: no cookies are involved
    app.register_blueprint(bp)
    app.register_blueprint(api)
    from idp.admin.api_clients import admin_cli

    app.cli.add_command(admin_cli)

    @app.context_processor
    def admin_navigation() -> dict:
        from flask import g

        admin = g.get("admin")
        if admin is None:
            return {}
        return {"admin_nav": [item for item in NAV if admin.can(item.permission)]}
