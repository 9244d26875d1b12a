"""Expected failures (IdpError hierarchy) and the app-level error handlers.

Protocol endpoints answer RFC error JSON; pages show a translated message. Unexpected
exceptions are logged once with the request id and answered generically.
"""

from __future__ import annotations

import logging

from flask import Flask
from flask import Response
from flask import g
from flask import jsonify
from flask import render_template
from flask import request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

# Paths that speak JSON (RFC error objects) rather than HTML; the browser-facing protocol
# endpoints (authorize, logout) answer people with pages.
JSON_PREFIXES = ("/oauth2/", "/.well-known/", "/jwks", "/admin/api/")
BROWSER_ENDPOINTS = ("/oauth2/authorize", "/oauth2/logout")


class IdpError(Exception):
    """Base for expected failures; `code` is stable, `message` is shown to people."""

    status = 400

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code)
        self.code, self.message = code, message


class ConfigError(IdpError):
    """Start-up only; `code` names the offending settings key."""


class NotFound(IdpError):
    status = 404


class VerificationFailed(IdpError):
    """A person's failure at an identity source: wrong code, revoked certificate, ..."""


class SourceUnavailable(IdpError):
    status = 503


def wants_json() -> bool:
    """Tell whether the current request is an API request."""
    return request.path.startswith(JSON_PREFIXES) and request.path not in BROWSER_ENDPOINTS


def error_page(status: int, title: str, message: str) -> tuple[str, int]:
    """Render the generic HTML error page with a translated title and message."""
    return render_template("errors/error.html", title=title, message=message, status=status), status


def register_error_handlers(app: Flask) -> None:
    """Attach the HTML/JSON error handlers and the request id."""
    from flask_babel import gettext as _

    @app.errorhandler(IdpError)
    def handle_idp_error(error: IdpError) -> Response | tuple[str, int]:
        if wants_json():
            response = jsonify(error=error.code, error_description=error.message)
            response.status_code = error.status
            return response
        return error_page(error.status, _("Something is not right"), _(error.message))

    @app.errorhandler(CSRFError)
    def handle_csrf_error(error: CSRFError) -> tuple[str, int]:
        return error_page(400, _("This form has expired"),
                          _("For your safety, forms expire. Go back, reload the page and try again."))

    @app.errorhandler(HTTPException)
    def handle_http_error(error: HTTPException) -> Response | tuple[str, int]:
        status = error.code or 500
        code = {400: "invalid_request", 404: "not_found", 405: "invalid_request", 413: "invalid_request",
                429: "slow_down"}.get(status, "invalid_request")
        if wants_json():
            # Our own guards' descriptions say what is wrong with which parameter; others get a fixed text.
            described = getattr(error, "public_description", False)
            response = jsonify(error=code, error_description=error.description if described
                               else _http_description(status))
            response.status_code = status
            # RFC 6585 §4: a 429 raised as TooManyRequests(retry_after=...) says when to try again.
            response.headers.extend((k, v) for k, v in error.get_headers() if k == "Retry-After")
            return response
        messages = {
            400: _("The request could not be understood. Please go back and try again."),
            404: _("This page does not exist."),
            405: _("This address does not accept that kind of request."),
            413: _("The request is too large."),
            429: _("Too many attempts. Please wait a few minutes and try again."),
        }
        return error_page(status, _("Something is not right"), messages.get(status, _("The request failed.")))

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception) -> Response | tuple[str, int]:
        log.exception("unexpected error request_id=%s path=%s", g.get("request_id"), request.path)
        if wants_json():
            response = jsonify(error="server_error", error_description="An unexpected error occurred.")
            response.status_code = 500
            return response
        return error_page(500, _("Something went wrong"), _("Please try again later."))


def _http_description(status: int) -> str:
    return {
        400: "The request is malformed.",
        404: "No such endpoint.",
        405: "Method not allowed at this endpoint.",
        413: "The request body is too large.",
        429: "Too many requests; slow down.",
    }.get(status, "The request failed.")
