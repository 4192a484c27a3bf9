"""Images imported from an OCI layout in the views of a graph: frames, JSON, DOT,
Mermaid, the tree, the SVG picture and the notebook's HTML.

An imported image (bashbrew's ``Builder: oci-import``) is marked in each view,
and only it; a fleet without imports is drawn as it was before imports were
marked. The fleet is read from docker-library manifests, as ``scan`` reads
the official library; the properties build graphs directly.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from imagegraph import ImageBuild, ImageGraph, ImageRef, scan
from imagegraph.render import graph as render
from imagegraph.render.html import graph_html, plan_html
from imagegraph.render.picture import to_picture
from tests.fleets import write

pd = pytest.importorskip("pandas")

DOT = shutil.which("dot")
HEADER = "Maintainers: Jane Doe <jane@example.com> (@jane)\nGitRepo: https://example.com/x.git\n"
DEBIAN = "acme/debian:bookworm"
MARK = "(imported from OCI layout)"
SVG = "{http://www.w3.org/2000/svg}"


def text_of(renderable: object) -> str:
    """What a terminal 120 columns wide shows, without colour."""
    console = Console(width=120, no_color=True, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> ImageGraph:
    """debian imported from an OCI layout (two tags), app built FROM its tag and
    copying from alpine:3, an external image."""
    root = tmp_path_factory.mktemp("library")
    write(
        root,
        {
            "imagegraph.toml": """\
                [[manifests]]
                path = "library/debian"
                checkout = "src/debian"
                repository = "acme/debian"

                [[manifests]]
                path = "library/app"
                checkout = "src/app"
                repository = "acme/app"
                """,
            "library/debian": f"{HEADER}Builder: oci-import\nFile: index.json\n\n"
            "Tags: bookworm, 12\nDirectory: bookworm/oci\n",
            "library/app": f"{HEADER}\nTags: 1\n",
            "src/debian/bookworm/oci/oci-layout": '{"imageLayoutVersion": "1.0.0"}\n',
            "src/debian/bookworm/oci/index.json": '{"schemaVersion": 2, "manifests": []}\n',
            "src/app/Dockerfile": "FROM acme/debian:bookworm\nCOPY --from=alpine:3 /x /x\n",
        },
    )
    graph = scan(root)
    assert [(b.name, b.imported) for b in graph.builds] == [
        ("acme/debian:bookworm", True),
        ("acme/app:1", False),
    ]
    assert graph.parents("acme/app:1") == [DEBIAN, "docker.io/library/alpine:3"]
    assert graph.diagnostics == ()
    return graph


# -- frames ---------------------------------------------------------------------------


def test_graph_frame_has_an_imported_column(fleet: ImageGraph) -> None:
    nodes, _ = fleet.to_pandas()
    assert str(nodes["imported"].dtype) == "bool"
    assert nodes.set_index("image")["imported"].to_dict() == {
        "acme/app:1": False,
        DEBIAN: True,
        "docker.io/library/alpine:3": False,
    }
    # the layout's index and directory stand where a Dockerfile and context would
    row = nodes.set_index("image").loc[DEBIAN]
    assert (row["dockerfile"], row["context"]) == (
        "src/debian/bookworm/oci/index.json",
        "src/debian/bookworm/oci",
    )
    assert nodes.loc[nodes["imported"], "kind"].tolist() == ["build"]


@pytest.mark.parametrize("changes", [None, [DEBIAN]])
def test_plan_frame_has_an_imported_column(fleet: ImageGraph, changes: list[str] | None) -> None:
    frame = fleet.plan(changes).to_pandas()
    assert str(frame["imported"].dtype) == "bool"
    assert dict(zip(frame["build"], frame["imported"], strict=True)) == {
        DEBIAN: True,
        "acme/app:1": False,
    }


def test_empty_frames_keep_the_bool_column() -> None:
    graph = ImageGraph.from_builds([])
    nodes, _ = graph.to_pandas()
    plan = graph.plan().to_pandas()
    assert str(nodes["imported"].dtype) == str(plan["imported"].dtype) == "bool"


# -- the graph's outputs ----------------------------------------------------------------


def test_json_marks_the_import_only(fleet: ImageGraph) -> None:
    nodes = {n["id"]: n for n in json.loads(render.to_json(fleet))["nodes"]}
    assert {node for node, entry in nodes.items() if "imported" in entry} == {DEBIAN}
    assert nodes[DEBIAN]["imported"] is True
    assert nodes[DEBIAN]["dockerfile"] == "src/debian/bookworm/oci/index.json"


def test_dot_marks_the_import_only(fleet: ImageGraph) -> None:
    dot = render.to_dot(fleet, fleet.impact([DEBIAN]))
    assert dot.splitlines()[3:6] == [
        '  n0 [label="acme/app:1", shape=box, style=filled, fillcolor="#fbd38d"];',
        '  n1 [label="acme/debian:bookworm", shape=box3d, '
        'tooltip="imported from OCI layout src/debian/bookworm/oci", '
        'style=filled, fillcolor="#f4a6a6"];',
        '  n2 [label="alpine:3", shape=ellipse];',
    ]
    assert dot.count("box3d") == dot.count("tooltip=") == 1


def test_mermaid_marks_the_import_only(fleet: ImageGraph) -> None:
    assert render.to_mermaid(fleet) == (
        "flowchart LR\n"
        '  n0["acme/app:1"]\n'
        '  n1[["acme/debian:bookworm"]]\n'
        '  n2("alpine:3")\n'
        "  n1 --> n0\n"
        "  n2 -.->|copy| n0\n"
        "  classDef imported stroke-dasharray:5 3\n"
        "  class n1 imported\n"
    )
    with_impact = render.to_mermaid(fleet, fleet.impact([DEBIAN])).splitlines()
    assert with_impact[-4:] == [
        "  classDef changed fill:#f4a6a6,stroke:#c53030",
        "  classDef affected fill:#fbd38d,stroke:#c05621",
        "  class n1 changed",
        "  class n0 affected",
    ]
    assert "  class n1 imported" in with_impact


def test_tree_marks_the_import_only(fleet: ImageGraph) -> None:
    assert text_of(render.to_rich(fleet)).splitlines() == [
        "2 builds (1 imported from OCI layout), 1 external image",
        f"├── acme/debian:bookworm {MARK}",
        "│   └── acme/app:1",
        "└── alpine:3",
        "    └── acme/app:1 (copy) (see above)",
    ]


# -- the picture and the notebook's HTML --------------------------------------------------


def _nodes(svg: str) -> dict[str, ET.Element]:
    root = ET.fromstring(svg)
    return {
        g.attrib["data-image"]: g
        for g in root.iter(f"{SVG}g")
        if "node" in g.attrib.get("class", "").split() and "data-image" in g.attrib
    }


def test_picture_marks_the_import_only(fleet: ImageGraph) -> None:
    for impact in (None, fleet.impact([DEBIAN])):
        svg = to_picture(fleet, impact).svg
        nodes = _nodes(svg)
        imported = {k for k, g in nodes.items() if "imported" in g.attrib["class"].split()}
        assert imported == {DEBIAN}
        dashed_by = {
            k: rect.attrib["stroke-dasharray"]
            for k, g in nodes.items()
            for rect in g.iter(f"{SVG}rect")
            if "stroke-dasharray" in rect.attrib
        }
        assert list(dashed_by) == [DEBIAN]
        title = nodes[DEBIAN].find(f"{SVG}title")
        assert title is not None
        assert title.text is not None
        assert "imported from OCI layout src/debian/bookworm/oci" in title.text
        assert "build of" not in title.text
        legend = next(g for g in ET.fromstring(svg).iter(f"{SVG}g") if g.get("class") == "legend")
        # the legend's entry: a dashed box, as the imported image is drawn
        items = list(legend)
        (at,) = [i for i, e in enumerate(items) if e.text == "imported from OCI layout"]
        assert items[at - 1].tag == f"{SVG}rect"
        assert items[at - 1].get("stroke-dasharray") == dashed_by[DEBIAN]
        boxes = [e for e in items if e.tag == f"{SVG}rect"]
        assert sum(e.get("stroke-dasharray") is not None for e in boxes) == 1


def _group_titles(svg: str) -> list[str]:
    return [
        t.text or ""
        for g in ET.fromstring(svg).iter(f"{SVG}g")
        if "group" in g.get("class", "").split()
        for t in g.findall(f"{SVG}title")
    ]


def test_collapsed_picture_counts_the_imports_of_a_group(fleet: ImageGraph) -> None:
    titles = _group_titles(to_picture(fleet, collapse="base").svg)
    assert len(titles) > 1
    assert sum("1 imported from OCI layout" in t for t in titles) == 1
    assert sum("imported" in t for t in titles) == 1
    # every group folded into one: it still counts the import
    (folded,) = _group_titles(to_picture(fleet, collapse="base", max_nodes=1).svg)
    assert "groups: " in folded
    assert "1 imported from OCI layout" in folded


def test_html_counts_and_marks_the_import(fleet: ImageGraph) -> None:
    page = graph_html(fleet)
    ET.fromstring(page)  # well-formed
    assert ">imported</th>" in page
    assert "1 of them from OCI layouts" in page
    for changes in (None, [DEBIAN]):
        waves = ET.fromstring(plan_html(fleet.plan(changes))).findall("table")[-1]
        # each row's build: its first cell but the wave's (which spans the rows)
        builds = [
            "".join(next(td for td in row.iter("td") if "rowspan" not in td.attrib).itertext())
            for row in waves.iter("tr")
            if row.find("td") is not None
        ]
        assert builds == [f"{DEBIAN} {MARK}", "acme/app:1"]


# -- the marks, and nothing else: a property -------------------------------------------------

_NAMES = st.lists(st.from_regex(r"[a-z]{1,4}", fullmatch=True), min_size=1, max_size=6, unique=True)
# a layout directory with what DOT, Mermaid and XML escape: quotes, backslashes, line breaks
_LAYOUT = st.text(st.sampled_from('ab/"\\\n<&#%{}'), min_size=1, max_size=12)


@st.composite
def fleets(draw: st.DrawFn) -> tuple[list[ImageBuild], list[ImageBuild]]:
    """A fleet with some builds imported, and the same fleet with those builds
    built from nothing (``FROM scratch``): the same graph, without imports."""
    names = draw(_NAMES)
    imported, plain = [], []
    for index, name in enumerate(names):
        tag = (ImageRef.parse(f"acme/{name}:1"),)
        if draw(st.booleans()):
            layout = draw(_LAYOUT)
            imported.append(ImageBuild(name, f"{layout}/index.json", layout, tag, imported=True))
            plain.append(
                ImageBuild(
                    name, f"{layout}/index.json", layout, tag, dockerfile_inline="FROM scratch\n"
                )
            )
            continue
        parent = draw(st.sampled_from([*(f"acme/{n}:1" for n in names[:index]), "debian:12"]))
        lines = f"FROM {parent}\n"
        if draw(st.booleans()):
            lines += "COPY --from=alpine:3 /x /x\n"
        build = ImageBuild(name, f"{name}/Dockerfile", name, tag, dockerfile_inline=lines)
        imported.append(build)
        plain.append(build)
    return imported, plain


_DOT_TOOLTIP = re.compile(r'shape=box3d, tooltip="(?:[^"\\]|\\.)*"')
_TREE_HEAD = re.compile(r" \(\d+ imported from OCI layout\)")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleets())
def test_an_import_changes_only_its_own_marks(
    pair: tuple[list[ImageBuild], list[ImageBuild]],
) -> None:
    with_imports, without = ImageGraph.from_builds(pair[0]), ImageGraph.from_builds(pair[1])
    assert with_imports.images == without.images
    marked = {b.name for b in pair[0] if b.imported}
    first = pair[0][0].name  # a change every fleet has: its first build
    for change in (None, with_imports.impact([first])):
        plain_impact = None if change is None else without.impact([first])
        # JSON: the key on the imported builds, nothing else
        data = render.to_data(with_imports, change)
        assert {n["id"] for n in data["nodes"] if n.pop("imported", False)} == marked
        assert data == render.to_data(without, plain_impact)
        # DOT: a 3-D box with a well-formed tooltip instead of a box
        dot = render.to_dot(with_imports, change)
        assert len(_DOT_TOOLTIP.findall(dot)) == len(marked)
        assert _DOT_TOOLTIP.sub("shape=box", dot) == render.to_dot(without, plain_impact)
        # Mermaid: a subroutine box and the class, nothing else
        mermaid = render.to_mermaid(with_imports, change).splitlines()
        plain = render.to_mermaid(without, plain_impact).splitlines()
        if marked:
            assert (
                mermaid[len(with_imports.images) + 1 :].count(
                    "  classDef imported stroke-dasharray:5 3"
                )
                == 1
            )
            mermaid = [line for line in mermaid if "imported" not in line]
        assert [line.replace('[["', '["').replace('"]]', '"]') for line in mermaid] == plain
        # the tree: the word after each imported image and in the count
        tree = text_of(render.to_rich(with_imports, change))
        assert tree.count(MARK) >= len(marked)
        assert _TREE_HEAD.sub("", tree.replace(f" {MARK}", "")) == text_of(
            render.to_rich(without, plain_impact)
        )


@pytest.mark.skipif(DOT is None, reason="Graphviz (dot) is not installed")
@given(fleets())
@settings(max_examples=15, deadline=None)
def test_graphviz_reads_the_marks(pair: tuple[list[ImageBuild], list[ImageBuild]]) -> None:
    """The real ``dot`` parses the output, draws each import as a 3-D box (a
    polygon of 7 points more) and shows its tooltip as written."""
    assert DOT is not None
    graph = ImageGraph.from_builds(pair[0])
    result = subprocess.run(
        [DOT, "-Tsvg"], input=render.to_dot(graph), capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    root = ET.fromstring(result.stdout)
    tips = sorted(a.get("{http://www.w3.org/1999/xlink}title") or "" for a in root.iter(f"{SVG}a"))
    assert len(tips) == sum(b.imported for b in pair[0])
    for tip in tips:
        assert tip.startswith("imported from OCI layout ")


@pytest.mark.skipif(DOT is None, reason="Graphviz (dot) is not installed")
def test_graphviz_draws_the_fleet(fleet: ImageGraph, tmp_path: Path) -> None:
    source = tmp_path / "fleet.dot"
    source.write_text(render.to_dot(fleet, fleet.impact([DEBIAN])))
    assert DOT is not None
    result = subprocess.run(
        [DOT, "-Tsvg", str(source)], capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stderr) == (0, "")
    root = ET.fromstring(result.stdout)
    (link,) = root.iter(f"{SVG}a")
    assert link.get("{http://www.w3.org/1999/xlink}title") == (
        "imported from OCI layout src/debian/bookworm/oci"
    )
    # box3d: one polygon of 7 corners (the front and its depth), the boxes 5
    polygons = [
        len(p.get("points", "").split())
        for g in root.iter(f"{SVG}g")
        if g.get("class") == "node"
        for p in g.iter(f"{SVG}polygon")
    ]
    assert sorted(polygons) == [5, 7]
