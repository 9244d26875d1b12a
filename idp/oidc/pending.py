"""The portal a browser is on its way back to, for pages whose form ends in a redirect to it.

Chromium applies CSP `form-action` to every redirect that follows a form submission, so a login
form whose success leads (through /oauth2/authorize) to the portal's redirect URI must allow that
portal's origin — and only that one: the origin comes from an authorization request whose client
is registered and whose redirect_uri is registered for it (exact match, RFC 9700 §2.1).
"""

from __future__ import annotations

from urllib.parse import parse_qs
from urllib.parse import urlsplit

from flask import g
from flask import request
from flask import url_for

from idp.oidc.runtime import OidcRuntime


def portal_origin(next_url: str | None) -> str | None:
    """The origin of the redirect URI of the authorization request `next_url`, if it is registered."""
    if not next_url or len(next_url) > 4096 or not next_url.startswith("/"):
        return None
    parts = urlsplit(next_url)
    if parts.path != url_for("oidc.authorize_endpoint") or parts.netloc:
        return None
    query = parse_qs(parts.query)
    client = OidcRuntime.find_client((query.get("client_id") or [None])[0])
    redirect_uri = (query.get("redirect_uri") or [None])[0]
    if client is None or not client.is_active:
        return None
    if redirect_uri is None:
        redirect_uri = client.get_default_redirect_uri()
    if redirect_uri is None or not client.check_redirect_uri(redirect_uri):
        return None
    target = urlsplit(redirect_uri)
    return f"{target.scheme}://{target.netloc}"


def remember_pending(next_url: str | None) -> None:
    """A view that knows where its form leads (a stored `next`) says so for the security headers."""
    g.pending_next = next_url


def pending_form_action() -> str | None:
    """The portal origin this page's forms may end at: from the view, else the page's `next` parameter."""
    try:
        next_url = g.get("pending_next")
        if next_url is None:
            next_url = request.args.get("next")
        if next_url is None and request.method == "POST" and request.mimetype == "application/x-www-form-urlencoded":
            next_url = request.form.get("next")
        return portal_origin(next_url)
    except Exception:  # noqa: BLE001 - e.g. a body over the size limit: the header must never turn a page into a 500
        return None
