"""The one escaping rule for Teams: customer- or integration-supplied strings are made inert
in the markdown Adaptive Card TextBlocks and MessageCards render (no links, emphasis, HTML or
`<at>` mentions from outside); links only for http(s) URLs."""

from __future__ import annotations

import re

_SAFE_SCHEMES = ("http://", "https://")
# The markdown that makes links and images (`[label](url)`, `![…](…)`); emphasis stays as typed.
_MARKDOWN = re.compile(r"([\\\[\]])")


def escape(text: str | None) -> str:
    """`text` safe to show as Teams markdown: HTML specials (and so `<at>` mentions) as
    entities, link brackets backslash-escaped so no link can be formed."""
    text = (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN.sub(r"\\\1", text)


def safe_url(url: str | None) -> str | None:
    """`url` when it is http(s), with characters that could end a markdown link encoded."""
    if not url or not url.strip().lower().startswith(_SAFE_SCHEMES):
        return None
    url = url.strip()
    if any(ch.isspace() for ch in url):
        return None
    for raw, encoded in (("(", "%28"), (")", "%29"), ("<", "%3C"), (">", "%3E"), ("[", "%5B"), ("]", "%5D")):
        url = url.replace(raw, encoded)
    return url


def link(url: str | None, label: str) -> str:
    """`[label](url)` for an http(s) `url`, else only the escaped label."""
    target = safe_url(url)
    return f"[{escape(label)}]({target})" if target else escape(label)
