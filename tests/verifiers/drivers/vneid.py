"""Conformance driver for the vneid source: a real sandbox provider over HTTP on 127.0.0.1.

The sandbox starts lazily on first use (a daemon thread, one per test process) and answers the
authorization page the way a browser would; the answer is the callback's query (code, state, iss).
"""

from __future__ import annotations

import re
import threading
from urllib.parse import parse_qsl
from urllib.parse import urlsplit

import requests

from idp.verifiers.base import Attempt
from idp.verifiers.base import Redirect
from idp.verifiers.base import Step
from idp.verifiers.base import Verifier
from idp.verifiers.conformance import ATTEMPT_TTL
from idp.verifiers.conformance import Harness
from idp.verifiers.vneid import create
from idp.verifiers.vneid.sandbox import RunningSandbox
from idp.verifiers.vneid.sandbox import start_in_thread

CLIENT_ID, SECRET = "conformance", "conformance-secret"
_started: list[RunningSandbox] = []
_lock = threading.Lock()


def sandbox() -> RunningSandbox:
    with _lock:
        if not _started:
            redirect_uri = Harness().callback_url("vneid")
            _started.append(start_in_thread({CLIENT_ID: {"redirect_uris": [redirect_uri], "secret": SECRET}}))
        return _started[0]


def answer_at_sandbox(url: str, personal_id: str | None = "001090012345", action: str = "login") -> str:
    """Do what the person does on the sandbox page; return the Location it sends the browser to."""
    page = requests.get(url, timeout=5)
    assert page.status_code == 200, page.text[:300]
    request_id = re.search(r'name="request_id" value="([^"]+)"', page.text).group(1)
    form = {"request_id": request_id, "action": action}
    if personal_id is not None:
        form["personal_id"] = personal_id
    action_url = re.search(r'<form method="post" action="([^"]+)"', page.text).group(1)
    answer = requests.post(action_url, data=form, allow_redirects=False, timeout=5)
    assert answer.status_code == 302, answer.text[:300]
    return answer.headers["Location"]


def query(location: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(location).query))


class VneidDriver:
    kind = "vneid"
    stale_after = ATTEMPT_TTL
    ignored_params = frozenset()

    def build(self, harness: Harness) -> Verifier:
        return create("vneid", {"issuer": sandbox().issuer, "client_id": CLIENT_ID, "client_secret": SECRET,
                                "sandbox": True}, harness.services)

    def new_attempt(self, harness: Harness, verifier: Verifier) -> Attempt:
        return harness.new_attempt(verifier.id)

    def prepare(self, harness: Harness, verifier: Verifier, attempt: Attempt, step: Step) -> dict[str, str]:
        assert isinstance(step, Redirect)
        return query(answer_at_sandbox(step.url))


DRIVER = VneidDriver()

__all__ = ["DRIVER", "answer_at_sandbox", "query", "sandbox"]
