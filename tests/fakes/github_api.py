"""A local GitHub REST API on 127.0.0.1: `POST /repos/{owner}/{repo}/issues` (the body checked
against the request schema cut from GitHub's OpenAPI description), `GET` of the same to list
them, and webhook bodies as GitHub sends them (`issues` closed / reopened, signed with
X-Hub-Signature-256). Errors have GitHub's shape: `{"message", "errors", "documentation_url"}`."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import jsonschema

from tests.fakes.http_recorder import Answer
from tests.fakes.network_api import Call, FakeNetwork

SCHEMA = Path(__file__).parent / "vendor" / "github_issues_create.json"
DOCS = "https://docs.github.com/rest/issues/issues#create-an-issue"


@cache
def create_schema() -> dict:
    """`issues/create` from GitHub's OpenAPI description: request schema and response shapes."""
    return json.loads(SCHEMA.read_text("utf-8"))


def request_problems(body) -> list[str]:
    """Why `body` is not an `issues/create` request body (empty when it is)."""
    schema = create_schema()["request"]
    problems = [f"{'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message[:200]}"
                for e in jsonschema.Draft7Validator(schema).iter_errors(body)]
    if isinstance(body, dict):
        problems += [f"{name}: not a field of issues/create" for name in body if name not in schema["properties"]]
    return problems


def github_error(status: int, message: str, errors: list[dict] | None = None, headers: dict | None = None) -> Answer:
    """An answer in GitHub's error shape."""
    body = {"message": message, "documentation_url": DOCS, "status": str(status)}
    if errors is not None:
        body["errors"] = errors
    return Answer(status, body, headers or {})


def sign(secret: str, body: bytes) -> str:
    """X-Hub-Signature-256 of a GitHub webhook."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class FakeGitHub(FakeNetwork):
    """`with FakeGitHub(repo="acme/app") as github:`; API base `github.url`; issues in `github.issues`."""

    repo: str = "acme/app"
    token: str = "ghp_test"
    issues: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.route("POST", f"/repos/{self.repo}/issues", self._create)
        self.route("GET", f"/repos/{self.repo}/issues", self._list)
        self.route("GET", f"/repos/{self.repo}", self._repository)

    def _repository(self, call: Call) -> Answer:
        if not self._authorised(call):
            return github_error(401, "Bad credentials")
        return Answer(200, {"id": 1296269, "full_name": self.repo, "has_issues": True, "private": True})

    def _authorised(self, call: Call) -> bool:
        return call.headers.get("Authorization") == f"Bearer {self.token}"

    def _create(self, call: Call) -> Answer:
        if not self._authorised(call):
            return github_error(401, "Bad credentials")
        body = call.json()
        problems = request_problems(body)
        if problems or not str(body.get("title", "")).strip():
            return github_error(422, "Validation Failed",
                                [{"resource": "Issue", "code": "missing_field" if not body.get("title") else "invalid",
                                  "field": "title", "message": "; ".join(problems)[:200]}])
        number = len(self.issues) + 41
        issue = {"id": 2000000 + number, "node_id": f"I_{number}", "number": number, "title": body["title"],
                 "body": body.get("body"), "state": "open", "state_reason": None, "locked": False,
                 "html_url": f"https://github.com/{self.repo}/issues/{number}",
                 "url": f"{self.url}/repos/{self.repo}/issues/{number}",
                 "repository_url": f"{self.url}/repos/{self.repo}", "labels": [], "assignee": None,
                 "milestone": None, "comments": 0, "user": {"login": "chatops-bot"},
                 "created_at": "2026-12-04T01:00:00Z", "updated_at": "2026-12-04T01:00:00Z", "closed_at": None}
        for name in ("labels_url", "comments_url", "events_url"):
            issue[name] = f"{issue['url']}/{name.removesuffix('_url')}"
        self.issues.append(issue)
        return Answer(201, issue)

    def _list(self, call: Call) -> Answer:
        if not self._authorised(call):
            return github_error(401, "Bad credentials")
        return Answer(200, list(reversed(self.issues)))  # type: ignore[arg-type]

    # -- what GitHub sends back --------------------------------------------------------------

    def issue_event(self, number: int, action: str = "closed", *, reason: str | None = "completed",
                    sender: str = "octocat") -> bytes:
        """The body of an `issues` webhook (`closed` or `reopened`) for issue `number`."""
        issue = next((i for i in self.issues if i["number"] == number), {"number": number, "title": "?"})
        state = "closed" if action == "closed" else "open"
        return json.dumps({
            "action": action,
            "issue": {**issue, "state": state, "state_reason": reason if action == "closed" else "reopened"},
            "repository": {"id": 1296269, "name": self.repo.split("/")[1], "full_name": self.repo,
                           "owner": {"login": self.repo.split("/")[0]}},
            "sender": {"login": sender, "id": 1},
        }).encode()
