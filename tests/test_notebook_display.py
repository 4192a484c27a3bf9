"""Notebook display: HTML, short reprs and DataFrames of graphs, impacts, plans and packages."""

from __future__ import annotations

import pickle
import subprocess
import sys
import tracemalloc
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

import networkx as nx
import pandas as pd
import pytest

from imagegraph import (
    FileChange,
    ImageBuild,
    ImageGraph,
    ImageGraphError,
    ImageRef,
    PackageChange,
    scan,
)
from imagegraph.diagnostics import Severity
from imagegraph.findings import Finding, Findings
from imagegraph.frames import MissingExtra
from imagegraph.image_packages import PackageList
from imagegraph.render import html as render_html
from imagegraph.render.html import _FEW, ROWS, _images_below

from .fleets import make_graph

FLEET = Path(__file__).parent.parent / "examples" / "fleet"


@pytest.fixture(scope="module")
def fleet() -> ImageGraph:
    return scan(FLEET, cache=False)


def parse(html: str) -> ET.Element:
    """The HTML as XML: it must be well-formed."""
    return ET.fromstring(html)


def text(element: ET.Element) -> str:
    return "".join(element.itertext())


def table(root: ET.Element, *headers: str) -> ET.Element:
    """The table whose header row is *headers*."""
    for found in root.iter("table"):
        head = [text(th) for th in found.iterfind("thead/tr/th")]
        if tuple(head) == headers:
            return found
    raise AssertionError(f"no table {headers} in {ET.tostring(root, encoding='unicode')[:500]}")


def rows(found: ET.Element) -> list[list[str]]:
    return [[text(cell) for cell in tr] for tr in found.iter("tr") if tr.find("td") is not None]


def facts(root: ET.Element) -> dict[str, str]:
    """The label -> value tables (a ``th`` and a ``td`` per row)."""
    return {
        text(tr[0]): text(tr[1])
        for tr in root.iter("tr")
        if len(tr) == 2 and tr[0].tag == "th" and tr[1].tag == "td"
    }


def wide(count: int, children: int = 0) -> ImageGraph:
    """A base on debian, *count* builds on the base, and *children* builds on those."""
    builds = [
        ImageBuild(
            "base",
            "base/Dockerfile",
            "base",
            (ImageRef.parse("acme/base:1"),),
            dockerfile_inline="FROM debian:bookworm",
        )
    ]
    builds += [
        ImageBuild(
            f"app-{i:05d}",
            f"apps/{i}/Dockerfile",
            f"apps/{i}",
            (ImageRef.parse(f"acme/app-{i}:1"),),
            dockerfile_inline="FROM acme/base:1",
        )
        for i in range(count)
    ]
    builds += [
        ImageBuild(
            f"leaf-{i:05d}",
            f"leaves/{i}/Dockerfile",
            f"leaves/{i}",
            dockerfile_inline=f"FROM acme/app-{i % count}:1",
        )
        for i in range(children)
    ]
    return ImageGraph.from_builds(builds)


# -- HTML ---------------------------------------------------------------------


def test_graph_html_counts_the_fleet(fleet: ImageGraph) -> None:
    root = parse(fleet._repr_html_())
    shown = facts(root)
    assert shown["builds"] == "25"
    assert shown["external images"] == "11"
    assert shown["edges"] == "38 (27 from, 5 copy, 1 mount, 5 context uses)"
    assert shown["diagnostics"] == "0 errors, 0 warnings, 0 info"
    assert shown["declared in"] == "imagegraph.toml, docker-bake.hcl, compose.yaml"
    bases = rows(table(root, "image", "used directly by", "images on it"))
    assert bases[0] == ["debian:bookworm", "1", "18"]
    # The 10 most built-on of the 11 external images; the last, tied at 1 image and
    # last by name, is counted below the table.
    assert len(bases) == 10
    probe = "ghcr.io/grpc-ecosystem/grpc-health-probe:v0.4.28"
    assert probe not in {name for name, _, _ in bases}
    assert len(fleet.descendants(probe)) == 1  # api
    assert "… external images not shown: 1; see graph.external_bases()" in text(root)
    for name, direct, below in bases:
        assert int(direct) == len(fleet.children(name))
        assert int(below) == len(fleet.descendants(name))
    counts = [int(below) for _, _, below in bases]
    assert counts == sorted(counts, reverse=True)


