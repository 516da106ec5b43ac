"""Records to rows, and rows to the database: what one writer batch does.

Everything here runs on the writer's thread. :func:`prepare` makes the rows
(JSON-safe content, redaction, secrets scrubbed from metadata and every text
column, missing costs priced) once per batch; :func:`write` stores them in
one transaction and recomputes the rollups of every trace it touched from
the stored spans, so the totals stay right whatever order spans and trace
updates arrive in; in the same transaction it adds the LLM spans it stored
to the metrics table (see :mod:`.aggregate`), and widens the time bounds of
their sessions and users (see :mod:`.bounds`).
"""

from __future__ import annotations

import codecs
import dataclasses
import datetime as dt
import functools
import io
import uuid
from collections.abc import Callable
from collections.abc import Iterable
from typing import Any
from typing import cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection

from ..log import get_logger
from ..models import Score
from ..models import Span
from ..models import Trace
from ..models.base import CLOCK_SLACK
from ..models.base import EARLIEST
from ..models.base import ID_TIME_SLACK
from ..models.base import LATEST
from ..models.base import id_time
from ..models.base import utcnow
from . import aggregate
from . import arrays
from . import bounds
from . import search
from . import speedups
from .limits import cut_content
from .pricing import cost_of
from .records import PROMPT_VARIABLES
from .records import ScoreRecord
from .records import SpanRecord
from .records import TraceRecord
from .serialize import REDACTED
from .serialize import dumps
from .serialize import metadata_json
from .serialize import stored_text
from .serialize import to_json

traces = cast(sa.Table, Trace.__table__)
spans = cast(sa.Table, Span.__table__)
scores = cast(sa.Table, Score.__table__)

#: Rollup columns of a trace: derived from its spans, never sent by the caller.
_TOKEN_COLUMNS = (
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
)
#: The columns of a trace's row that only the writer's insert sets (``created_at`` too).
_NEW_TRACE: dict[str, Any] = {
    "models": "[]",
    "spans_count": 0,
    **dict.fromkeys(_TOKEN_COLUMNS, 0),
}
#: What a trace record sets; an end record updates them on the row of the start record.
_TRACE_FIELDS = (
    "name",
    "status",
    "error",
    "metadata",
    "duration_ms",
    "prompt_version_id",
    "user_id",
    "session_id",
    "tags",
    "environment",
    "apm_trace_id",
    "apm_span_id",
    "started_at",
    "completed_at",
)


@dataclasses.dataclass(frozen=True)
class ContentPolicy:
    """How inputs and outputs are stored, read once per batch.

    Whether they are stored at all was decided on the caller's side, when
    the call started: a record leaves out what the app did not want kept.
    """

    redact: Callable[[Any], Any] | None
    pricing_provider: str | None
    #: ``LLM_LOGS_MAX_CONTENT_BYTES``: each of input and output is cut to this.
    max_content_bytes: int


@dataclasses.dataclass
class Rows:
    traces: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    spans: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    scores: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    #: The prompt version each LLM span was built from, by span id (for the metrics).
    prompt_versions: dict[Any, int] = dataclasses.field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.traces) + len(self.spans) + len(self.scores)

    def halves(self) -> tuple[Rows, Rows]:
        """Two halves, to corner a row the database refuses in few attempts."""
        rows = [
            (kind, row) for kind in ("traces", "spans", "scores") for row in getattr(self, kind)
        ]
        middle = len(rows) // 2
        return (
            _rows(rows[:middle], self.prompt_versions),
            _rows(rows[middle:], self.prompt_versions),
        )


def _rows(tagged: list[tuple[str, dict[str, Any]]], prompt_versions: dict[Any, int]) -> Rows:
    rows = Rows(prompt_versions=prompt_versions)
    for kind, row in tagged:
        getattr(rows, kind).append(row)
    return rows


def _redacted(value: Any, policy: ContentPolicy) -> Any:
    if policy.redact is None:
        return value
    try:
        return policy.redact(to_json(value))
    except Exception:
        # Storing the unredacted value would defeat the redaction.
        return REDACTED


