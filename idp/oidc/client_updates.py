"""Change an existing portal in place (manifest sync): the same rules as registration, and never a silent
change of the users' pairwise `sub` (OIDC Core §8.1) or of a secret nobody was told about."""

from __future__ import annotations

import dataclasses

from idp.audit import record
from idp.oidc.clients import ClientRegistration
from idp.oidc.clients import InvalidClientMetadata
from idp.oidc.clients import check_documents
from idp.oidc.models import Client
from idp.oidc.secrets import hash_client_secret
from idp.oidc.secrets import new_client_secret
from idp.oidc.secrets import verify_client_secret
from idp.oidc.subject import sector_of

PUBLIC_METHODS = ("none", "private_key_jwt")


def keep_approved_decisions(client: Client, reg: ClientRegistration) -> ClientRegistration:
    """An approved portal updating itself (RFC 7592 §2.2) keeps what the administrators decided.

    It may drop scopes and grant types but not add any, may raise its minimum assurance but not lower
    or remove it, and cannot change its agency or trusted status: those would otherwise bypass the
    review that approved it. Refused additions are `invalid_client_metadata` with the reason; the
    agency and trust are silently kept (RFC 7592 §2.2 lets the server replace values, and the
    response shows what is stored)."""
    from idp.verifiers.base import Level

    added = sorted(set(reg.scopes) - set(client.scope.split()))
    if added:
        raise InvalidClientMetadata("invalid_client_metadata", f"scope {added[0]} was not approved for this portal: "
                                    "ask the identity provider's administrators to add it.")
    grants = reg.grant_types or list(client.grant_types)
    extra = sorted(set(grants) - set(client.grant_types))
    if extra:
        raise InvalidClientMetadata("invalid_client_metadata", f"grant type {extra[0]} was not approved for this "
                                    "portal: ask the identity provider's administrators to add it.")
    approved = Level.from_acr(client.minimum_acr or "")
    asked = Level.from_acr(reg.minimum_acr or "")
    if approved is not None and (asked is None or asked < approved):
        raise InvalidClientMetadata("invalid_client_metadata", f"minimum_acr cannot go below {client.minimum_acr}, "
                                    "the assurance the administrators require of this portal.")
    return dataclasses.replace(reg, trusted=client.trusted, agency=client.agency, agency_code=client.agency_code,
                               grant_types=grants)


def desired_fields(reg: ClientRegistration, frontchannel_logout_uri: str | None) -> dict:
    """The model attributes a (validated) registration asks for, as `register_client` would store them."""
    return {
        "name": reg.name.strip(), "agency": reg.agency, "redirect_uris": list(reg.redirect_uris),
        "post_logout_redirect_uris": list(reg.post_logout_redirect_uris),
        "backchannel_logout_uri": reg.backchannel_logout_uri or None,
        "frontchannel_logout_uri": frontchannel_logout_uri or None,
        "token_endpoint_auth_method": reg.token_endpoint_auth_method, "scope": " ".join(reg.scopes),
        "trusted": reg.trusted, "minimum_acr": reg.minimum_acr, "default_acr": reg.default_acr,
        "id_token_signed_response_alg": reg.id_token_signed_response_alg,
        "jwks": reg.jwks, "jwks_uri": reg.jwks_uri or None, "sector_identifier_uri": reg.sector_identifier_uri or None,
        # Set by manifests and the admin console; never cleared by a registration that names none (RFC 7592 PUT).
        **({"agency_code": reg.agency_code} if reg.agency_code is not None else {}),
    }


def update_client(client: Client, reg: ClientRegistration, frontchannel_logout_uri: str | None = None,
                  ) -> tuple[list[str], str | None]:
    """Apply a validated registration to `client`; return (changed field names, new secret to show once).

    Refuses (InvalidClientMetadata) a change of subject type or pairwise sector: every user's `sub` at
    the portal would change. `reg.client_secret`, when given, replaces a secret that does not match it."""
    subject_type = "public" if reg.public_subject else "pairwise"
    if subject_type != client.subject_type:
        raise InvalidClientMetadata("invalid_client_metadata", f"public_subject cannot change ({client.subject_type} "
                                    f"→ {subject_type}): every user's sub at {client.client_id} would change.")
    try:
        sector = sector_of(list(reg.redirect_uris), reg.sector_identifier_uri)
    except ValueError as exc:
        raise InvalidClientMetadata("invalid_client_metadata", str(exc)) from exc
    if subject_type == "pairwise" and sector != client.sector_identifier:
        if reg.sector_identifier_uri or client.sector_identifier_uri:
            raise InvalidClientMetadata("invalid_client_metadata", f"sector_identifier_uri moves the pairwise sector "
                                        f"from {client.sector_identifier} to {sector}: every user's sub would change.")
        raise InvalidClientMetadata("invalid_redirect_uri", f"redirect_uris move the pairwise sector from "
                                    f"{client.sector_identifier} to {sector}: every user's sub would change.")
    # Documents are fetched and checked again at every update (OIDC Registration §5: they may have changed).
    check_documents(reg, list(reg.redirect_uris))
    changed = []
    for name, value in desired_fields(reg, frontchannel_logout_uri).items():
        if getattr(client, name) != value:
            setattr(client, name, value)
            changed.append(name)
    client.sector_identifier = sector
    shown = None
    method = reg.token_endpoint_auth_method
    if method in PUBLIC_METHODS:
        if client.client_secret_hash is not None:
            client.client_secret_hash = None
            changed.append("client_secret")
    elif reg.client_secret is not None:
        if not client.client_secret_hash or not verify_client_secret(client.client_secret_hash, reg.client_secret):
            client.client_secret_hash = hash_client_secret(reg.client_secret)
            changed.append("client_secret")
    elif client.client_secret_hash is None:
        shown = new_client_secret()
        client.client_secret_hash = hash_client_secret(shown)
        changed.append("client_secret")
    if "token_endpoint_auth_method" in changed and not reg.grant_types:
        client.grant_types = ["authorization_code", "refresh_token"] + ([] if method == "none"
                                                                        else ["client_credentials"])
    if changed:
        record("client.updated", client_id=client.client_id, fields=sorted(changed))
    return changed, shown
