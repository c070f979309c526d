"""Figures as people read them: text lines (CLI, Slack mrkdwn), CSV rows; in Japanese or English."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

from chatops.i18n import t

DOT = {"green": "🟢", "yellow": "🟡", "red": "🔴", None: "⚪"}


def minutes_text(minutes: float | None, lang: str) -> str:
    """12 min, 2 h 35 min, 3 d 4 h (or –)."""
    if minutes is None:
        return "–"
    minutes = int(minutes)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return t("stats.unit.dh", lang, d=days, h=hours) if hours else t("stats.unit.d", lang, d=days)
    if hours:
        return t("stats.unit.hm", lang, h=hours, m=mins) if mins else t("stats.unit.h", lang, h=hours)
    return t("stats.unit.m", lang, m=mins)


def _num(value, kind: str, lang: str) -> str:
    if value is None:
        return "–"
    if kind == "min":
        return minutes_text(value, lang)
    if kind == "pct":
        return f"{value:.1f}%"
    if kind == "avg":
        return f"{value:.2f}"
    return f"{value:,}"


def _fig(metric: dict[str, Any], kind: str, lang: str, dot: bool = False) -> str:
    value, previous = metric["value"], metric["previous"]
    text = _num(value, kind, lang)
    if dot:
        text = f"{DOT[metric['status']]} {text}"
    arrow = ""
    if isinstance(value, int | float) and isinstance(previous, int | float) and value != previous:
        arrow = "▲" if value > previous else "▼"
    return f"{text} ({arrow}{t('stats.prev', lang)} {_num(previous, kind, lang)})"


def title(f: dict[str, Any], lang: str, strong: Callable[[str], str] = str) -> str:
    """The first line: what and which period; `strong` marks up the heading for its surface."""
    p = f["period"]
    return t("stats.title", lang, heading=strong(t("stats.heading", lang)), label=p["label"], start=p["start"],
             end=p["end"], pstart=p["previous_start"], pend=p["previous_end"])


def labelled(f: dict[str, Any], rules, lang: str, *, english_ids: bool = False) -> dict[str, Any]:
    """The figures with priority and tier ids replaced by the words a person reads (the rules'
    priority labels, the tier names); `english_ids` keeps the ids in English, where a terminal
    user types them back as filters."""
    if lang != "ja" and english_ids:
        return f

    def renamed(counts: dict, name) -> dict:
        return {name(key): value for key, value in counts.items()}

    def priority(key: str) -> str:
        return rules.priorities[key].label.get(lang) or key if key in rules.priorities else key

    def tier(key: str) -> str:
        return t(f"tier.{key}", lang) if key in ("standard", "premium") and lang == "ja" else key

    shown = dict(f)
    shown["backlog"] = {**f["backlog"], "by_priority": renamed(f["backlog"]["by_priority"], priority)}
    shown["overdue_now"] = {**f["overdue_now"], "by_priority": renamed(f["overdue_now"]["by_priority"], priority)}
    shown["sla"] = {**f["sla"], "breaches_by_priority": renamed(f["sla"]["breaches_by_priority"], priority),
                    "breaches_by_tier": renamed(f["sla"]["breaches_by_tier"], tier)}
    return shown


def render_lines(f: dict[str, Any], lang: str, who: Callable[[str], str] = str,
                 strong: Callable[[str], str] = str) -> list[str]:
    """The figures as lines of text; `who` shows an agent id (a Slack mention, say), `strong`
    the heading in the surface's bold (Slack `*x*`, Teams `**x**`, plain in a terminal)."""
    scope = " · ".join(f"{name}:{value}" for name, value in f["filter"].items())
    lines = [title(f, lang, strong) + (f" · {scope}" if scope else "")]
    v = f["volume"]
    lines.append(t("stats.volume", lang, new=_fig(v["created"], "n", lang), resolved=_fig(v["resolved"], "n", lang),
                   reopened=_fig(v["reopened"], "n", lang)))
    ages = ("lt1h", "lt1d", "lt7d", "ge7d")
    parts = [f"{priority} {sum(b.values())} (" + ", ".join(f"{t('stats.age.' + a, lang)} {b[a]}" for a in ages) + ")"
             for priority, b in f["backlog"]["by_priority"].items()]
    lines.append(t("stats.backlog", lang, total=f["backlog"]["total"], parts=" · ".join(parts)))
    o = f["overdue_now"]
    lines.append(t("stats.overdue_now", lang, total=o["total"],
                   parts=", ".join(f"{priority} {c['total']}" for priority, c in o["by_priority"].items())))
    for name in ("first_response", "resolution"):
        d = f[name]
        lines.append(t(f"stats.{name}", lang, median=_fig(d["median"], "min", lang, True),
                       p90=_fig(d["p90"], "min", lang, True), bmedian=_fig(d["median_business"], "min", lang, True),
                       bp90=_fig(d["p90_business"], "min", lang, True)))
    s = f["sla"]
    lines.append(t("stats.sla", lang, fr=_fig(s["first_response"], "pct", lang, True),
                   res=_fig(s["resolution"], "pct", lang, True)))
    breaches = [f"{k} {m['value']}" for k, m in {**s["breaches_by_priority"], **s["breaches_by_tier"]}.items()]
    lines.append(t("stats.breaches", lang, parts=", ".join(breaches) or "–"))
    e = f["escalations"]
    lines.append(t("stats.escalations", lang, l2=_fig(e["L2"], "n", lang), l3=_fig(e["L3"], "n", lang)))
    agents = [t("stats.agent", lang, who=who(a["agent"]), new=a["created"]["value"], resolved=a["resolved"]["value"],
                fr=minutes_text(a["first_response_mean"]["value"], lang)) for a in f["agents"][:10]]
    lines.append(t("stats.agents", lang, parts="; ".join(agents) or "–"))
    for key in ("top_tags", "top_keywords"):
        lines.append(t(f"stats.{key}", lang,
                       parts=", ".join(f"{x['name']} {x['value']} ({x['previous']})" for x in f[key]) or "–"))
    c = f["csat"]
    lines.append(t("stats.csat", lang, avg=_fig(c["average"], "avg", lang, True),
                   rate=_fig(c["response_rate"], "pct", lang, True), count=c["ratings"]["value"]))
    return lines


