"""The clerk's counter check: find a request by its reference, compare the card, confirm or reject.

Only accounts holding the `postal_clerk` role (idp.accounts.roles) may use these pages, at the
session level the counter sources ask for (`clerk_min_level`). Every look-up and decision is
audited with ids and the reference only; the personal ID number stays masked until the clerk
types the one printed on the card.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint
from flask import abort
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from idp.accounts.roles import POSTAL_CLERK
from idp.accounts.roles import roles_of
from idp.audit import record
from idp.auth.attempts import account_ref
from idp.auth.session import current_login
from idp.errors import error_page
from idp.extensions import db
from idp.extensions import limiter
from idp.i18n import N_
from idp.masking import mask_personal_id
from idp.verifiers.base import Level
from idp.verifiers.postal.codes import display
from idp.verifiers.postal.codes import normalise
from idp.verifiers.postal.counter import ClerkInputError
from idp.verifiers.postal.counter import CounterVerifier
from idp.verifiers.postal.counter import RequestClosed
from idp.verifiers.postal.models import REJECT_REASONS
from idp.verifiers.postal.models import CounterRequest
from idp.verifiers.postal.models import RequestStatus
from idp.verifiers.postal.models import find_request
from idp.verifiers.registry import verifiers

bp = Blueprint("postal", __name__, url_prefix="/postal")
REASON_LABELS = {
    "personal_id_mismatch": N_("the personal ID number differs"),
    "name_mismatch": N_("the name differs"),
    "card_invalid": N_("the card cannot be accepted"),
    "card_expired": N_("the card has expired"),
    "photo_mismatch": N_("the photo does not match the person"),
    "person_absent": N_("the card holder is not present"),
    "other": N_("another reason"),
}
# A clerk looks up a few requests an hour; far more means someone is guessing references. One
# budget for look-ups and decisions together: a decision names the reference in its URL, so it is
# a look-up too.
CLERK_LIMIT = "20 per minute;300 per day"


@dataclass(frozen=True, slots=True)
class Clerk:
    account_id: int
    post_office: str | None


def _counters() -> dict[str, CounterVerifier]:
    return {vid: v for vid, v in verifiers().items() if isinstance(v, CounterVerifier)}


def _clerk_key() -> str:
    """Rate-limit per clerk account (several clerks may share a post office's address)."""
    login = current_login()
    return f"postal-clerk:{login.account.id}" if login else get_remote_address()


clerk_limit = limiter.shared_limit(CLERK_LIMIT, scope="postal-clerk", key_func=_clerk_key)


def _clerk() -> Clerk | Response | tuple[str, int]:
    """The clerk using the page, or the response that sends anyone else away."""
    counters = _counters()
    if not counters:
        abort(404)
    login = current_login()
    if login is None:
        return redirect(url_for("auth.login", next=url_for("postal.clerk")), code=303)
    grants = roles_of(login.account.id, POSTAL_CLERK)
    if not grants:
        return error_page(403, _("For post office clerks only"), _(
            "This page is for post office clerks. If you work at a post office, ask your administrator "
            "for the postal clerk role."))
    needed = max(v.clerk_min_level for v in counters.values())
    if (Level.from_acr(login.acr) or Level.LOW) < needed:
        return redirect(url_for("auth.login", next=url_for("postal.clerk"), acr=needed.acr), code=303)
    return Clerk(login.account.id, grants[0].scope)


@bp.get("/clerk")
def clerk() -> Response | str | tuple[str, int]:
    who = _clerk()
    if not isinstance(who, Clerk):
        return who
    return render_template("postal/clerk_lookup.html", form=FlaskForm(), error=None, reference="")


@bp.post("/clerk")
@clerk_limit
def lookup() -> Response | str | tuple[str, int]:
    who = _clerk()
    if not isinstance(who, Clerk):
        return who
    typed = request.form.get("reference", "")
    reference = normalise(typed)
    row = find_request(reference) if reference else None
    if row is None:
        record("postal.counter_lookup_failed", account_id=who.account_id, post_office=who.post_office,
               reason="malformed" if reference is None else "unknown")
        db.session.commit()
        error, status = ((_("A reference has 10 letters and digits, for example ABCDE-12345."), 400)
                         if reference is None else (_("No request has this reference. Check it with the citizen."),
                                                    404))
        return render_template("postal/clerk_lookup.html", form=FlaskForm(), error=error,
                               reference=typed[:40]), status
    record("postal.counter_viewed", account_id=who.account_id, request_id=row.id, reference=display(row.reference),
           post_office=who.post_office)
    db.session.commit()
    return _request_page(row, None, 200)


@bp.post("/clerk/requests/<reference>")
@clerk_limit
def decide(reference: str) -> Response | str | tuple[str, int]:
    who = _clerk()
    if not isinstance(who, Clerk):
        return who
    code = normalise(reference)
    row = find_request(code) if code else None
    if row is None:  # audited like a failed look-up: guessing through this URL must show too
        record("postal.counter_lookup_failed", account_id=who.account_id, post_office=who.post_office,
               reason="malformed" if code is None else "unknown")
        db.session.commit()
        return error_page(404, _("Request not found"), _("No request has this reference. Check it with the citizen."))
    verifier = _counters().get(row.verifier_id)
    if verifier is None:
        return _request_page(row, _("This request belongs to a source that is no longer offered."), 409)
    if account_ref(row.verifier_id, who.account_id) == row.account_ref:
        record("postal.counter_self_check_refused", account_id=who.account_id, request_id=row.id,
               post_office=who.post_office)
        db.session.commit()
        return error_page(403, _("Not allowed"), _("You cannot check your own request. Ask another clerk."))
    action, details = request.form.get("action"), {}
    try:
        if action == "confirm":
            chip_read = request.form.get("chip_read") == "yes"
            outcome = verifier.confirm(row, request.form.get("personal_id", "")[:40],
                                       request.form.get("name_confirmed") == "yes", chip_read,
                                       who.account_id, who.post_office)
            details = {"chip_read": chip_read} if outcome == "confirmed" else {"reason": "personal_id_mismatch"}
        elif action == "reject":
            reason = request.form.get("reason", "")
            verifier.reject(row, reason, who.account_id, who.post_office)
            outcome, details = "rejected", {"reason": reason}
        else:  # the page shows the request: a look-up, audited as one
            record("postal.counter_viewed", account_id=who.account_id, request_id=row.id,
                   reference=display(row.reference), post_office=who.post_office)
            db.session.commit()
            return _request_page(row, _("Choose to confirm or to reject the request."), 400)
    except (ClerkInputError, RequestClosed) as exc:
        db.session.rollback()
        return _request_page(row, _(exc.message), exc.status)
    record(f"postal.counter_{outcome}", account_id=who.account_id, request_id=row.id,
           reference=display(row.reference), post_office=who.post_office, **details)
    db.session.commit()
    return render_template("postal/clerk_done.html", outcome=outcome, reference=display(row.reference),
                           reason=details.get("reason"), chip_read=details.get("chip_read"),
                           reason_labels=REASON_LABELS), 200


def _request_page(row: CounterRequest, error: str | None, status: int) -> tuple[str, int]:
    db.session.refresh(row)
    verifier = _counters().get(row.verifier_id)
    is_open = verifier is not None and verifier.is_open(row)
    expired = verifier is not None and row.status == RequestStatus.OPEN and not is_open
    return render_template(
        "postal/clerk_request.html", form=FlaskForm(), error=error, row=row, reference=display(row.reference),
        masked_personal_id=mask_personal_id(row.claimed_personal_id), full_name=row.claimed_full_name or "",
        is_open=is_open, expired=expired, reasons=REJECT_REASONS, reason_labels=REASON_LABELS), status
