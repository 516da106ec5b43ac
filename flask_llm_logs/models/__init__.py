"""The extension's tables, on their own metadata (see :mod:`.base`)."""

from .base import Base
from .batches import BatchRecord
from .batches import BatchRequest
from .prompts import PromptLabel
from .prompts import PromptLabelMove
from .prompts import PromptRecord
from .prompts import PromptVersion
from .scores import Score
from .tracing import Span
from .tracing import Trace

__all__ = [
    "Base",
    "BatchRecord",
    "BatchRequest",
    "PromptLabel",
    "PromptLabelMove",
    "PromptRecord",
    "PromptVersion",
    "Score",
    "Span",
    "Trace",
]
