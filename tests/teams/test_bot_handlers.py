"""The Teams bot's handlers: card actions (Action.Execute), dialogs (task/fetch, task/submit)
and what they store, for people mapped in rules.yaml `teams.people`, in Japanese and English.

Activities are shaped as Teams sends them to the bot; the handlers get them as the transport
passes them on (`value.action.verb`/`data`, `value.data`)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from sqlalchemy import select

from chatops.i18n import t
from chatops.oncall.models import Page
from chatops.rules import load_rules
from chatops.runtime import Runtime
from chatops.teams.bot import handlers
from chatops.teams.bot.context import BotContext, Outcome
from chatops.teams.surface import TeamsSurface, language_of
from chatops.tickets.models import Customer, Message, OutboxItem, Ticket, TicketEvent
from tests.conftest import RULES_PATH
from tests.helpers import inbound
from tests.teams.conftest import with_teams

SCHEMA = json.loads((Path(__file__).parent / "adaptive-card-1.4-bot.schema.json").read_text("utf-8"))
BILLING = "二重請求されています。確認してください"  # the billing rule: red, suggests two canned replies
PEOPLE = """
teams:
  people:
    - {user: U0AGENT001, aad: aad-agent-1, upn: sato@acme.example, name: Sato}
    - {user: U0AGENT002, aad: aad-agent-2, upn: suzuki@acme.example, name: Suzuki}
    - {user: U0LEAD0001, aad: aad-lead-1, upn: lead@acme.example, name: Lead}
    - {user: U0L3OWNER, aad: aad-l3-1, upn: kimura@acme.example, name: Kimura}
    - {user: U0GUEST001, aad: aad-guest-1, upn: guest@acme.example}
"""
AGENT, AGENT2, LEAD, GUEST, STRANGER = "aad-agent-1", "aad-agent-2", "aad-lead-1", "aad-guest-1", "aad-unknown-9"


def validate_dialog(card: dict) -> None:
    """Fail unless `card` is Adaptive Card 1.4 content a bot may show in a dialog."""
    jsonschema.Draft202012Validator(SCHEMA).validate(card)


@pytest.fixture
def handler_runtime(tmp_path, teams_settings, workflows, clock):
    """The shipped rules.yaml with a `teams:` section (written and loaded as a team would) and
    every channel mirrored to the fake Workflows webhook; Teams is the only surface."""
    path = tmp_path / "rules.yaml"
    path.write_text(RULES_PATH.read_text("utf-8") + PEOPLE, "utf-8")
    loaded = load_rules(path)
    rules = loaded.model_copy(update={"channels": with_teams(loaded, workflows.url).channels})
    runtime = Runtime.build(teams_settings, upgrade_db=False, rules=rules, clock=clock)
    yield runtime
    runtime.close()


class Bot:
    """What the transport does with an invoke once its JWT is checked: the sender resolved
    against `teams.people`, the handler called with the invoke's value."""

    def __init__(self, runtime: Runtime) -> None:
        self.wakes = 0
        self.surface = TeamsSurface(runtime, wake=self._wake)

    def _wake(self) -> None:
        self.wakes += 1

    def context(self, activity: dict) -> BotContext:
        sender = activity.get("from") or {}
        return BotContext(surface=self.surface, activity=activity,
                          lang=language_of(activity.get("locale"), self.surface.lang),
                          person=self.surface.person(aad=sender.get("aadObjectId")))

    def invoke(self, activity: dict) -> Outcome:
        ctx, value = self.context(activity), activity["value"]
        if activity["name"] == "adaptiveCard/action":
            return handlers.on_action(ctx, value["action"]["verb"], value["action"].get("data") or {})
        if activity["name"] == "task/fetch":
            return handlers.on_task_fetch(ctx, value["data"])
        assert activity["name"] == "task/submit"
        return handlers.on_task_submit(ctx, value["data"])

    def act(self, verb: str, data: dict, *, aad: str = AGENT, locale: str = "en-US") -> Outcome:
        return self.invoke(invoke("adaptiveCard/action", {
            "action": {"type": "Action.Execute", "verb": verb, "data": data}, "trigger": "manual"},
            aad=aad, locale=locale))

    def fetch(self, dialog: str, key: str, *, aad: str = AGENT, locale: str = "en-US") -> Outcome:
        return self.invoke(invoke("task/fetch", {
            "type": "task/fetch", "data": {"msteams": {"type": "task/fetch"}, "dialog": dialog, "ticket": key},
            "context": {"theme": "default"}}, aad=aad, locale=locale))

    def submit(self, card: dict, button: str, inputs: dict, *, aad: str = AGENT, locale: str = "en-US") -> Outcome:
        """Press `button` (its title) on a dialog `card`: Teams merges the action's data with
        the inputs' values, every value a string."""
        action = next(a for a in card["actions"] if a["title"] == button)
        return self.invoke(invoke("task/submit", {"data": {**action["data"], **inputs},
                                                  "context": {"theme": "default"}}, aad=aad, locale=locale))


