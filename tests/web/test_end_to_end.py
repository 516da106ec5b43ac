"""What the real recording path stores, as the UI shows it.

Calls go through the real ``openai`` SDK to the bundled fake server, are
recorded by the auto-instrumentation and the ``trace``/``span`` blocks and
stored by the background writer; then the pages are read.
"""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from openai.types.chat import ChatCompletionFunctionToolParam

import flask_llm_logs
from flask_llm_logs import span
from flask_llm_logs import trace
from flask_llm_logs.testing import FakeOpenAI
from tests.helpers.web import Url

LOOKUP_PRICE: ChatCompletionFunctionToolParam = {
    "type": "function",
    "function": {
        "name": "lookup_price",
        "parameters": {"type": "object", "properties": {"symbol": {"type": "string"}}},
    },
}


def test_recorded_traces_show_in_the_ui(
    app: Flask, client: FlaskClient, url: Url, fake_openai: FakeOpenAI
) -> None:
    openai_client = fake_openai.client(api_key="sk-test")
    with trace("strategy_analysis", metadata={"strategy_id": 42}):
        with span("retrieve_docs", input={"query": "momentum alpha"}) as step:
            step.output = ["Momentum Alpha buys 4h breakouts."]
        openai_client.chat.completions.create(
            model="gpt-4.1-mini",
            messages=[
                {"role": "system", "content": "You analyse trading strategies."},
                {"role": "user", "content": "Analyse <script>Momentum Alpha</script>."},
            ],
            tools=[LOOKUP_PRICE],
        )
        openai_client.responses.create(model="gpt-4.1-mini", input="Summarise the risks.")
    assert flask_llm_logs.flush(10)

    listing = client.get(url("/traces")).get_data(as_text=True)
    assert "strategy_analysis" in listing
    found = re.search(r'/traces/([0-9a-f-]{36})"', listing)
    assert found, "the trace is not listed"
    trace_id = found.group(1)
    html = client.get(url(f"/traces/{trace_id}")).get_data(as_text=True)
    names = re.findall(r'<span class="span-name">([^<]*)</span>', html)
    assert names == [
        "retrieve_docs",
        "chat gpt-4.1-mini",
        "tool.lookup_price",
        "responses gpt-4.1-mini",
    ]
    assert html.count('<rect class="bar') == 4
    # The chat call's messages per role, escaped; the answers as assistant messages.
    assert 'class="message role-system"' in html
    assert "Analyse &lt;script&gt;Momentum Alpha&lt;/script&gt;." in html
    assert html.count('class="message role-assistant"') >= 2
    assert "Summarise the risks." in html
    # The model asked for the tool: the call and its arguments are readable.
    assert "calls <strong>lookup_price</strong>" in html
    # Each span page renders and its raw JSON downloads.
    for span_url in set(re.findall(r'href="([^"]+/spans/[0-9a-f-]{36})"', html)):
        assert client.get(span_url).status_code == 200
        assert client.get(span_url + "/raw.json").status_code == 200
