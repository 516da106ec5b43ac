"""Read-only JSON values for the snapshots the prompt cache shares between threads.

A cached version is handed to every caller of :meth:`Prompt.load`; if one of
them appended to ``version.messages`` every later build would change. The
containers here are real ``list`` and ``dict`` subclasses, so they compare
equal to plain JSON, serialise with :mod:`json` and read like plain data, but
every mutating method raises :class:`TypeError`. Copies (``copy.copy``,
``copy.deepcopy``, :func:`thaw`) are plain, mutable values again.
"""

from __future__ import annotations

from typing import Any
from typing import NoReturn
from typing import overload


def _read_only(self: Any, *args: Any, **kwargs: Any) -> NoReturn:
    raise TypeError(
        f"{type(self).__name__} is a read-only snapshot; copy it first (copy.deepcopy or thaw())"
    )


class FrozenList(list[Any]):
    """A ``list`` whose contents cannot change."""

    __slots__ = ()
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _read_only
    append = extend = insert = pop = remove = clear = sort = reverse = _read_only

    def __copy__(self) -> list[Any]:
        return list(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        return thaw(self)

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenList, (list(self),))


class FrozenDict(dict[str, Any]):
    """A ``dict`` whose contents cannot change."""

    __slots__ = ()
    __setitem__ = __delitem__ = __ior__ = _read_only
    clear = pop = popitem = setdefault = update = _read_only

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return thaw(self)

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenDict, (dict(self),))


def freeze(value: Any) -> Any:
    """A read-only copy of a JSON value (lists and dicts at any depth)."""
    if isinstance(value, dict):
        return FrozenDict({key: freeze(item) for key, item in value.items()})
    if isinstance(value, (list, tuple)):
        return FrozenList(freeze(item) for item in value)
    return value


_SCALARS = frozenset({str, int, float, bool, type(None)})


@overload
def thaw(value: dict[str, Any]) -> dict[str, Any]: ...
@overload
def thaw(value: list[Any]) -> list[Any]: ...
@overload
def thaw(value: Any) -> Any: ...
def thaw(value: Any) -> Any:
    """A plain, mutable copy of a (possibly frozen) JSON value."""
    if type(value) in _SCALARS:
        return value
    if isinstance(value, dict):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, list):
        return [thaw(item) for item in value]
    return value
