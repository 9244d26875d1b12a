"""Change an existing portal in place (manifest sync): the same rules as registration, and never a silent
change of the users' pairwise `sub` (OIDC Core §8.1) or of a secret nobody was told about."""

from __future__ import annotations

from idp.audit import record
from idp.oidc.clients import ClientRegistration
from idp.oidc.clients import InvalidClientMetadata
from idp.oidc.models import Client
from idp.oidc.secrets import hash_client_secret
from idp.oidc.secrets import new_client_secret
from idp.oidc.secrets import verify_client_secret
from idp.oidc.subject import sector_of

PUBLIC_METHODS = ("none", "private_key_jwt")


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
        sector = sector_of(list(reg.redirect_uris))
    except ValueError as exc:
        raise InvalidClientMetadata("invalid_client_metadata", str(exc)) from exc
    if subject_type == "pairwise" and sector != client.sector_identifier:
        raise InvalidClientMetadata("invalid_redirect_uri", f"redirect_uris move the pairwise sector from "
                                    f"{client.sector_identifier} to {sector}: every user's sub would change.")
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
