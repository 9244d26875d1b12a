"""The admin API for identity sources (/admin/api/sources...): the pages' operations (idp.admin.sources)
over the same service functions, documented in the OpenAPI document. Errors are {"error",
"error_description"} in English; a refused change stores nothing (400, or 409 for a stale version or
a duplicate anchor)."""

from __future__ import annotations

from typing import Any

from flask import jsonify
from flask import request
from werkzeug.wrappers import Response

from idp.admin.access import SOURCES_READ
from idp.admin.access import SOURCES_WRITE
from idp.admin.access import api_error
from idp.admin.access import current_admin
from idp.admin.openapi import operation
from idp.admin.openapi import request_body
from idp.admin.source_anchors import KINDS
from idp.admin.source_anchors import LEVELS
from idp.admin.source_anchors import OCSP_MODES
from idp.admin.source_anchors import REVOCATION_MODES
from idp.admin.source_anchors import AnchorView
from idp.admin.source_anchors import add_anchor
from idp.admin.source_anchors import configured_anchors
from idp.admin.source_anchors import get_anchor
from idp.admin.source_anchors import has_anchors
from idp.admin.source_anchors import remove_anchor
from idp.admin.source_anchors import uploaded_anchors
from idp.admin.source_anchors import uploaded_view
from idp.admin.source_reachability import OUTCOMES
from idp.admin.source_reachability import TIMEOUT_SECONDS
from idp.admin.source_reachability import check_reachability
from idp.admin.source_settings import Source
from idp.admin.source_settings import describe
from idp.admin.source_settings import file_config
from idp.admin.source_settings import installed_kinds_not_configured
from idp.admin.source_settings import list_sources
from idp.admin.source_settings import reset_settings
from idp.admin.source_settings import set_enabled
from idp.admin.source_settings import settings_of
from idp.admin.source_settings import update_settings
from idp.admin.source_usage import USAGE_DAYS
from idp.admin.source_values import SourceRefused
from idp.errors import NotFound
from idp.verifiers.certificate.pem import MAX_PEM_CHARS

NULLABLE_STRING = {"type": ["string", "null"]}
SOURCE_SCHEMA = {
    "type": "object",
    "required": ["id", "kind", "enabled", "health", "version"],
    "properties": {
        "id": {"type": "string"}, "kind": {"type": "string"},
        "names": {"type": "object", "additionalProperties": {"type": "string"}},
        "max_level": {"enum": ["none", "low", "substantial", "high", None]},
        "enabled": {"type": "boolean"}, "enabled_set_in": {"enum": ["file", "console"]},
        "health": {"enum": ["up", "down", "not_reported", "off"]},
        "logins_30_days": {"type": "integer", "description": f"Logins in the last {USAGE_DAYS} days."},
        "version": {"type": "integer", "description": "Version of the stored changes (0: none)."},
        "updated_by": NULLABLE_STRING, "updated_at": NULLABLE_STRING,
        "problem": {"type": ["string", "null"], "description": "Why the settings cannot be built, if so."},
    },
}
ANCHOR_SCHEMA = {
    "type": "object",
    "required": ["name", "origin", "subject", "issuer", "not_before", "not_after", "sha256_fingerprint"],
    "properties": {
        "id": {"type": ["integer", "null"]}, "origin": {"enum": ["file", "console"]}, "name": {"type": "string"},
        "kind": {"type": "string"}, "level": NULLABLE_STRING, "subject": {"type": "string"},
        "issuer": {"type": "string"}, "not_before": {"type": "string"}, "not_after": {"type": "string"},
        "sha256_fingerprint": {"type": "string"}, "serial": {"type": "string"}, "key": {"type": "string"},
        "uploaded_by": NULLABLE_STRING, "uploaded_at": NULLABLE_STRING,
    },
}
DETAIL_SCHEMA = {
    **SOURCE_SCHEMA,
    "properties": {
        **SOURCE_SCHEMA["properties"],
        "settings": {"type": "object", "description": "Top-level settings; secrets read \"[redacted]\"."},
        "set_in_console": {"type": "array", "items": {"type": "string"}},
        "anchors": {"type": "array", "items": ANCHOR_SCHEMA},
    },
}
VERSION = {"type": "integer", "minimum": 0, "description": "The version the change is based on; 409 if stale."}
VERSION_PARAMETER = ({"name": "version", "in": "query", "required": False, "schema": VERSION},)
SETTINGS_SCHEMA = {
    "type": "object",
    "required": ["settings"],
    "additionalProperties": False,
    "properties": {
        "settings": {"type": "object", "maxProperties": 50,
                     "propertyNames": {"pattern": "^[a-z][a-z0-9_]{0,63}$"},
                     "description": "Top-level settings to change: a value replaces the file's, null goes back "
                                    "to the file's; \"\" or \"[redacted]\" in a secret's place keeps it; a secret "
                                    "may be \"env:IDP_NAME\"."},
        "version": VERSION,
    },
}
ANCHOR_REQUEST = {
    "type": "object",
    "required": ["pem", "kind"],
    "additionalProperties": False,
    "properties": {
        "pem": {"type": "string", "maxLength": MAX_PEM_CHARS}, "name": {"type": "string", "maxLength": 200},
        "kind": {"enum": list(KINDS)}, "level": {"enum": list(LEVELS)},
        "revocation": {"enum": list(REVOCATION_MODES), "default": "hard"},
        "ocsp": {"enum": list(OCSP_MODES), "default": "off"},
    },
}
CHECK_SCHEMA = {"type": "object", "properties": {
    "verifier_id": {"type": "string"}, "outcome": {"enum": list(OUTCOMES)},
    "elapsed_ms": {"type": ["integer", "null"]}, "detail": NULLABLE_STRING}}
