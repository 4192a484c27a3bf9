"""Fleet hygiene findings: what to fix in a fleet's Dockerfiles, each with its file and line.

:func:`findings` reads a scanned :class:`~imagegraph.graph.ImageGraph` and
reports, for the builds of this fleet:

``unpinned-base`` (warning)
    A ``FROM`` of ``latest``, or of no tag (which is ``latest``): of an
    upstream image, or of an image this fleet builds itself (naming the
    newest versioned tag that build has, when it has one).
``digest-required`` (error)
    An external image (``FROM``, ``COPY --from``, ``RUN --mount=from=``)
    pulled without a digest where the ``[lint]`` policy asks for digests.
``base-drift`` (warning)
    An external base used at several releases (``debian:11`` and
    ``debian:12``; ``3.12-slim`` and ``3.12-bookworm`` are one release):
    each use of a release older than the newest, with how many builds use
    it and the newest, and how many images are built on each. A floating tag
    is its line (``python:3`` is not older than ``python:3.12``); a Debian or
    Ubuntu codename is a release of its distribution, compared with plain
    numbers only in ``debian`` and ``ubuntu`` themselves (``base:bookworm`` and
    ``base:jammy`` are two distributions, not two releases).
``straggler`` (warning)
    A ``FROM`` of an older version of an image this fleet builds in a newer
    version of the same flavour (``app-base:3.11-bookworm`` while
    ``app-base:3.12-bookworm`` is built here).
``unpinned-copy-source`` (warning)
    ``COPY --from`` (or ``RUN --mount=from=``) of an external image at
    ``latest`` or with no tag.
``deep-chain`` (warning)
    A build with more builds of this fleet stacked below it (itself
    included) than the policy's ``max_depth``; reported once, at the first
    build past the limit on each chain.
``isolated-build`` (info)
    A build that builds on nothing of this fleet and that nothing here uses.

Advice (the tag ``straggler`` and ``base-drift`` move to, the tag
``unpinned-base`` suggests) is what a maintainer would take: a stable release
only (never a pre-release such as ``3.15.0a1`` or ``-rc``, a nightly or edge
build, a date-stamped snapshot such as ``alpine:20260805`` or
``bookworm-20260803``, nor Debian testing: :data:`DEBIAN_STABLE`); for a user
of a long-term support line (Ubuntu 24.04, Java 21, Node 22), another LTS line;
written as the user writes theirs (``php:8.3-apache`` -> ``php:8.5-apache``,
``bookworm`` -> ``trixie``); with "and pin its digest" for a user who pins one.
A build whose own tags name the version it is built on
(``maven:3.9-eclipse-temurin-17`` FROM ``eclipse-temurin:17-jdk``) chose that
line: it is not told to leave it.

The scan's own warnings and errors (a Dockerfile BuildKit refuses, a tag
built twice, ...) are findings too, with their diagnostic code
(:data:`SCAN_CODES`), so a lint run hides nothing the scan found. A
``missing-dockerfile`` is placed where the build is declared, when that is
known: the file it names is not there to point at.

One finding per thing to fix: a use of a tag several builds carry (one per
architecture, a Linux and a Windows entry) is checked once, through the first
(in declaration order) of the builds of the tag that use is linked to. Many
findings of one kind in one tree read as one, with a count and every place in
its ``facts``, once there are :data:`AGGREGATE_AT` or more:
``undeclared-dockerfile`` files beside the builds of one declaration source
(``paths``), ``isolated-build`` builds one source declares (``images``,
``paths``, ``parents_of``; not for convention fleets, where each directory is
its own declaration), and a scan warning given in the same words at several
lines of one tree, such as ``unbuilt-tag`` at each use of a tag the fleet does
not build (``places``, ``images``).

The analysis is linear in the size of the graph: one pass over the edges,
one over the builds in topological order.

>>> from imagegraph import ImageBuild, ImageGraph, ImageRef
>>> graph = ImageGraph.from_builds([
...     ImageBuild("base", "base/Dockerfile", "base", (ImageRef.parse("acme/base:1"),),
...                dockerfile_inline="FROM debian:latest"),
...     ImageBuild("app", "app/Dockerfile", "app", dockerfile_inline="FROM acme/base:1"),
... ])
>>> [(f.code, f.image, f.where) for f in findings(graph)]
[('unpinned-base', 'base', 'base/Dockerfile:1')]
"""

from __future__ import annotations

import fnmatch
import functools
import posixpath
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Self

from imagegraph._pickling import paused_gc
from imagegraph.diagnostics import Severity
from imagegraph.errors import InvalidReference
from imagegraph.inventory import ConfigError, ImageBuild, Inventory
from imagegraph.reference import ImageRef

if TYPE_CHECKING:
    import pandas as pd

    from imagegraph.graph import Edge, ImageGraph

__all__ = [
    "AGGREGATE_AT",
    "DEBIAN_STABLE",
    "DEFAULT_MAX_DEPTH",
    "IGNORABLE_CODES",
    "LINT_CODES",
    "RULES",
    "SCAN_CODES",
    "Finding",
    "Findings",
    "LintPolicy",
    "Rule",
    "findings",
    "release_of",
    "rule",
]

DEFAULT_MAX_DEPTH = 5
"""Builds of this fleet stacked on each other (an OS base, a runtime, an
application base, the application, and one more) before ``deep-chain``."""


@dataclass(frozen=True, slots=True)
class Rule:
    """What a finding code means, for reports and SARIF ``rules``.

    >>> rule("straggler").name
    'Straggler'
    """

    code: str
    """The stable, kebab-case id (``unpinned-base``)."""
    name: str
    """The code in PascalCase (``UnpinnedBase``), as SARIF tools show it."""
    severity: Severity
    """The severity its findings have."""
    summary: str
    """One sentence: what is wrong."""
    description: str
    """Why it matters."""
    help: str
    """What to do about it."""


def _rule(code: str, severity: Severity, summary: str, description: str, help: str) -> Rule:
    name = "".join(part.capitalize() for part in code.split("-"))
    return Rule(code, name, severity, summary, description, help)


RULES: Mapping[str, Rule] = {
    r.code: r
    for r in (
        _rule(
            "unpinned-base",
            Severity.WARNING,
            "A base image is referenced by latest or without a tag.",
            "latest moves with every push: two builds of the same Dockerfile start from "
            "different images, a rebuild is not reproducible and an old image cannot be "
            "built again as it was. For an image this fleet builds, the child takes whatever "
            "was pushed last instead of a version it was tested with.",
            "Pin a release tag (debian:12, python:3.12-slim) or a digest; for an image of "
            "this fleet, build the child FROM a versioned tag of it (the message names one "
            "when the image has one; otherwise give it one).",
        ),
        _rule(
            "digest-required",
            Severity.ERROR,
            "An external image is pulled by tag only, and the lint policy requires a digest.",
            "A tag can be moved to other content at any time; a digest cannot. The [lint] "
            "require_digest policy of imagegraph.toml asks for digests on external images "
            "(all of them, or those matching its patterns).",
            "Write the reference as name:tag@sha256:<digest> (docker buildx imagetools "
            "inspect name:tag prints the digest) and let a dependency bot move it.",
        ),
        _rule(
            "base-drift",
            Severity.WARNING,
            "An external base image is used at several releases across the fleet.",
            "Every release in use is one more base to patch, test and rebuild for; images "
            "on the older release miss what the newer one fixed.",
            "Move the uses of older releases to the newest release the fleet uses; the "
            "message says how many builds and images are on the older release and on the "
            "newest. A floating tag (python:3) is on the line of its releases (python:3.12), "
            "and a Debian or Ubuntu codename compares only with its own distribution's.",
        ),
        _rule(
            "straggler",
            Severity.WARNING,
            "A build is based on an older version of an image this fleet builds in a "
            "newer version.",
            "The fleet maintains a newer line of the same image; builds left on the older "
            "line keep it alive and miss what the newer one brings.",
            "Build the image FROM the newer tag this fleet builds (named in the message), "
            "or retire it from the old line on purpose.",
        ),
        _rule(
            "unpinned-copy-source",
            Severity.WARNING,
            "COPY --from (or RUN --mount from=) an external image at latest or without a tag.",
            "The files copied change whenever the upstream image is pushed, without any "
            "change to the Dockerfile, and the build is not reproducible.",
            "Pin the source image to a release tag or a digest.",
        ),
        _rule(
            "deep-chain",
            Severity.WARNING,
            "More builds of this fleet are stacked below an image than the policy allows.",
            "Each layer of builds is one more wave a base change must rebuild in sequence, "
            "and one more place for a fix to wait on another team.",
            "Fold an intermediate image into its parent or child, or build from a "
            "shallower base; [lint] max_depth in imagegraph.toml sets the limit.",
        ),
        _rule(
            "isolated-build",
            Severity.INFO,
            "A build that builds on nothing of this fleet and that nothing here uses.",
            "Patches to the platform's own base images never reach it; that is fine for a "
            "standalone image and a gap for one that should follow the platform.",
            "Build it on one of the fleet's bases if it should follow them; if it is "
            "standalone on purpose, there is nothing to do.",
        ),
    )
}
"""The finding codes :func:`findings` computes, with what they mean."""

