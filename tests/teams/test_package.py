"""`chatops teams package`: the zip Teams uploads, checked offline against Microsoft's own schemas
(teams/v1.30 of github.com/microsoft/json-schemas, the files developer.microsoft.com serves,
MIT): the app manifest and the localization file, the zip's layout and the icons' pixels."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from jsonschema import Draft4Validator, Draft7Validator, validators
from PIL import Image

from chatops.teams import commands as teams_commands
from chatops.teams import package
from tests.helpers import run_cli

HERE = Path(__file__).parent
MANIFEST_SCHEMA = json.loads((HERE / "teams-manifest-1.30.schema.json").read_text("utf-8"))
LOCALIZATION_SCHEMA = json.loads((HERE / "teams-localization-1.30.schema.json").read_text("utf-8"))
# The schemas are draft-04 but use `const` (draft-06), as the validators Teams runs understand it.
Validator = validators.extend(Draft4Validator, {"const": Draft7Validator.VALIDATORS["const"]})
APP_ID = "8f0e6b1c-1b4e-4a53-9d3f-2f5c3c9b7a10"
PUBLIC_URL = "https://chatops.example.test:8443/base"


def schema_errors(schema: dict, document: dict) -> list[str]:
    return [f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
            for error in Validator(schema, format_checker=Draft4Validator.FORMAT_CHECKER).iter_errors(document)]


@pytest.fixture
def env(monkeypatch, tmp_path):
    """A working directory of its own (no .env) and the bot's settings."""
    monkeypatch.chdir(tmp_path)
    for name in ("TEAMS_APP_ID", "TEAMS_PUBLIC_URL", "CHATOPS_LANG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TEAMS_APP_ID", APP_ID)
    monkeypatch.setenv("TEAMS_APP_PASSWORD", "bot-client-secret")  # the bot needs it beside the id
    monkeypatch.setenv("TEAMS_PUBLIC_URL", PUBLIC_URL)
    return tmp_path


def build(capsys, env: Path, *options: str, lang: str = "en") -> tuple[int, str, str, Path]:
    out = env / "chatops-teams.zip"
    code, stdout, stderr = run_cli(capsys, "--lang", lang, "teams", "package", "--out", str(out), *options)
    return code, stdout, stderr, out


def test_the_package_is_what_microsofts_schemas_accept(capsys, env):
    code, stdout, _, out = build(capsys, env)
    assert code == 0
    assert f"bot messaging endpoint {PUBLIC_URL}/api/messages" in stdout and "Upload an app" in stdout
    with zipfile.ZipFile(out) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        files = {name: archive.read(name) for name in names}
    # every file at the root, as Teams requires, and nothing else
    assert sorted(names) == ["color.png", "ja-jp.json", "manifest.json", "outline.png"]
    manifest = json.loads(files["manifest.json"])
    assert schema_errors(MANIFEST_SCHEMA, manifest) == []
    assert manifest["manifestVersion"] == MANIFEST_SCHEMA["properties"]["manifestVersion"]["const"] == "1.30"
    assert manifest["$schema"].endswith("/teams/v1.30/MicrosoftTeams.schema.json")
    assert manifest["id"] == APP_ID and manifest["webApplicationInfo"] == {"id": APP_ID}
    assert manifest["validDomains"] == ["chatops.example.test"]  # a domain: no port, no path
    assert manifest["developer"]["websiteUrl"] == PUBLIC_URL and manifest["developer"]["name"] == "chatops"
    (bot,) = manifest["bots"]
    assert bot["botId"] == APP_ID and bot["supportsFiles"] is False
    assert bot["scopes"] == ["team", "personal", "groupChat"]
    assert [lst["scopes"] for lst in bot["commandLists"]] == [["team"], ["personal"], ["groupChat"]]
    for command_list in bot["commandLists"]:
        assert [command["title"] for command in command_list["commands"]] == ["ticket", "oncall", "stats", "help"]
        for command in command_list["commands"]:
            assert len(command["title"]) <= 32 and 0 < len(command["description"]) <= 128
    # the files the manifest names are in the zip
    assert {manifest["icons"]["color"], manifest["icons"]["outline"]} <= set(names)
    (japanese,) = manifest["localizationInfo"]["additionalLanguages"]
    assert japanese == {"languageTag": "ja-jp", "file": "ja-jp.json"}