def test_images_below_counts_each_image_once_however_it_is_reached() -> None:
    # A diamond: top reaches debian through left and right, and copies from alpine too.
    graph = make_graph(
        {
            "base": ["debian:12"],
            "left": ["base"],
            "right": ["base", "copy:alpine:3"],
            "top": ["left", "copy:right", "mount:alpine:3"],
            "other": ["alpine:3"],
        }
    )
    root = parse(graph._repr_html_())
    bases = {r[0]: r[1:] for r in rows(table(root, "image", "used directly by", "images on it"))}
    assert bases == {"debian:12": ["1", "4"], "alpine:3": ["3", "3"]}


def test_images_below_equals_descendants_on_a_tangled_graph() -> None:
    spec: dict[str, list[str]] = {}
    externals = ["debian:12", "alpine:3", "busybox:1", "ubuntu:24.04", "golang:1"]
    for i in range(120):
        parents = [externals[i % 5]] if i < 10 else [f"b{(i * 7) % i}", f"copy:b{(i * 13) % i}"]
        if i % 9 == 0:
            parents.append(f"mount:{externals[(i // 9) % 5]}")
        spec[f"b{i}"] = parents
    graph = make_graph(spec)
    nx_graph = graph.nx
    nodes = sorted(n for n in graph.images if graph.is_external(n))
    counts = _images_below(nodes, nx_graph.succ)
    assert counts == [len(nx.descendants(nx_graph, n)) for n in nodes]


