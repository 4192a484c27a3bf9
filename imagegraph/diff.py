"""What changed in a fleet's image graph between two revisions, and what must rebuild for it.

:func:`diff` compares two graphs of one fleet (a scan of the base branch and
one of a pull request, say): the builds added and removed, matched by build
name, so that a Dockerfile renamed or moved keeps its image; for each build in
both, what changed in its build as a build tool sees it (tags, build arguments,
target, platforms, named contexts, the build context, the Dockerfile's path
and content), and the parents it gained or lost, each with the Dockerfile line
that names it; the external images the fleet starts to use or stops using;
and the builds to rebuild: every build new or changed, and every build on one.

A build's declaration entry is compared field by field, resolved (a matrix
variant is a build of its own, a ``${VAR}`` is its value), never as text: a
comment, the order of entries, formatting or a ``[lint]`` table changes no
build and rebuilds nothing. ``origin`` (where the entry is written) is not
compared, nor is ``variant`` (the name holds it).

:func:`changes_since` is what ``plan --since REV`` plans from: the files git
finds changed since REV (as before), except that a declaration file the
fleet at REV declared too counts only through the entries that differ, read
from REV's graph (:func:`imagegraph.revision.scan_revision`). A declaration
file REV did not have, or a fleet REV cannot be read at, falls back to the
file rule (every build the file declares rebuilds), and a diagnostic says why.
:func:`diff_revisions` is ``imagegraph diff --since REV [--until REV]``.

>>> from imagegraph import ImageBuild, ImageGraph, ImageRef
>>> def fleet(version: str, app: str) -> ImageGraph:
...     return ImageGraph.from_builds([
...         ImageBuild("node", "node/Dockerfile", "node", (ImageRef.parse("acme/node:20"),),
...                    args={"NODE_VERSION": version}, dockerfile_inline="FROM debian:12"),
...         ImageBuild("web", "web/Dockerfile", "web", dockerfile_inline=f"FROM {app}"),
...     ])
>>> changes = diff(fleet("20.18.0", "acme/node:20"), fleet("20.18.1", "acme/node:20"))
>>> [(c.name, [str(f) for f in c.fields]) for c in changes.changed], changes.rebuild
([('node', ['arg NODE_VERSION 20.18.0 -> 20.18.1'])], ('node', 'web'))
>>> moved = diff(fleet("20.18.0", "acme/node:20"), fleet("20.18.0", "python:3.12"))
>>> moved.bases_added, [str(e.text) for e in moved.changed[0].parents_added]
(('docker.io/library/python:3.12',), ['python:3.12'])
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imagegraph._files import read_bytes
from imagegraph._git import (
    GitError,
    changed_files,
    check_revision,
    tree_listing,
    tree_of,
    work_tree,
)
from imagegraph.diagnostics import Diagnostic, Severity
from imagegraph.errors import ImageGraphError
from imagegraph.graph import _platform_keys, scan
from imagegraph.impact import Change, EntryChange, FileChange, Impact, _root_relative, impact
from imagegraph.inventory import ImageBuild
from imagegraph.revision import SKIPPED, scan_revision

if TYPE_CHECKING:
    from imagegraph.graph import Edge, ImageGraph

__all__ = [
    "BuildDiff",
    "FieldChange",
    "GraphDiff",
    "changes_since",
    "diff",
    "diff_revisions",
]


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One difference between two declarations of a build.

    ``field`` is one of ``dockerfile``, ``context`` (the build context),
    ``target``, ``arg``, ``tag``, ``platform``, ``named_context``,
    ``dockerfile_inline``, ``imported`` and ``constraint``; ``key`` names the
    argument or named context; ``old`` and ``new`` are the values (``None``:
    absent on that side).

    >>> str(FieldChange("arg", "NODE_VERSION", "20.18.0", "20.18.1"))
    'arg NODE_VERSION 20.18.0 -> 20.18.1'
    >>> str(FieldChange("tag", None, None, "acme/app:2"))
    'tag acme/app:2 added'
    """

    field: str
    key: str | None
    old: str | None
    new: str | None

    def __str__(self) -> str:
        label = _LABELS.get(self.field, self.field)
        if self.field == "dockerfile_inline":
            if self.old is None:
                return "Dockerfile now written inline"
            return (
                "inline Dockerfile changed"
                if self.new is not None
                else "Dockerfile no longer inline"
            )
        if self.field == "imported":
            return (
                "now imported from an OCI layout"
                if self.new == "True"
                else "now built, no longer imported"
            )
        if self.key is not None:
            if self.old is None:
                return f"{label} {self.key}={self.new} added"
            if self.new is None:
                return f"{label} {self.key} removed (was {self.old})"
            return f"{label} {self.key} {self.old} -> {self.new}"
        if self.field in _ITEMS:
            return (
                f"{label} {self.new} added" if self.old is None else f"{label} {self.old} removed"
            )
        return f"{label} {_or_none(self.old)} -> {_or_none(self.new)}"

    def to_dict(self) -> dict[str, str | None]:
        """The change as plain values, with its text."""
        return {
            "field": self.field,
            "key": self.key,
            "old": self.old,
            "new": self.new,
            "text": str(self),
        }


