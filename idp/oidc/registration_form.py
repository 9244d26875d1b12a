"""Portal registration request through a web form (issue 5): GET/POST /clients/register.

A logged-in person (an agency's staff) fills in the portal's metadata; it is validated by the SAME
function as the RFC 7591 API (idp.oidc.registration.parse_metadata, same messages) and the client is
created by the same `register_client`, in status `pending` with a RegistrationRequest row, until an
operator runs `idp clients approve|reject`. The client secret is shown once: it is sealed into the
session for the single GET of the "done" page, which removes it.
"""

from __future__ import annotations

import re

from flask import Blueprint
from flask import redirect
from flask import render_template
from flask import session
from flask import url_for
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import BooleanField
from wtforms import EmailField
from wtforms import RadioField
from wtforms import StringField
from wtforms import TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired
from wtforms.validators import Length
from wtforms.validators import Optional
from wtforms.validators import Regexp

from idp.audit import record
from idp.auth.session import current_login
from idp.crypto import SealError
from idp.crypto import seal
from idp.crypto import unseal
from idp.extensions import db
from idp.extensions import limiter
from idp.oidc.claims import SCOPES
from idp.oidc.client_keys import DocumentError
from idp.oidc.clients import ClientRegistration
from idp.oidc.clients import InvalidClientMetadata
from idp.oidc.clients import register_client
from idp.oidc.models import Client
from idp.oidc.models import ClientStatus
from idp.oidc.registration import EMAIL
from idp.oidc.registration import parse_metadata
from idp.oidc.registration_models import RegistrationRequest
from idp.oidc.registration_models import RegistrationStatus

bp = Blueprint("portal_registration", __name__)

SUBMISSIONS_LIMIT = "5 per hour"  # per account (or per IP when the key cannot be known), POST only
SHOWN_ONCE_KEY = "portal_registration_shown_once"
SEAL_PURPOSE = "portal-registration-secret"
WEB_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt")
# One checkbox per scope (scope_<name>): the parameter guard (idp.security) refuses repeated parameters.
OPTIONAL_SCOPES = tuple(s for s in SCOPES if s != "openid")

# parse_metadata's field name (first word of its message) -> the form field it belongs to.
FIELD_OF = {
    "client_name": "portal_name", "redirect_uris": "redirect_uris", "redirect_uri": "redirect_uris",
    "post_logout_redirect_uris": "post_logout_redirect_uris", "post_logout_redirect_uri": "post_logout_redirect_uris",
    "backchannel_logout_uri": "backchannel_logout_uri", "frontchannel_logout_uri": "frontchannel_logout_uri",
    "scope": "auth_method", "token_endpoint_auth_method": "auth_method",
    "jwks_uri": "jwks_uri", "jwks": "jwks_uri", "sector_identifier_uri": "sector_identifier_uri",
}
# The API's English messages (idp.oidc.clients.check_uri, idp.oidc.registration) with their translation.
TRANSLATED = (
    (re.compile(r"^(?P<field>\w+) must be an absolute http\(s\) URL: (?P<uri>.*)$"),
     _l("%(field)s must be an absolute http(s) URL: %(uri)s")),
    (re.compile(r"^(?P<field>\w+) must not contain a fragment: (?P<uri>.*)$"),
     _l("%(field)s must not contain a fragment: %(uri)s")),
    (re.compile(r"^(?P<field>\w+) must not contain wildcards: (?P<uri>.*)$"),
     _l("%(field)s must not contain wildcards: %(uri)s")),
    (re.compile(r"^(?P<field>\w+) must use https \(http only for loopback in development\): (?P<uri>.*)$"),
     _l("%(field)s must use https (http only for loopback in development): %(uri)s")),
    (re.compile(r"^(?P<field>\w+): at most (?P<count>\d+) URIs of at most (?P<length>\d+) characters\.$"),
     _l("%(field)s: at most %(count)s URIs of at most %(length)s characters.")),
    (re.compile(r"^(?P<field>\w+) must be at most (?P<length>\d+) characters\.$"),
     _l("%(field)s must be at most %(length)s characters.")),
    (re.compile(r"^token_endpoint_auth_method private_key_jwt needs jwks or jwks_uri"),
     _l("The private_key_jwt method needs the URL of the portal's public keys (jwks_uri).")),
)