def content_json(value: Any, policy: ContentPolicy) -> str | None:
    """``value`` as stored (and exported): redacted, as JSON text; ``None`` if left out."""
    if value is None:
        return None
    if policy.redact is None:
        return dumps(value)
    value = _redacted(value, policy)
    return None if value is None else dumps(value)


def span_cost(record: SpanRecord, policy: ContentPolicy) -> float | None:
    """The span's cost: the one recorded, else priced from its tokens (``None``: unknown)."""
    if record.cost is not None:
        return record.cost
    try:
        return cost_of(
            record.model,
            policy.pricing_provider or record.provider,
            record.input_tokens,
            record.output_tokens,
            record.cached_tokens,
            record.cache_write_tokens,
        )
    except Exception:
        return None


def record_time(timestamp: float | None) -> dt.datetime | None:
    """A record's time (``time.time()``) as the column's datetime."""
    return None if timestamp is None else dt.datetime.fromtimestamp(timestamp, dt.timezone.utc)


def whole_number(value: Any) -> int | None:
    """A prompt version id as stored: ``3`` and ``3.0`` (an id read from JSON) are 3,
    anything else is none (the trace is stored without it, not dropped)."""
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer():
        return int(value)
    return None


def trace_row(record: TraceRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": stored_text(record.name, 255),
        "status": stored_text(record.status, 20),
        "error": stored_text(record.error),
        "metadata": metadata_json(record.metadata),
        "duration_ms": record.duration_ms,
        "prompt_version_id": whole_number(record.prompt_version_id),
        "user_id": stored_text(record.user_id, 255),
        "session_id": stored_text(record.session_id, 255),
        "tags": dumps([stored_text(tag) for tag in record.tags]),
        "environment": stored_text(record.environment, 50),
        "apm_trace_id": stored_text(record.apm_trace_id, 32),
        "apm_span_id": stored_text(record.apm_span_id, 16),
        "started_at": record_time(record.started_at),
        "completed_at": record_time(record.completed_at),
    }


#: A score row's mark that its span's trace wins (see ``ScoreRecord.span_decides``).
SPAN_DECIDES = "span_decides"


def score_row(record: ScoreRecord) -> dict[str, Any]:
    return {
        SPAN_DECIDES: record.span_decides,
        "id": record.id,
        "trace_id": record.trace_id,
        "span_id": record.span_id,
        "name": stored_text(record.name, 255),
        "value": record.value,
        "label": stored_text(record.label, 255),
        "comment": stored_text(record.comment),
        "source": stored_text(record.source, 50),
        "author": stored_text(record.author, 255),
        "created_at": record_time(record.created_at),
    }


#: The columns of a span row (:func:`span_row`), in order: those :func:`copy_text` writes.
SPAN_COLUMNS = (
    "id",
    "trace_id",
    "parent_id",
    "name",
    "kind",
    "operation",
    "model",
    "provider",
    "input",
    "output",
    "search",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cost",
    "duration_ms",
    "time_to_first_token_ms",
    "status",
    "error",
    "metadata",
    "started_at",
    "completed_at",
    "created_at",
)

#: Span metadata listing the fields cut to ``LLM_LOGS_MAX_CONTENT_BYTES``.
TRUNCATED_KEY = "llm_logs.truncated"


