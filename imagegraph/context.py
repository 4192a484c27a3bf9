"""Which files of its build context a build reads: COPY/ADD sources, bind mounts, .dockerignore.

A file in a build's context matters to the build only when BuildKit sends
it (``.dockerignore`` does not exclude it) and an instruction of a stage
the target needs reads it: a ``COPY`` or ``ADD`` source without
``--from``, or a ``RUN --mount=type=bind`` without ``from``. Sources are
expanded the way BuildKit expands them, with the stage's ``ARG`` and
``ENV`` values; a source that cannot be expanded (a variable the base image
may set, a platform ARG) is taken to cover the whole context, and an
``unresolved-copy-source`` diagnostic says so.

``.dockerignore`` follows Docker's rules, not git's: patterns are anchored
at the context root, use Go's ``filepath.Match`` syntax plus ``**``, a
pattern that matches a directory excludes what is below it, ``!`` makes an
exception, and the last matching line wins. ``<Dockerfile>.dockerignore``
next to the Dockerfile replaces the context's ``.dockerignore``.

**Malformed patterns.** Docker checks each line with Go's ``filepath.Match``
(moby/patternmatcher) and then matches through a regular expression made
from it; a line ``filepath.Match`` calls malformed (``[]a]``, ``[^]``, an
unclosed ``[``, a trailing ``\\``), a class range that runs backwards
(``[z-a]``, ``[a-\\]]``: the regular expression does not compile) or a lone
``!`` makes BuildKit fail the build, whatever is changed. Here such a file
gets a ``bad-dockerignore-pattern`` error naming the file and line, and
ignores nothing: every file of the context counts. A ``COPY``/``ADD``
source that is such a pattern gets a ``bad-copy-pattern`` error and counts
as the whole context.

**Limits.** Expansion draws on one :class:`imagegraph._shell.Budget` per
Dockerfile; past it, an ``expansion-limit`` error says where, and the value
counts as unknown (a source then covers the whole context).
"""

from __future__ import annotations

import os
import posixpath
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Generic, TypeVar

from imagegraph._files import RefusedFile, read_text
from imagegraph._shell import UNKNOWN, Budget, Env, ExpansionLimit, ShellError, Unknown, expand
from imagegraph.diagnostics import Diagnostic, Severity
from imagegraph.dockerfile import Dockerfile, Stage, StageRef
from imagegraph.instructions import Instruction

__all__ = ["ContextSource", "ContextUse", "DockerIgnore", "context_use", "read_dockerignore"]

_GLOB = re.compile(r"[*?\[\\]")
_REMOTE = re.compile(r"^(https?://|git@|git://|ssh://)|\.git(#.*)?$")


class _BadPattern(Exception):
    """A pattern Docker refuses; the message says why."""


def _scan_class(pattern: str, pos: int) -> tuple[bool, list[tuple[str, str]], int]:
    """The character class starting after the ``[`` at *pos*, as Go's ``filepath.Match``
    reads it: ``(negated, [(lo, hi), ...], position after the ])``; raises
    :class:`_BadPattern` where Go reports ``ErrBadPattern``."""
    end = len(pattern)
    negated = pos < end and pattern[pos] == "^"
    if negated:
        pos += 1
    ranges: list[tuple[str, str]] = []
    while True:
        if pos < end and pattern[pos] == "]" and ranges:
            return negated, ranges, pos + 1
        lo, pos = _class_char(pattern, pos)
        hi = lo
        if pattern[pos] == "-":
            hi, pos = _class_char(pattern, pos + 1)
        ranges.append((lo, hi))


def _class_char(pattern: str, pos: int) -> tuple[str, int]:
    # Go's getEsc: a character of a class, escaped or not, never the last of the pattern.
    end = len(pattern)
    if pos >= end or pattern[pos] in "-]":
        raise _BadPattern("syntax error in pattern: a character class is empty or unclosed")
    if pattern[pos] == "\\":
        pos += 1
        if pos >= end:
            raise _BadPattern("syntax error in pattern: a trailing \\")
    if pos + 1 >= end:
        raise _BadPattern("syntax error in pattern: a character class is not closed")
    return pattern[pos], pos + 1


