"""The ``LLM_LOGS_*`` configuration keys: defaults and validation.

Validation runs once in :meth:`LlmLogs.init_app` so that a typo fails at
start-up with the key's name, not at the first LLM call in production.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import difflib
import os
import urllib.parse
import warnings
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

from flask import Flask

from .partitions import INTERVALS

DEFAULTS: dict[str, Any] = {
    "LLM_LOGS_ENABLED": True,
    "LLM_LOGS_AUTO_INSTRUMENT": True,
    #: ``None``: every supported SDK that is installed, see :mod:`.instrumentation`.
    "LLM_LOGS_INSTRUMENT": None,
    "LLM_LOGS_RETENTION_DAYS": 30,
    #: How much time one partition of the big tables holds on PostgreSQL (see
    #: :mod:`.partitions`): ``"month"`` or ``"day"``.
    "LLM_LOGS_PARTITION_INTERVAL": "month",
    "LLM_LOGS_INCOMPLETE_AFTER": dt.timedelta(hours=24),
    "LLM_LOGS_PROMPTS_SOURCE_PATH": None,
    "LLM_LOGS_PROMPT_SUBFOLDERS": ["skills", "fragments", "templates"],
    "LLM_LOGS_PROMPT_STRICT": False,
    "LLM_LOGS_PROMPT_CACHE_TTL": 5.0,
    "LLM_LOGS_PROMPT_MAX_OUTPUT_CHARS": 1_000_000,
    "LLM_LOGS_PROMPT_MAX_PARTIAL_DEPTH": 32,
    "LLM_LOGS_PROMPT_MAX_SECTION_DEPTH": 32,
    #: ``None``: ``Prompt.load()`` builds the latest version; see :mod:`.prompts.labels`.
    "LLM_LOGS_PROMPT_LABEL": None,
    "LLM_LOGS_PROTECTED_LABELS": ["production"],
    "LLM_LOGS_PROMPT_SPLITS": {},
    "LLM_LOGS_BATCH_ENABLED": True,
    "LLM_LOGS_BATCH_PROVIDER": "openai_responses",
    "LLM_LOGS_BATCH_STALE_CLAIM_AFTER": dt.timedelta(minutes=15),
    "LLM_LOGS_BATCH_LOST_AFTER": dt.timedelta(hours=1),
    "LLM_LOGS_OPENAI_CLIENT": None,
    "LLM_LOGS_ANTHROPIC_CLIENT": None,
    "LLM_LOGS_GOOGLE_CLIENT": None,
    "LLM_LOGS_PAGE_SIZE": 50,
    "LLM_LOGS_URL_PREFIX": "/llm_logs",
    "LLM_LOGS_AUTHORIZE": None,
    #: ``None``: Flask-Login's ``current_user``, see :mod:`.web.authors`.
    "LLM_LOGS_CURRENT_USER": None,
    "LLM_LOGS_REDIS_URL": None,
    "LLM_LOGS_QUEUE": "llm_logs",
    "LLM_LOGS_BIND_KEY": None,
    "LLM_LOGS_READ_BIND": None,
    "LLM_LOGS_CAPTURE_CONTENT": True,
    "LLM_LOGS_PRICING_PROVIDER": None,
    "LLM_LOGS_REDACT": None,
    "LLM_LOGS_MAX_CONTENT_BYTES": 2**20,
    "LLM_LOGS_MAX_QUEUE": 10_000,
    "LLM_LOGS_WRITER_BATCH_SIZE": 500,
    "LLM_LOGS_WRITER_FLUSH_INTERVAL": 0.5,
    #: ``None``: chosen by database, see :func:`.tracing.writer.lane_count`.
    "LLM_LOGS_WRITER_THREADS": None,
    #: ``None``: the id of Flask-Login's ``current_user`` when it is authenticated.
    "LLM_LOGS_USER_ID": None,
    "LLM_LOGS_SESSION_ID": None,
    "LLM_LOGS_AUTO_TRACE": "request",
    #: ``None``: ``"development"`` in debug mode, else ``"production"``.
    "LLM_LOGS_ENVIRONMENT": None,
    #: Whether the writer keeps the metrics table (see :mod:`.tracing.aggregate`).
    "LLM_LOGS_METRICS": True,
    #: Alert rules, validated by :func:`.alerts.rules.load_rules`; see docs/alerts.rst.
    "LLM_LOGS_ALERTS": [],
    #: OpenTelemetry export, see docs/opentelemetry.rst: a collector's OTLP/HTTP
    #: endpoint and its headers, or a ``TracerProvider`` the app built.
    "LLM_LOGS_OTLP_ENDPOINT": None,
    "LLM_LOGS_OTLP_HEADERS": None,
    "LLM_LOGS_OTEL_TRACER_PROVIDER": None,
    #: ``False``: traces and spans are exported only, not written to the database.
    "LLM_LOGS_STORE_TRACES": True,
    #: A link to the host's APM for a trace recorded inside one: ``...{trace_id}...``.
    "LLM_LOGS_APM_TRACE_URL": None,
}

#: What ``LLM_LOGS_AUTO_TRACE`` may be: one automatic trace per request, or per call.
AUTO_TRACE_MODES = ("request", "call")


#: The switches read live from ``app.config`` (see :class:`~flask_llm_logs.state.State`).
LIVE_SWITCHES = (
    "LLM_LOGS_ENABLED",
    "LLM_LOGS_CAPTURE_CONTENT",
    "LLM_LOGS_PROMPT_STRICT",
    "LLM_LOGS_BATCH_ENABLED",
)


class ConfigurationError(ValueError):
    """A ``LLM_LOGS_*`` key has a value the extension cannot work with."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key