def span_row(record: SpanRecord, policy: ContentPolicy, created_at: dt.datetime) -> dict[str, Any]:
    # Cut before anything encodes them: see ``limits``.
    limit = policy.max_content_bytes
    (input, input_cut), (output, output_cut) = (
        cut_content(record.input, limit),
        cut_content(record.output, limit),
    )
    metadata = record.metadata
    if PROMPT_VARIABLES in metadata:
        # Content like the input they render into: cut and redacted the same way.
        variables, _ = cut_content(metadata[PROMPT_VARIABLES], limit)
        metadata = {**metadata, PROMPT_VARIABLES: _redacted(variables, policy)}
    if input_cut or output_cut:
        cut = [name for name, was_cut in (("input", input_cut), ("output", output_cut)) if was_cut]
        metadata = {**metadata, TRUNCATED_KEY: cut}
    input_json, output_json = content_json(input, policy), content_json(output, policy)
    return {
        "id": record.id,
        "trace_id": record.trace_id,
        "parent_id": record.parent_id,
        "name": stored_text(record.name, 255),
        "kind": stored_text(record.kind, 20),
        "operation": stored_text(record.operation, 50),
        "model": stored_text(record.model, 255),
        "provider": stored_text(record.provider, 255),
        "input": input_json,
        "output": output_json,
        "search": search.document(input_json, output_json),
        "input_tokens": record.input_tokens,
        "output_tokens": record.output_tokens,
        "cached_tokens": record.cached_tokens,
        "cache_write_tokens": record.cache_write_tokens,
        "reasoning_tokens": record.reasoning_tokens,
        "cost": span_cost(record, policy),
        "duration_ms": record.duration_ms,
        "time_to_first_token_ms": record.time_to_first_token_ms,
        "status": stored_text(record.status, 20),
        "error": stored_text(record.error),
        "metadata": metadata_json(metadata),
        "started_at": record_time(record.started_at),
        "completed_at": record_time(record.completed_at),
        "created_at": created_at,
    }


def prepare(records: Iterable[Any], policy: ContentPolicy) -> tuple[Rows, int]:
    """The rows for ``records`` and how many records could not be made into one.

    Of several records of one trace, the last one that is not ``running``
    wins: one upsert statement cannot touch a row twice.
    """
    rows = Rows()
    by_trace: dict[Any, dict[str, Any]] = {}
    rejected = 0
    created_at = utcnow()  # the batch's rows are stored together
    for record in records:
        try:
            if isinstance(record, SpanRecord):
                rows.spans.append(span_row(record, policy, created_at))
                version = whole_number(record.metadata.get("prompt_version_id"))
                if version is not None:
                    rows.prompt_versions[record.id] = version
                if record.automatic is not None:
                    by_trace[record.trace_id] = trace_row(record.automatic_trace())
            elif isinstance(record, TraceRecord):
                if record.id not in by_trace or record.status != "running":
                    by_trace[record.id] = trace_row(record)
            elif isinstance(record, ScoreRecord):
                rows.scores.append(score_row(record))
            else:
                raise TypeError(f"not a trace, span or score record: {record!r}")
        except Exception:
            rejected += 1
    rows.traces = list(by_trace.values())
    return rows, rejected


#: Upserts trace rows; the ids of those inserted or updated (not those of start
#: records that came after their end).
_UpsertTraces = Callable[[Connection, list[dict[str, Any]]], set[Any]]


@dataclasses.dataclass(frozen=True)
class _Statements:
    upsert_traces: _UpsertTraces
    insert_spans: Any
    insert_scores: Any
    update_rollups: Any
    #: ``update_rollups``' ``:trace_ids``: a list on SQLite, an array literal on PostgreSQL.
    rollup_ids: Callable[[Iterable[Any]], Any]
    #: ``update_rollups``' window: ranges of the partition key on PostgreSQL.
    rollup_window: Callable[[Rows, set[Any]], tuple[dict[str, dt.datetime], set[Any]]]
    upsert_metrics: aggregate.Upsert


@functools.cache
def _statements(dialect_name: str) -> _Statements:
    """The batch's statements, built once per dialect (building one costs milliseconds)."""
    dialect = {"postgresql": postgresql, "sqlite": sqlite}.get(dialect_name)
    if dialect is None:
        raise RuntimeError(
            f"flask-llm-logs stores traces on PostgreSQL or SQLite, not {dialect_name}"
        )
    upsert_traces: _UpsertTraces
    if dialect_name == "postgresql":
        upsert_traces = functools.partial(_upsert_traces_by_columns, _trace_upsert_text())
    else:
        upsert = dialect.insert(traces).values(_json_as_text(traces, dialect_name))
        statement = upsert.on_conflict_do_update(
            **_conflict_target(traces, dialect_name),
            set_={key: upsert.excluded[key] for key in _TRACE_FIELDS},
            # The start record never overwrites an end record that landed first.
            where=upsert.excluded.status != "running",
            # RETURNING makes SQLAlchemy send one multi-row statement
            # (insertmanyvalues) instead of one round trip per row; the rows it
            # returns are those inserted or updated (not a start record refused).
        ).returning(traces.c.id)
        upsert_traces = functools.partial(_upsert_traces_by_rows, statement)
    # A retry after a lost commit acknowledgement must not fail on duplicates.
    # RETURNING: only the spans stored now are added to the metrics.
    insert_spans = (
        dialect.insert(spans)
        .values(_json_as_text(spans, dialect_name))
        .on_conflict_do_nothing(**_conflict_target(spans, dialect_name))
        .returning(spans.c.id)
    )
    insert_scores = dialect.insert(scores).on_conflict_do_nothing(
        **_conflict_target(scores, dialect_name)
    )
    return _Statements(
        upsert_traces,
        insert_spans,
        insert_scores,
        _rollups(dialect_name),
        arrays.uuids if dialect_name == "postgresql" else list,
        _rollup_window if dialect_name == "postgresql" else _all_time,
        aggregate.upsert(dialect_name),
    )


