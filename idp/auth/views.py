"""Login and logout pages (`/auth`)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from idp.accounts.service import AccountError
from idp.accounts.service import LoginLocked
from idp.accounts.service import authenticate_password
from idp.auth.assurance import ACR_LOW
from idp.auth.assurance import AMR_PASSWORD
from idp.auth.forms import LoginForm
from idp.auth.forms import LogoutForm
from idp.auth.session import current_login
from idp.auth.session import end_login_session
from idp.auth.session import start_login_session
from idp.extensions import db
from idp.extensions import limiter
from idp.settings import current_settings

bp = Blueprint("auth", __name__, url_prefix="/auth")


def safe_next(target: str | None) -> str:
    """Only same-site relative paths may be a post-login destination (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("auth.done")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return url_for("auth.done")
    return target


def _render_login(form: LoginForm, error: str | None = None) -> str:
    """The login page; with `acr` (a required level) only the methods that reach it are offered."""
    from flask_wtf import FlaskForm

    from idp.oidc.acr import PASSWORD_LEVEL
    from idp.verifiers.base import Level
    from idp.verifiers.registry import verifiers

    required = Level.from_acr(request.args.get("acr", "")) or Level.LOW
    from idp.verifiers.health import is_available

    # `idp_hint` (from the portal's authorization request) puts that source first, marked as suggested.
    hint = request.args.get("idp_hint", "")
    sources = sorted(((vid, v, is_available(v)) for vid, v in verifiers().items() if v.info.max_level >= required),
                     key=lambda item: (item[0] != hint, not item[2], -item[1].info.max_level))
    from idp.auth.mfa import enrolled_factors

    login = current_login()
    # A live session that is too weak may be stepped up with the account's own second factors.
    factors_offered = bool(login and required > Level.LOW and enrolled_factors(login.account))
    return render_template("auth/login.html", form=form, error=error, sources=sources, source_form=FlaskForm(),
                           password_allowed=required <= PASSWORD_LEVEL, step_up=required > Level.LOW, login=login,
                           hint=hint, factors_offered=factors_offered)


def _ip_limit() -> str:
    return current_settings().login.per_ip


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_ip_limit, methods=["POST"])
def login() -> Response | str | tuple[str, int]:
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
        hint = request.args.get("login_hint", "")
        if hint.isdigit() and len(hint) <= 20:
            form.identifier.data = hint
        return _render_login(form)
    if not form.validate_on_submit():
        return _render_login(form), 400
    try:
        account = authenticate_password(form.identifier.data or "", form.password.data or "")
    except LoginLocked as exc:
        db.session.commit()
        return _render_login(form, _(exc.message)), exc.status
    except AccountError as exc:
        db.session.commit()
        return _render_login(form, _(exc.message)), 403
    if account is None:
        db.session.commit()
        # One message for unknown account and wrong password: no enumeration.
        error = _("The personal ID number (or tax code) or the password is not correct.")
        return _render_login(form, error), 401
    target = safe_next(form.next.data)
    from idp.auth.mfa import enrolled_factors
    from idp.auth.mfa.views import begin_second_factor

    if enrolled_factors(account):  # the password is only the first step
        db.session.commit()
        return begin_second_factor(account, [AMR_PASSWORD], target)
    start_login_session(account, acr=ACR_LOW, amr=[AMR_PASSWORD])
    session["fresh_login_for"] = target
    db.session.commit()
    return redirect(target, code=303)


@bp.route("/done")
def done() -> str:
    return render_template("auth/done.html", login=current_login())


@bp.route("/logout", methods=["GET", "POST"])
def logout() -> Response | str:
    form = LogoutForm()
    if request.method == "POST" and form.validate_on_submit():
        end_login_session(reason="user_logout")
        db.session.commit()
        return render_template("auth/logged_out.html")
    return render_template("auth/logout.html", form=form, login=current_login())


@bp.route("/language/<lang>", methods=["GET"])
def language(lang: str) -> Response:
    if lang in ("vi", "en"):
        session["lang"] = lang
    return redirect(safe_next(request.args.get("next")), code=303)
