"""Anchors: the head of the chain (`ID:HASH`) kept outside the database, optionally signed.

The chain shows any change *inside* the trail but not the deletion of its newest events. An
operator therefore keeps the head printed by `idp audit verify` (or a signed anchor from `idp
audit anchor`, run from cron) somewhere the database administrator cannot write, and later runs
`idp audit verify --expect-head <that value>`. A signed anchor is a JWT signed with the
provider's current signing key (the keys published at /jwks.json), so a third party can check
who stated the head and when.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from joserfc import jwt
from joserfc.errors import JoseError

from idp.audit.chain import ChainReport
from idp.dbtypes import utcnow
from idp.errors import IdpError
from idp.i18n import N_
from idp.settings import current_settings

ANCHOR_TYP = "idp-audit-anchor+jwt"
ALGORITHMS = ("ES256", "RS256")
_PLAIN = re.compile(r"([0-9]{1,18}):([0-9a-f]{64})")


class AnchorError(IdpError):
    """An anchor that cannot be read or whose signature does not verify."""


@dataclass(frozen=True, slots=True)
class Anchor:
    """An expected head: event id and hash; `issued_at` (epoch seconds) when it came signed."""

    event_id: int
    hash: str
    issued_at: int | None = None


def sign_anchor(report: ChainReport) -> str:
    """Sign the head of an intact chain (the caller verified it) with the provider's signing key."""
    from idp.oidc.runtime import runtime

    if not report.ok:
        raise AnchorError("audit_chain_broken", N_("The audit chain is broken; no anchor is signed."))
    settings = current_settings()
    alg = settings.oidc.id_token_alg
    key = runtime().keys.signing_key(alg)
    claims = {"iss": settings.issuer, "iat": int(utcnow().timestamp()),
              "audit_head": {"id": report.head_id or 0, "hash": report.head_hash, "events": report.checked}}
    return jwt.encode({"typ": ANCHOR_TYP, "alg": alg, "kid": key.kid}, claims, key, algorithms=[alg])


def parse_anchor(value: str) -> Anchor:
    """Read `ID:HASH` or a signed anchor (its signature checked against the published keys)."""
    text = value.strip()
    plain = _PLAIN.fullmatch(text)
    if plain:
        return Anchor(int(plain.group(1)), plain.group(2))
    if text.count(".") != 2 or len(text) > 8192:
        raise AnchorError("audit_anchor_format", N_("An anchor is ID:HASH (64 hex digits) or a signed anchor."))
    return _check_signed(text)


def _check_signed(token: str) -> Anchor:
    from idp.oidc.runtime import runtime

    _, keyset = runtime().keys.public_jwks()
    try:
        decoded = jwt.decode(token, keyset, algorithms=list(ALGORITHMS))
    except (JoseError, ValueError) as exc:
        raise AnchorError("audit_anchor_signature",
                          N_("The anchor's signature does not verify with the published keys (its key may "
                             "have been retired: compare its ID:HASH instead).")) from exc
    claims, header = decoded.claims, decoded.header
    head = claims.get("audit_head")
    if header.get("typ") != ANCHOR_TYP or claims.get("iss") != current_settings().issuer or not isinstance(head, dict):
        raise AnchorError("audit_anchor_format", N_("This token is not an audit anchor of this provider."))
    plain = _PLAIN.fullmatch(f"{head.get('id')}:{head.get('hash')}")
    if plain is None:
        raise AnchorError("audit_anchor_format", N_("An anchor is ID:HASH (64 hex digits) or a signed anchor."))
    issued = claims.get("iat")
    return Anchor(int(plain.group(1)), plain.group(2), issued if isinstance(issued, int) else None)
