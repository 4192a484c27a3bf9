"""Bake files (``docker-bake.hcl``, ``docker-bake.json``): one build per target and matrix combination.

The file is read as ``docker buildx bake`` reads it. A target's ``context``
(default ``.``) is relative to the bake file's directory and its
``dockerfile`` (default ``Dockerfile``) to the context; ``dockerfile-inline``
replaces the file. ``inherits`` merges the parents in order and the target
last, the way bake does: ``args`` and ``contexts`` key by key (a ``null``
arg sets nothing, so the Dockerfile's default or a parent's value stays),
the other attributes whole. Blocks with the same name merge too. A
``matrix`` forks a target into one build per combination, named by its
``name`` expression; without ``name`` only a one-combination matrix is
valid, as in bake, and the target's name then names the group of its
builds. ``group`` blocks may nest. Without *targets* the ``default`` group
is read, as ``docker buildx bake`` with no arguments builds it, or every
target when there is no such group; a target that another one takes as a
``target:<name>`` context is read as well, since bake builds it first. A
parent in ``inherits`` that the file does not define is an error, as bake
refuses it (a parent another bake file supplies, e.g.
docker/metadata-action's, is declared empty in this one).

Variables come from ``variable`` blocks (a ``default``, else ``""``) and
top-level attributes; the *variables* argument overrides the former, as
environment variables do for bake, and nothing is read from the
environment. Strings are templates: ``${...}`` interpolations and ``$${``
for a literal ``${``. Expressions evaluated are variable and matrix
references, attribute and index access, literals, lists and objects,
``for`` expressions, the operators ``== != && || ! < <= > >= + - * / %``,
the conditional ``c ? a : b``, the file's own ``function`` blocks
(``params``, ``variadic_params``, ``result``) and most functions of bake's
library (bake/hclparser/stdlib.go): ``format``, ``join``, ``split``,
``replace``, ``lower``, ``upper``, ``coalesce``, ``equal``, ``notequal``,
``and``, ``or``, ``not``, ``length``, ``substr``, ``trim*``, ``concat``,
``flatten``, ``distinct``, ``contains``, ``keys``, ``values``, ``lookup``,
``element``, ``index``, ``indexof``, ``range``, ``sort``, ``merge``,
``slice``, ``jsonencode``, hashes, arithmetic and comparisons, among
others; ``try`` and ``can`` take their first argument. What bake refuses
is a :class:`ConfigError` naming the file and the block's line: a name that
is no variable of the file (where bake evaluates it: every variable, used
or not, and every target, in the branches a conditional takes), a function
bake does not have (``tostring``), a call with the wrong number of
arguments, a function that calls itself. Anything else imagegraph does not
evaluate (the other library functions, values known only when bake runs
such as ``timestamp()``, splats, ``%{`` directives, references to blocks
other than ``target.<name>.<attribute>``) is reported as ``bake-unresolved``: a tag or platform that needs it
is left out, a build arg is not passed, and other values keep the text as
written; a target or group member that cannot be named without it is an
error, so no build leaves the plan unnoticed. Variables' ``validation``
blocks are checked, and ``target:`` contexts follow bake's rules (no loop,
no target linking itself, a multi-platform target's context target builds
all its platforms).

A variable is evaluated after every variable its value names, as bake
does, so a reference to another variable in a branch not taken still
counts for a cycle.

The file may come from a stranger's pull request, so what it can make
imagegraph do is bounded. A target whose ``matrix`` has more than
:data:`MAX_MATRIX` combinations (counted before any is made) is left out
with a ``matrix-too-large`` error. Evaluating the file may parse and
produce at most :data:`EXPANSION_BASE` plus :data:`EXPANSION_FACTOR` times
the file's size in text (a list counts its items, a value shared by
reference each time it is used): a target whose evaluation goes over is
left out with an ``expansion-too-large`` error, as is one whose values nest
more than :data:`MAX_NESTING` deep. An expression written more than
:data:`MAX_NESTING` deep is not evaluated (``bake-unresolved``), and a
value in the file nested deeper is a :class:`ConfigError`. Errors make the
command line exit 1, so no build disappears unnoticed.

python-hcl2 (v8) returns literals as written, quotes and escapes included,
and any other expression re-serialised as ``${...}`` text (a bare reference
like ``REGISTRY`` as plain text), which this module parses and evaluates.
"""

from __future__ import annotations

import base64
import bisect
import contextlib
import contextvars
import difflib
import fnmatch
import functools
import hashlib
import itertools
import json
import math
import posixpath
import re
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import hcl2

from imagegraph._files import MAX_DECLARATION_BYTES, read_text
from imagegraph._sources import _hcl
from imagegraph._sources.common import LineIndex, SourceResult, parse_tags, relative
from imagegraph._sources.common import brief as _brief
from imagegraph.diagnostics import Diagnostic, Severity
from imagegraph.inventory import ConfigError, ImageBuild

__all__ = ["EXPANSION_BASE", "EXPANSION_FACTOR", "MAX_MATRIX", "MAX_NESTING", "read_bake"]

MAX_MATRIX = 1024
"""The most matrix combinations one target may have: one build each."""
MAX_NESTING = 32
"""How deep expressions and values may nest (brackets, calls, lists in lists)."""
EXPANSION_BASE = 4 * 1024 * 1024
"""What evaluating any bake file may parse and produce, in characters..."""
EXPANSION_FACTOR = 16
"""... plus this many times the size of the file."""

_TARGET_KEYS = frozenset({
    "args", "context", "contexts", "dockerfile", "dockerfile-inline", "inherits", "matrix",
    "name", "platforms", "tags", "target",
})  # fmt: skip
# Attributes bake knows that change nothing imagegraph reads (bake/bake.go, type Target).
_IGNORED_KEYS = frozenset({
    "annotations", "attest", "cache-from", "cache-to", "call", "description", "entitlements",
    "extra-hosts", "labels", "network", "no-cache", "no-cache-filter", "output", "policy", "pull",
    "resources", "secret", "shm-size", "ssh", "ulimits",
})  # fmt: skip
_GROUP_KEYS = frozenset({"targets", "description"})
_BLOCK_TYPES = ("variable", "group", "target", "function")
# Set by docker buildx bake from the command line it runs with.
_BUILTINS = frozenset({"BAKE_CMD_CONTEXT", "BAKE_LOCAL_PLATFORM"})
_NAME = re.compile(r"[a-zA-Z0-9_-]+")
_REMOTE_PREFIXES = ("https://", "http://", "git://", "ssh://", "github.com/", "git@")
_HEREDOC = re.compile(r'"<<(-?)([A-Za-z][A-Za-z0-9._-]*)\r?\n(.*)"', re.DOTALL)
# A run of template text with nothing to interpret: no escape, interpolation or quote.
_PLAIN = re.compile(r'[^\\$%"]+')
_FOR = re.compile(r"for\b")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}
_BINARY_LEVELS = (
    ("||",),
    ("&&",),
    ("==", "!="),
    ("<=", ">=", "<", ">"),
    ("+", "-"),
    ("*", "/", "%"),
)
_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")


def read_bake(
    path: Path,
    root: Path,
    *,
    aliases: Mapping[str, str],
    targets: Sequence[str] | None = None,
    variables: Mapping[str, str] | None = None,
) -> SourceResult:
    """The builds of the bake file at *path*: of the *targets* (targets or groups) if given.

    *variables* override the file's ``variable`` defaults. Raises
    :class:`ConfigError` for a file that cannot be read or parsed, values of
    the wrong type, an unknown target, group, parent or ``target:`` context,
    an ``inherits`` cycle and a matrix without a ``name`` for its builds.
    """
    display = relative(root, path.parent, path.name) if path.is_relative_to(root) else str(path)
    if targets is not None and (
        not isinstance(targets, list | tuple) or not all(isinstance(t, str) for t in targets)
    ):
        raise ConfigError("'targets' must be a list of target or group names", path=display)
    try:
        text = read_text(path, encoding="utf-8-sig", limit=MAX_DECLARATION_BYTES)
    except OSError as err:
        raise ConfigError(f"cannot read: {err.strerror}", path=display) from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"not UTF-8 text: {err.reason}", path=display) from None
    token = _METER.set(_Meter(EXPANSION_BASE + EXPANSION_FACTOR * len(text)))
    try:
        if path.suffix.lower() == ".json" or text.lstrip().startswith("{"):
            file = _load_json(text, display)
        else:
            file = _load_hcl(text, display)
        reader = _Reader(file, path.parent, root, display, _overrides(variables, display))
        calls = _USER_FUNCTIONS.set(
            {name: functools.partial(reader.call, name) for name in file.functions}
        )
        references = _BLOCK_REFERENCES.set(reader.attribute)
        try:
            return reader.read(targets, aliases)
        finally:
            _BLOCK_REFERENCES.reset(references)
            _USER_FUNCTIONS.reset(calls)
    except _TooLarge as err:  # the reader reports it per target; this is the last stop
        raise ConfigError(err.reason, path=display) from None
    except RecursionError:  # the last stop too: what is read here is bounded before
        raise ConfigError("nested too deeply to read", path=display) from None
    finally:
        _METER.reset(token)


# --- bounds -----------------------------------------------------------------------------------


class _TooLarge(Exception):
    """Evaluation went over a bound; ``reason`` says which, for an ``expansion-too-large`` error."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Meter:
    """What evaluating one file has cost so far, in characters parsed and produced.

    Lists and objects weigh their items (strings their length), and their
    depth is kept: a value made of the same value twice, again and again,
    weighs what writing it out would cost, so it cannot grow unnoticed.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        # id -> (the container, kept alive so the id stays its own; weight; depth)
        self.known: dict[int, tuple[object, int, int]] = {}

    def charge(self, amount: int) -> None:
        self.used += amount
        if self.used > self.limit:
            self.used = self.limit + 1  # and stays spent: what follows fails at once
            raise _TooLarge(
                f"evaluating the file makes more than {self.limit:,} characters of text "
                "(variables or functions that repeat a value, again and again)"
            )

    def measure(self, value: object) -> tuple[int, int]:
        """The weight and depth of *value*; a container is measured once."""
        if isinstance(value, str):
            return len(value) + 1, 0
        if not isinstance(value, list | dict):
            return 1, 0
        found = self.known.get(id(value))
        if found is not None and found[0] is value:
            return found[1], found[2]
        # Items are measured before their container is made, so this walk is one level.
        items = [*value.keys(), *value.values()] if isinstance(value, dict) else value
        if self.used + len(items) > self.limit:  # a huge container fails before the walk
            self.charge(len(items))
        weight, depth = len(items), 0
        if set(map(type, items)) <= {str}:  # the common case, at C speed
            weight += len(items) + sum(map(len, items))
            self.known[id(value)] = (value, weight, 1)
            return weight, 1
        for item in items:
            if isinstance(item, list | dict):
                inner = self.known.get(id(item))
                item_weight, item_depth = (
                    (inner[1], inner[2])
                    if inner is not None and inner[0] is item
                    else self.walk(item)
                )
            else:
                item_weight, item_depth = self.measure(item)
            weight += item_weight
            depth = max(depth, item_depth + 1)
        if depth > MAX_NESTING:
            raise _TooLarge(f"a value is nested more than {MAX_NESTING} deep")
        self.known[id(value)] = (value, weight, depth)
        return weight, depth

    def made(self, value: object) -> object:
        """Charge a value just made (a string or a container); return it."""
        if isinstance(value, str):
            self.charge(len(value))
        elif isinstance(value, list | dict):
            self.charge(self.measure(value)[0])
        return value

    def walk(self, value: object) -> tuple[int, int]:
        """Weight and depth of a container the meter has not seen, without recursion."""
        return _walk(value, self.limit)


def _walk(value: object, limit: int) -> tuple[int, int]:
    weight, depth = 0, 0
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            stack.extend((part, level + 1) for pair in item.items() for part in pair)
        elif isinstance(item, list):
            stack.extend((part, level + 1) for part in item)
        else:
            weight += len(item) + 1 if isinstance(item, str) else 1
            continue
        weight += len(item)
        depth = max(depth, level)
        if depth > MAX_NESTING:
            raise _TooLarge(f"a value is nested more than {MAX_NESTING} deep")
        if weight > limit:
            raise _TooLarge(f"a value is larger than {limit:,} characters")
    return weight, depth


_METER: contextvars.ContextVar[_Meter | None] = contextvars.ContextVar("bake_meter", default=None)
# ``target.<name>.<attribute>``: the value of another target's attribute, while a file is read.
_BLOCK_REFERENCES: contextvars.ContextVar[Callable[[str, str], object] | None] = (
    contextvars.ContextVar("bake_block_references", default=None)
)
# The file's own ``function`` blocks, by name, while it is read.
_USER_FUNCTIONS: contextvars.ContextVar[Mapping[str, Callable[[list[object]], object]] | None] = (
    contextvars.ContextVar("bake_functions", default=None)
)


def _weight(value: object) -> int:
    meter = _METER.get()
    return 1 if meter is None else meter.measure(value)[0]


def _made(value: object) -> object:
    """*value*, charged to the file being read."""
    meter = _METER.get()
    return value if meter is None else meter.made(value)


def _afford(amount: int) -> None:
    """Refuse to make a value of *amount* characters (or items) if the file cannot pay for it."""
    meter = _METER.get()
    if meter is not None and meter.used + amount > meter.limit:
        meter.charge(amount)  # raises


