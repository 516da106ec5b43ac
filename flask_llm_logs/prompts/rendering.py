"""Mustache rendering of prompt messages: no HTML escaping, spec whitespace, bounded work.

Prompts are text for a model, not HTML: ``{{name}}`` inserts the value as
written (``<b> & "x"`` stays ``<b> & "x"``), exactly like ``{{{name}}}``.

The parser and renderer are our own rather than a Mustache library's because
prompts need three things general libraries do not give:

-   Partials are stored without a final line break, so a standalone
    ``{{> slug}}`` renders the partial as if its text ended with the tag
    line's own line ending (``\\n``, ``\\r\\n`` or none on the last line); the
    rest follows the Mustache spec's standalone rules, with any delimiters.
-   Every build runs in the host's process, and the UI preview renders any
    saved prompt, so the work is bounded (:class:`RenderLimits`): output size,
    partial depth and section nesting, each with its own error. The renderer
    recurses only as deep as those limits allow, never into a
    ``RecursionError``.
-   The names a template uses are known from parsing alone (``prompt.variables``,
    the partials to load before rendering).

Parsed templates are kept in an LRU cache keyed by the template text.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from .errors import OutputTooLarge
from .errors import PartialCycle
from .errors import PartialNotFound
from .errors import PartialsTooDeep
from .errors import SectionsTooDeep
from .errors import TemplateSyntaxError


@dataclasses.dataclass(frozen=True)
class RenderLimits:
    """How much one :meth:`Prompt.build` may do (the ``LLM_LOGS_PROMPT_MAX_*`` keys)."""

    #: Characters of all rendered messages together; each partial included and
    #: each section pass also counts one, so work without output is bounded too.
    max_output_chars: int
    #: Partials included inside partials: ``a`` including ``b`` including ``c`` is 2.
    max_partial_depth: int
    #: Sections inside sections, counted through partials.
    max_section_depth: int


# Parsing ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class _Variable:
    name: str


@dataclasses.dataclass(frozen=True, slots=True)
class _Section:
    name: str
    inverted: bool
    nodes: tuple[_Node, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class _Partial:
    slug: str
    #: Whitespace before a standalone tag: every line of the partial is indented by it.
    indent: str = ""
    #: A standalone tag's line ending (``""`` on the last line); ``None`` inside a line.
    line_end: str | None = None


_Node = str | _Variable | _Section | _Partial

#: Tags that may stand alone on a line, which then leaves no trace in the output.
_STANDALONE_KINDS = frozenset("#^/!>=")


@dataclasses.dataclass(frozen=True)
class Template:
    """A parsed template and what parsing learnt about it."""

    nodes: tuple[_Node, ...]
    #: Names of ``{{var}}``, ``{{{var}}}``, ``{{#section}}`` and ``{{^inverted}}`` tags,
    #: in order of first use.
    variables: tuple[str, ...]
    #: Slugs of ``{{> partial}}`` tags, in order of first use.
    partials: tuple[str, ...]
    #: How deeply sections nest (0 without sections), and the line where it is deepest.
    section_depth: int = 0
    section_depth_line: int = 0


class _ParseError(Exception):
    def __init__(self, detail: str, position: int) -> None:
        super().__init__(detail)
        self.detail = detail
        self.position = position


@dataclasses.dataclass
class _Open:
    """A section whose closing tag is not reached yet."""

    tag: str
    name: str
    inverted: bool
    position: int
    outer: list[_Node]


def _standalone_end(template: str, end: int) -> tuple[int, str] | None:
    """Where the line after a tag ends and its line ending, if only blanks follow the tag."""
    newline = template.find("\n", end)
    stop = len(template) if newline == -1 else newline
    rest = template[end:stop]
    if newline != -1 and rest.endswith("\r"):
        rest, ending = rest[:-1], "\r\n"
    else:
        ending = "" if newline == -1 else "\n"
    if rest.strip(" \t"):
        return None
    return (len(template) if newline == -1 else newline + 1), ending


def _parse_tree(template: str) -> Template:
    opening, closing = "{{", "}}"
    nodes: list[_Node] = []
    stack: list[_Open] = []
    variables: dict[str, None] = {}
    partials: dict[str, None] = {}
    depth = depth_position = 0
    position = 0  # the start of the text not yet added to the nodes
    search = 0
    while True:
        start = template.find(opening, search)
        if start == -1:
            break
        inner = start + len(opening)
        close = closing
        if template.startswith("{", inner):
            inner, close = inner + 1, "}" + closing
        stop = template.find(close, inner)
        if stop == -1:
            break  # an opening delimiter never closed is text, as it always was
        end = stop + len(close)
        content = template[inner:stop].strip()
        kind = "&" if close != closing else (content[:1] if content[:1] in "#^/!>=&" else "")
        name = content if kind == "" else content[1:].strip() if close == closing else content
        if kind == "=":
            name = content[1:-1].strip() if content.endswith("=") and len(content) > 1 else ""
        if not name and kind != "!":
            search = inner  # "{{}}": text
            continue

        line_start = template.rfind("\n", 0, start) + 1
        standalone = None
        if (
            kind in _STANDALONE_KINDS
            and position <= line_start
            and not template[line_start:start].strip(" \t")
        ):
            standalone = _standalone_end(template, end)
        if standalone is not None:
            if line_start > position:
                nodes.append(template[position:line_start])
            indent = template[line_start:start]
            position, line_end = standalone
        else:
            if start > position:
                nodes.append(template[position:start])
            indent, line_end = "", None
            position = end
        search = position

        if kind in ("#", "^"):
            stack.append(_Open(template[start:end], name, kind == "^", start, nodes))
            nodes = []
            if len(stack) > depth:
                depth, depth_position = len(stack), start
            if name != ".":
                variables.setdefault(name)
        elif kind == "/":
            if not stack:
                raise _ParseError(f"{template[start:end]} closes no open section", start)
            section = stack.pop()
            if section.name != name:
                raise _ParseError(
                    f"section {section.tag} is closed by {template[start:end]}", start
                )
            inner_nodes = tuple(nodes)
            nodes = section.outer
            nodes.append(_Section(name, section.inverted, inner_nodes))
        elif kind == ">":
            nodes.append(_Partial(name, indent, line_end))
            partials.setdefault(name)
        elif kind == "=":
            delimiters = name.split()
            if len(delimiters) != 2:
                raise _ParseError(
                    f"{template[start:end]} must give two delimiters, such as {{{{=<% %>=}}}}",
                    start,
                )
            opening, closing = delimiters
        elif kind != "!":
            nodes.append(_Variable(name))
            if name != ".":
                variables.setdefault(name)
    if stack:
        raise _ParseError(f"section {stack[-1].tag} is never closed", stack[-1].position)
    if position < len(template):
        nodes.append(template[position:])
    return Template(
        tuple(nodes),
        tuple(variables),
        tuple(partials),
        depth,
        _line(template, depth_position) if depth else 0,
    )


def _line(template: str, position: int) -> int:
    return template.count("\n", 0, position) + 1


@functools.lru_cache(maxsize=4096)
def _parse(template: str) -> Template | _ParseError:
    try:
        return _parse_tree(template)
    except _ParseError as error:
        return error


def parse(template: str, where: str) -> Template:
    """The parsed template, or :class:`TemplateSyntaxError` saying ``where`` and on which line."""
    parsed = _parse(template)
    if isinstance(parsed, _ParseError):
        raise TemplateSyntaxError(where, parsed.detail, _line(template, parsed.position))
    return parsed


def check_section_depth(template: Template, where: str, limits: RenderLimits) -> None:
    """Refuse a template whose own sections nest deeper than rendering would allow."""
    if template.section_depth > limits.max_section_depth:
        raise SectionsTooDeep(
            f"{where}, line {template.section_depth_line}: sections nested"
            f" {template.section_depth} deep",
            limits.max_section_depth,
        )


def variables_of(contents: Iterable[str], where: str) -> list[str]:
    """Every variable used by the given templates, sorted."""
    found: set[str] = set()
    for content in contents:
        found.update(parse(content, where).variables)
    return sorted(found)


def partial_text(contents: Iterable[str]) -> str:
    """What ``{{> slug}}`` includes: the prompt's messages joined by blank lines."""
    return "\n\n".join(contents).rstrip("\n")


