"""Protocol models: portals (clients), authorization codes, grants, refresh tokens, consents.

Codes and refresh tokens are stored only as SHA-256 digests. A `Grant` is one token family:
everything issued from one authorization code, revoked together on code replay or refresh
token reuse.
"""

from __future__ import annotations

import enum
from datetime import datetime

from authlib.oauth2.rfc6749 import ClientMixin
from authlib.oauth2.rfc6749 import TokenMixin
from authlib.oauth2.rfc6749.util import scope_to_list
from sqlalchemy import JSON
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy import true
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from idp.dbtypes import UTCDateTime
from idp.dbtypes import utcnow
from idp.extensions import db


class ClientStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    PENDING = "pending"  # registered through the API, waiting for `idp clients approve`


class Client(db.Model, ClientMixin):
    """An agency portal registered as an OpenID Connect relying party."""

    __tablename__ = "client"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Keyed digest of the generated secret (idp.oidc.secrets); None for public and private_key_jwt clients.
    client_secret_hash: Mapped[str | None] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(200))
    agency: Mapped[str | None] = mapped_column(String(200))
    # Short code of the agency (e.g. "bo-tu-phap", "hanoi"): agency administrators manage the portals
    # whose code is the scope of their role (idp.admin.access).
    agency_code: Mapped[str | None] = mapped_column(String(64), index=True)
    redirect_uris: Mapped[list] = mapped_column(JSON, default=list)
    post_logout_redirect_uris: Mapped[list] = mapped_column(JSON, default=list)
    backchannel_logout_uri: Mapped[str | None] = mapped_column(String(500))
    # OIDC Back-Channel Logout 1.0 §2.2 / Front-Channel Logout 1.0 §2: the portal wants `sid` (and `iss`).
    backchannel_logout_session_required: Mapped[bool] = mapped_column(default=True, server_default=true())
    frontchannel_logout_uri: Mapped[str | None] = mapped_column(String(500))
    frontchannel_logout_session_required: Mapped[bool] = mapped_column(default=True, server_default=true())
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(32), default="client_secret_basic")
    grant_types: Mapped[list] = mapped_column(JSON, default=list)
    scope: Mapped[str] = mapped_column(Text, default="openid")
    trusted: Mapped[bool] = mapped_column(default=False)
    subject_type: Mapped[str] = mapped_column(String(16), default="pairwise")
    sector_identifier: Mapped[str] = mapped_column(String(255))
    id_token_signed_response_alg: Mapped[str | None] = mapped_column(String(16))
    jwks: Mapped[dict | None] = mapped_column(JSON)
    # RFC 7591 §2: the portal's keys by reference instead of `jwks` (idp.oidc.client_keys), never both.
    jwks_uri: Mapped[str | None] = mapped_column(String(500))
    # OIDC Core §8.1: the pairwise sector is this URL's host; the document lists the redirect URIs.
    sector_identifier_uri: Mapped[str | None] = mapped_column(String(500))
    # Assurance an admin requires of this portal (a request cannot lower it) and its default.
    minimum_acr: Mapped[str | None] = mapped_column(String(64))
    default_acr: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=ClientStatus.ACTIVE)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<Client {self.client_id}>"

    @property
    def is_active(self) -> bool:
        return self.status == ClientStatus.ACTIVE

    @property
    def is_public(self) -> bool:
        return self.token_endpoint_auth_method == "none"

    @property
    def client_metadata(self) -> dict:
        """Registered metadata in RFC 7591 / OIDC Registration names."""
        return {
            "client_name": self.name,
            "redirect_uris": list(self.redirect_uris),
            "post_logout_redirect_uris": list(self.post_logout_redirect_uris),
            "backchannel_logout_uri": self.backchannel_logout_uri,
            "token_endpoint_auth_method": self.token_endpoint_auth_method,
            "jwks_uri": self.jwks_uri,
            "sector_identifier_uri": self.sector_identifier_uri,
            "grant_types": list(self.grant_types),
            "response_types": ["code"] if "authorization_code" in self.grant_types else [],
            "scope": self.scope,
            "subject_type": self.subject_type,
            "id_token_signed_response_alg": self.id_token_signed_response_alg,
        }

    # --- authlib ClientMixin ---
    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        # OIDC Core §3.1.2.1: redirect_uri is required; only a single registered URI may default.
        return self.redirect_uris[0] if len(self.redirect_uris) == 1 else None

    def get_allowed_scope(self, scope: str) -> str:
        if not scope:
            return ""
        allowed = set(scope_to_list(self.scope))
        return " ".join(s for s in scope_to_list(scope) if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # RFC 9700 §2.1: exact string matching, no patterns.
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        from idp.oidc.secrets import verify_client_secret

        return self.client_secret_hash is not None and verify_client_secret(self.client_secret_hash, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return self.is_active and method == self.token_endpoint_auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return self.is_active and grant_type in self.grant_types


class AuthorizationCode(db.Model):
    """A single-use authorization code (stored as a digest), valid at most 60 seconds."""

    __tablename__ = "authorization_code"
    __table_args__ = (Index("ix_code_client_nonce", "client_id", "nonce"),)

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("client.client_id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text)
    nonce: Mapped[str | None] = mapped_column(String(255))
    sid: Mapped[str] = mapped_column(String(64))
    auth_time: Mapped[int]
    acr: Mapped[str | None] = mapped_column(String(64))
    amr: Mapped[list] = mapped_column(JSON, default=list)
    claims_request: Mapped[dict | None] = mapped_column(JSON)
    extra_claims: Mapped[dict | None] = mapped_column(JSON)  # from the login session, e.g. vn_eid_level
    # What the portal asked for (OIDC Core §3.1.2.1); `acr` is what the login reached.
    acr_values: Mapped[str | None] = mapped_column(String(512))
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    code_challenge_method: Mapped[str | None] = mapped_column(String(8))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    grant_id: Mapped[str | None] = mapped_column(String(64))

    # --- authlib AuthorizationCodeMixin ---
    def get_redirect_uri(self) -> str | None:
        return self.redirect_uri or None

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> str | None:
        return self.acr

    def get_amr(self) -> list[str] | None:
        return list(self.amr) or None


class Grant(db.Model):
    """A token family: what one authorization (or its refreshes) issued; revoked as a whole."""

    __tablename__ = "token_grant"
    __table_args__ = (Index("ix_grant_account", "account_id"), Index("ix_grant_sid", "sid"))

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("client.client_id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(Text)
    sid: Mapped[str | None] = mapped_column(String(64))
    auth_time: Mapped[int]
    acr: Mapped[str | None] = mapped_column(String(64))
    amr: Mapped[list] = mapped_column(JSON, default=list)
    claims_request: Mapped[dict | None] = mapped_column(JSON)
    extra_claims: Mapped[dict | None] = mapped_column(JSON)  # from the login session, e.g. vn_eid_level
    acr_values: Mapped[str | None] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RefreshToken(db.Model, TokenMixin):
    """One refresh token of a grant (stored as a digest); rotated on every use."""

    __tablename__ = "refresh_token"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    grant_id: Mapped[str] = mapped_column(ForeignKey("token_grant.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # --- authlib TokenMixin ---
    def check_client(self, client: Client) -> bool:
        return self.client_id == client.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return int((self.expires_at - self.issued_at).total_seconds())

    def is_expired(self) -> bool:
        return self.expires_at <= utcnow()

    def is_revoked(self) -> bool:
        return self.revoked_at is not None or self.used_at is not None


class RevokedAccessToken(db.Model):
    """A denylist entry for one revoked JWT access token, kept until it would expire."""

    __tablename__ = "revoked_access_token"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class Consent(db.Model):
    """What an account agreed to share with a portal; asked again when the scope grows."""

    __tablename__ = "consent"
    __table_args__ = (UniqueConstraint("account_id", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(ForeignKey("client.client_id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(Text)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class UsedAssertion(db.Model):
    """A one-time value already seen (client assertion `jti`), kept until it expires."""

    __tablename__ = "used_assertion"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