def _charge(amount: int) -> None:
    meter = _METER.get()
    if meter is not None:
        meter.charge(amount)


# --- the file as parsed -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Expr:
    """A value still to evaluate, as written: a string template or an expression."""

    text: str
    kind: Literal["template", "expression"]
    escapes: bool = False
    """Whether backslash escapes are still in the text (a quoted HCL string)."""


@dataclass(frozen=True, slots=True)
class _Object:
    """An object (map) literal; its keys are templates."""

    items: tuple[tuple[_Expr, object], ...]


@dataclass
class _Block:
    label: str
    body: dict[str, object]
    line: int | None
    nested: list[str] = field(default_factory=list)
    """Names of blocks written inside this one."""
    validations: list[dict[str, object]] = field(default_factory=list)
    """The bodies of a variable's ``validation`` blocks."""


@dataclass
class _File:
    display: str
    variables: dict[str, _Block] = field(default_factory=dict)
    attributes: dict[str, object] = field(default_factory=dict)
    groups: list[_Block] = field(default_factory=list)
    targets: list[_Block] = field(default_factory=list)
    functions: dict[str, _Block] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)


def _load_hcl(text: str, display: str) -> _File:
    data = _hcl.loads(text)  # hcl2's answer, read fast, or None: then hcl2 reads it
    if data is None:
        try:
            data = hcl2.loads(
                text, serialization_options=hcl2.SerializationOptions(with_comments=False)
            )
        except RecursionError:
            raise ConfigError(_TOO_DEEP_TO_PARSE, path=display) from None
        except Exception as err:  # lark's parse errors, and whatever else hcl2 raises
            raise ConfigError(
                f"not valid HCL: {_parse_error(err)}", path=display, line=_error_line(err)
            ) from None
    if not isinstance(data, dict):
        raise ConfigError("not a bake file", path=display)
    file = _File(display)
    places = _HclPlaces(text)
    seen: dict[str, int] = {}
    for key, value in data.items():
        if _is_meta(key):
            continue
        if key in _BLOCK_TYPES and _is_block_list(value):
            assert isinstance(value, list)
            for entry in value:
                label, body = _hcl_label(entry, key, display)
                occurrence = seen.get(f"{key} {label}", 0)
                seen[f"{key} {label}"] = occurrence + 1
                block = _Block(label, {}, places.line(key, label, occurrence))
                for name, raw in body.items():
                    if _is_meta(name):
                        continue
                    if _is_block_list(raw):
                        block.nested.append(name)
                        if key == "variable" and name == "validation":
                            assert isinstance(raw, list)
                            block.validations += [
                                {
                                    k: _hcl_value(v, display, block.line)
                                    for k, v in entry.items()
                                    if not _is_meta(k)
                                }
                                for entry in raw
                                if "__is_block__" in entry
                            ]
                    else:
                        block.body[name] = _hcl_value(raw, display, block.line)
                _add_block(file, key, block)
        elif _is_block_list(value):
            file.diagnostics.append(
                Diagnostic(
                    "bake-unknown-attribute", Severity.WARNING,
                    f"bake has no {_brief(key)} blocks; they are ignored", display,
                )
            )  # fmt: skip
        else:
            file.attributes[key] = _hcl_value(value, display, None)
    return file


def _load_json(text: str, display: str) -> _File:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"not valid JSON: {err.msg}", path=display, line=err.lineno) from None
    except ValueError:  # Python's limit on the digits of an integer
        raise ConfigError(_HUGE_NUMBER, path=display) from None
    except RecursionError:
        raise ConfigError(_TOO_DEEP_TO_PARSE, path=display) from None
    if not isinstance(data, dict):
        raise ConfigError("a bake file must be a JSON object", path=display, line=1)
    file = _File(display)
    places = _JsonPlaces(text)
    for key, value in data.items():
        if key == "//":
            continue
        if key not in _BLOCK_TYPES:
            file.attributes[key] = _json_value(value, display, None)
            continue
        entries = value if isinstance(value, list) else [value]
        seen: dict[str, int] = {}
        for entry in entries:
            if not isinstance(entry, dict):
                raise ConfigError(f"{_brief(key)} must be an object of named blocks", path=display)
            for label, body in entry.items():
                if not isinstance(body, dict):
                    raise ConfigError(f"{key} {_brief(label)} must be an object", path=display)
                occurrence = seen.get(label, 0)
                seen[label] = occurrence + 1
                line = places.line(key, label, occurrence)
                block = _Block(
                    label,
                    {k: _json_value(v, display, line) for k, v in body.items() if k != "//"},
                    line,
                )
                _add_block(file, key, block)
    return file


def _add_block(file: _File, kind: str, block: _Block) -> None:
    if kind == "variable":
        file.variables[block.label] = block
    elif kind == "group":
        file.groups.append(block)
    elif kind == "target":
        file.targets.append(block)
    elif kind == "function":
        file.functions[block.label] = block


def _is_meta(key: object) -> bool:
    return isinstance(key, str) and key.startswith("__") and key.endswith("__")


def _is_block_list(value: object) -> bool:
    """Whether *value* is how hcl2 writes blocks: a list of ``{label: {..., "__is_block__": true}}``."""
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, dict) and _has_block_marker(v) for v in value)
    )


def _has_block_marker(entry: dict[object, object]) -> bool:
    # A block with labels is {label: {label: {..., "__is_block__": true}}}: follow the labels.
    while "__is_block__" not in entry:
        if len(entry) != 1:
            return False
        (inner,) = entry.values()
        if not isinstance(inner, dict):
            return False
        entry = inner
    return True


def _hcl_label(entry: object, kind: str, display: str) -> tuple[str, dict[str, object]]:
    assert isinstance(entry, dict)
    if "__is_block__" in entry:
        raise ConfigError(f'a {kind} block needs a name: {kind} "name" {{ ... }}', path=display)
    ((raw_label, body),) = entry.items()
    label = _unquote(raw_label)
    if not isinstance(body, dict) or "__is_block__" not in body:
        raise ConfigError(
            f"{kind} {_brief(label)} has more than one label; it takes one", path=display
        )
    return label, body


def _unquote(text: str) -> str:
    """A label or key as hcl2 returns it, without the quotes it keeps.

    >>> _unquote('"app"'), _unquote("app")
    ('app', 'app')
    """
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return _unescape(text[1:-1])
    return text


def _unescape(text: str) -> str:
    out: list[str] = []
    pos = 0
    while pos < len(text):
        char = text[pos]
        if char == "\\" and pos + 1 < len(text):
            decoded, pos = _escape(text, pos)
            out.append(decoded)
            continue
        out.append(char)
        pos += 1
    return "".join(out)


def _escape(text: str, pos: int) -> tuple[str, int]:
    """The character the backslash escape at *pos* stands for, and the position after it."""
    kind = text[pos + 1]
    if kind in _ESCAPES:
        return _ESCAPES[kind], pos + 2
    width = {"u": 4, "U": 8}.get(kind)
    if width is not None:
        digits = text[pos + 2 : pos + 2 + width]
        if len(digits) == width and all(c in "0123456789abcdefABCDEF" for c in digits):
            code = int(digits, 16)
            if code <= 0x10FFFF and not 0xD800 <= code < 0xE000:
                return chr(code), pos + 2 + width
    return text[pos : pos + 2], pos + 2


def _hcl_value(raw: object, display: str, line: int | None, depth: int = 0) -> object:
    if isinstance(raw, str):
        return _hcl_string(raw)
    if isinstance(raw, list | dict) and depth >= MAX_NESTING:
        raise _too_deep(display, line)
    if isinstance(raw, list):
        return [_hcl_value(item, display, line, depth + 1) for item in raw]
    if isinstance(raw, dict):
        return _Object(
            tuple(
                (_hcl_key(str(key)), _hcl_value(value, display, line, depth + 1))
                for key, value in raw.items()
                if not _is_meta(key)
            )
        )
    if raw is None or isinstance(raw, bool | int | float):
        return raw
    raise ConfigError(f"cannot read the value {_brief(raw)}", path=display, line=line)


_TOO_DEEP_TO_PARSE = "nested too deeply to read (brackets, calls or operators in one another)"


def _too_deep(display: str, line: int | None) -> ConfigError:
    return ConfigError(
        f"a value is nested more than {MAX_NESTING} deep (lists or objects in one another)",
        path=display,
        line=line,
    )


def _hcl_string(text: str) -> _Expr:
    """An hcl2 string as what it stands for: a quoted template, a heredoc or an expression.

    >>> _hcl_string('"ghcr.io/acme/app:1.0"')
    _Expr(text='ghcr.io/acme/app:1.0', kind='template', escapes=True)
    >>> _hcl_string("REGISTRY")
    _Expr(text='REGISTRY', kind='expression', escapes=False)
    >>> _hcl_string('"<<-EOT\\n  FROM alpine\\n  EOT"').text
    'FROM alpine\\n'
    """
    if len(text) >= 2 and text[0] == text[-1] == '"':
        heredoc = _HEREDOC.fullmatch(text)
        if heredoc is not None:
            return _Expr(_heredoc(heredoc), "template")
        return _Expr(text[1:-1], "template", escapes=True)
    if text.startswith("${"):
        return _Expr(text, "template")
    return _Expr(text, "expression")


def _heredoc(match: re.Match[str]) -> str:
    lines = match.group(3).split("\n")
    if lines and lines[-1].strip() == match.group(2):
        lines.pop()
    lines = [line.removesuffix("\r") for line in lines]
    if match.group(1):
        indents = [len(line) - len(line.lstrip(" \t")) for line in lines if line.strip()]
        cut = min(indents, default=0)
        lines = [line[cut:] for line in lines]
    return "".join(line + "\n" for line in lines)


def _hcl_key(key: str) -> _Expr:
    if len(key) >= 2 and key[0] == key[-1] == '"':
        return _Expr(key[1:-1], "template", escapes=True)
    return _Expr(key, "template")


def _json_value(raw: object, display: str, line: int | None, depth: int = 0) -> object:
    if isinstance(raw, str):
        return _Expr(raw, "template")
    if isinstance(raw, list | dict) and depth >= MAX_NESTING:
        raise _too_deep(display, line)
    if isinstance(raw, list):
        return [_json_value(item, display, line, depth + 1) for item in raw]
    if isinstance(raw, dict):
        return _Object(
            tuple(
                (_Expr(k, "template"), _json_value(v, display, line, depth + 1))
                for k, v in raw.items()
                if k != "//"
            )
        )
    return raw


class _HclPlaces:
    """Where each ``kind "label" {`` block header of an HCL bake file starts: found
    in one pass over the text and looked up per block (a search of the whole
    text per block was quadratic in the number of targets)."""

    _HEADER = re.compile(
        r'^[ \t]*(variable|group|target|function)[ \t]+(?:"([^"\n]*)"|([^\s"{]+))[ \t]*\{',
        re.MULTILINE,
    )

    def __init__(self, text: str) -> None:
        self._lines = LineIndex(text)
        self._starts: dict[tuple[str, str], list[int]] = {}
        for found in self._HEADER.finditer(text):
            label = found.group(2) if found.group(2) is not None else found.group(3)
            self._starts.setdefault((found.group(1), label), []).append(found.start())

    def line(self, kind: str, label: str, occurrence: int) -> int | None:
        """The line of the *occurrence*-th (from 0) ``kind "label"`` block, if it is found."""
        starts = self._starts.get((kind, label), ())
        return self._lines.line(starts[occurrence]) if occurrence < len(starts) else None


class _JsonPlaces:
    """Where each ``"label": {`` of a JSON bake file starts, after the first
    ``"kind":`` key: one pass over the text, a bisection per block."""

    _KEY = re.compile(r'"((?:[^"\\]|\\.)*)"\s*:\s*(\{)?')

    def __init__(self, text: str) -> None:
        self._lines = LineIndex(text)
        self._sections: dict[str, int] = {}
        self._objects: dict[str, list[int]] = {}
        for found in self._KEY.finditer(text):
            key = found.group(1)
            self._sections.setdefault(key, found.end())
            if found.group(2) is not None:
                self._objects.setdefault(key, []).append(found.start())

    def line(self, kind: str, label: str, occurrence: int) -> int | None:
        """The line of the *occurrence*-th (from 0) object keyed *label* after ``"kind":``."""
        section = self._sections.get(kind)
        if section is None:
            return None
        starts = self._objects.get(label, [])
        first = bisect.bisect_left(starts, section)
        at = first + occurrence
        return self._lines.line(starts[at]) if at < len(starts) else None


def _error_line(err: Exception) -> int | None:
    line = getattr(err, "line", None)
    return line if isinstance(line, int) and line > 0 else None


_HUGE_NUMBER = "a number has more digits than imagegraph reads (4,300)"


def _parse_error(err: Exception) -> str:
    if isinstance(err, ValueError) and "integer string conversion" in str(err):
        return _HUGE_NUMBER
    token = getattr(err, "token", None)
    char = getattr(err, "char", None)
    column = getattr(err, "column", None)
    at = f" at column {column}" if isinstance(column, int) and column > 0 else ""
    if token is not None:
        shown = str(token)
        if getattr(token, "type", None) == "$END" or not shown:
            return "unexpected end of file"
        shown = shown.splitlines()[0] if shown.strip() else shown
        return f"unexpected {shown[:40]!r}{at}"
    if isinstance(char, str):
        return f"unexpected character {char!r}{at}"
    first = str(err).strip().splitlines()
    return first[0] if first else type(err).__name__


