"""Pictures of the image graph as SVG, laid out and drawn in pure Python: no Graphviz needed.

Images are drawn in layers from left to right (:func:`imagegraph.layers.depths`:
external images first, each build right of everything it is built from),
ordered inside a layer by the barycentre of their neighbours to keep edges
from crossing, and placed so that edges run as straight as the order allows.
An edge that skips layers is routed through the gaps between the boxes of
the layers it passes. Above ``max_nodes`` images the picture shows groups of
images instead (:func:`imagegraph.layers.collapse`), so a fleet of 160,000
images is still one readable picture.

Everything is computed from sorted data and numbers are written rounded, so
the same graph gives byte-identical SVG on every run (whatever the hash seed). Colours are
presentation attributes (no ``<style>``) and ids carry a prefix derived from
the picture, so several pictures can sit in one notebook or web page.

An image imported from an OCI layout (bashbrew's ``Builder: oci-import``) is
a box with a dashed border and class ``imported``, its tooltip naming the
layout, and the legend says so; a group of images says how many of them are
imported. A picture of a fleet without imports is as it was before.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import itertools
import math
import os
import re
import unicodedata
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import imagegraph.layers as layers
from imagegraph._pickling import paused_gc
from imagegraph.render._names import IMPORTED
from imagegraph.render._xml import xml_escape
from imagegraph.render.graph import display_name

if TYPE_CHECKING:
    import networkx as nx

    from imagegraph.graph import Edge, ImageGraph
    from imagegraph.impact import Impact
    from imagegraph.reference import ImageRef

__all__ = ["Picture", "to_picture"]

# -- geometry and palette --------------------------------------------------

_FONT = "ui-monospace, SFMono-Regular, Menlo, Consolas, 'DejaVu Sans Mono', monospace"
_SANS = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif"
_FONT_SIZE = 12
_CHAR = _FONT_SIZE * 0.6  # a monospace advance: labels are measured, not guessed
_LINE = 15
_PAD_X, _PAD_Y = 9, 6
_WRAP, _MAX_LINES = 30, 3
_MARGIN = 20
_NODE_GAP, _MIXED_GAP, _DUMMY_GAP = 14.0, 8.0, 5.0
_DUMMY_HEIGHT = 3.0
_BAR = 5  # the share-affected bar under a group's label

_MAX_LINKS = 24  # links between groups drawn: this many, or twice the groups
_LABELLED = 16  # the heaviest links say their count
_DUMMY_LIMIT = 20_000  # route edges around boxes while this few route points suffice
_CROSSING_LIMIT = 8_000  # count crossings (keep the best order) for this many segments

_KIND_ORDER = ("from", "copy", "mount", "context")
_KIND_LEGEND = {
    "from": "FROM",
    "copy": "COPY --from",
    "mount": "RUN --mount=from",
    "context": "build context",
}
_KIND_DASH = {"from": None, "copy": "6 4", "mount": "1.5 3.5", "context": None}
_KIND_WIDTH = {"from": 1.3, "copy": 1.3, "mount": 1.6, "context": 2.8}
_IMPORTED_DASH = "4 2"  # the border of an image imported from an OCI layout

_INK = "#1a202c"
_DIM_INK = "#718096"
_EDGE = "#718096"
_EDGE_QUIET = "#cbd5e0"
_EDGE_REACH = "#dd6b20"
_FOCUS = "#2b6cb0"

_Status = Literal["plain", "changed", "affected", "possibly", "untouched"]
_FILL: dict[tuple[_Status, bool], tuple[str, str, str]] = {
    # (status, external) -> fill, stroke, text
    ("plain", False): ("#ffffff", "#4a5568", _INK),
    ("plain", True): ("#edf2f7", "#718096", _INK),
    ("changed", False): ("#f4a6a6", "#c53030", _INK),
    ("changed", True): ("#f4a6a6", "#c53030", _INK),
    ("affected", False): ("#fbd38d", "#c05621", _INK),
    ("affected", True): ("#fbd38d", "#c05621", _INK),
    ("possibly", False): ("#fef08a", "#a16207", _INK),
    ("possibly", True): ("#fef08a", "#a16207", _INK),
    ("untouched", False): ("#ffffff", "#a0aec0", _DIM_INK),
    ("untouched", True): ("#f7fafc", "#a0aec0", _DIM_INK),
}
_STATUS_LEGEND: dict[_Status, str] = {
    "changed": "changed",
    "affected": "rebuilds",
    "possibly": "may rebuild (version or base unknown)",
    "untouched": "not affected",
}


# -- the result -------------------------------------------------------------


class Picture:
    """An SVG picture of an image graph; :func:`to_picture` makes one.

    ``svg`` is the document; Jupyter shows it inline. ``images`` and
    ``edges`` count what the picture stands for (all of it, when collapsed),
    ``boxes`` what is drawn, ``collapsed`` says by what it is grouped
    (``None``, ``"base"`` or ``"layer"``) and ``caption`` is the text at
    its top.
    """

    __slots__ = ("boxes", "caption", "collapsed", "edges", "height", "images", "svg", "width")

    def __init__(
        self,
        svg: str,
        *,
        images: int,
        edges: int,
        boxes: int,
        collapsed: str | None = None,
        caption: tuple[str, ...] = (),
        width: float = 0,
        height: float = 0,
    ) -> None:
        self.svg = svg
        self.images = images
        self.edges = edges
        self.boxes = boxes
        self.collapsed = collapsed
        self.caption = caption
        self.width = width
        self.height = height

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the SVG to *path* (``.svg`` is added when it has no suffix); returns the path."""
        target = Path(path)
        if not target.suffix:
            target = target.with_suffix(".svg")
        elif target.suffix.lower() != ".svg":
            raise ValueError(f"a Picture is SVG: cannot save it as {target.suffix!r} ({target})")
        target.write_text(self.svg, encoding="utf-8")
        return target

    def _repr_svg_(self) -> str:
        return self.svg

    def _repr_mimebundle_(
        self, include: Collection[str] | None = None, exclude: Collection[str] | None = None
    ) -> dict[str, str]:
        bundle = {"image/svg+xml": self.svg, "text/plain": repr(self)}
        return {
            mime: data
            for mime, data in bundle.items()
            if (include is None or mime in include) and (exclude is None or mime not in exclude)
        }

    def __repr__(self) -> str:
        grouped = f", by {self.collapsed} in {self.boxes:,} groups" if self.collapsed else ""
        images = f"{self.images:,} image{'' if self.images == 1 else 's'}"
        edges = f"{self.edges:,} edge{'' if self.edges == 1 else 's'}"
        return f"<Picture {images}, {edges}{grouped}>"


# -- the scene: what to draw, before it is placed ----------------------------


@dataclass(slots=True)
class _Box:
    key: str
    sort: str
    layer: int
    lines: list[str]
    title: str
    classes: str
    data: dict[str, str]
    fill: str
    stroke: str
    ink: str
    pill: bool = False
    stroke_width: float = 1.2
    bar: tuple[float, float] | None = None  # (changed, affected) shares of a group
    w: float = 0.0
    h: float = 0.0
    x: float = 0.0
    y: float = 0.0


@dataclass(slots=True)
class _Link:
    u: int
    v: int
    kind: str
    title: str
    classes: str
    data: dict[str, str]
    colour: str
    width: float
    on_top: bool = False
    label: str | None = None
    weight: int = 0
    chain: list[int] = field(default_factory=list)
    path: str = ""
    curve: tuple[float, ...] = ()  # the cubic Bézier segment (8 numbers) a label goes on


