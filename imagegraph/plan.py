"""The rebuild plan: affected builds in waves, each wave after every parent it needs.

Wave *n* holds the builds whose planned parents are all in waves before
*n*, so the builds of one wave may run in parallel. Inside a wave builds
are sorted by name: the same graph and changes give the same plan, byte for
byte. ``max_parallel`` splits a wave into consecutive waves of at most that
many builds (a GitHub Actions matrix takes at most 256 jobs); the split
keeps the order valid because builds of one wave never depend on each other.

With durations (seconds per build), the plan also gives the critical path
(the longest chain of dependent builds, which no number of workers can
beat) and, for a number of workers, the makespan of a list schedule that
starts ready builds longest-remaining-chain first. An optimal schedule is
NP-hard in general; the figure is an achievable upper bound and
``max(critical path, total / workers)`` a lower one.

A tag several builds produce together (one multi-platform image: docker-library's
``SharedTags``, a Dockerfile per architecture) is pushed by none of them, since
each push would replace the others: :attr:`RebuildPlan.shared` lists each such
tag with one source per build (what that build pushes instead) and the wave
after which their index is made; a build that uses the tag waits for every
build of it. An image imported from an OCI layout
(:attr:`~imagegraph.inventory.ImageBuild.imported`) is planned like a build;
the outputs push it rather than build it.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import os
import posixpath
import re
import statistics
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import networkx as nx

from imagegraph._jsonfile import json_kind, read_json
from imagegraph._pickling import paused_gc
from imagegraph.diagnostics import Diagnostic, Severity
from imagegraph.errors import ImageGraphError
from imagegraph.impact import Change, Impact, _changes_text, impact
from imagegraph.inventory import ConfigError, ImageBuild
from imagegraph.reference import ImageRef

if TYPE_CHECKING:
    import pandas as pd

    from imagegraph.graph import Edge, ImageGraph

__all__ = [
    "MAX_DURATION",
    "PlannedBuild",
    "RebuildPlan",
    "Schedule",
    "SharedTag",
    "load_durations",
    "plan",
]


@dataclass(frozen=True, slots=True)
class PlannedBuild:
    """One build in a plan: the build, its wave (0-based), the planned builds
    it waits for, and the chain of edges that put it in the plan (empty when
    it was itself changed or the plan rebuilds everything)."""

    build: ImageBuild
    wave: int
    needs: tuple[str, ...]
    reason: tuple[Edge, ...] = ()
    """One shortest chain of edges from a change to this build."""
    inputs: tuple[Edge, ...] = ()
    """Every use of a planned parent by this build (what ``needs`` is made of)."""
    cause: tuple[str, ...] = ()
    """What the change is, where it was found: for each changed file that reaches
    this build directly, the file and the line that reads it; for a changed
    package, the package, the version found, where (the SBOM file or the
    Dockerfile line) and the constraint it fails (with the advisory id of an
    advisory). Causes found in the image a chain starts from (``reason`` or
    ``wave_reason``) are given too, as ``via IMAGE: ...``."""
    wave_reason: tuple[Edge, ...] = ()
    """The chain that sets the wave: the longest chain of planned parents above
    this build, from where the change enters the plan (``reason`` is a shortest
    one). Its length is the wave's index, plus one when it starts at a changed
    external image; with ``max_parallel`` a wave may come later."""
    context_images: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)
    """For each named context ``target:<build>`` of this build: the image of that
    build, ``docker-image://<its first tag>``, which a tool building this build
    on its own passes instead (it cannot build another target). A context whose
    build has no tag (or that names no build) is missing: it cannot be passed
    to a separate build."""
    own_tags: tuple[ImageRef, ...] | None = None
    """The tags this build pushes when some of its tags are shared with other
    builds (see :class:`SharedTag`): its tags without the shared ones, and the
    source reference the index of a shared tag is made from; ``None`` when no
    tag of it is shared (it pushes :attr:`ImageBuild.tags`). Read :attr:`pushes`."""

    @property
    def name(self) -> str:
        """The build's name."""
        return self.build.name

    @property
    def pushes(self) -> tuple[ImageRef, ...]:
        """The tags this build pushes itself: :attr:`own_tags`, or all its tags."""
        return self.build.tags if self.own_tags is None else self.own_tags