NOT_FOUND = {"404": "No source is configured with this id."}
REFUSED = {"400": "Refused: nothing stored; the description names the key (invalid_request).",
           "404": "No source is configured with this id.",
           "409": "The source changed since `version` (conflict)."}


def source_json(source: Source) -> dict[str, Any]:
    return {"id": source.id, "kind": source.kind, "names": dict(source.info.names) if source.info else {},
            "max_level": source.info.max_level.name.lower() if source.info else None, "enabled": source.enabled,
            "enabled_set_in": "console" if source.switched_in_console else "file", "health": source.health,
            "logins_30_days": source.logins, "version": source.version, "updated_by": source.updated_by,
            "updated_at": source.updated_at.isoformat() if source.updated_at else None, "problem": source.problem}


def anchor_json(anchor: AnchorView) -> dict[str, Any]:
    return {"id": anchor.id, "origin": "file" if anchor.id is None else "console", "name": anchor.name,
            "kind": anchor.kind, "level": anchor.level, "subject": anchor.subject, "issuer": anchor.issuer,
            "not_before": anchor.not_before.isoformat(), "not_after": anchor.not_after.isoformat(),
            "sha256_fingerprint": anchor.fingerprint, "serial": anchor.serial, "key": anchor.key,
            "uploaded_by": anchor.uploaded_by,
            "uploaded_at": anchor.uploaded_at.isoformat() if anchor.uploaded_at else None}


def _anchors(verifier_id: str) -> list[dict[str, Any]]:
    if not has_anchors(verifier_id):
        return []
    return [anchor_json(a) for a in [*uploaded_anchors(verifier_id), *configured_anchors(verifier_id)[0]]]


def _detail(verifier_id: str) -> dict[str, Any]:
    settings = settings_of(verifier_id)
    return {**source_json(describe(verifier_id)), "settings": {s.key: s.shown for s in settings},
            "set_in_console": [s.key for s in settings if s.overridden], "anchors": _anchors(verifier_id)}


def _version() -> int | None:
    """The `version` query parameter; SourceRefused when it is not a whole number."""
    value = request.args.get("version")
    if value is None:
        return None
    if not value.isdigit() or len(value) > 9:
        raise SourceRefused("version", "version must be a whole number.")
    return int(value)


def _answer(work: Any, status: int = 200) -> Response:
    """Run a service call; NotFound → 404, SourceRefused → its status, with an RFC-style error body."""
    try:
        result = work()
    except NotFound as exc:
        return api_error(404, "not_found", exc.message)
    except SourceRefused as exc:
        return api_error(exc.status, exc.error, exc.text()[:500])
    if result is None:
        return Response(status=204)
    response = jsonify(result)
    response.status_code = status
    return response


@operation("/sources", "GET", permission=SOURCES_READ, summary="List identity sources", tag="sources",
           response_schema={"type": "object", "properties": {
               "sources": {"type": "array", "items": SOURCE_SCHEMA},
               "installed_kinds_not_configured": {"type": "array", "items": {"type": "string"}}}})
def list_all() -> Response:
    return jsonify(sources=[source_json(s) for s in list_sources()],
                   installed_kinds_not_configured=installed_kinds_not_configured())


@operation("/sources/<verifier_id>", "GET", permission=SOURCES_READ, summary="An identity source with its settings",
           tag="sources", response_schema=DETAIL_SCHEMA, errors=NOT_FOUND)
def show(verifier_id: str) -> Response:
    return _answer(lambda: _detail(verifier_id))


