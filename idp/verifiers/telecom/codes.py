"""One-time codes sent by SMS: 6 random digits, stored only as a keyed hash, single use.

A code lives in `attempt.data` as {"salt", "mac", "sent_at", "tries"}: the MAC is
HMAC-SHA256(key, attempt id | salt | code) with a fresh random salt per code, so a copy of the
attempt table reveals nothing without the module's key, and a code never completes another
attempt. Checking compares MACs with `hmac.compare_digest` (constant time). Rules (NIST SP 800-63B
§5.1.3 and §5.2.2): valid for `ttl` (5 minutes) from sending, at most `max_tries` (5) wrong
entries, then locked; a new code (resend) replaces the old one.

`attempt.data` is read and written back by value, without a lock: two requests that arrive
together both read the same `tries`. So `check` also takes `claim_try`, an atomic counter shared
by every worker (the verifier passes the core's rate limiter): it refuses a try beyond `max_tries`
for this code however the requests interleave.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import Any

from idp.i18n import N_
from idp.verifiers.errors import VerificationFailed

LENGTH = 6
# A message per number of tries left (messages are translated whole, never formatted afterwards).
TRIES_LEFT = {
    1: N_("The code is not correct. You have 1 try left."),
    2: N_("The code is not correct. You have 2 tries left."),
    3: N_("The code is not correct. You have 3 tries left."),
    4: N_("The code is not correct. You have 4 tries left."),
}
MAX_TRIES_LIMIT = max(TRIES_LEFT) + 1


@dataclass(frozen=True, slots=True)
class CodeRules:
    ttl: timedelta = timedelta(minutes=5)
    max_tries: int = 5


def new_code() -> str:
    """Return 6 random digits (uniform, from the operating system's CSPRNG)."""
    return f"{secrets.randbelow(10**LENGTH):0{LENGTH}d}"


def _mac(key: bytes, attempt_id: str, salt: str, code: str) -> str:
    return hmac.new(key, f"{attempt_id}|{salt}|{code}".encode(), hashlib.sha256).hexdigest()


def issue(key: bytes, attempt_id: str, code: str, now: datetime) -> dict[str, Any]:
    """Return the stored form of a freshly sent code (no code in it)."""
    salt = secrets.token_hex(16)
    return {"salt": salt, "mac": _mac(key, attempt_id, salt, code), "sent_at": now.isoformat(), "tries": 0}


def is_well_formed(value: object) -> bool:
    return isinstance(value, str) and len(value) == LENGTH and all(c in "0123456789" for c in value)


def check(stored: dict[str, Any], key: bytes, attempt_id: str, typed: str, now: datetime, rules: CodeRules,
          claim_try: Callable[[], bool] = lambda: True) -> None:
    """Accept the typed code or raise VerificationFailed; counts the try in `stored` (changed in
    place: give a copy when the caller's storage notices changes by value only).

    `claim_try()` is called once per comparison and must answer False once this code has had
    `max_tries` comparisons (an atomic counter: concurrent requests see stale copies of `stored`).

    Raises `code_expired` once `ttl` has passed since sending (final), `too_many_attempts` on the
    `max_tries`-th wrong code and afterwards (final), `code_wrong` with the tries left otherwise.
    """
    sent_at = datetime.fromisoformat(stored["sent_at"])
    if now >= sent_at + rules.ttl:
        raise expired()
    if stored["tries"] >= rules.max_tries or not claim_try():
        stored["tries"] = max(stored["tries"], rules.max_tries)
        raise too_many_tries()
    expected = stored["mac"]
    given = _mac(key, attempt_id, stored["salt"], typed)
    if hmac.compare_digest(expected, given):
        return
    stored["tries"] += 1
    left = rules.max_tries - stored["tries"]
    if left <= 0:
        raise too_many_tries()
    raise VerificationFailed("code_wrong", TRIES_LEFT[left])


def expired() -> VerificationFailed:
    return VerificationFailed("code_expired", N_("This code has expired. Start again to get a new code."))


def too_many_tries() -> VerificationFailed:
    return VerificationFailed("too_many_attempts", N_(
        "The code was entered wrongly too many times. Start again to get a new code."))