@dataclass(frozen=True, slots=True)
class SharedTag:
    """A tag that several builds produce together: the multi-platform index of
    their images (docker-library's ``SharedTags``, a manifest entry built from a
    Dockerfile per architecture, a Linux and a Windows build of one tag).

    No build pushes the tag itself, since each push would replace the others:
    each pushes its image under its source (:attr:`sources`, one per build),
    and after the last planned one an index step joins them under the tag
    (``docker buildx imagetools create -t TAG SOURCE...``). A source is the
    build's first tag of its own in the shared tag's repository (else its
    first tag of its own), or, for a build with no tag of its own, a tag
    derived from the shared one: ``<tag>-<its platforms>`` (or ``-<its
    name>``), pushed for the index only. Builds of the fleet that are not
    in the plan keep their source as pushed before, and the index joins it.

    >>> from imagegraph import ImageBuild, ImageGraph, ImageRef
    >>> tags = (ImageRef.parse("acme/go:1"),)
    >>> graph = ImageGraph.from_builds([
    ...     ImageBuild("go-linux", "linux/Dockerfile", "linux", tags, platforms=("linux/amd64",),
    ...                dockerfile_inline="FROM scratch"),
    ...     ImageBuild("go-windows", "win/Dockerfile", "win", tags, platforms=("windows/amd64",),
    ...                dockerfile_inline="FROM scratch"),
    ... ])
    >>> (shared,) = graph.plan().shared
    >>> shared.tag.familiar, shared.builds, [s.familiar for s in shared.sources]
    ('acme/go:1', ('go-linux', 'go-windows'), ['acme/go:1-linux-amd64', 'acme/go:1-windows-amd64'])
    >>> [t.familiar for t in graph.plan().builds[0].pushes]
    ['acme/go:1-linux-amd64']
    """

    tag: ImageRef
    builds: tuple[str, ...]
    """Every build of the fleet that produces the tag, by name."""
    sources: tuple[ImageRef, ...]
    """For each of :attr:`builds`, the reference it pushes its image under."""
    planned: tuple[str, ...]
    """The builds of this plan among :attr:`builds`: the index waits for them."""
    wave: int
    """The 0-based wave of the last of :attr:`planned`: the index is made after it."""
    users: tuple[str, ...] = ()
    """Planned builds that use the tag (``FROM``, ``COPY --from``...): they wait for the index."""


@dataclass(frozen=True, slots=True)
class Schedule:
    """Timing of a plan from per-build durations, in seconds."""

    critical_path: tuple[str, ...]
    critical_seconds: float
    total_seconds: float
    workers: int
    makespan_seconds: float
    lower_bound_seconds: float
    estimated: tuple[str, ...]
    """Builds with no known duration, given the default (the median of the known ones)."""


@dataclass(frozen=True, slots=True, repr=False)
class RebuildPlan:
    """The waves of a rebuild; see :func:`plan`.

    ``changes`` is ``None`` when the plan rebuilds everything.
    """

    changes: tuple[str, ...] | None
    waves: tuple[tuple[PlannedBuild, ...], ...]
    impact: Impact | None = field(default=None, compare=False)
    max_parallel: int | None = None
    schedule: Schedule | None = None
    diagnostics: tuple[Diagnostic, ...] = ()
    root: str = "."
    """Where the scanned root is, seen from the directory the plan's outputs are
    run in (``relative_to`` of :func:`plan`), with ``/`` separators: ``"."``
    when they run in the root, ``"fleet"`` when they run in the repository
    holding it. Build paths are relative to the root; :meth:`path` gives them
    as the outputs write them."""
    shared: tuple[SharedTag, ...] = ()
    """The tags several builds produce together that this plan rebuilds a build
    of (see :class:`SharedTag`), by wave, then tag: each is an index step after
    its last planned build."""

    def __iter__(self) -> Iterator[PlannedBuild]:
        for wave in self.waves:
            yield from wave

    def __len__(self) -> int:
        return sum(len(wave) for wave in self.waves)

    @property
    def builds(self) -> tuple[PlannedBuild, ...]:
        """Every planned build, wave by wave."""
        return tuple(self)

    def path(self, path: str) -> str:
        """*path*, relative to the scanned root, as seen from where the outputs run.

        >>> RebuildPlan(None, (), root="fleet").path("apps/api")
        'fleet/apps/api'
        >>> RebuildPlan(None, (), root="fleet").path(".")
        'fleet'
        """
        if self.root == "." or posixpath.isabs(path):
            return path
        return self.root if path == "." else f"{self.root}/{path}"

    def names(self) -> list[list[str]]:
        """The build names, wave by wave: a compact view for tests and notebooks."""
        return [[planned.name for planned in wave] for wave in self.waves]

    def to_pandas(self) -> pd.DataFrame:
        """One row per planned build, wave by wave; see :func:`imagegraph.frames.plan_frame`.
        Needs ``imagegraph[pandas]``."""
        from imagegraph.frames import plan_frame

        return plan_frame(self)

    def _repr_html_(self) -> str:
        from imagegraph.render.html import plan_html

        return plan_html(self)

    def __repr__(self) -> str:
        """Short at any size: the counts and the changes (the first few).

        >>> RebuildPlan(("debian:bookworm",), ())
        <RebuildPlan 0 builds in 0 waves after debian:bookworm>
        """
        builds, waves = len(self), len(self.waves)
        counts = (
            f"{builds} build{'' if builds == 1 else 's'} in {waves} wave{'' if waves == 1 else 's'}"
        )
        if self.changes is None:
            return f"<RebuildPlan {counts}, rebuilding everything>"
        return f"<RebuildPlan {counts} after {_changes_text(self.changes)}>"