#: The columns of a trace row as the writer upserts it: :func:`trace_row`'s, then
#: those only a new row takes (:data:`_NEW_TRACE`).
_UPSERTED_TRACE_COLUMNS = (
    "id",
    *_TRACE_FIELDS,
    "models",
    "spans_count",
    "created_at",
    *_TOKEN_COLUMNS,
)


def _trace_upsert_text() -> str:
    """The traces' upsert on PostgreSQL: the rows as one array per column (:mod:`.arrays`).

    What SQLAlchemy's statement is on SQLite: an end record updates the row of
    its start record, a start record never overwrites an end record, and the
    ids of the rows inserted or updated come back.
    """
    quote = arrays.quote
    updates = ", ".join(f"{quote(name)} = excluded.{quote(name)}" for name in _TRACE_FIELDS)
    constraint = _conflict_target(traces, "postgresql")["constraint"]
    return (
        arrays.insert_into(traces, (traces.c[name] for name in _UPSERTED_TRACE_COLUMNS))
        + f" ON CONFLICT ON CONSTRAINT {quote(constraint)} DO UPDATE SET {updates}"
        + " WHERE excluded.status <> 'running' RETURNING id"
    )


#: :func:`_trace_upsert_text`'s parameter makers, by column.
_TRACE_LITERALS = {name: arrays.literal_of(traces.c[name]) for name in _UPSERTED_TRACE_COLUMNS}


def _upsert_traces_by_columns(
    statement: str, connection: Connection, rows: list[dict[str, Any]]
) -> set[Any]:
    """PostgreSQL's ``upsert_traces``: :func:`_trace_upsert_text` given one array per column."""
    parameters = {
        name: literal([row[name] for row in rows]) for name, literal in _TRACE_LITERALS.items()
    }
    return set(connection.exec_driver_sql(statement, parameters).scalars())


def _upsert_traces_by_rows(
    statement: Any, connection: Connection, rows: list[dict[str, Any]]
) -> set[Any]:
    """SQLite's ``upsert_traces``: SQLAlchemy's statement given one dict per row."""
    return set(connection.scalars(statement, rows))


def _conflict_target(table: sa.Table, dialect_name: str) -> dict[str, Any]:
    """The ``ON CONFLICT`` target of ``table``'s rows: its primary key.

    On PostgreSQL named, not spelt out: a partitioned table's key holds its
    time column too (``(id, started_at)``, see :mod:`flask_llm_logs.partitions`),
    an unpartitioned one's is ``(id)``, and the name fits both, so the writer
    works before and after ``flask llm-logs db partition``. A trace's start
    and end records carry the same ``started_at``, so they still meet.
    """
    if dialect_name == "postgresql":
        return {"constraint": f"pk_{table.name}"}
    return {"index_elements": [table.c.id]}


def _json_as_text(table: sa.Table, dialect_name: str) -> dict[str, Any]:
    """Insert values for the JSON columns that take the rows' JSON text as it is."""
    values: dict[str, Any] = {}
    for column in table.c:
        if isinstance(column.type, sa.JSON):
            param = sa.bindparam(column.name, type_=sa.Text)
            is_postgresql = dialect_name == "postgresql"
            values[column.name] = sa.cast(param, postgresql.JSONB) if is_postgresql else param
    return values


