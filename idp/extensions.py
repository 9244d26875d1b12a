"""Unbound Flask extensions; `init_extensions` binds them to one application."""

from __future__ import annotations

from flask import Flask
from flask import request
from flask_babel import Babel
from flask_babel import get_locale
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase

LOCALES = ("vi", "en")


class Base(DeclarativeBase):
    pass


# expire_on_commit=False: a request that commits early (burning a code) need not reload every row.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=False)
babel = Babel()


def select_locale() -> str:
    """Pick the UI language: explicit choice, then `ui_locales`, then the browser, then vi."""
    from flask import session

    chosen = request.args.get("lang") or session.get("lang")
    if chosen in LOCALES:
        return chosen
    from werkzeug.exceptions import RequestEntityTooLarge

    try:
        values = request.values
    except RequestEntityTooLarge:  # the error page for an oversized body must not read that body again
        values = request.args
    for tag in values.get("ui_locales", "")[:200].split():
        base = tag.split("-")[0].lower()
        if base in LOCALES:
            return base
    from idp.settings import current_settings

    return request.accept_languages.best_match(LOCALES) or current_settings().default_locale


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001 - DB-API connection
    # WAL lets readers run beside the writer; NORMAL syncs at checkpoints, safe with WAL.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def init_extensions(app: Flask) -> None:
    """Bind every extension to `app`."""
    import os

    from sqlalchemy import event

    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _sqlite_pragmas)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(os.path.dirname(__file__)), "migrations"))
    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=select_locale, default_translation_directories="translations")
    app.jinja_env.globals["current_locale"] = lambda: str(get_locale() or "vi")
