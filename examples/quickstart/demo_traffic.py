"""``flask demo``: realistic traffic through the real ``openai`` SDK.

With ``OPENAI_API_KEY`` set it talks to OpenAI (a few cents of
``gpt-4.1-mini``); without, to the offline fake server that ships in
:mod:`flask_llm_logs.testing`, so the quickstart works on a fresh machine.
"""

from __future__ import annotations

import contextlib
import json
import os

import click
import openai
from flask.cli import with_appcontext

from flask_llm_logs import flush
from flask_llm_logs import span
from flask_llm_logs import tool
from flask_llm_logs import trace
from flask_llm_logs.testing import FakeOpenAI

MODEL = "gpt-4.1-mini"

PRICE_TOOL = {
    "type": "function",
    "function": {
        "name": "lookup_price",
        "description": "The last traded price of a ticker symbol.",
        "parameters": {
            "type": "object",
            "properties": {"symbol": {"type": "string"}},
            "required": ["symbol"],
        },
    },
}


@tool("lookup_price")
def lookup_price(symbol: str) -> float:
    return {"AAPL": 231.4, "MSFT": 498.2}.get(symbol.upper(), 100.0)


def strategy_analysis(client: openai.OpenAI) -> None:
    """A pipeline: a custom step, a call, and a nested step with its own call."""
    with trace("strategy_analysis", metadata={"strategy_id": 42, "user": "demo"}):
        with span("retrieve_docs", input={"query": "momentum alpha"}) as step:
            step.output = ["Momentum Alpha buys 4h breakouts.", "Stops at 2 ATR."]
        client.chat.completions.create(
            model=MODEL,
            messages=[
                {"role": "system", "content": "You analyze trading strategies for Tradebot."},
                {"role": "user", "content": "Analyze Momentum Alpha on the 4h timeframe."},
            ],
            temperature=0.3,
        )
        with trace("risk_assessment"):
            client.chat.completions.create(
                model=MODEL,
                messages=[{"role": "user", "content": "What are the risks of Momentum Alpha?"}],
            )


def streaming_chat(client: openai.OpenAI) -> None:
    with trace("support_chat", metadata={"channel": "web"}):
        stream = client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "Explain **stop losses** in two sentences."}],
            stream=True,
            stream_options={"include_usage": True},
        )
        for _ in stream:
            pass


def tool_call(client: openai.OpenAI) -> None:
    with trace("price_lookup"):
        messages: list[dict[str, object]] = [
            {"role": "user", "content": "What is AAPL trading at?"}
        ]
        first = client.chat.completions.create(model=MODEL, messages=messages, tools=[PRICE_TOOL])
        reply = first.choices[0].message
        messages.append(reply.model_dump(exclude_none=True))
        for call in reply.tool_calls or []:
            price = lookup_price(**json.loads(call.function.arguments))
            messages.append({"role": "tool", "tool_call_id": call.id, "content": str(price)})
        client.chat.completions.create(model=MODEL, messages=messages, tools=[PRICE_TOOL])


def outside_a_trace(client: openai.OpenAI) -> None:
    """Calls outside any trace are wrapped in an automatic one."""
    client.responses.create(
        model=MODEL,
        instructions="Answer in one word.",
        input="Is the market open on Sunday?",
    )
    client.embeddings.create(model="text-embedding-3-small", input=["momentum", "mean reversion"])


def failing_call(client: openai.OpenAI, fake: FakeOpenAI | None) -> None:
    """An error, recorded on the span and the trace, then re-raised as usual."""
    if fake is not None:
        fake.fail_next(status=500)
    with contextlib.suppress(openai.APIError), trace("nightly_report"):
        client.chat.completions.create(
            model=MODEL if fake is not None else "no-such-model",
            messages=[{"role": "user", "content": "Summarize last night's trades."}],
        )


@click.command("demo", help="Record demo LLM traffic (offline unless OPENAI_API_KEY is set).")
@with_appcontext
def demo() -> None:
    with contextlib.ExitStack() as stack:
        if os.environ.get("OPENAI_API_KEY"):
            fake = None
            client = openai.OpenAI()
            click.echo("Recording demo traffic against the OpenAI API.")
        else:
            fake = stack.enter_context(FakeOpenAI())
            client = openai.OpenAI(base_url=fake.base_url, api_key="offline-demo", max_retries=0)
            click.echo(f"No OPENAI_API_KEY: recording against the offline fake at {fake.base_url}")
        strategy_analysis(client)
        streaming_chat(client)
        tool_call(client)
        outside_a_trace(client)
        failing_call(client, fake)
        flush()
    click.echo("Demo traces recorded. Serve the app and open http://127.0.0.1:5000/llm_logs/")