LINT_CODES: tuple[str, ...] = tuple(RULES)
"""Every code :func:`findings` computes (scan diagnostics keep their own codes)."""

SCAN_CODES: tuple[str, ...] = (
    "bake-remote-context", "bake-unknown-attribute",
    "bake-unknown-variable", "bake-unresolved", "compose-env-arg", "compose-extends",
    "compose-include", "compose-remote-context", "compose-unresolved", "copy-from-image",
    "digest-pinned-fleet-image", "dockerfile-error", "duplicate-stage-name", "duplicate-tag",
    "empty-continuation-line", "expansion-limit", "expansion-too-large", "file-too-large",
    "inferred-name", "invalid-reference", "invalid-utf8", "library-arch-source",
    "library-git-fetch", "matrix-too-large", "missing-dockerfile", "not-regular-file",
    "outside-root", "platform-not-built", "stage-order", "tag-variants-limit", "unbuilt-tag",
    "undeclared-dockerfile",
    "unknown-context-target", "unknown-target", "unreadable-directory", "unresolved-arg",
)  # fmt: skip
"""The codes of the scan's diagnostics (:attr:`ImageGraph.diagnostics`), which
:func:`findings` carries as findings and ``[lint] ignore`` may name too."""

IGNORABLE_CODES: frozenset[str] = frozenset(LINT_CODES) | frozenset(SCAN_CODES)
"""What ``[lint] ignore`` may name: :data:`LINT_CODES` and :data:`SCAN_CODES`."""


def unknown_code_message(code: str) -> str:
    """Why *code* cannot be ignored, with the codes that can.

    >>> unknown_code_message("unpined-base")[:50]
    "'unpined-base', which is no finding code (finding "
    """
    return (
        f"{code!r}, which is no finding code (finding codes: {', '.join(LINT_CODES)}; "
        f"scan diagnostic codes: {', '.join(SCAN_CODES)})"
    )


def rule(code: str) -> Rule:
    """The :class:`Rule` of *code*; for a scan diagnostic's code, a generic one.

    >>> rule("dockerfile-error").summary
    'Reported while reading the fleet: dockerfile-error.'
    """
    found = RULES.get(code)
    if found is not None:
        return found
    return _rule(
        code,
        Severity.WARNING,
        f"Reported while reading the fleet: {code}.",
        "imagegraph reports what it cannot read or finds suspicious in the fleet's "
        "declarations and Dockerfiles; every command shows these diagnostics.",
        "The message says what is wrong and where; fix the file it names.",
    )


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing to fix (or to know) about the fleet, with where it is written.

    ``image`` is the build the finding is about (``None`` for a scan
    diagnostic about a file no build uses); ``path`` is relative to the
    repository root; ``line`` is 1-based, or ``None`` for the whole file.
    ``edge`` is the use of a parent behind the finding, when there is one,
    and ``facts`` the finding's particulars as JSON-ready values (the
    reference, a release and the newest with their counts, the chain, ...).

    >>> f = Finding("unpinned-base", Severity.WARNING, "app", "app/Dockerfile", 1,
    ...             "FROM debian has no tag")
    >>> str(f)
    'app/Dockerfile:1: warning[unpinned-base]: app: FROM debian has no tag'
    """

    code: str
    severity: Severity
    image: str | None
    path: str | None
    line: int | None
    message: str
    edge: Edge | None = None
    facts: Mapping[str, object] = field(default_factory=dict, hash=False)

    @property
    def where(self) -> str:
        """``path:line``, the path alone, or ``""`` when the finding has no file."""
        where = self.path or ""
        return f"{where}:{self.line}" if where and self.line is not None else where

    @property
    def rule(self) -> Rule:
        """What the code means (:func:`rule`)."""
        return rule(self.code)

    def __str__(self) -> str:
        head = f"{self.where}: " if self.where else ""
        image = f"{self.image}: " if self.image else ""
        return f"{head}{self.severity.value}[{self.code}]: {image}{self.message}"


def _sort_key(finding: Finding) -> tuple[str, int, str, str, str]:
    return (
        finding.path or "",
        finding.line or 0,
        finding.code,
        finding.image or "",
        finding.message,
    )


class Findings(tuple[Finding, ...]):
    """The findings of a fleet, sorted by file, line, code and image.

    >>> found = Findings([
    ...     Finding("isolated-build", Severity.INFO, "b", "b/Dockerfile", 1, "..."),
    ...     Finding("unpinned-base", Severity.WARNING, "a", "a/Dockerfile", 1, "..."),
    ... ])
    >>> [f.image for f in found], [f.code for f in found.at_or_above("warning")]
    (['a', 'b'], ['unpinned-base'])
    >>> found.counts()
    {'error': 0, 'warning': 1, 'info': 1}
    """

    __slots__ = ()

    def __new__(cls, findings: Iterable[Finding] = ()) -> Self:
        return super().__new__(cls, sorted(findings, key=_sort_key))

    def at_or_above(self, severity: Severity | str) -> Findings:
        """The findings at least as severe as *severity* (``"warning"``: warnings and errors)."""
        rank = Severity(severity).rank
        return Findings(f for f in self if f.severity.rank <= rank)

    def with_code(self, *codes: str) -> Findings:
        """The findings of these codes."""
        wanted = set(codes)
        return Findings(f for f in self if f.code in wanted)

    def counts(self) -> dict[str, int]:
        """How many findings of each severity, most severe first."""
        counts = {severity.value: 0 for severity in Severity}
        for finding in self:
            counts[finding.severity.value] += 1
        return counts

    @property
    def worst(self) -> Severity | None:
        """The most severe severity among the findings; ``None`` when there are none."""
        return min((f.severity for f in self), key=lambda s: s.rank, default=None)

    def __repr__(self) -> str:
        plural = {"error": "errors", "warning": "warnings", "info": "info"}
        counts = ", ".join(f"{n} {s if n == 1 else plural[s]}" for s, n in self.counts().items())
        return f"<Findings {counts}>"

    def to_pandas(self) -> pd.DataFrame:
        """One row per finding; see :func:`imagegraph.frames.findings_frame`.
        Needs ``imagegraph[pandas]``."""
        from imagegraph.frames import findings_frame

        return findings_frame(self)

    def _repr_html_(self) -> str:
        from imagegraph.render.html import findings_html

        return findings_html(self)


@dataclass(frozen=True, slots=True)
class LintPolicy:
    """What the fleet asks of its Dockerfiles; ``[lint]`` in ``imagegraph.toml``.

    *require_digest* is ``True`` (every external image needs a digest), a
    tuple of repository patterns (``"docker.io/*"``, ``"ghcr.io/acme/*"``,
    ``"python"``; shell-style, matched against the full repository name and
    the familiar one, ``*`` crossing ``/``), or ``False``. Images this fleet
    builds never need a digest: a child pinned to its parent's digest would
    not pick up the parent's rebuild. *max_depth* is the most builds of the
    fleet stacked below and including one image. *ignore* lists codes not to
    report: finding codes (:data:`LINT_CODES`) and the scan's diagnostic codes
    (:data:`SCAN_CODES`). *source* says where the policy was read from.

    >>> policy = LintPolicy(require_digest=("docker.io/*",))
    >>> policy.digest_pattern(ImageRef.parse("debian:12")), policy.digest_pattern(
    ...     ImageRef.parse("ghcr.io/acme/tool:1"))
    ('docker.io/*', None)
    """

    require_digest: bool | tuple[str, ...] = False
    max_depth: int = DEFAULT_MAX_DEPTH
    ignore: tuple[str, ...] = ()
    source: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.max_depth, bool) or not isinstance(self.max_depth, int):
            raise ConfigError(f"max_depth must be a whole number, not {self.max_depth!r}")
        if self.max_depth < 1:
            raise ConfigError(f"max_depth must be at least 1, not {self.max_depth}")
        if not isinstance(self.require_digest, bool | tuple) or (
            isinstance(self.require_digest, tuple)
            and not all(isinstance(p, str) and p for p in self.require_digest)
        ):
            raise ConfigError(
                "require_digest must be True, False or a tuple of repository patterns, "
                f"not {self.require_digest!r}"
            )
        if not isinstance(self.ignore, tuple) or not all(isinstance(c, str) for c in self.ignore):
            raise ConfigError(f"ignore must be a tuple of codes, not {self.ignore!r}")
        unknown = [code for code in self.ignore if code not in IGNORABLE_CODES]
        if unknown:
            raise ConfigError(f"cannot ignore {unknown_code_message(unknown[0])}")

    @classmethod
    def from_inventory(cls, inventory: Inventory) -> LintPolicy:
        """The policy of ``[lint]`` in the fleet's config (the defaults without one)."""
        return cls.from_mapping(inventory.lint)

    @classmethod
    def from_mapping(cls, table: Mapping[str, object]) -> LintPolicy:
        """The policy from a ``[lint]`` table as :attr:`Inventory.lint` holds it.

        >>> LintPolicy.from_mapping({"max_depth": 3, "ignore": ["isolated-build"]})
        LintPolicy(require_digest=False, max_depth=3, ignore=('isolated-build',), source=None)
        """
        source = table.get("source")
        source = source if isinstance(source, str) else None
        path, line = _source_place(source)

        def wrong(message: str) -> ConfigError:
            return ConfigError(message, path=path, line=line)

        unknown = sorted(set(table) - {"require_digest", "max_depth", "ignore", "source"})
        if unknown:
            raise wrong(
                f"[lint] has unknown key {unknown[0]!r} (known: ignore, max_depth, require_digest)"
            )
        digest = table.get("require_digest", False)
        if not isinstance(digest, bool):
            if not isinstance(digest, list | tuple) or not all(
                isinstance(p, str) and p for p in digest
            ):
                raise wrong(
                    "'require_digest' must be true, false, or a list of repository patterns "
                    f'such as ["docker.io/*", "ghcr.io/*"], not {digest!r}'
                )
            digest = tuple(digest)
        ignore = table.get("ignore", ())
        if not isinstance(ignore, list | tuple) or not all(isinstance(c, str) for c in ignore):
            raise wrong(f"'ignore' must be a list of strings, not {ignore!r}")
        unknown = [code for code in ignore if code not in IGNORABLE_CODES]
        if unknown:
            raise wrong(f"'ignore' names {unknown_code_message(unknown[0])}")
        depth = table.get("max_depth", DEFAULT_MAX_DEPTH)
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
            raise wrong(f"'max_depth' must be a whole number of at least 1, not {depth!r}")
        return cls(require_digest=digest, max_depth=depth, ignore=tuple(ignore), source=source)

    def digest_pattern(self, ref: ImageRef) -> str | None:
        """The pattern that asks *ref* for a digest (``"*"`` when all are asked), or ``None``."""
        if self.require_digest is True:
            return "*"
        if not self.require_digest:
            return None
        for pattern in self.require_digest:
            if fnmatch.fnmatchcase(ref.name, pattern) or fnmatch.fnmatchcase(
                ref.familiar_name, pattern
            ):
                return pattern
        return None


def _source_place(source: str | None) -> tuple[str | None, int | None]:
    """``("imagegraph.toml", 3)`` for a policy read from ``imagegraph.toml:3``."""
    if not source:
        return None, None
    path, _, line = source.rpartition(":")
    if path and line.isdigit():
        return path, int(line)
    return source, None


# -- releases ---------------------------------------------------------------

_CODENAMES: Mapping[str, tuple[str, tuple[int, ...]]] = {
    # Debian
    "jessie": ("debian", (8,)), "stretch": ("debian", (9,)), "buster": ("debian", (10,)),
    "bullseye": ("debian", (11,)), "bookworm": ("debian", (12,)), "trixie": ("debian", (13,)),
    "forky": ("debian", (14,)), "duke": ("debian", (15,)),
    # Ubuntu
    "xenial": ("ubuntu", (16, 4)), "bionic": ("ubuntu", (18, 4)), "focal": ("ubuntu", (20, 4)),
    "jammy": ("ubuntu", (22, 4)), "kinetic": ("ubuntu", (22, 10)), "lunar": ("ubuntu", (23, 4)),
    "mantic": ("ubuntu", (23, 10)), "noble": ("ubuntu", (24, 4)), "oracular": ("ubuntu", (24, 10)),
    "plucky": ("ubuntu", (25, 4)), "questing": ("ubuntu", (25, 10)),
    "resolute": ("ubuntu", (26, 4)),
}  # fmt: skip
_CODENAME_OF = {found: name for name, found in _CODENAMES.items()}
DEBIAN_STABLE = 13
"""Debian's current stable release (trixie). A newer Debian release (forky, 14;
duke, 15) is testing or unstable until it is released: a build may choose it,
lint never advises it. Update this when Debian releases forky."""
_FAMILY = {"debian": "Debian", "ubuntu": "Ubuntu"}
# A codename names a Debian release (bookworm is 12) or an Ubuntu one (jammy is
# 22.04): one number for Debian, two for Ubuntu.
_FAMILY_DEPTH = {"debian": 1, "ubuntu": 2}
# How many leading numbers make a release, by the repository's last path
# component: Debian 12.5 is a point release of 12 and Node 20.18 a release of
# Node 20, where Python 3.12 and Alpine 3.20 are releases of their own.
_RELEASE_DEPTH: Mapping[str, int] = {
    "debian": 1, "node": 1, "eclipse-temurin": 1, "amazoncorretto": 1, "openjdk": 1,
    "postgres": 1, "ubuntu": 2,
}  # fmt: skip
_VERSION_RE = re.compile(r"v?(\d+(?:\.\d+)*)(.*)", re.ASCII | re.DOTALL)
# A word of a tag that marks what is not a stable release: a pre-release
# (3.15.0a1, 8.5.0RC1, 1.2-beta.2, 26-ea, 11.0.0-M1), a development or nightly build, a
# rolling suite (Debian sid, testing, unstable, experimental, rc-buggy; Ubuntu
# devel, rolling; Alpine edge). Such a tag may be built on, never advised.
_UNSTABLE_WORD = re.compile(
    r"(?:a|b|alpha|beta|rc|pre|preview|dev|devel|snapshot|nightly|edge|canary|ea|insiders"
    r"|latest|testing|unstable|sid|experimental|rolling|buggy)\d*|m\d+",
    re.ASCII | re.IGNORECASE,
)
# A date stamp (YYYYMMDD): alpine:20260805 is a snapshot of edge, and
# debian:bookworm-20260803 or ubuntu:noble-20260801 a snapshot of its release.
_DATE = re.compile(r"(?:19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])", re.ASCII)
_WORDS = re.compile(r"[-_.+]")


@dataclass(frozen=True, slots=True)
class _Version:
    numbers: tuple[int, ...]
    flavour: str
    family: str = ""
    """``debian`` or ``ubuntu`` for a codename (``bookworm``, ``jammy``), ``""`` for a
    number: versions of different families never compare."""
    written: str | None = None
    """The numbers as the tag writes them (``22.04``, ``1.31.2``); ``None`` for a codename."""
    snapshot: bool = False
    """Not a stable release, so never advised: a pre-release (``3.15.0a1``,
    ``8.5-rc``), a date-stamped snapshot (``bookworm-20260803``), a nightly or
    edge build, or (with :func:`_tag_version`) Debian testing (``forky``)."""
    distribution: str = ""
    """``debian`` or ``ubuntu`` when the version is one of that distribution's
    releases (a codename, or a number of ``debian``/``ubuntu`` themselves)."""
    lts: bool = False
    """A long-term support line (:data:`_LTS_LINES`): its users are advised LTS
    lines only (Ubuntu 22.04 -> 24.04, never 24.10; Java 21 -> 25, never 26)."""

    @property
    def shape(self) -> tuple[bool, int]:
        """How the tag writes its version: a codename or how many numbers. Advice
        keeps it (``php:8.3-apache`` -> ``php:8.5-apache``, never ``8.5.9-apache``)."""
        return (self.written is None, len(self.numbers))


def _ubuntu_lts(numbers: tuple[int, ...]) -> bool:
    """An Ubuntu LTS: the April release of an even year (22.04, 24.04, 26.04)."""
    return len(numbers) >= 2 and numbers[0] % 2 == 0 and numbers[1] == 4


def _java_lts(numbers: tuple[int, ...]) -> bool:
    """A Java LTS feature release: 8, 11, then every fourth from 17 (21, 25, 29)."""
    major = numbers[0]
    return major in (8, 11) or (major >= 17 and (major - 17) % 4 == 0)


_LTS_LINES: Mapping[str, Callable[[tuple[int, ...]], bool]] = {
    "ubuntu": _ubuntu_lts,
    # Node: even majors become LTS
    "node": lambda numbers: numbers[0] % 2 == 0,
    **dict.fromkeys(
        ("eclipse-temurin", "amazoncorretto", "openjdk", "ibm-semeru-runtimes", "ibmjava",
         "sapmachine", "azul-zulu", "zulu-openjdk", "graalvm-ce"),
        _java_lts,
    ),
}  # fmt: skip
"""Repositories (by their last path component) whose releases include long-term
support lines, and which releases are: a user of an LTS is advised LTS only."""


def _snapshot(flavour: str) -> bool:
    """True when what follows a tag's version says it is no stable release."""
    return any(_UNSTABLE_WORD.fullmatch(w) or _DATE.fullmatch(w) for w in _WORDS.split(flavour))


@functools.lru_cache(maxsize=1 << 14)
def _version(tag: str | None) -> _Version | None:
    """The version at the head of *tag* and the rest (its flavour), or ``None``.

    A Debian or Ubuntu codename is that distribution's version, in its family:
    what it means beside a plain number depends on the repository (:func:`_tag_version`).
    A date stamp alone (``alpine:20260805``, an edge snapshot) is no version.

    >>> v = _version("3.15.0a1-bookworm")
    >>> v.numbers, v.flavour, v.snapshot
    ((3, 15, 0), 'a1-bookworm', True)
    >>> _version("20260805") is None, _version("bookworm-20260803").snapshot
    (True, True)
    """
    if tag is None or tag == "latest":
        return None
    match = _VERSION_RE.fullmatch(tag)
    if match is not None:
        written = match.group(1)
        if _DATE.fullmatch(written):
            return None
        numbers = tuple(int(n) for n in written.split("."))
        flavour = match.group(2).lstrip("-_.")
        return _Version(numbers, flavour, "", written, _snapshot(match.group(2)))
    head, _, rest = tag.partition("-")
    codename = _CODENAMES.get(head)
    if codename is not None:
        family, numbers = codename
        testing = family == "debian" and numbers[0] > DEBIAN_STABLE
        lts = family == "ubuntu" and _ubuntu_lts(numbers)
        return _Version(numbers, rest, family, None, testing or _snapshot(rest), family, lts)
    return None


@functools.lru_cache(maxsize=1 << 12)
def _distribution(path: str) -> str:
    """``debian`` or ``ubuntu`` for the Docker Hub library repository of that
    distribution (``library/debian``, or a mirror of it: ``dockerhub/library/debian``),
    whose codename tags are exactly its version tags; ``""`` for any other."""
    last = path.rpartition("/")[2]
    if last in _FAMILY and (path == f"library/{last}" or path.endswith(f"/library/{last}")):
        return last
    return ""


def _tag_version(ref: ImageRef, tag: str | None) -> _Version | None:
    """The version of *tag* as a tag of *ref*'s repository: in ``debian`` and
    ``ubuntu`` themselves a codename is the plain number (``debian:bookworm`` is
    ``debian:12``); elsewhere it stays in its family and compares with nothing
    but codenames of the same distribution (``base:bookworm`` is no older than
    ``base:jammy``, nor the same as ``base:12``)."""
    return _repository_version(ref.path, tag)


@functools.lru_cache(maxsize=1 << 14)
def _repository_version(path: str, tag: str | None) -> _Version | None:
    version = _version(tag)
    if version is None:
        return None
    distribution = _distribution(path)
    if version.family and version.family == distribution:
        return replace(version, family="")
    if version.family:
        return version
    testing = distribution == "debian" and version.numbers[0] > DEBIAN_STABLE
    lines = _LTS_LINES.get(path.rpartition("/")[2])
    lts = lines is not None and lines(version.numbers)
    if distribution or lts:
        snapshot = version.snapshot or testing
        return replace(version, snapshot=snapshot, distribution=distribution, lts=lts)
    return version


_MIGRATION_MAJORS = frozenset({"tomcat", "jetty"})
"""Repositories (by their last path component) whose major versions implement
different specifications, maintained side by side: Tomcat 9 serves
``javax.servlet``, 10 and 11 ``jakarta.servlet``; Jetty 9 and 10 ``javax``, 11
and 12 ``jakarta``. Moving between majors is a migration of the application,
not an update, so advice stays within the user's major (``tomcat:9.0.80`` ->
``tomcat:9.0.100``, never ``11``)."""


def _line(path: str, version: _Version) -> int | None:
    """The major version a user of *version* in repository *path* is held to
    (:data:`_MIGRATION_MAJORS`); ``None`` where releases of every major compare.

    >>> _line("library/tomcat", _version("9-jdk21")), _line("library/php", _version("8.3"))
    (9, None)
    """
    if version.written is None or path.rpartition("/")[2] not in _MIGRATION_MAJORS:
        return None
    return version.numbers[0]


def _advisable(target: _Version, user: _Version) -> bool:
    """True when *target* may be advised to a user of *user*: a stable release
    (no pre-release, snapshot or Debian testing), and an LTS for an Ubuntu LTS
    user (never an interim release).

    >>> lts, interim = _version("jammy"), _version("plucky")
    >>> _advisable(interim, lts), _advisable(lts, interim), _advisable(_version("forky"), lts)
    (False, True, False)
    """
    return not target.snapshot and (target.lts or not user.lts)


@dataclass(frozen=True, slots=True)
class _Release:
    """The release a tag names: its family, its numbers (the key) and how to say it."""

    family: str
    numbers: tuple[int, ...]
    label: str
    """``3.12``, ``12``, ``22.04``."""
    codename: str | None
    """``bookworm`` for a Debian or Ubuntu release, when known."""

    def describe(self, name: str = "") -> str:
        """``debian 12 (bookworm)``, ``python 3.12``; a codename of another
        repository with its distribution: ``base bookworm (Debian 12)``. Without
        *name*, the release alone: ``12 (bookworm)``."""
        head = f"{name} " if name else ""
        if self.family:
            return f"{head}{self.codename} ({_FAMILY[self.family]} {self.label})"
        codename = f" ({self.codename})" if self.codename else ""
        return f"{head}{self.label}{codename}"

    @property
    def short(self) -> str:
        """``3.12``, ``12``; ``bookworm`` for a codename of another repository."""
        return self.codename if self.family and self.codename else self.label


def _release(ref: ImageRef) -> _Release | None:
    version = _tag_version(ref, ref.tag)
    if version is None:
        return None
    family = version.family
    last = ref.path.rpartition("/")[2]
    depth = _FAMILY_DEPTH[family] if family else _RELEASE_DEPTH.get(last, 2)
    numbers = version.numbers[:depth]
    distribution = family or _distribution(ref.path)
    if version.written is not None:
        label = ".".join(version.written.split(".")[:depth])
    elif distribution == "ubuntu" and len(numbers) == 2:
        label = f"{numbers[0]}.{numbers[1]:02d}"
    else:
        label = ".".join(str(n) for n in numbers)
    codename = _CODENAME_OF.get((distribution, numbers)) if distribution else None
    return _Release(family, numbers, label, codename)


def release_of(ref: ImageRef) -> str | None:
    """The release *ref*'s tag names: its leading version, cut to the repository's
    release numbers, or its Debian/Ubuntu codename's version; ``None`` for
    ``latest`` and tags without a version.

    >>> [release_of(ImageRef.parse(t)) for t in (
    ...     "python:3.12-slim", "python:3.12.4-bookworm", "debian:bookworm-slim", "debian:12.5",
    ...     "ubuntu:jammy", "node:20.18-alpine", "nginx:latest", "envoyproxy/envoy:v1.31.2",
    ...     "mcr.microsoft.com/devcontainers/base:jammy")]
    ['3.12', '3.12', '12', '12', '22.04', '20', None, '1.31', '22.04']
    """
    release = _release(ref)
    return None if release is None else release.label


def _newer(version: tuple[int, ...], than: tuple[int, ...]) -> bool:
    """True when *version* is a later version than *than*, and not the same line
    (``3.12`` is not newer than ``3``: the floating tag of its own line)."""
    return version > than and version[: len(than)] != than


# -- the analysis -------------------------------------------------------------


@paused_gc()
def findings(graph: ImageGraph, policy: LintPolicy | None = None) -> Findings:
    """The hygiene findings of *graph*'s fleet under *policy* (default: the
    ``[lint]`` table of the fleet's ``imagegraph.toml``, or the defaults).

    See the module documentation for the codes. Findings whose code is in
    ``policy.ignore`` are left out; scan diagnostics that are warnings or
    errors are included with their own codes.

    >>> from imagegraph import ImageBuild, ImageGraph, ImageRef
    >>> graph = ImageGraph.from_builds([
    ...     ImageBuild("tool", "tool/Dockerfile", "tool",
    ...                dockerfile_inline="FROM alpine:3.20\\nCOPY --from=busybox:latest /bin/sh /sh"),
    ... ])
    >>> for finding in findings(graph):
    ...     print(finding.code, finding.line, finding.severity.value)
    isolated-build 1 info
    unpinned-copy-source 2 warning
    """
    return _Lint(graph, policy or LintPolicy.from_inventory(graph.inventory)).run()


_NewestKey = tuple[str, str, str, tuple[bool, int], bool, int | None]


@dataclass(slots=True)
class _BaseUse:
    """One FROM of an external image, for base-drift."""

    child: str
    edge: Edge
    ref: ImageRef
    written: str
    release: _Release
    """The release (``3.12``)."""
    version: _Version
    """The version as the tag writes it (``3.12.4``), with its flavour."""
    flavour: str
    exempt: bool
    """A use on purpose: a matrix variant naming the release, or an older line of ours."""


class _Lint:
    def __init__(self, graph: ImageGraph, policy: LintPolicy) -> None:
        self.graph = graph
        self.policy = policy
        self.nx = graph.nx
        # networkx's own dicts, read directly: its views cost more than the
        # analysis on a fleet of 160,000 images (as in imagegraph.plan).
        self.nodes: dict[str, dict[str, Any]] = self.nx._node  # type: ignore[attr-defined]
        self.pred: dict[str, dict[str, dict[str, Any]]] = self.nx._pred  # type: ignore[attr-defined]
        self.succ: dict[str, dict[str, dict[str, Any]]] = self.nx._succ  # type: ignore[attr-defined]
        self.aliases = graph.inventory.aliases
        self.out: list[Finding] = []
        self.ignored = set(policy.ignore)
        # (repository, family, flavour, shape, LTS only) -> the newest stable version
        # this fleet builds, its tag and build: what a straggler is advised
        self.newest: dict[_NewestKey, tuple[tuple[int, ...], ImageRef, str]] = {}
        self.built_repositories: set[str] = set()
        for build in graph.builds:
            for tag in build.tags:
                self.built_repositories.add(tag.name)
                version = _tag_version(tag, tag.tag)
                if version is None or version.snapshot:
                    continue
                # An LTS is also what an LTS user may be advised
                for lts_only in (False, True) if version.lts else (False,):
                    key = (
                        tag.name, version.family, version.flavour, version.shape, lts_only,
                        _line(tag.path, version),
                    )  # fmt: skip
                    known = self.newest.get(key)
                    if known is None or version.numbers > known[0]:
                        self.newest[key] = (version.numbers, tag, build.name)
        self.older_line: dict[str, bool] = {}
        # Where the scan says COPY --from names no stage (a typo, most likely): no
        # unpinned-copy-source there, unless the policy ignores that diagnostic.
        self.copy_from_image = {
            (d.path, d.line)
            for d in graph.diagnostics
            if d.code == "copy-from-image" and d.code not in self.ignored
        }
        # (repository, family) -> its uses as a base: releases of one family compare
        self.base_uses: dict[tuple[str, str, int | None], list[_BaseUse]] = {}
        self._order: list[str] | None = None
        # a tag several builds carry -> each of them -> its place among them
        self.owner_ranks: dict[ImageRef, dict[str, int]] = {}

    def run(self) -> Findings:
        for build in self.graph.builds:
            self.check_edges(build)
        self.check_drift()
        self.check_depth_and_isolation()
        self.add_diagnostics()
        return Findings(f for f in self.out if f.code not in self.ignored)

    def add(
        self,
        code: str,
        image: str | None,
        path: str | None,
        line: int | None,
        message: str,
        edge: Edge | None = None,
        severity: Severity | None = None,
        **facts: object,
    ) -> None:
        self.out.append(
            Finding(code, severity or RULES[code].severity, image, path, line, message, edge, facts)
        )

    # -- one pass over the edges ------------------------------------------------

    def parse(self, text: str | None) -> ImageRef | None:
        if not text:
            return None
        try:
            return ImageRef.parse(text, aliases=self.aliases)
        except InvalidReference:
            return None

    def check_edges(self, build: ImageBuild) -> None:
        child = build.name
        # A tag several builds carry (one per architecture, a Linux and a Windows
        # entry) links one use of it to each build serving the child: the use is
        # checked once, through the first of those builds (in declaration order)
        # that this use links, whatever else links the child to the others.
        shared: dict[tuple[object, ...], tuple[int, str, Edge, ImageRef]] = {}
        for parent, data in self.pred[child].items():
            internal = self.nodes[parent]["kind"] == "build"
            for edge in data["uses"]:
                if edge.kind == "context":
                    continue
                if internal:
                    ref = self.parse(edge.value)
                    if ref is None:
                        continue
                    # A digest pins a build's tag (debian:12@sha256:...): the tag is its.
                    tag = replace(ref, digest=None)
                    owners = self.graph.tag_owners(tag)
                    if len(owners) > 1:
                        rank = self.owner_rank(tag, owners).get(parent)
                        if rank is None:
                            continue  # a named context pointing at a build: no tag written
                        use = (edge.kind, edge.path, edge.line, edge.stage, edge.text, edge.value)
                        known = shared.get(use)
                        if known is None or rank < known[0]:
                            shared[use] = (rank, parent, edge, ref)
                        continue
                    if parent not in owners:
                        continue  # a named context pointing at a build: no tag written
                    self.check_use(build, parent, edge, ref, edge.value or ref.familiar, True)
                else:
                    ref = self.nodes[parent]["ref"]
                    written = edge.value if self.parse(edge.value) == ref else ref.familiar
                    assert written is not None
                    self.check_use(build, parent, edge, ref, written, False)
        for _, parent, edge, ref in shared.values():
            self.check_use(build, parent, edge, ref, edge.value or ref.familiar, True)

    def owner_rank(self, tag: ImageRef, owners: tuple[str, ...]) -> dict[str, int]:
        """Each build of *tag* (several: :meth:`ImageGraph.tag_owners`) -> its place
        among them, computed once per tag."""
        rank = self.owner_ranks.get(tag)
        if rank is None:
            rank = self.owner_ranks[tag] = {owner: i for i, owner in enumerate(owners)}
        return rank

    def check_use(
        self,
        build: ImageBuild,
        parent: str,
        edge: Edge,
        ref: ImageRef,
        written: str,
        internal: bool,
    ) -> None:
        if edge.kind == "from":
            self.check_base(build, parent, edge, ref, written, internal)
        elif not internal:
            self.check_copy_source(build, edge, ref, written)

    def check_base(
        self,
        build: ImageBuild,
        parent: str,
        edge: Edge,
        ref: ImageRef,
        written: str,
        internal: bool,
    ) -> None:
        child = build.name
        digest_asked = not internal and self.check_digest(build, edge, ref, written)
        if ref.digest is None and ref.tag == "latest" and not digest_asked:
            stage = _stage(edge)
            tagless = not _has_tag(written)
            how = "has no tag, so it is latest" if tagless else "is the latest tag"
            suggested: str | None = None
            if internal:
                how = "has no tag, so it is the latest" if tagless else "is the latest tag"
                suggested = self.versioned_tag(parent, ref)
                advice = (
                    f"build {child} FROM {suggested}, a versioned tag {parent} already has"
                    if suggested is not None
                    else f"give {parent} a versioned tag and build {child} FROM that tag"
                )
                message = (
                    f"FROM {written}{stage} {how} of {parent}, an image this fleet builds: "
                    f"{child} gets whatever {parent} pushed last, and an older {child} cannot be "
                    f"built again as it was; {advice}"
                )
            else:
                message = (
                    f"FROM {written}{stage} {how}: each build may start from a different "
                    f"{ref.familiar_name}, and rebuilds are not reproducible; pin a release tag "
                    f"({ref.familiar_name}:<version>) or a digest"
                )
            facts: dict[str, Any] = {"reference": written, "parent": parent, "internal": internal}
            if suggested is not None:
                facts["suggested"] = suggested
            self.add("unpinned-base", child, edge.path, edge.line, message, edge, **facts)
        if internal or ref.name in self.built_repositories:
            self.check_straggler(build, parent, edge, ref, written)
        else:
            version = _tag_version(ref, ref.tag)
            release = _release(ref)
            if version is not None and release is not None:
                exempt = self.is_older_line(build) or _variant_names(build, ref)
                use = _BaseUse(child, edge, ref, written, release, version, version.flavour, exempt)
                key = (ref.name, release.family, _line(ref.path, version))
                self.base_uses.setdefault(key, []).append(use)

    def versioned_tag(self, parent: str, ref: ImageRef) -> str | None:
        """The newest versioned tag build *parent* is pushed as, in *ref*'s repository
        if it has one there (``acme/base:1.0`` beside ``acme/base:latest``), else in
        any; ``None`` when it has none. Of the newest release, its tag that names
        the release (``alpine:3.24`` rather than ``alpine:3.24.1``, which a rebuild
        for 3.24.2 leaves behind); never a pre-release or date-stamped snapshot."""
        best: tuple[bool, tuple[int, ...], int, bool, str] | None = None
        for tag in self.graph.build(parent).tags:
            version = _tag_version(tag, tag.tag)
            release = _release(tag)
            if (
                version is None
                or release is None
                or version.snapshot
                or parent not in self.graph.tag_owners(tag)
            ):
                continue  # no stable version, or children of that tag get another build
            key = (
                tag.name == ref.name, release.numbers, -len(version.numbers),
                version.written is not None, tag.familiar,
            )  # fmt: skip
            if best is None or key > best:
                best = key
        return best[4] if best is not None else None

    def check_digest(self, build: ImageBuild, edge: Edge, ref: ImageRef, written: str) -> bool:
        """Report an external image without the digest the policy asks for; True if asked."""
        if ref.digest is not None or "digest-required" in self.ignored:
            return False
        pattern = self.policy.digest_pattern(ref)
        if pattern is None:
            return False
        what = "every external image" if pattern == "*" else f"images matching {pattern!r}"
        source = f" ({self.policy.source})" if self.policy.source else ""
        pinned = _retagged(written, ref)
        message = (
            f"{_use(edge, written)}{_stage(edge)} pulls by tag only, and the lint "
            f"policy{source} requires a digest for {what}: write {pinned}@sha256:<digest> "
            f"(docker buildx imagetools inspect {pinned} prints it)"
        )
        self.add(
            "digest-required", build.name, edge.path, edge.line, message, edge,
            reference=written, pattern=pattern,
        )  # fmt: skip
        return True

    def check_copy_source(self, build: ImageBuild, edge: Edge, ref: ImageRef, written: str) -> None:
        if self.check_digest(build, edge, ref, written):
            return
        if ref.digest is not None or ref.tag != "latest":
            return
        if (edge.path, edge.line) in self.copy_from_image:
            return  # the scan says it: --from names no stage, likely a typo
        how = "has no tag, so it is latest" if not _has_tag(written) else "is the latest tag"
        message = (
            f"{_use(edge, written)}{_stage(edge)} {how}: the files it takes change "
            f"whenever {ref.familiar_name} is pushed, with no change to this Dockerfile; pin "
            f"a release tag ({ref.familiar_name}:<version>) or a digest"
        )
        self.add(
            "unpinned-copy-source", build.name, edge.path, edge.line, message, edge,
            reference=written,
        )  # fmt: skip

    # -- stragglers -----------------------------------------------------------

    def is_older_line(self, build: ImageBuild) -> bool:
        """True when *build* is itself an older line of an image the fleet builds newer
        (``app-base:3.11-bookworm`` beside ``3.12-bookworm``): its older parents are meant."""
        known = self.older_line.get(build.name)
        if known is None:
            known = False
            for tag in build.tags:
                version = _tag_version(tag, tag.tag)
                newest = self.newest_for(tag, version) if version else None
                if version and newest and _newer(newest[0], version.numbers):
                    known = True
                    break
            self.older_line[build.name] = known
        return known

    def newest_for(
        self, ref: ImageRef, version: _Version
    ) -> tuple[tuple[int, ...], ImageRef, str] | None:
        """The newest stable tag this fleet builds that a user of *ref* (at *version*)
        may be advised: of its flavour, written as it is (``8.3`` -> ``8.5``, not
        ``8.5.9``), an LTS for an Ubuntu LTS user."""
        return self.newest.get(
            (
                ref.name, version.family, version.flavour, version.shape, version.lts,
                _line(ref.path, version),
            )
        )  # fmt: skip

    def check_straggler(
        self, build: ImageBuild, parent: str, edge: Edge, ref: ImageRef, written: str
    ) -> None:
        version = _tag_version(ref, ref.tag)
        if version is None:
            return
        newest = self.newest_for(ref, version)
        if newest is None or not _newer(newest[0], version.numbers):
            return
        if self.is_older_line(build) or _variant_names(build, ref):
            return
        numbers, tag, owner = newest
        if owner == build.name or _names_parent_line(build, ref, version, numbers):
            return
        child = build.name
        pinned = ref.digest is not None
        move = f"{tag.familiar} and pin its digest" if pinned else tag.familiar
        message = (
            f"FROM {written}{_stage(edge)} is an older version of {tag.familiar}, which "
            f"this fleet also builds ({owner}): build {child} FROM {move}, so it "
            "stays on the line the fleet maintains"
        )
        facts: dict[str, Any] = {
            "reference": written, "parent": parent, "newer": tag.familiar, "newer_build": owner,
        }  # fmt: skip
        if pinned:
            facts["pin_digest"] = True
        self.add("straggler", child, edge.path, edge.line, message, edge, **facts)

    # -- drift ---------------------------------------------------------------

    def check_drift(self) -> None:
        if not self.base_uses:
            return
        below = self.images_below()
        # the major: None outside _MIGRATION_MAJORS, where a repository has no other
        for (_, family, _), uses in sorted(
            self.base_uses.items(), key=lambda item: (item[0][0], item[0][1], item[0][2] or 0)
        ):
            keys = {use.release.numbers for use in uses}
            if len(keys) < 2:
                continue
            # What may be advised: the newest stable release in use (no pre-release,
            # snapshot or Debian testing) and, for an Ubuntu LTS user, the newest LTS.
            stable = [u.release.numbers for u in uses if not u.version.snapshot]
            lts = [u.release.numbers for u in uses if not u.version.snapshot and u.version.lts]
            newest_stable, newest_lts = max(stable, default=None), max(lts, default=None)
            # A release that is a prefix of the target is its line's floating tag
            # (python:3 beside python:3.12): the same line, no drift.
            drifting: list[tuple[_BaseUse, tuple[int, ...]]] = []
            for use in uses:
                target_key = newest_lts if use.version.lts else newest_stable
                if (
                    use.exempt
                    or target_key is None
                    or not _newer(target_key, use.release.numbers)
                    or _names_parent_line(
                        self.graph.build(use.child), use.ref, use.version, target_key
                    )
                ):
                    continue
                drifting.append((use, target_key))
            if not drifting:
                continue
            # Per release: the builds on it and those whose image is on it (their final
            # stage is FROM it), then how many builds and images, and that in words.
            counted: dict[tuple[int, ...], tuple[set[str], set[str]]] = {}
            shown: dict[tuple[int, ...], _Release] = {}
            for use in uses:
                users, based = counted.setdefault(use.release.numbers, (set(), set()))
                users.add(use.child)
                if self.nodes[use.child].get("base") == use.edge.parent:
                    based.add(use.child)
                shown.setdefault(use.release.numbers, use.release)
            usage: dict[tuple[int, ...], tuple[int, int, str]] = {}
            for key, (users, based) in counted.items():
                n, m = len(users), sum(below[b] for b in based)
                on = f" with {_count(m, 'image')} on it" if m else ", in build stages only"
                usage[key] = (n, m, f"used by {_count(n, 'build')}{on}")
            # Releases in all, a floating tag counted in the line it follows (3 in 3.12):
            # in sorted order, the keys that start with a key come right after it.
            order = sorted(keys)
            lines = sum(
                1
                for i, key in enumerate(order)
                if i + 1 == len(order) or order[i + 1][: len(key)] != key
            )
            ref0 = uses[0].ref
            name = ref0.familiar_name
            of = f"{_FAMILY[family]} releases of {name}" if family else f"{name} releases"
            one = f"{_FAMILY[family]} {name}" if family else name
            # The tag to move to: one the fleet uses at the target release, of the
            # user's flavour and written as the user writes theirs (8.3 -> 8.5).
            suggestion: dict[tuple[tuple[int, ...], str, tuple[bool, int]], ImageRef] = {}
            for u in uses:
                if not u.version.snapshot:
                    suggestion.setdefault((u.release.numbers, u.flavour, u.version.shape), u.ref)
            newest = max(keys)
            for use, target_key in drifting:
                target = shown[target_key]
                target_builds, target_images, target_usage = usage[target_key]
                same = suggestion.get((target_key, use.flavour, use.version.shape))
                instead = (
                    same.familiar.partition("@")[0]
                    if same is not None
                    else f"a {name} {target.short} tag"
                )
                pinned = use.ref.digest is not None
                if pinned:
                    instead += " and pin its digest"
                # Say which newest it is when a newer release is in use but not advised.
                kind = ""
                if newest != target_key:
                    kind = "LTS " if use.version.lts else "stable "
                release = shown[use.release.numbers]
                builds, images, own_usage = usage[use.release.numbers]
                message = (
                    f"FROM {use.written}{_stage(use.edge)} is {release.describe(name)}, "
                    f"{own_usage}; the newest {kind}of the {lines} {of} this fleet builds on "
                    f"is {target.describe()}, {target_usage}: move it to {instead} so the "
                    f"fleet has one {one} to patch"
                )
                facts: dict[str, Any] = {
                    "repository": name, "reference": use.written, "release": release.label,
                    "builds": builds, "images": images, "target": target.label,
                    "target_builds": target_builds, "target_images": target_images,
                    "release_count": lines,
                }  # fmt: skip
                if same is not None:
                    facts["suggested"] = same.familiar.partition("@")[0]
                if pinned:
                    facts["pin_digest"] = True
                self.add(
                    "base-drift", use.child, use.edge.path, use.edge.line, message, use.edge,
                    **facts,
                )  # fmt: skip

    def images_below(self) -> dict[str, int]:
        """Each build -> the images whose filesystem starts from it: itself and, through
        each image's base (what its final stage is FROM, a tree), all images on it."""
        below: dict[str, int] = {}
        for node in reversed(self.order()):
            if self.nodes[node]["kind"] != "build":
                continue
            count = below[node] = below.get(node, 0) + 1
            base = self.nodes[node].get("base")
            if base is not None and self.nodes[base]["kind"] == "build":
                below[base] = below.get(base, 0) + count
        return below

    def order(self) -> list[str]:
        """Every node, parents before children (computed once)."""
        if self._order is None:
            import networkx as nx

            self._order = list(nx.topological_sort(self.nx))
        return self._order

    # -- depth and isolation ---------------------------------------------------

    def check_depth_and_isolation(self) -> None:
        nodes, pred, succ = self.nodes, self.pred, self.succ
        depth: dict[str, int] = {}
        deepest_parent: dict[str, str | None] = {}
        order = [n for n in self.order() if nodes[n]["kind"] == "build"]
        for node in order:
            best, via = 0, None
            for parent in pred[node]:
                d = depth.get(parent, 0)  # external images count for nothing
                if d > best or (d == best and via is not None and parent < via):
                    best, via = d, parent
            depth[node] = best + 1
            deepest_parent[node] = via
        height: dict[str, int] = {}
        for node in reversed(order):
            height[node] = 1 + max((height.get(c, 0) for c in succ[node]), default=0)
        limit = self.policy.max_depth
        for node in order:
            if depth[node] == limit + 1 and "deep-chain" not in self.ignored:
                self.report_depth(node, depth, deepest_parent, height)
        if "isolated-build" in self.ignored:
            return
        # A build whose Dockerfile was not read or parsed is undetermined (its
        # parents are unknown, not none): it is not said to build FROM scratch.
        unreadable = {
            d.path
            for d in self.graph.diagnostics
            if d.code in ("missing-dockerfile", "dockerfile-error", "unknown-target")
        }
        undetermined = self.graph.undetermined
        isolated: dict[str, list[ImageBuild]] = {}
        for build in self.graph.builds:
            node = build.name
            if succ[node] or node in undetermined or build.dockerfile in unreadable:
                continue
            if any(nodes[p]["kind"] == "build" for p in pred[node]):
                continue
            isolated.setdefault(_source_file(build.origin), []).append(build)
        for source, builds in sorted(isolated.items()):
            if len(builds) < AGGREGATE_AT or source in ("", "convention"):
                for build in builds:
                    self.report_isolated(build)
            else:
                self.report_isolated_group(source, builds)

    def report_depth(
        self,
        node: str,
        depth: Mapping[str, int],
        deepest_parent: Mapping[str, str | None],
        height: Mapping[str, int],
    ) -> None:
        chain = [node]
        parent = deepest_parent[node]
        while parent is not None:
            chain.append(parent)
            parent = deepest_parent[parent]
        chain.reverse()
        edge = _first_edge(self.graph.node_edges(chain[-2], node))
        deepest = depth[node] + height[node] - 1
        further = f"; chains through it reach {deepest} builds" if deepest > depth[node] else ""
        limit = self.policy.max_depth
        message = (
            f"{depth[node]} builds of this fleet are stacked here ({' -> '.join(chain)}), "
            f"more than the limit of {limit}{further}: a change to {chain[0]} rebuilds them "
            f"one after another; fold an intermediate image into its neighbour or build "
            f"{node} on a shallower base ([lint] max_depth sets the limit)"
        )
        self.add(
            "deep-chain", node, edge.path if edge else self.graph.build(node).dockerfile,
            edge.line if edge else None, message, edge,
            depth=depth[node], max_depth=limit, chain=chain, deepest=deepest,
        )  # fmt: skip

    def report_isolated(self, build: ImageBuild) -> None:
        node = build.name
        parents = sorted(self.pred[node])
        base = self.nodes[node].get("base")
        edge = _first_edge(self.graph.node_edges(base, node)) if base is not None else None
        if edge is None:
            edge = _first_edge(e for p in parents for e in self.graph.node_edges(p, node))
        names = [self.nodes[p]["ref"].familiar for p in parents]
        what = (
            f"builds only on images from outside this fleet ({', '.join(names)})"
            if names
            else "builds FROM scratch"
        )
        message = (
            f"{what} and no build here uses it, so a patch to the fleet's own bases never reaches it; build it on one of them "
            "if it should follow them, or leave it if it is standalone on purpose"
        )
        self.add(
            "isolated-build", node, build.dockerfile, edge.line if edge else None, message,
            edge, parents=names,
        )  # fmt: skip

    def report_isolated_group(self, source: str, builds: list[ImageBuild]) -> None:
        """One finding for the isolated builds one declaration source declares (a
        library manifest's images from scratch or on outside images alone): their
        count and names, every build, Dockerfile and parent in ``facts``."""
        builds = sorted(builds, key=lambda b: (b.dockerfile, b.name))
        names = [b.name for b in builds]
        listed = _listed(names)
        first = builds[0]
        edge = _first_edge(
            e for p in sorted(self.pred[first.name]) for e in self.graph.node_edges(p, first.name)
        )
        parents_of = {
            b.name: [self.nodes[p]["ref"].familiar for p in sorted(self.pred[b.name])]
            for b in builds
        }
        if any(parents_of.values()):
            how = (
                "build only on images from outside this fleet"
                if all(parents_of.values())
                else "build FROM scratch or only on images from outside this fleet"
            )
            message = (
                f"{len(builds)} builds declared in {source} ({listed}) {how} and no "
                "build here uses them, so a patch to the fleet's own bases never reaches "
                "them; build them on one of those bases if they should follow them, or "
                "leave them if they are standalone on purpose"
            )
        else:
            message = (
                f"{len(builds)} builds declared in {source} ({listed}) build FROM "
                "scratch and no build here uses them: roots of their own, which a patch to "
                "the fleet's bases never reaches; leave them if they are base images on "
                "purpose"
            )
        self.add(
            "isolated-build", None, first.dockerfile, edge.line if edge else None, message,
            None, count=len(builds), source=source, images=names,
            paths=[b.dockerfile for b in builds], parents_of=parents_of,
        )  # fmt: skip

    # -- the scan's own diagnostics --------------------------------------------

    def add_diagnostics(self) -> None:
        owners: dict[str, list[ImageBuild]] = {}
        for build in self.graph.builds:
            owners.setdefault(build.dockerfile, []).append(build)
        grouped: dict[tuple[str, Severity, str], list[str]] = {}
        # warnings at a line, by their words: the same words at many places read as one
        repeated: dict[tuple[str, str], list[Finding]] = {}
        for d in self.graph.diagnostics:
            if d.severity is Severity.INFO:
                continue
            builds = owners.get(d.path, []) if d.path else []
            if d.code in _AGGREGATED and d.path and d.line is None and not builds:
                grouped.setdefault((d.code, d.severity, d.message), []).append(d.path)
                continue
            if d.code == "missing-dockerfile" and d.line is None:
                declared = _declaration(builds, d.message)
                if declared is not None:
                    # Where to fix it: the file that is not there has no line to show.
                    name, path, line = declared
                    message = f"{d.path}: {d.message}"
                    self.add(d.code, name, path, line, message, None, d.severity, dockerfile=d.path)
                    continue
            image = builds[0].name if builds else None
            finding = Finding(d.code, d.severity, image, d.path, d.line, d.message)
            if d.severity is Severity.WARNING and d.path and d.line is not None:
                repeated.setdefault((d.code, d.message), []).append(finding)
            else:
                self.out.append(finding)
        trees = _Trees(self.graph.builds) if grouped or repeated else None
        for (code, severity, message), paths in grouped.items():
            assert trees is not None
            for group in trees.group(paths):
                self.add_group(code, severity, message, group)
        for same in repeated.values():
            if len(same) < AGGREGATE_AT:
                self.out.extend(same)
                continue
            assert trees is not None
            places: dict[tuple[str, str], list[Finding]] = {}
            for finding in same:
                assert finding.path is not None
                places.setdefault(trees.key(finding.path), []).append(finding)
            for key in sorted(places):
                self.add_places(places[key], key)

    def add_places(self, same: list[Finding], key: tuple[str, str]) -> None:
        """One finding for a warning the scan gave in the same words at
        :data:`AGGREGATE_AT` or more lines of one tree (``unbuilt-tag`` at each use
        of a tag the fleet does not build), else one each; ``facts`` lists every
        place and image."""
        if len(same) < AGGREGATE_AT:
            self.out.extend(same)
            return
        same = sorted(same, key=_sort_key)
        first = same[0]
        places = [f.where for f in same]
        source = key[0]
        directory = _common_directory(f.path or "" for f in same)
        under = f"{directory}/" if directory else "the root"
        cut = len(directory) + 1 if directory else 0
        listed = _listed([place[cut:] for place in places])
        images = sorted({f.image for f in same if f.image})
        self.out.append(
            Finding(
                first.code, first.severity, None, first.path, first.line,
                f"{first.message} (at {len(places)} places under {under}: {listed})",
                None,
                {"count": len(places), "directory": directory, "source": source,
                 "places": places, "images": images},
            )
        )  # fmt: skip

    def add_group(self, code: str, severity: Severity, message: str, group: _Group) -> None:
        """One finding for the files of *group* when they are :data:`AGGREGATE_AT` or
        more, else one each: the diagnostic's own message stands for a few files."""
        paths = sorted(set(group.paths))
        if len(paths) < AGGREGATE_AT:
            for path in paths:
                self.out.append(Finding(code, severity, None, path, None, message))
            return
        directory = group.directory(paths)
        under = f"{directory}/" if directory else "the root"
        declared = (
            f"; the builds beside them are declared in {group.source}" if group.source else ""
        )
        text = _GROUP_MESSAGES.get(code, "{n} files under {under} have this diagnostic: " + message)
        self.out.append(
            Finding(
                code, severity, None, paths[0], None,
                f"{text.format(n=len(paths), under=under)} ({_listed(paths)}){declared}",
                None,
                {"count": len(paths), "directory": directory, "source": group.source,
                 "paths": paths},
            )
        )  # fmt: skip


AGGREGATE_AT = 3
"""The fewest files of one diagnostic reported as one finding, when they are
beside the builds of one declaration source (a library manifest, a config file)
or, beside none, in one tree: one or two stray Dockerfiles are each a finding of
their own; three or more (old versions kept beside the ones a manifest builds,
templates, variants) are one finding that names the deepest directory holding
them all and a count, its ``facts`` listing every path."""
_AGGREGATED = frozenset({"undeclared-dockerfile"})
"""The scan's diagnostics about a whole file that :data:`AGGREGATE_AT` or more
files of one tree share, word for word: read as one finding."""
_GROUP_MESSAGES = {
    "undeclared-dockerfile": (
        "{n} Dockerfiles under {under} are built by no declaration, so no plan will rebuild them"
    ),
}
_EXAMPLES = 3


def _listed(items: list[str]) -> str:
    """The first :data:`_EXAMPLES` of *items*, then how many more there are.

    >>> _listed(["a", "b", "c"]), _listed(["a", "b", "c", "d", "e"])
    ('a, b, c', 'a, b, c and 2 more')
    """
    more = f" and {len(items) - _EXAMPLES} more" if len(items) > _EXAMPLES else ""
    return ", ".join(items[:_EXAMPLES]) + more


@dataclass(slots=True)
class _Group:
    """Files of one diagnostic: the declaration source of the builds nearest them
    (``""`` when none or several), or else the tree they are in."""

    source: str
    anchor: str
    paths: list[str] = field(default_factory=list)

    def directory(self, paths: list[str]) -> str:
        """The deepest directory that holds all *paths* (``""``: the root)."""
        return _common_directory(paths)


class _Trees:
    """Which declaration source each directory holding a build belongs to, to group
    files by the tree they share with the nearest declared builds."""

    def __init__(self, builds: Iterable[ImageBuild]) -> None:
        self.sources: dict[str, set[str]] = {}
        for build in builds:
            source = _source_file(build.origin)
            directory = posixpath.dirname(build.dockerfile)
            while directory and directory not in ("..", "/"):
                self.sources.setdefault(directory, set()).add(source)
                directory = posixpath.dirname(directory)

    def place(self, path: str) -> tuple[str, str]:
        """*path*'s declaration source and anchor: the deepest directory above it that
        holds builds, if all are declared in one source; else, below the deepest that
        holds builds of several sources (or none), the directory on its way to *path*."""
        parts = path.split("/")[:-1]
        for depth in range(len(parts), 0, -1):
            sources = self.sources.get("/".join(parts[:depth]))
            if sources is None:
                continue
            if len(sources) == 1:
                return next(iter(sources)), "/".join(parts[:depth])
            return "", "/".join(parts[: depth + 1])
        return "", parts[0] if parts else ""

    def key(self, path: str) -> tuple[str, str]:
        """The group *path* belongs to: ``(source, "")`` for a path beside the builds
        of one declaration source, else ``("", tree)``."""
        source, anchor = self.place(path)
        if source == "convention":
            # every directory its own declaration: the tree is the top directory
            return ("", path.partition("/")[0] if "/" in path else "")
        return (source, "") if source else ("", anchor)

    def group(self, paths: Iterable[str]) -> list[_Group]:
        """*paths* grouped by the declaration source of the builds nearest them (one
        group per manifest or config file); a path that no single source holds, by
        the tree it is in below the builds (or the root's first directory)."""
        groups: dict[tuple[str, str], _Group] = {}
        for path in paths:
            key = self.key(path)
            groups.setdefault(key, _Group(key[0], key[1])).paths.append(path)
        return [groups[key] for key in sorted(groups)]


def _common_directory(paths: Iterable[str]) -> str:
    """The deepest directory that holds all *paths*; ``""`` (the root) when they
    share none, as absolute and relative paths do (the library takes both).

    >>> _common_directory(["a/b/Dockerfile", "a/c/Dockerfile"]), _common_directory(
    ...     ["a/Dockerfile", "/opt/c/Dockerfile"])
    ('a', '')
    """
    try:
        return posixpath.commonpath([posixpath.dirname(p) for p in paths])
    except ValueError:  # absolute and relative: no directory holds both
        return ""


def _source_file(origin: str) -> str:
    """``library/neo4j`` for a build declared at ``library/neo4j:12``."""
    path, _, line = origin.rpartition(":")
    return path if path and line.isdigit() else origin


def _declaration(builds: Iterable[ImageBuild], message: str) -> tuple[str, str, int | None] | None:
    """The build of *builds* a ``missing-dockerfile`` diagnostic is about (its message
    names it: ``build 'api' (imagegraph.toml:12) needs ...``) and where it is declared;
    ``None`` when that is not known."""
    for build in builds:
        if not message.startswith(f"build {build.name!r} "):
            continue
        if not build.origin or build.origin == "convention":
            return None
        path, _, line = build.origin.rpartition(":")
        if path and line.isdigit():
            return build.name, path, int(line)
        return build.name, build.origin, None
    return None


_UNNAMED_STAGE = re.compile(r"stage-\d+")


def _stage(edge: Edge) -> str:
    """`` (stage builder)`` for a named stage; nothing for an unnamed one."""
    if not edge.stage or edge.stage.isdigit() or _UNNAMED_STAGE.fullmatch(edge.stage):
        return ""
    return f" (stage {edge.stage})"


def _use(edge: Edge, written: str) -> str:
    """The use as the Dockerfile writes it: ``FROM x``, ``COPY --from=x``, ``RUN --mount=from=x``."""
    if edge.kind == "copy":
        return f"COPY --from={written}"
    if edge.kind == "mount":
        return f"RUN --mount=from={written}"
    return f"FROM {written}"


def _retagged(written: str, ref: ImageRef) -> str:
    """*written* without its digest, with ``<version>`` for a missing or latest tag."""
    name = written.partition("@")[0]
    if ref.tag in (None, "latest"):
        name = name.removesuffix(":latest") + ":<version>"
    return name


def _has_tag(text: str) -> bool:
    name = text.partition("@")[0]
    return name.rfind(":") > name.rfind("/")


def _count(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


def _first_edge(edges: Iterable[Edge]) -> Edge | None:
    return min(edges, key=lambda e: (e.kind != "from", e.line or 0), default=None)


def _variant_names(build: ImageBuild, ref: ImageRef) -> bool:
    """True when *build*'s matrix values name *ref*'s version (``PYTHON_VERSION=3.11``
    for ``python:3.11-slim``, ``OS=bullseye`` for ``debian:bullseye`` or
    ``base:bullseye``): a line kept on purpose. A codename and a number name the
    same version here too (``DEBIAN=12`` for ``base:bookworm``): an exemption
    errs on the side of no finding."""
    if not build.variant:
        return False
    version = _tag_version(ref, ref.tag)
    if version is None:
        return False
    for value in build.variant.values():
        named = _tag_version(ref, value)
        if (
            named is not None
            and (named.family == version.family or not named.family or not version.family)
            and version.numbers[: len(named.numbers)] == named.numbers
        ):
            return True
    return False


_LETTERS = re.compile(r"[A-Za-z]*", re.ASCII)


def _names_parent_line(
    build: ImageBuild, ref: ImageRef, version: _Version, target: tuple[int, ...]
) -> bool:
    """True when *build*'s own tags, or the directories of its Dockerfile, name
    the version of *ref* it is built on, at
    a depth where *target* differs: ``maven:3.9-eclipse-temurin-17`` FROM
    ``eclipse-temurin:17-jdk`` (not to move to 26), ``wordpress:6-php8.3-apache``
    FROM ``php:8.3-apache``, ``python:3.12-bookworm`` FROM ``buildpack-deps:bookworm``.
    The build chose that line on purpose: no advice to leave it. A word of a tag
    names a version when it is the version, or letters and the version (``php8.3``,
    ``jdk17``); ``py3`` does not hold a user of 3.12 back from 3.13, the same 3.

    >>> build = ImageBuild("m", "m/Dockerfile", "m", (ImageRef.parse("maven:3.9-temurin-17"),))
    >>> ref = ImageRef.parse("eclipse-temurin:17-jdk")
    >>> _names_parent_line(build, ref, _version("17-jdk"), (26,))
    True
    """
    if version.written is None:
        # A codename: the tag's head names it (bookworm-slim)
        names = {(ref.tag or "").partition("-")[0].lower()}
    else:
        written = version.written.split(".")
        names = {
            ".".join(written[:depth])
            for depth in range(1, len(written) + 1)
            if target[:depth] != version.numbers[:depth]
        }
        depth = _FAMILY_DEPTH.get(version.distribution, 0)
        codename = _CODENAME_OF.get((version.distribution, version.numbers[:depth]))
        if codename is not None and target[:depth] != version.numbers[:depth]:
            names.add(codename)  # ubuntu:22.04 is jammy
    if not names:
        return False
    # The build's tags, and the directories its Dockerfile is in (aerospike's
    # .../community/ubuntu24.04/Dockerfile is FROM ubuntu:24.04 on purpose).
    texts = [tag.tag or "" for tag in build.tags]
    texts += posixpath.dirname(build.dockerfile).split("/")
    for text in texts:
        for word in re.split(r"[-_]", text.lower()):
            letters = _LETTERS.match(word)
            rest = word[letters.end() :] if letters else word
            if word in names or rest in names:
                return True
    return False
