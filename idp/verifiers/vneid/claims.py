"""Turn verified upstream claims into an IdentityAssertion: configured claim names, the upstream
account level mapped to ours, `amr` values passed on, and a non-personal evidence reference."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import date
from datetime import datetime
from typing import Any

from idp.i18n import N_
from idp.identifiers import is_personal_id
from idp.verifiers.base import IdentityAssertion
from idp.verifiers.errors import VerificationFailed
from idp.verifiers.vneid.config import UpstreamConfig

MAX_NAME = 200
GENDERS = {"male": "male", "female": "female", "nam": "male", "nữ": "female", "nu": "female"}


def _missing() -> VerificationFailed:
    return VerificationFailed("claim_missing", N_("The identity provider did not share the details needed to log "
                                                  "you in. Start again."))


def _invalid() -> VerificationFailed:
    return VerificationFailed("claim_invalid", N_("The identity provider shared details we cannot read. Choose "
                                                  "another way to log in."))


def _text(value: Any, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit or any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise _invalid()
    return " ".join(value.split()) or None


def personal_id_of(value: Any) -> str:
    """The 12-digit personal identification number; VerificationFailed when absent or malformed."""
    if value is None:
        raise _missing()
    text = value.strip() if isinstance(value, str) else ""
    if not is_personal_id(text):
        raise VerificationFailed("personal_id_format", N_("The personal ID number from the identity provider is not "
                                                          "12 digits. Choose another way to log in."))
    return text


def birthdate_of(value: Any) -> str | None:
    """An ISO 8601 calendar date (YYYY-MM-DD), as OIDC Core §5.1 `birthdate`."""
    text = _text(value, 10)
    if text is None:
        return None
    if len(text) != 10:  # date.fromisoformat also reads YYYYMMDD and week dates
        raise _invalid()
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError as exc:
        raise _invalid() from exc


def level_key(value: Any) -> str:
    """The upstream level as a level_map key: 2 and "2" are the same level."""
    if value is None:
        raise _missing()
    if isinstance(value, bool) or not isinstance(value, int | str) or len(str(value)) > 200:
        raise _invalid()
    return str(value).strip()


def assertion_from(cfg: UpstreamConfig, claims: Mapping[str, Any], now: datetime) -> IdentityAssertion:
    """Map verified claims to an assertion; VerificationFailed names a missing or unreadable claim."""
    names = cfg.claims
    found = {"personal_id": personal_id_of(claims.get(names["personal_id"]))}
    if names["full_name"] and (full_name := _text(claims.get(names["full_name"]), MAX_NAME)):
        found["full_name"] = full_name
    if names["birthdate"] and (born := birthdate_of(claims.get(names["birthdate"]))):
        found["birthdate"] = born
    if names["gender"] and isinstance(raw_gender := claims.get(names["gender"]), str):
        gender = GENDERS.get(raw_gender.strip().lower())
        if gender:
            found["gender"] = gender
    key = level_key(claims.get(names["level"]))
    if key not in cfg.level_map:
        raise VerificationFailed("level_unknown", N_("The identity provider reported an account level we do not "
                                                     "know. Choose another way to log in."))
    extra = {"vn_eid_level": int(key)} if cfg.report_vn_eid_level and key.isascii() and key.isdigit() else {}
    level = min(cfg.level_map[key], cfg.max_level)
    return IdentityAssertion(source=cfg.verifier_id, subject=claims["sub"], level=level,
                             amr=_amr(cfg, claims.get("amr")), verified_at=now, claims=found,
                             evidence_ref=_evidence_ref(cfg.issuer, claims), extra=extra)


def _amr(cfg: UpstreamConfig, upstream: Any) -> tuple[str, ...]:
    """Our source value first, then the upstream's RFC 8176 values chosen in amr_passthrough."""
    values = [cfg.amr]
    if isinstance(upstream, list):
        values += [value for value in upstream if isinstance(value, str) and value in cfg.amr_passthrough]
    return tuple(dict.fromkeys(values))


def _evidence_ref(issuer: str, claims: Mapping[str, Any]) -> str:
    """A reference the upstream can trace (a hash of its session or token id), with nothing personal."""
    handle = claims.get("sid") or claims.get("jti") or f"{claims['sub']}|{claims.get('iat')}"
    return "oidc:" + hashlib.sha256(f"{issuer}|{handle}".encode()).hexdigest()[:32]
