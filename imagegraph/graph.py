"""The image graph: images as nodes, parent -> child edges from every Dockerfile of a fleet.

Nodes are named by strings: an image built here is called by its build's
name (``python-3.12-bookworm``), an external image by its normalised
reference (``docker.io/library/debian:bookworm``). Queries accept either,
and also any tag of a build or any spelling of a reference
(``debian:bookworm``).

Edges go from parent to child and carry every use that made them
(:class:`Edge`): ``from`` (a stage's base), ``copy`` (``COPY --from``),
``mount`` (``RUN --mount=from=``) and ``context`` (a named build context
``target:<build>`` in bake, ``service:<name>`` in compose, or
``contexts`` in ``imagegraph.toml``).

A tag several builds share for different platforms (or, for one platform,
different :attr:`~imagegraph.inventory.ImageBuild.constraints`) is one
multi-platform image: a query about the tag covers every build of it
(:meth:`ImageGraph.nodes`, :meth:`ImageGraph.tag_owners`), and a child
builds on the builds serving its platforms (its ``FROM --platform=`` value,
else its own platforms; a build without platforms serves, and asks for,
any). When none serves a platform the child asks for, BuildKit would not
find it: a ``platform-not-built`` warning, and the child builds on every
build of the tag. An imported build (``Builder: oci-import``) has no
Dockerfile: it is a root, never read.

What the Dockerfiles cannot tell is reported, never guessed: a ``FROM``
whose ARG has no value is an ``unresolved-arg`` diagnostic and the build is
listed in :attr:`ImageGraph.undetermined`; a Dockerfile BuildKit would
refuse is a ``dockerfile-error`` error and the build stays in the graph with
the parents that could be read (none). Such a build, and one whose Dockerfile
is missing or refused (``missing-dockerfile``, ``outside-root``,
``not-regular-file``, ``file-too-large``), has parents nobody knows: it is in
:attr:`ImageGraph.undetermined` too, so an image change lists it (and its
children) as possibly reached instead of leaving it out of the plan unseen.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, KeysView, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

import networkx as nx

from imagegraph._files import RefusedFile, read_bytes
from imagegraph._pickling import paused_gc, positional_reduce
from imagegraph._reading import read_dockerfiles
from imagegraph._sources.common import declared_at
from imagegraph.diagnostics import Diagnostic, Severity
from imagegraph.dockerfile import (
    AUTOMATIC_ARGS,
    Dockerfile,
    Parent,
    Prepared,
    StageRef,
    parse_dockerfile,
    prepare_dockerfile,
    resolve_dockerfile,
)
from imagegraph.errors import ImageGraphError, InvalidReference
from imagegraph.inventory import ImageBuild, Inventory, load_inventory
from imagegraph.reference import ImageRef

if TYPE_CHECKING:
    from imagegraph.context import ContextUse
    from imagegraph.findings import Findings, LintPolicy
    from imagegraph.frames import GraphFrames
    from imagegraph.image_packages import PackageList
    from imagegraph.impact import Change, Impact
    from imagegraph.layers import CollapseBy
    from imagegraph.oci import ManifestSource
    from imagegraph.plan import RebuildPlan
    from imagegraph.render.picture import Picture
    from imagegraph.stale import StaleReport

__all__ = ["Edge", "EdgeKind", "GraphCycleError", "ImageGraph", "UnknownImage", "scan"]

EdgeKind = Literal["from", "copy", "mount", "context"]


class GraphCycleError(ImageGraphError):
    """Images that are, through their parents, their own ancestors: no order can build them.

    ``cycle`` holds the edges around the loop, each naming its Dockerfile and line.
    """

    def __init__(self, cycle: tuple[Edge, ...]) -> None:
        self.cycle = cycle
        steps = [f"{edge.parent} -> {edge.child} ({edge.where})" for edge in cycle]
        super().__init__("images depend on themselves: " + "; ".join(steps))

    def __reduce__(self) -> tuple[object, ...]:
        return (GraphCycleError, (self.cycle,))


class UnknownImage(ImageGraphError, KeyError):
    """A query named an image that is neither built here nor used by any build.

    ``suggestions`` holds the closest names the fleet has (builds, tags,
    parent images, repositories), best first; the message offers them.

    >>> print(UnknownImage("debain:bookworm", ("debian:bookworm",)))
    no image 'debain:bookworm' in the graph; did you mean debian:bookworm?
    """

    def __init__(
        self, image: str, suggestions: tuple[str, ...] = (), *, message: str | None = None
    ) -> None:
        self.image = image
        self.suggestions = tuple(suggestions)
        text = message or f"no image {image!r} in the graph"
        if self.suggestions:
            *most, last = self.suggestions
            text += f"; did you mean {', '.join(most) + ' or ' if most else ''}{last}?"
        super().__init__(text)

    def __str__(self) -> str:
        return str(self.args[0])

    def __reduce__(self) -> tuple[object, ...]:
        return (_unknown_image, (self.image, self.suggestions, str(self)))


def _unknown_image(image: str, suggestions: tuple[str, ...], text: str) -> UnknownImage:
    """An :class:`UnknownImage` as pickled: its message as it was."""
    error = UnknownImage(image, suggestions)
    error.args = (text,)
    return error


@dataclass(frozen=True, slots=True)
class Edge:
    """One use of a parent image by a child build, where it is written.

    >>> Edge("docker.io/library/debian:bookworm", "base", "from", "base/Dockerfile", 3,
    ...      "debian:bookworm").where
    'base/Dockerfile:3'
    """

    __reduce__ = positional_reduce

    parent: str
    child: str
    kind: EdgeKind
    path: str
    """The file the use is written in (a Dockerfile, or a declaration file for contexts)."""
    line: int | None
    text: str
    """The reference as written, before ARG expansion (``${BASE}``, ``target:base``)."""
    stage: str | None = None
    """The stage that uses the parent (its name, or its index as text)."""
    value: str | None = None
    """The reference after ARG expansion, as BuildKit will look it up
    (``registry.acme.internal/platform/python:3.12-bookworm``); ``None`` for contexts."""

    @property
    def where(self) -> str:
        """``path:line``, or the path when there is no line."""
        return f"{self.path}:{self.line}" if self.line is not None else self.path


@dataclass(frozen=True, slots=True)
class _Node:
    build: ImageBuild | None = None
    ref: ImageRef | None = None
    dockerfile: Dockerfile | None = field(default=None, compare=False)


class ImageGraph:
    """The parent -> child graph of a fleet's images; see :func:`scan`.

    >>> graph = ImageGraph.from_builds([
    ...     ImageBuild("base", "base/Dockerfile", "base", (ImageRef.parse("acme/base:1"),),
    ...                dockerfile_inline="FROM debian:bookworm"),
    ...     ImageBuild("app", "app/Dockerfile", "app",
    ...                dockerfile_inline="FROM acme/base:1\\nCOPY --from=alpine:3 /x /x"),
    ... ])
    >>> graph.parents("app")
    ['base', 'docker.io/library/alpine:3']
    >>> graph.descendants("debian:bookworm")
    ['app', 'base']
    """

    def __init__(
        self,
        graph: nx.DiGraph[str],
        inventory: Inventory,
        diagnostics: tuple[Diagnostic, ...],
        undetermined: Mapping[str, tuple[str, ...]],
        owners: _Owners | None = None,
    ) -> None:
        """*owners*: who builds each tag of the inventory, where the caller has
        it already (:func:`_tag_owners` of its builds); found again otherwise."""
        self._graph = graph
        self.inventory = inventory
        self.diagnostics = diagnostics
        """The inventory's diagnostics, then every Dockerfile's, then the graph's own."""
        self.undetermined: Mapping[str, tuple[str, ...]] = undetermined
        """Builds with a parent that could not be resolved -> the references as written.
        A change may or may not reach them; :meth:`impact` says so."""
        self._cache: dict[tuple[str, str], Any] = {}
        if owners is None:
            owners = _tag_owners(inventory.builds)
        self._tags: dict[ImageRef, str] = {tag: build.name for tag, build in owners.first.items()}
        self._owners: dict[ImageRef, tuple[str, ...]] = {
            tag: tuple(build.name for build in builds) for tag, builds in owners.shared.items()
        }
        # A build named as a tag it shares (a manifest's build of one entry is
        # <repository>:<first tag>, and the entry's other architectures build
        # that tag too): the name stands for the tag, every build of it.
        self._named_as_shared: dict[str, tuple[str, ...]] = {}
        for tag, names in self._owners.items():
            for spelling in (tag.familiar, str(tag)):
                if spelling in names:
                    self._named_as_shared[spelling] = names

    # -- construction -------------------------------------------------------

    @classmethod
    def from_builds(
        cls,
        builds: Iterable[ImageBuild],
        *,
        root: str | os.PathLike[str] = ".",
        aliases: Mapping[str, str] | None = None,
    ) -> ImageGraph:
        """The graph of *builds*, with Dockerfile paths relative to *root*."""
        inventory = Inventory(root=str(root), builds=tuple(builds), aliases=dict(aliases or {}))
        return _Builder(inventory).build()

    # -- the way out to networkx --------------------------------------------

    @property
    def nx(self) -> nx.DiGraph[str]:
        """A read-only networkx view: node attributes ``kind`` (``build`` or
        ``external``), ``build`` / ``ref``; edge attribute ``uses`` (a tuple of :class:`Edge`)."""
        view: nx.DiGraph[str] = self._graph.copy(as_view=True)
        return view

    # -- nodes ----------------------------------------------------------------

    @property
    def builds(self) -> tuple[ImageBuild, ...]:
        """Every build, in inventory order."""
        return self.inventory.builds

    @property
    def images(self) -> list[str]:
        """Every node, sorted: builds and the external images they use."""
        return sorted(self._graph)

    def build(self, image: str | ImageRef) -> ImageBuild:
        """The build behind *image*; :class:`UnknownImage` if it is external or unknown."""
        node = self._graph.nodes[self.node(image)]
        if node["kind"] != "build":
            raise UnknownImage(f"{image} is not built here")
        build: ImageBuild = node["build"]
        return build

    def is_external(self, image: str | ImageRef) -> bool:
        """True for an image this fleet uses but does not build."""
        return bool(self._graph.nodes[self.node(image)]["kind"] == "external")

    def node(self, image: str | ImageRef, *, suggest: bool = False) -> str:
        """The node name for a build name, a tag of a build, or an image reference.

        A tag several builds share (one multi-platform image: a Linux and a
        Windows entry of a manifest) names the first of them, as
        :meth:`tag_owner` does; :meth:`nodes` names them all, and every query
        (:meth:`parents`, :meth:`children`, :meth:`ancestors`,
        :meth:`descendants`, :meth:`edges`, :meth:`why`, and a change)
        covers them all.

        Raises :class:`UnknownImage` when nothing matches; with *suggest*, its
        ``suggestions`` name the closest images (a comparison with every name
        of the fleet: for a person's typo, not for a loop over many names).
        """
        return self.nodes(image, suggest=suggest)[0]

    def nodes(self, image: str | ImageRef, *, suggest: bool = False) -> tuple[str, ...]:
        """Every node *image* names: one, except for a tag several builds share
        (one multi-platform image), which names each of them in declaration order;
        so does a build's name that is also such a tag (``golang:1.22``, the build
        of a manifest entry whose other architectures build it from other
        Dockerfiles).

        >>> graph = ImageGraph.from_builds([
        ...     ImageBuild("tool", "tool/Dockerfile", "tool", (ImageRef.parse("acme/tool:1"),),
        ...                platforms=("linux/amd64",), dockerfile_inline="FROM debian:12"),
        ...     ImageBuild("tool-win", "win/Dockerfile", "win", (ImageRef.parse("acme/tool:1"),),
        ...                platforms=("windows/amd64",),
        ...                dockerfile_inline="FROM mcr.microsoft.com/windows/nanoserver:ltsc2022"),
        ... ])
        >>> graph.nodes("acme/tool:1"), graph.node("acme/tool:1")
        (('tool', 'tool-win'), 'tool')
        >>> graph.parents("acme/tool:1")
        ['docker.io/library/debian:12', 'mcr.microsoft.com/windows/nanoserver:ltsc2022']
        """
        if isinstance(image, str) and image in self._graph:
            return self._named_as_shared.get(image, (image,))
        try:
            ref = (
                image
                if isinstance(image, ImageRef)
                else ImageRef.parse(image, aliases=self.inventory.aliases)
            )
        except InvalidReference:
            ref = None
        if ref is not None:
            owners = self.tag_owners(ref)
            if owners:
                return owners
            if str(ref) in self._graph:
                return (str(ref),)
        if not suggest:
            raise UnknownImage(str(image))
        from imagegraph.impact import _suggestions

        raise UnknownImage(str(image), _suggestions(self, str(image)))

    def base(self, image: str | ImageRef) -> str | None:
        """The image a build's final stage starts from (through its stages), or ``None``
        for ``FROM scratch``, an external image, or a base that could not be resolved.

        Builder stages and ``COPY --from`` sources are parents too, but only
        this one passes its filesystem, and so its packages, to the image.
        """
        base: str | None = self._graph.nodes[self.node(image)].get("base")
        return base

    def _named(self, repository: str) -> list[tuple[str, ImageRef]]:
        """Every ``(node, reference)`` whose reference is of *repository*
        (``docker.io/library/debian``): a build once per tag, an external image once."""
        key = ("", "named")
        if key not in self._cache:
            index: dict[str, list[tuple[str, ImageRef]]] = {}
            for node, data in self._graph.nodes(data=True):
                refs = data["build"].tags if data["kind"] == "build" else (data["ref"],)
                for ref in refs:
                    index.setdefault(ref.name, []).append((node, ref))
            self._cache[key] = index
        named: list[tuple[str, ImageRef]] = self._cache[key].get(repository, [])
        return named

    def tag_owner(self, ref: ImageRef) -> str | None:
        """The build that produces *ref*, if one does: for a tag several builds
        share (one multi-platform image), the first of them (see :meth:`tag_owners`)."""
        return self._tags.get(ref)

    @property
    def shared_tags(self) -> Mapping[ImageRef, tuple[str, ...]]:
        """Each tag several builds produce (one multi-platform image) -> those
        builds, in declaration order (see :meth:`tag_owners`); empty in a fleet
        without any."""
        return MappingProxyType(self._owners)

    @property
    def built_tags(self) -> KeysView[ImageRef]:
        """Every tag a build of this fleet produces."""
        return self._tags.keys()

    def tag_owners(self, ref: ImageRef) -> tuple[str, ...]:
        """Every build that produces *ref*, in declaration order: several when the
        tag is one multi-platform image of builds for different platforms (or, for
        one platform, different :attr:`~imagegraph.inventory.ImageBuild.constraints`);
        empty when none does. A second build of one tag for the same platform is a
        ``duplicate-tag`` warning, and not an owner."""
        shared = self._owners.get(ref)
        if shared is not None:
            return shared
        owner = self._tags.get(ref)
        return (owner,) if owner is not None else ()

    # -- edges and neighbourhoods -------------------------------------------

    def edges(self, parent: str | ImageRef, child: str | ImageRef) -> tuple[Edge, ...]:
        """Every use of *parent* by *child* (empty when there is none)."""
        found: list[Edge] = []
        for a in self.nodes(parent):
            for b in self.nodes(child):
                data = self._graph.get_edge_data(a, b)
                if data:
                    found.extend(data["uses"])
        return tuple(found)

    def node_children(self, node: str) -> list[str]:
        """The children of the node called exactly *node*, sorted: what a
        renderer walking :attr:`images` needs, where :meth:`children` reads a
        build's name that is also a tag of other builds as that tag."""
        return sorted(self._graph.successors(node))

    def node_edges(self, parent: str, child: str) -> tuple[Edge, ...]:
        """Every use of the node *parent* by the node *child*, names taken exactly
        (see :meth:`node_children`)."""
        data = self._graph.get_edge_data(parent, child)
        return tuple(data["uses"]) if data else ()

    def node_descendants(self, node: str) -> set[str]:
        """Every build below the node called exactly *node* (see :meth:`node_children`)."""
        return nx.descendants(self._graph, node)

    def parents(self, image: str | ImageRef) -> list[str]:
        """The images *image* is built from or copies from, sorted (for a tag of
        several builds, the parents of every one)."""
        return sorted({p for node in self.nodes(image) for p in self._graph.predecessors(node)})

    def children(self, image: str | ImageRef) -> list[str]:
        """The builds that use *image* directly, sorted."""
        return sorted({c for node in self.nodes(image) for c in self._graph.successors(node)})

    def ancestors(self, image: str | ImageRef) -> list[str]:
        """Everything *image* depends on, however indirectly, sorted."""
        return sorted({a for node in self.nodes(image) for a in nx.ancestors(self._graph, node)})

    def descendants(self, image: str | ImageRef) -> list[str]:
        """Every build that depends on *image*, however indirectly, sorted."""
        nodes = self.nodes(image)
        if len(nodes) == 1:
            return sorted(nx.descendants(self._graph, nodes[0]))
        return sorted({d for node in nodes for d in nx.descendants(self._graph, node)})

    def roots(self) -> list[str]:
        """Images nothing here builds from: the external bases, and builds ``FROM scratch``."""
        return sorted(n for n, degree in self._graph.in_degree() if degree == 0)

    def leaves(self) -> list[str]:
        """Builds no other build uses, sorted."""
        return sorted(
            n for n, degree in self._graph.out_degree()
            if degree == 0 and self._graph.nodes[n]["kind"] == "build"
        )  # fmt: skip

    def external_bases(self) -> dict[str, list[str]]:
        """Each external image -> the builds that use it directly, both sorted."""
        return {
            node: sorted(self._graph.successors(node))
            for node in sorted(self._graph)
            if self._graph.nodes[node]["kind"] == "external"
        }

    # -- change analysis (see imagegraph.impact and imagegraph.plan) --------

    def impact(self, changes: Iterable[Change], *, include_unknown: bool = False) -> Impact:
        """The builds a change reaches and why; see :func:`imagegraph.impact.impact`."""
        from imagegraph.impact import impact

        return impact(self, changes, include_unknown=include_unknown)

    def packages(self, image: str | ImageRef) -> PackageList:
        """The packages in *image*, its own and inherited; see :mod:`imagegraph.image_packages`.

        A tuple of :class:`~imagegraph.ImagePackage` that also shows itself in
        a notebook and has ``to_pandas()``."""
        from imagegraph.image_packages import image_packages

        return image_packages(self, image)

    def why(self, image: str | ImageRef, change: Change) -> tuple[Edge, ...] | None:
        """The chain of edges from *change* to *image*; ``()`` if *image* is the
        change itself, ``None`` if the change does not reach it. For a tag of
        several builds (one multi-platform image), the shortest chain to any."""
        from imagegraph.impact import impact

        nodes = self.nodes(image)
        result = impact(self, [change])
        if any(node in result.changed for node in nodes):
            return ()
        chains = [result.reasons[node] for node in nodes if node in result.reasons]
        # For a tag of several builds: the shortest chain to any of them.
        return min(chains, key=len) if chains else None

    def plan(
        self,
        changes: Iterable[Change] | None = None,
        *,
        max_parallel: int | None = None,
        durations: Mapping[str, float] | None = None,
        workers: int | None = None,
        include_unknown: bool = False,
        relative_to: str | os.PathLike[str] | None = None,
    ) -> RebuildPlan:
        """The rebuild plan for *changes* (everything when ``None``); see
        :func:`imagegraph.plan.plan`."""
        from imagegraph.plan import plan

        return plan(
            self, changes, max_parallel=max_parallel, durations=durations, workers=workers,
            include_unknown=include_unknown, relative_to=relative_to,
        )  # fmt: skip

    def stale(
        self, source: ManifestSource, *, platforms: Iterable[str] | None = None
    ) -> StaleReport:
        """Which pushed images are stale, missing, fresh or unknown, read from *source*
        (a registry client, or :class:`imagegraph.RecordedManifests`); see
        :func:`imagegraph.stale.check_stale`. ``graph.plan([report.change()])`` plans
        the stale and missing ones and everything built on them."""
        from imagegraph.stale import check_stale

        return check_stale(self, source, platforms=platforms)

    def files_affecting(
        self, paths: Iterable[str], *, compared: Iterable[str] = ()
    ) -> tuple[dict[str, tuple[str, ...]], list[Diagnostic]]:
        """The builds that changed *paths* (relative to the root) reach directly, and why.

        See :class:`imagegraph.FileChange` for the rules. Returns ``{build:
        (cause, ...)}`` and diagnostics about sources that could not be read.
        A declaration file in *compared* (its entries were compared one by one
        with another revision's) does not reach the builds it declares by
        being changed; it counts only as a file of a context.
        """
        from imagegraph.context import read_dockerignore

        wanted = [p for p in paths if p]
        entries_compared = frozenset(compared)
        hits: dict[str, list[str]] = {}
        notes: list[Diagnostic] = []
        root = Path(self.inventory.root)
        for build in self.builds:
            declared = (
                build.origin.partition(":")[0] if build.origin not in ("", "convention") else ""
            )
            if declared in entries_compared:
                declared = ""
            own = build.dockerfile if build.dockerfile_inline is None else None
            context = "" if build.context == "." else build.context + "/"
            ignore_files = {f"{context}.dockerignore", f"{build.dockerfile}.dockerignore"}
            use = None
            for path in wanted:
                cause = None
                if build.imported:
                    # An OCI layout is imported whole: any file of it changes the image.
                    if path == declared:
                        cause = f"{path}: declares {build.name!r}"
                    elif path == build.dockerfile or (
                        path.startswith(context) if context else not path.startswith("../")
                    ):
                        cause = f"{path}: in the OCI image layout {build.name!r} imports"
                elif path == own:
                    cause = f"{path}: the Dockerfile"
                elif path == declared:
                    cause = f"{path}: declares {build.name!r}"
                elif path in ignore_files:
                    cause = f"{path}: decides what the context sends"
                elif path.startswith(context) if context else not path.startswith("../"):
                    relative = path[len(context) :]
                    key = (build.name, "ignore")
                    if key not in self._cache:
                        self._cache[key] = read_dockerignore(
                            root / build.context, root / build.dockerfile if own else None,
                            root=self.inventory.readable_root, diagnostics=notes,
                        )  # fmt: skip
                    if self._cache[key].ignores(relative):
                        continue
                    if use is None:
                        use = self._context_use(build)
                        notes.extend(use.diagnostics if use is not None else ())
                    source = use.covering(relative) if use is not None else None
                    if use is None:
                        cause = f"{path}: in the context, and the Dockerfile could not be read"
                    elif source is not None:
                        shown = "the whole context" if source.pattern == "." else source.pattern
                        cause = (
                            f"{path}: {source.keyword} {shown} "
                            f"({build.dockerfile}:{source.line}, stage {source.stage})"
                        )
                if cause is not None:
                    hits.setdefault(build.name, []).append(cause)
        return {name: tuple(causes) for name, causes in hits.items()}, notes

    def _context_use(self, build: ImageBuild) -> ContextUse | None:
        from imagegraph.context import context_use

        key = (build.name, "use")
        if key not in self._cache:
            dockerfile = self.dockerfile(build.name)
            self._cache[key] = None if dockerfile is None else context_use(dockerfile, build.target)
        cached: ContextUse | None = self._cache[key]
        return cached

    def dockerfile(self, image: str | ImageRef) -> Dockerfile | None:
        """The whole parsed Dockerfile of a build, under its build arguments, or
        ``None`` when it could not be read (see :attr:`diagnostics`).

        A scan keeps only what the graph needs of each file; this reads the
        file again, once, the first time a build's instructions are asked for.
        An imported build (:attr:`~imagegraph.inventory.ImageBuild.imported`)
        has no Dockerfile: ``None``.
        """
        build = self.build(image)
        key = (build.name, "dockerfile")
        if key not in self._cache:
            self._cache[key] = self._read_dockerfile(build)
        found: Dockerfile | None = self._cache[key]
        return found

    def _read_dockerfile(self, build: ImageBuild) -> Dockerfile | None:
        """:meth:`dockerfile` without keeping the result: what reads every
        build once (a package change) would otherwise hold every file's
        instructions at once (gigabytes at 100,000 builds)."""
        cached: Dockerfile | None = self._cache.get((build.name, "dockerfile"))
        if cached is not None or build.imported:
            return cached
        text: str | bytes | None = build.dockerfile_inline
        if text is None:
            try:
                text = read_bytes(
                    Path(self.inventory.root) / build.dockerfile,
                    root=self.inventory.readable_root,
                )
            except OSError:
                return None
        try:
            return parse_dockerfile(text, path=build.dockerfile, build_args=build.args)
        except ImageGraphError:
            return None

    # -- analysis -----------------------------------------------------------

    def findings(self, policy: LintPolicy | None = None) -> Findings:
        """The fleet's hygiene findings (unpinned and drifting bases, stragglers,
        deep chains, ...) under *policy*, by default the ``[lint]`` table of the
        fleet's config; see :func:`imagegraph.findings.findings`.

        >>> graph = ImageGraph.from_builds([
        ...     ImageBuild("app", "app/Dockerfile", "app", dockerfile_inline="FROM python"),
        ... ])
        >>> [(f.code, f.where) for f in graph.findings()]
        [('isolated-build', 'app/Dockerfile:1'), ('unpinned-base', 'app/Dockerfile:1')]
        """
        from imagegraph.findings import findings

        return findings(self, policy)

    def picture(
        self,
        impact: Impact | None = None,
        *,
        focus: str | ImageRef | None = None,
        collapse: CollapseBy | None = None,
        only_impact: bool = False,
        max_nodes: int = 150,
    ) -> Picture:
        """An SVG picture of the graph (a notebook shows it), optionally of an
        impact, with the chain to *focus* highlighted; past *max_nodes* images
        grouped by base image. See :func:`imagegraph.render.picture.to_picture`.

        >>> graph = ImageGraph.from_builds([
        ...     ImageBuild("app", "app/Dockerfile", "app", dockerfile_inline="FROM python:3.12"),
        ... ])
        >>> graph.picture()
        <Picture 2 images, 1 edge>
        """
        from imagegraph.render.picture import to_picture

        return to_picture(
            self,
            impact,
            focus=focus,
            collapse=collapse,
            only_impact=only_impact,
            max_nodes=max_nodes,
        )

    # -- notebooks ----------------------------------------------------------

    def to_pandas(self) -> GraphFrames:
        """The nodes and edges as DataFrames (``frames.nodes``, ``frames.edges``);
        see :func:`imagegraph.frames.graph_frames`. Needs ``imagegraph[pandas]``."""
        from imagegraph.frames import graph_frames

        return graph_frames(self)

    def _repr_html_(self) -> str:
        from imagegraph.render.html import graph_html

        return graph_html(self)

    def __repr__(self) -> str:
        externals = sum(1 for n in self._graph if self._graph.nodes[n]["kind"] == "external")
        return (
            f"<ImageGraph {len(self.builds)} builds, {externals} external images, "
            f"{self._graph.number_of_edges()} edges, {len(self.diagnostics)} diagnostics>"
        )


