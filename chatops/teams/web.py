"""Teams HTTP endpoints.

- `GET /teams/act?token=…`: the page a card button opens. It changes nothing (link previews
  and scanners fetch links too); it checks the link and asks the person to confirm.
- `POST /teams/act`: performs the action for the person named on the form (their Teams
  sign-in e-mail, mapped to a user id in rules.yaml `teams.people`), with their roles.
- `POST /teams/outgoing`: the Teams outgoing webhook. `Authorization: HMAC <base64>` must be
  HMAC-SHA256 of the raw body keyed with the base64-decoded security token (checked in
  constant time); the answer `{"type":"message","text":…}` must come within 5 seconds.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging

from flask import Flask, Response, jsonify, make_response, request

from chatops.errors import DomainError
from chatops.i18n import t
from chatops.runtime import Runtime
from chatops.teams import cards
from chatops.teams.commands import answer
from chatops.teams.links import LINK_PATH, ActionLinks, LinkClaim, LinkRefused
from chatops.teams.pages import render_page
from chatops.teams.surface import TeamsSurface, language_of
from chatops.views import TicketView, load_view

log = logging.getLogger("chatops.teams")

UPN_COOKIE = "chatops_teams_upn"
_NOTE_ACTIONS = {"resolve": "note", "reopen": "reason"}


def make_links(runtime: Runtime, clock=None) -> ActionLinks | None:
    """Action links from settings, or None when TEAMS_PUBLIC_URL / TEAMS_LINK_SECRET are unset."""
    settings = runtime.settings
    if not settings.teams_links_enabled:
        return None
    return ActionLinks(settings.teams_link_secret.get_secret_value(), settings.teams_public_url,
                       ttl_seconds=settings.teams_link_ttl, clock=clock or runtime.clock)


def verify_outgoing(token_b64: str, body: bytes, authorization: str | None) -> bool:
    """True when `Authorization: HMAC <b64>` signs `body` with the outgoing webhook's token."""
    if not authorization or not authorization.startswith("HMAC "):
        return False
    try:
        key = base64.b64decode(token_b64, validate=True)
    except (binascii.Error, ValueError):
        log.error("TEAMS_OUTGOING_TOKEN is not base64; every outgoing webhook call is refused")
        return False
    expected = base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(expected, authorization.removeprefix("HMAC ").strip())


def mount_teams(app: Flask, runtime: Runtime, *, links: ActionLinks | None = None) -> None:
    """Add the action-link pages (when links are configured) and the outgoing webhook (when its
    token is set)."""
    surface = TeamsSurface(runtime, wake=runtime.outbox_wakeup.set)
    links = links or make_links(runtime)
    app.extensions["chatops.teams"] = surface
    if links is not None:
        pages = _ActionPages(surface, links)
        app.add_url_rule(LINK_PATH, "teams_act_confirm", pages.confirm, methods=["GET"])
        app.add_url_rule(LINK_PATH, "teams_act_perform", pages.perform, methods=["POST"])
    token = runtime.settings.teams_outgoing_token
    if token is not None:
        secret = token.get_secret_value()

        def outgoing():
            body = request.get_data(cache=False)
            lang = request.accept_languages.best_match(["en", "ja"]) or surface.lang
            if not verify_outgoing(secret, body, request.headers.get("Authorization")):
                return jsonify(type="message", text=t("teams.outgoing.bad_signature", lang)), 401
            try:
                activity = json.loads(body)
                text, sender = activity["text"], activity.get("from") or {}
            except (ValueError, KeyError, TypeError):
                return jsonify(type="message", text=t("teams.outgoing.bad_body", lang)), 400
            lang = language_of(activity.get("locale"), surface.lang)
            person = surface.person(aad=sender.get("aadObjectId"))
            reply = answer(surface, person.user if person else None, str(text), lang)
            return jsonify(type="message", text=reply)

        app.add_url_rule("/teams/outgoing", "teams_outgoing", outgoing, methods=["POST"])


