"""Audit trail and statistics benchmark: append rate, verification rate, dashboard query time.

    .venv/bin/python bench/audit.py                       # SQLite (a temporary file)
    IDP_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/idp_bench .venv/bin/python bench/audit.py

With IDP_TEST_DATABASE_URL set, PostgreSQL is measured too: that database's public schema is DROPPED
and recreated (use a scratch database, as the tests do). Prints one JSON object per backend.
Flags: --appends N (record() + commit, one transaction each), --events N (trail verified),
--logins N (login_event rows behind the dashboard).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import create_engine  # noqa: E402
from sqlalchemy import insert  # noqa: E402
from sqlalchemy import text  # noqa: E402

from idp import create_app  # noqa: E402
from idp.extensions import db  # noqa: E402

SOURCES = ("vneid", "password", "passkey", "telecom", "sso", "qr", "postal")
PROVINCES = ("01", "79", "31", "48", "92", "22", "46", None)


def make_app(url: str, keys: str):  # noqa: ANN201
    app = create_app({"env": "testing", "database_url": url, "keys": {"directory": keys},
                      "verifiers": {}, "log_level": "WARNING"})
    with app.app_context():
        upgrade(directory=str(Path(__file__).resolve().parent.parent / "migrations"))
    return app


def bench_appends(n: int) -> float:
    from idp.audit import record

    started = time.perf_counter()
    for i in range(n):
        record("bench.append", account_id=i, client_id="bench-portal", n=i)
        db.session.commit()
    return n / (time.perf_counter() - started)


def seed_trail(n: int) -> None:
    """Append `n` well-formed events quickly (hashes computed here, bulk inserted)."""
    from sqlalchemy import select

    from idp.audit import GENESIS
    from idp.audit import AuditEvent
    from idp.audit import event_hash

    prev = db.session.execute(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).scalar() or GENESIS
    start = datetime.now(UTC) - timedelta(days=1)
    batch = []
    for i in range(n):
        at = start + timedelta(microseconds=i * 1000)
        data = {"method": "pwd", "n": i}
        digest = event_hash(prev, at, "login.failed", i % 5000, None, data)
        batch.append({"at": at, "event": "login.failed", "account_id": i % 5000, "client_id": None,
                      "request_id": None, "data": data, "prev_hash": prev, "hash": digest})
        prev = digest
        if len(batch) == 5000:
            db.session.execute(insert(AuditEvent), batch)
            batch = []
    if batch:
        db.session.execute(insert(AuditEvent), batch)
    db.session.commit()


def bench_verify() -> tuple[int, float]:
    from idp.audit.chain import verify_database

    started = time.perf_counter()
    report = verify_database()
    elapsed = time.perf_counter() - started
    assert report.ok, report.broken
    return report.checked, report.checked / elapsed


def seed_logins(n: int, days: int = 30) -> date:
    """1,000 accounts, 20 portals (4 agencies), `n` login rows over `days` days; return the last day."""
    from idp.accounts.history import LoginEvent
    from idp.accounts.models import Account
    from idp.oidc.clients import ClientRegistration
    from idp.oidc.clients import register_client

    rng = random.Random(6)
    now = datetime.now(UTC)
    db.session.execute(insert(Account), [{"kind": "citizen", "identifier": f"0010990{i:05d}", "status": "active",
                                          "full_name": "Bench", "created_at": now, "updated_at": now}
                                         for i in range(1000)])
    ids = [row[0] for row in db.session.execute(text("SELECT id FROM account")).all()]
    portals: list[str | None] = []
    for i in range(20):
        client, _ = register_client(ClientRegistration(name=f"Portal {i}", redirect_uris=["https://p.example/cb"]))
        client.agency_code = f"agency-{i % 4}"
        portals.append(client.client_id)
    db.session.commit()
    portals.append(None)
    end = now - timedelta(seconds=days * 86400)
    batch = []
    for _ in range(n):
        batch.append({"at": end + timedelta(seconds=rng.randrange(days * 86400)), "account_id": rng.choice(ids),
                      "client_id": rng.choice(portals), "source": rng.choice(SOURCES), "level": rng.randint(1, 3),
                      "province_code": rng.choice(PROVINCES)})
        if len(batch) == 10000:
            db.session.execute(insert(LoginEvent), batch)
            batch = []
    if batch:
        db.session.execute(insert(LoginEvent), batch)
    db.session.commit()
    return now.date()


def bench_dashboard(last: date) -> dict[str, float]:
    """The dashboard read live from every row, then the first load (which rolls the settled days up),
    then the loads after it (the roll-up read for settled days, today's rows live)."""
    from sqlalchemy import func
    from sqlalchemy import select

    from idp.stats import dashboard as dashboard_module
    from idp.stats.dashboard import build_dashboard
    from idp.stats.queries import Period
    from idp.stats.rollup import LoginDaily

    period = Period(last - timedelta(days=29), last)
    timings: dict[str, float] = {}

    def timed(name: str, scope: set[str] | None) -> None:
        started = time.perf_counter()
        dashboard = build_dashboard(period, scope)
        timings[f"dashboard_{name}_s"] = round(time.perf_counter() - started, 3)
        timings[f"dashboard_{name}_logins"] = dashboard.total

    real_roll_up = dashboard_module.roll_up
    dashboard_module.roll_up = lambda days: 0  # as before the roll-up existed: every row read live
    try:
        timed("live_national", None)
        timed("live_agency", {"agency-1"})
    finally:
        dashboard_module.roll_up = real_roll_up
    timed("first_load_national", None)
    timings["login_daily_rows"] = db.session.execute(select(func.count()).select_from(LoginDaily)).scalar()
    timed("national", None)
    timed("agency", {"agency-1"})
    return timings


def run(backend: str, url: str, args: argparse.Namespace) -> dict:
    keys = tempfile.mkdtemp(prefix="idp-bench-keys-")
    app = make_app(url, keys)
    result: dict = {"backend": backend}
    with app.app_context():
        result["appends_per_s"] = round(bench_appends(args.appends))
        seed_trail(args.events)
        checked, rate = bench_verify()
        result.update(verified_events=checked, verify_events_per_s=round(rate))
        last = seed_logins(args.logins)
        if backend == "postgresql":
            db.session.execute(text("ANALYZE"))  # fresh bulk-loaded tables have no planner statistics yet
            db.session.commit()
        result["login_event_rows"] = args.logins
        result.update(bench_dashboard(last))
        db.session.remove()
        db.engine.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--events", type=int, default=50000)
    parser.add_argument("--logins", type=int, default=200000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="idp-bench-") as tmp:
        print(json.dumps(run("sqlite", f"sqlite:///{tmp}/bench.db", args)), flush=True)
    pg = os.environ.get("IDP_TEST_DATABASE_URL")
    if pg:
        engine = create_engine(pg)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        engine.dispose()
        print(json.dumps(run("postgresql", pg, args)), flush=True)


if __name__ == "__main__":
    main()
