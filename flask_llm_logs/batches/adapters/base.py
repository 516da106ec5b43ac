"""The interface a batch backend implements.

Flush, poll and retry talk to a provider only through this interface, so
another backend (another provider's batch API) is one new module and one
name in ``LLM_LOGS_BATCH_PROVIDER``; nothing else changes.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Iterator
from collections.abc import Mapping
from typing import Any
from typing import ClassVar

#: Provider batch statuses after which nothing changes any more.
TERMINAL_STATUSES = frozenset({"completed", "failed", "expired", "cancelled"})


class BatchNotFound(LookupError):
    """The provider does not know a batch id (another key or account, or deleted).

    Raised by :meth:`BatchAdapter.retrieve` and :meth:`BatchAdapter.cancel`
    with the provider's message, so that poll can tell a batch that is gone
    from a provider that is unreachable for a while.
    """


@dataclasses.dataclass(frozen=True)
class ProviderBatch:
    """A provider batch as the provider shows it now."""

    id: str
    status: str
    input_file_id: str | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    #: Batch-level errors (a batch that failed validation): ``"code: message"``.
    errors: tuple[str, ...] = ()
    metadata: Mapping[str, str] = dataclasses.field(default_factory=dict)
    #: Unix time of creation, used to stop paging through old batches.
    created_at: int | None = None
    #: The provider's whole answer, kept on the batch record for the UI.
    raw: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_STATUSES


@dataclasses.dataclass(frozen=True)
class RequestOutcome:
    """What the provider did with one request: a response body, or an error."""

    custom_id: str
    body: dict[str, Any] | None = None
    error: str | None = None


@dataclasses.dataclass(frozen=True)
class Message:
    """What a batch handler receives for one successful request.

    ``content`` is the text of the reply, or a ``dict`` parsed from it when
    the request was enqueued with a ``schema``. ``response`` is the provider
    SDK's object (``openai.types.responses.Response`` for OpenAI).
    """

    content: str | dict[str, Any] | Any
    model: str | None
    input_tokens: int | None
    output_tokens: int | None
    cached_tokens: int | None
    response: Any
    reasoning_tokens: int | None = None


class BatchAdapter(abc.ABC):
    """One provider's batch API, as flush and poll need it.

    An adapter is made per job from the app's state and closed after it.
    """

    #: The value of ``LLM_LOGS_BATCH_PROVIDER`` that selects this adapter.
    name: ClassVar[str]
    #: The provider name prices are looked up under.
    pricing_provider: ClassVar[str]
    #: Limits of one provider batch.
    max_requests: ClassVar[int]
    max_bytes: ClassVar[int]

    @abc.abstractmethod
    def can_batch(self, model: str) -> bool:
        """Whether requests for ``model`` can go through the batch API at all."""

    @abc.abstractmethod
    def encode(self, custom_id: str, payload: Mapping[str, Any]) -> bytes:
        """One line of the batch input file, newline included."""

    @abc.abstractmethod
    def upload(self, data: bytes, filename: str) -> str:
        """Upload a batch input file; its provider id."""

    @abc.abstractmethod
    def create(self, input_file_id: str, metadata: Mapping[str, str]) -> ProviderBatch:
        """Create a provider batch for an uploaded file."""

    @abc.abstractmethod
    def retrieve(self, provider_batch_id: str) -> ProviderBatch:
        """The batch as the provider shows it now; :class:`BatchNotFound` if unknown."""

    @abc.abstractmethod
    def cancel(self, provider_batch_id: str) -> None:
        """Ask the provider to stop a batch; :class:`BatchNotFound` if unknown.

        Requests that ran before the stop still get their results, delivered
        by the next polls.
        """

    @abc.abstractmethod
    def outcomes(self, batch: ProviderBatch) -> dict[str, RequestOutcome]:
        """Every request's outcome in a finished batch, by ``custom_id``."""

    @abc.abstractmethod
    def batches_since(self, created_after: int) -> Iterator[ProviderBatch]:
        """The provider's batches created after a Unix time, newest first.

        Used to find a batch by its metadata after a crash: providers do not
        filter on metadata, so this pages and the caller filters.
        """

    @abc.abstractmethod
    def send(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Send one request synchronously (the fallback); the response body."""

    @abc.abstractmethod
    def message(self, body: Mapping[str, Any], *, structured: bool) -> Message:
        """The handler's view of a response body; raises ``ValueError`` if unusable."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections."""
