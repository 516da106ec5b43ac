"""Trace every LLM call of a Flask app, manage versioned prompts, run batches."""

from .alerts.rules import AlertRule
from .batches import Batch
from .config import ConfigurationError
from .extension import LlmLogs
from .extension import flush
from .extension import stats
from .insights.metrics import metrics
from .instrumentation import uninstrument
from .prompts import InvalidPrompt
from .prompts import LabelNotSet
from .prompts import MissingVariables
from .prompts import NoPromptVersion
from .prompts import OutputTooLarge
from .prompts import PartialCycle
from .prompts import PartialNotFound
from .prompts import PartialsTooDeep
from .prompts import Prompt
from .prompts import PromptAlreadyExists
from .prompts import PromptError
from .prompts import PromptNotFound
from .prompts import PromptSyncError
from .prompts import RenderLimitExceeded
from .prompts import SectionsTooDeep
from .prompts import TemplateSyntaxError
from .prompts import VersionNotFound
from .tracing.api import current_trace_id
from .tracing.api import score
from .tracing.api import span
from .tracing.api import tool
from .tracing.api import trace
from .tracing.api import update_current_trace
from .tracing.context import copy_context_to

__all__ = [
    "AlertRule",
    "Batch",
    "ConfigurationError",
    "InvalidPrompt",
    "LabelNotSet",
    "LlmLogs",
    "MissingVariables",
    "NoPromptVersion",
    "OutputTooLarge",
    "PartialCycle",
    "PartialNotFound",
    "PartialsTooDeep",
    "Prompt",
    "PromptAlreadyExists",
    "PromptError",
    "PromptNotFound",
    "PromptSyncError",
    "RenderLimitExceeded",
    "SectionsTooDeep",
    "TemplateSyntaxError",
    "VersionNotFound",
    "copy_context_to",
    "current_trace_id",
    "flush",
    "metrics",
    "score",
    "span",
    "stats",
    "tool",
    "trace",
    "uninstrument",
    "update_current_trace",
]
