"""Saved views: each agent's own ticket filters (channels, priorities, tags, levels, statuses,
mine/unassigned/anyone, overdue only), counted in full by one COUNT query each and listed on
App Home and by `/ticket views`. Every filter is a plain column test the tickets' indexes serve
(status IN the open statuses rather than "not resolved", so the status and channel indexes apply)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chatops.errors import DomainError
from chatops.rules import Rules
from chatops.sla.state import overdue_clause
from chatops.tickets.models import LEVELS, PRIORITIES, STATUSES, SavedView, SavedViewUser, Ticket, TicketTag
from chatops.views import TicketView, views_of

MAX_VIEWS = 10  # per agent: what App Home lists within Slack's 100 blocks beside its own lists
NAME_LIMIT = 40
ASSIGNEES = ("anyone", "mine", "unassigned")
OPEN_STATUSES = tuple(status for status in STATUSES if status != "resolved")
_RANK = {"red": 0, "orange": 1, "green": 2}
DEFAULTS = (("mine", {"assignee": "mine"}), ("unassigned", {"assignee": "unassigned"}),
            ("overdue", {"overdue": True}))


class SavedViewError(DomainError):
    """A saved view that cannot be stored as asked; `field` names the form field it is about."""

    key = "savedviews.error.generic"
    field = "name"


class ViewNameTaken(SavedViewError):
    key = "savedviews.error.name_taken"


class ViewNameMissing(SavedViewError):
    key = "savedviews.error.name_missing"


class ViewNameTooLong(SavedViewError):
    key = "savedviews.error.name_too_long"


class TooManyViews(SavedViewError):
    key = "savedviews.error.too_many"


class UnknownFilterValue(SavedViewError):
    """A filter names a channel (priority, level, status) rules.yaml does not have (any more)."""

    key = "savedviews.error.unknown_value"

    def __init__(self, *, field: str, value: str) -> None:
        super().__init__(value=value, field=field)
        self.field = field


class ViewNotFound(SavedViewError):
    key = "savedviews.error.not_found"


@dataclass(frozen=True)
class ViewFilters:
    """What a saved view selects; an empty tuple selects everything (statuses: every open one)."""

    channels: tuple[str, ...] = ()
    priorities: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    levels: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    assignee: str = "anyone"
    overdue: bool = False

    def to_json(self) -> dict[str, Any]:
        """The stored form."""
        return {"channels": list(self.channels), "priorities": list(self.priorities), "tags": list(self.tags),
                "levels": list(self.levels), "statuses": list(self.statuses), "assignee": self.assignee,
                "overdue": self.overdue}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> ViewFilters:
        """The filters of a stored row (unknown keys ignored, missing ones defaulted)."""
        data = data or {}
        return cls(channels=tuple(data.get("channels") or ()), priorities=tuple(data.get("priorities") or ()),
                   tags=tuple(data.get("tags") or ()), levels=tuple(data.get("levels") or ()),
                   statuses=tuple(data.get("statuses") or ()), assignee=data.get("assignee") or "anyone",
                   overdue=bool(data.get("overdue")))

    def stale_channels(self, rules: Rules) -> tuple[str, ...]:
        """Channels this view names that rules.yaml no longer has."""
        return tuple(channel for channel in self.channels if channel not in rules.channels)


@dataclass(frozen=True)
class Saved:
    """A saved view as surfaces show it: its id, name, filters and true count."""

    id: int
    name: str
    filters: ViewFilters
    count: int = 0
    stale: tuple[str, ...] = field(default=())


def check_filters(filters: ViewFilters, rules: Rules) -> ViewFilters:
    """The filters, or UnknownFilterValue for the first value rules.yaml does not define."""
    known = {"channels": set(rules.channels), "priorities": set(PRIORITIES), "levels": set(LEVELS),
             "statuses": set(STATUSES)}
    for name, allowed in known.items():
        for value in getattr(filters, name):
            if value not in allowed:
                raise UnknownFilterValue(field=name, value=value)
    if filters.assignee not in ASSIGNEES:
        raise UnknownFilterValue(field="assignee", value=filters.assignee)
    return ViewFilters(**{**filters.__dict__, "tags": tuple(dict.fromkeys(tag.strip().lower() for tag in filters.tags
                                                                            if tag.strip()))})


def conditions(filters: ViewFilters, *, user_id: str, now: datetime) -> list:
    """The WHERE terms of a view for `user_id` at `now`."""
    terms = [Ticket.status.in_(filters.statuses or OPEN_STATUSES)]
    if filters.channels:
        terms.append(Ticket.channel.in_(filters.channels))
    if filters.priorities:
        terms.append(Ticket.priority.in_(filters.priorities))
    if filters.levels:
        terms.append(Ticket.level.in_(filters.levels))
    if filters.assignee == "mine":
        terms.append(Ticket.assignee == user_id)
    elif filters.assignee == "unassigned":
        terms.append(Ticket.assignee.is_(None))
    if filters.tags:  # any of the tags, probed per open ticket on ticket_tags' key (ticket_id, tag)
        terms.append(exists().where(TicketTag.ticket_id == Ticket.id, TicketTag.tag.in_(filters.tags)))
    if filters.overdue:
        terms.append(overdue_clause(now))
    return terms


def count_query(filters: ViewFilters, *, user_id: str, now: datetime):
    """SELECT count(*) of the tickets the view selects."""
    return select(func.count()).select_from(Ticket).where(*conditions(filters, user_id=user_id, now=now))


def count_view(session: Session, filters: ViewFilters, *, user_id: str, now: datetime) -> int:
    """How many tickets the view selects: all of them, not a page."""
    return session.scalar(count_query(filters, user_id=user_id, now=now)) or 0


def view_tickets(session: Session, filters: ViewFilters, *, user_id: str, rules: Rules | None, now: datetime,
                 limit: int = 20) -> list[TicketView]:
    """The view's first `limit` tickets: overdue first, then most urgent, then oldest."""
    overdue = case((overdue_clause(now), 0), else_=1)
    stmt = (select(Ticket).where(*conditions(filters, user_id=user_id, now=now))
            .order_by(overdue, case(_RANK, value=Ticket.priority, else_=9), Ticket.created_at, Ticket.id)
            .limit(limit))
    return views_of(session, list(session.scalars(stmt).unique()), rules=rules, now=now)


