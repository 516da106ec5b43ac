"""Mustache rendering of prompt messages: pystache parses, a bounded renderer of ours renders.

Prompts are text for a model, not HTML: ``{{name}}`` inserts the value as
written (``<b> & "x"`` stays ``<b> & "x"``), exactly like ``{{{name}}}``.

pystache's parser reads the templates: tags, delimiters, sections and the
Mustache spec's standalone lines. Three things prompts need are added around
it, each for a reason pystache cannot cover:

-   Every build runs in the host's process, and the UI preview renders any
    saved prompt, so the work is bounded (:class:`RenderLimits`): output size,
    partial depth and section nesting, each with its own error. pystache's
    renderer recurses without limit (a ``RecursionError`` at 500 nested
    sections), so the parse tree is walked here, iteratively.
-   Partials are stored without a final line break, so a standalone
    ``{{> slug}}`` renders the partial as if its text ended with the tag
    line's own line ending (``\\n``, ``\\r\\n`` or none on the last line).
    pystache drops that line ending and does not record which it was, nor
    whether a partial without indentation stood alone, so :class:`_Parser`
    notes each partial tag's position as pystache matches it.
-   A tag followed by blanks before its line end is standalone in the spec
    ("only whitespace on its line"), not in pystache: those blanks are
    removed (the spec drops the whole line anyway) and the template read
    again.

Parsed templates are kept in an LRU cache keyed by the template text.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from pystache import parser as pystache_parser
from pystache.parsed import ParsedTemplate
from pystache.parser import ParsingError
from pystache.parser import _EscapeNode
from pystache.parser import _InvertedNode
from pystache.parser import _LiteralNode
from pystache.parser import _PartialNode
from pystache.parser import _SectionNode

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


#: pystache's line ends: a standalone tag drops ``\r\n``, ``\r`` or ``\n`` after it.
_LINE_ENDS = ("\r\n", "\r", "\n")

#: Blanks between a tag and the end of its line.
_TRAILING_BLANKS = re.compile(r"[ \t]+(?=[\r\n]|\Z)")


def _begins_line(match: re.Match[str]) -> bool:
    """Whether a tag (with the blanks before it) starts its line, as pystache decides it."""
    start = match.start()
    return start == 0 or match.string[start - 1] in "\r\n"


def _line_end(match: re.Match[str]) -> str | None:
    """The line ending pystache drops after a standalone tag; ``None`` if text follows."""
    template, end = match.string, match.end()
    if end == len(template):
        return ""
    return next((ending for ending in _LINE_ENDS if template.startswith(ending, end)), None)


def _kind(match: re.Match[str]) -> tuple[str, str]:
    """A tag's type (``""`` for a variable) and name, read as pystache reads them."""
    if match["change"] is not None:
        return "=", match["delims"]
    if match["raw"] is not None:
        return "&", match["raw_name"]
    return match["tag"], match["tag_key"]


def _tag_text(match: re.Match[str]) -> str:
    return match.string[match.end("whitespace") : match.end()]


class _Partial(_PartialNode):  # type: ignore[misc]  # pystache is untyped: a base of Any
    """pystache's partial node, plus the line ending of a standalone tag.

    ``line_end`` is the line ending pystache dropped after a standalone tag
    (``""`` on the last line), and ``None`` for a tag inside a line.
    """

    def __init__(self, key: str, indent: str, line_end: str | None) -> None:
        super().__init__(key, indent)
        self.line_end = line_end


class _ParseError(Exception):
    def __init__(self, detail: str, position: int) -> None:
        super().__init__(detail)
        self.detail = detail
        self.position = position


class _TagFinder:
    """pystache's tag regular expression, keeping every tag it finds, in order."""

    def __init__(self, pattern: re.Pattern[str], found: list[re.Match[str]]) -> None:
        self.pattern = pattern
        self.found = found

    def search(self, template: str, start: int) -> re.Match[str] | None:
        match = self.pattern.search(template, start)
        if match is not None:
            self.found.append(match)
        return match


