"""`/sandbox/outbox`: the latest sandbox messages, so a developer can read an SMS code or a letter."""

from __future__ import annotations

from flask import Blueprint
from flask import abort
from flask import render_template
from flask import request
from flask import url_for
from sqlalchemy import select

from idp.extensions import db
from idp.outbox import OutboxMessage
from idp.settings import current_settings

bp = Blueprint("sandbox", __name__, url_prefix="/sandbox")
SHOWN = 50


@bp.before_request
def only_when_sandbox_is_allowed() -> None:
    """Belt and braces: the blueprint is registered only then, and checks again on every request."""
    from idp.sandbox import sandbox_allowed

    if not sandbox_allowed(current_settings()):
        abort(404)


@bp.app_context_processor
def outbox_link() -> dict[str, str]:
    """Pages (e.g. the SMS code form) may link to the outbox while it exists."""
    return {"sandbox_outbox_url": url_for("sandbox.outbox")}


@bp.get("/outbox")
def outbox() -> tuple[str, int, dict[str, str]]:
    channel = request.args.get("channel", "")[:16]
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(SHOWN)
    if channel:
        query = query.where(OutboxMessage.channel == channel)
    messages = list(db.session.execute(query).scalars())
    channels = sorted(db.session.execute(select(OutboxMessage.channel).distinct()).scalars())
    headers = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}
    return render_template("sandbox/outbox.html", messages=messages, channel=channel, channels=channels), 200, headers
