"""The `/stats ... chart` PNG: daily new tickets and mean first response, one line per priority.

Drawn with matplotlib's object API on an Agg canvas (headless, no pyplot global state), tall
and with large type so it reads on a phone; Japanese labels use the IPAex Gothic font shipped
by matplotlib-fontja.
"""

from __future__ import annotations

import io
from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chatops.i18n import t
from chatops.rules import Rules
from chatops.stats.models import StatsDaily
from chatops.stats.period import StatsQuery


def daily_series(session: Session, rules: Rules, query: StatsQuery) -> dict[str, Any]:
    """Per day and priority: new tickets and mean first response (minutes), from the rollup."""
    period = query.period
    fdim, fval = query.fdim
    rows = session.execute(
        select(StatsDaily.day, StatsDaily.gval, func.sum(StatsDaily.created), func.sum(StatsDaily.fr_sum),
               func.sum(StatsDaily.fr_count))
        .where(StatsDaily.fdim == fdim, StatsDaily.fval == fval, StatsDaily.gdim == "pt",
               StatsDaily.day.between(period.start.toordinal(), period.end.toordinal()))
        .group_by(StatsDaily.day, StatsDaily.gval))
    created: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    fr: dict[str, dict[int, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for day, pt, new, fr_sum, fr_count in rows:
        priority = pt.split("/")[0]
        created[priority][day] += int(new or 0)
        fr[priority][day][0] += int(fr_sum or 0)
        fr[priority][day][1] += int(fr_count or 0)
    days = [d.toordinal() for d in period.days]
    return {
        "start": period.start, "end": period.end, "days": [date.fromordinal(d) for d in days],
        "priorities": {p: {"color": rules.priorities[p].color, "label": rules.priorities[p].label,
                           "created": [created[p][d] for d in days],
                           "first_response": [round(fr[p][d][0] / fr[p][d][1], 1) if fr[p][d][1] else None
                                              for d in days]}
                       for p in rules.priorities},
    }


def chart_png(series: dict[str, Any], lang: str) -> bytes:
    """The chart as PNG bytes, labels in `lang`."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties, fontManager
    from matplotlib_fontja.matplotlib_fontja import get_font_ttf_path

    path = get_font_ttf_path()
    fontManager.addfont(path)
    font = FontProperties(fname=path)
    figure = Figure(figsize=(6, 8), dpi=150, layout="constrained")
    FigureCanvasAgg(figure)
    volume, speed = figure.subplots(2, 1, sharex=True)
    days = series["days"]
    for data in series["priorities"].values():
        label = data["label"].get(lang)
        volume.plot(days, data["created"], color=data["color"], label=label, linewidth=2.5, marker="o", markersize=3)
        points = [(d, v) for d, v in zip(days, data["first_response"], strict=True) if v is not None]
        if points:
            speed.plot([d for d, _ in points], [v for _, v in points], color=data["color"], label=label,
                       linewidth=2.5, marker="o", markersize=3)
    figure.suptitle(t("stats.chart.title", lang, start=series["start"], end=series["end"]), fontproperties=font,
                    fontsize=13)
    for axes, key in ((volume, "stats.chart.volume"), (speed, "stats.chart.first_response")):
        axes.set_title(t(key, lang), fontproperties=font, fontsize=13)
        axes.grid(alpha=0.3)
        axes.tick_params(labelsize=11)
        axes.set_ylim(bottom=0)
        axes.legend(prop=FontProperties(fname=path, size=11))
    locator = AutoDateLocator(maxticks=7)
    speed.xaxis.set_major_locator(locator)
    speed.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
