"""`chatops rules check [PATH]` and `chatops rules test [--rules PATH] FILE.jsonl [--json]`."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from types import SimpleNamespace

from chatops.cli.common import EXIT_USAGE, CliExit, err, fit, language
from chatops.i18n import t


def register(sub, lang: str) -> None:
    """Add `rules check` and `rules test` to the parser."""
    rules = sub.add_parser("rules", help=t("cli.help.rules", lang), description=t("cli.help.rules", lang))
    rules_sub = rules.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    check = rules_sub.add_parser("check", help=t("cli.help.rules_check", lang), description=t("cli.help.rules_check", lang))
    check.add_argument("path", nargs="?", help=t("cli.help.rules_path", lang))
    check.set_defaults(handler=check_command)
    test = rules_sub.add_parser("test", help=t("cli.help.rules_test", lang), description=t("cli.help.rules_test", lang))
    test.add_argument("--rules", help=t("cli.help.rules_path", lang))
    test.add_argument("--json", action="store_true", help=t("cli.help.json_lines", lang))
    test.add_argument("--text", help=t("cli.help.rules_text", lang))
    test.add_argument("--source", default="x", help=t("cli.help.rules_source", lang))
    test.add_argument("--kind", default="mention", help=t("cli.help.rules_kind", lang))
    test.add_argument("file", nargs="?", help=t("cli.help.jsonl_file", lang))
    test.set_defaults(handler=test_command)
    from chatops.cli.backtest_cmd import add_parser as add_backtest

    add_backtest(rules_sub, lang)


def _rules_path(explicit: str | None) -> Path:
    return Path(explicit or os.environ.get("CHATOPS_RULES") or "rules.yaml")


def cache_dir() -> Path:
    """Where one-shot commands keep fitted examples classifiers: $XDG_CACHE_HOME/chatops."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "chatops"


def _load_or_exit(path: Path, lang: str):
    from chatops.rules import RulesError, load_rules

    try:
        return load_rules(path)
    except RulesError as exc:
        for problem in exc.lines(lang):
            err(problem)
        raise CliExit(EXIT_USAGE) from None


def check_command(args) -> int:
    """Print OK with a summary, or every problem as PATH:LINE: message and exit 2."""
    path = _rules_path(args.path)
    rules = _load_or_exit(path, language(args))
    print(t("cli.rules.ok", language(args), path=path, rules=len(rules.keyword_rules),
            channels=len(rules.channels), policies=len(rules.sla.policies)))
    return 0


def test_command(args) -> int:
    """Show, per message: matched rules, keywords, priority, level, tags, channel, notify."""
    from chatops.cli.jsonl import read_jsonl
    from chatops.rules import RulesEngine

    lang = language(args)
    if args.text is None and not args.file:
        err(t("cli.rules.test_needs_input", lang))
        return EXIT_USAGE
    if args.text is None and not os.path.exists(args.file) and not args.file.endswith((".jsonl", ".json")):
        # Most often a post typed where a file goes: say how to triage it instead of "no such file".
        err(t("cli.rules.test_not_a_file", lang, text=args.file))
        return EXIT_USAGE
    # Lazy: a post a keyword decides needs neither the analyser nor the classifier.
    engine = RulesEngine(_load_or_exit(_rules_path(args.rules), lang), lazy=True, cache_dir=cache_dir())
    if args.text is not None:
        return _test_text(engine, args)
    lines = read_jsonl(args.file, lang)
    bad = 0
    for number, message, problem in lines:
        if message is None:
            bad += 1
            err(t("cli.ingest.bad_line", lang, path=args.file, line=number, message=problem))
            continue
        triage = engine.triage(text=message.text, source=message.source, kind=message.kind)
        if args.json:
            row = {"line": number, "external_id": message.external_id, **triage.to_dict(),
                   "stage": triage.stage, "reason": triage.reason, "negative": _negative_words(message.text),
                   "suggested": [s.to_dict() for s in _suggested(engine.rules, triage)]}
            print(json.dumps(row, ensure_ascii=False))
        else:
            _print_triage(number, message, triage, lang, engine.rules)
    return 1 if bad else 0


def _test_text(engine, args) -> int:
    """Triage the one post given with --text."""
    try:
        triage = engine.triage(text=args.text, source=args.source, kind=args.kind)
    except ValueError:
        err(t("cli.rules.unknown_source_kind", language(args), source=args.source, kind=args.kind))
        return EXIT_USAGE
    if args.json:
        print(json.dumps({**triage.to_dict(), "stage": triage.stage, "reason": triage.reason,
                          "negative": _negative_words(args.text),
                          "suggested": [s.to_dict() for s in _suggested(engine.rules, triage)]}, ensure_ascii=False))
    else:
        _print_triage(1, SimpleNamespace(text=args.text, source=args.source, kind=args.kind), triage, language(args), engine.rules)
    return 0


def _print_triage(number: int, message, triage, lang: str, rules) -> None:
    from chatops.cli.tickets_cmd import priority_name

    text = fit(" ".join(message.text.split()), 60).rstrip()
    print(f"{number:>4}  {fit(priority_name(rules, triage.priority, lang), 6)} {triage.level}  #{fit(triage.channel, 16)} "
          f"{message.source}/{message.kind}  {text}")
    details = [t("cli.rules.detail.stage", lang, stage=t(f"cli.rules.stage.{triage.stage}", lang))]
    details += [_reason(triage.reason, lang)] if triage.reason else []
    for name in ("matched", "tags", "notify"):
        if getattr(triage, name):
            details.append(t(f"cli.rules.detail.{name}", lang, values=",".join(getattr(triage, name))))
    if not triage.matched:
        details.append(t("cli.rules.no_match", lang))
    suggested = _suggested(rules, triage)
    if suggested:
        details.append(t("cli.rules.detail.suggested", lang,
                         values="; ".join(f"{s.canned_id} ({s.describe(lang)})" for s in suggested)))
    details += _negativity(message.text)
    print("      " + "  ".join(details))
    sys.stdout.flush()


def _suggested(rules, triage) -> list:
    """The canned replies the Reply modal would suggest first for this triage."""
    from chatops.rules.suggest import suggest

    return suggest(rules, matched_rules=triage.matched, tags=triage.tags, intent=triage.intent)


# The engine's reason words (`keywords=…`, `score=…`), as the reader's language says them.
_REASON_WORDS = ("keywords=", "lemmas=", "examples=", "score=", "ngrams=", " (below examples_min_score)")


def _reason(reason: str, lang: str) -> str:
    """The engine's reason with its labels in `lang`; the matched words stay as they are."""
    if reason == "regex":
        return t("cli.rules.reason.regex", lang)
    for word in _REASON_WORDS:
        key = word.strip(" ()=").replace(" ", "_")
        reason = reason.replace(word, t(f"cli.rules.reason.{key}", lang))
    return reason


def _negative_words(text: str) -> list[str]:
    """The lexicon words flood detection (flood.negative_words) counts a post negative by."""
    from chatops.rules.sentiment import negative_words

    return negative_words(text or "")


def _negativity(text: str) -> list[str]:
    """`negative=…` for the details line, if the post has negative words."""
    words = _negative_words(text)
    return ["negative=" + ",".join(words)] if words else []
