"""Japanese and English strings for everything a person reads."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

LANGUAGES = ("ja", "en")
DEFAULT_LANGUAGE = "en"


@cache
def catalog(lang: str) -> dict[str, str]:
    """All strings of one language, loaded once from `chatops/locales/<lang>.json` plus one
    file per surface, `chatops/locales/<surface>.<lang>.json` (keys must not repeat)."""
    if lang not in LANGUAGES:
        lang = DEFAULT_LANGUAGE
    folder = resources.files("chatops").joinpath("locales")
    strings: dict[str, str] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name == f"{lang}.json" or entry.name.endswith(f".{lang}.json"):
            part = json.loads(entry.read_text("utf-8"))
            repeated = strings.keys() & part.keys()
            if repeated:
                raise ValueError(f"locales/{entry.name}: keys defined twice: {sorted(repeated)}")
            strings.update(part)
    return strings


def t(key: str, lang: str | None = None, /, **params: object) -> str:
    """The string `key` in `lang` (English when unknown), with `{name}` placeholders filled."""
    strings = catalog(lang or DEFAULT_LANGUAGE)
    template = strings.get(key) or catalog(DEFAULT_LANGUAGE).get(key)
    if template is None:
        raise KeyError(f"no string {key!r} in any locale")
    return template.format(**params) if params else template