class _ActionPages:
    """GET shows what a link would do; POST does it for the named person."""

    def __init__(self, surface: TeamsSurface, links: ActionLinks) -> None:
        self.surface = surface
        self.links = links

    @staticmethod
    def _lang() -> str:
        return request.accept_languages.best_match(["en", "ja"]) or "en"

    def _refused(self, exc: LinkRefused, lang: str) -> Response:
        params = {name: value.strftime("%Y-%m-%d %H:%M UTC") for name, value in exc.params.items()}
        page = render_page(lang=lang, title=t(f"teams.link.{exc.reason}.title", lang), tone="bad",
                           message=t(f"teams.link.{exc.reason}", lang, **params))
        return make_response(page, 410 if exc.reason == "expired" else 403)

    def _page(self, lang: str, status: int, **fields) -> Response:
        response = make_response(render_page(lang=lang, **fields), status)
        response.headers["Cache-Control"] = "no-store"
        return response

    def _load(self, claim: LinkClaim) -> TicketView:
        return self.surface.desk(self.surface.lang).read(load_view, claim.ticket_id, rules=self.surface.rules,
                                                         now=self.surface.runtime.clock())

    def _ticket_fields(self, view: TicketView, lang: str) -> dict:
        rules = self.surface.rules
        return {"header": cards.header(view, rules, lang), "quote": view.text,
                "facts": cards.facts(view, rules, lang)}

    def confirm(self):
        lang = self._lang()
        try:
            claim = self.links.verify(request.args.get("token"))
            view = self._load(claim)
        except LinkRefused as exc:
            return self._refused(exc, lang)
        except DomainError as exc:
            return self._page(lang, 404, title=t("teams.act.failed", lang), tone="bad", message=exc.message(lang))
        return self._page(lang, 200, title=t(f"teams.act.ask.{claim.action}", lang, key=view.key), tone="ask",
                          form=self._form(claim, lang, request.cookies.get(UPN_COOKIE, "")),
                          **self._ticket_fields(view, lang))

    def _form(self, claim: LinkClaim, lang: str, upn: str) -> dict:
        note = _NOTE_ACTIONS.get(claim.action)
        return {"action": LINK_PATH, "token": request.values.get("token", ""), "upn": upn,
                "upn_label": t("teams.act.upn", lang), "submit": t(f"teams.button.{claim.action}", lang),
                "note_label": t(f"teams.act.{note}", lang) if note else None}

    def perform(self):
        lang = self._lang()
        try:
            claim = self.links.verify(request.form.get("token"))
        except LinkRefused as exc:
            return self._refused(exc, lang)
        upn = (request.form.get("upn") or "").strip()
        person = self.surface.person(upn=upn) if upn else None
        title = t(f"teams.act.ask.{claim.action}", lang, key=claim.key)
        if person is None:
            return self._page(lang, 403, title=title, tone="bad", message=t("teams.not_mapped", lang),
                              form=self._form(claim, lang, upn))
        if not self.surface.may(person.user, claim.action):
            return self._page(lang, 403, title=title, tone="bad",
                              message=self.surface.refusal(claim.action, lang))
        text = (request.form.get("note") or "").strip()
        try:
            self._run(claim, person.user, text)
            view = self._load(claim)
        except DomainError as exc:
            return self._page(lang, 409, title=t("teams.act.failed", lang), tone="bad",
                              message=self.surface.error_text(exc, lang))
        self.surface.changed()
        response = self._page(lang, 200, title=t(f"teams.act.done.{claim.action}", lang, key=view.key),
                              tone="ok", **self._ticket_fields(view, lang))
        response.set_cookie(UPN_COOKIE, upn, max_age=365 * 24 * 3600, httponly=True, samesite="Lax",
                            secure=request.is_secure)
        return response

    def _run(self, claim: LinkClaim, actor: str, text: str) -> None:
        flows = self.surface.flows
        if claim.action == "claim":
            flows.claim(claim.key, actor=actor)
        elif claim.action == "resolve":
            flows.resolve(claim.key, actor=actor, note=text)
        elif claim.action == "reopen":
            flows.reopen(claim.key, actor=actor, reason=text)
