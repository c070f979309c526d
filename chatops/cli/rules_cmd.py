"""`chatops rules check [PATH]` and `chatops rules test [--rules PATH] FILE.jsonl [--json]`."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from types import SimpleNamespace

from chatops.cli.common import EXIT_USAGE, CliExit, err, language
from chatops.i18n import t
from chatops.inbound import parse_jsonl
from chatops.rules import RulesEngine, RulesError, load_rules


def register(sub) -> None:
    """Add `rules check` and `rules test` to the parser."""
    rules = sub.add_parser("rules", help="check rules.yaml, or see what it does to messages")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    check = rules_sub.add_parser("check", help="validate a rules file (exit 2 and PATH:LINE: message on problems)")
    check.add_argument("path", nargs="?", help="rules file (default CHATOPS_RULES or rules.yaml)")
    check.set_defaults(handler=check_command)
    test = rules_sub.add_parser("test", help="triage each InboundMessage of a JSONL file")
    test.add_argument("--rules", help="rules file (default CHATOPS_RULES or rules.yaml)")
    test.add_argument("--json", action="store_true", help="one JSON object per message")
    test.add_argument("--text", help="triage this one post instead of a file")
    test.add_argument("--source", default="x", help="network of --text (default x)")
    test.add_argument("--kind", default="mention", help="kind of --text (default mention)")
    test.add_argument("file", nargs="?", help="InboundMessage JSON lines")
    test.set_defaults(handler=test_command)
    from chatops.cli.backtest_cmd import add_parser as add_backtest

    add_backtest(rules_sub)


def _rules_path(explicit: str | None) -> Path:
    return Path(explicit or os.environ.get("CHATOPS_RULES") or "rules.yaml")


def _load_or_exit(path: Path):
    try:
        return load_rules(path)
    except RulesError as exc:
        for problem in exc.problems:
            err(problem)
        raise CliExit(EXIT_USAGE) from None


def check_command(args) -> int:
    """Print OK with a summary, or every problem as PATH:LINE: message and exit 2."""
    path = _rules_path(args.path)
    rules = _load_or_exit(path)
    print(t("cli.rules.ok", language(args), path=path, rules=len(rules.keyword_rules),
            channels=len(rules.channels), policies=len(rules.sla.policies)))
    return 0


def test_command(args) -> int:
    """Show, per message: matched rules, keywords, priority, level, tags, channel, notify."""
    engine = RulesEngine(_load_or_exit(_rules_path(args.rules)))
    if args.text is not None:
        return _test_text(engine, args)
    if not args.file:
        err("rules test: give FILE.jsonl or --text")
        return EXIT_USAGE
    try:
        handle = open(args.file, encoding="utf-8")
    except OSError as exc:
        err(f"{args.file}: {exc.strerror}")
        return EXIT_USAGE
    bad = 0
    with handle:
        for number, message, problem in parse_jsonl(handle):
            if message is None:
                bad += 1
                err(f"{args.file}:{number}: {problem}")
                continue
            triage = engine.triage(text=message.text, source=message.source, kind=message.kind)
            if args.json:
                row = {"line": number, "external_id": message.external_id, **triage.to_dict(),
                       "stage": triage.stage, "reason": triage.reason, "negative": _negative_words(message.text)}
                print(json.dumps(row, ensure_ascii=False))
            else:
                _print_triage(number, message, triage)
    return 1 if bad else 0


def _test_text(engine, args) -> int:
    """Triage the one post given with --text."""
    try:
        triage = engine.triage(text=args.text, source=args.source, kind=args.kind)
    except ValueError as exc:
        err(str(exc))
        return EXIT_USAGE
    if args.json:
        print(json.dumps({**triage.to_dict(), "stage": triage.stage, "reason": triage.reason,
                          "negative": _negative_words(args.text)}, ensure_ascii=False))
    else:
        _print_triage(1, SimpleNamespace(text=args.text, source=args.source, kind=args.kind), triage)
    return 0


def _print_triage(number: int, message, triage) -> None:
    text = " ".join(message.text.split())
    text = text if len(text) <= 60 else text[:59] + "…"
    print(f"{number:>4}  {triage.priority:<6} {triage.level}  #{triage.channel:<16} "
          f"{message.source}/{message.kind}  {text}")
    details = [f"stage={triage.stage}"] + ([triage.reason] if triage.reason else [])
    if triage.matched:
        details.append("rules=" + ",".join(triage.matched))
    if triage.tags:
        details.append("tags=" + ",".join(triage.tags))
    if triage.notify:
        details.append("notify=" + ",".join(triage.notify))
    if not triage.matched:
        details.append("(no rule matched: defaults)")
    details += _negativity(message.text)
    print("      " + "  ".join(details))
    sys.stdout.flush()


def _negative_words(text: str) -> list[str]:
    """The lexicon words flood detection (flood.negative_words) counts a post negative by."""
    from chatops.rules.sentiment import negative_words

    return negative_words(text or "")


def _negativity(text: str) -> list[str]:
    """`negative=…` for the details line, if the post has negative words."""
    words = _negative_words(text)
    return ["negative=" + ",".join(words)] if words else []
