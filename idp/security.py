"""Request guards and response headers applied to every request.

Oversized or repeated protocol parameters are refused before any view runs (RFC 6749 §3.1:
request parameters MUST NOT be included more than once).
"""

from __future__ import annotations

import logging
import uuid

from flask import Flask
from flask import Response
from flask import g
from flask import request
from werkzeug.exceptions import BadRequest
from werkzeug.middleware.proxy_fix import ProxyFix

from idp.settings import Settings

log = logging.getLogger(__name__)

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self' {form_action}; {frame_src}"
    "frame-ancestors 'none'; base-uri 'none'"
)


def _pending_form_action() -> str:
    from idp.oidc.pending import pending_form_action

    return pending_form_action() or ""


class ParameterError(BadRequest):
    """A malformed request parameter: answered as 400 invalid_request."""

    def __init__(self, description: str) -> None:
        super().__init__(description)


def init_security(app: Flask, settings: Settings) -> None:
    """Install the parameter guard and the security headers."""
    limit = settings.max_parameter_length
    if settings.proxy_hops:
        # Behind N trusted reverse proxies: client address, scheme and host come from X-Forwarded-*.
        hops = settings.proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)
    if settings.env != "production" and settings.features.sandbox:
        log.warning("SANDBOX FEATURES ARE ON (env=%s): never run this configuration in production", settings.env)

    @app.before_request
    def assign_request_id() -> None:
        g.request_id = request.headers.get("X-Request-Id", "")[:64] or uuid.uuid4().hex

    @app.before_request
    def guard_parameters() -> None:
        sources = [request.args]
        if request.mimetype == "application/x-www-form-urlencoded":
            sources.append(request.form)
        for source in sources:
            for name, values in source.lists():
                if len(name) > 128 or any(len(v) > limit for v in values):
                    raise ParameterError(f"Parameter '{name[:64]}' is too long.")
                if len(values) > 1:
                    raise ParameterError(f"Parameter '{name[:64]}' is repeated.")

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        # same-origin: our own forms carry a Referer (Flask-WTF checks it over https); portals get none.
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if response.mimetype == "text/html":
            # form_post responses submit to the portal's redirect URI.
            action = response.headers.pop("X-Form-Action", "") or _pending_form_action()
            # Front-Channel Logout 1.0 §3: the logged-out page frames exactly the portals' origins.
            frames = response.headers.pop("X-Frame-Src", "")
            frame_src = f"frame-src {frames}; " if frames else ""
            response.headers["Content-Security-Policy"] = CSP.format(
                form_action=action, frame_src=frame_src).replace("  ", " ")
            response.headers.setdefault("X-Frame-Options", "DENY")
            response.headers.setdefault("Cache-Control", "no-store")
        return response
