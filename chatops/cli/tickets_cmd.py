"""`chatops ingest FILE.jsonl` and `chatops tickets list|show|tier`."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime

from chatops.cli.common import err, fit, language, plural, runtime_or_exit, table, width
from chatops.i18n import t

# The choices of --status, --priority and tier, written out so that building the parser does
# not import the models (SQLAlchemy); tests/unit/test_cli_japanese.py checks they match.
STATUSES = ("new", "open", "pending", "resolved")
PRIORITIES = ("red", "orange", "green")
CUSTOMER_TIERS = ("standard", "premium")


def register(sub, lang: str) -> None:
    """Add `ingest` and `tickets` to the parser."""
    def h(key: str) -> str:
        return t(f"cli.help.{key}", lang)

    ingest = sub.add_parser("ingest", help=h("ingest"), description=h("ingest"))
    ingest.add_argument("file", help=h("ingest_file"))
    ingest.add_argument("--rules", help=h("rules_path"))
    ingest.add_argument("--no-replies", action="store_true", help=h("no_replies"))
    ingest.set_defaults(handler=ingest_command)
    tickets = sub.add_parser("tickets", help=h("tickets"), description=h("tickets"))
    tickets_sub = tickets.add_subparsers(dest="tickets_command", required=True, metavar="ACTION")
    listing = tickets_sub.add_parser("list", help=h("tickets_list"), description=h("tickets_list"))
    listing.add_argument("--status", choices=STATUSES, help=h("status"))
    listing.add_argument("--priority", choices=PRIORITIES, help=h("priority"))
    listing.add_argument("--assignee", help=h("assignee"))
    listing.add_argument("--all", action="store_true", help=h("all"))
    listing.add_argument("--limit", type=int, default=50, help=h("limit"))
    listing.add_argument("--json", action="store_true", help=h("json_tickets"))
    listing.set_defaults(handler=list_command)
    show = tickets_sub.add_parser("show", help=h("tickets_show"), description=h("tickets_show"))
    show.add_argument("key", help=h("ticket_key"))
    show.add_argument("--json", action="store_true", help=h("json"))
    show.set_defaults(handler=show_command)
    tier = tickets_sub.add_parser("tier", help=h("tickets_tier"), description=h("tickets_tier"))
    tier.add_argument("key", help=h("ticket_key"))
    tier.add_argument("tier", choices=CUSTOMER_TIERS, help=h("tier"))
    tier.add_argument("--as", dest="actor", default="cli", help=h("actor"))
    tier.set_defaults(handler=tier_command)


def _message(problem: object, lang: str) -> str:
    """A refused message's reason in `lang` (a DomainError knows its words)."""
    return problem.message(lang) if hasattr(problem, "message") else str(problem)


def ingest_command(args) -> int:
    """Ingest every good line, report bad ones as FILE:LINE: problem; exit 1 if any were bad.
    A file that is not UTF-8 throughout is refused whole (see chatops/cli/jsonl.py)."""
    from chatops.cli.jsonl import read_jsonl

    lang = language(args)
    parsed = read_jsonl(args.file, lang)  # before the runtime: a refused file touches no database
    runtime = runtime_or_exit(args)
    runtime.flows.auto_replies = not args.no_replies
    counts: Counter[str] = Counter()
    chunk: list[tuple[int, object]] = []

    def store() -> None:
        # Group commit, as the webhook does: one transaction per chunk of good lines; a line
        # whose message can't be stored is reported on its own and the rest still go in.
        if not chunk:
            return
        for (number, _), result in zip(chunk, runtime.flows.ingest_many([m for _, m in chunk]), strict=True):
            if isinstance(result, Exception):
                counts["errors"] += 1
                err(t("cli.ingest.bad_line", lang, path=args.file, line=number, message=_message(result, lang)))
            else:
                counts[result.outcome] += 1
        chunk.clear()

    try:
        for number, message, problem in parsed:
            if message is None:
                counts["errors"] += 1
                err(t("cli.ingest.bad_line", lang, path=args.file, line=number, message=problem))
                continue
            chunk.append((number, message))
            if len(chunk) == 200:
                store()
        store()
    finally:
        runtime.close()
    print(ingest_summary(lang, lines=len(parsed), created=counts["created"],
                         threaded=counts["threaded"] + counts["collected"], reopened=counts["reopened"],
                         duplicates=counts["duplicate"], stored_only=counts["stored"], errors=counts["errors"]))
    return 1 if counts["errors"] else 0


