"""`chatops oncall who|schedule|pages|ack|resolve|override` and `chatops sla run` (one
scheduler round by hand, e.g. from cron when `serve` runs with CHATOPS_SCHEDULER=false)."""

from __future__ import annotations

import re

from chatops.cli.common import EXIT_USAGE, err, language, plural, runtime_or_exit
from chatops.i18n import t


def register(sub, lang: str) -> None:
    """Add `oncall` and `sla` to the parser."""
    def h(key: str) -> str:
        return t(f"cli.help.{key}", lang)

    def action(parent, name: str, key: str):
        return parent.add_parser(name, help=h(key), description=h(key))

    oncall = action(sub, "oncall", "oncall")
    oncall.set_defaults(handler=who_command)  # bare `chatops oncall` answers the usual question
    actions = oncall.add_subparsers(dest="oncall_command", metavar="ACTION")
    action(actions, "who", "oncall_who").set_defaults(handler=who_command)
    schedule = action(actions, "schedule", "oncall_schedule")
    schedule.add_argument("name", nargs="?", help=h("schedule_name"))
    schedule.add_argument("--days", type=int, default=14, help=h("days"))
    schedule.set_defaults(handler=schedule_command)
    action(actions, "pages", "oncall_pages").set_defaults(handler=pages_command)
    for verb in ("ack", "resolve"):
        parser = action(actions, verb, f"oncall_{verb}")
        parser.add_argument("ref", help=h("page_ref"))
        parser.add_argument("--as", dest="actor", default="cli", help=h("actor"))
        parser.set_defaults(handler=settle_command, verb=verb)
    override = action(actions, "override", "oncall_override")
    override.add_argument("user", help=h("override_user"))
    override.add_argument("until", help=h("override_until"))
    override.add_argument("--schedule", help=h("override_schedule"))
    override.add_argument("--as", dest="actor", default="cli", help=h("actor"))
    override.set_defaults(handler=override_command)
    sla = action(sub, "sla", "sla")
    sla_sub = sla.add_subparsers(dest="sla_command", required=True, metavar="ACTION")
    action(sla_sub, "run", "sla_run").set_defaults(handler=sla_run_command)


_EMOJI = re.compile(r":[a-z0-9_+-]+: ?")


def _plain(user_id: str) -> str:
    return user_id


def _run(args, body) -> int:
    from chatops.errors import DomainError

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
    from chatops.oncall import report

    return _run(args, lambda rt, s, lang: report.who_lines(rt.flows, s, rt.flows.clock(), lang, _plain))


def schedule_command(args) -> int:
    """Upcoming shifts."""
    from chatops.oncall import report

    return _run(args, lambda rt, s, lang: report.schedule_lines(rt.flows, s, rt.flows.clock(), lang, _plain,
                                                                args.name, args.days))


def pages_command(args) -> int:
    """Open pages."""
    from chatops.oncall import report

    return _run(args, lambda rt, s, lang: report.page_lines(rt.flows, s, lang, _plain))


def settle_command(args) -> int:
    """Acknowledge or resolve pages (the escalation stops)."""
    def body(rt, session, lang):
        settle = rt.flows.acknowledge_page if args.verb == "ack" else rt.flows.resolve_page
        pages = settle(args.ref, actor=args.actor)
        key = "cli.oncall.acked_n" if args.verb == "ack" else "cli.oncall.resolved_n"
        return [plural(key, lang, len(pages))]
    return _run(args, body)


def override_command(args) -> int:
    """Cover a schedule until a time."""
    from chatops.oncall import report

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
    from chatops.scheduler import Lease, Scheduler

    runtime = runtime_or_exit(args)
    try:
        result = Scheduler(runtime.flows, Lease(runtime.session_factory)).tick()
    finally:
        runtime.close()
    if result is None:
        err(t("cli.sla.lease_held", language(args)))
        return 1
    lang = language(args)
    print(t("cli.sla.ran_n", lang, sla=plural("cli.sla.notices", lang, result["sla"]),
            pages=plural("cli.sla.notifications", lang, result["pages"])))
    return 0
