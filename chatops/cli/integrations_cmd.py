"""`chatops integrations check`: which networks are configured and whether each answers."""

from __future__ import annotations

from chatops.cli.common import EXIT_USAGE, err, language, runtime_or_exit
from chatops.i18n import t


def register(sub) -> None:
    """Add `integrations check` to the parser."""
    parser = sub.add_parser("integrations", help="social network integrations")
    actions = parser.add_subparsers(dest="integrations_command", required=True, metavar="ACTION")
    check = actions.add_parser("check", help="say which networks are configured and reachable")
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
        return 1 if failed else 0
    finally:
        runtime.close()
