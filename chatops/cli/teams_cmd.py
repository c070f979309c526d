"""`chatops teams package --out FILE.zip`: the Teams app package (chatops.teams.package)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from chatops.cli.common import EXIT_USAGE, err, language, settings_or_exit
from chatops.i18n import t


def register(sub, lang: str) -> None:
    """Add `teams package` to the parser."""
    def h(key: str) -> str:
        return t(f"cli.help.{key}", lang)

    parser = sub.add_parser("teams", help=h("teams"), description=h("teams"))
    actions = parser.add_subparsers(dest="teams_command", required=True, metavar="ACTION")
    package = actions.add_parser("package", help=h("teams_package"), description=h("teams_package"))
    package.add_argument("--out", required=True, metavar="FILE.zip", help=h("teams_out"))
    package.add_argument("--app-version", metavar="X.Y.Z", help=h("teams_app_version"))
    package.add_argument("--developer", metavar="NAME", help=h("teams_developer"))
    package.add_argument("--website", metavar="URL", help=h("teams_website"))
    package.add_argument("--privacy", metavar="URL", help=h("teams_privacy"))
    package.add_argument("--terms", metavar="URL", help=h("teams_terms"))
    package.add_argument("--color-icon", metavar="PNG", help=h("teams_color_icon"))
    package.add_argument("--outline-icon", metavar="PNG", help=h("teams_outline_icon"))
    package.set_defaults(handler=package_command)


def package_command(args) -> int:
    """Write the zip; exit 2 listing every missing setting or bad option (nothing written), 1
    when the file cannot be written."""
    from chatops.teams import package as app

    lang = language(args)
    settings = settings_or_exit(args)
    problems: list[app.Problem] = []
    icons = {}
    for name, option, given in ((app.COLOR_ICON, "--color-icon", args.color_icon),
                                (app.OUTLINE_ICON, "--outline-icon", args.outline_icon)):
        if given is None:
            icons[name] = app.shipped_icon(name)
            continue
        try:
            icons[name] = app.Icon(Path(given).read_bytes(), given, option)
        except OSError as exc:
            problems.append(app.Problem("teams.package.icon_unreadable",
                                        {"option": option, "file": given, "reason": exc.strerror or exc}))
            icons[name] = app.shipped_icon(name)
    developer = app.Developer(**{name: value for name, value in (
        ("name", args.developer), ("website", args.website), ("privacy", args.privacy),
        ("terms", args.terms)) if value is not None})
    package = app.AppPackage(app_id=settings.teams_app_id, public_url=settings.teams_public_url,
                             version=args.app_version or app.app_version(), developer=developer,
                             color_icon=icons[app.COLOR_ICON], outline_icon=icons[app.OUTLINE_ICON])
    problems += package.check()
    if problems:
        for problem in problems:
            err(t("teams.package.problem", lang, message=problem.message(lang)))
        return EXIT_USAGE
    out = Path(args.out)
    try:
        _write_whole(out, package.zip_bytes())
    except OSError as exc:
        err(t("teams.package.write_failed", lang, path=args.out, reason=exc.strerror or exc))
        return 1
    print(t("teams.package.written", lang, path=args.out, app_id=package.app_id, version=package.version,
            manifest=app.MANIFEST_VERSION, endpoint=package.endpoint))
    print(t("teams.package.next", lang))
    return 0


def _write_whole(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file beside it, so a failed write leaves no
    half a zip for someone to upload."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent if str(path.parent) else ".")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
