"""Our records under the OpenTelemetry GenAI semantic conventions' names.

Pure functions of a record, with no OpenTelemetry import, so the names are
tested without a collector. The names follow the conventions v1.44.0 (as
``opentelemetry-semantic-conventions`` 0.66b2 generates them): LLM calls
are ``CLIENT`` spans named ``{operation} {model}``, tool calls
``execute_tool {tool}``; tokens under ``gen_ai.usage.*``; message content
only under the opt-in attributes (``gen_ai.input.messages``,
``gen_ai.output.messages``, ``gen_ai.system_instructions``,
``gen_ai.tool.definitions``, ``gen_ai.tool.call.arguments`` and
``.result``), and only when the record carries content (content capture
was on when the call started), cut and redacted as it is for the database.
What the conventions do not name is exported under ``llm_logs.*``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import cast

from ..tracing.limits import cut_content
from ..tracing.records import SpanRecord
from ..tracing.records import TraceRecord
from ..tracing.serialize import clean_metadata
from ..tracing.store import ContentPolicy
from ..tracing.store import content_json
from ..tracing.store import span_cost

#: The version of the semantic conventions the names below follow.
SEMCONV_VERSION = "1.44.0"

#: An attribute value OpenTelemetry accepts.
Value = str | bool | int | float | Sequence[str] | Sequence[bool] | Sequence[int] | Sequence[float]

#: Metadata keys exported as they are: they already carry the conventions' names.
CONVENTION_PREFIXES = ("gen_ai.", "error.", "http.", "server.", "openai.")

#: ``gen_ai.operation.name`` of our operations, for spans whose metadata lacks it.
OPERATIONS = {"chat": "chat", "responses": "chat", "embeddings": "embeddings"}

#: Our span's tokens, and their attribute.
USAGE = (
    ("input_tokens", "gen_ai.usage.input_tokens"),
    ("output_tokens", "gen_ai.usage.output_tokens"),
    ("cached_tokens", "gen_ai.usage.cache_read.input_tokens"),
    ("cache_write_tokens", "gen_ai.usage.cache_creation.input_tokens"),
    ("reasoning_tokens", "gen_ai.usage.reasoning.output_tokens"),
)

#: Keys of a stored LLM input, and the opt-in attribute each goes to.
INPUT_PARTS = (
    ("messages", "gen_ai.input.messages"),
    ("input", "gen_ai.input.messages"),
    ("contents", "gen_ai.input.messages"),
    ("instructions", "gen_ai.system_instructions"),
    ("system", "gen_ai.system_instructions"),
    ("tools", "gen_ai.tool.definitions"),
)


def value(item: Any) -> Value:
    """``item`` as an attribute value: scalars and lists of one scalar type kept, the rest JSON."""
    if isinstance(item, (str, bool, int, float)):
        return item
    if isinstance(item, (list, tuple)) and item:
        kinds = {type(element) for element in item}
        if len(kinds) == 1 and kinds <= {str, bool, int, float}:
            return list(item)
    return json.dumps(item, default=str, ensure_ascii=False)


def _metadata(metadata: Mapping[str, Any], attributes: dict[str, Value]) -> None:
    for key, item in clean_metadata(metadata).items():
        if item is None:
            continue
        name = key if key.startswith(CONVENTION_PREFIXES) else f"llm_logs.metadata.{key}"
        attributes[name] = value(item)


def _content(item: Any, policy: ContentPolicy) -> str | None:
    cut, _ = cut_content(item, policy.max_content_bytes)
    return content_json(cut, policy)


class _Content:
    """A span's input, output (as JSON text) and cost: its row's, else made from the record."""

    def __init__(
        self, record: SpanRecord, policy: ContentPolicy, row: Mapping[str, Any] | None
    ) -> None:
        self.record, self.policy, self.row = record, policy, row

    def input(self) -> str | None:
        if self.row is not None:
            return cast(str | None, self.row["input"])
        return _content(self.record.input, self.policy)

    def output(self) -> str | None:
        if self.row is not None:
            return cast(str | None, self.row["output"])
        return _content(self.record.output, self.policy)

    def output_messages(self) -> str | None:
        """The output as the conventions' list of messages (a chat answer is one)."""
        output = self.record.output
        if output is None or isinstance(output, (list, tuple)):
            return self.output()
        if self.row is None or self.policy.redact is not None:
            # A redact hook is handed the list, as the export always handed it.
            return _content([output], self.policy)
        # The JSON of a one-item list is its item's between brackets.
        stored = self.row["output"]
        return None if stored is None else f"[{stored}]"

    def cost(self) -> float | None:
        if self.row is not None:
            return cast(float | None, self.row["cost"])
        return span_cost(self.record, self.policy)