@paused_gc()
def plan(
    graph: ImageGraph,
    changes: Iterable[Change] | None = None,
    *,
    max_parallel: int | None = None,
    durations: Mapping[str, float] | None = None,
    workers: int | None = None,
    include_unknown: bool = False,
    relative_to: str | os.PathLike[str] | None = None,
) -> RebuildPlan:
    """Plan the rebuild of what *changes* reach in *graph*, or of every build.

    *durations* maps build names (or any tag of a build) to seconds and adds
    a :class:`Schedule` for *workers* (default: the widest wave). With
    *include_unknown*, images holding a changed package of unknown version
    are planned too; otherwise they are only listed in ``impact.possibly``.
    With *relative_to* (a directory), the plan's outputs write their paths
    relative to it rather than to the scanned root (``RebuildPlan.root``):
    the command line passes the directory it runs in, where CI runs the
    outputs.

    >>> from imagegraph import ImageBuild, ImageGraph, ImageRef
    >>> graph = ImageGraph.from_builds([
    ...     ImageBuild("base", "base/Dockerfile", "base", (ImageRef.parse("acme/base"),),
    ...                dockerfile_inline="FROM debian:bookworm"),
    ...     ImageBuild("api", "api/Dockerfile", "api", dockerfile_inline="FROM acme/base"),
    ...     ImageBuild("web", "web/Dockerfile", "web", dockerfile_inline="FROM acme/base"),
    ... ])
    >>> graph.plan(["debian:bookworm"]).names()
    [['base'], ['api', 'web']]
    >>> graph.plan(["debian:bookworm"], max_parallel=1).names()
    [['base'], ['api'], ['web']]
    """
    if max_parallel is not None and max_parallel < 1:
        raise ImageGraphError(f"max_parallel must be at least 1, not {max_parallel}")
    if workers is not None and workers < 1:
        raise ImageGraphError(f"workers must be at least 1, not {workers}")
    nx_graph = graph.nx
    result: Impact | None = None
    if changes is None:
        chosen = [n for n in nx_graph if nx_graph.nodes[n]["kind"] == "build"]
        reasons: Mapping[str, tuple[Edge, ...]] = {}
        causes: Mapping[str, tuple[str, ...]] = {}
        diagnostics: tuple[Diagnostic, ...] = ()
    else:
        result = impact(graph, changes, include_unknown=include_unknown)
        chosen, reasons, diagnostics = list(result.affected), result.reasons, result.diagnostics
        causes = result.causes
    waves: list[tuple[PlannedBuild, ...]] = []
    # networkx's own dicts, read directly: its views cost more than the plan itself.
    nodes = nx_graph._node  # type: ignore[attr-defined]
    successors = nx_graph._succ  # type: ignore[attr-defined]
    wave_reasons: dict[str, tuple[Edge, ...]] = {}
    groups = _tag_groups(graph, nodes)
    users = _users(nx_graph, chosen, groups, graph.inventory.aliases) if groups else {}
    extra = {
        name: {b.name for tag in tags for b in groups[tag]} - {name} for name, tags in users.items()
    }
    generations = list(_generations(nx_graph, chosen, extra))
    if extra and sum(len(generation) for generation, _ in generations) < len(set(chosen)):
        # A producer of a shared tag built on one of the tag's users: the users
        # cannot wait for the index, and say so.
        generations = list(_generations(nx_graph, chosen))
        users = {}
        diagnostics = (
            *diagnostics,
            Diagnostic(
                "shared-tag-cycle", Severity.WARNING,
                "builds of shared tags are built on each other through those tags (used by "
                + ", ".join(sorted(extra)) + "), so no build can wait for their indexes: "
                "make the indexes after the whole plan",
                None,
            ),
        )  # fmt: skip
    # Every generation comes with the same needs; the parents a build has an edge
    # from are those but the ones added for a shared tag.
    edge_needs: dict[str, tuple[str, ...]] = generations[0][1] if generations else {}
    if extra:
        edge_needs = dict(edge_needs)
        for name in extra.keys() & edge_needs.keys():
            edge_needs[name] = tuple(p for p in edge_needs[name] if name in successors[p])
    for generation, needs in generations:
        for name in generation:
            wave_reasons[name] = _wave_reason(
                name, edge_needs[name], wave_reasons, reasons, successors
            )
        size = max_parallel or len(generation)
        for start in range(0, len(generation), size):
            waves.append(
                tuple(
                    PlannedBuild(
                        build=nodes[name]["build"],
                        wave=len(waves),
                        needs=needs[name],
                        reason=reasons.get(name, ()),
                        cause=_causes(
                            name, (reasons.get(name, ()), wave_reasons[name]), causes, nodes
                        ),
                        wave_reason=wave_reasons[name],
                        inputs=tuple(
                            edge
                            for parent in edge_needs[name]
                            for edge in successors[parent][name]["uses"]
                        ),
                        context_images=_context_images(nodes, nodes[name]["build"]),
                    )
                    for name in generation[start : start + size]
                )
            )
    shared: tuple[SharedTag, ...] = ()
    if groups:
        shared, waves = _shared(graph, groups, users, waves)
    schedule = None
    if durations is not None:
        widest = max((len(w) for w in waves), default=1)
        schedule = _schedule(graph, nx_graph.subgraph(chosen), durations, workers or widest)
    # What the graph could not read matters to whoever runs the plan.
    found = tuple(d for d in graph.diagnostics if d.severity is not Severity.INFO)
    return RebuildPlan(
        changes=None if result is None else result.changes,
        waves=tuple(waves),
        impact=result,
        max_parallel=max_parallel,
        schedule=schedule,
        diagnostics=found + diagnostics,
        root=_root(graph.inventory.root, relative_to),
        shared=shared,
    )


