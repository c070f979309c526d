"""The Teams app package `chatops teams package` writes: one zip holding `manifest.json` (Teams app
manifest schema v1.30), the two icons and `ja-jp.json`, the Japanese strings Teams shows to people
whose Teams speaks Japanese. Upload it in Teams (Apps → Manage your apps → Upload an app) or to the
organisation's app catalog; docs/teams.md walks through it.

The manifest names the bot by its Microsoft App ID (`TEAMS_APP_ID`, also the app's id) and allows
the host of `TEAMS_PUBLIC_URL`, where the bot's messaging endpoint `/api/messages` lives. The bot
answers `ticket …`, `oncall …`, `stats …` and `help` (chatops.teams.commands) in channels, group
chats and personal chat, so each scope lists those commands.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from importlib import metadata, resources
from urllib.parse import urlsplit

from chatops.i18n import t

MANIFEST_VERSION = "1.30"
SCHEMA_URL = f"https://developer.microsoft.com/json-schemas/teams/v{MANIFEST_VERSION}/MicrosoftTeams.schema.json"
LOCALIZATION_SCHEMA_URL = (f"https://developer.microsoft.com/json-schemas/teams/v{MANIFEST_VERSION}/"
                           "MicrosoftTeams.Localization.schema.json")
MESSAGES_PATH = "/api/messages"
ACCENT_COLOR = "#2E5AAC"
SCOPES = ("team", "personal", "groupChat")
COMMANDS = ("ticket", "oncall", "stats", "help")
DEFAULT_LANGUAGE_TAG, JAPANESE_TAG = "en-us", "ja-jp"
COLOR_ICON, OUTLINE_ICON, JAPANESE_FILE = "color.png", "outline.png", "ja-jp.json"
ICON_SIZES = {COLOR_ICON: (192, 192), OUTLINE_ICON: (32, 32)}

# Teams' limits on the strings it shows (the manifest schema and its reference page).
LIMITS = {"name.short": 30, "name.full": 100, "description.short": 80, "description.full": 4000,
          "developer.name": 32, "command.title": 32, "command.description": 128}
_GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_SEMVER = re.compile(r"^(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)$")
# A zip's entries carry no clock time, so the same inputs always give the same bytes.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Problem:
    """One thing that stops the package: its message key and parameters."""

    key: str
    params: dict = field(default_factory=dict)

    def message(self, lang: str) -> str:
        """The problem in `lang`."""
        return t(self.key, lang, **self.params)


class PackageProblems(Exception):
    """Everything wrong with the package's inputs (nothing is written)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(problem.message("en") for problem in problems))


@dataclass(frozen=True)
class Developer:
    """Who the app says made it; URLs left None fall back to the public URL."""

    name: str = "chatops"
    website: str | None = None
    privacy: str | None = None
    terms: str | None = None


@dataclass(frozen=True)
class Icon:
    """An icon's PNG bytes and where they came from (a file the person named, or the shipped one)."""

    data: bytes
    source: str
    option: str


def shipped_icon(name: str) -> Icon:
    """The icon drawn by docs/tools/teams_icons.py and shipped in chatops/teams/assets/."""
    data = resources.files("chatops.teams").joinpath("assets", name).read_bytes()
    return Icon(data, f"chatops/teams/assets/{name}", "")


def app_version() -> str:
    """The default app version: chatops's own (Teams wants a higher one for each update)."""
    try:
        return metadata.version("chatops")
    except metadata.PackageNotFoundError:
        return "1.0.0"


def _png(data: bytes):
    """The PNG in `data`, decoded (Pillow, which matplotlib already brings, so a truncated or
    mislabelled file is caught here rather than by Teams); ValueError when it is not a PNG."""
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise ValueError("not a PNG") from None
    if image.format != "PNG":
        raise ValueError("not a PNG")
    return image


def white_on_transparent(image) -> tuple[bool, bool]:
    """(has transparent pixels, every visible pixel is white): what Teams wants of an outline."""
    from PIL import Image

    rgba = image.convert("RGBA")
    alpha = rgba.getchannel("A")
    # Transparent pixels are painted white so only the visible ones can be darker than white.
    seen = Image.composite(rgba, Image.new("RGBA", rgba.size, (255, 255, 255, 255)),
                           alpha.point(lambda value: 255 if value else 0))
    darkest = min(low for low, _high in seen.convert("RGB").getextrema())
    return alpha.getextrema()[0] == 0, darkest >= 240


def _icon_problems(name: str, icon: Icon) -> list[Problem]:
    where = {"option": icon.option or name, "file": icon.source}
    try:
        image = _png(icon.data)
    except ValueError:
        return [Problem("teams.package.icon_not_png", where)]
    want = ICON_SIZES[name]
    if image.size != want:
        return [Problem("teams.package.icon_size", {**where, "size": f"{image.size[0]}×{image.size[1]}",
                                                     "want": f"{want[0]}×{want[1]}"})]
    if name == OUTLINE_ICON:
        clear, white = white_on_transparent(image)
        if not clear:
            return [Problem("teams.package.icon_opaque", where)]
        if not white:
            return [Problem("teams.package.icon_not_white", where)]
    return []


def _url_problems(option: str, value: str | None) -> list[Problem]:
    if value is None or re.match(r"^https?://[^\s/]+\S*$", value, re.IGNORECASE):
        return []
    return [Problem("teams.package.bad_url", {"option": option, "value": value})]


