"""Hot-path statements run straight on the driver cursor.

SQLAlchemy Core spends about 80 µs per `conn.execute` of an already compiled statement (cache
lookup, execution context, parameter and result processing objects, events); SQLite then needs
2–30 µs to run it. Ingest runs a dozen statements per message, so that overhead alone would cap
a process at a few hundred messages per second.

`run(conn, stmt, params)` compiles a module-level Core statement once per dialect (and per set
of INSERT/UPDATE columns), keeps its SQL text and SQLAlchemy's own bind and result processors
(so dates, JSON and our UTCDateTime go in and come out exactly as through `conn.execute`), and
executes it on the DBAPI cursor of the connection's current transaction.

Only for statements built once at import time: the cache is keyed by the statement object.
Statements with Python-side column defaults must be given every column (`prepare` raises
otherwise), since the execution context that would fill them in is skipped.
"""

from __future__ import annotations

import threading
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement, Insert

from chatops.db import UTCDateTime, sqlite_utc_text


class _Form:
    """One statement compiled for one dialect and one set of supplied columns."""

    __slots__ = ("sql", "order", "positional", "processors", "fixed", "row", "readers", "gather", "processed")

    def __init__(self, stmt: ClauseElement, dialect, keys: tuple[str, ...] | None) -> None:
        compiled = stmt.compile(dialect=dialect, column_keys=list(keys) if keys is not None else None)
        missing = [c.key for c in (*compiled.insert_prefetch, *compiled.update_prefetch)
                   if keys is None or c.key not in keys]
        if missing:
            raise ValueError(f"fastsql: supply {missing} explicitly (Python-side defaults are not applied)")
        self.sql: str = compiled.string
        self.positional: bool = bool(compiled.positional)
        self.order: list[str] = list(compiled.positiontup) if compiled.positional else list(compiled.binds)
        processors = compiled._bind_processors
        self.processors: dict[str, Callable] = {name: processors[name] for name in self.order if name in processors}
        if dialect.name == "sqlite":  # UTCDateTime then DATETIME: two Python steps per date, fused into one
            for name in self.order:
                bind = compiled.binds.get(name)
                if bind is not None and isinstance(bind.type, UTCDateTime):
                    self.processors[name] = sqlite_utc_text
        # Parameters are gathered in one C call; only those with a processor get a Python step.
        self.gather = itemgetter(*self.order) if len(self.order) > 1 else None
        self.processed = [(index, self.processors[name]) for index, name in enumerate(self.order)
                          if name in self.processors]
        # Literals written into the statement (`== "inbound"`, LIMIT 1) keep their compiled values.
        self.fixed: dict[str, Any] = {name: bind.effective_value for name, bind in compiled.binds.items()
                                      if not bind.required and bind.callable is None}
        columns = compiled._result_columns
        self.row = namedtuple("Row", [c[0] for c in columns], rename=True) if columns else None
        self.readers = [(index, reader) for index, column in enumerate(columns)
                        if (reader := column[3]._cached_result_processor(dialect, None)) is not None]

    def params(self, values: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        merged = {**self.fixed, **values} if self.fixed else values
        if self.gather is not None:
            out = list(self.gather(merged))
        else:
            out = [merged[name] for name in self.order]
        for index, process in self.processed:
            value = out[index]
            if value is not None:
                out[index] = process(value)
        if self.positional:
            return out
        return dict(zip(self.order, out, strict=True))

    def convert(self, raw: Sequence[Any]):
        if not self.readers:
            return self.row._make(raw)
        values = list(raw)
        for index, reader in self.readers:
            values[index] = reader(values[index])
        return self.row._make(values)


_forms: dict[tuple[int, str, tuple[str, ...] | None], _Form] = {}
_keep: dict[int, ClauseElement] = {}  # statements cached here stay alive, so their ids stay unique
_lock = threading.Lock()


def prepare(stmt: ClauseElement, dialect, keys: tuple[str, ...] | None = None) -> _Form:
    """The compiled form of `stmt` (cached)."""
    cache_key = (id(stmt), dialect.name, keys)
    form = _forms.get(cache_key)
    if form is None:
        with _lock:
            form = _forms.get(cache_key) or _Form(stmt, dialect, keys)
            _forms[cache_key] = form
            _keep[id(stmt)] = stmt
    return form


class Result:
    """The cursor of one execution: rows come out processed, as named tuples."""

    __slots__ = ("cursor", "form")

    def __init__(self, cursor, form: _Form) -> None:
        self.cursor, self.form = cursor, form

    def first(self):
        raw = self.cursor.fetchone()
        return self.form.convert(raw) if raw is not None else None

    def one(self):
        row = self.first()
        if row is None:
            raise LookupError("fastsql: no row")
        return row

    def scalar(self):
        row = self.first()
        return row[0] if row is not None else None

    def all(self) -> list:
        return [self.form.convert(raw) for raw in self.cursor.fetchall()]

    def scalars(self) -> list:
        return [row[0] for row in self.all()]


def run(conn: Connection, stmt: ClauseElement, params: Mapping[str, Any] | None = None, *,
        columns: bool = False) -> Result:
    """Execute `stmt` with `params` on the connection's transaction. For INSERT/UPDATE whose
    values come from `params`, pass `columns=True`: the statement is compiled for those keys."""
    params = params or {}
    form = prepare(stmt, conn.dialect, tuple(sorted(params)) if columns else None)
    cursor = conn.connection.driver_connection.cursor()
    values = form.params(params)
    try:
        cursor.execute(form.sql, values)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise _wrapped(conn, form, values, exc) from exc
    return Result(cursor, form)


def run_many(conn: Connection, stmt: ClauseElement, rows: Sequence[Mapping[str, Any]]) -> None:
    """executemany of an INSERT/UPDATE over rows that all have the same keys."""
    if not rows:
        return
    keys = tuple(sorted(rows[0]))
    if 1 < len(rows) <= _MULTI_VALUES and isinstance(stmt, Insert) and conn.dialect.name == "postgresql":
        # psycopg's executemany enters pipeline mode: about 125 µs of CPU for three rows, where
        # one INSERT … VALUES (…), (…), (…) takes 40 (ingest writes two to four such rows per
        # message: flood hits, coalesced Slack updates, tags).
        run(conn, _multi_values(stmt, keys, len(rows)),
            {f"{key}_{index}": row[key] for index, row in enumerate(rows) for key in keys})
        return
    form = prepare(stmt, conn.dialect, keys)
    cursor = conn.connection.driver_connection.cursor()
    values = [form.params(row) for row in rows]
    try:
        cursor.executemany(form.sql, values)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise _wrapped(conn, form, values, exc) from exc
    finally:
        cursor.close()


_MULTI_VALUES = 16
_multi: dict[tuple[int, tuple[str, ...], int], Insert] = {}


def _multi_values(stmt: Insert, keys: tuple[str, ...], count: int) -> Insert:
    """`stmt` with `count` rows of VALUES, bound as `<key>_<row>` (built once per shape)."""
    cache_key = (id(stmt), keys, count)
    multi = _multi.get(cache_key)
    if multi is None:
        with _lock:
            multi = _multi.get(cache_key)
            if multi is None:
                columns = stmt.table.c  # typed binds: SQLAlchemy types only the first row's by itself
                multi = stmt.values([{key: bindparam(f"{key}_{index}", type_=columns[key].type) for key in keys}
                                     for index in range(count)])
                _multi[cache_key] = multi
                _keep[id(stmt)] = stmt
    return multi


def _wrapped(conn: Connection, form: _Form, values, exc: Exception) -> DBAPIError:
    """The driver's error as SQLAlchemy raises it (IntegrityError, OperationalError, …), so
    callers catch the same exceptions on both paths."""
    return DBAPIError.instance(form.sql, values, exc, conn.dialect.loaded_dbapi.Error,
                               dialect=conn.dialect)


def execute(db, stmt: ClauseElement, params: Mapping[str, Any] | None = None, *, columns: bool = False):
    """`run` on a Core Connection (ingest's hot path); plain `db.execute` on an ORM Session, so
    code shared by both paths (listeners, projectors) can call one function."""
    if isinstance(db, Connection):
        return run(db, stmt, params, columns=columns)
    return db.execute(stmt, params or {})


def execute_many(db, stmt: ClauseElement, rows: Sequence[Mapping[str, Any]]) -> None:
    """`run_many` on a Core Connection, `db.execute(stmt, rows)` on a Session."""
    if isinstance(db, Connection):
        run_many(db, stmt, rows)
    elif rows:
        db.execute(stmt, list(rows))
