"""Security notifications to the account owner: new device, factor added or removed, password
changed, lockout, recovery code used.

`notify(account, event, **details)` picks a channel the account has (e-mail, else SMS) and hands
the message to that channel's sender. In development the sender is the outbox (shown at
/sandbox/outbox); production senders are configured per channel. Logs carry the event and the
account id only.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app

from idp.accounts.models import Account
from idp.outbox import deliver_to_outbox

log = logging.getLogger(__name__)


def notify(account: Account, event: str, **details: Any) -> None:
    """Tell the owner of `account` that `event` happened (best effort: a failed delivery is logged)."""
    channel, address = ("email", account.email) if account.email else ("sms", account.phone)
    if not address:
        log.info("notification %s for account %s: no e-mail or phone on file", event, account.id)
        return
    sender = current_app.extensions.get("idp.notification_senders", {}).get(channel, deliver_to_outbox)
    sender(channel, address, _message(event, details))
    log.info("notification %s sent to account %s by %s", event, account.id, channel)


def _message(event: str, details: dict[str, Any]) -> str:
    facts = ", ".join(f"{key}={value}" for key, value in sorted(details.items()))
    return f"[{event}] {facts}" if facts else f"[{event}]"
