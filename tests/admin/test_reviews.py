"""Issue 6, Accounts: the linking review queue. Assertions idp.accounts.linking would not link on its own
are listed with what disagreed; staff merge them (link the identity to the account it points at, as
linking would have) or keep them apart (never linked there; the asserted person's own account created
when it has none), with a reason; a review is decided once."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from idp.accounts.models import Account
from idp.accounts.models import LinkedIdentity
from idp.accounts.models import LinkReview
from idp.accounts.roles import AUDITOR
from idp.accounts.roles import HELPDESK
from idp.accounts.roles import NATIONAL_ADMIN
from idp.accounts.service import find_account
from idp.admin.access import Admin
from idp.admin.account_admin import AdminRefusal
from idp.admin.review_admin import decide_review
from idp.extensions import db
from tests.admin.accounts_support import REASON
from tests.admin.accounts_support import all_audit_text
from tests.admin.accounts_support import api
from tests.admin.accounts_support import english
from tests.admin.accounts_support import events
from tests.admin.accounts_support import mock_login
from tests.admin.accounts_support import open_reviews
from tests.admin.accounts_support import post_page
from tests.conftest import BrowserFlow

PIN = "001090061234"
NEW_PIN = "001090069876"


def _links(app, pin: str) -> list[str]:  # noqa: ANN001
    with app.app_context():
        account = find_account(pin)
        if account is None:
            return []
        return list(db.session.execute(select(LinkedIdentity.subject).where(
            LinkedIdentity.account_id == account.id)).scalars())


@pytest.fixture
def name_differs(app):  # noqa: ANN001, ANN201
    """An account created by the mock source (verified name); the same source later says another name."""
    assert mock_login(app, personal_id=PIN, full_name="Nguyễn Văn An", birthdate="1990-01-01").status_code == 303
    with app.app_context():  # the first link is gone (say, unlinked), so the next assertion must be linked anew
        db.session.query(LinkedIdentity).delete()
        db.session.commit()
    refused = mock_login(app, personal_id=PIN, full_name="Nguyễn Văn Bình", birthdate="1990-01-01")
    assert refused.status_code == 409
    [review] = open_reviews(app)
    assert review.reason == "full_name_differs"
    return review


@pytest.fixture
def low_level(app, make_account):  # noqa: ANN001, ANN201
    """A self-registered account; a low-level assertion for its personal ID cannot link on its own."""
    make_account(PIN)
    assert mock_login(app, personal_id=PIN, full_name="Nguyễn Văn Test", level="low").status_code == 409
    [review] = open_reviews(app)
    assert review.reason == "level_too_low_to_link"
    return review


@pytest.fixture
def other_person(app, make_account):  # noqa: ANN001, ANN201
    """Someone logged in with a password presents a source that names another person, who has no account."""
    make_account(PIN)
    flow = BrowserFlow(app.test_client())
    assert flow.login(PIN).status_code == 303
    refused = mock_login(app, flow.client, personal_id=NEW_PIN, full_name="Trần Thị Chi", birthdate="1990-02-02")
    assert refused.status_code == 409
    [review] = open_reviews(app)
    assert review.reason == "identifier_differs_from_session" and review.candidate_account_id is None
    return review


def test_the_queue_lists_open_reviews_masked(app, staff, name_differs, client, api_token):
    html = english(staff(HELPDESK)).get("/admin/reviews").get_data(as_text=True)
    assert f"/admin/reviews/{name_differs.id}" in html
    assert "The name differs from the verified name on file" in html and "Test source" in html
    assert "•••••••••234" in html and PIN not in html and "Bình" not in html
    body = api(client, api_token("admin:auditor"), "GET", "/admin/api/reviews").get_json()
    assert [(r["id"], r["reason"], r["candidate"]["identifier_masked"]) for r in body["reviews"]] == [
        (name_differs.id, "full_name_differs", "•••••••••234")]
    assert PIN not in str(body)


def test_a_review_shows_what_disagreed(app, staff, name_differs):
    browser = english(staff(AUDITOR))
    html = browser.get(f"/admin/reviews/{name_differs.id}").get_data(as_text=True)
    table = html.split("What did not agree")[1].split("</table>")[0]
    assert "Full name" in table and "Nguyễn Văn Bình" in table and "Nguyễn Văn An" in table
    assert "•••••••••234" in html and PIN not in html
    assert "Record the decision" not in html  # auditors only look
    [event] = events(app, "admin.review.viewed")
    assert event.account_id == browser.account_id and event.data["target_id"] == str(name_differs.id)


def test_merge_links_the_identity_as_linking_would_have(app, staff, name_differs):
    admin = staff(NATIONAL_ADMIN)
    response = post_page(admin, f"/admin/reviews/{name_differs.id}/decide", decision="merge", reason=REASON)
    assert response.status_code == 303 and response.headers["Location"].endswith("?done=merged")
    assert _links(app, PIN) == [f"mock:{PIN}"]
    with app.app_context():
        account = find_account(PIN)
        assert account.full_name == "Nguyễn Văn Bình"  # the source is as strong as the one on file
        review = db.session.get(LinkReview, name_differs.id)
        assert (review.status, review.resolved_by, review.resolution_reason) == ("merged", admin.account_id, REASON)
        assert review.resolved_at is not None
    # The person now logs in with that source without a review.
    assert mock_login(app, personal_id=PIN, full_name="Nguyễn Văn Bình", birthdate="1990-01-01").status_code == 303
    [event] = events(app, "admin.review.merged")
    assert event.data["before"] == {"status": "open"}
    assert event.data["after"] == {"status": "merged", "account_id": account.id}
    assert event.data["reason"] == REASON and event.data["linked"] is True
    assert PIN not in all_audit_text(app) and "Bình" not in all_audit_text(app)


def test_keep_apart_closes_without_linking(app, staff, client, api_token, low_level):
    response = api(client, api_token("admin:national"), "POST", f"/admin/api/reviews/{low_level.id}/decision",
                   {"decision": "keep_apart", "reason": REASON})
    assert response.status_code == 200
    assert response.get_json() == {"id": low_level.id, "status": "kept_apart", "account_id": None,
                                   "linked": False, "created": False}
    assert _links(app, PIN) == []
    with app.app_context():
        review = db.session.get(LinkReview, low_level.id)
        assert review.resolved_by is None and review.resolved_by_client.startswith("admin-")
    [event] = events(app, "admin.review.kept_apart")
    assert event.data["actor_client"].startswith("admin-")


def test_keep_apart_creates_the_asserted_persons_own_account(app, staff, other_person):
    response = post_page(staff(NATIONAL_ADMIN), f"/admin/reviews/{other_person.id}/decide", decision="keep_apart",
                         reason=REASON)
    assert response.status_code == 303
    assert _links(app, PIN) == []  # the logged-in account never gets the other person's identity
    assert _links(app, NEW_PIN) == [f"mock:{NEW_PIN}"]
    with app.app_context():
        created = find_account(NEW_PIN)
        assert created.full_name == "Trần Thị Chi" and created.birthdate.isoformat() == "1990-02-02"
        assert db.session.get(LinkReview, other_person.id).status == "kept_apart"
    [event] = events(app, "admin.review.kept_apart")
    assert event.data["created"] is True and event.data["after"]["account_id"] == created.id


def test_merge_needs_a_candidate(app, staff, client, api_token, other_person):
    html = staff(NATIONAL_ADMIN).get(f"/admin/reviews/{other_person.id}").get_data(as_text=True)
    assert 'value="keep_apart"' in html and 'value="merge"' not in html
    response = api(client, api_token("admin:national"), "POST", f"/admin/api/reviews/{other_person.id}/decision",
                   {"decision": "merge", "reason": REASON})
    assert response.status_code == 409 and response.get_json()["error"] == "no_candidate"
    assert [r.id for r in open_reviews(app)] == [other_person.id]  # rolled back: still open


def test_a_review_is_decided_once(app, staff, client, api_token, low_level):
    token = api_token("admin:national")
    first = api(client, token, "POST", f"/admin/api/reviews/{low_level.id}/decision",
                {"decision": "merge", "reason": REASON})
    assert first.status_code == 200 and first.get_json()["linked"] is True
    second = api(client, token, "POST", f"/admin/api/reviews/{low_level.id}/decision",
                 {"decision": "keep_apart", "reason": REASON})
    assert second.status_code == 409 and second.get_json()["error"] == "review_decided"
    page = post_page(english(staff(NATIONAL_ADMIN)), f"/admin/reviews/{low_level.id}/decide", decision="merge",
                     reason=REASON)
    assert page.status_code == 409 and "already been decided" in page.get_data(as_text=True)
    assert len(events(app, "admin.review.merged")) == 1 and events(app, "admin.review.kept_apart") == []


def test_a_stale_decision_loses_the_compare_and_set(app, low_level):
    """Two admins open the same review; the one who decides second gets 409 even though the review
    they loaded still said "open"."""
    admin = Admin(account_id=None, client_id="admin-a", grants={NATIONAL_ADMIN: None})
    other = app.app_context()
    with app.app_context():
        stale = db.session.get(LinkReview, low_level.id)
        assert stale.status == "open"
        with other:  # a second session (another worker) decides and commits first
            decide_review(Admin(account_id=None, client_id="admin-b", grants={NATIONAL_ADMIN: None}), low_level.id,
                          "keep_apart", REASON)
            db.session.commit()
            db.session.remove()
        with pytest.raises(AdminRefusal) as refused:
            decide_review(admin, low_level.id, "merge", REASON)
        assert refused.value.status == 409 and refused.value.code == "review_decided"
        db.session.rollback()
    assert _links(app, PIN) == []
    with app.app_context():
        assert db.session.get(LinkReview, low_level.id).resolved_by_client == "admin-b"


def test_a_reason_and_a_known_decision_are_required(app, staff, client, api_token, low_level):
    admin = english(staff(NATIONAL_ADMIN))
    for fields in ({"decision": "merge", "reason": ""}, {"decision": "merge", "reason": "  \t "},
                   {"decision": "destroy", "reason": REASON}, {"reason": REASON}):
        response = post_page(admin, f"/admin/reviews/{low_level.id}/decide", **fields)
        assert response.status_code == 400, fields
    token = api_token("admin:national")
    for body in ({"decision": "merge"}, {"decision": "merge", "reason": "  "}, {"decision": "x", "reason": REASON},
                 {"decision": "merge", "reason": REASON, "also": True}, []):
        assert api(client, token, "POST", f"/admin/api/reviews/{low_level.id}/decision", body).status_code == 400
    assert [r.id for r in open_reviews(app)] == [low_level.id] and _links(app, PIN) == []


def test_unknown_reviews_and_statuses(staff, client, api_token, low_level):
    admin = staff(NATIONAL_ADMIN)
    token = api_token("admin:national")
    assert admin.get("/admin/reviews/777").status_code == 404
    assert admin.get("/admin/reviews/99999999999999999999").status_code == 404
    assert post_page(admin, "/admin/reviews/777/decide", decision="merge", reason=REASON).status_code == 404
    assert api(client, token, "GET", "/admin/api/reviews/777").status_code == 404
    assert api(client, token, "POST", "/admin/api/reviews/777/decision",
               {"decision": "merge", "reason": REASON}).status_code == 404
    assert admin.get("/admin/reviews?status=<script>").status_code == 400
    assert api(client, token, "GET", "/admin/api/reviews?status=nope").status_code == 400
    decided = api(client, token, "GET", "/admin/api/reviews?status=kept_apart")
    assert decided.status_code == 200 and decided.get_json() == {"reviews": []}


def test_the_account_page_links_its_open_reviews(app, staff, low_level):
    with app.app_context():
        account_id = db.session.execute(select(Account.id).where(Account.identifier == PIN)).scalar_one()
    html = staff(HELPDESK).get(f"/admin/accounts/{account_id}").get_data(as_text=True)
    assert f"/admin/reviews/{low_level.id}" in html


# --- data minimisation: a decided review keeps only the masked forms ------------------------------------------

# What a source such as VNeID asserts besides the mock's claims (personal_id, full_name, birthdate, gender).
CONTACT_CLAIMS = {"phone": "+84912345678", "email": "nguyen.an@example.vn", "street_address": "12 Phố Huế, Hà Nội"}


def _stored(app, review_id: int) -> dict:  # noqa: ANN001
    """The review's row as the database holds it (every column)."""
    with app.app_context():
        return dict(db.session.execute(select(LinkReview.__table__).where(LinkReview.id == review_id)).one()._mapping)


