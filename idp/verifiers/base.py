"""The verifier contract: levels, identity assertions, attempts and interaction steps.

A flow has two calls. `begin(attempt)` says what the browser does next (a Step);
`complete(attempt, params)` checks what came back and returns an IdentityAssertion, or a further
Step for multi-stage flows (phone number, then SMS code), or raises VerificationFailed /
SourceUnavailable. State between the two calls lives in `attempt.data`,
which the core stores server-side; a verifier never touches accounts, sessions or tokens.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from typing import Any
from typing import Protocol
from typing import runtime_checkable


class Level(enum.IntEnum):
    """Assurance levels, ordered (eIDAS low/substantial/high; NIST IAL/AAL 1-3)."""

    NONE = 0  # confirms something (e.g. an address by letter) but proves no identity alone
    LOW = 1
    SUBSTANTIAL = 2
    HIGH = 3

    @property
    def acr(self) -> str | None:
        return ACR_BY_LEVEL.get(self)

    @classmethod
    def from_acr(cls, acr: str) -> Level | None:
        return LEVEL_BY_ACR.get(acr)

    @classmethod
    def parse(cls, name: str) -> Level:
        """Read a level name from configuration (`"substantial"`, `"HIGH"`); raise ValueError."""
        try:
            return cls[name.strip().upper()]
        except KeyError as exc:
            raise ValueError(f"unknown level {name!r}; use none, low, substantial or high") from exc


ACR_BY_LEVEL = {
    Level.LOW: "urn:vn:gov:sso:loa:low",
    Level.SUBSTANTIAL: "urn:vn:gov:sso:loa:substantial",
    Level.HIGH: "urn:vn:gov:sso:loa:high",
}
LEVEL_BY_ACR = {acr: level for level, acr in ACR_BY_LEVEL.items()}


class Interaction(enum.StrEnum):
    """How a source talks to the person."""

    REDIRECT = "redirect"  # an upstream provider (VNeID, a ministry's IdP)
    CHALLENGE = "challenge"  # a form in our pages (one-time code, certificate signature)
    ASYNC = "async"  # completed later by a third party (postal clerk, letter)


@dataclass(frozen=True, slots=True)
class VerifierInfo:
    """What a module declares about itself."""

    kind: str
    names: Mapping[str, str]  # locale -> display name, e.g. {"vi": "...", "en": "..."}
    max_level: Level
    attributes: tuple[str, ...]  # what it can vouch for: personal_id, full_name, birthdate, ...
    interaction: Interaction

    def name_for(self, locale: str) -> str:
        return self.names.get(locale) or self.names.get("en") or self.kind


@dataclass(frozen=True, slots=True)
class IdentityAssertion:
    """The only output of a verifier: who the source says this is, how well, and when."""

    source: str  # configured verifier id, e.g. "vneid"
    subject: str  # stable identifier at the source
    level: Level
    amr: tuple[str, ...]  # RFC 8176 values plus the source's own, e.g. ("vneid",), ("sms", "mno")
    verified_at: datetime  # timezone-aware UTC
    claims: Mapping[str, str]  # only what the source vouches for: personal_id, tax_code, full_name, ...
    evidence_ref: str | None = None  # source transaction id, for audit; never sent to portals
    extra: Mapping[str, Any] = field(default_factory=dict)  # e.g. {"vn_eid_level": 2}

    def __repr__(self) -> str:  # no personal data in logs
        return f"IdentityAssertion(source={self.source!r}, level={self.level.name}, amr={self.amr!r})"

    @property
    def identifier(self) -> str | None:
        """The national key the assertion carries: personal ID number or tax code."""
        return self.claims.get("personal_id") or self.claims.get("tax_code")


@dataclass
class Attempt:
    """One try at one source; `data` is the verifier's server-side scratch space."""

    id: str
    verifier_id: str
    data: dict[str, Any]
    created_at: datetime
    expires_at: datetime
    client_ip: str | None = None
    # When someone is logged in: an opaque, stable reference to their account (the same for every
    # attempt of that account at this verifier; not the account id) and what is on file that a
    # source may need, e.g. {"address": "...", "personal_id": "..."}. Read-only for verifiers.
    account_ref: str | None = None
    on_file: Mapping[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Attempt(id={self.id[:8]}…, verifier_id={self.verifier_id!r})"


@dataclass(frozen=True, slots=True)
class Redirect:
    """Send the browser to an upstream provider."""

    url: str


@dataclass(frozen=True, slots=True)
class Prompt:
    """Show a form in our pages (template under templates/verifiers/), then POST to complete."""

    template: str
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Pending:
    """Wait for a third party; `message` says what the person should do meanwhile."""

    message: str
    fields: Mapping[str, Any] = field(default_factory=dict)


Step = Redirect | Prompt | Pending


@runtime_checkable
class Verifier(Protocol):
    id: str
    info: VerifierInfo

    def begin(self, attempt: Attempt) -> Step: ...

    def complete(self, attempt: Attempt, params: Mapping[str, str]) -> IdentityAssertion | Step: ...


@dataclass(frozen=True)
class Services:
    """What the core lends every verifier at creation: nothing that reaches accounts or tokens.

    - `hit(key, limit)`: count one event against a limit such as "5 per 10 minutes" (shared
      across workers through the rate-limit storage); False once the limit is exceeded.
    - `now()`: the current time, timezone-aware UTC (tests move it).
    - `outbox(channel, to, message)`: deliver a message through a sandbox outbox (development
      only; real gateways are the module's own adapters).
    - `sandbox`: whether sandbox stand-ins may be used (false in production).
    - `callback_url(verifier_id)`: the fixed absolute URL an upstream provider redirects back to
      (register it upstream as the redirect URI); send the attempt id as `state`.
    """

    hit: Callable[[str, str], bool]
    now: Callable[[], datetime]
    outbox: Callable[[str, str, str], None]
    sandbox: bool
    callback_url: Callable[[str], str] = lambda verifier_id: f"http://localhost/auth/sources/{verifier_id}/callback"


Factory = Callable[[str, Mapping[str, Any], Services], Verifier]


@runtime_checkable
class Revalidating(Protocol):
    """Optional: re-check an earlier assertion (e.g. certificate revocation)."""

    def revalidate(self, assertion: IdentityAssertion) -> IdentityAssertion: ...


@runtime_checkable
class ReadsHeaders(Protocol):
    """Optional: request headers the module reads, e.g. a client certificate forwarded by a TLS
    terminator. The core passes each as `params["header:<lower-case name>"]`, and always passes
    `params["peer_addr"]`, the address of the direct TCP peer (the proxy, when there is one),
    beside `params["remote_addr"]`, the client address."""

    headers: tuple[str, ...]


@runtime_checkable
class SendsBrowser(Protocol):
    """Optional, for REDIRECT sources: the origins (`scheme://host[:port]`) the browser is sent to when
    a form on our pages starts this source. Pages allow them in CSP `form-action`, because browsers
    apply it to the redirects that follow a form submission (else the source's button does nothing).
    Must not touch the network: it is asked while a page's headers are written."""

    def browser_origins(self) -> tuple[str, ...]: ...


@runtime_checkable
class Forgetting(Protocol):
    """Optional: delete what the module keeps of its own about an account (rows under `account_ref`,
    the opaque reference of Attempt.account_ref), when the account is deleted. Returns how many rows
    went; the caller commits. Must be idempotent: a reference with nothing stored is not an error."""

    def forget(self, account_ref: str) -> int: ...


@runtime_checkable
class HealthReporting(Protocol):
    """Optional: tell whether the upstream answers, for the login page."""

    def is_healthy(self) -> bool: ...