_LABELS = {"context": "build context", "named_context": "named context"}
_ITEMS = frozenset({"tag", "platform", "constraint"})
"""Fields that are sets of items: each item added or removed is a change."""


_NOT_COMPARED = "declaration-not-compared"
"""A declaration file only the new graph reads: its builds count as changed when it changed."""


def _or_none(value: str | None) -> str:
    return "(none)" if value is None else value


@dataclass(frozen=True, slots=True)
class BuildDiff:
    """What changed for one build present in both graphs.

    >>> BuildDiff("node-20", (FieldChange("arg", "NODE_VERSION", "20.18.0", "20.18.1"),)).reasons
    ('arg NODE_VERSION 20.18.0 -> 20.18.1',)
    """

    name: str
    fields: tuple[FieldChange, ...] = ()
    """Its declaration entry, field by field (empty when the entry is the same)."""
    dockerfile_changed: bool = False
    """Its Dockerfile's content differs (a Dockerfile written inline: see :attr:`fields`)."""
    parents_added: tuple[Edge, ...] = ()
    """Every use, in the new graph, of a parent the old graph did not give it."""
    parents_removed: tuple[Edge, ...] = ()
    """Every use, in the old graph, of a parent the new graph does not give it."""

    @property
    def entry_changed(self) -> bool:
        """Whether its declaration entry differs."""
        return bool(self.fields)

    @property
    def reasons(self) -> tuple[str, ...]:
        """What changed in its build, one line each (its entry's fields, its Dockerfile)."""
        found = [str(change) for change in self.fields]
        if self.dockerfile_changed:
            found.append("the Dockerfile changed")
        return tuple(found)

    @property
    def parent_reasons(self) -> tuple[str, ...]:
        """Each parent gained or lost, one line each: a build whose FROM now resolves
        to another image (the build that provided its tag was removed, or one now
        provides it) changes though its entry and Dockerfile do not."""
        gained = dict.fromkeys(edge.parent for edge in self.parents_added)
        lost = dict.fromkeys(edge.parent for edge in self.parents_removed)
        return (
            *(f"parent {parent} added" for parent in gained),
            *(f"parent {parent} removed" for parent in lost),
        )

    def to_dict(self) -> dict[str, Any]:
        """The build's changes as plain values."""
        return {
            "name": self.name,
            "fields": [change.to_dict() for change in self.fields],
            "dockerfile_changed": self.dockerfile_changed,
            "parents_added": [_edge_dict(edge) for edge in self.parents_added],
            "parents_removed": [_edge_dict(edge) for edge in self.parents_removed],
        }


def _edge_dict(edge: Edge) -> dict[str, Any]:
    return {
        "parent": edge.parent,
        "kind": edge.kind,
        "text": edge.text,
        "value": edge.value,
        "path": edge.path,
        "line": edge.line,
        "stage": edge.stage,
    }


