"""Admin pages and API for the audit trail: list with filters, chain verification, export download.

Auditors and national administrators (audit.read; audit.export for downloads). Verifying and
exporting are themselves audited (`admin.audit.verified`, `admin.audit.exported`).
The logic lives in idp.audit (listing, chain, anchor, export); views stay thin.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify
from flask import render_template
from flask import request
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from idp.admin import bp
from idp.admin import nav_item
from idp.admin.access import AUDIT_EXPORT
from idp.admin.access import AUDIT_READ
from idp.admin.access import admin_page
from idp.admin.access import api_error
from idp.admin.access import current_admin
from idp.admin.openapi import operation
from idp.audit.anchor import AnchorError
from idp.audit.anchor import parse_anchor
from idp.audit.chain import ChainReport
from idp.audit.chain import verify_database
from idp.audit.export import download_response
from idp.audit.listing import PAGE_SIZE
from idp.audit.listing import AuditFilterError
from idp.audit.listing import check_audit_filter
from idp.audit.listing import check_format
from idp.audit.listing import check_page
from idp.audit.listing import find_events
from idp.audit.models import record
from idp.errors import error_page
from idp.extensions import db
from idp.i18n import N_

nav_item(N_("Audit trail"), "admin.audit", AUDIT_READ, order=60)

FILTER_PARAMETERS = tuple({"name": name, "in": "query", "required": False, "schema": {"type": "string"},
                           "description": text} for name, text in (
    ("since", "First Vietnam day (YYYY-MM-DD)."), ("until", "Last Vietnam day (YYYY-MM-DD)."),
    ("event", "Event name prefix, e.g. login."), ("account_id", "Account id."), ("client_id", "Portal client ID.")))
EVENT_SCHEMA = {"type": "object", "required": ["id", "at", "event", "data", "prev_hash", "hash"], "properties": {
    "id": {"type": "integer"}, "at": {"type": "string"}, "event": {"type": "string"},
    "account_id": {"type": ["integer", "null"]}, "client_id": {"type": ["string", "null"]},
    "request_id": {"type": ["string", "null"]}, "data": {"type": "object"}, "prev_hash": {"type": "string"},
    "hash": {"type": "string"}}}
REPORT_SCHEMA = {"type": "object", "required": ["ok", "checked", "head"], "properties": {
    "ok": {"type": "boolean"}, "checked": {"type": "integer"}, "head": {"type": "string"},
    "head_id": {"type": ["integer", "null"]}, "head_hash": {"type": "string"},
    "broken": {"type": ["object", "null"]}}}
KIND_LABELS = {"altered": N_("altered"), "inserted": N_("inserted"), "deleted": N_("deleted")}


def _refused_page(exc: AuditFilterError) -> tuple[str, int]:
    return error_page(400, _("This filter cannot be used"), _(exc.message))


def _verify(expected: str | None) -> ChainReport:
    """Verify (against an anchor when given) and audit who did it; raises AnchorError."""
    anchor = parse_anchor(expected) if expected else None
    report = verify_database(None if anchor is None else (anchor.event_id, anchor.hash))
    admin = current_admin()
    record("admin.audit.verified", account_id=admin.account_id, actor_client=admin.client_id, ok=report.ok,
           head=report.head, anchored=anchor is not None,
           broken=None if report.ok else {"kind": report.broken.kind, "event_id": report.broken.event_id})
    db.session.commit()
    return report


def _export(args: Any) -> Response:
    fmt = check_format(args.get("format"))
    selection = check_audit_filter(args)
    admin = current_admin()
    record("admin.audit.exported", account_id=admin.account_id, actor_client=admin.client_id, format=fmt,
           filters=selection.query_args())
    db.session.commit()
    return download_response(fmt, selection.export_filter())


@bp.get("/audit")
@admin_page(AUDIT_READ)
def audit() -> Any:
    try:
        selection, page = check_audit_filter(request.args), check_page(request.args.get("page"))
    except AuditFilterError as exc:
        return _refused_page(exc)
    rows, more = find_events(selection, page)
    return render_template("admin/audit.html", rows=rows, more=more, page=page, selection=selection,
                           args=selection.query_args(), can_export=current_admin().can(AUDIT_EXPORT))


@bp.get("/audit/verify")
@admin_page(AUDIT_READ)
def audit_verify() -> Any:
    expected = (request.args.get("expect_head") or "").strip() or None
    try:
        report = _verify(expected)
    except AnchorError as exc:
        return render_template("admin/audit_verify.html", report=None, expected=expected, error=_(exc.message),
                               kinds=KIND_LABELS), 400
    return render_template("admin/audit_verify.html", report=report, expected=expected, error=None,
                           kinds=KIND_LABELS)


@bp.get("/audit/export")
@admin_page(AUDIT_EXPORT)
def audit_export() -> Any:
    try:
        return _export(request.args)
    except AuditFilterError as exc:
        return _refused_page(exc)


# --- JSON API ----------------------------------------------------------------------------------

@operation("/audit/events", "GET", permission=AUDIT_READ, summary="List audit events, newest first", tag="audit",
           parameters=(*FILTER_PARAMETERS, {"name": "page", "in": "query", "required": False,
                                            "schema": {"type": "integer", "minimum": 1}}),
           response_schema={"type": "object", "required": ["events", "more"], "properties": {
               "events": {"type": "array", "items": EVENT_SCHEMA}, "more": {"type": "boolean"},
               "page_size": {"type": "integer"}}})
def api_events() -> Any:
    from idp.audit.export import event_record

    try:
        selection, page = check_audit_filter(request.args), check_page(request.args.get("page"))
    except AuditFilterError as exc:
        return api_error(400, "invalid_request", exc.message)
    rows, more = find_events(selection, page)
    return jsonify(events=[event_record(row) for row in rows], more=more, page_size=PAGE_SIZE)


@operation("/audit/verify", "GET", permission=AUDIT_READ, summary="Verify the hash chain", tag="audit",
           parameters=({"name": "expect_head", "in": "query", "required": False, "schema": {"type": "string"},
                        "description": "An anchored head: ID:HASH or a signed anchor."},),
           response_schema=REPORT_SCHEMA)
def api_verify() -> Any:
    try:
        report = _verify((request.args.get("expect_head") or "").strip() or None)
    except AnchorError as exc:
        return api_error(400, "invalid_request", exc.message)
    return jsonify(report.to_json())


@operation("/audit/export", "GET", permission=AUDIT_EXPORT, summary="Export audit events (JSON lines or CSV)",
           tag="audit", parameters=({"name": "format", "in": "query", "required": True,
                                     "schema": {"type": "string", "enum": ["jsonl", "csv"]}}, *FILTER_PARAMETERS))
def api_export() -> Any:
    try:
        return _export(request.args)
    except AuditFilterError as exc:
        return api_error(400, "invalid_request", exc.message)
