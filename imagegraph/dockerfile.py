"""A parsed Dockerfile: its stages, what each stage starts from, and the images it needs.

This is imagegraph's second step. It takes the instructions of
:mod:`imagegraph.instructions` and works out, the way BuildKit's
``dockerfile2llb`` does, which image or earlier stage each ``FROM``,
``COPY --from`` and ``RUN --mount=from=`` refers to:

* global ``ARG``\\ s (before the first ``FROM``) with their defaults, overridden
  by build arguments, and expanded into ``FROM`` and ``--platform`` values;
  ``COPY --from`` and ``--mount from=`` are never expanded (BuildKit refuses
  variables there);
* ``FROM name`` is an earlier stage when a stage of exactly that name came
  before it; ``COPY --from`` and ``--mount from=`` match stage names in any
  case, and ``COPY --from=N`` is stage N;
* ``scratch`` is no image at all.

**Errors and diagnostics.** What BuildKit refuses whatever the target and
build arguments raises :class:`~imagegraph.DockerfileSyntaxError`. What only
fails for some targets or build arguments, or is merely suspicious, becomes a
:class:`~imagegraph.Diagnostic` on the result: an ``ARG`` with no value, a
reference that is not valid, a copy from a stage defined later.

**Unknown values.** BuildKit sets ``TARGETARCH``, ``BUILDPLATFORM`` and their
siblings from the build's platforms, which a Dockerfile alone does not fix.
They count as unknown unless given as build arguments; a ``FROM`` that
depends on them, or on an ``ARG`` without a value, keeps its raw text and is
marked unresolved instead of being guessed.

**Invalid UTF-8** in a file is decoded with U+FFFD replacement characters and
reported as an ``invalid-utf8`` diagnostic naming the first bad line; BuildKit
itself reads bytes, so such a file still builds.
A file in **UTF-16** or UTF-32 (with a byte-order mark, or ASCII text with
every other byte NUL) raises :class:`~imagegraph.DockerfileSyntaxError` at
line 1 saying so: BuildKit reads it as UTF-8 and fails on the first line.

**Limits.** Expansions draw on one :class:`imagegraph._shell.Budget` per
file (1 Mi characters of substituted text a word, 16 Mi a file, 1,000,000
pattern steps a file); BuildKit has none, but a few lines of ``ARG``
doubling would otherwise take hours and gigabytes. An ``ARG`` or ``FROM``
past a limit is an ``expansion-limit`` error diagnostic on its line (once
per file, and again at each ``FROM``), and its value counts as unknown: a
parent that depends on it is unresolved, never dropped.

**Why not dockerfile-parse.** It was the obvious dependency, and it was
measured before choosing (``tests/test_differential.py`` keeps the cases
where both agree in check). It reads heredoc bodies as instructions, joins
empty and whitespace-only continuation lines wrongly, drops a continuation at
end of file, does not know ``${VAR:+alt}`` or ``${VAR-default}``, keeps a
UTF-8 BOM in the first keyword, reports stage names as parent images and
does not see ``COPY --from`` or ``RUN --mount`` images at all; its
``structure`` re-parses the whole file on every access. Fixing those would
mean re-parsing its output, so imagegraph parses on its own and uses
dockerfile-parse only as a differential oracle in the tests; BuildKit's own
parser, wrapped by the ``dockerfile`` package, is the other
(``tests/test_buildkit_oracle.py``).

**Speed, measured** (``benchmarks/parse.py DIR --repeat 5``, best of 5, one
process; 2026-12-06 on a shared 2-core AMD EPYC VM, Linux, CPython 3.11.7,
load average 0.5 to 0.8): on the 2,084 docker-library Dockerfiles of
``/work/corpus/official`` (6.8 MB, 178,000 lines), :func:`parse_dockerfile`
read 3,894 and 4,001 files/s in two runs, the graph's route
(:func:`prepare_dockerfile` then :func:`resolve_dockerfile`) 3,030 and 3,040,
dockerfile-parse (``structure`` and ``parent_images``) 2,786 and 2,834. The
graph's route was the fastest (7,255 files/s in the same session) until its
outline began keeping every ``ARG``, ``ENV`` and ``RUN`` that may install
packages; now the full parser is ahead of it on these files. On Bitnami's
containers, whose files are short, issue 14 records 9,962 files/s for
:func:`parse_dockerfile` against dockerfile-parse's 11,628 (the graph's
route 20,799, before that change); not measured again since. The figures
move by a fifth or more between runs on this machine.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

from imagegraph._pickling import positional_reduce
from imagegraph._shell import UNKNOWN, Budget, ExpansionLimit, ShellError, Unknown, expand
from imagegraph.diagnostics import Diagnostic, Severity
from imagegraph.errors import DockerfileSyntaxError, ImageGraphError, InvalidReference
from imagegraph.instructions import (
    Instruction,
    ParsedInstructions,
    _LineParser,
    csv_fields,
    go_lower,
    parse_instructions,
)
from imagegraph.reference import ImageRef

__all__ = [
    "AUTOMATIC_ARGS",
    "Dockerfile",
    "GlobalArg",
    "Parent",
    "Stage",
    "StageRef",
    "Usage",
    "load_dockerfile",
    "parse_dockerfile",
]

Usage = Literal["from", "copy", "mount"]
"""How a stage uses an image or another stage: as its base (``from``), as the
source of ``COPY --from`` (``copy``), or as ``RUN --mount=from=`` (``mount``)."""

AUTOMATIC_ARGS = (
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDOSVERSION",
    "BUILDARCH",
    "BUILDVARIANT",
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETOSVERSION",
    "TARGETARCH",
    "TARGETVARIANT",
    "TARGETSTAGE",
)
"""The global ARGs BuildKit sets itself; unknown here unless passed as build arguments."""

_SCRATCH = "scratch"
# How many variables a diagnostic names when a value depends on many.
_MAX_NAMED = 5


@dataclass(frozen=True, slots=True)
class StageRef:
    """A reference from one stage to another stage of the same Dockerfile."""

    index: int
    """0-based position of the referenced stage."""
    name: str | None
    """Its ``AS`` name (lower case, as BuildKit keeps it), if it has one."""
    kind: Usage
    line: int
    """Where the reference is written."""


@dataclass(frozen=True, slots=True)
class Parent:
    """An image from outside the Dockerfile that one of its stages needs.

    >>> df = parse_dockerfile("ARG V=3.12\\nFROM python:${V}-slim AS app")
    >>> p = df.parents[0]
    >>> p.kind, p.text, p.value, str(p.ref)
    ('from', 'python:${V}-slim', 'python:3.12-slim', 'docker.io/library/python:3.12-slim')
    """

    kind: Usage
    text: str
    """The reference as written, before expansion."""
    value: str | None
    """The reference after expansion; ``None`` when it depends on unknown values."""
    ref: ImageRef | None
    """The parsed reference; ``None`` when unresolved or not a valid reference."""
    stage: int
    """Index of the stage that needs the image."""
    line: int
    unresolved: tuple[str, ...] = ()
    """The variables whose missing or unknown values left this parent unresolved."""

    @property
    def resolved(self) -> bool:
        """Whether the reference could be worked out from the Dockerfile and build arguments."""
        return self.value is not None


@dataclass(frozen=True, slots=True)
class GlobalArg:
    """An ``ARG`` before the first ``FROM``, usable in ``FROM`` lines."""

    name: str
    default: str | None
    """The default as written (``None`` for ``ARG NAME`` without one)."""
    value: str | None
    """The value in effect: a build argument, else the expanded default;
    ``None`` when it has none or depends on unknown values."""
    line: int


@dataclass(frozen=True, slots=True)
class Stage:
    """One ``FROM`` and the instructions up to the next one."""

    index: int
    name: str | None
    """The ``AS`` name, lower-cased as BuildKit does; ``None`` without one."""
    base_text: str
    """What follows ``FROM`` as written (``python:${V}``, ``builder``, ``scratch``)."""
    base: Parent | StageRef | None
    """An external image, an earlier stage, or ``None`` for ``scratch``."""
    platform: str | None
    """The ``--platform`` value as written."""
    platform_value: str | None
    """The ``--platform`` value expanded, ``None`` when absent or unresolved."""
    line: int
    end_line: int
    instructions: tuple[Instruction, ...]
    """The stage's instructions, its ``FROM`` first."""
    uses: tuple[Parent | StageRef, ...]
    """Everything the stage needs, in order: its base, then ``COPY --from`` and mounts."""

    @property
    def is_scratch(self) -> bool:
        """Whether the stage starts from nothing (``FROM scratch``)."""
        return self.base is None

    @property
    def label(self) -> str:
        """The stage's name, or ``stage-N`` as BuildKit calls an unnamed one."""
        return self.name if self.name is not None else f"stage-{self.index}"