def collect_partials(
    slug: str,
    contents: Sequence[str],
    load: Callable[[str], str | None],
    max_depth: int,
) -> dict[str, str]:
    """The text of every partial that ``slug``'s templates include, at any depth.

    ``load(slug)`` returns a prompt's text, or ``None`` if there is no such
    prompt. Mustache partial names are static, so walking the templates finds
    every partial a render can reach: a missing one, a cycle or a chain deeper
    than ``max_depth`` is reported before anything is rendered.
    """
    found: dict[str, str] = {}

    def visit(chain: list[str], templates: Sequence[str]) -> None:
        for template in templates:
            for partial in parse(template, f"prompt {chain[-1]!r}").partials:
                if partial in chain:
                    raise PartialCycle([*chain, partial])
                if len(chain) > max_depth:
                    raise _partials_too_deep([*chain, partial], max_depth)
                if partial in found:
                    continue
                text = load(partial)
                if text is None:
                    raise PartialNotFound(partial, included_from=chain[-1])
                found[partial] = text
                visit([*chain, partial], [text])

    visit([slug], contents)
    return found


def _partials_too_deep(chain: Sequence[str], limit: int) -> PartialsTooDeep:
    shown = " -> ".join(chain) if len(chain) <= 12 else f"{' -> '.join(chain[:11])} -> ..."
    return PartialsTooDeep(f"partials included {len(chain) - 1} deep: {shown}", limit, chain)


