"""The admin JSON API's one source of truth: each operation is declared once with `operation(...)`,
which registers the route behind `admin_api`, validates the JSON body against its JSON Schema and
records the operation for the OpenAPI 3.1 document served at /admin/api/openapi.json."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from functools import wraps
from typing import Any

from flask import Blueprint
from flask import g
from flask import jsonify
from flask import request
from jsonschema import Draft202012Validator
from werkzeug.wrappers import Response

from idp.admin.access import ADMIN_SCOPES
from idp.admin.access import admin_api
from idp.admin.access import api_error
from idp.admin.access import scopes_granting
from idp.settings import current_settings

api = Blueprint("admin_api", __name__, url_prefix="/admin/api")
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}},
}
STANDARD_ERRORS = {
    "400": "The request is malformed (error: invalid_request).",
    "401": "No valid bearer token (error: invalid_token).",
    "403": "The token's admin scopes do not allow this (error: insufficient_scope).",
}
_RULE_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")


@dataclass(frozen=True, slots=True)
class Operation:
    rule: str
    method: str
    endpoint: str
    permission: str | None
    summary: str
    tag: str
    request_schema: dict | None
    response_schema: dict | None
    parameters: tuple[dict, ...]
    status: int
    errors: dict[str, str] = field(default_factory=dict)


OPERATIONS: list[Operation] = []


def request_body() -> Any:
    """The validated JSON body of the current admin API request."""
    return g.admin_api_body


def _validated(schema: dict) -> Any:
    if not request.is_json:
        return api_error(400, "invalid_request", "The body must be JSON (Content-Type: application/json).")
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # nested deeper than the parser goes
        body = None
    if body is None:
        return api_error(400, "invalid_request", "The body is not valid JSON.")
    error = next(iter(sorted(Draft202012Validator(schema).iter_errors(body), key=lambda e: list(e.path))), None)
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "body"
        return api_error(400, "invalid_request", f"{where}: {error.message}"[:300])
    g.admin_api_body = body
    return None


def operation(rule: str, method: str, *, permission: str | None, summary: str, tag: str,
              request_schema: dict | None = None, response_schema: dict | None = None,
              parameters: tuple[dict, ...] = (), status: int = 200,
              errors: dict[str, str] | None = None) -> Callable:
    """Declare an admin API operation (route + authorization + body validation + OpenAPI entry)."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def with_body(*args: Any, **kwargs: Any) -> Any:
            if request_schema is not None:
                refused = _validated(request_schema)
                if refused is not None:
                    return refused
            return view(*args, **kwargs)

        endpoint = f"{view.__module__.rsplit('.', 1)[-1]}_{view.__name__}"
        api.add_url_rule(rule, endpoint=endpoint, view_func=admin_api(permission)(with_body), methods=[method])
        OPERATIONS.append(Operation(rule, method.lower(), endpoint, permission, summary, tag, request_schema,
                                    response_schema, parameters, status, dict(errors or {})))
        return view

    return decorate


def _path_parameters(rule: str) -> list[dict]:
    return [{"name": name, "in": "path", "required": True,
             "schema": {"type": "integer"} if converter == "int" else {"type": "string"}}
            for converter, name in _RULE_PARAM.findall(rule)]


def _operation_object(op: Operation) -> dict:
    responses: dict[str, Any] = {str(op.status): {"description": "Success."}}
    if op.response_schema is not None:
        responses[str(op.status)]["content"] = {"application/json": {"schema": op.response_schema}}
    for status, description in {**STANDARD_ERRORS, **op.errors}.items():
        responses[status] = {"description": description,
                             "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    body: dict[str, Any] = {
        "operationId": op.endpoint,
        "summary": op.summary,
        "tags": [op.tag],
        "security": [{"adminToken": scopes_granting(op.permission)}],
        "x-permission": op.permission or "any admin scope",
        "parameters": _path_parameters(op.rule) + list(op.parameters),
        "responses": responses,
    }
    if op.request_schema is not None:
        body["requestBody"] = {"required": True, "content": {"application/json": {"schema": op.request_schema}}}
    return body


def openapi_document() -> dict:
    issuer = current_settings().issuer
    paths: dict[str, dict] = {}
    for op in sorted(OPERATIONS, key=lambda o: (o.rule, o.method)):
        paths.setdefault(_RULE_PARAM.sub(r"{\2}", op.rule), {})[op.method] = _operation_object(op)
    return {
        "openapi": "3.1.0",
        "info": {"title": "National sign-on admin API", "version": "1",
                 "description": "Administration of portals, identity sources, accounts, the audit trail and "
                                "statistics. Authorize with an access token from the client_credentials grant "
                                "whose scopes name admin roles; the same permissions apply as in the admin pages."},
        "servers": [{"url": f"{issuer}/admin/api"}],
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR_SCHEMA},
            "securitySchemes": {"adminToken": {
                "type": "oauth2",
                "flows": {"clientCredentials": {
                    "tokenUrl": f"{issuer}/oauth2/token",
                    "scopes": {scope: f"act with the {role} role" for scope, role in ADMIN_SCOPES.items()},
                }},
            }},
        },
    }


@api.get("/openapi.json")
def openapi_json() -> Response:
    response = jsonify(openapi_document())
    response.headers["Cache-Control"] = "no-cache"
    return response