def invoke(name: str, value: dict, *, aad: str, locale: str) -> dict:
    """An invoke activity as Teams posts it to the bot from a channel conversation."""
    return {
        "type": "invoke", "name": name, "id": "f:4c5d6e7f-0000-4000-8000-1234567890ab",
        "timestamp": "2026-11-20T01:00:00.000Z", "localTimestamp": "2026-11-20T10:00:00.000+09:00",
        "serviceUrl": "https://smba.trafficmanager.net/jp/", "channelId": "msteams",
        "from": {"id": "29:1XJKJMvc5GBtc2JwZq0oj8tHZmzrQgFmB", "name": "Teams user", "aadObjectId": aad},
        "conversation": {"isGroup": True, "conversationType": "channel",
                         "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47",
                         "id": "19:abc@thread.tacv2;messageid=1732064400000"},
        "recipient": {"id": "28:00000000-0000-0000-0000-00000000b0t0", "name": "chatops"},
        "entities": [{"type": "clientInfo", "locale": locale, "country": locale[-2:], "platform": "Web"}],
        "channelData": {"tenant": {"id": "72f988bf-86f1-41af-91ab-2d7cd011db47"},
                        "channel": {"id": "19:abc@thread.tacv2"}, "team": {"id": "19:team@thread.tacv2"},
                        "source": {"name": "message"}},
        "replyToId": "1732064400000", "value": value, "locale": locale,
    }


@pytest.fixture
def bot(handler_runtime) -> Bot:
    return Bot(handler_runtime)


@pytest.fixture
def key(handler_runtime) -> str:
    return handler_runtime.flows.ingest(inbound(BILLING)).ticket_key


def events(runtime, kind: str | None = None) -> list[TicketEvent]:
    with runtime.session_factory() as session:
        stmt = select(TicketEvent).order_by(TicketEvent.id)
        if kind:
            stmt = stmt.where(TicketEvent.kind == kind)
        return list(session.scalars(stmt))


def kinds(runtime) -> list[tuple[str, str]]:
    return [(event.kind, event.actor) for event in events(runtime)]


def outbox(runtime, target: str) -> list[OutboxItem]:
    with runtime.session_factory() as session:
        return list(session.scalars(select(OutboxItem).where(OutboxItem.target == target).order_by(OutboxItem.id)))


def ticket(runtime, key: str) -> Ticket:
    with runtime.session_factory() as session:
        return session.get(Ticket, int(key[2:]))


def texts(card: dict) -> str:
    """Everything a person reads on a dialog: texts, facts, labels, choices, toggles, buttons."""
    parts = []

    def walk(elements):
        for element in elements:
            kind = element["type"]
            if kind == "TextBlock":
                parts.append(element["text"])
            elif kind == "FactSet":
                parts.extend(f"{fact['title']}: {fact['value']}" for fact in element["facts"])
            elif kind == "Container":
                walk(element["items"])
            else:
                parts.extend(filter(None, (element.get("label"), element.get("title"), element.get("placeholder"))))
                parts.extend(choice["title"] for choice in element.get("choices", []))
    walk(card["body"])
    parts.extend(action["title"] for action in card.get("actions", []))
    return "\n".join(parts)


def inputs(card: dict) -> dict[str, dict]:
    return {element["id"]: element for element in card["body"] if element["type"].startswith("Input.")}


# -- card actions ----------------------------------------------------------------------------


