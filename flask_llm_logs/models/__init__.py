"""The extension's tables, on their own metadata (see :mod:`.base`)."""

from .alerts import AlertEvent
from .alerts import AlertState
from .base import Base
from .batches import BatchRecord
from .batches import BatchRequest
from .bounds import SessionBounds
from .bounds import UserBounds
from .metrics import metrics_table
from .prompts import PromptLabel
from .prompts import PromptLabelMove
from .prompts import PromptRecord
from .prompts import PromptVersion
from .scores import Score
from .tracing import Span
from .tracing import Trace

__all__ = [
    "AlertEvent",
    "AlertState",
    "Base",
    "BatchRecord",
    "BatchRequest",
    "PromptLabel",
    "PromptLabelMove",
    "PromptRecord",
    "PromptVersion",
    "Score",
    "SessionBounds",
    "Span",
    "Trace",
    "UserBounds",
    "metrics_table",
]