def _error_type(error: str) -> str:
    """``RateLimitError`` of ``RateLimitError (HTTP 429): ...`` (see ``recorder.error_message``)."""
    return error.split(":", 1)[0].split(" (", 1)[0].strip() or "_OTHER"


def trace_attributes(record: TraceRecord) -> dict[str, Value]:
    """What a trace adds to its span: our id, user, session, tags, environment, metadata."""
    attributes: dict[str, Value] = {"llm_logs.trace.id": str(record.id)}
    _metadata(record.metadata, attributes)
    if record.user_id is not None:
        attributes["user.id"] = record.user_id
    if record.session_id is not None:
        attributes["session.id"] = record.session_id
    if record.tags:
        attributes["llm_logs.tags"] = list(record.tags)
    if record.environment is not None:
        attributes["deployment.environment.name"] = record.environment
    if record.prompt_version_id is not None:
        attributes["llm_logs.prompt_version.id"] = record.prompt_version_id
    if record.error is not None:
        attributes["error.type"] = _error_type(record.error)
    return attributes


def span_name(record: SpanRecord) -> str:
    """``chat gpt-4.1``, ``execute_tool lookup_price``, or the span's own name."""
    if record.kind == "tool":
        return f"execute_tool {record.metadata.get('gen_ai.tool.name') or record.name}"
    return record.name


def span_attributes(
    record: SpanRecord, policy: ContentPolicy, row: Mapping[str, Any] | None = None
) -> dict[str, Value]:
    """The attributes of ``record``'s span (see the module docstring).

    ``row``: the span's row as the writer stores it, whose content JSON and
    cost are the attributes' (cut, redacted, encoded and priced once);
    without it they are made from ``record`` the same way.
    """
    content = _Content(record, policy, row)
    attributes: dict[str, Value] = {
        "llm_logs.trace.id": str(record.trace_id),
        "llm_logs.span.id": str(record.id),
        "llm_logs.span.kind": record.kind,
    }
    _metadata(record.metadata, attributes)
    if record.kind == "llm":
        _llm(record, content, attributes)
    elif record.kind == "tool":
        attributes["gen_ai.operation.name"] = "execute_tool"
        attributes.setdefault("gen_ai.tool.name", record.name.removeprefix("tool."))
        _put(attributes, "gen_ai.tool.call.arguments", content.input())
        _put(attributes, "gen_ai.tool.call.result", content.output())
    else:
        _put(attributes, "llm_logs.input", content.input())
        _put(attributes, "llm_logs.output", content.output())
    if record.error is not None:
        attributes.setdefault("error.type", _error_type(record.error))
    return attributes


def _put(attributes: dict[str, Value], name: str, item: str | None) -> None:
    if item is not None:
        attributes[name] = item


def _llm(record: SpanRecord, content: _Content, attributes: dict[str, Value]) -> None:
    operation = OPERATIONS.get(record.operation or "", record.operation or "chat")
    attributes.setdefault("gen_ai.operation.name", operation)
    if record.provider is not None:
        attributes.setdefault("gen_ai.provider.name", record.provider)
    if record.model is not None:
        attributes.setdefault("gen_ai.response.model", record.model)
    for field, name in USAGE:
        count = getattr(record, field)
        if count is not None:
            attributes[name] = count
    if record.time_to_first_token_ms is not None:
        attributes["gen_ai.response.time_to_first_chunk"] = record.time_to_first_token_ms / 1000
    cost = content.cost()
    if cost is not None:
        attributes["llm_logs.cost"] = cost
    text = content.input()
    # Redacted whole, as stored, then split: a redact hook sees what it sees for the database.
    # Only an object is split: its JSON text alone starts with a brace (a list's is not parsed).
    if text is not None and text.startswith("{"):
        parts = json.loads(text)
        for key, name in INPUT_PARTS:
            if key in parts and name not in attributes:
                attributes[name] = json.dumps(parts[key], ensure_ascii=False)
    else:
        _put(attributes, "gen_ai.input.messages", text)
    _put(attributes, "gen_ai.output.messages", content.output_messages())
