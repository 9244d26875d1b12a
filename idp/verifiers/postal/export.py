"""Letter batches for the postal operator (`idp postal export-letters`): build, format, write once."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable

from idp.verifiers.postal.codes import new_code
from idp.verifiers.postal.letter import LetterVerifier
from idp.verifiers.registry import verifiers

COLUMNS = ("batch_id", "letter", "recipient", "address", "code", "valid_until")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


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
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
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
    # OWASP CSV injection: a cell starting with a formula character is shown as text.
    return "'" + value if value.startswith(FORMULA_START) else value
