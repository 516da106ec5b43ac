"""Versioned Mustache prompts: the :class:`Prompt` API and ``sync-prompts`` from Markdown files."""

from .errors import FileProblem
from .errors import InvalidPrompt
from .errors import MissingVariables
from .errors import NoPromptVersion
from .errors import PartialCycle
from .errors import PartialNotFound
from .errors import PromptAlreadyExists
from .errors import PromptError
from .errors import PromptNotFound
from .errors import PromptSyncError
from .errors import TemplateSyntaxError
from .errors import VersionNotFound
from .prompt import Prompt
from .prompt import clear_cache
from .store import Version

__all__ = [
    "FileProblem",
    "InvalidPrompt",
    "MissingVariables",
    "NoPromptVersion",
    "PartialCycle",
    "PartialNotFound",
    "Prompt",
    "PromptAlreadyExists",
    "PromptError",
    "PromptNotFound",
    "PromptSyncError",
    "TemplateSyntaxError",
    "Version",
    "VersionNotFound",
    "clear_cache",
]
