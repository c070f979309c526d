"""Surface-neutral commands: the words a person types (Slack `/ticket`, a Teams @mention)
parsed into a Command, checked against the roles of rules.yaml, run as one flow and answered
as a Result each surface renders in its own markup and language; the on-call verbs, which the
CLI shares too, are in `chatops.oncall.commands`. The Desk is what commands and listeners run
against, so no surface opens a database session itself.

Keys of ticket-verb results (`cmd.done.claim`, `cmd.usage_line`, ...) live under each surface's
own namespace (`slack.cmd.done.claim`, `teams.cmd.done.claim`), because each surface words its
confirmations its own way; on-call results use the shared `oncall.*` and `sla.page.*` keys.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError

from chatops.db import session_scope
from chatops.errors import DomainError, InvalidValue, TrackerNotConfigured
from chatops.i18n import t
from chatops.rules.schema import BORROWED_PERMISSION
from chatops.tickets import saved_views, service
from chatops.tickets.events import OutboxRow
from chatops.tickets.models import SeenDelivery
from chatops.tickets.moderation import ACTIONS as MODERATION_ACTIONS
from chatops.tickets.moderation import PERMISSION as MODERATION_PERMISSION
from chatops.tickets.queries import overdue_tickets
from chatops.tickets.record import enqueue
from chatops.views import load_view

HELP_WORDS = ("help", "ヘルプ")
# A person as chat surfaces put them in command text: `<@U123|name>`, `<@U123>`, `@U123`, `U123`.
_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$|^@?([UW][A-Z0-9]{2,})$")

InGroup = Callable[[str], bool]


@dataclass(frozen=True)
class Command:
    """What a person asked for: the verb, its words, and the usage problem found while parsing
    (the verb whose usage line to show), if any."""

    verb: str
    args: tuple[str, ...] = ()
    usage: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Result:
    """What a command answers: `kind` is done, list, ticket, help or error; `key` and `params`
    say it (see the module docstring for where keys live); `tickets` holds what the desk's
    builders made of the tickets shown, `pages` the keys of pages settled; `lines` holds ready
    report lines; `people` names the params that are user ids, for the surface to render as it
    shows people."""

    kind: str
    key: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    verb: str = ""
    tickets: tuple[Any, ...] = ()
    pages: tuple[str, ...] = ()
    lines: tuple[str, ...] = ()
    people: tuple[str, ...] = ()
    error: DomainError | None = None
    changed: bool = False


def refused(rules, action: str) -> Result:
    """The refusal of `action`, naming the roles rules.yaml allows to do it."""
    roles = tuple(rules.permissions[BORROWED_PERMISSION.get(action, action)])
    return Result("error", "refused", {"action": action, "roles": roles})


def failed(exc: DomainError) -> Result:
    """A domain error as a result (its own key and params)."""
    return Result("error", exc.key, dict(exc.params), error=exc)


def _key_of(session, ticket) -> str:
    return ticket.key


def _keys_of(session, tickets) -> list[str]:
    return [ticket.key for ticket in tickets]


@dataclass(frozen=True)
class Desk:
    """What commands run against: the runtime (flows, rules, clock, sessions) and how the
    surface wants the tickets it shows: `summaries` for list rows, built from (session, tickets)
    in one go so a surface can batch its reads, and `detail` for one ticket, from (session,
    ticket); `person` renders a user id inside on-call report lines, which
    are written in `lang` (None: the team language of rules.yaml); `user` reads the person a
    command names (`assign T-12 …`) as a user id (None: a Slack mention or id, `user_id`)."""

    runtime: Any
    summaries: Callable[[Any, list], list] = _keys_of
    detail: Callable[[Any, Any], Any] = _key_of
    person: Callable[[str], str] = str
    lang: str | None = None
    clock: Callable[[], Any] | None = None
    user: Callable[[str], str] | None = None

    @property
    def flows(self):
        """Ticket flows."""
        return self.runtime.flows

    @property
    def rules(self):
        """The loaded rules.yaml."""
        return self.runtime.rules

    @property
    def language(self) -> str:
        """The language report lines are written in."""
        return self.lang or self.rules.defaults.language

    def now(self):
        """Now by the desk's clock (the runtime's unless the surface brings its own)."""
        return (self.clock or self.runtime.clock)()

    def may(self, actor: str, action: str, in_group: InGroup | None = None) -> bool:
        """Whether `actor` holds a role that may do `action` (user groups through `in_group`)."""
        return self.rules.may(actor, action, in_group=in_group)

    def read(self, query: Callable[..., Any], /, *args, **kwargs) -> Any:
        """The answer of one query function (session first) run in a session of its own; the
        answer must be plain data, since the session closes before it is returned."""
        with self.runtime.session_factory() as session:
            return query(session, *args, **kwargs)

    def write(self, change: Callable[..., Any], /, *args, **kwargs) -> Any:
        """The answer of one change function (session first) run and committed in a transaction
        of its own (nothing of it is kept when it raises); the answer must be plain data."""
        with session_scope(self.runtime.session_factory) as session:
            return change(session, *args, **kwargs)

    def remember_delivery(self, *, scope: str, key: str) -> bool:
        """Note an inbound delivery (a Slack event id, ...) as handled: False when it was before,
        so a platform's retry changes nothing."""
        try:
            with session_scope(self.runtime.session_factory) as session:
                session.add(SeenDelivery(scope=scope, key=key, seen_at=self.now()))
        except IntegrityError:
            return False
        return True

    def queue(self, *, target: str, kind: str, dedupe_key: str, ordering_key: str, payload: dict) -> None:
        """Queue one side effect a person asked for (a Home refresh, a chart upload) in the outbox."""
        with session_scope(self.runtime.session_factory) as session:
            enqueue(session, [OutboxRow(target=target, kind=kind, dedupe_key=dedupe_key, ordering_key=ordering_key,
                                        payload=payload)], at=self.now())


