"""Server-side render time of a very big trace's page and of a span with a huge reply.

A throw-away PostgreSQL database gets one trace per size in ``--spans``
(default 10,000 and 100,000 spans: a root per ten spans, nine children
each, chat input and output of about 300 bytes), and one span whose reply
is ``--reply-mb`` megabytes of Markdown. Each page is rendered through
Flask's test client (server time: queries, Python, Jinja; no network)
``--repeat`` times after one warm-up; the table shows medians.

Usage::

    python bench/ui_big_trace.py [--spans 10000 100000] [--reply-mb 9] [--repeat 5]
"""

from __future__ import annotations

import argparse
import uuid

import sqlalchemy as sa
from benchdb import create_tables
from benchdb import throwaway_database
from pagetimes import time_pages
from pagetimes import ui_app

FILL_TRACE = """
INSERT INTO llm_logs_traces (id, name, status, metadata, input_tokens, output_tokens,
    cached_tokens, cache_write_tokens, reasoning_tokens, duration_ms, spans_count, models,
    started_at, created_at)
VALUES (:id, 'big_pipeline', 'completed', '{}', 0, 0, 0, 0, 0, 1000, :spans, '[]', now(), now());
INSERT INTO llm_logs_spans (id, trace_id, parent_id, name, kind, input, output, duration_ms,
    status, metadata, started_at, completed_at, created_at)
SELECT md5(:id || s)::uuid, CAST(:id AS uuid),
    CASE WHEN s % 10 = 0 THEN NULL ELSE md5(:id || (s - s % 10))::uuid END,
    'step ' || s, CASE WHEN s % 10 = 0 THEN 'custom' ELSE 'llm' END,
    jsonb_build_array(jsonb_build_object('role', 'user', 'content', 'Question ' || s)),
    jsonb_build_object('role', 'assistant', 'content', '**Answer ' || s || ':** hold.'),
    150, 'completed', '{}', now() + s * interval '1 ms', now() + s * interval '1 ms', now()
FROM generate_series(0, :spans - 1) AS s;
"""


def fill(url: str, sizes: list[int], reply_mb: float) -> dict[str, str]:
    """The pages to time, by label."""
    engine = sa.create_engine(url)
    pages = {}
    with engine.begin() as connection:
        for spans in sizes:
            trace_id = uuid.uuid4()
            for statement in FILL_TRACE.strip().split(";\n"):
                connection.execute(sa.text(statement), {"id": str(trace_id), "spans": spans})
            pages[f"trace page, {spans:,} spans"] = f"/llm_logs/traces/{trace_id}"
        trace_id, span_id = uuid.uuid4(), uuid.uuid4()
        reply = "**Answer:** hold, *then* sell.\n\n- one `x`\n" * int(reply_mb * 2**20 / 40)
        connection.execute(sa.text(FILL_TRACE.split(";\n")[0]), {"id": str(trace_id), "spans": 1})
        connection.execute(
            sa.text(
                "INSERT INTO llm_logs_spans (id, trace_id, name, kind, output, status, metadata,"
                " started_at, created_at) VALUES (:span, :trace, 'chat', 'llm',"
                " jsonb_build_object('role', 'assistant', 'content', CAST(:reply AS text)),"
                " 'completed', '{}', now(), now())"
            ),
            {"span": span_id, "trace": trace_id, "reply": reply},
        )
        pages[f"span page, {len(reply) / 2**20:.0f} MB reply"] = (
            f"/llm_logs/traces/{trace_id}/spans/{span_id}"
        )
    engine.dispose()
    return pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--reply-mb", type=float, default=9.0)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with throwaway_database() as url:
        create_tables(url)
        pages = fill(url, args.spans, args.reply_mb)
        with ui_app("bench_ui_big", url) as app:
            time_pages(app, pages, args.repeat, label_width=36, size_width=8)


if __name__ == "__main__":
    main()