def scan(
    path: str | os.PathLike[str] = ".",
    *,
    config: str | os.PathLike[str] | None = None,
    root: str | os.PathLike[str] | None = None,
    cache: bool = True,
    jobs: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ImageGraph:
    """Read the fleet at *path* and build its image graph.

    Files are read only from *root* (default: *path* itself, which must lie
    inside it), once symbolic links are followed, and only regular files of
    at most 16 MiB: a Dockerfile, context, ``.dockerignore`` or SBOM that
    resolves outside *root*, a FIFO, a device or a huge file is not read, and
    a diagnostic (``outside-root``, ``not-regular-file``, ``file-too-large``)
    names it while its build stays in the graph, in
    :attr:`ImageGraph.undetermined` (its parents are unknown). *config*, named by the
    caller, may be anywhere; what it names is held to *root*.

    The inventory comes from :func:`imagegraph.load_inventory`; each
    Dockerfile is read once and parsed with each build's args, and only the
    stages a build's target needs contribute parents. Raises
    :class:`GraphCycleError` for a cycle and :class:`imagegraph.ConfigError`
    for a declaration that cannot be read; everything else that is wrong is
    in :attr:`ImageGraph.diagnostics`.

    *cache* keeps parse results, and the finished graph, between runs under
    the user cache directory (``IMAGEGRAPH_CACHE_DIR`` overrides it),
    checked against the size, times and inode of every file and directory
    the scan read, so an unchanged fleet is not read again and a changed
    one re-reads only the changed Dockerfiles; ``False`` neither reads nor
    writes them. *jobs* is the number of processes that
    parse (default: every core once the fleet is large enough to pay for
    them; 1 parses in this process); the result is the same either way.
    *progress* is called as ``progress(done, total)`` while Dockerfiles are read.

    >>> graph = scan("examples/fleet", cache=False)
    >>> graph.base("api"), len(graph.builds)
    ('app-base-python-3.12', 25)
    """
    from imagegraph._reading import code_version
    from imagegraph._snapshot import load_snapshot, save_snapshot, snapshot_key

    started = time.time_ns()
    scanned = Path(path).resolve()
    config_key = snapshot_key(config, root)
    boundary = os.path.realpath(root) if root is not None else None
    version = code_version() if cache else ""
    with paused_gc():
        if cache:
            kept = load_snapshot(scanned, config_key, version)
            if kept is not None:
                return kept
        inventory = load_inventory(path, config=config, boundary=boundary)
        graph = _Builder(inventory).build(cache=cache, jobs=jobs, progress=progress)
        if cache:
            save_snapshot(Path(inventory.root), config_key, version, graph, started)
    return graph


class _Builder:
    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory
        self.root = Path(inventory.root)
        self.aliases = inventory.aliases
        self.graph: nx.DiGraph[str] = nx.DiGraph()
        self.diagnostics: list[Diagnostic] = list(inventory.diagnostics)
        self.undetermined: dict[str, tuple[str, ...]] = {}
        self.tags: dict[ImageRef, str] = {}
        self.shared: dict[ImageRef, tuple[str, ...]] = {}
        """Tags several builds share (one multi-platform image) -> those builds."""
        self.owner_table: _Owners | None = None
        """All of who builds which tag, handed on to the graph made."""
        self.platforms: dict[str, frozenset[str]] = {}
        """Builds that name platforms -> those platforms, normalised."""
        self.indexes: dict[
            int, tuple[tuple[str, ...], dict[str, list[int]], tuple[int, ...], list[str]]
        ] = {}
        """id(a tag's owners) -> (those owners, positions by platform key, positions
        for any platform, the platforms as written): see :meth:`platform_index`."""
        self.repositories: dict[str, list[ImageRef]] = {}
        # The missing Dockerfiles a declaration reader reported at the declaration.
        self.reported_missing: dict[tuple[str | None, int | None], list[str]] = {}
        for d in inventory.diagnostics:
            if d.code == "missing-dockerfile" and d.line is not None:
                self.reported_missing.setdefault((d.path, d.line), []).append(d.message)
        self.prepared: dict[str, Prepared | OSError] = {}
        self.declared: dict[str, frozenset[str]] = {}
        self.resolved: dict[
            tuple[str, tuple[tuple[str, str], ...]], Dockerfile | ImageGraphError
        ] = {}
        self.uses: dict[tuple[str, str], list[Edge]] = {}
        # For the rare pair linked many times (20,000 stages FROM one image):
        # a set beside its list, so that checking for a repeat stays constant.
        self.many_uses: dict[tuple[str, str], set[Edge]] = {}
        self.parents_of: dict[str, list[str]] = {}
        self.shown_tags: dict[str, list[str]] = {}

    def build(
        self,
        *,
        cache: bool = False,
        jobs: int | None = 1,
        progress: Callable[[int, int], None] | None = None,
    ) -> ImageGraph:
        builds = self.inventory.builds
        paths = [b.dockerfile for b in builds if b.dockerfile_inline is None and not b.imported]
        total = len(set(paths))
        done = 0

        def step(count: int) -> None:
            nonlocal done
            done += count
            if progress is not None:
                progress(done, total)

        self.prepared = read_dockerfiles(
            self.root, paths, cache=cache, jobs=jobs, progress=step if progress else None,
            boundary=self.inventory.readable_root,
        )  # fmt: skip
        for build in builds:
            self.graph.add_node(build.name, kind="build", build=build)
            if build.platforms:
                self.platforms[build.name] = _platform_keys(build.platforms)
            for tag in build.tags:
                self.repositories.setdefault(tag.name, []).append(tag)
        owners = self.owner_table = _tag_owners(builds)
        self.tags = {tag: build.name for tag, build in owners.first.items()}
        self.shared = {
            tag: tuple(build.name for build in members) for tag, members in owners.shared.items()
        }
        for tag, kept, again in owners.duplicates:
            path, line = declared_at(again)
            self.note(
                "duplicate-tag", Severity.WARNING,
                f"{tag.familiar} is built by {kept.name!r} ({kept.origin or kept.dockerfile}) "
                f"and by {again.name!r} ({again.origin or again.dockerfile}) for the same "
                f"platform{_platforms_text(kept, again)}; children use {kept.name!r}",
                path, line,
            )  # fmt: skip
        for tag, again in owners.overflow:
            path, line = declared_at(again)
            self.note(
                "tag-variants-limit", Severity.ERROR,
                f"{tag.familiar} is built for {', '.join(again.platforms) or 'any platform'} "
                f"by {MAX_TAG_VARIANTS} builds with other constraints already; "
                f"{again.name!r} ({again.origin or again.dockerfile}) is one more, and is "
                "left out of the tag's image (its children use the others)",
                path, line,
            )  # fmt: skip
        for build in builds:
            self.add_parents(build)
        self.graph.add_edges_from(
            (parent, child, {"uses": tuple(uses)}) for (parent, child), uses in self.uses.items()
        )
        # Variants repeat their file's diagnostics; the order must not depend on
        # the order builds were declared in.
        diagnostics = tuple(
            sorted(
                dict.fromkeys(self.diagnostics),
                key=lambda d: (d.path or "", d.line or 0, d.code, d.message),
            )
        )
        graph = ImageGraph(
            self.graph, self.inventory, diagnostics, self.undetermined, self.owner_table
        )
        if nx.is_directed_acyclic_graph(self.graph):  # linear, and far cheaper than find_cycle
            return graph
        try:
            cycle = nx.find_cycle(self.graph)
        except nx.NetworkXNoCycle:
            return graph
        edges = tuple(self.graph.edges[a, b]["uses"][0] for a, b in cycle)
        raise GraphCycleError(edges)

    def origin(self, name: str) -> str:
        build: ImageBuild = self.graph.nodes[name]["build"]
        return build.origin or build.dockerfile

    def note(
        self, code: str, severity: Severity, message: str, path: str | None, line: int | None = None
    ) -> None:
        self.diagnostics.append(Diagnostic(code, severity, message, path, line))

    def read(self, build: ImageBuild) -> Prepared | None:
        if build.dockerfile_inline is not None:
            return prepare_dockerfile(build.dockerfile_inline, path=build.dockerfile)
        found = self.prepared.get(build.dockerfile)
        if isinstance(found, RefusedFile):
            # Outside the root, the declaration is the place to point at: the
            # path itself is no place in this repository.
            where, line = (
                declared_at(build) if found.code == "outside-root" else (build.dockerfile, None)
            )
            self.note(
                found.code, Severity.ERROR,
                f"build {build.name!r} ({build.origin or 'declared'}) needs the Dockerfile "
                f"{build.dockerfile!r}, which is {found.strerror}; the build stays, without "
                "parents",
                where, line,
            )  # fmt: skip
            self.unknown_parents(build, "read", found.code)
            return None
        if isinstance(found, OSError):
            self.unknown_parents(build, "read", "missing-dockerfile")
            said = self.reported_missing.get(declared_at(build), ())
            if any(build.dockerfile in message for message in said):
                return None  # reported once, where the build is declared
            self.note(
                "missing-dockerfile", Severity.ERROR,
                f"build {build.name!r} ({build.origin or 'declared'}) needs this Dockerfile: "
                f"{found.strerror or found}",
                build.dockerfile,
            )  # fmt: skip
            return None
        return found

    def unknown_parents(
        self, build: ImageBuild, done: str, code: str, line: int | None = None
    ) -> None:
        """List *build*, whose Dockerfile was not read or parsed, as undetermined:
        any image may be its parent, so no image change can say it misses it."""
        where = build.dockerfile if line is None else f"{build.dockerfile}:{line}"
        self.undetermined[build.name] = (f"Dockerfile not {done}: {code} at {where}",)

    def resolve(self, build: ImageBuild, prepared: Prepared) -> Dockerfile:
        """The build's Dockerfile resolved; shared by builds that differ only in
        arguments the file does not declare (matrix variants, mostly)."""
        if build.dockerfile_inline is not None or prepared.parsed is None:
            return resolve_dockerfile(prepared, build_args=build.args, path=build.dockerfile)
        declared = self.declared.get(build.dockerfile)
        if declared is None:
            declared = self.declared[build.dockerfile] = _global_arg_names(prepared)
        key = (
            build.dockerfile,
            tuple(sorted((k, v) for k, v in build.args.items() if k in declared)),
        )
        found = self.resolved.get(key)
        if found is None:
            try:
                found = resolve_dockerfile(prepared, build_args=build.args, path=build.dockerfile)
            except ImageGraphError as err:
                found = err
            self.resolved[key] = found
        if isinstance(found, ImageGraphError):
            raise found
        return found

    def add_parents(self, build: ImageBuild) -> None:
        if build.imported:
            return  # an imported OCI layout: a root, with no Dockerfile to read
        prepared = self.read(build)
        if prepared is None:
            return
        try:
            dockerfile = self.resolve(build, prepared)
        except ImageGraphError as err:
            self.refused(build, err)
            return
        parents = self.needed(build, dockerfile)
        if build.platforms and _asks_target_platform(parents):
            self.add_parents_per_platform(build, prepared)
            return
        self.link_parents(build, dockerfile, parents)

    def refused(self, build: ImageBuild, err: ImageGraphError, platform: str | None = None) -> None:
        """*build*'s Dockerfile, which BuildKit refuses (for *platform*), and so its
        parents unknown: an error in a fleet found by convention too, since the
        build cannot be built as it stands. A warning let `plan` exit 0 with the
        build in no wave and nowhere else (a stray or template Dockerfile is left
        out with a .gitignore rule, or by declaring the fleet)."""
        line = getattr(err, "line", None)
        message = getattr(err, "message", str(err))
        where = f" (for {platform})" if platform is not None else ""
        self.note(
            "dockerfile-error", Severity.ERROR,
            f"{message}{where}; build {build.name!r} has no known parents", build.dockerfile, line,
        )  # fmt: skip
        self.unknown_parents(build, "parsed", "dockerfile-error", line)

    def add_parents_per_platform(self, build: ImageBuild, prepared: Prepared) -> None:
        """The parents of a build whose references name its target platform
        (``FROM acme/${TARGETARCH}-base``): BuildKit sets ``TARGETARCH`` and the
        rest for each platform it builds, so each platform has its own parents,
        and the image's are all of them."""
        first: Dockerfile | None = None
        for platform in build.platforms:
            os_name, _, rest = platform.partition("/")
            arch, _, variant = rest.partition("/")
            automatic = {
                "TARGETPLATFORM": platform, "TARGETOS": os_name,
                "TARGETARCH": arch, "TARGETVARIANT": variant,
            }  # fmt: skip
            one = replace(build, args={**automatic, **build.args}, platforms=(platform,))
            try:
                dockerfile = self.resolve(one, prepared)
            except ImageGraphError as err:
                self.refused(build, err, platform)
                return
            self.link_parents(one, dockerfile, self.needed(one, dockerfile), base=first is None)
            first = first or dockerfile

    def needed(self, build: ImageBuild, dockerfile: Dockerfile) -> tuple[Parent, ...]:
        """The parents *dockerfile*, resolved, names for *build*'s target; every
        stage's, with an ``unknown-target`` error, for a target it does not have."""
        try:
            return dockerfile.parents_for(build.target)
        except ImageGraphError:
            names = ", ".join(s.name or str(s.index) for s in dockerfile.stages)
            self.note(
                "unknown-target", Severity.ERROR,
                f"build {build.name!r} targets stage {build.target!r}, which this Dockerfile "
                f"does not have (stages: {names}); counting the parents of every stage",
                build.dockerfile,
            )  # fmt: skip
            return dockerfile.parents

    def link_parents(
        self,
        build: ImageBuild,
        dockerfile: Dockerfile,
        parents: tuple[Parent, ...],
        *,
        base: bool = True,
    ) -> None:
        """Link *build* to *parents*, those *dockerfile* (resolved) names for its target."""
        self.diagnostics.extend(dockerfile.diagnostics)
        stage_names = {s.name for s in dockerfile.stages if s.name}
        unresolved: list[str] = []
        used_contexts: set[str] = set()
        for parent in parents:
            self.add_parent(build, dockerfile, parent, stage_names, unresolved, used_contexts)
        for key, value in sorted(build.contexts.items()):
            if key not in used_contexts and value.startswith("target:"):
                # bake builds a target: context first even when no FROM names it.
                self.link_target(build, value, key, None)
        if unresolved:
            known = self.undetermined.get(build.name, ())
            self.undetermined[build.name] = tuple(dict.fromkeys([*known, *unresolved]))
        if base:
            self.graph.nodes[build.name]["base"] = self.image_base(build, dockerfile)

    def image_base(self, build: ImageBuild, dockerfile: Dockerfile) -> str | None:
        """The node the built image's own filesystem starts from (what its final stage is FROM)."""
        try:
            stage = dockerfile.stage(build.target) if build.target else dockerfile.final_stage
        except ImageGraphError:
            stage = dockerfile.final_stage
        base = stage.base
        while isinstance(base, StageRef):
            stage = dockerfile.stages[base.index]
            base = stage.base
        if base is None:
            return None  # FROM scratch
        for parent in self.parents_of.get(build.name, ()):
            for use in self.uses[parent, build.name]:
                if use.kind in ("from", "context") and use.line == base.line:
                    return str(parent)
        return None  # unresolved or invalid: reported already

    def add_parent(
        self,
        build: ImageBuild,
        dockerfile: Dockerfile,
        parent: Parent,
        stage_names: set[str],
        unresolved: list[str],
        used_contexts: set[str],
    ) -> None:
        if not parent.resolved or parent.value is None:
            unresolved.append(parent.text)
            return
        stage = dockerfile.stages[parent.stage].label
        context = self.named_context(build, parent.value)
        if context is not None:
            key, value = context
            used_contexts.add(key)
            if value.startswith("target:"):
                self.link_target(build, value, key, parent.line, stage)
                return
            if not value.startswith("docker-image://"):
                return  # a local directory, git or http context: no image to rebuild
            text = value.removeprefix("docker-image://")
        else:
            text = parent.value
        try:
            ref = ImageRef.parse(text, aliases=self.aliases)
        except InvalidReference:
            # Reported as invalid-reference (an error: BuildKit fails there); the
            # image it meant is unknown, so the build may be reached by any change.
            unresolved.append(f"{text} (not an image reference)")
            return
        owners = self.owners(ref)
        if not owners and ref.digest is not None and ref.tag is not None:
            # ``FROM x:1@sha256:...`` of a tag the fleet builds is that build,
            # pinned: it must rebuild when the build does (with its pin moved
            # on, or it keeps the old image), never fall out of the graph.
            owners = self.owners(ImageRef(ref.registry, ref.path, ref.tag, None))
            if owners:
                shown = ", ".join(repr(owner) for owner in owners)
                self.note(
                    "digest-pinned-fleet-image", Severity.WARNING,
                    f"{parent.value} pins a digest of {ref.familiar_name}:{ref.tag}, which "
                    f"{shown} builds: it is planned after {shown}, and its digest must be "
                    "updated to the rebuilt image or it keeps using the old one",
                    build.dockerfile, parent.line,
                )  # fmt: skip
        if not owners:
            node = sys.intern(str(ref))
            if node not in self.graph:
                self.graph.add_node(node, kind="external", ref=ref)
            elif self.graph.nodes[node]["kind"] != "external":
                raise ImageGraphError(
                    f"build {node!r} is named like the image {build.name!r} uses but does not "
                    "build it; rename the build"
                )
            self.check_unbuilt(build, parent, ref, stage_names)
            owners = (node,)
        else:
            owners = self.serving(build, dockerfile, parent, owners)
        # Interned: the same few texts recur on thousands of edges, and a
        # snapshot then stores (and loads) each of them once.
        text, label, value = sys.intern(parent.text), sys.intern(stage), sys.intern(parent.value)
        for node in owners:
            self.link(
                Edge(
                    node, build.name, parent.kind, build.dockerfile, parent.line, text, label, value
                )
            )

    def owners(self, ref: ImageRef) -> tuple[str, ...]:
        """The builds that produce *ref*: one, several (a multi-platform image) or none."""
        shared = self.shared.get(ref)
        if shared is not None:
            return shared
        owner = self.tags.get(ref)
        return (owner,) if owner is not None else ()

    def serving(
        self, build: ImageBuild, dockerfile: Dockerfile, parent: Parent, owners: tuple[str, ...]
    ) -> tuple[str, ...]:
        """The *owners* of the image *parent* names that serve the platforms *build*
        asks of it: its ``FROM --platform=`` when that is a value, else its own.

        A build without platforms serves (and asks for) any. When no owner
        serves a platform asked for, BuildKit would not find it in the image:
        a ``platform-not-built`` warning, and the owners that serve the
        child's other platforms (a Linux child of a Linux and Windows tag
        missing riscv64 is still no child of the Windows build); only when
        none serves any of them, every owner, so that the child still rebuilds.
        """
        platforms = self.platforms
        if len(owners) == 1 and owners[0] not in platforms:
            return owners
        # The build's own platforms, or the one platform it is being linked for.
        wanted = _platform_keys(build.platforms)
        asked = build.platforms
        if parent.kind == "from":
            stage = dockerfile.stages[parent.stage]
            if stage.platform_value is not None:
                asked = (stage.platform_value,)
                wanted = _platform_keys(asked)
            elif stage.platform is not None and _BUILD_PLATFORM.search(stage.platform):
                # $BUILDPLATFORM is the builder's, which the fleet does not know: an
                # arm64 image cross-compiled on an amd64 runner uses the amd64 build.
                # Any build of the child's operating systems may be the one.
                return self.same_os(build, owners)
        if not wanted:
            return owners
        by_platform, for_any, built = self.platform_index(owners)
        # The owners serving a wanted platform, in the tag's order: looked up by
        # platform, so a tag of thousands of builds costs no scan per use.
        positions = set(for_any)
        served: set[str] = set(wanted) if for_any else set()
        for key in wanted:
            found = by_platform.get(key)
            if found is not None:
                positions.update(found)
                served.add(key)
        chosen = [owners[i] for i in sorted(positions)]
        if served >= wanted:
            return tuple(chosen)
        missing = [p for p in asked if not _platform_keys((p,)) <= served]
        shown = ", ".join(repr(owner) for owner in owners[:_SHOWN_OWNERS])
        more = len(owners) - _SHOWN_OWNERS
        names = f"{shown} and {more} more" if more > 0 else shown
        counted = (
            "counting the builds of it that serve its other platforms"
            if chosen
            else "counting every build of it as a parent"
        )
        self.note(
            "platform-not-built", Severity.WARNING,
            f"{parent.value} is built here ({names}) for {', '.join(built)}, not for "
            f"{', '.join(missing)}, which {build.name!r} asks for: BuildKit finds no such "
            f"image; {counted}",
            build.dockerfile, parent.line,
        )  # fmt: skip
        return tuple(chosen) if chosen else owners

    def platform_index(
        self, owners: tuple[str, ...]
    ) -> tuple[dict[str, list[int]], tuple[int, ...], list[str]]:
        """For the builds *owners* of one tag: the positions of those serving each
        platform key, of those built for any platform, and the platforms they are
        built for as written; made once per tag."""
        known = self.indexes.get(id(owners))
        if known is not None and known[0] is owners:
            return known[1], known[2], known[3]
        by_platform: dict[str, list[int]] = {}
        for_any: list[int] = []
        for i, owner in enumerate(owners):
            offered = self.platforms.get(owner)
            if offered is None:
                for_any.append(i)
            else:
                for key in offered:
                    by_platform.setdefault(key, []).append(i)
        built = sorted({p for owner in owners for p in self.graph.nodes[owner]["build"].platforms})
        self.indexes[id(owners)] = (owners, by_platform, tuple(for_any), built)
        return by_platform, tuple(for_any), built

    def same_os(self, build: ImageBuild, owners: tuple[str, ...]) -> tuple[str, ...]:
        """The *owners* built for an operating system *build* is built for (or for
        any), every owner when none is, or when *build* names no platform."""
        systems = {platform.partition("/")[0].lower() for platform in build.platforms}
        if not systems:
            return owners
        chosen = tuple(
            owner
            for owner in owners
            if not (built := self.graph.nodes[owner]["build"].platforms)
            or systems & {platform.partition("/")[0].lower() for platform in built}
        )
        return chosen or owners

    def named_context(self, build: ImageBuild, value: str) -> tuple[str, str] | None:
        if not build.contexts:
            return None
        if value in build.contexts:
            return value, build.contexts[value]
        try:
            familiar = ImageRef.parse(value).familiar.removesuffix(":latest")
        except InvalidReference:
            return None
        if familiar in build.contexts:
            return familiar, build.contexts[familiar]
        return None

    def link_target(
        self, build: ImageBuild, value: str, key: str, line: int | None, stage: str | None = None
    ) -> None:
        target = value.removeprefix("target:")
        if target not in self.graph or self.graph.nodes[target]["kind"] != "build":
            self.note(
                "unknown-context-target", Severity.ERROR,
                f"build {build.name!r} takes context {key!r} from {value!r}, and no build is "
                f"called {target!r}",
                build.origin.partition(":")[0] or build.dockerfile,
            )  # fmt: skip
            return
        path, _, where = (build.origin or build.dockerfile).partition(":")
        self.link(
            Edge(
                target, build.name, "context",
                build.dockerfile if line is not None else path,
                line if line is not None else (int(where) if where.isdigit() else None),
                f"{key}={value}", stage,
            )
        )  # fmt: skip

    def check_unbuilt(
        self, build: ImageBuild, parent: Parent, ref: ImageRef, stage_names: set[str]
    ) -> None:
        built = self.repositories.get(ref.name)
        value = parent.value or ""
        if built:
            self.note(
                "unbuilt-tag", Severity.WARNING,
                f"{value} is not built here, though {ref.familiar_name} is "
                f"({self.closest_tags(ref)}); treating it as external",
                build.dockerfile, parent.line,
            )  # fmt: skip
        elif parent.kind != "from" and "/" not in value and ":" not in value and "@" not in value:
            near = [name for name in sorted(stage_names) if name.lower() != value.lower()]
            self.note(
                "copy-from-image", Severity.WARNING,
                f"--from={value} names no stage, so BuildKit pulls the image "
                f"{ref.familiar}" + (f" (stages: {', '.join(near)})" if near else ""),
                build.dockerfile, parent.line,
            )  # fmt: skip

    def closest_tags(self, ref: ImageRef) -> str:
        """The tags the fleet builds of *ref*'s repository nearest to *ref*'s, at
        most :data:`_SHOWN_TAGS` of them, then how many more there are."""
        tags = self.shown_tags.get(ref.name)
        if tags is None:
            tags = self.shown_tags[ref.name] = sorted(
                {t.familiar for t in self.repositories[ref.name]}
            )
        if len(tags) <= _SHOWN_TAGS:
            return ", ".join(tags)
        near = difflib.get_close_matches(ref.familiar, tags, n=_SHOWN_TAGS, cutoff=0.0)
        return f"{', '.join(near)} and {len(tags) - len(near)} more"

    def link(self, edge: Edge) -> None:
        # Collected here and added to the graph at once: far cheaper than
        # networkx's per-edge lookups on a fleet of 400,000 edges.
        key = (edge.parent, edge.child)
        uses = self.uses.get(key)
        if uses is None:
            self.uses[key] = [edge]
            self.parents_of.setdefault(edge.child, []).append(edge.parent)
        elif len(uses) < _FEW_USES:
            if edge not in uses:
                uses.append(edge)
        else:
            seen = self.many_uses.get(key)
            if seen is None:
                seen = self.many_uses[key] = set(uses)
            if edge not in seen:
                seen.add(edge)
                uses.append(edge)


_SHOWN_TAGS = 5
"""Tags an ``unbuilt-tag`` warning names (the closest to the one used) before "and N more"."""


@dataclass
class _Owners:
    """Who builds each tag of a fleet (see :func:`_tag_owners`)."""

    first: dict[ImageRef, ImageBuild] = field(default_factory=dict)
    """Each tag -> the first build that has it."""
    shared: dict[ImageRef, list[ImageBuild]] = field(default_factory=dict)
    """Tags of several builds that are one multi-platform image -> those builds."""
    duplicates: list[tuple[ImageRef, ImageBuild, ImageBuild]] = field(default_factory=list)
    """``(tag, owner, build)``: *build* has the tag, and so has *owner*, for the same image."""
    overflow: list[tuple[ImageRef, ImageBuild]] = field(default_factory=list)
    """``(tag, build)``: *build* has the tag for platforms that :data:`MAX_TAG_VARIANTS`
    builds of it (with other constraints) already serve: not an owner."""


MAX_TAG_VARIANTS = 16
"""The most builds of one tag for one platform, with different constraints (a
Windows image per host version: two or three in the official library), that are
one image. Each child of the tag for that platform is linked to all of them, so
thousands (a hostile manifest) would make edges by the million; the builds past
this are a ``tag-variants-limit`` error, each kept in the graph but no owner of
the tag."""


def _tag_owners(builds: Iterable[ImageBuild]) -> _Owners:
    """Which builds own each tag: the builds of one tag for different platforms
    (or, for one platform, with different constraints: a Windows image per host
    version) are one multi-platform image, each an owner; a later build of a
    platform an owner has, with the same constraints, is a duplicate, and not an owner.

    >>> tag = ImageRef.parse("acme/tool:1")
    >>> owners = _tag_owners([
    ...     ImageBuild("a", "a/Dockerfile", "a", (tag,), platforms=("linux/amd64",)),
    ...     ImageBuild("b", "b/Dockerfile", "b", (tag,), platforms=("linux/arm64",)),
    ...     ImageBuild("c", "c/Dockerfile", "c", (tag,), platforms=("linux/amd64",)),
    ... ])
    >>> [b.name for b in owners.shared[tag]], [(o.name, d.name) for _, o, d in owners.duplicates]
    (['a', 'b'], [('a', 'c')])
    """
    owners = _Owners()
    first = owners.first
    indexes: dict[ImageRef, _Members] = {}
    for build in builds:
        for tag in build.tags:
            found = first.setdefault(tag, build)
            if found is build:
                continue
            index = indexes.get(tag)
            if index is None:
                index = indexes[tag] = _Members()
                index.add(found)
            if id(build) in index.ids:
                continue  # the tag listed twice by one build
            clash = index.clash(build)
            if clash is not None:
                owners.duplicates.append((tag, clash, build))
                continue
            if index.full(build):
                owners.overflow.append((tag, build))
                continue
            index.add(build)
            members = owners.shared.get(tag)
            if members is None:
                owners.shared[tag] = [found, build]
            else:
                members.append(build)
    return owners


class _Members:
    """The builds of one tag so far, looked up by what makes two of them the same
    image (their platforms overlap, none named being any, and their constraints are
    the same): a tag of thousands of builds (entries differing by constraints) is
    checked per build in the time of its platforms, not of the tag's builds."""

    __slots__ = ("builds", "counts", "for_any", "ids", "keyed", "of_constraints")

    def __init__(self) -> None:
        self.builds: list[ImageBuild] = []
        self.ids: set[int] = set()
        # (constraints, platform key) / constraints -> the first build's position
        self.keyed: dict[tuple[tuple[str, ...], str], int] = {}
        self.for_any: dict[tuple[str, ...], int] = {}  # builds naming no platform
        self.of_constraints: dict[tuple[str, ...], int] = {}  # any build
        self.counts: dict[str, int] = {}  # platform key ("" for any) -> builds serving it

    def add(self, build: ImageBuild) -> None:
        position = len(self.builds)
        self.builds.append(build)
        self.ids.add(id(build))
        constraints = build.constraints
        self.of_constraints.setdefault(constraints, position)
        if not build.platforms:
            self.for_any.setdefault(constraints, position)
            self.counts[""] = self.counts.get("", 0) + 1
        for key in _platform_keys(build.platforms):
            self.keyed.setdefault((constraints, key), position)
            self.counts[key] = self.counts.get(key, 0) + 1

    def full(self, build: ImageBuild) -> bool:
        """Whether every platform of *build* (any, when it names none) is served by
        :data:`MAX_TAG_VARIANTS` builds of the tag already."""
        keys = _platform_keys(build.platforms) or frozenset({""})
        return all(self.counts.get(key, 0) >= MAX_TAG_VARIANTS for key in keys)

    def clash(self, build: ImageBuild) -> ImageBuild | None:
        """The first build so far that would push the same image as *build*."""
        constraints = build.constraints
        if not build.platforms:
            found = self.of_constraints.get(constraints)
        else:
            positions = [self.keyed.get((constraints, k)) for k in _platform_keys(build.platforms)]
            positions.append(self.for_any.get(constraints))
            found = min((p for p in positions if p is not None), default=None)
        return None if found is None else self.builds[found]


def _platforms_text(a: ImageBuild, b: ImageBuild) -> str:
    """The platforms of *a* that *b* builds too, as *a* names them: `` (linux/amd64)``."""
    theirs = _platform_keys(b.platforms)
    shared = [p for p in a.platforms if not _platform_keys((p,)).isdisjoint(theirs)]
    return f" ({', '.join(shared)})" if shared else ""


_ARCH_ALIASES = {
    "x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "i386": "386", "i686": "386",
    "armhf": "arm", "armel": "arm",
}  # fmt: skip
_DEFAULT_VARIANTS = {"arm64": "v8", "arm": "v7", "amd64": "v1"}


_TARGET_ARGS = frozenset({"TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT"})


def _asks_target_platform(parents: tuple[Parent, ...]) -> bool:
    """Whether a reference among *parents* is unknown only for want of the target
    platform's automatic arguments, which BuildKit sets per platform."""
    return any(
        parent.unresolved and _TARGET_ARGS.issuperset(parent.unresolved) for parent in parents
    )


_BUILD_PLATFORM = re.compile(r"\$\{?BUILD(?:PLATFORM|OS|ARCH|VARIANT)\b")
"""A ``--platform`` written with the builder's platform, which only the build knows."""


_SHOWN_OWNERS = 5
"""The builds of a shared tag a ``platform-not-built`` message names before "and N more"."""


@functools.lru_cache(maxsize=1024)
def _platform_keys(platforms: tuple[str, ...]) -> frozenset[str]:
    """*platforms* normalised as containerd compares them (``os/arch/variant``, lower
    case, ``aarch64`` as ``arm64``, a default variant spelled out), so that
    ``linux/arm64`` and ``linux/arm64/v8`` are one platform.

    >>> sorted(_platform_keys(("linux/arm64", "linux/arm64/v8", "Linux/x86_64", "windows/amd64")))
    ['linux/amd64/v1', 'linux/arm64/v8', 'windows/amd64/v1']
    """
    keys: set[str] = set()
    for platform in platforms:
        parts = platform.strip().lower().split("/")
        if len(parts) < 2 or len(parts) > 3 or not all(parts):
            keys.add(platform)  # not os/arch[/variant]: compared as written
            continue
        os_name, arch = parts[0], _ARCH_ALIASES.get(parts[1], parts[1])
        variant = parts[2] if len(parts) == 3 else ""
        if parts[1] == "armel" and not variant:
            variant = "v6"
        variant = variant or _DEFAULT_VARIANTS.get(arch, "")
        if arch == "arm64" and variant == "8":
            variant = "v8"
        keys.add(f"{os_name}/{arch}/{variant}" if variant else f"{os_name}/{arch}")
    return frozenset(keys)


_FEW_USES = 16
"""Uses of one parent by one child checked for a repeat by a scan of the list."""


def _global_arg_names(prepared: Prepared) -> frozenset[str]:
    """The ARGs declared before the first FROM, and BuildKit's own: the only
    build arguments that can change what a Dockerfile's stages are built from."""
    names = set(AUTOMATIC_ARGS)
    assert prepared.parsed is not None
    for instruction in prepared.parsed.instructions:
        if instruction.keyword == "FROM":
            break
        if instruction.keyword == "ARG":
            names.update(word.partition("=")[0] for word in instruction.args)
    return frozenset(names)