def test_graph_html_counts_exactly_only_the_images_it_shows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Debian under everything, alpine copied into every other app, and a tool
    # copied into each: 32 external images, of which the table shows 10.
    spec: dict[str, list[str]] = {"base": ["debian:12"]}
    for i in range(30):
        spec[f"app{i:02d}"] = ["base", f"copy:tool{i:02d}:1"] + (["copy:alpine:3"] * (i % 2))
    graph = make_graph(spec)
    walked: list[list[str]] = []
    walk = render_html._images_below

    def counting(externals: Iterable[str], *rest: object) -> list[int]:
        walked.append(list(externals))
        return walk(walked[-1], *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(render_html, "_images_below", counting)
    html = graph._repr_html_()
    assert graph._repr_html_() == html  # worked out once, kept on the graph
    # One walk per row shown, not one bit per external image on every image.
    assert [len(externals) for externals in walked] == [_FEW]
    root = parse(html)
    assert facts(root)["external images"] == "32"
    bases = rows(table(root, "image", "used directly by", "images on it"))
    assert bases[:2] == [["debian:12", "1", "31"], ["alpine:3", "15", "15"]]
    assert [name for name, _, _ in bases[2:]] == [f"tool{i:02d}:1" for i in range(8)]
    for name, direct, below in bases:
        assert int(direct) == len(graph.children(name))
        assert int(below) == len(graph.descendants(name))
    assert "… external images not shown: 22; see graph.external_bases()" in text(root)


def test_graph_html_of_many_external_images_takes_little_memory() -> None:
    # 6,000 apps on one base, each copying from its own tool: a summary with a
    # set of external images per image would hold 6,000 x 6,000 bits.
    count = 6000
    builds = [
        ImageBuild(
            "base",
            "base/Dockerfile",
            "base",
            (ImageRef.parse("acme/base:1"),),
            dockerfile_inline="FROM debian:12",
        )
    ]
    builds += [
        ImageBuild(
            f"app{i}",
            f"app{i}/Dockerfile",
            f"app{i}",
            dockerfile_inline=f"FROM acme/base:1\nCOPY --from=tool{i}:1 /a /a",
        )
        for i in range(count)
    ]
    graph = ImageGraph.from_builds(builds)
    make_graph({"a": ["debian:12"]})._repr_html_()  # imports and caches, outside the measure
    tracemalloc.start()
    try:
        html = graph._repr_html_()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 3_000_000, f"{peak:,} bytes"  # 1.1 MB; 6.8 MB with a set per image
    bases = rows(table(parse(html), "image", "used directly by", "images on it"))
    assert bases[0] == ["debian:12", "1", f"{count + 1:,}"]
    assert bases[1] == ["tool0:1", "1", "1"]


def test_plan_html_puts_every_build_in_its_wave(fleet: ImageGraph) -> None:
    plan = fleet.plan(["debian:bookworm"], durations={"api": 240})
    root = parse(plan._repr_html_())
    header = text(root.find("p"))  # type: ignore[arg-type]
    assert header == "Rebuild after debian:bookworm: 18 builds in 4 waves"
    waves = table(root, "wave", "build", "because of")
    bodies = waves.findall("tbody")
    assert len(bodies) == len(plan.waves) == 4
    for number, (body, wave) in enumerate(zip(bodies, plan.waves, strict=True), start=1):
        trs = body.findall("tr")
        label = trs[0][0]
        assert label.text == str(number)
        assert label.get("rowspan") == str(len(wave))
        assert text(label).endswith(f"{len(wave)} build" + ("s" if len(wave) > 1 else ""))
        names = [text(tr[-2]) for tr in trs]
        assert names == [planned.name for planned in wave]
    why = {text(tr[-2]): text(tr[-1]) for tr in waves.iter("tr") if tr.find("td") is not None}
    assert why["debian"] == "debian:bookworm"
    assert why["worker"] == "debian:bookworm → debian → python-3.11-bookworm → app-base-python-3.11"
    assert rows(table(root, "change", "matches")) == [["debian:bookworm", "debian:bookworm"]]
    shown = facts(root)
    assert shown["critical path"] == "16m 00s: debian → jdk → jvm-base → billing"
    assert shown["makespan"] == "16m 00s"
    assert shown["estimated"].startswith("17 builds without a duration")


def test_plan_html_of_everything_lists_tags(fleet: ImageGraph) -> None:
    plan = fleet.plan()
    root = parse(plan._repr_html_())
    assert text(root.find("p")) == "Rebuild everything: 25 builds in 4 waves"  # type: ignore[arg-type]
    waves = table(root, "wave", "build", "tags")
    tags = {text(tr[-2]): text(tr[-1]) for tr in waves.iter("tr") if tr.find("td") is not None}
    assert len(tags) == 25
    assert tags["debian"] == "registry.acme.internal/platform/debian:bookworm"


def test_plan_html_shows_file_causes_and_possibly_affected(fleet: ImageGraph) -> None:
    files = fleet.plan([FileChange.of(["runtimes/python/install-python.sh"])])
    why = {
        r[-2]: r[-1] for r in rows(table(parse(files._repr_html_()), "wave", "build", "because of"))
    }
    assert why["python-3.12-bookworm"] == (
        "runtimes/python/install-python.sh: COPY install-python.sh "
        "(runtimes/python/Dockerfile:18, stage runtime)"
    )
    package = fleet.plan([PackageChange.named("openssl", below="3.0.13")])
    root = parse(package._repr_html_())
    assert rows(table(root, "image", "why")) == [
        ["reports", "openssl, version not known (apps/reports/Dockerfile:3): openssl below 3.0.13"]
    ]
    assert rows(table(root, "change", "matches")) == [["openssl below 3.0.13", "debian:bookworm"]]


def test_impact_html(fleet: ImageGraph) -> None:
    impact = fleet.impact(["debian"])
    root = parse(impact._repr_html_())
    shown = facts(root)
    assert shown["to rebuild"] == "18"
    assert shown["changed"] == "2 (1 external image)"  # the build debian and debian:bookworm
    assert shown["possibly affected"] == "0"
    assert rows(table(root, "change", "matches")) == [["debian", "debian, debian:bookworm"]]
    affected = rows(table(root, "build", "because of"))
    assert [name for name, _ in affected] == list(impact.affected)
    assert dict(affected)["debian"] == "changed"
    assert dict(affected)["api"] == "debian → python-3.12-bookworm"


def test_impact_html_of_a_change_that_matches_nothing(fleet: ImageGraph) -> None:
    # an image that matches nothing is an error: a package no image ships is the empty answer
    root = parse(fleet.impact([PackageChange.named("nothing-1")])._repr_html_())
    assert rows(table(root, "change", "matches")) == [["nothing-1", "nothing"]]
    assert facts(root)["to rebuild"] == "0"
    diagnostics = rows(table(root, "severity", "code", "where", "message"))
    assert [r[:2] for r in diagnostics] == [["warning", "change-matches-nothing"]]
    headers = [[text(th) for th in t.iterfind("thead/tr/th")] for t in root.iter("table")]
    assert ["build", "because of"] not in headers  # no table of builds to rebuild


def test_undetermined_builds_are_shown() -> None:
    graph = ImageGraph.from_builds(
        [
            ImageBuild("base", "base/Dockerfile", "base", dockerfile_inline="FROM debian:12"),
            ImageBuild(
                "free", "free/Dockerfile", "free", dockerfile_inline="ARG BASE\nFROM ${BASE}"
            ),
        ]
    )
    root = parse(graph._repr_html_())
    assert facts(root)["undetermined"] == "1"
    assert rows(table(root, "build", "unresolved parent")) == [["free", "${BASE}"]]
    impact = graph.impact(["debian:12"])
    root = parse(impact._repr_html_())
    assert rows(table(root, "build", "unresolved parent")) == [["free", "${BASE}"]]
    frame = impact.to_pandas()
    assert frame.set_index("image").loc["free", "status"] == "undetermined"
    assert frame.set_index("image").loc["free", "cause"] == ("${BASE}",)


def test_html_escapes_names_paths_and_messages() -> None:
    evil = "<script>alert('x')</script>"
    graph = ImageGraph.from_builds(
        [
            ImageBuild(
                evil,
                "<b>/Dockerfile",
                "ctx",
                (ImageRef.parse("acme/evil:1"),),
                dockerfile_inline="FROM debian:12\nCOPY --from=<img> /a /b",
            ),
            ImageBuild("app", "app/Dockerfile", "app", dockerfile_inline="FROM acme/evil:1"),
        ]
    )
    outputs = [
        graph._repr_html_(),
        graph.plan(["debian:12"])._repr_html_(),
        graph.plan()._repr_html_(),
        graph.impact(["debian:12", evil])._repr_html_(),
        graph.packages(evil)._repr_html_(),
    ]
    assert "&lt;b&gt;/Dockerfile:2" in outputs[0]  # the diagnostic's path
    assert "COPY &lt;img&gt;" in outputs[0]  # and its message
    for html in outputs:
        assert "<script" not in html
        assert "<b>" not in html
        assert "<img" not in html
        parse(html)
    plan = parse(outputs[1])
    assert [r[-2] for r in rows(table(plan, "wave", "build", "because of"))] == [evil, "app"]
    assert "&lt;script&gt;" in outputs[1]


def test_html_replaces_characters_xml_cannot_hold() -> None:
    odd = "y\x0cz\x01"  # a form feed and a start of heading: no XML document may hold them
    graph = ImageGraph.from_builds(
        [
            ImageBuild(
                odd,
                f"{odd}/Dockerfile",
                odd,
                (ImageRef.parse("acme/odd:1"),),
                dockerfile_inline="FROM debian:12\nCOPY --from=busy\x1bbox /a /b",
            ),
            ImageBuild("app", "app/Dockerfile", "app", dockerfile_inline="FROM acme/odd:1"),
        ]
    )
    found = Findings(
        [Finding("isolated-build", Severity.INFO, odd, f"{odd}/Dockerfile", 1, f"{odd} \ud800")]
    )
    outputs = {
        "graph": graph._repr_html_(),
        "findings": found._repr_html_(),
        "impact": graph.impact(["debian:12"])._repr_html_(),
        "plan": graph.plan(["debian:12"])._repr_html_(),
        "everything": graph.plan()._repr_html_(),
        "packages": graph.packages(odd)._repr_html_(),
    }
    for name, html in outputs.items():
        root = parse(html)  # well-formed
        assert "y\ufffdz\ufffd" in text(root), name
    assert "busy\ufffdbox" in text(parse(outputs["graph"]))  # a diagnostic's message
    findings = rows(
        table(parse(outputs["findings"]), "severity", "code", "image", "where", "what to do")
    )
    assert findings == [
        [
            "info",
            "isolated-build",
            "y\ufffdz\ufffd",
            "y\ufffdz\ufffd/Dockerfile:1",
            "y\ufffdz\ufffd \ufffd",
        ]
    ]
    plan = parse(outputs["plan"])
    assert [r[-2] for r in rows(table(plan, "wave", "build", "because of"))] == [
        "y\ufffdz\ufffd",
        "app",
    ]


@pytest.mark.parametrize(
    ("severities", "said"),
    [
        ([], "none"),
        (["info"], "1 info"),
        (["info", "info"], "2 info"),
        (["warning"], "1 warning"),
        (["warning"] * 3, "3 warnings"),
        (["error"], "1 error"),
        (["error", "error", "warning", "info", "info"], "2 errors, 1 warning, 2 info"),
    ],
)
def test_findings_html_counts_severities_as_the_repr_does(severities: list[str], said: str) -> None:
    found = Findings(
        Finding("unpinned-base", Severity(s), f"b{i}", f"b{i}/Dockerfile", 1, "FROM debian")
        for i, s in enumerate(severities)
    )
    html = found._repr_html_()
    assert text(parse(html).find("p")) == f"Findings: {said}"  # type: ignore[arg-type]
    assert "infos" not in html


def test_huge_plans_and_impacts_are_capped() -> None:
    graph = wide(3000)
    plan = graph.plan(["debian:bookworm"])
    assert [len(w) for w in plan.waves] == [1, 3000]
    html = plan._repr_html_()
    assert len(html) < 20_000
    root = parse(html)
    body = table(root, "wave", "build", "because of").findall("tbody")
    assert len(body) == 2
    second = body[1].findall("tr")
    assert len(second) == ROWS // 2 + 1  # the first builds, then how many more
    assert text(second[-1]) == f"… and {3000 - ROWS // 2:,} more in wave 2"
    assert [text(tr[-2]) for tr in second[1:-1]] == [p.name for p in plan.waves[1][1 : ROWS // 2]]

    impact = graph.impact(["debian:bookworm"])
    html = impact._repr_html_()
    assert len(html) < 20_000
    root = parse(html)
    assert len(rows(table(root, "build", "because of"))) == ROWS
    assert f"… builds not shown: {3001 - ROWS:,}; use .to_pandas()" in text(root)


def test_plans_of_many_waves_show_the_first_ones() -> None:
    chain = {f"step-{i:03d}": [f"step-{i - 1:03d}" if i else "debian:12"] for i in range(60)}
    plan = make_graph(chain).plan(["debian:12"])
    assert len(plan.waves) == 60
    root = parse(plan._repr_html_())
    # 60 builds, more than a table shows: the first 20 waves, then a count of the rest.
    assert len(table(root, "wave", "build", "because of").findall("tbody")) == 20
    assert "… waves with 40 builds not shown: 40; use .to_pandas()" in text(root)


def test_graph_html_of_an_empty_graph() -> None:
    root = parse(ImageGraph.from_builds([])._repr_html_())
    assert facts(root)["builds"] == "0"


# -- repr ---------------------------------------------------------------------


def test_reprs_are_short(fleet: ImageGraph) -> None:
    assert repr(fleet) == "<ImageGraph 25 builds, 11 external images, 38 edges, 0 diagnostics>"
    plan = fleet.plan(["debian:bookworm"])
    assert repr(plan) == "<RebuildPlan 18 builds in 4 waves after debian:bookworm>"
    assert repr(plan.impact) == "<Impact debian:bookworm: 18 affected, 1 changed, 0 possibly>"
    assert repr(fleet.plan()) == "<RebuildPlan 25 builds in 4 waves, rebuilding everything>"
    one = make_graph({"a": ["debian:12"]}).plan(["debian:12"])
    assert repr(one) == "<RebuildPlan 1 build in 1 wave after debian:12>"


def test_reprs_stay_short_for_many_changes_and_builds() -> None:
    graph = wide(2000)
    changes = [f"acme/app-{i}:1" for i in range(500)]
    plan = graph.plan(changes)
    assert len(plan) == 500
    shown = repr(plan)
    assert shown.startswith("<RebuildPlan 500 builds in 1 wave after acme/app-0:1, acme/app-1:1")
    assert shown.endswith(" more>")
    assert len(shown) < 160
    assert len(repr(plan.impact)) < 160
    long = "acme/" + "x" * 200 + ":1"
    assert (
        repr(graph.impact([PackageChange.named(long)]))
        == f"<Impact {long[:79]}…: 0 affected, 0 changed, 0 possibly>"
    )


def test_reprs_keep_equality(fleet: ImageGraph) -> None:
    assert fleet.plan(["debian:bookworm"]) == fleet.plan(["debian:bookworm"])
    assert fleet.impact(["debian"]) == fleet.impact(["debian"])


# -- packages ---------------------------------------------------------------


def test_package_list_is_a_tuple(fleet: ImageGraph) -> None:
    packages = fleet.packages("api")
    assert isinstance(packages, PackageList)
    assert isinstance(packages, tuple)
    assert packages == tuple(packages)
    assert packages.image == "api"
    again = pickle.loads(pickle.dumps(packages))
    assert again == packages
    assert again.image == "api"
    assert type(again) is PackageList
    own = sum(1 for p in packages if p.inherited_from is None)
    assert repr(packages) == (
        f"<PackageList api, {len(packages)} packages: {own} own, {len(packages) - own} inherited>"
    )


def test_package_list_html_and_frame(fleet: ImageGraph) -> None:
    packages = fleet.packages("api")
    root = parse(packages._repr_html_())
    assert text(root.find("p")).startswith(  # type: ignore[arg-type]
        f"Packages of api: {len(packages)} packages"
    )
    listed = rows(table(root, "name", "version", "ecosystem", "source", "where", "inherited from"))
    assert [r[0] for r in listed] == [p.name for p in packages]
    by_name = {r[0]: r for r in listed}
    assert by_name["openssl"][1:] == [
        "3.0.11-1~deb12u2",
        "deb",
        "sbom",
        "sboms/debian-bookworm.cdx.json",
        "debian:bookworm",
    ]
    assert by_name["api"][5] == "own"

    frame = packages.to_pandas()
    assert len(frame) == len(packages)
    assert list(frame.columns) == [
        "image",
        "name",
        "version",
        "ecosystem",
        "source",
        "where",
        "inherited_from",
        "purl",
        "constraint",
    ]
    assert set(frame["image"]) == {"api"}
    assert frame["purl"].tolist() == [p.purl for p in packages]
    assert frame["inherited_from"].isna().sum() == sum(p.inherited_from is None for p in packages)
    openssl = frame.set_index("name").loc["openssl"]
    assert openssl["inherited_from"] == "docker.io/library/debian:bookworm"


def test_package_lists_of_many_images_concatenate(fleet: ImageGraph) -> None:
    images = ["api", "worker", "docker.io/library/debian:bookworm"]
    frame = pd.concat([fleet.packages(image).to_pandas() for image in images], ignore_index=True)
    assert frame.groupby("image").size().to_dict() == {i: len(fleet.packages(i)) for i in images}


# -- DataFrames ---------------------------------------------------------------


def test_graph_frames(fleet: ImageGraph) -> None:
    nodes, edges = fleet.to_pandas()
    assert nodes["image"].tolist() == fleet.images
    assert nodes["kind"].value_counts().to_dict() == {"build": 25, "external": 11}
    assert isinstance(nodes["kind"].dtype, pd.CategoricalDtype)
    by_image = nodes.set_index("image")
    for build in fleet.builds:
        row = by_image.loc[build.name]
        assert row["name"] == build.name
        assert row["dockerfile"] == build.dockerfile
        assert row["origin"] == build.origin
        assert row["tags"] == tuple(str(tag) for tag in build.tags)
        assert row["platforms"] == build.platforms
        base = fleet.base(build.name)
        assert row["base"] == base if base is not None else pd.isna(row["base"])
        assert row["parents"] == len(fleet.parents(build.name))
        assert row["children"] == len(fleet.children(build.name))
        parents = fleet.parents(build.name)
        expected = 1 + max(by_image.loc[p, "layer"] for p in parents) if parents else 0
        assert row["layer"] == expected
    debian = by_image.loc["docker.io/library/debian:bookworm"]
    assert (debian["name"], debian["kind"], debian["layer"], debian["tags"]) == (
        "debian:bookworm",
        "external",
        0,
        (),
    )
    assert debian["children"] == 1
    assert by_image.loc["api", "base"] == "app-base-python-3.12"

    uses = [use for p, c in fleet.nx.edges for use in fleet.edges(p, c)]
    assert len(edges) == len(uses) == 38
    assert list(edges.columns) == [
        "parent",
        "child",
        "kind",
        "path",
        "line",
        "text",
        "stage",
        "value",
    ]
    assert str(edges["line"].dtype) == "Int64"
    assert edges["kind"].value_counts().to_dict() == {
        "from": 27,
        "copy": 5,
        "context": 5,
        "mount": 1,
    }
    # pandas shows None as NaN or <NA>; read them back as None to compare.
    plain = edges.astype(object).where(edges.notna(), None)
    assert list(plain.itertuples(index=False, name=None)) == [
        (u.parent, u.child, u.kind, u.path, u.line, u.text, u.stage, u.value)
        for parent in fleet.images
        for child in fleet.children(parent)
        for u in fleet.edges(parent, child)
    ]


def test_graph_frames_filter_and_group(fleet: ImageGraph) -> None:
    nodes, edges = fleet.to_pandas()
    # What is built straight on an external image, per image.
    on_external = edges[edges["parent"].isin(nodes.loc[nodes["kind"] == "external", "image"])]
    assert set(on_external.loc[on_external["kind"] == "from", "child"]) == {
        c for base, users in fleet.external_bases().items() for c in users
        if any(u.kind == "from" for u in fleet.edges(base, c))
    }  # fmt: skip
    # Tuples group and explode.
    by_tags = nodes.explode("tags").dropna(subset=["tags"])
    assert len(by_tags) == sum(len(b.tags) for b in fleet.builds)
    assert nodes.groupby("tags").size().sum() == len(nodes)


def test_plan_frame(fleet: ImageGraph) -> None:
    plan = fleet.plan(["debian:bookworm"], durations={"api": 240, "debian": 60})
    frame = plan.to_pandas()
    assert len(frame) == len(plan) == 18
    assert frame["build"].tolist() == [p.name for p in plan]
    assert frame["wave"].tolist() == [p.wave + 1 for p in plan]
    assert frame.groupby("wave")["build"].apply(list).tolist() == plan.names()
    assert frame["needs"].tolist() == [p.needs for p in plan]
    assert frame["tags"].tolist() == [tuple(str(t) for t in p.build.tags) for p in plan]
    assert frame["platforms"].tolist() == [p.build.platforms for p in plan]
    assert frame["dockerfile"].tolist() == [p.build.dockerfile for p in plan]
    assert plan.impact is not None
    assert frame["reason"].tolist() == [plan.impact.reason(p.name) for p in plan]
    assert frame["chain_length"].tolist() == [len(p.reason) for p in plan]
    assert set(frame["changed_image"]) == {"docker.io/library/debian:bookworm"}
    assert plan.schedule is not None
    assert frame.loc[frame["critical"], "build"].tolist() == list(plan.schedule.critical_path)
    assert set(frame.loc[~frame["estimated"], "build"]) == {"api", "debian"}


def test_plan_frame_of_everything_and_of_files(fleet: ImageGraph) -> None:
    everything = fleet.plan().to_pandas()
    assert len(everything) == 25
    assert everything["reason"].isna().all()
    assert "critical" not in everything.columns
    files = fleet.plan([FileChange.of(["runtimes/python/install-python.sh"])])
    frame = files.to_pandas().set_index("build")
    row = frame.loc["python-3.12-bookworm"]
    assert row["reason"] == "python-3.12-bookworm (changed)"
    assert row["chain_length"] == 0
    assert row["cause"] == (
        "runtimes/python/install-python.sh: COPY install-python.sh "
        "(runtimes/python/Dockerfile:18, stage runtime)",
    )
    assert frame.loc["api", "changed_image"] == "python-3.12-bookworm"


def test_impact_frame(fleet: ImageGraph) -> None:
    impact = fleet.plan([PackageChange.named("openssl", below="3.0.13")]).impact
    assert impact is not None
    frame = impact.to_pandas()
    everything = set(impact.changed) | set(impact.affected) | set(impact.possibly)
    assert set(frame["image"]) == everything
    assert len(frame) == len(everything) == 20
    assert frame["image"].is_unique
    assert frame["status"].value_counts().to_dict() == {
        "affected": 18,
        "changed": 1,
        "possibly": 1,
        "undetermined": 0,
    }
    assert set(frame.loc[frame["rebuild"], "image"]) == set(impact.affected)
    rows_by_image = frame.set_index("image")
    debian = rows_by_image.loc["docker.io/library/debian:bookworm"]
    assert (debian["status"], debian["rebuild"], debian["chain_length"]) == ("changed", False, 0)
    assert debian["cause"] == impact.causes["docker.io/library/debian:bookworm"]
    worker = rows_by_image.loc["worker"]
    assert worker["reason"] == impact.reason("worker")
    assert worker["chain_length"] == len(impact.reasons["worker"])
    reports = rows_by_image.loc["reports"]
    assert reports["status"] == "possibly"
    assert reports["cause"] == impact.possibly["reports"]
    assert pd.isna(reports["chain_length"])
    # Ordered statuses sort changed first.
    assert frame.sort_values("status")["status"].iloc[0] == "changed"


def test_findings_frame_orders_severities_least_severe_first(fleet: ImageGraph) -> None:
    frame = fleet.findings().to_pandas()
    assert list(frame.columns) == ["code", "severity", "image", "path", "line", "message"]
    assert list(frame["severity"].cat.categories) == ["info", "warning", "error"]
    assert frame["severity"].cat.ordered
    # at least as severe as a warning: warnings and errors, as Findings.at_or_above says
    serious = frame[frame["severity"] >= "warning"]
    assert sorted(serious["code"]) == sorted(
        f.code for f in fleet.findings().at_or_above("warning")
    )
    assert set(serious["severity"]) == {"warning"}
    assert set(frame[frame["severity"] < "warning"]["severity"]) == {"info"}
    assert frame.sort_values("severity", ascending=False)["severity"].iloc[0] == "warning"


def test_empty_frames_have_their_columns(fleet: ImageGraph) -> None:
    plan = fleet.plan([PackageChange.named("nothing-1")])
    frame = plan.to_pandas()
    assert len(frame) == 0
    assert list(frame.columns)[:3] == ["wave", "build", "tags"]
    assert frame["platforms"].dtype == object
    assert plan.impact is not None
    assert len(plan.impact.to_pandas()) == 0
    nodes, edges = ImageGraph.from_builds([]).to_pandas()
    assert (len(nodes), len(edges)) == (0, 0)
    assert "image" in nodes.columns


def test_big_graph_converts() -> None:
    graph = wide(2000, children=2000)
    nodes, edges = graph.to_pandas()
    frame = graph.plan().to_pandas()
    assert len(nodes) == 4002
    assert len(edges) == 4001
    assert frame["wave"].value_counts().sort_index().tolist() == [1, 2000, 2000]


def test_missing_pandas_says_which_extra(
    fleet: ImageGraph, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = fleet.plan(["debian:bookworm"])
    assert plan.impact is not None
    monkeypatch.setitem(sys.modules, "pandas", None)
    for convert in (
        fleet.to_pandas,
        plan.to_pandas,
        plan.impact.to_pandas,
        fleet.packages("api").to_pandas,
    ):
        with pytest.raises(MissingExtra) as caught:
            convert()
        assert isinstance(caught.value, ImageGraphError)
        assert isinstance(caught.value, ImportError)
        assert str(caught.value) == (
            "to_pandas() needs pandas, which is not installed: pip install 'imagegraph[pandas]'"
        )
    # The HTML needs no pandas.
    assert "<table>" in plan._repr_html_()
    again = pickle.loads(pickle.dumps(MissingExtra("pandas")))
    assert str(again) == str(MissingExtra("pandas"))


def test_importing_imagegraph_loads_neither_pandas_nor_the_renderer() -> None:
    code = (
        "import sys, imagegraph; "
        "print(sorted(m for m in ('pandas', 'imagegraph.render.html') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
