"""`chatops rules backtest NEW.yaml [--since 30d] [--json]`: what a rules change would do to history.

The period's stored inbound messages are triaged again by today's rules and by NEW.yaml, and
the differences are counted (priority, level, channel: before -> after) with a few examples
of each kind of change. Both sides are recomputed, so a ticket someone re-prioritised by hand
does not look like a rules change. Nothing is written: the database is read in one
transaction that is rolled back (read-only on PostgreSQL) and migrations are not applied.
"""

from __future__ import annotations

import json
from collections import Counter

from chatops.cli.common import EXIT_USAGE, CliExit, err, language, settings_or_exit
from chatops.i18n import t

FIELDS = ("priority", "level", "channel")
SAMPLES = 5
EXCERPT = 60


def add_parser(rules_sub, lang: str) -> None:
    """Add `rules backtest` to the `rules` subcommands (imports nothing heavy: --help stays fast)."""
    backtest = rules_sub.add_parser("backtest", help=t("cli.help.rules_backtest", lang),
                                    description=t("cli.help.rules_backtest", lang))
    backtest.add_argument("new", metavar="NEW.yaml", help=t("cli.help.backtest_new", lang))
    backtest.add_argument("--rules", help=t("cli.help.backtest_rules", lang))
    backtest.add_argument("--since", default="30d", help=t("cli.help.backtest_since", lang))
    backtest.add_argument("--json", action="store_true", help=t("cli.help.backtest_json", lang))
    backtest.set_defaults(handler=backtest_command)


def _rules_or_exit(path, lang: str):
    from chatops.cli.rules_cmd import cache_dir
    from chatops.rules import RulesEngine, RulesError, load_rules

    try:
        # Lazy: a period without posts that reach the analysis stages never builds them.
        return RulesEngine(load_rules(path), lazy=True, cache_dir=cache_dir())
    except RulesError as exc:
        for problem in exc.lines(lang):
            err(problem)
        raise CliExit(EXIT_USAGE) from None


def backtest_command(args) -> int:
    """Print (or --json) the counts before -> after and samples of each change; exit 2 on bad input."""
    from chatops.rules.fields import parse_duration
    from chatops.rules.problems import RulesProblem

    lang = language(args)
    try:
        since = parse_duration(args.since)
    except RulesProblem as exc:
        err(t("cli.backtest.bad_since", lang, value=args.since, message=exc.render(lang)))
        return EXIT_USAGE
    settings = settings_or_exit(args)
    today = _rules_or_exit(settings.rules_path, lang)
    new = _rules_or_exit(args.new, lang)
    from chatops.runtime import Runtime

    runtime = Runtime.build(settings, upgrade_db=False, rules=today.rules)
    try:
        start = runtime.clock() - since
        rows = _inbound(runtime, start)
    finally:
        runtime.close()
    report = compare(today, new, rows)
    report.update(since=args.since, start=start.isoformat(), today=str(settings.rules_path), new=str(args.new))
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
    else:
        _print(report, lang)
    return 0


def _inbound(runtime, start) -> list[tuple]:
    """(message id, ticket id, text, source, kind) of inbound messages created at or after start."""
    from sqlalchemy import select

    from chatops.tickets.models import Message

    with runtime.engine.connect() as conn:
        try:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            statement = (
                select(Message.id, Message.ticket_id, Message.text, Message.source, Message.kind)
                .where(Message.direction == "inbound", Message.created_at >= start)
                .order_by(Message.created_at, Message.id)
            )
            return [tuple(row) for row in conn.execute(statement)]
        finally:
            conn.rollback()


def compare(today, new, rows: list[tuple]) -> dict:
    """Triage rows with both engines; return counts per field and the changes with samples."""
    counts = {field: {"before": Counter(), "after": Counter()} for field in FIELDS}
    changes: dict[tuple[str, str, str], dict] = {}
    changed_messages = skipped = 0
    for message_id, ticket_id, text, source, kind in rows:
        try:
            before = today.triage(text or "", source, kind or "mention")
            after = new.triage(text or "", source, kind or "mention")
        except ValueError:  # a source or kind this version of chatops no longer knows
            skipped += 1
            continue
        any_change = False
        for field in FIELDS:
            old_value, new_value = getattr(before, field), getattr(after, field)
            counts[field]["before"][old_value] += 1
            counts[field]["after"][new_value] += 1
            if old_value == new_value:
                continue
            any_change = True
            change = changes.setdefault((field, old_value, new_value), {
                "field": field, "before": old_value, "after": new_value, "count": 0, "samples": []})
            change["count"] += 1
            if len(change["samples"]) < SAMPLES:
                change["samples"].append({
                    "ticket": f"T-{ticket_id}" if ticket_id is not None else None,
                    "message_id": message_id,
                    "text": _excerpt(text or ""),
                    "rules_before": before.matched,
                    "rules_after": after.matched,
                })
        changed_messages += any_change
    return {
        "messages": len(rows) - skipped,
        "skipped": skipped,
        "changed": changed_messages,
        "counts": {field: {side: dict(sorted(counter.items())) for side, counter in sides.items()}
                   for field, sides in counts.items()},
        "changes": sorted(changes.values(), key=lambda change: (FIELDS.index(change["field"]), -change["count"])),
    }


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT else text[: EXCERPT - 1] + "…"


def _print(report: dict, lang: str) -> None:
    print(t("cli.backtest.summary", lang, messages=report["messages"], since=report["since"],
            changed=report["changed"], new=report["new"]))
    for field in FIELDS:
        before, after = report["counts"][field]["before"], report["counts"][field]["after"]
        values = sorted(set(before) | set(after))
        cells = "  ".join(f"{value} {before.get(value, 0)} → {after.get(value, 0)}" for value in values)
        print(f"  {t('cli.backtest.field.' + field, lang)}: {cells}")
    if not report["changes"]:
        print(t("cli.backtest.no_changes", lang))
        return
    for change in report["changes"]:
        print(t("cli.backtest.change", lang, field=t("cli.backtest.field." + change["field"], lang),
                before=change["before"], after=change["after"], count=change["count"]))
        for sample in change["samples"]:
            ticket = sample["ticket"] or t("cli.backtest.no_ticket", lang)
            print(f"      {ticket:<8} {sample['text']}")