@dataclass(frozen=True, slots=True, repr=False)
class GraphDiff:
    """The result of :func:`diff`: what changed between two graphs of a fleet.

    :attr:`rebuild` is what :meth:`imagegraph.ImageGraph.plan` of the new graph
    rebuilds for :meth:`changes`; ``new.plan(d.changes())`` gives its waves.
    """

    added: tuple[str, ...]
    """Builds only the new graph has, sorted."""
    removed: tuple[str, ...]
    """Builds only the old graph has, sorted."""
    changed: tuple[BuildDiff, ...]
    """Builds in both whose entry, Dockerfile or parents changed, by name."""
    bases_added: tuple[str, ...]
    """External images the new fleet uses and the old one did not (normalised references)."""
    bases_removed: tuple[str, ...]
    """External images the old fleet used and the new one does not."""
    rebuild: tuple[str, ...]
    """The builds of the new graph to rebuild, sorted: new or changed builds
    (and, with *files*, builds reading a changed file), and every build on them."""
    impact: Impact = field(compare=False)
    """The new graph's answer to :meth:`changes`: why each build of :attr:`rebuild` is in."""
    entry_change: EntryChange = field(compare=False)
    file_change: FileChange | None = field(default=None, compare=False)
    compared: tuple[str, ...] = ()
    """Declaration files both graphs read: their entries were compared one by one."""
    diagnostics: tuple[Diagnostic, ...] = ()
    since: str | None = None
    """The old revision's name, when it is one (for display)."""
    until: str | None = None
    """The new revision's name, ``None`` for the work tree (for display)."""
    old: ImageGraph | None = field(default=None, compare=False)
    """The old graph."""
    new: ImageGraph | None = field(default=None, compare=False)
    """The new graph: ``diff.new.plan(diff.changes())`` is the rebuild's plan."""
    new_builds: Mapping[str, ImageBuild] = field(default_factory=dict, compare=False)
    old_builds: Mapping[str, ImageBuild] = field(default_factory=dict, compare=False)

    def changes(self) -> tuple[Change, ...]:
        """The changes to plan on the new graph: the entries that changed (and the
        builds that are new), then the changed files when they were given."""
        found: list[Change] = []
        if self.entry_change.builds or self.entry_change.files or self.file_change is None:
            found.append(self.entry_change)
        if self.file_change is not None:
            found.append(self.file_change)
        return tuple(found)

    def change(self) -> EntryChange:
        """The builds whose entry changed, and the new ones, as a change to plan."""
        return self.entry_change

    def build(self, name: str) -> BuildDiff:
        """The changes of the build called *name*; ``KeyError`` when it has none."""
        for changed in self.changed:
            if changed.name == name:
                return changed
        raise KeyError(name)

    def to_data(self) -> dict[str, Any]:
        """The diff as plain values (schema ``imagegraph/diff/v1``)."""

        def described(builds: Mapping[str, ImageBuild], name: str) -> dict[str, Any]:
            build = builds.get(name)
            return {
                "name": name,
                "tags": [tag.familiar for tag in build.tags] if build else [],
                "dockerfile": build.dockerfile if build else None,
                "origin": build.origin if build else None,
            }

        result = self.impact
        return {
            "schema": "imagegraph/diff/v1",
            "since": self.since,
            "until": self.until,
            "added": [described(self.new_builds, name) for name in self.added],
            "removed": [described(self.old_builds, name) for name in self.removed],
            "changed": [changed.to_dict() for changed in self.changed],
            "bases_added": list(self.bases_added),
            "bases_removed": list(self.bases_removed),
            "compared": list(self.compared),
            "rebuild": [
                {
                    "name": name,
                    "why": list(result.causes.get(name, ())),
                    "via": [edge.parent for edge in result.reasons.get(name, ())[:1]]
                    + [edge.child for edge in result.reasons.get(name, ())[:-1]],
                }
                for name in self.rebuild
            ],
            "diagnostics": [d.to_dict() for d in self.diagnostics],
        }

    def to_json(self) -> str:
        """:meth:`to_data` as indented JSON ending in a newline, ASCII only (every other
        character escaped) and with no GitHub Actions runner command in it."""
        text = json.dumps(self.to_data(), indent=2, ensure_ascii=True)
        return text.replace("##[", "#\\u0023[") + "\n"

    def __repr__(self) -> str:
        return (
            f"<GraphDiff {len(self.added)} added, {len(self.removed)} removed, "
            f"{len(self.changed)} changed, {len(self.rebuild)} to rebuild>"
        )


