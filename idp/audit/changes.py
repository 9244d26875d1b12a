"""Administrative changes: who changed what, with before and after, secrets redacted by key name."""

from __future__ import annotations

import re
from typing import Any

from idp.audit.models import record

# A field holds a secret when one of its name's words is in SECRET_WORDS, or its last word is in
# SECRET_NOUNS ("api_key", "refresh_token"; but not "token_endpoint_auth_method", "key_publish_lead").
SECRET_WORDS = frozenset({"secret", "secrets", "password", "passwords", "passphrase", "hash", "hashes", "seed",
                          "seeds", "pin"})
SECRET_NOUNS = frozenset({"key", "keys", "token", "tokens"})
REDACTED = "[redacted]"
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_WORD_BREAK = re.compile(r"[^a-z0-9]+")


def is_secret_key(name: str) -> bool:
    """True when a field name looks like it holds a secret (client_secret, api_key, passwordHash...)."""
    words = [w for w in _WORD_BREAK.split(_CAMEL.sub("_", str(name)).lower()) if w]
    return bool(words) and (any(w in SECRET_WORDS for w in words) or words[-1] in SECRET_NOUNS)


def redact(value: Any) -> Any:
    """Replace the values of secret-looking keys with "[redacted]", at any depth."""
    if isinstance(value, dict):
        return {k: REDACTED if is_secret_key(k) else redact(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return value


def changed_fields(before: dict[str, Any] | None, after: dict[str, Any] | None
                   ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Keep only the keys whose values differ (all keys when one side is None), secrets redacted."""
    if before is None or after is None:
        return (None if before is None else redact(dict(before)), None if after is None else redact(dict(after)))
    keys = [k for k in {**before, **after} if before.get(k) != after.get(k) or (k in before) != (k in after)]
    return ({k: redact({k: before[k]})[k] for k in keys if k in before},
            {k: redact({k: after[k]})[k] for k in keys if k in after})


def record_change(event: str, *, actor_id: int | None, target_type: str, target_id: Any,
                  before: dict[str, Any] | None, after: dict[str, Any] | None, client_id: str | None = None,
                  **data: Any) -> None:
    """Record an administrative change: who (actor_id), what (target), before and after.

    Only the changed keys are stored; values of secret-looking keys become "[redacted]" (the
    fact that a secret changed is still visible). `before=None` is a creation, `after=None` a
    deletion. `account_id` of the event is the actor. The caller commits.
    """
    old, new = changed_fields(before, after)
    record(event, account_id=actor_id, client_id=client_id, actor_id=actor_id, target_type=target_type,
           target_id=None if target_id is None else str(target_id), before=old, after=new, **redact(data))