@dataclass(frozen=True)
class Verb:
    """A ticket verb: the permission it needs (None: anyone), how many words it needs, what it
    runs, and the surfaces that offer it."""

    action: str | None
    count: int
    run: Callable[[Desk, str, tuple[str, ...]], Result]
    surfaces: frozenset[str] = frozenset({"slack"})


def user_id(word: str) -> str:
    """The user id in a mention word (InvalidValue when the word is not a mention)."""
    match = _MENTION.match(word)
    if not match:
        raise InvalidValue(value=word, field="user", choices="@user")
    return match.group(1) or match.group(2)


def _rest(words: tuple[str, ...], skip: int) -> str:
    return " ".join(words[skip:])


def _show(desk: Desk, actor: str, words: tuple[str, ...]) -> Result:
    with desk.runtime.session_factory() as session:
        ticket = service.get_ticket(session, key=words[0])
        return Result("ticket", tickets=(desk.detail(session, ticket),))


def _listed(desk: Desk, key: str, found: list, **params) -> Result:
    return Result("list", key, {"count": len(found), **params}, tickets=tuple(found))


def _mine(desk: Desk, actor: str, words: tuple[str, ...]) -> Result:
    with desk.runtime.session_factory() as session:
        found = desk.summaries(session, service.list_tickets(session, limit=20, assignee=actor, open_only=True,
                                                             now=desk.now()))
    return _listed(desk, "home.mine", found)


def _queue(desk: Desk, actor: str, words: tuple[str, ...]) -> Result:
    with desk.runtime.session_factory() as session:
        overdue = overdue_tickets(session, now=desk.now())
        late = {ticket.id for ticket in overdue}
        waiting = [ticket for ticket in service.list_tickets(session, limit=30, unassigned=True, open_only=True,
                                                             now=desk.now())
                   if ticket.id not in late]
        found = desk.summaries(session, overdue + waiting)
    return _listed(desk, "cmd.queue", found)


