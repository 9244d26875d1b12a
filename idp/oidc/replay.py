"""One-time values in Redis when configured (shared by every worker); the caller falls back to the DB."""

from __future__ import annotations

from flask import current_app


def remember_in_redis(key: str, ttl: int) -> bool | None:
    """Set the key once with a TTL; True if new, False if seen, None when Redis is not configured."""
    client = current_app.extensions.get("idp.redis")
    if client is None:
        return None
    return bool(client.set(f"idp:once:{key}", b"1", nx=True, ex=max(ttl, 1)))
