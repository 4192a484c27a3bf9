"""The image graph for tools and people: JSON, Graphviz DOT, Mermaid, a rich tree.

Node identifiers in DOT and Mermaid are synthetic (``n0``, ``n1``, ...) with
the image as the label: a reference such as ``ghcr.io/acme/base:1.0`` used
as a DOT id would read ``:1.0`` as a port, and a bare ``end`` breaks a
Mermaid flowchart. Nodes are numbered in sorted order, so output is stable.

Labels are escaped for each format and show control characters as escapes
(:func:`~imagegraph.diagnostics.printable`): a name from a repository can
neither end a DOT string nor start a Mermaid line (a ``click`` callback or a
``%%{init}%%`` directive).

An image imported from an OCI layout (bashbrew's ``Builder: oci-import``,
:attr:`~imagegraph.inventory.ImageBuild.imported`) is marked in every
format: ``"imported": true`` in JSON, a 3-D box in DOT, a subroutine box of
class ``imported`` in Mermaid, ``(imported from OCI layout)`` in the tree.
A fleet without imports is drawn exactly as it was before imports were marked.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from imagegraph.diagnostics import printable
from imagegraph.graph import ImageGraph
from imagegraph.impact import Impact
from imagegraph.render._json import dumps
from imagegraph.render._names import IMPORTED, familiar

if TYPE_CHECKING:
    from rich.console import RenderableType

__all__ = ["SCHEMA", "display_name", "to_data", "to_dot", "to_json", "to_mermaid", "to_rich"]

SCHEMA = "imagegraph/graph/v1"
_EDGE_STYLE = {"from": "solid", "copy": "dashed", "mount": "dotted", "context": "bold"}
_MERMAID_ARROW = {"from": "-->", "copy": "-.->", "mount": "-.->", "context": "==>"}


def display_name(graph: ImageGraph, node: str) -> str:
    """A build's name, or an external image's familiar reference (``debian:bookworm``)."""
    return familiar(node) if graph.is_external(node) else node


def _imported(graph: ImageGraph) -> set[str]:
    """The builds imported from an OCI layout (a build's node is its name)."""
    return {build.name for build in graph.builds if build.imported}


def to_data(graph: ImageGraph, impact: Impact | None = None) -> dict[str, Any]:
    """Nodes and edges as JSON-ready data (``"schema": "imagegraph/graph/v1"``).

    A build imported from an OCI layout has ``"imported": true`` (its
    ``dockerfile`` is the layout's index); other nodes have no such key.
    With *impact*, each node says whether it changed or must rebuild.

    >>> from imagegraph import ImageBuild, ImageGraph
    >>> graph = ImageGraph.from_builds([ImageBuild("os", "os/oci/index.json", "os/oci", imported=True)])
    >>> to_data(graph)["nodes"][0]["imported"]
    True
    """
    nodes = []
    for node in graph.images:
        entry: dict[str, Any] = {"id": node, "label": display_name(graph, node)}
        if graph.is_external(node):
            entry["kind"] = "external"
        else:
            build = graph.build(node)
            entry |= {
                "kind": "build",
                "tags": [str(tag) for tag in build.tags],
                "dockerfile": build.dockerfile,
                "origin": build.origin,
            }
            if build.imported:
                entry["imported"] = True
        if impact is not None:
            entry["changed"] = node in impact.changed
            entry["affected"] = node in impact
        nodes.append(entry)
    edges = [
        {
            "parent": parent,
            "child": child,
            "kind": use.kind,
            "path": use.path,
            "line": use.line,
            "text": use.text,
            "stage": use.stage,
        }
        for parent in graph.images
        for child in graph.node_children(parent)
        for use in graph.node_edges(parent, child)
    ]
    return {"schema": SCHEMA, "nodes": nodes, "edges": edges}


def to_json(graph: ImageGraph, impact: Impact | None = None) -> str:
    """:func:`to_data` as indented JSON ending in a newline."""
    return dumps(to_data(graph, impact))


def _kinds(graph: ImageGraph, parent: str, child: str) -> list[str]:
    return sorted(
        {use.kind for use in graph.node_edges(parent, child)}, key=list(_EDGE_STYLE).index
    )


def _dot_string(text: str) -> str:
    """A DOT string Graphviz shows as *text* (its control characters escaped)."""
    return '"' + printable(text, tabs=False).replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(graph: ImageGraph, impact: Impact | None = None) -> str:
    """Graphviz DOT: builds as boxes, external images as ellipses, images
    imported from an OCI layout as 3-D boxes (``box3d``) whose tooltip names
    the layout; edges solid for ``from``, dashed for ``copy``, dotted for
    ``mount``, bold for ``context``. With *impact*, changed images are red
    and affected builds orange."""
    ids = {node: f"n{index}" for index, node in enumerate(graph.images)}
    imported = _imported(graph)
    lines = ["digraph imagegraph {", "  rankdir=LR;", "  node [fontname=Helvetica];"]
    for node, ident in ids.items():
        attrs = [f"label={_dot_string(display_name(graph, node))}"]
        if node in imported:
            layout = graph.build(node).context
            attrs += ["shape=box3d", f"tooltip={_dot_string(f'{IMPORTED} {layout}')}"]
        else:
            attrs.append("shape=ellipse" if graph.is_external(node) else "shape=box")
        if impact is not None and node in impact.changed:
            attrs += ["style=filled", 'fillcolor="#f4a6a6"']
        elif impact is not None and node in impact:
            attrs += ["style=filled", 'fillcolor="#fbd38d"']
        lines.append(f"  {ident} [{', '.join(attrs)}];")
    for parent in graph.images:
        for child in graph.node_children(parent):
            kinds = _kinds(graph, parent, child)
            style = _EDGE_STYLE[kinds[0]]
            label = "" if kinds == ["from"] else f", label={_dot_string(','.join(kinds))}"
            lines.append(f"  {ids[parent]} -> {ids[child]} [style={style}{label}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


# In a quoted Mermaid label: letters, digits and the punctuation of image
# references as they are, every other character an entity code (#35; for "#").
_NOT_MERMAID = re.compile(r"[^A-Za-z0-9 ._:/@=+,-]")


def _mermaid_label(text: str) -> str:
    """A quoted label Mermaid shows as *text*: what its parser or the HTML of
    the label would read (quotes, ``#``, ``%%``, ``<``, backquotes) as entity codes.

    >>> _mermaid_label('a "b" <c>')
    '"a #34;b#34; #60;c#62;"'
    """
    return (
        '"' + _NOT_MERMAID.sub(lambda m: f"#{ord(m.group())};", printable(text, tabs=False)) + '"'
    )


def to_mermaid(graph: ImageGraph, impact: Impact | None = None) -> str:
    """A Mermaid flowchart: ``-->`` for ``from``, ``-.->`` for copy and mount,
    ``==>`` for contexts; external images rounded, images imported from an
    OCI layout as subroutine boxes (``[[...]]``) of class ``imported`` (a
    dashed border). With *impact*, classes ``changed`` and ``affected`` mark
    the blast radius."""
    ids = {node: f"n{index}" for index, node in enumerate(graph.images)}
    imported = _imported(graph)
    lines = ["flowchart LR"]
    for node, ident in ids.items():
        label = _mermaid_label(display_name(graph, node))
        if node in imported:
            lines.append(f"  {ident}[[{label}]]")
        else:
            lines.append(
                f"  {ident}({label})" if graph.is_external(node) else f"  {ident}[{label}]"
            )
    for parent in graph.images:
        for child in graph.node_children(parent):
            kinds = _kinds(graph, parent, child)
            arrow = _MERMAID_ARROW[kinds[0]]
            label = "" if kinds == ["from"] else f"|{','.join(kinds)}|"
            lines.append(f"  {ids[parent]} {arrow}{label} {ids[child]}")
    if imported:
        lines.append("  classDef imported stroke-dasharray:5 3")
        lines.append(f"  class {','.join(ids[n] for n in graph.images if n in imported)} imported")
    if impact is not None:
        lines.append("  classDef changed fill:#f4a6a6,stroke:#c53030")
        lines.append("  classDef affected fill:#fbd38d,stroke:#c05621")
        changed = [ids[n] for n in graph.images if n in impact.changed]
        affected = [ids[n] for n in graph.images if n in impact and n not in impact.changed]
        if changed:
            lines.append(f"  class {','.join(changed)} changed")
        if affected:
            lines.append(f"  class {','.join(affected)} affected")
    return "\n".join(lines) + "\n"


def to_rich(graph: ImageGraph, impact: Impact | None = None) -> RenderableType:
    """A tree from each root image down to its descendants; an image met again
    is shown once more with ``(see above)`` rather than expanded twice, an
    image imported from an OCI layout with ``(imported from OCI layout)``. Names
    are plain text (never markup), their control characters escaped."""
    from rich.text import Text
    from rich.tree import Tree

    builds, externals = len(graph.builds), len(graph.images) - len(graph.builds)
    imported = _imported(graph)
    of_them = f" ({len(imported)} {IMPORTED})" if imported else ""
    top = Tree(
        f"{builds} build{'' if builds == 1 else 's'}{of_them}, "
        f"{externals} external image{'' if externals == 1 else 's'}"
    )
    shown: set[str] = set()

    def label(node: str, kinds: list[str], *, again: bool = False) -> Text:
        name = printable(display_name(graph, node), tabs=False)
        if impact is not None and node in impact.changed:
            text = Text.assemble((name, "bold red"), " (changed)")
        elif impact is not None and node in impact:
            text = Text(name, style="bold yellow")
        else:
            text = Text(name)
        if node in imported:
            text.append(f" ({IMPORTED})", style="dim")
        if kinds and kinds != ["from"]:
            text.append(f" ({', '.join(kinds)})", style="dim")
        if again:
            text.append(" (see above)", style="dim")
        return text

    # Depth first with a stack of its own: a chain of builds may be longer than
    # Python recurses (a fleet of 1,000 builds each FROM the one before).
    pending: list[tuple[Tree, str, list[str]]] = [
        (top, root, [])
        for root in sorted(graph.roots(), key=lambda node: display_name(graph, node), reverse=True)
    ]
    while pending:
        branch, node, kinds = pending.pop()
        if node in shown:
            branch.add(label(node, kinds, again=True))
            continue
        shown.add(node)
        sub = branch.add(label(node, kinds))
        children = graph.node_children(node)
        pending += [(sub, child, _kinds(graph, node, child)) for child in reversed(children)]
    return top
