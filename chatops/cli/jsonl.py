"""Read an InboundMessage JSON-lines file for `ingest` and `rules test`, problems in ja or en.

The whole file is read and checked to be UTF-8 before any line is used: a file with one
undecodable line is refused (`FILE:LINE: not UTF-8`, exit 1) and nothing of it is stored,
since half a file in the database is harder to repair than a file to re-encode.
"""

from __future__ import annotations

import json

from chatops.cli.common import EXIT_USAGE, CliExit, err
from chatops.i18n import t

# Words of InboundMessage's own validators, as they are raised there.
_VALIDATOR_WORDS = {"text is empty": "cli.jsonl.text_empty"}
# The json module's reasons, in Japanese (others are shown as the json module words them).
_JSON_JA = {
    "Expecting value": "値がありません",
    "Expecting property name enclosed in double quotes": "項目名は二重引用符で囲みます",
    "Expecting ',' delimiter": "',' がありません",
    "Expecting ':' delimiter": "':' がありません",
    "Extra data": "余分なデータがあります",
    "Unterminated string starting at": "文字列が閉じていません",
    "Invalid control character at": "使えない制御文字があります",
    "Invalid \\escape": "エスケープが正しくありません",
}


def read_jsonl(path: str, lang: str) -> list[tuple[int, object, str | None]]:
    """(line number, InboundMessage, None) per good line and (line number, None, problem) per
    bad one; exit 2 when the file cannot be read and 1 when a line is not UTF-8."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        err(t("cli.jsonl.cannot_read", lang, path=path, error=exc.strerror))
        raise CliExit(EXIT_USAGE) from None
    texts, undecodable = [], []
    for number, line in enumerate(raw.splitlines(keepends=True), start=1):
        try:
            texts.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            undecodable.append(number)
    if undecodable:
        for number in undecodable:
            err(t("cli.jsonl.not_utf8", lang, path=path, line=number))
        err(t("cli.jsonl.nothing_read", lang, path=path))
        raise CliExit(1)
    return list(parse_lines(texts, lang))


def parse_lines(lines, lang: str):
    """(line number, InboundMessage, None) per good line and (line number, None, problem) per bad
    one, problems said in `lang`; blank lines and `#` comments are skipped."""
    from pydantic import ValidationError

    from chatops.inbound import InboundMessage

    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            reason = _JSON_JA.get(exc.msg, exc.msg) if lang == "ja" else exc.msg
            yield number, None, t("cli.jsonl.not_json", lang, message=reason, column=exc.colno)
            continue
        try:
            yield number, InboundMessage.model_validate(data), None
        except ValidationError as exc:
            yield number, None, "; ".join(_problem(error, lang) for error in exc.errors(include_url=False))


def _problem(error: dict, lang: str) -> str:
    """`field: message` for one pydantic error (pydantic's English words in English)."""
    field = ".".join(str(part) for part in error["loc"]) or t("cli.jsonl.whole_line", lang)
    if lang == "en":
        return f"{field}: {error['msg'].removeprefix('Value error, ')}"
    from chatops.rules.loader import describe

    if error["type"] == "extra_forbidden":
        return f"{field}: {t('cli.jsonl.unknown_field', lang)}"
    if error["type"] == "value_error" and str(error["ctx"]["error"]) in _VALIDATOR_WORDS:
        return f"{field}: {t(_VALIDATOR_WORDS[str(error['ctx']['error'])], lang)}"
    return f"{field}: {describe(error).render(lang)}"
