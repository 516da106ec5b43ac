"""The Gemini API surface of the fake server: ``generateContent``,
``streamGenerateContent`` (``alt=sse``) and the embedding methods.

The real ``google-genai`` SDK, pointed at the fake with ``http_options``
``base_url``, posts here both as a Gemini API client (``/v1beta/models/...``)
and as a Vertex AI client (``/v1beta1/publishers/google/models/...``, or
with a project and location). Replies follow the OpenAI engine's rules
(scripted replies first, a tool offered is called, the fake token count), so
one script drives every API; only their shape is Gemini's, checked against
recorded traffic of the real API (see ``docs/testing.rst``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from collections.abc import Mapping
from typing import Any

from .engine import Engine
from .engine import Plan
from .engine import embedding_vector
from .engine import new_id
from .engine import pick_tool
from .errors import ApiError
from .errors import ScriptedFailure
from .server import HttpRequest
from .server import HttpResponse
from .streaming import split_pieces
from .tokens import count_tokens

#: A model method's path, whatever the API version and client kind.
ROUTE = re.compile(
    r"/v1[a-z0-9]*/(?:projects/[^/]+/locations/[^/]+/)?(?:publishers/[^/]+/)?"
    r"(?:models|tunedModels)/(?P<model>[^/:]+):(?P<method>[A-Za-z]+)"
)

#: Google's status name for each HTTP status (``error.status`` in its bodies).
STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

#: Embedding sizes of Google's models, used without ``outputDimensionality``.
EMBEDDING_DIMENSIONS = {"gemini-embedding-001": 3072, "text-embedding-004": 768}
DEFAULT_EMBEDDING_DIMENSIONS = 768

#: Models that think (and report ``thoughtsTokenCount``) unless told not to.
THINKING_MODEL = re.compile(r"^gemini-(2\.5|[3-9])")

_EVENT_STREAM = "text/event-stream"


def error_body(status: int, message: str) -> dict[str, Any]:
    """The ``{"error": {code, message, status}}`` body Google's APIs send with ``status``."""
    name = STATUS_NAMES.get(status, "INTERNAL" if status >= 500 else "FAILED_PRECONDITION")
    return {"error": {"code": status, "message": message, "status": name}}


def error_response(
    status: int, message: str, headers: Mapping[str, str] | None = None
) -> HttpResponse:
    response = _json_response(error_body(status, message), status)
    response.headers.update(headers or {})
    return response


def _json_response(data: Any, status: int = 200) -> HttpResponse:
    return HttpResponse(
        status,
        json.dumps(data, separators=(",", ":")).encode(),
        content_type="application/json; charset=UTF-8",
    )


