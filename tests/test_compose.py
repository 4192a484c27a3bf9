"""Compose files: build sections, YAML scalars, anchors, .env interpolation, services, errors."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from imagegraph import ConfigError, load_inventory
from imagegraph._sources.common import SourceResult
from imagegraph._sources.compose import read_compose
from imagegraph.diagnostics import Severity

from .fleets import write


def read(
    root: Path,
    compose: str,
    *,
    env: str | None = None,
    name: str = "compose.yaml",
    services: Sequence[str] | None = None,
    aliases: dict[str, str] | None = None,
) -> SourceResult:
    files = {name: compose}
    if env is not None:
        files[str(Path(name).parent / ".env")] = env
    write(root, files)
    return read_compose(root / name, root, aliases=aliases or {}, services=services)


def tags(result: SourceResult, name: str) -> list[str]:
    (build,) = [b for b in result.builds if b.name == name]
    return [t.familiar for t in build.tags]


def codes(result: SourceResult) -> list[tuple[str, int | None]]:
    return [(d.code, d.line) for d in result.diagnostics]


# --- the build section --------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "dockerfile", "context"),
    [
        ("build: .", "deploy/Dockerfile", "deploy"),
        ("build: ../apps/web", "apps/web/Dockerfile", "apps/web"),
        ("build: {}", "deploy/Dockerfile", "deploy"),
        ("build: {context: ../apps/web}", "apps/web/Dockerfile", "apps/web"),
        # dockerfile is relative to the context, not to the compose file
        (
            "build: {context: ../apps/web, dockerfile: docker/prod.Dockerfile}",
            "apps/web/docker/prod.Dockerfile",
            "apps/web",
        ),
        ("build: {context: .., dockerfile: ../x/Dockerfile}", "../x/Dockerfile", "."),
        ("build: {dockerfile: Containerfile}", "deploy/Containerfile", "deploy"),
    ],
)
def test_context_and_dockerfile_paths(
    tmp_path: Path, build: str, dockerfile: str, context: str
) -> None:
    result = read(
        tmp_path,
        f"services:\n  web:\n    image: acme/web\n    {build}\n",
        name="deploy/compose.yaml",
    )
    (web,) = result.builds
    assert (web.name, web.dockerfile, web.context) == ("web", dockerfile, context)
    assert web.origin == "deploy/compose.yaml:2"
    assert result.files == ["deploy/compose.yaml"]


def test_full_build_section(tmp_path: Path) -> None:
    result = read(
        tmp_path,
        """\
        services:
          db:
            image: postgres:16
          api:
            image: ghcr.io/acme/api:1.4
            build:
              context: apps/api
              dockerfile: api.Dockerfile
              target: runtime
              platforms: [linux/amd64, linux/arm64]
              tags:
                - ghcr.io/acme/api:latest
                - ghcr.io/acme/api:1.4
              args:
                PYTHON_VERSION: 3.10
              cache_from: [ghcr.io/acme/api:cache]
              labels: {team: core}
        """,
    )
    (api,) = result.builds  # db only names an image: it is not a build
    assert (api.name, api.dockerfile, api.context) == (
        "api", "apps/api/api.Dockerfile", "apps/api",
    )  # fmt: skip
    assert [t.familiar for t in api.tags] == ["ghcr.io/acme/api:1.4", "ghcr.io/acme/api"]
    assert api.target == "runtime"
    assert api.platforms == ("linux/amd64", "linux/arm64")
    assert api.args == {"PYTHON_VERSION": "3.10"}
    assert api.variant == {}
    assert api.dockerfile_inline is None
    assert api.origin == "compose.yaml:4"
    assert result.diagnostics == []


def test_dockerfile_inline(tmp_path: Path) -> None:
    result = read(
        tmp_path,
        """\
        services:
          tool:
            image: acme/tool
            build:
              context: tools
              dockerfile_inline: |
                FROM alpine:3.20
                RUN echo $$HOME
        """,
    )
    (tool,) = result.builds
    assert (tool.dockerfile, tool.context) == ("tools/Dockerfile", "tools")
    # compose interpolates dockerfile_inline too: $$ is how a Dockerfile keeps its $
    assert tool.dockerfile_inline == "FROM alpine:3.20\nRUN echo $HOME\n"


def test_service_platform_is_the_default_build_platform(tmp_path: Path) -> None:
    result = read(
        tmp_path,
        """\
        services:
          a: {image: acme/a, platform: linux/arm64, build: .}
          b: {image: acme/b, platform: linux/arm64, build: {context: ., platforms: [linux/amd64]}}
        """,
    )
    assert [b.platforms for b in result.builds] == [("linux/arm64",), ("linux/amd64",)]


@pytest.mark.parametrize(
    "args",
    [
        "args:\n        PYTHON_VERSION: 3.10\n        DEBUG: no\n        CACHE: on\n"
        "        NODE: 20\n        MODE: 0o755\n        RATIO: 1e3\n        EMPTY: ''\n",
        "args:\n        - PYTHON_VERSION=3.10\n        - DEBUG=no\n        - CACHE=on\n"
        "        - NODE=20\n        - MODE=0o755\n        - RATIO=1e3\n        - EMPTY=\n",
    ],
    ids=["mapping", "list"],
)
def test_args_stay_strings_as_written(tmp_path: Path, args: str) -> None:
    result = read(
        tmp_path,
        f"services:\n  a:\n    image: acme/a\n    build:\n      context: .\n      {args}",
    )
    assert result.builds[0].args == {
        "PYTHON_VERSION": "3.10",
        "DEBUG": "no",
        "CACHE": "on",
        "NODE": "20",
        "MODE": "0o755",
        "RATIO": "1e3",
        "EMPTY": "",
    }
    assert result.diagnostics == []


def test_args_from_the_environment_are_left_out(tmp_path: Path) -> None:
    result = read(
        tmp_path,
        """\
        services:
          a:
            image: acme/a
            build:
              context: .
              args:
                - GIT_COMMIT
                - FROM_DOTENV
                - SET=1
          b:
            image: acme/b
            build:
              context: .
              args:
                TOKEN:
                NULL_TOO: null
                KEPT: "null"
        """,
        env="FROM_DOTENV=from-file\n",
    )
    a, b = result.builds
    # compose takes a bare arg from its environment, .env included
    assert a.args == {"FROM_DOTENV": "from-file", "SET": "1"}
    assert b.args == {"KEPT": "null"}
    assert codes(result) == [
        ("compose-env-arg", 7), ("compose-env-arg", 15), ("compose-env-arg", 16),
    ]  # fmt: skip
    assert {d.severity for d in result.diagnostics} == {Severity.INFO}
    assert "GIT_COMMIT" in result.diagnostics[0].message


def test_anchors_and_merge_keys(tmp_path: Path) -> None:
    result = read(
        tmp_path,
        """\
        x-build: &build
          context: apps/python
          args: &args
            PYTHON_VERSION: 3.12
            DEBIAN: bookworm
        x-service: &service
          platform: linux/amd64
          build: *build

        services:
          py311:
            <<: *service
            image: acme/python:3.11
            build:
              <<: *build
              args:
                <<: *args
                PYTHON_VERSION: 3.11
          py312:
            <<: *service
            image: acme/python:3.12
          tool:
            <<: [*service]
            image: acme/tool
            build: {<<: *build, target: tool}
        """,
    )
    py311, py312, tool = result.builds
    assert py311.args == {"PYTHON_VERSION": "3.11", "DEBIAN": "bookworm"}
    assert py312.args == {"PYTHON_VERSION": "3.12", "DEBIAN": "bookworm"}
    assert (tool.target, tool.args["PYTHON_VERSION"]) == ("tool", "3.12")
    assert {b.dockerfile for b in result.builds} == {"apps/python/Dockerfile"}
    assert [b.platforms for b in result.builds] == [("linux/amd64",)] * 3
    assert [b.origin for b in result.builds] == [
        "compose.yaml:11", "compose.yaml:19", "compose.yaml:22",
    ]  # fmt: skip


def test_extends_reset_and_override(tmp_path: Path) -> None:
    result = read(
        tmp_path,
        """\
        services:
          base:
            image: acme/base
            build:
              context: base
              args: {A: "1", B: "2"}
              tags: [acme/base:edge]
          child:
            extends: base
            image: acme/child
            build:
              args: [B=3, C=4]
              tags: [acme/child:edge]
          replaced:
            extends: {service: base}
            image: acme/replaced
            build:
              args: !override {Z: "9"}
              tags: !reset []
          consumer:
            extends: base
            build: !reset null
          trimmed:
            extends: base
            build:
              args: {A: !reset null}
        """,
    )
    assert [b.name for b in result.builds] == ["base", "child", "replaced", "trimmed"]
    _, child, replaced, trimmed = result.builds
    assert trimmed.args == {"B": "2"}
    assert child.dockerfile == "base/Dockerfile"
    assert child.args == {"A": "1", "B": "3", "C": "4"}
    assert tags(result, "child") == ["acme/child", "acme/base:edge", "acme/child:edge"]
    assert replaced.args == {"Z": "9"}
    assert tags(result, "replaced") == ["acme/replaced"]


# --- interpolation ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("acme/app:${TAG}", "acme/app:1.2"),
        ("acme/app:$TAG", "acme/app:1.2"),
        ("acme/app:${MISSING:-dev}", "acme/app:dev"),
        ("acme/app:${MISSING-dev}", "acme/app:dev"),
        ("acme/app:${EMPTY:-dev}", "acme/app:dev"),
        ("acme/app${EMPTY-dev}", "acme/app"),
        ("acme/app:${TAG:+set}", "acme/app:set"),
        ("acme/app:x${MISSING:+set}", "acme/app:x"),
        ("acme/app:${MISSING:-${TAG}}", "acme/app:1.2"),
        ("acme/app:${MISSING:-${ALSO_MISSING:-nested}}", "acme/app:nested"),
        ("acme/app:${TAG:?needed}", "acme/app:1.2"),
        ("acme/${QUOTED}:x", "acme/double:x"),
        ("acme/${SINGLE}:x", "acme/single:x"),
        ("acme/${REF}:x", "acme/ref-1.2:x"),
        ("acme/${EXPORTED}:x", "acme/exported:x"),
        ("acme/app:${COMPOSE_PROJECT_NAME}", "acme/app:shop"),
    ],
)
def test_interpolation_from_dotenv(tmp_path: Path, image: str, expected: str) -> None:
    env = """\
        # comment
        TAG=1.2
        EMPTY=
        QUOTED="double" # a comment
        SINGLE='single'
        REF=ref-${TAG}
        export EXPORTED=exported
        """
    compose = f"name: shop\nservices:\n  app:\n    image: '{image}'\n    build: .\n"
    result = read(tmp_path, compose, env=env)
    assert tags(result, "app") == [expected]
    assert result.diagnostics == []
    assert result.files == ["compose.yaml", ".env"]


def test_dollar_dollar_is_a_literal_dollar(tmp_path: Path) -> None:
    result = read(
        tmp_path,
        "services:\n  a:\n    image: acme/a\n    build:\n      context: .\n"
        "      args: {PRICE: $$5, HOME_REF: '$${HOME}', BARE: a$-b}\n",
    )
    assert result.builds[0].args == {"PRICE": "$5", "HOME_REF": "${HOME}", "BARE": "a$-b"}


def test_unresolved_variables(tmp_path: Path) -> None:
    result = read(
        tmp_path,
        """\
        services:
          app:
            image: acme/app:${VERSION}
            build:
              context: apps/${APP}
              tags:
                - acme/app:${CHANNEL:?set CHANNEL}
                - acme/app:stable
              args:
                BASE: ${BASE_IMAGE}
                KEPT: ${DEFAULTED:-3.12}
        """,
        env="OTHER=1\n",
    )
    (app,) = result.builds
    assert [t.familiar for t in app.tags] == ["acme/app:stable"]  # only the unresolved tags go
    assert app.args == {"KEPT": "3.12"}
    assert app.context == "apps/${APP}"  # kept as written
    assert codes(result) == [
        ("compose-unresolved", 5),
        ("compose-unresolved", 3),
        ("compose-unresolved", 7),
        ("compose-unresolved", 10),
    ]
    assert all(d.severity is Severity.WARNING for d in result.diagnostics)
    assert all(d.path == "compose.yaml" for d in result.diagnostics)
    messages = [d.message for d in result.diagnostics]
    assert "${VERSION} is not set in .env" in messages[1]
    assert "the tag is left out" in messages[1]
    assert "${CHANNEL} is required (set CHANNEL) and not set" in messages[2]
    assert "BASE" in messages[3]
    assert "not passed" in messages[3]


def test_without_dotenv_nothing_is_set(tmp_path: Path) -> None:
    result = read(tmp_path, "services:\n  a:\n    image: acme/a:${TAG:-1}-${OS}\n    build: .\n")
    assert tags(result, "a") == []
    (diagnostic,) = result.diagnostics
    assert (diagnostic.code, diagnostic.line) == ("compose-unresolved", 3)
    assert "(there is no .env)" in diagnostic.message
    assert result.files == ["compose.yaml"]


# --- names, contexts, selection ----------------------------------------------------


def test_default_image_name_is_project_dash_service(tmp_path: Path) -> None:
    result = read(
        tmp_path,
        "services:\n  web:\n    build: .\n  Worker_2:\n    build: .\n",
        name="My.Shop/compose.yaml",
    )
    assert tags(result, "web") == ["myshop-web"]
    (inferred, invalid) = result.diagnostics
    assert (inferred.code, inferred.severity, inferred.line) == (
        "inferred-name", Severity.INFO, 2,
    )  # fmt: skip
    assert "'myshop-web'" in inferred.message
    # compose would refuse to tag it: an upper-case name is not an image name
    assert tags(result, "Worker_2") == []
    assert (invalid.code, invalid.line) == ("inferred-name", 4)


def test_top_level_name_is_the_project(tmp_path: Path) -> None:
    result = read(tmp_path, "name: Storefront\nservices:\n  web:\n    build: .\n")
    assert tags(result, "web") == ["storefront-web"]


def test_additional_contexts(tmp_path: Path) -> None:
    result = read(
        tmp_path,
        """\
        services:
          base:
            image: acme/base:1
            build: base
          cache:
            image: redis:7
          app:
            image: acme/app
            build:
              context: app
              additional_contexts:
                - base=service:base
                - redis=service:cache
                - assets=../shared/assets
                - alpine=docker-image://alpine:3.20
                - src=https://github.com/acme/src.git
          other:
            image: acme/other
            build:
              context: app
              additional_contexts:
                base: service:base
        """,
        name="deploy/compose.yaml",
    )
    app, other = result.builds[1:]
    assert app.contexts == {
        "base": "target:base",
        "redis": "docker-image://redis:7",
        "assets": "shared/assets",
        "alpine": "docker-image://alpine:3.20",
        "src": "https://github.com/acme/src.git",
    }
    assert other.contexts == {"base": "target:base"}


def test_additional_context_of_an_unknown_service(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        read(
            tmp_path,
            "services:\n  app:\n    build:\n      additional_contexts:\n"
            "        base: service:bsae\n",
        )
    assert caught.value.message == (
        "service 'app' additional context 'base' names service 'bsae', which is not in this "
        "file (services: app)"
    )
    assert (caught.value.path, caught.value.line) == ("compose.yaml", 5)


def test_service_selection(tmp_path: Path) -> None:
    compose = """\
        services:
          api: {image: acme/api, build: api}
          web: {image: acme/web, build: web}
          db: {image: postgres:16}
        """
    result = read(tmp_path, compose, services=["web", "db"])
    assert [b.name for b in result.builds] == ["web"]
    with pytest.raises(ConfigError) as caught:
        read(tmp_path, compose, services=["wbe"])
    assert caught.value.message == (
        "no service 'wbe' in this compose file (services: api, web, db)"
    )
    assert caught.value.path == "compose.yaml"


def test_remote_context_is_left_out(tmp_path: Path) -> None:
    result = read(
        tmp_path,
        "services:\n  a:\n    image: acme/a\n"
        "    build: https://github.com/acme/a.git#main:docker\n  b:\n    build: b\n    image: acme/b\n",
    )
    assert [b.name for b in result.builds] == ["b"]
    assert codes(result) == [("compose-remote-context", 4)]


def test_include_is_reported(tmp_path: Path) -> None:
    result = read(tmp_path, "include:\n  - other/compose.yaml\nservices: {}\n")
    assert result.builds == []
    assert codes(result) == [("compose-include", 1)]


# --- errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("compose", "message", "line"),
    [
        ("services:\n  a:\n    build: .\n   image: x\n", "not valid YAML", 4),
        ("services:\n  a:\n\tbuild: .\n", "not valid YAML", 3),
        ('services:\n  a:\n    image: "acme\n', "not valid YAML", 4),
        ("services:\n  a: !custom x\n", "not valid YAML", 2),
        ("services: {}\n---\nservices: {}\n", "expected a single document", 2),
        ("", "the file is empty", None),
        ("- a\n", "a compose file must be a mapping", 1),
        ("services:\n  - a\n", "'services' must be a mapping", 1),
        ("services:\n  a: x\n", "service 'a' must be a mapping", 2),
        ("services:\n  a:\n    build: [x]\n", "'build' must be a context path or a mapping", 3),
        ("services:\n  a:\n    build: .\n    image: [x]\n", "'image' must be a string", 4),
        ("services:\n  a:\n    build:\n      args: x\n", "'args' must be a mapping or a list", 4),
        ("services:\n  a:\n    build:\n      args: {X: [1]}\n", "args.X must be a string", 4),
        ("services:\n  a:\n    build:\n      tags: x\n", "'tags' must be a list of strings", 4),
        ("services:\n  a:\n    build: .\n  a:\n    build: b\n", "key 'a' is given twice", 4),
        (
            "services:\n  a:\n    build: {dockerfile: D, dockerfile_inline: FROM x}\n",
            "sets both 'dockerfile' and 'dockerfile_inline'",
            3,
        ),
        ("services:\n  a:\n    image: 'x:${'\n    build: .\n", "has an invalid ${...}", 3),
        ("services:\n  a:\n    image: 'x:${1}'\n    build: .\n", "has an invalid ${...}", 3),
        ("services:\n  a:\n    image: Acme/A\n    build: .\n", "is not an image reference", 3),
        ("services:\n  a:\n    extends: b\n", "extends 'b', which is not in this file", 3),
        (
            "services:\n  a:\n    extends: b\n    build: .\n  b:\n    extends: a\n",
            "extend each other in a loop: a -> b -> a",
            6,
        ),
        (
            "services:\n  a:\n    build:\n      additional_contexts: [base]\n",
            "additional context 'base' has no value",
            4,
        ),
    ],
)
def test_errors_name_the_file_and_line(
    tmp_path: Path, compose: str, message: str, line: int | None
) -> None:
    with pytest.raises(ConfigError) as caught:
        read(tmp_path, compose, name="deploy/compose.yaml")
    assert message in caught.value.message
    assert (caught.value.path, caught.value.line) == ("deploy/compose.yaml", line)


def test_dotenv_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        read(tmp_path, "services: {}\n", env="A=1\nNOT A LINE\n")
    assert (caught.value.path, caught.value.line) == (".env", 2)
    with pytest.raises(ConfigError) as caught:
        read(tmp_path, "services: {}\n", env='A="open\n')
    assert "no closing" in caught.value.message


# --- through the inventory ------------------------------------------------------------


def test_root_compose_file_is_read_by_default(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "compose.yaml": """\
                services:
                  web:
                    image: acme/web:${TAG:-dev}
                    build: apps/web
                """,
            ".env": "TAG=1.0\n",
            "apps/web/Dockerfile": "FROM nginx:1.27\n",
            "apps/stray/Dockerfile": "FROM alpine:3\n",
        },
    )
    inventory = load_inventory(tmp_path)
    (web,) = inventory.builds
    assert (web.name, [t.familiar for t in web.tags]) == ("web", ["acme/web:1.0"])
    assert inventory.sources == ("compose.yaml", ".env")
    assert [(d.code, d.path) for d in inventory.diagnostics] == [
        ("undeclared-dockerfile", "apps/stray/Dockerfile")
    ]


def test_config_selects_services(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "imagegraph.toml": "[[compose]]\nfile = 'deploy/compose.yaml'\nservices = ['api']\n",
            "deploy/compose.yaml": """\
                services:
                  api: {image: acme/api, build: ../api}
                  web: {image: acme/web, build: ../web}
                """,
            "api/Dockerfile": "FROM x\n",
            "web/Dockerfile": "FROM x\n",
        },
    )
    inventory = load_inventory(tmp_path)
    assert [(b.name, b.dockerfile) for b in inventory.builds] == [("api", "api/Dockerfile")]


def test_a_compose_fleet_is_loaded_from_its_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The YAML loader's strings remember their line (a str subclass); a build
    # holding one could be pickled but never loaded back by the restricted
    # unpickler, so every warm scan of a compose fleet scanned afresh.
    import os
    import time

    from imagegraph import _snapshot, scan
    from imagegraph._reading import code_version

    monkeypatch.setattr(_snapshot, "RACY_NS", -3_600_000_000_000)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "Dockerfile").write_text("FROM debian:12\n")
    (tmp_path / "compose.yaml").write_text(
        "services:\n  a:\n    image: acme/a:1\n    build:\n      context: d\n"
        "      args:\n        V: '1'\n      platforms: [linux/amd64]\n"
        "      additional_contexts:\n        x: docker-image://alpine:3\n"
    )
    hour_ago = time.time() - 3600
    for path in (
        tmp_path / "compose.yaml",
        tmp_path / "d" / "Dockerfile",
        tmp_path / "d",
        tmp_path,
    ):
        os.utime(path, (hour_ago, hour_ago))
    graph = scan(tmp_path)
    kept = _snapshot.load_snapshot(tmp_path.resolve(), None, code_version())
    assert kept is not None
    assert kept.inventory.builds == graph.inventory.builds


def test_a_compose_fleet_leaves_no_yaml_string_in_another_fleets_graph(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # References are parsed once per text and shared: one parsed from a compose
    # file's line-remembering string once reached the next fleet naming the same
    # image, whose snapshot then never loaded (a flaky test_findings test in CI).
    import os
    import time

    from imagegraph import _snapshot, scan
    from imagegraph._reading import code_version
    from imagegraph.reference import _parse

    monkeypatch.setattr(_snapshot, "RACY_NS", -3_600_000_000_000)
    _parse.cache_clear()
    compose = tmp_path / "compose"
    write(compose, {"compose.yaml": "services:\n  a:\n    image: leaked/base:1\n    build: d\n",
                    "d/Dockerfile": "FROM debian:12\n"})  # fmt: skip
    scan(compose, cache=False)
    toml = tmp_path / "toml"
    write(toml, {"imagegraph.toml": "[[image]]\ndockerfile = 'D'\n", "D": "FROM leaked/base:1\n"})
    hour_ago = time.time() - 3600
    for path in (toml / "imagegraph.toml", toml / "D", toml):
        os.utime(path, (hour_ago, hour_ago))
    scan(toml)
    assert _snapshot.load_snapshot(toml.resolve(), None, code_version()) is not None
