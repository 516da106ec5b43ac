"""The words a span is found by, and the query that finds them.

PostgreSQL's own tokenizer (``to_tsvector``) costs about 60 ns a byte: with
2 KB of input and output per span that is 120 µs of database CPU each, more
than storing the row, and it capped ingest on a 2-core machine at about
8,500 spans a second. Splitting on punctuation and white space in Python
costs about a seventh of that (17 µs), on the writer's thread, which already holds
each span's JSON text. The writer stores the distinct words as a stripped
``tsvector`` (no positions) under a GIN index; the UI turns a search box's
text into a ``tsquery`` with the same function, so documents and queries
are cut into words the same way by construction.

A word is a run of letters and digits (``_`` and every ASCII punctuation
mark separate words, so ``gpt-4.1-mini`` is ``gpt``, ``4``, ``1``,
``mini``), lower-cased. Searching ``gpt-4.1-mini`` looks for all four.
"""

from __future__ import annotations

import string

#: ASCII punctuation, common Unicode quotes and dashes, and white space
#: become spaces. Quotes and backslashes are among them, which is what lets
#: a word go into a ``tsvector`` literal without escaping.
_SEPARATORS = str.maketrans(
    dict.fromkeys(
        string.punctuation + "\u201c\u201d\u2018\u2019\u00ab\u00bb\u2013\u2014\u2026", " "
    )
)
#: JSON escapes glue the letter after the backslash to the next word.
_JSON_ESCAPES = ("\\n", "\\t", "\\r")
#: Longer runs (base64, hashes) are not words anyone types; PostgreSQL also
#: refuses a lexeme over 2,047 bytes.
MAX_WORD_LENGTH = 255
#: Only the start of a huge span is cut into words: one C call over a string
#: holds the interpreter lock, and the host's threads wait for it.
MAX_TEXT_LENGTH = 1024 * 1024
#: A ``tsvector`` must stay under 1 MB; the words of a huge span are cut here.
MAX_DOCUMENT_LENGTH = 512 * 1024


def words(text: str) -> set[str]:
    """The distinct words of ``text``."""
    if "\\" in text:
        for escape in _JSON_ESCAPES:
            text = text.replace(escape, " ")
    found = set(text.lower().translate(_SEPARATORS).split())
    if found and max(map(len, found)) > MAX_WORD_LENGTH:
        found = {word for word in found if len(word) <= MAX_WORD_LENGTH}
    return found


def document(*texts: str | None) -> str | None:
    """The ``tsvector`` literal of the words of ``texts`` (JSON text), or ``None``."""
    found = words(" ".join(text for text in texts if text)[:MAX_TEXT_LENGTH])
    if not found:
        return None
    literal = "'" + "' '".join(found) + "'"
    if len(literal) > MAX_DOCUMENT_LENGTH:
        cut = literal.rfind("' '", 0, MAX_DOCUMENT_LENGTH)
        literal = literal[: cut + 1]
    return literal


def query(text: str) -> str | None:
    """The ``tsquery`` literal that matches documents holding every word of ``text``."""
    found = sorted(words(text))
    return " & ".join(f"'{word}'" for word in found) or None
