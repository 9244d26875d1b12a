"""The per-application OIDC runtime: server, resource protector and key store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import current_app

from idp.extensions import db

if TYPE_CHECKING:
    from authlib.integrations.flask_oauth2 import AuthorizationServer
    from authlib.integrations.flask_oauth2 import ResourceProtector

    from idp.oidc.keys import KeyStore
    from idp.oidc.models import Client


@dataclass
class OidcRuntime:
    server: AuthorizationServer
    protector: ResourceProtector
    keys: KeyStore

    @staticmethod
    def find_client(client_id: object) -> Client | None:
        """Return the registered portal with this id (suspended ones too), or None."""
        from idp.oidc.models import Client

        if not isinstance(client_id, str) or not client_id or len(client_id) > 64:
            return None
        return db.session.get(Client, client_id)


def runtime() -> OidcRuntime:
    """Return the OIDC runtime of the current application."""
    return current_app.extensions["idp.oidc"]