def diff(
    old: ImageGraph,
    new: ImageGraph,
    *,
    files: Iterable[str] | None = None,
    since: str | None = None,
    until: str | None = None,
) -> GraphDiff:
    """What changed from the graph *old* to the graph *new* of one fleet.

    *files*, when given, are the files that differ between the two
    (relative to the scanned root, as ``git diff --name-only`` lists them
    from there): a Dockerfile then counts as changed when it is listed, and
    the rebuild also counts every build that reads a listed file (see
    :class:`~imagegraph.FileChange`), except that a declaration file both
    graphs read counts only through the entries that differ. Without
    *files*, each Dockerfile is read from both graphs' roots and compared.

    *since* and *until* name the revisions, for display only.
    """
    old_builds = {build.name: build for build in old.builds}
    new_builds = {build.name: build for build in new.builds}
    listed = None if files is None else FileChange.of(files, root=new.inventory.root).paths
    changed_paths = None if listed is None else frozenset(listed)
    contents = _Contents(old, new)
    old_parents, new_parents = old.nx.pred, new.nx.pred
    changed: list[BuildDiff] = []
    entries: list[tuple[str, tuple[str, ...]]] = []
    for name in sorted(new_builds.keys() & old_builds.keys()):
        before, after = old_builds[name], new_builds[name]
        fields = _field_changes(before, after)
        dockerfile = contents.changed(before, after, changed_paths)
        had, has = set(old_parents[name]), set(new_parents[name])
        added = tuple(edge for parent in sorted(has - had) for edge in new.node_edges(parent, name))
        removed = tuple(
            edge for parent in sorted(had - has) for edge in old.node_edges(parent, name)
        )
        if fields or dockerfile or added or removed:
            one = BuildDiff(name, fields, dockerfile, added, removed)
            changed.append(one)
            # With the changed files, a changed Dockerfile is their FileChange's.
            why = one.reasons if changed_paths is None else tuple(str(f) for f in fields)
            if not why and not dockerfile:
                # Neither its entry nor its Dockerfile: a FROM that now resolves to
                # another image (the build providing its tag removed, say) still is one.
                why = one.parent_reasons
            if why:
                entries.append((name, why))
    added_names = tuple(sorted(new_builds.keys() - old_builds.keys()))
    for name in added_names:
        origin = new_builds[name].origin
        entries.append((name, (f"new build ({origin})" if origin else "new build",)))
    entries.sort()
    old_sources, new_sources = set(old.inventory.sources), set(new.inventory.sources)
    compared = tuple(sorted(old_sources & new_sources))
    # What the old revision's files could not give (a blob too large to read) is
    # compared as missing there: said, since the answer depends on it.
    notes = [d for d in old.diagnostics if d.code == SKIPPED]
    file_change = None
    if listed is not None and changed_paths is not None:
        unread = sorted(path for path in new_sources - old_sources if path in changed_paths)
        notes.extend(
            Diagnostic(
                _NOT_COMPARED,
                Severity.WARNING,
                f"{path} declares no build at {since or 'the old revision'} (it did not exist "
                "there, or was not read there): every build it declares counts as changed",
                path,
            )
            for path in unread
        )
        file_change = FileChange(listed, compared)
    entry_change = EntryChange(
        tuple(entries),
        tuple(path for path in compared if changed_paths is not None and path in changed_paths),
    )
    changes: list[Change] = [entry_change]
    if file_change is not None:
        changes.append(file_change)
    result = impact(new, changes)
    old_bases, new_bases = _external(old), _external(new)
    return GraphDiff(
        added=added_names,
        removed=tuple(sorted(old_builds.keys() - new_builds.keys())),
        changed=tuple(changed),
        bases_added=tuple(sorted(new_bases - old_bases)),
        bases_removed=tuple(sorted(old_bases - new_bases)),
        rebuild=result.affected,
        impact=result,
        entry_change=entry_change,
        file_change=file_change,
        compared=compared,
        diagnostics=(*notes, *contents.notes, *result.diagnostics),
        since=since,
        until=until,
        old=old,
        new=new,
        new_builds=new_builds,
        old_builds=old_builds,
    )


