"""Saved views in App Home end to end: a signed app_home_opened gives a new agent the default
views with true counts; the New view button opens a modal (within Block Kit limits) whose signed
submission stores the view; Home then lists it with the true number of matching tickets, more
than the rows it shows; editing, deleting and the modal's field errors (a name taken, too many
views, a channel rules.yaml no longer has); another agent never sees the views."""

from __future__ import annotations

import json

import pytest
from slack_sdk.models.views import View
from sqlalchemy import select

from chatops.i18n import t
from chatops.slack import blocks, ids
from chatops.slack.blocks.saved_views import saved_section, saved_view_modal
from chatops.tickets.models import PRIORITIES, SavedView, Ticket
from chatops.tickets.saved_views import MAX_VIEWS, Saved, ViewFilters, rule_tags
from tests.helpers import inbound
from tests.slack.conftest import AGENT, AGENT2, STRANGER, Desk
from tests.slack.test_block_limits import NOW, assert_within_slack_limits, hostile_card

BILLING = "二重請求されてます"  # rules.yaml: red, L3, #cs-urgent, tag billing
QUESTION = "使い方を教えてください"  # the defaults: green, L1, #cs-support


def arrive(desk: Desk, text: str, count: int, start: int = 0) -> list[str]:
    return [desk.flows.ingest(inbound(text, author={"id": f"c{start + n}", "handle": f"@c{start + n}",
                                                    "name": f"C{start + n}"})).ticket_key
            for n in range(count)]


def open_home(desk: Desk, user: str = AGENT, event_id: str = "EvH") -> dict:
    assert desk.event({"type": "app_home_opened", "user": user, "channel": "D0001", "tab": "home"},
                      event_id=event_id).status_code == 200
    desk.drain()
    return desk.slack.homes[user]


def home_text(desk: Desk, user: str = AGENT) -> str:
    return json.dumps(desk.slack.homes[user], ensure_ascii=False)


def checked(view: dict) -> dict:
    assert len(view["blocks"]) <= 100
    assert_within_slack_limits(view["blocks"])
    View(**view).validate_json()  # slack_sdk's own checks of the view (title, submit, callback id)
    return view


def rows(home: dict) -> dict[str, dict]:
    """Saved view rows by view id (the Show button's value)."""
    return {b["accessory"]["value"]: b for b in home["blocks"]
            if b.get("accessory", {}).get("action_id") == ids.SAVED_SHOW}


def mrkdwn_texts(node) -> list[str]:
    """Every mrkdwn text in a view (where Slack would act on a mention; plain_text never does)."""
    if isinstance(node, dict):
        found = [node["text"]] if node.get("type") == "mrkdwn" else []
        return found + [text for value in node.values() for text in mrkdwn_texts(value)]
    if isinstance(node, list):
        return [text for value in node for text in mrkdwn_texts(value)]
    return []


def new_form(desk: Desk, user: str = AGENT) -> dict:
    assert desk.click(ids.SAVED_NEW, "new", user=user, view=desk.slack.homes[user]).status_code == 200
    return checked(desk.last_view(ids.SAVED_VIEW))


def multi(values) -> dict:
    return {"type": "multi_static_select", "selected_options": [{"value": v} for v in values]}


def values(name: str, *, channels=(), priorities=(), tags=(), levels=(), statuses=(), assignee="anyone",
           overdue=False) -> dict:
    return {(ids.SAVED_NAME_BLOCK, ids.SAVED_NAME_INPUT): {"type": "plain_text_input", "value": name},
            (ids.SAVED_CHANNELS_BLOCK, ids.SAVED_INPUT): multi(channels),
            (ids.SAVED_PRIORITIES_BLOCK, ids.SAVED_INPUT): multi(priorities),
            (ids.SAVED_TAGS_BLOCK, ids.SAVED_INPUT): multi(tags),
            (ids.SAVED_LEVELS_BLOCK, ids.SAVED_INPUT): multi(levels),
            (ids.SAVED_STATUSES_BLOCK, ids.SAVED_INPUT): multi(statuses),
            (ids.SAVED_ASSIGNEE_BLOCK, ids.SAVED_INPUT): {"type": "radio_buttons",
                                                          "selected_option": {"value": assignee}},
            (ids.SAVED_OVERDUE_BLOCK, ids.SAVED_INPUT): {
                "type": "checkboxes", "selected_options": [{"value": "overdue"}] if overdue else []}}


