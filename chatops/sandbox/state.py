"""What the sandbox page shows one person, as JSON with Block Kit already rendered to HTML."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict
from typing import Any

from chatops.i18n import t
from chatops.sandbox.render import Renderer
from chatops.sandbox.workspace import BOT_USER, Message, Workspace, group_names

EPHEMERALS_SHOWN = 10
CUSTOMER_POSTS_SHOWN = 300


def names(ws: Workspace, lang: str) -> dict[str, str]:
    """User id → display name, for mentions and user pickers."""
    found = {user.id: f"{user.name} ({t(f'sandbox.role.{user.role}', lang)})" for user in ws.users.values()}
    found[BOT_USER] = "chatops"
    return {**group_names(), **found}


def _message(ws: Workspace, renderer: Renderer, message: Message, people: dict[str, str], lang: str) -> dict[str, Any]:
    ticket = ((message.metadata or {}).get("event_payload") or {}).get("ticket")
    key = (message.channel, message.ts, message.edits, lang)
    html = ws.rendered.get(key)
    if html is None:  # a message renders the same until chat.update changes it
        html = ws.rendered[key] = str(renderer.message(text=message.text, blocks=message.blocks,
                                                       attachments=message.attachments))
    return {"ts": message.ts, "channel": message.channel, "author": people.get(message.user, message.user),
            "bot": message.user == BOT_USER, "edited": message.edited, "ticket": ticket,
            "files": [{"name": file["title"], "url": file["url_private"]} for file in message.files], "html": html}


def snapshot(ws: Workspace, user: str, lang: str) -> dict[str, Any]:
    """Channels with their threads, the open modal, the Home tab, ephemerals and the customer
    panel, as `user` sees them."""
    people = names(ws, lang)
    renderer = Renderer(people, list(ws.users), lang)
    with ws.lock:
        parents: dict[str, list[Message]] = defaultdict(list)
        replies: dict[tuple[str, str], list[Message]] = defaultdict(list)
        for message in ws.messages:
            if message.thread_ts:
                replies[(message.channel, message.thread_ts)].append(message)
            else:
                parents[message.channel].append(message)
        channels = []
        for name, channel_id in ws.channels.items():
            channels.append({
                "id": channel_id, "name": name, "topic": ws.channel_topics.get(name, {}).get(lang, ""),
                "messages": [{**_message(ws, renderer, m, people, lang),
                              "replies": [_message(ws, renderer, r, people, lang) for r in replies[(m.channel, m.ts)]]}
                             for m in parents[channel_id]]})
        dm = ws.dm_channel(user)
        if dm in parents:  # the person's DMs from the app (pages, SLA notices), like a channel
            channels.append({"id": dm, "name": t("sandbox.ui.dm", lang), "topic": "", "messages": [
                {**_message(ws, renderer, m, people, lang), "replies": []} for m in parents[dm]]})
        view = ws.top_view(user)
        modal = None
        if view is not None:
            modal = {"id": view["id"], "hash": view.get("hash"), "callback_id": view.get("callback_id"),
                     "title": str(renderer.text(view.get("title"))),
                     "submit": str(renderer.text(view.get("submit"))) if view.get("submit") else None,
                     "close": str(renderer.text(view.get("close") or {"type": "plain_text", "text": "×"})),
                     "html": str(renderer.view(view)), "errors": view.get("errors") or {}}
        home = ws.homes.get(user)
        return {
            "version": ws.version,
            "users": [{"id": u.id, "name": people[u.id], "role": u.role} for u in ws.users.values()],
            "channels": channels,
            "modal": modal,
            "home": str(renderer.view(home)) if home else None,
            "ephemerals": [{"id": e.id, "channel": e.channel,
                            "html": str(renderer.blocks(e.blocks) if e.blocks else renderer.mrkdwn(e.text))}
                           for e in ws.ephemerals if e.user == user][-EPHEMERALS_SHOWN:],
            "customer": [asdict(post) for post in ws.customer[-CUSTOMER_POSTS_SHOWN:]],
            "replay": dict(ws.replay),
            "unknown_blocks": sorted(set(renderer.unknown)),
        }