# The tokens of a pattern: a character, "?", a class, "*", and Docker's "**"
# (any text) and "**/" (nothing, or any text that ends with "/").
_Token = tuple[object, ...]
_STAR, _DSTAR, _DSLASH = ("*",), ("**",), ("**/",)


def _glob_tokens(pattern: str, *, double_star: bool) -> tuple[_Token, ...]:
    """The tokens of a Go ``filepath.Match`` pattern (with ``**`` when asked).

    Raises :class:`_BadPattern` for a pattern Docker refuses (see the module notes).
    """
    out: list[_Token] = []
    i = 0
    end = len(pattern)
    while i < end:
        char = pattern[i]
        if double_star and pattern.startswith("**", i):
            i += 2
            if pattern.startswith("/", i):
                out.append(_DSLASH)
                i += 1
            else:
                out.append(_DSTAR)
            continue
        if char == "*":
            out.append(_STAR)
        elif char == "?":
            out.append(("?",))
        elif char == "\\":
            i += 1
            if i >= end:
                raise _BadPattern("syntax error in pattern: a trailing \\")
            out.append(("=", pattern[i]))
        elif char == "[":
            negated, ranges, after = _scan_class(pattern, i + 1)
            for lo, hi in ranges:
                if lo > hi:
                    raise _BadPattern(f"invalid character class range {lo}-{hi}")
            out.append(("[", negated, tuple(ranges)))
            i = after
            continue
        else:
            out.append(("=", char))
        i += 1
    return tuple(out)


class _Glob:
    """A pattern matched by an automaton built as paths need it: linear in the
    path whatever the pattern. A regular expression would backtrack: Python's
    takes seconds on ``**/**/**/**/**/**/**/**/x`` against a path 30 deep (and
    forever a little deeper); Docker's own, Go's RE2, never does.

    State ``2*i`` is "before token i", ``2*i + 1`` "inside the ``**/`` at i".
    """

    __slots__ = ("accepting", "index", "moves", "sets", "tokens")

    def __init__(self, pattern: str, *, double_star: bool) -> None:
        self.tokens = _glob_tokens(pattern, double_star=double_star)
        self.sets: list[frozenset[int]] = []
        self.index: dict[frozenset[int], int] = {}
        self.accepting: list[bool] = []
        self.moves: dict[tuple[int, str], int] = {}
        self.state(self.closure({0}))

    def state(self, states: frozenset[int]) -> int:
        found = self.index.get(states)
        if found is None:
            found = self.index[states] = len(self.sets)
            self.sets.append(states)
            self.accepting.append(2 * len(self.tokens) in states)
        return found

    def closure(self, states: set[int]) -> frozenset[int]:
        tokens = self.tokens
        todo = list(states)
        while todo:
            at = todo.pop()
            i = at // 2
            # "*", "**" and "**/" may each match nothing.
            skips = not at % 2 and i < len(tokens) and tokens[i] in (_STAR, _DSTAR, _DSLASH)
            if skips and at + 2 not in states:
                states.add(at + 2)
                todo.append(at + 2)
        return frozenset(states)

    def step(self, current: int, char: str) -> int:
        """The state after *char*; -1 where no match can follow."""
        key = (current, char)
        found = self.moves.get(key)
        if found is not None:
            return found
        following: set[int] = set()
        tokens = self.tokens
        for at in self.sets[current]:
            i = at // 2
            if at % 2:  # inside "**/": anything, and a "/" may end it
                following.add(at)
                if char == "/":
                    following.add(at + 1)
                continue
            if i >= len(tokens):
                continue
            token = tokens[i]
            kind = token[0]
            if kind == "=":
                if char == token[1]:
                    following.add(at + 2)
            elif kind == "?":
                if char != "/":
                    following.add(at + 2)
            elif kind == "[":
                ranges: tuple[tuple[str, str], ...] = token[2]  # type: ignore[assignment]
                if any(lo <= char <= hi for lo, hi in ranges) != token[1]:
                    following.add(at + 2)
            elif token is _STAR:
                if char != "/":
                    following.add(at)
            elif token is _DSTAR:
                following.add(at)
            else:  # "**/"
                following.add(at + 1)
                if char == "/":
                    following.add(at + 2)
        found = self.state(self.closure(following)) if following else -1
        if len(self.sets) > 4096:  # a bound on memory: forget, keep the start
            del self.sets[1:]
            del self.accepting[1:]
            self.index = {self.sets[0]: 0}
            self.moves.clear()
            found = self.state(self.closure(following)) if following else -1
        else:
            self.moves[key] = found
        return found

    def matches_prefix(self, path: str) -> bool:
        """Whether the pattern matches *path*, or a part of it that ends before a
        ``/`` (a pattern that matches a directory matches what is below it)."""
        current = 0
        for char in path:
            if char == "/" and self.accepting[current]:
                return True
            current = self.step(current, char)
            if current < 0:
                return False
        return self.accepting[current]


