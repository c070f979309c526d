"""What an outbound message is, and why its delivery gave up, as words every surface translates."""

from __future__ import annotations

import re

from chatops.tickets.models import Message

# The event a permanent delivery failure writes, by what was being sent (see `reply_kind`).
FAILED_EVENT = {"reply": "reply_failed", "csat": "csat_request_failed", "auto_reply": "auto_reply_failed"}
_HTTP_4XX = re.compile(r"\b4\d\d\b")


def reply_kind(message: Message) -> str:
    """What an outbound message is: an agent's `reply`, a `csat` rating request, or an
    `auto_reply` chatops wrote itself (the offline answer: authors `chatops` / `chatops:…`)."""
    if message.kind == "csat":
        return "csat"
    author = str(message.author_id or "")
    return "auto_reply" if author == "chatops" or author.startswith("chatops:") else "reply"


def failure_cause(reason: str) -> str:
    """The kind of a deliverer's reason for giving up (its text is the integration's, in English):
    `no_target` (nothing to reply to), `not_configured` (the account is not set up here),
    `too_long`, `refused` (the network said no), else `unreachable` (retries ran out)."""
    low = (reason or "").lower()
    if " to reply to" in low or " to push to" in low:
        return "no_target"
    if "is not configured" in low:
        return "not_configured"
    if " takes " in low and "long" in low:
        return "too_long"
    if "refused" in low or _HTTP_4XX.search(low):
        return "refused"
    return "unreachable"
