"""docker buildx bake files, read as bake's documentation describes them."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from textwrap import dedent

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagegraph import ConfigError, ImageBuild
from imagegraph._sources.bake import read_bake
from imagegraph._sources.common import SourceResult


def bake(
    tmp_path: Path, text: str, name: str = "docker-bake.hcl", **options: object
) -> SourceResult:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dedent(text))
    return read_bake(path, tmp_path, aliases={}, **options)  # type: ignore[arg-type]


def by_name(result: SourceResult) -> dict[str, ImageBuild]:
    return {build.name: build for build in result.builds}


INHERITS = """\
    variable "REGISTRY" {
      default = "ghcr.io/acme"
    }
    variable "TAG" {
      default = "1.0"
    }
    target "_common" {
      args = { A = "common", B = "common" }
      platforms = ["linux/amd64"]
      contexts = { base = "target:base" }
    }
    target "_arm" {
      inherits = ["_common"]
      platforms = ["linux/arm64"]
      args = { B = "arm" }
    }
    target "base" {
      context = "base"
    }
    target "app" {
      inherits = ["_common", "_arm"]
      context = "apps/app"
      dockerfile = "build/Dockerfile.prod"
      args = { C = "own", A = null }
      tags = ["${REGISTRY}/app:${TAG}", "${REGISTRY}/app:latest"]
      target = "runtime"
    }
    """


def test_inherits_variables_and_paths(tmp_path: Path) -> None:
    app = by_name(bake(tmp_path, INHERITS, targets=["app"]))["app"]
    assert app.context == "apps/app"
    assert app.dockerfile == "apps/app/build/Dockerfile.prod"
    assert app.args == {"B": "arm", "C": "own"}  # A = null: the Dockerfile's default
    assert app.platforms == ("linux/arm64",)
    assert app.contexts == {"base": "target:base"}
    assert [str(t) for t in app.tags] == ["ghcr.io/acme/app:1.0", "ghcr.io/acme/app:latest"]
    assert app.target == "runtime"
    assert app.origin == "docker-bake.hcl:20"


def test_target_contexts_pull_their_targets_in(tmp_path: Path) -> None:
    assert list(by_name(bake(tmp_path, INHERITS, targets=["app"]))) == ["app", "base"]


def test_variables_override_defaults(tmp_path: Path) -> None:
    result = bake(tmp_path, INHERITS, targets=["app"], variables={"TAG": "2.0"})
    assert [t.familiar for t in by_name(result)["app"].tags] == [
        "ghcr.io/acme/app:2.0",
        "ghcr.io/acme/app",
    ]


def test_json_reads_like_hcl(tmp_path: Path) -> None:
    hcl = bake(tmp_path, INHERITS, targets=["app"])
    data = {
        "variable": {"REGISTRY": {"default": "ghcr.io/acme"}, "TAG": {"default": "1.0"}},
        "target": {
            "_common": {
                "args": {"A": "common", "B": "common"},
                "platforms": ["linux/amd64"],
                "contexts": {"base": "target:base"},
            },
            "_arm": {"inherits": ["_common"], "platforms": ["linux/arm64"], "args": {"B": "arm"}},
            "base": {"context": "base"},
            "app": {
                "inherits": ["_common", "_arm"],
                "context": "apps/app",
                "dockerfile": "build/Dockerfile.prod",
                "args": {"C": "own", "A": None},
                "tags": ["${REGISTRY}/app:${TAG}", "${REGISTRY}/app:latest"],
                "target": "runtime",
            },
        },
    }
    js = bake(tmp_path, json.dumps(data), name="docker-bake.json", targets=["app"])
    strip = [
        (b.name, b.dockerfile, b.context, b.tags, dict(b.args), b.platforms, dict(b.contexts))
        for b in hcl.builds
    ]
    assert [
        (b.name, b.dockerfile, b.context, b.tags, dict(b.args), b.platforms, dict(b.contexts))
        for b in js.builds
    ] == strip


def test_default_group_nested_groups_and_selection(tmp_path: Path) -> None:
    text = """\
        group "default" {
          targets = ["apps"]
        }
        group "apps" {
          targets = ["api", "web"]
        }
        target "api" {}
        target "web" {}
        target "tool" {}
        """
    assert list(by_name(bake(tmp_path, text))) == ["api", "web"]
    assert list(by_name(bake(tmp_path, text, targets=["tool", "apps"]))) == ["tool", "api", "web"]
    with pytest.raises(ConfigError, match="no target or group 'nope'"):
        bake(tmp_path, text, targets=["nope"])


def test_without_a_default_group_every_target(tmp_path: Path) -> None:
    assert list(by_name(bake(tmp_path, 'target "a" {}\ntarget "b" {}\n'))) == ["a", "b"]


def test_matrix_with_and_without_name(tmp_path: Path) -> None:
    text = """\
        target "py" {
          name = "py-${replace(v, ".", "-")}-${os}"
          matrix = {
            v = ["3.11", "3.12"]
            os = ["bookworm"]
          }
          args = { PYTHON_VERSION = v }
          tags = ["acme/python:${v}-${os}"]
        }
        target "tool" {
          matrix = { item = [{ name = "a", ver = "1" }, { name = "b", ver = "2" }] }
          name = "tool-${item.name}"
          args = { VERSION = item.ver }
        }
        target "noname" {
          matrix = { x = ["1", "2"] }
        }
        """
    builds = by_name(bake(tmp_path, text))
    assert list(builds) == [
        "py-3-11-bookworm",
        "py-3-12-bookworm",
        "tool-a",
        "tool-b",
        "noname-1",
        "noname-2",
    ]
    assert builds["py-3-12-bookworm"].args == {"PYTHON_VERSION": "3.12"}
    assert builds["py-3-12-bookworm"].variant == {"v": "3.12", "os": "bookworm"}
    assert [t.familiar for t in builds["py-3-11-bookworm"].tags] == ["acme/python:3.11-bookworm"]
    assert builds["tool-b"].args == {"VERSION": "2"}
    assert builds["tool-b"].variant == {"item": '{"name":"b","ver":"2"}'}


def test_conditionals_and_functions(tmp_path: Path) -> None:
    text = """\
        variable "SUFFIX" { default = "" }
        variable "PUSH" { default = "true" }
        target "a" {
          tags = ["acme/a:1${notequal(SUFFIX, "") ? "-${SUFFIX}" : ""}"]
          args = { UP = upper("x"), BOTH = and(equal(PUSH, "true"), true) ? "yes" : "no" }
          dockerfile-inline = <<EOT
        FROM alpine:3
        RUN echo $${HOME}
        EOT
        }
        """
    (build,) = bake(tmp_path, text).builds
    assert [t.familiar for t in build.tags] == ["acme/a:1"]
    assert build.args == {"UP": "X", "BOTH": "yes"}
    assert build.dockerfile_inline == "FROM alpine:3\nRUN echo ${HOME}\n"


def test_unknown_functions_are_reported_not_guessed(tmp_path: Path) -> None:
    text = """\
        target "a" {
          tags = ["acme/a:1", "acme/a:${timestamp()}"]
          args = { WHEN = formatdate("YYYY", timestamp()) }
          cache-to = ["type=gha"]
          frobnicate = true
        }
        """
    result = bake(tmp_path, text)
    (build,) = result.builds
    assert [t.familiar for t in build.tags] == ["acme/a:1"]
    assert build.args == {}
    assert [(d.code, d.line) for d in result.diagnostics] == [
        ("bake-unknown-attribute", 1),
        ("bake-unresolved", 1),
        ("bake-unresolved", 1),
    ]
    assert "frobnicate" in result.diagnostics[0].message
    assert "timestamp()" in result.diagnostics[1].message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('target "a" {\n  tags = [\n', "not valid HCL"),
        ('target "a" {\n  inherits = ["b"]\n}\n', "inherits 'b', which is not a target"),
        (
            'target "a" {\n  inherits = ["b"]\n}\ntarget "b" {\n  inherits = ["a"]\n}\n',
            "inherit from themselves",
        ),
        ('target "a" {\n  contexts = { x = "target:nope" }\n}\n', "no target 'nope'"),
        ('target "a" {\n  tags = ["Not A Tag"]\n}\n', "is not an image reference"),
    ],
)
def test_errors_name_the_file(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        bake(tmp_path, text)
    assert message in caught.value.message
    assert caught.value.path == "docker-bake.hcl"


def test_invalid_json_has_a_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        bake(tmp_path, '{\n  "target": {\n    "a": {,}\n', name="docker-bake.json")
    assert (caught.value.path, caught.value.line) == ("docker-bake.json", 3)


def test_bake_file_in_a_subdirectory(tmp_path: Path) -> None:
    result = bake(tmp_path, 'target "a" {\n  context = "../apps/a"\n}\n', name="ci/docker-bake.hcl")
    (build,) = result.builds
    assert (build.context, build.dockerfile, build.origin) == (
        "apps/a",
        "apps/a/Dockerfile",
        "ci/docker-bake.hcl:1",
    )


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.sampled_from(
            [
                'target "a" {',
                'target "b" {',
                "}",
                'group "default" {',
                'targets = ["a", "b"]',
                "targets = [x()]",
                'inherits = ["b"]',
                'inherits = ["a"]',
                'tags = ["x:${V}"]',
                'variable "V" {',
                "default = V",
                'default = "1"',
                "matrix = { i = [1, 2] }",
                'name = "n-${i}"',
                "args = { A = null, B = i }",
                'contexts = { c = "target:b" }',
                "platforms = 3",
                'context = ["x"]',
                "tags = {}",
                '"',
                "${",
                "= =",
            ]
        ),
        max_size=14,
    )
)
def test_any_bake_text_gives_builds_or_a_config_error(tmp_path: Path, lines: list[str]) -> None:
    with contextlib.suppress(ConfigError):
        bake(tmp_path, "\n".join(lines) + "\n")
