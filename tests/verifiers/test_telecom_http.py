"""The generic HTTP JSON operator adapter and SMS gateway, over real HTTP on the loopback interface
(idp/verifiers/telecom/operators.py, sms.py, http.py): success, timeout, error status, garbage
JSON, oversized bodies, and the whole stage-1 flow against a real upstream."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from idp.errors import SourceUnavailable
from idp.errors import VerificationFailed
from idp.verifiers.base import IdentityAssertion
from idp.verifiers.conformance import Harness
from idp.verifiers.telecom import create
from idp.verifiers.telecom import http
from idp.verifiers.telecom.http import HttpSettings
from idp.verifiers.telecom.operators import UNKNOWN
from idp.verifiers.telecom.operators import HttpOperator
from idp.verifiers.telecom.sms import HttpGateway

PID = "001090012345"
E164 = "+84912345678"
API_KEY = "test-api-key-0123456789"


@dataclass
class Upstream:
    """A real HTTP server on 127.0.0.1; `answer` decides each response; requests are recorded."""

    url: str
    answer: Callable[[Request], Response]
    seen: list[dict[str, Any]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    holder: dict[str, Upstream] = {}

    @Request.application
    def app(request: Request) -> Response:
        up = holder["up"]
        up.seen.append({"path": request.path, "auth": request.headers.get("Authorization"),
                        "json": request.get_json(silent=True)})
        return up.answer(request)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    up = Upstream(url=f"http://127.0.0.1:{server.server_port}/check", answer=lambda r: json_response({}))
    holder["up"] = up
    yield up
    up.release.set()
    server.shutdown()
    thread.join(timeout=5)


def json_response(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def operator(up: Upstream, **extra: Any) -> HttpOperator:
    return HttpOperator(HttpSettings(endpoint=up.url, api_key=API_KEY, **extra))


def gateway(up: Upstream, **extra: Any) -> HttpGateway:
    return HttpGateway(HttpSettings(endpoint=up.url, api_key=API_KEY, **extra), sender="DICHVUCONG")


# --- operator adapter -------------------------------------------------------------------------------
@pytest.mark.parametrize(("result", "expected"), [("match", True), ("mismatch", False), ("unknown", UNKNOWN)])
def test_operator_answers_over_http(upstream, result, expected):
    upstream.answer = lambda request: json_response({"result": result, "transaction_id": "op-1"})
    assert operator(upstream).is_registered_to(E164, PID, reference="ref-1") is expected
    assert upstream.seen == [{"path": "/check", "auth": f"Bearer {API_KEY}",
                              "json": {"msisdn": "84912345678", "personal_id": PID, "reference": "ref-1"}}]


def wait_then_answer(up: Upstream) -> Callable[[Request], Response]:
    def answer(request: Request) -> Response:
        up.release.wait(timeout=10)  # held until the test ends: the client must give up first
        return json_response({"result": "match"})

    return answer


BROKEN: list[tuple[str, Callable[[Upstream], Callable[[Request], Response]], str]] = [
    ("status 500", lambda up: lambda request: json_response({"result": "match"}, status=500), "status 500"),
    ("status 401", lambda up: lambda request: json_response({"error": "unauthorized"}, status=401), "status 401"),
    ("redirect", lambda up: lambda request: Response("", status=302, headers={"Location": "http://127.0.0.1:9/"}),
     "status 302"),
    ("garbage", lambda up: lambda request: Response("<html>maintenance</html>", mimetype="text/html"),
     "response is not JSON"),
    ("not utf-8", lambda up: lambda request: Response(b"\xff\xfe{", mimetype="application/json"),
     "response is not JSON"),
    ("wrong shape", lambda up: lambda request: json_response(["match"]), "unexpected answer"),
    ("unknown result", lambda up: lambda request: json_response({"result": "maybe"}), "unexpected answer"),
    ("boolean result", lambda up: lambda request: json_response({"result": True}), "unexpected answer"),
    ("deep nesting", lambda up: lambda request: Response("[" * 30_000 + "]" * 30_000, mimetype="application/json"),
     "response is not JSON"),
    ("oversized, declared", lambda up: lambda request: json_response({"result": "match", "pad": "x" * 200_000}),
     "response too large"),
    ("oversized, streamed", lambda up: lambda request: Response(
        (b'{"pad": "' + b"x" * 10_000 + b'"' for _ in range(30)), mimetype="application/json"), "response too large"),
    ("timeout", wait_then_answer, "ReadTimeout"),
]
BY_NAME = {name: (behaviour, reason) for name, behaviour, reason in BROKEN}


@pytest.mark.parametrize("name", list(BY_NAME))
def test_operator_failures_are_source_unavailable(upstream, caplog, name):
    behaviour, reason = BY_NAME[name]
    upstream.answer = behaviour(upstream)
    with pytest.raises(SourceUnavailable) as info:
        operator(upstream, timeout=0.3).is_registered_to(E164, PID)
    assert info.value.code == "operator_unavailable"
    assert f"subscriber check at 127.0.0.1 failed: {reason}" in caplog.text
    assert PID not in caplog.text and "912345678" not in caplog.text


def test_operator_that_is_not_listening_is_source_unavailable():
    adapter = HttpOperator(HttpSettings(endpoint="http://127.0.0.1:9/check", api_key=API_KEY, timeout=1))
    with pytest.raises(SourceUnavailable) as info:
        adapter.is_registered_to(E164, PID)
    assert info.value.code == "operator_unavailable"


def test_a_server_that_drips_bytes_is_cut_at_the_deadline(upstream, monkeypatch, caplog):
    """The overall deadline bounds a response that keeps arriving just within the read timeout."""
    upstream.answer = lambda request: Response((b" " for _ in range(50)), mimetype="application/json")
    ticks = iter(range(0, 10_000, 2))
    monkeypatch.setattr(http.time, "monotonic", lambda: float(next(ticks)))
    with pytest.raises(SourceUnavailable):
        operator(upstream, timeout=3).is_registered_to(E164, PID)
    assert "response too slow" in caplog.text


def test_size_limit_is_configurable(upstream):
    upstream.answer = lambda request: json_response({"result": "match", "pad": "x" * 1000})
    assert operator(upstream, max_response_bytes=2048).is_registered_to(E164, PID) is True
    with pytest.raises(SourceUnavailable):
        operator(upstream, max_response_bytes=512).is_registered_to(E164, PID)


# --- SMS gateway --------------------------------------------------------------------------------------
def test_gateway_sends_over_http(upstream):
    upstream.answer = lambda request: json_response({"status": "queued"}, status=202)
    gateway(upstream).send(E164, "123456 la ma xac thuc")
    assert upstream.seen == [{"path": "/check", "auth": f"Bearer {API_KEY}",
                              "json": {"to": E164, "text": "123456 la ma xac thuc", "sender": "DICHVUCONG"}}]


@pytest.mark.parametrize("name", ["status 500", "garbage", "timeout", "oversized, streamed"])
def test_gateway_failures_are_source_unavailable(upstream, caplog, name):
    behaviour, reason = BY_NAME[name]
    upstream.answer = behaviour(upstream)
    with pytest.raises(SourceUnavailable) as info:
        gateway(upstream, timeout=0.3).send(E164, "123456")
    assert info.value.code == "sms_unavailable"
    assert f"SMS delivery at 127.0.0.1 failed: {reason}" in caplog.text and "123456" not in caplog.text


# --- the verifier against real upstreams ----------------------------------------------------------------
def http_verifier(harness: Harness, up: Upstream, **extra: Any):  # noqa: ANN201
    return create("telecom", {"operator": {"kind": "http", "endpoint": up.url, "api_key": API_KEY, "timeout": 0.3},
                              "sms": {"kind": "http", "endpoint": up.url.replace("/check", "/sms"),
                                      "api_key": API_KEY, "timeout": 0.3}, **extra}, harness.services)


def test_full_flow_with_the_http_operator_and_gateway(upstream):
    """The operator is asked once, then the gateway gets the code; the assertion cites our reference."""
    def answer(request: Request) -> Response:
        return json_response({"result": "match"} if request.path == "/check" else {"status": "queued"})

    upstream.answer = answer
    harness = Harness()
    verifier = http_verifier(harness, upstream)
    attempt = harness.new_attempt("telecom")
    verifier.begin(attempt)
    verifier.complete(attempt, {"phone": "0912.345.678", "personal_id": PID, "remote_addr": "127.0.0.1"})
    check, sms = upstream.seen
    assert check["path"] == "/check" and sms["path"] == "/sms" and sms["json"]["to"] == E164
    code = sms["json"]["text"][:6]
    result = verifier.complete(attempt, {"code": code})
    assert isinstance(result, IdentityAssertion) and result.amr == ("sms", "mno")
    assert result.evidence_ref == check["json"]["reference"] and harness.outbox == []


def test_mismatch_over_http_sends_no_sms(upstream):
    upstream.answer = lambda request: json_response({"result": "mismatch"})
    harness = Harness()
    verifier = http_verifier(harness, upstream)
    attempt = harness.new_attempt("telecom")
    verifier.begin(attempt)
    with pytest.raises(VerificationFailed) as info:
        verifier.complete(attempt, {"phone": "0912345678", "personal_id": PID})
    assert info.value.code == "subscriber_mismatch"
    assert [seen["path"] for seen in upstream.seen] == ["/check"]


def test_gateway_down_over_http_after_a_match(upstream):
    def answer(request: Request) -> Response:
        if request.path == "/check":
            return json_response({"result": "match"})
        return json_response({"error": "down"}, status=503)

    upstream.answer = answer
    harness = Harness()
    verifier = http_verifier(harness, upstream)
    attempt = harness.new_attempt("telecom")
    verifier.begin(attempt)
    with pytest.raises(SourceUnavailable) as info:
        verifier.complete(attempt, {"phone": "0912345678", "personal_id": PID})
    assert info.value.code == "sms_unavailable" and attempt.data["stage"] == "phone"