def true_count(desk: Desk, keep) -> int:
    """The matching tickets counted one by one in Python, not by the view's query."""
    with desk.runtime.session_factory() as session:
        return sum(1 for ticket in session.scalars(select(Ticket)) if keep(ticket))


def stored(desk: Desk, user: str = AGENT) -> list[tuple[str, dict]]:
    with desk.runtime.session_factory() as session:
        return [(v.name, v.filters) for v in session.scalars(
            select(SavedView).where(SavedView.user_id == user).order_by(SavedView.position))]


def headline(lang: str, name: str, count: int) -> str:
    """The first line of a saved view's row: its escaped name and true count."""
    return t("savedviews.home.row", lang, name=name, count=count, filters="").split("\n")[0]


def errors_of(response) -> dict:
    body = response.get_json()
    assert body["response_action"] == "errors", body
    return body["errors"]


def test_saved_view_lifecycle_with_true_counts(desk, rules, clock):
    lang = rules.defaults.language
    billing = arrive(desk, BILLING, 14)
    arrive(desk, QUESTION, 3, start=100)
    desk.flows.claim(billing[0], actor=AGENT)
    with desk.runtime.session_factory() as session:  # resolved long ago (no rating request to deliver)
        resolved = session.get(Ticket, int(billing[1][2:]))
        resolved.status, resolved.resolved_at = "resolved", clock()
        session.commit()
    desk.drain()

    # A new agent's Home: the default views, each with its true count.
    home = checked(open_home(desk))
    names = [name for name, _ in stored(desk)]
    assert names == [t(f"savedviews.default.{n}", lang) for n in ("mine", "unassigned", "overdue")]
    text = "\n".join(b["text"]["text"] for b in rows(home).values())
    open_ = {"new", "open", "pending"}
    assert t("savedviews.home.row", lang, name=names[0], count=1,
             filters=t("savedviews.assignee.mine", lang)) in text
    unassigned = true_count(desk, lambda tk: tk.status in open_ and tk.assignee is None)
    assert unassigned == 15
    assert t("savedviews.home.row", lang, name=names[1], count=unassigned,
             filters=t("savedviews.assignee.unassigned", lang)).split("\n")[0] in text

    # New view: the modal offers rules.yaml's channels, priorities and tags.
    form = new_form(desk)
    channels = next(b for b in form["blocks"] if b["block_id"] == ids.SAVED_CHANNELS_BLOCK)
    assert [o["value"] for o in channels["element"]["options"]] == list(rules.channels)
    tags = next(b for b in form["blocks"] if b["block_id"] == ids.SAVED_TAGS_BLOCK)
    assert "billing" in [o["value"] for o in tags["element"]["options"]]
    hostile = "請求 <!channel> & *bold*"
    answer = desk.submit(form, values(hostile, channels=["support-urgent"], priorities=["red"], tags=["billing"]))
    assert answer.status_code == 200 and not answer.get_data()  # an empty ack closes the modal
    desk.drain()

    # Home lists it with the true count, shows its tickets (fewer rows than the count) and "N more".
    home = checked(desk.slack.homes[AGENT])
    wanted = true_count(desk, lambda tk: tk.status in open_ and tk.channel == "support-urgent"
                        and tk.priority == "red" and "billing" in tk.tags)
    assert wanted == 13
    [(view_id, _)] = [(i, b) for i, b in rows(home).items() if "請求" in b["text"]["text"]]
    row = rows(home)[view_id]["text"]["text"]
    assert not any("<!channel>" in text for text in mrkdwn_texts(home)) and "&lt;!channel&gt; &amp;" in row
    assert row.splitlines()[0] == "▶ " + headline(lang, "請求 &lt;!channel&gt; &amp; *bold*", wanted)  # shown
    listed = [b for b in home["blocks"] if b.get("accessory", {}).get("action_id") == ids.OPEN_TICKET]
    shown_header = t("savedviews.home.shown", lang, name=hostile, count=wanted)
    at = next(i for i, b in enumerate(home["blocks"]) if b["type"] == "header" and b["text"]["text"] == shown_header)
    shown_rows = [b for b in home["blocks"][at + 1:at + 12] if b in listed]
    assert len(shown_rows) == 10 < wanted
    assert t("slack.list.more", lang, count=wanted - 10) in home_text(desk)
    assert billing[1] not in json.dumps(shown_rows)  # resolved: not in a view of open tickets

    # Edit: only mine.
    assert desk.click(ids.SAVED_EDIT, view_id, view=home).status_code == 200
    form = checked(desk.last_view(ids.SAVED_VIEW))
    assert form["private_metadata"] == view_id
    name_block = next(b for b in form["blocks"] if b["block_id"] == ids.SAVED_NAME_BLOCK)
    assert name_block["element"]["initial_value"] == hostile
    desk.submit(form, values("請求・自分", channels=["support-urgent"], tags=["billing"], assignee="mine"))
    desk.drain()
    row = rows(desk.slack.homes[AGENT])[view_id]["text"]["text"]
    assert row.splitlines()[0] == "▶ " + headline(lang, "請求・自分", 1)

    # Field errors in the modal: a name taken, nothing stored.
    before = stored(desk)
    taken = errors_of(desk.submit(new_form(desk), values(names[0].upper())))
    assert taken[ids.SAVED_NAME_BLOCK] == ":warning: " + t("savedviews.error.name_taken", lang, name=names[0].upper())
    assert stored(desk) == before

    # Another agent sees their own defaults only, and cannot delete this agent's view.
    open_home(desk, AGENT2, event_id="EvH2")
    assert [name for name, _ in stored(desk, AGENT2)] == names
    assert not any("請求・自分" in b["text"]["text"] for b in rows(desk.slack.homes[AGENT2]).values())
    assert view_id not in rows(desk.slack.homes[AGENT2])
    desk.click(ids.SAVED_DELETE, view_id, user=AGENT2, view=desk.slack.homes[AGENT2])
    assert len(stored(desk)) == 4
    notice = desk.slack.views[-1]["blocks"][0]["text"]["text"]
    assert notice == ":warning: " + t("savedviews.error.not_found", lang, id=int(view_id))

    # Delete: gone from Home and from the store.
    assert desk.click(ids.SAVED_DELETE, view_id, view=desk.slack.homes[AGENT]).status_code == 200
    desk.drain()
    assert view_id not in rows(desk.slack.homes[AGENT]) and "請求・自分" not in home_text(desk)
    assert [name for name, _ in stored(desk)] == names


