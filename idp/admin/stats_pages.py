"""Admin statistics: dashboard page (server-rendered SVG charts + data tables) and its JSON API.

National administrators and auditors see everything; an agency administrator sees the logins to
its own agency's portals only (its stats.read scope). idp.stats.dashboard holds the logic.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import jsonify
from flask import render_template
from flask import request
from flask_babel import format_decimal
from flask_babel import format_percent
from flask_babel import gettext as _
from sqlalchemy import select

from idp.accounts.admin_units import find_province
from idp.accounts.console import level_name
from idp.accounts.console import source_name
from idp.admin import bp
from idp.admin import nav_item
from idp.admin.access import STATS_READ
from idp.admin.access import admin_page
from idp.admin.access import api_error
from idp.admin.access import current_admin
from idp.admin.openapi import operation
from idp.errors import error_page
from idp.extensions import db
from idp.i18n import N_
from idp.stats.dashboard import Dashboard
from idp.stats.dashboard import build_dashboard
from idp.stats.dashboard import default_period
from idp.stats.queries import DaySeries
from idp.stats.queries import Period
from idp.stats.svg import bar_chart
from idp.stats.svg import day_chart

nav_item(N_("Statistics"), "admin.stats", STATS_READ, order=70)

LEGEND_SIZE = 7  # keys shown per chart; the rest are summed as "Other"
STACKED_UP_TO = 62  # days; longer periods are drawn as lines
OTHER = "\x00other"
PERIOD_PARAMETERS = ({"name": "start", "in": "query", "required": False, "schema": {"type": "string", "format": "date"},
                      "description": "First Vietnam day (default: 29 days before end)."},
                     {"name": "end", "in": "query", "required": False, "schema": {"type": "string", "format": "date"},
                      "description": "Last Vietnam day (default: today)."})


class PeriodError(ValueError):
    """The period in the query cannot be used."""


def check_period(args: Any) -> Period:
    """Read ?start=&end= (YYYY-MM-DD, Vietnam days); default: the last 30 days."""
    start, end = args.get("start") or None, args.get("end") or None
    if start is None and end is None:
        return default_period()
    try:
        last = date.fromisoformat(end) if end else default_period().end
        first = date.fromisoformat(start) if start else default_period(last).start
        return Period(first, last)
    except (TypeError, ValueError) as exc:
        raise PeriodError(str(exc)) from None


def _dashboard(args: Any) -> Dashboard:
    return build_dashboard(check_period(args), current_admin().scope_of(STATS_READ))


def _portal_names(keys: list[Any]) -> dict[Any, str]:
    from idp.oidc.models import Client

    ids = [key for key in keys if isinstance(key, str) and key != OTHER]
    names = dict(db.session.execute(select(Client.client_id, Client.name).where(Client.client_id.in_(ids))).all())
    return {key: names.get(key, key) for key in ids}


def _label(dimension: str, key: Any, portals: dict[Any, str]) -> str:
    if key == OTHER:
        return _("Other")
    if dimension == "portal":
        return portals.get(key, key) if key is not None else _("The provider's own pages")
    if dimension == "province":
        province = find_province(key) if key else None
        return province.name if province else _("Not known")
    return source_name(key)


def _number(value: int) -> str:
    return format_decimal(value)


def _chart(chart_id: str, title: str, series: DaySeries, dimension: str) -> dict[str, Any]:
    top = series.top(LEGEND_SIZE, other=OTHER)
    portals = _portal_names(list(top.counts)) if dimension == "portal" else {}
    named = [(_label(dimension, key, portals), top.counts[key]) for key, _total in top.totals()]
    days = [day.strftime("%d/%m") for day in series.days]
    description = _("Logins per day, one colour per group; the table below has the same numbers.")
    svg = day_chart(chart_id, title, description, days, named, number=_number, lines=len(days) > STACKED_UP_TO)
    return {"id": chart_id, "title": title, "svg": svg, "days": days, "series": named}


def _bars(chart_id: str, title: str, items: list[tuple[str, int]]) -> dict[str, Any]:
    description = _("One bar per group; the table below has the same numbers.")
    return {"id": chart_id, "title": title, "svg": bar_chart(chart_id, title, description, items, number=_number),
            "items": items}


@bp.get("/stats")
@admin_page(STATS_READ)
def stats() -> Any:
    try:
        dashboard = _dashboard(request.args)
    except PeriodError:
        return error_page(400, _("This period cannot be used"),
                          _("Give the first and last day as YYYY-MM-DD, at most 366 days apart, in order."))
    provinces = dashboard.by_province.totals()
    province_names = [(_label("province", key, {}), total) for key, total in provinces]
    levels = [(level_name(level), count) for level, count in sorted(dashboard.levels.items())]
    factors = dashboard.factors
    factor_bars = [(_("Active accounts"), factors.accounts), (_("With an authenticator app"), factors.totp),
                   (_("With a passkey or security key"), factors.webauthn), (_("With any second factor"), factors.any)]
    return render_template(
        "admin/stats.html", dashboard=dashboard, number=_number, scoped=dashboard.client_ids is not None,
        share=format_percent(factors.share, "#,##0.0%"),
        day_charts=[_chart("logins-by-portal", _("Logins per day by portal"), dashboard.by_portal, "portal"),
                    _chart("logins-by-source", _("Logins per day by identity source"), dashboard.by_source,
                           "source")],
        bar_charts=[_bars("logins-by-province", _("Logins by province"), province_names),
                    _bars("assurance-levels", _("Logins by assurance level reached"), levels),
                    _bars("second-factors", _("Active accounts with a second factor"), factor_bars)])


@operation("/stats", "GET", permission=STATS_READ, summary="Login statistics for a period", tag="stats",
           parameters=PERIOD_PARAMETERS,
           response_schema={"type": "object", "required": ["period", "days", "logins", "by_portal", "by_source",
                                                           "by_province", "levels", "second_factor"]},
           errors={"400": "The period is malformed, reversed or longer than 366 days."})
def api_stats() -> Any:
    try:
        dashboard = _dashboard(request.args)
    except PeriodError:
        return api_error(400, "invalid_request", "start and end are YYYY-MM-DD, in order, at most 366 days apart.")
    return jsonify({**dashboard.to_json(), "scoped": dashboard.client_ids is not None})