class GeminiApi:
    """The Gemini API, mounted on the fake server (see :class:`~.app.MountedApi`)."""

    def __init__(self, engine: Engine, api_key: str | None = None) -> None:
        self.engine = engine
        self.api_key = api_key

    def handles(self, path: str) -> bool:
        return ROUTE.fullmatch(path) is not None

    def __call__(
        self,
        request: HttpRequest,
        payload: Any,
        parse_error: ApiError | None,
        failure: ScriptedFailure | None,
    ) -> HttpResponse:
        if self.api_key is not None and request.headers.get("x-goog-api-key") != self.api_key:
            return error_response(401, "API key not valid. Please pass a valid API key.")
        if failure is not None:
            message = failure.message or f"Scripted by FakeOpenAI (HTTP {failure.status})."
            return error_response(failure.status, message, failure.headers)
        if parse_error is not None:
            return error_response(parse_error.status, str(parse_error))
        match = ROUTE.fullmatch(request.path)
        assert match is not None
        if request.method != "POST":
            return error_response(405, f"Method {request.method} not allowed.")
        if not isinstance(payload, dict):
            return error_response(400, "The request body must be a JSON object.")
        model, method = match["model"], match["method"]
        try:
            if method == "generateContent":
                return _json_response(self.generate(model, payload))
            if method == "streamGenerateContent":
                reply = self.generate(model, payload)
                chunks = stream_chunks(reply, sse=request.query.get("alt"))
                return HttpResponse(200, content_type=_EVENT_STREAM, chunks=chunks)
            if method in ("embedContent", "batchEmbedContents", "predict"):
                return _json_response(embed(model, method, payload))
        except ApiError as error:
            return error_response(error.status, str(error))
        return error_response(404, f"Method {method} not found for models/{model}.")

    def generate(self, model: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """A ``GenerateContentResponse`` body for a ``generateContent`` request ``body``."""
        contents = body.get("contents")
        if not isinstance(contents, list) or not contents:
            raise ApiError(400, "* GenerateContentRequest.contents: contents is not specified")
        texts = [_content_text(content) for content in contents]
        system = body.get("systemInstruction")
        system_tokens = count_tokens(_content_text(system)) if system else 0
        prompt_tokens = system_tokens + sum(count_tokens(text) for text in texts)
        cached_tokens = prompt_tokens - count_tokens(texts[-1])
        last_parts = _parts(contents[-1])
        after_tool = any("functionResponse" in part for part in last_parts)
        if after_tool:
            default_text = f"Fake reply using the tool result: {texts[-1]}"
        else:
            default_text = f"Fake reply to: {texts[-1]}"
        config = body.get("generationConfig") or {}
        plan = self.engine.plan(
            reply=None,
            scripted=True,
            tool=None if after_tool else pick_tool(_functions(body), _forced_function(body)),
            default_text=default_text,
            format_type=_format_type(config),
            schema=_lowercase_types(_response_schema(config)),
            max_tokens=config.get("maxOutputTokens"),
        )
        visible = self.engine.output_tokens(plan)
        thinking = config.get("thinkingConfig") or {}
        budget = _field(thinking, "thinkingBudget", "thinking_budget")
        thinks = THINKING_MODEL.match(model) is not None and budget != 0
        thoughts = visible if thinks else 0
        parts: list[dict[str, Any]] = []
        if thinks and _field(thinking, "includeThoughts", "include_thoughts"):
            parts.append({"text": f"Thinking about: {texts[-1]}", "thought": True})
        parts += _reply_parts(plan)
        usage: dict[str, Any] = {
            "promptTokenCount": prompt_tokens,
            "candidatesTokenCount": visible,
            "totalTokenCount": prompt_tokens + visible + thoughts,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt_tokens}],
            "candidatesTokensDetails": [{"modality": "TEXT", "tokenCount": visible}],
        }
        if cached_tokens:
            usage["cachedContentTokenCount"] = cached_tokens
        if thoughts:
            usage["thoughtsTokenCount"] = thoughts
        return {
            "candidates": [
                {
                    "content": {"parts": parts, "role": "model"},
                    "finishReason": "MAX_TOKENS" if plan.truncated else "STOP",
                }
            ],
            "usageMetadata": usage,
            "modelVersion": model,
            "responseId": new_id(""),
        }


def stream_chunks(response: dict[str, Any], *, sse: str | None) -> Iterator[bytes]:
    """The chunks of a streamed reply, cut from the whole ``response``.

    Each chunk has one piece of text (a thought, or the function calls, whole,
    as Gemini sends them); only the last has the finish reason and the
    token counts, the others the prompt's, as the real stream. Without
    ``alt=sse`` the API sends one JSON array instead.
    """
    [candidate] = response["candidates"]
    usage = response["usageMetadata"]
    parts = candidate["content"]["parts"]
    pieces: list[list[dict[str, Any]]] = []
    for part in parts:
        if "text" in part and not part.get("thought"):
            pieces += [[{"text": piece}] for piece in split_pieces(part["text"])]
        else:
            pieces.append([part])
    head = {"modelVersion": response["modelVersion"], "responseId": response["responseId"]}
    so_far = {"promptTokenCount": usage["promptTokenCount"]}
    so_far["totalTokenCount"] = usage["promptTokenCount"]
    chunks = []
    for index, piece in enumerate(pieces):
        chunk_candidate: dict[str, Any] = {"content": {"parts": piece, "role": "model"}}
        last = index == len(pieces) - 1
        if last:
            chunk_candidate["finishReason"] = candidate["finishReason"]
        chunks.append(
            {"candidates": [chunk_candidate], "usageMetadata": usage if last else so_far, **head}
        )
    if sse != "sse":
        yield json.dumps(chunks, separators=(",", ":")).encode()
        return
    for chunk in chunks:
        yield b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\r\n\r\n"


