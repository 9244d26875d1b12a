"""`idp audit verify|anchor|export`: operator and auditor commands over the trail."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC
from datetime import datetime
from pathlib import Path

import click
from flask.cli import with_appcontext

from idp.audit.anchor import AnchorError
from idp.audit.anchor import parse_anchor
from idp.audit.anchor import sign_anchor
from idp.audit.chain import ChainReport
from idp.audit.chain import verify_database
from idp.audit.export import FORMATS
from idp.audit.export import ExportFilter
from idp.audit.export import export_lines
from idp.audit.export import verify_export
from idp.audit.models import record
from idp.extensions import db


def parse_moment(value: str | None, option: str) -> datetime | None:
    """An ISO 8601 date or date-time; without an offset it is UTC."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 date or date-time", param_hint=option) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _print_report(report: ChainReport, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report.to_json()))
    elif report.ok:
        click.echo("audit chain intact")
        click.echo(f"head {report.head} ({report.checked} events)")
    else:
        click.echo(f"audit chain broken: {report.broken.describe()}")
        click.echo(f"last intact event {report.head} ({report.checked} events checked)")


@click.group()
def audit() -> None:
    """Audit trail: verify, anchor, export."""


@audit.command("verify")
@click.option("--expect-head", "expect_head", metavar="ID:HASH|ANCHOR",
              help="A head printed earlier (or a signed anchor from `idp audit anchor`): it must still be there.")
@click.option("--file", "path", type=click.Path(exists=True, dir_okay=False),
              help="Verify an exported file (.jsonl or .csv) instead of the database.")
@click.option("--contents-only", is_flag=True, help="With --file: check each event's hash only (an export "
              "filtered by --event has gaps).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@with_appcontext
def audit_verify(expect_head: str | None, path: str | None, contents_only: bool, as_json: bool) -> None:
    """Check the hash chain; exit 1 naming the first altered, inserted or deleted event."""
    if path:
        fmt = "csv" if path.lower().endswith(".csv") else "jsonl"
        with open(path, encoding="utf-8", newline="") as lines:
            try:
                report = verify_export(lines, fmt, links=not contents_only)
            except (ValueError, KeyError, TypeError) as exc:
                raise click.ClickException(f"{path} is not an audit export ({exc.__class__.__name__})") from exc
    else:
        try:
            anchor = parse_anchor(expect_head) if expect_head else None
        except AnchorError as exc:
            raise click.BadParameter(exc.message, param_hint="--expect-head") from exc
        report = verify_database(None if anchor is None else (anchor.event_id, anchor.hash))
    _print_report(report, as_json)
    if not report.ok:
        sys.exit(1)


@audit.command("anchor")
@with_appcontext
def audit_anchor() -> None:
    """Verify the chain and print its head signed with the provider's key (keep it off this host)."""
    report = verify_database()
    if not report.ok:
        _print_report(report, as_json=False)
        sys.exit(1)
    click.echo(sign_anchor(report))


@audit.command("export")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="jsonl", show_default=True)
@click.option("--since", help="Events at or after this ISO 8601 date or date-time (UTC unless it has an offset).")
@click.option("--until", help="Events before this ISO 8601 date or date-time.")
@click.option("--event", "prefix", help="Only events whose name starts with this (e.g. `login.`).")
@click.option("--output", type=click.Path(dir_okay=False), help="Write to this new file (never overwritten; "
              "owner-only permissions). Default: standard output.")
@with_appcontext
def audit_export(fmt: str, since: str | None, until: str | None, prefix: str | None, output: str | None) -> None:
    """Stream events for auditors, each line re-verifiable (`idp audit verify --file`)."""
    selection = ExportFilter(parse_moment(since, "--since"), parse_moment(until, "--until"), prefix or None)
    descriptor = None
    if output:
        try:
            descriptor = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise click.ClickException(f"cannot write {output}: {exc.strerror or exc}") from exc
    # Reading the trail is itself audited, before the first line is written.
    record("audit.exported", format=fmt, since=since, until=until, prefix=prefix, via="cli")
    db.session.commit()
    if descriptor is None:
        for line in export_lines(fmt, selection):
            click.echo(line, nl=False)
        return
    count = 0
    with open(descriptor, "w", encoding="utf-8", newline="") as out:
        for count, line in enumerate(export_lines(fmt, selection), start=1):  # noqa: B007 - count is reported
            out.write(line)
    events = count - 1 if fmt == "csv" else count
    click.echo(json.dumps({"output": str(Path(output)), "format": fmt, "events": max(events, 0)}), err=True)