@dataclass(frozen=True, slots=True)
class Dockerfile:
    """The parsed form of one Dockerfile, under given build arguments.

    >>> df = parse_dockerfile('''
    ... FROM golang:1.22 AS build
    ... RUN --mount=type=cache,target=/root/.cache go build -o /app
    ... FROM gcr.io/distroless/static
    ... COPY --from=build /app /app
    ... COPY --from=busybox:1.36 /bin/sh /bin/sh
    ... ''')
    >>> [(p.kind, p.ref.familiar) for p in df.parents]
    [('from', 'golang:1.22'), ('from', 'gcr.io/distroless/static'), ('copy', 'busybox:1.36')]
    >>> df.final_stage.uses[1]
    StageRef(index=0, name='build', kind='copy', line=5)
    """

    path: str | None
    instructions: tuple[Instruction, ...]
    """Every instruction, global ARGs included, in order."""
    stages: tuple[Stage, ...]
    args: tuple[GlobalArg, ...]
    """The global ARGs, in order."""
    parents: tuple[Parent, ...]
    """Every external image any stage needs, in order of appearance."""
    diagnostics: tuple[Diagnostic, ...]
    directives: tuple[tuple[str, str], ...]
    """The parser directives found (``("syntax", "docker/dockerfile:1")``)."""
    escape: str
    """The escape character: ``\\`` or a backtick."""
    build_args: tuple[tuple[str, str], ...] = ()
    """The build arguments the file was read with, sorted."""

    @property
    def syntax(self) -> str | None:
        """The ``# syntax=`` frontend image, if declared."""
        return dict(self.directives).get("syntax")

    @property
    def final_stage(self) -> Stage:
        """The last stage: what ``docker build`` builds without ``--target``."""
        return self.stages[-1]

    def stage(self, target: str | int) -> Stage:
        """The stage called *target* (any case) or at index *target*.

        Raises :class:`~imagegraph.ImageGraphError` if there is none.
        """
        if isinstance(target, int):
            if 0 <= target < len(self.stages):
                return self.stages[target]
        else:
            wanted = target.lower()
            for stage in reversed(self.stages):
                if stage.name == wanted:
                    return stage
        names = ", ".join(stage.label for stage in self.stages)
        raise ImageGraphError(
            f"{self.path or 'Dockerfile'}: target stage {target!r} could not be found "
            f"(stages: {names})"
        )

    def required_stages(self, target: str | int | None = None) -> tuple[Stage, ...]:
        """The stages BuildKit builds for *target* (default: the final stage), in order."""
        start = self.final_stage if target is None else self.stage(target)
        needed = {start.index}
        todo = [start]
        while todo:
            stage = todo.pop()
            for use in stage.uses:
                if isinstance(use, StageRef) and use.index not in needed:
                    needed.add(use.index)
                    todo.append(self.stages[use.index])
        return tuple(stage for stage in self.stages if stage.index in needed)

    def parents_for(self, target: str | int | None = None) -> tuple[Parent, ...]:
        """The external images needed to build *target*: unused stages do not count.

        >>> df = parse_dockerfile("FROM node:20 AS dev\\nFROM nginx:1.27 AS prod")
        >>> [p.ref.familiar for p in df.parents_for("prod")]
        ['nginx:1.27']
        """
        stages = {stage.index for stage in self.required_stages(target)}
        return tuple(parent for parent in self.parents if parent.stage in stages)

    def __iter__(self) -> Iterator[Instruction]:
        return iter(self.instructions)