@dataclass(frozen=True)
class AppPackage:
    """What goes into the package; `check()` lists every problem, `manifest()` and
    `localization()` build the two JSON files, `zip_bytes()` the whole package."""

    app_id: str | None
    public_url: str | None
    version: str = field(default_factory=app_version)
    developer: Developer = Developer()
    color_icon: Icon = field(default_factory=lambda: shipped_icon(COLOR_ICON))
    outline_icon: Icon = field(default_factory=lambda: shipped_icon(OUTLINE_ICON))

    @property
    def host(self) -> str:
        """The public URL's host name: the manifest's one valid domain (a domain, so no port)."""
        try:
            return urlsplit(self.public_url or "").hostname or ""
        except ValueError:
            return ""

    @property
    def endpoint(self) -> str:
        """The bot's messaging endpoint, to enter in the bot registration."""
        return (self.public_url or "").rstrip("/") + MESSAGES_PATH

    def check(self) -> list[Problem]:
        """Every reason the package cannot be built, each naming its setting, option or file."""
        problems = []
        if not self.app_id:
            problems.append(Problem("teams.package.missing_app_id"))
        elif not _GUID.match(self.app_id):
            problems.append(Problem("teams.package.bad_app_id", {"value": self.app_id}))
        if not self.public_url:
            problems.append(Problem("teams.package.missing_public_url"))
        elif not self.public_url.lower().startswith("https://") or not self.host:
            problems.append(Problem("teams.package.not_https", {"value": self.public_url}))
        if not _SEMVER.match(self.version):
            problems.append(Problem("teams.package.bad_version", {"value": self.version}))
        if not self.developer.name.strip() or len(self.developer.name) > LIMITS["developer.name"]:
            problems.append(Problem("teams.package.bad_developer", {"value": self.developer.name,
                                                                    "limit": LIMITS["developer.name"]}))
        for option, value in (("--website", self.developer.website), ("--privacy", self.developer.privacy),
                              ("--terms", self.developer.terms)):
            problems += _url_problems(option, value)
        problems += _icon_problems(COLOR_ICON, self.color_icon)
        problems += _icon_problems(OUTLINE_ICON, self.outline_icon)
        for lang in ("en", "ja"):
            problems += _string_problems(lang)
        return problems

    def _developer(self) -> dict:
        home = self.public_url or ""
        return {"name": self.developer.name, "websiteUrl": self.developer.website or home,
                "privacyUrl": self.developer.privacy or home, "termsOfUseUrl": self.developer.terms or home}

    def manifest(self) -> dict:
        """manifest.json, its own strings in English."""
        strings = _strings("en")
        return {
            "$schema": SCHEMA_URL,
            "manifestVersion": MANIFEST_VERSION,
            "version": self.version,
            "id": self.app_id,
            "localizationInfo": {"defaultLanguageTag": DEFAULT_LANGUAGE_TAG,
                                 "additionalLanguages": [{"languageTag": JAPANESE_TAG, "file": JAPANESE_FILE}]},
            "developer": self._developer(),
            "name": {"short": strings["name.short"], "full": strings["name.full"]},
            "description": {"short": strings["description.short"], "full": strings["description.full"]},
            "icons": {"color": COLOR_ICON, "outline": OUTLINE_ICON},
            "accentColor": ACCENT_COLOR,
            "bots": [{
                "botId": self.app_id,
                "scopes": list(SCOPES),
                "supportsFiles": False,
                "isNotificationOnly": False,
                "commandLists": [{"scopes": [scope], "commands": [
                    {"title": name, "description": strings[f"command.{name}"]} for name in COMMANDS]}
                    for scope in SCOPES],
            }],
            "permissions": ["identity", "messageTeamMembers"],
            "validDomains": [self.host],
            "webApplicationInfo": {"id": self.app_id},
            "defaultInstallScope": "team",
        }

    def localization(self, lang: str = "ja") -> dict:
        """The localization file of `lang` (`ja-jp.json`): the manifest's strings by their paths."""
        strings = _strings(lang)
        found = {"$schema": LOCALIZATION_SCHEMA_URL}
        found |= {name: strings[name] for name in ("name.short", "name.full", "description.short",
                                                   "description.full")}
        for index in range(len(SCOPES)):
            for position, name in enumerate(COMMANDS):
                found[f"bots[0].commandLists[{index}].commands[{position}].description"] = strings[f"command.{name}"]
        return found

    def files(self) -> dict[str, bytes]:
        """The package's files by name, in the order they are zipped (PackageProblems first)."""
        problems = self.check()
        if problems:
            raise PackageProblems(problems)

        def encoded(document: dict) -> bytes:
            return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")

        return {"manifest.json": encoded(self.manifest()), COLOR_ICON: self.color_icon.data,
                OUTLINE_ICON: self.outline_icon.data, JAPANESE_FILE: encoded(self.localization("ja"))}

    def zip_bytes(self) -> bytes:
        """The package: every file at the zip's root, as Teams requires."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in self.files().items():
                info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                archive.writestr(info, data)
        return buffer.getvalue()


def _strings(lang: str) -> dict[str, str]:
    """The app's texts in `lang` from the locales (`teams.app.*`)."""
    names = ["name.short", "name.full", "description.short", "description.full",
             *(f"command.{name}" for name in COMMANDS)]
    return {name: t(f"teams.app.{name}", lang) for name in names}


def _string_problems(lang: str) -> list[Problem]:
    problems = []
    for name, text in _strings(lang).items():
        limit = LIMITS["command.description" if name.startswith("command.") else name]
        if len(text) > limit:
            problems.append(Problem("teams.package.too_long", {"field": f"teams.app.{name} ({lang})",
                                                               "limit": limit}))
    return problems
