"""Admin pages for identity sources: the list (configured sources with health and usage, installed
kinds not configured), a source's page (settings, on/off, reachability, trust anchors), and the
changes. Views are thin: the logic is in source_settings, source_anchors and source_reachability,
shared with the JSON API (idp.admin.sources_api). A refused change stores nothing and is shown on the
form with the status the API would use.
"""

from __future__ import annotations

from typing import Any

from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from idp.admin import bp
from idp.admin import nav_item
from idp.admin.access import SOURCES_READ
from idp.admin.access import SOURCES_WRITE
from idp.admin.access import admin_page
from idp.admin.access import current_admin
from idp.admin.source_anchors import add_anchor
from idp.admin.source_anchors import configured_anchors
from idp.admin.source_anchors import get_anchor
from idp.admin.source_anchors import has_anchors
from idp.admin.source_anchors import remove_anchor
from idp.admin.source_anchors import uploaded_anchors
from idp.admin.source_anchors import uploaded_view
from idp.admin.source_forms import AnchorForm
from idp.admin.source_forms import SettingsForm
from idp.admin.source_forms import VersionForm
from idp.admin.source_forms import changes_from
from idp.admin.source_forms import is_multiline
from idp.admin.source_forms import shown_text
from idp.admin.source_reachability import Reachability
from idp.admin.source_reachability import check_reachability
from idp.admin.source_settings import describe
from idp.admin.source_settings import installed_kinds_not_configured
from idp.admin.source_settings import list_sources
from idp.admin.source_settings import reset_settings
from idp.admin.source_settings import set_enabled
from idp.admin.source_settings import settings_of
from idp.admin.source_settings import update_settings
from idp.admin.source_usage import USAGE_DAYS
from idp.admin.source_values import SourceRefused
from idp.errors import NotFound
from idp.errors import error_page
from idp.i18n import N_

nav_item(N_("Identity sources"), "admin.sources", SOURCES_READ, order=30)

HEALTH_LABELS = {"up": N_("Answering"), "down": N_("Not answering"), "not_reported": N_("Not reported"),
                 "off": N_("Turned off")}
OUTCOME_LABELS = {
    "reachable": N_("The upstream answered."), "unreachable": N_("The upstream did not answer correctly."),
    "timeout": N_("No answer in time."), "error": N_("The check itself failed; see the logs."),
    "not_reported": N_("This kind of source has no reachability check."),
    "not_built": N_("The source's settings would not start, so it cannot be checked."),
}
# The key of an anchor refusal -> the upload form's field that shows it.
ANCHOR_FIELDS = {"pem": "pem_text", "name": "name", "kind": "kind", "level": "level", "revocation": "revocation",
                 "ocsp": "ocsp"}
DONE = {
    "saved": N_("The settings were saved; every server uses them within a few seconds."),
    "unchanged": N_("Nothing was changed."), "reset": N_("The settings from the configuration file apply again."),
    "enabled": N_("The source is turned on."), "disabled": N_("The source is turned off."),
    "anchor_added": N_("The trust anchor was added."), "anchor_removed": N_("The trust anchor was removed."),
}


def _version(form: VersionForm) -> int | None:
    value = (form.version.data or "").strip()
    return int(value) if value.isdigit() and len(value) < 10 else None


def _not_found() -> tuple[str, int]:
    return error_page(404, _("No such identity source"), _("No identity source is configured with this id."))


def _after(verifier_id: str, done: str) -> Response:
    return redirect(url_for("admin.source_detail", verifier_id=verifier_id, done=done), code=303)


@bp.get("/sources")
@admin_page(SOURCES_READ)
def sources() -> Any:
    return render_template("admin/sources.html", sources=list_sources(), kinds=installed_kinds_not_configured(),
                           health=HEALTH_LABELS, days=USAGE_DAYS)


def _detail(verifier_id: str, *, settings_form: SettingsForm | None = None, anchor_form: AnchorForm | None = None,
            refused: SourceRefused | None = None, check: Reachability | None = None, status: int = 200) -> Any:
    source = describe(verifier_id)
    settings = settings_of(verifier_id)
    anchors = has_anchors(verifier_id)
    configured, anchor_problem = configured_anchors(verifier_id) if anchors else ([], None)
    error_key = refused.key.split(".")[2] if refused and refused.key.startswith(f"verifiers.{verifier_id}.") \
        else (refused.key if refused else None)
    return render_template(
        "admin/sources_detail.html", source=source, settings=settings, shown_text=shown_text,
        is_multiline=is_multiline, can_write=current_admin().can(SOURCES_WRITE), health=HEALTH_LABELS,
        settings_form=settings_form or SettingsForm(version=source.version), action_form=VersionForm(
            version=source.version), anchor_form=anchor_form or AnchorForm(), has_anchors=anchors,
        configured_anchors=configured, uploaded_anchors=uploaded_anchors(verifier_id) if anchors else [],
        anchor_problem=anchor_problem, refused=refused.text(_) if refused else None, error_key=error_key,
        typed=request.form if settings_form is not None and request.method == "POST" else {},
        check=check, outcomes=OUTCOME_LABELS, days=USAGE_DAYS, done=DONE.get(request.args.get("done", ""))), status