# Rendering ------------------------------------------------------------------------


#: Non-empty lines, to indent a standalone partial's lines (blank lines stay empty).
_LINE_START = re.compile(r"^(?=[^\r\n])", re.MULTILINE)


def _to_str(value: Any) -> str:
    return "" if value is None else value if isinstance(value, str) else str(value)


def _get(holder: Any, key: str) -> tuple[bool, Any]:
    """``holder[key]`` for a mapping, else a public attribute; callables are called."""
    if isinstance(holder, Mapping):
        if key not in holder:
            return False, None
        value = holder[key]
    elif (
        key.startswith("_")
        or holder is None
        or isinstance(holder, (str, int, float, list, tuple))
        or not hasattr(holder, key)
    ):
        return False, None
    else:
        value = getattr(holder, key)
    return True, value() if callable(value) else value


def _is_list(value: Any) -> bool:
    return isinstance(value, Iterable) and not isinstance(value, (str, bytes, Mapping))


class _Renderer:
    """Renders templates into one list of strings, counting what it does against the limits."""

    def __init__(self, partials: Mapping[str, str], limits: RenderLimits, where: str) -> None:
        self.partials = partials
        self.limits = limits
        self.where = where
        self.budget = limits.max_output_chars
        self.chain: list[str] = []
        self.section_depth = 0
        self.missing: dict[str, None] = {}

    def spend(self, cost: int) -> None:
        self.budget -= cost
        if self.budget < 0:
            raise OutputTooLarge(
                f"{self.where}: the rendered messages are larger than allowed",
                self.limits.max_output_chars,
            )

    def lookup(self, stack: list[Any], name: str) -> tuple[bool, Any]:
        """Mustache name resolution: the first part up the stack, the rest inside it."""
        if name == ".":
            return True, stack[-1]
        first, *rest = name.split(".")
        for frame in reversed(stack):
            found, value = _get(frame, first)
            if found:
                break
        else:
            return False, None
        for part in rest:
            found, value = _get(value, part)
            if not found:
                return False, None
        return True, value

    def render(self, nodes: Sequence[_Node], stack: list[Any], out: list[str]) -> None:
        for node in nodes:
            if isinstance(node, str):
                self.spend(len(node))
                out.append(node)
            elif isinstance(node, _Variable):
                found, value = self.lookup(stack, node.name)
                if not found:
                    self.missing.setdefault(node.name)
                    continue
                text = _to_str(value)
                self.spend(len(text))
                out.append(text)
            elif isinstance(node, _Section):
                self.section(node, stack, out)
            else:
                self.partial(node, stack, out)

    def section(self, node: _Section, stack: list[Any], out: list[str]) -> None:
        # A missing section name is simply false: that is how optional blocks are written.
        _, value = self.lookup(stack, node.name)
        if node.inverted:
            items = [] if value else [stack[-1]]
        elif _is_list(value):
            items = value
        else:
            items = [value] if value else []
        self.section_depth += 1
        if self.section_depth > self.limits.max_section_depth:
            raise SectionsTooDeep(
                f"{self.where}: sections nested {self.section_depth} deep"
                f" (section {node.name!r}, counting those of partials)",
                self.limits.max_section_depth,
            )
        for item in items:
            self.spend(1)
            stack.append(item)
            self.render(node.nodes, stack, out)
            stack.pop()
        self.section_depth -= 1

    def partial(self, node: _Partial, stack: list[Any], out: list[str]) -> None:
        self.spend(1)
        if len(self.chain) >= self.limits.max_partial_depth:
            raise _partials_too_deep(
                [self.where, *self.chain, node.slug], self.limits.max_partial_depth
            )
        text = self.partials.get(node.slug, "")
        if node.line_end is not None:
            # Stored partials have no final line break: the tag line lends its own.
            text = _LINE_START.sub(node.indent, text) + node.line_end
        self.chain.append(node.slug)
        self.render(parse(text, f"partial {node.slug!r}").nodes, stack, out)
        self.chain.pop()


def render_messages(
    messages: Sequence[Mapping[str, Any]],
    variables: Mapping[str, Any],
    partials: Mapping[str, str],
    limits: RenderLimits,
    where: str,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Render every message's ``content``; return the messages and the missing variable names.

    The messages must have been checked by :func:`parse` (every saved version is).

    :raises RenderLimitExceeded: a limit of ``limits`` was reached; ``where``
        (such as ``prompt 'x' version 3``) starts its message.
    """
    renderer = _Renderer(partials, limits, where)
    stack: list[Any] = [variables]
    rendered = []
    for message in messages:
        out: list[str] = []
        renderer.render(parse(message["content"], where).nodes, stack, out)
        rendered.append({**message, "content": "".join(out)})
    return rendered, list(renderer.missing)
