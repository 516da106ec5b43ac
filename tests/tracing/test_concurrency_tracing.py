"""Concurrent work never mixes traces: asyncio tasks, thread pools, a threaded server."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import urllib.request
from collections.abc import Callable
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import openai
import pytest
from flask import Flask
from openai.types.chat import ChatCompletionMessageParam
from werkzeug.serving import make_server

from flask_llm_logs import copy_context_to
from flask_llm_logs import span
from flask_llm_logs import trace
from flask_llm_logs.testing import FakeOpenAI
from tests.helpers.tracing import spans
from tests.helpers.tracing import traces

MODEL = "gpt-4.1-mini"
CONCURRENT = 10


def ask(text: str) -> list[ChatCompletionMessageParam]:
    return [{"role": "user", "content": text}]


def asked(llm_span: Any) -> str:
    return str(llm_span.input["messages"][0]["content"])


def test_gathered_tasks_each_keep_their_own_trace(app: Flask, fake_openai: FakeOpenAI) -> None:
    async def request(client: openai.AsyncOpenAI, i: int) -> None:
        async with trace(f"request-{i}", metadata={"i": i}):
            await asyncio.sleep(0.001 * (CONCURRENT - i))  # finish in another order
            await client.chat.completions.create(model=MODEL, messages=ask(f"question {i}"))
            with span(f"post-{i}"):
                await asyncio.sleep(0)

    async def main() -> None:
        async with fake_openai.async_client() as client:
            await asyncio.gather(*(request(client, i) for i in range(CONCURRENT)))

    asyncio.run(main())
    rows = traces(app)
    assert len(rows) == CONCURRENT
    for row in rows:
        i = row.metadata["i"]
        assert row.name == f"request-{i}"
        children = spans(app, trace_id=row.id)
        assert sorted(c.name for c in children) == [f"chat {MODEL}", f"post-{i}"]
        [llm] = [c for c in children if c.kind == "llm"]
        assert asked(llm) == f"question {i}"


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.TaskGroup is new in 3.11")
def test_task_group_branches_nest_under_the_trace(app: Flask, fake_openai: FakeOpenAI) -> None:
    async def branch(client: openai.AsyncOpenAI, i: int) -> None:
        with span(f"branch-{i}"):
            await asyncio.sleep(0.001 * (CONCURRENT - i))
            await client.chat.completions.create(model=MODEL, messages=ask(f"branch {i}"))

    async def main() -> None:
        async with (
            fake_openai.async_client() as client,
            trace("fan_out"),
            # The test is skipped before 3.11; mypy checks the suite as 3.10.
            asyncio.TaskGroup() as group,  # type: ignore[attr-defined]
        ):
            for i in range(CONCURRENT):
                group.create_task(branch(client, i))

    asyncio.run(main())
    [row] = traces(app)
    children = spans(app, trace_id=row.id)
    branches = {c.id: c for c in children if c.kind == "custom"}
    assert len(branches) == CONCURRENT
    llms = [c for c in children if c.kind == "llm"]
    assert len(llms) == CONCURRENT
    for llm in llms:
        parent = branches[llm.parent_id]
        assert parent.parent_id is None
        assert asked(llm) == parent.name.replace("branch-", "branch ")


def test_thread_pool_with_copy_context_to(app: Flask, fake_openai: FakeOpenAI) -> None:
    client = fake_openai.client()

    def work(i: int) -> str:
        completion = client.chat.completions.create(model=MODEL, messages=ask(f"item {i}"))
        return str(completion.choices[0].message.content)

    with (
        trace("pool") as pipeline,
        span("map") as mapped,
        ThreadPoolExecutor(max_workers=4) as pool,
    ):
        results = list(pool.map(copy_context_to(work), range(8)))
    assert len(results) == 8
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(work, range(3)))  # without the helper: a trace per call

    rows = {row.name: row for row in traces(app)}
    assert rows["pool"].id == pipeline.id
    assert rows["pool"].spans_count == 9
    llms = [s for s in spans(app, trace_id=pipeline.id) if s.kind == "llm"]
    assert sorted(asked(s) for s in llms) == sorted(f"item {i}" for i in range(8))
    assert {s.parent_id for s in llms} == {mapped.id}
    assert len(traces(app)) == 1 + 3


def test_copy_context_to_runs_in_many_threads_at_once(app: Flask) -> None:
    barrier = threading.Barrier(4, timeout=5)

    def step(i: int) -> int:
        with span(f"step-{i}"):
            barrier.wait()  # all four inside their spans at the same time
        return i

    with trace("parallel") as root, ThreadPoolExecutor(max_workers=4) as pool:
        assert sorted(pool.map(copy_context_to(step), range(4))) == [0, 1, 2, 3]
    children = spans(app, trace_id=root.id)
    assert sorted(c.name for c in children) == [f"step-{i}" for i in range(4)]
    assert {c.parent_id for c in children} == {None}


@pytest.fixture
def served(make_app: Callable[..., Flask], fake_openai: FakeOpenAI) -> Iterator[tuple[Flask, str]]:
    """A threaded werkzeug server on loopback whose views trace LLM calls."""
    app = make_app()
    client = fake_openai.client()
    barrier = threading.Barrier(CONCURRENT, timeout=10)

    @app.get("/ask/<int:i>")
    def ask_view(i: int) -> dict[str, Any]:
        with trace(f"request-{i}", metadata={"i": i}):
            barrier.wait()  # every request inside its trace at the same time
            completion = client.chat.completions.create(model=MODEL, messages=ask(f"question {i}"))
            with span("render", input={"i": i}) as step:
                step.output = completion.choices[0].message.content
        return {"i": i, "answer": step.output}

    @app.get("/auto/<int:i>")
    def auto_view(i: int) -> dict[str, Any]:
        client.chat.completions.create(model=MODEL, messages=ask(f"auto {i}"))
        return {"i": i}

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)
    server.server_close()


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=20) as response:
        return json.load(response)


def test_concurrent_requests_to_a_threaded_server(served: tuple[Flask, str]) -> None:
    app, base = served
    with ThreadPoolExecutor(max_workers=2 * CONCURRENT) as pool:
        answers = list(pool.map(get_json, [f"{base}/ask/{i}" for i in range(CONCURRENT)]))
        list(pool.map(get_json, [f"{base}/auto/{i}" for i in range(CONCURRENT)]))
    assert [a["i"] for a in answers] == list(range(CONCURRENT))
    assert all(a["answer"].endswith(f"question {a['i']}") for a in answers)

    rows = traces(app)
    assert len(rows) == 2 * CONCURRENT
    for row in rows:
        children = spans(app, trace_id=row.id)
        if row.name == "GET /auto/<int:i>":  # each request's automatic trace
            [llm] = children
            assert asked(llm).startswith("auto ")
            continue
        i = row.metadata["i"]
        assert row.name == f"request-{i}"
        assert row.status == "completed"
        llm, render = sorted(children, key=lambda c: c.kind != "llm")
        assert asked(llm) == f"question {i}"
        assert render.input == {"i": i}
        assert render.output.endswith(f"question {i}")
    autos = sorted(
        asked(spans(app, trace_id=r.id)[0]) for r in rows if r.name == "GET /auto/<int:i>"
    )
    assert autos == sorted(f"auto {i}" for i in range(CONCURRENT))
