"""Dynamic client registration (RFC 7591) and management (RFC 7592) on the `oidc` blueprint.

POST /oauth2/register needs an initial access token (`idp clients initial-access-token`); the portal
it creates is `pending` (it cannot authorize or get tokens) until `idp clients approve`. The 201
response shows the client secret and the registration access token once; both are stored hashed.
GET/PUT/DELETE /oauth2/register/<client_id> need that registration access token.

Every request to these endpoints counts against `registration.per_ip`; one with a wrong or expired token
also against the stricter `registration.bad_token_per_ip` (a brute-force guard). Over either budget the
answer is 429 `slow_down` with Retry-After, before anything is read or stored.
"""

from __future__ import annotations

import dataclasses
import hmac
import math
import re
import time
from datetime import timedelta
from typing import Any

from flask import Response
from flask import jsonify
from flask import request
from flask_limiter.util import get_remote_address
from limits import parse
from sqlalchemy import select
from werkzeug.exceptions import TooManyRequests

from idp.audit import record
from idp.auth.assurance import ACR_VALUES
from idp.dbtypes import utcnow
from idp.extensions import csrf
from idp.extensions import db
from idp.extensions import limiter
from idp.oidc.claims import SCOPES
from idp.oidc.client_updates import keep_approved_decisions
from idp.oidc.client_updates import update_client
from idp.oidc.clients import ClientRegistration
from idp.oidc.clients import InvalidClientMetadata
from idp.oidc.clients import check_uri
from idp.oidc.clients import register_client
from idp.oidc.keys import ALGORITHMS
from idp.oidc.models import Client
from idp.oidc.models import ClientStatus
from idp.oidc.registration_models import InitialAccessToken
from idp.oidc.registration_models import RegistrationRequest
from idp.oidc.registration_models import RegistrationStatus
from idp.oidc.registration_models import new_token
from idp.oidc.registration_models import token_digest
from idp.oidc.views import bp
from idp.settings import current_settings

AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt")
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
MAX_BODY = 64 * 1024
MAX_URIS = 20
MAX_URI_LENGTH = 500
DEFAULT_TOKEN_LIFETIME = timedelta(days=1)
# RFC 7591 §2 contacts; also the web form's contact e-mail (idp.oidc.registration_form).
EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
MAX_CONTACTS = 5
MAX_EMAIL_LENGTH = 254  # RFC 5321 §4.5.3.1.3: the longest usable forward path
REQUESTS_NAMESPACE = "registration-api"
BAD_TOKENS_NAMESPACE = "registration-bad-token"


class RegistrationError(Exception):
    """An admin action that cannot proceed (unknown client, wrong state)."""


# --- metadata ------------------------------------------------------------------------------------
def _bad(message: str, error: str = "invalid_client_metadata") -> InvalidClientMetadata:
    return InvalidClientMetadata(error, message)


def _string(meta: dict, name: str, max_length: int = MAX_URI_LENGTH) -> str | None:
    value = meta.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _bad(f"{name} must be a non-empty string.")
    if len(value) > max_length:
        raise _bad(f"{name} must be at most {max_length} characters.")
    return value


def _uris(meta: dict, name: str, kind: str) -> list[str]:
    error = "invalid_redirect_uri" if name == "redirect_uris" else "invalid_client_metadata"
    value = meta.get(name, [])
    if not isinstance(value, list) or not all(isinstance(u, str) for u in value):
        raise _bad(f"{name} must be an array of strings.", error)
    if len(value) > MAX_URIS or any(len(u) > MAX_URI_LENGTH for u in value):
        raise _bad(f"{name}: at most {MAX_URIS} URIs of at most {MAX_URI_LENGTH} characters.", error)
    return [check_uri(u, kind) for u in value]


