"""A flood (炎上) in Slack: 300 angry replies to one post become one incident thread whose parent
shows a live count (its metadata is the load benchmark's contract), a few digest lines instead
of 300 thread lines, one page DM to the person on call; other tickets still post as usual."""

from __future__ import annotations

from sqlalchemy import select

from chatops.tickets.models import Incident
from tests.helpers import inbound

FLOOD = 300
ON_CALL = "U0AGENT003"  # schedule `primary` on 2026-11-20 (rules.yaml: third week of the rotation)


def angry_reply(n: int):
    # Mastodon: no CSAT request on resolve (rules.yaml), so nothing waits for a network deliverer.
    return inbound(f"アプリでエラーが出ます、何とかして #{n}", source="mastodon", kind="reply", conversation_id="brand-post-1",
                   in_reply_to="brand-post-1", external_id=f"flood-{n}",
                   author={"id": f"f{n}", "handle": f"@fan{n}", "name": f"Fan {n}"})


def incident_meta(message) -> dict:
    assert message.metadata["event_type"] == "chatops_incident"
    return message.metadata["event_payload"]


def test_300_replies_become_one_incident_thread_with_a_live_count(desk):
    slack = desk.slack
    outcomes = []
    normal = []
    for n in range(FLOOD):
        outcomes.append(desk.flows.ingest(angry_reply(n)).outcome)
        if n % 100 == 50:  # everyday questions keep arriving during the flood
            normal.append(desk.flows.ingest(inbound(f"ポイントの使い方を教えてください {n}", author={
                "id": f"q{n}", "handle": f"@q{n}", "name": f"Q{n}"})).ticket_key)
        desk.clock.advance(milliseconds=5)  # 200 messages a second
    assert outcomes.count("created") == 1 and outcomes.count("collected") == FLOOD - 30
    desk.flows.page_pass(desk.clock())
    desk.drain()

    with desk.runtime.session_factory() as session:
        [incident] = session.scalars(select(Incident)).all()
    key = f"T-{incident.ticket_id}"
    parents = slack.parents()
    incident_parents = [p for p in parents if p.metadata and p.metadata["event_type"] == "chatops_incident"]
    assert len(incident_parents) == 1
    [parent] = incident_parents
    assert incident_meta(parent) == {"ticket": key, "count": FLOOD}
    assert parent.attachments[0]["color"] == "#d50000"  # raised to red
    shown = str(parent.attachments[0]["blocks"])
    assert "炎上" in shown and "300" in shown
    # Every render of the incident carries the contract's metadata, counts never going down.
    renders = [c for c in slack.calls if c.method in ("chat.postMessage", "chat.update")
               and c.args.get("ts", c.args.get("channel")) and (c.args.get("metadata") or {}).get(
                   "event_type") == "chatops_incident"]
    counts = [c.args["metadata"]["event_payload"]["count"] for c in renders]
    assert counts == sorted(counts) and counts[-1] == FLOOD
    assert all(c.args["metadata"]["event_payload"]["ticket"] == key for c in renders)
    assert len(renders) <= 6  # coalesced: a burst is a handful of chat.update, not 300

    # The thread: the opening line and a digest, not one line per message.
    thread = slack.thread(parent)
    assert 2 <= len(thread) <= 4
    assert "炎上インシデント" in thread[0].text
    digests = [m for m in thread if ":speech_balloon:" in m.text]
    assert digests and "新着 300 件" in digests[0].text and "ほか 295 件" in digests[0].text
    assert "@fan299" in digests[0].text

    # Other tickets are posted as usual, each once, in the normal look.
    others = [p for p in parents if p is not parent and p.channel == parent.channel]
    assert [p.text.split()[1] for p in others] == normal
    # One page for the incident, DMed to whoever is on call; none per member.
    dms = [c for c in slack.calls if c.method == "chat.postMessage" and c.args.get("channel", "").startswith("U")]
    assert [c.args["channel"] for c in dms] == [ON_CALL]
    assert len(dms) == 1 and key in str(dms[0].args)
    posts = [c for c in slack.calls if c.method == "chat.postMessage"]
    assert len(posts) == 1 + len(normal) + len(thread) + 1


def test_an_incident_ticket_claimed_keeps_its_count_in_every_update(desk):
    for n in range(40):
        desk.flows.ingest(angry_reply(n))
    desk.drain()
    with desk.runtime.session_factory() as session:
        [incident] = session.scalars(select(Incident)).all()
    key = f"T-{incident.ticket_id}"
    desk.flows.claim(key, actor="U0AGENT002")
    desk.drain()
    [parent] = [p for p in desk.slack.parents() if p.metadata and p.metadata["event_type"] == "chatops_incident"]
    assert incident_meta(parent) == {"ticket": key, "count": 40}
    assert "U0AGENT002" in str(parent.attachments[0]["blocks"])
    desk.flows.resolve(key, actor="U0AGENT002")
    desk.drain()
    assert "炎上（終了）" in str(parent.attachments[0]["blocks"])
    assert incident_meta(parent)["count"] == 40


def test_a_topic_incident_is_posted_before_the_spikes_first_tickets(desk):
    """An outage spike: each of the first 29 posts opens a red ticket of its own in #cs-urgent
    (one post a second there); the 30th opens the incident. Its parent must not wait half a
    minute behind them: it is the channel's next post, then the queued tickets follow in order."""
    keys = []
    for n in range(35):
        outcome = desk.flows.ingest(inbound(f"ログインできない、障害ですか? #{n}", source="bluesky", external_id=f"spike-{n}",
                                            author={"id": f"s{n}", "handle": f"@s{n}", "name": f"S{n}"}))
        keys.append(outcome.ticket_key)
        desk.clock.advance(milliseconds=10)
    with desk.runtime.session_factory() as session:
        [incident] = session.scalars(select(Incident)).all()
    key = f"T-{incident.ticket_id}"
    assert keys[29] == key and set(keys[30:]) == {key}  # the 30th opened it; later ones are collected
    desk.drain()
    [parent] = [p for p in desk.slack.parents() if p.metadata["event_type"] == "chatops_incident"]
    urgent = desk.slack.parents(parent.channel)
    # Nothing was delivered during the ingest: the incident goes first, then the 29 in order.
    assert [p.metadata["event_payload"]["ticket"] for p in urgent] == [key, *keys[:29]]
    assert incident_meta(parent)["count"] == 6  # its own message and the 5 it collected