def test_claim_stores_the_event_queues_the_card_update_and_refreshes_the_card(bot, handler_runtime, key):
    before = len(outbox(handler_runtime, "teams"))
    outcome = bot.act("claim", {"ticket": key.lower()})
    assert outcome == Outcome(ticket_key=key, text=f"✅ {key} is yours.")
    assert kinds(handler_runtime)[-1] == ("claimed", "U0AGENT001")
    assert ticket(handler_runtime, key).assignee == "U0AGENT001" and ticket(handler_runtime, key).status == "open"
    assert len(outbox(handler_runtime, "teams")) > before  # the channel's card follows the change
    assert bot.wakes == 1
    assert bot.act("claim", {"ticket": key}) == Outcome(ticket_key=key, text=f"✅ {key} is yours.")
    assert [kind for kind, _ in kinds(handler_runtime)].count("claimed") == 1  # a double click is one claim


@pytest.mark.parametrize("locale, expected", [
    ("en-US", "⚠️ {key} is already claimed by Sato."),
    ("ja-JP", "⚠️ {key} はすでに Sato が担当しています。"),
])
def test_a_claim_collision_names_the_owner_by_their_teams_name(bot, handler_runtime, key, locale, expected):
    bot.act("claim", {"ticket": key})
    outcome = bot.act("claim", {"ticket": key}, aad=AGENT2, locale=locale)
    assert outcome == Outcome(text=expected.format(key=key), error=True)
    assert ticket(handler_runtime, key).assignee == "U0AGENT001"


def test_release_only_by_the_owner(bot, handler_runtime, key):
    bot.act("claim", {"ticket": key})
    refused = bot.act("release", {"ticket": key}, aad=AGENT2)
    assert refused == Outcome(text=f"⚠️ {key} is claimed by Sato, not by you.", error=True)
    assert bot.act("release", {"ticket": key}, locale="ja-JP") == Outcome(
        ticket_key=key, text=f"✅ {key} をキューに戻しました。")
    assert kinds(handler_runtime)[-1] == ("released", "U0AGENT001")
    assert ticket(handler_runtime, key).assignee is None


def test_resolve_reopen_and_priority(bot, handler_runtime, key):
    assert bot.act("resolve", {"ticket": key}).ticket_key == key
    assert ticket(handler_runtime, key).status == "resolved"
    assert bot.act("reopen", {"ticket": key}, locale="ja-JP") == Outcome(ticket_key=key, text=f"✅ {key} を再オープンしました。")
    assert ticket(handler_runtime, key).status == "open"
    assert bot.act("priority", {"ticket": key, "priority": "green"}) == Outcome(
        ticket_key=key, text=f"✅ {key} is now Normal.")
    assert bot.act("priority", {"ticket": key, "priority": "orange"}, locale="ja-JP").text == f"✅ {key} の優先度を 至急 にしました。"
    assert [(kind, actor) for kind, actor in kinds(handler_runtime) if actor == "U0AGENT001"] == [
        ("resolved", "U0AGENT001"), ("reopened", "U0AGENT001"),
        ("priority_changed", "U0AGENT001"), ("priority_changed", "U0AGENT001")]
    assert events(handler_runtime, "priority_changed")[0].payload["priority_to"] == "green"
    bad = bot.act("priority", {"ticket": key, "priority": "purple"})
    assert bad.error and "'purple'" in bad.text and "red, orange, green" in bad.text
    bot.act("resolve", {"ticket": key})
    twice = bot.act("resolve", {"ticket": key}, locale="ja-JP")  # the second resolve is refused
    assert twice.error and twice.text.startswith(f"⚠️ {key} は")


@pytest.mark.parametrize("locale", ["en-US", "ja-JP"])
def test_people_without_the_role_or_unmapped_are_refused_and_nothing_changes(bot, handler_runtime, key, locale):
    lang = locale[:2]
    for verb in ("claim", "resolve", "priority"):
        outcome = bot.act(verb, {"ticket": key, "priority": "green"}, aad=GUEST, locale=locale)
        assert outcome == Outcome(text=f"⛔ {bot.surface.refusal(verb, lang)}", error=True)
    assert bot.surface.refusal("claim", "en") == "You need the agent role to claim tickets."
    stranger = bot.act("claim", {"ticket": key}, aad=STRANGER, locale=locale)
    assert stranger == Outcome(text="⛔ " + t("teams.not_mapped", lang), error=True)
    assert "teams.people" in stranger.text and "rules.yaml" in stranger.text
    assert [kind for kind, _ in kinds(handler_runtime)] == ["created"] and bot.wakes == 0


