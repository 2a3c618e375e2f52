"""A customer's timeline of firing alerts, drawn server-side as SVG geometry.

Pure: from the `ALERTS{alertstate="firing"}` series Prometheus answered (board_sources.
alerts_range) to rows of bars, one row per alert identity (alertName, severity) with the
union of its series' firing intervals. A series' samples `step` apart are one interval;
a gap longer than 1.5 steps ends it. The template draws the geometry (no JavaScript, no
third-party library): readable without scripts, and every bar carries its text (alert,
from, to) for screen readers and tooltips.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

WIDTH = 1000  # viewBox units; the SVG scales to the page's width
LABEL_W = 220  # left column: the alert's name
ROW_H = 22
TOP = 24  # the time axis above the rows
MAX_ROWS = 40  # identities drawn; the rest are counted
HOURS = (1, 3, 6, 12, 24)
POINTS = 240  # samples per series over the whole range (the step follows)


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    start: str  # "15:04" (UTC) for the text
    end: str


@dataclass(frozen=True)
class Row:
    label: str  # "HighErrorRate · critical"
    y: float
    bars: list[Bar]

    @property
    def text(self) -> str:
        spans = ", ".join(f"{b.start}–{b.end}" for b in self.bars)
        return f"{self.label}: firing {spans} UTC"


@dataclass(frozen=True)
class Timeline:
    hours: int
    rows: list[Row]
    ticks: list[tuple[float, str]]  # (x, "14:00")
    more: int  # identities not drawn (beyond MAX_ROWS)
    width: int = WIDTH

    @property
    def height(self) -> float:
        return TOP + ROW_H * max(1, len(self.rows)) + 4

    @property
    def plot_x(self) -> int:
        return LABEL_W


def step_for(hours: int) -> float:
    """Seconds between samples: POINTS over the range, never under 15 s."""
    return max(15.0, hours * 3600 / POINTS)


def window(hours: int, now: float | None = None) -> tuple[float, float, float]:
    """(start, end, step) of a timeline of the last `hours` (one of HOURS)."""
    end = round(time.time() if now is None else now, 3)  # as the query sends it
    return end - hours * 3600, end, step_for(hours)


def _clock(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M")


def intervals(values: list[Any], step: float) -> list[tuple[float, float]]:
    """[start, end) spans of a range series' samples (a sample covers one step)."""
    stamps = sorted(float(v[0]) for v in values if isinstance(v, list | tuple) and v)
    out: list[tuple[float, float]] = []
    for ts in stamps:
        if out and ts - out[-1][1] <= step * 0.5 + 1e-6:
            out[-1] = (out[-1][0], ts + step)
        else:
            out.append((ts, ts + step))
    return out


def union(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def timeline(series: list[dict[str, Any]], hours: int, start: float, end: float) -> Timeline:
    step = step_for(hours)
    spans: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for s in series:
        metric = s.get("metric") or {}
        key = (str(metric.get("alertname", "")), str(metric.get("severity", "")))
        spans.setdefault(key, []).extend(intervals(s.get("values") or [], step))
    plot = WIDTH - LABEL_W - 8
    scale = plot / max(end - start, 1.0)
    rows = []
    for i, key in enumerate(sorted(spans)[:MAX_ROWS]):
        bars = []
        for a, b in union(spans[key]):
            if b < start:
                continue
            # A sample at `end` itself is drawn (the alert fires now), also when the
            # query's rounding of `end` to milliseconds put it a little later.
            a, b = min(max(a, start), end), min(b, end)
            x = LABEL_W + (a - start) * scale
            bars.append(Bar(round(x, 1), round(max((b - a) * scale, 2.0), 1), _clock(a), _clock(b)))
        label = f"{key[0]} · {key[1]}" if key[1] else key[0]
        rows.append(Row(label, TOP + i * ROW_H, bars))
    return Timeline(hours, rows, _ticks(hours, start, end, scale), max(0, len(spans) - MAX_ROWS))


def _ticks(hours: int, start: float, end: float, scale: float) -> list[tuple[float, str]]:
    every = 3600.0 * (1 if hours <= 6 else 3 if hours <= 12 else 6)
    if hours == 1:
        every = 900.0
    first = (start // every + 1) * every
    out = []
    t = first
    while t < end:
        out.append((round(LABEL_W + (t - start) * scale, 1), _clock(t)))
        t += every
    return out
