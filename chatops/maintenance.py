"""Planner statistics on a PostgreSQL server whose autovacuum is off.

Without statistics PostgreSQL guesses every equality matches one row, and may then read a hot
lookup through the wrong index (ingest's duplicate check through the (source, conversation_id,
id) index, filtering every message of the network), so ingest slows as the tables grow.

With autovacuum on (PostgreSQL's default) this does nothing. With it off, the scheduler leader
analyses each of our tables once it has changed as much as autovacuum's default rule would
wait for (50 rows + 10% of the table), and says once, at WARNING, that autovacuum is off
(dead rows are not reclaimed either: that is for the operator).
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine, text

from chatops.db import Base

log = logging.getLogger("chatops.maintenance")

# autovacuum_analyze_threshold and autovacuum_analyze_scale_factor, PostgreSQL's defaults
THRESHOLD, SCALE = 50, 0.1

_STALE = text(
    "SELECT relname FROM pg_stat_user_tables WHERE schemaname = current_schema() AND relname = ANY(:tables) "
    "AND n_mod_since_analyze > :threshold + :scale * n_live_tup ORDER BY relname")


class Analyzer:
    """`run()` from the scheduler leader's tick: the tables it analysed (none with autovacuum on)."""

    def __init__(self, engine: Engine, *, autovacuum: bool | None = None) -> None:
        self.engine = engine
        self.autovacuum = autovacuum  # None: asked of the server on first use
        self.tables = sorted(Base.metadata.tables)

    def run(self) -> list[str]:
        if self.engine.dialect.name != "postgresql" or self.autovacuum:
            return []
        with self.engine.connect() as conn:
            if self.autovacuum is None:
                self.autovacuum = conn.scalar(text("SELECT current_setting('autovacuum')")) == "on"
                if not self.autovacuum:
                    log.warning("autovacuum is off on this PostgreSQL server: chatops analyses its own tables as "
                                "they grow, but dead rows are not reclaimed; turn autovacuum on")
            if self.autovacuum:
                return []
            stale = list(conn.scalars(_STALE, {"tables": self.tables, "threshold": THRESHOLD, "scale": SCALE}))
            for table in stale:
                conn.execute(text(f'ANALYZE "{table}"'))  # names from our own metadata, quoted
            conn.commit()
        if stale:
            log.info("analysed %s", ", ".join(stale))
        return stale
