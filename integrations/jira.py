"""Jira Cloud (REST API v3): issues created from tickets, closed through a signed webhook.

- Create: `POST {JIRA_BASE_URL}/rest/api/3/issue` with `fields.project.key`, `summary`,
  `issuetype.name` and `description` in Atlassian Document Format (ADF: a `doc` of paragraphs,
  the ticket key as a text node with a `link` mark, the customer's message in a `blockquote`).
  Basic auth with JIRA_EMAIL and JIRA_API_TOKEN. Jira answers 201 `{id, key, self}`; a refusal is
  400 `{errorMessages: [...], errors: {field: message}}`, 401/403 for credentials.
- Link back: `POST /rest/api/3/issue/{key}/remotelink` with a `globalId` per ticket, which Jira
  updates instead of duplicating.
- An attempt in doubt first looks for the issue by the request reference in its description
  (`POST /rest/api/3/search/jql`), since Jira takes no idempotency key.
- Webhook: `POST /webhooks/jira`, `X-Hub-Signature: sha256=<hex HMAC-SHA256 of the raw body>`
  keyed by the secret set on the webhook (JIRA_WEBHOOK_SECRET); `jira:issue_updated` whose
  status category becomes `done` closes, leaving it reopens.
"""

from __future__ import annotations

import json
from typing import Any

import requests
from sqlalchemy.orm import Session, sessionmaker

from chatops.i18n import t
from chatops.tickets.models import OutboxItem
from integrations.http import make_http_session
from integrations.trackers import TicketFacts, TrackerDeliverer, TrackerWebhook, field_at, marker, refused

TARGET = "jira"
QUOTE_LIMIT = 10_000  # characters of the customer's message quoted (Jira's description holds 32,767)


def _text(text: str, href: str | None = None) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "text", "text": text}
    if href:
        node["marks"] = [{"type": "link", "attrs": {"href": href}}]
    return node


def _paragraph(*nodes: dict[str, Any]) -> dict[str, Any]:
    return {"type": "paragraph", "content": [node for node in nodes if node.get("type") != "text" or node["text"]]}


def _lines(text: str) -> list[dict[str, Any]]:
    """Text nodes of `text` with hard breaks between its lines (ADF text nodes may not be empty)."""
    nodes: list[dict[str, Any]] = []
    for line in text.splitlines() or [""]:
        if nodes:
            nodes.append({"type": "hardBreak"})
        if line:
            nodes.append(_text(line))
    return nodes or [_text(" ")]


def description(facts: TicketFacts, *, actor: str, reference: str, lang: str) -> dict[str, Any]:
    """The issue's description as an ADF document (the vendored schema in tests checks it)."""
    quoted = facts.text if len(facts.text) <= QUOTE_LIMIT else facts.text[:QUOTE_LIMIT - 1] + "…"
    return {"version": 1, "type": "doc", "content": [
        _paragraph(_text(t("tracker.issue.from_ticket", lang) + " "), _text(facts.key, facts.url),
                   _text(f" ({facts.network} · {facts.account})")),
        _paragraph(_text(t("tracker.issue.customer_wrote", lang, customer=facts.customer))),
        {"type": "blockquote", "content": [{"type": "paragraph", "content": _lines(quoted)}]},
        _paragraph(_text(t("tracker.issue.requested_by", lang, who=actor))),
        _paragraph(_text(reference)),
    ]}


class JiraDeliverer(TrackerDeliverer):
    """Outbox deliverer for target `jira`: `create_issue` and `remote_link` items."""

    target = TARGET

    def __init__(self, session_factory: sessionmaker[Session], *, base_url: str, email: str, token: str,
                 project: str, issue_type: str = "Task", lang: str = "en",
                 http: requests.Session | None = None) -> None:
        super().__init__(session_factory, lang=lang)
        self.base_url = base_url.rstrip("/")
        self.project = project
        self.issue_type = issue_type
        self.http = http or make_http_session()
        self.http.auth = (email, token)
        self.http.headers["Accept"] = "application/json"

    def browse(self, key: str) -> str:
        """The issue's page on the site."""
        return f"{self.base_url}/browse/{key}"

    def create(self, item: OutboxItem, facts: TicketFacts) -> dict[str, Any]:
        body = {"fields": {"project": {"key": self.project}, "summary": item.payload["summary"],
                           "issuetype": {"name": self.issue_type},
                           "description": description(facts, actor=item.payload["actor"], reference=marker(item),
                                                      lang=self.lang)}}
        response = self.http.post(f"{self.base_url}/rest/api/3/issue", json=body)
        if response.status_code != 201:
            raise refused("jira", response, "issue")
        answer = response.json()
        return {"key": answer["key"], "id": answer.get("id"), "url": self.browse(answer["key"])}

    def find(self, item: OutboxItem) -> dict[str, Any] | None:
        reference = marker(item)
        jql = f'project = "{self.project}" AND created >= -7d ORDER BY created DESC'
        response = self.http.post(f"{self.base_url}/rest/api/3/search/jql",
                                  json={"jql": jql, "fields": ["description"], "maxResults": 50})
        if response.status_code != 200:
            raise refused("jira", response, "search")
        for issue in response.json().get("issues", []):
            if reference in json.dumps((issue.get("fields") or {}).get("description"), ensure_ascii=False):
                return {"key": issue["key"], "id": issue.get("id"), "url": self.browse(issue["key"]),
                        "found": "created by an earlier attempt"}
        return None

    def probe(self) -> str:
        """What `chatops integrations check` says: the project the token can see (raises when not)."""
        response = self.http.get(f"{self.base_url}/rest/api/3/project/{self.project}")
        if response.status_code != 200:
            raise refused("jira", response, "project look-up")
        return f"{self.project} · {response.json().get('name', '')}"

    def _remote_link(self, item: OutboxItem) -> dict[str, Any]:
        payload = item.payload
        ticket = f"T-{payload['ticket_id']}"
        body = {"globalId": f"chatops:ticket:{ticket}",
                "application": {"type": "chatops", "name": "chatops"},
                "object": {"url": payload["ticket_url"], "title": t("tracker.remote_link.title", self.lang,
                                                                    key=ticket)}}
        response = self.http.post(f"{self.base_url}/rest/api/3/issue/{payload['issue']}/remotelink", json=body)
        if response.status_code not in (200, 201):
            raise refused("jira", response, "remote link")
        return {"issue": payload["issue"], "remote_link": response.json().get("id")}


class JiraWebhook(TrackerWebhook):
    """`POST /webhooks/jira` (see the module docstring)."""

    name = TARGET
    header = "X-Hub-Signature"

    def parse(self, headers: dict[str, str], payload: dict) -> tuple[str, str, str, str | None] | None:
        event = field_at(payload, "webhookEvent")
        if event != "jira:issue_updated":
            return None
        key = field_at(payload, "issue.key")
        name = field_at(payload, "issue.fields.status.name")
        category = field_at(payload, "issue.fields.status.statusCategory.key")
        who = (payload.get("user") or {}).get("displayName") if isinstance(payload.get("user"), dict) else None
        return ("closed" if category == "done" else "reopened", key, name, who)
