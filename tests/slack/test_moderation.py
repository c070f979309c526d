"""Moderation end to end: a signed Meta webhook opens a ticket from a troll's comment; a signed
Slack command or the card's "Moderate…" form asks for hide / unhide / delete / block, which the
outbox delivers to the fake Graph API (the real paths and bodies); the thread and the card say
so. A refusal (Graph's error shape) shows in the thread and /metrics; a role without the
permission is refused; Instagram offers no block. rules.yaml `moderation:` screens hide a comment
by themselves, then store it without a ticket or tag its ticket."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from chatops.i18n import t
from chatops.rules import load_rules
from chatops.runtime import Runtime
from chatops.slack import ids
from chatops.tickets.models import Message, OutboxItem, Ticket, TicketTag
from chatops.tickets.moderation import stored_count
from integrations.facebook import FacebookConfig
from integrations.instagram import InstagramConfig
from integrations.meta import signature
from integrations.registry import Networks
from tests.conftest import RULES_PATH
from tests.fakes.graph_sdk import sdk_problems
from tests.fakes.http_recorder import Answer
from tests.fakes.network_api import FakeNetwork
from tests.helpers import cli_env, run_cli
from tests.slack.conftest import AGENT, LEAD, STRANGER, Desk
from tests.slack.test_block_limits import assert_within_slack_limits
from tests.slack.test_scenario import parent_text

SECRET = "meta-app-secret"
PAGE, IG_USER = "106000000000001", "17841400000000001"
POST = f"{PAGE}_900000000000001"
TROLL = "7200000000000666"
SETTINGS = dict(app_secret=SECRET, verify_token="verify-me", page_id=PAGE, page_access_token="page-token",
                page_name="ACME Japan", ig_user_id=IG_USER, ig_username="acme.jp", _env_file=None)
SCREENS = """
moderation:
  rules:
    - id: scam
      any_of: ["副業で月収", "crypto giveaway"]
      regex: ['bit\\.ly/\\w+']
      then: store
    - id: abuse
      any_of: ["バカ", "idiot"]
      then: tag
      tag: abuse