def test_an_unknown_ticket_or_a_card_without_one_is_a_clear_error(bot, handler_runtime, key):
    assert bot.act("claim", {"ticket": "T-999"}) == Outcome(text="⚠️ No ticket T-999.", error=True)
    assert bot.act("claim", {"ticket": "T-999"}, locale="ja-JP") == Outcome(
        text="⚠️ チケット T-999 は見つかりません。", error=True)
    assert bot.act("claim", {}).text == "⚠️ This card action names no ticket (data.ticket is missing)."
    assert bot.act("snooze", {"ticket": key}).text == "⚠️ chatops does not know the card action 'snooze'."
    assert [kind for kind, _ in kinds(handler_runtime)] == ["created"]


def test_acknowledging_a_page_from_its_card_stops_the_escalation(bot, handler_runtime, clock):
    handler_runtime.flows.ingest(inbound(BILLING))  # red: pages the on-call person
    handler_runtime.flows.page_pass(clock.now)
    with handler_runtime.session_factory() as session:
        page = session.scalars(select(Page)).one()
    assert page.status == "triggered"
    outcome = bot.act("page_ack", {"page": page.key}, locale="ja-JP")
    assert outcome.text == f"✅ {page.key} を Sato さんが確認しました。エスカレーションは止まります。" and not outcome.error
    assert outcome.extra == {"page": page.key, "status": "acknowledged", "by": "U0AGENT001"}
    with handler_runtime.session_factory() as session:
        page = session.get(Page, page.id)
        assert (page.status, page.acknowledged_by, page.next_at) == ("acknowledged", "U0AGENT001", None)
    assert kinds(handler_runtime)[-1] == ("page_acknowledged", "U0AGENT001")
    assert bot.act("page_resolve", {"page": page.key}).text == f"✔️ {page.key} resolved by Sato."
    assert bot.act("page_resolve", {"page": page.key}).text == f"ℹ️ Nothing to do: {page.key} has no open page."
    assert bot.act("page_ack", {"page": "P-404"}).error
    assert bot.act("page_ack", {"page": page.key}, aad=STRANGER).text == "⛔ " + t("teams.not_mapped", "en")


# -- Reply -----------------------------------------------------------------------------------


def test_reply_dialog_offers_the_suggested_canned_replies_first_and_the_network_limit(bot, handler_runtime, key):
    outcome = bot.fetch("reply", key)
    assert outcome.title == f"Reply to {key}" and not outcome.error
    card = outcome.card
    validate_dialog(card)
    shown = texts(card)
    assert "Suggested for this ticket" in shown
    assert "• **Charged twice - refund** — matches rule double-charge" in shown
    choices = [choice["value"] for choice in inputs(card)["canned"]["choices"]]
    assert choices[:2] == ["billing-double-charge", "ask-order-number-dm"]  # the billing rule's replies:
    assert len(choices) == len(handler_runtime.rules.canned_replies)
    assert ("X allows 280 in a public reply, counting URLs as 23 and CJK characters and emoji as 2 each."
            in shown)
    ja = bot.fetch("reply", key, locale="ja-JP")
    validate_dialog(ja.card)
    assert ja.title == f"{key} に返信"
    assert "このチケットへのおすすめ" in texts(ja.card) and "二重請求のお詫びと返金" in texts(ja.card)
    assert "X の公開の返信は 280 までです" in texts(ja.card)


def test_reply_dialog_warns_before_answering_an_x_post_that_did_not_mention_us(bot, handler_runtime, key):
    found = handler_runtime.flows.ingest(inbound("ACMEストアのセールっていつから？", kind="keyword",
                                                 author={"id": "u9", "handle": "@jiro", "name": "Jiro"})).ticket_key
    card = bot.fetch("reply", found, locale="ja-JP").card
    validate_dialog(card)
    assert "⚠️ " + t("teams.dialog.reply.warning.x_not_mentioned", "ja", account="@acme_jp") in texts(card)
    assert all("⚠️" not in text for text in texts(bot.fetch("reply", key).card))


