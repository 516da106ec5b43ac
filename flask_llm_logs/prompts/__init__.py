"""Versioned Mustache prompts: the :class:`Prompt` API and ``sync-prompts`` from Markdown files."""

from .errors import FileProblem
from .errors import InvalidPrompt
from .errors import LabelNotSet
from .errors import MissingVariables
from .errors import NoPromptVersion
from .errors import OutputTooLarge
from .errors import PartialCycle
from .errors import PartialNotFound
from .errors import PartialsTooDeep
from .errors import PromptAlreadyExists
from .errors import PromptError
from .errors import PromptNotFound
from .errors import PromptSyncError
from .errors import RenderLimitExceeded
from .errors import SectionsTooDeep
from .errors import TemplateSyntaxError
from .errors import VersionNotFound
from .labels import LabelMove
from .prompt import Prompt
from .prompt import clear_cache
from .store import Version

__all__ = [
    "FileProblem",
    "InvalidPrompt",
    "LabelMove",
    "LabelNotSet",
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
    "Version",
    "VersionNotFound",
    "clear_cache",
]
