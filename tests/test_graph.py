"""The image graph: nodes, typed edges, queries, contexts, cycles and diagnostics."""

from __future__ import annotations

import pytest

from imagegraph import (
    GraphCycleError,
    ImageBuild,
    ImageGraph,
    ImageRef,
    UnknownImage,
)

from .fleets import make_graph


def inline(name: str, text: str, *tags: str, **fields: object) -> ImageBuild:
    return ImageBuild(
        name=name,
        dockerfile=f"{name}/Dockerfile",
        context=name,
        tags=tuple(ImageRef.parse(t) for t in tags),
        dockerfile_inline=text,
        **fields,  # type: ignore[arg-type]
    )


LAYERS = {
    "os": ["debian:bookworm"],
    "python": ["os"],
    "node": ["os"],
    "api": ["python", "copy:ghcr.io/grpc-ecosystem/grpc-health-probe:v0.4.28"],
    "web": ["node", "nginx:1.27"],
    "runner": ["os", "copy:node", "mount:python"],
}


def test_queries_on_a_layered_fleet() -> None:
    graph = make_graph(LAYERS)
    assert graph.parents("api") == [
        "ghcr.io/grpc-ecosystem/grpc-health-probe:v0.4.28",
        "python",
    ]
    assert graph.children("os") == ["node", "python", "runner"]
    assert graph.ancestors("api") == [
        "docker.io/library/debian:bookworm",
        "ghcr.io/grpc-ecosystem/grpc-health-probe:v0.4.28",
        "os",
        "python",
    ]
    assert graph.descendants("debian:bookworm") == ["api", "node", "os", "python", "runner", "web"]
    assert graph.roots() == [
        "docker.io/library/debian:bookworm",
        "docker.io/library/nginx:1.27",
        "ghcr.io/grpc-ecosystem/grpc-health-probe:v0.4.28",
    ]
    assert graph.leaves() == ["api", "runner", "web"]
    assert graph.external_bases()["docker.io/library/debian:bookworm"] == ["os"]


def test_edges_are_typed_and_located() -> None:
    graph = make_graph(LAYERS)
    assert [(e.kind, e.line, e.text) for e in graph.edges("node", "runner")] == [
        ("copy", 2, "acme/node:1")
    ]
    assert [(e.kind, e.line) for e in graph.edges("python", "runner")] == [("mount", 3)]
    (edge,) = graph.edges("os", "python")
    assert (edge.kind, edge.path, edge.where, edge.value) == (
        "from",
        "python/Dockerfile",
        "python/Dockerfile:1",
        "acme/os:1",
    )


def test_node_lookup_accepts_names_tags_and_any_spelling() -> None:
    graph = make_graph(LAYERS)
    assert graph.node("python") == "python"
    assert graph.node("acme/python:1") == "python"
    assert graph.node("docker.io/acme/python:1") == "python"
    assert graph.node("debian:bookworm") == "docker.io/library/debian:bookworm"
    assert graph.node(ImageRef.parse("index.docker.io/library/debian:bookworm")) == (
        "docker.io/library/debian:bookworm"
    )
    assert graph.is_external("debian:bookworm")
    assert graph.build("acme/api:1").name == "api"
    with pytest.raises(UnknownImage, match="'debian:trixie'"):
        graph.node("debian:trixie")
    with pytest.raises(UnknownImage):
        graph.build("debian:bookworm")


def test_the_networkx_view_is_read_only() -> None:
    graph = make_graph(LAYERS)
    view = graph.nx
    assert view.nodes["api"]["kind"] == "build"
    assert view.nodes["docker.io/library/nginx:1.27"]["kind"] == "external"
    with pytest.raises(Exception, match=r"[Ff]rozen"):
        view.add_edge("api", "web")


def test_only_the_target_stages_count() -> None:
    text = "FROM golang:1.23 AS build\nFROM alpine:3.20 AS test\nFROM gcr.io/distroless/static AS run\nCOPY --from=build /a /a\n"
    graph = ImageGraph.from_builds([inline("svc", text, target="run")])
    assert graph.parents("svc") == [
        "docker.io/library/golang:1.23",
        "gcr.io/distroless/static:latest",
    ]


def test_build_args_choose_the_base() -> None:
    text = "ARG PY=3.11\nFROM python:${PY}-slim\n"
    graph = ImageGraph.from_builds([inline("a", text), inline("b", text, args={"PY": "3.12"})])
    assert graph.parents("a") == ["docker.io/library/python:3.11-slim"]
    assert graph.parents("b") == ["docker.io/library/python:3.12-slim"]


def test_aliases_make_a_mirror_the_same_image() -> None:
    graph = ImageGraph.from_builds(
        [inline("os", "FROM mirror.corp/hub/library/debian:12\n")],
        aliases={"mirror.corp/hub": "docker.io"},
    )
    assert graph.parents("os") == ["docker.io/library/debian:12"]
    assert graph.descendants("debian:12") == ["os"]


def test_named_contexts_become_edges() -> None:
    jdk = inline("jdk", "FROM eclipse-temurin:21\n", "acme/jdk:21")
    app = inline(
        "app",
        "FROM jdk AS build\nFROM debian:12\nCOPY --from=build /a /a\n",
        contexts={"jdk": "target:jdk", "debian:12": "docker-image://debian:12@sha256:" + "a" * 64},
    )
    graph = ImageGraph.from_builds([jdk, app])
    assert graph.parents("app") == [f"docker.io/library/debian:12@sha256:{'a' * 64}", "jdk"]
    (edge,) = graph.edges("jdk", "app")
    assert (edge.kind, edge.line, edge.text) == ("context", 1, "jdk=target:jdk")


