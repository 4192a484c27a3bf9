"""Renderers: each format's content, checked against what its consumer expects."""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
import subprocess
from pathlib import Path
from textwrap import dedent

import jsonschema
import pytest
from rich.console import Console

from imagegraph import ImageBuild, ImageGraph, ImageGraphError, ImageRef, PackageChange
from imagegraph.render import graph as render_graph
from imagegraph.render import plan as render_plan

from .fleets import make_graph

FLEET = {
    "os": ["debian:bookworm"],
    "python": ["os"],
    "node": ["os"],
    "api": ["python", "copy:ghcr.io/grpc-ecosystem/grpc-health-probe:v0.4.28"],
    "runner": ["os", "copy:node", "mount:python"],
    "end": ["alpine:3"],
}


def text_of(renderable: object) -> str:
    console = Console(width=120, no_color=True, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def test_plan_json_follows_the_shipped_schema() -> None:
    changes = ["debian:bookworm", PackageChange.named("nothing-here")]
    plan = make_graph(FLEET).plan(changes, durations={"os": 5})
    data = json.loads(render_plan.to_json(plan))
    jsonschema.Draft202012Validator.check_schema(render_plan.plan_schema())
    jsonschema.validate(data, render_plan.plan_schema())
    assert data["schema"] == "imagegraph/plan/v2"
    assert data["changes"] == ["debian:bookworm", "nothing-here"]
    assert data["matched"] == {
        "debian:bookworm": ["docker.io/library/debian:bookworm"],
        "nothing-here": [],
    }
    assert [[b["name"] for b in wave["builds"]] for wave in data["waves"]] == [
        ["os"],
        ["node", "python"],
        ["api", "runner"],
    ]
    runner = data["waves"][2]["builds"][1]
    assert runner["needs"] == ["node", "os", "python"]
    assert runner["reason"] == "docker.io/library/debian:bookworm -> os -> runner"
    assert runner["wave_reason"] == "docker.io/library/debian:bookworm -> os -> node -> runner"
    assert runner["tags"] == ["docker.io/acme/runner:1"]
    assert [d["code"] for d in data["diagnostics"]] == ["change-matches-nothing"]
    assert data["schedule"]["estimated"] == ["api", "node", "python", "runner"]


def test_plan_json_of_everything_follows_the_schema() -> None:
    data = json.loads(render_plan.to_json(make_graph(FLEET).plan()))
    jsonschema.validate(data, render_plan.plan_schema())
    assert data["changes"] is None
    assert data["build_count"] == len(FLEET)


def test_schema_rejects_what_it_should() -> None:
    data = json.loads(render_plan.to_json(make_graph(FLEET).plan()))
    data["waves"][0]["builds"][0]["surprise"] = 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, render_plan.plan_schema())


def test_gha_matrix_per_wave() -> None:
    graph = ImageGraph.from_builds(
        [
            ImageBuild(
                "py", "runtimes/py/Dockerfile", "runtimes/py",
                (ImageRef.parse("acme/py:3.12"), ImageRef.parse("acme/py:3")),
                args={"V": "3.12", "A": "x"}, target="runtime",
                platforms=("linux/amd64", "linux/arm64"), dockerfile_inline="FROM debian:12\n",
            ),
            ImageBuild("app", "app/Dockerfile", "app", dockerfile_inline="FROM acme/py:3\n"),
        ]
    )  # fmt: skip
    # py has a file (what a scan reads), app an inline Dockerfile (compose dockerfile_inline)
    graph = ImageGraph.from_builds(
        [dataclasses.replace(graph.build("py"), dockerfile_inline=None), graph.build("app")]
    )
    data = json.loads(render_plan.to_gha(graph.plan()))
    assert data["waves"] == 2
    assert data["wave1"] == {
        "include": [
            {
                "name": "py",
                "context": "runtimes/py",
                "file": "runtimes/py/Dockerfile",
                "dockerfile-inline": "",
                "build-contexts": "",
                "tags": "docker.io/acme/py:3.12\ndocker.io/acme/py:3",
                "build-args": "A=x\nV=3.12",
                "target": "runtime",
                "platforms": "linux/amd64,linux/arm64",
            }
        ]
    }
    (app,) = data["wave2"]["include"]
    # never app/Dockerfile, which the repository does not have (or has for something else)
    assert (app["name"], app["file"], app["dockerfile-inline"]) == ("app", "", "FROM acme/py:3\n")