def test_reply_with_a_canned_answer_is_queued_to_the_network(bot, handler_runtime, key):
    card = bot.fetch("reply", key).card
    filled = bot.submit(card, "Use canned reply", {"canned": "billing-double-charge", "text": ""})
    validate_dialog(filled.card)
    canned = next(r for r in handler_runtime.rules.canned_replies if r.id == "billing-double-charge").text.ja
    box = inputs(filled.card)["text"]
    assert box["value"] == canned  # the team language: what the customer reads
    assert "This text counts 144 of 280." in texts(filled.card)  # twitter-text: 、。 weigh 1
    assert not events(handler_runtime, "replied")  # filling in sends nothing
    done = bot.submit(filled.card, "Send", {"canned": "billing-double-charge", "text": box["value"]})
    assert done == Outcome(close=True, ticket_key=key, text=f"✅ Reply to {key} queued; it leaves through the outbox.")
    with handler_runtime.session_factory() as session:
        message = session.scalars(select(Message).where(Message.direction == "outbound")).one()
        assert (message.text, message.author_id, message.delivery_state) == (canned, "U0AGENT001", "queued")
    assert [item.kind for item in outbox(handler_runtime, "network:x")] == ["reply"]
    assert events(handler_runtime, "replied")[0].actor == "U0AGENT001"
    again = bot.submit(filled.card, "Send", {"canned": "billing-double-charge", "text": box["value"]})
    assert again.close  # Teams sending the same submit twice
    assert len(events(handler_runtime, "replied")) == 1 and len(outbox(handler_runtime, "network:x")) == 1


def test_send_with_only_a_canned_reply_picked_sends_it(bot, handler_runtime, key):
    card = bot.fetch("reply", key, locale="ja-JP").card
    assert bot.submit(card, "送信", {"canned": "ask-order-number-dm"}, locale="ja-JP").close
    with handler_runtime.session_factory() as session:
        message = session.scalars(select(Message).where(Message.direction == "outbound")).one()
    assert message.text.startswith("お手数ですが、ご注文番号")


@pytest.mark.parametrize("locale, problem", [
    ("en-US", "The reply for {key} counts 300 on x (URLs 23, CJK and emoji 2 each); it allows 280."),
    ("ja-JP", None),
])
def test_an_over_long_reply_shows_the_dialog_again_with_the_count(bot, handler_runtime, key, locale, problem):
    lang = locale[:2]
    card = bot.fetch("reply", key, locale=locale).card
    text = "返" * 150  # X weighs each CJK character 2
    outcome = bot.submit(card, t("teams.dialog.reply.send", lang), {"text": text}, locale=locale)
    assert outcome.card is not None and not outcome.close and outcome.error
    validate_dialog(outcome.card)
    first = outcome.card["body"][0]
    expected = problem.format(key=key) if problem else t("error.reply_too_long_weighted", "ja", key=key, network="x",
                                                          length=300, limit=280)
    assert first["text"] == f"⚠️ {expected}" and first["color"] == "Attention"
    assert inputs(outcome.card)["text"]["value"] == text  # what was typed is kept
    assert t("teams.dialog.reply.count", lang, count=300, limit=280) in texts(outcome.card)
    assert not events(handler_runtime, "replied") and not outbox(handler_runtime, "network:x")
    empty = bot.submit(card, t("teams.dialog.reply.send", lang), {"text": "  "}, locale=locale)
    assert empty.card["body"][0]["text"] == "⚠️ " + {
        "en": f"The reply for {key} is empty: write it, or pick a canned reply.",
        "ja": f"{key} への返信が空です。文面を書くか、定型文を選んでください。"}[lang]


def test_reply_is_refused_without_the_role_and_on_a_resolved_ticket(bot, handler_runtime, key):
    assert bot.fetch("reply", key, aad=GUEST) == Outcome(text=f"⛔ {bot.surface.refusal('reply', 'en')}", error=True)
    card = bot.fetch("reply", key).card
    refused = bot.submit(card, "Send", {"text": "hello"}, aad=GUEST, locale="ja-JP")
    assert refused == Outcome(text=f"⛔ {bot.surface.refusal('reply', 'ja')}", error=True)
    bot.act("resolve", {"ticket": key})
    closed = bot.fetch("reply", key, locale="ja-JP")
    assert closed.error and closed.text.startswith(f"⚠️ {key} は") and "解決済み" in closed.text
    assert bot.fetch("reply", "T-999").text == "⚠️ No ticket T-999."
    assert not events(handler_runtime, "replied")


