"""`/oncall` (who, schedule, pages, ack, resolve, override) and the page DM's Acknowledge /
Resolve buttons. Acknowledging here, from `/oncall ack`, the CLI or PagerDuty's side of our
outbox all stop the same escalation chain (it lives on the page row)."""

from __future__ import annotations

import re

from slack_bolt import App

from chatops.errors import DomainError, InvalidValue
from chatops.i18n import t
from chatops.oncall import report
from chatops.slack.blocks.common import user
from chatops.slack.blocks.pages import ONCALL_COMMAND, PAGE_ACK, PAGE_RESOLVE, settled_message
from chatops.slack.listeners.common import action_value
from chatops.slack.surface import SlackSurface

_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$|^@?([UW][A-Z0-9]{2,})$")


def answer(surface: SlackSurface, actor: str, text: str) -> str:
    """What `/oncall <text>` from `actor` says (running the flow it asks for)."""
    words, lang, flows = text.split(), surface.lang, surface.flows
    verb = words[0].lower() if words else "who"
    now = surface.clock()

    def person(user_id: str) -> str:
        return user(user_id, lang)

    try:
        if verb in ("who", "now"):
            with surface.runtime.session_factory() as session:
                return "\n".join(report.who_lines(flows, session, now, lang, person))
        if verb == "schedule":
            with surface.runtime.session_factory() as session:
                return "\n".join(report.schedule_lines(flows, session, now, lang, person,
                                                       words[1] if len(words) > 1 else None))
        if verb == "pages":
            with surface.runtime.session_factory() as session:
                return "\n".join(report.page_lines(flows, session, lang, person))
        if verb in ("ack", "resolve") and len(words) == 2:
            settle = flows.acknowledge_page if verb == "ack" else flows.resolve_page
            pages = settle(words[1], actor=actor)
            surface.changed()
            if not pages:
                return t("sla.page.nothing", lang, ref=words[1].upper())
            to = "acknowledged" if verb == "ack" else "resolved"
            return "\n".join(t(f"sla.page.{to}", lang, page=page.key, who=person(actor)) for page in pages)
        if verb == "override" and len(words) >= 4 and words[2].lower() == "until":
            return _override(surface, actor, words)
    except DomainError as exc:
        return surface.error_text(exc)
    return t("oncall.help", lang)


def _override(surface: SlackSurface, actor: str, words: list[str]) -> str:
    match = _MENTION.match(words[1])
    if not match:
        raise InvalidValue(value=words[1], field="user", choices="@user")
    who = match.group(1) or match.group(2)
    schedules = list(surface.rules.oncall.schedules)
    rest = words[3:]
    schedule = rest.pop() if len(rest) > 1 and rest[-1] in schedules else (schedules[0] if schedules else "-")
    if not surface.may(actor, "assign") and actor != who:  # covering yourself is fine; others: leads
        return f":no_entry: {surface.refusal('assign')}"
    now = surface.clock()
    zone = surface.rules.oncall.schedules[schedule].timezone if schedule in schedules else "UTC"
    until = report.parse_until(" ".join(rest), now, zone)
    cover = surface.flows.add_override(schedule=schedule, user=who, start=now, end=until, actor=actor)
    return t("oncall.override.done", surface.lang, who=user(cover.user, surface.lang), schedule=schedule,
             until=report.local(cover.end, zone, surface.lang))


def register(app: App, surface: SlackSurface) -> None:
    """Attach `/oncall` and the page buttons."""
    @app.command(ONCALL_COMMAND)
    def oncall(ack, body):
        ack(response_type="ephemeral", text=answer(surface, body["user_id"], body.get("text") or ""))

    def settle(action_id: str, to: str) -> None:
        @app.action(action_id)
        def handler(ack, body, respond):
            ack()
            page, actor = action_value(body), body["user"]["id"]
            try:
                changed = (surface.flows.acknowledge_page if to == "acknowledged" else surface.flows.resolve_page)(
                    page, actor=actor)
            except DomainError as exc:
                respond(text=surface.error_text(exc), response_type="ephemeral", replace_original=False)
                return
            surface.changed()
            if changed or to == "acknowledged":
                respond(replace_original=True, **settled_message(page, to, actor, surface.lang))
            else:
                respond(text=t("sla.page.nothing", surface.lang, ref=page), response_type="ephemeral",
                        replace_original=False)

    settle(PAGE_ACK, "acknowledged")
    settle(PAGE_RESOLVE, "resolved")
