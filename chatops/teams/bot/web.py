"""`POST /api/messages`: the Bot Framework endpoint of the Teams bot.

Every activity's bearer token is validated first (chatops.teams.bot.auth); anything else gets 401
and changes nothing. Then by type:

- `message`: `handlers.on_message`; the answer goes back into the same conversation (as a reply
  in the thread in a channel) through the outbox.
- `invoke` `adaptiveCard/action`: the `refresh` verb re-renders the ticket card for the viewer;
  any other verb goes to `handlers.on_action`, whose Outcome becomes the invoke response (the
  ticket's card for that viewer, or a message).
- `invoke` `task/fetch` / `task/submit`: dialogs (`handlers.on_task_fetch/submit`): a card to
  show (`continue`), a message, or closed.
- `conversationUpdate` / `installationUpdate`: the conversation reference is stored (where the bot
  may post proactively, and its serviceUrl).

A handler that fails answers the person with a visible error (200), never a 500 that Teams would
retry; an unfinished handler (NotImplementedError) says the button is not ready.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Flask, Response, request
from sqlalchemy.exc import IntegrityError

from chatops.db import session_scope
from chatops.errors import DomainError, TicketNotFound
from chatops.i18n import t
from chatops.oncall.models import Page
from chatops.runtime import Runtime
from chatops.teams.bot import cards, handlers, store
from chatops.teams.bot.auth import ActivityAuth, BotToken, Unauthorized
from chatops.teams.bot.connector import Connector
from chatops.teams.bot.context import ACK_PAGE, RESOLVE_PAGE, BotContext, Outcome
from chatops.teams.bot.notifier import TARGET, BotDeliverer
from chatops.teams.surface import TeamsSurface, language_of
from chatops.tickets.events import OutboxRow
from chatops.tickets.record import enqueue
from chatops.views import load_view

log = logging.getLogger("chatops.teams.bot")

PATH = "/api/messages"
MESSAGE_TYPE = "application/vnd.microsoft.activity.message"


def make_auth(runtime: Runtime) -> ActivityAuth:
    """The incoming-token validator from settings."""
    settings = runtime.settings
    return ActivityAuth(settings.teams_app_id, settings.teams_openid_url, clock=runtime.clock)


def make_deliverer(runtime: Runtime) -> BotDeliverer:
    """The `teams_bot` outbox deliverer from settings."""
    settings = runtime.settings
    token = BotToken(settings.teams_app_id, settings.teams_app_password.get_secret_value(),
                     settings.teams_bot_token_url, clock=runtime.clock, timeout=settings.teams_timeout)
    connector = Connector(token, app_id=settings.teams_app_id, clock=runtime.clock, timeout=settings.teams_timeout)
    return BotDeliverer(runtime.session_factory, runtime.rules, connector, lang=runtime.rules.defaults.language,
                        may=runtime.rules.may, tenant_id=settings.teams_tenant_id, clock=runtime.clock,
                        post_interval=settings.teams_post_interval)


def mount_bot(app: Flask, runtime: Runtime, *, auth: ActivityAuth | None = None) -> None:
    """Add `POST /api/messages`."""
    endpoint = BotEndpoint(runtime, auth or make_auth(runtime), metrics=app.extensions.get("chatops.metrics"))
    app.extensions["chatops.teams_bot"] = endpoint
    app.add_url_rule(PATH, "teams_bot_messages", endpoint.handle, methods=["POST"])


class BotEndpoint:
    """Authenticates and dispatches activities (see the module docstring)."""

    def __init__(self, runtime: Runtime, auth: ActivityAuth, metrics=None) -> None:
        self.runtime = runtime
        self.auth = auth
        self.metrics = metrics
        self.surface = TeamsSurface(runtime, wake=runtime.outbox_wakeup.set)
        self.rules = runtime.rules

    def handle(self) -> Response:
        """One activity; every answer is counted (`chatops_webhook_requests{network="teams_bot"}`)."""
        response = self._handle()
        if self.metrics is not None:
            self.metrics.webhook_requests.labels("teams_bot", str(response.status_code)).inc()
        return response

    def _handle(self) -> Response:
        try:
            activity = json.loads(request.get_data(cache=False) or b"null")
        except ValueError:
            activity = None
        if not isinstance(activity, dict):
            return _json({"error": "the body must be a Bot Framework activity (a JSON object)"}, 400)
        try:
            self.auth.check(request.headers.get("Authorization"), activity)
        except Unauthorized as exc:
            log.warning("refused a Teams bot activity: %s", exc)
            return _json({"error": "unauthorized"}, 401)
        kind = activity.get("type")
        lang = language_of(activity.get("locale"), self.surface.lang)
        sender = activity.get("from") or {}
        ctx = BotContext(self.surface, activity, lang, self.surface.person(aad=sender.get("aadObjectId")))
        if ctx.person is not None:
            with session_scope(self.runtime.session_factory) as session:
                store.remember_member(session, self.rules, activity, self.runtime.clock())
        if kind in ("conversationUpdate", "installationUpdate"):
            with session_scope(self.runtime.session_factory) as session:
                store.remember_conversation(session, activity, self.runtime.clock())
            return Response(status=200)
        if kind == "message":
            return self._message(ctx)
        if kind == "invoke":
            name = activity.get("name")
            value = activity.get("value") or {}
            if name == "adaptiveCard/action":
                action = value.get("action") or {}
                return _json(self._action(ctx, str(action.get("verb", "")), action.get("data") or {}))
            if name == "task/fetch":
                return self._task(ctx, handlers.on_task_fetch, value.get("data") or {})
            if name == "task/submit":
                return self._task(ctx, handlers.on_task_submit, value.get("data") or {})
            return _json({"statusCode": 200, "type": MESSAGE_TYPE, "value": ""})
        return Response(status=200)

    # -- messages ----------------------------------------------------------------------------

    def _message(self, ctx: BotContext) -> Response:
        outcome = self._run(ctx, lambda: handlers.on_message(ctx, ctx.activity.get("text") or ""))
        if outcome.text:
            self._answer(ctx, outcome.text)
        return Response(status=200)

    def _answer(self, ctx: BotContext, text: str) -> None:
        """Queue the bot's answer into the sender's conversation (the thread, in a channel)."""
        activity = ctx.activity
        conversation = ctx.conversation_id
        in_channel = (activity.get("conversation") or {}).get("conversationType") == "channel"
        reply_to = (activity.get("replyToId") or activity.get("id")) if in_channel else None
        row = OutboxRow(TARGET, "answer", f"{TARGET}:answer:{conversation}:{activity.get('id')}",
                        f"{TARGET}-conversation:{conversation}",
                        {"service_url": ctx.service_url, "conversation": conversation, "reply_to": reply_to,
                         "text": text})
        try:
            with session_scope(self.runtime.session_factory) as session:
                enqueue(session, [row], at=self.runtime.clock())
        except IntegrityError:  # Teams sent the same activity again: answered once already
            return
        self.surface.changed()

    # -- card actions ------------------------------------------------------------------------

    def _action(self, ctx: BotContext, verb: str, data: dict[str, Any]) -> dict[str, Any]:
        if verb == cards.REFRESH:
            outcome = Outcome(ticket_key=data.get("ticket"))
        else:
            outcome = self._run(ctx, lambda: handlers.on_action(ctx, verb, data))
        if outcome.ticket_key and not outcome.error:
            card = self._ticket_card(ctx, outcome.ticket_key)
            if card is not None:
                return {"statusCode": 200, "type": cards.CARD_TYPE, "value": card}
            outcome = Outcome(text=t("teamsbot.error.no_ticket", ctx.lang), error=True)
        if verb in (ACK_PAGE, RESOLVE_PAGE) and not outcome.error and outcome.card is None:
            card = self._page_card(ctx, str(data.get("page", "")))
            if card is not None:
                return {"statusCode": 200, "type": cards.CARD_TYPE, "value": card}
        if outcome.card is not None:
            return {"statusCode": 200, "type": cards.CARD_TYPE, "value": outcome.card}
        return {"statusCode": 200, "type": MESSAGE_TYPE, "value": outcome.text or ""}

    def _ticket_card(self, ctx: BotContext, key: str) -> dict[str, Any] | None:
        """The ticket's card as this viewer sees it (their buttons), None when there is no such ticket."""
        runtime = self.runtime
        with runtime.session_factory() as session:
            try:
                view = load_view(session, key, rules=self.rules, now=runtime.clock())
            except TicketNotFound:
                return None
            return cards.ticket_card(view, rules=self.rules, lang=ctx.lang, viewer=ctx.actor, may=self.rules.may,
                                     refresh_ids=store.refresh_ids(session, self.rules))

    def _page_card(self, ctx: BotContext, ref: str) -> dict[str, Any] | None:
        """A page's card as it stands now (after an Acknowledge or Resolve on it)."""
        number = ref.strip().upper().removeprefix("P-")
        if not number.isdigit():
            return None
        with self.runtime.session_factory() as session:
            page = session.get(Page, int(number))
            if page is None:
                return None
            view = load_view(session, page.ticket_id, rules=self.rules, now=self.runtime.clock())
            return cards.page_card(view, page=page.key, status=page.status, summary=view.subject,
                                   acknowledged_by=page.acknowledged_by, rules=self.rules, lang=ctx.lang)

    # -- dialogs -----------------------------------------------------------------------------

    def _task(self, ctx: BotContext, handler, data: dict[str, Any]) -> Response:
        outcome = self._run(ctx, lambda: handler(ctx, data))
        if outcome.card is not None and not outcome.close:
            title = outcome.title or t("teamsbot.dialog.title", ctx.lang, key=data.get("ticket", ""))
            return _json({"task": {"type": "continue", "value": {
                "title": title, "card": {"contentType": cards.CARD_TYPE, "content": outcome.card}}}})
        if outcome.text and (outcome.error or not outcome.close):
            return _json({"task": {"type": "message", "value": outcome.text}})
        return Response(status=200)  # an empty 200 closes the dialog

    # -- failures ----------------------------------------------------------------------------

    def _run(self, ctx: BotContext, call) -> Outcome:
        """A handler's Outcome; its failure as an error Outcome the person sees."""
        try:
            return call()
        except NotImplementedError:
            return Outcome(text="⚠️ " + t("teamsbot.error.not_ready", ctx.lang), error=True)
        except DomainError as exc:
            return Outcome(text="⚠️ " + self.surface.error_text(exc, ctx.lang), error=True)
        except Exception:
            log.exception("Teams bot handler failed for a %s activity", ctx.activity.get("type"))
            return Outcome(text="⚠️ " + t("teamsbot.error.failed", ctx.lang), error=True)


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status=status, content_type="application/json; charset=utf-8")
