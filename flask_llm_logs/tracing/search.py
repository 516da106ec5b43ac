"""The words a span is found by, and the query that finds them.

PostgreSQL's own tokenizer (``to_tsvector``) costs about 60 ns a byte: with
2 KB of input and output per span that is 120 µs of database CPU each, more
than storing the row, and it capped ingest on a 2-core machine at about
8,500 spans a second. Splitting on punctuation and white space on the
writer's thread, which already holds each span's JSON text, costs about
3.5 µs in C (``_speedups.c``, built where a compiler is found) and 17 µs in
Python (where it is not). The writer stores the distinct words
as a stripped ``tsvector`` (no positions) under a GIN index; the UI turns a
search box's text into a ``tsquery`` with the same :func:`words`, so
documents and queries are cut into words the same way by construction.
SQLite stores the same literal as text and the UI matches each word with
``LIKE '%''word''%'``: one search, with the same words, on both databases.

Words are lower-cased and separated by white space and :data:`SEPARATORS`
(``gpt-4.1-mini`` is ``gpt``, ``4``, ``1``, ``mini``; searching
``gpt-4.1-mini`` looks for all four). Text without separators, such as a
CJK sentence, is one word.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from typing import AnyStr

from . import speedups

#: Besides white space, these separate words: ASCII punctuation (quotes and
#: backslashes among them, which lets a word go into a ``tsvector`` literal
#: without escaping), NUL, and the common Unicode quotes, dashes, bullets and
#: CJK punctuation. Any other character belongs to a word (``25°c``).
SEPARATORS = (
    string.punctuation
    + "\x00\u00ab\u00bb\u2013\u2014\u2018\u2019\u201c\u201d\u2022\u2026"
    + "\u3001\u3002\u300c\u300d\u300e\u300f\u3010\u3011"
    + "\uff01\uff08\uff09\uff0c\uff1a\uff1b\uff1f"
)
_SEPARATORS = str.maketrans(dict.fromkeys(SEPARATORS, " "))
#: A JSON escape whole: ``\n`` or ``\\`` separates words (``\\theta`` is the word
#: ``theta``), ``\u00fc`` is its letter (JSON written with ``ensure_ascii``).
_JSON_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|.)")
#: Longer runs (base64, a CJK sentence) are dropped: PostgreSQL refuses a
#: lexeme over 2,047 bytes, and 511 characters are at most 2,044.
MAX_WORD_LENGTH = 511
#: Only the start of a huge input or output is cut into words: one C call
#: over a string holds the interpreter lock, and the host's threads wait.
MAX_TEXT_LENGTH = 1024 * 1024
#: Characters cut into words per step, so other threads may run in between.
WORDS_CHUNK = 64 * 1024
#: PostgreSQL refuses a ``tsvector`` of 1 MB; a span's words stop here (UTF-8).
MAX_DOCUMENT_BYTES = 512 * 1024


def words(text: str) -> set[str]:
    """The distinct words of ``text``."""
    found = set(text.lower().translate(_SEPARATORS).split())
    if found and max(map(len, found)) > MAX_WORD_LENGTH:
        found = {word for word in found if len(word) <= MAX_WORD_LENGTH}
    return found


#: :func:`words` for ASCII text as one byte table: upper case to lower case,
#: separators and the white space ``str.split`` knows beyond ``bytes.split``'s
#: (``\x1c`` to ``\x1f``) to a space.
_ASCII_WORDS = bytes(
    32 if chr(byte) in SEPARATORS or chr(byte).isspace() else ord(chr(byte).lower())
    for byte in range(128)
) + bytes(range(128, 256))
#: In JSON, every escape but ``\uXXXX`` stands for a separator.
_ASCII_ESCAPE = re.compile(rb"\\.")


def _ascii_words(text: bytes) -> set[bytes]:
    """:func:`words` of ASCII text: one pass in C to lower and separate, no dict look-ups.

    Three times cheaper than ``str.lower``, ``str.translate`` and
    ``str.split``; the search words were a third of the writer's CPU time.
    """
    found = set(text.translate(_ASCII_WORDS).split())
    if found and max(map(len, found)) > MAX_WORD_LENGTH:
        found = {word for word in found if len(word) <= MAX_WORD_LENGTH}
    return found


def _unescape(escape: re.Match[str]) -> str:
    code = escape.group(1)
    if code is None:
        return " "
    letter = chr(int(code, 16))
    # A control character, or half of a surrogate pair (which cannot be
    # stored), separates words.
    return " " if letter < " " or "\ud800" <= letter <= "\udfff" else letter


def document(*texts: str | None) -> str | None:
    """The ``tsvector`` literal of the words of ``texts`` (JSON text), or ``None``.

    Each text is cut on its own, so a huge input leaves the output its words.
    ASCII text without ``\\u`` escapes, the usual JSON of a span, is cut as bytes.
    """
    cut = tuple(text[:MAX_TEXT_LENGTH] for text in texts if text)
    literal: str | None
    # ``isascii`` is a flag of the string; ``\\u`` is looked for only in text
    # with a backslash (one ``memchr``): scanning every span's text for the
    # pair cost a tenth of cutting its words.
    if all(text.isascii() and ("\\" not in text or "\\u" not in text) for text in cut):
        literal = ascii_literal(cut) or None
    else:
        text = " ".join(cut)
        if "\\" in text:
            text = _JSON_ESCAPE.sub(_unescape, text)
        found = _words_of(text, " ", words)
        literal = "'" + "' '".join(found) + "'" if found else None
    if literal is not None and len(literal) * 4 > MAX_DOCUMENT_BYTES:  # may be too long
        encoded = literal.encode()
        if len(encoded) > MAX_DOCUMENT_BYTES:
            cut_at = encoded.rfind(b"' '", 0, MAX_DOCUMENT_BYTES)
            literal = encoded[: cut_at + 1].decode()
    return literal


def python_ascii_literal(texts: tuple[str, ...]) -> str:
    """The ``tsvector`` literal of the words of ASCII JSON ``texts``; empty if none.

    What ``_speedups.ascii_literal`` does in C, for where it was not built
    (and to check it against): the texts are cut as bytes, a JSON escape
    other than ``\\u`` is a separator, the rest is cut by :func:`_ascii_words`.
    """
    data = " ".join(texts).encode("ascii")
    if b"\\" in data:
        data = _ASCII_ESCAPE.sub(b" ", data)
    found = _words_of(data, b" ", _ascii_words)
    return (b"'" + b"' '".join(found) + b"'").decode() if found else ""


def ascii_literal(texts: tuple[str, ...]) -> str:
    """:func:`python_ascii_literal`, in C where it was built (``speedups``): five
    times faster, the words in order of first occurrence."""
    if speedups.ascii_literal is None:  # pragma: no cover - built without a C compiler
        return python_ascii_literal(texts)
    return speedups.ascii_literal(texts, _ASCII_WORDS, MAX_WORD_LENGTH)


def _words_of(text: AnyStr, space: AnyStr, words: Callable[[AnyStr], set[AnyStr]]) -> set[AnyStr]:
    """``words`` of ``text``, in pieces ending at a ``space`` (never inside a word).

    Splitting a megabyte at once held the interpreter lock for 20 ms.
    """
    if len(text) <= WORDS_CHUNK:  # the usual span: one piece
        return words(text)
    found: set[AnyStr] = set()
    start = 0
    while start < len(text):
        end = text.find(space, start + WORDS_CHUNK)
        end = len(text) if end < 0 else end
        found |= words(text[start:end])
        start = end
    return found


def like_patterns(text: str) -> list[str]:
    """``LIKE`` patterns that together match the stored literal (as text, on
    SQLite) of documents holding every word of ``text``. Quotes, ``%`` and
    ``_`` separate words, so a word needs no escaping."""
    return [f"%'{word}'%" for word in sorted(words(text))]


def query(text: str) -> str | None:
    """The ``tsquery`` literal that matches documents holding every word of
    ``text``; ``None`` when it has none (only punctuation, or only runs too
    long to be words)."""
    found = sorted(words(text))
    return " & ".join(f"'{word}'" for word in found) or None
