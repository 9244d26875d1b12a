"""The linking review queue: assertions idp.accounts.linking would not link on its own, decided by staff.

A review holds what a source asserted (source, subject, level, claims) and the account it points at
(the candidate: the account holding that identifier or that link) and, when someone was logged in,
that account. Reasons (linking.py's rules): `subject_linked_elsewhere`, `identifier_differs_from_session`,
`level_too_low_to_link`, `full_name_differs`, `birthdate_differs`.

Decisions (accounts.write; a reason is required; audited as admin.review.merged / admin.review.kept_apart):
- **merge**: the asserted identity belongs to the candidate account. It is linked to the candidate as
  linking would have done (the link, then the claims with their provenance: linking.link_reviewed);
  when it is already linked to the candidate nothing is added. Refused (409) without a candidate, or
  when the identity is meanwhile linked to another account.
- **keep apart**: the identity is not linked to the candidate, and the logged-in account never gets it.
  When the source asserted a personal ID or tax code that still has no account, and the identity is
  linked nowhere (the `identifier_differs_from_session` case without a candidate), the national
  account is created for that identifier and linked, as linking does for a person who is not logged
  in (linking.apply_assertion, rule 2). Otherwise the review is closed without changes.
A review is decided once: the decision is a compare-and-set on `status = 'open'` (a second decision,
concurrent or late, is 409), made in the same transaction as its effects.

Data minimisation: once decided, the asserted claims are no longer needed. In the same transaction the
review keeps only the masked forms of what identifies the person (personal ID, tax code, phone, e-mail,
name as initials; idp.masking) and the claims that are not personal data (`kind`, `agency`); the other
claims (date of birth, sex, address, ...) are dropped and the source's subject is masked too (it may be
the personal ID). The source, level, reason, evidence reference, accounts and the decision stay: the
decision record and the audit event need nothing more.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy import update

from idp.accounts.linking import MUST_AGREE
from idp.accounts.linking import LinkingNeedsReview
from idp.accounts.linking import apply_assertion
from idp.accounts.linking import link_reviewed
from idp.accounts.models import Account
from idp.accounts.models import LinkedIdentity
from idp.accounts.models import LinkReview
from idp.accounts.service import find_account
from idp.admin.access import Admin
from idp.admin.account_admin import DB_INT_MAX
from idp.admin.account_admin import AdminRefusal
from idp.admin.account_admin import check_reason
from idp.audit import record_change
from idp.dbtypes import utcnow
from idp.errors import IdpError
from idp.extensions import db
from idp.i18n import N_
from idp.masking import MASK_OF
from idp.masking import mask_identifier
from idp.verifiers.base import IdentityAssertion
from idp.verifiers.base import Level

OPEN = "open"
MERGE, KEEP_APART = "merge", "keep_apart"
DECISIONS = (MERGE, KEEP_APART)
STATUS_OF_DECISION = {MERGE: "merged", KEEP_APART: "kept_apart"}
LIST_LIMIT = 100
# Claims shown as they are while a review is open (the staff member compares them with the account);
# others are masked.
CLEAR_CLAIMS = frozenset({"full_name", "birthdate", "gender", "agency", "kind"})
# Claims a decided review keeps as they are (not personal data); MASK_OF's are kept masked, others dropped.
KEPT_CLAIMS = frozenset({"agency", "kind"})


def get_review(review_id: int) -> LinkReview:
    review = db.session.get(LinkReview, review_id) if 0 < review_id <= DB_INT_MAX else None
    if review is None:
        raise AdminRefusal(404, "review_not_found", N_("No review has this number."))
    return review


def list_reviews(status: str = OPEN) -> list[LinkReview]:
    """Reviews with this status (`open`, `merged`, `kept_apart`), oldest first for open ones."""
    if status not in (OPEN, *STATUS_OF_DECISION.values()):
        raise AdminRefusal(400, "review_status", N_("Unknown review status."))
    order = LinkReview.id if status == OPEN else LinkReview.resolved_at.desc()
    return list(db.session.execute(select(LinkReview).where(LinkReview.status == status).order_by(order)
                                   .limit(LIST_LIMIT)).scalars())


def _account_ref(account_id: int | None) -> dict[str, Any] | None:
    account = db.session.get(Account, account_id) if account_id is not None else None
    if account is None:
        return None
    return {"id": account.id, "kind": account.kind, "status": account.status,
            "identifier_masked": mask_identifier(account.identifier)}


def _shown_claim(name: str, value: object) -> str:
    if name in CLEAR_CLAIMS:
        return str(value)
    return (MASK_OF.get(name) or mask_identifier)(value)


def minimised_claims(claims: dict[str, Any]) -> dict[str, str]:
    """What a decided review keeps of the asserted claims: masked identifying claims, KEPT_CLAIMS."""
    kept = {name: MASK_OF[name](value) for name, value in claims.items() if name in MASK_OF}
    kept.update((name, str(value)) for name, value in claims.items() if name in KEPT_CLAIMS)
    return kept


def _minimise(review: LinkReview) -> bool:
    """Drop the personal data a decided review no longer needs (see the module docstring); True if
    anything changed (masking a masked value gives it back, so a minimised review stays as it is)."""
    claims, subject = minimised_claims(dict(review.claims or {})), mask_identifier(review.subject)
    changed = claims != (review.claims or {}) or subject != review.subject
    review.claims, review.subject = claims, subject
    return changed


def minimise_decided_reviews() -> int:
    """Minimise every decided review that still holds its claims (decided before minimisation existed);
    return how many changed. Run by `idp purge`; the caller commits."""
    decided = select(LinkReview).where(LinkReview.status != OPEN).execution_options(yield_per=500)
    return sum(_minimise(review) for review in db.session.execute(decided).scalars())


def _disagreements(review: LinkReview) -> list[dict[str, Any]]:
    """What did not agree: claimed versus on file (the candidate account's value)."""
    candidate = db.session.get(Account, review.candidate_account_id) if review.candidate_account_id else None
    rows = []
    for claim in MUST_AGREE:
        if review.reason == f"{claim}_differs" and candidate is not None:
            on_file = getattr(candidate, claim)
            rows.append({"what": claim, "asserted": str(review.claims.get(claim, "")),
                         "on_file": on_file.isoformat() if hasattr(on_file, "isoformat") else str(on_file or "")})
    if review.reason == "level_too_low_to_link":
        rows.append({"what": "level", "asserted": str(review.level), "on_file": str(int(Level.SUBSTANTIAL))})
    if review.reason in ("identifier_differs_from_session", "subject_linked_elsewhere"):
        session = db.session.get(Account, review.session_account_id) if review.session_account_id else None
        asserted = review.claims.get("personal_id") or review.claims.get("tax_code")
        rows.append({"what": "identifier", "asserted": mask_identifier(asserted),
                     "on_file": mask_identifier(session.identifier) if session else ""})
    return rows


def review_summary(review: LinkReview) -> dict[str, Any]:
    """A review for the queue: masked, no claims."""
    return {"id": review.id, "status": review.status, "reason": review.reason, "source": review.source,
            "level": review.level, "created_at": review.created_at, "resolved_at": review.resolved_at,
            "candidate": _account_ref(review.candidate_account_id),
            "session_account": _account_ref(review.session_account_id)}


def review_detail(review: LinkReview) -> dict[str, Any]:
    """A review with what disagreed and the asserted claims (identifiers and contacts masked)."""
    detail = review_summary(review)
    detail.update(
        claims={name: _shown_claim(name, value) for name, value in sorted(review.claims.items())},
        disagreements=_disagreements(review),
        decisions=[d for d in DECISIONS if d != MERGE or review.candidate_account_id is not None],
        resolved_by=review.resolved_by, resolved_by_client=review.resolved_by_client,
        resolution_reason=review.resolution_reason)
    return detail


def _assertion(review: LinkReview) -> IdentityAssertion:
    """The assertion as the source made it (the methods are not kept: linking does not use them)."""
    return IdentityAssertion(source=review.source, subject=review.subject, level=Level(review.level), amr=(),
                             verified_at=review.created_at, claims=dict(review.claims),
                             evidence_ref=review.evidence_ref)


def _claim_decision(admin: Admin, review_id: int, decision: str, reason: str) -> LinkReview:
    """Compare-and-set open → decided; raise AdminRefusal 404/409."""
    get_review(review_id)
    done = db.session.execute(
        update(LinkReview).where(LinkReview.id == review_id, LinkReview.status == OPEN)
        .values(status=STATUS_OF_DECISION[decision], resolved_at=utcnow(), resolved_by=admin.account_id,
                resolved_by_client=admin.client_id, resolution_reason=reason)
        .execution_options(synchronize_session=False)).rowcount
    if done != 1:
        raise AdminRefusal(409, "review_decided", N_("This review has already been decided."))
    review = db.session.get(LinkReview, review_id)
    db.session.refresh(review)
    return review


def _existing_link(review: LinkReview) -> LinkedIdentity | None:
    return db.session.execute(select(LinkedIdentity).where(
        LinkedIdentity.source == review.source, LinkedIdentity.subject == review.subject)).scalar_one_or_none()


def _merge(review: LinkReview) -> dict[str, Any]:
    candidate = db.session.get(Account, review.candidate_account_id) if review.candidate_account_id else None
    if candidate is None:
        raise AdminRefusal(409, "no_candidate", N_("There is no account to link this identity to. Keep it apart."))
    link = _existing_link(review)
    if link is not None and link.account_id != candidate.id:
        raise AdminRefusal(409, "linked_elsewhere", N_("This identity is now linked to another account."))
    if link is None:
        link_reviewed(candidate, _assertion(review))
    return {"account_id": candidate.id, "linked": link is None, "created": False}


def _keep_apart(review: LinkReview) -> dict[str, Any]:
    identifier = review.claims.get("personal_id") or review.claims.get("tax_code")
    if (review.candidate_account_id is not None or not identifier or _existing_link(review) is not None
            or find_account(identifier) is not None):
        return {"account_id": None, "linked": False, "created": False}
    try:
        result = apply_assertion(_assertion(review), None)  # rule 2: the national account for that identifier
    except (LinkingNeedsReview, IdpError) as exc:
        raise AdminRefusal(409, exc.code, exc.message) from exc
    return {"account_id": result.account.id, "linked": True, "created": result.created}


def decide_review(admin: Admin, review_id: int, decision: object, reason: object) -> dict[str, Any]:
    """Merge or keep apart an open review; audited. Raise AdminRefusal (400, 404, 409). The caller
    commits, or rolls back on a refusal (the review stays open)."""
    if decision not in DECISIONS:
        raise AdminRefusal(400, "decision_unknown", N_("Choose merge or keep apart."))
    reason = check_reason(reason)
    review = _claim_decision(admin, review_id, str(decision), reason)
    outcome = _merge(review) if decision == MERGE else _keep_apart(review)
    _minimise(review)
    record_change(f"admin.review.{review.status}", **admin.actor, target_type="link_review", target_id=review.id,
                  before={"status": OPEN}, after={"status": review.status, "account_id": outcome["account_id"]},
                  reason=reason, review_reason=review.reason, source=review.source,
                  candidate_account_id=review.candidate_account_id, linked=outcome["linked"],
                  created=outcome["created"])
    return {"id": review.id, "status": review.status, **outcome}
