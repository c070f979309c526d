"""Read rules.yaml into a Rules object; every problem is reported as `PATH:LINE: message`.

The YAML is composed into nodes first (they carry line numbers), then constructed into plain
data for pydantic. A pydantic error location such as ('keyword_rules', 3, 'set', 'priority')
is walked back through the nodes to the deepest one that exists: the offending value's line,
or for a missing field the line of the mapping that lacks it.
"""

import difflib
import errno
import functools
import os
import types
import typing
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ValidationError, create_model

from chatops.i18n import catalog
from chatops.rules.checks import Loc, cross_check
from chatops.rules.problems import ByLanguage, RulesProblem, in_english
from chatops.rules.schema import Rules
from chatops.rules.yaml_errors import yaml_problem

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Located:
    """One problem of a rules file: where (path, line, field) and what, said in any language."""

    __slots__ = ("path", "line", "field", "problem")

    def __init__(self, path: str, line: int | None, field: str | None, problem: RulesProblem):
        self.path, self.line, self.field, self.problem = path, line, field, problem

    def render(self, lang: str | None = None) -> str:
        """`PATH:LINE: field: message` (line and field when known)."""
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        field = f"{self.field}: " if self.field else ""
        return f"{where}: {field}{self.problem.render(lang)}"


class RulesError(Exception):
    """rules.yaml cannot be used; `problems` holds one 'PATH:LINE: message' per problem (English),
    `lines(lang)` the same in another language."""

    def __init__(self, problems: list[Located]):
        self.located = problems
        self.problems = [problem.render("en") for problem in problems]
        super().__init__("\n".join(self.problems))

    def lines(self, lang: str | None) -> list[str]:
        """Every problem in `lang`."""
        return [problem.render(lang) for problem in self.located]


def load_rules(path: str | os.PathLike[str]) -> Rules:
    """Load and validate the rules file at path, raising RulesError with every problem found."""
    name = os.fspath(path)
    try:
        with open(name, encoding="utf-8") as file:
            text = file.read()
    except FileNotFoundError:
        raise RulesError([Located(name, None, None, RulesProblem("file_not_found"))]) from None
    except UnicodeDecodeError as exc:
        raise RulesError([Located(name, None, None, RulesProblem("not_utf8", reason=in_english(exc.reason), at=exc.start))]) from None
    except OSError as exc:
        key = {errno.EACCES: "cannot_read_permission", errno.EPERM: "cannot_read_permission",
               errno.EISDIR: "cannot_read_directory"}.get(exc.errno, "cannot_read")
        raise RulesError([Located(name, None, None, RulesProblem(key, error=in_english(exc.strerror)))]) from None
    return parse_rules(text, name)


def parse_rules(text: str, path: str = "<string>") -> Rules:
    """Validate rules given as YAML (or JSON) text; path only labels the problems.

    Shape errors and cross-section checks are reported in one run: the checks run over the
    top-level sections that validated, so fixing the file takes one round, not several."""
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise RulesError([Located(path, mark.line + 1 if mark else 1, None,
                                  yaml_problem(exc.problem, exc.context))]) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow; it knows no line
        line = text.count("\n", 0, exc.position) + 1
        raise RulesError([Located(path, line, None, RulesProblem(
            "yaml_character", detail=in_english(exc.reason), character=f"#x{exc.character:04x}"))]) from None
    except (ValueError, TypeError, AttributeError, OverflowError) as exc:
        # An explicitly tagged scalar its constructor cannot read (`!!int x`, `!!timestamp soon`).
        raise RulesError([Located(path, _unreadable_line(root), None,
                                  RulesProblem("yaml_value", detail=in_english(exc)))]) from None
    finally:
        loader.dispose()
    if root is None:
        raise RulesError([Located(path, 1, None, RulesProblem("empty_file"))])
    if not isinstance(data, dict):
        raise RulesError([Located(path, root.start_mark.line + 1, None, RulesProblem("not_a_mapping"))])

    problems = [Located(path, line, where, problem) for line, where, problem in _duplicate_keys(root)]
    rules = None
    try:
        rules = Rules.model_validate(data)
        located = cross_check(rules)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        located = [(tuple(error["loc"]), describe(error)) for error in errors]
        failed = {str(error["loc"][0]) for error in errors if error["loc"]}
        if all(error["loc"] for error in errors):
            partial = _validated_sections(data, failed)
            if partial is not None:
                located += cross_check(partial, failed)
    for loc, problem in located:
        problems.append(Located(path, _line_of(root, loc), _dotted(loc), problem))
    if problems:
        raise RulesError(sorted(problems, key=lambda item: item.line or 0))
    return rules


