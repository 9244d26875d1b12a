"""One conformance suite that every verifier module runs, built-in or from an outside package.

A module's tests provide a `Driver` that knows how to build the verifier and how to answer its
steps the way a real person (and the module's sandbox) would. The checks then hold every module
to the same contract (docs/verifiers.md):

- round trip: begin → (stages) → complete gives an IdentityAssertion naming this source, with an
  aware `verified_at`, a level no higher than `max_level`, and at least one `amr` value;
- replay: completing the same attempt again never gives a second assertion;
- wrong attempt: the answer to one attempt never completes another;
- tampering and hostile input: each answer value altered, emptied or oversized, and an empty
  answer, give VerificationFailed / SourceUnavailable or a further step — never an assertion,
  never another exception;
- expiry: the answer given after `driver.stale_after` never gives an assertion;
- privacy: `repr` of the verifier, the attempt and the assertion shows none of the claim values.

Use from pytest: `for check in CHECKS: check(driver, harness)` (see tests/verifiers/test_conformance.py).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any
from typing import Protocol

from idp.errors import SourceUnavailable
from idp.errors import VerificationFailed
from idp.verifiers.base import Attempt
from idp.verifiers.base import IdentityAssertion
from idp.verifiers.base import Services
from idp.verifiers.base import Step
from idp.verifiers.base import Verifier

ATTEMPT_TTL = timedelta(minutes=15)
OVERSIZED = "9" * 20_000


class Clock:
    """A clock the checks move forward."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


@dataclass
class Harness:
    """The services a verifier is lent, in memory: a movable clock, counted limits, a list outbox."""

    clock: Clock = field(default_factory=Clock)
    outbox: list[tuple[str, str, str]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def hit(self, key: str, limit: str) -> bool:
        amount = int(limit.split()[0])
        self.counts[key] = self.counts.get(key, 0) + 1
        return self.counts[key] <= amount

    @property
    def services(self) -> Services:
        return Services(hit=self.hit, now=self.clock, outbox=lambda *message: self.outbox.append(message),
                        sandbox=True, callback_url=self.callback_url)

    def callback_url(self, verifier_id: str) -> str:
        return f"http://localhost/auth/sources/{verifier_id}/callback"

    def new_attempt(self, verifier_id: str, account_ref: str | None = None,
                    on_file: Mapping[str, str] | None = None) -> Attempt:
        now = self.clock()
        return Attempt(id=secrets.token_urlsafe(32), verifier_id=verifier_id, data={}, created_at=now,
                       expires_at=now + ATTEMPT_TTL, client_ip="127.0.0.1", account_ref=account_ref,
                       on_file=dict(on_file or {}))


class Driver(Protocol):
    """What a module's tests provide to run the suite."""

    kind: str
    stale_after: timedelta  # after this long, a prepared answer must no longer succeed
    ignored_params: frozenset[str]  # answer keys the module does not read (not tampered with)

    def build(self, harness: Harness) -> Verifier:
        """Create the verifier through the module's `create` with sandbox settings."""

    def new_attempt(self, harness: Harness, verifier: Verifier) -> Attempt:
        """A fresh attempt as the core would make it (e.g. with `account_ref` when the source needs one)."""

    def prepare(self, harness: Harness, verifier: Verifier, attempt: Attempt, step: Step) -> dict[str, str]:
        """Answer `step` and any further stages; return the answer of the final `complete` call."""


def _outcome(verifier: Verifier, attempt: Attempt, params: Mapping[str, str]) -> IdentityAssertion | Step | Exception:
    try:
        return verifier.complete(attempt, params)
    except (VerificationFailed, SourceUnavailable) as exc:
        return exc


def _ready(driver: Driver, harness: Harness, verifier: Verifier) -> tuple[Attempt, dict[str, str]]:
    attempt = driver.new_attempt(harness, verifier)
    step = verifier.begin(attempt)
    return attempt, driver.prepare(harness, verifier, attempt, step)


def check_round_trip(driver: Driver, harness: Harness) -> IdentityAssertion:
    verifier = driver.build(harness)
    attempt, params = _ready(driver, harness, verifier)
    result = verifier.complete(attempt, params)
    assert isinstance(result, IdentityAssertion), f"{driver.kind}: the prepared answer gave {result!r}"
    assert result.source == verifier.id
    assert result.verified_at.tzinfo is not None and result.verified_at.utcoffset() == timedelta(0)
    assert result.level <= verifier.info.max_level
    assert result.amr and all(isinstance(value, str) and value for value in result.amr)
    assert result.subject
    return result


def check_replay(driver: Driver, harness: Harness) -> None:
    verifier = driver.build(harness)
    attempt, params = _ready(driver, harness, verifier)
    assert isinstance(verifier.complete(attempt, params), IdentityAssertion)
    again = _outcome(verifier, attempt, params)
    assert not isinstance(again, IdentityAssertion), f"{driver.kind}: a replayed completion gave a second assertion"


def check_wrong_attempt(driver: Driver, harness: Harness) -> None:
    verifier = driver.build(harness)
    _, params = _ready(driver, harness, verifier)
    other = driver.new_attempt(harness, verifier)
    verifier.begin(other)
    outcome = _outcome(verifier, other, params)
    assert not isinstance(outcome, IdentityAssertion), f"{driver.kind}: one attempt's answer completed another"


def check_tampering(driver: Driver, harness: Harness) -> None:
    verifier = driver.build(harness)
    attempt, params = _ready(driver, harness, verifier)
    assert not isinstance(_outcome(verifier, attempt, {}), IdentityAssertion), f"{driver.kind}: empty answer"
    for key in sorted(set(params) - driver.ignored_params):
        for altered in (_flip(params[key]), "", OVERSIZED, "\x00<script>'\""):
            verifier = driver.build(harness)
            attempt, fresh = _ready(driver, harness, verifier)
            outcome = _outcome(verifier, attempt, {**fresh, key: altered})
            assert not isinstance(outcome, IdentityAssertion), f"{driver.kind}: {key}={altered[:20]!r} succeeded"


def check_expiry(driver: Driver, harness: Harness) -> None:
    verifier = driver.build(harness)
    attempt, params = _ready(driver, harness, verifier)
    harness.clock.advance(driver.stale_after + timedelta(seconds=1))
    outcome = _outcome(verifier, attempt, params)
    assert not isinstance(outcome, IdentityAssertion), f"{driver.kind}: a stale answer succeeded"


def check_no_personal_data_in_repr(driver: Driver, harness: Harness) -> None:
    verifier = driver.build(harness)
    attempt, params = _ready(driver, harness, verifier)
    assertion = verifier.complete(attempt, params)
    assert isinstance(assertion, IdentityAssertion)
    shown = " ".join((repr(verifier), repr(attempt), repr(assertion), str(assertion)))
    for name, value in assertion.claims.items():
        if len(str(value)) >= 4 and name not in ("kind", "gender"):
            assert str(value) not in shown, f"{driver.kind}: {name} appears in a repr"


def _flip(value: str) -> str:
    if not value:
        return "x"
    last = value[-1]
    return value[:-1] + ("A" if last != "A" else "B")


CHECKS: tuple[Callable[[Driver, Harness], Any], ...] = (
    check_round_trip, check_replay, check_wrong_attempt, check_tampering, check_expiry,
    check_no_personal_data_in_repr,
)
