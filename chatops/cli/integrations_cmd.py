"""`chatops integrations check`: which networks and issue trackers are configured and whether each answers."""

from __future__ import annotations

from chatops.cli.common import EXIT_USAGE, err, language, runtime_or_exit
from chatops.i18n import t


def register(sub, lang: str) -> None:
    """Add `integrations check` to the parser."""
    parser = sub.add_parser("integrations", help=t("cli.help.integrations", lang),
                            description=t("cli.help.integrations", lang))
    actions = parser.add_subparsers(dest="integrations_command", required=True, metavar="ACTION")
    check = actions.add_parser("check", help=t("cli.help.integrations_check", lang),
                               description=t("cli.help.integrations_check", lang))
    check.set_defaults(handler=check_command)


def check_command(args) -> int:
    """Exit 0 when every configured network answers, 1 when one does not, 2 on bad settings."""
    from integrations.registry import Networks, NetworkSettingsError

    lang = language(args)
    runtime = runtime_or_exit(args)
    try:
        try:
            networks = Networks.for_runtime(runtime)
        except NetworkSettingsError as exc:
            for problem in exc.problems:
                err(t("cli.settings_error", lang, message=problem))
            return EXIT_USAGE
        failed = False
        for entry in networks.check():
            if not entry["configured"]:
                print(t("networks.check.off", lang, network=entry["network"]))
            elif entry["reachable"]:
                print(t("networks.check.ok", lang, network=entry["network"], account=entry["account"],
                        detail=entry["detail"]))
            else:
                failed = True
                print(t("networks.check.failed", lang, network=entry["network"], account=entry["account"],
                        detail=entry["detail"]))
        failed = not _check_trackers(runtime, lang) or failed
        if runtime.settings.slack_enabled:
            failed = not _check_slack_handles(runtime, lang) or failed
        return 1 if failed else 0
    finally:
        runtime.close()


def _check_trackers(runtime, lang: str) -> bool:
    """Ask each configured issue tracker (docs/trackers.md) whether it knows our credentials and
    project or repository; True when all answer."""
    from chatops.app import tracker_deliverers

    ok = True
    for name, deliverer in tracker_deliverers(runtime).items():
        try:
            print(t("tracker.check.ok", lang, tracker=t(f"tracker.name.{name}", lang), detail=deliverer.probe()))
        except Exception as exc:  # any failure is the answer we report
            ok = False
            print(t("tracker.check.failed", lang, tracker=t(f"tracker.name.{name}", lang), detail=str(exc)[:300]))
    return ok


def _check_slack_handles(runtime, lang: str) -> bool:
    """Print every rules.yaml person or group Slack does not know; True when all resolve."""
    from chatops.slack.app import make_client
    from chatops.slack.mentions import UserGroups, rules_handles, unresolved

    client = make_client(runtime)
    handles = rules_handles(runtime.rules)
    groups = UserGroups(client)
    missing = set(unresolved([handle for handle, _ in handles], groups, client))
    if groups.error:
        print(t("slack.check.usergroups_unreadable", lang, error=groups.error))
    for handle, where in handles:
        if handle in missing:
            print(t("slack.check.unresolved", lang, handle=handle, where=where))
    if not missing:
        print(t("slack.check.resolved", lang))
    return not missing
