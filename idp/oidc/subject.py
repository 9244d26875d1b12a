"""Subject identifiers: pairwise per sector by default, public only where an admin allows.

OIDC Core §8.1: pairwise `sub` = keyed hash of (sector identifier, local account id), so two
portals of different sectors cannot correlate a citizen. The key is `subject_secret`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import urlsplit

from idp.settings import DEV_SECRET
from idp.settings import current_settings


def _key() -> bytes:
    return (current_settings().subject_secret or DEV_SECRET).encode("utf-8")


def keyed_digest(label: str) -> str:
    """Return an unguessable, stable identifier for `label` (HMAC with `subject_secret`)."""
    mac = hmac.new(_key(), label.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def subject_for(account_id: int, client) -> str:  # noqa: ANN001 - Client model, avoids import cycle
    """Return the `sub` this portal sees for the account."""
    if client.subject_type == "public":
        return keyed_digest(f"public|{account_id}")
    return keyed_digest(f"pairwise|{client.sector_identifier}|{account_id}")


def sector_of(redirect_uris: list[str], sector_identifier_uri: str | None = None) -> str:
    """OIDC Core §8.1: the sector is the host of sector_identifier_uri, else of the redirect URIs."""
    if sector_identifier_uri:
        return urlsplit(sector_identifier_uri).hostname or ""
    hosts = {urlsplit(uri).hostname or "" for uri in redirect_uris}
    if len(hosts) != 1:
        raise ValueError("redirect URIs on several hosts need a sector_identifier_uri")
    return hosts.pop()
