"""On-call commands for every surface: `/oncall …` on Slack, `oncall …` on Teams and
`chatops oncall …` parse, check roles and run here and answer with a command Result
(`chatops.commands`) worded with the shared `oncall.*` and `sla.page.*` keys."""

from __future__ import annotations

from collections.abc import Callable

from chatops.commands import Command, Desk, InGroup, Result, failed, refused, user_id
from chatops.errors import DomainError
from chatops.i18n import t
from chatops.oncall import report

ONCALL_VERBS = ("who", "now", "schedule", "pages", "ack", "resolve", "override")


def parse_oncall(text: str) -> Command:
    """The on-call command in `text`: `who` (also bare), `schedule [name]`, `pages`, `ack REF`,
    `resolve REF`, `override @user until WHEN [schedule]`; anything else is the help verb."""
    words = text.split()
    name = words[0].lower() if words else "who"
    args = tuple(words[1:])
    if name == "now":
        name = "who"
    if name in ("ack", "resolve") and len(args) != 1:
        return Command("help", args)
    if name == "override":
        if len(args) < 3 or args[1].lower() != "until":
            return Command("help", args)
        return Command("override", (args[0], *args[2:]))
    return Command(name if name in ONCALL_VERBS else "help", args)


def run_oncall(desk: Desk, command: Command, *, actor: str | None, in_group: InGroup | None = None,
               trusted: bool = False) -> Result:
    """Answer an on-call command: report lines, pages settled, an override recorded; `trusted`
    (the CLI, run by whoever holds the database) skips the role check of overrides."""
    flows, lang = desk.flows, desk.language
    try:
        if command.verb in ("who", "schedule", "pages"):
            with desk.runtime.session_factory() as session:
                if command.verb == "who":
                    lines = report.who_lines(flows, session, desk.now(), lang, desk.person)
                elif command.verb == "schedule":
                    lines = report.schedule_lines(flows, session, desk.now(), lang, desk.person,
                                                  command.args[0] if command.args else None,
                                                  command.options.get("days", 14))
                else:
                    lines = report.page_lines(flows, session, lang, desk.person)
            return Result("list", verb=command.verb, lines=tuple(lines))
        if command.verb in ("ack", "resolve") and actor is not None:
            return _settle(desk, command, actor)
        if command.verb == "override" and actor is not None:
            return _override(desk, command, actor, in_group, trusted)
    except DomainError as exc:
        return failed(exc)
    return Result("help", "oncall.help", verb="help")


def _settle(desk: Desk, command: Command, actor: str) -> Result:
    settle = desk.flows.acknowledge_page if command.verb == "ack" else desk.flows.resolve_page
    pages = settle(command.args[0], actor=actor)
    if not pages:
        return Result("done", "sla.page.nothing", {"ref": command.args[0].upper()}, verb=command.verb, changed=True)
    to = "acknowledged" if command.verb == "ack" else "resolved"
    return Result("done", f"sla.page.{to}", {"who": actor, "count": len(pages)}, verb=command.verb,
                  pages=tuple(page.key for page in pages), people=("who",), changed=True)


def _override(desk: Desk, command: Command, actor: str, in_group: InGroup | None, trusted: bool) -> Result:
    """`override WHO WHEN… [schedule]`: WHO is a mention unless `options["user"]` names them."""
    who = command.options.get("user") or user_id(command.args[0])
    rules = desk.rules
    schedules = list(rules.oncall.schedules)
    rest = list(command.args[1:])
    schedule = command.options.get("schedule") or (
        rest.pop() if len(rest) > 1 and rest[-1] in schedules else (schedules[0] if schedules else "-"))
    if not trusted and actor != who and not desk.may(actor, "assign", in_group):  # covering yourself is fine
        return refused(rules, "assign")
    now = desk.now()
    zone = rules.oncall.schedules[schedule].timezone if schedule in schedules else "UTC"
    until = report.parse_until(" ".join(rest), now, zone)
    cover = desk.flows.add_override(schedule=schedule, user=who, start=now, end=until, actor=actor)
    return Result("done", "oncall.override.done",
                  {"who": cover.user, "schedule": schedule, "until": report.local(cover.end, zone, desk.language)},
                  verb="override", people=("who",), changed=True)



def oncall_lines(result: Result, lang: str, person: Callable[[str], str] = str) -> list[str]:
    """An on-call result in words (the shared `oncall.*` and `sla.page.*` keys), people shown by
    `person`; refusals and errors are the surface's to word."""
    if result.kind == "list":
        return list(result.lines)
    if result.kind == "help":
        return [t("oncall.help", lang)]
    params = {name: person(value) if name in result.people else value for name, value in result.params.items()}
    if result.pages:
        return [t(result.key, lang, page=page, who=params["who"]) for page in result.pages]
    return [t(result.key, lang, **params)]