def _rollups(dialect_name: str) -> Any:
    """Recompute tokens, cost, span count and models of ``:trace_ids`` from their spans.

    ``:trace_ids`` is a list on SQLite, an array literal on PostgreSQL.
    """
    model = spans.c.model
    models: sa.ColumnElement[Any]
    if dialect_name == "postgresql":
        models = sa.func.jsonb_agg(model.distinct()).filter(model.is_not(None))
        models = sa.func.coalesce(models, sa.literal_column("'[]'::jsonb"))
    else:
        models = sa.func.json_group_array(model.distinct()).filter(model.is_not(None))
    of_traces: sa.ColumnElement[bool]
    if dialect_name == "postgresql":
        # One array literal (``arrays.uuids``), where ``IN`` has SQLAlchemy render
        # and psycopg2 quote a parameter per trace.
        ids = sa.cast(sa.bindparam("trace_ids", type_=sa.Text), postgresql.ARRAY(sa.Uuid))
        of_traces = spans.c.trace_id == sa.any_(ids)
    else:
        of_traces = spans.c.trace_id.in_(sa.bindparam("trace_ids", expanding=True))
    totals = (
        sa.select(
            spans.c.trace_id,
            *(sa.func.coalesce(sa.func.sum(spans.c[c]), 0).label(c) for c in _TOKEN_COLUMNS),
            sa.func.sum(spans.c.cost).label("cost"),
            sa.func.count().label("spans_count"),
            models.label("models"),
        )
        .where(of_traces, spans.c.started_at >= sa.bindparam("spans_from"))
        .group_by(spans.c.trace_id)
        .subquery()
    )
    columns = (*_TOKEN_COLUMNS, "cost", "spans_count", "models")
    update = (
        sa.update(traces)
        .where(
            traces.c.id == totals.c.trace_id,
            traces.c.started_at.between(sa.bindparam("first"), sa.bindparam("last")),
        )
        .values({c: totals.c[c] for c in columns})
    )
    # The traces updated: those of a window guessed from their ids that are
    # not among them are looked for everywhere (:func:`_rollup_window`).
    return update.returning(traces.c.id) if dialect_name == "postgresql" else update


#: The window of a batch whose traces' starts are not all known: every time.
_ALL_TIME = {"first": EARLIEST, "last": LATEST, "spans_from": EARLIEST}


def _rollup_window(rows: Rows, trace_ids: set[Any]) -> tuple[dict[str, dt.datetime], set[Any]]:
    """Where the traces ``trace_ids`` and their spans are (ranges on their partition
    key), and the traces whose place in it is a guess.

    Without them the rollups' update searched every partition of the traces
    and the spans, for each trace: with 90 daily partitions, half as much
    server time again per span stored. A trace in the batch gives its start.
    Another (its spans came without it) is placed by the time in its id,
    within :data:`ID_TIME_SLACK`: a guess, since an id from elsewhere (an
    OpenTelemetry trace's) may look like a UUID 7 by chance, so
    :func:`write` looks for such a trace everywhere if the update missed it.
    An id that is no UUID 7 leaves the window open. Spans are not older than
    their trace's start by more than :data:`CLOCK_SLACK`, as the UI reads them.
    """
    starts = {row["id"]: row["started_at"] for row in rows.traces}
    earliest, latest, guessed = [], [], set()
    for trace_id in trace_ids:
        start = starts.get(trace_id)
        if start is None:
            made = id_time(trace_id) if isinstance(trace_id, uuid.UUID) else None
            if made is None:
                return _ALL_TIME, set()
            guessed.add(trace_id)
            earliest.append(made - ID_TIME_SLACK)
            latest.append(made + ID_TIME_SLACK)
        else:
            earliest.append(start)
            latest.append(start)
    # ``write`` asks only for a batch that names a trace.
    first, last = min(earliest), max(latest)
    return {"first": first, "last": last, "spans_from": first - CLOCK_SLACK}, guessed


def _all_time(rows: Rows, trace_ids: set[Any]) -> tuple[dict[str, dt.datetime], set[Any]]:
    """SQLite's window: it has no partitions to leave out."""
    return _ALL_TIME, set()


