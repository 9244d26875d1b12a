"""Claims: which scope releases which claim, and the one function that builds them.

The ID token and the userinfo endpoint both call `for_scope`; the portal's allowed scopes
(set by admins) have already narrowed `scope` when the grant was made.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from authlib.oauth2.rfc6749.util import scope_to_list

from idp.accounts.models import Account
from idp.accounts.models import AccountKind
from idp.oidc.subject import subject_for

NATIONAL_ID_SCOPE = "national_id"
SCOPES = ("openid", "profile", "email", "phone", "address", "offline_access", NATIONAL_ID_SCOPE)
SCOPE_CLAIMS: Mapping[str, tuple[str, ...]] = {
    "openid": ("sub",),
    "profile": ("name", "given_name", "family_name", "birthdate", "gender", "updated_at", "vn_account_kind"),
    "email": ("email", "email_verified"),
    "phone": ("phone_number", "phone_number_verified"),
    "address": ("address",),
    NATIONAL_ID_SCOPE: ("vn_personal_id", "vn_tax_code"),
}
# Claims an identity source may add to the login session, and so to its ID tokens: VNeID's own
# account level (1 or 2) when VNeID took part in the login.
SESSION_CLAIMS = {"vn_eid_level": int}
CLAIMS_SUPPORTED = tuple(sorted({c for claims in SCOPE_CLAIMS.values() for c in claims} | set(SESSION_CLAIMS) | {
    "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "sid", "at_hash"}))


def session_claims_from(extra: Mapping[str, Any]) -> dict[str, Any]:
    """Keep the assertion extras that are session claims, of the expected type (others are dropped)."""
    return {name: extra[name] for name, kind in SESSION_CLAIMS.items()
            if isinstance(extra.get(name), kind) and not isinstance(extra.get(name), bool)}


def for_scope(account: Account, scope: str, client) -> dict[str, Any]:  # noqa: ANN001 - Client model
    """Return the claims the scope releases about the account to this portal (None values dropped)."""
    scopes = set(scope_to_list(scope) or [])
    claims: dict[str, Any] = {"sub": subject_for(account.id, client)}
    if "profile" in scopes:
        claims.update(
            name=account.full_name,
            given_name=account.given_name,
            family_name=account.family_name,
            birthdate=account.birthdate.isoformat() if account.birthdate else None,
            gender=account.gender,
            updated_at=int(account.updated_at.timestamp()) if account.updated_at else None,
            vn_account_kind=account.kind,
        )
    if "email" in scopes and account.email:
        claims.update(email=account.email, email_verified=_is_verified(account, "email"))
    if "phone" in scopes and account.phone:
        claims.update(phone_number=account.phone, phone_number_verified=_is_verified(account, "phone"))
    if "address" in scopes:
        claims["address"] = postal_address(account)
    if NATIONAL_ID_SCOPE in scopes:
        key = "vn_tax_code" if account.kind == AccountKind.BUSINESS else "vn_personal_id"
        claims[key] = account.identifier
    return {k: v for k, v in claims.items() if v is not None}


# Claim -> account attribute whose provenance it carries (OpenID Connect for Identity Assurance).
PROVENANCE_OF_CLAIM = {"name": "full_name", "birthdate": "birthdate", "gender": "gender",
                       "email": "email", "phone_number": "phone"}
TRUST_FRAMEWORK = "vn_national_sso"


def with_verified_claims(account: Account, response: dict[str, Any], released: dict[str, Any],
                         request: Any) -> dict[str, Any]:
    """Add `verified_claims` (OpenID Connect for Identity Assurance 1.0 §5) to `response` when the
    portal asked (`request` is the member's `verified_claims` request, or None): one element per
    source and time, naming which released claims it verified (only those the request lists, if any)."""
    if request is None:
        return response
    names = (request.get("claims") or {}) if isinstance(request, dict) else {}
    if names:
        released = {name: value for name, value in released.items() if name in names}
    groups: dict[tuple[str, Any, int], dict[str, Any]] = {}
    for claim, attribute in PROVENANCE_OF_CLAIM.items():
        verification = account.verification_of(attribute)
        if claim not in released or verification is None or verification.is_self_asserted:
            continue
        key = (verification.source, verification.verified_at, verification.level)
        groups.setdefault(key, {})[claim] = released[claim]
    elements = [{"verification": {"trust_framework": TRUST_FRAMEWORK, "time": verified_at.isoformat(),
                                  "verification_process": source, "assurance_level": _level_acr(level)},
                 "claims": claims}
                for (source, verified_at, level), claims in sorted(groups.items(), key=lambda item: item[0][0])]
    return {**response, "verified_claims": elements} if elements else response


def _level_acr(level: int) -> str | None:
    from idp.auth.assurance import ACR_VALUES

    return ACR_VALUES[level - 1] if 1 <= level <= len(ACR_VALUES) else None


def verified_claims_request(claims_request: dict | None, member: str) -> dict | None:
    """The `verified_claims` request of one member (id_token/userinfo), `{}` if named without detail."""
    members = (claims_request or {}).get(member) or {}
    if "verified_claims" not in members:
        return None
    return members["verified_claims"] if isinstance(members["verified_claims"], dict) else {}


def _is_verified(account: Account, attribute: str) -> bool:
    verification = account.verification_of(attribute)
    return verification is not None and not verification.is_self_asserted


def postal_address(account: Account) -> dict[str, str] | None:
    """Return the OIDC Core §5.1.1 address claim for the account, or None when none is on file."""
    from idp.accounts.admin_units import find_province
    from idp.accounts.admin_units import find_ward

    if not (account.street_address or account.province_code):
        return None
    province = find_province(account.province_code) if account.province_code else None
    ward = find_ward(account.ward_code) if account.ward_code else None
    parts = [account.street_address, ward.name if ward else None, province.name if province else None]
    address = {
        "formatted": ", ".join(p for p in parts if p),
        "street_address": account.street_address,
        "locality": ward.name if ward else None,
        "region": province.name if province else None,
        "country": "VN",
        "vn_province_code": account.province_code,
        "vn_ward_code": account.ward_code,
    }
    return {k: v for k, v in address.items() if v}


def scopes_for_claims(claims_request: Mapping[str, Any] | None) -> set[str]:
    """Return the scopes whose claims an OIDC Core §5.5 `claims` request names."""
    if not claims_request:
        return set()
    names = {name for member in claims_request.values() if member for name in member}
    return {scope for scope, claims in SCOPE_CLAIMS.items() if names & set(claims) and scope != "openid"}


def scope_with_requested_claims(scope: str, raw_claims: str | None, client) -> str:  # noqa: ANN001
    """OIDC Core §5.5: claims requested by name are released like their scope (so consent and
    release follow one rule), within the portal's allowed scopes. Malformed requests add nothing."""
    try:
        extra = scopes_for_claims(parse_claims_request(raw_claims)) - set(scope.split())
    except ValueError:
        return scope
    allowed = client.get_allowed_scope(" ".join(sorted(extra)))
    return f"{scope} {allowed}" if allowed else scope


def parse_claims_request(raw: str | None) -> dict[str, Any] | None:
    """Parse the OIDC Core §5.5 `claims` parameter; raise ValueError with a reason if malformed."""
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ValueError("The 'claims' parameter is not valid JSON.") from exc
    if not isinstance(data, dict) or set(data) - {"id_token", "userinfo"}:
        raise ValueError("The 'claims' parameter must be an object with 'id_token' and/or 'userinfo'.")
    for member in data.values():
        if member is None:
            continue
        if not isinstance(member, dict):
            raise ValueError("Each member of 'claims' must be an object.")
        for request in member.values():
            if request is not None and not isinstance(request, dict):
                raise ValueError("Each requested claim must be null or an object.")
    return data