def parse_metadata(meta: Any, auth_methods: tuple[str, ...] = AUTH_METHODS) -> tuple[ClientRegistration, str | None]:
    """Validate RFC 7591 §2 / OIDC Registration metadata; return the registration and frontchannel_logout_uri.

    Unknown fields are ignored (RFC 7591 §2) and never echoed back."""
    if not isinstance(meta, dict):
        raise _bad("The request body must be a JSON object.")
    name = _string(meta, "client_name", 200)
    if name is None:
        raise _bad("client_name is required.")
    redirect_uris = _uris(meta, "redirect_uris", "redirect_uri")
    if not redirect_uris:
        raise _bad("redirect_uris: at least one redirect URI is required.", "invalid_redirect_uri")
    post_logout = _uris(meta, "post_logout_redirect_uris", "post_logout_redirect_uri")
    backchannel = _string(meta, "backchannel_logout_uri")
    if backchannel:
        check_uri(backchannel, "backchannel_logout_uri")
    frontchannel = _string(meta, "frontchannel_logout_uri")
    if frontchannel:
        check_uri(frontchannel, "frontchannel_logout_uri")
    method = meta.get("token_endpoint_auth_method", "client_secret_basic")
    if method not in auth_methods:
        raise _bad(f"token_endpoint_auth_method must be one of {', '.join(auth_methods)}.")
    # Checked (and jwks_uri, sector_identifier_uri fetched) by idp.oidc.clients.check_documents.
    jwks = meta.get("jwks")
    jwks_uri = _string(meta, "jwks_uri")
    sector_identifier_uri = _string(meta, "sector_identifier_uri")
    scope = meta.get("scope", "openid")
    if not isinstance(scope, str) or len(scope) > 1000:
        raise _bad("scope must be a space-separated string.")
    scopes = scope.split() or ["openid"]
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise _bad(f"scope {unknown[0]} is not allowed; allowed: {', '.join(SCOPES)}.")
    grant_types = meta.get("grant_types")
    if grant_types is not None and (not isinstance(grant_types, list) or not grant_types
                                    or any(g not in GRANT_TYPES for g in grant_types)):
        raise _bad(f"grant_types must be a non-empty subset of {', '.join(GRANT_TYPES)}.")
    response_types = meta.get("response_types", ["code"])
    if response_types != ["code"]:
        raise _bad('response_types must be ["code"].')
    subject_type = meta.get("subject_type", "pairwise")
    if subject_type not in ("pairwise", "public"):
        raise _bad("subject_type must be pairwise or public.")
    alg = meta.get("id_token_signed_response_alg")
    if alg is not None and alg not in ALGORITHMS:
        raise _bad(f"id_token_signed_response_alg must be one of {', '.join(ALGORITHMS)}.")
    acr_values = meta.get("default_acr_values")
    if acr_values is not None and (not isinstance(acr_values, list) or len(acr_values) != 1
                                   or acr_values[0] not in ACR_VALUES):
        raise _bad(f"default_acr_values must be one value of {', '.join(ACR_VALUES)}.")
    minimum = meta.get("minimum_acr")
    if minimum is not None and minimum not in ACR_VALUES:
        raise _bad(f"minimum_acr must be one of {', '.join(ACR_VALUES)}.")
    reg = ClientRegistration(
        name=name, redirect_uris=redirect_uris, post_logout_redirect_uris=post_logout,
        backchannel_logout_uri=backchannel, token_endpoint_auth_method=method, scopes=scopes,
        public_subject=subject_type == "public", jwks=jwks, jwks_uri=jwks_uri,
        sector_identifier_uri=sector_identifier_uri, grant_types=grant_types,
        id_token_signed_response_alg=alg, minimum_acr=minimum,
        default_acr=acr_values[0] if acr_values else None)
    return reg, frontchannel


def check_contacts(meta: dict) -> list[str]:
    """RFC 7591 §2 `contacts`: an array of at most MAX_CONTACTS e-mail addresses (duplicates dropped)."""
    value = meta.get("contacts", [])
    if not isinstance(value, list):
        raise _bad("contacts must be an array of e-mail addresses.")
    if len(value) > MAX_CONTACTS:
        raise _bad(f"contacts: at most {MAX_CONTACTS} e-mail addresses.")
    contacts: list[str] = []
    for index, address in enumerate(value):
        if not isinstance(address, str) or len(address) > MAX_EMAIL_LENGTH or not address.isprintable() \
                or not re.fullmatch(EMAIL, address):
            raise _bad(f"contacts[{index}] must be an e-mail address of at most {MAX_EMAIL_LENGTH} characters.")
        if address not in contacts:
            contacts.append(address)
    return contacts


def client_information(client: Client, registration_token: str | None, secret: str | None = None,
                       contacts: list[str] | None = None) -> dict:
    """RFC 7591 §3.2.1 / RFC 7592 §3: the stored metadata, never anything the request made up."""
    body = {key: value for key, value in client.client_metadata.items() if value is not None}
    if contacts:
        body["contacts"] = list(contacts)
    body.update(client_id=client.client_id, client_id_issued_at=int(client.created_at.timestamp()),
                registration_client_uri=f"{current_settings().issuer}/oauth2/register/{client.client_id}")
    if client.frontchannel_logout_uri:
        body["frontchannel_logout_uri"] = client.frontchannel_logout_uri
    if client.jwks:
        body["jwks"] = client.jwks
    if client.default_acr:
        body["default_acr_values"] = [client.default_acr]
    if client.minimum_acr:
        body["minimum_acr"] = client.minimum_acr
    if client.client_secret_hash is not None:
        body["client_secret_expires_at"] = 0
    if secret is not None:
        body["client_secret"] = secret
    if registration_token is not None:
        body["registration_access_token"] = registration_token
    return body