def _bad_pattern(pattern: str, *, double_star: bool) -> str | None:
    """Why Docker refuses *pattern*, or ``None`` when it is well formed."""
    try:
        _glob_tokens(pattern, double_star=double_star)
    except _BadPattern as err:
        return str(err)
    return None


@dataclass(frozen=True, slots=True)
class _IgnorePattern:
    text: str
    exclusion: bool
    glob: _Glob


class DockerIgnore:
    """The patterns of a ``.dockerignore`` file, matched as Docker matches them.

    >>> ignore = DockerIgnore.parse("# docs\\n*.md\\n!README.md\\n**/__pycache__\\nbuild/\\n")
    >>> [p for p in ["a.md", "README.md", "src/x/__pycache__/m.pyc", "build/out", "docs/a.md"]
    ...  if ignore.ignores(p)]
    ['a.md', 'src/x/__pycache__/m.pyc', 'build/out']
    """

    def __init__(
        self,
        patterns: Iterable[tuple[str, bool]] = (),
        source: str | None = None,
        diagnostics: Iterable[Diagnostic] = (),
    ) -> None:
        self.source = source
        """The file the patterns came from, if any."""
        found = list(diagnostics)
        kept: list[_IgnorePattern] = []
        for text, exclusion in patterns:
            try:
                glob = _Glob(text, double_star=True)
            except _BadPattern as err:
                found.append(_bad_ignore(text, str(err), source, None))
                continue
            kept.append(_IgnorePattern(text, exclusion, glob))
        self._patterns = tuple(kept)
        self.diagnostics: tuple[Diagnostic, ...] = tuple(found)
        """``bad-dockerignore-pattern`` errors: where there is one, BuildKit fails the
        build and :meth:`ignores` ignores nothing."""

    @classmethod
    def parse(cls, text: str, source: str | None = None) -> DockerIgnore:
        """Read ``.dockerignore`` text: comments, blank lines, ``!`` exceptions, cleaning.

        A malformed line is a ``bad-dockerignore-pattern`` diagnostic naming
        *source* and the line, never an exception:

        >>> ignore = DockerIgnore.parse("*.md\\n[z-a]\\n", ".dockerignore")
        >>> [str(d) for d in ignore.diagnostics]  # doctest: +NORMALIZE_WHITESPACE
        [".dockerignore:2: error[bad-dockerignore-pattern]: pattern '[z-a]': invalid
          character class range z-a; BuildKit fails every build with this .dockerignore,
          and here it ignores nothing"]
        >>> ignore.ignores("README.md")
        False
        """
        patterns = []
        diagnostics = []
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            exclusion = line.startswith("!")
            if exclusion:
                line = line[1:].strip()
                if not line:
                    diagnostics.append(
                        _bad_ignore("!", 'illegal exclusion pattern: "!"', source, number)
                    )
                    continue
            # Linux semantics: a backslash escapes, it is no separator.
            cleaned = posixpath.normpath(line)
            cleaned = cleaned.lstrip("/") or "."
            if cleaned == ".":
                continue  # "." never matches a file below it in Docker either
            why = _bad_pattern(cleaned, double_star=True)
            if why is not None:
                diagnostics.append(_bad_ignore(cleaned, why, source, number))
                continue
            patterns.append((cleaned, exclusion))
        return cls(patterns, source, diagnostics)

    @property
    def patterns(self) -> tuple[tuple[str, bool], ...]:
        """``(pattern, is_exception)`` in file order."""
        return tuple((p.text, p.exclusion) for p in self._patterns)

    def ignores(self, path: str) -> bool:
        """True when Docker would leave *path* (relative to the context) out of the context.

        Always false when a pattern is malformed (see :attr:`diagnostics`).
        """
        if self.diagnostics:
            return False
        path = path.strip("/")
        ignored = False
        for pattern in self._patterns:
            if pattern.glob.matches_prefix(path):
                ignored = not pattern.exclusion
        return ignored