class _Parser(pystache_parser._Parser):  # type: ignore[misc]  # pystache is untyped: a base of Any
    """pystache's parser, keeping where each tag is, which its parse tree does not say.

    pystache matches tags with one regular expression per delimiter pair,
    compiled in ``_compile_delimiters``; wrapping it keeps the matches, so a
    partial's node can say whether its tag stood alone on its line and which
    line ending went with it, and errors and section depth can name a line.
    """

    def __init__(self) -> None:
        super().__init__(raise_on_mismatch=True)
        self.tags: list[re.Match[str]] = []

    def _compile_delimiters(self) -> None:
        pattern = pystache_parser._compile_template_re(self._delimiters)
        self._template_re = _TagFinder(pattern, self.tags)

    def _make_interpolation_node(self, tag_type: str, tag_key: str, indent: str) -> Any:
        match = self.tags[-1]
        # pystache fails with an IndexError on one delimiter and ignores a third.
        if tag_type == "=" and len(tag_key.split()) != 2:
            raise _ParseError(
                f"{_tag_text(match)} must give two delimiters, such as {{{{=<% %>=}}}}",
                match.end("whitespace"),
            )
        if tag_type == ">":
            return _Partial(tag_key, indent, _line_end(match) if _begins_line(match) else None)
        return super()._make_interpolation_node(tag_type, tag_key, indent)


@dataclasses.dataclass(frozen=True)
class Template:
    """A parsed template and what parsing learnt about it."""

    #: pystache's parse tree: text, and nodes for tags.
    nodes: tuple[Any, ...]
    #: Names of ``{{var}}``, ``{{{var}}}``, ``{{#section}}`` and ``{{^inverted}}`` tags,
    #: in order of first use.
    variables: tuple[str, ...]
    #: Slugs of ``{{> partial}}`` tags, in order of first use.
    partials: tuple[str, ...]
    #: How deeply sections nest (0 without sections), and the line where it is deepest.
    section_depth: int = 0
    section_depth_line: int = 0


def _read(template: str) -> tuple[ParsedTemplate, list[re.Match[str]]]:
    """pystache's parse tree and the tags it read, or :class:`_ParseError`."""
    parser = _Parser()
    try:
        return parser.parse(template), parser.tags
    except ParsingError as error:
        _describe(parser.tags)  # raises for every mismatch pystache reports
        raise _ParseError(str(error), len(template)) from None


def _describe(tags: Sequence[re.Match[str]]) -> tuple[int, int]:
    """How deep the sections of ``tags`` nest and where; :class:`_ParseError` if they mismatch.

    pystache refuses mismatched sections but names the outermost one, by
    offset; the author needs the innermost, by line.
    """
    opened: list[tuple[str, re.Match[str]]] = []
    depth = position = 0
    for match in tags:
        kind, name = _kind(match)
        if kind in ("#", "^"):
            opened.append((name, match))
            if len(opened) > depth:
                depth, position = len(opened), match.end("whitespace")
        elif kind == "/":
            if not opened:
                raise _ParseError(
                    f"{_tag_text(match)} closes no open section", match.end("whitespace")
                )
            section, opening = opened.pop()
            if section != name:
                raise _ParseError(
                    f"section {_tag_text(opening)} is closed by {_tag_text(match)}",
                    match.end("whitespace"),
                )
    if opened:
        raise _ParseError(
            f"section {_tag_text(opened[-1][1])} is never closed", opened[-1][1].end("whitespace")
        )
    return depth, position


