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
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from imagegraph._shell import UNKNOWN, Env, ShellError, Unknown, expand
from imagegraph.diagnostics import Diagnostic, Severity
from imagegraph.dockerfile import Dockerfile, Stage, StageRef
from imagegraph.instructions import Instruction

__all__ = ["ContextSource", "ContextUse", "DockerIgnore", "context_use", "read_dockerignore"]

_GLOB = re.compile(r"[*?\[\\]")
_REMOTE = re.compile(r"^(https?://|git@|git://|ssh://)|\.git(#.*)?$")


def _go_glob(pattern: str, *, double_star: bool) -> str:
    """The regex for a Go ``filepath.Match`` pattern (and ``**`` when asked), ``/``-separated."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if double_star and pattern.startswith("**", i):
            i += 2
            if pattern.startswith("/", i):
                out.append("(?:.*/)?")
                i += 1
            else:
                out.append(".*")
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        elif char == "[":
            end = pattern.find("]", i + 2 if pattern.startswith("[^", i) else i + 1)
            if end < 0:
                out.append(re.escape(char))
            else:
                body = pattern[i + 1 : end]
                negate = body.startswith("^")
                body = body[1:] if negate else body
                body = body.replace("\\", "\\\\").replace("[", "\\[")
                out.append(f"[{'^' if negate else ''}{body}]")
                i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


@dataclass(frozen=True, slots=True)
class _IgnorePattern:
    text: str
    exclusion: bool
    regex: re.Pattern[str]


class DockerIgnore:
    """The patterns of a ``.dockerignore`` file, matched as Docker matches them.

    >>> ignore = DockerIgnore.parse("# docs\\n*.md\\n!README.md\\n**/__pycache__\\nbuild/\\n")
    >>> [p for p in ["a.md", "README.md", "src/x/__pycache__/m.pyc", "build/out", "docs/a.md"]
    ...  if ignore.ignores(p)]
    ['a.md', 'src/x/__pycache__/m.pyc', 'build/out']
    """

    def __init__(
        self, patterns: Iterable[tuple[str, bool]] = (), source: str | None = None
    ) -> None:
        self.source = source
        """The file the patterns came from, if any."""
        self._patterns = tuple(
            _IgnorePattern(text, exclusion, re.compile(_go_glob(text, double_star=True)))
            for text, exclusion in patterns
        )

    @classmethod
    def parse(cls, text: str, source: str | None = None) -> DockerIgnore:
        """Read ``.dockerignore`` text: comments, blank lines, ``!`` exceptions, cleaning."""
        patterns = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            exclusion = line.startswith("!")
            if exclusion:
                line = line[1:].strip()
            # Linux semantics: a backslash escapes, it is no separator.
            cleaned = posixpath.normpath(line) if line else ""
            cleaned = cleaned.lstrip("/") or "."
            if cleaned == ".":
                continue  # "." never matches a file below it in Docker either
            patterns.append((cleaned, exclusion))
        return cls(patterns, source)

    @property
    def patterns(self) -> tuple[tuple[str, bool], ...]:
        """``(pattern, is_exception)`` in file order."""
        return tuple((p.text, p.exclusion) for p in self._patterns)

    def ignores(self, path: str) -> bool:
        """True when Docker would leave *path* (relative to the context) out of the context."""
        parts = path.strip("/").split("/")
        candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        ignored = False
        for pattern in self._patterns:
            if any(pattern.regex.fullmatch(c) for c in candidates):
                ignored = not pattern.exclusion
        return ignored


def read_dockerignore(context_dir: Path, dockerfile: Path | None) -> DockerIgnore:
    """The ignore rules BuildKit applies: ``<Dockerfile>.dockerignore`` first, then the context's."""
    candidates = []
    if dockerfile is not None:
        candidates.append(dockerfile.with_name(dockerfile.name + ".dockerignore"))
    candidates.append(context_dir / ".dockerignore")
    for candidate in candidates:
        try:
            text = candidate.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        return DockerIgnore.parse(text, str(candidate))
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
        parts = path.strip("/").split("/")
        candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        regex = _source_regex(self.pattern)
        if regex is None:
            return self.pattern in candidates
        return any(regex.fullmatch(c) for c in candidates)