def _tag_groups(
    graph: ImageGraph, nodes: Mapping[str, Mapping[str, object]]
) -> dict[ImageRef, list[ImageBuild]]:
    """Each tag several builds share (one multi-platform image, as the graph has
    it: :meth:`~imagegraph.ImageGraph.tag_owners`) -> those builds. A second build
    of a tag for the same platform is no owner but a ``duplicate-tag`` warning."""
    # The graph keeps the shared tags apart when it is made: read them, at no cost
    # for a fleet without any.
    return {
        tag: [nodes[name]["build"] for name in names]  # type: ignore[misc]
        for tag, names in graph.shared_tags.items()
    }


def _build_of(graph: nx.DiGraph[str], name: str) -> ImageBuild:
    build: ImageBuild = graph._node[name]["build"]  # type: ignore[attr-defined]
    return build


def _users(
    graph: nx.DiGraph[str],
    chosen: Iterable[str],
    groups: Mapping[ImageRef, list[ImageBuild]],
    aliases: Mapping[str, str],
) -> dict[str, list[ImageRef]]:
    """Each chosen build that uses a shared tag (an edge whose value is it, read as
    the graph reads it: through *aliases* and the build's named contexts) -> those tags."""
    members = set(chosen)
    producers = {build.name for group in groups.values() for build in group}
    found: dict[str, list[ImageRef]] = {}
    for parent in producers & members:
        for child, data in graph._succ[parent].items():  # type: ignore[attr-defined]
            if child not in members:
                continue
            build = _build_of(graph, child)
            own = set(build.tags)  # a build of the tag waits for no index of it
            for edge in data["uses"]:
                if edge.value is None:
                    continue
                try:
                    ref = ImageRef.parse(_image_of(build, edge.value), aliases=aliases)
                except ValueError:
                    continue
                if ref in groups and ref not in own and ref not in found.get(child, ()):
                    found.setdefault(child, []).append(ref)
    return found


