"""Verifying the hash chain: the first altered, inserted or deleted event, and the head.

The same walk checks the database (`verify_database`) and an exported file (idp.audit.export).
The chain alone cannot show that the newest events were deleted: compare the head with an
anchor kept elsewhere (`expected_head`, see idp.audit.anchor).
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from idp.audit.models import GENESIS
from idp.audit.models import AuditEvent
from idp.audit.models import event_hash
from idp.extensions import db

ALTERED = "altered"
INSERTED = "inserted"
DELETED = "deleted"
# Rows fetched per round trip: the walk never holds the whole trail in memory.
BATCH = 2000


@dataclass(frozen=True, slots=True)
class ChainRow:
    """What the hash covers, plus the row id (from the database or an exported line)."""

    id: int
    at: datetime | str
    event: str
    account_id: int | None
    client_id: str | None
    data: dict[str, Any]
    prev_hash: str
    hash: str

    def content_hash(self, prev_hash: str | None = None) -> str:
        return event_hash(self.prev_hash if prev_hash is None else prev_hash, self.at, self.event,
                          self.account_id, self.client_id, self.data)


@dataclass(frozen=True, slots=True)
class Break:
    """Where the chain breaks: `event_id` was altered or inserted, or is the first event after a gap."""

    kind: str
    event_id: int | None
    detail: str
    after_id: int | None = None  # deleted: the last intact event before the missing ones

    def describe(self) -> str:
        """One line for people: "altered event 7: ...", "deleted event(s) between event 3 and event 5: ..."."""
        if self.kind != DELETED:
            return f"{self.kind} event {self.event_id}: {self.detail}"
        if self.event_id is None:
            return f"deleted event(s) after event {self.after_id}: {self.detail}"
        if self.after_id is None:
            return f"deleted event(s) before event {self.event_id}: {self.detail}"
        return f"deleted event(s) between event {self.after_id} and event {self.event_id}: {self.detail}"


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The result of a walk: events checked, the last intact event (the head) and the first break."""

    checked: int
    head_id: int | None
    head_hash: str
    broken: Break | None = None

    @property
    def ok(self) -> bool:
        return self.broken is None

    @property
    def head(self) -> str:
        """The head as an operator writes it down: `ID:HASH` (`0:000…` for an empty trail)."""
        return f"{self.head_id or 0}:{self.head_hash}"

    def to_json(self) -> dict[str, Any]:
        broken = self.broken
        return {"ok": self.ok, "checked": self.checked, "head": self.head, "head_id": self.head_id,
                "head_hash": self.head_hash,
                "broken": None if broken is None else {"kind": broken.kind, "event_id": broken.event_id,
                                                       "after_id": broken.after_id, "detail": broken.detail}}


def _classify(row: ChainRow, following: ChainRow | None, prev_id: int | None, prev_hash: str,
              before_prev: str | None) -> Break | None:
    """Judge one row against the intact chain before it (and peek at the row after it)."""
    content_ok = row.hash == row.content_hash()
    if row.prev_hash == prev_hash:
        if content_ok:
            return None
        if before_prev is not None and row.hash == row.content_hash(before_prev):
            # The row was hashed after the one before `prev`: `prev` was slipped in and this row re-linked.
            return Break(INSERTED, prev_id, "it was slipped in between two chained events")
        return Break(ALTERED, row.id, "its content no longer matches its hash")
    if before_prev is not None and row.prev_hash == before_prev:
        return Break(INSERTED, prev_id, "the next event points past it to its predecessor")
    if following is not None and following.prev_hash == prev_hash:
        return Break(INSERTED, row.id, "the next event points past it to its predecessor")
    if not content_ok:
        return Break(ALTERED, row.id, "neither its content nor its link to the previous event match")
    if prev_id is not None and row.id == prev_id + 1:
        return Break(ALTERED, prev_id, "it was re-hashed: the next event does not point to it")
    return Break(DELETED, row.id, "it points to a predecessor hash that no event has", after_id=prev_id)


def walk(rows: Iterable[ChainRow], start_hash: str = GENESIS) -> ChainReport:
    """Check every row's hash and its link to the previous row; stop at the first break."""
    prev_id: int | None = None
    prev_hash, before_prev = start_hash, None
    checked = 0
    iterator = iter(rows)
    row = next(iterator, None)
    while row is not None:
        following = next(iterator, None)
        broken = _classify(row, following, prev_id, prev_hash, before_prev)
        if broken is not None:
            return ChainReport(checked, prev_id, prev_hash, broken)
        prev_id, prev_hash, before_prev = row.id, row.hash, prev_hash
        checked += 1
        row = following
    return ChainReport(checked, prev_id, prev_hash)


def check_contents(rows: Iterable[ChainRow]) -> ChainReport:
    """Check each row's own hash only (a filtered export, whose rows are not consecutive)."""
    checked, last = 0, None
    for row in rows:
        if row.hash != row.content_hash():
            return ChainReport(checked, last.id if last else None, last.hash if last else GENESIS,
                               Break(ALTERED, row.id, "its content no longer matches its hash"))
        checked, last = checked + 1, row
    return ChainReport(checked, last.id if last else None, last.hash if last else GENESIS)


def compare_head(report: ChainReport, expected_id: int, expected_hash: str, found_hash: str | None) -> ChainReport:
    """Hold an intact chain against an anchored head (`found_hash`: the hash event `expected_id` has now)."""
    if not report.ok:
        return report
    if found_hash == expected_hash or (expected_id == 0 and expected_hash == GENESIS):
        return report
    if found_hash is None and (report.head_id is None or expected_id > report.head_id):
        broken = Break(DELETED, None, f"the chain ends at event {report.head_id or 0}, but the anchored head is "
                                      f"event {expected_id}: the newest events were deleted",
                       after_id=report.head_id or 0)
    elif found_hash is None:
        broken = Break(DELETED, expected_id, "the anchored head event is missing")
    else:
        broken = Break(ALTERED, expected_id, "it no longer has the anchored hash: the chain was rewritten "
                                             "at or before it")
    return ChainReport(report.checked, report.head_id, report.head_hash, broken)


def database_rows() -> Iterator[ChainRow]:
    """Stream the trail in id order, BATCH rows at a time."""
    query = select(AuditEvent.id, AuditEvent.at, AuditEvent.event, AuditEvent.account_id, AuditEvent.client_id,
                   AuditEvent.data, AuditEvent.prev_hash, AuditEvent.hash).order_by(AuditEvent.id)
    result = db.session.execute(query.execution_options(yield_per=BATCH))
    try:
        for row in result:
            yield ChainRow(*row)
    finally:
        result.close()  # a walk that stops early must not leave a server-side cursor open


def verify_database(expected_head: tuple[int, str] | None = None) -> ChainReport:
    """Walk the whole trail; with `expected_head` (id, hash), also require that anchored event."""
    with closing(database_rows()) as rows:
        if expected_head is None:
            return walk(rows)
        expected_id, expected_hash = expected_head
        seen: dict[str, str] = {}

        def remember(rows: Iterable[ChainRow]) -> Iterator[ChainRow]:
            for row in rows:
                if row.id == expected_id:
                    seen["hash"] = row.hash
                yield row

        report = walk(remember(rows))
    return compare_head(report, expected_id, expected_hash, seen.get("hash"))


def verify_chain() -> int | None:
    """Return the id of the first event that breaks the chain, or None if it is intact."""
    broken = verify_database().broken
    if broken is None:
        return None
    return broken.event_id if broken.event_id is not None else broken.after_id
