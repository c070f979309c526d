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


def _run(args, command_of) -> int:
    """Run the on-call command `command_of(runtime)` through the command layer and print its
    lines (people as plain ids, without Slack emoji or bold)."""
    from chatops import commands
    from chatops.oncall import commands as oncall_commands

    runtime = runtime_or_exit(args)
    lang = language(args)
    try:
        result = oncall_commands.run_oncall(commands.Desk(runtime, lang=lang), command_of(runtime),
                                     actor=getattr(args, "actor", "cli"), trusted=True)
    finally:
        runtime.close()
    if result.error is not None:
        err(result.error.message(lang))
        return EXIT_USAGE
    if result.verb in ("ack", "resolve"):
        key = "cli.oncall.acked_n" if result.verb == "ack" else "cli.oncall.resolved_n"
        lines = [plural(key, lang, len(result.pages))]
    else:
        lines = oncall_commands.oncall_lines(result, lang)
    for line in lines:
        print(_EMOJI.sub("", line).replace("*", ""))
    return 0


def who_command(args) -> int:
    """Now and next per schedule."""
    from chatops.commands import Command

    return _run(args, lambda rt: Command("who"))


def schedule_command(args) -> int:
    """Upcoming shifts."""
    from chatops.commands import Command

    return _run(args, lambda rt: Command("schedule", (args.name,) if args.name else (), options={"days": args.days}))


def pages_command(args) -> int:
    """Open pages."""
    from chatops.commands import Command

    return _run(args, lambda rt: Command("pages"))


def settle_command(args) -> int:
    """Acknowledge or resolve pages (the escalation stops)."""
    from chatops.commands import Command

    return _run(args, lambda rt: Command(args.verb, (args.ref,)))


def override_command(args) -> int:
    """Cover a schedule until a time."""
    from chatops.commands import Command

    def command(rt):
        schedules = list(rt.rules.oncall.schedules)
        name = args.schedule or (schedules[0] if schedules else "")
        return Command("override", (args.user, args.until), options={"user": args.user, "schedule": name})
    return _run(args, command)


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
