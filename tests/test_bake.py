"""docker buildx bake files, read as bake's documentation and source describe them."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from pathlib import Path
from textwrap import dedent

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagegraph._sources.bake import read_bake
from imagegraph._sources.common import SourceResult
from imagegraph.inventory import ConfigError, ImageBuild


def bake(
    tmp_path: Path,
    text: str,
    name: str = "docker-bake.hcl",
    *,
    targets: list[str] | None = None,
    variables: dict[str, str] | None = None,
) -> SourceResult:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dedent(text) if not name.endswith(".json") else text)
    return read_bake(path, tmp_path, aliases={}, targets=targets, variables=variables)


def builds(result: SourceResult) -> dict[str, ImageBuild]:
    return {b.name: b for b in result.builds}


def tags(build: ImageBuild) -> list[str]:
    return [t.familiar for t in build.tags]


def codes(result: SourceResult) -> list[str]:
    return [d.code for d in result.diagnostics]


# --- HCL and JSON say the same thing -------------------------------------------------------

FLEET_HCL = """\
    variable "REGISTRY" {
      default = "ghcr.io/acme"
    }
    variable "TAG" {}
    group "default" {
      targets = ["app", "py"]
    }
    target "_common" {
      args = { A = "common", B = "common" }
      platforms = ["linux/amd64"]
      contexts = { base = "target:base" }
    }
    target "base" {
      context = "base"
      tags = ["${REGISTRY}/base:1"]
    }
    target "app" {
      inherits = ["_common"]
      context = "apps/app"
      dockerfile = "build/Dockerfile.prod"
      args = { B = "own", C = null }
      tags = ["${REGISTRY}/app:latest", "${REGISTRY}/app:v${TAG}"]
      target = "runtime"
    }
    target "py" {
      name = "py-${replace(v, ".", "-")}"
      matrix = { v = ["3.11", "3.12"] }
      context = "py"
      args = { PYTHON = v }
      tags = ["acme/python:${v}"]
    }
    """

FLEET_JSON = json.dumps(
    {
        "variable": {"REGISTRY": {"default": "ghcr.io/acme"}, "TAG": {}},
        "group": {"default": {"targets": ["app", "py"]}},
        "target": {
            "_common": {
                "args": {"A": "common", "B": "common"},
                "platforms": ["linux/amd64"],
                "contexts": {"base": "target:base"},
            },
            "base": {"context": "base", "tags": ["${REGISTRY}/base:1"]},
            "app": {
                "inherits": ["_common"],
                "context": "apps/app",
                "dockerfile": "build/Dockerfile.prod",
                "args": {"B": "own", "C": None},
                "tags": ["${REGISTRY}/app:latest", "${REGISTRY}/app:v${TAG}"],
                "target": "runtime",
            },
            "py": {
                "name": 'py-${replace(v, ".", "-")}',
                "matrix": {"v": ["3.11", "3.12"]},
                "context": "py",
                "args": {"PYTHON": "${v}"},
                "tags": ["acme/python:${v}"],
            },
        },
    },
    indent=2,
)


@pytest.mark.parametrize(
    ("name", "text"), [("docker-bake.hcl", FLEET_HCL), ("docker-bake.json", FLEET_JSON)]
)
def test_hcl_and_json_read_the_same(tmp_path: Path, name: str, text: str) -> None:
    result = bake(tmp_path, text, name, targets=["default"], variables={"TAG": "2"})
    found = builds(result)
    assert list(found) == ["app", "py-3-11", "py-3-12", "base"]  # base: a target: context
    app = found["app"]
    assert (app.context, app.dockerfile, app.target) == (
        "apps/app",
        "apps/app/build/Dockerfile.prod",
        "runtime",
    )
    assert app.args == {"A": "common", "B": "own"}
    assert app.platforms == ("linux/amd64",)
    assert app.contexts == {"base": "target:base"}
    assert tags(app) == ["ghcr.io/acme/app", "ghcr.io/acme/app:v2"]
    assert found["py-3-12"].args == {"PYTHON": "3.12"}
    assert found["py-3-12"].variant == {"v": "3.12"}
    assert tags(found["py-3-11"]) == ["acme/python:3.11"]
    assert tags(found["base"]) == ["ghcr.io/acme/base:1"]
    assert result.files == [name]
    assert result.diagnostics == []


def test_hcl_and_json_builds_are_equal(tmp_path: Path) -> None:
    def read(name: str, text: str) -> list[ImageBuild]:
        result = bake(tmp_path, text, name, targets=["default"])
        return [dataclasses.replace(b, origin="") for b in result.builds]

    assert read("docker-bake.hcl", FLEET_HCL) == read("docker-bake.json", FLEET_JSON)


def test_origin_is_the_line_of_the_target_block(tmp_path: Path) -> None:
    found = builds(bake(tmp_path, FLEET_HCL))
    assert found["app"].origin == "docker-bake.hcl:17"
    assert found["py-3-11"].origin == "docker-bake.hcl:25"
    json_found = builds(bake(tmp_path, FLEET_JSON, "docker-bake.json"))
    assert json_found["base"].origin == "docker-bake.json:29"


# --- inherits ------------------------------------------------------------------------------

INHERIT_CASES = [
    pytest.param(
        """
        target "a" {
          args = { X = "a", Y = "a" }
          tags = ["acme/a:1"]
        }
        target "b" {
          args = { Y = "b", Z = "b" }
          tags = ["acme/b:1"]
        }
        target "t" { inherits = ["a", "b"] }
        """,
        {"X": "a", "Y": "b", "Z": "b"},
        ["acme/b:1"],
        id="later-parent-wins",
    ),
    pytest.param(
        """
        target "a" {
          args = { X = "a" }
          tags = ["acme/a:1"]
        }
        target "t" {
          inherits = ["a"]
          args = { X = "own" }
          tags = ["acme/t:1"]
        }
        """,
        {"X": "own"},
        ["acme/t:1"],
        id="own-attributes-win-last",
    ),
    pytest.param(
        """
        target "root" {
          args = { R = "root", X = "root" }
          tags = ["acme/root:1"]
        }
        target "mid" {
          inherits = ["root"]
          args = { X = "mid" }
        }
        target "t" { inherits = ["mid"] }
        """,
        {"R": "root", "X": "mid"},
        ["acme/root:1"],
        id="chain",
    ),
    pytest.param(
        """
        target "a" { tags = ["acme/a:1"] }
        target "t" {
          inherits = ["a"]
          tags = []
        }
        """,
        {},
        [],
        id="lists-are-replaced-not-merged",
    ),
    pytest.param(
        """
        target "t" { args = { KEEP = "1", DROP = null } }
        """,
        {"KEEP": "1"},
        [],
        id="null-arg-uses-the-dockerfile-default",
    ),
    pytest.param(
        """
        target "a" { args = { X = "a" } }
        target "t" {
          inherits = ["a"]
          args = { X = null }
        }
        """,
        {"X": "a"},  # bake's Target.Merge skips null args, so the parent's value stays
        [],
        id="null-arg-sets-nothing-over-a-parent",
    ),
    pytest.param(
        """
        target "t" { args = { X = "first" } }
        target "t" {
          args = { Y = "second" }
          tags = ["acme/t:2"]
        }
        """,
        {"X": "first", "Y": "second"},
        ["acme/t:2"],
        id="blocks-with-one-name-merge",
    ),
]


@pytest.mark.parametrize(("text", "args", "expected_tags"), INHERIT_CASES)
def test_inherits(
    tmp_path: Path, text: str, args: dict[str, str], expected_tags: list[str]
) -> None:
    target = builds(bake(tmp_path, text, targets=["t"]))["t"]
    assert dict(target.args) == args
    assert tags(target) == expected_tags


def test_contexts_merge_key_by_key(tmp_path: Path) -> None:
    text = """
        target "base" {}
        target "a" { contexts = { one = "target:base", two = "docker-image://alpine:3" } }
        target "t" {
          inherits = ["a"]
          contexts = { two = "docker-image://alpine:4" }
        }
        """
    target = builds(bake(tmp_path, text, targets=["t"]))["t"]
    assert target.contexts == {"one": "target:base", "two": "docker-image://alpine:4"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'target "a" {\n  inherits = ["b"]\n}\ntarget "b" {\n  inherits = ["a"]\n}\n',
            "docker-bake.hcl:1: targets inherit from each other in a cycle: a -> b -> a",
        ),
    ],
    ids=["cycle"],
)
def test_inherits_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        bake(tmp_path, text)
    assert str(caught.value) == message


# --- paths ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("file", "attributes", "context", "dockerfile"),
    [
        ("docker-bake.hcl", "", ".", "Dockerfile"),
        ("docker-bake.hcl", 'context = "app"', "app", "app/Dockerfile"),
        ("docker-bake.hcl", 'dockerfile = "app.Dockerfile"', ".", "app.Dockerfile"),
        ("docker-bake.hcl", 'dockerfile = ""', ".", "Dockerfile"),
        (
            "docker-bake.hcl",
            'context = "app"\n dockerfile = "../docker/app.Dockerfile"',
            "app",
            "docker/app.Dockerfile",
        ),
        ("ci/bake.hcl", 'context = "../app"', "app", "app/Dockerfile"),
        ("ci/bake.hcl", "", "ci", "ci/Dockerfile"),
        (
            "docker-bake.hcl",
            'context = "app"\n dockerfile-inline = "FROM x"',
            "app",
            "app/Dockerfile",
        ),
    ],
)
def test_context_and_dockerfile_paths(
    tmp_path: Path, file: str, attributes: str, context: str, dockerfile: str
) -> None:
    build = bake(tmp_path, f'target "t" {{\n {attributes}\n}}\n', file).builds[0]
    assert (build.context, build.dockerfile) == (context, dockerfile)


def test_dockerfile_inline_is_a_template(tmp_path: Path) -> None:
    text = """\
        variable "V" { default = "3.20" }
        target "t" {
          dockerfile-inline = <<-EOT
            FROM alpine:${V}
            RUN echo $${HOME}
            EOT
        }
        """
    build = bake(tmp_path, text).builds[0]
    assert build.dockerfile_inline == "FROM alpine:3.20\nRUN echo ${HOME}\n"


def test_local_named_contexts_become_root_relative(tmp_path: Path) -> None:
    text = """
        target "t" {
          contexts = {
            src = "../src"
            img = "docker-image://alpine:3"
            git = "https://github.com/acme/x.git"
          }
        }
        """
    build = bake(tmp_path, text, "ci/docker-bake.hcl").builds[0]
    assert build.contexts == {
        "src": "src",
        "img": "docker-image://alpine:3",
        "git": "https://github.com/acme/x.git",
    }


def test_remote_context_is_left_out(tmp_path: Path) -> None:
    result = bake(tmp_path, 'target "t" { context = "https://github.com/acme/x.git" }')
    assert result.builds == []
    assert codes(result) == ["bake-remote-context"]


# --- matrix --------------------------------------------------------------------------------

MATRIX_CASES = [
    pytest.param(
        """
        target "app" {
          name = "app-${tgt}"
          matrix = { tgt = ["foo", "bar"] }
          target = tgt
        }
        """,
        {"app-foo": ("foo", {"tgt": "foo"}), "app-bar": ("bar", {"tgt": "bar"})},
        id="bake-docs-example",
    ),
    pytest.param(
        """
        target "app" {
          name = "app-${os}-${sanitize(v)}"
          matrix = { os = ["alpine", "debian"], v = ["1.0"] }
          target = os
        }
        """,
        {
            "app-alpine-1_0": ("alpine", {"os": "alpine", "v": "1.0"}),
            "app-debian-1_0": ("debian", {"os": "debian", "v": "1.0"}),
        },
        id="two-axes",
    ),
    pytest.param(
        """
        target "app" {
          matrix = { tgt = ["only"] }
          target = tgt
        }
        """,
        {"app": ("only", {"tgt": "only"})},
        id="one-combination-keeps-the-target-name",
    ),
    pytest.param(
        """
        target "app" {
          name = "app-${item.variant}"
          matrix = {
            item = [
              { variant = "alpine", stage = "a" },
              { variant = "debian", stage = "d" },
            ]
          }
          target = item.stage
        }
        """,
        {
            "app-alpine": ("a", {"item.variant": "alpine", "item.stage": "a"}),
            "app-debian": ("d", {"item.variant": "debian", "item.stage": "d"}),
        },
        id="object-values",
    ),
    pytest.param(
        """
        variable "STAGES" { default = ["x", "y"] }
        target "app" {
          name = "app-${s}"
          matrix = { s = STAGES }
          target = s
        }
        """,
        {"app-x": ("x", {"s": "x"}), "app-y": ("y", {"s": "y"})},
        id="values-from-a-variable",
    ),
]


@pytest.mark.parametrize(("text", "expected"), MATRIX_CASES)
def test_matrix(tmp_path: Path, text: str, expected: dict[str, tuple[str, dict[str, str]]]) -> None:
    found = builds(bake(tmp_path, text))
    assert {name: (b.target, dict(b.variant)) for name, b in found.items()} == expected


def test_matrix_target_name_selects_its_builds(tmp_path: Path) -> None:
    text = MATRIX_CASES[0].values[0]
    assert isinstance(text, str)
    assert list(builds(bake(tmp_path, text, targets=["app"]))) == ["app-foo", "app-bar"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'target "app" {\n  matrix = { v = ["a", "b"] }\n}\n',
            "docker-bake.hcl:1: target 'app' has a matrix of 2 combinations but no 'name', so "
            "every build would be called 'app', which bake refuses; add e.g. "
            'name = "app-${v}"',
        ),
        (
            'target "app" {\n  name = "x"\n}\n',
            "docker-bake.hcl:1: target 'app' has a 'name' but no 'matrix'; bake requires both",
        ),
        (
            'target "app" {\n  name = "app-${v}"\n  matrix = { v = ["1.0"] }\n}\n',
            "docker-bake.hcl:1: target 'app': the matrix name 'app-1.0' may only use letters, "
            "digits, '_' and '-' (sanitize() or replace() can make it one)",
        ),
        (
            'target "app" {\n  name = "app-${v}"\n  matrix = { v = [] }\n}\n',
            "docker-bake.hcl:1: target 'app': matrix 'v' has no values",
        ),
    ],
    ids=["no-name", "name-without-matrix", "invalid-name", "empty"],
)
def test_matrix_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        bake(tmp_path, text)
    assert str(caught.value) == message


# --- groups and target selection -----------------------------------------------------------

GROUPS = """
    group "default" { targets = ["all"] }
    group "all" { targets = ["web", "backend"] }
    group "backend" { targets = ["api", "worker", "all"] }
    target "web" {}
    target "api" {}
    target "worker" {}
    target "tool" {}
    """


@pytest.mark.parametrize(
    ("targets", "names"),
    [
        (None, ["web", "api", "worker"]),  # the default group, as bake builds with no arguments
        (["default"], ["web", "api", "worker"]),
        (["backend"], ["api", "worker", "web"]),
        (["tool", "api"], ["tool", "api"]),
        (["tool", "backend", "api"], ["tool", "api", "worker", "web"]),
        (["w*"], ["web", "worker"]),
    ],
)
def test_target_selection(tmp_path: Path, targets: list[str] | None, names: list[str]) -> None:
    assert list(builds(bake(tmp_path, GROUPS, targets=targets))) == names


def test_unknown_target_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        bake(tmp_path, GROUPS, targets=["nope"])
    assert str(caught.value) == (
        "docker-bake.hcl: no target or group is called 'nope' "
        "(targets: web, api, worker, tool; groups: default, all, backend)"
    )


def test_group_naming_an_unknown_target(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        bake(tmp_path, 'target "a" {}\ngroup "g" {\n  targets = ["a", "b"]\n}\n', targets=["g"])
    assert caught.value.line == 2
    assert "group 'g' names 'b'" in caught.value.message


# --- variables -----------------------------------------------------------------------------

VARIABLES = """
    variable "REGISTRY" { default = "ghcr.io/acme" }
    variable "TAG" {}
    variable "FULL" { default = "${REGISTRY}/app" }
    variable "PUSH" { default = false }
    variable "N" { default = 3 }
    target "t" {
      tags = ["${FULL}:${TAG == "" ? "dev" : TAG}"]
      args = { PUSH = PUSH, N = N, LIT = "$${NOT_A_VAR}" }
      target = "${PUSH ? "push" : "local"}"
    }
    """


@pytest.mark.parametrize(
    ("variables", "tag", "args", "target"),
    [
        (None, "ghcr.io/acme/app:dev", {"PUSH": "false", "N": "3"}, "local"),
        ({"TAG": "1.2"}, "ghcr.io/acme/app:1.2", {"PUSH": "false", "N": "3"}, "local"),
        ({"REGISTRY": "quay.io/x"}, "quay.io/x/app:dev", {"PUSH": "false", "N": "3"}, "local"),
        ({"FULL": "acme/other"}, "acme/other:dev", {"PUSH": "false", "N": "3"}, "local"),
        ({"PUSH": "true", "N": "7"}, "ghcr.io/acme/app:dev", {"PUSH": "true", "N": "7"}, "push"),
    ],
)
def test_variables_defaults_and_overrides(
    tmp_path: Path,
    variables: dict[str, str] | None,
    tag: str,
    args: dict[str, str],
    target: str,
) -> None:
    build = bake(tmp_path, VARIABLES, variables=variables).builds[0]
    assert tags(build) == [tag]
    assert dict(build.args) == {**args, "LIT": "${NOT_A_VAR}"}
    assert build.target == target


def test_bad_override_for_a_bool_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="variable 'PUSH' is a bool"):
        bake(tmp_path, VARIABLES, variables={"PUSH": "maybe"})


def test_override_of_an_undeclared_variable_is_reported(tmp_path: Path) -> None:
    result = bake(tmp_path, 'target "t" {}', variables={"NOPE": "1"})
    assert codes(result) == ["bake-unknown-variable"]


def test_variable_cycle(tmp_path: Path) -> None:
    text = 'variable "A" { default = B }\nvariable "B" { default = A }\ntarget "t" { target = A }'
    with pytest.raises(ConfigError, match="cycle: A -> B -> A"):
        bake(tmp_path, text)


# --- contexts from other targets -----------------------------------------------------------


def test_target_context_pulls_in_its_target(tmp_path: Path) -> None:
    text = """
        target "jdk" { context = "jdk" }
        target "app" { contexts = { jdk = "target:jdk" } }
        """
    result = bake(tmp_path, text, targets=["app"])
    assert list(builds(result)) == ["app", "jdk"]
    assert builds(result)["app"].contexts == {"jdk": "target:jdk"}


def test_unknown_target_context_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        bake(tmp_path, 'target "app" {\n  contexts = { jdk = "target:jdk" }\n}\n')
    assert caught.value.path == "docker-bake.hcl"
    assert caught.value.line == 1
    assert "no target 'jdk'" in caught.value.message


# --- what is not evaluated -----------------------------------------------------------------


def test_a_value_known_only_when_bake_runs_leaves_the_tag_out_with_a_diagnostic(
    tmp_path: Path,
) -> None:
    text = """
        variable "V" { default = "1.0" }
        target "t" {
          tags = ["acme/t:${V}", "acme/t:${formatdate("YYYY", timestamp())}"]
          args = { OK = "${notequal(V, "") ? V : "none"}", LATER = "${substr(V, 0, 1)}" }
          platforms = ["linux/amd64", "${BAKE_LOCAL_PLATFORM}"]
        }
        """
    result = bake(tmp_path, text)
    build = result.builds[0]
    assert tags(build) == ["acme/t:1.0"]
    assert dict(build.args) == {"OK": "1.0", "LATER": "1"}
    assert build.platforms == ("linux/amd64",)
    assert codes(result) == ["bake-unresolved"] * 2
    first = result.diagnostics[0]
    assert (first.path, first.line, first.severity.value) == ("docker-bake.hcl", 3, "warning")
    assert first.message.startswith("target 't': tag 'acme/t:${formatdate(")
    assert "timestamp() is known only when bake runs" in first.message


def test_unresolved_text_is_kept_as_written_where_it_is_not_a_tag(tmp_path: Path) -> None:
    result = bake(tmp_path, 'target "t" {\n  target = "${cidrhost("10.0.0.0/8", 2)}"\n}\n')
    assert result.builds[0].target == '${cidrhost("10.0.0.0/8", 2)}'
    assert codes(result) == ["bake-unresolved"]


def test_unknown_attribute_is_a_warning(tmp_path: Path) -> None:
    text = 'target "t" {\n  tagz = ["acme/t:1"]\n  cache-from = ["type=gha"]\n}\n'
    result = bake(tmp_path, text)
    assert [(d.code, d.severity.value, d.line) for d in result.diagnostics] == [
        ("bake-unknown-attribute", "warning", 1)
    ]
    assert "'tagz'" in result.diagnostics[0].message


# --- files that cannot be read -------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "line", "message"),
    [
        ("docker-bake.hcl", 'target "t" {\n  tags = ["a"\n}\n', 3, "not valid HCL"),
        ("docker-bake.hcl", "target \"t\" {\n  x = 'single'\n}\n", 2, "not valid HCL"),
        ("docker-bake.hcl", 'target "t" {\n', 2, "unexpected end of file"),
        ("docker-bake.json", '{\n  "target": {\n    "t": {,}\n  }\n}\n', 3, "not valid JSON"),
        ("docker-bake.hcl", 'target "t" {\n  tags = "acme/t:1"\n}\n', 1, "must be a list"),
        ("docker-bake.hcl", 'target "t" {\n  tags = ["Bad Tag"]\n}\n', 1, "not an image reference"),
        ("docker-bake.hcl", 'target "a.b" {}\n', 1, "may only use letters"),
        ("docker-bake.hcl", "target {\n}\n", None, "needs a name"),
    ],
)
def test_errors_name_the_file(
    tmp_path: Path, name: str, text: str, line: int | None, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        bake(tmp_path, text, name)
    assert caught.value.path == name
    assert caught.value.line == line
    assert message in caught.value.message
    assert caught.value.__cause__ is None


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"docker-bake\.hcl: cannot read"):
        read_bake(tmp_path / "docker-bake.hcl", tmp_path, aliases={})


def test_without_a_default_group_every_target(tmp_path: Path) -> None:
    assert list(builds(bake(tmp_path, 'target "a" {}\ntarget "b" {}\n'))) == ["a", "b"]


def test_a_parent_the_file_does_not_define_is_an_error(tmp_path: Path) -> None:
    # buildx: "failed to find target docker-metadata-action", exit 1 (checked with bake --print).
    text = 'target "app" {\n  inherits = ["docker-metadata-action"]\n  tags = ["acme/app:1"]\n}\n'
    with pytest.raises(ConfigError) as caught:
        bake(tmp_path, text)
    assert (caught.value.path, caught.value.line) == ("docker-bake.hcl", 1)
    assert 'target "docker-metadata-action" {}' in caught.value.message


def test_a_parent_from_another_bake_file_is_declared_empty(tmp_path: Path) -> None:
    # docker/metadata-action writes a bake file defining "docker-metadata-action" at CI time;
    # its documentation declares the target empty in the repository's file.
    text = (
        'target "docker-metadata-action" {}\n'
        'target "app" {\n  inherits = ["docker-metadata-action"]\n  tags = ["acme/app:1"]\n}\n'
        'group "default" {\n  targets = ["app"]\n}\n'
    )
    result = bake(tmp_path, text)
    assert [b.name for b in result.builds] == ["app"]
    assert [t.familiar for t in result.builds[0].tags] == ["acme/app:1"]
    assert result.diagnostics == []


BAKE_PIECES = [
    'target "a" {',
    'target "b" {',
    "target {",
    'target "x" "y" {',
    "}",
    'group "default" {',
    'targets = ["a", "b"]',
    "targets = [x()]",
    'inherits = ["b"]',
    'inherits = ["a"]',
    'tags = ["x:${V}"]',
    'tags = "acme/t:1"',
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
    "for x in y",
    "dockerfile-inline = <<EOT",
    "EOT",
]


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.sampled_from(BAKE_PIECES), max_size=14))
def test_any_bake_text_gives_builds_or_a_config_error(tmp_path: Path, lines: list[str]) -> None:
    with contextlib.suppress(ConfigError):
        bake(tmp_path, "\n".join(lines) + "\n")