def _unreadable_line(root: yaml.Node) -> int:
    """The 1-based line of the first scalar that PyYAML's safe constructor cannot build (else 1)."""
    pending = [root]
    while pending:
        node = pending.pop(0)
        if isinstance(node, yaml.ScalarNode):
            try:
                yaml.SafeLoader("").construct_object(node)
            except (ValueError, TypeError, AttributeError, OverflowError, yaml.YAMLError):
                return node.start_mark.line + 1
        elif isinstance(node, yaml.MappingNode):
            pending.extend(part for pair in node.value for part in pair)
        elif isinstance(node, yaml.SequenceNode):
            pending.extend(node.value)
    return 1


def _validated_sections(data: dict, failed: set[str]) -> Rules | None:
    """The sections of data outside `failed`, validated (a failed required section reads as None)."""
    try:
        return _partial_model().model_validate({key: value for key, value in data.items() if key not in failed})
    except ValidationError:  # a section that validated alone did not with the others missing
        return None


@functools.cache
def _partial_model() -> type[Rules]:
    """Rules with every required section optional, to hold whatever validated."""
    optional = {name: (field.annotation | None, None) for name, field in Rules.model_fields.items()
                if field.is_required()}
    return create_model("PartialRules", __base__=Rules, **optional)


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


def describe(error: dict[str, Any]) -> RulesProblem:
    """Turn one pydantic error into a message for the person editing the file: the error types
    rules.yaml can meet have strings of their own (`rules.pydantic.<type>`); any other keeps
    pydantic's words in English and says "not a valid value" in Japanese."""
    kind, loc = error["type"], error["loc"]
    if kind == "value_error":
        cause = error["ctx"]["error"]
        return cause if isinstance(cause, RulesProblem) else RulesProblem("plain", text=in_english(cause))
    if kind == "missing":
        return RulesProblem("missing")
    if kind == "extra_forbidden":
        allowed = _allowed_fields(loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        if close:
            return RulesProblem("unknown_field_close", close=close[0])
        return RulesProblem("unknown_field", allowed=", ".join(allowed))
    value = error.get("input")
    got = RulesProblem("got", value=value) if isinstance(value, str | int | float | bool) or value is None else ""
    ctx = {name: value if isinstance(value, str | int | float) else str(value)
           for name, value in (error.get("ctx") or {}).items()}
    if "expected" in ctx:  # "'a', 'b' or 'c'": the choices alone, for a language without "or"
        ctx["expected"] = ByLanguage(en=str(ctx["expected"]), ja=str(ctx["expected"]).replace(" or ", ", "))
    if f"rules.pydantic.{kind}" in catalog("en"):
        return RulesProblem(f"pydantic.{kind}", got=got, **ctx)
    return RulesProblem("pydantic_other", message=in_english(error["msg"]), got=got)


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


def _duplicate_keys(root: yaml.Node) -> list[tuple[int, str, RulesProblem]]:
    """Find keys repeated within one mapping (PyYAML silently keeps the last one)."""
    problems: list[tuple[int, str, RulesProblem]] = []
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
                    problems.append((key.start_mark.line + 1, path, RulesProblem("duplicate_key", key=label)))
                seen.add(label)
                pending.append((value, path))
        elif isinstance(node, yaml.SequenceNode):
            pending.extend((item, f"{where}[{index}]") for index, item in enumerate(node.value))
    return problems
