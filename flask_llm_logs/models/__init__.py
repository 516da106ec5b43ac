"""The extension's tables, on their own metadata (see :mod:`.base`)."""

from .base import Base
from .batches import BatchRecord
from .batches import BatchRequest
from .metrics import metrics_table
from .prompts import PromptRecord
from .prompts import PromptVersion
from .scores import Score
from .tracing import Span
from .tracing import Trace

__all__ = [
    "Base",
    "BatchRecord",
    "BatchRequest",
    "PromptRecord",
    "PromptVersion",
    "Score",
    "Span",
    "Trace",
    "metrics_table",
]