def test_gha_refuses_an_inline_dockerfile_a_step_environment_cannot_hold() -> None:
    build = ImageBuild("app", "app/Dockerfile", "app", dockerfile_inline="FROM alpine:3\n\x00")
    with pytest.raises(ImageGraphError, match=r"build 'app': inline Dockerfile .* NUL"):
        render_plan.to_gha(ImageGraph.from_builds([build]).plan())


def test_gha_refuses_a_wave_over_256() -> None:
    graph = make_graph({f"b{i}": ["alpine:3"] for i in range(257)})
    with pytest.raises(ValueError, match="max_parallel=256"):
        render_plan.to_gha(graph.plan())
    data = json.loads(render_plan.to_gha(graph.plan(max_parallel=256)))
    assert (data["waves"], len(data["wave1"]["include"]), len(data["wave2"]["include"])) == (
        2,
        256,
        1,
    )


def test_bake_file_wires_planned_parents_as_contexts() -> None:
    data = json.loads(render_plan.to_bake(make_graph(FLEET).plan(["debian:bookworm"])))
    assert data["group"] == {
        "default": {"targets": ["wave-1", "wave-2", "wave-3"]},
        "wave-1": {"targets": ["os"]},
        "wave-2": {"targets": ["node", "python"]},
        "wave-3": {"targets": ["api", "runner"]},
    }
    assert data["target"]["runner"] == {
        "context": "runner",
        "dockerfile-inline": "FROM acme/os:1 AS s0\nCOPY --from=acme/node:1 /x /x\n"
        "RUN --mount=from=acme/python:1,target=/m true\n",
        "tags": ["docker.io/acme/runner:1"],
        "contexts": {
            "acme/node:1": "target:node",
            "acme/os:1": "target:os",
            "acme/python:1": "target:python",
        },
    }


def test_bake_context_keys_are_what_buildkit_looks_up() -> None:
    graph = ImageGraph.from_builds(
        [
            ImageBuild("base", "base/Dockerfile", "base", (ImageRef.parse("acme/base"),),
                       dockerfile_inline="FROM alpine:3\n"),
            ImageBuild("app", "app/Dockerfile", "app",
                       dockerfile_inline="FROM docker.io/acme/base:latest\n"),
        ]
    )  # fmt: skip
    data = json.loads(render_plan.to_bake(graph.plan()))
    assert data["target"]["app"]["contexts"] == {"acme/base": "target:base"}
    assert data["target"]["app"]["dockerfile-inline"] == "FROM docker.io/acme/base:latest\n"


def test_makefile_dependencies() -> None:
    graph = ImageGraph.from_builds(
        [
            ImageBuild("os", "base/os/Dockerfile", "base/os", (ImageRef.parse("acme/os:1"),),
                       dockerfile_inline="FROM debian:12\n", platforms=("linux/amd64",)),
            ImageBuild("all", "apps/all/Dockerfile", "apps/all", (ImageRef.parse("acme/all:1"),),
                       args={"GREETING": "it's $HOME"}, dockerfile_inline="FROM acme/os:1\n"),
        ]
    )  # fmt: skip
    text = render_plan.to_make(graph.plan())
    assert ".PHONY: all wave-1 wave-2 os all-2" in text
    assert "\nall: wave-1 wave-2\nwave-1: os\nwave-2: all-2\n" in text
    assert "\nall-2: os\n" in text
    # Quoted for the shell, then $ doubled for make.
    assert "--build-arg 'GREETING=it'\"'\"'s $$HOME'" in text


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_runs_builds_parents_first(tmp_path: Path) -> None:
    makefile = tmp_path / "Makefile"
    makefile.write_text(render_plan.to_make(make_graph(FLEET).plan(["debian:bookworm"])))
    out = subprocess.run(
        ["make", "-s", "-f", str(makefile), "DOCKER_BUILD=echo", "wave-3"],
        check=True, capture_output=True, text=True, cwd=tmp_path,
    ).stdout  # fmt: skip
    built = [line.split()[-1] for line in out.splitlines()]
    assert sorted(built) == ["api", "node", "os", "python", "runner"]
    position = {name: i for i, name in enumerate(built)}
    assert position["os"] < position["python"] < position["api"]
    assert max(position["os"], position["node"], position["python"]) < position["runner"]


