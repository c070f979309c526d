"""`chatops customers link|unlink|export|erase` and `chatops audit export` (docs/customers.md,
docs/operations.md "Data lifecycle")."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

from chatops.cli.common import EXIT_USAGE, err, language, runtime_or_exit
from chatops.i18n import t


def register(sub, lang: str) -> None:
    """Add `customers` and `audit` to the parser."""
    def h(key: str) -> str:
        return t(f"cli.help.{key}", lang)

    customers = sub.add_parser("customers", help=h("customers"), description=h("customers"))
    actions = customers.add_subparsers(dest="customers_command", required=True, metavar="ACTION")
    for name, handler in (("link", link_command), ("unlink", unlink_command)):
        action = actions.add_parser(name, help=h(f"customers_{name}"), description=h(f"customers_{name}"))
        action.add_argument("a", metavar="A", help=h("customer_key"))
        action.add_argument("b", metavar="B", help=h("customer_key"))
        action.add_argument("--by", help=h("by"))
        action.set_defaults(handler=handler)
    export = actions.add_parser("export", help=h("customers_export"), description=h("customers_export"))
    export.add_argument("key", help=h("customer_key"))
    export.add_argument("--json", action="store_true", help=h("customers_json"))
    export.add_argument("--by", help=h("by"))
    export.set_defaults(handler=export_command)
    erase = actions.add_parser("erase", help=h("customers_erase"), description=h("customers_erase"))
    erase.add_argument("key", help=h("customer_key"))
    erase.add_argument("--yes", action="store_true", help=h("erase_yes"))
    erase.add_argument("--by", help=h("by"))
    erase.set_defaults(handler=erase_command)
    audit = sub.add_parser("audit", help=h("audit"), description=h("audit"))
    audit_actions = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    audit_export = audit_actions.add_parser("export", help=h("audit_export"), description=h("audit_export"))
    audit_export.add_argument("--since", required=True, help=h("audit_since"))
    audit_export.add_argument("--until", help=h("audit_until"))
    shape = audit_export.add_mutually_exclusive_group()
    shape.add_argument("--csv", action="store_true", help=h("audit_csv"))
    shape.add_argument("--json", action="store_true", help=h("audit_json"))
    audit_export.set_defaults(handler=audit_command)


def _actor(args) -> str:
    from chatops.customers.service import default_actor

    return args.by or default_actor()


def _run(args, work):
    """`work(runtime)`, a refused action said in the person's language (exit 1)."""
    from chatops.errors import DomainError

    runtime = runtime_or_exit(args)
    try:
        return work(runtime)
    except DomainError as exc:
        err(exc.message(language(args)))
        return None
    finally:
        runtime.close()


def link_command(args) -> int:
    """Link B's records to A's: one person across networks."""
    from chatops.customers.service import link

    lang = language(args)
    result = _run(args, lambda runtime: link(runtime.flows, args.a, args.b, actor=_actor(args)))
    if result is None:
        return 1
    print(t("customers.cli.linked", lang, keys=", ".join(result.keys), tier=t(f"tier.{result.tier}", lang)))
    return 0


def unlink_command(args) -> int:
    """Take B out of A's linked records."""
    from chatops.customers.service import unlink

    lang = language(args)
    result = _run(args, lambda runtime: unlink(runtime.flows, args.a, args.b, actor=_actor(args)))
    if result is None:
        return 1
    print(t("customers.cli.unlinked", lang, b=args.b, keys=", ".join(result.keys)))
    return 0


def export_command(args) -> int:
    """Everything stored about a customer across linked records, as JSON on stdout."""
    from chatops.customers.service import export

    data = _run(args, lambda runtime: export(runtime.flows, args.key, actor=_actor(args)))
    if data is None:
        return 1
    print(json.dumps(data, ensure_ascii=False, indent=2))
    return 0


def erase_command(args) -> int:
    """Erase a customer's text, handles and names everywhere; without --yes, say what would go."""
    from chatops.customers.service import erase

    lang = language(args)
    plan = _run(args, lambda runtime: erase(runtime.flows, args.key, actor=_actor(args), confirm=args.yes))
    if plan is None:
        return 1
    words = dict(customers=", ".join(plan.customers), tickets=", ".join(plan.tickets) or "-",
                 messages=plan.messages, events=plan.events, outbox=plan.outbox)
    if not plan.erased:
        err(t("customers.cli.erase_plan", lang, **words))
        err(t("customers.cli.erase_needs_yes", lang, key=args.key))
        return 1
    print(t("customers.cli.erased", lang, cancelled=plan.cancelled, **words))
    return 0


def parse_moment(value: str, field: str, lang: str) -> datetime | None:
    """An ISO 8601 date or date-time (UTC when it names no zone); None, said, when unreadable."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        err(t("customers.cli.bad_moment", lang, field=field, value=value))
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def audit_command(args) -> int:
    """Audit entries (actions by people, customer-level actions) from --since to --until."""
    from chatops.customers.audit import as_csv, as_json_lines, audit_rows

    lang = language(args)
    since = parse_moment(args.since, "--since", lang)
    until = parse_moment(args.until, "--until", lang) if args.until else None
    if since is None or (args.until and until is None):
        return EXIT_USAGE
    runtime = runtime_or_exit(args)
    try:
        until = until or runtime.clock()
        if until <= since:
            err(t("customers.cli.bad_range", lang, since=args.since, until=until.isoformat()))
            return EXIT_USAGE
        with runtime.session_factory() as session:
            rows = audit_rows(session, since=since, until=until)
    finally:
        runtime.close()
    sys.stdout.write(as_json_lines(rows) if args.json else as_csv(rows))
    return 0
