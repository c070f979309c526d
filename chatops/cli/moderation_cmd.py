"""`chatops moderation stored [--json]`: how many comments rules.yaml `moderation:` screens hid
and kept without a ticket, so nothing a screen caught is lost from sight."""

from __future__ import annotations

import json

from chatops.cli.common import language, runtime_or_exit
from chatops.i18n import t


def register(sub, lang: str) -> None:
    """Add `moderation` to the parser."""
    moderation = sub.add_parser("moderation", help=t("cli.moderation.help", lang),
                                description=t("cli.moderation.help", lang))
    actions = moderation.add_subparsers(dest="moderation_command", required=True, metavar="ACTION")
    stored = actions.add_parser("stored", help=t("cli.moderation.stored.help", lang),
                                description=t("cli.moderation.stored.help", lang))
    stored.add_argument("--json", action="store_true", help=t("cli.moderation.stored.json", lang))
    stored.set_defaults(handler=stored_command)


def stored_command(args) -> int:
    """Print the count per network (or JSON)."""
    from chatops.tickets.moderation import stored_count

    lang = language(args)
    runtime = runtime_or_exit(args)
    try:
        with runtime.session_factory() as session:
            counts = stored_count(session)
    finally:
        runtime.close()
    if args.json:
        print(json.dumps(counts, ensure_ascii=False))
    elif not counts:
        print(t("cli.moderation.stored.none", lang))
    for network, count in sorted(counts.items()) if not args.json else ():
        print(t("cli.moderation.stored.line", lang, network=network, count=count["stored"]))
        if count["hide_failed"]:  # a screen's hide Meta refused: the comment is still visible there
            print(t("cli.moderation.stored.failed", lang, network=network, count=count["hide_failed"]))
    return 0