def _external(graph: ImageGraph) -> set[str]:
    """The external images *graph* uses."""
    return {node for node, data in graph.nx.nodes(data=True) if data["kind"] == "external"}


def _field_changes(old: ImageBuild, new: ImageBuild) -> tuple[FieldChange, ...]:
    """How the declaration of a build differs, as a build tool sees it."""
    found: list[FieldChange] = []
    for name, before, after in (
        ("dockerfile", old.dockerfile, new.dockerfile),
        ("context", old.context, new.context),
        ("target", old.target, new.target),
    ):
        if before != after:
            found.append(FieldChange(name, None, before, after))
    for name, was, now in (
        ("arg", old.args, new.args),
        ("named_context", old.contexts, new.contexts),
    ):
        if was != now:
            found.extend(
                FieldChange(name, key, was.get(key), now.get(key))
                for key in sorted(was.keys() | now.keys())
                if was.get(key) != now.get(key)
            )
    old_tags = {tag.familiar: tag for tag in old.tags}
    new_tags = {tag.familiar: tag for tag in new.tags}
    if set(old_tags.values()) != set(new_tags.values()):
        found.extend(
            FieldChange("tag", None, tag, None) for tag in sorted(old_tags.keys() - new_tags.keys())
        )
        found.extend(
            FieldChange("tag", None, None, tag) for tag in sorted(new_tags.keys() - old_tags.keys())
        )
    ours, theirs = _platform_keys(old.platforms), _platform_keys(new.platforms)
    if ours != theirs:
        found.extend(
            FieldChange("platform", None, platform, None)
            for platform in old.platforms
            if not _platform_keys((platform,)) <= theirs
        )
        found.extend(
            FieldChange("platform", None, None, platform)
            for platform in new.platforms
            if not _platform_keys((platform,)) <= ours
        )
    if old.dockerfile_inline != new.dockerfile_inline:
        found.append(
            FieldChange("dockerfile_inline", None, old.dockerfile_inline, new.dockerfile_inline)
        )
    if old.imported != new.imported:
        found.append(FieldChange("imported", None, str(old.imported), str(new.imported)))
    if set(old.constraints) != set(new.constraints):
        found.extend(
            FieldChange("constraint", None, item, None)
            for item in sorted(set(old.constraints) - set(new.constraints))
        )
        found.extend(
            FieldChange("constraint", None, None, item)
            for item in sorted(set(new.constraints) - set(old.constraints))
        )
    return tuple(found)


class _Contents:
    """Whether a build's Dockerfile differs between the two graphs, each file read once."""

    def __init__(self, old: ImageGraph, new: ImageGraph) -> None:
        self.sides = (
            (Path(old.inventory.root), old.inventory.readable_root),
            (Path(new.inventory.root), new.inventory.readable_root),
        )
        self.known: dict[tuple[str, str], bool] = {}
        self.notes: list[Diagnostic] = []

    def changed(self, old: ImageBuild, new: ImageBuild, files: frozenset[str] | None) -> bool:
        if old.dockerfile_inline is not None or new.dockerfile_inline is not None:
            return False  # compared as a field of the entry
        if files is not None and old.dockerfile == new.dockerfile:
            return new.dockerfile in files
        key = (old.dockerfile, new.dockerfile)
        found = self.known.get(key)
        if found is None:
            before, after = (
                self.read(side, path) for side, path in zip(self.sides, key, strict=True)
            )
            found = self.known[key] = before != after
        return found

    def read(self, side: tuple[Path, str], path: str) -> bytes | None:
        root, readable = side
        try:
            return read_bytes(root / path, root=readable)
        except OSError:
            return None  # the graph reported it; a file read on one side only differs


