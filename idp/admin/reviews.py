"""The linking review queue in the admin console, pages and API: list, look at one (audited), decide
(merge or keep apart, with a reason). The rules live in idp.admin.review_admin."""

from __future__ import annotations

from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from idp.admin import bp
from idp.admin import nav_item
from idp.admin.access import ACCOUNTS_READ
from idp.admin.access import ACCOUNTS_WRITE
from idp.admin.access import admin_page
from idp.admin.access import current_admin
from idp.admin.account_admin import REASON_MAX
from idp.admin.account_admin import REASON_MIN
from idp.admin.account_admin import AdminRefusal
from idp.admin.account_admin import api_json
from idp.admin.account_admin import api_refusal
from idp.admin.account_admin import audit_read
from idp.admin.account_forms import DECISION_LABELS
from idp.admin.account_forms import ReviewDecisionForm
from idp.admin.openapi import operation
from idp.admin.openapi import request_body
from idp.admin.review_admin import DECISIONS
from idp.admin.review_admin import OPEN
from idp.admin.review_admin import STATUS_OF_DECISION
from idp.admin.review_admin import decide_review
from idp.admin.review_admin import get_review
from idp.admin.review_admin import list_reviews
from idp.admin.review_admin import review_detail
from idp.admin.review_admin import review_summary
from idp.errors import error_page
from idp.extensions import db
from idp.i18n import N_

nav_item(N_("Linking reviews"), "admin.reviews", ACCOUNTS_READ, order=41)

STATUSES = (OPEN, *STATUS_OF_DECISION.values())
STATUS_LABELS = {OPEN: N_("Waiting for a decision"), "merged": N_("Merged"), "kept_apart": N_("Kept apart")}
REASON_LABELS = {
    "subject_linked_elsewhere": N_("This identity is already linked to another account than the one logged in"),
    "identifier_differs_from_session": N_("The source named another person than the account logged in"),
    "level_too_low_to_link": N_("The source's level is too low to link to an existing account on its own"),
    "full_name_differs": N_("The name differs from the verified name on file"),
    "birthdate_differs": N_("The date of birth differs from the verified one on file"),
}
WHAT_LABELS = {"full_name": N_("Full name"), "birthdate": N_("Date of birth"), "level": N_("Level"),
               "identifier": N_("Personal ID number or tax code")}
DONE = {"merged": N_("Decided: the identity is linked to the account."),
        "kept_apart": N_("Decided: the identity was kept apart.")}


def _labels() -> dict:
    return {"labels_of_status": STATUS_LABELS, "reasons": REASON_LABELS, "whats": WHAT_LABELS}


@bp.get("/reviews")
@admin_page(ACCOUNTS_READ)
def reviews() -> tuple[str, int]:
    status = request.args.get("status", OPEN)
    try:
        rows = [review_summary(review) for review in list_reviews(status)]
    except AdminRefusal as exc:
        return error_page(exc.status, _("Something is not right"), _(exc.message))
    return render_template("admin/reviews.html", rows=rows, status=status, statuses=STATUSES, **_labels()), 200


def _review_page(review_id: int, form: ReviewDecisionForm | None = None, error: str | None = None,
                 status: int = 200) -> tuple[str, int]:
    admin = current_admin()
    try:
        review = get_review(review_id)
    except AdminRefusal as exc:
        return error_page(exc.status, _("No such review"), _(exc.message))
    detail = review_detail(review)
    audit_read("admin.review.viewed", admin, target_type="link_review", target_id=str(review.id))
    db.session.commit()
    form = form or ReviewDecisionForm()
    form.decision.choices = [SelectChoice(d, DECISION_LABELS[d]) for d in detail["decisions"]]
    done = DONE.get(request.args.get("done", ""))
    return render_template("admin/reviews_detail.html", review=detail, form=form, error=error,
                           done=_(done) if done else None,
                           can_decide=admin.can(ACCOUNTS_WRITE) and detail["status"] == OPEN, **_labels()), status


