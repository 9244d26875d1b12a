#!/usr/bin/env python3
"""Load benchmark of a real `idp serve` (gunicorn) on SQLite and PostgreSQL.

For each backend: a fresh database (`idp db upgrade`, `idp demo`, temporary keys), a real server
on a free 127.0.0.1 port, then timed scenarios driven by a pure-Python load generator running in
separate processes (stdlib http.client, one keep-alive connection per process; gunicorn's sync
worker closes after every response, so that usually means one connection per request).

Per scenario: requests, errors, requests/s, requests per CPU-second of the server processes
(utime+stime of the gunicorn master and its workers from /proc, before and after the timed
phase), p50/p99 latency and the peak RSS of the server processes (VmRSS sampled during the run).

Run with the project's virtualenv:  .venv/bin/python bench/run.py --backend both --duration 5
Only ever talks to 127.0.0.1. See bench/README.md.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import html
import http.client
import json
import math
import multiprocessing as mp
import os
import platform
import queue
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import deque
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
HOST = "127.0.0.1"

DEMO_PIN = "001090012345"
DEMO_PASSWORD = "demo-password-2025"
PORTAL_ID = "demo-national-portal"  # trusted: no consent page
PORTAL_SECRET = "demo-national-portal-secret"
PORTAL_REDIRECT = "http://127.0.0.1:8001/callback"
MACHINE_ID = "demo-ministry-finance"  # client_credentials caller
MACHINE_SECRET = "demo-ministry-finance-secret"
SCOPE = "openid profile email offline_access"

# Cheap argon2id so the login flow measures the provider, not the password hash.
CHEAP_ARGON2 = {"IDP_PASSWORDS__TIME_COST": "1", "IDP_PASSWORDS__MEMORY_COST": "1024",
                "IDP_PASSWORDS__PARALLELISM": "1"}
# The per-IP login limit (default 30/minute) would turn the login flow into 429s from one client IP;
# the limiter still runs on every POST, it just never trips.
LOGIN_LIMIT = "1000000 per minute"

# name -> target in requests per server CPU-second (None: no target given)
SCENARIOS: dict[str, int | None] = {
    "discovery": 8000,
    "jwks": 8000,
    "client_credentials": 4000,
    "code_exchange": None,
    "refresh": 1000,
    "userinfo": 5000,
    "introspection": 4500,
    "login_flow": 300,
}
DESCRIPTIONS = {
    "discovery": "GET /.well-known/openid-configuration",
    "jwks": "GET /jwks.json",
    "client_credentials": "POST /oauth2/token grant_type=client_credentials (Basic auth)",
    "code_exchange": "POST /oauth2/token grant_type=authorization_code + PKCE (ID + access token signing)",
    "refresh": "POST /oauth2/token grant_type=refresh_token (rotating; every token used once)",
    "userinfo": "GET /oauth2/userinfo (Bearer JWT access token)",
    "introspection": "POST /oauth2/introspect access token (Basic auth)",
    "login_flow": "authorize -> GET login -> POST login -> authorize -> code -> token (5 HTTP requests = 1)",
}
CODE_TTL_GUARD = 40.0  # seconds; codes live 60 s, so generation and use must each stay well inside that


# --- minimal HTTP client ------------------------------------------------------------------------

class Exhausted(Exception):
    """The scenario's pre-generated inputs are used up."""


class Http:
    """One connection to the server with a tiny cookie jar (reconnects when the server closes)."""

    def __init__(self, port: int, cookies: dict[str, str] | None = None) -> None:
        self.port = port
        self.conn: http.client.HTTPConnection | None = None
        self.cookies: dict[str, str] = dict(cookies or {})

    def reset(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.conn = None

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, http.client.HTTPResponse, bytes]:
        hdrs = dict(headers or {})
        if self.cookies:
            hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None and "Content-Type" not in hdrs:
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):
            reused = self.conn is not None
            if self.conn is None:
                self.conn = http.client.HTTPConnection(HOST, self.port, timeout=60)
            try:
                self.conn.request(method, path, body=body, headers=hdrs)
                resp = self.conn.getresponse()
                data = resp.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # A kept-alive connection the server closed while idle: reconnect once.
                self.reset()
                if not reused or attempt == 2:
                    raise
            except Exception:
                self.reset()
                raise
        for raw in resp.headers.get_all("Set-Cookie") or []:
            name, _, rest = raw.partition("=")
            value = rest.split(";", 1)[0]
            if value in ("", '""') or "max-age=0" in raw.lower():
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = value
        if resp.will_close:
            self.reset()
        return resp.status, resp, data


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def form(**fields: str) -> bytes:
    return urlencode(fields).encode()


