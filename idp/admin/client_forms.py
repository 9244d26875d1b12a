"""Forms of the console's portal pages (Flask-WTF: every POST carries a CSRF token).

The forms only collect values; idp.admin.client_actions validates them with the registration's rules,
so that a page and the API refuse the same input with the same message.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField
from wtforms import SelectField
from wtforms import StringField
from wtforms import TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length
from wtforms.validators import Optional

from idp.admin.client_admin import ADMIN_AUTH_METHODS
from idp.auth.assurance import ACR_HIGH
from idp.auth.assurance import ACR_LOW
from idp.auth.assurance import ACR_SUBSTANTIAL
from idp.oidc.claims import SCOPES
from idp.oidc.keys import ALGORITHMS

ACR_CHOICES = [SelectChoice("", _l("None")), SelectChoice(ACR_LOW, _l("Low")),
               SelectChoice(ACR_SUBSTANTIAL, _l("Substantial")), SelectChoice(ACR_HIGH, _l("High"))]
TOKEN_LIFETIMES = [SelectChoice("3600", _l("1 hour")), SelectChoice("86400", _l("1 day")),
                   SelectChoice("604800", _l("7 days")), SelectChoice("2592000", _l("30 days"))]


class ActionForm(FlaskForm):
    """A button that changes something (suspend, reactivate, approve, rotate): only the CSRF token."""


class RejectForm(FlaskForm):
    reason = TextAreaField(_l("Reason for the rejection (sent to the contact e-mail)"),
                           validators=[Length(max=2000)])


class TokenForm(FlaskForm):
    lifetime = SelectField(_l("Valid for"), choices=TOKEN_LIFETIMES, default="86400")


def _lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


class PortalEditForm(FlaskForm):
    # Lengths are generous: the registration rules (idp.oidc.registration) give the precise messages.
    client_name = StringField(_l("Portal name"), validators=[Length(max=1000)])
    agency = StringField(_l("Agency"), validators=[Optional(), Length(max=1000)])
    agency_code = StringField(_l("Agency code (national administrators only)"),
                              validators=[Optional(), Length(max=200)])
    redirect_uris = TextAreaField(_l("Redirect URIs (one per line)"), validators=[Length(max=20000)])
    post_logout_redirect_uris = TextAreaField(_l("Post-logout redirect URIs (one per line, optional)"),
                                              validators=[Optional(), Length(max=20000)])
    backchannel_logout_uri = StringField(_l("Back-channel logout URI (optional)"),
                                         validators=[Optional(), Length(max=2000)])
    frontchannel_logout_uri = StringField(_l("Front-channel logout URI (optional)"),
                                          validators=[Optional(), Length(max=2000)])
    jwks_uri = StringField(_l("Public keys URL, jwks_uri (optional)"), validators=[Optional(), Length(max=2000)])
    token_endpoint_auth_method = SelectField(_l("Client authentication method"),
                                             choices=[SelectChoice(m, m) for m in ADMIN_AUTH_METHODS])
    minimum_acr = SelectField(_l("Minimum assurance level of every login"), choices=ACR_CHOICES)
    default_acr = SelectField(_l("Assurance level asked for when the portal names none"), choices=ACR_CHOICES)
    id_token_signed_response_alg = SelectField(_l("ID token signing algorithm"),
                                               choices=[SelectChoice("", _l("Provider default")),
                                                        *(SelectChoice(a, a) for a in ALGORITHMS)])

    def fill(self, meta: dict[str, Any], agency: str | None, agency_code: str | None) -> None:
        """Show the portal's current values."""
        self.client_name.data = meta.get("client_name", "")
        self.agency.data, self.agency_code.data = agency or "", agency_code or ""
        self.redirect_uris.data = "\n".join(meta.get("redirect_uris", []))
        self.post_logout_redirect_uris.data = "\n".join(meta.get("post_logout_redirect_uris", []))
        for name in ("backchannel_logout_uri", "frontchannel_logout_uri", "jwks_uri", "minimum_acr",
                     "id_token_signed_response_alg"):
            getattr(self, name).data = meta.get(name) or ""
        self.token_endpoint_auth_method.data = meta.get("token_endpoint_auth_method", "client_secret_basic")
        self.default_acr.data = (meta.get("default_acr_values") or [""])[0]
        scopes = set(str(meta.get("scope", "")).split())
        for scope in SCOPES:
            self[f"scope_{scope}"].data = scope in scopes

    def changes(self, with_agency_code: bool) -> dict[str, Any]:
        """The metadata this form asks for (EDITABLE names; None removes an optional value)."""
        def text(name: str) -> str | None:
            return (getattr(self, name).data or "").strip() or None

        changes: dict[str, Any] = {
            "client_name": (self.client_name.data or "").strip(), "agency": text("agency"),
            "redirect_uris": _lines(self.redirect_uris.data),
            "post_logout_redirect_uris": _lines(self.post_logout_redirect_uris.data),
            "token_endpoint_auth_method": self.token_endpoint_auth_method.data,
            "scope": " ".join(s for s in SCOPES if self[f"scope_{s}"].data),
            "default_acr_values": [text("default_acr")] if text("default_acr") else None,
        }
        for name in ("backchannel_logout_uri", "frontchannel_logout_uri", "jwks_uri", "minimum_acr",
                     "id_token_signed_response_alg"):
            changes[name] = text(name)
        if with_agency_code:
            changes["agency_code"] = text("agency_code")
        return changes


# One checkbox per scope (scope_<name>): the parameter guard (idp.security) refuses repeated parameters.
for _scope in SCOPES:
    setattr(PortalEditForm, f"scope_{_scope}", BooleanField(_scope))
