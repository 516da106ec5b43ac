"""What can go wrong with prompts, each error naming the prompt, file or line at fault."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from collections.abc import Sequence


class PromptError(Exception):
    """Base class of every prompt error, so callers can catch them all at once."""


class _MessageKeyError(KeyError):
    """A ``KeyError`` whose ``str()`` is its message, not the message's repr."""

    def __str__(self) -> str:
        return str(self.args[0])


class PromptNotFound(PromptError, _MessageKeyError):
    """No prompt has this slug."""

    def __init__(self, slug: str, detail: str = "") -> None:
        super().__init__(f"no prompt with slug {slug!r}{detail}")
        self.slug = slug


class PartialNotFound(PromptNotFound):
    """A template includes ``{{> slug}}`` but no prompt has that slug."""

    def __init__(self, slug: str, included_from: str) -> None:
        super().__init__(slug, f" (included as the partial {{{{> {slug}}}}} by {included_from!r})")
        self.included_from = included_from


class PromptAlreadyExists(PromptError, ValueError):
    """:meth:`Prompt.create` was given a slug that is taken."""

    def __init__(self, slug: str) -> None:
        super().__init__(f"a prompt with slug {slug!r} already exists")
        self.slug = slug


class VersionNotFound(PromptError, LookupError):
    """The prompt has no version with this number."""

    def __init__(self, slug: str, number: int) -> None:
        super().__init__(f"prompt {slug!r} has no version {number}")
        self.slug = slug
        self.number = number


class NoPromptVersion(PromptError):
    """The prompt exists but has no content yet, so there is nothing to build."""

    def __init__(self, slug: str) -> None:
        super().__init__(
            f"prompt {slug!r} has no version yet: save content with update_content() first"
        )
        self.slug = slug


class InvalidPrompt(PromptError, ValueError):
    """Arguments that cannot be stored: the message says which one and why."""


class TemplateSyntaxError(InvalidPrompt):
    """A Mustache template does not parse (an unclosed or mismatched section).

    :param where: what holds the template, such as ``prompt 'x', message 2 (user)``.
    :param line: the line in the template (1-based) where the parser stopped.
    """

    def __init__(self, where: str, detail: str, line: int) -> None:
        super().__init__(f"{where}, line {line}: {detail}")
        self.where = where
        self.detail = detail
        self.line = line


class PartialCycle(PromptError):
    """Partials include each other in a loop, so rendering would never end."""

    def __init__(self, chain: Sequence[str]) -> None:
        super().__init__(f"partials include each other in a cycle: {' -> '.join(chain)}")
        self.chain = tuple(chain)


class MissingVariables(PromptError, _MessageKeyError):
    """Strict mode: the template uses variables that were neither passed nor defaulted."""

    def __init__(self, slug: str, version_number: int, names: Iterable[str]) -> None:
        self.slug = slug
        self.version_number = version_number
        self.names = tuple(sorted(set(names)))
        super().__init__(
            f"prompt {slug!r} version {version_number} is missing variables:"
            f" {', '.join(self.names)} (pass them to build() or set default_variables)"
        )


@dataclasses.dataclass(frozen=True)
class FileProblem:
    """One reason a prompt file cannot be synced."""

    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.message}"


class PromptSyncError(PromptError):
    """Prompt files that cannot be synced; nothing was written.

    Every problem of every file is collected before this is raised, so one run
    shows them all; ``.warnings`` has what was odd but not wrong, as a
    successful sync reports it.
    """

    def __init__(
        self, problems: Sequence[FileProblem], warnings: Sequence[FileProblem] = ()
    ) -> None:
        self.problems = tuple(problems)
        self.warnings = tuple(warnings)
        lines = "\n".join(f"  {problem}" for problem in self.problems)
        count = len(self.problems)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} in prompt files:\n{lines}")


class RenderLimitExceeded(PromptError):
    """Rendering would go past a limit that bounds the work of one build.

    :param limit: the configured value of the limit, named by :attr:`key`.
    """

    #: The configuration key that sets the limit.
    key = ""

    def __init__(self, detail: str, limit: int) -> None:
        super().__init__(f"{detail}; the limit is {self.key} = {limit}")
        self.detail = detail
        self.limit = limit


class OutputTooLarge(RenderLimitExceeded):
    """The rendered messages would be larger than ``LLM_LOGS_PROMPT_MAX_OUTPUT_CHARS``."""

    key = "LLM_LOGS_PROMPT_MAX_OUTPUT_CHARS"


class PartialsTooDeep(RenderLimitExceeded):
    """Partials include partials deeper than ``LLM_LOGS_PROMPT_MAX_PARTIAL_DEPTH`` (``.chain``)."""

    key = "LLM_LOGS_PROMPT_MAX_PARTIAL_DEPTH"

    def __init__(self, detail: str, limit: int, chain: Sequence[str]) -> None:
        super().__init__(detail, limit)
        self.chain = tuple(chain)


class SectionsTooDeep(RenderLimitExceeded, InvalidPrompt):
    """Sections nest deeper than ``LLM_LOGS_PROMPT_MAX_SECTION_DEPTH``.

    Also an :class:`InvalidPrompt`: a template's own nesting is refused when it is saved.
    """

    key = "LLM_LOGS_PROMPT_MAX_SECTION_DEPTH"


class LabelNotSet(PromptError, LookupError):
    """``load(label=...)`` or a split asked for a label that names no version of the prompt.

    ``production`` and ``staging`` exist for every prompt but name no version
    until one is set: ``load()`` refuses rather than guess which to build.
    """

    def __init__(self, slug: str, label: str) -> None:
        super().__init__(
            f"prompt {slug!r} has no version labelled {label!r}: set one with"
            f" Prompt.load({slug!r}).set_label({label!r}, version=N) or from its versions page"
        )
        self.slug = slug
        self.label = label
