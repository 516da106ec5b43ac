"""Mustache rendering of prompt messages through pystache, without HTML escaping.

Prompts are text for a model, not HTML: ``{{name}}`` inserts the value as
written (``<b> & "x"`` stays ``<b> & "x"``), exactly like ``{{{name}}}``.

Parsing is the expensive step, so parsed templates are kept in an LRU cache
keyed by the template text. A cached prompt version keeps returning the same
string objects, whose hash Python remembers, so a warm lookup costs next to
nothing.
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

from pystache.context import ContextStack
from pystache.context import KeyNotFoundError
from pystache.parsed import ParsedTemplate
from pystache.parser import ParsingError
from pystache.parser import _EscapeNode
from pystache.parser import _InvertedNode
from pystache.parser import _LiteralNode
from pystache.parser import _PartialNode
from pystache.parser import _SectionNode
from pystache.parser import parse as pystache_parse
from pystache.renderengine import RenderEngine

from .errors import PartialCycle
from .errors import PartialNotFound
from .errors import TemplateSyntaxError

#: A partial tag alone on its line ("standalone" in the Mustache spec). pystache
#: drops the line break after such a tag, so the partial has to bring its own.
_STANDALONE_PARTIAL = re.compile(r"^([ \t]*\{\{>\s*)(\S+?\s*\}\})$", re.MULTILINE)

#: Marks the partial keys of standalone tags; it cannot occur in a slug.
_BLOCK = "\x00"


def _mark_standalone_partials(template: str) -> str:
    return _STANDALONE_PARTIAL.sub(rf"\1{_BLOCK}\2", template)


@functools.lru_cache(maxsize=4096)
def _parse(template: str, delimiters: tuple[str, str] | None = None) -> ParsedTemplate:
    if delimiters is None:
        template = _mark_standalone_partials(template)
    return pystache_parse(template, delimiters, raise_on_mismatch=True)


#: An opening section tag, to name the section pystache reports as unclosed.
_SECTION_TAG = re.compile(r"\{\{\s*[#^][^}]*\}\}")


def parse(template: str, where: str) -> ParsedTemplate:
    """The parsed template, or :class:`TemplateSyntaxError` saying ``where`` and on which line."""
    try:
        return _parse(template)
    except ParsingError as error:
        template = _mark_standalone_partials(template)
        info = error.info
        position = info.position if info is not None else len(template)
        # The parser reports the position just past the offending tag.
        line = template.count("\n", 0, max(position - 1, 0)) + 1
        detail = str(error)
        if info is not None and info.tag_type in ("#", "^"):
            # pystache names the wrong tag here: find the section that stays open.
            opening = list(_SECTION_TAG.finditer(template, 0, position))
            if opening:
                detail = f"section {opening[-1].group()} is never closed"
        raise TemplateSyntaxError(where, detail, line) from None


@dataclasses.dataclass(frozen=True)
class TemplateNames:
    """The names a template looks up, in order of first use."""

    #: Names of ``{{var}}``, ``{{{var}}}``, ``{{#section}}`` and ``{{^inverted}}`` tags.
    variables: tuple[str, ...]
    #: Slugs of ``{{> partial}}`` tags.
    partials: tuple[str, ...]


@functools.lru_cache(maxsize=4096)
def _names(template: str) -> TemplateNames:
    variables: dict[str, None] = {}
    partials: dict[str, None] = {}

    def walk(parsed: ParsedTemplate) -> None:
        for node in parsed._parse_tree:
            if isinstance(node, (_EscapeNode, _LiteralNode)):
                if node.key != ".":
                    variables.setdefault(node.key)
            elif isinstance(node, _SectionNode):
                variables.setdefault(node.key)
                walk(node.parsed)
            elif isinstance(node, _InvertedNode):
                variables.setdefault(node.key)
                walk(node.parsed_section)
            elif isinstance(node, _PartialNode):
                partials.setdefault(node.key.lstrip(_BLOCK))

    walk(_parse(template))
    return TemplateNames(tuple(variables), tuple(partials))


def names(template: str, where: str) -> TemplateNames:
    """The variables and partials ``template`` uses (raises :class:`TemplateSyntaxError`)."""
    parse(template, where)
    return _names(template)


def variables_of(contents: Iterable[str], where: str) -> list[str]:
    """Every variable used by the given templates, sorted."""
    found: set[str] = set()
    for content in contents:
        found.update(names(content, where).variables)
    return sorted(found)


def partial_text(contents: Iterable[str]) -> str:
    """What ``{{> slug}}`` includes: the prompt's messages joined by blank lines."""
    return "\n\n".join(contents).rstrip("\n")


