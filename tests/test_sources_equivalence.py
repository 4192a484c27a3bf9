"""One fleet declared in each format gives the same graph.

The Dockerfiles are the same every time; only the declaration changes:
imagegraph.toml, docker-bake.hcl, docker-bake.json, compose.yaml, and a
docker-library manifest per repository. The graphs are compared by what they mean: for
each edge, the tags of the parent (or the external reference), the tags of
the child, and the kind of use.
"""

from __future__ import annotations

import json
from pathlib import Path
from textwrap import dedent

import pytest

from imagegraph import ImageGraph, scan

DOCKERFILES = {
    "base/Dockerfile": "FROM debian:bookworm\nRUN apt-get update\n",
    "python/Dockerfile": "ARG BASE=acme/base:1\nFROM ${BASE}\nRUN apt-get install -y python3\n",
    "api/Dockerfile": (
        "FROM acme/python:3.12 AS build\nRUN pip wheel .\n"
        "FROM acme/base:1\nCOPY --from=build /w /w\n"
        "COPY --from=ghcr.io/grpc-ecosystem/grpc-health-probe:v0.4.28 /p /p\n"
    ),
    "web/Dockerfile": "FROM node:20 AS build\nFROM nginx:1.27\nCOPY --from=build /d /d\n",
}

IMAGEGRAPH_TOML = """\
    [[image]]
    name = "base"
    context = "base"
    tags = ["acme/base:1"]

    [[image]]
    name = "python"
    context = "python"
    tags = ["acme/python:3.12"]

    [[image]]
    name = "api"
    context = "api"
    tags = ["acme/api:1"]

    [[image]]
    name = "web"
    context = "web"
    tags = ["acme/web:1"]
    """

BAKE_HCL = """\
    group "default" {
      targets = ["base", "python", "api", "web"]
    }
    target "base" {
      context = "base"
      tags = ["acme/base:1"]
    }
    target "python" {
      context = "python"
      tags = ["acme/python:3.12"]
    }
    target "api" {
      context = "api"
      tags = ["acme/api:1"]
    }
    target "web" {
      context = "web"
      tags = ["acme/web:1"]
    }
    """

BAKE_JSON = json.dumps(
    {
        "group": {"default": {"targets": ["base", "python", "api", "web"]}},
        "target": {
            "base": {"context": "base", "tags": ["acme/base:1"]},
            "python": {"context": "python", "tags": ["acme/python:3.12"]},
            "api": {"context": "api", "tags": ["acme/api:1"]},
            "web": {"context": "web", "tags": ["acme/web:1"]},
        },
    },
    indent=2,
)

COMPOSE = """\
    services:
      base:
        build: base
        image: acme/base:1
      python:
        build:
          context: python
        image: acme/python:3.12
      api:
        build: ./api
        image: acme/api:1
      web:
        build:
          context: web
          dockerfile: Dockerfile
        image: acme/web:1
      db:
        image: postgres:16
    """


def library(tag: str, directory: str) -> str:
    return (
        "Maintainers: Platform Team <platform@example.com> (@platform)\n"
        "GitRepo: https://example.com/acme/images.git\n"
        "GitCommit: 0123456789abcdef0123456789abcdef01234567\n\n"
        f"Tags: {tag}\nDirectory: {directory}\n"
    )


LIBRARY = {
    "imagegraph.toml": "".join(
        f'[[manifests]]\nformat = "library"\npath = "library/{name}"\nrepository = "acme/{name}"\n\n'
        for name in ("base", "python", "api", "web")
    ),
    "library/base": library("1", "base"),
    "library/python": library("3.12", "python"),
    "library/api": library("1", "api"),
    "library/web": library("1", "web"),
}


def meaning(graph: ImageGraph) -> set[tuple[str, str, str]]:
    def name(node: str) -> str:
        if graph.is_external(node):
            return node
        tags = graph.build(node).tags
        return ",".join(sorted(str(t) for t in tags))

    return {
        (name(parent), name(child), edge.kind)
        for parent in graph.images
        for child in graph.children(parent)
        for edge in graph.edges(parent, child)
    }


EXPECTED = {
    ("docker.io/library/debian:bookworm", "docker.io/acme/base:1", "from"),
    ("docker.io/acme/base:1", "docker.io/acme/python:3.12", "from"),
    ("docker.io/acme/python:3.12", "docker.io/acme/api:1", "from"),
    ("docker.io/acme/base:1", "docker.io/acme/api:1", "from"),
    ("ghcr.io/grpc-ecosystem/grpc-health-probe:v0.4.28", "docker.io/acme/api:1", "copy"),
    ("docker.io/library/node:20", "docker.io/acme/web:1", "from"),
    ("docker.io/library/nginx:1.27", "docker.io/acme/web:1", "from"),
}


def fleet(root: Path, declarations: dict[str, str]) -> Path:
    for name, text in {**DOCKERFILES, **declarations}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(text))
    return root


@pytest.mark.parametrize(
    "declarations",
    [
        {"imagegraph.toml": IMAGEGRAPH_TOML},
        {"docker-bake.hcl": BAKE_HCL},
        {"docker-bake.json": BAKE_JSON},
        {"compose.yaml": COMPOSE},
        {
            "imagegraph.toml": '[[bake]]\nfile = "ci/bake.hcl"\n',
            "ci/bake.hcl": BAKE_HCL.replace('context = "', 'context = "../'),
        },
        LIBRARY,
    ],
    ids=["imagegraph.toml", "bake-hcl", "bake-json", "compose", "bake-listed", "library"],
)
def test_every_format_gives_the_same_graph(tmp_path: Path, declarations: dict[str, str]) -> None:
    graph = scan(fleet(tmp_path, declarations))
    got = meaning(graph)
    assert got == EXPECTED
    assert [d for d in graph.diagnostics if d.severity.value != "info"] == []
