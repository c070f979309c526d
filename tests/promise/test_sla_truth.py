"""One SLA truth: every surface reads the stored warning/deadline moments (chatops.sla.state)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from chatops.sla.state import sla_state
from chatops.slack import blocks as slack_blocks
from chatops.slack.blocks.ticket import SLA_EMOJI
from chatops.teams import cards as teams_cards
from chatops.views import TicketView

JST = timezone(timedelta(hours=9))
OPENED = datetime(2026, 11, 20, 17, 30, tzinfo=JST)  # Friday 17:30 JST, before a Monday holiday
WARN = datetime(2026, 11, 24, 9, 45, tzinfo=JST)  # stored business-time warning moment
DUE = datetime(2026, 11, 24, 10, 0, tzinfo=JST)


def _moments(**extra):
    data = dict(status="new", created_at=OPENED, first_response_at=None, resolved_at=None,
                first_response_warn_at=WARN, first_response_due_at=DUE,
                resolution_warn_at=DUE + timedelta(hours=3), resolution_due_at=DUE + timedelta(hours=4))
    data.update(extra)
    return data


def test_all_surfaces_switch_at_the_stored_warning_moment(rules):
    row = SimpleNamespace(**_moments())
    # Monday is a holiday: by wall-clock 80% the old card would have warned long before Tuesday.
    for now, expected in ((WARN - timedelta(seconds=1), "ok"), (WARN, "warning"), (DUE, "breached")):
        assert sla_state(row, now).state == expected
        view = TicketView.at(now, id=1, key="T-1", priority="red", level="L1", channel="support", source="x",
                             account="@acme", text="help", **_moments())
        parent = json.dumps(slack_blocks.ticket_message(view, rules, "en"), ensure_ascii=False)
        assert SLA_EMOJI[expected] in parent
        due_fact = dict(teams_cards.facts(view, rules, "en"))
        assert f"({expected})" in due_fact["SLA due"] or expected == "ok" and "(on time)" in due_fact["SLA due"]


def test_pending_pauses_and_resolved_is_met():
    answered = _moments(first_response_at=OPENED + timedelta(minutes=5))
    assert sla_state(SimpleNamespace(**{**answered, "status": "pending"}), DUE).state == "paused"
    done = {**answered, "status": "resolved", "resolved_at": DUE}
    assert sla_state(SimpleNamespace(**done), DUE + timedelta(days=3)).state == "met"
    late = {**done, "resolved_at": DUE + timedelta(hours=5)}
    assert sla_state(SimpleNamespace(**late), DUE + timedelta(days=3)).state == "breached"
