"""Letter batches for the postal operator (`idp postal export-letters`): build, format, write once."""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Iterable

from idp.verifiers.postal.codes import new_code
from idp.verifiers.postal.letter import LetterVerifier
from idp.verifiers.registry import verifiers

COLUMNS = ("batch_id", "letter", "recipient", "address", "code", "valid_until")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# A formula character at the start of the value or of a part after a separator or line break
# (spaces before it do not stop every spreadsheet).
SEGMENT_FORMULA = re.compile(r"((?:^|[,;\t\r\n]) *)([=+\-@])")


def letter_sources(ids: Iterable[str] = ()) -> list[LetterVerifier]:
    """The configured letter sources (only `ids` when given); ValueError names an unknown id."""
    found = {vid: v for vid, v in verifiers().items() if isinstance(v, LetterVerifier)}
    wanted = list(ids) or sorted(found)
    unknown = [vid for vid in wanted if vid not in found]
    if unknown:
        raise ValueError(f"not a letter source: {', '.join(unknown)} (letter sources: {', '.join(sorted(found))})")
    return [found[vid] for vid in wanted]


def export_batch(sources: list[LetterVerifier], date_label: str) -> tuple[str, list[dict[str, str]]]:
    """Export every queued letter of these sources under one new batch id (the caller commits)."""
    batch_id = f"{date_label}-{new_code()[:6]}"
    return batch_id, [entry for source in sources for entry in source.export(batch_id)]


def render(entries: list[dict[str, str]], fmt: str) -> str:
    """Format a batch as CSV (spreadsheet formulas neutralised) or JSON."""
    if fmt == "json":
        return json.dumps(entries, ensure_ascii=False, indent=2) + "\n"
    buffer = io.StringIO()
    # Every cell quoted, so a reader that honours quotes keeps each value one cell (see _cell).
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writeheader()
    for entry in entries:
        writer.writerow({key: _cell(entry[key]) for key in COLUMNS})
    return buffer.getvalue()


def write_new_file(path: str, text: str) -> None:
    """Write to a file that must not exist yet, readable by its owner only (it holds the codes)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)


def _cell(value: str) -> str:
    """Neutralise what a spreadsheet could read as a formula (OWASP CSV injection).

    A cell starting with a formula character gets a `'` (shown as text). So does any part of the
    value after a `,`, `;`, tab or line break: Excel in Vietnamese regional settings splits CSV on
    ";" (the list separator where "," is the decimal mark) and then ignores our quotes, so
    "Số 1;=HYPERLINK(…)" would otherwise open as a cell of its own that starts with "="."""
    value = SEGMENT_FORMULA.sub(lambda found: found.group(1) + "'" + found.group(2), value)
    return "'" + value if value.startswith(FORMULA_START) else value