def test_too_many_views_and_a_channel_gone_from_rules_are_field_errors(desk, rules):
    lang = rules.defaults.language
    arrive(desk, BILLING, 2)
    open_home(desk)
    for n in range(MAX_VIEWS - 3):
        assert not desk.submit(new_form(desk), values(f"view {n}", levels=["L3"])).get_data()
    desk.drain()
    assert len(rows(checked(desk.slack.homes[AGENT]))) == MAX_VIEWS
    full = errors_of(desk.submit(new_form(desk), values("one more")))
    assert full[ids.SAVED_NAME_BLOCK] == ":warning: " + t("savedviews.error.too_many", lang, limit=MAX_VIEWS)

    # A view naming a channel rules.yaml dropped: Home says so, the edit modal shows it marked,
    # saving it unchanged is refused beside the channels field, taking it out saves.
    with desk.runtime.session_factory() as session:
        view = session.scalars(select(SavedView).where(SavedView.name == "view 0")).one()
        view.filters = {**view.filters, "channels": ["support", "old-team"]}
        session.commit()
        view_id = str(view.id)
    open_home(desk, event_id="EvH3")
    assert t("savedviews.home.stale", lang, channels="old-team") in rows(desk.slack.homes[AGENT])[view_id]["text"]["text"]
    desk.click(ids.SAVED_EDIT, view_id, view=desk.slack.homes[AGENT])
    form = checked(desk.last_view(ids.SAVED_VIEW))
    channels = next(b for b in form["blocks"] if b["block_id"] == ids.SAVED_CHANNELS_BLOCK)["element"]
    assert [o["value"] for o in channels["initial_options"]] == ["support", "old-team"]
    refused = errors_of(desk.submit(form, values("view 0", channels=["support", "old-team"])))
    assert refused[ids.SAVED_CHANNELS_BLOCK] == ":warning: " + t(
        "savedviews.error.unknown_value", lang, value="old-team", field=t("savedviews.field.channels", lang))
    assert not desk.submit(form, values("view 0", channels=["support"])).get_data()
    assert dict(stored(desk))["view 0"]["channels"] == ["support"]