def _parse_tree(template: str) -> Template:
    parsed, tags = _read(template)
    blanks = [
        found.span()
        for match in tags
        if _kind(match)[0] not in ("", "&")
        and _begins_line(match)
        and (found := _TRAILING_BLANKS.match(template, match.end()))
    ]
    if blanks:
        # Standalone in the spec, not in pystache: drop the blanks, read again.
        pieces, start = [], 0
        for begin, end in blanks:
            pieces.append(template[start:begin])
            start = end
        template = "".join([*pieces, template[start:]])
        parsed, tags = _read(template)
    depth, position = _describe(tags)
    variables: dict[str, None] = {}
    partials: dict[str, None] = {}
    for match in tags:
        kind, name = _kind(match)
        if kind == ">":
            partials.setdefault(name)
        elif kind in ("", "&", "#", "^") and name != ".":
            variables.setdefault(name)
    return Template(
        tuple(parsed._parse_tree),
        tuple(variables),
        tuple(partials),
        depth,
        _line(template, position) if depth else 0,
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


@dataclasses.dataclass(frozen=True, slots=True)
class _Enter:
    """Walk marker: a section pass starts with this item on top of the context stack."""

    item: Any


#: Walk markers: a section pass ends, a section ends, a partial ends.
_LEAVE_PASS = object()
_LEAVE_SECTION = object()
_LEAVE_PARTIAL = object()


def _section_walk(items: Iterable[Any], nodes: Sequence[Any]) -> Iterator[Any]:
    for item in items:
        yield _Enter(item)
        yield from nodes
        yield _LEAVE_PASS
    yield _LEAVE_SECTION


def _partial_walk(nodes: Sequence[Any]) -> Iterator[Any]:
    yield from nodes
    yield _LEAVE_PARTIAL


class _Renderer:
    """Renders templates into one list of strings, counting what it does against the limits.

    The parse tree is walked with a stack of iterators, not by recursion, so
    how deep templates nest is a limit's business, not the interpreter's.
    """

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

    def render(self, nodes: Sequence[Any], stack: list[Any], out: list[str]) -> None:
        walks: list[Iterator[Any]] = [iter(nodes)]
        while walks:
            for node in walks[-1]:
                if isinstance(node, str):
                    self.spend(len(node))
                    out.append(node)
                elif isinstance(node, (_EscapeNode, _LiteralNode)):
                    self.variable(node.key, stack, out)
                elif isinstance(node, (_SectionNode, _InvertedNode)):
                    walks.append(self.section(node, stack))
                    break
                elif isinstance(node, _Partial):
                    walks.append(self.partial(node))
                    break
                elif isinstance(node, _Enter):
                    self.spend(1)
                    stack.append(node.item)
                elif node is _LEAVE_PASS:
                    stack.pop()
                elif node is _LEAVE_SECTION:
                    self.section_depth -= 1
                elif node is _LEAVE_PARTIAL:
                    self.chain.pop()
                # Comments and delimiter changes render nothing.
            else:
                walks.pop()

    def variable(self, name: str, stack: list[Any], out: list[str]) -> None:
        found, value = self.lookup(stack, name)
        if not found:
            self.missing.setdefault(name)
            return
        text = _to_str(value)
        self.spend(len(text))
        out.append(text)

    def section(self, node: Any, stack: list[Any]) -> Iterator[Any]:
        # A missing section name is simply false: that is how optional blocks are written.
        _, value = self.lookup(stack, node.key)
        if isinstance(node, _InvertedNode):
            items = [] if value else [stack[-1]]
            nodes = node.parsed_section._parse_tree
        else:
            items = value if _is_list(value) else [value] if value else []
            nodes = node.parsed._parse_tree
        self.section_depth += 1
        if self.section_depth > self.limits.max_section_depth:
            raise SectionsTooDeep(
                f"{self.where}: sections nested {self.section_depth} deep"
                f" (section {node.key!r}, counting those of partials)",
                self.limits.max_section_depth,
            )
        return _section_walk(items, nodes)

    def partial(self, node: _Partial) -> Iterator[Any]:
        self.spend(1)
        if len(self.chain) >= self.limits.max_partial_depth:
            raise _partials_too_deep(
                [self.where, *self.chain, node.key], self.limits.max_partial_depth
            )
        text = self.partials.get(node.key, "")
        if node.line_end is not None:
            # Stored partials have no final line break: the tag line lends its own.
            text = _LINE_START.sub(node.indent, text) + node.line_end
        self.chain.append(node.key)
        return _partial_walk(parse(text, f"partial {node.key!r}").nodes)


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
