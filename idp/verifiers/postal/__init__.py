"""Vietnam Post (VNPost) identity sources: a check at a post office counter, and a code by letter.

Owns the postal tables (models.py: counter requests, letters), the two verifiers (counter.py,
letter.py) and their inline QR codes (qr.py). Like every verifier it must not import accounts,
login sessions or tokens: it sees the logged-in account only through `attempt.account_ref` and
`attempt.on_file`. The clerk's pages are staff UI and live in idp.postal, which calls
`CounterVerifier.confirm`/`reject` here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from idp.verifiers.base import Services
from idp.verifiers.postal.counter import CounterVerifier
from idp.verifiers.postal.letter import LetterVerifier


def create_counter(verifier_id: str, settings: Mapping[str, Any], services: Services) -> CounterVerifier:
    """Build a counter source (entry point `postal_counter`)."""
    from idp.verifiers.postal.counter import create

    return create(verifier_id, settings, services)


def create_letter(verifier_id: str, settings: Mapping[str, Any], services: Services) -> LetterVerifier:
    """Build a letter source (entry point `postal_letter`)."""
    from idp.verifiers.postal.letter import create

    return create(verifier_id, settings, services)