def parse_dockerfile(
    text: str | bytes,
    *,
    path: str | None = None,
    build_args: Mapping[str, str] | None = None,
) -> Dockerfile:
    """Parse Dockerfile *text* as BuildKit would, under *build_args*.

    *path* only names the file in errors and diagnostics. Bytes are decoded
    as UTF-8 (see the module notes for invalid UTF-8).

    Raises :class:`~imagegraph.DockerfileSyntaxError` for a file BuildKit
    refuses to build.

    >>> df = parse_dockerfile("ARG BASE=debian:12\\nFROM $BASE\\nRUN apt-get update")
    >>> df.stages[0].base.ref.familiar, [i.keyword for i in df.instructions]
    ('debian:12', ['ARG', 'FROM', 'RUN'])
    >>> parse_dockerfile("ARG BASE\\nFROM $BASE", build_args={"BASE": "alpine"}).parents[0].value
    'alpine'
    >>> parse_dockerfile("FROM $BASE", build_args={"BASE": "alpine"}).parents[0].resolved
    False
    """
    diagnostics: list[Diagnostic] = []
    if isinstance(text, bytes):
        text = _decode(text, path, diagnostics)
    return _Builder(text, path, dict(build_args or {}), diagnostics).build()


@dataclass(frozen=True, slots=True)
class Prepared:
    """What a Dockerfile's text says whatever the build arguments: the part a scan caches.

    ``parsed`` holds every instruction, or only an outline (see
    :mod:`imagegraph._fastpath`) when ``ends`` is set; ``error`` is the
    refusal when BuildKit would not read the file at all; ``diagnostics``
    come from decoding it. :func:`resolve_dockerfile` finishes the work for
    one build's arguments.
    """

    parsed: ParsedInstructions | None
    ends: tuple[int, ...] | None
    error: ImageGraphError | None
    diagnostics: tuple[Diagnostic, ...]

    __reduce__ = positional_reduce