def local_path(location: str) -> str:
    parts = urlsplit(location)
    if parts.netloc and parts.hostname not in (HOST, "localhost"):
        raise RuntimeError(f"refusing to follow a redirect off 127.0.0.1: {location}")
    return parts.path + ("?" + parts.query if parts.query else "")


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize_path(challenge: str) -> str:
    return "/oauth2/authorize?" + urlencode({
        "response_type": "code", "client_id": PORTAL_ID, "redirect_uri": PORTAL_REDIRECT, "scope": SCOPE,
        "state": secrets.token_hex(8), "nonce": secrets.token_hex(12),
        "code_challenge": challenge, "code_challenge_method": "S256"})


CSRF_RE = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def describe(method: str, path: str, status: int | str, body: bytes | str) -> str:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return f"{method} {path} -> {status} {' '.join(text.split())[:400]}"


class StepFailed(Exception):
    pass


def expect(ok: bool, method: str, path: str, status: int, body: bytes) -> None:
    if not ok:
        raise StepFailed(describe(method, path, status, body))


def browser_code(h: Http) -> tuple[str, str]:
    """authorize -> (login page -> POST login -> authorize) -> code; returns (code, verifier)."""
    verifier, challenge = pkce_pair()
    path = authorize_path(challenge)
    st, resp, body = h.request("GET", path)
    if st == 302 and "/auth/login" in (resp.getheader("Location") or ""):
        login_url = local_path(resp.getheader("Location"))
        st, resp, body = h.request("GET", login_url)
        expect(st == 200, "GET", login_url, st, body)
        match = CSRF_RE.search(body.decode("utf-8", "replace"))
        expect(match is not None, "GET", login_url, st, b"no csrf_token in login page")
        next_url = query_of(login_url).get("next", "")
        st, resp, body = h.request("POST", "/auth/login", form(
            csrf_token=html.unescape(match.group(1)), identifier=DEMO_PIN, password=DEMO_PASSWORD, next=next_url))
        expect(st == 303, "POST", "/auth/login", st, body)
        path = local_path(resp.getheader("Location"))
        st, resp, body = h.request("GET", path)
    location = resp.getheader("Location") or ""
    expect(st == 302 and location.startswith(PORTAL_REDIRECT + "?"), "GET", path, st,
           body or f"Location: {location}".encode())
    code = query_of(location).get("code")
    expect(bool(code), "GET", path, st, f"no code in Location: {location}".encode())
    return code, verifier


def exchange(h: Http, code: str, verifier: str) -> dict[str, Any]:
    body = form(grant_type="authorization_code", code=code, redirect_uri=PORTAL_REDIRECT, code_verifier=verifier)
    st, _, data = h.request("POST", "/oauth2/token", body, basic(PORTAL_ID, PORTAL_SECRET))
    expect(st == 200 and b'"id_token"' in data, "POST", "/oauth2/token (authorization_code)", st, data)
    return json.loads(data)


# --- scenario steps (run inside the client processes) -----------------------------------------