# --- HTTP ----------------------------------------------------------------------------------------
def _json(body: dict, status: int, headers: dict | None = None) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _too_many(item: Any, namespace: str, key: str) -> TooManyRequests:
    """429 through the app's JSON error handler (`slow_down`), with Retry-After from the budget's window."""
    reset_at, _remaining = limiter.limiter.get_window_stats(item, namespace, key)
    return TooManyRequests(retry_after=max(1, math.ceil(reset_at - time.time())))


def _check_budgets() -> None:
    """Count this request against the client address's budgets; raise TooManyRequests when one is spent.

    Called first in every registration endpoint, so a refused request reads and stores nothing."""
    settings, key = current_settings().registration, get_remote_address()
    bad_tokens = parse(settings.bad_token_per_ip)
    if not limiter.limiter.test(bad_tokens, BAD_TOKENS_NAMESPACE, key):
        raise _too_many(bad_tokens, BAD_TOKENS_NAMESPACE, key)
    requests = parse(settings.per_ip)
    if not limiter.limiter.hit(requests, REQUESTS_NAMESPACE, key):
        raise _too_many(requests, REQUESTS_NAMESPACE, key)


def _invalid_token(description: str, presented: bool = True) -> Response:
    """RFC 6750 §3.1: 401 with a Bearer challenge; a presented but wrong token spends the bad-token budget."""
    db.session.rollback()
    if presented:
        limiter.limiter.hit(parse(current_settings().registration.bad_token_per_ip), BAD_TOKENS_NAMESPACE,
                            get_remote_address())
    return _json({"error": "invalid_token", "error_description": description}, 401,
                 {"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{description}"'})


def _metadata_error(exc: InvalidClientMetadata) -> Response:
    db.session.rollback()
    return _json({"error": exc.code, "error_description": exc.message}, 400)


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 512:
        return None
    return token


def _body() -> Any:
    if (request.content_length or 0) > MAX_BODY:
        raise _bad(f"The request body must be at most {MAX_BODY} bytes.")
    return request.get_json(silent=True)


@bp.post("/oauth2/register")
@csrf.exempt  # a bearer-token JSON API: no cookies are involved
def register_endpoint() -> Response:
    _check_budgets()
    token = _bearer()
    if token is None:
        return _invalid_token("An initial access token is required.", presented=False)
    now = utcnow()
    initial = db.session.execute(select(InitialAccessToken).where(
        InitialAccessToken.token_hash == token_digest(token))).scalar_one_or_none()
    if initial is None or not initial.is_usable(now):
        if initial is not None:
            record("client.initial_access_token_refused", token_id=initial.id)
            db.session.commit()
        return _invalid_token("The initial access token is unknown, expired or already used.")
    try:
        meta = _body()
        reg, frontchannel = parse_metadata(meta)
        contacts = check_contacts(meta)
        client, secret = register_client(reg)
    except InvalidClientMetadata as exc:
        return _metadata_error(exc)
    client.status = ClientStatus.PENDING
    client.frontchannel_logout_uri = frontchannel
    registration_token = new_token()
    initial.used_at, initial.used_for_client_id = now, client.client_id
    db.session.add(RegistrationRequest(client_id=client.client_id, registration_token_hash=token_digest(
        registration_token), initial_token_id=initial.id, status=RegistrationStatus.PENDING,
        contacts=contacts))
    record("client.registration_requested", client_id=client.client_id, token_id=initial.id)
    db.session.commit()
    return _json(client_information(client, registration_token, secret, contacts), 201)


def _managed(client_id: str) -> tuple[Client, RegistrationRequest, str] | Response:
    """RFC 7592 §2: the client and its request, if the bearer token is its registration access token."""
    _check_budgets()
    token = _bearer()
    if token is None:
        return _invalid_token("The registration access token is required.", presented=False)
    row = db.session.get(RegistrationRequest, client_id) if len(client_id) <= 64 else None
    if row is None or row.registration_token_hash is None or not hmac.compare_digest(
            row.registration_token_hash, token_digest(token)):
        # RFC 7592 §2.1: the same answer for an unknown client and a wrong token.
        return _invalid_token("The registration access token is not valid for this client.")
    return db.session.get(Client, client_id), row, token


@bp.get("/oauth2/register/<client_id>")
def registration_read(client_id: str) -> Response:
    found = _managed(client_id)
    if isinstance(found, Response):
        return found
    client, row, token = found
    return _json(client_information(client, token, contacts=row.contacts), 200)


@bp.put("/oauth2/register/<client_id>")
@csrf.exempt
def registration_update(client_id: str) -> Response:
    found = _managed(client_id)
    if isinstance(found, Response):
        return found
    client, row, token = found
    try:
        meta = _body()
        if not isinstance(meta, dict) or meta.get("client_id") != client_id:
            raise _bad("client_id in the body must equal the client being updated (RFC 7592 §2.2).")
        secret = meta.get("client_secret")
        if secret is not None and (not isinstance(secret, str) or not client.check_client_secret(secret)):
            raise _bad("client_secret must be left out or equal the current secret (RFC 7592 §2.2).")
        reg, frontchannel = parse_metadata(meta)
        contacts = check_contacts(meta)  # RFC 7592 §2.2: an omitted field is removed
        if row.status == RegistrationStatus.APPROVED:
            reg = keep_approved_decisions(client, reg)
        else:  # still pending: the administrators review the latest metadata; trust is theirs alone
            reg = dataclasses.replace(reg, trusted=client.trusted)
        _changed, shown = update_client(client, reg, frontchannel)
    except InvalidClientMetadata as exc:
        return _metadata_error(exc)
    client.subject_type = "public" if reg.public_subject else "pairwise"
    if reg.grant_types:
        client.grant_types = reg.grant_types
    row.contacts = contacts
    db.session.commit()
    return _json(client_information(client, token, shown, contacts), 200)


@bp.delete("/oauth2/register/<client_id>")
@csrf.exempt
def registration_delete(client_id: str) -> Response:
    """RFC 7592 §2.3: the client is suspended at once and its registration access token stops working."""
    found = _managed(client_id)
    if isinstance(found, Response):
        return found
    client, row, _token = found
    client.status = ClientStatus.SUSPENDED
    row.status, row.registration_token_hash, row.decided_at = RegistrationStatus.DELETED, None, utcnow()
    record("client.deleted", client_id=client_id, via="rfc7592")
    db.session.commit()
    response = Response(status=204)
    response.headers["Cache-Control"] = "no-store"
    return response


# --- admin actions (idp clients ...) --------------------------------------------------------------
def create_initial_access_token(created_by: str, lifetime: timedelta = DEFAULT_TOKEN_LIFETIME,
                                ) -> tuple[str, InitialAccessToken]:
    """A single-use initial access token; the caller shows the plaintext once and commits."""
    token = new_token()
    row = InitialAccessToken(token_hash=token_digest(token), created_by=created_by[:100],
                             expires_at=utcnow() + lifetime)
    db.session.add(row)
    db.session.flush()
    record("client.initial_access_token_created", token_id=row.id, expires_at=row.expires_at.isoformat())
    return token, row


def _client(client_id: str) -> Client:
    client = db.session.get(Client, client_id)
    if client is None:
        raise RegistrationError(f"no portal has client_id {client_id}")
    return client


def decide(client_id: str, approve: bool, reason: str | None = None) -> Client:
    """Approve (the portal becomes active) or reject (it stays unusable) a pending registration."""
    client = _client(client_id)
    row = db.session.get(RegistrationRequest, client_id)
    if row is None or row.status != RegistrationStatus.PENDING:
        raise RegistrationError(f"{client_id} has no pending registration")
    row.status = RegistrationStatus.APPROVED if approve else RegistrationStatus.REJECTED
    row.reason, row.decided_at = reason, utcnow()
    client.status = ClientStatus.ACTIVE if approve else ClientStatus.SUSPENDED
    record("client.approved" if approve else "client.rejected", client_id=client_id)
    return client


def set_suspended(client_id: str, suspended: bool) -> Client:
    """Suspend (effective on the portal's next request) or reactivate a portal."""
    client = _client(client_id)
    if suspended:
        if client.status == ClientStatus.SUSPENDED:
            raise RegistrationError(f"{client_id} is already suspended")
        client.status = ClientStatus.SUSPENDED
    else:
        row = db.session.get(RegistrationRequest, client_id)
        if client.status != ClientStatus.SUSPENDED or (row is not None and row.status != RegistrationStatus.APPROVED):
            raise RegistrationError(f"{client_id} is not a suspended approved portal (approve pending ones)")
        client.status = ClientStatus.ACTIVE
    record("client.suspended" if suspended else "client.reactivated", client_id=client_id)
    return client