class PortalRegistrationForm(FlaskForm):
    portal_name = StringField(_l("Portal name"), validators=[
        DataRequired(message=_l("Enter the portal's name.")), Length(max=200)])
    agency = StringField(_l("Agency (ministry, province, state company)"), validators=[
        DataRequired(message=_l("Enter the agency that runs the portal.")), Length(max=200)])
    contact_email = EmailField(_l("Contact e-mail"), validators=[
        DataRequired(message=_l("Enter a contact e-mail.")), Regexp(EMAIL, message=_l("Enter a valid e-mail address.")),
        Length(max=254)], render_kw={"autocomplete": "email"})
    redirect_uris = TextAreaField(_l("Redirect URIs (one per line)"), validators=[
        DataRequired(message=_l("Enter at least one redirect URI.")), Length(max=4000)])
    post_logout_redirect_uris = TextAreaField(_l("Post-logout redirect URIs (one per line, optional)"),
                                              validators=[Optional(), Length(max=4000)])
    backchannel_logout_uri = StringField(_l("Back-channel logout URI (optional)"),
                                         validators=[Optional(), Length(max=600)])
    frontchannel_logout_uri = StringField(_l("Front-channel logout URI (optional)"),
                                          validators=[Optional(), Length(max=600)])
    jwks_uri = StringField(_l("URL of the portal's public keys, a JWK Set (jwks_uri; for private_key_jwt)"),
                           validators=[Optional(), Length(max=600)])
    sector_identifier_uri = StringField(_l("Sector identifier URL (optional: portals of one agency that list their "
                                           "redirect URIs in one document see the same user identifier)"),
                                        validators=[Optional(), Length(max=600)])
    auth_method = RadioField(_l("Client authentication method"), default="client_secret_basic",
                             choices=[SelectChoice(m, m) for m in WEB_AUTH_METHODS],
                             validators=[DataRequired(message=_l("Choose an authentication method."))])

    def metadata(self) -> dict:
        """The RFC 7591 metadata this form stands for, to be checked by parse_metadata."""
        def lines(text: str | None) -> list[str]:
            return [line.strip() for line in (text or "").splitlines() if line.strip()]

        meta = {"client_name": (self.portal_name.data or "").strip(), "redirect_uris": lines(self.redirect_uris.data),
                "post_logout_redirect_uris": lines(self.post_logout_redirect_uris.data),
                "scope": " ".join(["openid", *(s for s in OPTIONAL_SCOPES if self[f"scope_{s}"].data)]),
                "token_endpoint_auth_method": self.auth_method.data}
        for name in ("backchannel_logout_uri", "frontchannel_logout_uri", "jwks_uri", "sector_identifier_uri"):
            value = (getattr(self, name).data or "").strip()
            if value:
                meta[name] = value
        return meta


for _scope in OPTIONAL_SCOPES:
    setattr(PortalRegistrationForm, f"scope_{_scope}", BooleanField(_scope))


def translate_metadata_error(message: str) -> str:
    """The API's message in the page's language (unknown ones are shown as the API wrote them)."""
    for pattern, template in TRANSLATED:
        found = pattern.match(message)
        if found:
            return str(template) % found.groupdict()
    return message


def message_of(exc: InvalidClientMetadata) -> str:
    """The error to show: a fetched document's problem in the page's language, else the API's message."""
    if isinstance(exc.__cause__, DocumentError):
        return exc.__cause__.translated()
    return translate_metadata_error(exc.message)


def field_of(message: str) -> str:
    """Which form field an API message is about (the first word names the metadata field)."""
    first = re.split(r"[\s:]", message, maxsplit=1)[0]
    return FIELD_OF.get(first, "redirect_uris")


def validate_metadata(form: PortalRegistrationForm) -> ClientRegistration | None:
    """Public wrapper over idp.oidc.registration.parse_metadata: errors go next to their field."""
    try:
        reg, frontchannel = parse_metadata(form.metadata())
    except InvalidClientMetadata as exc:
        getattr(form, field_of(exc.message)).errors = [message_of(exc)]
        return None
    reg.agency = (form.agency.data or "").strip()
    form.frontchannel = frontchannel
    return reg


def _limit_key() -> str:
    from flask_limiter.util import get_remote_address

    login = current_login()
    return f"account:{login.account.id}" if login else f"ip:{get_remote_address()}"


@bp.route("/clients/register", methods=["GET", "POST"])
@limiter.limit(SUBMISSIONS_LIMIT, methods=["POST"], key_func=_limit_key)
def register_portal() -> Response | str | tuple[str, int]:
    login = current_login()
    if login is None:
        return redirect(url_for("auth.login", next=url_for("portal_registration.register_portal")), code=303)
    form = PortalRegistrationForm()
    if not form.is_submitted():
        return render_template("oidc/register_portal.html", form=form, scopes=OPTIONAL_SCOPES)
    fields_ok = form.validate()  # CSRF failures are raised earlier by CSRFProtect (400)
    reg = validate_metadata(form) if fields_ok else None
    if reg is None:
        return render_template("oidc/register_portal.html", form=form, scopes=OPTIONAL_SCOPES), 400
    try:
        client, secret = register_client(reg)
    except InvalidClientMetadata as exc:
        db.session.rollback()
        getattr(form, field_of(exc.message)).errors = [message_of(exc)]
        return render_template("oidc/register_portal.html", form=form, scopes=OPTIONAL_SCOPES), 400
    client.status = ClientStatus.PENDING
    client.frontchannel_logout_uri = form.frontchannel
    # The web request has no RFC 7592 registration access token (its manager is the operator).
    db.session.add(RegistrationRequest(client_id=client.client_id, registration_token_hash=None,
                                       status=RegistrationStatus.PENDING, submitted_by=login.account.id,
                                       contact_email=(form.contact_email.data or "").strip()[:254] or None))
    record("client.registration_requested", account_id=login.account.id, client_id=client.client_id, via="web")
    db.session.commit()
    session[SHOWN_ONCE_KEY] = seal(f"{client.client_id}\n{secret or ''}".encode(), SEAL_PURPOSE)
    return redirect(url_for("portal_registration.registered_portal"), code=303)


@bp.get("/clients/register/done")
def registered_portal() -> Response | str:
    """Show the client_id and secret once: the sealed value leaves the session with this response."""
    sealed = session.pop(SHOWN_ONCE_KEY, None)
    client_id = secret = None
    if isinstance(sealed, str):
        try:
            client_id, _sep, secret = unseal(sealed, SEAL_PURPOSE).decode().partition("\n")
        except SealError:
            client_id = None
    client = db.session.get(Client, client_id) if client_id else None
    response = Response(render_template("oidc/register_portal_done.html", client=client, secret=secret or None),
                        mimetype="text/html")  # werkzeug's Response defaults to text/plain
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response