def _search(desk: Desk, actor: str, words: tuple[str, ...]) -> Result:
    query = " ".join(words)
    with desk.runtime.session_factory() as session:
        found = desk.summaries(session, list(service.search_tickets(session, query=query)))
    return _listed(desk, "cmd.search", found, query=query)


def _flow(action: str, count: int, call: Callable[[Desk, str, tuple[str, ...]], dict | None],
          surfaces: frozenset[str] = frozenset({"slack", "teams"}), people: tuple[str, ...] = ()) -> Verb:
    """A verb that runs a flow on the ticket named by the first word, offered on every chat
    surface unless `surfaces` says otherwise; `call` returns the parameters of the
    confirmation line."""
    def run(desk: Desk, actor: str, words: tuple[str, ...]) -> Result:
        params = call(desk, actor, words) or {}
        return Result("done", f"cmd.done.{action}", {"key": words[0].upper(), **params}, verb=action,
                      people=people, changed=True)
    return Verb(action, count, run, surfaces)


def _assign(d: Desk, actor: str, w: tuple[str, ...]) -> dict:
    if w[1].lower() == "auto":  # the channel's `assignment:` rule picks, now
        return {"who": d.flows.assign_auto(w[0], actor=actor)}
    assignee = (d.user or user_id)(w[1])
    d.flows.assign(w[0], actor=actor, assignee=assignee)
    return {"who": assignee}


def _tag(d: Desk, actor: str, w: tuple[str, ...]) -> None:
    d.flows.tag(w[0], actor=actor, add=[x.lstrip("+") for x in w[1:] if not x.startswith("-")],
                remove=[x[1:] for x in w[1:] if x.startswith("-")])


def _escalate(d: Desk, actor: str, w: tuple[str, ...]) -> dict:
    d.flows.escalate(w[0], actor=actor, level=w[1].upper(), note=_rest(w, 2))
    return {"level": w[1].upper()}


def _issue(desk: Desk, actor: str, words: tuple[str, ...]) -> Result:
    """`issue T-12 [jira|github]`: the surface opens the issue form, its summary prefilled
    (`params`: key, the tracker asked for, the configured ones, the ticket's first message)."""
    available = tuple(desk.runtime.settings.issue_trackers)
    if not available:
        raise TrackerNotConfigured()
    tracker = words[1].lower() if len(words) > 1 else None
    if tracker is not None and tracker not in available:
        raise InvalidValue(value=words[1], field="tracker", choices=", ".join(available))
    with desk.runtime.session_factory() as session:
        view = load_view(session, words[0], rules=desk.rules, now=desk.now())
    return Result("modal", "issue", {"key": view.key, "tracker": tracker or available[0], "trackers": available,
                                     "text": view.text}, verb="issue")


def _moderate(action: str) -> Verb:
    """`hide|unhide|delete|block T-12`: ask the network, through the outbox, to act on the
    ticket's Facebook or Instagram comment (block: its author, Facebook only)."""
    def run(desk: Desk, actor: str, words: tuple[str, ...]) -> Result:
        desk.flows.moderate(words[0], actor=actor, action=action)
        return Result("done", f"cmd.done.moderate.{action}", {"key": words[0].upper()}, verb=action, changed=True)
    return Verb(MODERATION_PERMISSION[action], 1, run)


def _views(desk: Desk, actor: str, words: tuple[str, ...]) -> Result:
    """`views`: the person's saved views with their true counts (the defaults given first, as
    App Home gives them); `params["views"]` holds (name, count) pairs for the surface to render."""
    now = desk.now()
    names = {name: t(f"savedviews.default.{name}", desk.language) for name, _ in saved_views.DEFAULTS}
    desk.write(saved_views.ensure_defaults, user_id=actor, names=names, now=now)
    found = desk.read(lambda session: [(view.name, view.count) for view in saved_views.list_saved(
        session, user_id=actor, rules=desk.rules, now=now)])
    return Result("views", "cmd.views", {"views": tuple(found)}, verb="views")


