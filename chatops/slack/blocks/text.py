"""The one escaping rule for Slack mrkdwn: every customer- or integration-supplied string goes
through `escape()`, and every link through `link()`, so no `<!channel>`, `<@U…>` or
`<javascript:…>` from outside ever reaches a message, its fallback text or a modal."""

from __future__ import annotations

_SAFE_SCHEMES = ("http://", "https://")


def escape(text: str | None) -> str:
    """`text` made inert in mrkdwn: `&`, `<` and `>` become entities (Slack's own rule)."""
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def safe_url(url: str | None) -> str | None:
    """`url` when it is http(s) and cannot break out of `<url|label>`, else None."""
    if not url or not url.strip().lower().startswith(_SAFE_SCHEMES):
        return None
    url = url.strip()
    if any(ch.isspace() for ch in url):
        return None
    # `|` would end the URL part of a link early; percent-encoding keeps the address intact.
    return escape(url.replace("|", "%7C"))


def link(url: str | None, label: str) -> str:
    """`<url|label>` for an http(s) `url` (both escaped, `|` unable to split it); otherwise only
    the escaped label. `label` is plain text, escaped here."""
    shown = escape(label).replace("|", "¦")
    target = safe_url(url)
    return f"<{target}|{shown}>" if target else shown