def csv_rows(f: dict[str, Any]) -> list[list[Any]]:
    """One row per figure: section, figure, key, value, previous, status."""
    rows: list[list[Any]] = [["section", "figure", "key", "value", "previous", "status"]]

    def add(section, figure, key, metric):
        rows.append([section, figure, key, metric["value"], metric["previous"], metric.get("status") or ""])

    for name, metric in f["volume"].items():
        add("volume", name, "", metric)
    for priority, buckets in f["backlog"]["by_priority"].items():
        for age, count in buckets.items():
            rows.append(["backlog", priority, age, count, "", ""])
    for priority, counts in f["overdue_now"]["by_priority"].items():
        for deadline in ("first_response", "next_response", "resolution"):
            rows.append(["overdue_now", priority, deadline, counts.get(deadline, 0), "", ""])
    for section in ("first_response", "resolution"):
        for name, metric in f[section].items():
            add(section, name, "minutes", metric)
    for name in ("first_response", "resolution"):
        add("sla", name, "percent", f["sla"][name])
    for by in ("breaches_by_priority", "breaches_by_tier"):
        for key, metric in f["sla"][by].items():
            add("sla", by, key, metric)
    for level, metric in f["escalations"].items():
        add("escalations", level, "", metric)
    for agent in f["agents"]:
        for name in ("created", "resolved", "first_response_mean"):
            add("agents", name, agent["agent"], agent[name])
    for section in ("top_tags", "top_keywords"):
        for item in f[section]:
            add(section, "created", item["name"], item)
    for name, metric in f["csat"].items():
        add("csat", name, "", metric)
    return rows


def to_csv(f: dict[str, Any]) -> str:
    """The figures as CSV text."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(csv_rows(f))
    return out.getvalue()


def text_answer(surface, actor: str | None, words: list[str], lang: str) -> str:
    """`stats [period] [filter]` for plain-text surfaces (the Teams @mention verb): the same
    figures as /stats and `chatops stats`, or the problem with a word, in `lang`."""
    from chatops.errors import DomainError
    from chatops.stats.period import parse_query
    from chatops.stats.query import compute

    now = surface.flows.clock()
    try:
        query = parse_query(words, surface.rules, now)
    except DomainError as exc:
        return "⚠️ " + exc.message(lang)
    with surface.runtime.session_factory() as session:
        figures = compute(session, surface.rules, query, now)
    return "\n".join(render_lines(labelled(figures, surface.rules, lang), lang,
                                   strong=lambda text: f"**{text}**"))  # Teams markdown
