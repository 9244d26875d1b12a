"""Settings values of identity sources as the admin console shows and takes them.

Secrets (values of secret-looking keys at any depth, idp.audit.is_secret_key, and values that came
from `env:`/`file:` in the configuration file) are never shown: they read "[redacted]", except an
`env:NAME` reference, which names no secret. A submitted "[redacted]" or empty value in a secret's
place keeps what is stored. New secrets are sealed before they are stored; `env:NAME` is accepted
for secrets only and `file:` not at all (a path on the server is for the configuration file).
"""

from __future__ import annotations

import re
from typing import Any

from idp.audit import REDACTED
from idp.audit import is_secret_key
from idp.errors import ConfigError
from idp.i18n import N_
from idp.settings import Secret
from idp.verifiers.overrides import ENV
from idp.verifiers.overrides import SEALED
from idp.verifiers.overrides import check_env_name
from idp.verifiers.overrides import seal_value

SETTING_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
CORE_KEYS = ("kind", "enabled")
MAX_DEPTH = 8
SECRET_CHANGED = "[redacted: changed]"


class SourceRefused(Exception):
    """A change that is not stored. `key` names the setting (or field); `message` is a msgid with
    `params`; pages translate it, the API sends it in English."""

    status = 400
    error = "invalid_request"

    def __init__(self, key: str, message: str, /, **params: Any) -> None:
        super().__init__(key)
        self.key, self.message, self.params = key, message, params

    def text(self, translate: Any = None) -> str:
        template = translate(self.message) if translate else self.message
        return template % self.params if self.params else template


class VersionConflict(SourceRefused):
    status = 409
    error = "conflict"


def is_hidden(value: Any) -> bool:
    """A value that is a secret by origin: sealed in the database, or from env:/file: in the file."""
    return isinstance(value, Secret) or (isinstance(value, str) and value.startswith(SEALED))


def is_keep(value: Any) -> bool:
    return value in ("", REDACTED)


def masked(value: Any, secret: bool = False) -> Any:
    """What may be shown of a value: secrets as "[redacted]" (env:NAME references as they are)."""
    if isinstance(value, dict):
        return {k: masked(v, secret or is_secret_key(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [masked(v, secret) for v in value]
    if secret and isinstance(value, str) and value.startswith(ENV) and not isinstance(value, Secret):
        return value
    if (secret and value not in (None, "")) or is_hidden(value):
        return REDACTED
    return value


def audit_pair(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The changed top-level settings, masked, for record_change. A change that masking would hide (a new
    secret) shows as SECRET_CHANGED, so the trail still says that the secret changed."""
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    for key in sorted(set(before) | set(after)):
        if key in before and key in after and before[key] == after[key]:
            continue
        if key in before:
            old[key] = masked(before[key], is_secret_key(key))
        if key in after:
            new[key] = masked(after[key], is_secret_key(key))
            if key in old and old[key] == new[key]:
                new[key] = SECRET_CHANGED
    return old, new


def check_name(key: str) -> None:
    if key in CORE_KEYS:
        raise SourceRefused(key, N_("%(key)s cannot be changed here."), key=key)
    if not SETTING_NAME.fullmatch(key):
        raise SourceRefused(key, N_("%(key)s: a setting name is lower-case letters, digits and _ (at most 64)."),
                            key=key[:64])


def _too_deep(value: Any, levels: int = MAX_DEPTH) -> bool:
    """Whether `value` nests more than `levels` tables or lists (looks no deeper than that)."""
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else None
    if children is None:
        return False
    return levels <= 0 or any(_too_deep(child, levels - 1) for child in children)


def _is_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://"))


def _stored_secret(value: Any) -> Any:
    """A kept secret in its stored form: sealed (a file secret or literal becomes sealed too)."""
    if isinstance(value, str) and not isinstance(value, Secret) and value.startswith((SEALED, ENV)):
        return value
    return seal_value(str(value) if isinstance(value, Secret) else value)


def to_store(new: Any, current: Any, key: str, secret: bool = False) -> Any:
    """The stored form of a submitted value: kept secrets restored from `current` (the stored form, or
    the file's value), new secrets sealed, references checked. Raises SourceRefused naming the key."""
    if _too_deep(new):
        raise SourceRefused(key, N_("%(key)s is nested too deeply."), key=key)
    return _to_store(new, current, key, secret)


def _to_store(new: Any, current: Any, key: str, secret: bool) -> Any:
    if isinstance(new, dict):
        old = current if isinstance(current, dict) else {}
        result = {k: _to_store(v, old.get(k), f"{key}.{k}", secret or is_secret_key(k)) for k, v in new.items()}
        check_destination(key, new, old)
        return result
    if isinstance(new, list):
        old_items = current if isinstance(current, list) else []
        return [_to_store(v, old_items[n] if n < len(old_items) else None, f"{key}[{n}]", secret)
                for n, v in enumerate(new)]
    if is_keep(new) and (secret or is_hidden(current)) and current not in (None, ""):
        return _stored_secret(current)
    if isinstance(new, str) and new.startswith("file:"):
        raise SourceRefused(key, N_("%(key)s: file: references can only be used in the configuration file."),
                            key=key)
    if isinstance(new, str) and new.startswith(SEALED):
        raise SourceRefused(key, N_("%(key)s: this value is not accepted."), key=key)
    if isinstance(new, str) and new.startswith(ENV):
        if not secret:
            raise SourceRefused(key, N_("%(key)s: env: references are accepted for secret settings only."),
                                key=key)
        try:
            check_env_name(key, new[len(ENV):])
        except ConfigError as exc:
            raise SourceRefused(key, N_("%(key)s: env:%(name)s is not allowed; name a variable IDP_<SOMETHING> "
                                        "of your own, not a core setting such as IDP_SECRET_KEY."),
                                key=key, name=new[len(ENV):][:64]) from exc
        return new
    if secret and new is not None:
        return seal_value(new)
    return new


def check_destination(key: str, new: dict[str, Any], old: dict[str, Any]) -> None:
    """A kept secret must not follow a changed address: re-entering it is required when a URL in the
    same table changes (else a changed endpoint would receive the stored secret)."""
    kept = [k for k, v in new.items() if is_keep(v) and (is_secret_key(k) or is_hidden(old.get(k)))
            and old.get(k) not in (None, "")]
    moved = [k for k, v in new.items() if _is_url(v) and v != old.get(k)]
    if kept and moved:
        raise SourceRefused(f"{key}.{kept[0]}", N_("%(key)s: enter the secret again, because %(url_key)s now "
                                                   "sends it to a new address."),
                            key=f"{key}.{kept[0]}", url_key=f"{key}.{moved[0]}")