def embed(model: str, method: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """The body of an ``embedContent``, ``batchEmbedContents`` or Vertex ``predict`` reply."""
    if method == "predict":
        instances = body.get("instances")
        if not isinstance(instances, list) or not instances:
            raise ApiError(400, "instances is required")
        size = _dimensions(model, body.get("parameters") or {})
        texts = [str((item or {}).get("content", "")) for item in instances]
        return {
            "predictions": [
                {
                    "embeddings": {
                        "values": list(embedding_vector(text, size)),
                        "statistics": {"truncated": False, "token_count": count_tokens(text)},
                    }
                }
                for text in texts
            ],
            "metadata": {"billableCharacterCount": sum(len(text) for text in texts)},
        }
    requests = body.get("requests") if method == "batchEmbedContents" else [body]
    if not isinstance(requests, list) or not requests:
        raise ApiError(400, "* BatchEmbedContentsRequest.requests: requests is not specified")
    vectors = []
    tokens = 0
    for request in requests:
        if not isinstance(request, dict) or not isinstance(request.get("content"), dict):
            raise ApiError(400, "* EmbedContentRequest.content: content is not specified")
        text = _content_text(request["content"])
        tokens += count_tokens(text)
        vectors.append({"values": list(embedding_vector(text, _dimensions(model, request)))})
    usage = {"promptTokenCount": tokens, "totalTokenCount": tokens}
    if method == "embedContent":
        return {"embedding": vectors[0], "usageMetadata": usage}
    return {"embeddings": vectors, "usageMetadata": usage}


def _dimensions(model: str, options: Mapping[str, Any]) -> int:
    size = options.get("outputDimensionality")
    if isinstance(size, int) and size > 0:
        return size
    return EMBEDDING_DIMENSIONS.get(model, DEFAULT_EMBEDDING_DIMENSIONS)


def _parts(content: Any) -> list[dict[str, Any]]:
    parts = content.get("parts") if isinstance(content, dict) else None
    return [part for part in parts or () if isinstance(part, dict)]


def _content_text(content: Any) -> str:
    """What a content contributes to the prompt: texts, function calls and their results."""
    texts = []
    for part in _parts(content):
        if isinstance(part.get("text"), str):
            texts.append(part["text"])
        for key in ("functionCall", "functionResponse"):
            if isinstance(part.get(key), dict):
                texts.append(json.dumps(part[key], separators=(",", ":")))
    return "".join(texts)


def _functions(body: Mapping[str, Any]) -> list[tuple[str, dict[str, Any] | None]]:
    functions = []
    for tool in body.get("tools") or ():
        for declaration in (tool or {}).get("functionDeclarations") or ():
            schema = _field(
                declaration, "parametersJsonSchema", "parameters_json_schema"
            ) or declaration.get("parameters")
            functions.append((str(declaration.get("name", "")), _lowercase_types(schema)))
    return functions


def _forced_function(body: Mapping[str, Any]) -> Any:
    """``toolConfig`` as the engine's ``tool_choice``: ``"none"``, a name, or ``None``."""
    config = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
    if config.get("mode") == "NONE":
        return "none"
    names = config.get("allowedFunctionNames")
    return {"name": names[0]} if names else None


def _field(mapping: Mapping[str, Any], name: str, snake_name: str) -> Any:
    """A field the SDK may send in camelCase or in snake_case (JSON schemas,
    thinking options); the API accepts both."""
    value = mapping.get(name)
    return mapping.get(snake_name) if value is None else value


def _response_schema(config: Mapping[str, Any]) -> Any:
    return _field(config, "responseJsonSchema", "response_json_schema") or config.get(
        "responseSchema"
    )


def _format_type(config: Mapping[str, Any]) -> str | None:
    if config.get("responseMimeType") != "application/json":
        return None
    if _response_schema(config):
        return "json_schema"
    return "json_object"


def _lowercase_types(schema: Any) -> Any:
    """A Gemini schema (``"type": "OBJECT"``) in JSON Schema's spelling."""
    if isinstance(schema, list):
        return [_lowercase_types(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    return {
        key: value.lower() if key == "type" and isinstance(value, str) else _lowercase_types(value)
        for key, value in schema.items()
    }


def _arguments(text: str) -> dict[str, Any]:
    """A call's arguments as Gemini's ``args`` object (a scripted non-object kept in one)."""
    try:
        value = json.loads(text)
    except ValueError:
        value = text
    return value if isinstance(value, dict) else {"value": value}


def _reply_parts(plan: Plan) -> list[dict[str, Any]]:
    if plan.tool_calls:
        return [
            {"functionCall": {"name": call.name, "args": _arguments(call.arguments)}}
            for call in plan.tool_calls
        ]
    return [{"text": plan.text or ""}]