def test_the_japanese_file_localizes_names_descriptions_and_commands(capsys, env):
    _, _, _, out = build(capsys, env)
    with zipfile.ZipFile(out) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        strings = json.loads(archive.read("ja-jp.json"))
    assert schema_errors(LOCALIZATION_SCHEMA, strings) == []
    assert strings["$schema"].endswith("/teams/v1.30/MicrosoftTeams.Localization.schema.json")
    assert strings["description.short"] == "SNS のお客さまの投稿をチケットにして、Teams の中で対応します。"
    assert "当番" in strings["bots[0].commandLists[1].commands[1].description"]
    # one Japanese string for every English command description, none left over
    paths = {f"bots[0].commandLists[{i}].commands[{j}].description"
             for i, command_list in enumerate(manifest["bots"][0]["commandLists"])
             for j, _ in enumerate(command_list["commands"])}
    assert {key for key in strings if key.startswith("bots[")} == paths
    # the schema's $ref siblings leave lengths unchecked, so check Teams' limits here
    assert len(strings["name.short"]) <= 30 and len(strings["name.full"]) <= 100
    assert len(strings["description.short"]) <= 80 and len(strings["description.full"]) <= 4000
    assert all(len(strings[path]) <= 128 for path in paths)


def test_icons_are_the_sizes_teams_wants_and_the_outline_is_white_on_transparent(capsys, env):
    _, _, _, out = build(capsys, env)
    with zipfile.ZipFile(out) as archive:
        color = Image.open(io.BytesIO(archive.read("color.png")))
        outline = Image.open(io.BytesIO(archive.read("outline.png")))
    assert color.format == outline.format == "PNG"
    assert color.size == (192, 192) and outline.size == (32, 32)
    pixels = outline.convert("RGBA").get_flattened_data()
    assert all(alpha == 0 or (red, green, blue) == (255, 255, 255) for red, green, blue, alpha in pixels)
    assert {alpha for *_, alpha in pixels} >= {0, 255}  # a shape, not an empty or filled square
    assert package.white_on_transparent(outline) == (True, True)


def test_the_same_inputs_give_the_same_bytes(capsys, env):
    _, _, _, out = build(capsys, env)
    first = out.read_bytes()
    out.unlink()
    build(capsys, env)
    assert out.read_bytes() == first


def test_every_command_in_the_manifest_is_one_the_bot_answers(capsys, env):
    _, _, _, out = build(capsys, env)
    with zipfile.ZipFile(out) as archive:
        titles = {command["title"] for command in json.loads(archive.read("manifest.json"))["bots"][0]
                  ["commandLists"][0]["commands"]}
    assert titles == set(teams_commands.TOP_WORDS)


def test_developer_and_version_options_reach_the_manifest(capsys, env):
    code, _, _, out = build(capsys, env, "--app-version", "2.3.4", "--developer", "Acme Support",
                            "--website", "https://acme.example/support", "--privacy", "https://acme.example/privacy",
                            "--terms", "https://acme.example/terms")
    assert code == 0
    with zipfile.ZipFile(out) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["version"] == "2.3.4"
    assert manifest["developer"] == {"name": "Acme Support", "websiteUrl": "https://acme.example/support",
                                     "privacyUrl": "https://acme.example/privacy",
                                     "termsOfUseUrl": "https://acme.example/terms"}
    assert schema_errors(MANIFEST_SCHEMA, manifest) == []


def test_own_icons_replace_the_shipped_ones(capsys, env):
    Image.new("RGB", (192, 192), (200, 30, 30)).save(env / "mine.png")
    Image.new("RGBA", (32, 32), (255, 255, 255, 0)).save(env / "mine-outline.png")
    code, _, _, out = build(capsys, env, "--color-icon", str(env / "mine.png"),
                            "--outline-icon", str(env / "mine-outline.png"))
    assert code == 0
    with zipfile.ZipFile(out) as archive:
        assert archive.read("color.png") == (env / "mine.png").read_bytes()
        assert archive.read("outline.png") == (env / "mine-outline.png").read_bytes()


