"""How deep each image sits in the graph, what it is built on, and summaries of the graph by either."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any, Literal

import networkx as nx

from imagegraph._pickling import paused_gc

if TYPE_CHECKING:
    from imagegraph.graph import ImageGraph
    from imagegraph.impact import Impact
    from imagegraph.reference import ImageRef

__all__ = [
    "NO_BASE",
    "CollapseBy",
    "collapse",
    "depths",
    "foundation",
    "foundations",
    "grouped",
    "layer_depths",
]

CollapseBy = Literal["base", "layer"]
"""How :func:`collapse` groups images: by the external image at the bottom of
their base chain, or by their depth in the graph."""

NO_BASE = "scratch"
"""The :func:`collapse` group (``by="base"``) of images whose base chain ends
without an external image: ``FROM scratch``, or a base that could not be
resolved. No other group is called this: they are named by normalised
references, which always have a registry."""

_KIND_ORDER = {"from": 0, "copy": 1, "mount": 2, "context": 3}


def _adjacency(
    nx_graph: nx.DiGraph[str],
) -> tuple[Mapping[str, Mapping[str, Any]], Mapping[str, Mapping[str, Any]]]:
    # networkx's own dicts: its views cost more than the work at 160,000 images.
    succ: Mapping[str, Mapping[str, Any]] = nx_graph._succ  # type: ignore[attr-defined]
    pred: Mapping[str, Mapping[str, Any]] = nx_graph._pred  # type: ignore[attr-defined]
    return succ, pred


def _node_data(nx_graph: nx.DiGraph[str]) -> Mapping[str, Mapping[str, Any]]:
    data: Mapping[str, Mapping[str, Any]] = nx_graph._node  # type: ignore[attr-defined]
    return data


def layer_depths(
    nx_graph: nx.DiGraph[str], within: Collection[str] | None = None
) -> dict[str, int]:
    """:func:`depths` of an image graph's networkx form (node attribute ``kind``),
    counting only the nodes in *within* (and the edges among them) when given.

    Nodes come out in a topological order. Raises ``ValueError`` on a cycle.

    >>> nx_graph = nx.DiGraph([("ext", "a"), ("a", "b"), ("ext", "b")])
    >>> nx.set_node_attributes(nx_graph, {"ext": "external", "a": "build", "b": "build"}, "kind")
    >>> layer_depths(nx_graph), layer_depths(nx_graph, within={"a", "b"})
    ({'ext': 0, 'a': 1, 'b': 2}, {'a': 1, 'b': 2})
    """
    succ, pred = _adjacency(nx_graph)
    nodes = _node_data(nx_graph)
    members: Collection[str] = nodes if within is None else within
    if within is None:
        waiting = {node: len(parents) for node, parents in pred.items()}
    else:
        waiting = {node: sum(p in within for p in pred[node]) for node in within}
    depth: dict[str, int] = {}
    ready = [node for node in members if not waiting[node]]
    # A root is an external image (layer 0) or a build from scratch (layer 1).
    level = {node: 0 if nodes[node]["kind"] == "external" else 1 for node in ready}
    while ready:
        node = ready.pop()
        depth[node] = here = level[node]
        below = here + 1
        for child in succ[node]:
            count = waiting.get(child)
            if count is None:
                continue  # outside *within*
            if level.get(child, -1) < below:
                level[child] = below
            waiting[child] = count - 1
            if count == 1:
                ready.append(child)
    if len(depth) != len(members):
        raise ValueError("the graph has a cycle: its images have no layers")
    return depth


def depths(graph: ImageGraph) -> dict[str, int]:
    """Each image's layer: 0 for external images, and for a build one more than
    its deepest parent (1 for a build ``FROM scratch``), so layer 0 holds exactly
    the external images and every edge goes to a higher layer.

    Linear in the size of the graph; images come out in a topological order
    (every parent before its children).

    >>> from imagegraph import ImageBuild, ImageGraph, ImageRef
    >>> graph = ImageGraph.from_builds([
    ...     ImageBuild("base", "base/Dockerfile", "base", (ImageRef.parse("acme/base"),),
    ...                dockerfile_inline="FROM debian:bookworm"),
    ...     ImageBuild("app", "app/Dockerfile", "app", dockerfile_inline="FROM acme/base"),
    ... ])
    >>> sorted(depths(graph).items())
    [('app', 2), ('base', 1), ('docker.io/library/debian:bookworm', 0)]
    """
    return layer_depths(graph.nx)


@paused_gc()
def _bottoms(graph: ImageGraph) -> dict[str, str]:
    """Each node -> the last node of its base chain: an external image, or a
    build whose base is scratch or unknown. Each node is walked once."""
    nodes = _node_data(graph.nx)
    bottom: dict[str, str] = {}
    for start in nodes:
        if start in bottom:
            continue
        path = []
        node = start
        while True:
            found = bottom.get(node)
            if found is not None:
                break
            path.append(node)
            data = nodes[node]
            base = data.get("base") if data["kind"] == "build" else None
            if base is None:
                found = node
                break
            node = base
        for each in path:
            bottom[each] = found
    return bottom


def foundations(graph: ImageGraph) -> dict[str, str | None]:
    """:func:`foundation` of every image at once, in linear time, in the graph's node order.

    >>> from imagegraph import ImageBuild, ImageGraph, ImageRef
    >>> graph = ImageGraph.from_builds([
    ...     ImageBuild("base", "base/Dockerfile", "base", (ImageRef.parse("acme/base"),),
    ...                dockerfile_inline="FROM debian:bookworm"),
    ...     ImageBuild("app", "app/Dockerfile", "app",
    ...                dockerfile_inline="FROM acme/base\\nCOPY --from=alpine:3 / /"),
    ...     ImageBuild("static", "static/Dockerfile", "static", dockerfile_inline="FROM scratch"),
    ... ])
    >>> found = foundations(graph)
    >>> found["app"], found["docker.io/library/alpine:3"], found["static"]
    ('docker.io/library/debian:bookworm', 'docker.io/library/alpine:3', None)
    """
    nodes = _node_data(graph.nx)
    return {
        node: bottom if nodes[bottom]["kind"] == "external" else None
        for node, bottom in _bottoms(graph).items()
    }


def foundation(graph: ImageGraph, image: str | ImageRef) -> str | None:
    """The external image at the bottom of *image*'s base chain: what its final
    stage is ``FROM``, followed through the fleet's own builds (an external
    image is its own foundation). ``None`` for a chain that ends in ``FROM
    scratch`` or in a base that could not be resolved.

    ``COPY --from`` sources and builder stages are parents, but not
    foundations: only the base passes on its filesystem.

    >>> from imagegraph import ImageBuild, ImageGraph, ImageRef
    >>> graph = ImageGraph.from_builds([
    ...     ImageBuild("base", "base/Dockerfile", "base", (ImageRef.parse("acme/base"),),
    ...                dockerfile_inline="FROM debian:bookworm"),
    ...     ImageBuild("app", "app/Dockerfile", "app",
    ...                dockerfile_inline="FROM golang:1.23 AS build\\nFROM acme/base"),
    ... ])
    >>> foundation(graph, "app")
    'docker.io/library/debian:bookworm'
    """
    nodes = graph.nx.nodes
    node: str | None = graph.node(image)
    while node is not None:
        data = nodes[node]
        if data["kind"] == "external":
            return node
        node = data.get("base")
    return None


def _base_group(ref: ImageRef) -> tuple[str, str]:
    """The key (repository and tag, normalised) and label (familiar) of a foundation."""
    if ref.tag is None:  # pinned by digest alone: the digest is what tells it apart
        return f"{ref.name}@{ref.digest}", f"{ref.familiar_name}@{ref.digest}"
    label = ref.familiar_name if ref.tag == "latest" else f"{ref.familiar_name}:{ref.tag}"
    return f"{ref.name}:{ref.tag}", label


def collapse(
    graph: ImageGraph,
    by: CollapseBy,
    impact: Impact | None = None,
    *,
    within: Collection[str] | None = None,
) -> nx.DiGraph[str]:
    """A summary of *graph*: one node per group of images, one edge per pair of
    groups that image edges join.

    ``by="base"`` groups images by the repository and tag of their
    :func:`foundation` (``docker.io/library/debian:bookworm``; a digest pin
    joins its tag's group), with :data:`NO_BASE` for chains that end in
    scratch or an unresolved base. ``by="layer"`` groups them by
    :func:`depths` (``layer 0``, ``layer 1``, ...).

    Node attributes: ``label`` (``debian:bookworm``, ``layer 2``), ``count``
    (images in the group), ``builds`` and ``external`` (their names, sorted),
    ``inner`` (image edges inside the group), ``affected`` (builds the
    *impact* rebuilds, a changed build included), ``changed`` (images the
    impact names), ``possibly`` (builds it may reach: unknown package
    version or unresolved base), all 0 without an impact; ``foundation``
    (the external image of a base group, else ``None``) or ``layer``.
    Edge attributes: ``count`` (image edges between the two groups),
    ``kinds`` (that count by the kind each is drawn as: ``from`` before
    ``copy``, ``mount``, ``context``) and ``affected`` (those that pass the
    impact on: from a changed or affected image to an affected build).
    Groups and edges are in sorted order. *within* keeps only those images
    (node names) and the edges among them. Linear in the size of the graph.

    >>> from imagegraph import ImageBuild, ImageGraph, ImageRef
    >>> graph = ImageGraph.from_builds([
    ...     ImageBuild("base", "base/Dockerfile", "base", (ImageRef.parse("acme/base"),),
    ...                dockerfile_inline="FROM debian:bookworm"),
    ...     ImageBuild("app", "app/Dockerfile", "app",
    ...                dockerfile_inline="FROM acme/base\\nCOPY --from=alpine:3 / /"),
    ... ])
    >>> summary = collapse(graph, "base", graph.impact(["debian"]))
    >>> [(data["label"], data["count"], data["affected"]) for _, data in summary.nodes(data=True)]
    [('alpine:3', 1, 0), ('debian:bookworm', 3, 2)]
    >>> summary.edges["docker.io/library/alpine:3", "docker.io/library/debian:bookworm"]
    {'count': 1, 'kinds': {'copy': 1}, 'affected': 0}
    >>> [data["label"] for _, data in collapse(graph, "layer").nodes(data=True)]
    ['layer 0', 'layer 1', 'layer 2']
    """
    return grouped(graph, by, impact, within=within)[0]


@paused_gc()
def grouped(
    graph: ImageGraph,
    by: CollapseBy,
    impact: Impact | None = None,
    *,
    within: Collection[str] | None = None,
) -> tuple[nx.DiGraph[str], dict[str, str]]:
    """:func:`collapse`, and the group of each image it counts.

    >>> from imagegraph import ImageBuild, ImageGraph
    >>> graph = ImageGraph.from_builds([
    ...     ImageBuild("app", "app/Dockerfile", "app", dockerfile_inline="FROM scratch"),
    ... ])
    >>> grouped(graph, "base")[1]
    {'app': 'scratch'}
    """
    nx_graph = graph.nx
    nodes = _node_data(nx_graph)
    members: Collection[str] = nodes if within is None else frozenset(within)
    if within is not None:
        for node in members:
            if node not in nodes:
                graph.node(node)  # raises UnknownImage
    group: dict[str, str] = {}
    labels: dict[str, str] = {}
    extra: dict[str, dict[str, Any]] = {}
    order: list[str]
    if by == "base":
        bottoms = _bottoms(graph)
        keys: dict[str, str] = {}  # bottom node -> group key
        candidates: dict[str, list[str]] = {}
        for bottom in {bottoms[node] for node in members}:
            data = nodes[bottom]
            if data["kind"] == "external":
                key, label = _base_group(data["ref"])
                candidates.setdefault(key, []).append(bottom)
            else:
                key, label = NO_BASE, "scratch or unresolved base"
            keys[bottom] = key
            labels[key] = label
        for key in labels:
            # Digests of one tag make one group: its image is the tag's own, if used.
            found = candidates.get(key)
            extra[key] = {"foundation": (key if key in found else min(found)) if found else None}
        group = {node: keys[bottoms[node]] for node in members}
        order = sorted(labels)
    elif by == "layer":
        depth = layer_depths(nx_graph)
        group = {node: f"layer {depth[node]}" for node in members}
        levels = sorted({depth[node] for node in members})
        order = [f"layer {level}" for level in levels]
        for level, key in zip(levels, order, strict=True):
            labels[key] = key
            extra[key] = {"layer": level}
    else:
        raise ValueError(f"collapse by {by!r}: expected 'base' or 'layer'")

    builds: dict[str, list[str]] = {key: [] for key in order}
    external: dict[str, list[str]] = {key: [] for key in order}
    for node, key in group.items():
        (external if nodes[node]["kind"] == "external" else builds)[key].append(node)
    tallies: dict[str, dict[str, int]] = {
        key: {"affected": 0, "changed": 0, "possibly": 0, "inner": 0} for key in order
    }
    reached: Collection[str] = ()
    affected: Collection[str] = ()
    if impact is not None:
        affected = impact.reasons
        reached = {*impact.reasons, *impact.changed}
        for node in impact.reasons:
            if node in group:
                tallies[group[node]]["affected"] += 1
        for node in impact.changed:
            if node in group:
                tallies[group[node]]["changed"] += 1
        for node in {*impact.possibly, *impact.undetermined}:
            if node in group and node not in impact.reasons:
                tallies[group[node]]["possibly"] += 1

    succ, _ = _adjacency(nx_graph)
    between: dict[tuple[str, str, str], int] = {}  # (upper, lower, kind) -> image edges
    passing: dict[tuple[str, str], int] = {}
    inner = dict.fromkeys(order, 0)
    get = group.get
    for parent, upper in group.items():
        children = succ[parent]
        if not children:
            continue
        on = parent in reached
        same = 0
        for child, data in children.items():
            lower = get(child)
            if lower == upper:
                same += 1
            elif lower is not None:  # None: outside *within*
                uses = data["uses"]
                slot = (upper, lower, uses[0].kind if len(uses) == 1 else _first_kind(uses))
                between[slot] = between.get(slot, 0) + 1
                if on and child in affected:
                    passing[upper, lower] = passing.get((upper, lower), 0) + 1
        if same:
            inner[upper] += same
    for key, count in inner.items():
        tallies[key]["inner"] = count

    summary: nx.DiGraph[str] = nx.DiGraph()
    for key in order:
        summary.add_node(
            key,
            label=labels[key],
            count=len(builds[key]) + len(external[key]),
            builds=tuple(sorted(builds[key])),
            external=tuple(sorted(external[key])),
            **tallies[key],
            **extra[key],
        )
    kinds_of: dict[tuple[str, str], dict[str, int]] = {}
    for upper, lower, kind in sorted(between, key=lambda k: (k[0], k[1], _KIND_ORDER[k[2]])):
        kinds_of.setdefault((upper, lower), {})[kind] = between[upper, lower, kind]
    for (upper, lower), kinds in kinds_of.items():
        summary.add_edge(
            upper,
            lower,
            count=sum(kinds.values()),
            kinds=kinds,
            affected=passing.get((upper, lower), 0),
        )
    return summary, group


def _first_kind(uses: tuple[Any, ...]) -> str:
    """The kind an edge of several uses is drawn as: ``from`` before ``copy``, ``mount``, ``context``."""
    first: str = min((use.kind for use in uses), key=_KIND_ORDER.__getitem__)
    return first