def prepare_dockerfile(text: str | bytes, *, path: str | None = None) -> Prepared:
    """The build-argument-independent reading of *text*, fast where the file allows.

    >>> prepared = prepare_dockerfile("FROM a AS b\\nRUN make\\nFROM b")
    >>> resolve_dockerfile(prepared, build_args={}).stages[1].base
    StageRef(index=0, name='b', kind='from', line=3)
    """
    from imagegraph._fastpath import outline

    diagnostics: list[Diagnostic] = []
    if isinstance(text, bytes):
        try:
            text = _decode(text, path, diagnostics)
        except DockerfileSyntaxError as err:
            return Prepared(None, None, err, ())
    found = outline(text, path, packages=True)
    if found is not None:
        return Prepared(found.parsed, found.ends, None, tuple(diagnostics))
    try:
        # Not parse_instructions: it would try the fast route again, in vain.
        parsed = _LineParser(text, path, validate=True).run()
    except DockerfileSyntaxError as err:
        return Prepared(None, None, err, tuple(diagnostics))
    return Prepared(parsed, None, None, tuple(diagnostics))


def resolve_dockerfile(
    prepared: Prepared, *, build_args: Mapping[str, str] | None = None, path: str | None = None
) -> Dockerfile:
    """Stages and parents of a prepared Dockerfile under *build_args*.

    The result equals :func:`parse_dockerfile`'s except that, when the file
    was read as an outline, ``instructions`` (of the file and of each stage)
    holds only the instructions the stages, parents and installed packages
    come from: ``FROM``, ``ARG``, ``ENV``, ``COPY --from``, ``RUN`` with a
    mount from another image and ``RUN`` lines that may install a package.
    Raises what :func:`parse_dockerfile` raises.
    """
    if prepared.error is not None:
        raise prepared.error
    assert prepared.parsed is not None
    builder = _Builder("", path, dict(build_args or {}), list(prepared.diagnostics))
    return builder.build(prepared.parsed, prepared.ends)


