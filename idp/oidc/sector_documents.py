"""The sector identifier document a portal names with `sector_identifier_uri`.

OpenID Connect Core §8.1: the pairwise `sub` is computed for the host of sector_identifier_uri (see
idp.oidc.subject.sector_of), so several portals of one agency that publish one document on one host
see the same `sub` for a person. OpenID Connect Registration §2 / §5: the URL uses https and names a
JSON array of redirect URIs that must contain every redirect URI the portal registers; the provider
checks that at registration and again at every update (idp.oidc.clients, idp.oidc.client_updates).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from idp.i18n import N_
from idp.oidc.client_keys import DocumentError
from idp.oidc.client_keys import current_policy
from idp.outbound import FetchError
from idp.outbound import FetchPolicy
from idp.outbound import fetch_json

FIELD = "sector_identifier_uri"


def check_sector_identifier(uri: str, redirect_uris: Iterable[str], policy: FetchPolicy | None = None) -> None:
    """Fetch the document (https only, whatever the environment) and check it lists every redirect URI.

    Raise DocumentError naming what is wrong."""
    if urlsplit(uri).scheme != "https":
        raise DocumentError(FIELD, N_("must use https (OpenID Connect Registration §2)."))
    try:
        document: Any = fetch_json(uri, (policy or current_policy()).requiring_https())
    except FetchError as exc:
        raise DocumentError.from_fetch(FIELD, exc) from exc
    if not isinstance(document, list) or not all(isinstance(item, str) for item in document):
        raise DocumentError(FIELD, N_("the document must be a JSON array of redirect URIs."))
    listed = set(document)
    for redirect_uri in redirect_uris:
        if redirect_uri not in listed:
            raise DocumentError(FIELD, N_("the document does not list the redirect URI %(uri)s; it must list every "
                                          "redirect URI the portal registers."), uri=redirect_uri)
