"""The sandbox's web side: the page, its state feed, and the endpoints that turn what a person
does there into real requests — signed Slack payloads to `/slack/events`, signed InboundMessages
to `/webhooks/generic` — plus the reply endpoint the networks' outbox deliverers post to."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import requests
from flask import Blueprint, Flask, Response, jsonify, request
from sqlalchemy import func, select

from chatops.i18n import catalog, t
from chatops.runtime import Runtime
from chatops.sandbox import SandboxConfig, payloads
from chatops.sandbox.state import snapshot
from chatops.sandbox.workspace import Message, SandboxUser, Workspace
from chatops.slack import emulator
from chatops.tickets.models import Ticket
from integrations.base import KINDS, SOURCES
from integrations.http import make_http_session
from integrations.webhook import SIGNATURE_HEADER, GenericWebhookSink, sign, signature_ok

log = logging.getLogger("chatops.sandbox")
STATIC = resources.files("chatops").joinpath("sandbox", "static")
# The brand accounts the customer panel writes to, as in examples/mentions.jsonl.
ACCOUNTS = {"x": "@acme_jp", "facebook": "Acme Store", "instagram": "@acme.store", "line": "@acmestore",
            "mastodon": "@acme@mstdn.jp", "bluesky": "acme.bsky.social", "webhook": "contact-form"}
# The samples' numeric Page and Instagram ids, named as a deployment names them (META_PAGE_NAME,
# the Instagram username), so the page shows people account names, not numbers.
SAMPLE_ACCOUNT_NAMES = {"104857392011": ACCOUNTS["facebook"], "17841405822304914": ACCOUNTS["instagram"]}
POLL_SECONDS = 15.0
_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8"}


# Names for the sample people, in the order they are met (agents, leads, managers, on call).
SAMPLE_NAMES = ("Sato", "Suzuki", "Tanaka", "Takahashi", "Ito", "Watanabe", "Yamamoto", "Nakamura",
                "Kobayashi", "Kato")


def sample_users(runtime: Runtime) -> list[SandboxUser]:
    """The first agent, lead and manager of rules.yaml (the people the page can act as), then
    every other person an on-call schedule or escalation step can page, so a page's DM has
    someone to reach and can be acknowledged on the page."""
    rules = runtime.rules
    roles = rules.roles
    people: dict[str, SandboxUser] = {}

    def add(user_id: str, role: str) -> None:
        if user_id not in people:
            people[user_id] = SandboxUser(user_id, SAMPLE_NAMES[len(people) % len(SAMPLE_NAMES)], role)

    for role, ids in (("agent", roles.agents), ("lead", roles.leads), ("manager", roles.managers)):
        add(next((i for i in ids if i[:1] in ("U", "W")), f"U0SBX{role.upper()}"), role)
    oncall = rules.oncall
    paged = [m for schedule in oncall.schedules.values()
             for m in (*schedule.members, *(o.user for o in schedule.overrides))]
    paged += [step.notify for policy in oncall.policies.values() for step in policy.steps
              if not step.notify.startswith("schedule:")]
    for user_id in paged:
        add(user_id, next((role for role, ids in (("manager", roles.managers), ("lead", roles.leads))
                           if user_id in ids), "agent"))
    return list(people.values())


def examples_path() -> Path:
    """examples/mentions.jsonl of the working directory, else of the source checkout."""
    here = Path("examples/mentions.jsonl")
    return here if here.exists() else Path(__file__).resolve().parents[2] / "examples" / "mentions.jsonl"


class SandboxSink(GenericWebhookSink):
    """A network of the sandbox: replies go to the customer panel through the signed reply
    webhook; moderation of a Facebook or Instagram comment is shown there as the network would
    show it (hidden, shown again, deleted, its author blocked)."""

    def __init__(self, url: str, secret: str, http, *, workspace: Workspace, lang: str) -> None:
        super().__init__(url, secret, http)
        self.workspace, self.lang = workspace, lang

    def moderate(self, item) -> dict[str, Any]:
        payload, network = item.payload, self.target.removeprefix("network:")
        action = payload["action"]
        if network not in ("facebook", "instagram") or (action == "block" and network != "facebook"):
            return super().moderate(item)
        with self.workspace.lock:
            self.workspace.add_customer_post(
                network=network, account=payload.get("account", ""), author=payload.get("account", ""),
                text=t(f"sandbox.moderated.{action}", self.lang), direction="out",
                ticket=f"T-{item.ticket_id}" if item.ticket_id else None)
        self.workspace.touch()
        if action == "block":
            return {"blocked": str(payload.get("author_id"))}
        if action == "delete":
            return {"comment_id": payload.get("comment_id"), "deleted": True}
        return {"comment_id": payload.get("comment_id"), "hidden": action == "hide"}


class Sandbox:
    """One process's sandbox: workspace, page and forwarding."""

    def __init__(self, runtime: Runtime, config: SandboxConfig) -> None:
        self.runtime = runtime
        self.config = config
        channels = {c.slack: {lang: c.description.get(lang) if c.description else "" for lang in ("ja", "en")}
                    for c in runtime.rules.channels.values()}
        self.workspace = Workspace(token=config.bot_token, channels=channels, users=sample_users(runtime))
        self.http = make_http_session()

    # -- wiring --------------------------------------------------------------------------------

    def deliverers(self) -> dict[str, GenericWebhookSink]:
        """Reply deliverers for every network: replies are shown in the customer panel, and so is
        what moderation does to a Facebook or Instagram comment."""
        found = {}
        for source in SOURCES:
            sink = SandboxSink(f"{self.config.base_url}/sandbox/network/{source}/reply",
                               self.config.webhook_secret, self.http, workspace=self.workspace,
                               lang=self.runtime.rules.defaults.language)
            sink.target = f"network:{source}"
            found[sink.target] = sink
        return found

    def mount(self, app: Flask) -> None:
        """Add the Web API, the page and its endpoints to `app`."""
        app.register_blueprint(emulator.blueprint(self.workspace, "/sandbox"))
        app.register_blueprint(self.blueprint())
        app.extensions["chatops.sandbox"] = self

    # -- forwarding ----------------------------------------------------------------------------

    def to_slack_events(self, body: str, content_type: str) -> requests.Response:
        """POST to our own /slack/events exactly as Slack would: signed with the signing secret."""
        headers = {"Content-Type": content_type, **payloads.signed(body, self.config.signing_secret)}
        return self.http.post(f"{self.config.base_url}/slack/events", data=body.encode(), headers=headers)

    def to_webhook(self, message: dict[str, Any]) -> requests.Response:
        """POST one InboundMessage to /webhooks/generic, signed with the webhook secret."""
        body = json.dumps(message, ensure_ascii=False).encode()
        return self.http.post(f"{self.config.base_url}/webhooks/generic", data=body,
                              headers={"Content-Type": "application/json",
                                       SIGNATURE_HEADER: sign(self.config.webhook_secret, body)})

    def customer_says(self, message: dict[str, Any]) -> tuple[int, dict]:
        """Send a customer's message in and show it in the customer panel."""
        response = self.to_webhook(message)
        answer = response.json() if response.headers.get("Content-Type", "").startswith("application/json") else {}
        if response.status_code < 300:
            ticket = (answer.get("results") or [{}])[0].get("ticket")
            author = message["author"]
            with self.workspace.lock:
                self.workspace.add_customer_post(network=message["source"], account=message["account"],
                                                 author=author.get("handle") or author.get("name") or author["id"],
                                                 text=message["text"], direction="in", ticket=ticket,
                                                 conversation_id=message.get("conversation_id"))
            self.workspace.touch()
        return response.status_code, answer

    def replay(self, lines: list[dict], interval: float) -> None:
        """Feed example messages one by one, `interval` seconds apart, as if they arrived now."""
        ws = self.workspace
        for number, message in enumerate(lines, start=1):
            message = {**message, "created_at": datetime.now(UTC).isoformat(),
                       "account": SAMPLE_ACCOUNT_NAMES.get(message.get("account"), message.get("account"))}
            try:
                status, answer = self.customer_says(message)
                if status >= 300:
                    log.warning("replay line %s refused: %s %s", number, status, answer)
            except requests.RequestException as exc:
                log.warning("replay line %s not sent: %s", number, type(exc).__name__)
            with ws.lock:
                ws.replay["sent"] = number
            ws.touch()
            time.sleep(interval)
        with ws.lock:
            ws.replay["running"] = False
        ws.touch()

    # -- the blueprint -------------------------------------------------------------------------

    def blueprint(self) -> Blueprint:
        bp = Blueprint("sandbox", __name__)
        ws = self.workspace

        @bp.get("/sandbox")
        @bp.get("/sandbox/")
        def page():
            return _static("sandbox.html")

        @bp.get("/sandbox/static/<name>")
        def static(name: str):
            return _static(name)

        @bp.get("/sandbox/strings")
        def strings():
            lang = request.args.get("lang", "en")
            prefix = "sandbox.ui."
            return jsonify({k.removeprefix(prefix): v for k, v in catalog(lang).items() if k.startswith(prefix)})

        @bp.get("/sandbox/state")
        def state():
            since = request.args.get("since", type=int, default=-1)
            ws.wait(since, POLL_SECONDS)
            lang = request.args.get("lang", "en")
            user = request.args.get("user") or next(iter(ws.users))
            with self.runtime.session_factory() as session:
                # The replay starts by itself while no ticket exists, whatever else was posted.
                tickets = session.scalar(select(func.count()).select_from(Ticket))
            return jsonify({**snapshot(ws, user, lang), "tickets": tickets})

        @bp.post("/sandbox/act")
        def act():
            return self._act(request.get_json(silent=True) or {})

        @bp.post("/sandbox/customer")
        def customer():
            data = request.get_json(silent=True) or {}
            network = data.get("network", "x")
            if network not in SOURCES:
                return jsonify(ok=False, error=f"network: unknown {network!r}"), 400
            handle = (data.get("handle") or "").strip() or "@sandbox_customer"
            external_id = f"sbx-{uuid.uuid4().hex[:12]}"
            message = {"source": network, "account": data.get("account") or ACCOUNTS[network],
                       "external_id": external_id,
                       "conversation_id": data.get("conversation_id") or external_id,
                       "in_reply_to": data.get("in_reply_to") or None,
                       "author": {"id": f"sbx-{handle.lstrip('@')}", "handle": handle, "name": handle.lstrip("@")},
                       "text": data.get("text") or "", "created_at": datetime.now(UTC).isoformat(),
                       "lang": data.get("lang") or None,
                       "kind": data.get("kind") if data.get("kind") in KINDS
                       else "dm" if network in ("line", "webhook") else "mention"}
            status, answer = self.customer_says(message)
            return jsonify(answer), status

        @bp.post("/sandbox/replay")
        def replay():
            data = request.get_json(silent=True) or {}
            speed = max(0.1, min(float(data.get("speed") or 2.0), 50.0))  # messages per second
            lines = [json.loads(line) for line in examples_path().read_text("utf-8").splitlines() if line.strip()]
            limit = int(data.get("limit") or len(lines))
            lines = lines[:max(1, limit)]
            with ws.lock:
                if ws.replay["running"]:
                    return jsonify(ok=False, error="replay: already running"), 409
                ws.replay.update(running=True, started=True, sent=0, total=len(lines))
            ws.touch()
            threading.Thread(target=self.replay, args=(lines, 1.0 / speed), name="sandbox-replay", daemon=True).start()
            return jsonify(ok=True, total=len(lines)), 202

        @bp.post("/sandbox/network/<network>/reply")
        def network_reply(network: str):
            raw = request.get_data()
            if not signature_ok(self.config.webhook_secret, raw, request.headers.get(SIGNATURE_HEADER)):
                return jsonify(ok=False, error="bad signature"), 401
            reply = json.loads(raw)
            key = reply.get("idempotency_key") or request.headers.get("Idempotency-Key", "")
            with ws.lock:
                if key not in ws.replies_seen:
                    ws.replies_seen.add(key)
                    ws.add_customer_post(network=network, account=reply.get("account", ""),
                                         author=reply.get("account", ""), text=reply.get("text", ""), direction="out",
                                         ticket=reply.get("ticket"), conversation_id=reply.get("conversation_id"))
            ws.touch()
            return jsonify(ok=True, id=f"sbx-reply-{abs(hash(key)) % 10**9}")

        return bp

    def _act(self, act: dict) -> tuple[Response, int] | Response:
        ws, kind, user = self.workspace, act.get("kind"), act.get("user", "")
        try:
            with ws.lock:
                if user not in ws.users:
                    raise payloads.BadAction(f"user: unknown sample user {user!r}")
                if kind == "close":
                    ws.close_view(user, act.get("view_id", ""))
                    body = None
                elif kind == "action":
                    body = payloads.form(payloads.block_actions(ws, self.config.base_url, act))
                elif kind == "submit":
                    body = payloads.form(payloads.view_submission(ws, act))
                elif kind == "command":
                    body = payloads.slash_command(ws, self.config.base_url, act)
                elif kind == "message":
                    body = self._typed_message(act)
                elif kind == "home":
                    body = payloads.event(ws, {"type": "app_home_opened", "user": user, "channel": f"D{user}",
                                               "tab": "home", "event_ts": f"{time.time():.6f}"})
                else:
                    raise payloads.BadAction(f"kind: unknown {kind!r}")
        except payloads.BadAction as exc:
            return jsonify(ok=False, error=str(exc)), 400
        ws.touch()
        if body is None:
            return jsonify(ok=True)
        response = self.to_slack_events(*body)
        answer = _json(response)
        with ws.lock:
            self._after(act, response.status_code, answer)
        ws.touch()
        return jsonify(ok=response.status_code == 200, status=response.status_code, answer=answer)

    def _typed_message(self, act: dict) -> tuple[str, str]:
        ws = self.workspace
        channel, text, thread_ts = act.get("channel", ""), (act.get("text") or "").strip(), act.get("thread_ts")
        if channel not in ws.channels.values() or not text:
            raise payloads.BadAction("channel/text: a message needs a channel and some text")
        if thread_ts and ws.find(channel, thread_ts) is None:
            raise payloads.BadAction("thread_ts: no such thread")
        message = Message(channel, ws.next_ts(), text, user=act["user"], thread_ts=thread_ts or None)
        ws.messages.append(message)
        inner = {"type": "message", "channel": channel, "user": act["user"], "text": text, "ts": message.ts,
                 "channel_type": "channel", "event_ts": message.ts}
        if thread_ts:
            inner["thread_ts"] = thread_ts
        return payloads.event(ws, inner)

    def _after(self, act: dict, status: int, answer: dict | None) -> None:
        """What Slack does with the app's answer: modal errors, closing, a command's ephemeral."""
        ws, kind, user = self.workspace, act["kind"], act["user"]
        if kind == "submit":
            view = ws.views.get(act["view_id"])
            action = (answer or {}).get("response_action")
            if action == "errors":
                view["errors"] = answer.get("errors") or {}
            elif status == 200:
                ws.close_view(user, act["view_id"], everything=action == "clear")
        elif kind == "command":
            if status == 200 and answer is not None:
                ws.add_ephemeral(user, act.get("channel"), answer.get("text", ""), answer.get("blocks"))
            elif status != 200:
                command = (act.get("text") or "").split()[0]
                ws.add_ephemeral(user, act.get("channel"), ":warning: " + t(
                    "sandbox.command_unhandled", self.runtime.rules.defaults.language, command=command, status=status))


def _json(response: requests.Response) -> dict | None:
    try:
        return response.json() if response.content else None
    except ValueError:
        return None


def _static(name: str) -> Response:
    suffix = Path(name).suffix
    entry = STATIC.joinpath(name)
    if suffix not in _TYPES or "/" in name or not entry.is_file():
        return Response("not found", status=404)
    return Response(entry.read_bytes(), content_type=_TYPES[suffix], headers={"Cache-Control": "no-cache"})
