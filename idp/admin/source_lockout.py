"""Never lock every national administrator out of the console by turning identity sources off.

The rule, read from the console's guard (idp.admin.access.strong_enough: a session at the high
level, or a second factor on top of an identity verified at substantial or above) and kept
deliberately narrow. A national administrator has **a way in through the sources** when their
account is active and has a linked identity (LinkedIdentity) at a source that is turned on and
running, such that what that source can prove for them - the lower of the link's level and the
source's `max_level` - is:
- high: a login through the source alone is admin-grade; or
- substantial, and the account has a second factor of its own (an authenticator app or a security
  key; recovery codes only back those up): the source, then the second factor.

Turning a source off is refused when some national administrator has such a way in now and none
would have one afterwards. Other ways (a password with a second factor, a passkey) are not counted,
so the check may refuse when a person could still get in, never the other way round. When no
national administrator has a way in to begin with, the switch is not what locks them out and is
allowed (e.g. the first administrator set up on the command line, before any source is linked).
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select

from idp.accounts.models import Account
from idp.accounts.models import LinkedIdentity
from idp.accounts.roles import NATIONAL_ADMIN
from idp.accounts.roles import AccountRole
from idp.admin.source_values import SourceRefused
from idp.auth.mfa import BACKUP_KINDS
from idp.auth.mfa import enrolled_factors
from idp.extensions import db
from idp.i18n import N_
from idp.verifiers.base import Level
from idp.verifiers.overrides import VerifierOverride
from idp.verifiers.overrides import is_enabled
from idp.verifiers.overrides import stored_overrides
from idp.verifiers.registry import verifiers


class AdminLockout(SourceRefused):
    """Turning the source off would leave no national administrator a way into the console."""

    status = 409
    error = "would_lock_out_admins"


def _switched_on() -> dict[str, Level]:
    """The sources on (as the database says now, in this transaction) and running here: id → max_level."""
    stored = {row.verifier_id: row.enabled for row in db.session.execute(select(VerifierOverride)).scalars()}
    configs = stored_overrides().configs
    return {verifier_id: verifier.info.max_level for verifier_id, verifier in verifiers().items()
            if verifier_id in configs and (stored.get(verifier_id) if stored.get(verifier_id) is not None
                                           else is_enabled(configs[verifier_id]))}


def has_second_factor(account: Account) -> bool:
    """Whether the account has a second factor that is not only a backup (idp.auth.mfa)."""
    return any(factor.kind not in BACKUP_KINDS for factor in enrolled_factors(account))


def admins_with_a_way_in(sources: Mapping[str, Level]) -> set[int]:
    """The national administrators (account ids) who can reach the console through `sources` (id → max_level)."""
    rows = db.session.execute(
        select(Account, LinkedIdentity).join(AccountRole, AccountRole.account_id == Account.id)
        .join(LinkedIdentity, LinkedIdentity.account_id == Account.id)
        .where(AccountRole.role == NATIONAL_ADMIN, LinkedIdentity.source.in_(sorted(sources)))
        .order_by(Account.id, LinkedIdentity.id)).all()
    found: set[int] = set()
    for account, link in rows:
        if account.id in found or not account.is_active:
            continue
        proven = min(link.level, int(sources[link.source]))
        if proven >= Level.HIGH or (proven >= Level.SUBSTANTIAL and has_second_factor(account)):
            found.add(account.id)
    return found


def check_admins_keep_a_way_in(verifier_id: str) -> None:
    """Raise AdminLockout if `verifier_id`, just switched off in this transaction, was the last source
    giving a national administrator an admin-grade login. Call after the switch is stored (and the
    source revision row locked, idp.verifiers.overrides.bump_revision), so two switches cannot race."""
    after = _switched_on()
    after.pop(verifier_id, None)
    running = verifiers().get(verifier_id)
    if running is None or admins_with_a_way_in(after):
        return
    if admins_with_a_way_in({**after, verifier_id: running.info.max_level}):
        raise AdminLockout(f"verifiers.{verifier_id}", N_(
            "This source cannot be turned off: it is the last way for a national administrator to log in to "
            "the admin console (at the high level, or at the substantial level with a second factor). Link "
            "another source that is turned on to a national administrator's account first."))
