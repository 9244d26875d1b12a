"""Build the Authlib authorization server for one application (no module-level server)."""

from __future__ import annotations

from pathlib import Path

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.integrations.flask_oauth2 import ResourceProtector
from flask import Flask

from idp.oidc.discovery import metadata_bytes
from idp.oidc.endpoints import AccessTokenValidator
from idp.oidc.endpoints import EndSession
from idp.oidc.endpoints import Introspection
from idp.oidc.endpoints import Revocation
from idp.oidc.endpoints import UserInfo
from idp.oidc.grants import CodeGrant
from idp.oidc.grants import IdTokenExtension
from idp.oidc.grants import PortalCredentialsGrant
from idp.oidc.grants import PrivateKeyJwtAuth
from idp.oidc.grants import RotatingRefreshGrant
from idp.oidc.grants import S256Only
from idp.oidc.grants import save_token
from idp.oidc.keys import open_keystore
from idp.oidc.runtime import OidcRuntime
from idp.settings import Settings


def query_client(client_id: str):  # noqa: ANN201 - Client | None
    """Authlib's client lookup: only active portals exist for the protocol."""
    client = OidcRuntime.find_client(client_id)
    return client if client is not None and client.is_active else None


def init_oidc(app: Flask, settings: Settings) -> None:
    """Create the server, its grants and endpoints, the key store and the discovery bytes."""
    # A relative key directory sits beside the instance/ folder (like relative SQLite paths),
    # so the CLI and the server find the same keys from any working directory.
    directory = Path(app.instance_path).parent / settings.keys.directory
    keys = open_keystore(str(directory), settings.keys.passphrase, settings.is_production)
    keys.ensure_keys()
    server = AuthorizationServer(app, query_client=query_client, save_token=save_token)
    server.register_client_auth_method(PrivateKeyJwtAuth.CLIENT_AUTH_METHOD, PrivateKeyJwtAuth())
    server.register_grant(CodeGrant, [IdTokenExtension(require_nonce=False), S256Only(required=True)])
    server.register_grant(RotatingRefreshGrant)
    server.register_grant(PortalCredentialsGrant)
    protector = ResourceProtector()
    protector.register_token_validator(AccessTokenValidator())
    server.register_endpoint(UserInfo(server=server, resource_protector=protector))
    for endpoint in (Revocation, Introspection, EndSession):
        server.register_endpoint(endpoint)
    if settings.redis_url:
        import redis

        app.extensions["idp.redis"] = redis.Redis.from_url(settings.redis_url)
    app.extensions["idp.oidc"] = OidcRuntime(server=server, protector=protector, keys=keys)
    app.extensions["idp.discovery"] = metadata_bytes(settings)