def ingest_summary(lang: str, **counts: int) -> str:
    """'3 lines: 1 new ticket, 2 follow-ups, …' with each noun singular or plural by its count."""
    parts = {name: plural(f"cli.ingest.{name}", lang, count) for name, count in counts.items()}
    return t("cli.ingest.summary", lang, **parts)


def _age(since: datetime, now: datetime, lang: str) -> str:
    minutes = int((now - since).total_seconds() // 60)
    if minutes < 60:
        return t("cli.age.minutes", lang, n=minutes)
    if minutes < 48 * 60:
        return t("cli.age.hours", lang, n=minutes // 60)
    return t("cli.age.days", lang, n=minutes // 1440)


def priority_name(rules, priority: str, lang: str) -> str:
    """How a person reads a priority: the rules' label in Japanese, the id (what --priority
    takes) in English."""
    if lang == "ja" and priority in rules.priorities:
        return rules.priorities[priority].label.get(lang)
    return priority


def _priority_shown(view, lang: str) -> str:
    """`priority_name` of a ticket view, from the label the view carries."""
    return view.priority_label(lang) if lang == "ja" else view.priority


def ticket_dict(view) -> dict:
    """A ticket view (chatops.views) as JSON-friendly data, with its SLA (live deadline, due time,
    state) as the view read it from the stored moments, the same truth Slack and Teams show."""
    return {
        "key": view.key, "status": view.status, "priority": view.priority, "level": view.level,
        "channel": view.channel, "assignee": view.assignee, "tags": list(view.tags),
        "source": view.source, "account": view.account, "customer": view.customer.label,
        "subject": view.subject, "matched_rules": list(view.matched_rules), "notify": list(view.notify),
        "created_at": view.created_at.isoformat(),
        "first_response_at": view.first_response_at.isoformat() if view.first_response_at else None,
        "resolved_at": view.resolved_at.isoformat() if view.resolved_at else None,
        "sla": view.sla.as_dict(),
    }


def list_command(args) -> int:
    """Print tickets as a table aligned by display width (or JSON lines)."""
    from chatops.views import list_views

    runtime = runtime_or_exit(args)
    now = runtime.clock()
    with runtime.session_factory() as session:
        tickets = list_views(session, rules=runtime.rules, now=now, limit=args.limit, status=args.status,
                             priority=args.priority, assignee=args.assignee, open_only=not args.all)
    runtime.close()
    if args.json:
        for ticket in tickets:
            print(json.dumps(ticket_dict(ticket), ensure_ascii=False))
        return 0
    lang = language(args)
    if not tickets:
        print(t("cli.tickets.empty", lang))
        return 0
    tz = runtime.rules.business_hours.tz
    columns = ("key", "priority", "level", "status", "age", "due", "sla", "channel", "network", "assignee",
               "customer", "subject")
    rows = []
    for ticket in tickets:
        customer, sla = ticket.customer.label, ticket.sla
        due = f"{sla.due_at.astimezone(tz):%m-%d %H:%M}" if sla.due_at else "-"
        tags = " ".join(f"#{tag}" for tag in ticket.tags)
        rows.append([ticket.key, _priority_shown(ticket, lang), ticket.level,
                     t("status." + ticket.status, lang), _age(ticket.created_at, now, lang), due,
                     t(f"sla.state.{sla.state}", lang), ticket.channel, t(f"cli.network.{ticket.source}", lang),
                     ticket.assignee or "-", customer[:18], f"{tags + ' ' if tags else ''}{ticket.subject}"])
    for line in table([t(f"cli.tickets.col.{name}", lang) for name in columns], rows, right=frozenset({4})):
        print(line)
    return 0


def show_command(args) -> int:
    """Print one ticket, its messages and its audit trail; exit 1 for an unknown key."""
    from chatops.errors import DomainError
    from chatops.tickets import service
    from chatops.views import load_view

    runtime = runtime_or_exit(args)
    lang = language(args)
    now = runtime.clock()
    with runtime.session_factory() as session:
        try:
            ticket = load_view(session, args.key, rules=runtime.rules, now=now)
        except DomainError as exc:
            err(exc.message(lang))
            return 1
        messages = service.ticket_messages(session, ticket_id=ticket.id)
        events = service.ticket_events(session, ticket_id=ticket.id)
        continued = [f"T-{ticket_id}" for ticket_id in service.following_ticket_ids(session, ticket_id=ticket.id)]
    runtime.close()
    if args.json:
        data = ticket_dict(ticket)
        data["follows"] = ticket.follows
        data["continued_in"] = continued
        data["issues"] = [{"tracker": i.tracker, "key": i.key, "url": i.url, "state": i.state} for i in ticket.issues]
        data["messages"] = [{"direction": m.direction, "author": m.author_handle or m.author_id,
                             "text": m.text, "at": m.created_at.isoformat()} for m in messages]
        data["events"] = [{"kind": e.kind, "actor": e.actor, "at": e.at.isoformat(), **e.payload}
                          for e in events]
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    data = ticket_dict(ticket)
    tz = runtime.rules.business_hours.tz  # show times as the team reads them
    for field in ("created_at", "first_response_at", "resolved_at"):
        value = getattr(ticket, field)
        data[field] = f"{value.astimezone(tz):%Y-%m-%d %H:%M %Z}" if value else None
    print(f"{ticket.key}  [{_priority_shown(ticket, lang)} {ticket.level}] "
          f"{t('status.' + ticket.status, lang)}  #{ticket.channel}  {t('cli.network.' + ticket.source, lang)} "
          f"{ticket.account}")
    fields = ("customer", "assignee", "tags", "matched_rules", "notify", "created_at", "first_response_at",
              "resolved_at", "sla")
    sla = ticket.sla
    due = f"{sla.due_at.astimezone(tz):%Y-%m-%d %H:%M %Z}" if sla.due_at else "-"
    data["sla"] = t("cli.tickets.sla_line", lang, deadline=t(f"sla.deadline.{sla.deadline}", lang) if sla.deadline
                    else "-", due=due, state=t(f"sla.state.{sla.state}", lang))
    labels = {field: t(f"cli.tickets.field.{field}", lang) for field in fields}
    label_width = max(18, *(width(label) for label in labels.values()))
    for field in fields:
        value = data[field]
        shown = ", ".join(value) if isinstance(value, list) else value
        print(f"  {fit(labels[field], label_width)} {shown or '-'}")
    if ticket.follows:  # the customer's earlier ticket, resolved long before this message
        print(f"  {t('cli.tickets.follows', lang, ticket=ticket.follows)}")
    if continued:
        print(f"  {t('cli.tickets.continued', lang, tickets=', '.join(continued))}")
    for issue in ticket.issues:  # tracker issues created from the ticket (docs/trackers.md)
        state = t(f"cli.tickets.issue_state.{issue.state}", lang)
        tracker = t(f"tracker.name.{issue.tracker}", lang)
        print(f"  {t('cli.tickets.issue', lang, tracker=tracker, key=issue.key, state=state, url=issue.url or '-')}")
    print()
    for message in messages:
        who = message.author_handle or message.author_id or "-"
        direction = t(f"cli.tickets.direction.{message.direction}", lang)
        print(f"  {message.created_at.astimezone(tz):%Y-%m-%d %H:%M} {fit(direction, 8)} {who}: {message.text}")
    print()
    for event in events:
        extra = " ".join(f"{k}={v}" for k, v in event.payload.items() if k != "triage")
        print(f"  {event.at.astimezone(tz):%Y-%m-%d %H:%M:%S} {fit(event_name(event.kind, lang), 16)} "
              f"{event.actor}  {extra}")
    return 0


def event_name(kind: str, lang: str) -> str:
    """An audit-trail event said in `lang` (its kind when chatops has no words for it)."""
    from chatops.i18n import catalog

    key = f"cli.event.{kind}"
    return t(key, lang) if key in catalog("en") else kind


def tier_command(args) -> int:
    """Set the tier of the ticket's customer; every open ticket of theirs gets the new deadlines."""
    from chatops.errors import DomainError

    runtime = runtime_or_exit(args)
    lang = language(args)
    try:
        ticket = runtime.flows.set_customer_tier(args.key, actor=args.actor, tier=args.tier)
    except DomainError as exc:
        err(exc.message(lang))
        return 1
    finally:
        runtime.close()
    print(t("cli.tickets.tier_set", lang, key=ticket.key, tier=t(f"tier.{args.tier}", lang)))
    return 0
