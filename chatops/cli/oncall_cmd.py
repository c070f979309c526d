"""`chatops oncall who|schedule|pages|ack|resolve|override` and `chatops sla run` (one
scheduler round by hand, e.g. from cron when `serve` runs with CHATOPS_SCHEDULER=false)."""

from __future__ import annotations

import re

from chatops.cli.common import EXIT_USAGE, err, language, runtime_or_exit
from chatops.errors import DomainError
from chatops.i18n import t
from chatops.oncall import report
from chatops.scheduler import Lease, Scheduler


def register(sub) -> None:
    """Add `oncall` and `sla` to the parser."""
    oncall = sub.add_parser("oncall", help="who is on call, schedules, pages, acknowledge, override")
    oncall.set_defaults(handler=who_command)  # bare `chatops oncall` answers the usual question
    actions = oncall.add_subparsers(dest="oncall_command", metavar="ACTION")
    actions.add_parser("who", help="who is on call now and next, per schedule").set_defaults(handler=who_command)
    schedule = actions.add_parser("schedule", help="shifts over the next days")
    schedule.add_argument("name", nargs="?", help="one schedule (default: all)")
    schedule.add_argument("--days", type=int, default=14)
    schedule.set_defaults(handler=schedule_command)
    actions.add_parser("pages", help="open pages").set_defaults(handler=pages_command)
    for verb, about in (("ack", "acknowledge a page (P-3) or a ticket's pages (T-12)"),
                        ("resolve", "resolve a page or a ticket's pages")):
        parser = actions.add_parser(verb, help=about)
        parser.add_argument("ref", help="P-3 or T-12")
        parser.add_argument("--as", dest="actor", default="cli", help="who acknowledges (a Slack user id)")
        parser.set_defaults(handler=settle_command, verb=verb)
    override = actions.add_parser("override", help="USER covers a schedule from now until a time")
    override.add_argument("user", help="Slack user id, e.g. U0AGENT002")
    override.add_argument("until", help="'2026-11-25 18:00', '18:00' or a duration like 3h")
    override.add_argument("--schedule", help="schedule name (default: the first one)")
    override.add_argument("--as", dest="actor", default="cli")
    override.set_defaults(handler=override_command)
    sla = sub.add_parser("sla", help="SLA scheduler")
    sla_sub = sla.add_subparsers(dest="sla_command", required=True, metavar="ACTION")
    sla_sub.add_parser("run", help="one SLA and paging pass now (as the scheduler leader)").set_defaults(
        handler=sla_run_command)


_EMOJI = re.compile(r":[a-z0-9_+-]+: ?")


def _plain(user_id: str) -> str:
    return user_id


def _run(args, body) -> int:
    runtime = runtime_or_exit(args)
    try:
        with runtime.session_factory() as session:
            for line in body(runtime, session, language(args)):
                print(_EMOJI.sub("", line).replace("*", ""))
    except DomainError as exc:
        err(exc.message(language(args)))
        return EXIT_USAGE
    finally:
        runtime.close()
    return 0


def who_command(args) -> int:
    """Now and next per schedule."""
    return _run(args, lambda rt, s, lang: report.who_lines(rt.flows, s, rt.flows.clock(), lang, _plain))


def schedule_command(args) -> int:
    """Upcoming shifts."""
    return _run(args, lambda rt, s, lang: report.schedule_lines(rt.flows, s, rt.flows.clock(), lang, _plain,
                                                                args.name, args.days))


def pages_command(args) -> int:
    """Open pages."""
    return _run(args, lambda rt, s, lang: report.page_lines(rt.flows, s, lang, _plain))


def settle_command(args) -> int:
    """Acknowledge or resolve pages (the escalation stops)."""
    def body(rt, session, lang):
        settle = rt.flows.acknowledge_page if args.verb == "ack" else rt.flows.resolve_page
        pages = settle(args.ref, actor=args.actor)
        key = "cli.oncall.acked" if args.verb == "ack" else "cli.oncall.resolved"
        return [t(key, lang, count=len(pages))]
    return _run(args, body)


def override_command(args) -> int:
    """Cover a schedule until a time."""
    def body(rt, session, lang):
        schedules = list(rt.rules.oncall.schedules)
        name = args.schedule or (schedules[0] if schedules else "")
        zone = rt.rules.oncall.schedules[name].timezone if name in schedules else "UTC"
        now = rt.flows.clock()
        cover = rt.flows.add_override(schedule=name, user=args.user, start=now,
                                      end=report.parse_until(args.until, now, zone), actor=args.actor)
        return [t("oncall.override.done", lang, who=cover.user, schedule=name, until=report.local(cover.end, zone, lang))]
    return _run(args, body)


def sla_run_command(args) -> int:
    """One scheduler round (exit 1 when another replica holds the lease)."""
    runtime = runtime_or_exit(args)
    try:
        result = Scheduler(runtime.flows, Lease(runtime.session_factory)).tick()
    finally:
        runtime.close()
    if result is None:
        err("another replica holds the scheduler lease")
        return 1
    print(t("cli.sla.ran", language(args), sla=result["sla"], pages=result["pages"]))
    return 0
