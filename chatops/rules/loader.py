"""Read rules.yaml into a Rules object; every problem is reported as `PATH:LINE: message`.

The YAML is composed into nodes first (they carry line numbers), then constructed into plain
data for pydantic. A pydantic error location such as ('keyword_rules', 3, 'set', 'priority')
is walked back through the nodes to the deepest one that exists: the offending value's line,
or for a missing field the line of the mapping that lacks it.
"""

import difflib
import os
import types
import typing
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ValidationError

from chatops.rules.checks import Loc, cross_check
from chatops.rules.schema import Rules

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class RulesError(Exception):
    """rules.yaml cannot be used; `problems` holds one 'PATH:LINE: message' per problem."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def load_rules(path: str | os.PathLike[str]) -> Rules:
    """Load and validate the rules file at path, raising RulesError with every problem found."""
    name = os.fspath(path)
    try:
        with open(name, encoding="utf-8") as file:
            text = file.read()
    except FileNotFoundError:
        raise RulesError([f"{name}: file not found"]) from None
    except UnicodeDecodeError as exc:
        raise RulesError([f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})"]) from None
    except OSError as exc:
        raise RulesError([f"{name}: cannot read ({exc.strerror})"]) from None
    return parse_rules(text, name)


def parse_rules(text: str, path: str = "<string>") -> Rules:
    """Validate rules given as YAML (or JSON) text; path only labels the problems."""
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        detail = f"{exc.problem} ({exc.context})" if exc.context else exc.problem
        raise RulesError([f"{path}:{mark.line + 1 if mark else 1}: YAML syntax error: {detail}"]) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow; it knows no line
        line = text.count("\n", 0, exc.position) + 1
        raise RulesError(
            [f"{path}:{line}: YAML syntax error: {exc.reason} (character #x{exc.character:04x})"]
        ) from None
    finally:
        loader.dispose()
    if root is None:
        raise RulesError([f"{path}:1: the file is empty"])
    if not isinstance(data, dict):
        raise RulesError(
            [f"{path}:{root.start_mark.line + 1}: expected a mapping of sections (channels:, ...)"]
        )

    problems = [(line, f"{path}:{line}: {message}") for line, message in _duplicate_keys(root)]
    try:
        rules = Rules.model_validate(data)
        located = cross_check(rules)
    except ValidationError as exc:
        located = [(tuple(error["loc"]), _describe(error)) for error in exc.errors(include_url=False)]
    for loc, message in located:
        line = _line_of(root, loc)
        problems.append((line, f"{path}:{line}: {_dotted(loc)}: {message}"))
    if problems:
        raise RulesError([problem for _, problem in sorted(problems, key=lambda item: item[0])])
    return rules


def _line_of(root: yaml.Node, loc: Loc) -> int:
    """Return the 1-based line of the deepest node on loc (a mapping key's own line for fields)."""
    node, line = root, root.start_mark.line
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            pair = next(((key, value) for key, value in node.value if key.value == str(part)), None)
            if pair is None:
                break
            line, node = pair[0].start_mark.line, pair[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line
        elif part != "[key]":
            break
    return line + 1


def _dotted(loc: Loc) -> str:
    """Format a location as keyword_rules[3].set.priority."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part != "[key]":
            text += f".{part}" if text else str(part)
    return text or "(top level)"


def _describe(error: dict[str, Any]) -> str:
    """Turn one pydantic error into a message for the person editing the file."""
    kind, loc = error["type"], error["loc"]
    if kind == "value_error":
        return str(error["ctx"]["error"])
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        allowed = _allowed_fields(loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        return "unknown field" + (
            f" (did you mean {close[0]!r}?)" if close else f" (allowed: {', '.join(allowed)})"
        )
    value = error.get("input")
    got = f" (got {value!r})" if isinstance(value, str | int | float | bool) or value is None else ""
    return f"{error['msg']}{got}"


def _allowed_fields(loc: Loc) -> list[str]:
    """Return the field names (as written in YAML) of the model found at loc."""
    current: Any = Rules
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            fields = {field.alias or name: field.annotation for name, field in current.model_fields.items()}
            current = fields.get(str(part))
        elif typing.get_origin(current) in (list, dict):
            current = typing.get_args(current)[-1]
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [field.alias or name for name, field in current.model_fields.items()]
    return []


def _unwrap(annotation: Any) -> Any:
    """Strip Annotated[...] and `X | None` down to X."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            annotation = next(arg for arg in typing.get_args(annotation) if arg is not type(None))
        else:
            return annotation


def _duplicate_keys(root: yaml.Node) -> list[tuple[int, str]]:
    """Find keys repeated within one mapping (PyYAML silently keeps the last one)."""
    problems: list[tuple[int, str]] = []
    pending, visited = [(root, "")], set()
    while pending:
        node, where = pending.pop()
        if id(node) in visited:
            continue
        visited.add(id(node))
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key, value in node.value:
                label = key.value if isinstance(key, yaml.ScalarNode) else "?"
                path = f"{where}.{label}" if where else label
                if isinstance(key, yaml.ScalarNode) and label in seen:
                    problems.append((key.start_mark.line + 1, f"{path}: duplicate key {label!r}"))
                seen.add(label)
                pending.append((value, path))
        elif isinstance(node, yaml.SequenceNode):
            pending.extend((item, f"{where}[{index}]") for index, item in enumerate(node.value))
    return problems