def test_overdue_view_counts_past_deadlines_and_strangers_are_refused(desk, rules, clock):
    lang = rules.defaults.language
    arrive(desk, BILLING, 3)
    arrive(desk, QUESTION, 2, start=50)
    clock.advance(hours=3)  # past the urgent tickets' first-response deadline, not the others'
    home = open_home(desk)
    overdue_name = t("savedviews.default.overdue", lang)
    [row] = [b for b in rows(home).values() if overdue_name in b["text"]["text"]]
    now = clock()
    expected = true_count(desk, lambda tk: tk.status != "resolved" and tk.first_response_at is None
                          and tk.first_response_due_at is not None and tk.first_response_due_at <= now)
    assert 0 < expected < 5 and row["text"]["text"].splitlines()[0] == headline(lang, overdue_name, expected)

    desk.click(ids.SAVED_NEW, "new", user=STRANGER, view={"type": "home", "id": "VHOME"})
    assert not any(v.get("callback_id") == ids.SAVED_VIEW for v in desk.slack.views)
    assert stored(desk, STRANGER) == []


def test_ticket_views_command_lists_the_views_with_true_counts(desk, rules):
    lang = rules.defaults.language
    keys = arrive(desk, BILLING, 4)
    desk.flows.claim(keys[0], actor=AGENT)
    answer = desk.command("views").get_json()
    mine, unassigned, overdue = (t(f"savedviews.default.{n}", lang) for n in ("mine", "unassigned", "overdue"))
    assert answer["response_type"] == "ephemeral"
    assert answer["text"].splitlines() == [
        f"*{t('savedviews.cmd.title', lang)}*", t("savedviews.cmd.line", lang, name=mine, count=1),
        t("savedviews.cmd.line", lang, name=unassigned, count=3), t("savedviews.cmd.line", lang, name=overdue, count=0)]
    with desk.runtime.session_factory() as session:  # a name that would be markup is shown as text
        session.scalars(select(SavedView).where(SavedView.user_id == AGENT, SavedView.name == mine)).one().name = \
            "<!here> & me"
        session.commit()
    assert desk.command("views").get_json()["text"].splitlines()[1] == t(
        "savedviews.cmd.line", lang, name="&lt;!here&gt; &amp; me", count=1)
    refused = desk.command("views", user=STRANGER).get_json()["text"]
    assert refused.startswith(":no_entry:") and stored(desk, STRANGER) == []


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_a_full_home_and_the_modal_stay_within_block_kit_limits(rules, lang):
    """Ten views with hostile names and 40 long tags each, one shown with a full list, beside
    the most failed replies Home lists: at most 100 blocks, every block valid; the modal with
    more tags than a menu may offer keeps the view's own tags and stays valid."""
    card = hostile_card()
    longest = tuple(f"t{n:02d}" + "&" * 61 for n in range(40))
    filters = ViewFilters(channels=("support", "gone-" + "x" * 70), priorities=PRIORITIES, tags=longest,
                          levels=("L1", "L2"), statuses=("new", "pending"), assignee="mine", overdue=True)
    saved = [Saved(n, f"<!channel>{n}" + "長" * 30, filters, 10**9, ("gone-" + "x" * 70,)) for n in range(MAX_VIEWS)]
    section = saved_section(saved, saved[3], [card] * 10, rules, lang, limit=10)
    failed = [blocks.FailedReply(card, n, "U0AGENT001", "x" * 500) for n in range(50)]
    home = blocks.home_view(user_id=AGENT, overdue=[card] * 20, mine=[card] * 20, unassigned=[card] * 20,
                            rules=rules, lang=lang, now=NOW, counts={"overdue": 99, "mine": 99, "unassigned": 99},
                            failed=failed, saved=section)
    assert len(home["blocks"]) <= 100
    assert_within_slack_limits(home["blocks"])
    assert all(len(b["text"]["text"]) <= 3000 for b in section if b["type"] == "section")
    assert len(rows(home)) == MAX_VIEWS  # every view is listed, the other lists give way

    many = [f"tag{n:03d}" for n in range(150)]
    modal = saved_view_modal(rules, lang, view_id=7, name="n" * 80, filters=filters,
                             tags=rule_tags(rules, [*many, *longest]))
    checked(modal)
    tags = next(b for b in modal["blocks"] if b["block_id"] == ids.SAVED_TAGS_BLOCK)["element"]
    assert len(tags["options"]) == 100 and [o["value"] for o in tags["initial_options"]] == list(longest)
