"""Japanese and English strings for everything a person reads."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

LANGUAGES = ("ja", "en")
DEFAULT_LANGUAGE = "en"


@cache
def catalog(lang: str) -> dict[str, str]:
    """All strings of one language, loaded once from `chatops/locales/<lang>.json`."""
    if lang not in LANGUAGES:
        lang = DEFAULT_LANGUAGE
    text = resources.files("chatops").joinpath("locales", f"{lang}.json").read_text("utf-8")
    return json.loads(text)


def t(key: str, lang: str | None = None, /, **params: object) -> str:
    """The string `key` in `lang` (English when unknown), with `{name}` placeholders filled."""
    strings = catalog(lang or DEFAULT_LANGUAGE)
    template = strings.get(key) or catalog(DEFAULT_LANGUAGE).get(key)
    if template is None:
        raise KeyError(f"no string {key!r} in any locale")
    return template.format(**params) if params else template