def _overrides(variables: Mapping[str, str] | None, display: str) -> dict[str, str]:
    if variables is None:
        return {}
    if not isinstance(variables, Mapping):
        raise ConfigError("'variables' must be a table of names and values", path=display)
    values: dict[str, str] = {}
    for name, value in variables.items():
        if isinstance(value, bool):
            values[name] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            values[name] = str(value)
        else:
            raise ConfigError(
                f"variable {name!r} must be given a string, not {value!r}", path=display
            )
    return values


# --- expressions ------------------------------------------------------------------------------


class _Unresolved(Exception):
    """An expression imagegraph does not evaluate; ``reason`` says which part."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Refused(Exception):
    """An expression docker buildx bake refuses (a function it does not have, a call with the
    wrong number of arguments): the reader turns it into a :class:`ConfigError`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Invalid(_Refused):
    """A value that is not there (a missing map element, an index out of range): refused,
    unless ``try()`` or ``can()`` catch it, as they do in bake."""


@dataclass(frozen=True, slots=True)
class _Literal:
    value: object


@dataclass(frozen=True, slots=True)
class _Var:
    name: str


@dataclass(frozen=True, slots=True)
class _Call:
    name: str
    args: tuple[_Node, ...]


@dataclass(frozen=True, slots=True)
class _Unary:
    op: str
    operand: _Node


@dataclass(frozen=True, slots=True)
class _Binary:
    op: str
    left: _Node
    right: _Node


@dataclass(frozen=True, slots=True)
class _Cond:
    condition: _Node
    then: _Node
    otherwise: _Node


@dataclass(frozen=True, slots=True)
class _Get:
    base: _Node
    key: _Node


@dataclass(frozen=True, slots=True)
class _List:
    items: tuple[_Node, ...]


@dataclass(frozen=True, slots=True)
class _Map:
    items: tuple[tuple[_Node, _Node], ...]


@dataclass(frozen=True, slots=True)
class _For:
    """``[for k, v in c : value if cond]`` or ``{for k, v in c : key => value if cond}``."""

    key_name: str | None
    value_name: str
    collection: _Node
    key: _Node | None
    value: _Node
    condition: _Node | None


@dataclass(frozen=True, slots=True)
class _Failed:
    reason: str


@dataclass(frozen=True, slots=True)
class _Interpolation:
    node: _Node
    text: str
    """The ``${...}`` as written."""


@dataclass(frozen=True, slots=True)
class _Template:
    parts: tuple[str | _Interpolation, ...]


_Node = (
    _Literal | _Var | _Call | _Unary | _Binary | _Cond | _Get | _List | _Map | _For | _Failed
    | _Template
)  # fmt: skip
_Scope = Callable[[str], object]


class _Parser:
    """A recursive-descent parser for the HCL templates and expressions bake files use."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.depth = 0

    def template(self, *, escapes: bool, quoted: bool) -> _Template:
        parts: list[str | _Interpolation] = []
        literal: list[str] = []
        text = self.text
        while True:
            if self.pos >= len(text):
                if quoted:
                    raise _Unresolved("a string is not closed")
                break
            char = text[self.pos]
            if quoted and char == '"':
                self.pos += 1
                break
            plain = _PLAIN.match(text, self.pos)
            if plain is not None:
                literal.append(plain.group())
                self.pos = plain.end()
            elif escapes and char == "\\" and self.pos + 1 < len(text):
                decoded, self.pos = _escape(text, self.pos)
                literal.append(decoded)
            elif text.startswith(("$${", "%%{"), self.pos):
                literal.append(text[self.pos + 1 : self.pos + 3])
                self.pos += 3
            elif text.startswith("${", self.pos):
                if literal:
                    parts.append("".join(literal))
                    literal = []
                parts.append(self.interpolation())
            elif text.startswith("%{", self.pos):
                raise _Unresolved("template directives (%{ ... }) are not evaluated")
            else:
                literal.append(char)
                self.pos += 1
        if literal:
            parts.append("".join(literal))
        return _Template(tuple(parts))

    def interpolation(self) -> _Interpolation:
        start = self.pos
        self.pos += 2
        try:
            node: _Node = self.expression()
            self.space()
            self.expect("}")
        except _Unresolved as err:
            end = _skip_expression(self.text, start + 2)
            if end is None:
                raise
            node, self.pos = _Failed(err.reason), end
        return _Interpolation(node, self.text[start : self.pos])

    def whole(self) -> _Node:
        node = self.expression()
        self.space()
        if self.pos < len(self.text):
            raise _Unresolved(f"{_brief(self.text[self.pos :])} is not understood")
        return node

    def expression(self) -> _Node:
        self.depth += 1
        try:
            if self.depth > MAX_NESTING:
                raise _Unresolved(f"the expression is nested more than {MAX_NESTING} deep")
            condition = self.binary(0)
            if self.accept("?"):
                then = self.expression()
                self.expect(":")
                return _Cond(condition, then, self.expression())
            return condition
        finally:
            self.depth -= 1

    def binary(self, level: int) -> _Node:
        if level == len(_BINARY_LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while True:
            self.space()
            op = next((o for o in _BINARY_LEVELS[level] if self.text.startswith(o, self.pos)), None)
            if op is None or (op in "<>" and self.text.startswith(op * 2, self.pos)):
                return left
            self.pos += len(op)
            left = _Binary(op, left, self.binary(level + 1))

    def unary(self) -> _Node:
        ops: list[str] = []
        self.space()
        while self.text.startswith(("!", "-"), self.pos):
            ops.append(self.text[self.pos])
            self.pos += 1
            self.space()
        node = self.postfix(self.primary())
        for op in reversed(ops):
            node = _Unary(op, node)
        return node

    def postfix(self, node: _Node) -> _Node:
        while True:
            self.space()
            if self.accept("."):
                self.space()
                if self.text.startswith("*", self.pos):
                    raise _Unresolved("splat expressions (.*) are not evaluated")
                number = _NUMBER.match(self.text, self.pos)
                if number is not None:
                    self.pos = number.end()
                    node = _Get(node, _Literal(int(number.group())))
                    continue
                node = _Get(node, _Literal(self.identifier()))
            elif self.accept("["):
                self.space()
                if self.text.startswith("*", self.pos):
                    raise _Unresolved("splat expressions ([*]) are not evaluated")
                key = self.expression()
                self.expect("]")
                node = _Get(node, key)
            else:
                return node

    def primary(self) -> _Node:
        self.space()
        text, pos = self.text, self.pos
        if pos >= len(text):
            raise _Unresolved("an expression ends too early")
        char = text[pos]
        if char == '"':
            self.pos += 1
            return self.template(escapes=True, quoted=True)
        if char == "(":
            self.pos += 1
            node = self.expression()
            self.expect(")")
            return node
        if char == "[":
            return self.list()
        if char == "{":
            return self.object()
        number = _NUMBER.match(text, pos)
        if number is not None:
            self.pos = number.end()
            value = number.group()
            # Python refuses to read integers of thousands of digits: those are floats (inf).
            whole = value.isdigit() and len(value) <= _INT_DIGITS
            return _Literal(int(value) if whole else float(value))
        name = self.identifier()
        keywords: dict[str, object] = {"true": True, "false": False, "null": None}
        if name in keywords:
            return _Literal(keywords[name])
        self.space()
        if self.accept("("):
            return _Call(name, self.arguments())
        return _Var(name)

    def list(self) -> _List | _For:
        self.pos += 1
        self.space()
        if _FOR.match(self.text, self.pos):  # not a slice of the rest: lists may be many
            return self.for_expression("]")
        items: list[_Node] = []
        while not self.accept("]"):
            items.append(self.expression())
            if not self.accept(","):
                self.expect("]")
                break
        return _List(tuple(items))

    def object(self) -> _Map | _For:
        self.pos += 1
        self.space()
        if _FOR.match(self.text, self.pos):
            return self.for_expression("}")
        items: list[tuple[_Node, _Node]] = []
        while not self.accept("}"):
            key = self.expression()
            if isinstance(key, _Var):  # a bare name is the key itself, as in HCL
                key = _Literal(key.name)
            self.space()
            if not (self.accept("=") or self.accept(":")):
                self.expect("=")
            items.append((key, self.expression()))
            self.accept(",")
        return _Map(tuple(items))

    def for_expression(self, closing: str) -> _For:
        self.pos += 3
        self.space()
        first = self.identifier()
        second = None
        if self.accept(","):
            self.space()
            second = self.identifier()
        self.space()
        if self.identifier() != "in":
            raise _Unresolved("a 'for' expression needs 'in'")
        collection = self.expression()
        self.expect(":")
        key = None
        value = self.expression()
        if closing == "}":
            self.expect("=>")
            key, value = value, self.expression()
            self.space()
            if self.text.startswith("...", self.pos):
                raise _Unresolved("grouping results (...) is not evaluated")
        condition = None
        self.space()
        if self.text.startswith("if", self.pos) and not _IDENT.fullmatch(
            self.text[self.pos : self.pos + 3]
        ):
            self.pos += 2
            condition = self.expression()
        self.expect(closing)
        key_name, value_name = (first, second) if second is not None else (None, first)
        return _For(key_name, value_name, collection, key, value, condition)

    def arguments(self) -> tuple[_Node, ...]:
        args: list[_Node] = []
        while not self.accept(")"):
            args.append(self.expression())
            self.space()
            if self.text.startswith("...", self.pos):
                raise _Unresolved("expanding function arguments (...) is not evaluated")
            if not self.accept(","):
                self.expect(")")
                break
        return tuple(args)

    def identifier(self) -> str:
        match = _IDENT.match(self.text, self.pos)
        if match is None:
            shown = self.text[self.pos : self.pos + 10] or "the end"
            raise _Unresolved(f"{shown!r} is not understood")
        self.pos = match.end()
        return match.group()

    def space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t\r\n":
            self.pos += 1
        return None

    def accept(self, token: str) -> bool:
        self.space()
        if self.text.startswith(token, self.pos):
            self.pos += len(token)
            return True
        return False

    def expect(self, token: str) -> None:
        if not self.accept(token):
            got = self.text[self.pos : self.pos + 10] or "the end"
            raise _Unresolved(f"expected {token!r} and found {got!r}")


def _skip_expression(text: str, pos: int, nesting: int = 0) -> int | None:
    """The position after the ``}`` that closes the interpolation whose body starts at *pos*."""
    if nesting > MAX_NESTING:
        return None
    depth = 0
    while pos < len(text):
        char = text[pos]
        if char == '"':
            end = _skip_string(text, pos + 1, nesting + 1)
            if end is None:
                return None
            pos = end
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            if depth == 0:
                return pos + 1
            depth -= 1
        pos += 1
    return None


def _skip_string(text: str, pos: int, nesting: int) -> int | None:
    while pos < len(text):
        if text[pos] == "\\":
            pos += 2
        elif text[pos] == '"':
            return pos + 1
        elif text.startswith(("$${", "%%{"), pos):
            pos += 3
        elif text.startswith(("${", "%{"), pos):
            end = _skip_expression(text, pos + 2, nesting + 1)
            if end is None:
                return None
            pos = end
        else:
            pos += 1
    return None


def _parse(expr: _Expr, *, charge: bool = True) -> _Node:
    if charge:
        _charge(len(expr.text))
    parser = _Parser(expr.text)
    if expr.kind == "template":
        node: _Node = parser.template(escapes=expr.escapes, quoted=False)
    else:
        node = parser.whole()
    _check_depth(node)
    return node


_MAX_OPERATIONS = 2 * MAX_NESTING


def _check_depth(node: _Node) -> None:
    """Refuse an expression nested so deep that evaluating it would exhaust the stack
    (a chain ``a + b + c ...`` nests as deep as it is long)."""
    stack: list[tuple[_Node, int]] = [(node, 1)]
    while stack:
        current, depth = stack.pop()
        if depth > _MAX_OPERATIONS:
            raise _Unresolved(
                f"the expression nests more than {_MAX_OPERATIONS} operations in one another"
            )
        stack.extend((child, depth + 1) for child in _children(current))


def _children(node: _Node) -> tuple[_Node, ...]:
    match node:
        case _Call(_, args) | _List(args):
            return args
        case _Map(items):
            return tuple(part for item in items for part in item)
        case _For(_, _, collection, key, value, condition):
            return tuple(n for n in (collection, key, value, condition) if n is not None)
        case _Unary(_, operand):
            return (operand,)
        case _Binary(_, left, right):
            return (left, right)
        case _Cond(condition, then, otherwise):
            return (condition, then, otherwise)
        case _Get(base, key):
            return (base, key)
        case _Template(parts):
            return tuple(part.node for part in parts if isinstance(part, _Interpolation))
    return ()


def _evaluate(node: _Node, scope: _Scope, partial: list[str] | None = None) -> object:
    """The value of *node*; with *partial*, a template keeps what it cannot evaluate as written."""
    match node:
        case _Literal(value):
            return value
        case _Var(name):
            return scope(name)
        case _Template(parts):
            if len(parts) == 1 and isinstance(parts[0], _Interpolation):
                return _interpolate(parts[0], scope, partial, text=False)
            texts = [
                part
                if isinstance(part, str)
                else str(_interpolate(part, scope, partial, text=True))
                for part in parts
            ]
            _afford(sum(map(len, texts)))
            return _made("".join(texts))
        case _Failed(reason):
            raise _Unresolved(reason)
        case _List(items):
            return _made([_evaluate(item, scope) for item in items])
        case _Map(items):
            return _made({_text(_evaluate(k, scope)): _evaluate(v, scope) for k, v in items})
        case _For():
            return _made(_for(node, scope))
        case _Get(_Get(_Var("target"), _Literal(str() as label)), _Literal(str() as key)):
            refer = _BLOCK_REFERENCES.get()
            if refer is None:
                raise _Unresolved("references to other blocks (target.<name>...) are not evaluated")
            return refer(label, key)
        case _Get(base, key):
            return _get(_evaluate(base, scope), _evaluate(key, scope))
        case _Cond(condition, then, otherwise):
            chosen = then if _bool(_evaluate(condition, scope)) else otherwise
            return _evaluate(chosen, scope, partial)
        case _Unary("!", operand):
            return not _bool(_evaluate(operand, scope))
        case _Unary(_, operand):
            return -_number(_evaluate(operand, scope))
        case _Binary(op, left, right):
            return _binary(op, left, right, scope)
        case _Call("try" | "can" as name, args):
            # An argument that fails as it fails for buildx (a missing element) gives way to
            # the next; one imagegraph does not evaluate leaves the call unevaluated, as
            # imagegraph cannot tell whether it would fail.
            if not args or (name == "can" and len(args) != 1):
                raise _Refused(f"{name}() takes {'one argument' if name == 'can' else 'arguments'}")
            reasons: list[str] = []
            for arg in args:
                try:
                    value = _evaluate(arg, scope)
                except _Invalid as err:
                    reasons.append(err.reason)
                    continue
                except _Unresolved as err:
                    raise _Unresolved(f"{name}(): {err.reason}") from None
                return True if name == "can" else value
            if name == "can":
                return False
            raise _Refused(f"try() found no argument without an error: {'; '.join(reasons)}")
        case _Call(name, args):
            function = _FUNCTIONS.get(name)
            if function is None:
                user = _USER_FUNCTIONS.get() or {}
                if name in user:
                    return _made(user[name]([_evaluate(arg, scope) for arg in args]))
                if name in _BUILDX_FUNCTIONS:
                    raise _Unresolved(f"the function {name}() is not evaluated")
                raise _Refused(f"there is no function named {name}()")
            return _made(function([_evaluate(arg, scope) for arg in args]))
    raise AssertionError(node)  # pragma: no cover


def _for(node: _For, scope: _Scope) -> object:
    collection = _evaluate(node.collection, scope)
    if isinstance(collection, list):
        pairs: list[tuple[object, object]] = list(enumerate(collection))
    elif isinstance(collection, dict):
        pairs = sorted(collection.items())
    else:
        raise _Unresolved(f"'for' goes over a list or a map, not {_brief(collection)}")
    _afford(len(pairs))
    keys: list[str] = []
    values: list[object] = []
    for key, value in pairs:
        bound = {node.value_name: value}
        if node.key_name is not None:
            bound[node.key_name] = key

        def inner(name: str, bound: dict[str, object] = bound) -> object:
            return bound[name] if name in bound else scope(name)

        if node.condition is not None and not _bool(_evaluate(node.condition, inner)):
            continue
        if node.key is not None:
            keys.append(_text(_evaluate(node.key, inner)))
        values.append(_evaluate(node.value, inner))
    if node.key is None:
        return values
    if len(set(keys)) != len(keys):
        raise _Refused("a 'for' expression makes the same key twice")
    return dict(zip(keys, values, strict=True))


def _interpolate(
    part: _Interpolation, scope: _Scope, partial: list[str] | None, *, text: bool
) -> object:
    try:
        value = _evaluate(part.node, scope)
        if text and value is None:
            raise _Refused(f"{_brief(part.text)} is null, which cannot be written into a string")
        return _text(value) if text else value
    except _Unresolved as err:
        if partial is None:
            raise
        partial.append(err.reason)
        return part.text


def _binary(op: str, left_node: _Node, right_node: _Node, scope: _Scope) -> object:
    if op in ("&&", "||"):
        first = _bool(_evaluate(left_node, scope))
        if (op == "&&") != first:
            return first
        return _bool(_evaluate(right_node, scope))
    left, right = _evaluate(left_node, scope), _evaluate(right_node, scope)
    if op == "==":
        return _equal(left, right)
    if op == "!=":
        return not _equal(left, right)
    a, b = _number(left), _number(right)
    comparisons: dict[str, Callable[[float, float], object]] = {
        "<": lambda x, y: x < y,
        "<=": lambda x, y: x <= y,
        ">": lambda x, y: x > y,
        ">=": lambda x, y: x >= y,
        "+": lambda x, y: x + y,
        "-": lambda x, y: x - y,
        "*": lambda x, y: x * y,
    }
    if op in comparisons:
        return _bounded(comparisons[op](a, b))
    if b == 0:
        raise _Unresolved(f"{op} by zero")
    return _bounded(a / b if op == "/" else a % b)


_INT_DIGITS = 18
_CALL_COST = 256
"""What one call of a file's own function costs, in characters of the file's budget."""
_INT_BITS = 64


def _bounded(number: object) -> object:
    """*number*, if it is an integer of at most 64 bits (products of products grow fast)."""
    if isinstance(number, int) and number.bit_length() > _INT_BITS:
        raise _Unresolved(f"a number is larger than {_INT_BITS} bits")
    return number


def _get(base: object, key: object) -> object:
    if isinstance(base, dict) and isinstance(key, str):
        if key not in base:
            raise _Invalid(f"the map has no element {_brief(key)}")
        return base[key]
    if isinstance(base, list) and isinstance(key, int | float) and not isinstance(key, bool):
        if isinstance(key, float) and not math.isfinite(key):
            raise _Unresolved(f"index {key} is not a number of an item")
        index = int(key)
        if not 0 <= index < len(base):
            raise _Invalid(f"index {index} is out of range")
        return base[index]
    raise _Unresolved(f"cannot look up {_brief(key)} in {_brief(base)}")


def _equal(left: object, right: object) -> bool:
    if isinstance(left, list | dict) and isinstance(right, list | dict):
        meter = _METER.get()
        if meter is not None:  # comparing costs what the smaller one weighs
            meter.charge(min(meter.measure(left)[0], meter.measure(right)[0]))
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (left, right))
    return left == right if numbers or type(left) is type(right) else False


def _bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise _Unresolved(f"{_brief(value)} is not a bool")


def _number(value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _NUMBER.fullmatch(value.removeprefix("-")):
        return float(value)
    raise _Unresolved(f"{_brief(value)} is not a number")


def _text(value: object) -> str:
    """*value* as a template writes it: bools and numbers the way HCL prints them."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if value is None:
        raise _Unresolved("null cannot be written into a string")
    raise _Unresolved(f"a {type(value).__name__} cannot be written into a string")