@lru_cache(maxsize=4096)
def _source_regex(pattern: str) -> re.Pattern[str] | None:
    if not _GLOB.search(pattern):
        return None
    return re.compile(_go_glob(pattern, double_star=False))


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
    envs: dict[int, dict[str, str | Unknown]] = {}
    sources: list[ContextSource] = []
    diagnostics: list[Diagnostic] = []
    global_values = {a.name: a.value for a in dockerfile.args}
    build_args = dict(dockerfile.build_args)
    for stage in dockerfile.stages:  # envs flow through FROM <stage>, so walk them all
        env = dict(envs[stage.base.index]) if isinstance(stage.base, StageRef) else {}
        wanted = stage in stages
        for instruction in stage.instructions[1:]:
            keyword = instruction.keyword
            if keyword == "ARG":
                _declare_args(instruction, env, global_values, build_args, dockerfile.escape)
            elif keyword == "ENV":
                for name, value in instruction.pairs():
                    env[name] = _expand_or_unknown(value, env, dockerfile.escape)
            elif wanted and keyword in ("COPY", "ADD") and instruction.flag("from") is None:
                _copy_sources(instruction, stage, env, dockerfile, sources, diagnostics)
            elif wanted and keyword == "RUN":
                _mount_sources(instruction, stage, env, dockerfile, sources, diagnostics)
        envs[stage.index] = env
    return ContextUse(tuple(sources), tuple(diagnostics))


def _declare_args(
    instruction: Instruction,
    env: dict[str, str | Unknown],
    global_values: Mapping[str, str | None],
    build_args: Mapping[str, str],
    escape: str,
) -> None:
    for word in instruction.args:
        name, has_default, default = word.partition("=")
        if name in build_args:
            env[name] = build_args[name]
        elif has_default:
            env[name] = _expand_or_unknown(default, env, escape)
        elif name in global_values:
            value = global_values[name]
            env[name] = UNKNOWN if value is None else value
        else:
            env[name] = UNKNOWN  # set only by the build (platform args) or left empty


def _expand_or_unknown(text: str, env: Env, escape: str) -> str | Unknown:
    try:
        result = expand(text, env, escape)
    except ShellError:
        return UNKNOWN
    return UNKNOWN if result.unresolved else result.value


def _add(
    text: str,
    instruction: Instruction,
    stage: Stage,
    env: Mapping[str, str | Unknown],
    dockerfile: Dockerfile,
    sources: list[ContextSource],
    diagnostics: list[Diagnostic],
) -> None:
    label = stage.label
    try:
        result = expand(text, _Unset(env), dockerfile.escape)
        unresolved: tuple[str, ...] = result.unresolved
    except ShellError:
        unresolved = (text,)
    if unresolved:
        diagnostics.append(
            Diagnostic(
                "unresolved-copy-source",
                Severity.INFO,
                f"{instruction.keyword} source {text!r} depends on {', '.join(unresolved)}, "
                "which only the build knows; any change in the context counts",
                dockerfile.path,
                instruction.line,
            )
        )
        sources.append(ContextSource(".", instruction.keyword, instruction.line, label))
        return
    cleaned = posixpath.normpath("/" + result.value).lstrip("/") or "."
    sources.append(ContextSource(cleaned, instruction.keyword, instruction.line, label))


class _Unset(dict[str, "str | Unknown"]):
    """A stage environment in which a variable nobody set may come from the base image."""

    def __init__(self, env: Mapping[str, str | Unknown]) -> None:
        super().__init__(env)

    def __missing__(self, key: str) -> str | Unknown:
        return UNKNOWN

    def get(self, key: str, default: object = None) -> str | Unknown:
        return self[key]

    def __contains__(self, key: object) -> bool:
        return True


def _copy_sources(
    instruction: Instruction,
    stage: Stage,
    env: Mapping[str, str | Unknown],
    dockerfile: Dockerfile,
    sources: list[ContextSource],
    diagnostics: list[Diagnostic],
) -> None:
    heredocs = {f"<<{h.name}" for h in instruction.heredocs}
    words = [w for w in instruction.args[:-1] if not w.startswith("<<") and w not in heredocs]
    for word in words:
        if instruction.keyword == "ADD" and _REMOTE.search(word):
            continue
        _add(word, instruction, stage, env, dockerfile, sources, diagnostics)


def _mount_sources(
    instruction: Instruction,
    stage: Stage,
    env: Mapping[str, str | Unknown],
    dockerfile: Dockerfile,
    sources: list[ContextSource],
    diagnostics: list[Diagnostic],
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
        _add(source or ".", instruction, stage, env, dockerfile, sources, diagnostics)
