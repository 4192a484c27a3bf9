"""A whole scan kept between runs: an unchanged fleet's graph is loaded, not rebuilt.

The per-file parse cache (:mod:`imagegraph._reading`) spares a warm scan
the parsing, but not the work per build and per edge, nor reading the
declaration files. This keeps the finished graph too, with the stamp (size,
modification and change times, inode) of everything the scan read or
listed: the declaration files, every Dockerfile, every directory the tree
walk listed (adding, removing or renaming an entry changes a directory's
times) and every ``.gitignore``. The snapshot is used only when every stamp
is unchanged; a snapshot is not written while any of those changed within
the file system's timestamp granularity (git's "racy" case), since a
change in the same tick would not show. Any other problem (another
version, a corrupt file, an unexpected type) means a full scan.

What is read back is checked before it is trusted (:func:`_validated`):
every field has its declared type, the stamps are exactly those of what
the recorded inventory says the scan read (the root directory always among
them: a snapshot with no stamps would otherwise be trusted whatever the
fleet holds), and the graph is one a scan of that inventory builds (a node
per build, each edge's uses, no cycle). A snapshot that fails is a re-scan,
never a different answer.
"""

from __future__ import annotations

import array
import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imagegraph._pickling import conforms
from imagegraph._reading import (
    RACY_NS,
    cache_directory,
    read_cache_file,
    restricted_load,
    stamp,
    touch,
    write_cache_file,
)
from imagegraph.diagnostics import Diagnostic
from imagegraph.graph import Edge
from imagegraph.inventory import Inventory
from imagegraph.reference import ImageRef

if TYPE_CHECKING:
    from imagegraph.graph import ImageGraph

__all__ = ["load_snapshot", "save_snapshot"]

_FORMAT = 1
_Stamp = tuple[int, int, int, int]
_MISSING: _Stamp = (-1, -1, -1, -1)


def snapshot_key(
    config: str | os.PathLike[str] | None, root: str | os.PathLike[str] | None
) -> str | None:
    """What a scan's snapshot is kept under, beside its tree: the config file it
    was named (resolved), and the root files may be read from when one was given
    (a snapshot is only as good as the root it was read under)."""
    key = os.fspath(Path(config).resolve()) if config is not None else None
    if root is not None:
        key = f"{key or ''}\0root={os.path.realpath(root)}"
    return key


def _path(root: Path, config: str | None) -> Path:
    key = hashlib.sha256(f"{os.path.abspath(root)}\0{config or ''}".encode()).hexdigest()[:24]
    return cache_directory() / f"graph-{key}.pickle"


def _stamp(full: str) -> _Stamp:
    try:
        return stamp(os.stat(full))
    except OSError:
        return _MISSING


def _inputs(inventory: Inventory) -> list[str]:
    dockerfiles = dict.fromkeys(
        b.dockerfile for b in inventory.builds if b.dockerfile_inline is None
    )
    return [*inventory.walked, *inventory.sources, *dockerfiles]


def load_snapshot(root: Path, config: str | None, version: str) -> ImageGraph | None:
    """The graph of the last scan of *root*, if nothing it read has changed since."""
    target = _path(root, config)
    data = read_cache_file(target)
    if data is None:  # missing, not a regular file, or not imagegraph's
        return None
    try:
        graph = _validated(restricted_load(data, _SNAPSHOT_TYPES), root, config, version)
    except Exception:  # truncated, foreign or corrupt: scan afresh
        return None
    if graph is not None:
        touch(target)
    return graph


def _validated(loaded: object, root: Path, config: str | None, version: str) -> ImageGraph | None:
    """The graph in an unpickled snapshot, if it is whole, of this scan, and still current."""
    if not (type(loaded) is tuple and len(loaded) == 3):
        return None
    header, stamps, state = loaded
    if header != ("imagegraph-graph", _FORMAT, version, os.path.abspath(root), config):
        return None
    if not (type(stamps) is tuple and len(stamps) == 2 and type(stamps[0]) is str):
        return None
    paths, numbers = stamps[0], stamps[1]
    if not (type(numbers) is array.array and numbers.typecode == "q"):
        return None
    if not conforms(state, _State):
        return None
    nodes, succ, inventory, _, _ = state
    if os.path.abspath(inventory.root) != os.path.abspath(root) or "./" not in inventory.walked:
        return None
    recorded = paths.split("\0") if paths else []
    # Every file and directory the recorded scan read is stamped, and nothing else.
    if recorded != _inputs(inventory) or len(numbers) != 4 * len(recorded):
        return None
    prefix = os.path.join(os.fspath(root), "")
    expected = zip(*[iter(numbers)] * 4, strict=True)  # the stamps, four numbers each
    for path, stamped in zip(recorded, expected, strict=True):
        # An absolute path (a config outside the root) stays whole, as in os.path.join.
        if _stamp(path if os.path.isabs(path) else prefix + path) != stamped:
            return None
    if not _consistent(nodes, succ, inventory):
        return None
    graph = _revive(*state)
    import networkx as nx

    if not nx.is_directed_acyclic_graph(graph._graph):
        return None
    _mark(graph, recorded, numbers)
    return graph


