"""Charts over time as server-rendered SVG: no script, no chart library, no inline style.

The UI's Content-Security-Policy forbids inline styles and scripts, so a
chart is markup only: geometry in SVG attributes, colours and strokes from
classes in ``style.css`` (which also follow the light or dark theme and
print in black on white). Each bucket has an invisible column over the whole
plot whose ``<title>`` gives the exact values, so hovering anywhere above a
bucket shows them as the browser's tooltip; a ``<details>`` table below the
chart has every value for screen readers, for copying and when printed.

Sizes are in the SVG's own units (:data:`WIDTH` by :data:`HEIGHT`); the
stylesheet scales the SVG to its column, about 1:1 for two charts side by
side on a 1280 px screen, so the 12-unit labels stay readable.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import html
import math
from collections.abc import Callable
from collections.abc import Sequence

from markupsafe import Markup

from .blueprint import Format

WIDTH = 640
HEIGHT = 220
PLOT_LEFT = 62
PLOT_RIGHT = 628
PLOT_TOP = 12
PLOT_HEIGHT = 172
PLOT_WIDTH = PLOT_RIGHT - PLOT_LEFT
PLOT_BOTTOM = PLOT_TOP + PLOT_HEIGHT

#: Intervals on the value axis, at most; :func:`nice_ticks` takes the
#: smallest round step that needs no more.
MAX_VALUE_INTERVALS = 6
#: Labels on the time axis, at most (a label is about 40 units wide).
MAX_TIME_TICKS = 8
#: Line charts mark each point when they have no more buckets than this.
MAX_MARKED_POINTS = 60

_STEP_MULTIPLES = (1.0, 2.0, 2.5, 5.0)
_MINUTE = 60
_HOUR = 3600
_DAY = 86400
_WEEK = 7 * _DAY
#: Round steps of the time axis, in seconds. Weeks start on Mondays.
_TIME_STEPS = (
    *(n * _MINUTE for n in (1, 2, 5, 10, 15, 30)),
    *(n * _HOUR for n in (1, 2, 3, 6, 12)),
    *(n * _DAY for n in (1, 2)),
    *(n * _WEEK for n in (1, 2, 4, 8, 13, 26, 52)),
)
_EPOCH = dt.datetime(1970, 1, 1)
#: The first Monday after the epoch: week ticks are counted from it.
_FIRST_MONDAY = dt.datetime(1970, 1, 5)


def _decimals(step: float) -> int:
    """How many decimals show ``step`` (and its multiples) exactly."""
    text = f"{step:.10f}".rstrip("0")
    return len(text.partition(".")[2])


def nice_ticks(high: float, *, integer: bool = False) -> list[float]:
    """Round values for an axis from 0 to at least ``high``.

    The step is 1, 2, 2.5 or 5 times a power of ten, the smallest that needs
    at most :data:`MAX_VALUE_INTERVALS` intervals; ``integer`` keeps it a
    whole number (no tick at half a call). Ticks are rounded to the step's
    decimals, so 0.1 * 3 is 0.3, not 0.30000000000000004.
    """
    if not math.isfinite(high) or high < 0:
        raise ValueError(f"high: must be a finite number >= 0, got {high!r}")
    if high == 0:
        return [0, 1]
    power = 10.0 ** math.floor(math.log10(high / MAX_VALUE_INTERVALS))
    while True:
        for multiple in _STEP_MULTIPLES:
            step = multiple * power
            if integer and (step < 1 or step != int(step)):
                continue
            intervals = math.ceil(high / step - 1e-9)
            if intervals <= MAX_VALUE_INTERVALS:
                decimals = _decimals(step)
                ticks = [round(n * step, decimals) for n in range(intervals + 1)]
                return [int(t) if t == int(t) else t for t in ticks]
        power *= 10


def time_ticks(start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """Round times in ``[start, end)`` for the time axis: whole minutes, hours, days or
    Mondays, the smallest step that gives at most :data:`MAX_TIME_TICKS` of them."""
    span = (end - start).total_seconds()
    step = next((s for s in _TIME_STEPS if span / s <= MAX_TIME_TICKS), _TIME_STEPS[-1])
    origin = _FIRST_MONDAY if step % _WEEK == 0 else _EPOCH
    offset = (start - origin).total_seconds()
    tick = origin + dt.timedelta(seconds=math.ceil(offset / step) * step)
    ticks = []
    while tick < end:
        ticks.append(tick)
        tick += dt.timedelta(seconds=step)
    return ticks


def _compact(value: float, decimals: int) -> str:
    """``1250000`` -> ``1.25M``: short labels for big round tick values."""
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3f}".rstrip("0").rstrip(".") + suffix
    return f"{value:.{decimals}f}"


class Unit(enum.Enum):
    """What a chart's values are: how its ticks and its exact values read."""

    COUNT = "count"
    USD = "usd"
    #: Milliseconds.
    MS = "ms"
    #: A share from 0 to 1, shown as a percentage.
    PERCENT = "percent"

    def tick(self, value: float, step: float) -> str:
        decimals = _decimals(step)
        if self is Unit.USD:  # cents as money shows them: $0.20, not $0.2
            return "$" + _compact(value, max(decimals, 2) if decimals else 0)
        if self is Unit.MS:
            if step >= 250:  # 0.5 s, 1.0 s, 1.5 s rather than 500 ms ... 1500 ms
                return f"{value / 1000:.{_decimals(step / 1000)}f} s"
            return f"{value:.{decimals}f} ms"
        if self is Unit.PERCENT:
            return f"{value * 100:.{_decimals(step * 100)}f}%"
        return _compact(value, decimals)

    def exact(self, value: float) -> str:
        if self is Unit.USD:
            return Format.cost(value)
        if self is Unit.MS:
            return f"{value:,.1f} ms"
        if self is Unit.PERCENT:
            return f"{value * 100:.2f}%"
        return Format.number(int(value) if value == int(value) else value)


