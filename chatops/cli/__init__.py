"""The `chatops` command: serve, db upgrade, rules check|test, ingest, tickets list|show, ...

Start-up stays light: building the parser imports only the command modules, whose heavy
imports (SQLAlchemy, Flask, slack_bolt, scikit-learn) happen inside the handler that needs
them, so `chatops --help` and `chatops rules check` answer in a fraction of a second.
"""

from __future__ import annotations

import argparse
import os
import sys

from chatops.cli import (
    argparse_i18n,
    customers_cmd,
    integrations_cmd,
    moderation_cmd,
    oncall_cmd,
    rules_cmd,
    serve_cmd,
    stats_cmd,
    teams_cmd,
    tickets_cmd,
)
from chatops.cli.common import LANGUAGES, err, language, unknown_language
from chatops.i18n import t

COMMAND_MODULES = (serve_cmd, rules_cmd, tickets_cmd, integrations_cmd, stats_cmd, oncall_cmd,
                   teams_cmd, customers_cmd, moderation_cmd)


class ChatopsParser(argparse.ArgumentParser):
    """ArgumentParser whose "invalid int value" names the type in the parser's language."""

    lang = "en"

    def _get_value(self, action, arg_string):
        try:
            return super()._get_value(action, arg_string)
        except argparse.ArgumentError as exc:
            name = getattr(action.type, "__name__", None)
            if self.lang == "ja" and name in argparse_i18n.JA_TYPES:
                message = t("cli.bad_type_value", "ja", type=argparse_i18n.JA_TYPES[name], value=arg_string)
                raise argparse.ArgumentError(action, message) from None
            raise exc from None


def parser_class(lang: str) -> type[ChatopsParser]:
    """ChatopsParser speaking `lang` (sub-parsers are built from the same class)."""
    return type("ChatopsParser_" + lang, (ChatopsParser,), {"lang": lang})


def build_parser(lang: str = "en") -> argparse.ArgumentParser:
    """All sub-commands and their options, their help in `lang`."""
    parser = parser_class(lang)(prog="chatops", description=t("cli.help.chatops", lang))
    parser.add_argument("--lang", choices=list(LANGUAGES), help=t("cli.help.lang", lang))
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub, lang)
    return parser


def prescan_language(argv: list[str]) -> str:
    """The language of this run, known before argparse speaks: --lang X / --lang=X in argv
    (before a bare `--`), else CHATOPS_LANG, else LANG."""
    for index, word in enumerate(argv):
        if word == "--":
            break
        value = None
        if word == "--lang" and index + 1 < len(argv):
            value = argv[index + 1]
        elif word.startswith("--lang="):
            value = word.partition("=")[2]
        if value in LANGUAGES:
            return value
    return language(None)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    from chatops.cli.common import EXIT_USAGE

    argv = sys.argv[1:] if argv is None else list(argv)
    with argparse_i18n.speaking(prescan_language(argv)):
        args = build_parser(prescan_language(argv)).parse_args(argv)
    wrong = unknown_language()
    if wrong is not None:  # a typo here would silently turn every message English
        err(t("cli.unknown_language", language(args), value=wrong))
        return EXIT_USAGE
    try:
        return args.handler(args) or 0
    except BrokenPipeError:
        # `chatops tickets list | head`: the reader left; stop quietly (Python docs' recipe).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
