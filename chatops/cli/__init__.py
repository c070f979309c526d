"""The `chatops` command: serve, db upgrade, rules check|test, ingest, tickets list|show."""

from __future__ import annotations

import argparse
import os
import sys

from chatops.cli import integrations_cmd, oncall_cmd, rules_cmd, serve_cmd, stats_cmd, tickets_cmd
from chatops.i18n import t


def build_parser() -> argparse.ArgumentParser:
    """All sub-commands and their options."""
    parser = argparse.ArgumentParser(prog="chatops", description="Social-media customer support from Slack and Teams.")
    parser.add_argument("--lang", choices=["ja", "en"], help="language of messages (default: from CHATOPS_LANG or LANG)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve_cmd.register(sub)
    rules_cmd.register(sub)
    tickets_cmd.register(sub)
    integrations_cmd.register(sub)
    stats_cmd.register(sub)
    oncall_cmd.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    from chatops.cli.common import EXIT_USAGE, err, language, unknown_language

    parser = build_parser()
    args = parser.parse_args(argv)
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