def test_plan_table_for_people() -> None:
    text = text_of(render_plan.to_rich(make_graph(FLEET).plan(["debian:bookworm"])))
    assert "Rebuild after debian:bookworm: 5 builds in 3 waves" in text
    assert "│    3 │ api    │ debian:bookworm → os → python │" in text
    # runner waits for node: the chain through node sets its wave, not the shortest one
    assert "│      │ runner │ debian:bookworm → os → node   │" in text


def test_graph_json() -> None:
    graph = make_graph({"os": ["debian:12"], "app": ["os", "copy:alpine:3"]})
    data = json.loads(render_graph.to_json(graph, graph.impact(["debian:12"])))
    assert data["schema"] == "imagegraph/graph/v1"
    nodes = {n["id"]: n for n in data["nodes"]}
    assert nodes["docker.io/library/debian:12"] == {
        "id": "docker.io/library/debian:12", "label": "debian:12", "kind": "external",
        "changed": True, "affected": False,
    }  # fmt: skip
    assert nodes["app"]["affected"] is True
    assert nodes["docker.io/library/alpine:3"]["affected"] is False
    assert [(e["parent"], e["child"], e["kind"], e["line"]) for e in data["edges"]] == [
        ("docker.io/library/alpine:3", "app", "copy", 2),
        ("docker.io/library/debian:12", "os", "from", 1),
        ("os", "app", "from", 1),
    ]


def test_dot_uses_synthetic_ids() -> None:
    graph = make_graph({"os": ["ghcr.io/acme/base:1.0"], "app": ["os", "copy:alpine:3"]})
    assert render_graph.to_dot(graph) == dedent(
        """\
        digraph imagegraph {
          rankdir=LR;
          node [fontname=Helvetica];
          n0 [label="app", shape=box];
          n1 [label="alpine:3", shape=ellipse];
          n2 [label="ghcr.io/acme/base:1.0", shape=ellipse];
          n3 [label="os", shape=box];
          n1 -> n0 [style=dashed, label="copy"];
          n2 -> n3 [style=solid];
          n3 -> n0 [style=solid];
        }
        """
    )


def test_mermaid_marks_the_blast_radius() -> None:
    graph = make_graph({"end": ["debian:12"], "app": ["end", "mount:alpine:3"]})
    assert render_graph.to_mermaid(graph, graph.impact(["debian:12"])) == dedent(
        """\
        flowchart LR
          n0["app"]
          n1("alpine:3")
          n2("debian:12")
          n3["end"]
          n1 -.->|mount| n0
          n2 --> n3
          n3 --> n0
          classDef changed fill:#f4a6a6,stroke:#c53030
          classDef affected fill:#fbd38d,stroke:#c05621
          class n2 changed
          class n0,n3 affected
        """
    )


def test_graph_tree() -> None:
    graph = make_graph({"os": ["debian:12"], "a": ["os"], "b": ["os", "a"]})
    text = text_of(render_graph.to_rich(graph))
    assert text.splitlines() == [
        "3 builds, 1 external image",
        "└── debian:12",
        "    └── os",
        "        ├── a",
        "        │   └── b",
        "        └── b (see above)",
    ]