@pytest.mark.parametrize(("case", "decision", "door"), [
    ("name_differs", "merge", "page"), ("low_level", "merge", "api"), ("low_level", "keep_apart", "page"),
    ("other_person", "keep_apart", "api"),
])
def test_a_decided_review_keeps_no_personal_id_phone_or_email(app, staff, client, api_token, request, case,
                                                              decision, door):
    """Data minimisation: after the decision the review holds the masked forms, the source and the level only;
    the review's page and the API still show it."""
    review = request.getfixturevalue(case)
    with app.app_context():
        row = db.session.get(LinkReview, review.id)
        row.claims = {**row.claims, **CONTACT_CLAIMS}
        db.session.commit()
    pin = NEW_PIN if case == "other_person" else PIN
    assert pin in str(_stored(app, review.id))  # before: the claims as asserted
    token = api_token("admin:national")
    if door == "page":
        response = post_page(staff(NATIONAL_ADMIN), f"/admin/reviews/{review.id}/decide", decision=decision,
                             reason=REASON)
        assert response.status_code == 303
    else:
        response = api(client, token, "POST", f"/admin/api/reviews/{review.id}/decision",
                       {"decision": decision, "reason": REASON})
        assert response.status_code == 200
    stored = _stored(app, review.id)
    text = str(stored)
    for personal in (PIN, NEW_PIN, "912345678", "nguyen.an", "Phố Huế", "1990-0", "Văn", "Thị", "female", "male"):
        assert personal not in text, personal
    assert not re.search(r"[0-9]{4}", str(stored["claims"]) + stored["subject"])
    assert stored["claims"] == {"personal_id": "•••••••••" + pin[-3:], "full_name": stored["claims"]["full_name"],
                                "phone": "0••• ••• 678", "email": "n•••@example.vn"}
    assert re.fullmatch(r"(\w\. )*\w\.", stored["claims"]["full_name"])  # initials
    assert (stored["source"], stored["level"], stored["evidence_ref"]) == ("mock", review.level, review.evidence_ref)
    assert stored["status"] == {"merge": "merged", "keep_apart": "kept_apart"}[decision]
    assert stored["reason"] == review.reason and stored["resolution_reason"] == REASON
    page = english(staff(AUDITOR)).get(f"/admin/reviews/{review.id}")
    assert page.status_code == 200 and "0••• ••• 678" in page.get_data(as_text=True)
    detail = api(client, api_token("admin:auditor"), "GET", f"/admin/api/reviews/{review.id}")
    assert detail.status_code == 200 and detail.get_json()["claims"]["email"] == "n•••@example.vn"
    assert pin not in str(detail.get_json()) and "912345678" not in str(detail.get_json())


