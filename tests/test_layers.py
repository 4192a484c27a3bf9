"""Layers, foundations and summaries of the image graph (imagegraph.layers)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagegraph import ImageBuild, ImageGraph, ImageRef, PackageChange, UnknownImage, scan
from imagegraph.layers import (
    NO_BASE,
    collapse,
    depths,
    foundation,
    foundations,
    grouped,
    layer_depths,
)

from .fleets import make_graph

FLEET = "examples/fleet"
DEBIAN = "docker.io/library/debian:bookworm"

LAYERED = {
    "os": ["debian:bookworm"],
    "python": ["os"],
    "node": ["os"],
    "api": ["python", "copy:ghcr.io/grpc-ecosystem/grpc-health-probe:v0.4.28"],
    "runner": ["os", "copy:node", "mount:python"],
    "static": [],  # FROM scratch
    "on-static": ["static"],
}


def inline(name: str, text: str, *tags: str, **fields: object) -> ImageBuild:
    return ImageBuild(
        name=name,
        dockerfile=f"{name}/Dockerfile",
        context=name,
        tags=tuple(ImageRef.parse(t) for t in tags),
        dockerfile_inline=text,
        **fields,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def fleet() -> ImageGraph:
    return scan(FLEET, cache=False)


# -- depths -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "depth"),
    [
        (DEBIAN, 0),
        ("ghcr.io/grpc-ecosystem/grpc-health-probe:v0.4.28", 0),  # copied from only: still 0
        ("os", 1),
        ("python", 2),
        ("node", 2),
        ("api", 3),  # its deepest parent decides, not the copy source at 0
        ("runner", 3),  # FROM os (1), but copies node and mounts python (2)
        ("static", 1),  # FROM scratch: a build is never in the external layer
        ("on-static", 2),
    ],
)
def test_depths_of_a_layered_fleet(image: str, depth: int) -> None:
    assert depths(make_graph(LAYERED))[image] == depth


def test_depths_come_in_topological_order_and_edges_go_up(fleet: ImageGraph) -> None:
    found = depths(fleet)
    assert sorted(found) == fleet.images
    position = {node: i for i, node in enumerate(found)}
    for parent, child in fleet.nx.edges:
        assert position[parent] < position[child]
        assert found[parent] < found[child]
    for node in fleet.images:
        parents = fleet.parents(node)
        expected = 0 if fleet.is_external(node) else 1 + max((found[p] for p in parents), default=0)
        assert found[node] == expected
    externals = {n for n in fleet.images if fleet.is_external(n)}
    assert {n for n, d in found.items() if d == 0} == externals
    assert (found["debian"], found["python-3.11-bookworm"], found["worker"]) == (1, 2, 4)


def test_depths_of_a_subset_count_only_its_edges() -> None:
    graph = make_graph(LAYERED)
    subset = layer_depths(graph.nx, within={"python", "api", "os"})
    assert subset == {"os": 1, "python": 2, "api": 3}
    # Without os, python is a root of the subset: a build, so layer 1.
    assert layer_depths(graph.nx, within={"python", "api"}) == {"python": 1, "api": 2}


def test_a_long_chain_needs_no_recursion() -> None:
    graph = make_graph({"b0": ["debian:12"], **{f"b{i}": [f"b{i - 1}"] for i in range(1, 1500)}})
    assert depths(graph)["b1499"] == 1500
    assert foundation(graph, "b1499") == "docker.io/library/debian:12"


def test_a_cycle_has_no_layers() -> None:
    cyclic: nx.DiGraph[str] = nx.DiGraph([("a", "b"), ("b", "a")])
    nx.set_node_attributes(cyclic, "build", "kind")
    with pytest.raises(ValueError, match="cycle"):
        layer_depths(cyclic)


# -- foundations --------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("billing", DEBIAN),  # FROM jvm-base -> debian -> debian:bookworm
        ("worker", DEBIAN),
        ("web", "docker.io/nginxinc/nginx-unprivileged:1.27-alpine"),  # copies from node-20
        ("notifier", "gcr.io/distroless/static-debian12:nonroot"),  # golang is a builder stage
        ("reports", "docker.io/library/alpine:3.20"),
        (DEBIAN, DEBIAN),  # an external image is its own foundation
        ("debian:bookworm", DEBIAN),  # any spelling
        ("registry.acme.internal/platform/python:3.12-bookworm", DEBIAN),  # a tag of a build
    ],
)
def test_foundation_of_the_example_fleet(fleet: ImageGraph, image: str, expected: str) -> None:
    assert foundation(fleet, image) == expected


def test_foundations_agree_with_foundation(fleet: ImageGraph) -> None:
    found = foundations(fleet)
    assert sorted(found) == fleet.images
    assert all(found[node] == foundation(fleet, node) for node in fleet.images)


def test_scratch_and_unresolved_have_no_foundation() -> None:
    graph = ImageGraph.from_builds(
        [
            inline("static", "FROM scratch\n", "acme/static:1"),
            inline("app", "FROM acme/static:1\n"),
            inline("unknown", "ARG BASE\nFROM ${BASE}\n"),
        ]
    )
    assert [foundation(graph, name) for name in ("static", "app", "unknown")] == [None] * 3
    with pytest.raises(UnknownImage):
        foundation(graph, "nothing:here")


# -- collapse -----------------------------------------------------------------


def test_collapse_by_base_on_the_example_fleet(fleet: ImageGraph) -> None:
    impact = fleet.impact(["debian:bookworm"])
    summary = collapse(fleet, "base", impact)
    assert list(summary) == sorted(summary)
    nodes = dict(summary.nodes(data=True))
    assert sum(data["count"] for data in nodes.values()) == len(fleet.images)
    every = sorted(name for data in nodes.values() for name in (*data["builds"], *data["external"]))
    assert every == fleet.images
    debian = nodes[DEBIAN]
    assert (debian["label"], debian["count"]) == ("debian:bookworm", 18)
    assert debian["foundation"] == DEBIAN
    assert debian["external"] == (DEBIAN,)
    assert list(debian["builds"]) == sorted(debian["builds"])
    assert "billing" in debian["builds"]
    assert "web" not in debian["builds"]  # FROM nginx, though its builder stage is FROM node-20
    # The impact: 17 builds on debian rebuild, and web (nginx's group) through that stage.
    assert (debian["affected"], debian["changed"]) == (17, 1)
    nginx = nodes["docker.io/nginxinc/nginx-unprivileged:1.27-alpine"]
    assert (nginx["label"], nginx["count"], nginx["affected"]) == (
        "nginxinc/nginx-unprivileged:1.27-alpine", 2, 1,
    )  # fmt: skip
    assert nginx["builds"] == ("web",)
    # docs drifted to 1.26: its own group, and its builder stage is FROM the Alpine Python.
    drift_key = "docker.io/nginxinc/nginx-unprivileged:1.26-alpine"
    drift = nodes[drift_key]
    assert (drift["count"], drift["affected"], drift["builds"]) == (2, 0, ("docs",))
    assert sum(data["affected"] for data in nodes.values()) == len(impact.affected)
    assert sum(data["changed"] for data in nodes.values()) == len(impact.changed)
    # Every image edge is inside a group or counted on one edge between groups.
    inner = sum(data["inner"] for data in nodes.values())
    between = sum(data["count"] for _, _, data in summary.edges(data=True))
    assert inner + between == fleet.nx.number_of_edges() == 38
    for _, _, data in summary.edges(data=True):
        assert sum(data["kinds"].values()) == data["count"]
    assert summary.edges[DEBIAN, "docker.io/nginxinc/nginx-unprivileged:1.27-alpine"] == {
        "count": 1, "kinds": {"from": 1}, "affected": 1,  # web's stage build is FROM node-20
    }  # fmt: skip
    on_alpine = summary.edges["docker.io/library/alpine:3.20", drift_key]
    assert on_alpine == {"count": 1, "kinds": {"from": 1}, "affected": 0}  # docs's build stage
    assert list(summary.edges) == sorted(summary.edges)


def test_collapse_by_layer_on_the_example_fleet(fleet: ImageGraph) -> None:
    summary = collapse(fleet, "layer")
    assert list(summary) == ["layer 0", "layer 1", "layer 2", "layer 3", "layer 4"]
    nodes = dict(summary.nodes(data=True))
    assert [nodes[key]["layer"] for key in summary] == [0, 1, 2, 3, 4]
    assert nodes["layer 0"]["builds"] == ()
    assert len(nodes["layer 0"]["external"]) == nodes["layer 0"]["count"] == 11
    assert sum(data["count"] for data in nodes.values()) == 36
    assert all(data["inner"] == 0 for data in nodes.values())  # edges always go up a layer
    assert all(int(a.split()[1]) < int(b.split()[1]) for a, b in summary.edges)
    assert sum(data["count"] for _, _, data in summary.edges(data=True)) == 38
    assert all(data["affected"] == 0 for data in nodes.values())  # no impact, no counts


def test_collapse_within_a_subset(fleet: ImageGraph) -> None:
    impact = fleet.impact(["python-3.12-bookworm"])
    within = {*impact.reasons, *impact.changed}
    summary, group = grouped(fleet, "base", impact, within=within)
    assert sorted(group) == sorted(within)
    assert sum(data["count"] for _, data in summary.nodes(data=True)) == len(within)
    assert list(summary) == [DEBIAN]  # the subset's foundation, though debian:bookworm is not in it
    assert summary.nodes[DEBIAN]["external"] == ()
    edges = fleet.nx.subgraph(within).number_of_edges()
    assert summary.nodes[DEBIAN]["inner"] == edges
    with pytest.raises(UnknownImage):
        collapse(fleet, "base", within=["nothing-like-it"])


def test_collapse_rejects_an_unknown_grouping(fleet: ImageGraph) -> None:
    with pytest.raises(ValueError, match="'base' or 'layer'"):
        collapse(fleet, "size")  # type: ignore[arg-type]


def test_digests_of_a_tag_make_one_group_and_scratch_its_own() -> None:
    digest = "debian:12@sha256:" + "a" * 64
    graph = ImageGraph.from_builds(
        [
            inline("pinned", f"FROM {digest}\n"),
            inline("plain", "FROM debian:12\n"),
            inline("static", "FROM scratch\n", "acme/static:1"),
            inline("app", "FROM acme/static:1\nCOPY --from=debian:12 / /\n"),
        ]
    )
    summary = collapse(graph, "base")
    assert list(summary) == ["docker.io/library/debian:12", NO_BASE]
    debian = summary.nodes["docker.io/library/debian:12"]
    assert (debian["label"], debian["count"]) == ("debian:12", 4)
    assert debian["foundation"] == "docker.io/library/debian:12"  # the tag, not the digest
    assert summary.nodes[NO_BASE]["builds"] == ("app", "static")
    assert summary.nodes[NO_BASE]["foundation"] is None
    assert summary.edges["docker.io/library/debian:12", NO_BASE]["kinds"] == {"copy": 1}


def test_only_a_digest_keeps_the_digest_in_its_group() -> None:
    digest = "sha256:" + "b" * 64
    graph = ImageGraph.from_builds([inline("pinned", f"FROM alpine@{digest}\n")])
    (key,) = collapse(graph, "base")
    assert key == f"docker.io/library/alpine@{digest}"


def test_possibly_affected_builds_are_counted(fleet: ImageGraph) -> None:
    impact = fleet.impact([PackageChange.named("openssl", below="3.0.13")])
    summary = collapse(fleet, "base", impact)
    possibly = {key: data["possibly"] for key, data in summary.nodes(data=True) if data["possibly"]}
    assert possibly == {"docker.io/library/alpine:3.20": 1}  # reports, version unknown


# -- properties -----------------------------------------------------------------

EXTERNAL = ["debian:12", "alpine:3", "copy:busybox:1", "mount:golang:1.23"]


@st.composite
def fleets(draw: st.DrawFn) -> dict[str, list[str]]:
    size = draw(st.integers(min_value=1, max_value=9))
    spec: dict[str, list[str]] = {}
    for i in range(size):
        earlier = [f"b{j}" for j in range(i)]
        kinds = ["", "copy:", "mount:"]
        choices = EXTERNAL + [k + e for e in earlier for k in kinds]
        spec[f"b{i}"] = draw(st.lists(st.sampled_from(choices), max_size=3, unique=True))
    return spec


def _layer(key: str) -> int:
    return int(key.split()[1])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleets())
def test_summaries_account_for_every_image_and_edge(spec: Mapping[str, Sequence[str]]) -> None:
    graph = make_graph(spec)
    found = depths(graph)
    for parent, child in graph.nx.edges:
        assert found[parent] < found[child]
    for by in ("base", "layer"):
        summary, group = grouped(graph, by)  # type: ignore[arg-type]
        nodes = dict(summary.nodes(data=True))
        assert sum(data["count"] for data in nodes.values()) == len(graph.images)
        assert sorted(group) == graph.images
        inner = sum(data["inner"] for data in nodes.values())
        between = sum(data["count"] for _, _, data in summary.edges(data=True))
        assert inner + between == graph.nx.number_of_edges()
        for parent, child in graph.nx.edges:
            if group[parent] != group[child]:
                assert summary.has_edge(group[parent], group[child])
        if by == "layer":
            assert all(_layer(a) < _layer(b) for a, b in summary.edges)
            assert all(group[node] == f"layer {found[node]}" for node in graph.images)
        else:
            bases = foundations(graph)
            for node in graph.images:
                assert (group[node] == NO_BASE) == (bases[node] is None)
