"""Portal registration: validate metadata, create the client, hand out the secret once."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from dataclasses import field
from urllib.parse import urlsplit

from sqlalchemy import select

from idp.audit import record
from idp.auth.assurance import ACR_VALUES
from idp.errors import IdpError
from idp.extensions import db
from idp.oidc.claims import SCOPES
from idp.oidc.client_keys import DocumentError
from idp.oidc.client_keys import check_jwks
from idp.oidc.client_keys import fetch_jwks
from idp.oidc.grants import CLIENT_AUTH_METHODS
from idp.oidc.keys import ALGORITHMS
from idp.oidc.models import Client
from idp.oidc.secrets import hash_client_secret
from idp.oidc.secrets import new_client_secret
from idp.oidc.sector_documents import check_sector_identifier
from idp.oidc.subject import sector_of
from idp.settings import current_settings

DEFAULT_SCOPES = ("openid", "profile", "email", "phone", "address", "offline_access")
# Generated client ids: letters and digits only (143 bits). A base64url id could start with "-" and be
# taken for an option by `idp clients approve <client_id>` and by other command lines.
CLIENT_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
CLIENT_ID_LENGTH = 24


def new_client_id() -> str:
    return "".join(secrets.choice(CLIENT_ID_ALPHABET) for _ in range(CLIENT_ID_LENGTH))
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
# An agency's short code ("bo-tai-chinh", "tp-ha-noi"): the scope of its administrators' role (idp.admin.access).
AGENCY_CODE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


class InvalidClientMetadata(IdpError):
    """RFC 7591 §3.2.2 error: `invalid_redirect_uri` or `invalid_client_metadata`."""


@dataclass
class ClientRegistration:
    name: str
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str] = field(default_factory=list)
    backchannel_logout_uri: str | None = None
    token_endpoint_auth_method: str = "client_secret_basic"
    scopes: list[str] = field(default_factory=lambda: list(DEFAULT_SCOPES))
    trusted: bool = False
    public_subject: bool = False
    agency: str | None = None
    agency_code: str | None = None
    id_token_signed_response_alg: str | None = None
    jwks: dict | None = None
    jwks_uri: str | None = None
    sector_identifier_uri: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    grant_types: list[str] | None = None
    minimum_acr: str | None = None
    default_acr: str | None = None


def check_uri(uri: str, kind: str) -> str:
    """Validate one redirect-like URI: absolute, no fragment, no wildcard, https outside loopback."""
    error = "invalid_redirect_uri" if kind == "redirect_uri" else "invalid_client_metadata"
    parts = urlsplit(uri)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidClientMetadata(error, f"{kind} must be an absolute http(s) URL: {uri}")
    if parts.fragment or "#" in uri:
        raise InvalidClientMetadata(error, f"{kind} must not contain a fragment: {uri}")
    if "*" in uri:
        raise InvalidClientMetadata(error, f"{kind} must not contain wildcards: {uri}")
    loopback = parts.hostname in LOOPBACK_HOSTS
    if parts.scheme == "http" and (current_settings().is_production or not loopback):
        raise InvalidClientMetadata(error, f"{kind} must use https (http only for loopback in development): {uri}")
    return uri


def check_documents(reg: ClientRegistration, redirect_uris: list[str]) -> None:
    """Check the portal's keys (jwks, or jwks_uri fetched) and its sector identifier document (fetched).

    RFC 7591 §2: jwks and jwks_uri are mutually exclusive; OIDC Registration §5: the sector document
    lists every redirect URI. Raise InvalidClientMetadata; a fetched document's problem is its __cause__."""
    if reg.jwks is not None and reg.jwks_uri:
        raise InvalidClientMetadata("invalid_client_metadata",
                                    "jwks and jwks_uri are mutually exclusive (RFC 7591 §2): register one of them.")
    if reg.token_endpoint_auth_method == "private_key_jwt" and not (reg.jwks or reg.jwks_uri):
        raise InvalidClientMetadata("invalid_client_metadata", "token_endpoint_auth_method private_key_jwt needs "
                                                               "jwks or jwks_uri (the portal's public keys).")
    for name in ("jwks_uri", "sector_identifier_uri"):
        if getattr(reg, name):
            check_uri(getattr(reg, name), name)
    try:
        if reg.jwks is not None:
            check_jwks(reg.jwks, "jwks")
        if reg.jwks_uri:
            fetch_jwks(reg.jwks_uri)
        if reg.sector_identifier_uri:
            check_sector_identifier(reg.sector_identifier_uri, redirect_uris)
    except DocumentError as exc:
        raise InvalidClientMetadata("invalid_client_metadata", exc.message) from exc