@bp.get("/sources/<verifier_id>")
@admin_page(SOURCES_READ)
def source_detail(verifier_id: str) -> Any:
    try:
        return _detail(verifier_id)
    except NotFound:
        return _not_found()


@bp.post("/sources/<verifier_id>/settings")
@admin_page(SOURCES_WRITE, destructive=True)
def source_settings(verifier_id: str) -> Any:
    form = SettingsForm()
    try:
        if not form.validate_on_submit():
            return _detail(verifier_id, settings_form=form, status=400)
        before = describe(verifier_id).version
        changes = changes_from(settings_of(verifier_id), request.form, form.new_key.data, form.new_value.data)
        after = update_settings(current_admin(), verifier_id, changes, _version(form)).version if changes else before
    except NotFound:
        return _not_found()
    except SourceRefused as exc:
        return _detail(verifier_id, settings_form=form, refused=exc, status=exc.status)
    return _after(verifier_id, "saved" if after != before else "unchanged")


@bp.post("/sources/<verifier_id>/reset")
@admin_page(SOURCES_WRITE, destructive=True)
def source_reset(verifier_id: str) -> Any:
    return _action(verifier_id, lambda version: reset_settings(current_admin(), verifier_id, version), "reset")


@bp.post("/sources/<verifier_id>/enable")
@admin_page(SOURCES_WRITE)
def source_enable(verifier_id: str) -> Any:
    return _action(verifier_id, lambda version: set_enabled(current_admin(), verifier_id, True, version), "enabled")


@bp.post("/sources/<verifier_id>/disable")
@admin_page(SOURCES_WRITE, destructive=True)
def source_disable(verifier_id: str) -> Any:
    return _action(verifier_id, lambda version: set_enabled(current_admin(), verifier_id, False, version),
                   "disabled")


def _action(verifier_id: str, change: Any, done: str) -> Any:
    form = VersionForm()
    try:
        if not form.validate_on_submit():
            return error_page(400, _("This cannot be done"), _("The form has expired. Go back and try again."))
        change(_version(form))
    except NotFound:
        return _not_found()
    except SourceRefused as exc:
        return _detail(verifier_id, refused=exc, status=exc.status)
    return _after(verifier_id, done)


@bp.post("/sources/<verifier_id>/check")
@admin_page(SOURCES_WRITE)
def source_check(verifier_id: str) -> Any:
    if not VersionForm().validate_on_submit():
        return error_page(400, _("This cannot be done"), _("The form has expired. Go back and try again."))
    try:
        return _detail(verifier_id, check=check_reachability(current_admin(), verifier_id))
    except NotFound:
        return _not_found()


@bp.post("/sources/<verifier_id>/anchors")
@admin_page(SOURCES_WRITE, destructive=True)
def source_anchor_add(verifier_id: str) -> Any:
    form = AnchorForm()
    try:
        if not form.validate_on_submit():
            return _detail(verifier_id, anchor_form=form, status=400)
        add_anchor(current_admin(), verifier_id, pem=form.pem(), name=form.name.data, kind=form.kind.data,
                   level=form.level.data or None, revocation=form.revocation.data, ocsp=form.ocsp.data)
    except NotFound:
        return _not_found()
    except SourceRefused as exc:
        field = ANCHOR_FIELDS.get(exc.key)
        if field is not None:
            form[field].errors = [exc.text(_)]
        return _detail(verifier_id, anchor_form=form, refused=exc, status=exc.status)
    return _after(verifier_id, "anchor_added")


@bp.get("/sources/<verifier_id>/anchors/<int:anchor_id>")
@admin_page(SOURCES_READ)
def source_anchor(verifier_id: str, anchor_id: int) -> Any:
    try:
        anchor = uploaded_view(get_anchor(verifier_id, anchor_id))
    except NotFound:
        return error_page(404, _("No such trust anchor"), _("This source has no uploaded trust anchor with this id."))
    return render_template("admin/sources_anchor.html", verifier_id=verifier_id, anchor=anchor,
                           can_write=current_admin().can(SOURCES_WRITE), action_form=VersionForm())


@bp.post("/sources/<verifier_id>/anchors/<int:anchor_id>/remove")
@admin_page(SOURCES_WRITE, destructive=True)
def source_anchor_remove(verifier_id: str, anchor_id: int) -> Any:
    if not VersionForm().validate_on_submit():
        return error_page(400, _("This cannot be done"), _("The form has expired. Go back and try again."))
    try:
        remove_anchor(current_admin(), verifier_id, anchor_id)
    except NotFound:
        return error_page(404, _("No such trust anchor"), _("This source has no uploaded trust anchor with this id."))
    except SourceRefused as exc:
        return _detail(verifier_id, refused=exc, status=exc.status)
    return _after(verifier_id, "anchor_removed")