def _strings(args: list[object]) -> list[str]:
    return [_text(arg) for arg in args]


def _arity(name: str, args: list[object], count: int) -> list[object]:
    if len(args) != count:
        raise _Refused(f"{name}() takes {count} arguments, not {len(args)}")
    return args


def _join(args: list[object]) -> str:
    if len(args) < 2 or not all(isinstance(a, list) for a in args[1:]):
        raise _Unresolved("join() takes a separator and lists")
    lists = [item for arg in args[1:] if isinstance(arg, list) for item in arg]
    separator, strings = _text(args[0]), _strings(lists)
    _afford(sum(map(len, strings)) + len(separator) * max(len(strings) - 1, 0))
    return separator.join(strings)


def _concat(args: list[object]) -> list[object]:
    if not all(isinstance(a, list) for a in args):
        raise _Unresolved("concat() takes lists")
    _afford(sum(len(a) for a in args if isinstance(a, list)))
    return [item for arg in args if isinstance(arg, list) for item in arg]


def _replace(args: list[object]) -> str:
    text, old, new = (_text(a) for a in _arity("replace", args, 3))
    _afford(len(text) + text.count(old) * max(len(new) - len(old), 0))
    return text.replace(old, new)


def _split(args: list[object]) -> list[str]:
    separator, text = (_text(a) for a in _arity("split", args, 2))
    if not separator:
        return list(text)  # Go's strings.Split with "" splits into characters
    _afford(text.count(separator) + 1)
    return text.split(separator)


def _coalesce(args: list[object]) -> object:
    for arg in args:  # go-cty's coalesce skips nulls only: coalesce("", "x") is ""
        if arg is not None:
            return arg
    raise _Refused("coalesce() found no value that is not null")


def _sanitize(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_-]", "_", text)


def _list(name: str, value: object) -> list[object]:
    if isinstance(value, list):
        return value
    raise _Unresolved(f"{name}() takes a list, not {_brief(value)}")


def _map(name: str, value: object) -> dict[str, object]:
    if isinstance(value, dict):
        return value
    raise _Unresolved(f"{name}() takes a map, not {_brief(value)}")


def _integer(name: str, value: object) -> int:
    number = _number(value)
    if not math.isfinite(number) or number != int(number):
        raise _Unresolved(f"{name}() takes a whole number, not {_brief(value)}")
    return int(number)


def _between(name: str, args: list[object], low: int, high: int) -> list[object]:
    if not low <= len(args) <= high:
        raise _Refused(f"{name}() takes {low} to {high} arguments, not {len(args)}")
    return args


_VERB = re.compile(r"%(?:%|([-+# 0]*)([0-9]*)(?:\.([0-9]+))?([a-zA-Z]))")


_MAX_WIDTH = 4096


def _format(args: list[object]) -> str:
    """go-cty's ``format``: the verbs bake files use (``%s %d %v %q %f %%``, width and precision)."""
    if not args:
        raise _Refused("format() takes a format string and values")
    spec, values = _text(args[0]), args[1:]
    out: list[str] = []
    pos = index = 0
    for verb in _VERB.finditer(spec):
        out.append(spec[pos : verb.start()])
        pos = verb.end()
        if verb.group() == "%%":
            out.append("%")
            continue
        flags, width, precision, kind = verb.groups()
        if len(width) > 4 or len(precision or "") > 4 or int(width or 0) > _MAX_WIDTH:
            raise _Unresolved(f"format() verb {_brief(verb.group())} pads or rounds too far")
        if index >= len(values):
            raise _Unresolved(f"format() has too few values for {spec!r}")
        value = values[index]
        index += 1
        if kind in ("s", "v") and flags in ("", "-") and precision is None:
            shown = _text(value) if not isinstance(value, list | dict) else json.dumps(value)
        elif kind == "q" and flags == "" and precision is None:
            shown = json.dumps(_text(value), ensure_ascii=False)
        elif kind == "d" and flags in ("", "0", "-", "+") and precision is None:
            shown = f"{_integer('format', value):{flags}d}"
        elif kind == "f" and flags in ("", "0", "-", "+"):
            shown = f"{_number(value):{flags}.{precision or 6}f}"
        else:
            raise _Unresolved(f"format() verb {verb.group()!r} is not evaluated")
        if width:
            size = int(width)
            shown = (
                shown.ljust(size)
                if "-" in flags
                else shown.rjust(size, "0" if "0" in flags and kind in "df" else " ")
            )
        _afford(sum(map(len, out)) + len(shown))
        out.append(shown)
    out.append(spec[pos:])
    if index < len(values):
        raise _Unresolved(f"format() has {len(values) - index} values too many for {spec!r}")
    return "".join(out)


def _length(args: list[object]) -> int:
    (value,) = _arity("length", args, 1)
    if isinstance(value, list | dict):
        return len(value)
    raise _Refused(
        f"length() takes a list or a map, not {_brief(value)} (strlen() counts characters)"
    )


def _substr(args: list[object]) -> str:
    text = _text(_arity("substr", args, 3)[0])
    offset, length = _integer("substr", args[1]), _integer("substr", args[2])
    if offset < 0:
        offset = max(len(text) + offset, 0)
    return text[offset:] if length < 0 else text[offset : offset + length]


def _trim(args: list[object]) -> str:
    text, cutset = (_text(a) for a in _arity("trim", args, 2))
    return text.strip(cutset) if cutset else text


def _chomp(args: list[object]) -> str:
    text = _text(_arity("chomp", args, 1)[0])
    while text.endswith(("\n", "\r")):
        text = text[:-2] if text.endswith("\r\n") else text[:-1]
    return text


_OS_COMPONENT = re.compile(r"[A-Za-z0-9_-]+(?:\([A-Za-z0-9_.%-]*(?:\+[A-Za-z0-9_.%-]+)*\))?")
_COMPONENT = re.compile(r"[A-Za-z0-9_.-]+")
_KNOWN_OS = frozenset(
    [
        "aix",
        "android",
        "darwin",
        "dragonfly",
        "freebsd",
        "hurd",
        "illumos",
        "ios",
        "js",
        "linux",
        "nacl",
        "netbsd",
        "openbsd",
        "plan9",
        "solaris",
        "windows",
        "zos",
        "macos",
    ]
)
_KNOWN_ARCH = frozenset(
    [
        "386",
        "amd64",
        "amd64p32",
        "arm",
        "armbe",
        "arm64",
        "arm64be",
        "ppc64",
        "ppc64le",
        "loong64",
        "mips",
        "mipsle",
        "mips64",
        "mips64le",
        "mips64p32",
        "mips64p32le",
        "ppc",
        "riscv",
        "riscv64",
        "s390",
        "s390x",
        "sparc",
        "sparc64",
        "wasm",
        "i386",
        "x86_64",
        "x86-64",
        "aarch64",
        "armhf",
        "armel",
    ]
)


