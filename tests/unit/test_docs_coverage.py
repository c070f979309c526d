"""The docs cover what a person can type or set: every CLI command and option, every setting's
environment variable, every rules.yaml key; and every relative link in README.md and docs/ resolves.

Names are read from the code (the argparse parser, the pydantic settings classes, the rules.yaml
schema models), so a new command, flag, variable or key without documentation fails here with the
list of what is missing. A name counts as documented when it appears in code form (`inline code`
or a fenced block) in README.md or docs/**/*.md.
"""

from __future__ import annotations

import argparse
import importlib
import re
import typing
from pathlib import Path
from urllib.parse import unquote

from pydantic import BaseModel

from chatops.cli import build_parser
from chatops.rules.schema import Rules
from chatops.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

_FENCE = re.compile(r"^( {0,3})(```|~~~).*?^\1\2[ \t]*$", re.MULTILINE | re.DOTALL)
_INDENTED = re.compile(r"(?:^(?: {4}|\t).*\n?)+", re.MULTILINE)
_INLINE = re.compile(r"(`+)(.+?)\1", re.DOTALL)
_LINK = re.compile(r"(?<!\\)\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.MULTILINE)
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.MULTILINE)


def _code_text(pages: list[Path] = PAGES) -> str:
    """Every code span and code block of the documentation, one string."""
    parts = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for match in _FENCE.finditer(text):
            parts.append(match.group(0))
        prose = _FENCE.sub("", text)
        parts += [match.group(0) for match in _INDENTED.finditer(prose)]
        parts += [match.group(2) for match in _INLINE.finditer(prose)]
    return "\n".join(parts)


