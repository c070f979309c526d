"""`chatops stats [period] [filter] [--json | --csv] [--chart FILE]`: the figures of `/stats`."""

from __future__ import annotations

import json
from pathlib import Path

from chatops.cli.common import EXIT_USAGE, err, language, runtime_or_exit
from chatops.i18n import t


def register(sub, lang: str) -> None:
    """Add `stats` to the parser."""
    def h(key: str) -> str:
        return t(f"cli.help.{key}", lang)

    stats = sub.add_parser("stats", help=h("stats"), description=h("stats"))
    stats.add_argument("words", nargs="*", metavar="WORD", help=h("stats_words"))
    form = stats.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help=h("stats_json"))
    form.add_argument("--csv", action="store_true", help=h("stats_csv"))
    stats.add_argument("--chart", metavar="FILE", help=h("stats_chart"))
    stats.set_defaults(handler=stats_command)


def stats_command(args) -> int:
    """Print the figures; exit 2 naming a bad word."""
    from chatops.errors import DomainError
    from chatops.stats.format import render_lines, to_csv
    from chatops.stats.period import parse_query
    from chatops.stats.query import compute

    lang = language(args)
    runtime = runtime_or_exit(args)
    if args.words == ["rebuild"]:
        from chatops.stats.rebuild import rebuild

        try:
            print(t("stats.rebuilt", lang, tickets=rebuild(runtime.session_factory, runtime.rules)))
        finally:
            runtime.close()
        return 0
    try:
        now = runtime.clock()
        try:
            query = parse_query(args.words, runtime.rules, now)
        except DomainError as exc:
            err(exc.message(lang))
            return EXIT_USAGE
        with runtime.session_factory() as session:
            figures = compute(session, runtime.rules, query, now)
            if args.chart:
                from chatops.stats.chart import chart_png, daily_series

                Path(args.chart).write_bytes(chart_png(daily_series(session, runtime.rules, query), lang))
    finally:
        runtime.close()
    if args.json:
        print(json.dumps(figures, ensure_ascii=False, indent=2))
    elif args.csv:
        print(to_csv(figures), end="")
    else:
        print("\n".join(render_lines(_labelled(figures, runtime.rules, lang), lang)))
    return 0


def _labelled(figures: dict, rules, lang: str) -> dict:
    from chatops.stats.format import labelled

    return labelled(figures, rules, lang, english_ids=True)