def make_step(name: str, payload: dict[str, Any]):  # noqa: ANN201, C901 - a step callable
    """Return step(http) -> None (raises StepFailed/OSError on error, Exhausted when out of inputs)."""
    collected: list[dict[str, str]] = []

    if name in ("discovery", "jwks"):
        path = "/.well-known/openid-configuration" if name == "discovery" else "/jwks.json"

        def step(h: Http) -> None:
            st, _, data = h.request("GET", path)
            expect(st == 200 and data[:1] == b"{", "GET", path, st, data)

    elif name == "client_credentials":
        body = form(grant_type="client_credentials")
        headers = basic(MACHINE_ID, MACHINE_SECRET)

        def step(h: Http) -> None:
            st, _, data = h.request("POST", "/oauth2/token", body, headers)
            expect(st == 200 and b'"access_token"' in data, "POST", "/oauth2/token (client_credentials)", st, data)

    elif name == "code_exchange":
        codes = deque(payload["codes"])

        def step(h: Http) -> None:
            if not codes:
                raise Exhausted
            code, verifier = codes.popleft()
            token = exchange(h, code, verifier)
            if "refresh_token" in token:
                collected.append({"refresh_token": token["refresh_token"], "access_token": token["access_token"]})

    elif name == "refresh":
        tokens = deque(payload["refresh_tokens"])

        def step(h: Http) -> None:
            if not tokens:
                raise Exhausted
            body = form(grant_type="refresh_token", refresh_token=tokens.popleft())
            st, _, data = h.request("POST", "/oauth2/token", body, basic(PORTAL_ID, PORTAL_SECRET))
            expect(st == 200 and b'"refresh_token"' in data, "POST", "/oauth2/token (refresh_token)", st, data)
            tokens.append(json.loads(data)["refresh_token"])  # the rotated token: used once, later

    elif name == "userinfo":
        headers = {"Authorization": "Bearer " + payload["access_token"]}

        def step(h: Http) -> None:
            st, _, data = h.request("GET", "/oauth2/userinfo", None, headers)
            expect(st == 200 and b'"sub"' in data, "GET", "/oauth2/userinfo", st, data)

    elif name == "introspection":
        body = form(token=payload["access_token"], token_type_hint="access_token")
        headers = basic(PORTAL_ID, PORTAL_SECRET)

        def step(h: Http) -> None:
            st, _, data = h.request("POST", "/oauth2/introspect", body, headers)
            ok = st == 200 and json.loads(data).get("active") is True
            expect(ok, "POST", "/oauth2/introspect", st, data)

    elif name == "login_flow":
        def step(h: Http) -> None:
            h.cookies.clear()  # a new browser every time
            code, verifier = browser_code(h)
            exchange(h, code, verifier)

    else:
        raise ValueError(name)
    step.collected = collected  # type: ignore[attr-defined]
    return step