def _bad_ignore(pattern: str, why: str, source: str | None, line: int | None) -> Diagnostic:
    return Diagnostic(
        "bad-dockerignore-pattern",
        Severity.ERROR,
        f"pattern {pattern!r}: {why}; BuildKit fails every build with this .dockerignore, "
        "and here it ignores nothing",
        source,
        line,
    )


def read_dockerignore(
    context_dir: Path,
    dockerfile: Path | None,
    *,
    root: str | os.PathLike[str] | None = None,
    diagnostics: list[Diagnostic] | None = None,
) -> DockerIgnore:
    """The ignore rules BuildKit applies: ``<Dockerfile>.dockerignore`` first, then the context's.

    With *root*, only a file inside it is read (see :mod:`imagegraph._files`).
    One that is there but refused (outside *root*, a FIFO, a device, too
    large) counts as absent, so the whole context counts, and a diagnostic
    naming it goes to *diagnostics*; so do the ``bad-dockerignore-pattern``
    errors of the file read (see :attr:`DockerIgnore.diagnostics`).
    """
    candidates = []
    if dockerfile is not None:
        candidates.append(dockerfile.with_name(dockerfile.name + ".dockerignore"))
    candidates.append(context_dir / ".dockerignore")
    for candidate in candidates:
        try:
            text = read_text(candidate, errors="replace", root=root)
        except RefusedFile as err:
            if diagnostics is not None:
                shown = os.path.relpath(candidate, root) if root is not None else str(candidate)
                diagnostics.append(
                    Diagnostic(
                        err.code, Severity.ERROR,
                        f"this .dockerignore is {err.strerror}; its rules are not applied",
                        shown,
                    )
                )  # fmt: skip
            continue
        except OSError:
            continue
        ignore = DockerIgnore.parse(text, str(candidate))
        if diagnostics is not None and ignore.diagnostics:
            shown = os.path.relpath(candidate, root) if root is not None else str(candidate)
            diagnostics.extend(replace(d, path=shown) for d in ignore.diagnostics)
        return ignore
    return DockerIgnore()


@dataclass(frozen=True, slots=True)
class ContextSource:
    """One place a build reads its context: a cleaned pattern relative to the context.

    ``pattern`` is ``"."`` for the whole context.
    """

    pattern: str
    keyword: str
    """``COPY``, ``ADD`` or ``RUN`` (a bind mount)."""
    line: int
    stage: str

    def covers(self, path: str) -> bool:
        """True when this source reads *path* (relative to the context), itself or below a directory.

        >>> ContextSource("src", "COPY", 3, "build").covers("src/app/main.py")
        True
        >>> ContextSource("*.txt", "COPY", 3, "build").covers("docs/a.txt")
        False
        """
        if self.pattern == ".":
            return True
        path = path.strip("/")
        glob = _source_glob(self.pattern)
        if glob is None:
            return path == self.pattern or path.startswith(self.pattern + "/")
        if not isinstance(glob, _Glob):
            return True  # malformed: BuildKit fails on it, so count every change
        return glob.matches_prefix(path)


