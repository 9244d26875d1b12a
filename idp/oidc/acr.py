"""Which assurance level an authorization request needs (OIDC Core §3.1.2.1 `acr_values`, §5.5.1.1
essential `acr`), bounded below by the portal's minimum, and whether anyone can reach it.

`acr_values` may list several values: the request is satisfied at the highest listed level that
some enabled method can reach. A level that no method reaches is `unmet_authentication_requirements`
— never a silently lower `acr`.
"""

from __future__ import annotations

from authlib.oauth2 import OAuth2Error

from idp.oidc.claims import parse_claims_request
from idp.verifiers.base import Level
from idp.verifiers.registry import verifiers

# The password (and self-registration) proves at most this much.
PASSWORD_LEVEL = Level.LOW


class UnmetAuthenticationRequirements(OAuth2Error):
    """OpenID Connect Core errata / EAP ACR Values 1.0 §3: the requested assurance cannot be met."""

    error = "unmet_authentication_requirements"


def reachable_level() -> Level:
    """The highest level any enabled method can prove."""
    return max([PASSWORD_LEVEL, *(v.info.max_level for v in verifiers().values())])


def required_level(data: dict, client) -> Level | None:  # noqa: ANN001 - Client model
    """Return the level this request needs (None: no requirement); raise when it cannot be met."""
    wanted = [level for value in (data.get("acr_values") or "").split() if (level := Level.from_acr(value))]
    essential = _essential_acr_values(data.get("claims"))
    ceiling = reachable_level()
    need: Level | None = None
    if wanted:
        reachable = [level for level in wanted if level <= ceiling]
        if not reachable:
            raise UnmetAuthenticationRequirements(
                description="None of the requested acr_values can be reached by any enabled method.")
        need = max(reachable)
    if essential:
        reachable = [level for level in essential if level <= ceiling]
        if not reachable:
            raise UnmetAuthenticationRequirements(description="The essential acr cannot be reached.")
        need = max(need or Level.NONE, min(reachable))
    if need is None and client.default_acr:
        need = Level.from_acr(client.default_acr)
    if client.minimum_acr:
        minimum = Level.from_acr(client.minimum_acr)
        if minimum > ceiling:
            raise UnmetAuthenticationRequirements(description="The portal's minimum level cannot be reached.")
        need = max(need or Level.NONE, minimum)
    return need


def methods_reaching(level: Level) -> list[str]:
    """The enabled source ids that can prove `level` (the password is included as "password")."""
    found = [vid for vid, v in verifiers().items() if v.info.max_level >= level]
    return (["password"] if level <= PASSWORD_LEVEL else []) + found


def _essential_acr_values(raw: str | None) -> list[Level]:
    try:
        claims = parse_claims_request(raw) or {}
    except ValueError:
        return []
    acr = (claims.get("id_token") or {}).get("acr") or {}
    if not isinstance(acr, dict) or not acr.get("essential"):
        return []
    values = acr.get("values") or ([acr["value"]] if acr.get("value") else [])
    return [level for value in values if isinstance(value, str) and (level := Level.from_acr(value))]
