"""Removing a customer's words from wherever they were copied: any text or JSON column of any
table, matched case-insensitively, including JSON's `\\uXXXX` spelling of non-ASCII text."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import JSON, MetaData, String, Table, Text, cast, or_, select, update
from sqlalchemy.orm import Session

from chatops.tickets.record import UnitOfWork

ERASED = "[erased]"
# Shorter fragments are cleared where they are stored but not searched for elsewhere: a
# two-letter name would otherwise wipe every word that contains it.
MIN_SECRET = 4


def secrets_of(values: Iterable[str | None]) -> list[str]:
    """The distinct strings worth searching for, longest first (so a text goes before its words)."""
    found = set()
    for value in values:
        if not value:
            continue
        for form in (value, " ".join(value.split()), value.removesuffix("…"), value.removeprefix("@")):
            form = form.strip()
            if len(form) >= MIN_SECRET and form != ERASED:
                found.add(form)
    return sorted(found, key=lambda s: (-len(s), s))


def pattern_of(secrets: list[str]) -> re.Pattern[str] | None:
    """One case-insensitive regex matching any secret as a whole token: not inside a longer run of
    ASCII letters, digits or `_` (a user id `12345` leaves the post id `9123456` alone, the handle
    `hanako` leaves `hanako_fan`), while text in any script matches wherever it appears."""
    if not secrets:
        return None
    return re.compile(r"(?<![A-Za-z0-9_])(?:" + "|".join(re.escape(s) for s in secrets) + r")(?![A-Za-z0-9_])",
                      re.IGNORECASE)


def scrub(value: Any, pattern: re.Pattern[str] | None, exact: frozenset[str] = frozenset()) -> Any:
    """`value` (a string or JSON-like data, keys too) with every match replaced by ERASED; a
    string equal to one of `exact` (short ids the pattern leaves alone) goes whole."""
    if isinstance(value, str):
        return ERASED if value in exact else pattern.sub(ERASED, value) if pattern is not None else value
    if isinstance(value, list):
        return [scrub(item, pattern, exact) for item in value]
    if isinstance(value, dict):
        return {scrub(k, pattern, exact): scrub(v, pattern, exact) for k, v in value.items()}
    return value


def sweep(uow: UnitOfWork, secrets: list[str], *, skip: frozenset[str] = frozenset({"alembic_version"})) -> int:
    """Replace every secret in every text and JSON column of every table of the database (read
    from the database itself, so a table no model of this process knows is swept too); rows changed."""
    pattern = pattern_of(secrets)
    if pattern is None:
        return 0
    changed = 0
    schema = MetaData()
    schema.reflect(bind=_connection(uow))
    for table in schema.sorted_tables:
        if table.name in skip:
            continue
        for column in table.columns:
            if isinstance(column.type, JSON):
                changed += _sweep_column(uow, table, column, secrets, pattern, json_column=True)
            elif isinstance(column.type, (String, Text)):
                changed += _sweep_column(uow, table, column, secrets, pattern, json_column=False)
    return changed


def _connection(uow: UnitOfWork):
    """The Core connection of the unit of work's transaction."""
    return uow.db.connection() if isinstance(uow.db, Session) else uow.db


def _sweep_column(uow: UnitOfWork, table: Table, column, secrets: list[str], pattern, *, json_column: bool) -> int:
    haystack = cast(column, Text) if json_column else column
    needles = set(secrets)
    if json_column:  # stored by json.dumps: non-ASCII as \uXXXX, quotes and backslashes escaped
        needles |= {json.dumps(s)[1:-1] for s in secrets}
    keys = list(table.primary_key.columns)
    rows = uow.execute(select(*keys, column).where(or_(*(haystack.icontains(n, autoescape=True)
                                                         for n in sorted(needles))))).all()
    for row in rows:
        *key_values, value = row
        uow.execute(update(table).where(*(k == v for k, v in zip(keys, key_values, strict=True)))
                    .values({column.name: scrub(value, pattern)}))
    return len(rows)
