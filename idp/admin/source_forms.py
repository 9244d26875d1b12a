"""Forms of the identity-source pages, and how the settings form turns into changes.

The settings form has one input per top-level setting (`setting-<key>`, with `reset-<key>` for a
stored one), rendered from source_settings.Setting; only the inputs whose text differs from what was
shown become changes, so untouched settings are never copied into the stored override. Strings are
taken as typed; other values are JSON. A password input left empty keeps the stored secret.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField
from wtforms import SelectField
from wtforms import StringField
from wtforms import TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length
from wtforms.validators import Optional

from idp.admin.source_settings import Setting
from idp.admin.source_values import SourceRefused
from idp.i18n import N_

MAX_VALUE_CHARS = 16_000


class VersionForm(FlaskForm):
    """A button acting on a source: the version it was shown at (optimistic concurrency)."""

    version = HiddenField()


class SettingsForm(VersionForm):
    new_key = StringField(_l("Name of a setting to add"), validators=[Optional(), Length(max=64)])
    new_value = TextAreaField(_l("Its value (JSON, or plain text)"),
                              validators=[Optional(), Length(max=MAX_VALUE_CHARS)])


class AnchorForm(FlaskForm):
    pem_file = FileField(_l("CA certificate file (PEM)"))
    pem_text = TextAreaField(_l("Or paste the CA certificate (PEM)"), validators=[Optional(),
                                                                                    Length(max=MAX_VALUE_CHARS)])
    name = StringField(_l("Name shown to administrators (optional)"), validators=[Optional(), Length(max=200)])
    kind = SelectField(_l("Kind of certificate authority"), choices=[
        SelectChoice("public", _l("Licensed public CA (citizens and businesses)")),
        SelectChoice("government", _l("Government Cipher Committee (officials)"))])
    level = SelectField(_l("Highest assurance level"), choices=[
        SelectChoice("", _l("Default for the kind")), SelectChoice("low", _l("Low")),
        SelectChoice("substantial", _l("Substantial")), SelectChoice("high", _l("High"))])
    revocation = SelectField(_l("When revocation cannot be checked"), choices=[
        SelectChoice("hard", _l("Refuse the certificate (hard)")),
        SelectChoice("soft", _l("Accept it (soft, public CAs only)"))])
    ocsp = SelectField(_l("OCSP"), choices=[
        SelectChoice("off", _l("Off (CRLs only)")),
        SelectChoice("aia", _l("From the certificate (Authority Information Access)"))])

    def pem(self) -> str:
        """The uploaded file's text, else the pasted text; SourceRefused when the file is not ASCII text."""
        upload = self.pem_file.data
        if upload is not None and getattr(upload, "filename", ""):
            data = upload.read(MAX_VALUE_CHARS + 1)
            try:
                return data.decode("ascii")
            except UnicodeDecodeError as exc:
                raise SourceRefused("pem", N_("This is not one certificate in PEM format "
                                              "(-----BEGIN CERTIFICATE----- ...).")) from exc
        return self.pem_text.data or ""


def shown_text(setting: Setting) -> str:
    """The text an input shows for a setting (a secret's input is always empty)."""
    if setting.secret:
        return ""
    if isinstance(setting.shown, str):
        return setting.shown
    return json.dumps(setting.shown, ensure_ascii=False, indent=2 if isinstance(setting.shown, dict | list) else None)


def is_multiline(setting: Setting) -> bool:
    return not setting.secret and isinstance(setting.shown, dict | list)


def _parse_json(key: str, text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise SourceRefused(key, N_("%(key)s is not valid JSON."), key=key) from exc


def changes_from(settings: list[Setting], form: Mapping[str, str], new_key: str, new_value: str) -> dict[str, Any]:
    """The changes a submitted settings form asks for: {key: value, or None for "back to the file's"}."""
    changes: dict[str, Any] = {}
    for setting in settings:
        submitted = form.get(f"setting-{setting.key}")
        if setting.overridden and form.get(f"reset-{setting.key}"):
            changes[setting.key] = None
        elif submitted is None or len(submitted) > MAX_VALUE_CHARS:
            continue
        elif setting.secret:
            if submitted:
                changes[setting.key] = submitted
        elif isinstance(setting.shown, str):
            if submitted != setting.shown:
                changes[setting.key] = submitted
        elif submitted.strip() != shown_text(setting):
            value = _parse_json(setting.key, submitted)
            if value != setting.shown:
                changes[setting.key] = value
    key = (new_key or "").strip()
    if key:
        if any(setting.key == key for setting in settings):
            raise SourceRefused(key, N_("%(key)s is already set: change it above."), key=key)
        try:
            changes[key] = json.loads(new_value)
        except (ValueError, RecursionError):
            changes[key] = new_value
    return changes