@lru_cache(maxsize=4096)
def _source_glob(pattern: str) -> _Glob | str | None:
    """The matcher of a source pattern; ``None`` without glob characters, and for
    a malformed pattern, why."""
    if not _GLOB.search(pattern):
        return None
    try:
        return _Glob(pattern, double_star=False)
    except _BadPattern as err:
        return str(err)


@dataclass(frozen=True, slots=True)
class ContextUse:
    """Everything a build reads from its context, and what could not be worked out."""

    sources: tuple[ContextSource, ...]
    diagnostics: tuple[Diagnostic, ...] = ()

    def covering(self, path: str) -> ContextSource | None:
        """The first source that reads *path*, or ``None``."""
        return next((s for s in self.sources if s.covers(path)), None)


def context_use(dockerfile: Dockerfile, target: str | int | None = None) -> ContextUse:
    """The context sources of the stages *target* needs.

    >>> from imagegraph import parse_dockerfile
    >>> df = parse_dockerfile(
    ...     "FROM golang:1.23 AS build\\nWORKDIR /src\\nCOPY go.mod go.sum ./\\nCOPY cmd/ cmd/\\n"
    ...     "FROM alpine:3\\nARG CONF=prod\\nCOPY --from=build /out /bin/\\nCOPY conf/${CONF}.yaml /etc/\\n")
    >>> [s.pattern for s in context_use(df).sources]
    ['go.mod', 'go.sum', 'cmd', 'conf/prod.yaml']
    """
    try:
        stages = dockerfile.required_stages(target)
    except Exception:  # an unknown target: every stage may be built
        stages = dockerfile.stages
    wanted = {stage.index for stage in stages}
    sources: list[ContextSource] = []
    diagnostics: list[Diagnostic] = []
    expander = _Expander(dockerfile, diagnostics)
    global_values = {a.name: a.value for a in dockerfile.args}
    build_args = dict(dockerfile.build_args)
    scopes: _Scopes[str | Unknown] = _Scopes(dockerfile)
    for stage in dockerfile.stages:  # envs flow through FROM <stage>, so walk them all
        env = scopes.enter(stage)
        is_wanted = stage.index in wanted
        for instruction in stage.instructions[1:]:
            keyword = instruction.keyword
            if keyword == "ARG":
                expander.declare_args(instruction, env, global_values, build_args)
            elif keyword == "ENV":
                for name, value in instruction.pairs():
                    env[name] = expander.value(value, env, instruction)
            elif is_wanted and keyword in ("COPY", "ADD") and instruction.flag("from") is None:
                _copy_sources(instruction, stage, env, expander, sources)
            elif is_wanted and keyword == "RUN":
                _mount_sources(instruction, stage, env, expander, sources)
        scopes.leave(stage, env)
    return ContextUse(tuple(sources), tuple(diagnostics))


_V = TypeVar("_V")
_ABSENT = object()
# Layers a stage's variables may sit on before they are copied flat.
_MAX_LAYERS = 16


