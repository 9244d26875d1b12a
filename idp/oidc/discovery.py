"""The discovery document (OpenID Connect Discovery 1.0 §3), built once per application."""

from __future__ import annotations

import json

from authlib.oidc.discovery import OpenIDProviderMetadata

from idp.auth.assurance import ACR_VALUES
from idp.oidc.claims import CLAIMS_SUPPORTED
from idp.oidc.claims import PROVENANCE_OF_CLAIM
from idp.oidc.claims import SCOPES
from idp.oidc.claims import TRUST_FRAMEWORK
from idp.oidc.client_keys import CLIENT_ASSERTION_ALGS
from idp.oidc.grants import CLIENT_AUTH_METHODS
from idp.oidc.grants import CONFIDENTIAL_AUTH_METHODS
from idp.oidc.keys import ALGORITHMS
from idp.settings import Settings


def build_metadata(settings: Settings) -> dict:
    """Return the validated provider metadata for this deployment."""
    issuer = settings.issuer
    metadata = OpenIDProviderMetadata(
        issuer=issuer,
        authorization_endpoint=f"{issuer}/oauth2/authorize",
        token_endpoint=f"{issuer}/oauth2/token",
        userinfo_endpoint=f"{issuer}/oauth2/userinfo",
        jwks_uri=f"{issuer}/jwks.json",
        introspection_endpoint=f"{issuer}/oauth2/introspect",
        revocation_endpoint=f"{issuer}/oauth2/revoke",
        end_session_endpoint=f"{issuer}/oauth2/logout",
        scopes_supported=list(SCOPES),
        response_types_supported=["code"],
        response_modes_supported=["query", "form_post"],
        grant_types_supported=["authorization_code", "refresh_token", "client_credentials"],
        subject_types_supported=["pairwise", "public"],
        id_token_signing_alg_values_supported=list(ALGORITHMS),
        token_endpoint_auth_methods_supported=CLIENT_AUTH_METHODS,
        token_endpoint_auth_signing_alg_values_supported=list(CLIENT_ASSERTION_ALGS),
        introspection_endpoint_auth_methods_supported=CONFIDENTIAL_AUTH_METHODS,
        revocation_endpoint_auth_methods_supported=CLIENT_AUTH_METHODS,
        code_challenge_methods_supported=["S256"],
        claims_supported=list(CLAIMS_SUPPORTED),
        claims_parameter_supported=True,
        request_parameter_supported=False,
        request_uri_parameter_supported=False,
        acr_values_supported=list(ACR_VALUES),
        prompt_values_supported=["none", "login", "consent", "select_account"],
        ui_locales_supported=["vi", "en"],
        claims_locales_supported=["vi"],
        authorization_response_iss_parameter_supported=True,
        # OIDC Back-Channel Logout 1.0 §2.1, Front-Channel Logout 1.0 §3 (idp.oidc.logout).
        backchannel_logout_supported=True,
        backchannel_logout_session_supported=True,
        frontchannel_logout_supported=True,
        frontchannel_logout_session_supported=True,
    )
    metadata.validate()
    if settings.features.dynamic_registration:
        # RFC 8414 §2 / RFC 7591 §3 (idp.oidc.registration); the endpoint needs an initial access token.
        metadata["registration_endpoint"] = f"{issuer}/oauth2/register"
    # OpenID Connect for Identity Assurance 1.0 §7: provenance of claims.
    metadata.update(verified_claims_supported=True, trust_frameworks_supported=[TRUST_FRAMEWORK],
                    claims_in_verified_claims_supported=sorted(PROVENANCE_OF_CLAIM))
    return dict(metadata)


def metadata_bytes(settings: Settings) -> bytes:
    """Serialise the metadata once; the discovery route serves these bytes."""
    return json.dumps(build_metadata(settings), separators=(",", ":")).encode("utf-8")
