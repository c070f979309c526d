"""`/ticket` — show, claim, release, assign, tag, priority, escalate, pending, resolve, reopen, note,
search, mine, queue, help. The command layer (`chatops.commands`) parses and runs them; this
module renders its results: every answer is ephemeral and in the workspace language."""

from __future__ import annotations

from dataclasses import dataclass

from slack_bolt import App

from chatops import commands
from chatops.i18n import t
from chatops.slack import blocks, ids
from chatops.slack.listeners.issues import issue_form
from chatops.slack.surface import SlackSurface
from chatops.views import TicketView, views_of


@dataclass(frozen=True)
class Answer:
    """What `/ticket` shows: text, optionally blocks."""

    text: str
    blocks: list[dict] | None = None
    modal: dict | None = None  # a form to open instead (`/ticket issue`)


def _viewer(surface: SlackSurface):
    """How the command layer builds what `/ticket` shows of a ticket: its TicketView, now."""
    def view(session, ticket) -> TicketView:
        return views_of(session, [ticket], rules=surface.rules, now=surface.clock())[0]
    return view


def _rows(surface: SlackSurface):
    """How the command layer builds `/ticket` list rows: the tickets' views, read in one batch."""
    def rows(session, tickets) -> list[TicketView]:
        return views_of(session, tickets, rules=surface.rules, now=surface.clock())
    return rows


def help_answer(surface: SlackSurface, problem: str | None = None) -> Answer:
    """Every subcommand with its usage, in the workspace language."""
    lines = [f"*{t('slack.cmd.help_title', surface.lang)}*"]
    lines += [f"`/ticket {t(f'slack.cmd.usage.{name}', surface.lang)}` — {t(f'slack.cmd.about.{name}', surface.lang)}"
              for name in (*commands.verbs_of("slack"), "help")]
    if problem:
        lines.insert(0, f":warning: {problem}")
    return Answer("\n".join(lines))


def render(surface: SlackSurface, result: commands.Result) -> Answer:
    """A command result in Slack mrkdwn and Block Kit."""
    lang = surface.lang
    if result.kind == "help":
        return help_answer(surface, t(f"slack.{result.key}", lang, **result.params) if result.key else None)
    if result.kind == "error":
        if result.error is not None:
            return Answer(surface.error_text(result.error))
        if result.key == "refused":
            return Answer(f":no_entry: {surface.refusal(result.params['action'])}")
        verb = result.params["verb"]
        usage = f"/ticket {t(f'slack.cmd.usage.{verb}', lang)}"
        return Answer(":warning: " + t("slack.cmd.usage_line", lang, usage=usage))
    if result.kind == "modal":
        return Answer(t("slack.cmd.issue_opened", lang, key=result.params["key"]), modal=issue_form(surface, result))
    if result.kind == "ticket":
        view = result.tickets[0]
        return Answer(blocks.ticket_message(view, surface.rules, lang)["text"], _modal(surface, result)["blocks"])
    if result.kind == "list":
        title = t(f"slack.{result.key}", lang, **result.params)
        return Answer(title, blocks.ticket_list(title, list(result.tickets), surface.rules, lang))
    if result.kind == "views":  # saved views: one line each, the name escaped
        title = t("savedviews.cmd.title", lang)
        found = [t("savedviews.cmd.line", lang, name=blocks.escape(name), count=count)
                 for name, count in result.params["views"]]
        return Answer("\n".join([f"*{title}*", *(found or [t("savedviews.cmd.none", lang)])]))
    params = {name: f"<@{value}>" if name in result.people else value for name, value in result.params.items()}
    return Answer(f":white_check_mark: {t(f'slack.{result.key}', lang, **params)}")


def show_modal(surface: SlackSurface, key: str) -> dict:
    """The ticket modal of `key` (a DomainError when it cannot be shown)."""
    result = commands.run(surface.desk(detail=_viewer(surface)), commands.Command("show", (key,)), actor=None)
    if result.error is not None:
        raise result.error
    return _modal(surface, result)


def _modal(surface: SlackSurface, result: commands.Result) -> dict:
    return blocks.ticket_modal(result.tickets[0], surface.rules, surface.lang)


def answer(surface: SlackSurface, actor: str, text: str) -> Answer:
    """What `/ticket <text>` from `actor` answers (running the flow it asks for)."""
    desk = surface.desk(summaries=_rows(surface), detail=_viewer(surface))
    result = commands.run(desk, commands.parse(text, surface="slack"), actor=actor,
                          in_group=surface.in_group(actor))
    if result.changed:
        surface.changed()
    return render(surface, result)


def register(app: App, surface: SlackSurface) -> None:
    """Attach `/ticket`."""
    @app.command(ids.TICKET_COMMAND)
    def ticket(ack, body, client):
        result = answer(surface, body["user_id"], body.get("text") or "")
        if result.modal is not None:  # the trigger id lasts three seconds: the form opens right away
            ack()
            client.views_open(trigger_id=body["trigger_id"], view=result.modal)
            return
        ack(response_type="ephemeral", text=result.text, blocks=result.blocks)
