"""A local Jira Cloud REST v3 on 127.0.0.1: creates issues (the description checked against
the vendored ADF JSON Schema, as Jira refuses what is not a document), stores remote links by
`globalId`, answers JQL searches, and signs webhooks as a Jira admin webhook with a secret does.
Errors have Jira's shape: `{"errorMessages": [...], "errors": {field: message}}`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import jsonschema

from tests.fakes.http_recorder import Answer
from tests.fakes.network_api import Call, FakeNetwork

ADF_SCHEMA = Path(__file__).parent / "vendor" / "adf_schema_v1_full.json"
_REMOTE = re.compile(r"^/rest/api/3/issue/([^/]+)/remotelink$")


@cache
def adf_schema() -> dict:
    """The ADF JSON Schema (draft-04) Atlassian publishes."""
    return json.loads(ADF_SCHEMA.read_text("utf-8"))


def adf_problems(document) -> list[str]:
    """Why `document` is not a valid ADF document (empty when it is)."""
    validator = jsonschema.Draft4Validator(adf_schema())
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in validator.iter_errors(document)]


def jira_error(status: int, messages: list[str] | None = None, errors: dict | None = None,
               headers: dict | None = None) -> Answer:
    """An answer in Jira's error shape."""
    return Answer(status, {"errorMessages": messages or [], "errors": errors or {}}, headers or {})


def sign(secret: str, body: bytes) -> str:
    """X-Hub-Signature of a Jira webhook with a secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class FakeJira(FakeNetwork):
    """`with FakeJira(project="ACME") as jira:`; base URL `jira.url`; issues in `jira.issues`."""

    project: str = "ACME"
    email: str = "bot@acme.example"
    token: str = "jira-token"
    issue_types: tuple[str, ...] = ("Task", "Bug")
    issues: dict[str, dict] = field(default_factory=dict)
    remote_links: dict[tuple[str, str], dict] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.route("POST", "/rest/api/3/issue", self._create)
        self.route("POST", "/rest/api/3/issue/*", self._remote_link)
        self.route("POST", "/rest/api/3/search/jql", self._search)
        self.route("GET", "/rest/api/3/project/*", self._project)

    def _project(self, call: Call) -> Answer:
        if not self._authorised(call):
            return jira_error(401, ["Client must be authenticated to access this resource."])
        if call.path.rsplit("/", 1)[1] != self.project:
            return jira_error(404, ["No project could be found with key '" + call.path.rsplit("/", 1)[1] + "'."])
        return Answer(200, {"id": "10000", "key": self.project, "name": "ACME Mobile"})

    def _authorised(self, call: Call) -> bool:
        expected = "Basic " + base64.b64encode(f"{self.email}:{self.token}".encode()).decode()
        return call.headers.get("Authorization") == expected

    def _create(self, call: Call) -> Answer:
        if not self._authorised(call):
            return jira_error(401, ["Client must be authenticated to access this resource."])
        fields = (call.json() or {}).get("fields") or {}
        errors = {}
        if (fields.get("project") or {}).get("key") != self.project:
            errors["project"] = "Specify a valid project ID or key"
        summary = fields.get("summary")
        if not isinstance(summary, str) or not summary.strip():
            errors["summary"] = "You must specify a summary of the issue."
        elif len(summary) > 255 or "\n" in summary:
            errors["summary"] = "Summary must be less than 255 characters and a single line."
        if (fields.get("issuetype") or {}).get("name") not in self.issue_types:
            errors["issuetype"] = "Specify a valid issue type"
        if "description" in fields and adf_problems(fields["description"]):
            errors["description"] = "Operation value must be an Atlassian Document (see the Atlassian Document Format)."
        if errors:
            return jira_error(400, errors=errors)
        number = len(self.issues) + 1
        key = f"{self.project}-{100 + number}"
        self.issues[key] = {"id": str(10000 + number), "key": key, "fields": fields}
        return Answer(201, {"id": str(10000 + number), "key": key, "self": f"{self.url}/rest/api/3/issue/{10000 + number}"})

    def _remote_link(self, call: Call) -> Answer:
        match = _REMOTE.match(call.path)
        if not match:
            return jira_error(404, ["No route."])
        if not self._authorised(call):
            return jira_error(401, ["Client must be authenticated to access this resource."])
        key = match.group(1)
        if key not in self.issues:
            return jira_error(404, ["Issue does not exist or you do not have permission to see it."])
        body = call.json()
        if not (body.get("object") or {}).get("url") or not (body.get("object") or {}).get("title"):
            return jira_error(400, errors={"object": "url and title are required"})
        existing = self.remote_links.get((key, body.get("globalId", "")))
        link_id = existing["id"] if existing else len(self.remote_links) + 1
        self.remote_links[(key, body.get("globalId") or str(link_id))] = {"id": link_id, **body}
        return Answer(200 if existing else 201, {"id": link_id, "self": f"{self.url}/rest/api/3/issue/{key}/remotelink/{link_id}"})

    def _search(self, call: Call) -> Answer:
        if not self._authorised(call):
            return jira_error(401, ["Client must be authenticated to access this resource."])
        found = [{"id": issue["id"], "key": issue["key"], "fields": {"description": issue["fields"].get("description")}}
                 for issue in reversed(list(self.issues.values()))]
        return Answer(200, {"issues": found, "isLast": True})

    # -- what Jira sends back ----------------------------------------------------------------

    def issue_updated(self, key: str, *, status: str = "Done", category: str = "done",
                      user: str = "Hanako Jira") -> bytes:
        """The body of a `jira:issue_updated` webhook moving `key` to `status`."""
        issue = self.issues.get(key, {"id": "99999", "key": key})
        return json.dumps({
            "timestamp": 1764800000000, "webhookEvent": "jira:issue_updated", "issue_event_type_name": "issue_generic",
            "user": {"accountId": "5b10a2844c20165700ede21g", "displayName": user},
            "issue": {"id": issue["id"], "key": key, "self": f"{self.url}/rest/api/3/issue/{issue['id']}",
                      "fields": {"summary": (issue.get("fields") or {}).get("summary", ""),
                                 "status": {"name": status, "id": "10001",
                                            "statusCategory": {"id": 3, "key": category, "name": status}}}},
            "changelog": {"id": "10100", "items": [{"field": "status", "fieldtype": "jira", "toString": status}]},
        }).encode()