def write(connection: Connection, rows: Rows, *, metrics: bool = True) -> None:
    """Store ``rows`` and refresh the rollups of their traces, in the caller's transaction.

    The rollups of every trace the rows touch are recomputed from the stored
    spans, so they are right whatever order spans and trace records arrive in.
    With ``metrics`` (``LLM_LOGS_METRICS``) the LLM spans stored now are added
    to the metrics table. The bounds of the traces' sessions and users take in
    every trace record's start (:mod:`.bounds`).
    """
    statements = _statements(connection.dialect.name)
    stored_traces: dict[Any, tuple[str, str, str]] = {}
    if rows.traces:
        new_trace = {**_NEW_TRACE, "created_at": utcnow()}
        ids = statements.upsert_traces(connection, [{**new_trace, **r} for r in rows.traces])
        if metrics:
            # The rows the upsert returns are as this batch has them now (a start
            # record that came after its end record is not): the metrics need
            # not read them back.
            stored_traces = {
                row["id"]: aggregate.dimensions(row) for row in rows.traces if row["id"] in ids
            }
    stored_spans = rows.spans
    if len(rows.spans) > 1 and connection.dialect.driver == "psycopg2":
        copy_spans(connection, rows.spans)
    elif rows.spans:
        new = set(connection.scalars(statements.insert_spans, rows.spans))
        if len(new) < len(rows.spans):  # some were stored before: a retry
            stored_spans = [row for row in rows.spans if row["id"] in new]
    _find_traces_of_scored_spans(connection, rows)
    if rows.scores:
        # No rollup: a score waits for its trace, whose page reads it by id.
        connection.execute(statements.insert_scores, rows.scores)
    trace_ids = {row["id"] for row in rows.traces} | {row["trace_id"] for row in rows.spans}
    if not trace_ids:
        return
    window, guessed = statements.rollup_window(rows, trace_ids)
    ids = statements.rollup_ids(trace_ids)
    updated = connection.execute(statements.update_rollups, {"trace_ids": ids, **window})
    missed = guessed - set(updated.scalars()) if guessed else None
    if missed:  # stored since, or with a start far from its id's time
        ids = statements.rollup_ids(missed)
        connection.execute(statements.update_rollups, {"trace_ids": ids, **_ALL_TIME})
    # Late, as the metrics: the rows of a session or user that several
    # writers share stay locked only until the commit.
    bounds.add(connection, rows.traces)
    if metrics and stored_spans:
        # Last: the metrics rows stay locked only until the commit that follows.
        aggregate.add(
            connection,
            statements.upsert_metrics,
            stored_spans,
            rows.prompt_versions,
            stored_traces,
        )


def _find_traces_of_scored_spans(connection: Connection, rows: Rows) -> None:
    """Give each score of a span sent without its trace the span's trace.

    The span is in this batch or already stored; failing both, the trace
    current when it was scored (a span of it not stored yet). A score with
    neither is dropped with a warning: it could never show on a trace page.
    """
    scored = {row["span_id"] for row in rows.scores if row.pop(SPAN_DECIDES, False)}
    if not scored:
        return
    trace_of = {row["id"]: row["trace_id"] for row in rows.spans if row["id"] in scored}
    if scored - trace_of.keys():
        query = sa.select(spans.c.id, spans.c.trace_id).where(
            spans.c.id.in_(scored - trace_of.keys())
        )
        trace_of.update({span_id: trace_id for span_id, trace_id in connection.execute(query)})
    kept = []
    for row in rows.scores:
        row["trace_id"] = trace_of.get(row["span_id"], row["trace_id"])
        if row["trace_id"] is None:
            get_logger().warning(
                "flask-llm-logs: score %r of span %s dropped: no such span is stored",
                row["name"],
                row["span_id"],
            )
        else:
            kept.append(row)
    rows.scores = kept


def _text(value: str | None) -> str:
    """A text (or JSON) field of ``COPY .. (FORMAT csv)``: quoted, quotes doubled; NULL empty."""
    return "" if value is None else '"' + value.replace('"', '""') + '"'


