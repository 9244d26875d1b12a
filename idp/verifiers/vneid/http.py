"""Bounded HTTP to the upstream provider: timeouts, no redirects, a size limit, JSON objects only.

Any failure to get a usable answer (refused, timed out, 5xx, too large, not a JSON object) is
SourceUnavailable: the person is told to try later or choose another way to log in.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
from urllib3.exceptions import HTTPError as Urllib3Error

from idp.i18n import N_
from idp.verifiers.errors import SourceUnavailable

log = logging.getLogger(__name__)
MAX_BYTES = 256 * 1024  # discovery documents, JWKS and token responses are a few kilobytes
USER_AGENT = "idp-vneid/1.0"


@dataclass(frozen=True)
class JsonResponse:
    status: int
    body: dict[str, Any]


def unreachable(verifier_id: str, what: str, reason: str) -> SourceUnavailable:
    """Log (ids and reasons only, never values) and build the outage error."""
    log.warning("upstream of verifier %s: %s failed: %s", verifier_id, what, reason)
    return SourceUnavailable("upstream_unavailable", N_("The identity provider is not answering. Try again later "
                                                       "or choose another way to log in."))


def fetch_json(verifier_id: str, what: str, method: str, url: str, timeout: float, *,
               data: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None,
               accept_statuses: tuple[int, ...] = (200,)) -> JsonResponse:
    """Call the upstream and return its JSON object; SourceUnavailable for anything unusable.

    `accept_statuses` lists the statuses whose JSON body the caller interprets (e.g. 400 and 401
    from a token endpoint carry an OAuth error object).
    """
    try:
        with requests.request(method, url, data=data, headers={"User-Agent": USER_AGENT, "Accept": "application/json",
                                                                 **(headers or {})},
                              timeout=(timeout, timeout), allow_redirects=False, stream=True) as response:
            status = response.status_code
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > MAX_BYTES:
                raise unreachable(verifier_id, what, f"declared {declared} bytes")
            raw = _read_bounded(response, deadline=time.monotonic() + 3 * timeout)
    except requests.RequestException as exc:
        raise unreachable(verifier_id, what, type(exc).__name__) from exc
    except (Urllib3Error, OSError) as exc:  # raised while reading the streamed body
        raise unreachable(verifier_id, what, type(exc).__name__) from exc
    if raw is None:
        raise unreachable(verifier_id, what, "response too large or too slow")
    if status not in accept_statuses:
        raise unreachable(verifier_id, what, f"status {status}")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: deeply nested arrays
        raise unreachable(verifier_id, what, "not JSON") from exc
    if not isinstance(body, dict):
        raise unreachable(verifier_id, what, "not a JSON object")
    return JsonResponse(status, body)


def _read_bounded(response: requests.Response, deadline: float) -> bytes | None:
    """The body, or None once it passes MAX_BYTES or the deadline (a server dripping bytes slowly
    would otherwise hold the login for timeout seconds per chunk)."""
    chunks, size = [], 0
    # read1: one socket read (bounded by the read timeout) per chunk, so the deadline is checked
    # often; stream() would wait until a full chunk arrived, however slowly.
    while chunk := response.raw.read1(16 * 1024, decode_content=True):
        size += len(chunk)
        if size > MAX_BYTES or time.monotonic() > deadline:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