@dataclass(slots=True)
class _Scene:
    boxes: list[_Box]
    links: list[_Link]
    caption: list[str]
    legend: list[tuple[str, str, dict[str, Any]]]
    headers: dict[int, str]
    col_gap: float
    images: int
    edges: int
    collapsed: str | None


# -- text --------------------------------------------------------------------

_LONG_DIGEST = re.compile(r"(@sha256:[0-9a-f]{12})[0-9a-f]{8,}")
_BREAK_AFTER = ("/:@=", "-_.")  # where a label breaks best, then next best


def _esc(text: str) -> str:
    """Text safe in XML content and quoted attributes (see :func:`xml_escape`)."""
    return xml_escape(text)


def _num(value: float) -> str:
    text = f"{value:.1f}"
    if text.endswith(".0"):
        text = text[:-2]
    return "0" if text == "-0" else text


@functools.lru_cache(maxsize=4096)
def _char_columns(char: str) -> int:
    """Monospace columns of one character: none for a combining mark or an
    invisible format character (a zero-width joiner, a variation selector),
    two for an East Asian wide or fullwidth one (CJK, most emoji), else one."""
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def _columns(text: str) -> int:
    """Monospace columns *text* takes (see :func:`_char_columns`).

    >>> _columns("debian:12"), _columns("数据-🚀"), _columns("e\u0301")
    (9, 7, 1)
    """
    if text.isascii():
        return len(text)
    return sum(map(_char_columns, text))


def _fit(text: str, columns: int) -> int:
    """How many characters of *text*, from its start, fit in *columns*
    (a combining mark stays with the character before it)."""
    if text.isascii():
        return min(len(text), columns)
    used = 0
    for index, char in enumerate(text):
        used += _char_columns(char)
        if used > columns:
            return index
    return len(text)


def _fit_end(text: str, columns: int) -> int:
    """Where the longest end of *text* that fits in *columns* starts (not
    on a combining mark, which needs the character before it)."""
    if text.isascii():
        return max(len(text) - columns, 0)
    used = 0
    start = len(text)
    for index in range(len(text) - 1, -1, -1):
        used += _char_columns(text[index])
        if used > columns:
            break
        start = index
    while start < len(text) and not _char_columns(text[start]):
        start += 1
    return start


def _lines(text: str, width: int, max_lines: int) -> list[str]:
    """*text* in lines of at most *width* columns, broken after ``/``, ``:``,
    ``-`` and such where possible; stops once there are more than *max_lines*."""
    lines: list[str] = []
    rest = text
    while _columns(rest) > width and len(lines) <= max_lines:
        limit = max(_fit(rest, width), 1)
        cut = limit
        for marks in _BREAK_AFTER:
            found = max(rest.rfind(mark, 0, limit) for mark in marks) + 1
            if found >= limit // 2:
                cut = found
                break
        lines.append(rest[:cut])
        rest = rest[cut:]
    lines.append(rest)
    return lines


