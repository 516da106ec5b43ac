""":class:`FakeOpenAI`, the public face of the fake server."""

from __future__ import annotations

import json
from collections.abc import Mapping
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING
from typing import Any

from .anthropic import AnthropicApi
from .app import OpenAIApp
from .app import RecordedRequest
from .batches import BatchStore
from .engine import Engine
from .engine import Reply
from .engine import ReplyScript
from .engine import ToolCall
from .errors import FailureScript
from .errors import ScriptedFailure
from .errors import error_body
from .files import FileStore
from .gemini import GeminiApi
from .server import HttpServer

if TYPE_CHECKING:
    import anthropic
    import openai
    from google import genai


class FakeOpenAI:
    """An OpenAI-compatible HTTP server on ``127.0.0.1``, for offline tests.

    Point the real ``openai`` SDK at :attr:`base_url` and it behaves like the
    API: chat completions, responses, embeddings, files and batches, with
    streaming, tool calls, structured outputs and usage. Replies are
    deterministic; a test can script replies (:meth:`reply_with`) and errors
    (:meth:`fail_next`), drive batches (:attr:`batches`) and inspect what was
    sent (:attr:`requests`). The same server speaks Anthropic's Messages API
    at :attr:`url` (:meth:`anthropic_client`), see :mod:`.anthropic`.

    .. code-block:: python

        with FakeOpenAI() as fake:
            client = openai.OpenAI(base_url=fake.base_url, api_key="test")
            client.chat.completions.create(model="gpt-4.1-mini", messages=[...])

    :param port: port to listen on; 0 (default) picks a free one.
    :param batch_auto_complete: complete every valid batch as soon as it is
        created (also settable later as :attr:`batch_auto_complete`).
    :param api_key: when set, requests without ``Authorization: Bearer
        <api_key>`` get a 401, to test credential handling.
    :param record_requests: keep :attr:`requests`; turn off for long benchmarks.
    """

    def __init__(
        self,
        *,
        port: int = 0,
        batch_auto_complete: bool = False,
        api_key: str | None = None,
        record_requests: bool = True,
    ) -> None:
        self._replies = ReplyScript()
        self._failures = FailureScript()
        self.engine = Engine(self._replies)
        #: Uploaded and generated files (:class:`~flask_llm_logs.testing.files.FileStore`).
        self.files = FileStore()
        #: Batches, and the controls that end them (:class:`BatchStore`).
        self.batches = BatchStore(self.files, self.engine, auto_complete=batch_auto_complete)
        #: The Anthropic Messages API (:class:`~.anthropic.AnthropicApi`).
        self.anthropic = AnthropicApi(self._replies, api_key=api_key)
        #: The Gemini API (:class:`~.gemini.GeminiApi`).
        self.gemini = GeminiApi(self.engine, api_key=api_key)
        self._app = OpenAIApp(
            self.engine,
            self.files,
            self.batches,
            self._failures,
            api_key=api_key,
            record_requests=record_requests,
            apis=[self.anthropic, self.gemini],
        )
        self._server = HttpServer(self._app, port=port)

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> FakeOpenAI:
        """Listen, serving from a daemon thread. Idempotent; returns ``self``."""
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop listening and close open connections. Idempotent."""
        self._server.stop()

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server.running

    @property
    def port(self) -> int:
        return self._server.address[1]

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``, without the ``/v1`` prefix."""
        host, port = self._server.address
        return f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``: the ``base_url`` of an ``openai`` client."""
        return f"{self.url}/v1"

    @property
    def env(self) -> dict[str, str]:
        """``OPENAI_BASE_URL`` and ``OPENAI_API_KEY`` for code that builds its own
        client: ``monkeypatch.setenv`` them, or pass to a subprocess."""
        return {"OPENAI_BASE_URL": self.base_url, "OPENAI_API_KEY": self._app.api_key or "test"}

    def client(self, **kwargs: Any) -> openai.OpenAI:
        """An ``openai.OpenAI`` for this server, without retries (tests want errors
        at once); keyword arguments override the defaults.

        The fake speaks plain HTTP, so the client skips loading the CA bundle
        that the SDK's default HTTP client does: about 30 ms saved per client,
        which adds up over a test suite.
        """
        import openai

        options = self._client_options(kwargs)
        if "http_client" not in options:
            options["http_client"] = openai.DefaultHttpxClient(verify=False)
        return openai.OpenAI(**options)

    def async_client(self, **kwargs: Any) -> openai.AsyncOpenAI:
        """Like :meth:`client`, an ``openai.AsyncOpenAI``. Close it (``async with``)
        in the event loop that used it."""
        import openai

        options = self._client_options(kwargs)
        if "http_client" not in options:
            options["http_client"] = openai.DefaultAsyncHttpxClient(verify=False)
        return openai.AsyncOpenAI(**options)

    def anthropic_client(self, **kwargs: Any) -> anthropic.Anthropic:
        """An ``anthropic.Anthropic`` for this server's Messages API, without retries
        and without loading the CA bundle (as :meth:`client`); keyword arguments
        override the defaults."""
        import anthropic

        options = self._client_options(kwargs, base_url=self.url)
        if "http_client" not in options:
            options["http_client"] = anthropic.DefaultHttpxClient(verify=False)
        return anthropic.Anthropic(**options)

    def async_anthropic_client(self, **kwargs: Any) -> anthropic.AsyncAnthropic:
        """Like :meth:`anthropic_client`, an ``anthropic.AsyncAnthropic``. Close it
        (``async with``) in the event loop that used it."""
        import anthropic

        options = self._client_options(kwargs, base_url=self.url)
        if "http_client" not in options:
            options["http_client"] = anthropic.DefaultAsyncHttpxClient(verify=False)
        return anthropic.AsyncAnthropic(**options)

    def gemini_client(self, *, vertexai: bool = False, **kwargs: Any) -> genai.Client:
        """A ``google.genai.Client`` for this server's fake Gemini API, without
        retries; ``client.aio`` is its async side.

        ``vertexai=True`` makes a Vertex AI client (in express mode, with an
        API key: no Google credentials needed), whose calls are recorded with
        the provider ``google-vertex``. Keyword arguments go to ``Client``;
        ``http_options`` given as a dict are merged into the defaults. Keep
        the client in a variable: a ``Client`` closes its connections when
        dropped, so ``fake.gemini_client().models.generate_content(...)``
        fails in the SDK.
        """
        from google import genai
        from google.genai import types

        http_options: dict[str, Any] = {
            "base_url": self.url,
            "retry_options": {"attempts": 1},
        }
        http_options.update(kwargs.pop("http_options", None) or {})
        kwargs.setdefault("api_key", self._app.api_key or "test")
        return genai.Client(
            vertexai=vertexai, http_options=types.HttpOptions(**http_options), **kwargs
        )

    def _client_options(
        self, overrides: dict[str, Any], base_url: str | None = None
    ) -> dict[str, Any]:
        options: dict[str, Any] = {
            "base_url": base_url or self.base_url,
            "api_key": self._app.api_key or "test",
            "max_retries": 0,
        }
        options.update(overrides)
        if "base_url" in overrides and "http_client" not in overrides:
            # Pointed elsewhere, perhaps at an HTTPS server: keep the SDK's own
            # HTTP client, which verifies certificates.
            options["http_client"] = None
        return options

    # -- scripting -----------------------------------------------------------

    @property
    def batch_auto_complete(self) -> bool:
        """Whether batches complete as soon as they are created."""
        return self.batches.auto_complete

    @batch_auto_complete.setter
    def batch_auto_complete(self, value: bool) -> None:
        self.batches.auto_complete = value

    def reply_with(
        self,
        text: str | None = None,
        *,
        tool_calls: Sequence[tuple[str, Mapping[str, Any] | str]] | None = None,
        times: int = 1,
    ) -> None:
        """Script the reply of the next ``times`` chat, responses or Anthropic messages calls.

        ``text`` is the reply text (used as is, even with a JSON response
        format); ``tool_calls`` are ``(function name, arguments)`` pairs the
        model calls instead, arguments as a dict or a JSON string. Scripted
        replies are used in order, before the default rules apply again.
        Batches do not consume them (see ``fake.batches.complete(replies=...)``).
        """
        if text is None and not tool_calls:
            raise ValueError("reply_with() needs a text or tool_calls")
        calls = tuple(
            ToolCall(name, arguments if isinstance(arguments, str) else json.dumps(arguments))
            for name, arguments in tool_calls or ()
        )
        self._replies.add(Reply(text=text, tool_calls=calls), times)

    def fail_next(
        self,
        status: int = 500,
        *,
        times: int = 1,
        path: str | None = None,
        method: str | None = None,
        message: str | None = None,
        code: str | None = None,
        type: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Answer the next ``times`` matching requests with an OpenAI error.

        ``path`` (e.g. ``"/v1/chat/completions"``, or a glob such as
        ``"/v1/batches/*"``) and ``method`` restrict which requests fail; by
        default any request does. The body is OpenAI's ``{"error": {message,
        type, param, code}}`` with realistic defaults per status (429:
        ``rate_limit_exceeded``; 500: ``server_error``; 401:
        ``invalid_api_key``), so the SDK raises ``openai.RateLimitError``,
        ``openai.InternalServerError``, ``openai.AuthenticationError``, ....
        ``headers`` are added to the response (e.g. ``{"retry-after-ms": "10"}``
        keeps a retrying client fast). Requests to the Anthropic API get
        Anthropic's body instead (``{"type": "error", "error": {type,
        message}}``; 529 is ``overloaded_error``, which the ``anthropic`` SDK
        raises as ``OverloadedError``).
        """
        if times < 1:
            raise ValueError("times must be at least 1")
        body = error_body(status, message, type=type, code=code, param=param)
        self._failures.add(
            ScriptedFailure(status, times, path, method, body, dict(headers or {}), message)
        )

    # -- inspection ----------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Requests received so far, oldest first (a snapshot, safe to keep)."""
        return self._app.requests

    @property
    def last_request(self) -> RecordedRequest | None:
        """The latest request, or ``None``."""
        requests = self._app.requests
        return requests[-1] if requests else None

    def requests_to(self, path: str, method: str | None = None) -> list[RecordedRequest]:
        """Requests received for ``path`` (and ``method``), oldest first."""
        return [
            r
            for r in self._app.requests
            if r.path == path and (method is None or r.method == method.upper())
        ]

    def reset(self) -> None:
        """Forget requests, scripted replies and errors, files and batches.

        The server keeps running on the same port, so clients stay valid:
        handy for a session-scoped fake shared by many tests.
        """
        self._app.clear_requests()
        self._replies.clear()
        self._failures.clear()
        self.batches.clear()
        self.files.clear()
        self.anthropic.cache.clear()

    def __repr__(self) -> str:
        where = self.base_url if self.running else "stopped"
        return f"<FakeOpenAI {where}>"
