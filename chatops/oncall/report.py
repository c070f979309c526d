"""What `/oncall` and `chatops oncall` say: who is on call now and next, upcoming shifts,
open pages, and reading the `until` of an override. Shared by Slack and the CLI; people are
rendered by the caller (`person`), so Slack shows mentions and the CLI plain ids."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from chatops.errors import InvalidValue
from chatops.i18n import t
from chatops.oncall.schedule import shifts
from chatops.rules.fields import parse_duration

Person = Callable[[str], str]


WEEKDAYS = {"ja": "月火水木金土日", "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")}


def local(moment: datetime, zone: str, lang: str = "en") -> str:
    """`11/24 Tue 10:00 JST` (ja: `11/24（火）10:00 JST`) local time, the weekday in `lang`
    whatever the process locale is."""
    value = moment.astimezone(ZoneInfo(zone))
    day = WEEKDAYS["ja" if lang == "ja" else "en"][value.weekday()]
    if lang == "ja":
        return f"{value:%m/%d}（{day}）{value:%H:%M} {value.tzname()}"
    return f"{value:%m/%d} {day} {value:%H:%M} {value.tzname()}"


def who_lines(flows, session: Session, now: datetime, lang: str, person: Person) -> list[str]:
    """One line per schedule: who holds it now (until when) and who is next (from when)."""
    schedules = flows.rules.oncall.schedules
    if not schedules:
        return [t("oncall.who.none", lang)]
    lines = []
    for name, schedule in schedules.items():
        current, following = flows.who(session, name, now)
        lines.append(t("oncall.who.line", lang, schedule=name, now=person(current.user),
                       until=local(current.end, schedule.timezone, lang), next=person(following.user),
                       start=local(following.start, schedule.timezone, lang)))
    return lines


def schedule_lines(flows, session: Session, now: datetime, lang: str, person: Person,
                   name: str | None = None, days: int = 14) -> list[str]:
    """Who holds each schedule (or only `name`) over the next `days` days."""
    schedules = flows.rules.oncall.schedules
    if name is not None and name not in schedules:
        raise InvalidValue(value=name, field="schedule", choices=", ".join(schedules) or "-")
    lines = []
    for key, schedule in schedules.items():
        if name is not None and key != name:
            continue
        lines.append(t("oncall.schedule.title", lang, schedule=key, rotation=t(f"oncall.rotation.{schedule.rotation}", lang),
                       handoff=schedule.handoff, tz=schedule.timezone))
        for cover in shifts(schedule, now, now + timedelta(days=days), flows.overrides(session, key, now)):
            lines.append(t("oncall.schedule.row", lang, start=local(cover.start, schedule.timezone, lang),
                           end=local(cover.end, schedule.timezone, lang), who=person(cover.user)))
    return lines or [t("oncall.who.none", lang)]


def page_lines(flows, session: Session, lang: str, person: Person) -> list[str]:
    """Open pages, newest first."""
    pages = flows.pages(session)
    if not pages:
        return [t("oncall.pages.none", lang)]
    return [t("oncall.pages.row", lang, page=page.key, ticket=f"T-{page.ticket_id}",
              status=t(f"oncall.page_status.{page.status}", lang),
              target=person(page.last_target) if page.last_target else "-", notified=page.notified)
            for page in pages]


_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")


def parse_until(text: str, now: datetime, zone: str) -> datetime:
    """`2026-11-25 18:00`, `2026-11-25` (midnight), `18:00` (the next such time), or a
    duration from now (`3h`, `1d`, `90m`), read in the team's zone; InvalidValue otherwise."""
    text = text.strip()
    tz = ZoneInfo(zone)
    match = _CLOCK.match(text)
    try:
        if match:
            hours, minutes = int(match.group(1)), int(match.group(2))
            local_now = now.astimezone(tz)
            candidate = datetime.combine(local_now.date(), time(hours, minutes), tz)
            return candidate if candidate > now else candidate + timedelta(days=1)
        if text[:1].isdigit() and "-" in text:
            value = datetime.fromisoformat(text.replace("/", "-"))
            return (value if value.tzinfo else value.replace(tzinfo=tz)).astimezone(now.tzinfo)
        return now + parse_duration(text)
    except ValueError:
        raise InvalidValue(value=text, field="until", choices="2026-11-25 18:00, 18:00, 3h") from None

