"""Creating and pickling imagegraph's value objects in bulk (caches, snapshots, process pools)."""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import gc
import operator
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from typing import Any

__all__ = ["checker", "conforms", "paused_gc", "positional_reduce"]


def positional_reduce(value: Any) -> tuple[object, ...]:
    """``__reduce__`` that rebuilds a slotted dataclass from its fields, in order.

    A slotted dataclass otherwise unpickles through a field-by-field
    ``__setstate__`` written in Python, several times slower; a fleet's
    cache holds hundreds of thousands of them. The fields are read with one
    ``attrgetter`` per class, at C speed.
    """
    cls = type(value)
    getter = _GETTERS.get(cls)
    if getter is None:
        getter = _GETTERS[cls] = _fields_of(cls)
    return (cls, getter(value))


# One field reader per slotted class: a memo of pure functions, safe to share.
_GETTERS: dict[type, Callable[[Any], tuple[object, ...]]] = {}


def _fields_of(cls: type) -> Callable[[Any], tuple[object, ...]]:
    names: tuple[str, ...] = tuple(getattr(cls, "__slots__", ()))
    if len(names) == 1:  # attrgetter of one name returns the value, not a tuple
        return lambda value: (getattr(value, names[0]),)
    getter: Callable[[Any], tuple[object, ...]] = operator.attrgetter(*names)
    return getter


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a scan creates its objects.

    A scan of a large fleet creates millions of objects and frees almost none
    of them, so every collection the allocations trigger is wasted work: on a
    137,000-image fleet they are 40% of a warm scan. Reference counting still
    frees what is dropped; the collector runs again (and was running before)
    when the block ends.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


Check = Callable[[Any], bool]
# A check is compiled once per type, as one of: a frozenset of the exact
# types a value may have (a set lookup on type(value): most fields are a
# str, an int or None), or a function.
_Compiled = frozenset[type] | Check


def conforms(value: object, hint: Any) -> bool:
    """Whether *value* is what the type *hint* says, all the way down.

    For what a cache gives back: an unpickled dataclass was built from
    whatever its fields held, with no type checked. Understands the types
    imagegraph's value classes are annotated with: builtins (exactly: a
    ``bool`` is no ``int``), ``None``, unions, ``tuple[X, ...]`` and fixed
    tuples, ``dict``/``Mapping`` (a plain ``dict``), ``Literal``, enums,
    dataclasses (each field by its annotation), exceptions (by class) and
    ``object`` (anything).

    >>> from imagegraph.diagnostics import Diagnostic, Severity
    >>> conforms(Diagnostic("x", Severity.INFO, "m", None, 3), Diagnostic)
    True
    >>> conforms(Diagnostic("x", Severity.INFO, "m", None, "3"), Diagnostic)
    False
    >>> conforms((1, "a"), tuple[int, ...])
    False
    """
    return _function(_check(hint))(value)


def checker(hint: Any) -> Callable[[object], bool]:
    """:func:`conforms` for one *hint*, compiled once: for checking many values.

    >>> checker(tuple[int, str])((1, "a"))
    True
    """
    return _function(_check(hint))


_CHECKS: dict[Any, _Compiled] = {}
_EXACT = (str, int, bool, float, bytes, type(None))


def _check(hint: Any) -> _Compiled:
    found = _CHECKS.get(hint)
    if found is None:
        found = _CHECKS[hint] = _compile(hint)
    return found


def _function(check: _Compiled) -> Check:
    if isinstance(check, frozenset):
        allowed = check
        return lambda value: type(value) in allowed
    return check


def _compile(hint: Any) -> _Compiled:
    if hint is Any or hint is object:
        return lambda value: True
    if hint is None:
        return frozenset({type(None)})
    if hint in _EXACT or (isinstance(hint, type) and issubclass(hint, enum.Enum)):
        return frozenset({hint})
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union or origin is types.UnionType:
        options = [_check(arg) for arg in args]
        if all(isinstance(option, frozenset) for option in options):
            return frozenset().union(*options)  # type: ignore[arg-type]
        exact = frozenset().union(*(o for o in options if isinstance(o, frozenset)))
        functions = [option for option in options if not isinstance(option, frozenset)]
        return lambda value: type(value) in exact or any(f(value) for f in functions)
    if origin is typing.Literal:
        allowed = frozenset((type(arg), arg) for arg in args)
        return lambda value: (type(value), value) in allowed
    if origin is tuple:
        return _tuple(args)
    if origin is dict or origin is Mapping:
        keys, values = _check(args[0]), _check(args[1])
        if isinstance(keys, frozenset) and isinstance(values, frozenset):
            key_types, value_types = keys, values
            return lambda value: (
                type(value) is dict
                and set(map(type, value)) <= key_types
                and set(map(type, value.values())) <= value_types
            )
        key_check, value_check = _function(keys), _function(values)
        return lambda value: (
            type(value) is dict and all(key_check(k) and value_check(v) for k, v in value.items())
        )
    if origin is None and isinstance(hint, type):
        if issubclass(hint, BaseException):
            return lambda value: isinstance(value, hint)
        if dataclasses.is_dataclass(hint):
            return _dataclass(hint)
    raise TypeError(f"conforms() does not know {hint!r}")


def _tuple(args: tuple[Any, ...]) -> Check:
    if len(args) == 2 and args[1] is Ellipsis:
        item = _check(args[0])
        if isinstance(item, frozenset):
            allowed = item
            return lambda value: type(value) is tuple and set(map(type, value)) <= allowed
        each = item
        return lambda value: type(value) is tuple and all(map(each, value))
    if args == ((),):  # tuple[()]
        return lambda value: value == ()
    checks = [_function(_check(arg)) for arg in args]
    return lambda value: (
        type(value) is tuple
        and len(value) == len(checks)
        and all(check(x) for check, x in zip(checks, value, strict=True))
    )


def _dataclass(cls: type) -> Check:
    # Compiled on first use, since a class may refer to itself (an ONBUILD
    # trigger), into one expression over the fields (the names are the
    # class's own identifiers): a check per field costs a call, this does not.
    compiled: Check | None = None

    def check(value: Any) -> bool:
        nonlocal compiled
        if compiled is None:
            compiled = _compile_fields(cls)
        return compiled(value)

    return check


def _compile_fields(cls: type) -> Check:
    hints = typing.get_type_hints(cls)
    namespace: dict[str, Any] = {"cls": cls}
    terms = ["type(value) is cls"]
    for index, field in enumerate(dataclasses.fields(cls)):
        assert field.name.isidentifier()
        found = _check(hints[field.name])
        namespace[f"check{index}"] = found
        if isinstance(found, frozenset) and len(found) == 1:
            (namespace[f"check{index}"],) = found
            terms.append(f"type(value.{field.name}) is check{index}")
        elif isinstance(found, frozenset):
            terms.append(f"type(value.{field.name}) in check{index}")
        else:
            terms.append(f"check{index}(value.{field.name})")
    source = (
        "def check(value):\n"
        "    try:\n"
        f"        return {' and '.join(terms)}\n"
        "    except AttributeError:\n"  # a slot never set
        "        return False\n"
    )
    exec(compile(source, f"<conforms {cls.__qualname__}>", "exec"), namespace)
    compiled: Check = namespace["check"]
    return compiled