"""


def graph_error(message: str, code: int = 10, status: int = 400) -> Answer:
    """An error as the Graph API words it."""
    return Answer(status, {"error": {"message": message, "type": "OAuthException", "code": code,
                                     "fbtrace_id": "AbCdEf123"}})


@pytest.fixture
def graph():
    with FakeNetwork() as fake:
        fake.route("POST", "/v21.0/*", Answer(200, {"success": True}))
        fake.route("DELETE", "/v21.0/*", Answer(200, {"success": True}))
        fake.route("POST", f"/v21.0/{PAGE}/blocked", lambda call: Answer(200, {
            str(user): True for user in call.json()["user"]}))
        yield fake


def shipped_without_moderation() -> str:
    """The shipped rules.yaml up to its (empty) `moderation:` section, which is last."""
    text = RULES_PATH.read_text("utf-8")
    return text[:text.index("\nmoderation:\n")] + "\n"


@pytest.fixture
def screened_rules(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(shipped_without_moderation() + SCREENS, "utf-8")
    return load_rules(path)


def _desk(settings, rules, clock, fake_slack, graph) -> Desk:
    runtime = Runtime.build(settings, upgrade_db=False, rules=rules, clock=clock)
    runtime.networks = Networks.for_runtime(runtime, configs={
        "facebook": FacebookConfig(graph_url=graph.url + "/v21.0", **SETTINGS),
        "instagram": InstagramConfig(graph_url=graph.url + "/v21.0", **SETTINGS)})
    return Desk(runtime, fake_slack, clock)


@pytest.fixture
def desk(slack_settings, rules, clock, fake_slack, graph):
    desk = _desk(slack_settings, rules, clock, fake_slack, graph)
    yield desk
    desk.runtime.close()


@pytest.fixture
def screened(slack_settings, screened_rules, clock, fake_slack, graph):
    desk = _desk(slack_settings, screened_rules, clock, fake_slack, graph)
    yield desk
    desk.runtime.close()


def comment_body(text: str, comment: str, author: str = TROLL) -> bytes:
    return json.dumps({"object": "page", "entry": [{"id": PAGE, "time": 1795135500, "changes": [{
        "field": "feed", "value": {"from": {"id": author, "name": "Troll"}, "message": text, "post_id": POST,
                                   "comment_id": comment, "created_time": 1795135500, "item": "comment",
                                   "parent_id": POST, "verb": "add"}}]}]}, ensure_ascii=False).encode()


def ig_comment_body(text: str, comment: str) -> bytes:
    return json.dumps({"object": "instagram", "entry": [{"id": IG_USER, "time": 1795135500, "changes": [{
        "field": "comments", "value": {"from": {"id": "17841400000000777", "username": "troll.ig"},
                                       "media": {"id": "18000000000000001", "media_product_type": "FEED"},
                                       "id": comment, "text": text}}]}]}, ensure_ascii=False).encode()


def webhook(desk: Desk, network: str, body: bytes):
    response = desk.client.post(f"/webhooks/{network}", data=body, content_type="application/json",
                                headers={"X-Hub-Signature-256": signature(SECRET, body)})
    assert response.status_code == 200
    desk.drain()
    return response.get_json()["results"]


def arrive(desk: Desk, text: str = "このサービス最悪。二度と使わない", comment: str = "900000000000001_1100000000000066",
           network: str = "facebook") -> str:
    body = comment_body(text, comment) if network == "facebook" else ig_comment_body(text, comment)
    [result] = webhook(desk, network, body)
    return result["ticket"]


def lines(desk: Desk) -> list[str]:
    parent = desk.slack.parents()[-1]
    return [message.text for message in desk.slack.thread(parent)]


def answer(response) -> str:
    return response.get_json()["text"]


def metric(desk: Desk, name: str) -> str:
    body = desk.client.get("/metrics").get_data(as_text=True)
    return "\n".join(line for line in body.splitlines() if line.startswith(name))


def test_hide_unhide_delete_and_block_from_slack_reach_the_graph_api(desk, graph, rules):
    lang = rules.defaults.language
    key = arrive(desk)
    comment = "900000000000001_1100000000000066"

    response = desk.command(f"hide {key}")
    assert answer(response) == ":white_check_mark: " + t("slack.cmd.done.moderate.hide", lang, key=key)
    assert graph.calls_to("POST", f"/v21.0/{comment}") == []  # nothing leaves outside the outbox
    desk.drain()
    [hide] = graph.calls_to("POST", f"/v21.0/{comment}")
    assert hide.json() == {"is_hidden": True} and hide.headers["Authorization"] == "Bearer page-token"
    assert sdk_problems("facebook", "hide", hide) == []
    assert lines(desk)[-1] == t("slack.line.comment_moderated.hide", lang, who=f"<@{AGENT}>", network="Facebook")
    assert t("moderation.state.hidden", lang) in parent_text(desk.slack.parents()[-1])

    desk.command(f"unhide {key}")
    desk.drain()
    assert graph.calls_to("POST", f"/v21.0/{comment}")[-1].json() == {"is_hidden": False}
    assert t("moderation.state.visible", lang) in parent_text(desk.slack.parents()[-1])

    # Blocking is a lead's call by default; the lead blocks the author from the Page.
    refused = answer(desk.command(f"block {key}"))
    assert refused.startswith(":no_entry:") and graph.calls_to("POST", f"/v21.0/{PAGE}/blocked") == []
    desk.command(f"block {key}", user=LEAD)
    desk.drain()
    [block] = graph.calls_to("POST", f"/v21.0/{PAGE}/blocked")
    assert block.json() == {"user": [TROLL]}
    assert sdk_problems("facebook", "block", block) == []
    assert lines(desk)[-1] == t("slack.line.comment_moderated.block", lang, who=f"<@{LEAD}>", network="Facebook")

    desk.command(f"delete {key}")
    desk.drain()
    [delete] = graph.calls_to("DELETE", f"/v21.0/{comment}")
    assert sdk_problems("facebook", "delete", delete) == []
    shown = parent_text(desk.slack.parents()[-1])
    assert t("moderation.state.deleted", lang) in shown and t("moderation.state.blocked", lang) in shown
    assert desk.events(key).count("comment_moderated") == 4
    # A deleted comment has nothing left to hide: refused with the reason, nothing queued.
    again = answer(desk.command(f"hide {key}"))
    assert t("moderation.deleted", lang, key=key) in again
    assert desk.drain() == 0


def test_a_refused_hide_shows_in_the_thread_and_metrics(desk, graph, rules):
    lang = rules.defaults.language
    key = arrive(desk)
    comment = "900000000000001_1100000000000066"
    graph.queue("POST", f"/v21.0/{comment}", graph_error("(#10) Permission denied: pages_manage_engagement"))
    desk.command(f"hide {key}")
    desk.drain()
    assert lines(desk)[-1] == t("slack.line.moderation_failed", lang, who=f"<@{AGENT}>", network="Facebook",
                                action=t("moderation.action.hide", lang),
                                reason="facebook refused the request (400): (#10) Permission denied: "
                                       "pages_manage_engagement")
    assert 'chatops_moderation_failed{action="hide",network="facebook"} 1.0' in metric(desk, "chatops_moderation_failed")
    assert desk.events(key)[-2:] == ["moderation_requested", "moderation_failed"]


def test_a_rate_limited_hide_waits_and_goes_once(desk, graph):
    key = arrive(desk)
    comment = "900000000000001_1100000000000066"
    graph.queue("POST", f"/v21.0/{comment}", Answer(429, {"error": {"message": "rate", "code": 4}},
                                                      headers={"Retry-After": "120"}))
    desk.command(f"hide {key}")
    before = desk.clock()
    desk.drain()
    assert len(graph.calls_to("POST", f"/v21.0/{comment}")) == 2
    assert (desk.clock() - before).total_seconds() >= 120
    with desk.runtime.session_factory() as session:
        [item] = session.scalars(select(OutboxItem).where(OutboxItem.kind == "moderate"))
        assert item.state == "done" and item.attempts == 2


def test_instagram_hides_and_deletes_but_offers_no_block(desk, graph, rules):
    lang = rules.defaults.language
    key = arrive(desk, "うざい", "17865799348089066", network="instagram")
    desk.command(f"hide {key}")
    desk.command(f"delete {key}")
    desk.drain()
    [hide] = graph.calls_to("POST", "/v21.0/17865799348089066")
    [delete] = graph.calls_to("DELETE", "/v21.0/17865799348089066")
    assert hide.json() == {"hide": True} and sdk_problems("instagram", "hide", hide) == []
    assert sdk_problems("instagram", "delete", delete) == []
    refused = answer(desk.command(f"block {key}", user=LEAD))
    assert t("moderation.not_offered", lang, network="instagram", action="block") in refused
    assert graph.calls_to("POST", f"/v21.0/{PAGE}/blocked") == []


def test_moderate_form_from_the_card_asks_before_deleting(desk, graph, rules):
    lang = rules.defaults.language
    key = arrive(desk)
    comment = "900000000000001_1100000000000066"
    card = desk.slack.parents()[-1]
    menu = next(e for a in card.attachments for b in a["blocks"] if b["type"] == "actions"
                for e in b["elements"] if e["type"] == "overflow")
    assert f"moderate::{key}" in [o["value"] for o in menu["options"]] and len(menu["options"]) <= 5
    assert desk.click(ids.MENU, f"moderate::{key}", selected=True).status_code == 200
    form = desk.last_view(ids.MODERATE_VIEW)
    assert_within_slack_limits(form["blocks"])
    choice = next(b for b in form["blocks"] if b.get("block_id") == ids.MODERATE_ACTION_BLOCK)
    assert [o["value"] for o in choice["element"]["options"]] == ["hide", "unhide", "delete", "block"]

    def submit(action: str, confirmed: bool = False, user: str = AGENT):
        values = {(ids.MODERATE_ACTION_BLOCK, ids.MODERATE_ACTION_SELECT): {
            "type": "static_select", "selected_option": {"value": action}}}
        if confirmed:
            values[(ids.MODERATE_CONFIRM_BLOCK, ids.MODERATE_CONFIRM_INPUT)] = {
                "type": "static_select", "selected_option": {"value": "yes"}}
        return desk.submit(form, values, user=user)

    unconfirmed = submit("delete").get_json()
    assert unconfirmed["response_action"] == "errors"
    assert unconfirmed["errors"][ids.MODERATE_CONFIRM_BLOCK] == t("slack.modal.moderate_confirm_needed", lang)
    assert submit("delete", confirmed=True).status_code == 200
    desk.drain()
    assert len(graph.calls_to("DELETE", f"/v21.0/{comment}")) == 1
    assert lines(desk)[-1] == t("slack.line.comment_moderated.delete", lang, who=f"<@{AGENT}>", network="Facebook")
    # Someone without any role is refused on submission, and nothing is queued.
    stranger = submit("hide", user=STRANGER).get_json()
    assert stranger["response_action"] == "errors" and desk.drain() == 0


def test_a_messenger_ticket_offers_no_moderation(desk, graph, rules):
    body = json.dumps({"object": "page", "entry": [{"id": PAGE, "time": 1795135530000, "messaging": [{
        "sender": {"id": "6500000000000001"}, "recipient": {"id": PAGE}, "timestamp": 1795135530000,
        "message": {"mid": "m_dm0001", "text": "返品したいです"}}]}]}).encode()
    [result] = webhook(desk, "facebook", body)
    [card] = [p for p in desk.slack.parents() if p.attachments]  # the rule also notifies someone by DM
    menu = next(e for a in card.attachments for b in a["blocks"] if b["type"] == "actions"
                for e in b["elements"] if e["type"] == "overflow")
    assert f"moderate::{result['ticket']}" not in [o["value"] for o in menu["options"]]
    refused = answer(desk.command(f"hide {result['ticket']}"))
    assert t("moderation.no_comment", rules.defaults.language, key=result["ticket"]) in refused


def test_instagram_form_does_not_offer_block(desk, graph):
    key = arrive(desk, "うざい", "17865799348089067", network="instagram")
    desk.click(ids.MENU, f"moderate::{key}", selected=True)
    form = desk.last_view(ids.MODERATE_VIEW)
    choice = next(b for b in form["blocks"] if b.get("block_id") == ids.MODERATE_ACTION_BLOCK)
    assert [o["value"] for o in choice["element"]["options"]] == ["hide", "unhide", "delete"]


def test_screens_hide_then_store_or_tag(screened, graph, rules, database_url, monkeypatch, tmp_path, capsys):
    desk, lang = screened, rules.defaults.language
    # A scam link: hidden on Facebook, stored without a ticket, counted.
    [stored] = webhook(desk, "facebook", comment_body("副業で月収100万！ bit.ly/xyz", "900000000000001_1100000000000070"))
    assert stored["outcome"] == "stored" and stored.get("ticket") is None
    assert graph.calls_to("POST", "/v21.0/900000000000001_1100000000000070")[0].json() == {"is_hidden": True}
    with desk.runtime.session_factory() as session:
        assert session.scalars(select(Ticket)).first() is None
        [message] = session.scalars(select(Message).where(Message.direction == "inbound"))
        assert message.ticket_id is None and message.meta["moderation"] == "hidden"
        assert message.meta["moderation_rule"] == "scam"
        assert stored_count(session) == {"facebook": {"stored": 1, "hide_failed": 0}}
    assert desk.slack.parents() == []
    cli_env(monkeypatch, tmp_path, database_url)
    assert run_cli(capsys, "moderation", "stored")[:2] == (0, "facebook: 1 stored without a ticket\n")
    assert 'chatops_moderation_stored{network="facebook"} 1.0' in metric(desk, "chatops_moderation_stored")
    assert run_cli(capsys, "moderation", "stored", "--json")[:2] == (0, '{"facebook": {"stored": 1, "hide_failed": 0}}\n')
    # Abuse: the ticket opens tagged, and its thread says the rule hid the comment.
    [tagged] = webhook(desk, "facebook", comment_body("お前はバカか", "900000000000001_1100000000000071",
                                                      author="7200000000000777"))
    key = tagged["ticket"]
    with desk.runtime.session_factory() as session:
        assert "abuse" in session.scalars(select(TicketTag.tag).where(TicketTag.ticket_id == int(key[2:]))).all()
    assert graph.calls_to("POST", "/v21.0/900000000000001_1100000000000071")[0].json() == {"is_hidden": True}
    assert t("slack.line.comment_moderated_by_rule.hide", lang, rule="abuse", network="Facebook") in lines(desk)
    assert t("moderation.state.hidden", lang) in parent_text(desk.slack.parents()[-1])
    # A plain comment is not screened.
    [plain] = webhook(desk, "facebook", comment_body("届きません", "900000000000001_1100000000000072",
                                                     author="7200000000000888"))
    assert plain["outcome"] != "stored" and not graph.calls_to("POST", "/v21.0/900000000000001_1100000000000072")


def test_a_screen_without_words_is_a_clear_error(tmp_path):
    from chatops.rules import RulesError

    path = tmp_path / "rules.yaml"
    text = shipped_without_moderation() + "\nmoderation:\n  rules:\n    - id: empty\n      then: store\n"
    path.write_text(text, "utf-8")
    with pytest.raises(RulesError) as caught:
        load_rules(path)
    line = len(text.splitlines()) - 1
    assert any(p.startswith(f"{path}:{line}: moderation.rules[0]") and "'empty'" in p for p in caught.value.problems)


def test_a_refused_screen_hide_is_counted_for_the_stored_comment(screened, graph, database_url, monkeypatch,
                                                                  tmp_path, capsys):
    comment = "900000000000001_1100000000000080"
    graph.queue("POST", f"/v21.0/{comment}", graph_error("(#200) Permissions error", code=200, status=403))
    graph.queue("POST", f"/v21.0/{comment}", graph_error("(#100) Unsupported post request", code=100))
    webhook(screened, "facebook", comment_body("crypto giveaway!!", comment))
    cli_env(monkeypatch, tmp_path, database_url)
    code, out, _ = run_cli(capsys, "moderation", "stored")
    assert code == 0 and out.splitlines()[1].startswith("facebook: the hide of 1 of them was refused")
    assert 'chatops_moderation_failed{action="hide",network="facebook"} 1.0' in metric(screened,
                                                                                     "chatops_moderation_failed")


def test_a_delete_retried_after_a_lost_answer_is_done_once(desk, graph, rules):
    lang = rules.defaults.language
    key = arrive(desk)
    comment = "900000000000001_1100000000000066"
    # The first answer is lost (a 502): the comment may be gone; the retry finds it so (code 100).
    graph.queue("DELETE", f"/v21.0/{comment}", Answer(502, {}),
                graph_error("Unsupported delete request. Object with ID does not exist", code=100))
    desk.command(f"delete {key}")
    desk.drain()
    assert len(graph.calls_to("DELETE", f"/v21.0/{comment}")) == 2
    assert lines(desk)[-1] == t("slack.line.comment_moderated.delete", lang, who=f"<@{AGENT}>", network="Facebook")
    assert desk.events(key).count("comment_moderated") == 1



@pytest.mark.parametrize("lang", ["ja", "en"])
def test_teams_lines_say_what_was_done_and_why_not(rules, lang):
    from chatops.teams.cards import event_line

    asked = event_line("moderation_requested", "U0AGENT001", {"action": "block", "network": "facebook"}, rules, lang)
    assert t("moderation.action.block", lang) in asked
    done = event_line("comment_moderated", "U0AGENT001", {"action": "delete", "network": "facebook"}, rules, lang)
    assert t("moderation.action.delete", lang) in done
    failed = event_line("moderation_failed", "U0AGENT001", {"action": "hide", "network": "instagram",
                                                            "reason": "instagram refused the request (400): nope"},
                        rules, lang)
    assert t("moderation.action.hide", lang) in failed and "nope" in failed


def test_screens_in_one_group_commit(screened, graph):
    """Two comments in one webhook are stored in one transaction: each screened comment is hidden once."""
    first = json.loads(comment_body("crypto giveaway here", "900000000000001_1100000000000090"))
    second = json.loads(comment_body("idiot", "900000000000001_1100000000000091", author="7200000000000999"))
    first["entry"][0]["changes"] += second["entry"][0]["changes"]
    results = webhook(screened, "facebook", json.dumps(first).encode())
    assert [r["outcome"] for r in results][0] == "stored" and results[1]["ticket"]
    for comment in ("900000000000001_1100000000000090", "900000000000001_1100000000000091"):
        assert [c.json() for c in graph.calls_to("POST", f"/v21.0/{comment}")] == [{"is_hidden": True}]