def test_purge_minimises_reviews_decided_before_minimisation(app, other_person):
    """A review decided by an earlier version still holds the asserted claims: `idp purge` minimises it, once."""
    with app.app_context():
        row = db.session.get(LinkReview, other_person.id)
        row.claims = {**row.claims, **CONTACT_CLAIMS}
        row.status, row.resolution_reason = "kept_apart", REASON
        db.session.commit()
    assert NEW_PIN in str(_stored(app, other_person.id))
    first = app.test_cli_runner().invoke(args=["purge"])
    assert first.exit_code == 0 and json.loads(first.output)["reviews_minimised"] == 1, first.output
    stored = _stored(app, other_person.id)
    assert NEW_PIN not in str(stored) and "912345678" not in str(stored) and "nguyen.an" not in str(stored)
    assert stored["claims"]["email"] == "n•••@example.vn" and stored["status"] == "kept_apart"
    again = app.test_cli_runner().invoke(args=["purge"])
    assert json.loads(again.output)["reviews_minimised"] == 0
    assert _stored(app, other_person.id) == stored


def test_a_refused_decision_keeps_the_claims(app, client, api_token, other_person):
    """A refused merge (409) rolls back: the review stays open with its claims, ready for the real decision."""
    before = _stored(app, other_person.id)["claims"]
    response = api(client, api_token("admin:national"), "POST", f"/admin/api/reviews/{other_person.id}/decision",
                   {"decision": "merge", "reason": REASON})
    assert response.status_code == 409
    assert _stored(app, other_person.id)["claims"] == before and before["personal_id"] == NEW_PIN