def _rows(session: Session, user_id: str) -> list[SavedView]:
    return list(session.scalars(select(SavedView).where(SavedView.user_id == user_id)
                                .order_by(SavedView.position, SavedView.id)))


def ensure_defaults(session: Session, *, user_id: str, names: dict[str, str], now: datetime) -> None:
    """Give a new agent the default views (named by `names`: mine, unassigned, overdue), once."""
    if session.get(SavedViewUser, user_id) is not None:
        return
    try:
        with session.begin_nested():
            session.add(SavedViewUser(user_id=user_id, seeded_at=now))
            if not _rows(session, user_id):
                for position, (key, filters) in enumerate(DEFAULTS):
                    session.add(SavedView(user_id=user_id, name=names[key], position=position,
                                          filters=ViewFilters.from_json(filters).to_json(), created_at=now,
                                          updated_at=now))
    except IntegrityError:  # a Home refresh and `/ticket views` at once: the other one gave them
        return


def list_saved(session: Session, *, user_id: str, rules: Rules, now: datetime, counts: bool = True) -> list[Saved]:
    """The agent's views in their order, each with its true count."""
    return [Saved(row.id, row.name, filters,
                  count_view(session, filters, user_id=user_id, now=now) if counts else 0,
                  filters.stale_channels(rules))
            for row in _rows(session, user_id) for filters in (ViewFilters.from_json(row.filters),)]


def get_saved(session: Session, *, user_id: str, view_id: int) -> SavedView:
    """The agent's own view `view_id` (ViewNotFound for another agent's or a deleted one)."""
    row = session.get(SavedView, view_id)
    if row is None or row.user_id != user_id:
        raise ViewNotFound(id=view_id)
    return row


def shown_view(session: Session, *, user_id: str) -> int | None:
    """The id of the view the agent's Home tab shows, if any."""
    state = session.get(SavedViewUser, user_id)
    return state.shown_view_id if state is not None else None


def show(session: Session, *, user_id: str, view_id: int | None, now: datetime) -> None:
    """Make Home show the view `view_id` (None: none)."""
    if view_id is not None:
        get_saved(session, user_id=user_id, view_id=view_id)
    state = session.get(SavedViewUser, user_id)
    if state is None:
        state = SavedViewUser(user_id=user_id, seeded_at=now)
        session.add(state)
    state.shown_view_id = view_id


def _check_name(session: Session, user_id: str, name: str, *, except_id: int | None = None) -> str:
    name = " ".join(name.split())
    if not name:
        raise ViewNameMissing()
    if len(name) > NAME_LIMIT:
        raise ViewNameTooLong(limit=NAME_LIMIT)
    for row in _rows(session, user_id):
        if row.id != except_id and row.name.casefold() == name.casefold():
            raise ViewNameTaken(name=name)
    return name


def save(session: Session, *, user_id: str, name: str, filters: ViewFilters, rules: Rules, now: datetime,
         view_id: int | None = None) -> int:
    """Create (view_id None) or change the agent's view; SavedViewError names what is wrong.
    A new view is the one Home shows next."""
    filters = check_filters(filters, rules)
    name = _check_name(session, user_id, name, except_id=view_id)
    if view_id is None:
        rows = _rows(session, user_id)
        if len(rows) >= MAX_VIEWS:
            raise TooManyViews(limit=MAX_VIEWS)
        row = SavedView(user_id=user_id, name=name, position=max((r.position for r in rows), default=-1) + 1,
                        filters=filters.to_json(), created_at=now, updated_at=now)
        if session.get(SavedViewUser, user_id) is None:  # making one's own first view replaces the defaults
            session.add(SavedViewUser(user_id=user_id, seeded_at=now))
        _stored(session, row, name)
        show(session, user_id=user_id, view_id=row.id, now=now)
        return row.id
    row = get_saved(session, user_id=user_id, view_id=view_id)
    row.filters, row.updated_at = filters.to_json(), now
    _stored(session, row, name)
    return row.id


def _stored(session: Session, row: SavedView, name: str) -> None:
    """Write the row under `name`; the same name saved at the same moment from another modal is
    the name-taken error, not a crash."""
    try:
        with session.begin_nested():
            row.name = name
            session.add(row)
    except IntegrityError:
        raise ViewNameTaken(name=name) from None


def remove(session: Session, *, user_id: str, view_id: int) -> str:
    """Delete the agent's view; its name, for the confirmation."""
    row = get_saved(session, user_id=user_id, view_id=view_id)
    state = session.get(SavedViewUser, user_id)
    if state is not None and state.shown_view_id == view_id:
        state.shown_view_id = None
        session.flush()
    name = row.name
    session.execute(delete(SavedView).where(SavedView.id == view_id))
    return name


def rule_tags(rules: Rules, extra: Sequence[str] = ()) -> list[str]:
    """The tags rules.yaml's keyword rules set (and `extra`, a view's own), sorted."""
    tags = {tag for rule in rules.keyword_rules for tag in rule.actions.tags}
    return sorted(tags | set(extra))