@dataclasses.dataclass(frozen=True)
class TimeAxis:
    """Buckets of ``step`` from ``start`` (naive UTC) until ``end``; the last may be cut."""

    start: dt.datetime
    end: dt.datetime
    step: dt.timedelta

    @property
    def buckets(self) -> list[dt.datetime]:
        count = math.ceil((self.end - self.start) / self.step)
        return [self.start + n * self.step for n in range(count)]

    def label(self, bucket: dt.datetime) -> str:
        """A bucket as the hover text and the table name it."""
        if self.step >= dt.timedelta(days=1):
            return bucket.strftime("%Y-%m-%d")
        return bucket.strftime("%Y-%m-%d %H:%M UTC")


@dataclasses.dataclass(frozen=True)
class Series:
    """One line, or one layer of stacked bars: a value per bucket (``None``: no value)."""

    label: str
    values: Sequence[float | None]
    #: ``"error"`` draws it in the theme's error colour.
    tone: str | None = None


def _escape(value: object) -> str:
    return html.escape(str(value), quote=True)


def _number(value: float) -> str:
    """A coordinate with at most one decimal: short markup, sharp enough."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


@dataclasses.dataclass(frozen=True)
class Chart:
    """A chart over ``axis``: lines, or bars stacked in the order of ``series``."""

    title: str
    axis: TimeAxis
    series: Sequence[Series]
    unit: Unit
    kind: str = "line"
    #: The hover text of a missing value (a percentile of a bucket without calls).
    missing: str = "no data"

    def __post_init__(self) -> None:
        if self.kind not in ("line", "bar"):
            raise ValueError(f"kind: must be 'line' or 'bar', got {self.kind!r}")
        count = len(self.axis.buckets)
        for series in self.series:
            if len(series.values) != count:
                raise ValueError(
                    f"values: {series.label!r} has {len(series.values)} values for {count} buckets"
                )

    def __html__(self) -> Markup:
        return self.render()

    def render(self) -> Markup:
        buckets = self.axis.buckets
        ticks = nice_ticks(self._highest(), integer=self.unit is Unit.COUNT)
        top = ticks[-1]
        width = PLOT_WIDTH / len(buckets) if buckets else PLOT_WIDTH

        def y(value: float) -> float:
            return PLOT_BOTTOM - value / top * PLOT_HEIGHT

        parts = [
            f'<svg class="chart-svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img"'
            f' aria-label="{_escape(self._description())}" xmlns="http://www.w3.org/2000/svg">'
        ]
        parts.extend(self._value_axis(ticks, y))
        parts.extend(self._time_axis())
        if self.kind == "bar":
            parts.extend(self._bars(width, y))
        else:
            parts.extend(self._lines(width, y))
        parts.extend(self._hover_columns(buckets, width))
        parts.append("</svg>")
        legend = "".join(
            f'<li><span class="swatch {self._classes(n, s)}"></span>{_escape(s.label)}</li>'
            for n, s in enumerate(self.series)
        )
        return Markup(
            f'<figure class="chart chart-{self.kind}"><figcaption>'
            f'<span class="chart-title">{_escape(self.title)}</span>'
            f'<ul class="legend">{legend}</ul></figcaption>'
            f"{''.join(parts)}{self._table()}</figure>"
        )

    def _highest(self) -> float:
        """The top of the data: the tallest stack for bars, the highest point for lines."""
        if self.kind == "bar":
            stacks = zip(*(s.values for s in self.series), strict=True)
            return max((sum(v or 0 for v in stack) for stack in stacks), default=0)
        values = [v for s in self.series for v in s.values if v is not None]
        return max(values, default=0)

    def _description(self) -> str:
        return (
            f"{self.title}, {self.axis.label(self.axis.start)} to {self.axis.label(self.axis.end)};"
            " the values are in the table below the chart"
        )

    @staticmethod
    def _classes(index: int, series: Series) -> str:
        tone = f" tone-{_escape(series.tone)}" if series.tone else ""
        return f"series series-{index + 1}{tone}"

    def _value_axis(self, ticks: list[float], y: Callable[[float], float]) -> list[str]:
        step = ticks[1] - ticks[0]
        parts = ['<g class="value-axis">']
        for tick in ticks:
            at = _number(y(tick))
            parts.append(
                f'<line class="grid" x1="{PLOT_LEFT}" x2="{PLOT_RIGHT}" y1="{at}" y2="{at}"/>'
                f'<text x="{PLOT_LEFT - 6}" y="{at}" dy="4" text-anchor="end">'
                f"{_escape(self.unit.tick(tick, step))}</text>"
            )
        parts.append("</g>")
        return parts

    def _x(self, moment: dt.datetime) -> float:
        total = len(self.axis.buckets) * self.axis.step
        return PLOT_LEFT + (moment - self.axis.start) / total * PLOT_WIDTH

    def _time_axis(self) -> list[str]:
        end = self.axis.start + len(self.axis.buckets) * self.axis.step
        ticks = time_ticks(self.axis.start, end)
        daily = len(ticks) > 1 and ticks[1] - ticks[0] >= dt.timedelta(days=1)
        parts = [
            f'<g class="time-axis"><line class="axis" x1="{PLOT_LEFT}" x2="{PLOT_RIGHT}"'
            f' y1="{PLOT_BOTTOM}" y2="{PLOT_BOTTOM}"/>'
        ]
        for tick in ticks:
            at = _number(self._x(tick))
            midnight = tick.hour == 0 and tick.minute == 0
            label = f"{tick:%b} {tick.day}" if daily or midnight else f"{tick:%H:%M}"
            parts.append(
                f'<line class="tick" x1="{at}" x2="{at}"'
                f' y1="{PLOT_BOTTOM}" y2="{PLOT_BOTTOM + 4}"/>'
                f'<text x="{at}" y="{PLOT_BOTTOM + 18}" text-anchor="middle">{label}</text>'
            )
        parts.append("</g>")
        return parts

    def _bars(self, width: float, y: Callable[[float], float]) -> list[str]:
        gap = min(width * 0.2, 4)
        parts = []
        base = [0.0] * len(self.axis.buckets)
        for index, series in enumerate(self.series):
            classes = self._classes(index, series)
            for n, value in enumerate(series.values):
                if not value:
                    continue
                low, high = y(base[n]), y(base[n] + value)
                base[n] += value
                x = PLOT_LEFT + n * width + gap / 2
                parts.append(
                    f'<rect class="{classes}" data-bucket="{n}" x="{_number(x)}"'
                    f' y="{_number(high)}" width="{_number(width - gap)}"'
                    f' height="{_number(low - high)}"/>'
                )
        return parts

    def _lines(self, width: float, y: Callable[[float], float]) -> list[str]:
        parts = []
        marked = len(self.axis.buckets) <= MAX_MARKED_POINTS
        for index, series in enumerate(self.series):
            classes = self._classes(index, series)
            runs: list[list[str]] = [[]]
            for n, value in enumerate(series.values):
                if value is None:
                    runs.append([])
                    continue
                point = (_number(PLOT_LEFT + (n + 0.5) * width), _number(y(value)))
                runs[-1].append(f"{point[0]},{point[1]}")
                if marked:
                    parts.append(
                        f'<circle class="point {classes}" cx="{point[0]}" cy="{point[1]}" r="2.5"/>'
                    )
            for run in runs:
                if len(run) == 1:  # a lone point between gaps still shows as a dot
                    x, _, at = run[0].partition(",")
                    parts.append(f'<circle class="point {classes}" cx="{x}" cy="{at}" r="2.5"/>')
                elif run:
                    parts.append(f'<path class="{classes}" d="M{" L".join(run)}"/>')
        return parts

    def _shown(self, value: float | None) -> str:
        return self.missing if value is None else self.unit.exact(value)

    def _hover_text(self, n: int, bucket: dt.datetime) -> str:
        lines = [self.axis.label(bucket)]
        for series in self.series:
            lines.append(f"{series.label}: {self._shown(series.values[n])}")
        return "\n".join(lines)

    def _hover_columns(self, buckets: list[dt.datetime], width: float) -> list[str]:
        parts = ['<g class="hits">']
        for n, bucket in enumerate(buckets):
            parts.append(
                f'<rect class="hit" data-bucket="{n}" x="{_number(PLOT_LEFT + n * width)}"'
                f' y="{PLOT_TOP}" width="{_number(width)}" height="{PLOT_HEIGHT}">'
                f"<title>{_escape(self._hover_text(n, bucket))}</title></rect>"
            )
        parts.append("</g>")
        return parts

    def _table(self) -> str:
        head = "".join(f'<th scope="col">{_escape(s.label)}</th>' for s in self.series)
        rows = []
        for n, bucket in enumerate(self.axis.buckets):
            cells = "".join(
                f'<td class="num">{_escape(self._shown(s.values[n]))}</td>' for s in self.series
            )
            rows.append(f'<tr><th scope="row">{_escape(self.axis.label(bucket))}</th>{cells}</tr>')
        return (
            f'<details class="chart-data"><summary>{_escape(self.title)} as a table</summary>'
            '<div class="table-wrap"><table>'
            f'<thead><tr><th scope="col">Time</th>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div></details>"
        )
