"""GitHub Issues (REST API): issues created from tickets, closed through a signed webhook.

- Create: `POST {GITHUB_API_URL}/repos/{owner}/{repo}/issues` with `title` and a Markdown `body`
  (the ticket key linked, the customer's message quoted in a fenced block), `Authorization: Bearer GITHUB_TOKEN`,
  `Accept: application/vnd.github+json`, `X-GitHub-Api-Version: 2022-11-28`. GitHub answers 201
  with `number` and `html_url`; 422 `{message, errors: [{field, code}]}` for a bad body, 401/403/
  404/410 for credentials, access or disabled issues, 403/429 with Retry-After or
  `x-ratelimit-remaining: 0` for rate limits (retried).
- An attempt in doubt first looks through the repository's newest issues for the request
  reference in the body, since GitHub takes no idempotency key.
- Webhook: `POST /webhooks/github`, `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw
  body>` keyed by GITHUB_WEBHOOK_SECRET; `X-GitHub-Event: issues` with action `closed` or
  `reopened` (a `ping` is answered and ignored). An issue is known as `owner/repo#number`.
"""

from __future__ import annotations

import re
import time
from typing import Any

import requests
from sqlalchemy.orm import Session, sessionmaker

from chatops.i18n import t
from chatops.outbox import DeliveryError
from chatops.tickets.models import OutboxItem
from integrations.base import WebhookError
from integrations.http import make_http_session, retry_after_seconds
from integrations.trackers import TicketFacts, TrackerDeliverer, TrackerWebhook, field_at, marker, refused

TARGET = "github"
API_VERSION = "2022-11-28"
TITLE_LIMIT = 256
QUOTE_LIMIT = 60_000  # characters of the customer's message quoted (a body holds 65,536)


def _md_escape(text: str) -> str:
    """`text` inert in GitHub Markdown: no mentions, links or HTML from the customer."""
    for ch in "\\`*_{}[]<>()#+-.!|@~":
        text = text.replace(ch, "\\" + ch)
    return text


def body_markdown(facts: TicketFacts, *, actor: str, reference: str, lang: str) -> str:
    """The issue body: where it came from (the ticket linked), the customer's words quoted."""
    quoted = facts.text if len(facts.text) <= QUOTE_LIMIT else facts.text[:QUOTE_LIMIT - 1] + "…"
    ticket = f"[{facts.key}]({facts.url})" if facts.url else facts.key
    # A fenced block longer than any backtick run inside: no mention, link or HTML of the customer's works.
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", quoted)), default=0))
    quote = f"{fence}text\n{quoted}\n{fence}"
    return "\n\n".join([
        f"{t('tracker.issue.from_ticket', lang)} {ticket} ({_md_escape(facts.network)} · {_md_escape(facts.account)})",
        _md_escape(t("tracker.issue.customer_wrote", lang, customer=facts.customer)),
        quote,
        _md_escape(t("tracker.issue.requested_by", lang, who=actor)),
        f"<!-- {reference} -->",
    ])


class GitHubDeliverer(TrackerDeliverer):
    """Outbox deliverer for target `github`: `create_issue` items."""

    target = TARGET

    def __init__(self, session_factory: sessionmaker[Session], *, token: str, repo: str,
                 api_url: str = "https://api.github.com", lang: str = "en",
                 http: requests.Session | None = None) -> None:
        super().__init__(session_factory, lang=lang)
        self.api_url = api_url.rstrip("/")
        self.repo = repo
        self.http = http or make_http_session()
        self.http.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
                                  "X-GitHub-Api-Version": API_VERSION})

    def create(self, item: OutboxItem, facts: TicketFacts) -> dict[str, Any]:
        title = item.payload["summary"][:TITLE_LIMIT]
        body = {"title": title, "body": body_markdown(facts, actor=item.payload["actor"], reference=marker(item),
                                                      lang=self.lang)}
        response = self.http.post(f"{self.api_url}/repos/{self.repo}/issues", json=body)
        if response.status_code != 201:
            raise self._error(response, "issue")
        answer = response.json()
        return {"key": f"{self.repo}#{answer['number']}", "id": answer.get("id"), "url": answer.get("html_url")}

    def find(self, item: OutboxItem) -> dict[str, Any] | None:
        reference = marker(item)
        response = self.http.get(f"{self.api_url}/repos/{self.repo}/issues",
                                 params={"state": "all", "sort": "created", "direction": "desc", "per_page": 50})
        if response.status_code != 200:
            raise self._error(response, "issue list")
        for issue in response.json():
            if reference in (issue.get("body") or ""):
                return {"key": f"{self.repo}#{issue['number']}", "id": issue.get("id"), "url": issue.get("html_url"),
                        "found": "created by an earlier attempt"}
        return None

    def probe(self) -> str:
        """What `chatops integrations check` says: the repository the token can see (raises when
        not, or when its issues are turned off)."""
        response = self.http.get(f"{self.api_url}/repos/{self.repo}")
        if response.status_code != 200:
            raise self._error(response, "repository look-up")
        answer = response.json()
        if not answer.get("has_issues", True):
            raise RuntimeError(f"{self.repo}: issues are turned off in the repository's settings")
        return str(answer.get("full_name", self.repo))

    @staticmethod
    def _error(response: requests.Response, what: str) -> DeliveryError:
        """GitHub's rate limits are 403s too: retried at Retry-After or the limit's reset."""
        if response.status_code in (403, 429):
            wait = retry_after_seconds(response)
            if wait is None and response.headers.get("x-ratelimit-remaining") == "0":
                reset = response.headers.get("x-ratelimit-reset", "")
                wait = max(0.0, min(float(reset) - time.time(), 3600.0)) if reset.isdigit() else 60.0
            if wait is not None:
                return DeliveryError(f"github rate limited ({response.status_code})", retry_after=wait, answered=True)
        return refused("github", response, what)


class GitHubWebhook(TrackerWebhook):
    """`POST /webhooks/github` (see the module docstring)."""

    name = TARGET
    header = "X-Hub-Signature-256"

    def parse(self, headers: dict[str, str], payload: dict) -> tuple[str, str, str, str | None] | None:
        event = next((v for k, v in headers.items() if k.lower() == "x-github-event"), None)
        if event is None:
            raise WebhookError(400, "webhook.bad_field", field="X-GitHub-Event", message="missing")
        if event != "issues":
            return None
        action = field_at(payload, "action")
        if action not in ("closed", "reopened"):
            return None
        number = field_at(payload, "issue.number", int)
        repo = field_at(payload, "repository.full_name")
        issue = payload["issue"]
        reason = issue.get("state_reason") or ("completed" if action == "closed" else "reopened")
        who = (payload.get("sender") or {}).get("login") if isinstance(payload.get("sender"), dict) else None
        return action, f"{repo}#{number}", str(reason), who