@bp.get("/reviews/<int:review_id>")
@admin_page(ACCOUNTS_READ)
def review(review_id: int) -> tuple[str, int]:
    return _review_page(review_id)


@bp.post("/reviews/<int:review_id>/decide")
@admin_page(ACCOUNTS_WRITE, destructive=True)
def review_decide(review_id: int) -> Response | tuple[str, int]:
    form = ReviewDecisionForm()
    if not form.validate_on_submit():
        return _review_page(review_id, form, status=400)
    try:
        outcome = decide_review(current_admin(), review_id, form.decision.data, form.reason.data)
    except AdminRefusal as exc:
        db.session.rollback()
        return _review_page(review_id, form, _(exc.message), exc.status)
    db.session.commit()
    return redirect(url_for("admin.review", review_id=review_id, done=outcome["status"]), code=303)


# --- API -------------------------------------------------------------------------------------------
_ACCOUNT_REF = {"type": ["object", "null"], "properties": {
    "id": {"type": "integer"}, "kind": {"type": "string"}, "status": {"type": "string"},
    "identifier_masked": {"type": "string"}}}
SUMMARY_SCHEMA = {"type": "object", "properties": {
    "id": {"type": "integer"}, "status": {"enum": list(STATUSES)}, "reason": {"type": "string"},
    "source": {"type": "string"}, "level": {"type": "integer"},
    "created_at": {"type": "string", "format": "date-time"}, "resolved_at": {"type": ["string", "null"]},
    "candidate": _ACCOUNT_REF, "session_account": _ACCOUNT_REF}}
DECISION_SCHEMA = {"type": "object", "required": ["decision", "reason"], "additionalProperties": False,
                   "properties": {"decision": {"enum": list(DECISIONS)},
                                  "reason": {"type": "string", "minLength": REASON_MIN, "maxLength": REASON_MAX}}}
NOT_FOUND = {"404": "No review has this number (error: review_not_found)."}


@operation("/reviews", "GET", permission=ACCOUNTS_READ, summary="Linking reviews (open ones by default)",
           tag="accounts", parameters=({"name": "status", "in": "query", "schema": {"enum": list(STATUSES)}},),
           response_schema={"type": "object", "properties": {"reviews": {"type": "array", "items": SUMMARY_SCHEMA}}})
def api_reviews() -> Response:
    try:
        rows = list_reviews(request.args.get("status", OPEN))
    except AdminRefusal as exc:
        return api_refusal(exc)
    return api_json({"reviews": [review_summary(row) for row in rows]})


@operation("/reviews/<int:review_id>", "GET", permission=ACCOUNTS_READ, tag="accounts",
           summary="One linking review: what disagreed, the asserted claims (masked), the decisions possible (audited)",
           response_schema=SUMMARY_SCHEMA, errors=NOT_FOUND)
def api_review(review_id: int) -> Response:
    try:
        found = review_detail(get_review(review_id))
    except AdminRefusal as exc:
        return api_refusal(exc)
    audit_read("admin.review.viewed", current_admin(), target_type="link_review", target_id=str(review_id))
    db.session.commit()
    return api_json(found)


@operation("/reviews/<int:review_id>/decision", "POST", permission=ACCOUNTS_WRITE, tag="accounts",
           summary="Decide a linking review: merge or keep apart, with a reason (once only)",
           request_schema=DECISION_SCHEMA,
           response_schema={"type": "object", "properties": {
               "id": {"type": "integer"}, "status": {"type": "string"}, "account_id": {"type": ["integer", "null"]},
               "linked": {"type": "boolean"}, "created": {"type": "boolean"}}},
           errors={**NOT_FOUND, "409": "Already decided, or the decision cannot apply (error: review_decided, "
                                       "no_candidate, linked_elsewhere)."})
def api_decide(review_id: int) -> Response:
    body = request_body()
    try:
        outcome = decide_review(current_admin(), review_id, body["decision"], body["reason"])
    except AdminRefusal as exc:
        return api_refusal(exc)
    db.session.commit()
    return api_json(outcome)
