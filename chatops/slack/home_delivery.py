"""App Home publishing for the Slack deliverer: the person's lists with their true counts, their
failed replies and their saved views (the chosen one's tickets listed)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from chatops.db import session_scope
from chatops.i18n import t
from chatops.slack import blocks
from chatops.slack.blocks.saved_views import saved_section
from chatops.slack.cards import count_overdue, count_tickets, failed_replies
from chatops.tickets import saved_views
from chatops.tickets.models import OutboxItem
from chatops.views import list_views, overdue_views

SAVED_SHOWN = 10  # tickets of the chosen saved view listed on Home (its header has the true count)


class HomeDeliveries:
    """Mixed into SlackDeliverer (session_factory, rules, client, lang, clock, _superseded), as
    PagingDeliveries and IncidentDeliveries are."""

    def _publish_home(self, item: OutboxItem) -> dict[str, Any]:
        user_id = item.payload["user"]
        now = self.clock()
        with session_scope(self.session_factory) as session:
            if self._superseded(session, item, OutboxItem.ordering_key == item.ordering_key):
                return {"skipped": "a later refresh is queued"}
            counts = {"overdue": count_overdue(session, now=now),
                      "mine": count_tickets(session, assignee=user_id, open_only=True),
                      "unassigned": count_tickets(session, unassigned=True, open_only=True)}
            view = blocks.home_view(
                user_id=user_id, overdue=overdue_views(session, rules=self.rules, now=now),
                mine=list_views(session, rules=self.rules, now=now, assignee=user_id, open_only=True),
                unassigned=list_views(session, rules=self.rules, now=now, unassigned=True, open_only=True),
                rules=self.rules, lang=self.lang, now=now, counts=counts,
                failed=failed_replies(session, user_id=user_id, rules=self.rules, now=now),
                saved=self._saved_views(session, user_id, now))
        self.client.views_publish(user_id=user_id, view=view)
        return {"user": user_id}

    def _saved_views(self, session: Session, user_id: str, now: datetime) -> list[dict]:
        """The agent's saved views for Home (the defaults given on their first Home), each with
        its true count, and the tickets of the one they chose."""
        saved_views.ensure_defaults(session, user_id=user_id, now=now, names={
            name: t(f"savedviews.default.{name}", self.lang) for name, _ in saved_views.DEFAULTS})
        views = saved_views.list_saved(session, user_id=user_id, rules=self.rules, now=now)
        chosen = saved_views.shown_view(session, user_id=user_id)
        shown = next((view for view in views if view.id == chosen), None)
        cards = saved_views.view_tickets(session, shown.filters, user_id=user_id, rules=self.rules, now=now,
                                         limit=SAVED_SHOWN) if shown else []
        return saved_section(views, shown, cards, self.rules, self.lang, limit=SAVED_SHOWN)
