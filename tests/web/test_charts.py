"""The dashboard's SVG charts: round ticks, time ticks, hover text, escaping."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET

import pytest

from flask_llm_logs.web import charts
from flask_llm_logs.web.charts import Chart
from flask_llm_logs.web.charts import Series
from flask_llm_logs.web.charts import TimeAxis
from flask_llm_logs.web.charts import Unit
from flask_llm_logs.web.charts import nice_ticks
from flask_llm_logs.web.charts import time_ticks

SVG = "{http://www.w3.org/2000/svg}"
START = dt.datetime(2026, 12, 5, 0, 0)


@pytest.mark.parametrize(
    ("high", "ticks"),
    [
        (87, [0, 20, 40, 60, 80, 100]),
        (100, [0, 20, 40, 60, 80, 100]),
        (101, [0, 20, 40, 60, 80, 100, 120]),
        (7, [0, 2, 4, 6, 8]),
        (1234567, [0, 250_000, 500_000, 750_000, 1_000_000, 1_250_000]),
        (0.0123, [0, 0.0025, 0.005, 0.0075, 0.01, 0.0125]),
        (0.3, [0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3]),
    ],
)
def test_nice_ticks_are_round_and_cover_the_data(high: float, ticks: list[float]) -> None:
    assert nice_ticks(high) == ticks


def test_nice_ticks_have_no_float_noise() -> None:
    # 0.1 * 3 is 0.30000000000000004 in floating point: ticks are rounded to their step.
    assert all(len(repr(tick)) < 8 for tick in nice_ticks(0.7))


def test_nice_ticks_of_nothing_still_make_an_axis() -> None:
    assert nice_ticks(0) == [0, 1]
    assert nice_ticks(0, integer=True) == [0, 1]


def test_whole_counts_get_whole_steps() -> None:
    # Three calls at most: no tick at 0.5 calls.
    assert nice_ticks(3, integer=True) == [0, 1, 2, 3]
    assert nice_ticks(1, integer=True) == [0, 1]


def test_nice_ticks_refuse_what_is_no_number() -> None:
    with pytest.raises(ValueError, match="high"):
        nice_ticks(float("nan"))
    with pytest.raises(ValueError, match="high"):
        nice_ticks(-1)


def test_time_ticks_fall_on_round_times() -> None:
    start = dt.datetime(2026, 12, 5, 13, 47)
    ticks = time_ticks(start, start + dt.timedelta(hours=1))
    assert [t.strftime("%H:%M") for t in ticks] == [
        "13:50",
        "14:00",
        "14:10",
        "14:20",
        "14:30",
        "14:40",
    ]
    day = time_ticks(start, start + dt.timedelta(hours=24))
    assert {t.minute for t in day} == {0} and {t.hour % 3 for t in day} == {0}
    month = time_ticks(START, START + dt.timedelta(days=30))
    assert {(t.hour, t.minute) for t in month} == {(0, 0)}
    assert len(month) <= charts.MAX_TIME_TICKS


def test_week_ticks_fall_on_mondays() -> None:
    ticks = time_ticks(START, START + dt.timedelta(days=90))
    assert {t.weekday() for t in ticks} == {0}


def hourly_axis(hours: int = 24) -> TimeAxis:
    return TimeAxis(START, START + dt.timedelta(hours=hours), dt.timedelta(hours=1))


def svg_of(markup: str) -> ET.Element:
    """The chart's SVG, parsed as XML: any escaping mistake makes it fail."""
    match = re.search(r"<svg.*</svg>", markup, re.S)
    assert match
    return ET.fromstring(match.group(0))


def test_each_bucket_has_hover_text_with_the_exact_values() -> None:
    values = [float(n * 1234) for n in range(24)]
    chart = Chart("Calls", hourly_axis(), [Series("calls", values)], Unit.COUNT)
    svg = svg_of(chart.render())
    titles = [t.text for t in svg.iter(f"{SVG}title")]
    assert "2026-12-05 03:00 UTC\ncalls: 3,702" in titles
    assert len([t for t in titles if t and "UTC" in t]) == 24