class _Scope(MutableMapping[str, _V]):
    """The variables of one stage: its own, over those of the stage it is built
    ``FROM`` when that stage is the base of others too (it is never changed
    again); looked up through the layers, never copied per stage."""

    __slots__ = ("depth", "own", "parent")

    def __init__(self, parent: _Scope[_V] | None = None) -> None:
        self.own: dict[str, _V] = {}
        self.parent: _Scope[_V] | None = parent
        self.depth: int = 0 if parent is None else parent.depth + 1
        if self.depth > _MAX_LAYERS:  # keep lookups short: one flat copy
            assert parent is not None
            self.own = dict(parent.items())
            self.parent = None
            self.depth = 0

    def get(self, key: str, default: object = None) -> _V | None:  # type: ignore[override]
        scope: _Scope[_V] | None = self
        while scope is not None:
            value = scope.own.get(key, _ABSENT)
            if value is not _ABSENT:
                return value  # type: ignore[return-value]
            scope = scope.parent
        return default  # type: ignore[return-value]

    def __getitem__(self, key: str) -> _V:
        value = self.get(key, _ABSENT)
        if value is _ABSENT:
            raise KeyError(key)
        return value  # type: ignore[return-value]

    def __setitem__(self, key: str, value: _V) -> None:
        self.own[key] = value

    def __delitem__(self, key: str) -> None:  # pragma: no cover - never used
        raise TypeError("a stage's variables are never removed")

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key, _ABSENT) is not _ABSENT

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        scope: _Scope[_V] | None = self
        while scope is not None:
            for key in scope.own:
                if key not in seen:
                    seen.add(key)
                    yield key
            scope = scope.parent

    def __len__(self) -> int:
        return sum(1 for _ in self)


class _Scopes(Generic[_V]):
    """Hands each stage the variables of the stage it is built ``FROM``, in time
    linear in the file: the only stage built from another takes its variables
    over; several stages built from one each get a layer over them."""

    def __init__(self, dockerfile: Dockerfile) -> None:
        self.children = Counter(
            stage.base.index for stage in dockerfile.stages if isinstance(stage.base, StageRef)
        )
        self.kept: dict[int, _Scope[_V]] = {}

    def enter(self, stage: Stage) -> _Scope[_V]:
        if not isinstance(stage.base, StageRef):
            return _Scope()
        base = stage.base.index
        parent = self.kept.get(base)
        if parent is None:  # pragma: no cover - a FROM names an earlier stage
            return _Scope()
        if self.children[base] == 1:
            del self.kept[base]
            return parent
        return _Scope(parent)

    def leave(self, stage: Stage, scope: _Scope[_V]) -> None:
        if self.children[stage.index]:
            self.kept[stage.index] = scope


class _Expander:
    """Expands the words of one Dockerfile's stages against one budget, and says
    (once) where the budget ran out."""

    def __init__(self, dockerfile: Dockerfile, diagnostics: list[Diagnostic]) -> None:
        self.dockerfile = dockerfile
        self.escape = dockerfile.escape
        self.diagnostics = diagnostics
        self.budget = Budget()
        self.limited = False

    def expand(self, text: str, env: Env, instruction: Instruction) -> tuple[str, tuple[str, ...]]:
        """``(value, unresolved)``; raises ShellError, and notes a limit before raising."""
        try:
            result = expand(text, env, self.escape, budget=self.budget)
        except ExpansionLimit as err:
            self.limit(err, instruction)
            raise
        return result.value, result.unresolved

    def limit(self, err: ExpansionLimit, instruction: Instruction) -> None:
        if self.limited:
            return
        self.limited = True
        self.diagnostics.append(
            Diagnostic(
                "expansion-limit",
                Severity.ERROR,
                f"{instruction.keyword}: {err}; this value and any later one past the limit "
                "count as unknown",
                self.dockerfile.path,
                instruction.line,
            )
        )

    def value(self, text: str, env: Env, instruction: Instruction) -> str | Unknown:
        """An ``ARG`` default or ``ENV`` value: unknown where it cannot be worked out."""
        try:
            value, unresolved = self.expand(text, env, instruction)
        except ShellError:
            return UNKNOWN
        return UNKNOWN if unresolved else value

    def declare_args(
        self,
        instruction: Instruction,
        env: MutableMapping[str, str | Unknown],
        global_values: Mapping[str, str | None],
        build_args: Mapping[str, str],
    ) -> None:
        for word in instruction.args:
            name, has_default, default = word.partition("=")
            if name in build_args:
                env[name] = build_args[name]
            elif has_default:
                env[name] = self.value(default, env, instruction)
            elif name in global_values:
                value = global_values[name]
                env[name] = UNKNOWN if value is None else value
            else:
                env[name] = UNKNOWN  # set only by the build (platform args) or left empty