def test_a_target_context_nobody_uses_is_still_a_dependency() -> None:
    base = inline("base", "FROM alpine:3\n")
    app = inline("app", "FROM alpine:3\n", contexts={"extra": "target:base"})
    graph = ImageGraph.from_builds([base, app])
    assert graph.parents("app") == ["base", "docker.io/library/alpine:3"]


def test_local_directory_contexts_are_not_images() -> None:
    app = inline("app", "FROM base\n", contexts={"base": "./vendor/base"})
    graph = ImageGraph.from_builds([app])
    assert graph.parents("app") == []


def test_an_unknown_context_target_is_a_diagnostic() -> None:
    app = inline("app", "FROM base\n", contexts={"base": "target:nope"})
    graph = ImageGraph.from_builds([app])
    assert [d.code for d in graph.diagnostics] == ["unknown-context-target"]
    assert "'nope'" in graph.diagnostics[0].message


def test_a_cycle_names_every_image_and_dockerfile() -> None:
    with pytest.raises(GraphCycleError) as caught:
        make_graph({"a": ["c"], "b": ["a"], "c": ["b"]})
    steps = {(e.parent, e.child, e.where) for e in caught.value.cycle}
    assert steps == {
        ("a", "b", "b/Dockerfile:1"),
        ("b", "c", "c/Dockerfile:1"),
        ("c", "a", "a/Dockerfile:1"),
    }
    for name in ("a/Dockerfile:1", "b/Dockerfile:1", "c/Dockerfile:1"):
        assert name in str(caught.value)


def test_an_image_built_from_itself_is_a_cycle() -> None:
    with pytest.raises(GraphCycleError, match="app -> app"):
        make_graph({"app": ["app"]})


def test_unresolved_base_is_reported_and_kept_apart() -> None:
    graph = ImageGraph.from_builds([inline("app", "ARG BASE\nFROM ${BASE}\n")])
    assert graph.parents("app") == []
    assert graph.undetermined == {"app": ("${BASE}",)}
    assert [(d.code, d.path, d.line) for d in graph.diagnostics] == [
        ("unresolved-arg", "app/Dockerfile", 2)
    ]


def test_broken_dockerfile_keeps_the_build() -> None:
    graph = ImageGraph.from_builds([inline("app", "FROM a\nRUN <<EOF\n")])
    assert graph.images == ["app"]
    (diagnostic,) = graph.diagnostics
    assert (diagnostic.code, diagnostic.severity.value, diagnostic.line) == (
        "dockerfile-error",
        "error",
        2,
    )


def test_unknown_target_counts_every_stage() -> None:
    text = "FROM golang:1.23 AS build\nFROM alpine:3.20 AS run\n"
    graph = ImageGraph.from_builds([inline("svc", text, target="runtime")])
    assert len(graph.parents("svc")) == 2
    assert [d.code for d in graph.diagnostics] == ["unknown-target"]


def test_duplicate_tags_and_unbuilt_tags_are_diagnostics() -> None:
    graph = ImageGraph.from_builds(
        [
            inline("a", "FROM alpine:3\n", "acme/base:1"),
            inline("b", "FROM alpine:3\n", "acme/base:1"),
            inline("c", "FROM acme/base:2\n"),
            inline("d", "FROM acme/base:1\n"),
        ]
    )
    codes = [d.code for d in graph.diagnostics]
    assert codes == ["duplicate-tag", "unbuilt-tag"]
    assert graph.parents("d") == ["a"]
    assert graph.parents("c") == ["docker.io/acme/base:2"]


def test_copy_from_a_name_that_is_no_stage_is_flagged() -> None:
    text = "FROM alpine:3 AS builder\nFROM alpine:3\nCOPY --from=buidler /a /a\n"
    graph = ImageGraph.from_builds([inline("app", text)])
    (diagnostic,) = graph.diagnostics
    assert diagnostic.code == "copy-from-image"
    assert "buidler" in diagnostic.message
    assert "builder" in diagnostic.message


def test_one_tag_built_per_platform_is_no_duplicate() -> None:
    graph = ImageGraph.from_builds(
        [
            inline("linux", "FROM debian:12\n", "acme/tool:1", platforms=("linux/amd64",)),
            inline("windows", "FROM mcr.microsoft.com/windows/nanoserver:ltsc2022\n",
                   "acme/tool:1", platforms=("windows/amd64",)),
            inline("again", "FROM debian:12\n", "acme/tool:1", platforms=("linux/amd64",)),
        ]
    )  # fmt: skip
    assert [d.code for d in graph.diagnostics] == ["duplicate-tag"]
    assert "'again'" in graph.diagnostics[0].message


def test_the_base_is_what_the_final_stage_starts_from() -> None:
    text = (
        "FROM golang:1.23 AS build\nFROM acme/os:1 AS os\nFROM os AS run\n"
        "COPY --from=build /a /a\nFROM scratch AS static\nCOPY --from=build /a /a\n"
    )
    graph = ImageGraph.from_builds(
        [
            inline("os", "FROM debian:12\n", "acme/os:1"),
            inline("svc", text, target="run"),
            inline("static", text, target="static"),
            inline("mystery", "ARG B\nFROM $B\n"),
        ]
    )
    assert graph.base("svc") == "os"
    assert graph.base("os") == "docker.io/library/debian:12"
    assert graph.base("static") is None
    assert graph.base("mystery") is None