@dataclasses.dataclass(frozen=True)
class Settings:
    """The validated configuration of one app, fixed at ``init_app``.

    The keys read live from ``app.config`` are not here, so they can be
    flipped at runtime: ``LLM_LOGS_ENABLED``, ``LLM_LOGS_CAPTURE_CONTENT``,
    ``LLM_LOGS_PROMPT_STRICT``, ``LLM_LOGS_PROMPT_CACHE_TTL``,
    ``LLM_LOGS_BATCH_ENABLED``, ``LLM_LOGS_BATCH_STALE_CLAIM_AFTER`` and
    ``LLM_LOGS_BATCH_LOST_AFTER``; :class:`~flask_llm_logs.state.State` reads them.
    """

    auto_instrument: bool
    #: The SDKs to record (``LLM_LOGS_INSTRUMENT``), checked by ``init_app``.
    instrument: tuple[str, ...] | None
    retention_days: int
    #: ``LLM_LOGS_PARTITION_INTERVAL``: ``"month"`` or ``"day"``.
    partition_interval: str
    incomplete_after: dt.timedelta
    prompts_source_path: str | None
    prompt_subfolders: tuple[str, ...]
    prompt_max_output_chars: int
    prompt_max_partial_depth: int
    prompt_max_section_depth: int
    batch_provider: str
    #: ``LLM_LOGS_OPENAI_CLIENT``, ``LLM_LOGS_ANTHROPIC_CLIENT``,
    #: ``LLM_LOGS_GOOGLE_CLIENT``: a factory, or a :class:`SharedClient`.
    openai_client: Callable[[], Any] | None
    anthropic_client: Callable[[], Any] | None
    google_client: Callable[[], Any] | None
    page_size: int
    url_prefix: str
    authorize: Callable[..., bool] | None
    #: Who uses the UI (``LLM_LOGS_CURRENT_USER``): the author of scores added there.
    current_user: Callable[[], object] | None
    redis_url: str
    queue: str
    bind_key: str | None
    #: ``LLM_LOGS_READ_BIND``: the bind of a read replica for the UI and ``metrics()``.
    read_bind: str | None
    redact: Callable[[Any], Any] | None
    max_content_bytes: int
    pricing_provider: str | None
    max_queue: int
    writer_batch_size: int
    writer_flush_interval: float
    writer_threads: int | None
    #: ``LLM_LOGS_USER_ID``, ``LLM_LOGS_SESSION_ID``: read once per trace started in a request.
    user_id: Callable[[], Any] | None
    session_id: Callable[[], Any] | None
    #: ``LLM_LOGS_AUTO_TRACE`` is ``"request"``.
    trace_per_request: bool
    environment: str
    #: ``LLM_LOGS_METRICS``: the writer adds each LLM span to the metrics table.
    metrics: bool
    #: ``LLM_LOGS_OTLP_ENDPOINT``: the full URL spans are posted to (``.../v1/traces``).
    otlp_endpoint: str | None = None
    otlp_headers: Mapping[str, str] = dataclasses.field(default_factory=dict)
    #: ``LLM_LOGS_OTEL_TRACER_PROVIDER``: the app's own provider, used instead of ours.
    otel_tracer_provider: Any = None
    #: ``LLM_LOGS_STORE_TRACES``: whether traces and spans are written to the database.
    store_traces: bool = True
    apm_trace_url: str | None = None

    @property
    def exports(self) -> bool:
        """Whether traces and spans are exported over OpenTelemetry."""
        return self.otlp_endpoint is not None or self.otel_tracer_provider is not None