def client_process(port: int, name: str, payload: dict[str, Any], deadline: Any, go: Any, ready: Any, out: Any,
                   index: int, max_requests: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles ^C and cleans up
    h = Http(port, payload.get("cookies"))
    step = make_step(name, payload)
    latencies: list[float] = []
    errors, samples, exhausted = 0, [], False
    ready.put(index)
    go.wait()
    end_at = deadline.value
    count = 0
    while count < max_requests and time.monotonic() < end_at:
        started = time.perf_counter()
        try:
            step(h)
        except Exhausted:
            exhausted = True
            break
        except Exception as exc:  # noqa: BLE001 - every failure is counted and sampled
            errors += 1
            if len(samples) < 3:
                samples.append(str(exc) if isinstance(exc, StepFailed) else f"{type(exc).__name__}: {exc}")
            h.reset()
        latencies.append(time.perf_counter() - started)
        count += 1
    out.put({"index": index, "latencies": latencies, "errors": errors, "samples": samples, "end": time.monotonic(),
             "exhausted": exhausted, "collected": step.collected})


def generate_codes(port: int, cookies: dict[str, str], deadline: float, limit: int, out: Any) -> None:
    """Pre-generation worker: a logged-in browser asks /oauth2/authorize for codes until time or count."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    h = Http(port, cookies)
    codes, errors, samples = [], 0, []
    while len(codes) < limit and time.monotonic() < deadline and errors < 50:
        try:
            codes.append((time.monotonic(), *browser_code(h)))
        except Exception as exc:  # noqa: BLE001
            errors += 1
            if len(samples) < 3:
                samples.append(str(exc))
            h.reset()
    out.put({"codes": codes, "errors": errors, "samples": samples})


# --- the server under test -------------------------------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{task}/children") as handle:
                    found.extend(int(x) for x in handle.read().split())
            except OSError:
                pass
        return found
    except OSError:
        pass
    for entry in os.listdir("/proc"):  # no /proc/<pid>/task/*/children: scan parents
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    found.append(int(entry))
            except (OSError, IndexError):
                pass
    return found


def proc_times(pid: int) -> tuple[float, float, float, float] | None:
    """(utime, stime, cutime, cstime) in seconds, or None if the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return tuple(int(x) / CLK_TCK for x in fields[11:15])  # type: ignore[return-value]


def proc_rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def proc_pss_kb(pid: int) -> int:
    """Proportional set size: shared (copy-on-write) pages divided among the processes sharing them."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def idp_executable() -> str:
    for candidate in (Path(sys.executable).parent / "idp", ROOT / ".venv" / "bin" / "idp"):
        if candidate.exists():
            return str(candidate)
    raise SystemExit("cannot find the `idp` console script: run with the project's .venv/bin/python")


class PostgresDatabase:
    """A fresh database `idp_bench_<pid>` on the local server, dropped afterwards."""

    def __init__(self, admin_url: str) -> None:
        parts = urlsplit(admin_url)
        if parts.hostname not in (HOST, "localhost"):
            raise SystemExit(f"--pg-url must point at 127.0.0.1, not {parts.hostname}")
        self.admin_url = admin_url
        self.name = f"idp_bench_{os.getpid()}"
        user = parts.username or "postgres"
        auth = f"{user}:{parts.password}@" if parts.password else f"{user}@"
        self.url = f"postgresql+psycopg://{auth}{HOST}:{parts.port or 5432}/{self.name}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql)

    def create(self) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self._admin(f'CREATE DATABASE "{self.name}"')

    def backend_cpu(self) -> dict[int, float]:
        """CPU-seconds so far of each PostgreSQL backend process connected to the benchmark database."""
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10) as conn:
            pids = [r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.name,))]
        cpu = {}
        for pid in pids:
            times = proc_times(pid)  # the server runs on this machine: its backends are in /proc
            if times:
                cpu[pid] = times[0] + times[1]
        return cpu

    def drop(self) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


class Server:
    def __init__(self, backend: str, args: argparse.Namespace) -> None:
        self.backend = backend
        self.args = args
        self.work = Path(tempfile.mkdtemp(prefix=f"idp-bench-{backend}-"))
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.process: subprocess.Popen | None = None
        self.pg: PostgresDatabase | None = None
        self.log_path = self.work / "server.log"
        self._log = None
        self.known_pids: set[int] = set()

    def env(self, database_url: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
        env.update({
            "IDP_ENV": "development",
            "IDP_ISSUER": self.url,
            "IDP_DATABASE_URL": database_url,
            "IDP_KEYS_DIR": str(self.work / "keys"),
            "IDP_LOGIN__PER_IP": LOGIN_LIMIT,
            **CHEAP_ARGON2,
        })
        if self.args.redis_url:
            env["IDP_REDIS_URL"] = self.args.redis_url
        return env

    def cli(self, env: dict[str, str], *argv: str) -> str:
        command = [idp_executable(), *argv]
        done = subprocess.run(command, env=env, cwd=self.work, capture_output=True, text=True,  # noqa: S603
                              timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"idp {' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
        return done.stdout

    def start(self) -> None:
        if self.backend == "postgresql":
            self.pg = PostgresDatabase(self.args.pg_url)
            self.pg.create()
            database_url = self.pg.url
        else:
            database_url = f"sqlite:///{self.work / 'idp.db'}"
        env = self.env(database_url)
        self.cli(env, "db", "upgrade")
        self.cli(env, "demo")
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(  # noqa: S603 - our own console script
            [idp_executable(), "serve", "--host", HOST, "--port", str(self.port), "--workers", str(self.args.workers),
             "--threads", str(self.args.threads)],
            env=env, cwd=self.work, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                st, _, _ = Http(self.port).request("GET", "/.well-known/openid-configuration")
                if st == 200 and len(proc_children(self.process.pid)) >= self.args.workers:
                    break
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("server did not start:\n" + self.log_path.read_text()[-3000:])
            time.sleep(0.1)

    def pids(self) -> list[int]:
        assert self.process is not None
        pids = [self.process.pid, *proc_children(self.process.pid)]
        self.known_pids.update(pids)
        return pids

    def cpu_seconds(self) -> tuple[float, float]:
        """(user, system) CPU-seconds of the master (incl. reaped workers) and the live workers."""
        assert self.process is not None
        user = system = 0.0
        master = proc_times(self.process.pid)
        if master:
            user, system = master[0] + master[2], master[1] + master[3]
        for pid in proc_children(self.process.pid):
            times = proc_times(pid)
            if times:
                user, system = user + times[0], system + times[1]
        return user, system

    def rss_kb(self) -> int:
        return sum(proc_rss_kb(pid) for pid in self.pids())

    def pss_kb(self) -> int:
        return sum(proc_pss_kb(pid) for pid in self.pids())

    def db_cpu(self) -> dict[int, float]:
        if self.pg is None:
            return {}
        try:
            return self.pg.backend_cpu()
        except Exception:  # noqa: BLE001 - optional measurement
            return {}

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            workers = proc_children(self.process.pid)
            self.process.terminate()  # gunicorn: graceful stop of the workers (graceful_timeout 5 s)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
                for pid in workers:  # only the workers this master started
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
        if self._log is not None:
            self._log.close()
        if self.pg is not None:
            try:
                self.pg.drop()
            except Exception as exc:  # noqa: BLE001
                print(f"warning: could not drop database {self.pg.name}: {exc}", file=sys.stderr)
        if not self.args.keep_temp:
            shutil.rmtree(self.work, ignore_errors=True)

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


# --- orchestration -------------------------------------------------------------------------------

MP = mp.get_context("fork")


def percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))]


def run_phase(server: Server, name: str, payloads: list[dict[str, Any]], duration: float,
              max_requests: int) -> dict[str, Any]:
    """Start one client process per payload, run the timed phase, measure the server around it."""
    per_process = max(1, math.ceil(max_requests / len(payloads)))
    go, ready, out = MP.Event(), MP.Queue(), MP.Queue()
    deadline = MP.Value("d", 0.0)
    procs = [MP.Process(target=client_process, daemon=True,
                        args=(server.port, name, payload, deadline, go, ready, out, i, per_process))
             for i, payload in enumerate(payloads)]
    try:
        return _timed(server, name, procs, go, ready, out, deadline, duration)
    except BaseException:
        for proc in procs:
            if proc.pid is not None and proc.is_alive():
                proc.terminate()
        raise
    finally:
        for proc in procs:
            if proc.pid is not None:
                proc.join(timeout=10)
                if proc.is_alive():
                    proc.terminate()


def _timed(server: Server, name: str, procs: list[Any], go: Any, ready: Any, out: Any, deadline: Any,
           duration: float) -> dict[str, Any]:
    for proc in procs:
        proc.start()
    for _ in procs:
        ready.get(timeout=60)
    time.sleep(0.05)
    db_before = server.db_cpu()
    cpu_before = server.cpu_seconds()
    peak_rss, peak_pss = server.rss_kb(), server.pss_kb()
    started = time.monotonic()
    next_pss = started + 0.5
    deadline.value = started + duration
    go.set()
    results: list[dict[str, Any]] = []
    hard_stop = started + duration + 120
    while len(results) < len(procs):
        with contextlib.suppress(queue.Empty):
            results.append(out.get(timeout=0.05))
        peak_rss = max(peak_rss, server.rss_kb())
        if time.monotonic() >= next_pss:  # smaps_rollup walks page tables: sample it less often
            peak_pss, next_pss = max(peak_pss, server.pss_kb()), time.monotonic() + 0.5
        if time.monotonic() > hard_stop:
            break
    finished = max((r["end"] for r in results), default=time.monotonic())
    cpu_after = server.cpu_seconds()
    db_after = server.db_cpu()
    peak_rss, peak_pss = max(peak_rss, server.rss_kb()), max(peak_pss, server.pss_kb())
    elapsed = max(finished - started, 1e-9)
    latencies = sorted(x for r in results for x in r["latencies"])
    requests = len(latencies)
    errors = sum(r["errors"] for r in results)
    cpu_user, cpu_sys = cpu_after[0] - cpu_before[0], cpu_after[1] - cpu_before[1]
    cpu = cpu_user + cpu_sys
    samples = [s for r in results for s in r["samples"]]
    db_cpu = sum(max(0.0, t - db_before.get(pid, 0.0)) for pid, t in db_after.items()) if server.pg else None
    notes = []
    if len(results) < len(procs):
        notes.append(f"{len(procs) - len(results)} client processes did not report (killed)")
    if any(r["exhausted"] for r in results):
        notes.append(f"pre-generated inputs ran out after {elapsed:.1f} s")
    return {
        "scenario": name,
        "description": DESCRIPTIONS[name],
        "requests": requests,
        "errors": errors,
        "elapsed_s": round(elapsed, 3),
        "requests_per_s": round(requests / elapsed, 1),
        "server_cpu_s": round(cpu, 3),
        "server_cpu_user_s": round(cpu_user, 3),
        "server_cpu_system_s": round(cpu_sys, 3),
        "requests_per_cpu_s": round(requests / cpu, 1) if cpu > 0 else None,
        "server_cpu_utilisation": round(cpu / elapsed, 2),
        "target_per_cpu_s": SCENARIOS[name],
        "postgres_backend_cpu_s": round(db_cpu, 3) if db_cpu is not None else None,
        "postgres_backend_cpu_utilisation": round(db_cpu / elapsed, 2) if db_cpu is not None else None,
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 2) if latencies else None,
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2) if latencies else None,
        "peak_rss_mb": round(peak_rss / 1024, 1),
        "peak_pss_mb": round(peak_pss / 1024, 1),
        "error_samples": samples[:5],
        "notes": notes,
        "_collected": [c for r in results for c in r["collected"]],
    }


def split(items: list[Any], parts: int) -> list[list[Any]]:
    return [items[i::parts] for i in range(parts)]


def pregenerate_codes(server: Server, cookies: dict[str, str], seconds: float, limit: int,
                      parallel: int) -> tuple[list[tuple[str, str]], list[str]]:
    out = MP.Queue()
    deadline = time.monotonic() + seconds
    per = max(1, math.ceil(limit / parallel))
    procs = [MP.Process(target=generate_codes, daemon=True, args=(server.port, cookies, deadline, per, out))
             for _ in range(parallel)]
    for proc in procs:
        proc.start()
    batches = []
    for _ in procs:
        batches.append(out.get(timeout=seconds + 120))
    for proc in procs:
        proc.join(timeout=10)
    # Oldest first, so that every client process spends its codes in the order they were issued.
    codes = [(code, verifier) for _, code, verifier in sorted(c for b in batches for c in b["codes"])]
    samples = [s for b in batches for s in b["samples"]]
    return codes, samples


class Bench:
    def __init__(self, server: Server, args: argparse.Namespace) -> None:
        self.server = server
        self.args = args
        self.browser = Http(server.port)
        self.refresh_pool: list[str] = []

    def log_in(self) -> None:
        code, verifier = browser_code(self.browser)  # one real login; the session cookie is reused
        exchange(self.browser, code, verifier)

    def fresh_tokens(self, count: int) -> list[dict[str, str]]:
        tokens = []
        for _ in range(count):
            code, verifier = browser_code(self.browser)
            tokens.append(exchange(self.browser, code, verifier))
        return tokens

    def warm_up(self) -> None:
        """A few requests of every kind so each worker has imported and cached what it needs."""
        h = Http(self.server.port)
        for _ in range(20 * self.args.workers):
            h.request("GET", "/.well-known/openid-configuration")
            h.request("GET", "/jwks.json")
            h.request("POST", "/oauth2/token", form(grant_type="client_credentials"), basic(MACHINE_ID, MACHINE_SECRET))
        for token in self.fresh_tokens(4 * self.args.workers):
            h.request("GET", "/oauth2/userinfo", None, {"Authorization": "Bearer " + token["access_token"]})
            h.request("POST", "/oauth2/introspect", form(token=token["access_token"]), basic(PORTAL_ID, PORTAL_SECRET))
            h.request("POST", "/oauth2/token", form(grant_type="refresh_token", refresh_token=token["refresh_token"]),
                      basic(PORTAL_ID, PORTAL_SECRET))
        for _ in range(2 * self.args.workers):
            step = make_step("login_flow", {})
            step(Http(self.server.port))

    def payloads(self, name: str) -> tuple[list[dict[str, Any]], list[str]]:
        n, notes = self.args.concurrency, []
        cookies = dict(self.browser.cookies)
        if name == "code_exchange":
            seconds = min(self.args.duration * 1.5, CODE_TTL_GUARD / 2)
            codes, samples = pregenerate_codes(self.server, cookies, seconds, self.args.max_codes, n)
            if samples:
                notes.append("code pre-generation errors: " + " | ".join(samples))
            if not codes:
                raise StepFailed("no authorization codes could be generated: " + " | ".join(samples))
            notes.append(f"{len(codes)} codes pre-generated in {seconds:.1f} s (not timed)")
            return [{"codes": part} for part in split(codes, n)], notes
        if name == "refresh":
            if len(self.refresh_pool) < n:
                self.refresh_pool += [t["refresh_token"] for t in self.fresh_tokens(n - len(self.refresh_pool))]
            pool, self.refresh_pool = self.refresh_pool, []
            notes.append(f"{len(pool)} refresh tokens from code exchanges seed {n} rotation chains")
            return [{"refresh_tokens": part} for part in split(pool, n)], notes
        if name in ("userinfo", "introspection"):
            tokens = self.fresh_tokens(n)
            return [{"access_token": t["access_token"]} for t in tokens], notes
        return [{} for _ in range(n)], notes

    def run(self, names: list[str]) -> list[dict[str, Any]]:
        self.log_in()
        self.warm_up()
        rows = []
        for name in names:
            print(f"  {self.server.backend}: {name} ...", file=sys.stderr, flush=True)
            try:
                payloads, notes = self.payloads(name)
            except Exception as exc:  # noqa: BLE001 - reported, the other scenarios still run
                rows.append({"scenario": name, "description": DESCRIPTIONS[name], "requests": 0, "errors": 1,
                             "target_per_cpu_s": SCENARIOS[name], "error_samples": [f"preparation failed: {exc}"],
                             "notes": []})
                continue
            duration = self.args.duration
            if name == "code_exchange" and duration > CODE_TTL_GUARD:
                duration = CODE_TTL_GUARD
                notes.append(f"duration capped at {CODE_TTL_GUARD:.0f} s (codes expire after 60 s)")
            row = run_phase(self.server, name, payloads, duration, self.args.max_requests)
            row["notes"] = notes + row["notes"]
            collected = row.pop("_collected")
            if name == "code_exchange":
                self.refresh_pool = [c["refresh_token"] for c in collected][: self.args.max_codes]
            if name == "login_flow":
                row["notes"].append(f"{row['requests'] * 5} HTTP requests; argon2id time_cost=1 memory_cost=1024 KiB "
                                    "parallelism=1 (password hash cost kept minimal)")
            rows.append(row)
            if row["errors"]:
                print(f"    {row['errors']} errors, e.g. {row['error_samples'][:1]}", file=sys.stderr)
        return rows


# --- output ---------------------------------------------------------------------------------

def fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def usr_sys(row: dict[str, Any]) -> str:
    user, system = row.get("server_cpu_user_s"), row.get("server_cpu_system_s")
    if not user and not system:
        return "-"
    return f"{100 * user / (user + system):.0f}/{100 * system / (user + system):.0f}"


def table(backend: str, rows: list[dict[str, Any]]) -> str:
    head = ["scenario", "requests", "errors", "req/s", "req/CPU-s", "target", "p50 ms", "p99 ms", "srv CPU",
            "usr/sys", "pg CPU", "RSS MB", "PSS MB"]
    lines = [[r["scenario"], fmt(r.get("requests")), fmt(r.get("errors")), fmt(r.get("requests_per_s")),
              fmt(r.get("requests_per_cpu_s")), fmt(r.get("target_per_cpu_s")), fmt(r.get("p50_ms"), 1),
              fmt(r.get("p99_ms"), 1), fmt(r.get("server_cpu_utilisation"), 2), usr_sys(r),
              fmt(r.get("postgres_backend_cpu_utilisation"), 2), fmt(r.get("peak_rss_mb"), 1),
              fmt(r.get("peak_pss_mb"), 1)]
             for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines, strict=False)]
    out = [f"== {backend} =="]
    out.append("  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(head, widths,
                                                                                                 strict=True))))
    out.append("  ".join("-" * w for w in widths))
    for line in lines:
        out.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths,
                                                                                                  strict=True))))
    for r in rows:
        for note in r.get("notes", []):
            out.append(f"  note {r['scenario']}: {note}")
        for sample in r.get("error_samples", [])[:3]:
            out.append(f"  ERROR {r['scenario']}: {sample}")
    return "\n".join(out)


def git_commit() -> str | None:
    try:
        command = ["git", "rev-parse", "HEAD"]  # read-only, for the record
        return subprocess.run(command, cwd=ROOT, capture_output=True, text=True,  # noqa: S603, S607
                              timeout=10).stdout.strip() or None
    except OSError:
        return None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per scenario (timed phase)")
    parser.add_argument("--concurrency", type=int, default=8, help="client processes (one connection each)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (idp serve --workers)")
    parser.add_argument("--threads", type=int, default=1, help="threads per worker (idp serve --threads)")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS),
                        help="comma-separated subset of: " + ", ".join(SCENARIOS))
    parser.add_argument("--max-requests", type=int, default=2_000_000, help="upper bound per scenario")
    parser.add_argument("--max-codes", type=int, default=200_000, help="upper bound of pre-generated codes")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="maintenance database used to create/drop idp_bench_<pid>")
    parser.add_argument("--redis-url", default="", help="optional IDP_REDIS_URL (a 127.0.0.1 Redis)")
    parser.add_argument("--keep-temp", action="store_true", help="keep the temp dir (server.log, SQLite file)")
    args = parser.parse_args(argv)
    names = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = [s for s in names if s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}")
    args.scenario_list = [s for s in SCENARIOS if s in names]  # canonical order: code_exchange feeds refresh
    if args.duration <= 0 or args.concurrency < 1 or args.workers < 1 or args.threads < 1:
        parser.error("duration, concurrency, workers and threads must be positive")
    if args.redis_url and urlsplit(args.redis_url).hostname not in (HOST, "localhost"):
        parser.error("--redis-url must point at 127.0.0.1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    report: dict[str, Any] = {
        "started_at": stamp,
        "commit": git_commit(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "config": {"duration_s": args.duration, "concurrency": args.concurrency, "workers": args.workers,
                   "threads": args.threads, "scenarios": args.scenario_list, "argon2id": CHEAP_ARGON2,
                   "login_per_ip_limit": LOGIN_LIMIT, "redis": bool(args.redis_url),
                   "client": "python http.client, one process per connection"},
        "backends": {},
    }
    tables = []
    interrupted = False
    for backend in backends:
        server = Server(backend, args)
        print(f"{backend}: preparing database and starting idp serve on {server.url} ...", file=sys.stderr,
              flush=True)
        entry: dict[str, Any] = {"rows": []}
        try:
            server.start()
            entry["server_pids"] = server.pids()
            entry["rows"] = Bench(server, args).run(args.scenario_list)
        except KeyboardInterrupt:
            interrupted = True
            entry["error"] = "interrupted"
        except Exception as exc:  # noqa: BLE001 - report and go on with the next backend
            entry["error"] = f"{type(exc).__name__}: {exc}"
            print(f"{backend}: FAILED: {entry['error']}", file=sys.stderr)
        finally:
            tail = server.log_tail()
            if any(r.get("errors") for r in entry["rows"]) or "error" in entry:
                entry["server_log_tail"] = tail
            server.stop()
        report["backends"][backend] = entry
        tables.append(table(backend, entry["rows"]) + (f"\n  FAILED: {entry['error']}" if "error" in entry else ""))
        if interrupted:
            break
    print()
    print(f"idp benchmark  duration={args.duration:g}s/scenario  concurrency={args.concurrency}  "
          f"workers={args.workers}  threads={args.threads}  cpus={os.cpu_count()}")
    print("req/CPU-s = requests per CPU-second of the server (gunicorn master + workers, utime+stime from /proc);")
    print("srv CPU = server CPU-seconds per wall second (usr/sys: % user / % kernel); pg CPU = the same for the")
    print("PostgreSQL backends of the benchmark database (not included in req/CPU-s). The load generator runs")
    print("on the same machine and competes for its cores, so req/s understates a dedicated server.")
    print("RSS/PSS MB = peak sum over master + workers of VmRSS (shared pages counted in every process) and of PSS.")
    print("login_flow: argon2id time_cost=1, memory_cost=1024 KiB, parallelism=1 (password hash excluded as far "
          f"as possible); login per-IP limit raised to '{LOGIN_LIMIT}'.")
    print("Scenarios:")
    for name in args.scenario_list:
        print(f"  {name:19s} {DESCRIPTIONS[name]}")
    for text in tables:
        print()
        print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{stamp}.json"
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nJSON: {path.relative_to(ROOT)}")
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
