"""How a prompt's labelled versions did: the comparison on the prompt's page.

Calls, cost, errors and durations come from the metrics table the writer
keeps (:func:`flask_llm_logs.metrics`), in one query grouped by prompt
version from the creation of the oldest labelled version (no call can
predate the version it was built from): the page's cost does not grow with
the number of traces. A call is an LLM call (a span of kind ``llm``) whose
metadata names the version (``Prompt.build()`` just before the call), not a
trace; a call without a cost counts as costing 0. Percentiles are the
latency histogram's, within 9.55 % of the nearest-rank value (see
:mod:`flask_llm_logs.tracing.latency`).

Scores are not in the metrics table: the mean of each score name is read
from the scores of the traces linked to each version
(``Trace.prompt_version_id``), in one grouped query, over the traces
running from that same creation on and the scores made after it: on
PostgreSQL, ranges that spare the older partitions of both tables
(docs/partitions.rst). Every figure carries the number of calls (or
scores) behind it, so a 2 % error rate over 3 calls reads as such.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import sqlalchemy as sa

from ..insights.metrics import metrics
from ..models import PromptLabel
from ..models import PromptRecord
from ..models import PromptVersion
from ..models import Score
from ..models import Trace
from ..prompts.labels import STANDARD_LABELS
from .trace_queries import DbSession
from .trace_queries import made_since
from .trace_queries import running_within

#: The percentiles of durations shown, in percent, and their ``metrics()`` keys.
PERCENTILES = (50, 95)
_PERCENTILE_KEYS = {50: "p50_ms", 95: "p95_ms"}


@dataclasses.dataclass(frozen=True)
class Figure:
    """A figure and the number of calls it was computed from (``value`` ``None`` when 0)."""

    value: float | None
    calls: int


@dataclasses.dataclass
class VersionResults:
    """What the LLM calls built from one labelled version did."""

    version_id: int
    version_number: int
    labels: list[str]
    calls: int = 0
    cost_per_call: Figure = Figure(None, 0)
    error_rate: Figure = Figure(None, 0)
    #: Duration percentiles in milliseconds, by percent.
    durations: dict[int, Figure] = dataclasses.field(default_factory=dict)
    #: The mean of each numeric score, by score name.
    scores: dict[str, Figure] = dataclasses.field(default_factory=dict)


def labelled_results(session: DbSession, prompt_id: int) -> list[VersionResults]:
    """The prompt's labelled versions, newest first, each with its results."""
    rows = session.execute(
        sa.select(
            PromptVersion.id,
            PromptVersion.version_number,
            PromptLabel.name,
            PromptVersion.created_at,
            PromptRecord.slug,
        )
        .join(PromptLabel, PromptLabel.version_id == PromptVersion.id)
        .join(PromptRecord, PromptRecord.id == PromptLabel.prompt_id)
        .where(PromptLabel.prompt_id == prompt_id)
        .order_by(PromptVersion.version_number.desc(), PromptLabel.name)
    ).all()
    results: dict[int, VersionResults] = {}
    for version_id, number, label, _, _ in rows:
        results.setdefault(version_id, VersionResults(version_id, number, [])).labels.append(label)
    if results:
        since = min(row.created_at for row in rows)
        _add_figures(results, since, rows[0].slug)
        _add_scores(session, results, since)
    return list(results.values())


def _add_figures(results: dict[int, VersionResults], since: dt.datetime, slug: str) -> None:
    found = metrics(since, group_by=("prompt_version",), filters={"prompt": slug})
    for row in found:
        result = results.get(row["prompt_version"])
        if result is None:  # an unlabelled version of the prompt
            continue
        calls = result.calls = row["calls"]
        result.cost_per_call = Figure(row["cost"] / calls, calls)
        result.error_rate = Figure(row["error_rate"], calls)
        result.durations = {
            percent: Figure(row[key], calls) for percent, key in _PERCENTILE_KEYS.items()
        }


def _add_scores(session: DbSession, results: dict[int, VersionResults], since: dt.datetime) -> None:
    """The mean of each score name of the versions' traces, which ran from ``since`` on
    and were scored after: ranges on both tables' partition keys."""
    query: Any = (
        sa.select(Trace.prompt_version_id, Score.name, sa.func.avg(Score.value), sa.func.count())
        .join(Trace, Trace.id == Score.trace_id)
        .where(
            Trace.prompt_version_id.in_(results),
            Score.value.is_not(None),
            *running_within(session, since).of(Trace.started_at),
            *made_since(session, since).of(Score.created_at),
        )
        .group_by(Trace.prompt_version_id, Score.name)
        .order_by(Score.name)
    )
    for version_id, name, mean, count in session.execute(query):
        results[version_id].scores[name] = Figure(float(mean), count)


def score_names(results: list[VersionResults]) -> list[str]:
    """Every score name any of the versions has, sorted: the comparison's columns."""
    return sorted({name for result in results for name in result.scores})


def labels_of(results: list[VersionResults]) -> dict[str, int | None]:
    """Every label and the version number it names, as ``Prompt.labels`` says, without
    another query: the results were read by label."""
    labels: dict[str, int | None] = dict.fromkeys(STANDARD_LABELS)
    named = {label: result.version_number for result in results for label in result.labels}
    labels.update(sorted(named.items()))
    return labels
