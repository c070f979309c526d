"""`chatops ingest FILE.jsonl` and `chatops tickets list|show`."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime

from chatops.cli.common import EXIT_USAGE, err, language, runtime_or_exit
from chatops.errors import DomainError
from chatops.i18n import t
from chatops.inbound import InboundMessage, parse_jsonl
from chatops.rules.fields import CUSTOMER_TIERS
from chatops.sla.state import sla_state
from chatops.tickets import service
from chatops.tickets.models import PRIORITIES, STATUSES, Ticket


def register(sub) -> None:
    """Add `ingest` and `tickets` to the parser."""
    ingest = sub.add_parser("ingest", help="store InboundMessage JSON lines as tickets")
    ingest.add_argument("file", help="InboundMessage JSON lines (bad lines are reported, good ones stored)")
    ingest.add_argument("--rules", help="rules file (default CHATOPS_RULES or rules.yaml)")
    ingest.add_argument("--no-replies", action="store_true",
                        help="store and post the tickets, but queue nothing to the networks (no auto-replies)")
    ingest.set_defaults(handler=ingest_command)
    tickets = sub.add_parser("tickets", help="list or show tickets")
    tickets_sub = tickets.add_subparsers(dest="tickets_command", required=True, metavar="ACTION")
    listing = tickets_sub.add_parser("list", help="tickets, most urgent and oldest first")
    listing.add_argument("--status", choices=STATUSES)
    listing.add_argument("--priority", choices=PRIORITIES)
    listing.add_argument("--assignee")
    listing.add_argument("--all", action="store_true", help="include resolved tickets")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--json", action="store_true", help="one JSON object per ticket")
    listing.set_defaults(handler=list_command)
    show = tickets_sub.add_parser("show", help="one ticket with its messages and events")
    show.add_argument("key", help="ticket key, e.g. T-12")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=show_command)
    tier = tickets_sub.add_parser("tier", help="set the tier of a ticket's customer (re-prices their open tickets)")
    tier.add_argument("key", help="ticket key, e.g. T-12")
    tier.add_argument("tier", choices=CUSTOMER_TIERS)
    tier.add_argument("--as", dest="actor", default="cli", help="who changes it (a Slack user id)")
    tier.set_defaults(handler=tier_command)


def ingest_command(args) -> int:
    """Ingest every good line, report bad ones as FILE:LINE: problem; exit 1 if any were bad."""
    runtime = runtime_or_exit(args)
    runtime.flows.auto_replies = not args.no_replies
    try:
        handle = open(args.file, encoding="utf-8")
    except OSError as exc:
        err(f"{args.file}: {exc.strerror}")
        return EXIT_USAGE
    counts: Counter[str] = Counter()
    lines = 0
    chunk: list[tuple[int, InboundMessage]] = []

    def store() -> None:
        # Group commit, as the webhook does: one transaction per chunk of good lines; a line
        # whose message can't be stored is reported on its own and the rest still go in.
        if not chunk:
            return
        for (number, _), result in zip(chunk, runtime.flows.ingest_many([m for _, m in chunk]), strict=True):
            if isinstance(result, Exception):
                counts["errors"] += 1
                err(t("cli.ingest.bad_line", language(args), path=args.file, line=number, message=result))
            else:
                counts[result.outcome] += 1
        chunk.clear()

    with handle:
        for number, message, problem in parse_jsonl(handle):
            lines += 1
            if message is None:
                counts["errors"] += 1
                err(t("cli.ingest.bad_line", language(args), path=args.file, line=number, message=problem))
                continue
            chunk.append((number, message))
            if len(chunk) == 200:
                store()
        store()
    runtime.close()
    print(t("cli.ingest.summary", language(args), lines=lines, created=counts["created"],
            threaded=counts["threaded"] + counts["collected"], reopened=counts["reopened"], duplicates=counts["duplicate"],
            stored_only=counts["stored"], errors=counts["errors"]))
    return 1 if counts["errors"] else 0


def _age(since: datetime, now: datetime) -> str:
    minutes = int((now - since).total_seconds() // 60)
    if minutes < 60:
        return f"{minutes}m"
    if minutes < 48 * 60:
        return f"{minutes // 60}h"
    return f"{minutes // 1440}d"


def ticket_dict(ticket: Ticket, now: datetime | None = None) -> dict:
    """A ticket as JSON-friendly data; with `now`, its SLA (live deadline, due time, state) read
    from the stored moments, the same truth Slack and Teams show."""
    data = {
        "key": ticket.key, "status": ticket.status, "priority": ticket.priority, "level": ticket.level,
        "channel": ticket.channel, "assignee": ticket.assignee, "tags": ticket.tags,
        "source": ticket.source, "account": ticket.account,
        "customer": ticket.customer.handle or ticket.customer.external_user_id,
        "subject": ticket.subject, "matched_rules": ticket.matched_rules, "notify": ticket.notify,
        "created_at": ticket.created_at.isoformat(),
        "first_response_at": ticket.first_response_at.isoformat() if ticket.first_response_at else None,
        "resolved_at": ticket.resolved_at.isoformat() if ticket.resolved_at else None,
    }
    if now is not None:
        data["sla"] = sla_state(ticket, now).as_dict()
    return data


def list_command(args) -> int:
    """Print tickets as a table (or JSON lines)."""
    runtime = runtime_or_exit(args)
    with runtime.session_factory() as session:
        tickets = service.list_tickets(session, limit=args.limit, status=args.status, priority=args.priority,
                                       assignee=args.assignee, open_only=not args.all)
    runtime.close()
    now = runtime.clock()
    if args.json:
        for ticket in tickets:
            print(json.dumps(ticket_dict(ticket, now), ensure_ascii=False))
        return 0
    if not tickets:
        print(t("cli.tickets.empty", language(args)))
        return 0
    tz = runtime.rules.business_hours.tz
    lang = language(args)
    print(f"{'KEY':<8} {'PRI':<6} {'LVL':<3} {'STATUS':<10} {'AGE':>4}  {'DUE':<11} {'SLA':<8} {'CHANNEL':<16} {'NETWORK':<10} "
          f"{'ASSIGNEE':<12} {'CUSTOMER':<18} TAGS / SUBJECT")
    for ticket in tickets:
        customer = ticket.customer.handle or ticket.customer.external_user_id
        sla = sla_state(ticket, now)
        due = f"{sla.due_at.astimezone(tz):%m-%d %H:%M}" if sla.due_at else "-"
        tags = " ".join(f"#{tag}" for tag in ticket.tags)
        print(f"{ticket.key:<8} {ticket.priority:<6} {ticket.level:<3} {t('status.' + ticket.status, lang):<10} "
              f"{_age(ticket.created_at, now):>4}  {due:<11} {sla.state:<8} {ticket.channel:<16} {ticket.source:<10} "
              f"{(ticket.assignee or '-'):<12} {customer[:18]:<18} {tags + ' ' if tags else ''}{ticket.subject}")
    return 0


def show_command(args) -> int:
    """Print one ticket, its messages and its audit trail; exit 1 for an unknown key."""
    runtime = runtime_or_exit(args)
    lang = language(args)
    with runtime.session_factory() as session:
        try:
            ticket = service.get_ticket(session, key=args.key)
        except DomainError as exc:
            err(exc.message(lang))
            return 1
        messages = service.ticket_messages(session, ticket_id=ticket.id)
        events = service.ticket_events(session, ticket_id=ticket.id)
        continued = [f"T-{ticket_id}" for ticket_id in service.following_ticket_ids(session, ticket_id=ticket.id)]
    runtime.close()
    now = runtime.clock()
    if args.json:
        data = ticket_dict(ticket, now)
        data["follows"] = f"T-{ticket.follows_ticket_id}" if ticket.follows_ticket_id else None
        data["continued_in"] = continued
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
    print(f"{ticket.key}  [{ticket.priority} {ticket.level}] {t('status.' + ticket.status, lang)}  "
          f"#{ticket.channel}  {ticket.source} {ticket.account}")
    for field in ("customer", "assignee", "tags", "matched_rules", "notify", "created_at",
                  "first_response_at", "resolved_at"):
        value = data[field]
        shown = ", ".join(value) if isinstance(value, list) else value
        print(f"  {field:<18} {shown or '-'}")
    sla = sla_state(ticket, now)
    due = f"{sla.due_at.astimezone(tz):%Y-%m-%d %H:%M %Z}" if sla.due_at else "-"
    print(f"  {'sla':<18} {sla.deadline or '-'} due {due} {sla.state}")
    if ticket.follows_ticket_id:  # the customer's earlier ticket, resolved long before this message
        print(f"  {t('cli.tickets.follows', lang, ticket=f'T-{ticket.follows_ticket_id}')}")
    if continued:
        print(f"  {t('cli.tickets.continued', lang, tickets=', '.join(continued))}")
    print()
    for message in messages:
        who = message.author_handle or message.author_id or "-"
        print(f"  {message.created_at.astimezone(tz):%Y-%m-%d %H:%M} {message.direction:<8} {who}: {message.text}")
    print()
    for event in events:
        extra = " ".join(f"{k}={v}" for k, v in event.payload.items() if k != "triage")
        print(f"  {event.at.astimezone(tz):%Y-%m-%d %H:%M:%S} {event.kind:<16} {event.actor}  {extra}")
    return 0


def tier_command(args) -> int:
    """Set the tier of the ticket's customer; every open ticket of theirs gets the new deadlines."""
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
