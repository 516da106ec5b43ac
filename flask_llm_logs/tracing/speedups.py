"""The writer's helpers in C (``_speedups.c``), or ``None`` where they were not built.

``pip install`` builds them where it finds a C compiler, as MarkupSafe does
its own; without one the package installs all the same, and the writer
takes the Python it checks them against (``search.python_ascii_literal``,
``store.copy_text``): the same rows, a few times the CPU.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ascii_literal: Callable[[tuple[str, ...], bytes, int], str] | None
csv_rows: Callable[[list[dict[str, Any]], tuple[str, ...]], bytes] | None
try:
    from ._speedups import ascii_literal
    from ._speedups import csv_rows
except ImportError:  # pragma: no cover - installed without a C compiler
    ascii_literal = csv_rows = None
