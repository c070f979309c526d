"""Stats tables: one fact row per ticket and two daily rollups derived from it.

Why rollups: `/stats 30d` over a million tickets must answer in well under a second, and even
an index-only aggregate over the ~80,000 ticket rows of 30 days costs about a second on SQLite.
The rollups hold, per local day, counters (`stats_daily`) and a duration histogram
(`stats_durations`) for each filter a person can ask for (everything, one channel, network,
agent or tag) and each breakdown a figure shows (priority/tier, agent, tag, keyword), so a
period costs a few thousand small rows. They are kept exact, in the same transaction as every
ticket event, by `chatops.stats.projector`: a ticket's fact row is recomputed, its old
contribution subtracted and the new one added.
"""

from __future__ import annotations

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from chatops.db import Base
from chatops.tickets.models import Id


class StatsFact(Base):
    """What one ticket contributes to the rollups, as last projected (to subtract it on change)."""

    __tablename__ = "stats_facts"

    ticket_id: Mapped[int] = mapped_column(Id, ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(80))
    priority: Mapped[str] = mapped_column(String(16))
    tier: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(32))
    assignee: Mapped[str] = mapped_column(String(64))  # '' when nobody holds it
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_day: Mapped[int] = mapped_column(Integer)  # date.toordinal() in the team's time zone
    fr_day: Mapped[int | None] = mapped_column(Integer)
    fr_wall: Mapped[int | None] = mapped_column(Integer)  # whole minutes
    fr_business: Mapped[int | None] = mapped_column(Integer)
    fr_sla: Mapped[int | None] = mapped_column(Integer)  # None: no deadline, 0 met, 1 breached
    res_day: Mapped[int | None] = mapped_column(Integer)
    res_wall: Mapped[int | None] = mapped_column(Integer)
    res_business: Mapped[int | None] = mapped_column(Integer)
    res_sla: Mapped[int | None] = mapped_column(Integer)
    csat_requested_day: Mapped[int | None] = mapped_column(Integer)
    csat_day: Mapped[int | None] = mapped_column(Integer)
    csat_score: Mapped[int | None] = mapped_column(Integer)


COUNTERS = ("created", "resolved", "reopened", "fr_count", "fr_sum", "fr_met", "fr_breached",
            "res_sum", "res_met", "res_breached", "esc_l2", "esc_l3", "csat_requested", "csat_count",
            "csat_sum")


class StatsDaily(Base):
    """Counters per local day × filter (`fdim`/`fval`) × breakdown (`gdim`/`gval`)."""

    __tablename__ = "stats_daily"
    # SQLite: rows stored in primary-key order, so a period is one contiguous range read.
    __table_args__ = {"sqlite_with_rowid": False}

    fdim: Mapped[str] = mapped_column(String(16), primary_key=True)
    fval: Mapped[str] = mapped_column(String(80), primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    gdim: Mapped[str] = mapped_column(String(16), primary_key=True)
    gval: Mapped[str] = mapped_column(String(80), primary_key=True)
    created: Mapped[int] = mapped_column(Integer, default=0)
    resolved: Mapped[int] = mapped_column(Integer, default=0)
    reopened: Mapped[int] = mapped_column(Integer, default=0)
    fr_count: Mapped[int] = mapped_column(Integer, default=0)
    fr_sum: Mapped[int] = mapped_column(Integer, default=0)  # wall minutes, for means
    fr_met: Mapped[int] = mapped_column(Integer, default=0)
    fr_breached: Mapped[int] = mapped_column(Integer, default=0)
    res_sum: Mapped[int] = mapped_column(Integer, default=0)
    res_met: Mapped[int] = mapped_column(Integer, default=0)
    res_breached: Mapped[int] = mapped_column(Integer, default=0)
    esc_l2: Mapped[int] = mapped_column(Integer, default=0)
    esc_l3: Mapped[int] = mapped_column(Integer, default=0)
    csat_requested: Mapped[int] = mapped_column(Integer, default=0)
    csat_count: Mapped[int] = mapped_column(Integer, default=0)
    csat_sum: Mapped[int] = mapped_column(Integer, default=0)


class StatsDuration(Base):
    """Histogram of durations (minutes, stepped; see `chatops.stats.buckets`) per local day ×
    filter × metric (`frw`, `frb`, `rsw`, `rsb`: first response / resolution, wall / business)."""

    __tablename__ = "stats_durations"
    __table_args__ = {"sqlite_with_rowid": False}

    fdim: Mapped[str] = mapped_column(String(16), primary_key=True)
    fval: Mapped[str] = mapped_column(String(80), primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    metric: Mapped[str] = mapped_column(String(4), primary_key=True)
    minutes: Mapped[int] = mapped_column(Integer, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
