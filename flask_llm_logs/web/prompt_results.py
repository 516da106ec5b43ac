"""How a prompt's labelled versions did: the comparison on the prompt's page.

Read from the traces linked to each version (``Trace.prompt_version_id``,
indexed with ``started_at``) and their scores, in three grouped queries
whatever the number of versions: figures per version, the median and 95th
percentile of durations, the mean of each score. Every figure carries the
number of calls behind it, so a 2 % error rate over 3 calls reads as such.

Percentiles are nearest-rank (the smallest duration that at least p % of
the calls did not exceed): PostgreSQL's ``percentile_disc`` in the query of
the other figures; SQLite has no ordered-set aggregate, so there a window
function ranks the durations, which on PostgreSQL took three times longer
than every other figure together (``bench/prompt_results.py``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import sqlalchemy as sa

from ..models import PromptLabel
from ..models import PromptVersion
from ..models import Score
from ..models import Trace
from ..prompts.labels import STANDARD_LABELS
from .trace_queries import DbSession

#: The percentiles of durations shown, in percent.
PERCENTILES = (50, 95)


@dataclasses.dataclass(frozen=True)
class Figure:
    """A figure and the number of calls it was computed from (``value`` ``None`` when 0)."""

    value: float | None
    calls: int


@dataclasses.dataclass
class VersionResults:
    """What the calls built from one labelled version did."""

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
        sa.select(PromptVersion.id, PromptVersion.version_number, PromptLabel.name)
        .join(PromptLabel, PromptLabel.version_id == PromptVersion.id)
        .where(PromptLabel.prompt_id == prompt_id)
        .order_by(PromptVersion.version_number.desc(), PromptLabel.name)
    )
    results: dict[int, VersionResults] = {}
    for version_id, number, label in rows:
        results.setdefault(version_id, VersionResults(version_id, number, [])).labels.append(label)
    if results:
        if session.get_bind(Trace).dialect.name == "postgresql":
            _add_figures(session, results, percentiles=True)
        else:
            _add_figures(session, results, percentiles=False)
            _add_durations(session, results)
        _add_scores(session, results)
    return list(results.values())


def _add_figures(
    session: DbSession, results: dict[int, VersionResults], *, percentiles: bool
) -> None:
    finished = Trace.status.in_(("completed", "error"))
    columns: list[Any] = [
        Trace.prompt_version_id,
        sa.func.count(),
        sa.func.avg(Trace.cost),
        sa.func.count(Trace.cost),
        sa.func.sum(sa.case((Trace.status == "error", 1), else_=0)),
        sa.func.sum(sa.case((finished, 1), else_=0)),
        sa.func.count(Trace.duration_ms),
    ]
    if percentiles:
        columns += [
            sa.func.percentile_disc(percent / 100).within_group(Trace.duration_ms)
            for percent in PERCENTILES
        ]
    query = (
        sa.select(*columns)
        .where(Trace.prompt_version_id.in_(results))
        .group_by(Trace.prompt_version_id)
    )
    for version_id, calls, cost, costed, errors, ended, timed, *durations in session.execute(query):
        result = results[version_id]
        result.calls = calls
        result.cost_per_call = Figure(None if cost is None else float(cost), costed)
        result.error_rate = Figure(errors / ended if ended else None, ended or 0)
        if timed:
            for percent, duration in zip(PERCENTILES, durations, strict=False):
                result.durations[percent] = Figure(duration, timed)


def _add_durations(session: DbSession, results: dict[int, VersionResults]) -> None:
    """The percentiles by rank, for databases without ``percentile_disc`` (SQLite)."""
    ranked = (
        sa.select(
            Trace.prompt_version_id.label("version_id"),
            Trace.duration_ms.label("duration"),
            sa.func.row_number()
            .over(partition_by=Trace.prompt_version_id, order_by=Trace.duration_ms)
            .label("rank"),
            sa.func.count().over(partition_by=Trace.prompt_version_id).label("total"),
        )
        .where(Trace.prompt_version_id.in_(results), Trace.duration_ms.is_not(None))
        .subquery()
    )
    # The nearest rank, ceil(p * n / 100), in integer arithmetic on both databases.
    wanted = {p: (ranked.c.total * p + 99) // 100 for p in PERCENTILES}
    query = sa.select(ranked.c.version_id, ranked.c.rank, ranked.c.total, ranked.c.duration).where(
        sa.or_(*(ranked.c.rank == rank for rank in wanted.values()))
    )
    for version_id, rank, total, duration in session.execute(query):
        for percent in PERCENTILES:
            if rank == (total * percent + 99) // 100:
                results[version_id].durations[percent] = Figure(duration, total)


def _add_scores(session: DbSession, results: dict[int, VersionResults]) -> None:
    query: Any = (
        sa.select(Trace.prompt_version_id, Score.name, sa.func.avg(Score.value), sa.func.count())
        .join(Trace, Trace.id == Score.trace_id)
        .where(Trace.prompt_version_id.in_(results), Score.value.is_not(None))
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