def _add(
    text: str,
    instruction: Instruction,
    stage: Stage,
    env: Env,
    expander: _Expander,
    sources: list[ContextSource],
) -> None:
    label = stage.label
    path = expander.dockerfile.path
    why = ""
    try:
        value, unresolved = expander.expand(text, _Unset(env), instruction)
        if unresolved:
            why = f"depends on {_names(unresolved)}, which only the build knows"
    except ExpansionLimit:
        value, why = "", "was not expanded (past imagegraph's expansion limit)"
    except ShellError as err:
        value, why = "", f"cannot be expanded ({err})"
    if why:
        expander.diagnostics.append(
            Diagnostic(
                "unresolved-copy-source",
                Severity.INFO,
                f"{instruction.keyword} source {_shown(text)!r} {why}; any change in the "
                "context counts",
                path,
                instruction.line,
            )
        )
        sources.append(ContextSource(".", instruction.keyword, instruction.line, label))
        return
    cleaned = posixpath.normpath("/" + value).lstrip("/") or "."
    if _GLOB.search(cleaned):
        bad = _bad_pattern(cleaned, double_star=False)
        if bad is not None:
            expander.diagnostics.append(
                Diagnostic(
                    "bad-copy-pattern",
                    Severity.ERROR,
                    f"{instruction.keyword} source {_shown(cleaned)!r}: {bad}; BuildKit "
                    "fails on it, and any change in the context counts",
                    path,
                    instruction.line,
                )
            )
            cleaned = "."
    sources.append(ContextSource(cleaned, instruction.keyword, instruction.line, label))


def _shown(text: str) -> str:
    return text if len(text) <= 80 else text[:77] + "..."


def _names(names: tuple[str, ...]) -> str:
    shown = ", ".join(_shown(name) for name in names[:5])
    return shown + (f" and {len(names) - 5} more" if len(names) > 5 else "")


class _Unset(Mapping[str, "str | Unknown"]):
    """A stage environment in which a variable nobody set may come from the base
    image: read through, not copied."""

    __slots__ = ("env",)

    def __init__(self, env: Env) -> None:
        self.env = env

    def get(self, key: str, default: object = None) -> str | Unknown:
        value = self.env.get(key)
        return UNKNOWN if value is None else value

    def __getitem__(self, key: str) -> str | Unknown:
        return self.get(key)

    def __contains__(self, key: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(self.env)

    def __len__(self) -> int:
        return len(self.env)


def _copy_sources(
    instruction: Instruction,
    stage: Stage,
    env: Env,
    expander: _Expander,
    sources: list[ContextSource],
) -> None:
    heredocs = {f"<<{h.name}" for h in instruction.heredocs}
    words = [w for w in instruction.args[:-1] if not w.startswith("<<") and w not in heredocs]
    for word in words:
        if instruction.keyword == "ADD" and _REMOTE.search(word):
            continue
        _add(word, instruction, stage, env, expander, sources)


def _mount_sources(
    instruction: Instruction,
    stage: Stage,
    env: Env,
    expander: _Expander,
    sources: list[ContextSource],
) -> None:
    for spec in instruction.flag_values("mount"):
        fields: dict[str, str] = {}
        for part in spec.split(","):
            key, _, value = part.partition("=")
            fields[key.strip().lower()] = value.strip()
        kind = fields.get("type", "bind")
        if kind != "bind" or fields.get("from"):
            continue
        source = fields.get("source", fields.get("src", "."))
        _add(source or ".", instruction, stage, env, expander, sources)
