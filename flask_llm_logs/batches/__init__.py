"""Batches: send requests through a provider's Batch API at half the price.

:class:`Batch` stores requests; :func:`flush` submits them; :func:`poll`
reconciles results and runs the handlers registered per purpose;
:func:`retry_request` / :func:`retry_failed` rerun handlers on stored results;
:func:`cancel_batch` and :func:`requeue_batch` are the operator's controls.
See :doc:`/batches`.
"""

from .adapters import BatchAdapter
from .adapters import Message
from .control import cancel_batch
from .control import requeue_batch
from .enqueue import Batch
from .flush import FlushResult
from .flush import flush
from .poll import PollResult
from .poll import poll
from .retry import RetryResult
from .retry import retry_failed
from .retry import retry_request

__all__ = [
    "Batch",
    "BatchAdapter",
    "FlushResult",
    "Message",
    "PollResult",
    "RetryResult",
    "cancel_batch",
    "flush",
    "poll",
    "requeue_batch",
    "retry_failed",
    "retry_request",
]
