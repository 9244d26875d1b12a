"""Bounded HTTP for revocation information: plain GET/POST, no redirects, time and size limits.

URLs come from certificates only after their path to a trust anchor was validated (so a CA wrote
them), or from configuration.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import HTTPError as Urllib3Error

USER_AGENT = "idp-certificate-verifier/1"


class FetchFailed(Exception):
    """The resource could not be fetched within the limits; the message names no personal data."""


def is_http_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def fetch(url: str, *, timeout: float, max_bytes: int, data: bytes | None = None,
          content_type: str | None = None) -> bytes:
    """GET `url` (or POST `data`), return the body of a 200 answer; raise FetchFailed otherwise.

    `timeout` bounds connecting and each read; the body is abandoned once the transfer has taken
    twice that (checked after each read, so at worst about three times `timeout` in all).
    """
    if not is_http_url(url):
        raise FetchFailed(f"unsupported URL scheme in {url[:100]!r}")
    headers = {"User-Agent": USER_AGENT}
    if content_type:
        headers["Content-Type"] = content_type
    deadline = time.monotonic() + 2 * timeout
    try:
        with requests.request("POST" if data is not None else "GET", url, data=data, headers=headers,
                              timeout=(timeout, timeout), allow_redirects=False, stream=True) as response:
            if response.status_code != 200:
                raise FetchFailed(f"HTTP {response.status_code} from {url[:100]}")
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise FetchFailed(f"{url[:100]} is larger than {max_bytes} bytes")
            body = bytearray()
            # read1: at most one socket read (each bounded by `timeout`) per chunk, so the deadline is
            # checked at least every `timeout` seconds even when the server drips bytes slowly
            # (iter_content would wait for a full chunk); decoding is bounded to the chunk size too.
            while chunk := response.raw.read1(65536, decode_content=True):
                body.extend(chunk)
                if len(body) > max_bytes:
                    raise FetchFailed(f"{url[:100]} is larger than {max_bytes} bytes")
                if time.monotonic() > deadline:
                    raise FetchFailed(f"{url[:100]} took too long")
            return bytes(body)
    except (requests.RequestException, Urllib3Error, OSError) as exc:  # the last two: while reading the body
        raise FetchFailed(f"{type(exc).__name__} fetching {url[:100]}") from exc