def load_dockerfile(
    path: str | os.PathLike[str], *, build_args: Mapping[str, str] | None = None
) -> Dockerfile:
    """Read and parse the Dockerfile at *path*; see :func:`parse_dockerfile`.

    Raises :class:`~imagegraph.ImageGraphError` when the file cannot be read,
    and for what is not a regular file of at most 16 MiB (a FIFO would block).
    """
    from imagegraph._files import read_bytes

    name = os.fspath(path)
    try:
        data = read_bytes(name, root=None)  # named by the caller: anywhere, but a file
    except OSError as err:
        raise ImageGraphError(f"{name}: cannot read: {err.strerror or err}") from None
    return parse_dockerfile(data, path=name, build_args=build_args)


def _decode(data: bytes, path: str | None, diagnostics: list[Diagnostic]) -> str:
    # One byte-order mark is BuildKit's to drop, and the parser's (a second one
    # is part of the first keyword); only the check for UTF-16 looks past it.
    wide = _wide_encoding(data[3:] if data.startswith(b"\xef\xbb\xbf") else data)
    if wide is not None:
        # BuildKit reads the bytes as UTF-8 and fails on the first instruction
        # ("unknown instruction" with NULs in it); say what is wrong instead.
        raise DockerfileSyntaxError(
            f"the file looks like {wide}, which is not supported: Dockerfiles are read as "
            "UTF-8 (save it as UTF-8)",
            path=path,
            line=1,
            source="",
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        diagnostics.append(
            Diagnostic(
                "invalid-utf8",
                Severity.WARNING,
                "the file is not valid UTF-8; invalid bytes were read as U+FFFD",
                path,
                line,
            )
        )
        return data.decode("utf-8", "replace")


def _wide_encoding(data: bytes) -> str | None:
    """``"UTF-16 ..."``/``"UTF-32 ..."`` when *data* starts like text in those encodings:
    a byte-order mark, or (without one) NUL bytes in every other byte of the start."""
    if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return "UTF-32 (it starts with a UTF-32 byte-order mark)"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "UTF-16 (it starts with a UTF-16 byte-order mark)"
    head = data[:64]
    if len(head) < 4:
        return None
    even, odd = head[0::2], head[1::2]
    for nuls, others, order in ((odd, even, "little"), (even, odd, "big")):
        if 2 * nuls.count(0) >= len(nuls) and others.count(0) == 0:
            return f"UTF-16 ({order}-endian without a byte-order mark: every other byte is NUL)"
    return None


def _is_go_int(text: str) -> bool:
    # strconv.Atoi: an optional sign, then decimal digits only.
    digits = text[1:] if text[:1] in ("+", "-") else text
    return digits.isascii() and digits.isdigit()


class _Builder:
    """Works out stages and parents from the instructions, as dockerfile2llb does."""

    def __init__(
        self,
        text: str,
        path: str | None,
        build_args: dict[str, str],
        diagnostics: list[Diagnostic],
    ) -> None:
        self.text = text
        self.path = path
        self.build_args = build_args
        self.diagnostics = diagnostics
        self.env: dict[str, str | Unknown] = {}
        # Why a variable has no usable value, for the diagnostics, and for one that
        # depends on others, the variables at the root of it.
        self.missing: dict[str, str] = {}
        self.roots: dict[str, tuple[str, ...]] = {}
        self.escape = "\\"
        self.stage_count = 0
        # One budget for every expansion of the file (see imagegraph._shell).
        self.budget = Budget()
        self.limited = False

    def error(self, message: str, instruction: Instruction) -> DockerfileSyntaxError:
        return DockerfileSyntaxError(
            message,
            path=self.path,
            line=instruction.line,
            end_line=instruction.end_line,
            source=instruction.original,
        )

    def note(self, code: str, severity: Severity, message: str, line: int) -> None:
        self.diagnostics.append(Diagnostic(code, severity, message, self.path, line))

    def build(
        self, parsed: ParsedInstructions | None = None, ends: tuple[int, ...] | None = None
    ) -> Dockerfile:
        """*parsed* is the file's instructions (parsed here when ``None``); *ends*
        the last line of each stage when *parsed* holds only an outline."""
        if parsed is None:
            parsed = parse_instructions(self.text, path=self.path)
        self.escape = parsed.escape
        self.diagnostics.extend(parsed.diagnostics)
        instructions = parsed.instructions
        for name in AUTOMATIC_ARGS:
            if name in self.build_args:
                self.env[name] = self.build_args[name]
            else:
                self.env[name] = UNKNOWN
                self.missing[name] = "is set by BuildKit from the build's platform and target"

        first_from = next((i for i, ins in enumerate(instructions) if ins.keyword == "FROM"), None)
        head = instructions if first_from is None else instructions[:first_from]
        global_args: list[GlobalArg] = []
        for instruction in head:
            if instruction.keyword != "ARG":
                raise self.error("no build stage in current context", instruction)
            global_args.extend(self.global_arg(instruction))
        if first_from is None:
            raise self.error("dockerfile contains no stages to build", instructions[-1])

        # Stage boundaries and names first: COPY --from may name any stage.
        spans: list[tuple[int, int]] = []
        for i in range(first_from, len(instructions)):
            if instructions[i].keyword == "FROM":
                spans.append((i, i + 1))
            else:
                spans[-1] = (spans[-1][0], i + 1)
        self.stage_count = len(spans)
        names: dict[str, int] = {}
        for index, (begin, _) in enumerate(spans):
            args = instructions[begin].args
            if len(args) == 3:
                name = go_lower(args[2])
                if name in names:
                    self.note(
                        "duplicate-stage-name",
                        Severity.WARNING,
                        f"stage name {name!r} is used more than once; references go to "
                        "the last one",
                        instructions[begin].line,
                    )
                names[name] = index

        stages: list[Stage] = []
        parents: list[Parent] = []
        earlier: dict[str, int] = {}
        for index, (begin, end) in enumerate(spans):
            body = instructions[begin:end]
            last = body[-1].end_line if ends is None else ends[index]
            stage = self.stage(index, body, earlier, names, last)
            stages.append(stage)
            parents.extend(use for use in stage.uses if isinstance(use, Parent))
            if stage.name is not None:
                earlier[stage.name] = index

        self.diagnostics.sort(key=lambda d: (d.line or 0, d.severity.rank, d.code))
        return Dockerfile(
            path=self.path,
            instructions=instructions,
            stages=tuple(stages),
            args=tuple(global_args),
            parents=tuple(parents),
            diagnostics=tuple(self.diagnostics),
            directives=tuple(parsed.directives.items()),
            escape=parsed.escape,
            build_args=tuple(sorted(self.build_args.items())),
        )

    # -- global ARGs -------------------------------------------------------------
    def global_arg(self, instruction: Instruction) -> Iterator[GlobalArg]:
        for word in instruction.args:
            name, has_default, default = word.partition("=")
            value: str | None
            self.roots.pop(name, None)
            if name in self.build_args:
                value = self.build_args[name]
                self.env[name] = value
                self.missing.pop(name, None)
            elif has_default:
                result = self.expand(default, instruction, what=f"ARG {name}")
                if result.limited:
                    value = None
                    self.env[name] = UNKNOWN
                    self.missing[name] = "was not expanded: its value passed a limit"
                elif result.unresolved:
                    value = None
                    self.env[name] = UNKNOWN
                    self.missing[name] = self.depends(name, result.unresolved)
                else:
                    value = result.value
                    self.env[name] = value
                    self.missing.pop(name, None)
            else:
                current = self.env.get(name)
                value = current if isinstance(current, str) else None
                if current is None:
                    self.missing[name] = (
                        "is declared without a default and no build argument sets it"
                    )
            yield GlobalArg(name, default if has_default else None, value, instruction.line)

    def reason(self, name: str) -> str:
        return self.missing.get(name, "is not declared as a global ARG before the first FROM")

    def depends(self, name: str, unresolved: tuple[str, ...]) -> str:
        """Why *name*, which depends on *unresolved*, has no value: the variables it
        reads and the unknown ones at the root of them, never the whole chain (the
        text of that can grow exponentially: ``ARG B=$A$A``, ``ARG C=$B$B``, ...)."""
        roots = tuple(
            dict.fromkeys(
                root for var in unresolved[:_MAX_NAMED] for root in self.roots.get(var, (var,))
            )
        )[:_MAX_NAMED]
        self.roots[name] = roots
        explained = ", ".join(f"{root} (which {self.reason(root)})" for root in roots)
        if roots == unresolved:
            return f"depends on {explained}"
        shown = ", ".join(unresolved[:_MAX_NAMED]) + (
            ", ..." if len(unresolved) > _MAX_NAMED else ""
        )
        return f"depends on {shown}, unknown because of {explained}"

    def expand(self, text: str, instruction: Instruction, *, what: str) -> _Expanded:
        """*text* expanded in the global scope; past a limit of the file's budget, an
        ``expansion-limit`` error and a result that depends on every variable it names."""
        try:
            result = expand(text, self.env, self.escape, budget=self.budget)
        except ExpansionLimit as err:
            # Once the file's budget is spent every later expansion stops too: say
            # so once, and again only where a parent depends on it.
            if not self.limited or instruction.keyword == "FROM":
                shown = text if len(text) <= 80 else text[:77] + "..."
                self.note(
                    "expansion-limit",
                    Severity.ERROR,
                    f"{what} {shown!r} is not expanded: {err}; its value, and any later one "
                    "past the limit, counts as unknown",
                    instruction.line,
                )
            self.limited = True
            return _Expanded("", _names(text, self.escape), limited=True)
        except ShellError as err:
            raise self.error(f"failed to process {text!r}: {err}", instruction) from None
        return _Expanded(result.value, result.unresolved)

    # -- stages ----------------------------------------------------------------
    def stage(
        self,
        index: int,
        body: tuple[Instruction, ...],
        earlier: dict[str, int],
        names: dict[str, int],
        end_line: int,
    ) -> Stage:
        head = body[0]
        args = head.args
        name = go_lower(args[2]) if len(args) == 3 else None
        base_text = args[0]
        base = self.base(index, head, base_text, earlier)
        uses: list[Parent | StageRef] = [] if base is None else [base]

        platform = head.flag("platform")
        platform_value: str | None = None
        if platform is not None:
            result = self.expand(platform, head, what="FROM --platform")
            if result.limited:
                pass
            elif result.unresolved:
                self.report_unresolved(head, "--platform", platform, result.unresolved, quiet=True)
            elif not result.value:
                raise self.error(f"empty platform value from expression {platform}", head)
            else:
                platform_value = result.value

        for instruction in body[1:]:
            if instruction.keyword == "COPY":
                source = instruction.flag("from")
                if source and (use := self.copy_source(index, instruction, source, names)):
                    uses.append(use)
            elif instruction.keyword == "RUN":
                for spec in instruction.flag_values("mount"):
                    source = _mount_from(spec)
                    if source and (use := self.mount_source(index, instruction, source, names)):
                        uses.append(use)
        return Stage(
            index=index,
            name=name,
            base_text=base_text,
            base=base,
            platform=platform,
            platform_value=platform_value,
            line=head.line,
            end_line=end_line,
            instructions=body,
            uses=tuple(uses),
        )

    def base(
        self, index: int, head: Instruction, text: str, earlier: dict[str, int]
    ) -> Parent | StageRef | None:
        result = self.expand(text, head, what="FROM")
        if result.unresolved:
            if not result.limited:
                self.report_unresolved(head, "FROM", text, result.unresolved)
            return Parent("from", text, None, None, index, head.line, result.unresolved)
        value = result.value
        if not value:
            raise self.error(f"base name ({text}) should not be blank", head)
        if value in earlier:
            return StageRef(earlier[value], value, "from", head.line)
        if value == _SCRATCH:
            return None
        hint = ""
        if value.lower() in earlier:
            hint = f"; FROM matches stage names case-sensitively, the stage is {value.lower()!r}"
        return Parent("from", text, value, self.reference(value, head, hint), index, head.line)

    def copy_source(
        self, index: int, instruction: Instruction, source: str, names: dict[str, int]
    ) -> Parent | StageRef | None:
        try:
            literal = expand(source, {}, self.escape).value == source
        except ShellError:
            literal = False
        if not literal:
            raise self.error(
                "variable expansion is not supported for --from, define a new stage with "
                "FROM using ARG from global scope as a workaround",
                instruction,
            )
        if _is_go_int(source):
            position = int(source)
            if not 0 <= position < self.stage_count:
                raise self.error(f"invalid stage index {position}", instruction)
            return self.stage_use(index, instruction, position, None, "copy")
        target = names.get(go_lower(source))
        if target is not None:
            return self.stage_use(index, instruction, target, go_lower(source), "copy")
        if source == _SCRATCH:
            return None  # BuildKit's implicit stage of scratch is empty: nothing pulled
        return Parent(
            "copy", source, source, self.reference(source, instruction), index, instruction.line
        )

    def mount_source(
        self, index: int, instruction: Instruction, source: str, names: dict[str, int]
    ) -> Parent | StageRef | None:
        target = names.get(go_lower(source))
        if target is not None:
            return self.stage_use(index, instruction, target, go_lower(source), "mount")
        if source == _SCRATCH:
            return None
        return Parent(
            "mount", source, source, self.reference(source, instruction), index, instruction.line
        )

    def stage_use(
        self, index: int, instruction: Instruction, target: int, name: str | None, kind: Usage
    ) -> StageRef:
        if target >= index:
            what = "itself" if target == index else "a stage defined after it"
            verb = "copies from" if kind == "copy" else "mounts"
            self.note(
                "stage-order",
                Severity.ERROR,
                f"stage {index} {verb} {what} (stage {name or target}); BuildKit fails "
                "when this stage is built",
                instruction.line,
            )
        return StageRef(target, name, kind, instruction.line)

    def reference(self, value: str, instruction: Instruction, hint: str = "") -> ImageRef | None:
        try:
            return ImageRef.parse(value)
        except InvalidReference as err:
            self.note(
                "invalid-reference",
                Severity.ERROR,
                f"{instruction.keyword} {value}: {err.reason}{hint}",
                instruction.line,
            )
            return None

    def report_unresolved(
        self,
        instruction: Instruction,
        what: str,
        text: str,
        names: tuple[str, ...],
        *,
        quiet: bool = False,
    ) -> None:
        automatic = all(name in AUTOMATIC_ARGS for name in names)
        if quiet and automatic:
            # --platform=$BUILDPLATFORM is the normal way to write a
            # cross-compiling stage, not something to warn about.
            return
        why = "; ".join(f"{name} {self.reason(name)}" for name in names[:_MAX_NAMED])
        if len(names) > _MAX_NAMED:
            why += f"; and {len(names) - _MAX_NAMED} more"
        self.note(
            "unresolved-arg",
            Severity.WARNING,
            f"{what} {text if len(text) <= 120 else text[:117] + '...'} cannot be resolved: {why}",
            instruction.line,
        )


@dataclass(frozen=True, slots=True)
class _Expanded:
    value: str
    unresolved: tuple[str, ...]
    limited: bool = False
    """Not expanded: a limit of the file's budget was reached."""


class _AllUnknown(dict[str, "str | Unknown"]):
    """An environment in which every variable is unknown: expands nothing."""

    def get(self, key: str, default: object = None) -> str | Unknown:
        return UNKNOWN


def _names(text: str, escape: str) -> tuple[str, ...]:
    """The variables *text* refers to (at least one where an expansion passed a limit)."""
    try:
        names = expand(text, _AllUnknown(), escape).unresolved
    except ShellError:
        names = ()
    return names or (text,)


def _mount_from(spec: str) -> str:
    """The ``from=`` of a ``--mount`` value (the last one wins, as in BuildKit)."""
    found = ""
    for item in csv_fields(spec):
        key, has_value, value = item.partition("=")
        if has_value and go_lower(key) == "from":
            found = value
    return found
