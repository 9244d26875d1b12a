"""Forms of the admin console's account area (CSRF through Flask-WTF). They check presence and size;
the service functions (account_search, account_actions, review_admin, role_admin) check the rest, the
same way for the pages and the API."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField
from wtforms import SelectField
from wtforms import StringField
from wtforms import TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired
from wtforms.validators import Length
from wtforms.validators import Optional

from idp.accounts.roles import KNOWN_ROLES
from idp.admin.account_admin import REASON_MAX
from idp.admin.account_admin import REASON_MIN
from idp.admin.account_search import SEARCH_KINDS
from idp.admin.account_search import VALUE_MAX
from idp.admin.review_admin import DECISIONS

SEARCH_LABELS = {"personal_id": _l("Personal ID number"), "tax_code": _l("Tax code"),
                 "phone": _l("Phone number"), "email": _l("E-mail address")}
ROLE_LABELS = {"national_admin": _l("National administrator"), "agency_admin": _l("Agency administrator"),
               "helpdesk": _l("Helpdesk"), "auditor": _l("Auditor"), "postal_clerk": _l("Postal clerk")}
DECISION_LABELS = {"merge": _l("Merge: link this identity to the account it points at"),
                   "keep_apart": _l("Keep apart: do not link it to that account")}


class AccountSearchForm(FlaskForm):
    kind = SelectField(_l("Search by"), choices=[SelectChoice(kind, SEARCH_LABELS[kind]) for kind in SEARCH_KINDS])
    value = StringField(_l("Exact value"), validators=[DataRequired(message=_l("Type what to search for.")),
                                                        Length(max=VALUE_MAX)],
                        render_kw={"autocomplete": "off", "maxlength": VALUE_MAX, "spellcheck": "false"})


class ReasonForm(FlaskForm):
    reason = TextAreaField(_l("Reason (kept in the audit trail)"),
                           validators=[DataRequired(message=_l("Give a reason (at least 3 characters).")),
                                       Length(min=REASON_MIN, max=REASON_MAX,
                                              message=_l("The reason must be 3 to 500 characters long."))],
                           render_kw={"maxlength": REASON_MAX, "rows": 2})


class ReviewDecisionForm(ReasonForm):
    decision = RadioField(_l("Decision"), choices=[SelectChoice(d, DECISION_LABELS[d]) for d in DECISIONS],
                          validators=[DataRequired(message=_l("Choose merge or keep apart."))])


class GrantRoleForm(ReasonForm):
    identifier = StringField(_l("Personal ID number or tax code of the account"),
                             validators=[DataRequired(message=_l("Type the personal ID number of the staff member.")),
                                         Length(max=32)],
                             render_kw={"autocomplete": "off", "maxlength": 32, "inputmode": "numeric"})
    role = SelectField(_l("Role"), choices=[SelectChoice(role, ROLE_LABELS[role]) for role in KNOWN_ROLES])
    scope = StringField(_l("Scope: post office code (postal clerk) or agency code (agency administrator)"),
                        validators=[Optional(), Length(max=64)], render_kw={"maxlength": 64})
