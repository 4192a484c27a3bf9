"""pandas DataFrames of a graph, an impact, a plan and a package listing, to filter and group.

pandas is an optional extra (``pip install 'imagegraph[pandas]'``), imported
only when a conversion runs; without it the conversions raise
:class:`MissingExtra`. The methods ``to_pandas()`` of
:class:`~imagegraph.ImageGraph`, :class:`~imagegraph.Impact`,
:class:`~imagegraph.RebuildPlan` and :class:`~imagegraph.image_packages.PackageList`
call the functions here.

The frames hold what the objects hold, one row per image, use, planned
build or package, with columns in the objects' own words. Images are named
by their graph node (a build's name, an external image's normalised
reference ``docker.io/library/debian:bookworm``) so frames join on them;
``nodes.name`` has the display name. Columns of several values (tags,
``needs``, causes) hold tuples: hashable, so ``groupby`` and
``value_counts`` work on them, and ``explode`` turns them into one row per
value. Reason chains are text, as :meth:`Impact.reason` writes them.

Each frame is built column by column from lists and then made in one go,
so a fleet of 160,000 images converts in a few seconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from imagegraph._pickling import paused_gc
from imagegraph.errors import ImageGraphError

if TYPE_CHECKING:
    import networkx as nx
    import pandas as pd

    from imagegraph.findings import Finding
    from imagegraph.graph import Edge, ImageGraph
    from imagegraph.image_packages import ImagePackage
    from imagegraph.impact import Impact
    from imagegraph.plan import RebuildPlan

__all__ = [
    "GraphFrames",
    "MissingExtra",
    "findings_frame",
    "graph_frames",
    "impact_frame",
    "packages_frame",
    "plan_frame",
]

_EDGE_KINDS = ["from", "copy", "mount", "context"]
_STATUSES = ["changed", "affected", "possibly", "undetermined"]


class MissingExtra(ImageGraphError, ImportError):
    """An optional dependency is not installed; the message says which extra brings it.

    >>> print(MissingExtra("pandas"))
    to_pandas() needs pandas, which is not installed: pip install 'imagegraph[pandas]'
    """

    def __init__(self, extra: str, module: str | None = None) -> None:
        self.extra = extra
        self.module = module or extra
        super().__init__(
            f"to_pandas() needs {self.module}, which is not installed: "
            f"pip install 'imagegraph[{extra}]'",
            name=self.module,
        )

    def __reduce__(self) -> tuple[object, ...]:
        return (MissingExtra, (self.extra, self.module))


def _require_pandas() -> None:
    try:
        import pandas  # noqa: F401
    except ImportError as err:
        raise MissingExtra("pandas") from err


class GraphFrames(NamedTuple):
    """:meth:`ImageGraph.to_pandas`: one row per image, and one per use of a parent."""

    nodes: pd.DataFrame
    """``image``, ``name``, ``kind``, ``dockerfile``, ``context``, ``target``,
    ``origin``, ``tags``, ``platforms``, ``imported``, ``base``, ``parents``,
    ``children``, ``layer``, ``undetermined``; see :func:`graph_frames`."""
    edges: pd.DataFrame
    """``parent``, ``child``, ``kind``, ``path``, ``line``, ``text``, ``stage``,
    ``value``: the fields of :class:`~imagegraph.Edge`."""


@paused_gc()
def graph_frames(graph: ImageGraph) -> GraphFrames:
    """The nodes and the edges of *graph* as DataFrames, in the order of ``graph.images``.

    ``nodes`` has one row per image: ``image`` (the node), ``name`` (a
    build's name, an external image's familiar reference), ``kind``
    (categorical ``build`` / ``external``), ``dockerfile``, ``context``,
    ``target`` and ``origin`` of a build (missing for an external image),
    ``tags`` (a build's tags, normalised, as a tuple; ``()`` for an external
    image), ``platforms`` (a tuple; ``()`` when the build names none),
    ``imported`` (the build is imported from an OCI image layout, bashbrew's
    ``Builder: oci-import``: ``dockerfile`` is then the layout's index and
    ``context`` its directory; false for an external image),
    ``base`` (:meth:`ImageGraph.base`), ``parents`` and ``children`` (how
    many images it uses and is used by), ``layer`` (the longest chain of
    parents above it, as :func:`imagegraph.depths` counts it: 0 for external
    images and ``FROM scratch``; not the ``chain_length`` of an impact) and
    ``undetermined`` (a parent could not be resolved).

    ``edges`` has one row per use (an image pair used twice, say ``FROM``
    and ``COPY --from``, is two rows): the fields of
    :class:`~imagegraph.Edge`, ``kind`` categorical and ``line`` a nullable
    integer (contexts declared without a line have none).
    """
    _require_pandas()
    import pandas as pd

    nx_graph = graph._graph
    data_of: Mapping[str, dict[str, Any]] = nx_graph._node  # type: ignore[attr-defined]
    pred: Mapping[str, Mapping[str, Any]] = nx_graph._pred  # type: ignore[attr-defined]
    succ: Mapping[str, Mapping[str, dict[str, Any]]] = nx_graph._succ  # type: ignore[attr-defined]
    order = sorted(data_of)
    depth = _depths(nx_graph)
    undetermined = graph.undetermined
    names: list[str] = []
    kinds: list[str] = []
    dockerfiles: list[str | None] = []
    contexts: list[str | None] = []
    targets: list[str | None] = []
    origins: list[str | None] = []
    tags: list[tuple[str, ...]] = []
    platforms: list[tuple[str, ...]] = []
    imported: list[bool] = []
    bases: list[str | None] = []
    for node in order:
        data = data_of[node]
        if data["kind"] == "build":
            build = data["build"]
            names.append(node)
            kinds.append("build")
            dockerfiles.append(build.dockerfile)
            contexts.append(build.context)
            targets.append(build.target)
            origins.append(build.origin)
            tags.append(tuple(str(tag) for tag in build.tags))
            platforms.append(build.platforms)
            imported.append(build.imported)
            bases.append(data.get("base"))
        else:
            names.append(data["ref"].familiar)
            kinds.append("external")
            dockerfiles.append(None)
            contexts.append(None)
            targets.append(None)
            origins.append(None)
            tags.append(())
            platforms.append(())
            imported.append(False)
            bases.append(None)
    nodes = _frame(
        {
            "image": order,
            "name": names,
            "kind": pd.Categorical(kinds, categories=["build", "external"]),
            "dockerfile": dockerfiles,
            "context": contexts,
            "target": targets,
            "origin": origins,
            "tags": tags,
            "platforms": platforms,
            "imported": pd.array(imported, dtype="bool"),
            "base": bases,
            "parents": pd.array([len(pred[n]) for n in order], dtype="int64"),
            "children": pd.array([len(succ[n]) for n in order], dtype="int64"),
            "layer": pd.array([depth[n] for n in order], dtype="int64"),
            "undetermined": pd.array([n in undetermined for n in order], dtype="bool"),
        }
    )
    uses: list[Edge] = [
        use
        for parent in order
        for child, data in sorted(succ[parent].items())
        for use in data["uses"]
    ]
    edges = _frame(
        {
            "parent": [u.parent for u in uses],
            "child": [u.child for u in uses],
            "kind": pd.Categorical([u.kind for u in uses], categories=_EDGE_KINDS),
            "path": [u.path for u in uses],
            "line": pd.array([u.line for u in uses], dtype="Int64"),
            "text": [u.text for u in uses],
            "stage": [u.stage for u in uses],
            "value": [u.value for u in uses],
        }
    )
    return GraphFrames(nodes, edges)


def _depths(nx_graph: nx.DiGraph[str]) -> dict[str, int]:
    """Each node's generation: the longest chain of parents above it (the graph
    is acyclic: scan checks)."""
    import networkx as nx

    return {
        node: level
        for level, generation in enumerate(nx.topological_generations(nx_graph))
        for node in generation
    }


def _frame(columns: dict[str, Any]) -> pd.DataFrame:
    """A DataFrame of *columns*; with no rows, the list columns are ``object``
    (pandas would make them ``float64``)."""
    import pandas as pd

    frame = pd.DataFrame(columns)
    if len(frame) == 0:
        frame = frame.astype({k: object for k, v in columns.items() if isinstance(v, list)})
    return frame


def _chain(chain: tuple[Edge, ...]) -> str:
    return " -> ".join([chain[0].parent, *(edge.child for edge in chain)])


@paused_gc()
def impact_frame(impact: Impact) -> pd.DataFrame:
    """One row per image the impact names: changed, affected, possibly, undetermined.

    Columns: ``image``; ``status`` (categorical, in that order: a changed
    build is ``changed`` though it is affected too); ``rebuild`` (it is in
    ``impact.affected``; a changed external image is not rebuilt here);
    ``reason`` (:meth:`Impact.reason`, for changed builds and affected ones);
    ``chain_length`` (the edges in that chain; 0 for a changed image; not the
    ``layer`` of :func:`graph_frames`);
    ``changed_image`` (the changed image the chain starts from);
    ``cause`` (a tuple: the files or packages that reached the image
    directly, from ``impact.causes``; for ``possibly``, why, from
    ``impact.possibly``; for ``undetermined``, the unresolved references as
    written, from ``impact.undetermined``).

    Rows: changed images (sorted), then the other affected builds, the
    possibly affected and the undetermined ones, each as the impact orders them.
    """
    _require_pandas()
    import pandas as pd

    reasons = impact.reasons
    images: list[str] = []
    statuses: list[str] = []
    texts: list[str | None] = []
    depths: list[int | None] = []
    roots: list[str | None] = []
    causes: list[tuple[str, ...]] = []
    affected = sorted(impact.changed) + [b for b in impact.affected if b not in impact.changed]
    for image in affected:
        chain = reasons.get(image)
        images.append(image)
        statuses.append("changed" if image in impact.changed else "affected")
        if chain is None:  # a changed external image
            texts.append(None)
            depths.append(0)
            roots.append(image)
        else:
            texts.append(impact.reason(image))
            depths.append(len(chain))
            roots.append(chain[0].parent if chain else image)
        causes.append(tuple(impact.causes.get(image, ())))
    seen = set(images)
    for status, found in (("possibly", impact.possibly), ("undetermined", impact.undetermined)):
        for image, why in found.items():
            if image in seen:
                continue
            seen.add(image)
            images.append(image)
            statuses.append(status)
            texts.append(None)
            depths.append(None)
            roots.append(None)
            causes.append(tuple(why))
    return _frame(
        {
            "image": images,
            "status": pd.Categorical(statuses, categories=_STATUSES, ordered=True),
            "rebuild": pd.array([image in reasons for image in images], dtype="bool"),
            "reason": texts,
            "chain_length": pd.array(depths, dtype="Int64"),
            "changed_image": roots,
            "cause": causes,
        }
    )


@paused_gc()
def plan_frame(plan: RebuildPlan) -> pd.DataFrame:
    """One row per planned build, wave by wave.

    Columns: ``wave`` (1-based, as the plan's table, JSON, CI matrices,
    bake groups and make targets number them; :attr:`PlannedBuild.wave` + 1);
    ``build``; ``tags`` (normalised, a tuple); ``dockerfile``; ``context``;
    ``target``; ``platforms`` (a tuple); ``imported`` (imported from an OCI
    image layout, pushed as it is rather than built: ``dockerfile`` is the
    layout's index, ``context`` its directory); ``needs`` (the planned builds it
    waits for, a tuple); ``reason`` (the chain that put it in the plan, as :meth:`Impact.reason`
    writes it, a shortest one; missing when the plan rebuilds everything);
    ``chain_length`` (the edges in that chain); ``wave_reason`` (the chain that
    sets its wave, :attr:`PlannedBuild.wave_reason`, as text; missing when it
    has none); ``changed_image`` (the changed image the chain starts from);
    ``cause`` (a tuple: :attr:`PlannedBuild.cause`, the files read or the
    packages found, with version, place and constraint). With a schedule (a plan made with durations), also ``critical``
    (on the critical path) and ``estimated`` (no duration was given: the
    median of the known ones was used).
    """
    _require_pandas()
    import pandas as pd

    builds = list(plan)
    everything = plan.changes is None
    texts: list[str | None] = []
    depths: list[int | None] = []
    roots: list[str | None] = []
    for planned in builds:
        if everything:
            texts.append(None)
            depths.append(None)
            roots.append(None)
        elif planned.reason:
            texts.append(_chain(planned.reason))
            depths.append(len(planned.reason))
            roots.append(planned.reason[0].parent)
        else:
            texts.append(f"{planned.name} (changed)")
            depths.append(0)
            roots.append(planned.name)
    columns: dict[str, Any] = {
        "wave": pd.array([p.wave + 1 for p in builds], dtype="int64"),
        "build": [p.name for p in builds],
        "tags": [tuple(str(tag) for tag in p.build.tags) for p in builds],
        "dockerfile": [p.build.dockerfile for p in builds],
        "context": [p.build.context for p in builds],
        "target": [p.build.target for p in builds],
        "platforms": [p.build.platforms for p in builds],
        "imported": pd.array([p.build.imported for p in builds], dtype="bool"),
        "needs": [p.needs for p in builds],
        "reason": texts,
        "chain_length": pd.array(depths, dtype="Int64"),
        "wave_reason": [_chain(p.wave_reason) if p.wave_reason else None for p in builds],
        "changed_image": roots,
        "cause": [p.cause for p in builds],
    }
    if plan.schedule is not None:
        critical = set(plan.schedule.critical_path)
        estimated = set(plan.schedule.estimated)
        columns["critical"] = pd.array([p.name in critical for p in builds], dtype="bool")
        columns["estimated"] = pd.array([p.name in estimated for p in builds], dtype="bool")
    return _frame(columns)


@paused_gc()
def packages_frame(packages: Iterable[ImagePackage], *, image: str | None = None) -> pd.DataFrame:
    """One row per package: ``image`` (the image listed; *image*, or a
    :class:`~imagegraph.image_packages.PackageList`'s own), then the fields of
    :class:`~imagegraph.ImagePackage`: ``name``, ``version``, ``ecosystem``,
    ``source``, ``where``, ``inherited_from`` (missing for the image's own
    packages), ``purl``, ``constraint``.

    Frames of several images concatenate with ``pandas.concat``.
    """
    _require_pandas()
    listed = list(packages)
    if image is None:
        image = getattr(packages, "image", None)
    return _frame(
        {
            "image": [image] * len(listed),
            "name": [p.name for p in listed],
            "version": [p.version for p in listed],
            "ecosystem": [p.ecosystem for p in listed],
            "source": [p.source for p in listed],
            "where": [p.where for p in listed],
            "inherited_from": [p.inherited_from for p in listed],
            "purl": [p.purl for p in listed],
            "constraint": [p.constraint for p in listed],
        }
    )


def findings_frame(findings: Iterable[Finding]) -> pd.DataFrame:
    """One row per finding: ``code``, ``severity`` (an ordered category, ``info <
    warning < error``, so ``frame.severity >= "warning"`` selects warnings and
    errors), ``image``, ``path``, ``line`` (nullable integer), ``message``."""
    _require_pandas()
    import pandas as pd

    from imagegraph.diagnostics import Severity

    listed = list(findings)
    frame = _frame(
        {
            "code": [f.code for f in listed],
            "severity": [f.severity.value for f in listed],
            "image": [f.image for f in listed],
            "path": [f.path for f in listed],
            "line": pd.array([f.line for f in listed], dtype="Int64"),
            "message": [f.message for f in listed],
        }
    )
    least_severe_first = sorted(Severity, key=lambda s: s.rank, reverse=True)
    frame["severity"] = pd.Categorical(
        frame["severity"], categories=[s.value for s in least_severe_first], ordered=True
    )
    return frame
