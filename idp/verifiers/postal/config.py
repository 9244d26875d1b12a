"""Settings checks shared by the two postal sources; each failure names the bad key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from idp.verifiers.base import Level
from idp.verifiers.errors import ConfigError


class Checked:
    """Read one verifier's settings, refusing unknown keys and wrong types."""

    def __init__(self, verifier_id: str, settings: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
        self.verifier_id, self.settings = verifier_id, settings
        for key in sorted(set(settings) - set(allowed)):
            raise ConfigError(self.key(key), f"Unknown setting {self.key(key)}; allowed: {', '.join(allowed)}.")

    def key(self, name: str) -> str:
        return f"verifiers.{self.verifier_id}.{name}"

    def level(self, name: str, default: str, lowest: Level) -> Level:
        value = self.settings.get(name, default)
        try:
            level = Level.parse(value) if isinstance(value, str) else None
        except ValueError:
            level = None
        if level is None or level < lowest:
            allowed = ", ".join(item.name.lower() for item in Level if item >= lowest)
            raise ConfigError(self.key(name), f"{self.key(name)} must be one of: {allowed}.")
        return level

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        value = self.settings.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(self.key(name), f"{self.key(name)} must be a whole number from {low} to {high}.")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value = self.settings.get(name, default)
        if not isinstance(value, bool):
            raise ConfigError(self.key(name), f"{self.key(name)} must be true or false.")
        return value

    def names(self, default: Mapping[str, str]) -> dict[str, str]:
        value = self.settings.get("names", default)
        if not isinstance(value, Mapping) or not value or not all(
                isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in value.items()):
            raise ConfigError(self.key("names"), f"{self.key('names')} must map languages to names, e.g. "
                                                 '{ vi = "...", en = "..." }.')
        return dict(value)
