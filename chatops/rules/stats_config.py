"""rules.yaml `stats:` — targets that colour the headline figures, the weekly digest, CSAT requests."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chatops.rules.fields import ChannelName, Day, Duration, Source, Tier
from chatops.rules.problems import RulesProblem


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DurationBand(_Section):
    """A time figure is green at or under `green`, yellow at or under `yellow`, else red."""

    green: Duration
    yellow: Duration

    @model_validator(mode="after")
    def _ordered(self) -> DurationBand:
        if self.yellow < self.green:
            raise RulesProblem("yellow_below_green")
        return self

    def colour(self, minutes: float | None) -> str | None:
        """green / yellow / red for a figure in minutes (None when there is no figure)."""
        if minutes is None:
            return None
        value = timedelta(minutes=minutes)
        return "green" if value <= self.green else "yellow" if value <= self.yellow else "red"


class ScoreBand(_Section):
    """A score (percent, average rating) is green at or above `green`, yellow at or above `yellow`."""

    green: float
    yellow: float

    @model_validator(mode="after")
    def _ordered(self) -> ScoreBand:
        if self.yellow > self.green:
            raise RulesProblem("yellow_above_green")
        return self

    def colour(self, value: float | None) -> str | None:
        """green / yellow / red for a score (None when there is no figure)."""
        if value is None:
            return None
        return "green" if value >= self.green else "yellow" if value >= self.yellow else "red"


def _d(green: str, yellow: str) -> DurationBand:
    return DurationBand(green=green, yellow=yellow)


class StatsTargets(_Section):
    """Targets per headline figure."""

    first_response_median: DurationBand = _d("5m", "1h")
    first_response_p90: DurationBand = _d("1h", "4h")
    resolution_median: DurationBand = _d("4h", "1d")
    resolution_p90: DurationBand = _d("1d", "3d")
    sla_first_response: ScoreBand = ScoreBand(green=95, yellow=85)
    sla_resolution: ScoreBand = ScoreBand(green=95, yellow=85)
    csat_average: ScoreBand = ScoreBand(green=4.5, yellow=4.0)
    csat_response_rate: ScoreBand = ScoreBand(green=30, yellow=15)


class Digest(_Section):
    """The weekly digest: posted to `channel` every `weekday` at `time` (team time zone)."""

    channel: ChannelName
    weekday: Day = "mon"
    time: str = Field("09:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    period: str = Field("7d", pattern=r"^\d{1,3}d$")


class Csat(_Section):
    """Which resolved tickets get a rating request: by network and customer tier (empty: none)."""

    networks: list[Source] = []
    tiers: list[Tier] = ["standard", "premium"]


class StatsConfig(_Section):
    """The whole `stats:` section."""

    targets: StatsTargets = StatsTargets()
    digest: Digest | None = None
    csat: Csat = Csat()
