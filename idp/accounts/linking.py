"""Turn identity assertions into accounts and links (the only place that does).

Rules (docs/assurance.md):
1. (source, subject) already linked: that account, unless someone else is logged in (review).
2. The assertion carries a personal ID or tax code with no account: create the national account
   from the verified claims and link it (a logged-in account with another identifier: review).
3. An account with that identifier exists: link automatically when that account is the one
   logged in, or when the assertion is substantial or higher and agrees with the verified data
   on file (name, birth date); otherwise a review, and no login.
4. No identifier (e.g. an SMS code alone): link only to the account already logged in; never
   create or find an account from a phone number or e-mail alone.
Every review and link is audited. Verified attributes follow the strongest, most recent source.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func
from sqlalchemy import select

from idp.accounts.models import Account
from idp.accounts.models import AccountKind
from idp.accounts.models import AttributeVerification
from idp.accounts.models import LinkedIdentity
from idp.accounts.models import LinkReview
from idp.accounts.service import find_account
from idp.audit import record
from idp.errors import IdpError
from idp.errors import VerificationFailed
from idp.extensions import db
from idp.i18n import N_
from idp.verifiers.base import IdentityAssertion
from idp.verifiers.base import Level

# Claim name -> account attribute it verifies.
ATTRIBUTE_OF_CLAIM = {"full_name": "full_name", "birthdate": "birthdate", "gender": "gender", "phone": "phone",
                      "email": "email", "agency": "agency"}
# An `address` claim (a postal letter) is the formatted address on file: it confirms these parts
# of the account's address and never changes them.
ADDRESS_PARTS = ("street_address", "ward_code", "province_code")
MUST_AGREE = ("full_name", "birthdate")


class LinkingNeedsReview(IdpError):
    """The assertion conflicts with what is on file; a person will look at it."""

    status = 409


@dataclass(frozen=True, slots=True)
class LinkResult:
    account: Account
    created: bool
    link: LinkedIdentity


def apply_assertion(assertion: IdentityAssertion, logged_in: Account | None) -> LinkResult:
    """Find, create or link the account for a verified assertion; raise LinkingNeedsReview or
    VerificationFailed when it must not be used to log in. The caller commits."""
    link = db.session.execute(select(LinkedIdentity).where(
        LinkedIdentity.source == assertion.source, LinkedIdentity.subject == assertion.subject)).scalar_one_or_none()
    if link is not None:
        if logged_in is not None and logged_in.id != link.account_id:
            _review("subject_linked_elsewhere", assertion, link.account_id, logged_in)
        account = db.session.get(Account, link.account_id)
        _refresh(account, link, assertion)
        return LinkResult(account, False, link)

    identifier = assertion.identifier
    if identifier is None:
        if logged_in is None:
            raise VerificationFailed("source_cannot_identify", N_(
                "This method cannot identify you on its own. Log in another way first, then add it."))
        link = _link(logged_in, assertion)
        _apply_claims(logged_in, assertion)
        return LinkResult(logged_in, False, link)

    existing = find_account(identifier)
    if existing is None:
        if logged_in is not None:
            _review("identifier_differs_from_session", assertion, None, logged_in)
        account = _create_account(identifier, assertion)
        return LinkResult(account, True, _link(account, assertion))
    if logged_in is not None and logged_in.id != existing.id:
        _review("identifier_differs_from_session", assertion, existing.id, logged_in)
    if logged_in is None:
        if assertion.level < Level.SUBSTANTIAL:
            _review("level_too_low_to_link", assertion, existing.id, None)
        disagreement = _disagreement(existing, assertion)
        if disagreement:
            _review(f"{disagreement}_differs", assertion, existing.id, None)
    link = _link(existing, assertion)
    _apply_claims(existing, assertion)
    return LinkResult(existing, False, link)


def identity_level(account: Account) -> Level:
    """How well the person behind the account was proven: the strongest linked source (else low)."""
    best = db.session.execute(select(func.max(LinkedIdentity.level)).where(
        LinkedIdentity.account_id == account.id)).scalar()
    return max(Level(best or 0), Level.LOW)


def linked_sources(account: Account) -> list[LinkedIdentity]:
    return list(db.session.execute(select(LinkedIdentity).where(LinkedIdentity.account_id == account.id)
                                   .order_by(LinkedIdentity.linked_at)).scalars())


def link_reviewed(account: Account, assertion: IdentityAssertion) -> LinkedIdentity:
    """Link an assertion a person approved in the review queue (admin console), as rule 3 would have:
    the link, then the claims with their provenance; the review stood for the checks. The caller commits."""
    link = _link(account, assertion)
    _apply_claims(account, assertion)
    return link


def unlink(account: Account, link_id: int) -> None:
    """Remove one linked source; never the last verified one (level substantial or higher), nor the
    last way to log in."""
    links = linked_sources(account)
    target = next((link for link in links if link.id == link_id), None)
    if target is None:
        raise VerificationFailed("link_unknown", N_("This linked source does not exist."))
    verified = [link for link in links if link.level >= Level.SUBSTANTIAL]
    if target in verified and len(verified) == 1:
        raise VerificationFailed("last_verified_source", N_("You cannot remove your only verified source."))
    if not _can_log_in_without(account, target, links):
        raise VerificationFailed("last_login_method", N_(
            "This is the only way you can log in. Add another way first: a password, a passkey or another source."))
    db.session.delete(target)
    record("link.removed", account_id=account.id, source=target.source)


def _can_log_in_without(account: Account, target: LinkedIdentity, links: list[LinkedIdentity]) -> bool:
    """Whether the account keeps a way to log in: a password, a passkey that can log in on its own,
    or another link of an enabled source that identifies people (a letter confirming an address does not)."""
    from idp.auth.mfa.webauthn import WebAuthnCredential
    from idp.verifiers.registry import verifiers

    if account.password_hash:
        return True
    enabled = verifiers()
    if any(link is not target and link.level >= Level.LOW and link.source in enabled
           and enabled[link.source].info.max_level >= Level.LOW for link in links):
        return True
    return db.session.execute(select(WebAuthnCredential.id).where(  # passwordless login needs a discoverable key
        WebAuthnCredential.account_id == account.id, WebAuthnCredential.discoverable.is_not(False)).limit(1)
    ).first() is not None


def _review(reason: str, assertion: IdentityAssertion, candidate_id: int | None, logged_in: Account | None) -> None:
    review = LinkReview(reason=reason, source=assertion.source, subject=assertion.subject, level=int(assertion.level),
                        candidate_account_id=candidate_id, session_account_id=logged_in.id if logged_in else None,
                        claims=dict(assertion.claims), evidence_ref=assertion.evidence_ref)
    db.session.add(review)
    db.session.flush()
    record("link.review_opened", account_id=candidate_id, review_id=review.id, reason=reason,
           source=assertion.source)
    raise LinkingNeedsReview("link_review", N_(
        "We could not confirm that this is the same person as your account. Our staff will check it; "
        "meanwhile please log in another way."))


def _disagreement(account: Account, assertion: IdentityAssertion) -> str | None:
    for claim in MUST_AGREE:
        value = assertion.claims.get(claim)
        verified = account.verification_of(claim)
        if value is None or verified is None or verified.is_self_asserted:
            continue
        if _normalise(getattr(account, claim)) != _normalise(value):
            return claim
    return None


def _normalise(value: object) -> str:
    text = value.isoformat() if isinstance(value, date) else str(value or "")
    return " ".join(text.casefold().split())


def _create_account(identifier: str, assertion: IdentityAssertion) -> Account:
    from idp.accounts.service import NewAccount
    from idp.accounts.service import create_account

    claims = assertion.claims
    kind = (AccountKind.OFFICIAL if claims.get("kind") == "official"
            else AccountKind.BUSINESS if claims.get("tax_code") and not claims.get("personal_id")
            else AccountKind.CITIZEN)
    born = date.fromisoformat(claims["birthdate"]) if claims.get("birthdate") else None
    account = create_account(NewAccount(kind=kind, identifier=identifier, full_name=claims.get("full_name") or "",
                                        birthdate=born, gender=claims.get("gender"), phone=claims.get("phone"),
                                        email=claims.get("email")),
                             source=assertion.source, level=int(assertion.level), verified_at=assertion.verified_at)
    if claims.get("agency"):
        account.agency = claims["agency"]
    return account


def _link(account: Account, assertion: IdentityAssertion) -> LinkedIdentity:
    link = LinkedIdentity(account_id=account.id, source=assertion.source, subject=assertion.subject,
                          level=int(assertion.level), linked_at=assertion.verified_at,
                          last_used_at=assertion.verified_at)
    db.session.add(link)
    db.session.flush()
    record("link.added", account_id=account.id, source=assertion.source, level=int(assertion.level))
    return link


def _refresh(account: Account, link: LinkedIdentity, assertion: IdentityAssertion) -> None:
    link.last_used_at = assertion.verified_at
    link.level = max(link.level, int(assertion.level))
    _apply_claims(account, assertion)


def _apply_claims(account: Account, assertion: IdentityAssertion) -> None:
    """Record provenance; a value changes only if this source is at least as strong as the best one."""
    for claim, attribute in ATTRIBUTE_OF_CLAIM.items():
        value = assertion.claims.get(claim)
        if not value:
            continue
        best = account.verification_of(attribute)
        if best is None or best.is_self_asserted or int(assertion.level) >= best.level:
            setattr(account, attribute, date.fromisoformat(value) if attribute == "birthdate" else value)
        _record_provenance(account, attribute, assertion)
    _confirm_address(account, assertion)


def _confirm_address(account: Account, assertion: IdentityAssertion) -> None:
    """An `address` claim equal to the address on file confirms its parts (provenance only)."""
    from idp.oidc.claims import postal_address

    claimed, current = assertion.claims.get("address"), postal_address(account)
    if not claimed or current is None or _normalise(claimed) != _normalise(current["formatted"]):
        return
    for attribute in ADDRESS_PARTS:
        if getattr(account, attribute):
            _record_provenance(account, attribute, assertion)


def _record_provenance(account: Account, attribute: str, assertion: IdentityAssertion) -> None:
    mine = next((v for v in account.verifications if v.attribute == attribute and v.source == assertion.source),
                None)
    if mine is None:
        account.verifications.append(AttributeVerification(attribute=attribute, source=assertion.source,
                                                            level=int(assertion.level),
                                                            verified_at=assertion.verified_at))
    else:
        mine.level, mine.verified_at = int(assertion.level), assertion.verified_at