def _platform_error(platform: str) -> str | None:
    """Why bake refuses *platform* (containerd's ``platforms.Parse``), or ``None``."""
    if platform == "local":
        return None
    parts = platform.split("/")
    if "*" in platform or len(parts) > 3:
        return "it is not os[/arch[/variant]]"
    if not _OS_COMPONENT.fullmatch(parts[0]) or not all(map(_COMPONENT.fullmatch, parts[1:])):
        return "it may only use letters, digits, '_', '.' and '-' between its '/'"
    if len(parts) == 1 and parts[0].lower() not in _KNOWN_OS | _KNOWN_ARCH:
        return "it is no operating system or architecture"
    return None


def _flatten(args: list[object]) -> list[object]:
    out: list[object] = []
    stack: list[Iterator[object]] = [iter(_list("flatten", _arity("flatten", args, 1)[0]))]
    while stack:
        item = next(stack[-1], _END)
        if item is _END:
            stack.pop()
        elif isinstance(item, list):
            stack.append(iter(item))
        else:
            out.append(item)
    _afford(len(out))
    return out


_END = object()


def _distinct(args: list[object]) -> list[object]:
    items = _list("distinct", _arity("distinct", args, 1)[0])
    if any(isinstance(i, str) for i in items) and all(
        isinstance(i, str | int | float) for i in items
    ):
        items = list[object](
            _strings(items)
        )  # go-cty makes a list of one type: strings and numbers, strings
    out: list[object] = []
    seen: set[str] = set()
    for item in items:  # by a key, in linear time: a list may have a million items
        _charge(_weight(item))
        key = json.dumps(_canonical(item), sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _canonical(value: object) -> object:
    """*value* with numbers as floats, so that 1 and 1.0 are one item, as :func:`_equal` has it."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    return repr(value)


def _contains(args: list[object]) -> bool:
    items, value = _arity("contains", args, 2)
    return any(_equal(item, value) for item in _list("contains", items))


def _keys(args: list[object]) -> list[str]:
    return sorted(_map("keys", _arity("keys", args, 1)[0]))


def _values(args: list[object]) -> list[object]:
    mapping = _map("values", _arity("values", args, 1)[0])
    return [mapping[key] for key in sorted(mapping)]


def _lookup(args: list[object]) -> object:
    mapping = _map("lookup", _arity("lookup", args, 3)[0])  # go-cty's takes a default
    key = _text(args[1])
    return mapping[key] if key in mapping else args[2]


def _element(args: list[object]) -> object:
    items = _list("element", _arity("element", args, 2)[0])
    index = _integer("element", args[1])
    if not items or index < 0:
        raise _Unresolved("element() of an empty list or a negative index")
    return items[index % len(items)]


def _index(args: list[object]) -> object:
    collection, key = _arity("index", args, 2)
    return _get(collection, key)


def _indexof(args: list[object]) -> int:
    items, value = _arity("indexof", args, 2)
    for position, item in enumerate(_list("indexof", items)):
        if _equal(item, value):
            return position
    raise _Unresolved("indexof() finds no such item")


def _range(args: list[object]) -> list[object]:
    numbers = [_number(a) for a in _between("range", args, 1, 3)]
    start, limit, step = (
        (0, numbers[0], 1)
        if len(numbers) == 1
        else (
            numbers[0],
            numbers[1],
            numbers[2] if len(numbers) == 3 else (1 if numbers[1] >= numbers[0] else -1),
        )
    )
    if step == 0 or ((step > 0) != (limit >= start) and limit != start):
        raise _Unresolved("range() has a step that never reaches the limit")
    count = max(math.ceil((limit - start) / step), 0)
    _afford(count)
    values = [start + i * step for i in range(count)]
    return [int(v) if float(v).is_integer() else v for v in values]


def _sort(args: list[object]) -> list[str]:
    items = _list("sort", _arity("sort", args, 1)[0])
    return sorted(_strings(items))


def _merge(args: list[object]) -> dict[str, object]:
    out: dict[str, object] = {}
    for arg in args:
        if arg is not None:
            out.update(_map("merge", arg))
    return out


def _slice(args: list[object]) -> list[object]:
    items = _list("slice", _arity("slice", args, 3)[0])
    start, end = _integer("slice", args[1]), _integer("slice", args[2])
    if not 0 <= start <= end <= len(items):
        raise _Unresolved(f"slice() from {start} to {end} is out of range")
    return items[start:end]


def _compact(args: list[object]) -> list[object]:
    return [i for i in _list("compact", _arity("compact", args, 1)[0]) if i is not None and i != ""]


def _zipmap(args: list[object]) -> dict[str, object]:
    keys, values = (_list("zipmap", a) for a in _arity("zipmap", args, 2))
    if len(keys) != len(values):
        raise _Unresolved("zipmap() takes lists of the same length")
    return dict(zip(_strings(keys), values, strict=True))


def _jsonencode(args: list[object]) -> str:
    value = _arity("jsonencode", args, 1)[0]
    _afford(_weight(value))
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def _hashing(name: str) -> Callable[[list[object]], object]:
    return lambda a: hashlib.new(name, _text(_arity(name, a, 1)[0]).encode()).hexdigest()


def _numbers(
    name: str, operation: Callable[[float, float], object]
) -> Callable[[list[object]], object]:
    return lambda a: _bounded(operation(*(_number(x) for x in _arity(name, a, 2))))


def _at_run_time(name: str) -> Callable[[list[object]], object]:
    def unknown(args: list[object]) -> object:
        raise _Unresolved(f"{name}() is known only when bake runs")

    return unknown


def _urlencode(args: list[object]) -> str:
    return urllib.parse.quote_plus(_text(_arity("urlencode", args, 1)[0]))


def _base64decode(args: list[object]) -> str:
    try:
        return base64.b64decode(_text(_arity("base64decode", args, 1)[0]), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        raise _Unresolved("base64decode() takes base64 of UTF-8 text") from None


_FUNCTIONS: dict[str, Callable[[list[object]], object]] = {
    "equal": lambda a: _equal(*_arity("equal", a, 2)),
    "notequal": lambda a: not _equal(*_arity("notequal", a, 2)),
    "and": lambda a: _bool(_arity("and", a, 2)[0]) and _bool(a[1]),
    "or": lambda a: _bool(_arity("or", a, 2)[0]) or _bool(a[1]),
    "not": lambda a: not _bool(_arity("not", a, 1)[0]),
    "upper": lambda a: _text(_arity("upper", a, 1)[0]).upper(),
    "lower": lambda a: _text(_arity("lower", a, 1)[0]).lower(),
    "trimspace": lambda a: _text(_arity("trimspace", a, 1)[0]).strip(),
    "trimprefix": lambda a: _text(_arity("trimprefix", a, 2)[0]).removeprefix(_text(a[1])),
    "trimsuffix": lambda a: _text(_arity("trimsuffix", a, 2)[0]).removesuffix(_text(a[1])),
    "trim": _trim,
    "chomp": _chomp,
    "replace": _replace,
    "join": _join,
    "split": _split,
    "concat": _concat,
    "coalesce": _coalesce,
    "sanitize": lambda a: _sanitize(_text(_arity("sanitize", a, 1)[0])),
    "format": _format,
    "length": _length,
    "strlen": lambda a: len(_text(_arity("strlen", a, 1)[0])),
    "substr": _substr,
    "reverse": lambda a: _text(_arity("reverse", a, 1)[0])[::-1],
    "flatten": _flatten,
    "distinct": _distinct,
    "contains": _contains,
    "keys": _keys,
    "values": _values,
    "lookup": _lookup,
    "element": _element,
    "index": _index,
    "indexof": _indexof,
    "range": _range,
    "sort": _sort,
    "merge": _merge,
    "slice": _slice,
    "compact": _compact,
    "zipmap": _zipmap,
    "reverselist": lambda a: list(reversed(_list("reverselist", _arity("reverselist", a, 1)[0]))),
    "jsonencode": _jsonencode,
    "add": _numbers("add", lambda x, y: x + y),
    "subtract": _numbers("subtract", lambda x, y: x - y),
    "multiply": _numbers("multiply", lambda x, y: x * y),
    "greaterthan": _numbers("greaterthan", lambda x, y: x > y),
    "greaterthanorequalto": _numbers("greaterthanorequalto", lambda x, y: x >= y),
    "lessthan": _numbers("lessthan", lambda x, y: x < y),
    "lessthanorequalto": _numbers("lessthanorequalto", lambda x, y: x <= y),
    "max": lambda a: max(_number(x) for x in _between("max", a, 1, len(a))),
    "min": lambda a: min(_number(x) for x in _between("min", a, 1, len(a))),
    "negate": lambda a: -_number(_arity("negate", a, 1)[0]),
    "absolute": lambda a: abs(_number(_arity("absolute", a, 1)[0])),
    "floor": lambda a: math.floor(_number(_arity("floor", a, 1)[0])),
    "ceil": lambda a: math.ceil(_number(_arity("ceil", a, 1)[0])),
    "md5": _hashing("md5"),
    "sha1": _hashing("sha1"),
    "sha256": _hashing("sha256"),
    "sha512": _hashing("sha512"),
    "base64encode": lambda a: base64.b64encode(
        _text(_arity("base64encode", a, 1)[0]).encode()
    ).decode(),
    "base64decode": _base64decode,
    "urlencode": _urlencode,
    "basename": lambda a: posixpath.basename(_text(_arity("basename", a, 1)[0])),
    "dirname": lambda a: posixpath.dirname(_text(_arity("dirname", a, 1)[0])) or ".",
    **{
        name: _at_run_time(name)
        for name in (
            "timestamp",
            "formatdate",
            "formattimestamp",
            "timeadd",
            "uuidv4",
            "uuidv5",
            "bcrypt",
            "homedir",
            "unixtimestampparse",
        )
    },
}


# Every function docker buildx bake provides (bake/hclparser/stdlib.go): one that imagegraph
# does not evaluate is bake-unresolved; a name outside this list (and the file's own
# ``function`` blocks) is refused, as buildx refuses it.
_BUILDX_FUNCTIONS = frozenset(
    [
        "absolute",
        "add",
        "and",
        "base64decode",
        "base64encode",
        "basename",
        "bcrypt",
        "byteslen",
        "bytesslice",
        "can",
        "ceil",
        "chomp",
        "chunklist",
        "cidrhost",
        "cidrnetmask",
        "cidrsubnet",
        "cidrsubnets",
        "coalesce",
        "coalescelist",
        "compact",
        "concat",
        "contains",
        "convert",
        "csvdecode",
        "dirname",
        "distinct",
        "divide",
        "element",
        "equal",
        "flatten",
        "floor",
        "format",
        "formatdate",
        "formattimestamp",
        "formatlist",
        "greaterthan",
        "greaterthanorequalto",
        "hasindex",
        "homedir",
        "indent",
        "index",
        "indexof",
        "int",
        "join",
        "jsondecode",
        "jsonencode",
        "keys",
        "length",
        "lessthan",
        "lessthanorequalto",
        "log",
        "lookup",
        "lower",
        "max",
        "md5",
        "merge",
        "min",
        "modulo",
        "multiply",
        "negate",
        "not",
        "notequal",
        "or",
        "parseint",
        "pow",
        "range",
        "regex_replace",
        "regex",
        "regexall",
        "replace",
        "reverse",
        "reverselist",
        "rsadecrypt",
        "sanitize",
        "semvercmp",
        "sethaselement",
        "setintersection",
        "setproduct",
        "setsubtract",
        "setsymmetricdifference",
        "setunion",
        "sha1",
        "sha256",
        "sha512",
        "signum",
        "slice",
        "sort",
        "split",
        "strlen",
        "substr",
        "subtract",
        "timeadd",
        "timestamp",
        "title",
        "trim",
        "trimprefix",
        "trimspace",
        "trimsuffix",
        "try",
        "unixtimestampparse",
        "upper",
        "urlencode",
        "uuidv4",
        "uuidv5",
        "values",
        "zipmap",
    ]
)


# --- targets ----------------------------------------------------------------------------------


@dataclass
class _Target:
    """One target (one matrix combination) with its attributes evaluated; ``None`` is unset."""

    name: str
    label: str
    line: int | None
    variant: dict[str, str] = field(default_factory=dict)
    context: str | None = None
    dockerfile: str | None = None
    inline: str | None = None
    target: str | None = None
    tags: list[str] | None = None
    args: dict[str, str | None] | None = None
    platforms: list[str] | None = None
    contexts: dict[str, str] | None = None
    inherits: list[str] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def merge(self, other: _Target) -> None:
        """Lay *other* over this target, as bake's ``Target.Merge`` does."""
        for key in ("context", "dockerfile", "inline", "target", "tags", "platforms"):
            value = getattr(other, key)
            if value is not None:
                setattr(self, key, value)
        if other.args is not None:
            self.args = dict(self.args or {})
            self.args.update({k: v for k, v in other.args.items() if v is not None})
        if other.contexts is not None:
            self.contexts = {**(self.contexts or {}), **other.contexts}
        self.inherits = [*self.inherits, *other.inherits]
        self.diagnostics = list(dict.fromkeys([*self.diagnostics, *other.diagnostics]))


class _Reader:
    def __init__(
        self, file: _File, base: Path, root: Path, display: str, overrides: dict[str, str]
    ) -> None:
        self.file = file
        self.base = base
        self.root = root
        self.display = display
        self.overrides = overrides
        self.values: dict[str, object] = {}
        self.failed: dict[str, str] = {}
        self.resolving: list[str] = []
        self.references: dict[str, list[str]] = {}
        self.targets: dict[str, _Target] = {}
        self.groups: dict[str, tuple[list[str], list[Diagnostic], int | None]] = {}
        self.matrix_groups: dict[str, list[str]] = {}
        self.skipped: dict[str, list[Diagnostic]] = {}
        self.resolved: dict[str, _Target] = {}
        self.calling: list[str] = []
        self.checked: set[str] = set()
        self.function_nodes: dict[str, _Node] = {}
        self.referring: list[tuple[str, str]] = []
        self.named_cache: dict[str, list[tuple[_Block, dict[str, object]]]] = {}

    def error(self, message: str, line: int | None = None) -> ConfigError:
        return ConfigError(message, path=self.display, line=line)

    def read(self, requested: Sequence[str] | None, aliases: Mapping[str, str]) -> SourceResult:
        result = SourceResult(files=[self.display], diagnostics=list(self.file.diagnostics))
        for name in self.overrides:
            if name not in self.file.variables:
                result.diagnostics.append(
                    Diagnostic(
                        "bake-unknown-variable", Severity.WARNING,
                        f"variable {name!r} is given a value but the file declares no such "
                        "variable, so it changes nothing", self.display,
                    )
                )  # fmt: skip
        result.diagnostics += self.evaluate_variables()
        for block in self.file.targets:
            self.add_target_block(block)
        for block in self.file.groups:
            self.add_group(block)
        names = self.select(requested, result.diagnostics)
        for build_name in names:
            target = self.resolve(build_name)
            result.diagnostics.extend(target.diagnostics)
            build = self.build(target, aliases, result.diagnostics)
            if build is not None:
                result.builds.append(build)
        result.diagnostics = list(dict.fromkeys(result.diagnostics))
        return result

    # --- variables -------------------------------------------------------------------------

    def variable(self, name: str) -> object:
        if name in self.values:
            return self.values[name]
        if name in self.failed:
            raise _Unresolved(self.failed[name])
        block = self.file.variables.get(name)
        if name in self.resolving:
            cycle = " -> ".join([*self.resolving[self.resolving.index(name) :], name])
            raise self.error(
                f"variables refer to each other in a cycle: {cycle}",
                block.line if block else None,
            )
        if name not in self.file.attributes and block is None:
            if name in _BUILTINS:
                raise _Unresolved(f"{name} is set by docker buildx bake when it runs")
            if name in _BLOCK_TYPES:
                raise _Unresolved(
                    f"references to other blocks ({name}.<name>...) are not evaluated"
                )
            raise _Refused(f"there is no variable named {_brief(name)}")
        if not self.resolving:
            # Every variable it names first, deepest first, as bake does: then no
            # evaluation waits on another, however long the chain.
            for dependency in self.dependencies_first(name):
                # A failure is remembered in self.failed: an error only where it is used.
                with contextlib.suppress(_Unresolved):
                    self.variable(dependency)
        self.resolving.append(name)
        try:
            value = self.variable_value(name, block)
        except _Unresolved as err:
            self.failed[name] = _via(name, err.reason)
            raise _Unresolved(self.failed[name]) from None
        except _Refused as err:
            raise self.error(
                f"variable {name!r}: {err.reason}, and docker buildx bake refuses the file",
                block.line if block else None,
            ) from None
        finally:
            self.resolving.pop()
        self.values[name] = value
        return value

    def evaluate_variables(self) -> list[Diagnostic]:
        """Evaluate every variable, used or not, as buildx does: one that names no variable of
        the file, or calls a function buildx does not have, is an error. What this costs does
        not count against the targets (the values are kept, so nothing is paid twice)."""
        meter = _METER.get()
        used = meter.used if meter is not None else 0
        for name in [*self.file.variables, *self.file.attributes]:
            with contextlib.suppress(_Unresolved, _TooLarge):  # reported where it is used
                self.variable(name)
        notes: list[Diagnostic] = []
        for name, block in self.file.variables.items():
            for validation in block.validations:
                with contextlib.suppress(_TooLarge):
                    self.validate(name, block, validation, notes)
        if meter is not None:
            meter.used = used
        return notes

    def validate(
        self, name: str, block: _Block, validation: dict[str, object], notes: list[Diagnostic]
    ) -> None:
        """Check one ``validation`` block of variable *name*, as bake does: a condition that
        is false is an error with the block's ``error_message``."""
        try:
            condition = self.value(validation.get("condition"), self.variable)
        except _Unresolved as err:
            notes.append(
                Diagnostic(
                    "bake-unresolved", Severity.WARNING,
                    f"variable {name!r}: a validation condition is not evaluated: {err.reason}; "
                    "it is not checked", self.display, block.line,
                )
            )  # fmt: skip
            return
        except _Refused as err:
            raise self.error(
                f"variable {name!r}: validation: {err.reason}, and docker buildx bake refuses "
                "the file",
                block.line,
            ) from None
        if not isinstance(condition, bool):
            raise self.error(
                f"variable {name!r}: a validation condition must be true or false, not "
                f"{_brief(condition)}, and docker buildx bake refuses the file",
                block.line,
            )
        if condition:
            return
        raw = validation.get("error_message")
        try:
            message = _text(self.value(raw, self.variable))
        except (_Unresolved, _Refused):
            message = _shown(raw)
        raise self.error(
            f"variable {name!r} fails its validation: {_brief(message)} (docker buildx bake "
            "refuses the file)",
            block.line,
        )

    def check(self, raw: object, known: set[str] | None, owner: str, line: int | None) -> None:
        """Raise :class:`ConfigError` if *raw* names a variable outside *known* (any name when
        *known* is ``None``) or a function buildx does not have."""
        values = [raw]
        while values:
            value = values.pop()
            if isinstance(value, list):
                values.extend(value)
            elif isinstance(value, _Object):
                values.extend(part for item in value.items for part in item)
            elif isinstance(value, _Expr):
                try:
                    node = _parse(value, charge=False)
                except _Unresolved:
                    continue  # evaluating it says why
                nodes: list[tuple[_Node, set[str] | None]] = [(node, known)]
                while nodes:
                    current, names = nodes.pop()
                    if (
                        isinstance(current, _Var)
                        and names is not None
                        and current.name not in names
                    ):
                        raise self.error(
                            f"{owner}: there is no variable named {_brief(current.name)}, and "
                            "docker buildx bake refuses the file",
                            line,
                        )
                    if isinstance(current, _Call) and not (
                        current.name in _BUILDX_FUNCTIONS or current.name in self.file.functions
                    ):
                        raise self.error(
                            f"{owner}: there is no function named {_brief(current.name)}, and "
                            "docker buildx bake refuses the file",
                            line,
                        )
                    if isinstance(current, _For) and names is not None:
                        nodes.append((current.collection, names))
                        names = names | {current.value_name, current.key_name or ""}
                        rest = (current.key, current.value, current.condition)
                        nodes.extend((n, names) for n in rest if n is not None)
                    else:
                        nodes.extend((child, names) for child in _children(current))

    def params(self, block: _Block) -> tuple[list[str], str | None]:
        """The parameter names of ``function`` *block* and its variadic one."""
        raw = block.body.get("params")
        items = raw if isinstance(raw, list) else []
        if not isinstance(raw, list) or not all(isinstance(i, _Expr | str) for i in items):
            raise self.error(
                f"function {_brief(block.label)}: 'params' must be a list of names", block.line
            )
        names = [i.text if isinstance(i, _Expr) else i for i in items]
        variadic = block.body.get("variadic_params")
        if variadic is not None:
            variadic = variadic.text if isinstance(variadic, _Expr) else variadic
            names_all = [*names, variadic]
        else:
            names_all = names
        for name in names_all:
            if not isinstance(name, str) or not _IDENT.fullmatch(name):
                raise self.error(
                    f"function {_brief(block.label)}: parameter {_brief(name)} is not a name",
                    block.line,
                )
        return names, variadic if isinstance(variadic, str) else None

    def attribute(self, label: str, key: str) -> object:
        """``target.<label>.<key>``: the attribute as that target's blocks set it (the last
        one that does), evaluated without a matrix; ``null`` where none sets it."""
        if (label, key) in self.referring:
            cycle = _chain([f"target.{a}.{b}" for a, b in [*self.referring, (label, key)]])
            raise _Refused(f"target attributes refer to each other in a cycle: {cycle}")
        self.referring.append((label, key))
        try:
            found = self.named(label)
            if not found:
                raise _Refused(f"there is no target {_brief(label)} for target.{label}.{key}")
            setting = [(block, combination) for block, combination in found if key in block.body]
            if not setting:
                return label if key == "name" else None
            block, combination = setting[-1]

            def scope(name: str) -> object:
                return combination[name] if name in combination else self.variable(name)

            return self.value(block.body[key], scope)
        finally:
            self.referring.pop()

    def named(self, name: str) -> list[tuple[_Block, dict[str, object]]]:
        """The target blocks (and matrix combination) that make the build called *name*."""
        if name in self.named_cache:
            return self.named_cache[name]
        found: list[tuple[_Block, dict[str, object]]] = []
        for block in self.file.targets:
            if "name" not in block.body:
                if block.label == name and "matrix" not in block.body:
                    found.append((block, {}))
                continue
            matrix = self.value(block.body.get("matrix", _Object(())), self.variable)
            if not isinstance(matrix, dict) or not all(
                isinstance(v, list) for v in matrix.values()
            ):
                continue
            lists = [v for v in matrix.values() if isinstance(v, list)]
            if math.prod(map(len, lists)) > MAX_MATRIX:
                raise _Unresolved(f"the matrix of target {_brief(block.label)} is too large")
            for values in itertools.product(*lists):
                combination = dict(zip(matrix, values, strict=True))

                def scope(key: str, combination: dict[str, object] = combination) -> object:
                    return combination[key] if key in combination else self.variable(key)

                if self.value(block.body["name"], scope) == name:
                    found.append((block, combination))
        self.named_cache[name] = found
        return found

    def call(self, name: str, args: list[object]) -> object:
        """The value of the file's own function *name* for *args*."""
        block = self.file.functions[name]
        if "result" not in block.body:
            raise _Refused(f"function {name}() has no 'result'")
        params, variadic = self.params(block)
        if name not in self.checked:
            # buildx checks a function's names when it is first used, the branches not taken too.
            known = {*self.file.variables, *self.file.attributes, *_BUILTINS, *_BLOCK_TYPES}
            known |= {*params, *filter(None, [variadic])}
            self.check(block.body["result"], known, f"function {_brief(name)}", block.line)
            self.checked.add(name)
        if len(args) < len(params) or (variadic is None and len(args) > len(params)):
            raise _Refused(
                f"function {name}() takes {len(params)}{' or more' if variadic else ''} "
                f"arguments, not {len(args)}"
            )
        if name in self.calling or len(self.calling) >= MAX_NESTING:
            raise _Refused(f"function {name}() calls itself ({_chain([*self.calling, name])})")
        bound: dict[str, object] = dict(zip(params, args, strict=False))
        if variadic is not None:
            bound[variadic] = list(args[len(params) :])

        def scope(key: str) -> object:
            return bound[key] if key in bound else self.variable(key)

        # Each call costs the file: functions that call others twice, 30 deep, would
        # otherwise make a billion calls out of a few lines, none of them large.
        _charge(_CALL_COST)
        self.calling.append(name)
        try:
            raw = block.body["result"]
            if isinstance(raw, _Expr):
                node = self.function_nodes.get(name)
                if node is None:
                    node = self.function_nodes[name] = _parse(raw)
                return _evaluate(node, scope)
            return self.value(raw, scope)
        finally:
            self.calling.pop()

    def dependencies_first(self, name: str) -> list[str]:
        """The variables *name* refers to, directly or not, each after those it refers to;
        a :class:`ConfigError` for a cycle among them."""
        order: list[str] = []
        seen = {name}
        path = [name]
        on_path = {name}
        pending = [iter(self.dependencies(name))]
        while pending:
            dependency = next(pending[-1], None)
            if dependency is None:
                pending.pop()
                done = path.pop()
                on_path.discard(done)
                if pending:
                    order.append(done)
                continue
            if dependency in on_path:
                cycle = _chain([*path[path.index(dependency) :], dependency])
                block = self.file.variables.get(dependency)
                raise self.error(
                    f"variables refer to each other in a cycle: {cycle}",
                    block.line if block else None,
                )
            if dependency in seen or dependency in self.values or dependency in self.failed:
                continue
            seen.add(dependency)
            path.append(dependency)
            on_path.add(dependency)
            pending.append(iter(self.dependencies(dependency)))
        return order

    def dependencies(self, name: str) -> list[str]:
        """The variables of this file that the value of variable *name* names."""
        found = self.references.get(name)
        if found is not None:
            return found
        block = self.file.variables.get(name)
        raw = block.body.get("default") if block is not None else self.file.attributes.get(name)
        names: dict[str, None] = {}
        values: list[object] = [raw]
        while values:
            value = values.pop()
            if isinstance(value, list):
                values.extend(reversed(value))
            elif isinstance(value, _Object):
                values.extend(part for item in reversed(value.items) for part in reversed(item))
            elif isinstance(value, _Expr):
                try:
                    node = _parse(value)
                except _Unresolved:
                    continue  # evaluating it fails the same way, with the reason
                nodes: list[tuple[_Node, frozenset[str]]] = [(node, frozenset())]
                while nodes:
                    current, bound = nodes.pop()
                    if isinstance(current, _Var):
                        if current.name not in bound and (
                            current.name in self.file.variables
                            or current.name in self.file.attributes
                        ):
                            names[current.name] = None
                    elif isinstance(current, _For):
                        # The names a 'for' binds are its own, not the file's variables.
                        inner = bound | {current.value_name, current.key_name or ""}
                        rest = (current.condition, current.value, current.key)
                        nodes.extend((n, inner) for n in rest if n is not None)
                        nodes.append((current.collection, bound))
                    else:
                        nodes.extend((child, bound) for child in reversed(_children(current)))
        found = self.references[name] = list(names)
        return found

    def variable_value(self, name: str, block: _Block | None) -> object:
        scope = self.variable
        if block is None:
            return self.value(self.file.attributes[name], scope)
        if "default" not in block.body:
            # bake: a variable with a type and no default is null, one without either "".
            return self.overrides.get(name, None if "type" in block.body else "")
        if name not in self.overrides:
            return self.value(block.body["default"], scope)
        override = self.overrides[name]
        try:
            default = self.value(block.body["default"], scope)
        except _Unresolved:
            return override
        if isinstance(default, bool):
            if override not in (*_TRUE, *_FALSE):
                raise self.error(
                    f"variable {name!r} is a bool, so {override!r} is not a value for it",
                    block.line,
                )
            return override in _TRUE
        if isinstance(default, int | float):
            try:
                number = float(override)
            except ValueError:
                raise self.error(
                    f"variable {name!r} is a number, so {override!r} is not a value for it",
                    block.line,
                ) from None
            return int(number) if number.is_integer() else number
        if isinstance(default, list | dict):
            raise self.error(
                f"variable {name!r} is a {type(default).__name__}; a value for it cannot be given "
                "as a string",
                block.line,
            )
        return override

    def value(self, raw: object, scope: _Scope) -> object:
        """*raw* evaluated; :class:`_Unresolved` when any part of it is not evaluated."""
        if isinstance(raw, _Expr):
            return _evaluate(_parse(raw), scope)
        if isinstance(raw, list):
            return _made([self.value(item, scope) for item in raw])
        if isinstance(raw, _Object):
            return _made({_text(self.value(k, scope)): self.value(v, scope) for k, v in raw.items})
        return raw

    # --- target and group blocks -----------------------------------------------------------

    def add_target_block(self, block: _Block) -> None:
        label = block.label
        if not _NAME.fullmatch(label):
            raise self.error(
                f"target name {_brief(label)} may only use letters, digits, '_' and '-'", block.line
            )
        unknown = [k for k in block.body if k not in _TARGET_KEYS and k not in _IGNORED_KEYS]
        unknown += block.nested
        notes = [
            Diagnostic(
                "bake-unknown-attribute", Severity.WARNING,
                f"target {_brief(label)}: bake has no attribute {_brief(key)}; it is ignored",
                self.display, block.line,
            )
            for key in unknown
        ]  # fmt: skip
        try:
            self.add_target_builds(block, notes)
        except _TooLarge as err:
            self.skip(block, err.reason, notes, code="expansion-too-large", severity=Severity.ERROR)
        except _Refused as err:
            raise self.error(
                f"target {_brief(label)}: {err.reason}, and docker buildx bake refuses the file",
                block.line,
            ) from None

    def add_target_builds(self, block: _Block, notes: list[Diagnostic]) -> None:
        label = block.label
        combinations = self.matrix(block, notes)
        if combinations is None:
            return
        has_name = "name" in block.body
        if has_name and "matrix" not in block.body:
            raise self.error(
                f"target {_brief(label)} has a 'name' but no 'matrix'; bake requires both",
                block.line,
            )
        if not has_name and len(combinations) > 1:
            key = next(iter(combinations[0]), "item")
            raise self.error(
                f"target {_brief(label)} has a matrix of {len(combinations)} combinations but no 'name', "
                f"so every build would be called {_brief(label)}, which bake refuses; add e.g. "
                f'name = "{label}-${{{key}}}"',
                block.line,
            )
        made: dict[str, _Target] = {}
        for combination in combinations:
            target = self.evaluate_target(block, combination, list(notes))
            if target is None:
                continue
            if target.name in made:
                raise self.error(
                    f"target {_brief(label)}: the matrix makes two builds called {target.name!r}",
                    block.line,
                )
            made[target.name] = target
        # Only now, every combination evaluated: a matrix is all there or not at all.
        for name, target in made.items():
            if name in self.targets:
                self.targets[name].merge(target)
            else:
                self.targets[name] = target
        names = list(made)
        if names != [label] or label in self.matrix_groups:
            # Blocks with one label may each rename theirs (name = "y", name = "z"): all count.
            known = self.matrix_groups.get(label, [label] if label in self.targets else [])
            self.matrix_groups[label] = list(dict.fromkeys([*known, *names]))

    def matrix(self, block: _Block, notes: list[Diagnostic]) -> list[dict[str, object]] | None:
        raw = block.body.get("matrix")
        if raw is None:
            return [{}]
        try:
            matrix = self.value(raw, self.variable)
        except _Unresolved as err:
            self.skip(block, f"matrix is not evaluated: {err.reason}", notes)
            return None
        if not isinstance(matrix, dict):
            raise self.error(
                f"target {_brief(block.label)}: 'matrix' must be a map of lists", block.line
            )
        for key, values in matrix.items():
            if not isinstance(values, list):
                raise self.error(
                    f"target {_brief(block.label)}: matrix {_brief(key)} must be a list", block.line
                )
            if not values:
                raise self.error(
                    f"target {_brief(block.label)}: matrix {_brief(key)} has no values", block.line
                )
        keys = list(matrix)
        count = math.prod(len(matrix[key]) for key in keys)
        if count > MAX_MATRIX:
            sizes = " x ".join(f"{len(matrix[key])} {_brief(key)}" for key in keys)
            self.skip(
                block,
                f"the matrix makes {count:,} combinations ({sizes}), more than the "
                f"{MAX_MATRIX:,} imagegraph expands for one target",
                notes,
                code="matrix-too-large",
                severity=Severity.ERROR,
            )
            return None
        for values in matrix.values():
            for value in values:  # each combination uses it: charged once per combination
                _charge(count // len(values) * _weight(value))
        return [
            dict(zip(keys, combination, strict=True))
            for combination in itertools.product(*(matrix[key] for key in keys))
        ]

    def skip(
        self,
        block: _Block,
        message: str,
        notes: list[Diagnostic],
        *,
        code: str = "bake-unresolved",
        severity: Severity = Severity.ERROR,
    ) -> None:
        self.skipped.setdefault(block.label, []).extend(
            [
                *notes,
                Diagnostic(
                    code, severity, f"target {_brief(block.label)}: {message}; the target is left out",
                    self.display, block.line,
                ),
            ]
        )  # fmt: skip
        self.matrix_groups.setdefault(block.label, [])

    def evaluate_target(
        self, block: _Block, combination: dict[str, object], notes: list[Diagnostic]
    ) -> _Target | None:
        def scope(name: str) -> object:
            return combination[name] if name in combination else self.variable(name)

        body, line = block.body, block.line
        name = block.label
        if "name" in body:
            try:
                name = self.string_value(self.value(body["name"], scope), "name", block.label, line)
            except _Unresolved as err:
                self.skip(
                    block, f"name {_shown(body['name'])} is not evaluated: {err.reason}", notes
                )
                return None
            if not _NAME.fullmatch(name):
                raise self.error(
                    f"target {_brief(block.label)}: the matrix name {_brief(name)} may only use letters, "
                    "digits, '_' and '-' (sanitize() or replace() can make it one)",
                    line,
                )
        for key in [k for k in body if k in _IGNORED_KEYS]:
            # Nothing imagegraph reads, but bake evaluates them too: what it refuses there
            # (a variable the file lacks) refuses the file.
            with contextlib.suppress(_Unresolved):
                value = self.value(body[key], scope)
                if key == "labels" and not (
                    value is None
                    or (
                        isinstance(value, dict)
                        and all(
                            v is None or isinstance(v, str | int | float) for v in value.values()
                        )
                    )
                ):
                    raise self.error(
                        f"target {_brief(block.label)}: 'labels' must be a map of strings, and "
                        "docker buildx bake refuses the file",
                        line,
                    )
        attrs = _Attributes(self, name, body, scope, line, notes)
        return _Target(
            name=name,
            label=block.label,
            line=line,
            variant={k: v for key, value in combination.items() for k, v in _variant(key, value)},
            context=attrs.string("context"),
            dockerfile=attrs.string("dockerfile"),
            inline=attrs.string("dockerfile-inline"),
            target=attrs.string("target"),
            tags=attrs.strings("tags", "tag", "the tag is left out"),
            args=attrs.mapping("args", strict=True),
            platforms=attrs.strings("platforms", "platform", "the platform is left out"),
            contexts=attrs.mapping("contexts", strict=False),  # type: ignore[arg-type]
            inherits=attrs.strings("inherits", "parent", "the parent is left out") or [],
            diagnostics=notes,
        )

    def string_value(self, value: object, key: str, owner: str, line: int | None) -> str:
        if isinstance(value, str | bool | int | float) and value is not None:
            return _text(value)
        raise self.error(
            f"target {owner!r}: {_brief(key)} must be a string, not {_brief(value)}", line
        )

    def add_group(self, block: _Block) -> None:
        label, line = block.label, block.line
        if not _NAME.fullmatch(label):
            raise self.error(
                f"group name {_brief(label)} may only use letters, digits, '_' and '-'", line
            )
        for key in ("name", "matrix"):
            if key in block.body:
                raise self.error(
                    f"group {_brief(label)}: bake does not allow {_brief(key)} in a group", line
                )
        if "targets" not in block.body:
            raise self.error(f"group {_brief(label)} needs 'targets'", line)
        members, notes, _ = self.groups.get(label, ([], [], line))
        for key in [k for k in block.body if k not in _GROUP_KEYS] + block.nested:
            notes.append(
                Diagnostic(
                    "bake-unknown-attribute", Severity.WARNING,
                    f"group {_brief(label)}: bake has no attribute {_brief(key)}; it is ignored",
                    self.display, line,
                )
            )  # fmt: skip
        raw = block.body["targets"]
        items = raw if isinstance(raw, list) else [raw]
        for item in items:
            try:
                value = self.value(item, self.variable)
            except _Refused as err:
                raise self.error(
                    f"group {_brief(label)}: {err.reason}, and docker buildx bake refuses the file",
                    line,
                ) from None
            except (_Unresolved, _TooLarge) as err:
                # The targets it names would leave the plan: an error, so none does unnoticed.
                notes.append(
                    Diagnostic(
                        "bake-unresolved" if isinstance(err, _Unresolved) else "expansion-too-large",
                        Severity.ERROR,
                        f"group {_brief(label)}: target {_shown(item)} is not evaluated: {err.reason}; "
                        "it is left out",
                        self.display, line,
                    )
                )  # fmt: skip
                continue
            values = value if isinstance(value, list) else [value]
            if not all(isinstance(v, str) for v in values) or (
                not isinstance(raw, list) and not isinstance(value, list)
            ):
                raise self.error(f"group {_brief(label)}: 'targets' must be a list of names", line)
            members.extend(v for v in values if isinstance(v, str))
        self.groups[label] = (list(dict.fromkeys(members)), notes, line)

    # --- selection, inheritance, builds ----------------------------------------------------

    def select(self, requested: Sequence[str] | None, diagnostics: list[Diagnostic]) -> list[str]:
        if requested is None and "default" in self.groups:
            requested = ["default"]  # what `docker buildx bake` with no arguments builds
        if requested is None:
            for notes in self.skipped.values():
                diagnostics.extend(notes)
            names = list(self.targets)
        else:
            names = []
            added: set[str] = set()
            expanded: set[str] = set()
            for pattern in requested:
                for name in self.match(pattern):
                    self.expand(name, names, added, expanded, diagnostics)
        # bake builds a target that a selected one takes as a context, so it is read too.
        chosen = set(names)
        index = 0
        while index < len(names):
            target = self.resolve(names[index])
            for key, value in sorted((target.contexts or {}).items()):
                if not value.startswith("target:"):
                    continue
                other = value.removeprefix("target:")
                if other not in self.targets:
                    raise self.error(
                        f"target {target.name!r} takes context {_brief(key)} from {_brief(value)}, and "
                        f"this file has no target {_brief(other)} (targets: {self.known()})",
                        target.line,
                    )
                if other not in chosen:
                    chosen.add(other)
                    names.append(other)
            index += 1
        self.check_links(names)
        return names

    def links(self, name: str) -> list[str]:
        contexts = self.resolve(name).contexts or {}
        return [
            v.removeprefix("target:")
            for _, v in sorted(contexts.items())
            if v.startswith("target:")
        ]

    def check_links(self, names: list[str]) -> None:
        """Refuse ``target:`` contexts as bake's loadLinks does: a target that links to itself
        or back to one that links to it, and one of several platforms that takes a target
        of several others that are not all of its own."""
        done: set[str] = set()
        for start in names:
            if start in done:
                continue
            path, on_path = [start], {start}
            stack = [iter(self.links(start))]
            while stack:
                name = path[-1]
                other = next(stack[-1], None)
                if other is None:
                    stack.pop()
                    done.add(path.pop())
                    on_path.discard(name)
                    continue
                line = self.targets[name].line
                if other == name:
                    raise self.error(
                        f"target {name!r} takes itself as a context (target:{name})", line
                    )
                if other in on_path:
                    cycle = _chain([*path[path.index(other) :], other])
                    raise self.error(
                        f"targets take each other as contexts in a loop: {cycle}", line
                    )
                mine, theirs = (
                    self.resolve(name).platforms or [],
                    self.resolve(other).platforms or [],
                )
                if len(mine) > 1 and len(theirs) > 1 and not set(mine) <= set(theirs):
                    raise self.error(
                        f"target {name!r} builds for {', '.join(mine)}, and its context "
                        f"target:{other} only for {', '.join(theirs)}; bake refuses it",
                        line,
                    )
                if other not in done:
                    path.append(other)
                    on_path.add(other)
                    stack.append(iter(self.links(other)))

    def match(self, pattern: str) -> list[str]:
        if not any(c in pattern for c in "*?[]"):
            return [pattern]
        every = [*self.groups, *self.matrix_groups, *self.targets]
        names = [n for n in dict.fromkeys(every) if fnmatch.fnmatchcase(n, pattern)]
        if not names:
            raise self.error(f"no target or group matches {pattern!r} (targets: {self.known()})")
        return names

    def expand(
        self,
        name: str,
        names: list[str],
        added: set[str],
        expanded: set[str],
        diagnostics: list[Diagnostic],
    ) -> None:
        """Add the targets *name* stands for to *names* (and *added*), groups depth first.

        A group is expanded once (*expanded*): again it would add nothing, and
        groups of groups that name each other twice would double at each level."""
        path: list[tuple[str, Iterator[str]]] = []
        item: str | None = name
        while True:
            if item is not None:
                group = path[-1][0] if path else None
                if item in self.groups and item not in expanded:
                    expanded.add(item)
                    members, notes, _ = self.groups[item]
                    diagnostics.extend(notes)
                    path.append((item, iter(members)))
                elif item in self.groups and item not in self.targets:
                    pass  # expanded already
                elif item in self.matrix_groups:
                    diagnostics.extend(self.skipped.get(item, []))
                    for member in self.matrix_groups[item]:
                        if member not in added:
                            added.add(member)
                            names.append(member)
                elif item in self.targets:
                    if item not in added:
                        added.add(item)
                        names.append(item)
                elif group is not None:
                    raise self.error(
                        f"group {group!r} names {_brief(item)}, which is neither a target nor a "
                        f"group of this file (targets: {self.known()})",
                        self.groups[group][2],
                    )
                else:
                    groups = ", ".join(itertools.islice(self.groups, 20)) or "none"
                    raise self.error(
                        f"no target or group is called {_brief(item)} (targets: {self.known()}; "
                        f"groups: {groups})"
                    )
            if not path:
                return
            item = next(path[-1][1], None)
            if item is None:
                path.pop()

    def known(self) -> str:
        shown = list(itertools.islice(self.targets, 20))
        more = len(self.targets) - len(shown)
        return ", ".join(shown) + (f" and {more:,} more" if more else "") or "none"

    def resolve(self, name: str) -> _Target:
        """The target *name* with what it inherits merged in (parents first, without recursion)."""
        if name in self.resolved:
            return self.resolved[name]
        path = [name]
        on_path = {name}
        pending = [iter(self.targets[name].inherits)]
        while pending:
            parent = next(pending[-1], None)
            if parent is None:
                pending.pop()
                done = path.pop()
                on_path.discard(done)
                self.resolved[done] = self.merged(done)
                continue
            if parent not in self.targets or parent in self.resolved:
                continue
            if parent in on_path:
                cycle = _chain([*path[path.index(parent) :], parent])
                raise self.error(
                    f"targets inherit from each other in a cycle: {cycle}",
                    self.targets[parent].line,
                )
            path.append(parent)
            on_path.add(parent)
            pending.append(iter(self.targets[parent].inherits))
        return self.resolved[name]

    def merged(self, name: str) -> _Target:
        """Target *name* over its parents, which are resolved already."""
        own = self.targets[name]
        merged = _Target(name=name, label=own.label, line=own.line, variant=dict(own.variant))
        for parent in own.inherits:
            if parent not in self.targets:
                # buildx refuses it ("failed to find target"). A parent that another bake file
                # supplies at build time (docker/metadata-action's) is declared empty in this
                # one, as metadata-action's documentation shows.
                close = (  # bounded: a label may be a megabyte, a file may have many targets
                    difflib.get_close_matches(
                        parent, list(itertools.islice(self.targets, 500)), n=1
                    )
                    if len(parent) <= 100
                    else []
                )
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise self.error(
                    f"target {name!r} inherits from {_brief(parent)}, which this file does not "
                    f"define, and docker buildx bake refuses it ({hint}a parent that another bake "
                    f"file supplies is declared here too: target {json.dumps(parent)} {{}})",
                    own.line,
                )
            merged.merge(self.resolved[parent])
        merged.merge(own)
        merged.inherits = list(own.inherits)
        if merged.contexts is not None:
            merged.contexts = {k: v for k, v in merged.contexts.items() if v}
        return merged

    def platforms(self, target: _Target) -> tuple[str, ...]:
        platforms = tuple(dict.fromkeys(p for p in target.platforms or [] if p))
        for platform in platforms:
            reason = _platform_error(platform)
            if reason is not None:
                raise self.error(
                    f"target {target.name!r}: platform {_brief(platform)} is refused by bake: "
                    f"{reason}",
                    target.line,
                )
        return platforms

    def build(
        self, target: _Target, aliases: Mapping[str, str], diagnostics: list[Diagnostic]
    ) -> ImageBuild | None:
        context = (target.context or ".").removeprefix("cwd://")
        if "://" in context or context.startswith((*_REMOTE_PREFIXES, "~")):
            diagnostics.append(
                Diagnostic(
                    "bake-remote-context", Severity.WARNING,
                    f"target {target.name!r} builds from {context}, outside this repository; "
                    "imagegraph reads only local Dockerfiles, so the target is left out",
                    self.display, target.line,
                )
            )  # fmt: skip
            return None
        context_rel = relative(self.root, self.base, context)
        if target.inline is not None:
            dockerfile = "Dockerfile" if context_rel == "." else f"{context_rel}/Dockerfile"
        else:
            dockerfile = relative(self.root, self.base / context, target.dockerfile or "Dockerfile")
        contexts = {
            key: value
            if not value.startswith("cwd://")
            and ("://" in value or value.startswith(("target:", *_REMOTE_PREFIXES)))
            else relative(self.root, self.base, value.removeprefix("cwd://"))
            for key, value in (target.contexts or {}).items()
        }
        return ImageBuild(
            name=target.name,
            dockerfile=dockerfile,
            context=context_rel,
            # bake drops empty tags and platforms (removeDupesStr in bake/bake.go).
            tags=parse_tags(
                [t for t in target.tags or [] if t], aliases, path=self.display, line=target.line
            ),
            args={k: v for k, v in (target.args or {}).items() if v is not None},
            target=target.target,
            platforms=self.platforms(target),
            contexts=contexts,
            variant=dict(target.variant),
            origin=f"{self.display}:{target.line}" if target.line else self.display,
            dockerfile_inline=target.inline,
        )


class _Attributes:
    """Reads one target's attributes for one matrix combination, noting what is not evaluated."""

    def __init__(
        self,
        reader: _Reader,
        name: str,
        body: dict[str, object],
        scope: _Scope,
        line: int | None,
        notes: list[Diagnostic],
    ) -> None:
        self.reader = reader
        self.name = name
        self.body = body
        self.scope = scope
        self.line = line
        self.notes = notes

    def unresolved(self, what: str, raw: object, reasons: Sequence[str], consequence: str) -> None:
        self.notes.append(
            Diagnostic(
                "bake-unresolved", Severity.WARNING,
                f"target {self.name!r}: {what} {_shown(raw)} is not evaluated: "
                f"{'; '.join(dict.fromkeys(reasons))}; {consequence}",
                self.reader.display, self.line,
            )
        )  # fmt: skip

    def wrong(self, key: str, kind: str, value: object) -> ConfigError:
        return self.reader.error(
            f"target {self.name!r}: {_brief(key)} must be {kind}, not {_brief(value)}", self.line
        )

    def partial(self, raw: object, what: str) -> object:
        """*raw*, with what is not evaluated kept as written (and noted)."""
        reasons: list[str] = []
        try:
            if isinstance(raw, _Expr):
                value = _evaluate(_parse(raw), self.scope, reasons)
            else:
                value = self.reader.value(raw, self.scope)
        except _Unresolved as err:
            reasons.append(err.reason)
            value = raw.text if isinstance(raw, _Expr) else None
        if reasons:
            self.unresolved(what, raw, reasons, "it is kept as written")
        return value

    def string(self, key: str) -> str | None:
        raw = self.body.get(key)
        if raw is None:
            return None
        value = self.partial(raw, key)
        if value is None:
            return None
        if isinstance(value, str | bool | int | float):
            return _text(value)
        raise self.wrong(key, "a string", value)

    def strings(self, key: str, what: str, consequence: str) -> list[str] | None:
        raw = self.body.get(key)
        if raw is None:
            return None
        if not isinstance(raw, list):
            try:
                whole = self.reader.value(raw, self.scope)
            except _Unresolved as err:
                self.unresolved(key, raw, [err.reason], f"no {what} is read from it")
                return []
            if not isinstance(whole, list):
                raise self.wrong(key, "a list of strings", whole)
            raw = whole
        values: list[str] = []
        for item in raw:
            try:
                value = self.reader.value(item, self.scope)
            except _Unresolved as err:
                self.unresolved(what, item, [err.reason], consequence)
                continue
            if not isinstance(value, str | bool | int | float) or value is None:
                raise self.wrong(key, "a list of strings", value)
            values.append(_text(value))
        return values

    def mapping(self, key: str, *, strict: bool) -> dict[str, str | None] | None:
        """A map of strings; ``args`` (*strict*) may have nulls and leaves out what is not evaluated."""
        raw = self.body.get(key)
        if raw is None:
            return None
        if not isinstance(raw, _Object):
            try:
                whole = self.reader.value(raw, self.scope)
            except _Unresolved as err:
                self.unresolved(key, raw, [err.reason], "none is read from it")
                return {}
            if not isinstance(whole, dict):
                raise self.wrong(key, "a map of strings", whole)
            pairs: list[tuple[object, object]] = list(whole.items())
            evaluated = True
        else:
            pairs = list(raw.items)
            evaluated = False
        values: dict[str, str | None] = {}
        for raw_name, item in pairs:
            try:
                name = _text(raw_name if evaluated else self.reader.value(raw_name, self.scope))
            except _Unresolved as err:
                self.unresolved(f"{key} key", raw_name, [err.reason], "the entry is left out")
                continue
            if evaluated:
                value = item
            elif strict:
                try:
                    value = self.reader.value(item, self.scope)
                except _Unresolved as err:
                    self.unresolved(
                        f"{key}.{name}", item, [err.reason], "the build arg is not passed"
                    )
                    continue
            else:
                value = self.partial(item, f"{key}.{name}")
            if value is None:
                if not strict:
                    raise self.wrong(f"{key}.{name}", "a string", value)
                values[name] = None
            elif isinstance(value, str | bool | int | float):
                values[name] = _text(value)
            else:
                raise self.wrong(f"{key}.{name}", "a string", value)
        return values


def _variant(key: str, value: object) -> list[tuple[str, str]]:
    """A matrix value as the variant's strings; an object gives one entry per attribute."""
    if isinstance(value, dict):
        return [pair for k, v in value.items() for pair in _variant(f"{key}.{k}", v)]
    try:
        return [(key, _text(value))]
    except _Unresolved:
        return [(key, json.dumps(value))]


def _chain(names: list[str]) -> str:
    """``a -> b -> a``, the middle left out of a long one."""
    if len(names) > 12:
        names = [*names[:5], f"... ({len(names) - 10} more)", *names[-5:]]
    return " -> ".join(names)


def _via(name: str, reason: str) -> str:
    """Why variable *name* is not evaluated: *reason*, which may be another variable's, cut
    in the middle when a long chain of them would make it long."""
    text = f"variable {name}: {reason}"
    return text if len(text) <= 300 else f"{text[:120]} ... {text[-160:]}"


def _shown(raw: object) -> str:
    """*raw* as written in the file, for messages (cut short)."""
    if isinstance(raw, _Expr):
        return _brief(raw.text)
    return _brief(raw)