def _mentioned(name: str, code: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", code) is not None


def _subparsers(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield from action.choices.items()


def cli_commands() -> dict[str, list[str]]:
    """`chatops a b` → its options (hidden ones left out), for every command path."""
    found: dict[str, list[str]] = {}

    def walk(parser: argparse.ArgumentParser, path: list[str]) -> None:
        options = [option for action in parser._actions if action.help != argparse.SUPPRESS
                   for option in action.option_strings if option.startswith("--") and option != "--help"]
        children = list(_subparsers(parser))
        if path:
            found[" ".join(["chatops", *path])] = options
        for name, child in children:
            walk(child, [*path, name])

    walk(build_parser(), [])
    return found


def setting_variables() -> list[str]:
    """The environment variable of every setting: chatops's own and each network's."""
    from integrations.registry import MODULES

    names = [field.validation_alias for field in Settings.model_fields.values()]
    for module_name, class_name in MODULES.values():
        config = getattr(importlib.import_module(module_name), class_name)
        prefix = config.model_config.get("env_prefix", "")
        names += [f"{prefix}{name}".upper() for name in config.model_fields]
    return sorted(set(names))


def _models_in(annotation) -> list[type[BaseModel]]:
    """Pydantic models inside a type annotation (list[X], dict[K, X], X | None, Annotated[X, …])."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in typing.get_args(annotation) for model in _models_in(arg)]


def rules_keys() -> dict[str, set[str]]:
    """Every key rules.yaml may hold → the sections (model names) it appears in."""
    keys: dict[str, set[str]] = {}
    seen: set[type[BaseModel]] = set()

    def walk(model: type[BaseModel], where: str) -> None:
        if model in seen:
            return
        seen.add(model)
        for name, field in model.model_fields.items():
            key = field.alias or name
            path = f"{where}.{key}" if where else key
            keys.setdefault(key, set()).add(path)
            for child in _models_in(field.annotation):
                walk(child, path)

    walk(Rules, "")
    return keys


def test_every_cli_command_and_option_is_documented():
    code = _code_text()
    missing = []
    for command, options in cli_commands().items():
        if command not in code:
            missing.append(command)
        missing += [f"{command} {option}" for option in options if not _mentioned(option, code)]
    assert not missing, f"CLI commands/options not in README.md or docs/: {missing}"


def test_the_command_list_is_read_from_the_parser():
    commands = cli_commands()
    assert "chatops serve" in commands and "--workers" in commands["chatops serve"]
    assert "chatops tickets show" in commands and "chatops integrations check" in commands


def test_every_setting_is_documented():
    code = _code_text()
    names = setting_variables()
    assert "CHATOPS_DATABASE_URL" in names and "LINE_CHANNEL_SECRET" in names
    missing = [name for name in names if not _mentioned(name, code)]
    assert not missing, f"environment variables not in README.md or docs/: {missing}"


def test_every_rules_key_is_documented():
    code = _code_text()
    keys = rules_keys()
    assert {"keyword_rules", "window_minutes", "escalate_after", "min_negative_share"} <= set(keys)
    missing = [f"{key} ({', '.join(sorted(paths))})" for key, paths in sorted(keys.items())
               if not _mentioned(key, code)]
    assert not missing, f"rules.yaml keys not in README.md or docs/: {missing}"


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`|\*\*|__", "", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = _FENCE.sub("", page.read_text(encoding="utf-8"))
    anchors, counts = set(), {}
    for heading in _HEADING.findall(text):
        anchor = _anchor(heading)
        n = counts.get(anchor, 0)
        counts[anchor] = n + 1
        anchors.add(anchor if n == 0 else f"{anchor}-{n}")
    return anchors


def relative_links(pages: list[Path] = PAGES) -> list[tuple[Path, str]]:
    """(page, target) of every link that is not a URL with a scheme, code spans and blocks left out."""
    links = []
    for page in pages:
        text = _FENCE.sub("", page.read_text(encoding="utf-8"))
        text = _INLINE.sub("", text)
        for target in [*_LINK.findall(text), *_REFERENCE.findall(text)]:
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
                continue  # http:, https:, mailto:
            links.append((page, target))
    return links


# Pages other helpers write on their own branches; the lead merges them with this one.
PAGES_MERGED_LATER = {"docs/sla.md", "docs/tickets.md"}


def broken_links(pages: list[Path] = PAGES, root: Path = ROOT) -> list[str]:
    """Links whose file does not exist, or whose #fragment names no heading of a Markdown file."""
    broken = []
    for page, target in relative_links(pages):
        path, _, fragment = target.partition("#")
        resolved = (page.parent / unquote(path)).resolve() if path else page
        relative = resolved.relative_to(root).as_posix() if resolved.is_relative_to(root) else str(resolved)
        if relative in PAGES_MERGED_LATER and not resolved.exists():
            continue
        if not resolved.exists():
            broken.append(f"{page.relative_to(root)}: {target} (no such file)")
        elif fragment and resolved.suffix == ".md" and fragment not in _anchors(resolved):
            broken.append(f"{page.relative_to(root)}: {target} (no heading #{fragment})")
    return broken


def test_every_relative_link_resolves():
    broken = broken_links()
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_the_checks_find_what_is_missing(tmp_path):
    (tmp_path / "docs").mkdir()
    page = tmp_path / "docs" / "page.md"
    page.write_text("# Setting up (step 1)\n\nSet `CHATOPS_PORT`; see [up](#setting-up-step-1), "
                    "[gone](gone.md), [nowhere](#nowhere), [site](https://example.com/x.md) and `[x](code.md)`.\n"
                    "CHATOPS_HOST in prose only.\n\n```yaml\nwindow_minutes: 5\n```\n", encoding="utf-8")
    code = _code_text([page])
    assert _mentioned("CHATOPS_PORT", code) and _mentioned("window_minutes", code)
    assert not _mentioned("CHATOPS_HOST", code)  # prose does not count: names are documented in code form
    assert not _mentioned("window", code)
    assert broken_links([page], tmp_path) == ["docs/page.md: gone.md (no such file)",
                                              "docs/page.md: #nowhere (no heading #nowhere)"]


def _layout_block() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Layout", 1)[1].split("\n## ", 1)[0]
    match = _FENCE.search(section)
    assert match, "README.md's Layout section has no code block"
    return match.group(0)


def test_the_readme_layout_matches_the_tree():
    import subprocess

    block = _layout_block()
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    top = sorted({path.split("/")[0] + ("/" if "/" in path else "") for path in tracked} - {".gitignore"})
    packages = [f"{d.name}/" for base in ("chatops", "tests") for d in sorted((ROOT / base).iterdir())
                if d.is_dir() and not d.name.startswith((".", "__"))
                and any(name.startswith(f"{base}/{d.name}/") for name in tracked)]
    missing = [name for name in [*top, *packages] if not _mentioned(name.rstrip("/"), block)]
    assert not missing, f"README.md's Layout does not name: {missing}"
    named = set(re.findall(r"(?<![\w./-])([a-z][\w-]*)/(?=[\s,(]|$)", block, re.MULTILINE))
    known = {path.rsplit("/", 1)[0].rsplit("/", 1)[-1] for path in tracked if "/" in path}
    known |= {part for path in tracked for part in path.split("/")[:-1]}
    stale = sorted(named - known)
    assert not stale, f"README.md's Layout names folders that do not exist: {stale}"


def test_links_outside_the_repository_are_refused():
    outside = [f"{page.relative_to(ROOT)}: {target}" for page, target in relative_links()
               if not (page.parent / target.partition("#")[0]).resolve().is_relative_to(ROOT)]
    assert not outside, f"links leave the repository: {outside}"
