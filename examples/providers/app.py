"""One Flask app, four SDKs, one trace view: openai, anthropic, google-genai and LiteLLM.

Every call goes to the fake server bundled in :mod:`flask_llm_logs.testing`
(no API key, no network, no cost). Run from the repository root::

    flask --app examples/providers/app.py llm-logs db upgrade
    flask --app examples/providers/app.py providers
    flask --app examples/providers/app.py run

then open http://127.0.0.1:5000/llm_logs/ and filter the traces by provider.

``providers`` records one trace, ``providers_tour``, with a span per call. A
call whose SDK is not installed, or whose API the fake server does not serve
yet, is skipped with a line saying so.
"""

from __future__ import annotations

from collections.abc import Callable

import click
from flask import Flask
from flask import Request

from flask_llm_logs import LlmLogs
from flask_llm_logs import flush
from flask_llm_logs import trace
from flask_llm_logs.testing import FakeOpenAI

QUESTION = "In one sentence: why do prompt caches lower costs?"

llm_logs = LlmLogs()


def local_only(request: Request) -> bool:
    """Open the UI to this machine only; a real app checks its own users here."""
    return request.remote_addr in {"127.0.0.1", "::1"}


def call_openai(fake: FakeOpenAI) -> str:
    import openai

    with openai.OpenAI(base_url=fake.base_url, api_key="test") as client:
        completion = client.chat.completions.create(
            model="gpt-4.1-mini", messages=[{"role": "user", "content": QUESTION}]
        )
    return str(completion.choices[0].message.content)


def call_anthropic(fake: FakeOpenAI) -> str:
    import anthropic

    with anthropic.Anthropic(base_url=fake.url, api_key="test", max_retries=0) as client:
        message = client.messages.create(
            model="claude-sonnet-4-20250514",
            max_tokens=200,
            system="You are terse.",
            messages=[{"role": "user", "content": QUESTION}],
        )
    return "".join(block.text for block in message.content if block.type == "text")


def call_google(fake: FakeOpenAI) -> str:
    from google import genai
    from google.genai import types

    client = genai.Client(
        api_key="test",
        http_options=types.HttpOptions(base_url=fake.url, retry_options=None),
    )
    response = client.models.generate_content(model="gemini-2.5-flash", contents=QUESTION)
    return str(response.text)


def call_litellm(fake: FakeOpenAI) -> str:
    import litellm

    response = litellm.completion(
        model="openai/gpt-4.1-mini",
        messages=[{"role": "user", "content": QUESTION}],
        api_base=fake.base_url,
        api_key="test",
        max_retries=0,
    )
    return str(response.choices[0].message.content)


#: What the tour calls, by the SDK's name.
CALLS: dict[str, Callable[[FakeOpenAI], str]] = {
    "openai": call_openai,
    "anthropic": call_anthropic,
    "google-genai": call_google,
    "litellm": call_litellm,
}


def not_served(error: Exception) -> bool:
    """An HTTP 404 or 405 from the fake: it does not serve this API (yet)."""
    status = getattr(error, "status_code", None) or getattr(error, "code", None)
    return status in (404, 405)


def tour(echo: Callable[[str], None]) -> dict[str, str]:
    """Call every SDK against one fake server, inside one trace; what each answered,
    or why it was skipped."""
    answers = {}
    with FakeOpenAI() as fake, trace("providers_tour", metadata={"example": "providers"}):
        for sdk, call in CALLS.items():
            try:
                answers[sdk] = call(fake)
            except ImportError:
                answers[sdk] = f"skipped: pip install {sdk}"
            except Exception as error:
                if not not_served(error):
                    raise
                answers[sdk] = "skipped: the fake server does not serve this API"
            echo(f"{sdk}: {answers[sdk]}")
    flush(timeout=10)
    return answers


def create_app() -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(
        SECRET_KEY="example-only-not-a-secret",
        SQLALCHEMY_DATABASE_URI="sqlite:///providers.sqlite3",
        LLM_LOGS_AUTHORIZE=local_only,
        TRUSTED_HOSTS=["127.0.0.1", "localhost"],
    )
    llm_logs.init_app(app)

    @app.cli.command(help="Call every SDK against the bundled fake server, in one trace.")
    def providers() -> None:
        tour(click.echo)

    return app
