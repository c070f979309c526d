"""A local Bot Connector service on 127.0.0.1 speaking the v3 REST API the bot uses: create a
conversation (a channel thread, or a person's chat), post and reply into one, update an activity.
It checks the bot's bearer token against those the fake identity issued, answers with ids shaped
like Teams' (`19:…@thread.tacv2;messageid=…`, `a:…` for personal chats, numeric activity ids),
keeps every conversation's activities as they stand now, and fails on demand (429 with
Retry-After, 5xx)."""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from tests.fakes.http_recorder import Answer, JsonServer, Recorded


@dataclass
class Posted:
    """One activity as the conversation holds it now, and every version it had."""

    conversation: str
    id: str
    activity: dict[str, Any]
    reply_to: str | None = None
    versions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def card(self) -> dict[str, Any] | None:
        """The Adaptive Card it carries now, if any."""
        for attachment in self.activity.get("attachments") or []:
            if attachment.get("contentType") == "application/vnd.microsoft.card.adaptive":
                return attachment["content"]
        return None


class BotConnector(JsonServer):
    """`server.url` is the serviceUrl of the activities a test sends; see the module docstring."""

    def __init__(self, identity) -> None:
        self.identity = identity
        self.requests: list[Recorded] = []
        self.failures: list[Answer] = []  # answered, in order, before anything else is done
        self.activities: dict[tuple[str, str], Posted] = {}
        self.conversations: dict[str, dict[str, Any]] = {}
        self.updates: list[Posted] = []
        self._ids = itertools.count(1764800000001)
        self._lock = threading.Lock()
        self.start_server()

    @property
    def service_url(self) -> str:
        """The serviceUrl as Teams writes it (with its trailing slash)."""
        return self.url + "/"

    def fail_next(self, status: int = 429, retry_after: str | None = "3") -> None:
        """Answer the next call with `status` (and a Retry-After header) without acting."""
        self.failures.append(Answer(status, {"error": {"code": "Throttled" if status == 429 else "ServiceError",
                                                       "message": "fake failure"}},
                                    {"Retry-After": retry_after} if retry_after else {}))

    # -- what tests read --------------------------------------------------------------------

    def in_conversation(self, conversation: str) -> list[Posted]:
        """Activities of a conversation in the order they were posted."""
        return [p for (conv, _), p in self.activities.items() if conv == conversation]

    def thread_of(self, conversation: str) -> tuple[Posted, list[Posted]]:
        """A channel thread: its root post and its replies."""
        posts = self.in_conversation(conversation)
        return posts[0], posts[1:]

    def personal_chats(self) -> dict[str, dict[str, Any]]:
        """Personal conversations by id, with the member they were opened with."""
        return {cid: c for cid, c in self.conversations.items() if not c["isGroup"]}

    # -- the service ------------------------------------------------------------------------

    def respond(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        self.requests.append(Recorded(method, path, headers, body))
        auth = headers.get("Authorization") or headers.get("authorization") or ""
        if auth.removeprefix("Bearer ") not in self.identity.issued:
            return Answer(401, {"message": "Authorization has been denied for this request."})
        with self._lock:
            if self.failures:
                return self.failures.pop(0)
            parts = [unquote(part) for part in urlsplit(path).path.split("/") if part]
            data = json.loads(body or b"{}")
            if parts[:2] != ["v3", "conversations"]:
                return Answer(404, {"error": {"code": "NotFound"}})
            if method == "POST" and len(parts) == 2:
                return self._create(data)
            if len(parts) >= 4 and parts[3] == "activities":
                conversation = parts[2]
                if conversation not in self.conversations:
                    return Answer(404, {"error": {"code": "ConversationNotFound", "message": "Conversation not found."}})
                if method == "POST" and len(parts) in (4, 5):
                    posted = self._post(conversation, data, reply_to=parts[4] if len(parts) == 5 else None)
                    return Answer(201, {"id": posted.id})
                if method == "PUT" and len(parts) == 5:
                    found = self.activities.get((conversation, parts[4]))
                    if found is None:
                        return Answer(404, {"error": {"code": "ActivityNotFound"}})
                    found.versions.append(found.activity)
                    found.activity = data
                    self.updates.append(found)
                    return Answer(200, {"id": found.id})
            return Answer(405, {"error": {"code": "MethodNotAllowed"}})

    def _create(self, data: dict[str, Any]) -> Answer:
        if data.get("isGroup"):
            channel = ((data.get("channelData") or {}).get("channel") or {}).get("id")
            if not channel or "activity" not in data:
                return Answer(400, {"error": {"code": "BadArgument", "message": "channel and activity required"}})
            activity_id = str(next(self._ids))
            conversation = f"{channel};messageid={activity_id}"
            self.conversations[conversation] = {"isGroup": True, "channel": channel, "tenant": data.get("tenantId")}
            self._post(conversation, data["activity"], activity_id=activity_id)
            return Answer(201, {"id": conversation, "activityId": activity_id})
        members = data.get("members") or []
        if len(members) != 1 or not members[0].get("id"):
            return Answer(400, {"error": {"code": "BadArgument", "message": "one member required"}})
        member = members[0]["id"]
        conversation = next((cid for cid, c in self.conversations.items()
                             if not c["isGroup"] and c["member"] == member), None)
        if conversation is None:
            conversation = f"a:1{len(self.conversations):04d}{member.replace(':', '')[-12:]}"
            self.conversations[conversation] = {"isGroup": False, "member": member, "tenant": data.get("tenantId")}
        return Answer(201, {"id": conversation})

    def _post(self, conversation: str, activity: dict[str, Any], *, reply_to: str | None = None,
              activity_id: str | None = None) -> Posted:
        posted = Posted(conversation, activity_id or str(next(self._ids)), activity, reply_to=reply_to)
        self.activities[(conversation, posted.id)] = posted
        return posted
