"""What every declaration reader shares: the result shape, paths, tags, matrices, ``${var}``."""

from __future__ import annotations

import bisect
import itertools
import posixpath
import re
import reprlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from imagegraph.diagnostics import Diagnostic
from imagegraph.errors import InvalidReference
from imagegraph.inventory import ConfigError, ImageBuild
from imagegraph.reference import ImageRef

__all__ = [
    "LineIndex",
    "SourceResult",
    "brief",
    "declared_at",
    "expand_matrix",
    "interpolate",
    "parse_tags",
    "relative",
]

_BRIEF = reprlib.Repr()
_BRIEF.maxstring = _BRIEF.maxother = 60
_BRIEF.maxlist = _BRIEF.maxdict = 4
_BRIEF.maxlevel = 3


def brief(value: object) -> str:
    """*value* for a message: its repr, cut short however large or deep it is."""
    try:
        return _BRIEF.repr(value)
    except ValueError:  # an integer of thousands of digits has no repr
        return f"(a {type(value).__name__} too large to show)"


class LineIndex:
    """The line of any offset of one text, found by bisection: built once per
    declaration file, so that placing each of its entries costs a look-up, not
    a count of the newlines before it (which made placing n entries quadratic).

    >>> index = LineIndex("a\\nbb\\n\\nccc")
    >>> [index.line(offset) for offset in (0, 1, 2, 4, 5, 6, 9)]
    [1, 1, 2, 2, 3, 4, 4]
    """

    __slots__ = ("_starts",)

    def __init__(self, text: str) -> None:
        starts = [0]
        find = text.find
        at = find("\n")
        while at >= 0:
            starts.append(at + 1)
            at = find("\n", at + 1)
        self._starts = starts

    def line(self, offset: int) -> int:
        """The 1-based line holding *offset*."""
        return bisect.bisect_right(self._starts, offset)


# Relative, "/"-separated, no empty, "." or ".." components.
_PLAIN_PATH = re.compile(r"(?!\.\.?(?:/|$))[^/\\]+(?:/(?!\.\.?(?:/|$))[^/\\]+)*/?")
_VARIABLE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass
class SourceResult:
    """What one declaration file contributed."""

    builds: list[ImageBuild] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    """Declaration files read, relative to the root."""
    watched: list[str] = field(default_factory=list)
    """Files that were looked for and not found, or read without effect, but
    whose appearance or change would change the result."""
    covered: set[str] = field(default_factory=set)
    """Dockerfiles (relative paths) this source accounts for without
    building them itself, e.g. files a manifest lists for an architecture
    not built here."""


def relative(root: Path, base: Path, path: str) -> str:
    """*path*, written relative to directory *base*, as a ``/`` path relative to *root*.

    >>> relative(Path("/r"), Path("/r/sub"), "../apps/x/")
    'apps/x'
    >>> relative(Path("/r"), Path("/r"), ".")
    '.'
    """
    if base == root and _PLAIN_PATH.fullmatch(path):
        return path.rstrip("/")  # already normal: the common case, thousands of times
    root_posix = root.as_posix()
    joined = posixpath.normpath(posixpath.join(base.as_posix(), path.replace("\\", "/")))
    # Outside the repository the result starts with "..", so the user sees where.
    return posixpath.relpath(joined, root_posix)


def declared_at(build: ImageBuild) -> tuple[str, int | None]:
    """Where *build* is declared, as a diagnostic's path and line: its origin,
    or its Dockerfile for a build nothing declares.

    >>> declared_at(ImageBuild("a", "a/Dockerfile", "a", origin="docker-bake.hcl:12"))
    ('docker-bake.hcl', 12)
    >>> declared_at(ImageBuild("a", "a/Dockerfile", "a", origin="convention"))
    ('a/Dockerfile', None)
    """
    origin = build.origin
    if origin in ("", "convention"):
        return build.dockerfile, None
    path, colon, line = origin.rpartition(":")
    if colon and line.isascii() and line.isdigit() and path:
        return path, int(line)
    return origin, None


def interpolate(
    text: str, variables: Mapping[str, str], *, path: str, line: int | None, what: str
) -> str:
    """Replace ``${name}`` with its value; ``$$`` is a literal ``$``.

    >>> interpolate("py:${V}-$$x", {"V": "3.12"}, path="f", line=1, what="tag")
    'py:3.12-$x'
    """

    if "$" not in text:
        return text

    def value(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        if name not in variables:
            known = ", ".join(sorted(variables)) or "none"
            raise ConfigError(
                f"{what} {text!r} uses ${{{name}}}, which is not defined (defined: {known})",
                path=path,
                line=line,
            )
        return variables[name]

    return _VARIABLE.sub(value, text)


def expand_matrix(
    matrix: Mapping[str, Sequence[str]], *, path: str, line: int | None
) -> list[dict[str, str]]:
    """Every combination of the matrix values, the first key varying slowest.

    >>> expand_matrix({"PY": ["3.11", "3.12"], "OS": ["bookworm"]}, path="f", line=1)
    [{'PY': '3.11', 'OS': 'bookworm'}, {'PY': '3.12', 'OS': 'bookworm'}]
    >>> expand_matrix({}, path="f", line=1)
    [{}]
    """
    for key, values in matrix.items():
        if not values:
            raise ConfigError(f"matrix {key!r} has no values", path=path, line=line)
    keys = list(matrix)
    return [
        dict(zip(keys, combination, strict=True))
        for combination in itertools.product(*(matrix[key] for key in keys))
    ]


def parse_tags(
    texts: Sequence[str], aliases: Mapping[str, str], *, path: str, line: int | None
) -> tuple[ImageRef, ...]:
    """Parse image tags a build produces; a bad one is a :class:`ConfigError`."""
    tags = []
    for text in texts:
        try:
            tags.append(ImageRef.parse(text, aliases=aliases))
        except InvalidReference as err:
            shown = text if len(text) <= 80 else text[:77] + "..."  # a tag may be megabytes
            raise ConfigError(
                f"tag {shown!r} is not an image reference: {err.reason}", path=path, line=line
            ) from None
    return tuple(dict.fromkeys(tags))