#: What a switch may be given as, beside ``True`` and ``False`` (environment
#: variables are strings): any case, surrounding spaces ignored.
_TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
_FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def read_bool(config: Mapping[str, Any], key: str) -> bool:
    """A switch: ``True``/``False``, ``1``/``0``, or a word such as ``"off"``.

    ``bool("0")`` is true, so a string from an environment variable would
    turn on what the app meant to turn off; anything else is refused.
    Public for the keys read live (see :class:`~flask_llm_logs.state.State`).
    """
    value = config[key]
    if value is True or value is False:  # read on every LLM call: the common case first
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
    raise ConfigurationError(
        key, f"must be True or False (or 1/0, true/false, yes/no, on/off), got {value!r}"
    )


def _positive_int(config: dict[str, Any], key: str) -> int:
    value = config[key]
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigurationError(key, f"must be a positive integer, got {value!r}")
    return value


#: The deepest partial chain or section nesting allowed: the renderer recurses
#: once per level, and must stay well inside Python's recursion limit.
MAX_RENDER_DEPTH = 100


def _partition_interval(config: Mapping[str, Any]) -> str:
    value = config["LLM_LOGS_PARTITION_INTERVAL"]
    if value not in INTERVALS:
        choices = " or ".join(repr(i) for i in INTERVALS)
        raise ConfigurationError("LLM_LOGS_PARTITION_INTERVAL", f"must be {choices}, got {value!r}")
    return str(value)


def _render_depth(config: dict[str, Any], key: str) -> int:
    value = _positive_int(config, key)
    if value > MAX_RENDER_DEPTH:
        raise ConfigurationError(key, f"must be from 1 to {MAX_RENDER_DEPTH}, got {value!r}")
    return value


def _optional_positive_int(config: dict[str, Any], key: str) -> int | None:
    return None if config[key] is None else _positive_int(config, key)


