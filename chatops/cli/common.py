"""Helpers shared by the CLI commands: language, settings and runtime with clear errors."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pydantic import ValidationError

from chatops.errors import validation_problems
from chatops.i18n import t
from chatops.rules import RulesError
from chatops.runtime import Runtime
from chatops.settings import Settings, load_settings

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


def settings_or_exit(args, **overrides) -> Settings:
    """Validated settings, or exit 2 naming the bad variable."""
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
    settings = settings_or_exit(args, **overrides)
    try:
        return Runtime.build(settings)
    except RulesError as exc:
        for problem in exc.problems:
            err(problem)
        raise CliExit(EXIT_USAGE) from None
