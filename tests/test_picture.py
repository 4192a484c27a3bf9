"""SVG pictures of the graph (imagegraph.render.picture), read back as XML and checked."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagegraph import ImageBuild, ImageGraph, ImageRef, PackageChange, UnknownImage, scan
from imagegraph.render.graph import display_name
from imagegraph.render.picture import Picture, to_picture

from .fleets import make_graph

FLEET = "examples/fleet"
DEBIAN = "docker.io/library/debian:bookworm"
SVG = "{http://www.w3.org/2000/svg}"


def inline(name: str, text: str, *tags: str, **fields: object) -> ImageBuild:
    return ImageBuild(
        name=name,
        dockerfile=f"{name}/Dockerfile",
        context=name,
        tags=tuple(ImageRef.parse(t) for t in tags),
        dockerfile_inline=text,
        **fields,  # type: ignore[arg-type]
    )


def parse(picture: Picture) -> ET.Element:
    root = ET.fromstring(picture.svg)
    assert root.tag == f"{SVG}svg"
    return root


def classes(element: ET.Element) -> set[str]:
    return set(element.get("class", "").split())


def of_class(root: ET.Element, name: str) -> list[ET.Element]:
    return [g for g in root.iter(f"{SVG}g") if name in classes(g)]


def boxes(root: ET.Element) -> dict[str, ET.Element]:
    """Image (or group) -> its node element."""
    found = {}
    for g in of_class(root, "node"):
        key = g.get("data-image") or g.get("data-group")
        assert key is not None
        assert key not in found
        found[key] = g
    return found


def links(root: ET.Element) -> dict[tuple[str, str], ET.Element]:
    found = {}
    for g in of_class(root, "edge"):
        pair = (g.get("data-parent", ""), g.get("data-child", ""))
        assert pair not in found
        found[pair] = g
    return found


def label(g: ET.Element) -> str:
    text = g.find(f"{SVG}text")
    assert text is not None
    return "".join(text.itertext())


def tooltip(g: ET.Element) -> str:
    title = g.find(f"{SVG}title")
    assert title is not None
    return title.text or ""


def rect(g: ET.Element) -> dict[str, float]:
    shape = g.find(f"{SVG}rect")
    assert shape is not None
    return {key: float(shape.get(key, "0")) for key in ("x", "y", "width", "height", "rx")}


def visible_path(g: ET.Element) -> ET.Element:
    path = g.find(f"{SVG}path")
    assert path is not None
    return path


def caption(root: ET.Element) -> list[str]:
    (g,) = of_class(root, "caption")
    return ["".join(t.itertext()) for t in g.iter(f"{SVG}text")]


@pytest.fixture(scope="module")
def fleet() -> ImageGraph:
    return scan(FLEET, cache=False)


# -- the whole graph ----------------------------------------------------------


def test_the_example_fleet_has_a_box_per_image_and_a_line_per_edge(fleet: ImageGraph) -> None:
    picture = to_picture(fleet)
    root = parse(picture)
    width, height = root.get("width"), root.get("height")
    assert root.get("viewBox") == f"0 0 {width} {height}"
    assert (picture.width, picture.height) == (int(width or 0), int(height or 0))
    drawn = boxes(root)
    assert sorted(drawn) == fleet.images
    for node, g in drawn.items():
        assert label(g) == display_name(fleet, node)  # wrapped in lines, nothing lost
        assert tooltip(g).splitlines()[0] == display_name(fleet, node)
        assert ("external" in classes(g)) == fleet.is_external(node)
    assert set(links(root)) == set(fleet.nx.edges)
    assert len(of_class(root, "edge")) == 38
    assert (picture.images, picture.edges, picture.boxes, picture.collapsed) == (36, 38, 36, None)
    assert repr(picture) == "<Picture 36 images, 38 edges>"
    assert caption(root) == ["36 images (25 builds, 11 external), 38 edges"]


def test_every_edge_goes_right_from_a_lower_layer(fleet: ImageGraph) -> None:
    root = parse(to_picture(fleet))
    drawn = boxes(root)
    for parent, child in fleet.nx.edges:
        source, sink = rect(drawn[parent]), rect(drawn[child])
        assert source["x"] + source["width"] < sink["x"]
        path = visible_path(links(root)[parent, child]).get("d", "")
        start = re.match(r"M([\d.]+),", path)
        assert start is not None
        assert float(start.group(1)) == pytest.approx(source["x"] + source["width"], abs=0.1)
    headers = [t.text for g in of_class(root, "headers") for t in g.iter(f"{SVG}text")]
    assert headers == ["external", "layer 1", "layer 2", "layer 3", "layer 4"]


def test_external_images_are_rounded_and_builds_are_boxes(fleet: ImageGraph) -> None:
    drawn = boxes(parse(to_picture(fleet)))
    for node, g in drawn.items():
        shape = rect(g)
        if fleet.is_external(node):
            assert shape["rx"] >= min(shape["height"] / 2, 14)
        else:
            assert shape["rx"] == 3


EDGE_KINDS = {
    "base": ["debian:12"],
    "copier": ["alpine:3", "copy:base"],
    "mounter": ["alpine:3", "mount:base"],
}


@pytest.mark.parametrize(
    ("parent", "child", "kind", "dashed"),
    [
        ("docker.io/library/debian:12", "base", "from", False),
        ("base", "copier", "copy", True),
        ("base", "mounter", "mount", True),
        ("base", "app", "context", False),
    ],
)
def test_edge_styles_follow_the_kind_of_use(
    parent: str, child: str, kind: str, dashed: bool
) -> None:
    builds = [
        *make_graph(EDGE_KINDS).builds,
        inline("app", "FROM base\n", contexts={"base": "target:base"}),
    ]
    graph = ImageGraph.from_builds(builds)
    drawn = links(parse(to_picture(graph)))
    g = drawn[parent, child]
    assert kind in classes(g)
    path = visible_path(g)
    assert (path.get("stroke-dasharray") is not None) == dashed
    assert path.get("marker-end", "").startswith("url(#")
    widths = {k: float(visible_path(e).get("stroke-width", "0")) for k, e in drawn.items()}
    if kind == "context":
        assert widths[parent, child] > max(
            w for pair, w in widths.items() if pair != (parent, child)
        )
    if kind == "mount":
        assert path.get("stroke-linecap") == "round"  # dots, not dashes
    assert f"{kind} " in tooltip(g)  # the use, as written, and where
    assert f"{child}/Dockerfile" in tooltip(g) or kind == "context"


def test_every_marker_and_reference_resolves(fleet: ImageGraph) -> None:
    first = to_picture(fleet)
    second = to_picture(fleet, fleet.impact(["debian:bookworm"]))
    ids = {}
    for picture in (first, second):
        root = parse(picture)
        defined = {e.get("id") for e in root.iter() if e.get("id")}
        used = set(re.findall(r"url\(#([^)]+)\)", picture.svg))
        assert used
        assert used <= defined
        ids[picture.svg] = defined
    # Two pictures in one notebook page must not take each other's arrowheads.
    assert not set.intersection(*ids.values())


# -- impact ---------------------------------------------------------------------


def test_impact_colours_exactly_the_blast_radius(fleet: ImageGraph) -> None:
    impact = fleet.impact(["debian:bookworm"])
    root = parse(to_picture(fleet, impact))
    drawn = boxes(root)

    def having(name: str) -> set[str]:
        return {node for node, g in drawn.items() if name in classes(g)}

    assert having("changed") == set(impact.changed) == {DEBIAN}
    assert having("affected") == set(impact.affected) - set(impact.changed)
    assert len(having("affected")) == 18
    assert having("untouched") == set(fleet.images) - set(impact.changed) - set(impact.affected)
    fills: dict[str, set[str]] = {}
    for g in drawn.values():
        shape = g.find(f"{SVG}rect")
        assert shape is not None
        (status,) = {"changed", "affected", "untouched"} & classes(g)
        fills.setdefault(status, set()).add(shape.get("fill", ""))
    assert len(fills["changed"]) == len(fills["affected"]) == 1  # one colour each
    assert len({*fills["changed"], *fills["affected"], *fills["untouched"]}) == 4
    reach = {pair for pair, g in links(root).items() if "reach" in classes(g)}
    assert reach == {
        (parent, child)
        for parent, child in fleet.nx.edges
        if child in impact.reasons and (parent in impact.reasons or parent in impact.changed)
    }
    legend = [t.text for g in of_class(root, "legend") for t in g.iter(f"{SVG}text")]
    assert {"changed", "rebuilds", "not affected"} <= set(legend)
    assert "change debian:bookworm: 18 builds rebuild" in caption(root)


def test_possibly_affected_images_are_marked(fleet: ImageGraph) -> None:
    impact = fleet.impact([PackageChange.named("openssl", below="3.0.13")])
    root = parse(to_picture(fleet, impact))
    drawn = boxes(root)
    assert {node for node, g in drawn.items() if "possibly" in classes(g)} == {"reports"}
    assert "may rebuild: openssl, version not known" in tooltip(drawn["reports"])
    assert caption(root)[-1].endswith("18 builds rebuild, 1 may")


def test_builds_with_an_unresolved_base_may_rebuild() -> None:
    graph = ImageGraph.from_builds(
        [inline("os", "FROM debian:12\n", "acme/os:1"), inline("odd", "ARG BASE\nFROM ${BASE}\n")]
    )
    impact = graph.impact(["debian:12"])
    root = parse(to_picture(graph, impact, only_impact=True))
    drawn = boxes(root)
    assert set(drawn) == {"docker.io/library/debian:12", "os", "odd"}
    assert "possibly" in classes(drawn["odd"])
    assert "may rebuild: unresolved ${BASE}" in tooltip(drawn["odd"])
    legend = [t.text for g in of_class(root, "legend") for t in g.iter(f"{SVG}text")]
    assert "may rebuild (version or base unknown)" in legend


def test_only_the_impact(fleet: ImageGraph) -> None:
    impact = fleet.impact([PackageChange.named("openssl", below="3.0.13")])
    picture = to_picture(fleet, impact, only_impact=True)
    root = parse(picture)
    wanted = {*impact.changed, *impact.affected, *impact.possibly}
    assert set(boxes(root)) == wanted
    assert set(links(root)) == {(a, b) for a, b in fleet.nx.edges if a in wanted and b in wanted}
    assert picture.images == len(wanted) == 20
    assert caption(root)[0].startswith("blast radius: 20 of 36 images")
    with pytest.raises(ValueError, match="pass the impact"):
        to_picture(fleet, only_impact=True)


# -- focus ----------------------------------------------------------------------


def test_focus_draws_the_reason_chain(fleet: ImageGraph) -> None:
    impact = fleet.impact(["debian:bookworm"])
    root = parse(to_picture(fleet, impact, focus="billing"))
    chain = {pair for pair, g in links(root).items() if "chain" in classes(g)}
    assert chain == {(edge.parent, edge.child) for edge in impact.reasons["billing"]}
    assert chain == {(DEBIAN, "debian"), ("debian", "jdk"), ("jdk", "billing")}
    widths = {
        pair: float(visible_path(g).get("stroke-width", "0")) for pair, g in links(root).items()
    }
    assert min(widths[pair] for pair in chain) > max(
        widths[pair] for pair in widths if pair not in chain and pair[1] != "billing"
    )
    assert [node for node, g in boxes(root).items() if "focus" in classes(g)] == ["billing"]
    assert "why billing rebuilds: debian:bookworm → debian → jdk → billing" in caption(root)


def test_focus_without_an_impact_draws_what_it_is_built_from(fleet: ImageGraph) -> None:
    root = parse(to_picture(fleet, focus="registry.acme.internal/platform/python:3.12-bookworm"))
    chain = {pair for pair, g in links(root).items() if "chain" in classes(g)}
    assert chain == {(DEBIAN, "debian"), ("debian", "python-3.12-bookworm")}
    root = parse(to_picture(fleet, focus="api"))
    chain = {pair for pair, g in links(root).items() if "chain" in classes(g)}
    above = {*fleet.ancestors("api"), "api"}
    assert chain == {(a, b) for a, b in fleet.nx.edges if b in above}
    assert "focus: api is built from 5 images (highlighted)" in caption(root)


def test_focus_outside_the_impact_falls_back_to_ancestors(fleet: ImageGraph) -> None:
    impact = fleet.impact(["debian:bookworm"])
    root = parse(to_picture(fleet, impact, focus="gateway", only_impact=True))
    envoy = "docker.io/envoyproxy/envoy:v1.31.2"
    assert {"gateway", envoy} <= set(boxes(root))  # drawn, though not in the impact
    chain = {pair for pair, g in links(root).items() if "chain" in classes(g)}
    assert chain == {(envoy, "gateway")}
    assert "focus: gateway is not affected; gateway is built from 1 image (highlighted)" in (
        caption(root)
    )
    with pytest.raises(UnknownImage):
        to_picture(fleet, focus="nothing:here")


# -- collapsed --------------------------------------------------------------------


def group_counts(root: ET.Element) -> dict[str, int]:
    return {key: int(g.get("data-count", "-1")) for key, g in boxes(root).items()}


def test_above_max_nodes_the_picture_collapses_by_base(fleet: ImageGraph) -> None:
    impact = fleet.impact(["debian:bookworm"])
    picture = to_picture(fleet, impact, max_nodes=20)
    root = parse(picture)
    counts = group_counts(root)
    assert sum(counts.values()) == 36
    assert counts[DEBIAN] == 18
    # web and docs are on two nginx releases: two groups of an external image and a build.
    assert counts["docker.io/nginxinc/nginx-unprivileged:1.27-alpine"] == 2
    assert counts["docker.io/nginxinc/nginx-unprivileged:1.26-alpine"] == 2
    assert len(counts) == picture.boxes == 11
    assert (picture.images, picture.edges, picture.collapsed) == (36, 38, "base")
    assert repr(picture) == "<Picture 36 images, 38 edges, by base in 11 groups>"
    assert "collapsed by base image: 36 images are more than max_nodes=20" in caption(root)
    debian = boxes(root)[DEBIAN]
    assert label(debian) == "debian:bookworm18 images (17 affected)"  # two lines
    assert tooltip(debian).startswith("debian:bookworm — 18 images (17 affected)")
    assert {"group", "changed"} <= classes(debian)
    between = {pair: int(g.get("data-count", "0")) for pair, g in links(root).items()}
    assert between[DEBIAN, "docker.io/nginxinc/nginx-unprivileged:1.27-alpine"] == 1
    # No caption about collapsing when there is room.
    assert not any("collapsed" in line for line in caption(parse(to_picture(fleet, impact))))


def test_collapse_by_layer_draws_the_layers_in_order(fleet: ImageGraph) -> None:
    root = parse(to_picture(fleet, collapse="layer"))
    counts = group_counts(root)
    assert list(counts) == ["layer 0", "layer 1", "layer 2", "layer 3", "layer 4"]
    assert sum(counts.values()) == 36
    assert counts["layer 0"] == 11  # the external images
    xs = [rect(g)["x"] for g in boxes(root).values()]
    assert xs == sorted(xs)
    assert caption(root)[0] == "36 images, 38 edges, in 5 groups by layer"


def test_too_many_groups_fold_the_smallest_into_one(fleet: ImageGraph) -> None:
    impact = fleet.impact(["debian:bookworm"])
    picture = to_picture(fleet, impact, max_nodes=4)
    root = parse(picture)
    counts = group_counts(root)
    assert len(counts) == picture.boxes == 4
    assert sum(counts.values()) == 36
    # The changed and affected groups stay, then the largest; in key order, the rest last.
    assert list(counts) == [
        "docker.io/library/alpine:3.20", DEBIAN, "docker.io/nginxinc/nginx-unprivileged:1.27-alpine",
        "(other)",
    ]  # fmt: skip
    assert (
        counts["docker.io/nginxinc/nginx-unprivileged:1.27-alpine"] == 2
    )  # web (affected through its node-20 stage) and nginx
    assert counts["(other)"] == 36 - 18 - 5 - 2
    assert "other" in classes(boxes(root)["(other)"])
    assert "the 8 smallest groups are drawn as one: more groups than max_nodes=4" in caption(root)


def test_collapsed_focus_highlights_its_group(fleet: ImageGraph) -> None:
    impact = fleet.impact(["node-20"])
    root = parse(to_picture(fleet, impact, collapse="base", focus="web"))
    chain = {pair for pair, g in links(root).items() if "chain" in classes(g)}
    assert chain == {(DEBIAN, "docker.io/nginxinc/nginx-unprivileged:1.27-alpine")}
    focused = {key for key, g in boxes(root).items() if "focus" in classes(g)}
    assert focused == {DEBIAN, "docker.io/nginxinc/nginx-unprivileged:1.27-alpine"}


def test_a_big_fleet_is_drawn_as_at_most_max_nodes_groups() -> None:
    spec: dict[str, list[str]] = {}
    for i in range(400):
        base = f"b{i - 7}" if i >= 7 else f"base{i}:1"
        spec[f"b{i}"] = [base, f"copy:b{i // 3}"] if i > 3 * (i // 3) + 1 else [base]
    graph = make_graph(spec)
    picture = to_picture(graph, graph.impact(["base2:1"]), max_nodes=5)
    root = parse(picture)
    assert len(boxes(root)) <= 5
    assert sum(group_counts(root).values()) == len(graph.images) == 407
    assert picture.edges == graph.nx.number_of_edges()


# -- text, determinism, the object -------------------------------------------------


def test_labels_are_escaped_wrapped_and_kept_whole_in_the_tooltip() -> None:
    odd = "a&b<c>\"d'e"
    long = "team-" + "very-long-name-" * 4 + "service"  # 72 characters
    huge = "x" * 200
    graph = ImageGraph.from_builds(
        [
            inline(odd, "FROM debian:12\n"),
            inline(long, "FROM debian:12\n"),
            inline(huge, "FROM scratch\n"),
        ]
    )
    picture = to_picture(graph)
    root = parse(picture)  # would fail on an unescaped & or <
    drawn = boxes(root)
    assert label(drawn[odd]) == odd
    assert tooltip(drawn[odd]).splitlines()[0] == odd
    lines = [t.text or "" for t in drawn[long].iter(f"{SVG}tspan")]
    assert len(lines) > 1
    assert all(len(line) <= 30 for line in lines)
    assert "".join(lines) == long
    shown = label(drawn[huge])
    assert len(shown) < 100
    head, tail = shown.split("…")  # cut in the middle: its start and its end are shown
    assert head == "x" * len(head)
    assert tail == "x" * len(tail)
    assert abs(len(head) - len(tail)) <= 1
    assert tooltip(drawn[huge]).splitlines()[0] == huge
    assert "&amp;b&lt;c&gt;&quot;d" in picture.svg


def test_long_references_keep_their_registry_name_and_tag() -> None:
    # What tells images apart is at the end of a reference: its name and tag.
    deep = "registry.example.com/" + "verylongsegment/" * 10
    graph = ImageGraph.from_builds(
        [
            inline("a", f"FROM {deep}img:1\n"),
            inline("b", f"FROM {deep}img:2\n"),
            inline("c", f"FROM {deep}other-image:1\n"),
        ]
    )
    drawn = boxes(parse(to_picture(graph)))
    for name in ("img:1", "img:2", "other-image:1"):
        node = deep + name
        lines = [t.text or "" for t in drawn[node].iter(f"{SVG}tspan")] or [label(drawn[node])]
        assert 1 < len(lines) <= 3
        assert all(len(line) <= 30 for line in lines)
        assert lines[0].startswith("registry.example.com/…/")
        assert "".join(lines).endswith("/verylongsegment/" + name)
        assert tooltip(drawn[node]).splitlines()[0] == node  # the whole reference
    # Collapsed, a group is named after the foundation: the same holds.
    groups = boxes(parse(to_picture(graph, max_nodes=4)))
    assert len(groups) == 3
    for name in ("img:1", "img:2", "other-image:1"):
        lines = [t.text or "" for t in groups[deep + name].iter(f"{SVG}tspan")]
        assert lines[0].startswith("registry.example.com/…/")
        assert lines[-2].endswith("/" + name)  # then the tally
        assert lines[-1] == "2 images"


def test_characters_xml_cannot_hold_are_replaced() -> None:
    odd = "a\x01b\x0cc"
    picture = to_picture(ImageGraph.from_builds([inline(odd, "FROM debian:12\n")]))
    drawn = boxes(parse(picture))  # well-formed
    assert label(drawn["a\ufffdb\ufffdc"]) == "a\ufffdb\ufffdc"
    assert "\x01" not in picture.svg
    assert "\x0c" not in picture.svg


def columns(text: str) -> int:
    """Monospace columns: two for East Asian wide and fullwidth, none for combining marks."""
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
        for c in text
    )


def test_wide_characters_take_two_columns_and_combining_marks_none() -> None:
    cjk = "数据处理服务-日本語-🚀🚀🚀🚀🚀🚀"  # 19 characters, 32 columns
    accents = "re\u0301sume\u0301-" * 4 + "ok"  # 34 characters, 30 columns
    long_cjk = "数据处理服务" * 4  # 24 characters, 48 columns
    graph = ImageGraph.from_builds(
        [inline(name, "FROM debian:12\n") for name in (cjk, accents, long_cjk)]
    )
    drawn = boxes(parse(to_picture(graph)))
    char = 12 * 0.6  # a monospace advance at the labels' size
    shown = {}
    for name in (cjk, accents, long_cjk):
        lines = [t.text or "" for t in drawn[name].iter(f"{SVG}tspan")] or [label(drawn[name])]
        assert "".join(lines) == name
        assert all(columns(line) <= 30 for line in lines)
        widest = max(columns(line) for line in lines)
        assert rect(drawn[name])["width"] == pytest.approx(widest * char + 18)  # no overflow
        shown[name] = lines
    assert shown[cjk] == ["数据处理服务-日本語-", "🚀🚀🚀🚀🚀🚀"]  # 20 and 12 columns
    assert shown[accents] == [accents]  # one line: it is 30 columns wide
    assert [columns(line) for line in shown[long_cjk]] == [30, 18]


def test_the_same_graph_gives_the_same_bytes(fleet: ImageGraph) -> None:
    impact = fleet.impact(["debian:bookworm"])
    for options in ({}, {"focus": "worker"}, {"collapse": "base"}, {"only_impact": True}):
        assert to_picture(fleet, impact, **options).svg == to_picture(fleet, impact, **options).svg  # type: ignore[arg-type]


def test_the_same_bytes_whatever_the_hash_seed(tmp_path: Path) -> None:
    script = (
        "import sys, imagegraph\n"
        "from imagegraph.render.picture import to_picture\n"
        f"graph = imagegraph.scan({FLEET!r}, cache=False)\n"
        "impact = graph.impact(['debian:bookworm'])\n"
        "sys.stdout.write(to_picture(graph, impact, focus='worker').svg)\n"
        "sys.stdout.write(to_picture(graph, impact, max_nodes=6).svg)\n"
    )
    outputs = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "IMAGEGRAPH_CACHE_DIR": str(tmp_path)}
        done = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
        )
        outputs.add(done.stdout)
    assert len(outputs) == 1


def test_a_picture_shows_in_jupyter_and_saves_as_svg(fleet: ImageGraph, tmp_path: Path) -> None:
    picture = to_picture(fleet)
    bundle = picture._repr_mimebundle_()
    assert bundle == {"image/svg+xml": picture.svg, "text/plain": repr(picture)}
    assert picture._repr_mimebundle_(include=["text/plain"]) == {"text/plain": repr(picture)}
    assert list(picture._repr_mimebundle_(exclude=["text/plain"])) == ["image/svg+xml"]
    assert picture._repr_svg_() == picture.svg
    assert len(repr(picture)) < 80
    saved = picture.save(tmp_path / "fleet")
    assert saved == tmp_path / "fleet.svg"
    assert saved.read_text(encoding="utf-8") == picture.svg
    assert picture.save(tmp_path / "fleet.SVG").exists()
    with pytest.raises(ValueError, match="SVG"):
        picture.save(tmp_path / "fleet.png")


def test_an_empty_graph_is_an_empty_picture() -> None:
    picture = to_picture(ImageGraph.from_builds([]))
    root = parse(picture)
    assert boxes(root) == {}
    assert caption(root) == ["0 images (0 builds, 0 external), 0 edges"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"collapse": "size"}, "collapse="),
        ({"max_nodes": 0}, "max_nodes=0"),
    ],
)
def test_bad_options_say_what_is_wrong(
    fleet: ImageGraph, options: Mapping[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        to_picture(fleet, **options)  # type: ignore[arg-type]


# -- properties -------------------------------------------------------------------

EXTERNAL = ["debian:12", "alpine:3", "copy:busybox:1", "mount:golang:1.23"]


@st.composite
def fleets(draw: st.DrawFn) -> dict[str, list[str]]:
    size = draw(st.integers(min_value=1, max_value=10))
    spec: dict[str, list[str]] = {}
    for i in range(size):
        earlier = [f"b{j}" for j in range(i)]
        choices = EXTERNAL + [k + e for e in earlier for k in ("", "copy:", "mount:")]
        spec[f"b{i}"] = draw(st.lists(st.sampled_from(choices), max_size=3, unique=True))
    return spec


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleets(), st.integers(min_value=1, max_value=6))
def test_any_fleet_is_drawn_whole(spec: Mapping[str, Sequence[str]], max_nodes: int) -> None:
    graph = make_graph(spec)
    root = parse(to_picture(graph))
    drawn = boxes(root)
    assert sorted(drawn) == graph.images
    assert set(links(root)) == set(graph.nx.edges)
    for parent, child in graph.nx.edges:  # every edge from a column left of its child's
        assert rect(drawn[parent])["x"] + rect(drawn[parent])["width"] < rect(drawn[child])["x"]
    tops = sorted(
        (rect(g)["x"] + rect(g)["width"] / 2, rect(g)["y"], rect(g)["height"])
        for g in drawn.values()
    )
    for (x1, y1, h1), (x2, y2, _) in itertools.pairwise(tops):
        if x1 == pytest.approx(x2, abs=0.1):  # boxes of one column never overlap
            assert y1 + h1 <= y2
    collapsed = parse(to_picture(graph, max_nodes=max_nodes))
    counts = group_counts(collapsed) if len(graph.images) > max_nodes else {}
    if counts:
        assert len(counts) <= max_nodes
        assert sum(counts.values()) == len(graph.images)