def read_seconds(config: Mapping[str, Any], key: str) -> float:
    """A key holding a number of seconds >= 0.

    Public for the modules that read their key live, at each use, rather than
    from :class:`Settings`: they must accept and reject what start-up does.
    """
    value = config[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ConfigurationError(key, f"must be a number of seconds >= 0, got {value!r}")
    return float(value)


def _optional_callable(config: dict[str, Any], key: str) -> Callable[..., Any] | None:
    value: object = config[key]
    if value is not None and not callable(value):
        raise ConfigurationError(key, f"must be a callable or None, got {value!r}")
    return value


@dataclasses.dataclass(frozen=True)
class SharedClient:
    """A client object set in the config: every use gets this one, and nothing closes it.

    The ``LLM_LOGS_*_CLIENT`` keys take a zero-argument factory (a fresh
    client per job, closed after it) or a client object the app already
    has; the object is wrapped in this so both are called the same way.
    """

    client: Any

    def __call__(self) -> Any:
        return self.client


#: What a client object of each ``LLM_LOGS_*_CLIENT`` key must have (its API).
CLIENT_KEYS = {
    "LLM_LOGS_OPENAI_CLIENT": "chat",
    "LLM_LOGS_ANTHROPIC_CLIENT": "messages",
    "LLM_LOGS_GOOGLE_CLIENT": "models",
}


def _client(config: Mapping[str, Any], key: str) -> Callable[[], Any] | None:
    value: object = config[key]
    if value is None or callable(value):
        return value
    if not hasattr(value, CLIENT_KEYS[key]):
        raise ConfigurationError(
            key,
            f"must be a client (with .{CLIENT_KEYS[key]}), a zero-argument callable returning"
            f" one, or None; got {value!r}",
        )
    return SharedClient(value)


def _optional_names(config: Mapping[str, Any], key: str) -> tuple[str, ...] | None:
    value = config[key]
    if value is None:
        return None
    if isinstance(value, str) or not all(isinstance(name, str) for name in value):
        raise ConfigurationError(key, f"must be a list of names or None, got {value!r}")
    return tuple(value)


def _prompts_path(config: dict[str, Any]) -> str | None:
    key = "LLM_LOGS_PROMPTS_SOURCE_PATH"
    value = config[key]
    if value is None:
        return None
    path: str = os.fspath(value)
    if not os.path.isdir(path):
        raise ConfigurationError(key, f"{path!r} is not a folder")
    return path


def read_timedelta(config: Mapping[str, Any], key: str) -> dt.timedelta:
    """A key holding a positive :class:`~datetime.timedelta` or number of seconds.

    Public for the same reason as :func:`read_seconds`.
    """
    value = config[key]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = dt.timedelta(seconds=value)
    if not isinstance(value, dt.timedelta) or value <= dt.timedelta(0):
        raise ConfigurationError(key, f"must be a positive timedelta or seconds, got {value!r}")
    return value


#: What redis-py's ``from_url`` accepts.
_REDIS_SCHEMES = ("redis", "rediss", "unix")


def _redis_url(config: Mapping[str, Any]) -> str:
    """``LLM_LOGS_REDIS_URL``, else the host's ``REDIS_URL``, else the local server.

    Without a scheme redis-py fails only at the first job, far from the typo.
    """
    for key in ("LLM_LOGS_REDIS_URL", "REDIS_URL"):
        value = config.get(key)
        if not value:
            continue
        scheme = urllib.parse.urlsplit(value).scheme if isinstance(value, str) else ""
        if scheme not in _REDIS_SCHEMES:
            raise ConfigurationError(
                key,
                f"must be a URL starting with redis://, rediss:// or unix://"
                f" (for instance redis://127.0.0.1:6379/0), got {value!r}",
            )
        return str(value)
    return "redis://127.0.0.1:6379/0"


def _bind_name(config: Mapping[str, Any], key: str) -> str | None:
    """A key of ``SQLALCHEMY_BINDS`` (``LLM_LOGS_BIND_KEY``, ``LLM_LOGS_READ_BIND``).

    An unknown key would fail only at the first write or page, dropping
    every record or every page.
    """
    value = config[key]
    if value is None:
        return None
    binds = config.get("SQLALCHEMY_BINDS") or {}
    if value not in binds:
        known = ", ".join(repr(name) for name in sorted(binds, key=str))
        where = f"its keys are {known}" if known else "SQLALCHEMY_BINDS is not set"
        raise ConfigurationError(key, f"{value!r} is not a key of SQLALCHEMY_BINDS ({where})")
    return str(value)


def _auto_trace(config: Mapping[str, Any]) -> bool:
    key = "LLM_LOGS_AUTO_TRACE"
    value = config[key]
    if value not in AUTO_TRACE_MODES:
        raise ConfigurationError(key, f'must be "request" or "call", got {value!r}')
    return bool(value == "request")


#: The size of the traces' ``environment`` column.
MAX_ENVIRONMENT_LENGTH = 50


def _environment(app: Flask) -> str:
    """``LLM_LOGS_ENVIRONMENT``, by default told by the app's debug mode."""
    key = "LLM_LOGS_ENVIRONMENT"
    value = app.config[key]
    if value is None:
        return "development" if app.debug else "production"
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_ENVIRONMENT_LENGTH:
        raise ConfigurationError(
            key, f"must be a name of 1 to {MAX_ENVIRONMENT_LENGTH} characters, got {value!r}"
        )
    return value


#: Where OTLP/HTTP takes spans, appended to an endpoint given without a path
#: (as ``OTEL_EXPORTER_OTLP_ENDPOINT`` is read).
OTLP_TRACES_PATH = "/v1/traces"


def _otlp_endpoint(config: Mapping[str, Any]) -> str | None:
    key = "LLM_LOGS_OTLP_ENDPOINT"
    value = config[key]
    if value is None:
        return None
    parts = urllib.parse.urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(
            key, f"must be an http:// or https:// URL (http://collector:4318), got {value!r}"
        )
    if parts.path.strip("/"):
        return str(value)
    return str(value).rstrip("/") + OTLP_TRACES_PATH


def _otlp_headers(config: Mapping[str, Any]) -> dict[str, str]:
    """``LLM_LOGS_OTLP_HEADERS``: a dict, or ``"key=value,key2=value2"`` as OpenTelemetry's
    ``OTEL_EXPORTER_OTLP_HEADERS`` writes them."""
    key = "LLM_LOGS_OTLP_HEADERS"
    value = config[key]
    if value is None:
        return {}
    if isinstance(value, str):
        pairs = [pair.partition("=") for pair in value.split(",") if pair.strip()]
        if not all(sep and name.strip() for name, sep, _ in pairs):
            raise ConfigurationError(key, f'must be "name=value,name2=value2", got {value!r}')
        unquote = urllib.parse.unquote
        value = {unquote(name).strip(): unquote(text).strip() for name, _, text in pairs}
    if not isinstance(value, Mapping) or not all(
        isinstance(name, str) and isinstance(text, str) for name, text in value.items()
    ):
        raise ConfigurationError(key, f"must be a dict of strings, got {value!r}")
    return dict(value)


def _otel_tracer_provider(config: Mapping[str, Any]) -> Any:
    key = "LLM_LOGS_OTEL_TRACER_PROVIDER"
    value = config[key]
    if value is not None and not callable(getattr(value, "get_tracer", None)):
        raise ConfigurationError(key, f"must be an OpenTelemetry TracerProvider, got {value!r}")
    if value is not None and config["LLM_LOGS_OTLP_ENDPOINT"] is not None:
        raise ConfigurationError(
            key, "set either it or LLM_LOGS_OTLP_ENDPOINT (the app's provider has its exporters)"
        )
    return value


def _store_traces(config: Mapping[str, Any]) -> bool:
    """``LLM_LOGS_STORE_TRACES``; ``False`` only with an export, else every trace is lost."""
    key = "LLM_LOGS_STORE_TRACES"
    value = read_bool(config, key)
    exports = config["LLM_LOGS_OTLP_ENDPOINT"] or config["LLM_LOGS_OTEL_TRACER_PROVIDER"]
    if not value and not exports:
        raise ConfigurationError(
            key,
            "False keeps traces out of the database: set LLM_LOGS_OTLP_ENDPOINT or"
            " LLM_LOGS_OTEL_TRACER_PROVIDER so they go somewhere",
        )
    return value


def _apm_trace_url(config: Mapping[str, Any]) -> str | None:
    key = "LLM_LOGS_APM_TRACE_URL"
    value = config[key]
    if value is None:
        return None
    if not isinstance(value, str) or "{trace_id}" not in value:
        raise ConfigurationError(
            key, f"must be a URL template with {{trace_id}} in it, got {value!r}"
        )
    return value


def _warn_about_unknown_keys(config: Mapping[str, Any]) -> None:
    """A misspelt key is otherwise silently ignored, its default used instead."""
    for key in config:
        if not key.startswith("LLM_LOGS_") or key in DEFAULTS:
            continue
        close = difflib.get_close_matches(key, DEFAULTS, n=1)
        hint = f"; did you mean {close[0]}?" if close else " (see docs/configuration.rst)"
        warnings.warn(f"{key} is not a flask-llm-logs setting{hint}", UserWarning, stacklevel=4)


def load_settings(app: Flask) -> Settings:
    """Fill in defaults on ``app.config`` and return the validated settings."""
    _warn_about_unknown_keys(app.config)
    for key, value in DEFAULTS.items():
        # A copy: an app changing its list in place must not change the default.
        app.config.setdefault(key, copy.copy(value))
    config = app.config

    subfolders = config["LLM_LOGS_PROMPT_SUBFOLDERS"]
    if isinstance(subfolders, str) or not all(isinstance(s, str) for s in subfolders):
        raise ConfigurationError(
            "LLM_LOGS_PROMPT_SUBFOLDERS", f"must be a list of folder names, got {subfolders!r}"
        )
    prefix = config["LLM_LOGS_URL_PREFIX"]
    if not isinstance(prefix, str) or not prefix.startswith("/"):
        raise ConfigurationError("LLM_LOGS_URL_PREFIX", f"must start with '/', got {prefix!r}")
    # Read live, not kept in Settings; checked here to fail at start-up too.
    for key in LIVE_SWITCHES:
        read_bool(config, key)
    read_seconds(config, "LLM_LOGS_PROMPT_CACHE_TTL")
    read_timedelta(config, "LLM_LOGS_BATCH_STALE_CLAIM_AFTER")
    read_timedelta(config, "LLM_LOGS_BATCH_LOST_AFTER")

    return Settings(
        auto_instrument=read_bool(config, "LLM_LOGS_AUTO_INSTRUMENT"),
        instrument=_optional_names(config, "LLM_LOGS_INSTRUMENT"),
        retention_days=_positive_int(config, "LLM_LOGS_RETENTION_DAYS"),
        partition_interval=_partition_interval(config),
        incomplete_after=read_timedelta(config, "LLM_LOGS_INCOMPLETE_AFTER"),
        prompts_source_path=_prompts_path(config),
        prompt_subfolders=tuple(subfolders),
        prompt_max_output_chars=_positive_int(config, "LLM_LOGS_PROMPT_MAX_OUTPUT_CHARS"),
        prompt_max_partial_depth=_render_depth(config, "LLM_LOGS_PROMPT_MAX_PARTIAL_DEPTH"),
        prompt_max_section_depth=_render_depth(config, "LLM_LOGS_PROMPT_MAX_SECTION_DEPTH"),
        batch_provider=config["LLM_LOGS_BATCH_PROVIDER"],
        openai_client=_client(config, "LLM_LOGS_OPENAI_CLIENT"),
        anthropic_client=_client(config, "LLM_LOGS_ANTHROPIC_CLIENT"),
        google_client=_client(config, "LLM_LOGS_GOOGLE_CLIENT"),
        page_size=_positive_int(config, "LLM_LOGS_PAGE_SIZE"),
        url_prefix=prefix.rstrip("/") or "/",
        authorize=_optional_callable(config, "LLM_LOGS_AUTHORIZE"),
        current_user=_optional_callable(config, "LLM_LOGS_CURRENT_USER"),
        redis_url=_redis_url(config),
        queue=config["LLM_LOGS_QUEUE"],
        bind_key=_bind_name(config, "LLM_LOGS_BIND_KEY"),
        read_bind=_bind_name(config, "LLM_LOGS_READ_BIND"),
        redact=_optional_callable(config, "LLM_LOGS_REDACT"),
        max_content_bytes=_positive_int(config, "LLM_LOGS_MAX_CONTENT_BYTES"),
        pricing_provider=config["LLM_LOGS_PRICING_PROVIDER"],
        max_queue=_positive_int(config, "LLM_LOGS_MAX_QUEUE"),
        writer_batch_size=_positive_int(config, "LLM_LOGS_WRITER_BATCH_SIZE"),
        writer_flush_interval=read_seconds(config, "LLM_LOGS_WRITER_FLUSH_INTERVAL"),
        writer_threads=_optional_positive_int(config, "LLM_LOGS_WRITER_THREADS"),
        user_id=_optional_callable(config, "LLM_LOGS_USER_ID"),
        session_id=_optional_callable(config, "LLM_LOGS_SESSION_ID"),
        trace_per_request=_auto_trace(config),
        environment=_environment(app),
        metrics=read_bool(config, "LLM_LOGS_METRICS"),
        otlp_endpoint=_otlp_endpoint(config),
        otlp_headers=_otlp_headers(config),
        otel_tracer_provider=_otel_tracer_provider(config),
        store_traces=_store_traces(config),
        apm_trace_url=_apm_trace_url(config),
    )
