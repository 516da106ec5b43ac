"""Configuration values as hosts really give them: strings from the environment, typos."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

import flask_llm_logs
from flask_llm_logs import ConfigurationError
from flask_llm_logs import LlmLogs
from flask_llm_logs import Prompt
from flask_llm_logs.batches import flush as flush_batches
from flask_llm_logs.config import DEFAULTS
from flask_llm_logs.models import Span
from flask_llm_logs.models import Trace
from flask_llm_logs.state import get_state
from flask_llm_logs.tracing import recorder

SWITCHES = [key for key, value in DEFAULTS.items() if isinstance(value, bool)]


def bare_app(tmp_path: Path, **config: Any) -> Flask:
    app = Flask("config", instance_path=str(tmp_path))
    app.config.update(config)
    return app


def test_every_switch_is_a_live_or_start_up_switch() -> None:
    assert sorted(SWITCHES) == [
        "LLM_LOGS_AUTO_INSTRUMENT",
        "LLM_LOGS_BATCH_ENABLED",
        "LLM_LOGS_CAPTURE_CONTENT",
        "LLM_LOGS_ENABLED",
        "LLM_LOGS_METRICS",
        "LLM_LOGS_PROMPT_STRICT",
    ]


@pytest.mark.parametrize("key", SWITCHES)
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", False),
        ("false", False),
        (" OFF ", False),
        ("No", False),
        ("1", True),
        ("TRUE", True),
        ("yes", True),
        ("On", True),
    ],
)
def test_switches_read_strings_as_environment_variables_give_them(
    tmp_path: Path, key: str, value: str, expected: bool
) -> None:
    app = bare_app(tmp_path, **{key: value})
    LlmLogs(app)
    state = get_state(app)
    readers: dict[str, Callable[[], bool]] = {
        "LLM_LOGS_ENABLED": lambda: state.enabled,
        "LLM_LOGS_AUTO_INSTRUMENT": lambda: state.settings.auto_instrument,
        "LLM_LOGS_CAPTURE_CONTENT": lambda: state.capture_content,
        "LLM_LOGS_PROMPT_STRICT": lambda: state.prompt_strict,
        "LLM_LOGS_BATCH_ENABLED": lambda: state.batch_enabled,
        "LLM_LOGS_METRICS": lambda: state.settings.metrics,
    }
    assert readers[key]() is expected
    state.shutdown()
    flask_llm_logs.uninstrument()


@pytest.mark.parametrize("key", SWITCHES)
@pytest.mark.parametrize("value", ["maybe", "", 2, None, "disabled"])
def test_a_switch_that_is_not_one_is_refused_at_init_app(
    tmp_path: Path, key: str, value: Any
) -> None:
    app = bare_app(tmp_path, **{key: value})
    with pytest.raises(ConfigurationError, match=key) as caught:
        LlmLogs(app)
    assert "true/false" in str(caught.value)
    assert "llm_logs" not in app.extensions


def test_enabled_given_as_zero_records_nothing(make_app: Callable[..., Flask]) -> None:
    app = make_app(LLM_LOGS_ENABLED="0")
    with app.app_context():
        with flask_llm_logs.trace("not recorded"):
            pass
        assert get_state(app).writer.flush(10)
        assert get_state(app).session.query(Trace).count() == 0


def test_capture_content_given_as_false_stores_no_content(make_app: Callable[..., Flask]) -> None:
    app = make_app(LLM_LOGS_CAPTURE_CONTENT="false")
    with app.app_context():
        with flask_llm_logs.span("step", input="a secret prompt") as step:
            step.output = "a secret answer"
        assert get_state(app).writer.flush(10)
        span = get_state(app).session.get(Span, step.id)
        assert span is not None
        assert (span.input, span.output) == (None, None)


@pytest.mark.recorder_errors("LLM_LOGS_ENABLED set to 'maybe' at runtime: recording logs it")
def test_a_switch_set_live_to_a_bad_value(
    make_app: Callable[..., Flask],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Recording reads it inside its guard: the host's work goes on and the error is
    logged. Explicit reads (the state's properties, a batch flush) raise."""
    # The recorder warns once a minute: leave the next test's minute as it found it.
    monkeypatch.setattr(recorder, "_last_warning", recorder._last_warning)
    app = make_app()
    app.config["LLM_LOGS_ENABLED"] = "maybe"
    caplog.set_level(logging.DEBUG, logger="flask_llm_logs")
    with app.app_context():
        with flask_llm_logs.trace("host work") as current:
            current.metadata["step"] = "done"
        assert get_state(app).writer.flush(10)
        assert get_state(app).session.query(Trace).count() == 0
        with pytest.raises(ConfigurationError, match="LLM_LOGS_ENABLED"):
            assert get_state(app).enabled
    errors = [r.exc_info[1] for r in caplog.records if r.exc_info]
    assert any(isinstance(e, ConfigurationError) and "'maybe'" in str(e) for e in errors)

    app.config["LLM_LOGS_ENABLED"] = True
    app.config["LLM_LOGS_BATCH_ENABLED"] = "perhaps"
    with app.app_context(), pytest.raises(ConfigurationError, match="LLM_LOGS_BATCH_ENABLED"):
        flush_batches()


