"""Request guards and response headers applied to every request.

Oversized or repeated protocol parameters are refused before any view runs (RFC 6749 §3.1:
request parameters MUST NOT be included more than once), and so are the OAuth parameters that are
ASCII by their grammar (RFC 6749 Appendix A) but hold other characters: Authlib quotes some of them
in `error_description`, which may hold only %x20-21 / %x23-5B / %x5D-7E (§5.2). A number in a URL
path beyond what an id column holds is a 404, not a database overflow.
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
from werkzeug.routing import IntegerConverter

from idp.settings import Settings

log = logging.getLogger(__name__)

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self' {form_action}; {frame_src}"
    "frame-ancestors 'none'; base-uri 'none'"
)
# RFC 6749 Appendix A: response_type, grant_type, redirect URIs, client_id and the like are ASCII;
# the set below is also what §5.2 allows in error_description (no '"', no '\\', no control character).
ASCII_PARAMETERS = frozenset({"response_type", "response_mode", "grant_type", "redirect_uri", "client_id",
                              "code_challenge_method", "token_type_hint", "post_logout_redirect_uri"})
DESCRIPTION_SAFE = frozenset(chr(c) for c in range(0x20, 0x7F)) - {'"', "\\"}
# The largest id an INTEGER column holds (PostgreSQL's is 32 bits).
MAX_PATH_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """`<int:...>` in every route: an id that no row can have never reaches the database."""

    def __init__(self, map, *args, **kwargs) -> None:  # noqa: A002, ANN001, ANN002, ANN003 - werkzeug's signature
        kwargs.setdefault("max", MAX_PATH_ID)
        super().__init__(map, *args, **kwargs)


def _pending_form_action() -> str:
    """Where this page's forms may lead besides our own pages: the pending portal, and the identity
    sources whose buttons redirect to another site (both reached through redirects after a POST)."""
    from idp.oidc.pending import pending_form_action
    from idp.verifiers.registry import browser_origins

    try:
        sources = browser_origins()
    except Exception:  # noqa: BLE001 - the header must never turn a page (an error page too) into a 500
        log.warning("identity source origins unavailable for form-action", exc_info=True)
        sources = []
    return " ".join(filter(None, [pending_form_action(), *sources]))


class ParameterError(BadRequest):
    """A malformed request parameter: answered as 400 invalid_request, with this description in JSON."""

    public_description = True

    def __init__(self, description: str) -> None:
        super().__init__(description)


def init_security(app: Flask, settings: Settings) -> None:
    """Install the parameter guard, the bounded `int` URL converter and the security headers."""
    limit = settings.max_parameter_length
    app.url_map.converters["int"] = IdConverter
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
                if name in ASCII_PARAMETERS and not DESCRIPTION_SAFE.issuperset(values[0]):
                    raise ParameterError(f"Parameter '{name}' may hold only printable ASCII characters, "
                                         "without quotes or backslashes (RFC 6749 Appendix A).")

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