def test_a_reply_by_someone_else_after_the_dialog_opened_stops_the_send_until_confirmed(bot, handler_runtime, key,
                                                                                       clock):
    mine = bot.fetch("reply", key).card
    clock.advance(seconds=30)
    theirs = bot.fetch("reply", key, aad=AGENT2, locale="ja-JP").card
    assert bot.submit(theirs, "送信", {"text": "確認して返金いたします。"}, aad=AGENT2, locale="ja-JP").close
    clock.advance(seconds=30)
    stopped = bot.submit(mine, "Send", {"text": "We are checking the double charge."})
    assert stopped.card is not None and not stopped.close
    validate_dialog(stopped.card)
    warning = stopped.card["body"][0]
    assert warning["type"] == "Container" and warning["style"] == "warning"
    assert "Someone else replied to this customer after you opened this." in warning["items"][0]["text"]
    assert "• Suzuki at 2026-11-20 10:00: “確認して返金いたします。” (still sending)" == warning["items"][1]["text"]
    assert inputs(stopped.card)["text"]["value"] == "We are checking the double charge."
    assert len(events(handler_runtime, "replied")) == 1  # only Suzuki's
    sent = bot.submit(stopped.card, "Send anyway", {"text": "We are checking the double charge."})
    assert sent.close
    with handler_runtime.session_factory() as session:
        assert [(m.author_id, m.text) for m in session.scalars(
            select(Message).where(Message.direction == "outbound").order_by(Message.id))] == [
            ("U0AGENT002", "確認して返金いたします。"), ("U0AGENT001", "We are checking the double charge.")]
    later = bot.fetch("reply", key, aad=LEAD, locale="ja-JP").card  # the lead sees both, as recent replies
    recent = next(element for element in later["body"] if element["type"] == "Container")
    assert recent["items"][0]["text"] == "直近15分にこのお客さまへ送られた他の返信"
    assert "Sato" in recent["items"][1]["text"] and "Suzuki" in recent["items"][1]["text"]


def test_the_bot_card_schema_refuses_what_teams_does_not_take(bot, key):
    card = bot.fetch("reply", key).card
    validate_dialog(card)
    for broken in (
            {**card, "version": "1.5"},
            {**card, "body": [*card["body"], {"type": "Input.Text", "label": "no id"}]},
            {**card, "body": [*card["body"], {"type": "Input.ChoiceSet", "id": "x", "style": "filtered",
                                              "choices": []}]},  # `filtered` came with 1.5
            {**card, "actions": [{"type": "Action.Submit", "title": "Go", "data": {}, "isEnabled": False}]},
    ):
        with pytest.raises(jsonschema.ValidationError):
            validate_dialog(broken)


# -- Escalate --------------------------------------------------------------------------------


def test_escalate_needs_the_note_and_hands_over_to_someone_of_the_level(bot, handler_runtime):
    key = handler_runtime.flows.ingest(inbound("使い方を教えてください")).ticket_key  # an L1 question
    ticket_level = ticket(handler_runtime, key).level
    outcome = bot.fetch("escalate", key)
    card = outcome.card
    validate_dialog(card)
    assert outcome.title == f"Escalate {key}"
    levels = [choice["value"] for choice in inputs(card)["level"]["choices"]]
    assert levels == [name for name, level in handler_runtime.rules.levels.items()
                      if level.rank > handler_runtime.rules.levels[ticket_level].rank]
    people = {choice["value"]: choice["title"] for choice in inputs(card)["assignee"]["choices"]}
    assert people.get("U0L3OWNER") == "Kimura · L3"
    assert inputs(card)["note"]["isRequired"] is True

    no_note = bot.submit(card, "Escalate", {"level": "L3", "note": " ", "assignee": "U0L3OWNER"})
    validate_dialog(no_note.card)
    assert no_note.card["body"][0]["text"] == f"⚠️ Escalating {key} needs a hand-off note."
    assert inputs(no_note.card)["level"]["value"] == "L3" and inputs(no_note.card)["assignee"]["value"] == "U0L3OWNER"
    wrong = bot.submit(card, "Escalate", {"level": "L2", "note": "refund", "assignee": "U0L3OWNER"})
    assert wrong.card["body"][0]["text"] == \
        "⚠️ Kimura is not among the people of L2 (there: none); choose one of them, or nobody."
    assert not events(handler_runtime, "escalated")

    done = bot.submit(card, "Escalate", {"level": "L3", "note": "返金の判断をお願いします", "assignee": "U0L3OWNER"},
                      locale="ja-JP")
    assert done == Outcome(close=True, ticket_key=key, text=f"✅ {key} を L3 にエスカレーションしました。")
    escalated = events(handler_runtime, "escalated")[0]
    assert escalated.actor == "U0AGENT001"
    assert escalated.payload["note"] == "返金の判断をお願いします" and escalated.payload["level_to"] == "L3"
    assert ticket(handler_runtime, key).assignee == "U0L3OWNER" and ticket(handler_runtime, key).level == "L3"
    top = bot.fetch("escalate", key)
    assert top == Outcome(text=f"⚠️ {key} is already at L3, the highest level; there is nowhere to escalate it.",
                          error=True)


