"""Errors a verifier raises; defined once in idp.errors and re-exported for module authors."""

from idp.errors import ConfigError
from idp.errors import SourceUnavailable
from idp.errors import VerificationFailed

__all__ = ["ConfigError", "SourceUnavailable", "VerificationFailed"]
