"""Helpers shared by the CLI commands: language, settings and runtime with clear errors.

Imports of settings, runtime and pydantic stay inside the helpers: this module is loaded for
`chatops --help` too, which should not pay for them.
"""

from __future__ import annotations

import os
import sys
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING

from chatops.i18n import t

if TYPE_CHECKING:
    from chatops.runtime import Runtime
    from chatops.settings import Settings

EXIT_USAGE = 2


class CliExit(SystemExit):
    """Stop the command with a message already printed."""


LANGUAGES = ("ja", "en")


def language(args) -> str:
    """--lang, else CHATOPS_LANG, else ja when LANG starts with ja, else en."""
    if getattr(args, "lang", None):
        return args.lang
    chosen = os.environ.get("CHATOPS_LANG", "").strip().lower()
    if chosen in LANGUAGES:
        return chosen
    return "ja" if os.environ.get("LANG", "").lower().startswith("ja") else "en"


def unknown_language() -> str | None:
    """CHATOPS_LANG when it is set to a language chatops does not speak, else None."""
    chosen = os.environ.get("CHATOPS_LANG", "").strip()
    return chosen if chosen and chosen.lower() not in LANGUAGES else None


def err(message: str) -> None:
    """Print one line to stderr."""
    print(message, file=sys.stderr)


def plural(key: str, lang: str, count: int, **params: object) -> str:
    """`key.one` when count is 1, else `key.other` (Japanese writes both alike)."""
    return t(f"{key}.{'one' if count == 1 else 'other'}", lang, count=count, **params)


def width(text: str) -> int:
    """Columns `text` takes in a terminal: wide (全角) characters take two, combining marks none."""
    columns = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        columns += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return columns


def fit(text: str, columns: int, right: bool = False) -> str:
    """`text` padded with spaces to `columns` display columns (cut with … when longer)."""
    if width(text) > columns:
        kept = ""
        for char in text:
            if width(kept + char) > columns - 1:
                break
            kept += char
        text = kept + "…"
    padding = " " * max(0, columns - width(text))
    return padding + text if right else text + padding


def table(header: list[str], rows: list[list[str]], right: frozenset[int] = frozenset()) -> list[str]:
    """Rows aligned by display width under header; the last column is not padded."""
    widths = [max(width(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    lines = []
    for row in [header, *rows]:
        cells = [fit(cell, widths[i], i in right) for i, cell in enumerate(row[:-1])]
        lines.append(" ".join([*cells, row[-1]]).rstrip())
    return lines


def settings_or_exit(args, **overrides) -> Settings:
    """Validated settings, or exit 2 naming the bad variable."""
    from pydantic import ValidationError

    from chatops.errors import validation_problems
    from chatops.settings import load_settings

    rules = getattr(args, "rules", None)
    if rules:
        overrides["rules_path"] = Path(rules)
    try:
        return load_settings(**overrides)
    except ValidationError as exc:
        for name, problem in validation_problems(exc, "(settings)"):
            err(t("cli.settings_error", language(args), message=f"{name}: {problem}"))
        raise CliExit(EXIT_USAGE) from None


def runtime_or_exit(args, **overrides) -> Runtime:
    """An assembled runtime, or exit 2 with every rules.yaml problem as `PATH:LINE: message`."""
    from chatops.rules import RulesError
    from chatops.runtime import Runtime

    settings = settings_or_exit(args, **overrides)
    try:
        return Runtime.build(settings)
    except RulesError as exc:
        for problem in exc.lines(language(args)):
            err(problem)
        raise CliExit(EXIT_USAGE) from None