def test_escalate_dialog_in_japanese_and_refused_for_a_guest(bot, handler_runtime):
    key = handler_runtime.flows.ingest(inbound("使い方を教えてください")).ticket_key
    card = bot.fetch("escalate", key, locale="ja-JP").card
    validate_dialog(card)
    shown = texts(card)
    assert "引き継ぎメモ（必須）" in shown and "エスカレーション先" in shown and "担当者（任意）" in shown
    assert bot.fetch("escalate", key, aad=GUEST, locale="ja-JP") == Outcome(
        text=f"⛔ {bot.surface.refusal('escalate', 'ja')}", error=True)
    assert bot.submit(card, "エスカレーション", {"level": "L2", "note": "x"}, aad=GUEST).error
    assert not events(handler_runtime, "escalated")


# -- Customer --------------------------------------------------------------------------------


def test_customer_dialog_shows_the_facts_and_changes_flags_and_tier_with_their_roles(bot, handler_runtime, key):
    outcome = bot.fetch("customer", key)
    card = outcome.card
    validate_dialog(card)
    shown = texts(card)
    assert outcome.title == f"Customer of {key}"
    assert "Customer: @hanako" in shown and "Network: X" in shown and "Tier: standard" in shown
    assert f"**{key}** New" in shown
    assert {name: field["value"] for name, field in inputs(card).items()} == {
        "tier": "standard", "flag_vip": "false", "flag_troll": "false", "flag_blocked": "false"}

    # An agent may flag (claim's permission) but not change the tier (assign: leads).
    refused = bot.submit(card, "Save", {"tier": "premium", "flag_vip": "true", "flag_troll": "false",
                                        "flag_blocked": "false"})
    validate_dialog(refused.card)
    assert refused.card["body"][0]["text"] == f"⚠️ {bot.surface.refusal('tier', 'en')}"
    assert inputs(refused.card)["tier"]["value"] == "premium"  # what was asked, shown again
    assert not events(handler_runtime, "customer_flagged") and not events(handler_runtime, "tier_changed")

    flagged = bot.submit(card, "Save", {"tier": "standard", "flag_vip": "true", "flag_troll": "false",
                                        "flag_blocked": "false"})
    assert flagged == Outcome(close=True, ticket_key=key)
    assert events(handler_runtime, "customer_flagged")[0].payload["flag"] == "vip"
    tiered = bot.submit(bot.fetch("customer", key, aad=LEAD).card, "Save",
                        {"tier": "premium", "flag_vip": "true", "flag_troll": "false", "flag_blocked": "false"},
                        aad=LEAD)
    assert tiered.close
    with handler_runtime.session_factory() as session:
        customer = session.scalars(select(Customer)).one()
        assert (customer.tier, customer.flags) == ("premium", ["vip"])
    assert events(handler_runtime, "tier_changed")[0].actor == "U0LEAD0001"
    ja = bot.fetch("customer", key, locale="ja-JP").card
    validate_dialog(ja)
    for part in ("ティア: プレミアム", "フラグ: `vip`", "過去のチケット", "VIP", "ブロック", "保存"):
        assert part in texts(ja)


def test_unknown_dialogs_and_tickets(bot, key):
    assert bot.fetch("snooze", key).text == "⚠️ chatops has no dialog 'snooze'."
    assert bot.fetch("customer", "T-999", locale="ja-JP").text == "⚠️ チケット T-999 は見つかりません。"
    assert bot.fetch("customer", key, aad=STRANGER).text == "⛔ " + t("teams.not_mapped", "en")
