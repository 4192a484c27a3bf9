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
"""

from __future__ import annotations

import array
import hashlib
import io
import os
import pickle
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imagegraph._reading import _RACY_NS, cache_directory

if TYPE_CHECKING:
    from imagegraph.diagnostics import Diagnostic
    from imagegraph.graph import ImageGraph
    from imagegraph.inventory import Inventory

__all__ = ["load_snapshot", "save_snapshot"]

_FORMAT = 1
_Stamp = tuple[int, int, int, int]
_MISSING: _Stamp = (-1, -1, -1, -1)


def _path(root: Path, config: str | None) -> Path:
    key = hashlib.sha256(f"{os.path.abspath(root)}\0{config or ''}".encode()).hexdigest()[:24]
    return cache_directory() / f"graph-{key}.pickle"


def _stamp(full: str) -> _Stamp:
    try:
        stat = os.stat(full)
    except OSError:
        return _MISSING
    return (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)


def _inputs(graph: ImageGraph) -> list[str]:
    inventory = graph.inventory
    dockerfiles = dict.fromkeys(
        b.dockerfile for b in inventory.builds if b.dockerfile_inline is None
    )
    return [*inventory.walked, *inventory.sources, *dockerfiles]


def load_snapshot(root: Path, config: str | None, version: str) -> ImageGraph | None:
    """The graph of the last scan of *root*, if nothing it read has changed since."""
    try:
        with open(_path(root, config), "rb") as handle:
            data = handle.read()
        header, stamps, state = _Unpickler(io.BytesIO(data)).load()
    except Exception:  # missing, truncated, foreign or corrupt: scan afresh
        return None
    if header != ("imagegraph-graph", _FORMAT, version, os.path.abspath(root), config):
        return None
    paths, numbers = stamps
    base = os.fspath(root) + os.sep
    for index, path in enumerate(paths.split("\0") if paths else ()):
        if _stamp(base + path) != tuple(numbers[4 * index : 4 * index + 4]):
            return None
    return _revive(*state)


def save_snapshot(root: Path, config: str | None, version: str, graph: ImageGraph) -> None:
    """Keep *graph* for the next scan of *root*, unless the tree is changing right now."""
    base = os.fspath(root)
    now = time.time_ns()
    # Stamps as one string of paths and one array of numbers: two objects to
    # unpickle instead of a million (a missing file is all -1).
    paths = _inputs(graph)
    numbers = array.array("q")
    for path in paths:
        stamp = _stamp(os.path.join(base, path))
        if stamp != _MISSING and (now - stamp[1] < _RACY_NS or now - stamp[2] < _RACY_NS):
            return
        numbers.extend(stamp)
    stamps = ("\0".join(paths), numbers)
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
    target = _path(root, config)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            dir=target.parent, prefix=".graph-", suffix=".tmp", delete=False
        ) as handle:
            pickle.dump((header, stamps, state), handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(handle.name, target)
    except (OSError, pickle.PicklingError, RecursionError):
        return  # a snapshot that cannot be written only costs time


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


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in _SNAPSHOT_TYPES:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a snapshot")
        return super().find_class(module, name)