@operation("/sources/<verifier_id>/settings", "PATCH", permission=SOURCES_WRITE, tag="sources",
           summary="Change settings (validated by building the source as start-up does)",
           request_schema=SETTINGS_SCHEMA, response_schema=DETAIL_SCHEMA, errors=REFUSED)
def change_settings(verifier_id: str) -> Response:
    body = request_body()

    def work() -> dict[str, Any]:
        update_settings(current_admin(), verifier_id, body["settings"], body.get("version"))
        return _detail(verifier_id)

    return _answer(work)


@operation("/sources/<verifier_id>/settings", "DELETE", permission=SOURCES_WRITE, tag="sources",
           summary="Drop every setting changed in the console (back to the configuration file)",
           parameters=VERSION_PARAMETER, response_schema=DETAIL_SCHEMA, errors=REFUSED)
def reset(verifier_id: str) -> Response:
    def work() -> dict[str, Any]:
        reset_settings(current_admin(), verifier_id, _version())
        return _detail(verifier_id)

    return _answer(work)


@operation("/sources/<verifier_id>/enable", "POST", permission=SOURCES_WRITE, tag="sources",
           summary="Turn a source on (only if it would start)", parameters=VERSION_PARAMETER,
           response_schema=SOURCE_SCHEMA, errors=REFUSED)
def enable(verifier_id: str) -> Response:
    return _answer(lambda: source_json(set_enabled(current_admin(), verifier_id, True, _version())))


@operation("/sources/<verifier_id>/disable", "POST", permission=SOURCES_WRITE, tag="sources",
           summary="Turn a source off (gone from the login page in every worker)", parameters=VERSION_PARAMETER,
           response_schema=SOURCE_SCHEMA, errors={
               **REFUSED, "409": "The source changed since `version` (conflict), or it is the last one that gives a "
                                 "national administrator an admin-grade login (would_lock_out_admins)."})
def disable(verifier_id: str) -> Response:
    return _answer(lambda: source_json(set_enabled(current_admin(), verifier_id, False, _version())))


@operation("/sources/<verifier_id>/check", "POST", permission=SOURCES_WRITE, tag="sources",
           summary=f"Test whether the upstream answers (its health check, at most {TIMEOUT_SECONDS:g} s)",
           response_schema=CHECK_SCHEMA, errors=NOT_FOUND)
def check(verifier_id: str) -> Response:
    def work() -> dict[str, Any]:
        result = check_reachability(current_admin(), verifier_id)
        return {"verifier_id": result.verifier_id, "outcome": result.outcome, "elapsed_ms": result.elapsed_ms,
                "detail": result.detail}

    return _answer(work)


@operation("/sources/<verifier_id>/anchors", "GET", permission=SOURCES_READ, tag="sources",
           summary="Trust anchors of a certificate source (configured and uploaded)",
           response_schema={"type": "object", "properties": {"anchors": {"type": "array", "items": ANCHOR_SCHEMA}}},
           errors=NOT_FOUND)
def anchors(verifier_id: str) -> Response:
    return _answer(lambda: {"anchors": _anchors(verifier_id)})


@operation("/sources/<verifier_id>/anchors", "POST", permission=SOURCES_WRITE, tag="sources",
           summary="Upload a CA certificate as a trust anchor", request_schema=ANCHOR_REQUEST,
           response_schema=ANCHOR_SCHEMA, status=201, errors={**REFUSED, "409": "Already a trust anchor."})
def anchor_add(verifier_id: str) -> Response:
    body = request_body()

    def work() -> dict[str, Any]:
        file_config(verifier_id)
        return anchor_json(add_anchor(current_admin(), verifier_id, pem=body["pem"], name=body.get("name"),
                                      kind=body["kind"], level=body.get("level"),
                                      revocation=body.get("revocation", "hard"), ocsp=body.get("ocsp", "off")))

    return _answer(work, status=201)


@operation("/sources/<verifier_id>/anchors/<int:anchor_id>", "GET", permission=SOURCES_READ, tag="sources",
           summary="An uploaded trust anchor", response_schema=ANCHOR_SCHEMA,
           errors={"404": "No such source or uploaded anchor."})
def anchor(verifier_id: str, anchor_id: int) -> Response:
    return _answer(lambda: anchor_json(uploaded_view(get_anchor(verifier_id, anchor_id))))


@operation("/sources/<verifier_id>/anchors/<int:anchor_id>", "DELETE", permission=SOURCES_WRITE, tag="sources",
           summary="Remove an uploaded trust anchor", status=204,
           errors={**REFUSED, "404": "No such source or uploaded anchor."})
def anchor_remove(verifier_id: str, anchor_id: int) -> Response:
    return _answer(lambda: remove_anchor(current_admin(), verifier_id, anchor_id))