def test_costs_keep_their_cents_and_durations_their_milliseconds() -> None:
    axis = hourly_axis(2)
    cost = Chart("Cost", axis, [Series("cost", [0.000123, 12.5])], Unit.USD).render()
    assert "cost: $0.000123" in cost
    duration = Chart(
        "p95", axis, [Series("p95", [1234.56, None])], Unit.MS, missing="no calls"
    ).render()
    assert "p95: 1,234.6 ms" in duration
    assert "p95: no calls" in duration


def test_labels_and_titles_are_escaped() -> None:
    hostile = '<script>alert(1)</script> & "quoted"'
    chart = Chart(hostile, hourly_axis(2), [Series(hostile, [1, 2])], Unit.COUNT, kind="bar")
    html = chart.render()
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    svg_of(html)  # well-formed


def test_a_line_breaks_where_there_is_no_value() -> None:
    chart = Chart("p50", hourly_axis(5), [Series("p50", [1, 2, None, 4, 5])], Unit.MS)
    paths = [p for p in svg_of(chart.render()).iter(f"{SVG}path") if "series" in p.get("class", "")]
    assert len(paths) == 2


def test_stacked_bars_reach_the_sum() -> None:
    chart = Chart(
        "Calls",
        hourly_axis(2),
        [Series("ok", [30, 10]), Series("errors", [10, 0])],
        Unit.COUNT,
        kind="bar",
    )
    svg = svg_of(chart.render())
    bars = [r for r in svg.iter(f"{SVG}rect") if "series" in r.get("class", "")]
    first = [r for r in bars if r.get("data-bucket") == "0"]
    assert len(first) == 2
    # The y axis is 0..40 (round ticks): the two bars of bucket 0 fill it.
    top = min(float(r.get("y", 0)) for r in first)
    bottom = max(float(r.get("y", 0)) + float(r.get("height", 0)) for r in first)
    assert (top, bottom) == (charts.PLOT_TOP, charts.PLOT_TOP + charts.PLOT_HEIGHT)


def test_the_table_fallback_has_every_value() -> None:
    chart = Chart("Tokens", hourly_axis(3), [Series("input", [1, 2, 3])], Unit.COUNT)
    html = chart.render()
    table = re.search(r"<table.*</table>", html, re.S)
    assert table
    assert table.group(0).count("<tr>") == 4  # header and three buckets
    assert '<th scope="row">2026-12-05 02:00 UTC</th>' in table.group(0)


def test_no_inline_style_or_script() -> None:
    """The UI's Content-Security-Policy blocks inline styles: classes only."""
    html = Chart("Calls", hourly_axis(), [Series("calls", [1.0] * 24)], Unit.COUNT).render()
    assert "style=" not in html and "<script" not in html and "<style" not in html


def test_series_must_fit_the_axis() -> None:
    with pytest.raises(ValueError, match="values"):
        Chart("Calls", hourly_axis(3), [Series("calls", [1, 2])], Unit.COUNT)


def test_day_buckets_show_dates() -> None:
    axis = TimeAxis(START, START + dt.timedelta(days=3), dt.timedelta(days=1))
    html = Chart("Calls", axis, [Series("calls", [1, 2, 3])], Unit.COUNT).render()
    assert "2026-12-06\ncalls: 2" in html
    assert ">Dec 6<" in html


@pytest.mark.parametrize(
    ("unit", "value", "step", "label"),
    [
        (Unit.USD, 0.2, 0.2, "$0.20"),
        (Unit.USD, 0.0025, 0.0025, "$0.0025"),
        (Unit.USD, 20, 5, "$20"),
        (Unit.USD, 1500, 500, "$1.5k"),
        (Unit.COUNT, 1_250_000, 250_000, "1.25M"),
        (Unit.MS, 250, 50, "250 ms"),
        (Unit.MS, 200, 200, "200 ms"),
        (Unit.MS, 2500, 500, "2.5 s"),
        (Unit.MS, 2500, 2500, "2.5 s"),
        (Unit.PERCENT, 0.025, 0.005, "2.5%"),
    ],
)
def test_tick_labels_are_short(unit: Unit, value: float, step: float, label: str) -> None:
    assert unit.tick(value, step) == label
