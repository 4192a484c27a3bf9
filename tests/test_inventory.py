"""The inventory: imagegraph.toml, pyproject.toml, convention, the tree walk, and errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from imagegraph import ConfigError, load_inventory

from .fleets import write


def test_images_with_defaults(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "imagegraph.toml": """\
                [[image]]
                name = "api"
                dockerfile = "apps/api/Dockerfile"
                tags = ["ghcr.io/acme/api:1", "ghcr.io/acme/api:latest"]

                [[image]]
                context = "apps/web"
                target = "prod"
                platforms = ["linux/amd64"]
                contexts = { base = "target:api" }
                """,
            "apps/api/Dockerfile": "FROM alpine:3\n",
            "apps/web/Dockerfile": "FROM alpine:3\n",
        },
    )
    inventory = load_inventory(tmp_path)
    api, web = inventory.builds
    assert (api.name, api.dockerfile, api.context, api.origin) == (
        "api", "apps/api/Dockerfile", "apps/api", "imagegraph.toml:1",
    )  # fmt: skip
    assert [str(t) for t in api.tags] == ["ghcr.io/acme/api:1", "ghcr.io/acme/api:latest"]
    assert (web.name, web.dockerfile, web.context, web.target) == (
        "apps/web", "apps/web/Dockerfile", "apps/web", "prod",
    )  # fmt: skip
    assert web.platforms == ("linux/amd64",)
    assert web.contexts == {"base": "target:api"}
    assert web.origin == "imagegraph.toml:6"
    assert inventory.sources == ("imagegraph.toml",)
    assert inventory.diagnostics == ()


def test_matrix_expands_variants(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "imagegraph.toml": """\
                [[image]]
                name = "python-${PY}-${OS}"
                dockerfile = "python/Dockerfile"
                tags = ["acme/python:${PY}-${OS}"]
                args = { PYTHON_VERSION = "${PY}", BASE = "acme/${OS}" }
                matrix = { PY = ["3.11", "3.12"], OS = ["bookworm", "alpine"] }

                [[image]]
                name = "tool"
                dockerfile = "tool/Dockerfile"
                matrix = { V = ["1", "2"] }
                """,
            "python/Dockerfile": "FROM x\n",
            "tool/Dockerfile": "FROM x\n",
        },
    )
    builds = load_inventory(tmp_path).builds
    assert [b.name for b in builds] == [
        "python-3.11-bookworm", "python-3.11-alpine", "python-3.12-bookworm",
        "python-3.12-alpine", "tool-1", "tool-2",
    ]  # fmt: skip
    assert builds[1].args == {"PYTHON_VERSION": "3.11", "BASE": "acme/alpine"}
    assert builds[1].variant == {"PY": "3.11", "OS": "alpine"}
    assert [t.familiar for t in builds[3].tags] == ["acme/python:3.12-alpine"]


def test_pyproject_table(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pyproject.toml": """\
                [project]
                name = "x"

                [[tool.imagegraph.image]]
                name = "svc"
                dockerfile = "Dockerfile"
                """,
            "Dockerfile": "FROM x\n",
        },
    )
    (build,) = load_inventory(tmp_path).builds
    assert (build.name, build.context, build.origin) == ("svc", ".", "pyproject.toml:4")


def test_pyproject_without_the_table_means_convention(tmp_path: Path) -> None:
    write(tmp_path, {"pyproject.toml": "[project]\nname = 'x'\n", "svc/Dockerfile": "FROM x\n"})
    (build,) = load_inventory(tmp_path).builds
    assert (build.name, build.inferred) == ("svc", True)


def test_convention_names_and_skips(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "Dockerfile": "FROM x\n",
            "services/Billing_API/Dockerfile": "FROM x\n",
            "services/web/Dockerfile.dev": "FROM x\n",
            "services/web/prod.Dockerfile": "FROM x\n",
            "services/web/Dockerfile.dockerignore": "*\n",
            "tools/Containerfile": "FROM x\n",
            "node_modules/pkg/Dockerfile": "FROM x\n",
            ".git/Dockerfile": "FROM x\n",
            "build/Dockerfile": "FROM x\n",
            "keep/out.txt": "",
            "keep/Dockerfile": "FROM x\n",
            "keep/.gitignore": "Dockerfile\n",
            ".gitignore": "/build/\n",
        },
    )
    inventory = load_inventory(tmp_path)
    assert [(b.name, b.dockerfile, b.context) for b in inventory.builds] == [
        (tmp_path.name, "Dockerfile", "."),
        ("services/Billing_API", "services/Billing_API/Dockerfile", "services/Billing_API"),
        ("services/web/dev", "services/web/Dockerfile.dev", "services/web"),
        ("services/web/prod", "services/web/prod.Dockerfile", "services/web"),
        ("tools", "tools/Containerfile", "tools"),
    ]
    assert inventory.builds[1].tags[0].familiar == "services/billing-api"
    assert {d.code for d in inventory.diagnostics} == {"inferred-name"}
    assert all(b.inferred for b in inventory.builds)


def test_undeclared_dockerfiles_are_reported(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "imagegraph.toml": 'exclude = ["legacy/**"]\n[[image]]\ndockerfile = "a/Dockerfile"\n',
            "a/Dockerfile": "FROM x\n",
            "b/Dockerfile": "FROM x\n",
            "legacy/old/Dockerfile": "FROM x\n",
        },
    )
    inventory = load_inventory(tmp_path)
    assert [b.name for b in inventory.builds] == ["a"]
    assert [(d.code, d.path) for d in inventory.diagnostics] == [
        ("undeclared-dockerfile", "b/Dockerfile")
    ]


@pytest.mark.parametrize(
    ("toml", "message", "line"),
    [
        ("[[image]\n", "not valid TOML", 1),
        ("images = []\n", "unknown key 'images'", None),
        ("[[image]]\nname = 'x'\n", "needs a 'dockerfile' or a 'context'", 1),
        ("\n[[image]]\ndockerfile = 'D'\ntags = 'acme/x'\n", "'tags' must be a list of strings", 2),
        ("[[image]]\ndockerfile = 'D'\ntag = ['x']\n", "unknown key 'tag'", 1),
        (
            "[[image]]\ndockerfile = 'D'\ntags = ['Bad Tag']\n",
            "tag 'Bad Tag' is not an image reference",
            1,
        ),
        ("[[image]]\ndockerfile = 'D'\ntags = ['x:${V}']\n", "uses ${V}, which is not defined", 1),
        ("[[image]]\ndockerfile = 'D'\nmatrix = { V = [] }\n", "matrix 'V' has no values", 1),
        (
            "[[image]]\ndockerfile = 'D'\n[[image]]\ndockerfile = 'D'\n",
            "two builds are called '.'",
            None,
        ),
        ("[[bake]]\nfile = 'nope.hcl'\n", "file 'nope.hcl' not found", 1),
        ("[[manifests]]\nformat = 'rpm'\npath = 'x'\n", "format 'rpm' is not known", 1),
    ],
)
def test_config_errors_name_the_file_and_line(
    tmp_path: Path, toml: str, message: str, line: int | None
) -> None:
    write(tmp_path, {"imagegraph.toml": toml, "D": "FROM x\n", "x": ""})
    with pytest.raises(ConfigError) as caught:
        load_inventory(tmp_path)
    assert message in caught.value.message
    assert caught.value.path == "imagegraph.toml"
    assert caught.value.line == line


def test_explicit_config_paths_are_relative_to_it(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "ci/images.toml": '[[image]]\nname = "a"\ndockerfile = "../apps/a/Dockerfile"\n',
            "apps/a/Dockerfile": "FROM x\n",
        },
    )
    (build,) = load_inventory(tmp_path, config=tmp_path / "ci/images.toml").builds
    assert (build.dockerfile, build.context) == ("apps/a/Dockerfile", "apps/a")


def test_not_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a directory"):
        load_inventory(tmp_path / "missing")


def test_sboms_table(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "imagegraph.toml": """\
                [sboms]
                "debian:bookworm" = "sboms/debian-bookworm.cdx.json"
                api = "./sboms/../sboms/api.spdx.json"

                [[image]]
                name = "api"
                dockerfile = "api/Dockerfile"
                """,
            "api/Dockerfile": "FROM x\n",
        },
    )
    assert load_inventory(tmp_path).sboms == {
        "debian:bookworm": "sboms/debian-bookworm.cdx.json",
        "api": "sboms/api.spdx.json",
    }