def _elisions(text: str, room: int) -> Iterable[str]:
    """*text* ever shorter, cut in the middle, for at most *room* columns.

    A reference keeps its first component (the registry) and as many of its
    last ones as fit: the repository's name and tag, which tell images
    apart. Then, or for other text, the start and the end of it are kept.
    """
    parts = text.split("/")
    for keep in range(len(parts) - 2, 0, -1):
        yield "/".join([parts[0], "…", *parts[-keep:]])
    for total in range(room - 1, 0, -1):
        head = text[: _fit(text, total // 2)]
        yield head + "…" + text[_fit_end(text, total - _columns(head)) :]


def _wrap(text: str, width: int = _WRAP, max_lines: int = _MAX_LINES) -> list[str]:
    """*text* in lines of at most *width* columns (:func:`_columns`), broken
    after ``/``, ``:``, ``-`` and such where possible; what does not fit in
    *max_lines* is cut in the middle, at ``…``, keeping its start and its
    end (for a reference, the registry and the repository's name and tag).

    >>> _wrap("ghcr.io/grpc-ecosystem/grpc-health-probe:v0.4.28", 24)
    ['ghcr.io/grpc-ecosystem/', 'grpc-health-probe:', 'v0.4.28']
    >>> _wrap("debian@sha256:" + "ab" * 32)
    ['debian@sha256:abababababab…']
    >>> _wrap("registry.example.com/" + "verylongsegment/" * 10 + "img:1")
    ['registry.example.com/…/', 'verylongsegment/', 'verylongsegment/img:1']
    >>> _wrap("x" * 200, 10, 2)
    ['xxxxxxxxx…', 'xxxxxxxxxx']
    """
    text = _LONG_DIGEST.sub(r"\1…", text)
    lines = _lines(text, width, max_lines)
    if len(lines) <= max_lines:
        return lines
    for shorter in _elisions(text, width * max_lines):
        lines = _lines(shorter, width, max_lines)
        if len(lines) <= max_lines:
            return lines
    return ["…"]


def _width(text: str, size: float = _FONT_SIZE) -> float:
    return _columns(text) * size * 0.6


def _shorten(text: str, limit: int = 110) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- what an impact and a focus say about nodes -----------------------------


def _status(impact: Impact | None, node: str) -> _Status:
    if impact is None:
        return "plain"
    if node in impact.changed:
        return "changed"
    if node in impact.reasons:
        return "affected"
    if node in impact.possibly or node in impact.undetermined:
        return "possibly"
    return "untouched"


def _impact_nodes(graph: ImageGraph, impact: Impact) -> set[str]:
    """Changed, affected and possibly affected images (those the graph has)."""
    wanted = {*impact.changed, *impact.reasons, *impact.possibly, *impact.undetermined}
    nodes = graph.nx.nodes
    return {node for node in wanted if node in nodes}


def _ancestor_edges(graph: ImageGraph, node: str) -> set[tuple[str, str]]:
    pred = graph.nx.pred
    edges: set[tuple[str, str]] = set()
    seen = {node}
    todo = [node]
    while todo:
        child = todo.pop()
        for parent in pred[child]:
            edges.add((parent, child))
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return edges


def _focus(
    graph: ImageGraph, impact: Impact | None, node: str
) -> tuple[set[tuple[str, str]], str, str]:
    """The edges to highlight for *node*, the caption line, the legend text."""
    name = display_name(graph, node)
    if impact is not None and node in impact.changed:
        return set(), f"focus: {name} is changed itself", f"why {name}"
    if impact is not None and node in impact.reasons:
        chain: tuple[Edge, ...] = impact.reasons[node]
        steps = [
            display_name(graph, chain[0].parent),
            *(display_name(graph, e.child) for e in chain),
        ]
        return (
            {(edge.parent, edge.child) for edge in chain},
            _shorten(f"why {name} rebuilds: " + " → ".join(steps), 160),
            f"why {name} rebuilds",
        )
    edges = _ancestor_edges(graph, node)
    parents = len({parent for parent, _ in edges})
    prefix = f"focus: {name} is not affected; " if impact is not None else "focus: "
    return (
        edges,
        f"{prefix}{name} is built from {parents:,} image{'s' * (parents != 1)} (highlighted)",
        f"what {name} is built from",
    )


# -- scenes ------------------------------------------------------------------


def _compress(levels: Mapping[str, int]) -> dict[int, int]:
    """Original layer -> consecutive column, skipping empty layers."""
    return {level: column for column, level in enumerate(sorted(set(levels.values())))}


def _node_title(graph: ImageGraph, impact: Impact | None, node: str, name: str) -> str:
    nodes = graph.nx.nodes
    data = nodes[node]
    lines = [name]
    if data["kind"] == "external":
        lines.append(f"external image {node}")
        lines.append(f"used by {len(graph.nx.succ[node]):,} builds")
    elif data["build"].imported:
        build = data["build"]
        lines.append(f"{IMPORTED} {build.context} ({build.dockerfile})")
        lines += [f"tag {tag}" for tag in build.tags[:6]]
        if len(build.tags) > 6:
            lines.append(f"… and {len(build.tags) - 6} more tags")
    else:
        build = data["build"]
        target = f" (target {build.target})" if build.target else ""
        lines.append(f"build of {build.dockerfile}{target}")
        lines += [f"tag {tag}" for tag in build.tags[:6]]
        if len(build.tags) > 6:
            lines.append(f"… and {len(build.tags) - 6} more tags")
        base = data.get("base")
        if base is not None:
            lines.append(f"based on {display_name(graph, base)}")
    if impact is not None:
        if node in impact.changed:
            lines.append("changed")
        elif node in impact.reasons:
            lines.append(f"rebuilds: {impact.reason(node)}")
        elif node in impact.possibly:
            lines += [f"may rebuild: {why}" for why in impact.possibly[node][:4]]
        elif node in impact.undetermined:
            lines += [f"may rebuild: unresolved {why}" for why in impact.undetermined[node][:4]]
        for cause in impact.causes.get(node, ())[:4]:
            lines.append(cause)
    return "\n".join(lines)


def _edge_title(graph: ImageGraph, parent: str, child: str, uses: Iterable[Edge]) -> str:
    lines = [f"{display_name(graph, parent)} → {display_name(graph, child)}"]
    for use in uses:
        stage = f", stage {use.stage}" if use.stage else ""
        lines.append(f"{use.kind} {use.text} ({use.where}{stage})")
    return "\n".join(lines)


def _kind_of(uses: Iterable[Edge]) -> str:
    kinds = {use.kind for use in uses}
    return next((kind for kind in _KIND_ORDER if kind in kinds), "from")


def _full_scene(
    graph: ImageGraph,
    impact: Impact | None,
    drawn: set[str] | None,
    focus: str | None,
    highlight: set[tuple[str, str]],
) -> _Scene:
    nx_graph = graph.nx
    nodes = nx_graph.nodes
    succ = nx_graph.succ
    levels = layers.layer_depths(nx_graph, within=drawn)
    column = _compress(levels)
    names = {node: display_name(graph, node) for node in levels}
    order = sorted(levels, key=lambda node: (levels[node], names[node], node))
    index = {node: i for i, node in enumerate(order)}
    reached = set(impact.reasons) | set(impact.changed) if impact is not None else set()

    boxes = []
    imported_seen = False
    for node in order:
        external = nodes[node]["kind"] == "external"
        status = _status(impact, node)
        fill, stroke, ink = _FILL[status, external]
        classes = ["node", "external" if external else "build"]
        if not external and nodes[node]["build"].imported:
            classes.append("imported")
            imported_seen = True
        if status != "plain":
            classes.append(status)
        width = 1.2
        if node == focus:
            classes.append("focus")
            stroke, width = _FOCUS, 3.0
        name = names[node]
        boxes.append(
            _Box(
                key=node, sort=name, layer=column[levels[node]], lines=_wrap(name),
                title=_node_title(graph, impact, node, name), classes=" ".join(classes),
                data={"image": node}, fill=fill, stroke=stroke, ink=ink, pill=external,
                stroke_width=width,
            )
        )  # fmt: skip

    links = []
    kinds_seen: set[str] = set()
    reach_seen = False
    for parent in order:
        for child in sorted(succ[parent]):
            if child not in index:
                continue
            uses: tuple[Edge, ...] = succ[parent][child]["uses"]
            kind = _kind_of(uses)
            kinds_seen.add(kind)
            classes = ["edge", kind]
            colour, width = _EDGE, _KIND_WIDTH[kind]
            if impact is not None:
                if parent in reached and child in impact.reasons:
                    colour = _EDGE_REACH
                    classes.append("reach")
                    reach_seen = True
                else:
                    colour = _EDGE_QUIET
            on_top = (parent, child) in highlight
            if on_top:
                classes.append("chain")
                colour, width = _FOCUS, width + 2.2
            links.append(
                _Link(
                    u=index[parent], v=index[child], kind=kind,
                    title=_edge_title(graph, parent, child, uses), classes=" ".join(classes),
                    data={"parent": parent, "child": child}, colour=colour, width=width,
                    on_top=on_top,
                )
            )  # fmt: skip

    builds = sum(1 for node in order if nodes[node]["kind"] == "build")
    if drawn is None:
        caption = [
            f"{len(order):,} images ({builds:,} builds, {len(order) - builds:,} external), "
            f"{len(links):,} edges"
        ]
        headers = {
            column[level]: "external" if level == 0 else f"layer {level}"
            for level in sorted(column)
        }
    else:
        caption = [
            f"blast radius: {len(order):,} of {nx_graph.number_of_nodes():,} images "
            f"({builds:,} builds), {len(links):,} edges among them"
        ]
        headers = {}
    legend = _node_legend(
        impact, {_status(impact, n) for n in order}, kinds_seen, reach_seen, imported_seen
    )
    return _Scene(
        boxes=boxes, links=links, caption=caption, legend=legend, headers=headers,
        col_gap=78.0, images=len(order), edges=len(links), collapsed=None,
    )  # fmt: skip


def _node_legend(
    impact: Impact | None,
    statuses: set[_Status],
    kinds: set[str],
    reach: bool,
    imported: bool = False,
) -> list[tuple[str, str, dict[str, Any]]]:
    legend: list[tuple[str, str, dict[str, Any]]] = []
    plain: _Status = "untouched" if impact is not None else "plain"
    fill, stroke, _ = _FILL[plain, False]
    legend.append(("box", "build", {"fill": fill, "stroke": stroke}))
    fill, stroke, _ = _FILL[plain, True]
    legend.append(("pill", "external image", {"fill": fill, "stroke": stroke}))
    if imported:
        fill, stroke, _ = _FILL[plain, False]
        legend.append(("box", IMPORTED, {"fill": fill, "stroke": stroke, "dash": _IMPORTED_DASH}))
    if impact is not None:
        shown: list[_Status] = ["changed", "affected", "possibly", "untouched"]
        for status in shown:
            if status in statuses or status in ("changed", "affected"):
                fill, stroke, _ = _FILL[status, False]
                legend.append(("box", _STATUS_LEGEND[status], {"fill": fill, "stroke": stroke}))
    legend.extend(
        ("line", _KIND_LEGEND[kind], _line_style(kind, _EDGE))
        for kind in _KIND_ORDER
        if kind in kinds
    )
    if reach:
        legend.append(("line", "passes the change on", _line_style("from", _EDGE_REACH)))
    return legend


def _line_style(kind: str, colour: str, extra: float = 0.0) -> dict[str, Any]:
    return {"colour": colour, "width": _KIND_WIDTH[kind] + extra, "dash": _KIND_DASH[kind]}


@dataclass(slots=True)
class _Group:
    key: str
    label: str
    count: int
    builds: int
    external: int
    inner: int
    affected: int
    changed: int
    possibly: int
    sample: tuple[str, ...]
    folded: int = 1
    imported: int = 0


def _groups(
    summary: nx.DiGraph[str], keep: int, hot: set[str], imported: Mapping[str, int]
) -> tuple[list[_Group], dict[tuple[str, str], dict[str, int]], int]:
    """Groups to draw (at most *keep* + 1: the rest folded into one) and the
    edges between them (``count``, ``affected`` and per-kind counts); *imported*
    counts the images imported from an OCI layout in each group."""
    groups = {
        key: _Group(
            key=key, label=data["label"], count=data["count"], builds=len(data["builds"]),
            external=len(data["external"]), inner=data["inner"], affected=data["affected"],
            changed=data["changed"], possibly=data["possibly"],
            sample=(*data["builds"][:8], *data["external"][:8])[:8],
            imported=imported.get(key, 0),
        )
        for key, data in summary.nodes(data=True)
    }  # fmt: skip
    target = {key: key for key in groups}
    folded = 0
    if len(groups) > keep + 1:
        ranked = sorted(
            groups.values(),
            key=lambda g: (
                not (g.changed or g.affected or g.possibly or g.key in hot),
                -g.count,
                g.key,
            ),
        )
        rest = ranked[keep:]
        folded = len(rest)
        other = _Group(
            key="(other)", label=f"{folded:,} smaller groups", count=0, builds=0, external=0,
            inner=0, affected=0, changed=0, possibly=0, sample=(), folded=folded,
        )  # fmt: skip
        for group in rest:
            target[group.key] = other.key
            other.count += group.count
            other.builds += group.builds
            other.external += group.external
            other.inner += group.inner
            other.affected += group.affected
            other.changed += group.changed
            other.possibly += group.possibly
            other.imported += group.imported
            del groups[group.key]
        other.sample = tuple(g.label for g in rest[:8])
        groups[other.key] = other
    edges: dict[tuple[str, str], dict[str, int]] = {}
    for upper, lower, data in summary.edges(data=True):
        a, b = target[upper], target[lower]
        if a == b:
            groups[a].inner += data["count"]
            continue
        tally = edges.setdefault((a, b), {"count": 0, "affected": 0})
        tally["count"] += data["count"]
        tally["affected"] += data["affected"]
        for kind, count in data["kinds"].items():
            tally[kind] = tally.get(kind, 0) + count
    ordered = sorted(groups.values(), key=lambda g: (g.key == "(other)", g.key))
    return ordered, dict(sorted(edges.items())), folded


def _group_layers(keys: list[str], edges: Iterable[tuple[str, str]]) -> dict[str, int]:
    """Columns for groups: longest path over the groups' strongly connected
    components (groups can use each other both ways through ``COPY --from``)."""
    import networkx as nx

    graph: nx.DiGraph[str] = nx.DiGraph()
    graph.add_nodes_from(keys)
    graph.add_edges_from(edges)
    condensed = nx.condensation(graph)
    level: dict[int, int] = {}
    for component in nx.topological_sort(condensed):
        level[component] = max((level[p] + 1 for p in condensed.pred[component]), default=0)
    mapping: dict[str, int] = condensed.graph["mapping"]
    return {key: level[mapping[key]] for key in keys}


def _collapsed_scene(
    graph: ImageGraph,
    impact: Impact | None,
    drawn: set[str] | None,
    by: layers.CollapseBy,
    max_nodes: int,
    focus: str | None,
    highlight: set[tuple[str, str]],
) -> tuple[_Scene, int]:
    summary, member = layers.grouped(graph, by, impact, within=drawn)
    hot_pairs = {(member[p], member[c]) for p, c in highlight if p in member and c in member}
    hot = {key for pair in hot_pairs for key in pair}
    if focus is not None and focus in member:
        hot.add(member[focus])
    imported = Counter(
        member[build.name] for build in graph.builds if build.imported and build.name in member
    )
    groups, edges, folded = _groups(summary, max(max_nodes - 1, 0), hot, imported)
    if folded:  # pairs that lead into folded groups are drawn to "(other)"
        kept = {g.key for g in groups}
        hot_pairs = {
            (a if a in kept else "(other)", b if b in kept else "(other)") for a, b in hot_pairs
        }
        hot = {key if key in kept else "(other)" for key in hot}
    columns = _group_layers([g.key for g in groups], edges)
    index = {group.key: i for i, group in enumerate(groups)}

    boxes = []
    for group in groups:
        status: _Status = "plain"
        if impact is not None:
            status = (
                "changed" if group.changed else "affected" if group.affected
                else "possibly" if group.possibly else "untouched"
            )  # fmt: skip
        fill, stroke, ink = _FILL[status, False]
        tally = f"{group.count:,} image{'s' * (group.count != 1)}"
        if group.affected:
            tally += f" ({group.affected:,} affected)"
        classes = ["node", "group"] + ([status] if status != "plain" else [])
        if group.folded > 1:
            classes.append("other")
        width = 1.4
        if group.key in hot:
            classes.append("focus")
            stroke, width = _FOCUS, 3.0
        title = [f"{group.label} — {tally}"]
        title.append(
            f"{group.builds:,} builds, {group.external:,} external, {group.inner:,} edges inside"
        )
        if group.folded > 1:
            more = " …" if group.folded > len(group.sample) else ""
            title.append(f"{group.folded:,} groups: " + ", ".join(group.sample) + more)
        elif group.sample:
            more = " …" if group.count > len(group.sample) else ""
            title.append("e.g. " + ", ".join(group.sample) + more)
        if group.changed:
            title.append(f"{group.changed:,} changed")
        if group.possibly:
            title.append(f"{group.possibly:,} may rebuild")
        if group.imported:
            title.append(f"{group.imported:,} {IMPORTED}")
        bar = None
        if group.count and (group.affected or group.changed):
            bar = (group.changed / group.count, group.affected / group.count)
        boxes.append(
            _Box(
                key=group.key, sort=group.key, layer=columns[group.key],
                lines=[*_wrap(group.label, _WRAP + 6, 2), tally], title="\n".join(title),
                classes=" ".join(classes),
                data={"group": group.key, "count": str(group.count)},
                fill=fill, stroke=stroke, ink=ink, stroke_width=width, bar=bar,
            )
        )  # fmt: skip

    # The heaviest links, those that carry the change first: a summary of a
    # big fleet joins most groups to most others, and all of them are noise.
    ranked = sorted(
        edges,
        key=lambda pair: (
            pair not in hot_pairs,
            -edges[pair]["affected"],
            -edges[pair]["count"],
            pair,
        ),
    )
    limit = max(_MAX_LINKS, 2 * len(groups))
    shown, hidden = set(ranked[:limit]), ranked[limit:]
    labelled = set(sorted(shown, key=lambda pair: (-edges[pair]["count"], pair))[:_LABELLED])
    links = []
    reach_seen = False
    kinds_seen: set[str] = set()
    for (upper, lower), counts in edges.items():
        if (upper, lower) not in shown:
            continue
        count = counts["count"]
        kind = max(
            (k for k in _KIND_ORDER if counts.get(k)),
            key=lambda k: (counts[k], -_KIND_ORDER.index(k)),
        )
        kinds_seen.add(kind)
        classes = ["edge", kind]
        width = min(1.1 + 1.5 * math.log10(count), 7.0) + (1.5 if kind == "context" else 0.0)
        colour = _EDGE
        if impact is not None:
            colour = _EDGE_REACH if counts["affected"] else _EDGE_QUIET
            if counts["affected"]:
                classes.append("reach")
                reach_seen = True
        on_top = (upper, lower) in hot_pairs
        if on_top:
            classes.append("chain")
            colour, width = _FOCUS, width + 2.2
        shares = ", ".join(f"{counts[k]:,} {k}" for k in _KIND_ORDER if counts.get(k))
        text = f"{groups[index[upper]].label} → {groups[index[lower]].label}: {count:,} edges ({shares})"
        if impact is not None:
            text += f"\n{counts['affected']:,} of them pass the change on"
        links.append(
            _Link(
                u=index[upper], v=index[lower], kind=kind, title=text,
                classes=" ".join(classes), data={"parent": upper, "child": lower, "count": str(count)},
                colour=colour, width=width, on_top=on_top,
                label=f"{count:,}" if (upper, lower) in labelled else None, weight=count,
            )
        )  # fmt: skip

    images = sum(g.count for g in groups)
    image_edges = sum(g.inner for g in groups) + sum(t["count"] for t in edges.values())
    what = "base image" if by == "base" else "layer"
    caption = [f"{images:,} images, {image_edges:,} edges, in {len(groups):,} groups by {what}"]
    if drawn is not None:
        caption[0] = f"blast radius: {caption[0]} (of {graph.nx.number_of_nodes():,} images)"
    if folded:
        caption.append(
            f"the {folded:,} smallest groups are drawn as one: more groups than max_nodes={max_nodes}"
        )
    if hidden:
        weight = sum(edges[pair]["count"] for pair in hidden)
        caption.append(
            f"the {len(hidden):,} lightest of {len(edges):,} links between groups "
            f"({weight:,} image edges) are not drawn"
        )
    legend = _node_legend(impact, set(), kinds_seen, reach_seen)[2:]
    fill, stroke, _ = _FILL["untouched" if impact is not None else "plain", False]
    legend.insert(0, ("box", "group of images", {"fill": fill, "stroke": stroke}))
    if impact is not None:
        legend.append(("bar", "share rebuilding", {}))
    legend.append(("text", "edge width: image edges between groups", {}))
    return (
        _Scene(
            boxes=boxes, links=links, caption=caption, legend=legend, headers={},
            col_gap=120.0, images=images, edges=image_edges, collapsed=by,
        ),
        len(groups),
    )  # fmt: skip


# -- layout ------------------------------------------------------------------


def _size(box: _Box) -> None:
    longest = max(_columns(line) for line in box.lines)
    box.w = max(longest * _CHAR + 2 * _PAD_X, 44.0)
    box.h = len(box.lines) * _LINE + 2 * _PAD_Y + (_BAR + 3 if box.bar is not None else 0)


def _isotonic(targets: list[float], weights: list[float]) -> list[float]:
    """The non-decreasing sequence closest to *targets* (weighted least squares):
    pool adjacent violators, linear time."""
    means: list[float] = []
    sums: list[float] = []
    sizes: list[int] = []
    for target, weight in zip(targets, weights, strict=True):
        means.append(target)
        sums.append(weight)
        sizes.append(1)
        while len(means) > 1 and means[-2] > means[-1]:
            mean, total, size = means.pop(), sums.pop(), sizes.pop()
            merged = sums[-1] + total
            means[-1] = (means[-1] * sums[-1] + mean * total) / merged
            sums[-1] = merged
            sizes[-1] += size
    out: list[float] = []
    for mean, size in zip(means, sizes, strict=True):
        out.extend([mean] * size)
    return out


def _crossings(
    layered: list[list[int]], down: list[list[int]], rank: list[int], vlayer: list[int]
) -> int:
    total = 0
    for level in range(len(layered) - 1):
        below = level + 1
        pairs = sorted(
            (rank[u], rank[v]) for u in layered[level] for v in down[u] if vlayer[v] == below
        )
        size = len(layered[below])
        tree = [0] * (size + 1)
        for seen, (_, position) in enumerate(pairs):
            # count earlier segments that end below this one: they cross it
            i, not_after = position + 1, 0
            while i > 0:
                not_after += tree[i]
                i -= i & -i
            total += seen - not_after
            i = position + 1
            while i <= size:
                tree[i] += 1
                i += i & -i
    return total


def _squeeze(y: list[float], heights: list[float], widest: float) -> list[float]:
    """Close horizontal bands no vertex is in that are wider than *widest*: parts
    of the graph that nothing pulls together drift apart otherwise."""
    spans = sorted((value - h / 2, value + h / 2) for value, h in zip(y, heights, strict=True))
    cuts: list[float] = []  # tops of the spans below a closed band
    removed: list[float] = []
    reach, total = spans[0][1], 0.0
    for top, bottom in spans[1:]:
        if top - reach > widest:
            total += top - reach - widest
            cuts.append(top)
            removed.append(total)
        reach = max(reach, bottom)
    if not cuts:
        return y
    out = []
    for value, h in zip(y, heights, strict=True):
        n = bisect.bisect_right(cuts, value - h / 2)
        out.append(value - removed[n - 1] if n else value)
    return out


def _layout(scene: _Scene) -> tuple[float, float]:
    """Place boxes and route links from y = 0 down; returns the width and height of the drawing."""
    boxes, links = scene.boxes, scene.links
    for box in boxes:
        _size(box)
    if not boxes:
        return 0.0, 0.0
    count = len(boxes)
    depth = max(box.layer for box in boxes) + 1
    vlayer = [box.layer for box in boxes]
    vheight = [box.h for box in boxes]
    vkey: list[tuple[str, ...]] = [(box.sort, box.key) for box in boxes]
    up: list[list[int]] = [[] for _ in boxes]
    down: list[list[int]] = [[] for _ in boxes]
    spans = sum(max(vlayer[link.v] - vlayer[link.u] - 1, 0) for link in links)
    dummies = spans <= _DUMMY_LIMIT
    for link in links:
        a, b = vlayer[link.u], vlayer[link.v]
        chain = [link.u]
        if b > a:
            if dummies:
                for level in range(a + 1, b):
                    chain.append(len(vlayer))
                    vlayer.append(level)
                    vheight.append(_DUMMY_HEIGHT)
                    vkey.append((boxes[link.u].sort, boxes[link.v].sort, boxes[link.v].key))
                    up.append([])
                    down.append([])
            chain.append(link.v)
            for s, t in itertools.pairwise(chain):
                down[s].append(t)
                up[t].append(s)
        else:
            chain.append(link.v)  # within one column (groups using each other): no ordering
        link.chain = chain
    total = len(vlayer)
    layered: list[list[int]] = [[] for _ in range(depth)]
    for v in sorted(range(total), key=lambda v: (vlayer[v], vkey[v], v)):
        layered[vlayer[v]].append(v)

    # Order inside layers: barycentre sweeps, keeping the order with fewest crossings.
    pos = [0.0] * total
    rank = [0] * total

    def place(layer: list[int]) -> None:
        size = len(layer)
        for i, v in enumerate(layer):
            rank[v] = i
            pos[v] = (i + 0.5) / size

    for layer in layered:
        place(layer)
    segments = sum(len(d) for d in down)
    counting = segments <= _CROSSING_LIMIT
    sweeps = 12 if total <= 2_000 else 4 if total <= 30_000 else 2
    best_layers = [list(layer) for layer in layered]
    best = _crossings(layered, down, rank, vlayer) if counting else 0
    for sweep in range(sweeps):
        downward = sweep % 2 == 0
        near = up if downward else down
        for level in range(1, depth) if downward else range(depth - 2, -1, -1):
            layer = layered[level]
            centre = {}
            for v in layer:
                ns = near[v]
                centre[v] = sum(pos[w] for w in ns) / len(ns) if ns else pos[v]
            layer.sort(key=lambda v: (centre[v], pos[v]))
            place(layer)
        if counting:
            crossings = _crossings(layered, down, rank, vlayer)
            if crossings < best:
                best, best_layers = crossings, [list(layer) for layer in layered]
    if counting:
        layered = best_layers
        for layer in layered:
            place(layer)

    # Vertical places: each vertex near the mean of its neighbours, in order, never overlapping.
    def gap(a: int, b: int) -> float:
        real = (a < count) + (b < count)
        return _NODE_GAP if real == 2 else _MIXED_GAP if real == 1 else _DUMMY_GAP

    offsets: list[list[float]] = []
    y = [0.0] * total
    for layer in layered:
        acc, previous, here = 0.0, -1, []
        for v in layer:
            if previous >= 0:
                acc += vheight[previous] / 2 + gap(previous, v) + vheight[v] / 2
            here.append(acc)
            previous = v
        offsets.append(here)
        for v, offset in zip(layer, here, strict=True):
            y[v] = offset - acc / 2
    passes = 10 if total <= 5_000 else 4
    for step in range(passes + 1):
        both = step == passes
        downward = step % 2 == 0
        levels = range(depth) if downward or both else range(depth - 1, -1, -1)
        for level in levels:
            layer = layered[level]
            targets, weights = [], []
            for v, offset in zip(layer, offsets[level], strict=True):
                ns = up[v] + down[v] if both else (up[v] if downward else down[v])
                if ns:
                    targets.append(sum(y[w] for w in ns) / len(ns) - offset)
                    weights.append(len(ns) * (2.0 if v >= count else 1.0))
                else:
                    targets.append(y[v] - offset)
                    weights.append(0.05)
            for v, z, offset in zip(
                layer, _isotonic(targets, weights), offsets[level], strict=True
            ):
                y[v] = z + offset
    y = _squeeze(y, vheight, 2 * _NODE_GAP)
    shift = -min(y[v] - vheight[v] / 2 for v in range(total))
    y = [value + shift for value in y]

    widths = [0.0] * depth
    for box in boxes:
        widths[box.layer] = max(widths[box.layer], box.w)
    arcs = [0.0] * depth  # room for arcs between boxes of one column, right of it
    for link in links:
        if vlayer[link.v] <= vlayer[link.u]:
            room = 52 + 0.3 * abs(y[link.u] - y[link.v])
            arcs[vlayer[link.u]] = max(arcs[vlayer[link.u]], room)
    lefts, x = [], float(_MARGIN)
    for width, room in zip(widths, arcs, strict=True):
        lefts.append(x)
        x += width + room + scene.col_gap
    right = x - scene.col_gap
    for i, box in enumerate(boxes):
        box.x = lefts[box.layer] + widths[box.layer] / 2
        box.y = y[i]

    # Ports: a box's edges leave and arrive spread along its side, in the order of their other ends.
    start: dict[int, float] = {}
    end: dict[int, float] = {}
    leaving: list[list[int]] = [[] for _ in boxes]
    arriving: list[list[int]] = [[] for _ in boxes]
    for i, link in enumerate(links):
        if vlayer[link.v] > vlayer[link.u]:
            leaving[link.u].append(i)
            arriving[link.v].append(i)
    for v, box in enumerate(boxes):
        for ends, key, store in (
            (leaving[v], lambda i: (y[links[i].chain[1]], i), start),
            (arriving[v], lambda i: (y[links[i].chain[-2]], i), end),
        ):
            ends.sort(key=key)
            spread = min(box.h - 10, 6.0 * (len(ends) - 1)) if len(ends) > 1 else 0.0
            for n, i in enumerate(ends):
                store[i] = box.y - spread / 2 + (spread * n / (len(ends) - 1) if spread else 0)

    for i, link in enumerate(links):
        source, sink = boxes[link.u], boxes[link.v]
        if vlayer[link.v] <= vlayer[link.u]:
            # Within a column: an arc on its right, as far out as its ends are apart
            # (upward arcs a little further, so a pair of opposite links stays two).
            x1, x2 = source.x + source.w / 2, sink.x + sink.w / 2
            y1, y2 = source.y + 4, sink.y - 4
            if y2 < y1:
                y1, y2 = source.y - 4, sink.y + 4
            column_right = lefts[source.layer] + widths[source.layer]
            bend = column_right + 18 + 0.3 * abs(y2 - y1) + (10 if y2 < y1 else 0)
            link.path = (
                f"M{_num(x1)},{_num(y1)} C{_num(bend)},{_num(y1)} "
                f"{_num(bend)},{_num(y2)} {_num(x2)},{_num(y2)}"
            )
            link.curve = (x1, y1, bend, y1, bend, y2, x2, y2)
            continue
        sx, sy = source.x + source.w / 2, start[i]
        parts = [f"M{_num(sx)},{_num(sy)}"]
        edge_x = lefts[source.layer] + widths[source.layer]
        if edge_x > sx + 0.05:
            parts.append(f"H{_num(edge_x)}")
        cx, cy = edge_x, sy
        curves: list[tuple[float, float, float, float]] = []
        stops = [(vlayer[d], y[d]) for d in link.chain[1:-1]]
        stops.append((sink.layer, end[i]))
        for n, (level, level_y) in enumerate(stops):
            nx_ = lefts[level]
            half = (nx_ - cx) / 2
            parts.append(
                f"C{_num(cx + half)},{_num(cy)} {_num(nx_ - half)},{_num(level_y)} "
                f"{_num(nx_)},{_num(level_y)}"
            )
            curves.append((cx, cy, nx_, level_y))
            last = n == len(stops) - 1
            cx, cy = (sink.x - sink.w / 2 if last else lefts[level] + widths[level]), level_y
            if cx > nx_ + 0.05:
                parts.append(f"H{_num(cx)}")
        link.path = " ".join(parts)
        x1, y1, x2, y2 = curves[len(curves) // 2]
        half = (x2 - x1) / 2
        link.curve = (x1, y1, x1 + half, y1, x2 - half, y2, x2, y2)
    bottom = max(y[v] + vheight[v] / 2 for v in range(total))
    return right, bottom


# -- drawing -----------------------------------------------------------------


def _text(x: float, y: float, lines: list[str], *, size: float, ink: str, anchor: str) -> str:
    attrs = f'x="{_num(x)}" font-size="{_num(size)}" fill="{ink}" text-anchor="{anchor}"'
    if len(lines) == 1:
        return f'<text {attrs} y="{_num(y)}">{_esc(lines[0])}</text>'
    spans = "".join(
        f'<tspan x="{_num(x)}" y="{_num(y + n * _LINE)}">{_esc(line)}</tspan>'
        for n, line in enumerate(lines)
    )
    return f"<text {attrs}>{spans}</text>"


def _data(data: Mapping[str, str]) -> str:
    return "".join(f' data-{key}="{_esc(value)}"' for key, value in data.items())


class _Markers:
    """Arrowheads, one per colour and size, defined as they are first used."""

    def __init__(self) -> None:
        self.ids: dict[tuple[str, float], str] = {}

    def __call__(self, colour: str, width: float) -> str:
        size = round(max(8.0, 2.2 * width + 3.0) * 2) / 2
        key = (colour, size)
        if key not in self.ids:
            self.ids[key] = f"\x00P-a{len(self.ids)}"
        return self.ids[key]

    def defs(self) -> list[str]:
        return [
            f'<marker id="{ident}" viewBox="0 0 10 10" refX="9.5" refY="5" '
            f'markerWidth="{_num(size)}" markerHeight="{_num(size)}" '
            f'markerUnits="userSpaceOnUse" orient="auto">'
            f'<path d="M0,0.8 L10,5 L0,9.2 z" fill="{colour}"/></marker>'
            for (colour, size), ident in self.ids.items()
        ]


def _stroke(colour: str, width: float, dash: str | None) -> str:
    out = f'fill="none" stroke="{colour}" stroke-width="{_num(width)}"'
    if dash:
        scale = max(1.0, width / 2.5)  # wide lines need longer dashes to read as dashes
        out += ' stroke-dasharray="' + " ".join(_num(float(n) * scale) for n in dash.split()) + '"'
        if dash == _KIND_DASH["mount"]:
            out += ' stroke-linecap="round"'
    return out


def _legend(
    items: list[tuple[str, str, dict[str, Any]]], x0: float, y0: float, room: float
) -> tuple[list[str], float, float]:
    """The legend in rows no wider than *room*; returns its elements, right and bottom."""
    out = [f'<g class="legend" font-size="11" font-family="{_SANS}">']
    x, y, right = x0, y0, x0
    for shape, label, style in items:
        width = (0 if shape == "text" else 27 + 4 * (shape == "line")) + _width(label, 11)
        if x > x0 and x + width > x0 + room:
            x, y = x0, y + 20
        if shape in ("box", "pill"):
            rx = 6 if shape == "pill" else 2
            dash = f' stroke-dasharray="{style["dash"]}"' if style.get("dash") else ""
            out.append(
                f'<rect x="{_num(x)}" y="{_num(y - 9)}" width="22" height="12" rx="{rx}" '
                f'fill="{style["fill"]}" stroke="{style["stroke"]}"{dash}/>'
            )
            x += 27
        elif shape == "line":
            out.append(
                f'<path d="M{_num(x)},{_num(y - 3)} H{_num(x + 26)}" '
                f"{_stroke(style['colour'], style['width'], style['dash'])}/>"
            )
            x += 31
        elif shape == "bar":
            out.append(
                f'<rect x="{_num(x)}" y="{_num(y - 6)}" width="22" height="{_BAR}" fill="#e2e8f0"/>'
                f'<rect x="{_num(x)}" y="{_num(y - 6)}" width="9" height="{_BAR}" fill="#c53030"/>'
                f'<rect x="{_num(x + 9)}" y="{_num(y - 6)}" width="6" height="{_BAR}" '
                'fill="#dd6b20"/>'
            )
            x += 27
        out.append(f'<text x="{_num(x)}" y="{_num(y)}" fill="{_INK}">{_esc(label)}</text>')
        x += _width(label, 11)
        right = max(right, x)
        x += 16
    out.append("</g>")
    return out, right, y + 6


def _labels(links: list[_Link]) -> list[str]:
    """Counts on links, heaviest first, each where it overlaps no other (or left out)."""
    placed: list[tuple[float, float, float, float]] = []
    out = []
    for link in sorted(links, key=lambda link: -link.weight):
        if link.label is None or not link.curve:
            continue
        x0, y0, x1, y1, x2, y2, x3, y3 = link.curve
        half_width, half_height = _width(link.label, 11) / 2 + 3, 8.0
        for t in (0.5, 0.35, 0.65, 0.2, 0.8):
            a, b, c, d = (1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t**2, t**3
            x = a * x0 + b * x1 + c * x2 + d * x3
            y = a * y0 + b * y1 + c * y2 + d * y3 - 6
            area = (x - half_width, y - half_height, x + half_width, y + half_height)
            if all(
                area[2] < other[0] or other[2] < area[0] or area[3] < other[1] or other[3] < area[1]
                for other in placed
            ):
                placed.append(area)
                out.append(
                    f'<text class="count" x="{_num(x)}" y="{_num(y + 4)}" font-size="11" '
                    f'fill="#4a5568" text-anchor="middle" stroke="#ffffff" stroke-width="3" '
                    f'paint-order="stroke">{_esc(link.label)}</text>'
                )
                break
    return out


def _box(box: _Box) -> str:
    left, upper = box.x - box.w / 2, box.y - box.h / 2
    rx = min(box.h / 2, 14.0) if box.pill else 3.0
    classes = box.classes.split()
    dash = (
        ' stroke-dasharray="5 3"' if "other" in classes
        else f' stroke-dasharray="{_IMPORTED_DASH}"' if "imported" in classes
        else ""
    )  # fmt: skip
    parts = [
        f'<g class="{box.classes}"{_data(box.data)}><title>{_esc(box.title)}</title>',
        f'<rect x="{_num(left)}" y="{_num(upper)}" width="{_num(box.w)}" '
        f'height="{_num(box.h)}" rx="{_num(rx)}" fill="{box.fill}" stroke="{box.stroke}" '
        f'stroke-width="{_num(box.stroke_width)}"{dash}/>',
    ]
    first = upper + _PAD_Y + _LINE / 2 + _FONT_SIZE * 0.35
    parts.append(_text(box.x, first, box.lines, size=_FONT_SIZE, ink=box.ink, anchor="middle"))
    if box.bar is not None:
        bar_y = upper + _PAD_Y + len(box.lines) * _LINE + 2
        bar_x, bar_w = left + _PAD_X, box.w - 2 * _PAD_X
        changed, affected = box.bar
        parts.append(
            f'<rect x="{_num(bar_x)}" y="{_num(bar_y)}" width="{_num(bar_w)}" '
            f'height="{_BAR}" fill="#e2e8f0"/>'
        )
        for share, colour in ((affected, "#dd6b20"), (changed, "#c53030")):
            if share:
                parts.append(
                    f'<rect x="{_num(bar_x)}" y="{_num(bar_y)}" '
                    f'width="{_num(max(bar_w * share, 1.0))}" height="{_BAR}" fill="{colour}"/>'
                )
    parts.append("</g>")
    return "".join(parts)


def _draw(scene: _Scene, boxes_drawn: int) -> Picture:
    width, height = _layout(scene)
    caption_width = max(
        [_width(scene.caption[0], 14) * 0.95]
        + [_width(line, 12) * 0.9 for line in scene.caption[1:]]
    )
    room = max(width - _MARGIN, caption_width, 560.0)
    legend_y = _MARGIN + 20 + 16 * (len(scene.caption) - 1) + 8
    legend, legend_right, legend_bottom = _legend(scene.legend, _MARGIN, legend_y, room)
    header_y = legend_bottom + 18
    top = header_y + (10 if scene.headers else -8)
    markers = _Markers()

    body = [f'<g class="caption" font-family="{_SANS}">']
    body.append(
        f'<text x="{_MARGIN}" y="{_MARGIN + 12}" font-size="14" font-weight="bold" '
        f'fill="{_INK}">{_esc(scene.caption[0])}</text>'
    )
    body.extend(
        f'<text x="{_MARGIN}" y="{_MARGIN + 12 + 16 * n}" font-size="12" '
        f'fill="#4a5568">{_esc(line)}</text>'
        for n, line in enumerate(scene.caption[1:], start=1)
    )
    body.append("</g>")
    body.extend(legend)

    if scene.headers:
        columns: dict[int, tuple[float, float]] = {}
        for box in scene.boxes:
            left, right = columns.get(box.layer, (math.inf, -math.inf))
            columns[box.layer] = (min(left, box.x - box.w / 2), max(right, box.x + box.w / 2))
        body.append(f'<g class="headers" font-size="11" fill="{_DIM_INK}" font-family="{_SANS}">')
        for column, text in sorted(scene.headers.items()):
            if column in columns:
                left, right = columns[column]
                body.append(
                    f'<text x="{_num((left + right) / 2)}" y="{_num(header_y)}" '
                    f'text-anchor="middle">{_esc(text)}</text>'
                )
        body.append("</g>")

    body.append(f'<g class="drawing" transform="translate(0,{_num(top)})">')
    body.append(f'<g class="edges" font-family="{_SANS}">')
    for link in sorted(scene.links, key=lambda link: link.on_top):
        marker = markers(link.colour, link.width)
        body.append(
            f'<g class="{link.classes}"{_data(link.data)}><title>{_esc(link.title)}</title>'
            f'<path d="{link.path}" {_stroke(link.colour, link.width, _KIND_DASH[link.kind])} '
            f'marker-end="url(#{marker})"/>'
            f'<path d="{link.path}" fill="none" stroke="transparent" stroke-width="9"/></g>'
        )
    body.extend(_labels(scene.links))
    body.append("</g>")
    body.append(f'<g class="nodes" font-family="{_FONT}">')
    body.extend(_box(box) for box in scene.boxes)
    body.append("</g>")
    body.append("</g>")

    total_width = math.ceil(max(width, legend_right, _MARGIN + caption_width) + _MARGIN)
    total_height = math.ceil(top + height + _MARGIN)
    defs = "\n".join(markers.defs())
    drawing = "\n".join(body)
    digest = hashlib.sha1(f"{defs}\n{drawing}".encode("utf-8", "surrogatepass")).hexdigest()
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_width}" height="{total_height}" '
        f'viewBox="0 0 {total_width} {total_height}" role="img">\n'
        f"<title>{_esc(' — '.join(scene.caption))}</title>\n"
        f'<rect width="100%" height="100%" fill="#ffffff"/>\n'
    )
    svg = f"{head}<defs>\n{defs}\n</defs>\n{drawing}\n</svg>\n".replace("\x00P", "ig" + digest[:8])
    return Picture(
        svg, images=scene.images, edges=scene.edges, boxes=boxes_drawn,
        collapsed=scene.collapsed, caption=tuple(scene.caption),
        width=total_width, height=total_height,
    )  # fmt: skip


# -- the entry point ---------------------------------------------------------


@paused_gc()
def to_picture(
    graph: ImageGraph,
    impact: Impact | None = None,
    *,
    focus: str | ImageRef | None = None,
    collapse: layers.CollapseBy | None = None,
    only_impact: bool = False,
    max_nodes: int = 150,
) -> Picture:
    """An SVG picture of *graph*, left to right from external images to the builds on them.

    Builds are boxes and external images rounded, images imported from an
    OCI layout boxes with a dashed border; edges are solid for
    ``FROM``, dashed for ``COPY --from``, dotted for ``RUN --mount`` and
    bold for build contexts, and each box and edge has a tooltip saying
    where it comes from. With *impact*, changed images are red, builds
    that rebuild orange, those that may (unknown version, unresolved
    base) yellow, and the edges that pass the change on orange.

    *focus* (a build name or any image reference) is highlighted with the
    chain of edges behind it: the impact's reason chain when the impact
    reaches it, otherwise everything it is built from. *only_impact* draws
    only the changed and (possibly) affected images and the edges among them
    (and the focus, with what it is built from if the impact misses it).

    When more than *max_nodes* images would be drawn and *collapse* is
    ``None``, the picture groups them by base image, and its caption says
    so; ``collapse="base"`` or ``"layer"`` asks for groups
    (:func:`imagegraph.layers.collapse`) whatever the size, drawn with
    their image counts and edges as wide as the image edges they stand
    for. At most *max_nodes* groups are drawn: the smallest are drawn as one.

    >>> from imagegraph import ImageBuild, ImageGraph, ImageRef
    >>> graph = ImageGraph.from_builds([
    ...     ImageBuild("base", "base/Dockerfile", "base", (ImageRef.parse("acme/base"),),
    ...                dockerfile_inline="FROM debian:bookworm"),
    ...     ImageBuild("app", "app/Dockerfile", "app", dockerfile_inline="FROM acme/base"),
    ... ])
    >>> to_picture(graph, graph.impact(["debian"]), focus="app")
    <Picture 3 images, 2 edges>
    >>> to_picture(graph, max_nodes=2)
    <Picture 3 images, 2 edges, by base in 1 groups>
    """
    if collapse not in (None, "base", "layer"):
        raise ValueError(f"collapse={collapse!r}: expected None, 'base' or 'layer'")
    if only_impact and impact is None:
        raise ValueError("only_impact=True draws an impact's images: pass the impact")
    if max_nodes < 1:
        raise ValueError(f"max_nodes={max_nodes}: at least one image must be drawable")
    focus_node = graph.node(focus) if focus is not None else None
    highlight: set[tuple[str, str]] = set()
    focus_line = focus_legend = ""
    if focus_node is not None:
        highlight, focus_line, focus_legend = _focus(graph, impact, focus_node)
    drawn: set[str] | None = None
    if only_impact:
        assert impact is not None
        drawn = _impact_nodes(graph, impact)
        if focus_node is not None:  # and, when the impact misses it, what it is built from
            drawn.add(focus_node)
            drawn.update(node for edge in highlight for node in edge)
    size = len(drawn) if drawn is not None else graph.nx.number_of_nodes()
    by = collapse
    auto = by is None and size > max_nodes
    if auto:
        by = "base"
    if by is None:
        scene = _full_scene(graph, impact, drawn, focus_node, highlight)
        drawn_boxes = len(scene.boxes)
    else:
        scene, drawn_boxes = _collapsed_scene(
            graph, impact, drawn, by, max_nodes, focus_node, highlight
        )
        if auto:
            scene.caption.insert(
                1, f"collapsed by base image: {size:,} images are more than max_nodes={max_nodes}"
            )
    if impact is not None:
        rebuilds = len(impact.affected)
        maybe = len({*impact.possibly, *impact.undetermined} - set(impact.reasons))
        line = f"change {_shorten(', '.join(impact.changes), 90)}: {rebuilds:,} builds rebuild"
        if maybe:
            line += f", {maybe:,} may"
        scene.caption.append(line)
    if focus_node is not None:
        scene.caption.append(focus_line)
        if any("chain" in link.classes.split() for link in scene.links):
            scene.legend.append(("line", focus_legend, _line_style("from", _FOCUS, 2.2)))
    return _draw(scene, drawn_boxes)