def _image_of(build: ImageBuild, value: str) -> str:
    """The image *value* (a ``FROM`` or ``--from`` value of *build*) names: the
    image of the named context it is, as BuildKit looks one up, else itself."""
    if not build.contexts:
        return value
    context = build.contexts.get(value)
    if context is None:
        try:
            context = build.contexts.get(ImageRef.parse(value).familiar.removesuffix(":latest"))
        except ValueError:
            return value
    if context is not None and context.startswith("docker-image://"):
        return context.removeprefix("docker-image://")
    return value


_NOT_TAG = re.compile(r"[^A-Za-z0-9_.-]+")
_TAG_MAX = 128


def _derived_tag(
    tag: ImageRef, build: ImageBuild, group: list[ImageBuild], taken: set[ImageRef]
) -> ImageRef:
    """A tag of *tag*'s repository for *build* alone: ``<tag>-<platforms>`` when no
    other build of *group* has its platforms, else ``<tag>-<build name>``;
    shortened with a digest of the name past 128 characters, and numbered if taken."""
    same = [b for b in group if set(b.platforms) == set(build.platforms)]
    text = "-".join(build.platforms) if build.platforms and len(same) == 1 else build.name
    suffix = _NOT_TAG.sub("-", text).strip("-.") or "build"
    candidate = f"{tag.tag or 'latest'}-{suffix}"
    if len(candidate) > _TAG_MAX - 3:
        digest = hashlib.sha256(build.name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        candidate = f"{candidate[: _TAG_MAX - 12]}-{digest}"
    unique, counter = candidate, 2
    while ImageRef(tag.registry, tag.path, unique, None) in taken:
        unique, counter = f"{candidate}-{counter}", counter + 1
    return ImageRef(tag.registry, tag.path, unique, None)


def _shared(
    graph: ImageGraph,
    groups: Mapping[ImageRef, list[ImageBuild]],
    users: Mapping[str, list[ImageRef]],
    waves: list[tuple[PlannedBuild, ...]],
) -> tuple[tuple[SharedTag, ...], list[tuple[PlannedBuild, ...]]]:
    """The shared tags the plan rebuilds a build of, and the waves with each such
    build pushing its own tags and source instead of the shared ones."""
    # A derived source is in a shared tag's repository: it must be no tag of the fleet there.
    repositories = {tag.name for tag in groups}
    taken = {tag for tag in graph.built_tags if tag.name in repositories}
    sources: dict[str, ImageRef] = {}
    own: dict[str, tuple[ImageRef, ...]] = {}
    for tag, group in groups.items():
        for build in group:
            if build.name in sources:
                continue
            mine = [t for t in build.tags if t not in groups]
            source = next((t for t in mine if t.name == tag.name), mine[0] if mine else None)
            if source is None:
                source = _derived_tag(tag, build, group, taken)
                taken.add(source)
                mine = [source]
            sources[build.name] = source
            own[build.name] = tuple(mine)
    wave_of = {planned.name: planned.wave for wave in waves for planned in wave}
    found = []
    for tag, group in groups.items():
        planned = tuple(b.name for b in group if b.name in wave_of)
        if not planned:
            continue
        found.append(
            SharedTag(
                tag=tag,
                builds=tuple(b.name for b in group),
                sources=tuple(sources[b.name] for b in group),
                planned=planned,
                wave=max(wave_of[name] for name in planned),
                users=tuple(sorted(name for name, tags in users.items() if tag in tags)),
            )
        )
    found.sort(key=lambda s: (s.wave, str(s.tag)))
    # Even with no build of the index planned, a duplicate of a shared tag planned
    # alone must not push the tag: its push would replace the index.
    waves = [tuple(_pushing(p, own, groups) for p in wave) for wave in waves]
    return tuple(found), waves


def _pushing(
    planned: PlannedBuild,
    own: Mapping[str, tuple[ImageRef, ...]],
    groups: Mapping[ImageRef, list[ImageBuild]],
) -> PlannedBuild:
    """*planned* with the tags it pushes itself when some are shared: for a build
    of the index, its own tags and its source; for a second build of a shared tag
    for a platform one of its builds has (a ``duplicate-tag``), its other tags, so
    that it does not replace the index either."""
    if planned.name in own:
        return replace(planned, own_tags=own[planned.name])
    if any(tag in groups for tag in planned.build.tags):
        return replace(
            planned, own_tags=tuple(tag for tag in planned.build.tags if tag not in groups)
        )
    return planned


def _root(root: str, relative_to: str | os.PathLike[str] | None) -> str:
    """The scanned *root* seen from *relative_to*, with ``/`` separators."""
    if relative_to is None:
        return "."
    try:
        seen = os.path.relpath(os.path.abspath(root), os.path.abspath(relative_to))
    except ValueError as error:  # another drive, on Windows
        raise ImageGraphError(f"cannot write {root} relative to {relative_to}: {error}") from None
    return seen.replace(os.sep, "/")


def _context_images(nodes: Mapping[str, Mapping[str, object]], build: ImageBuild) -> dict[str, str]:
    """``docker-image://<first tag>`` for each ``target:`` context of *build* whose build is tagged."""
    images = {}
    for key, value in build.contexts.items():
        if not value.startswith("target:"):
            continue
        node = nodes.get(value.removeprefix("target:"))
        other = None if node is None else node.get("build")
        if isinstance(other, ImageBuild) and other.tags:
            images[key] = f"docker-image://{other.tags[0]}"
    return images


def _generations(
    graph: nx.DiGraph[str], chosen: Iterable[str], extra: Mapping[str, set[str]] | None = None
) -> Iterator[tuple[list[str], dict[str, tuple[str, ...]]]]:
    """The topological generations of the subgraph on *chosen*, each sorted, with
    each member's parents inside it (sorted): what ``topological_generations``
    of a subgraph view gives, without the view's cost on a large graph. *extra*
    adds parents that are no edge of the graph (every producer of a shared tag
    a build uses)."""
    members = set(chosen)
    predecessors = graph._pred  # type: ignore[attr-defined]
    successors: Mapping[str, Iterable[str]] = graph._succ  # type: ignore[attr-defined]
    needs = {name: tuple(sorted(members.intersection(predecessors[name]))) for name in members}
    if extra:
        added: dict[str, set[str]] = {}
        for name, parents in extra.items():
            more = (parents & members) - set(needs[name])
            if more:
                needs[name] = tuple(sorted({*needs[name], *more}))
                for parent in more:
                    added.setdefault(parent, set()).add(name)
        if added:
            plain = successors
            successors = {name: [*plain[name], *sorted(added.get(name, ()))] for name in members}
    waiting = {name: len(parents) for name, parents in needs.items()}
    current = sorted(name for name, count in waiting.items() if count == 0)
    while current:
        yield current, needs
        following = []
        for name in current:
            for child in successors[name]:
                if child in waiting:
                    waiting[child] -= 1
                    if waiting[child] == 0:
                        following.append(child)
        current = sorted(following)


def _wave_reason(
    name: str,
    needs: tuple[str, ...],
    found: Mapping[str, tuple[Edge, ...]],
    reasons: Mapping[str, tuple[Edge, ...]],
    successors: Mapping[str, Mapping[str, Mapping[str, list[Edge]]]],
) -> tuple[Edge, ...]:
    """The longest chain of planned parents down to *name*, the first (by name) among
    equals: through a parent of the wave just before (*found* has every earlier one)."""
    if not needs:
        return reasons.get(name, ())
    parent = needs[0]
    for other in needs[1:]:  # sorted: the first of the longest
        if len(found[other]) > len(found[parent]):
            parent = other
    return (*found[parent], successors[parent][name]["uses"][0])


def _causes(
    name: str,
    chains: tuple[tuple[Edge, ...], ...],
    causes: Mapping[str, tuple[str, ...]],
    nodes: Mapping[str, Mapping[str, object]],
) -> tuple[str, ...]:
    """The causes found in *name* itself, then those found where its chains start."""
    found = list(causes.get(name, ()))
    for chain in chains:
        root = chain[0].parent if chain else name
        if root == name or root not in causes:
            continue
        data = nodes[root]
        shown = root if data["kind"] == "build" else data["ref"].familiar  # type: ignore[attr-defined]
        found.extend(f"via {shown}: {cause}" for cause in causes[root])
    return tuple(dict.fromkeys(found))


MAX_DURATION = 1e9
"""The longest duration :func:`load_durations` accepts, in seconds (about 31 years)."""


def load_durations(path: str | os.PathLike[str]) -> dict[str, float]:
    """Read build durations from a JSON object ``{"build or tag": seconds, ...}``.

    Each value is a number of seconds from 0 to :data:`MAX_DURATION`: anything
    else (a string, ``NaN``, ``Infinity``, ``1e308``, a negative number) is a
    :class:`~imagegraph.ConfigError` naming the file and the entry, so that
    no plan holds a figure JSON cannot write or a makespan of infinity.
    """
    display = str(path)
    data = read_json(path, "durations", pipes=True)
    if not isinstance(data, dict):
        raise ConfigError("durations must be a JSON object of seconds", path=display)
    durations = {}
    for key, value in data.items():
        number = not isinstance(value, bool) and isinstance(value, int | float)
        if not number or not 0 <= value <= MAX_DURATION:  # NaN compares false
            name = key if len(key) <= 80 else key[:77] + "..."
            shown = repr(value) if number else json_kind(value)
            raise ConfigError(
                f"duration of {name!r} must be a number of seconds from 0 to "
                f"{MAX_DURATION:.0e}, not {shown}",
                path=display,
            )
        durations[key] = float(value)
    return durations


def _schedule(
    graph: ImageGraph, sub: nx.DiGraph[str], given: Mapping[str, float], workers: int
) -> Schedule:
    known: dict[str, float] = {}
    for key, seconds in given.items():
        try:
            known[graph.node(key)] = float(seconds)
        except ImageGraphError:
            continue  # a duration for something not in this fleet is not an error
    nodes = sorted(sub)
    present = [known[n] for n in nodes if n in known]
    default = statistics.median(present) if present else 0.0
    cost = {n: known.get(n, default) for n in nodes}
    estimated = tuple(n for n in nodes if n not in known)
    # Longest remaining chain from each node (its "bottom level").
    order = list(nx.lexicographical_topological_sort(sub))
    below: dict[str, float] = {}
    after: dict[str, str | None] = {}
    for node in reversed(order):
        best, best_child = 0.0, None
        for child in sorted(sub.successors(node)):
            if below[child] > best:
                best, best_child = below[child], child
        below[node], after[node] = cost[node] + best, best_child
    start = max(sorted(order), key=below.__getitem__, default=None)
    path: list[str] = []
    while start is not None:
        path.append(start)
        start = after[start]
    total = sum(cost.values())
    critical = below[path[0]] if path else 0.0
    return Schedule(
        critical_path=tuple(path),
        critical_seconds=critical,
        total_seconds=total,
        workers=workers,
        makespan_seconds=_list_schedule(sub, cost, below, workers),
        lower_bound_seconds=max(critical, total / workers) if nodes else 0.0,
        estimated=estimated,
    )


def _list_schedule(
    sub: nx.DiGraph[str], cost: Mapping[str, float], below: Mapping[str, float], workers: int
) -> float:
    waiting = {n: sub.in_degree(n) for n in sub}
    ready = [(-below[n], n) for n in sorted(sub) if waiting[n] == 0]
    heapq.heapify(ready)
    running: list[tuple[float, str]] = []
    now = 0.0
    while ready or running:
        while ready and len(running) < workers:
            _, node = heapq.heappop(ready)
            heapq.heappush(running, (now + cost[node], node))
        now, done = heapq.heappop(running)
        finished = [done]
        while running and math.isclose(running[0][0], now):
            finished.append(heapq.heappop(running)[1])
        for node in finished:
            for child in sub.successors(node):
                waiting[child] -= 1
                if waiting[child] == 0:
                    heapq.heappush(ready, (-below[child], child))
    return now