def test_build_reads_a_strict_switch_set_live_even_with_every_variable_given(
    make_app: Callable[..., Flask],
) -> None:
    """A bad LLM_LOGS_PROMPT_STRICT is refused at the first build(), not only at the
    first build() that happens to miss a variable (maybe in production, weeks later)."""
    app = make_app()
    with app.app_context():
        prompt = Prompt.create(slug="p", name="P")
        prompt.update_content(messages=[{"role": "user", "content": "Hi {{name}}"}])
        app.config["LLM_LOGS_PROMPT_STRICT"] = "perhaps"
        with pytest.raises(ConfigurationError, match="LLM_LOGS_PROMPT_STRICT"):
            Prompt.load("p").build(name="Ada")
        # strict given by the caller does not read the switch.
        built = Prompt.load("p").build(name="Ada", strict=False)
        assert built["messages"][0]["content"] == "Hi Ada"


def test_a_bind_key_missing_from_the_binds_is_refused(tmp_path: Path) -> None:
    app = bare_app(
        tmp_path,
        SQLALCHEMY_BINDS={"logs": "sqlite://", "reports": "sqlite://"},
        LLM_LOGS_BIND_KEY="log",
    )
    with pytest.raises(ConfigurationError, match="LLM_LOGS_BIND_KEY") as caught:
        LlmLogs(app)
    assert "'log'" in str(caught.value)
    assert "'logs', 'reports'" in str(caught.value)


def test_a_bind_key_without_any_binds_is_refused(tmp_path: Path) -> None:
    app = bare_app(tmp_path, LLM_LOGS_BIND_KEY="logs")
    with pytest.raises(ConfigurationError, match="LLM_LOGS_BIND_KEY") as caught:
        LlmLogs(app)
    assert "SQLALCHEMY_BINDS is not set" in str(caught.value)


def test_an_unknown_key_warns_with_the_closest_known_one(tmp_path: Path) -> None:
    app = bare_app(tmp_path, LLM_LOGS_PAGESIZE=20)
    with pytest.warns(UserWarning, match="LLM_LOGS_PAGESIZE") as caught:
        LlmLogs(app)
    assert "did you mean LLM_LOGS_PAGE_SIZE?" in str(caught[0].message)
    get_state(app).shutdown()


def test_an_unknown_key_far_from_any_known_one_still_warns(tmp_path: Path) -> None:
    app = bare_app(tmp_path, LLM_LOGS_FROBNICATE=True)
    with pytest.warns(UserWarning, match="LLM_LOGS_FROBNICATE is not a flask-llm-logs setting"):
        LlmLogs(app)
    get_state(app).shutdown()


def test_a_pricing_provider_unknown_to_genai_prices_is_refused(tmp_path: Path) -> None:
    app = bare_app(tmp_path, LLM_LOGS_PRICING_PROVIDER="openia")
    with pytest.raises(ConfigurationError, match="LLM_LOGS_PRICING_PROVIDER") as caught:
        LlmLogs(app)
    assert "'openia'" in str(caught.value)
    assert "openai" in str(caught.value).split("known:")[1]


def test_a_known_pricing_provider_is_accepted(tmp_path: Path) -> None:
    app = bare_app(tmp_path, LLM_LOGS_PRICING_PROVIDER="anthropic")
    LlmLogs(app)
    assert get_state(app).settings.pricing_provider == "anthropic"
    get_state(app).shutdown()


@pytest.mark.parametrize("key", ["LLM_LOGS_REDIS_URL", "REDIS_URL"])
@pytest.mark.parametrize("url", ["localhost:6379", "127.0.0.1:6379/0", "redis-host", 6379])
def test_a_redis_url_without_a_scheme_is_refused(tmp_path: Path, key: str, url: Any) -> None:
    app = bare_app(tmp_path, **{key: url})
    with pytest.raises(ConfigurationError, match=key) as caught:
        LlmLogs(app)
    assert "redis://" in str(caught.value)


@pytest.mark.parametrize(
    "url", ["redis://127.0.0.1:6379/0", "rediss://cache.example:6380", "unix:///run/redis.sock"]
)
def test_redis_urls_with_a_scheme_are_accepted(tmp_path: Path, url: str) -> None:
    app = bare_app(tmp_path, LLM_LOGS_REDIS_URL=url)
    LlmLogs(app)
    assert get_state(app).settings.redis_url == url
    get_state(app).shutdown()
