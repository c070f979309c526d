"""`/oncall` (who, schedule, pages, ack, resolve, override) and the page DM's Acknowledge /
Resolve buttons. Acknowledging here, from `/oncall ack`, the CLI or PagerDuty's side of our
outbox all stop the same escalation chain (it lives on the page row)."""

from __future__ import annotations

from slack_bolt import App

from chatops.errors import DomainError
from chatops.i18n import t
from chatops.oncall import commands as oncall_commands
from chatops.slack.blocks.common import user
from chatops.slack.blocks.pages import ONCALL_COMMAND, PAGE_ACK, PAGE_RESOLVE, settled_message
from chatops.slack.listeners.common import action_value
from chatops.slack.surface import SlackSurface


def answer(surface: SlackSurface, actor: str, text: str) -> str:
    """What `/oncall <text>` from `actor` says (running the flow it asks for)."""
    result = oncall_commands.run_oncall(surface.desk(), oncall_commands.parse_oncall(text), actor=actor,
                                 in_group=surface.in_group(actor))
    if result.changed:
        surface.changed()
    if result.error is not None:
        return surface.error_text(result.error)
    if result.key == "refused":
        return f":no_entry: {surface.refusal(result.params['action'])}"
    return "\n".join(oncall_commands.oncall_lines(result, surface.lang, lambda user_id: user(user_id, surface.lang)))


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
