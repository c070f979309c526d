"""A checker of values against AT Protocol lexicons (the subset our records use), so what chatops
sends to Bluesky is held to the schema the PDS validates with: string lengths in UTF-8 bytes and
graphemes (UAX #29), formats, required fields, refs and unions by `$type`."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import regex

HERE = Path(__file__).parent / "lexicons"

_FORMATS = {
    "did": re.compile(r"^did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]$"),
    "handle": re.compile(r"^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$"),
    "nsid": re.compile(r"^[a-zA-Z]([a-zA-Z0-9-]{0,62})?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,62})?)+$"),
    "record-key": re.compile(r"^(?!\.{1,2}$)[a-zA-Z0-9_~.:-]{1,512}$"),
    "cid": re.compile(r"^[a-zA-Z0-9+=]{8,256}$"),
    "at-uri": re.compile(r"^at://[a-zA-Z0-9._:%-]+(/[a-zA-Z0-9.-]+(/[a-zA-Z0-9._~:@!$&')(*+,;=-]+)?)?$"),
    "language": re.compile(r"^(i|[a-z]{2,3})(-[a-zA-Z0-9]+)*$"),
    "uri": re.compile(r"^[a-z][a-z.+-]*:\S+$"),
}
# RFC 3339 with a time zone, as the lexicon's `datetime` format requires.
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def load(nsid: str) -> dict[str, Any]:
    """The lexicon document `nsid` from the vendored copies."""
    return json.loads((HERE / f"{nsid}.json").read_text(encoding="utf-8"))


def problems(ref: str, value: Any) -> list[str]:
    """What is wrong with `value` under the definition `ref` (`nsid` or `nsid#name`); [] when valid.
    A procedure's ref checks its input body; a record's, the record."""
    nsid, _, name = ref.partition("#")
    definition = load(nsid)["defs"][name or "main"]
    if definition["type"] == "procedure":
        definition = definition["input"]["schema"]
    elif definition["type"] == "record":
        definition = definition["record"]
    found: list[str] = []
    _check(definition, value, nsid, "$", found)
    return found


def _resolve(ref: str, nsid: str) -> tuple[dict, str]:
    target_nsid, _, name = (nsid + ref if ref.startswith("#") else ref).partition("#")
    definition = load(target_nsid)["defs"][name or "main"]
    if definition["type"] == "record":
        definition = definition["record"]
    return definition, target_nsid


def _check(schema: dict, value: Any, nsid: str, path: str, found: list[str]) -> None:
    kind = schema["type"]
    if kind == "ref":
        definition, where = _resolve(schema["ref"], nsid)
        _check(definition, value, where, path, found)
    elif kind == "union":
        declared = value.get("$type") if isinstance(value, dict) else None
        refs = {r if "#" in r or not r.startswith("#") else nsid + r: r for r in schema["refs"]}
        wanted = declared if declared in refs else (declared + "#main" if declared else None)
        if not declared or (declared not in refs and wanted not in refs):
            found.append(f"{path}: $type {declared!r} is not one of {sorted(refs)}")
            return
        definition, where = _resolve(refs.get(declared) or refs[wanted], nsid)
        _check(definition, value, where, path, found)
    elif kind == "object":
        if not isinstance(value, dict):
            found.append(f"{path}: expected an object")
            return
        for name in schema.get("required", []):
            if name not in value:
                found.append(f"{path}.{name}: required")
        for name, item in value.items():
            if name in schema.get("properties", {}):
                _check(schema["properties"][name], item, nsid, f"{path}.{name}", found)
    elif kind == "string":
        _check_string(schema, value, path, found)
    elif kind == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            found.append(f"{path}: expected an integer")
        elif value < schema.get("minimum", value) or value > schema.get("maximum", value):
            found.append(f"{path}: {value} outside {schema.get('minimum')}..{schema.get('maximum')}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            found.append(f"{path}: expected a boolean")
    elif kind == "array":
        if not isinstance(value, list):
            found.append(f"{path}: expected an array")
            return
        if len(value) > schema.get("maxLength", len(value)) or len(value) < schema.get("minLength", 0):
            found.append(f"{path}: {len(value)} items, allowed {schema.get('minLength', 0)}..{schema.get('maxLength')}")
        for index, item in enumerate(value):
            _check(schema["items"], item, nsid, f"{path}[{index}]", found)
    elif kind == "unknown":
        if not isinstance(value, dict):
            found.append(f"{path}: expected an object")
        elif "$type" in value:  # a record: check it against its own lexicon when we have it
            declared = value["$type"]
            if (HERE / f"{declared.partition('#')[0]}.json").exists():
                definition, where = _resolve(declared, declared.partition("#")[0])
                _check(definition, value, where, path, found)
        else:
            found.append(f"{path}: an unknown-typed record must carry $type")
    else:
        raise NotImplementedError(f"lexicon type {kind!r} at {path}")


def _check_string(schema: dict, value: Any, path: str, found: list[str]) -> None:
    if not isinstance(value, str):
        found.append(f"{path}: expected a string")
        return
    size = len(value.encode("utf-8"))
    if size > schema.get("maxLength", size) or size < schema.get("minLength", 0):
        found.append(f"{path}: {size} UTF-8 bytes, allowed {schema.get('minLength', 0)}..{schema.get('maxLength')}")
    graphemes = len(regex.findall(r"\X", value))
    if graphemes > schema.get("maxGraphemes", graphemes) or graphemes < schema.get("minGraphemes", 0):
        found.append(f"{path}: {graphemes} graphemes, allowed {schema.get('minGraphemes', 0)}.."
                     f"{schema.get('maxGraphemes')}")
    fmt = schema.get("format")
    if fmt == "datetime":
        ok = bool(_DATETIME.match(value))
        if ok:
            try:
                datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                ok = False
    elif fmt == "at-identifier":
        ok = bool(_FORMATS["did"].match(value) or _FORMATS["handle"].match(value))
    elif fmt in _FORMATS:
        ok = bool(_FORMATS[fmt].match(value))
    else:
        ok = True
    if not ok:
        found.append(f"{path}: {value!r} is not a {fmt}")
