"""Browsing the trail for the admin console (pages and API share it): filters, pages, newest first."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from idp.audit.export import FORMATS
from idp.audit.export import ExportFilter
from idp.audit.models import AuditEvent
from idp.errors import IdpError
from idp.extensions import db
from idp.i18n import N_
from idp.notify import VIETNAM_TIME

PAGE_SIZE = 50
MAX_PAGE = 10000
_EVENT_PREFIX = re.compile(r"[a-z0-9_.]{1,64}")
_CLIENT_ID = re.compile(r"[A-Za-z0-9._~-]{1,64}")


class AuditFilterError(IdpError):
    """A filter the console cannot use (400)."""


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Vietnam days [since, until] (both included), an event name prefix, an account id, a portal."""

    since: date | None = None
    until: date | None = None
    prefix: str | None = None
    account_id: int | None = None
    client_id: str | None = None

    def bounds(self) -> tuple[datetime | None, datetime | None]:
        start = datetime.combine(self.since, time(), VIETNAM_TIME).astimezone(UTC) if self.since else None
        end = (datetime.combine(self.until + timedelta(days=1), time(), VIETNAM_TIME).astimezone(UTC)
               if self.until else None)
        return start, end

    def export_filter(self) -> ExportFilter:
        start, end = self.bounds()
        return ExportFilter(start, end, self.prefix)

    def query_args(self) -> dict[str, str]:
        """The filter as query parameters (for links that keep it)."""
        values = {"since": self.since.isoformat() if self.since else None,
                  "until": self.until.isoformat() if self.until else None, "event": self.prefix,
                  "account_id": str(self.account_id) if self.account_id is not None else None,
                  "client_id": self.client_id}
        return {key: value for key, value in values.items() if value}


def _day(value: str | None, code: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise AuditFilterError(code, N_("Dates are written YYYY-MM-DD.")) from None


def check_audit_filter(args: Mapping[str, Any]) -> AuditFilter:
    """Read the filter from query parameters; raise AuditFilterError on anything malformed."""
    text = {key: args.get(key) for key in ("since", "until", "event", "account_id", "client_id")}
    if any(value is not None and (not isinstance(value, str) or len(value) > 64) for value in text.values()):
        raise AuditFilterError("invalid_request", N_("A filter value is too long."))
    since, until = _day(text["since"], "invalid_since"), _day(text["until"], "invalid_until")
    if since and until and until < since:
        raise AuditFilterError("invalid_request", N_("The end date is before the start date."))
    prefix = (text["event"] or "").strip() or None
    if prefix is not None and not _EVENT_PREFIX.fullmatch(prefix):
        raise AuditFilterError("invalid_event", N_("An event name has lower-case letters, digits, dots and _."))
    account = (text["account_id"] or "").strip()
    if account and not (account.isascii() and account.isdigit() and len(account) <= 12):
        raise AuditFilterError("invalid_account_id", N_("An account id is a number."))
    client_id = (text["client_id"] or "").strip() or None
    if client_id is not None and not _CLIENT_ID.fullmatch(client_id):
        raise AuditFilterError("invalid_client_id", N_("This is not a client ID."))
    return AuditFilter(since, until, prefix, int(account) if account else None, client_id)


def check_page(value: Any) -> int:
    try:
        number = int(value) if value not in (None, "") else 1
    except (TypeError, ValueError):
        number = 0
    if not 1 <= number <= MAX_PAGE:
        raise AuditFilterError("invalid_page", N_("The page number is not valid."))
    return number


def check_format(value: Any) -> str:
    if value not in FORMATS:
        raise AuditFilterError("invalid_format", N_("The export format is jsonl or csv."))
    return value


def find_events(selection: AuditFilter, page: int = 1) -> tuple[list[AuditEvent], bool]:
    """One page of matching events, newest first, and whether there is a next page."""
    query = select(AuditEvent).order_by(AuditEvent.id.desc())
    start, end = selection.bounds()
    if start is not None:
        query = query.where(AuditEvent.at >= start)
    if end is not None:
        query = query.where(AuditEvent.at < end)
    if selection.prefix:
        escaped = selection.prefix.replace("_", "\\_")
        query = query.where(AuditEvent.event.like(escaped + "%", escape="\\"))
    if selection.account_id is not None:
        query = query.where(AuditEvent.account_id == selection.account_id)
    if selection.client_id is not None:
        query = query.where(AuditEvent.client_id == selection.client_id)
    rows = list(db.session.execute(query.offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)).scalars())
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE
