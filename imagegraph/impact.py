"""Blast radius: which builds a change reaches, and the chain of edges that says why.

A change names an image: an external base (``debian:bookworm``), one of the
fleet's own images by build name or tag, or an image with no tag at all
(``debian``), which stands for every tag and digest of it. A name that is
both a build's and an image's (a build called ``debian``) means both. A change with a
tag also reaches parents pinned by digest to that tag
(``debian:bookworm@sha256:...``): the pin must move, and the image rebuild.

Every descendant of a changed image must rebuild; a changed image that is
built here rebuilds too. Builds whose base could not be resolved are not
guessed into the result: they are listed in :attr:`Impact.undetermined`.

An image change that matches nothing (no build, tag, parent image, nor a
repository for a change without tag) raises
:class:`~imagegraph.UnknownImage`, whose ``suggestions`` are the closest
names of the fleet: a typo never reads as "nothing to rebuild". Where some
build's base is unresolved, the change may be that base: no error then, but
those builds are listed as undetermined and a ``change-matches-nothing``
warning suggests the closest names. A package no image ships is an empty
answer with a ``change-matches-nothing`` warning.
"""

from __future__ import annotations

import difflib
import os
import posixpath
import re
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from imagegraph._pickling import paused_gc
from imagegraph.advisories import Match, PackageChange
from imagegraph.diagnostics import Diagnostic, Severity
from imagegraph.errors import ImageGraphError, InvalidReference
from imagegraph.graph import UnknownImage
from imagegraph.reference import ImageRef

if TYPE_CHECKING:
    import pandas as pd

    from imagegraph.graph import Edge, ImageGraph

__all__ = ["Change", "EntryChange", "FileChange", "Impact", "StaleChange", "impact"]


@dataclass(frozen=True, slots=True)
class FileChange:
    """Files changed in the repository, relative to the scanned root, ``/``-separated.

    A build is changed by a file when the file is its Dockerfile, its
    ``.dockerignore``, the declaration it comes from, or a file of its
    context that ``.dockerignore`` keeps and a ``COPY``/``ADD`` source or
    bind mount of a stage it builds reads (see :mod:`imagegraph.context`).
    Paths outside the root start with ``../``, as a context such as
    ``../shared`` does; an absolute path is made relative to the root by
    :func:`impact` (or by :meth:`of` given the root).

    >>> str(FileChange.of(["apps/api/main.py", "./README.md"]))
    'files apps/api/main.py, README.md'
    >>> FileChange.of(["/repo/shared/lib.py", "/repo/fleet/x"], root="/repo/fleet").paths
    ('../shared/lib.py', 'x')

    A declaration file named in :attr:`entries_compared` changes no build by
    being changed: its entries were compared one by one (an :class:`EntryChange`
    names the builds whose entry differs), so only a build whose context holds
    the file, and reads it, counts it.
    """

    paths: tuple[str, ...]
    entries_compared: tuple[str, ...] = ()
    """Declaration files (relative to the root) whose entries were compared one by
    one with another revision's (``plan --since``, :func:`imagegraph.diff`)."""

    @classmethod
    def of(
        cls,
        paths: Iterable[str],
        *,
        root: str | os.PathLike[str] | None = None,
        entries_compared: Iterable[str] = (),
    ) -> FileChange:
        """Normalise *paths* (``./a`` -> ``a``, ``a/../../b`` -> ``../b``, backslashes, blank
        lines and the root itself dropped); with *root*, absolute paths become relative to it."""
        cleaned = []
        for path in paths:
            path = path.strip().replace("\\", "/")
            if not path:
                continue
            path = posixpath.normpath(path)
            if root is not None and posixpath.isabs(path):
                path = _root_relative(path, root)
            if path != ".":
                cleaned.append(path)
        return cls(tuple(dict.fromkeys(cleaned)), tuple(dict.fromkeys(entries_compared)))

    def __str__(self) -> str:
        shown = ", ".join(self.paths[:3])
        more = f" and {len(self.paths) - 3} more" if len(self.paths) > 3 else ""
        return f"files {shown}{more}" if self.paths else "no files"


def _root_relative(path: str, root: str | os.PathLike[str]) -> str:
    """Absolute *path* relative to *root*, through *root* as given or with links resolved."""
    given, real = os.path.abspath(root), os.path.realpath(root)
    for base in dict.fromkeys((given, real)):
        if path == base or path.startswith(base.rstrip("/") + "/"):
            return posixpath.relpath(path, base)
    return posixpath.relpath(path, real)


@dataclass(frozen=True, slots=True)
class StaleChange:
    """Builds that must rebuild for what the registry says of them, each with its
    reasons: a base that moved since it was built, an image never pushed. Made by
    :meth:`imagegraph.stale.StaleReport.change`; every build on them rebuilds too.

    >>> change = StaleChange((("api", ("stale: base debian:bookworm moved",)),))
    >>> str(change), change.names
    ('stale images api', ('api',))
    """

    builds: tuple[tuple[str, tuple[str, ...]], ...]
    """``(build name, reasons)`` for each build the registry finds stale or missing."""

    @property
    def names(self) -> tuple[str, ...]:
        """The builds, in the order given."""
        return tuple(name for name, _ in self.builds)

    def __str__(self) -> str:
        return f"stale images {_changes_text(self.names)}" if self.builds else "no stale images"


@dataclass(frozen=True, slots=True)
class EntryChange:
    """Builds whose declaration changed between two revisions of the fleet, each with
    what changed in it as the build tool sees it (an argument, a tag, the target, ...),
    and the builds that are new. Made by :meth:`imagegraph.GraphDiff.change`
    (``plan --since``); every build on them rebuilds too.

    ``files`` are the changed declaration files whose entries were compared one by
    one: when no build changed, the answer says that their edit (a comment, the
    order, formatting, a ``[lint]`` table) rebuilds nothing.

    >>> change = EntryChange((("node-20", ("arg NODE_VERSION 20.18.0 -> 20.18.1",)),))
    >>> str(change), change.names
    ('changed entries node-20', ('node-20',))
    """

    builds: tuple[tuple[str, tuple[str, ...]], ...]
    """``(build name, what changed)`` for each build whose entry differs or is new."""
    files: tuple[str, ...] = ()
    """Changed declaration files (relative to the root) whose entries were compared."""

    @property
    def names(self) -> tuple[str, ...]:
        """The builds, in the order given."""
        return tuple(name for name, _ in self.builds)

    def __str__(self) -> str:
        if self.builds:
            return f"changed entries {_changes_text(self.names)}"
        return "no changed entries"


Change = str | ImageRef | FileChange | PackageChange | StaleChange | EntryChange
"""A change: a build name, a tag of a build, any image reference, changed files, a package,
the builds a registry finds stale, or builds whose declaration changed."""

_HAS_TAG = re.compile(r":[^/]*$")


@dataclass(frozen=True, slots=True, repr=False)
class Impact:
    """The result of :func:`impact`: what must rebuild and why.

    ``matched`` maps each change, as given, to the graph nodes it names;
    ``changed`` is every node some change names; ``affected`` the builds
    that must rebuild (sorted); ``reasons`` one shortest chain of edges from
    a changed node to each affected build (empty for a changed build
    itself); ``undetermined`` the builds with an unresolved base that a
    change might reach, with that base as written.
    """

    changes: tuple[str, ...]
    matched: Mapping[str, tuple[str, ...]]
    changed: frozenset[str]
    affected: tuple[str, ...]
    reasons: Mapping[str, tuple[Edge, ...]] = field(hash=False)
    undetermined: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False)
    diagnostics: tuple[Diagnostic, ...] = ()
    causes: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False)
    """For images a :class:`FileChange` or a package change reaches directly:
    which file or package, read or installed where."""
    possibly: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False)
    """Images holding a changed package whose version is not known (not
    pinned, no SBOM), and images built on them: not in ``affected`` unless
    asked for with ``include_unknown``."""

    def __contains__(self, build: object) -> bool:
        return build in self.reasons

    def __len__(self) -> int:
        return len(self.affected)

    def reason(self, build: str) -> str:
        """The chain for *build* as one line: ``debian:bookworm -> base -> app``."""
        chain = self.reasons[build]
        if not chain:
            return f"{build} (changed)"
        return " -> ".join([chain[0].parent, *(edge.child for edge in chain)])

    def to_pandas(self) -> pd.DataFrame:
        """One row per changed, affected, possibly affected and undetermined image;
        see :func:`imagegraph.frames.impact_frame`. Needs ``imagegraph[pandas]``."""
        from imagegraph.frames import impact_frame

        return impact_frame(self)

    def _repr_html_(self) -> str:
        from imagegraph.render.html import impact_html

        return impact_html(self)

    def __repr__(self) -> str:
        """Short at any size: the changes (the first few) and the counts.

        >>> Impact(("debian:bookworm",), {}, frozenset({"x"}), ("a", "b"), {})
        <Impact debian:bookworm: 2 affected, 1 changed, 0 possibly>
        """
        text = (
            f"<Impact {_changes_text(self.changes)}: {len(self.affected)} affected, "
            f"{len(self.changed)} changed, {len(self.possibly)} possibly"
        )
        if self.undetermined:
            text += f", {len(self.undetermined)} undetermined"
        return text + ">"


def _changes_text(changes: tuple[str, ...] | None, limit: int = 80) -> str:
    """The changes as one short line: ``debian:bookworm, alpine:3.20 and 3 more``."""
    if changes is None:
        return "everything"
    if not changes:
        return "no changes"
    shown: list[str] = []
    size = 0
    for change in changes:
        if shown and size + len(change) > limit:
            break
        shown.append(change if len(change) <= limit else change[: limit - 1] + "…")
        size += len(change) + 2
    text = ", ".join(shown)
    if len(shown) < len(changes):
        text += f" and {len(changes) - len(shown)} more"
    return text


@paused_gc()
def impact(
    graph: ImageGraph, changes: Iterable[Change], *, include_unknown: bool = False
) -> Impact:
    """The builds of *graph* that must rebuild after *changes*.

    >>> from imagegraph import ImageBuild, ImageGraph, ImageRef
    >>> graph = ImageGraph.from_builds([
    ...     ImageBuild("base", "base/Dockerfile", "base", (ImageRef.parse("acme/base"),),
    ...                dockerfile_inline="FROM debian:bookworm"),
    ...     ImageBuild("app", "app/Dockerfile", "app", dockerfile_inline="FROM acme/base"),
    ...     ImageBuild("tool", "tool/Dockerfile", "tool", dockerfile_inline="FROM alpine:3"),
    ... ])
    >>> result = graph.impact(["debian"])
    >>> result.affected
    ('app', 'base')
    >>> result.reason("app")
    'docker.io/library/debian:bookworm -> base -> app'
    """
    matched: dict[str, tuple[str, ...]] = {}
    diagnostics: list[Diagnostic] = []
    causes: dict[str, tuple[str, ...]] = {}
    maybe: dict[str, tuple[str, ...]] = {}
    given: list[str] = []
    images_changed = False
    for each in changes:
        if isinstance(each, FileChange | PackageChange | StaleChange | EntryChange):
            change = str(each)
            if isinstance(each, StaleChange):
                hits, notes = _stale_hits(graph, each)
            elif isinstance(each, EntryChange):
                hits, notes = _named_hits(
                    graph, each.builds, "entry-unknown-build", "the comparison of revisions"
                )
            elif isinstance(each, FileChange):
                each = FileChange.of(
                    each.paths, root=graph.inventory.root, entries_compared=each.entries_compared
                )
                hits, notes = graph.files_affecting(each.paths, compared=each.entries_compared)
            else:
                hits, unknown, notes = _package_hits(graph, each)
                for node, why in unknown.items():
                    if include_unknown:
                        hits[node] = (*hits.get(node, ()), *why)
                    else:
                        maybe[node] = (*maybe.get(node, ()), *why)
            nodes = tuple(sorted(hits))
            for build, why in hits.items():
                causes[build] = (*causes.get(build, ()), *why)
            diagnostics.extend(n for n in notes if n not in diagnostics)
        else:
            change = str(each)
            nodes = _match(graph, change)
            images_changed = True
        given.append(change)
        matched[change] = nodes
        if not nodes and isinstance(each, FileChange):
            compared = set(each.entries_compared)
            if not each.paths or any(path not in compared for path in each.paths):
                # A compared declaration that changed no build: the EntryChange says so.
                diagnostics.append(_unread_files(graph, each))
        elif not nodes and isinstance(each, EntryChange):
            if each.files:
                shown = _changes_text(each.files)
                diagnostics.append(
                    Diagnostic(
                        "declarations-change-nothing", Severity.INFO,
                        f"{shown} changed, but no build declared there is new or built "
                        "differently (a comment, the order, formatting, a table such as [lint], "
                        "a build removed): nothing to rebuild for that",
                    )
                )  # fmt: skip
        elif not nodes and isinstance(each, StaleChange):
            diagnostics.append(
                Diagnostic(
                    "nothing-stale",
                    Severity.INFO,
                    "the registry finds no image of this fleet stale or missing",
                )
            )
        elif not nodes and isinstance(each, PackageChange):
            diagnostics.append(
                Diagnostic(
                    "change-matches-nothing",
                    Severity.WARNING,
                    f"no image of this fleet is known to ship {change}; it changes nothing here",
                )
            )
        elif not nodes:
            diagnostics.append(_unknown_image(graph, change))
    changed = frozenset(node for nodes in matched.values() for node in nodes)
    reasons = _reasons(graph, sorted(changed))
    # An unresolved base may be any image, but it is never a file or a
    # package: every image change may reach it, including one that matches
    # nothing resolved (the unresolved base may be exactly that image).
    undetermined = _undetermined(graph, reasons) if images_changed else {}
    return Impact(
        changes=tuple(given),
        matched=matched,
        changed=changed,
        affected=tuple(sorted(reasons)),
        reasons=reasons,
        undetermined=undetermined,
        diagnostics=tuple(diagnostics),
        causes=causes,
        possibly=_possibly(graph, maybe, reasons),
    )


def _unknown_image(graph: ImageGraph, change: str) -> Diagnostic:
    """An image change that matches nothing: an :class:`UnknownImage` error naming the
    closest names, unless builds of unresolved base may be built on it.

    A typo must never read as "nothing to rebuild". Where some build's base
    could not be resolved (``FROM $BASE``), the change may be exactly that
    base: the answer lists those builds as undetermined, and this warning says
    so, with the same suggestions.
    """
    suggestions = _suggestions(graph, change)
    if not graph.undetermined:
        raise UnknownImage(
            change,
            suggestions,
            message=(
                f"no build, tag or parent image of this fleet matches {change!r}, "
                "so it cannot say what to rebuild"
            ),
        )
    count = len(graph.undetermined)
    text = (
        f"no build, tag or parent image of this fleet matches {change!r}; it may be the "
        f"unresolved base of {count} build{'' if count == 1 else 's'}, listed as undetermined"
    )
    if suggestions:
        *most, last = suggestions
        text += f"; did you mean {', '.join(most) + ' or ' if most else ''}{last}?"
    return Diagnostic("change-matches-nothing", Severity.WARNING, text)


_SUGGEST_LIMIT = 200
"""Longer changes get no suggestions: comparing costs the product of the lengths."""


def _suggestions(graph: ImageGraph, change: str) -> tuple[str, ...]:
    """The fleet's names closest to *change* (at most three, best first): build names,
    tags, parent images and repositories, as people write them (``debian:bookworm``)."""
    if len(change) > _SUGGEST_LIMIT:
        return ()
    key = ("", "familiar-names")
    names: dict[str, str] | None = graph._cache.get(key)
    if names is None:
        names = {}
        for node, data in graph.nx.nodes(data=True):
            if data["kind"] == "build":
                names.setdefault(node, node)
                refs = data["build"].tags
            else:
                refs = (data["ref"],)
            for ref in refs:
                # Compared as written in full or familiar; shown familiar.
                for form, shown in (
                    (ref.familiar, ref.familiar),
                    (str(ref), ref.familiar),
                    (ref.familiar_name, ref.familiar_name),
                    (ref.name, ref.familiar_name),
                ):
                    names.setdefault(form, shown)
        graph._cache[key] = names
    scored: list[tuple[float, str]] = []
    matcher = difflib.SequenceMatcher(b=change, autojunk=False)
    for name in names:
        matcher.set_seq1(name)
        if matcher.real_quick_ratio() >= 0.6 and matcher.quick_ratio() >= 0.6:
            score = matcher.ratio()
            if score >= 0.6:
                scored.append((score, name))
    if not scored:
        return ()
    best = max(score for score, _ in scored)
    # Only the names about as close as the closest: a far second guess misleads.
    close = sorted((-score, name) for score, name in scored if score >= best - 0.05)
    return tuple(dict.fromkeys(names[name] for _, name in close))[:3]


def _unread_files(graph: ImageGraph, change: FileChange) -> Diagnostic:
    """Why changed files rebuild nothing: a warning unless some lie where the fleet reads.

    A file in a build's context that ``.dockerignore`` drops or no ``COPY``
    reads is information; files that no build could ever read (documentation
    of the repository, a directory beside the fleet) or no file at all are
    worth a warning: the plan is empty, and a wrong path is a likely reason.
    """
    if not change.paths:
        return Diagnostic(
            "no-changed-files", Severity.WARNING, "no files changed: nothing to rebuild"
        )
    if any(_in_fleet(graph, path) for path in change.paths):
        return Diagnostic(
            "files-read-by-nothing",
            Severity.INFO,
            f"no build reads {change}: nothing to rebuild for them",
        )
    count = len(change.paths)
    outside = sum(1 for path in change.paths if path == ".." or path.startswith("../"))
    shown = _changes_text(change.paths, limit=120)
    if count == 1:
        what = f"the changed file {shown} lies in no build context, Dockerfile or declaration"
        where = ", and outside the scanned directory" if outside else ""
    else:
        what = (
            f"none of the {count} changed files ({shown}) lies in a build context, "
            "Dockerfile or declaration"
        )
        where = f"; {outside} of them outside the scanned directory" if outside else ""
    return Diagnostic(
        "files-outside-fleet",
        Severity.WARNING,
        f"{what} of this fleet{where}: nothing to rebuild (paths are read relative to the "
        "scanned directory, or to the top of its git work tree)",
    )


def _in_fleet(graph: ImageGraph, path: str) -> bool:
    """Whether *path* (relative to the root) is a Dockerfile, a declaration or in a context."""
    key = ("", "fleet-places")
    places: tuple[frozenset[str], bool] | None = graph._cache.get(key)
    if places is None:
        named: set[str] = set(graph.inventory.sources)
        whole_root = False
        for build in graph.builds:
            named.add(build.dockerfile)
            if build.origin not in ("", "convention"):
                named.add(build.origin.partition(":")[0])
            if build.context == ".":
                whole_root = True
            else:
                named.add(build.context)
        places = (frozenset(named), whole_root)
        graph._cache[key] = places
    named_places, whole_root = places
    outside = path == ".." or path.startswith("../")
    if whole_root and not outside:
        return True
    parts = path.split("/")
    return any("/".join(parts[:i]) in named_places for i in range(1, len(parts) + 1))


def _match(graph: ImageGraph, change: str) -> tuple[str, ...]:
    nx_graph = graph.nx
    by_name = change in nx_graph and nx_graph.nodes[change]["kind"] == "build"
    try:
        wanted = ImageRef.parse(change, aliases=graph.inventory.aliases)
    except InvalidReference as err:
        if by_name:
            return (change,)
        raise ImageGraphError(
            f"change {change!r} is not a build name or an image: {err.reason}"
        ) from None
    name, _, after = change.partition("@")
    any_tag = not _HAS_TAG.search(name.rpartition("/")[2]) and not after
    # A build called "debian" and the image debian are both meant: matching
    # both can only add builds, never miss one.
    found = [change] if by_name else []
    for node, ref in graph._named(wanted.name):
        if (not by_name or node != change) and _matches(ref, wanted, any_tag=any_tag):
            found.append(node)
    return tuple(sorted(set(found)))


def _matches(ref: ImageRef, wanted: ImageRef, *, any_tag: bool) -> bool:
    if ref.name != wanted.name:
        return False
    if any_tag:
        return True
    if wanted.digest is not None:
        return ref.digest == wanted.digest
    return ref.tag == wanted.tag


def _reasons(graph: ImageGraph, changed: list[str]) -> dict[str, tuple[Edge, ...]]:
    # Breadth first from every changed node at once, neighbours in sorted
    # order: each affected build gets one shortest chain, the same every run.
    nx_graph = graph.nx
    reasons: dict[str, tuple[Edge, ...]] = {}
    queue: deque[tuple[str, tuple[Edge, ...]]] = deque()
    seen = set(changed)
    for node in changed:
        if nx_graph.nodes[node]["kind"] == "build":
            reasons[node] = ()
        queue.append((node, ()))
    successors = nx_graph._succ  # type: ignore[attr-defined]  # node -> {child: edge data}: no views
    while queue:
        node, chain = queue.popleft()
        children = successors[node]
        for child in sorted(children):
            if child in seen:
                continue
            seen.add(child)
            reasons[child] = found = (*chain, children[child]["uses"][0])
            queue.append((child, found))
    return reasons


def _undetermined(
    graph: ImageGraph, reasons: Mapping[str, tuple[Edge, ...]]
) -> dict[str, tuple[str, ...]]:
    result: dict[str, tuple[str, ...]] = {}
    for build, texts in sorted(graph.undetermined.items()):
        if build in reasons:
            continue
        result[build] = texts
        for below in sorted(graph.node_descendants(build)):
            if below not in reasons:
                result.setdefault(below, (f"via {build}",))
    return dict(sorted(result.items()))


def _stale_hits(
    graph: ImageGraph, change: StaleChange
) -> tuple[dict[str, tuple[str, ...]], list[Diagnostic]]:
    """The builds *change* names, with their reasons; a name that is no build of
    *graph* (a report of another fleet) is an error, never dropped unseen."""
    return _named_hits(graph, change.builds, "stale-unknown-build", "the registry check")


def _named_hits(
    graph: ImageGraph, builds: Iterable[tuple[str, tuple[str, ...]]], code: str, source: str
) -> tuple[dict[str, tuple[str, ...]], list[Diagnostic]]:
    """*builds* (``(name, reasons)``) as hits; a name that is no build of *graph*
    is a *code* error naming *source*, never dropped unseen."""
    hits: dict[str, tuple[str, ...]] = {}
    notes: list[Diagnostic] = []
    nx_graph = graph.nx
    for name, why in builds:
        if name in nx_graph and nx_graph.nodes[name]["kind"] == "build":
            hits[name] = (*hits.get(name, ()), *(w for w in why if w not in hits.get(name, ())))
        else:
            notes.append(
                Diagnostic(
                    code,
                    Severity.ERROR,
                    f"{source} names {name!r}, which is no build of this fleet",
                )
            )
    return hits, notes


def _package_hits(
    graph: ImageGraph, change: PackageChange
) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]], list[Diagnostic]]:
    from imagegraph.image_packages import own_packages, prefetch_packages

    prefetch_packages(graph)  # every build's Dockerfile at once: cached, or in a pool
    hits: dict[str, list[str]] = {}
    unknown: dict[str, list[str]] = {}
    notes: list[Diagnostic] = []
    for node in graph.images:
        packages, found = own_packages(graph, node)
        notes.extend(d for d in found if d.severity is not Severity.INFO)
        for package in packages:
            outcome = change.match(package)
            if outcome is Match.AFFECTED:
                shown = f"{package.name} {package.version}" if package.version else package.name
                hits.setdefault(node, []).append(f"{shown} ({package.where}): {change}")
            elif outcome is Match.UNKNOWN_VERSION:
                unknown.setdefault(node, []).append(
                    f"{package.name}, version not known ({package.where}): {change}"
                )
    return (
        {n: tuple(v) for n, v in hits.items()},
        {n: tuple(v) for n, v in unknown.items()},
        notes,
    )


def _possibly(
    graph: ImageGraph, maybe: Mapping[str, tuple[str, ...]], reasons: Mapping[str, object]
) -> dict[str, tuple[str, ...]]:
    result: dict[str, tuple[str, ...]] = {}
    for node, why in sorted(maybe.items()):
        if node in reasons:
            continue
        if not graph.is_external(node):
            result[node] = why
        for below in sorted(graph.node_descendants(node)):
            if below not in reasons:
                result.setdefault(below, (f"built on {node}",))
    return dict(sorted(result.items()))