def _resolve_partial(partials: Mapping[str, str]) -> Callable[[str], str]:
    """A partial on its own line becomes whole lines; one inside a line adds no line break."""

    def resolve(key: str) -> str:
        if key.startswith(_BLOCK):
            return partials[key[1:]] + "\n"
        return partials[key]

    return resolve


def collect_partials(
    slug: str, contents: Sequence[str], load: Callable[[str], str | None]
) -> dict[str, str]:
    """The text of every partial that ``slug``'s templates include, at any depth.

    ``load(slug)`` returns a prompt's text, or ``None`` if there is no such
    prompt. Mustache partial names are static, so walking the templates finds
    every partial a render can reach: a missing one or a cycle is reported
    before anything is rendered.
    """
    found: dict[str, str] = {}

    def visit(chain: list[str], templates: Sequence[str]) -> None:
        for template in templates:
            for partial in names(template, f"prompt {chain[-1]!r}").partials:
                if partial in chain:
                    raise PartialCycle([*chain, partial])
                if partial in found:
                    continue
                text = load(partial)
                if text is None:
                    raise PartialNotFound(partial, included_from=chain[-1])
                found[partial] = text
                visit([*chain, partial], [text])

    visit([slug], contents)
    return found


def _to_str(value: Any) -> str:
    return "" if value is None else str(value)


def _lookup(stack: ContextStack, name: str) -> Any:
    """Section lookups: a missing section name is simply false (optional blocks)."""
    try:
        return stack.get(name)
    except KeyNotFoundError:
        return None


class _Engine(RenderEngine):
    """pystache's engine without escaping, with parse caching and missing-name tracking."""

    def __init__(self, partials: Mapping[str, str]) -> None:
        super().__init__(
            literal=str,
            escape=str,
            resolve_context=_lookup,
            resolve_partial=_resolve_partial(partials),
            to_str=_to_str,
        )
        self.missing: dict[str, None] = {}

    def fetch_string(self, context: ContextStack, name: str) -> str:
        try:
            value = context.get(name)
        except KeyNotFoundError:
            self.missing.setdefault(name)
            return ""
        if callable(value):
            return self._render_value(value(), context)
        return value if isinstance(value, str) else _to_str(value)

    def render(
        self, template: str, context_stack: ContextStack, delimiters: Sequence[str] | None = None
    ) -> str:
        key = (delimiters[0], delimiters[1]) if delimiters else None
        return _parse(template, key).render(self, context_stack)


def render_messages(
    messages: Sequence[Mapping[str, Any]],
    variables: Mapping[str, Any],
    partials: Mapping[str, str],
) -> tuple[list[dict[str, Any]], list[str]]:
    """Render every message's ``content``; return the messages and the missing variable names.

    The messages must have been checked by :func:`parse` (every saved version is).
    """
    engine = _Engine(partials)
    stack = ContextStack(variables)
    rendered = []
    for message in messages:
        out = dict(message)  # every value is text (see validation.MESSAGE_KEYS)
        out["content"] = _parse(message["content"]).render(engine, stack)
        rendered.append(out)
    return rendered, list(engine.missing)