def check_agency_code(code: object) -> str:
    """Validate an agency code: 1 to 64 lowercase letters, digits, '.', '_' or '-' (a letter or digit first)."""
    if not isinstance(code, str) or not AGENCY_CODE.fullmatch(code):
        raise InvalidClientMetadata("invalid_client_metadata", "agency_code must be 1 to 64 characters: lowercase "
                                                               "letters, digits, '.', '_' or '-'.")
    return code


def register_client(reg: ClientRegistration) -> tuple[Client, str | None]:
    """Create a portal after validating its metadata; return it with its secret (shown once)."""
    if not reg.name.strip():
        raise InvalidClientMetadata("invalid_client_metadata", "client_name is required.")
    if reg.agency_code is not None:
        check_agency_code(reg.agency_code)
    if not reg.redirect_uris:
        raise InvalidClientMetadata("invalid_redirect_uri", "At least one redirect_uri is required.")
    redirect_uris = [check_uri(u, "redirect_uri") for u in reg.redirect_uris]
    post_logout = [check_uri(u, "post_logout_redirect_uri") for u in reg.post_logout_redirect_uris]
    backchannel = reg.backchannel_logout_uri and check_uri(reg.backchannel_logout_uri, "backchannel_logout_uri")
    if reg.token_endpoint_auth_method not in CLIENT_AUTH_METHODS:
        raise InvalidClientMetadata("invalid_client_metadata",
                                    f"token_endpoint_auth_method must be one of {', '.join(CLIENT_AUTH_METHODS)}.")
    unknown = sorted(set(reg.scopes) - set(SCOPES))
    if unknown:
        raise InvalidClientMetadata("invalid_client_metadata", f"Unknown scope: {unknown[0]}.")
    if reg.id_token_signed_response_alg and reg.id_token_signed_response_alg not in ALGORITHMS:
        raise InvalidClientMetadata("invalid_client_metadata",
                                    f"id_token_signed_response_alg must be one of {', '.join(ALGORITHMS)}.")
    for name in ("minimum_acr", "default_acr"):
        value = getattr(reg, name)
        if value is not None and value not in ACR_VALUES:
            raise InvalidClientMetadata("invalid_client_metadata", f"{name} must be one of {', '.join(ACR_VALUES)}.")
    try:
        sector = sector_of(redirect_uris, reg.sector_identifier_uri)
    except ValueError as exc:
        raise InvalidClientMetadata("invalid_client_metadata", str(exc)) from exc
    client_id = reg.client_id or new_client_id()
    if db.session.execute(select(Client.client_id).where(Client.client_id == client_id)).first():
        raise InvalidClientMetadata("invalid_client_metadata", f"client_id {client_id} is taken.")
    check_documents(reg, redirect_uris)  # last: it fetches documents over the network
    public = reg.token_endpoint_auth_method in ("none", "private_key_jwt")
    secret = None if public else (reg.client_secret or new_client_secret())
    grant_types = reg.grant_types or ["authorization_code", "refresh_token"] + (
        [] if reg.token_endpoint_auth_method == "none" else ["client_credentials"])
    client = Client(
        client_id=client_id, client_secret_hash=hash_client_secret(secret) if secret else None, name=reg.name.strip(),
        agency=reg.agency, agency_code=reg.agency_code, redirect_uris=redirect_uris,
        post_logout_redirect_uris=post_logout,
        backchannel_logout_uri=backchannel, token_endpoint_auth_method=reg.token_endpoint_auth_method,
        grant_types=grant_types, scope=" ".join(reg.scopes), trusted=reg.trusted,
        subject_type="public" if reg.public_subject else "pairwise", sector_identifier=sector,
        id_token_signed_response_alg=reg.id_token_signed_response_alg, jwks=reg.jwks, jwks_uri=reg.jwks_uri,
        sector_identifier_uri=reg.sector_identifier_uri,
        minimum_acr=reg.minimum_acr, default_acr=reg.default_acr,
    )
    db.session.add(client)
    db.session.flush()
    record("client.registered", client_id=client_id, trusted=reg.trusted, subject_type=client.subject_type)
    return client, secret
