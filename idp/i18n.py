"""Translation helpers shared by modules that raise user-facing messages."""

from __future__ import annotations


def N_(message: str) -> str:  # noqa: N802 - the conventional gettext marker name
    """Mark a message for the catalogue without translating it yet (translated when shown)."""
    return message
