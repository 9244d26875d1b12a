"""VNeID (the national e-ID) and any standard OpenID provider as an upstream identity source.

Owns the relying-party side towards the upstream (upstream.py, jwks.py, claims.py), its settings
(config.py), and the development sandbox provider (sandbox.py, demo_citizens.py). Must not import
accounts, login sessions or tokens (idp.accounts, idp.auth, idp.oidc): it returns an assertion.
Documentation: docs/sources/vneid.md.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from idp.verifiers.base import Interaction
from idp.verifiers.base import Services
from idp.verifiers.base import VerifierInfo
from idp.verifiers.vneid.config import parse_settings
from idp.verifiers.vneid.upstream import UpstreamVerifier

log = logging.getLogger(__name__)
ATTRIBUTES = ("personal_id", "full_name", "birthdate", "gender")


def create(verifier_id: str, settings: Mapping[str, Any], services: Services) -> UpstreamVerifier:
    """Build one upstream source from `[verifiers.<id>]`; ConfigError names the bad key.

    A sandbox upstream (`sandbox = true`) is refused when the core forbids sandboxes (production).
    """
    config = parse_settings(verifier_id, settings, services.sandbox)
    if config.sandbox:
        log.warning("verifier %s uses the sandbox provider at %s: for development and tests only",
                    verifier_id, config.issuer)
    # The login page offers a source for a level only if some upstream level can reach it.
    reachable = min(config.max_level, max(config.level_map.values()))
    info = VerifierInfo(kind="vneid", names=dict(config.names), max_level=reachable, attributes=ATTRIBUTES,
                        interaction=Interaction.REDIRECT)
    return UpstreamVerifier(config, info, services)
