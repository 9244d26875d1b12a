"""Export for auditors: JSON lines or CSV, streamed, each line carrying what re-verification needs.

Every line has id, at, event, account_id, client_id, request_id, data, prev_hash and hash; `at`
is exactly the string that was hashed. CSV cells that a spreadsheet would run as a formula
(starting with = + - @, a tab or a carriage return) and cells starting with an apostrophe get a
leading apostrophe; `unguard_cell` removes it again, so the export reads back exactly. An empty
CSV cell is null. `read_export` + `verify_export` re-verify a file offline.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Response
from flask import stream_with_context
from sqlalchemy import select

from idp.audit.chain import ChainReport
from idp.audit.chain import ChainRow
from idp.audit.chain import check_contents
from idp.audit.chain import walk
from idp.audit.models import AuditEvent
from idp.audit.models import canonical_time
from idp.dbtypes import utcnow
from idp.extensions import db

FORMATS = ("jsonl", "csv")
COLUMNS = ("id", "at", "event", "account_id", "client_id", "request_id", "data", "prev_hash", "hash")
MEDIA_TYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")
BATCH = 1000


@dataclass(frozen=True, slots=True)
class ExportFilter:
    """Which events: `at` in [since, until), event names starting with `prefix`."""

    since: datetime | None = None
    until: datetime | None = None
    prefix: str | None = None

    @property
    def is_contiguous(self) -> bool:
        """Without an event filter the exported rows are consecutive, so their links can be checked."""
        return not self.prefix


def exported_events(selection: ExportFilter) -> Iterator[dict[str, Any]]:
    """Stream the selected events in id order as dicts of COLUMNS, BATCH rows per round trip."""
    query = select(*(getattr(AuditEvent, name) for name in COLUMNS)).order_by(AuditEvent.id)
    if selection.since is not None:
        query = query.where(AuditEvent.at >= selection.since)
    if selection.until is not None:
        query = query.where(AuditEvent.at < selection.until)
    if selection.prefix:
        escaped = selection.prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(AuditEvent.event.like(escaped + "%", escape="\\"))
    result = db.session.execute(query.execution_options(yield_per=BATCH))
    try:
        for row in result:
            yield event_record(row)
    finally:
        result.close()  # a download abandoned half-way must not leave a server-side cursor open


def event_record(row: Any) -> dict[str, Any]:
    """An event (row or AuditEvent) as exported: COLUMNS, with `at` in its hashed form."""
    return {name: canonical_time(row.at) if name == "at" else getattr(row, name) for name in COLUMNS}


def jsonl_lines(events: Iterable[dict[str, Any]]) -> Iterator[str]:
    """One compact JSON object per line."""
    for event in events:
        yield json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n"


def guard_cell(value: str) -> str:
    """Keep a spreadsheet from running a cell as a formula (OWASP CSV injection)."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def unguard_cell(value: str) -> str:
    """Undo guard_cell."""
    return value[1:] if value.startswith("'") else value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return guard_cell(json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")))
    return guard_cell(str(value))


def csv_lines(events: Iterable[dict[str, Any]]) -> Iterator[str]:
    """A header, then one RFC 4180 line per event; a UTF-8 byte order mark first, for spreadsheets."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    yield "\ufeff" + buffer.getvalue()
    for event in events:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([_cell(event[name]) for name in COLUMNS])
        yield buffer.getvalue()


def export_lines(fmt: str, selection: ExportFilter) -> Iterator[str]:
    """The export in `fmt` ("jsonl" or "csv"), line by line."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}")
    events = exported_events(selection)
    return jsonl_lines(events) if fmt == "jsonl" else csv_lines(events)


def download_response(fmt: str, selection: ExportFilter) -> Response:
    """A streamed attachment for the admin console's download endpoint (the caller audits it)."""
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    response = Response(stream_with_context(export_lines(fmt, selection)), content_type=MEDIA_TYPES[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="audit-{stamp}.{fmt}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _optional_int(value: str) -> int | None:
    return int(value) if value != "" else None


def read_export(lines: Iterable[str], fmt: str) -> Iterator[ChainRow]:
    """Parse an exported file back into chain rows (raises ValueError on a malformed line)."""
    if fmt == "jsonl":
        for line in lines:
            if line.strip():
                item = json.loads(line)
                yield ChainRow(int(item["id"]), item["at"], item["event"], item["account_id"], item["client_id"],
                               item["data"], item["prev_hash"], item["hash"])
        return
    reader = csv.reader(line.lstrip("\ufeff") for line in lines)
    header = next(reader, None)
    if header is None or tuple(header) != COLUMNS:
        raise ValueError("not an audit export: the CSV header differs")
    for cells in reader:
        item = dict(zip(COLUMNS, (unguard_cell(c) for c in cells), strict=True))
        yield ChainRow(int(item["id"]), item["at"], item["event"], _optional_int(item["account_id"]),
                       item["client_id"] or None, json.loads(item["data"]), item["prev_hash"], item["hash"])


def verify_export(lines: Iterable[str], fmt: str, *, links: bool = True) -> ChainReport:
    """Re-verify an exported file: each event's hash and (when `links`) the chain between them.

    The first event's own predecessor hash is taken as given (the export may start mid-trail);
    `links=False` suits an export filtered by event name, whose rows are not consecutive.
    """
    rows = read_export(lines, fmt)
    if not links:
        return check_contents(rows)
    first = next(rows, None)
    if first is None:
        return check_contents(())

    def again() -> Iterator[ChainRow]:
        yield first
        yield from rows

    return walk(again(), start_hash=first.prev_hash)
