"""CHATOPS_LEASE_SECONDS: how long the scheduler's leader lease lasts (so how soon a replica that
died is replaced), refused when the leader could not renew it in time."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from chatops.background import start_scheduler
from chatops.oncall.models import SchedulerLease
from chatops.runtime import Runtime
from chatops.settings import Settings
from tests.conftest import RULES_PATH
from tests.helpers import until


def test_the_scheduler_leader_holds_its_lease_for_chatops_lease_seconds(database_url, rules, clock):
    settings = Settings(database_url=database_url, rules_path=RULES_PATH, lease_seconds=3, scheduler_interval=0.5)
    runtime = Runtime.build(settings, upgrade_db=False, rules=rules, clock=clock)
    scheduler = start_scheduler(runtime)

    def lease_taken():
        with runtime.session_factory() as session:
            return session.scalars(select(SchedulerLease).where(SchedulerLease.name == "scheduler")).one_or_none()

    try:
        lease = until(lease_taken)
    finally:
        scheduler.shutdown()
        runtime.close()
    expires = lease.expires_at if lease.expires_at.tzinfo else lease.expires_at.replace(tzinfo=UTC)
    assert expires == clock.now + timedelta(seconds=3)


def test_a_lease_no_longer_than_a_scheduler_round_is_refused_naming_both(monkeypatch):
    monkeypatch.setenv("CHATOPS_LEASE_SECONDS", "10")
    monkeypatch.setenv("CHATOPS_SCHEDULER_INTERVAL", "10")
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert "CHATOPS_LEASE_SECONDS (10) must be longer than CHATOPS_SCHEDULER_INTERVAL (10)" in str(caught.value)
    monkeypatch.setenv("CHATOPS_SCHEDULER", "false")  # no scheduler in this process: nothing to renew
    assert Settings().lease_seconds == 10


def test_the_lease_is_thirty_seconds_unless_set():
    assert Settings().lease_seconds == 30