@pytest.mark.parametrize("lang, missing", [
    ("en", ["TEAMS_APP_ID is not set", "TEAMS_PUBLIC_URL is not set"]),
    ("ja", ["TEAMS_APP_ID が設定されていません", "TEAMS_PUBLIC_URL が設定されていません"]),
])
def test_missing_settings_are_named_and_nothing_is_written(capsys, env, monkeypatch, lang, missing):
    monkeypatch.delenv("TEAMS_APP_ID")
    monkeypatch.delenv("TEAMS_APP_PASSWORD")
    monkeypatch.delenv("TEAMS_PUBLIC_URL")
    code, stdout, stderr, out = build(capsys, env, lang=lang)
    assert code == 2 and stdout == ""
    assert all(f"chatops teams package: {words}" in stderr for words in missing)
    assert list(env.iterdir()) == []


def test_bad_settings_and_options_are_each_named(capsys, env, monkeypatch):
    monkeypatch.setenv("TEAMS_APP_ID", "chatops-bot")
    monkeypatch.setenv("TEAMS_PUBLIC_URL", "http://chatops.example.test")
    Image.new("RGB", (100, 100)).save(env / "small.png")
    Image.new("RGB", (32, 32), (255, 255, 255)).save(env / "opaque.png")
    grey = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    grey.paste((128, 128, 128, 255), (8, 8, 24, 24))
    grey.save(env / "grey.png")
    (env / "notes.txt").write_text("not an image", "utf-8")
    code, _, stderr, out = build(capsys, env, "--app-version", "1.0", "--privacy", "privacy.html",
                                 "--color-icon", str(env / "small.png"), "--outline-icon", str(env / "opaque.png"))
    assert code == 2 and not out.exists()
    assert "TEAMS_APP_ID must be a GUID" in stderr and "“chatops-bot”" in stderr
    assert "TEAMS_PUBLIC_URL must be an https:// address" in stderr
    assert "--app-version must be three numbers such as 1.0.0, not “1.0”" in stderr
    assert "--privacy must be an http(s) URL, not “privacy.html”" in stderr
    assert f"--color-icon: {env / 'small.png'} is 100×100; Teams wants 192×192." in stderr
    assert f"--outline-icon: {env / 'opaque.png'} has no transparency" in stderr
    code, _, stderr, _ = build(capsys, env, "--color-icon", str(env / "notes.txt"),
                               "--outline-icon", str(env / "gone.png"), lang="ja")
    assert code == 2
    assert f"--color-icon: {env / 'notes.txt'} は PNG ファイルではありません。" in stderr
    assert f"--outline-icon: {env / 'gone.png'} を読めません" in stderr
    (env / "cut.png").write_bytes((env / "small.png").read_bytes()[:40])  # a PNG cut short
    code, _, stderr, _ = build(capsys, env, "--color-icon", str(env / "cut.png"),
                               "--outline-icon", str(env / "grey.png"))
    assert code == 2 and f"--color-icon: {env / 'cut.png'} is not a PNG file." in stderr
    assert f"--outline-icon: {env / 'grey.png'} is not white" in stderr


def test_an_unwritable_place_fails_without_a_partial_zip(capsys, env):
    code, _, stderr = run_cli(capsys, "teams", "package", "--out", str(env / "missing-dir" / "app.zip"))
    assert code == 1 and f"Cannot write {env / 'missing-dir' / 'app.zip'}" in stderr
    assert list(env.iterdir()) == []


def test_japanese_runs_leave_no_english(capsys, env, monkeypatch):
    from tests.unit.test_cli_japanese import ALLOWED, english_words, parser_words

    # product names, as Teams and Azure show them in Japanese, and the command's own words
    names = ALLOWED | parser_words() | {"guid", "microsoft", "azure", "bot"}
    code, stdout, _, _ = build(capsys, env, lang="ja")
    assert code == 0 and "を書き出しました" in stdout and english_words(stdout, names) == []
    monkeypatch.delenv("TEAMS_APP_ID")
    monkeypatch.delenv("TEAMS_APP_PASSWORD")
    monkeypatch.setenv("TEAMS_PUBLIC_URL", "http://chatops.example.test")
    code, _, stderr, _ = build(capsys, env, "--app-version", "v1", "--developer", "x" * 40, lang="ja")
    assert code == 2 and len(stderr.splitlines()) == 4 and english_words(stderr, names | {"x" * 40}) == []