def _plain(value: Any) -> str:
    """A number or a time, which holds no comma or quote: as ``str`` writes it; NULL empty."""
    return "" if value is None else str(value)


def copy_text(rows: list[dict[str, Any]]) -> str:
    """Span ``rows`` as ``COPY .. (FORMAT csv)`` text, in the order of :data:`SPAN_COLUMNS`.

    One format per row, each value with the one conversion its column needs
    (UUIDs as 32 hex digits, which PostgreSQL reads as it reads the dashed
    form, in a third of ``str``'s time); the batch's ``created_at`` is
    converted once. As fast as writing it column by column (which needed
    the batch transposed twice): what is left is the values' own
    conversions and the copying of the text.
    """
    created_at: Any = None
    created_text = ""
    lines = []
    for row in rows:
        if row["created_at"] is not created_at:
            created_at = row["created_at"]
            created_text = _plain(created_at)
        parent_id = row["parent_id"]
        lines.append(
            f"{row['id'].hex},{row['trace_id'].hex},{'' if parent_id is None else parent_id.hex},"
            f"{_text(row['name'])},{_text(row['kind'])},{_text(row['operation'])},"
            f"{_text(row['model'])},{_text(row['provider'])},"
            f"{_text(row['input'])},{_text(row['output'])},{_text(row['search'])},"
            f"{_plain(row['input_tokens'])},{_plain(row['output_tokens'])},"
            f"{_plain(row['cached_tokens'])},{_plain(row['cache_write_tokens'])},"
            f"{_plain(row['reasoning_tokens'])},{_plain(row['cost'])},"
            f"{_plain(row['duration_ms'])},{_plain(row['time_to_first_token_ms'])},"
            f"{_text(row['status'])},{_text(row['error'])},{_text(row['metadata'])},"
            f"{_plain(row['started_at'])},{_plain(row['completed_at'])},{created_text}\n"
        )
    return "".join(lines)


def copy_data(rows: list[dict[str, Any]], encoding: str) -> bytes:
    """:func:`copy_text` encoded in ``encoding``: in one pass in C where it was built
    (``speedups``) and the encoding is UTF-8, a quarter of the time."""
    if speedups.csv_rows is not None and codecs.lookup(encoding).name == "utf-8":
        return speedups.csv_rows(rows, SPAN_COLUMNS)
    return copy_text(rows).encode(encoding)


def copy_spans(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert span ``rows`` with PostgreSQL's ``COPY``, several times faster than ``INSERT``.

    ``COPY`` knows no ``ON CONFLICT``: a row already stored (a retry after a
    lost commit acknowledgement) fails the batch; the writer then splits it
    down to single rows, which use ``INSERT .. ON CONFLICT DO NOTHING``.
    CSV needs one replacement per field (quotes), where the text format needs
    four (backslash, tab, newline, carriage return).
    """
    quote = connection.dialect.identifier_preparer.quote
    statement = (
        f"COPY {quote(spans.name)} ({', '.join(map(quote, SPAN_COLUMNS))}) FROM STDIN (FORMAT csv)"
    )
    driver_connection = connection.connection.driver_connection
    # Encoded once, as psycopg2 would have encoded each piece it read: a
    # ``StringIO`` holds its text as four bytes a character and makes a new
    # string of every piece read (1.3 µs a span).
    psycopg2 = connection.dialect.loaded_dbapi
    encoding = psycopg2.extensions.encodings[driver_connection.encoding]  # type: ignore[union-attr]
    data = io.BytesIO(copy_data(rows, encoding))
    try:
        with driver_connection.cursor() as cursor:  # type: ignore[union-attr]
            cursor.copy_expert(statement, data)
    except connection.dialect.loaded_dbapi.Error as error:
        # Wrapped as SQLAlchemy would, so the writer tells "database away"
        # from "row refused"; a dead connection must not go back to the pool.
        if driver_connection.closed:  # type: ignore[union-attr]
            connection.invalidate()
        raise sa.exc.DBAPIError.instance(
            statement,
            None,
            error,
            connection.dialect.loaded_dbapi.Error,
            connection_invalidated=connection.invalidated,
            dialect=connection.dialect,
        ) from error