def changes_since(
    graph: ImageGraph,
    path: str | os.PathLike[str],
    revision: str,
    *,
    config: str | os.PathLike[str] | None = None,
    root: str | os.PathLike[str] | None = None,
    cache: bool = True,
) -> tuple[tuple[Change, ...], tuple[Diagnostic, ...]]:
    """What ``plan --since REVISION`` plans on *graph* (the scan of the work tree
    holding *path*): the changed entries and new builds, and the changed files
    (git only reads: see :mod:`imagegraph._git`), with its diagnostics.

    The fleet at *revision* is read with
    :func:`~imagegraph.revision.scan_revision` (*config*, *root* and *cache* as
    for it). When it cannot be read (broken there, or *path* was no directory
    of it), every changed declaration file counts as changing every build it
    declares, as a changed file, and a ``revision-unreadable`` warning
    says why. Raises :class:`~imagegraph._git.GitError` as
    :func:`~imagegraph._git.changed_files` does.
    """
    found = changed_files(path, revision, readable=graph.inventory.readable_root)
    paths = tuple(
        _root_relative(os.path.join(found.top, name), graph.inventory.root) for name in found.paths
    )
    named = None if config is None else os.path.abspath(config)  # as scan() reads it
    try:
        old = scan_revision(path, revision, config=named, root=root, cache=cache)
    except ImageGraphError as err:
        note = Diagnostic(
            "revision-unreadable", Severity.WARNING,
            f"the fleet at {revision} cannot be read, so its declarations are not compared "
            f"entry by entry ({err}): a changed declaration file counts as changing every "
            "build it declares",
        )  # fmt: skip
        return (FileChange(paths),), (note,)
    result = diff(old, graph, files=paths, since=revision)
    notes = tuple(d for d in result.diagnostics if d.code in (SKIPPED, _NOT_COMPARED))
    return result.changes(), notes


def diff_revisions(
    path: str | os.PathLike[str],
    since: str,
    until: str | None = None,
    *,
    graph: ImageGraph | None = None,
    config: str | os.PathLike[str] | None = None,
    root: str | os.PathLike[str] | None = None,
    cache: bool = True,
) -> GraphDiff:
    """The :func:`diff` from the fleet at *path* as it was at git revision *since*
    to the fleet at revision *until*, or as it is in the work tree (*graph*, its
    scan, when the caller has it; scanned here otherwise), with the files
    changed between them (git only reads: see :mod:`imagegraph._git`).

    Raises :class:`~imagegraph._git.GitError` for a revision git cannot read,
    and :class:`~imagegraph.ConfigError` (or any
    :class:`~imagegraph.ImageGraphError` a scan raises) for a fleet that cannot
    be read at either revision.
    """
    named = None if config is None else os.path.abspath(config)  # as scan() reads it
    if until is None:
        new = graph if graph is not None else scan(path, config=config, root=root, cache=cache)
        found = changed_files(path, since, readable=new.inventory.readable_root)
        top, names = found.top, found.paths
    else:
        top, names = _between(Path(path), since, until)  # both revisions checked first
        new = scan_revision(path, until, config=named, root=root, cache=cache)
    scanned = os.path.realpath(path)
    files = tuple(_root_relative(os.path.join(top, name), scanned) for name in names)
    old = scan_revision(path, since, config=named, root=root, cache=cache)
    return diff(old, new, files=files, since=since, until=until)


def _between(path: Path, since: str, until: str) -> tuple[Path, tuple[str, ...]]:
    """The top of the work tree holding *path*, and the files that differ between
    the trees of *since* and *until* (relative to that top, sorted), compared from
    ``git ls-tree`` listings: git only reads, as :func:`~imagegraph._git.changed_files`."""
    listings = []
    top: Path | None = None
    for option, revision in (("--since", since), ("--until", until)):
        what = f"{option} {revision!r}"
        check_revision(revision, what)
        if top is None:
            if not path.is_dir():
                raise GitError(f"{what}: {os.fspath(path)} is not a directory")
            top, _ = work_tree(path, what)
        tree = tree_of(top, revision, what)
        listings.append(tree_listing(top, tree, what))
    assert top is not None
    before, after = listings
    names = sorted(
        name for name in before.keys() | after.keys() if before.get(name) != after.get(name)
    )
    return Path(os.path.realpath(top)), tuple(os.fsdecode(name) for name in names)