BOTH = frozenset({"slack", "teams"})
VERBS: dict[str, Verb] = {
    "show": Verb(None, 1, _show, BOTH),
    "mine": Verb(None, 0, _mine, BOTH),
    "queue": Verb(None, 0, _queue, BOTH),
    "search": Verb(None, 1, _search, BOTH),
    "claim": _flow("claim", 1, lambda d, a, w: d.flows.claim(w[0], actor=a) and None, BOTH),
    "release": _flow("release", 1, lambda d, a, w: d.flows.release(w[0], actor=a) and None, BOTH),
    "assign": _flow("assign", 2, _assign, people=("who",)),
    "tag": _flow("tag", 2, _tag),
    "priority": _flow("priority", 2, lambda d, a, w: d.flows.set_priority(w[0], actor=a, priority=w[1].lower())
                      and None),
    "escalate": _flow("escalate", 2, _escalate, BOTH),
    "tier": _flow("tier", 2, lambda d, a, w: d.flows.set_customer_tier(w[0], actor=a, tier=w[1].lower())
                  and {"tier": w[1].lower()}),
    "pending": _flow("pending", 1, lambda d, a, w: d.flows.set_pending(w[0], actor=a) and None, BOTH),
    "resolve": _flow("resolve", 1, lambda d, a, w: d.flows.resolve(w[0], actor=a, note=_rest(w, 1)) and None,
                     BOTH),
    "reopen": _flow("reopen", 1, lambda d, a, w: d.flows.reopen(w[0], actor=a, reason=_rest(w, 1)) and None,
                    BOTH),
    "note": _flow("note", 2, lambda d, a, w: d.flows.add_note(w[0], actor=a, text=_rest(w, 1)) and None),
    "issue": Verb("issue", 1, _issue),
    **{action: _moderate(action) for action in MODERATION_ACTIONS},
    "views": Verb("claim", 0, _views),
}


def verbs_of(surface: str) -> tuple[str, ...]:
    """The ticket verbs `surface` offers, in help order."""
    return tuple(name for name, verb in VERBS.items() if surface in verb.surfaces)


def parse(text: str, *, surface: str = "slack") -> Command:
    """The command in `text` (`claim T-12`, `escalate T-12 L2 note`, ...): an empty text or
    `help` is the help verb; a verb `surface` does not offer stays unknown; too few words
    leave the verb's usage line as the problem."""
    words = text.split()
    if not words or words[0].lower() in HELP_WORDS:
        return Command("help")
    name, args = words[0].lower(), tuple(words[1:])
    verb = VERBS.get(name)
    if verb is None or surface not in verb.surfaces:
        return Command(name, args, options={"offered": False, "word": words[0]})
    return Command(name, args, usage=name if len(args) < verb.count else None)


def run(desk: Desk, command: Command, *, actor: str | None, in_group: InGroup | None = None) -> Result:
    """Answer `command` from `actor` (None: a person chatops cannot map to a user id): help,
    unknown verb, refusal naming the roles, usage line, domain error, or what the flow did."""
    if command.verb == "help":
        return Result("help", verb="help")
    verb = VERBS.get(command.verb)
    if verb is None or command.options.get("offered") is False:
        return Result("help", "cmd.unknown", {"word": command.options.get("word", command.verb)}, verb="help")
    if verb.action and actor is None:
        return Result("error", "not_mapped", verb=command.verb)
    if verb.action and not desk.may(actor, verb.action, in_group):
        return refused(desk.rules, verb.action)
    if command.usage:
        return Result("error", "cmd.usage_line", {"verb": command.usage}, verb=command.verb)
    try:
        return verb.run(desk, actor or "", command.args)
    except DomainError as exc:
        return failed(exc)