def _mark(graph: ImageGraph, paths: list[str], numbers: array.array[int]) -> None:
    """Note in *graph* that it is a cached scan's, and the stamps of what it read
    (as checked now): the package cache (:mod:`imagegraph.image_packages`)
    goes by them instead of looking at every Dockerfile again. Kept as they
    are, since most scans never ask."""
    graph._cache[("", "cached-scan")] = True
    graph._cache[("", "input-stamps")] = (paths, numbers)


def _consistent(
    nodes: dict[str, dict[str, Any]],
    succ: dict[str, dict[str, dict[str, Any]]],
    inventory: Inventory,
) -> bool:
    """Whether *nodes* and *succ* are a graph a scan of *inventory* builds: a build
    node per build holding it, external nodes holding their reference, and each
    edge between two nodes holding the uses that made it."""
    if succ.keys() != nodes.keys():
        return False
    builds = {build.name: build for build in inventory.builds}
    if not builds.keys() <= nodes.keys():
        return False
    for node, attributes in nodes.items():
        if node in builds:
            base = attributes.get("base")
            whole = (
                attributes.get("kind") == "build"
                and attributes.keys() <= {"kind", "build", "base"}
                and (
                    attributes.get("build") is builds[node]
                    or attributes.get("build") == builds[node]
                )
                and (base is None or base in nodes)
            )
        else:
            whole = (
                attributes.keys() == {"kind", "ref"}
                and attributes["kind"] == "external"
                and type(attributes["ref"]) is ImageRef
            )
        if not whole:
            return False
    for children in succ.values():
        for child, data in children.items():
            if child not in nodes or data.keys() != {"uses"} or not data["uses"]:
                return False
            if not conforms(data["uses"], _Uses):
                return False
    return True


def save_snapshot(
    root: Path, config: str | None, version: str, graph: ImageGraph, started: int
) -> None:
    """Keep *graph* for the next scan of *root*, which began at *started*
    (``time.time_ns()``), unless anything it read changed since shortly before
    then: a file changed while the scan read it would be stamped with a time
    that does not match what was read."""
    graph._cache[("", "cached-scan")] = True  # its packages may go to the cache directory too
    base = os.fspath(root)
    since = started - RACY_NS
    # Stamps as one string of paths and one array of numbers: two objects to
    # unpickle instead of a million (a missing file is all -1).
    paths = _inputs(graph.inventory)
    numbers = array.array("q")
    for path in paths:
        now = _stamp(os.path.join(base, path))
        if now != _MISSING and (now[1] >= since or now[2] >= since):
            return
        numbers.extend(now)
    _mark(graph, paths, numbers)
    header = ("imagegraph-graph", _FORMAT, version, os.path.abspath(root), config)
    # The graph as its adjacency dicts: they unpickle at C speed, where a
    # networkx object would also carry its cached views.
    nx_graph = graph._graph
    nodes: dict[str, dict[str, Any]] = dict(nx_graph.nodes.items())
    state = (
        nodes,
        {node: dict(children) for node, children in nx_graph.adjacency()},
        graph.inventory,
        graph.diagnostics,
        dict(graph.undetermined),
    )
    write_cache_file(_path(root, config), (header, ("\0".join(paths), numbers), state))


def _revive(
    nodes: dict[str, dict[str, Any]],
    succ: dict[str, dict[str, dict[str, Any]]],
    inventory: Inventory,
    diagnostics: tuple[Diagnostic, ...],
    undetermined: dict[str, tuple[str, ...]],
) -> ImageGraph:
    import networkx as nx

    from imagegraph.graph import ImageGraph

    graph: nx.DiGraph[str] = nx.DiGraph()
    # networkx's add_* functions check and copy every dict; these are the
    # graph's own, so they go in as networkx keeps them: node attributes,
    # successors, and predecessors sharing each edge's attribute dict.
    pred: dict[str, dict[str, dict[str, Any]]] = {node: {} for node in nodes}
    for parent, children in succ.items():
        for child, data in children.items():
            pred[child][parent] = data
    graph._node.update(nodes)  # type: ignore[attr-defined]
    graph._succ.update(succ)  # type: ignore[attr-defined]
    graph._pred.update(pred)  # type: ignore[attr-defined]
    return ImageGraph(graph, inventory, diagnostics, undetermined)


# The graph's state as save_snapshot writes it: node attributes, successors,
# the inventory, the diagnostics and the undetermined parents.
_State = tuple[
    dict[str, dict[str, object]],
    dict[str, dict[str, dict[str, object]]],
    Inventory,
    tuple[Diagnostic, ...],
    dict[str, tuple[str, ...]],
]

_Uses = tuple[Edge, ...]

# What a snapshot may hold: imagegraph's value types (and the builtins inside them).
_SNAPSHOT_TYPES = frozenset(
    {
        ("imagegraph.inventory", "Inventory"),
        ("imagegraph.inventory", "ImageBuild"),
        ("imagegraph.reference", "ImageRef"),
        ("imagegraph.graph", "Edge"),
        ("imagegraph.diagnostics", "Diagnostic"),
        ("imagegraph.diagnostics", "Severity"),
        ("array", "array"),
        ("array", "_array_reconstructor"),
    }
)
