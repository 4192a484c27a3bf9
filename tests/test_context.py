"""Build contexts: .dockerignore as Docker reads it, COPY/ADD/mount sources, file-change impact."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagegraph import FileChange, parse_dockerfile, scan
from imagegraph.context import DockerIgnore, context_use, read_dockerignore

from .fleets import write

# (patterns, path, ignored) from Docker's documented .dockerignore rules.
IGNORE_CASES = [
    ("*/temp*", "somedir/temporary.txt", True),
    ("*/temp*", "somedir/temp", True),
    ("*/temp*", "temp.txt", False),  # * does not reach the root
    ("*/*/temp*", "somedir/subdir/temporary.txt", True),
    ("*/*/temp*", "somedir/temporary.txt", False),
    ("temp?", "tempa", True),
    ("temp?", "temp", False),
    ("temp?", "tempab", False),
    ("**/*.go", "a/b/c/main.go", True),
    ("**/*.go", "main.go", True),  # ** matches zero directories
    ("*.md\n!README.md", "README.md", False),
    ("*.md\n!README.md", "CHANGES.md", True),
    ("!README.md\n*.md", "README.md", True),  # the last matching line wins
    ("node_modules", "node_modules/x/y.js", True),  # a directory excludes what is below it
    ("/build", "build/out.o", True),  # a leading slash is the root, as without it
    ("build", "src/build/out.o", False),  # patterns are anchored at the root
    ("./docs/../secret", "secret", True),  # patterns are cleaned
    ("[a-c].txt", "b.txt", True),
    ("[^a-c].txt", "b.txt", False),
    ("[^a-c].txt", "d.txt", True),
    ("\\*.txt", "*.txt", True),
    ("\\*.txt", "a.txt", False),
    ("# comment\n\n  spaced.txt  ", "spaced.txt", True),
    ("docs/**/*.png", "docs/a/b/x.png", True),
    ("docs/**", "docs/anything/at/all", True),
    ("*", "Dockerfile", True),
    ("*\n!src", "src/main.py", False),
]


@pytest.mark.parametrize(("patterns", "path", "ignored"), IGNORE_CASES)
def test_dockerignore_rules(patterns: str, path: str, ignored: bool) -> None:
    assert DockerIgnore.parse(patterns).ignores(path) is ignored


def test_per_dockerfile_ignore_file_wins(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").write_text("*.md\n")
    (tmp_path / "build").mkdir()
    (tmp_path / "build/api.Dockerfile").write_text("FROM a\n")
    (tmp_path / "build/api.Dockerfile.dockerignore").write_text("*.txt\n")
    ignore = read_dockerignore(tmp_path, tmp_path / "build/api.Dockerfile")
    assert ignore.ignores("a.txt")
    assert not ignore.ignores("a.md")
    assert read_dockerignore(tmp_path, tmp_path / "Dockerfile").ignores("a.md")


SOURCE_CASES = [
    ("FROM a\nCOPY . /app\n", ["."]),
    ("FROM a\nCOPY ./src/ /app/src\nADD vendor.tar.gz /\n", ["src", "vendor.tar.gz"]),
    ('FROM a\nCOPY ["a b.txt", "c", "/dst/"]\n', ["a b.txt", "c"]),
    ("FROM a\nCOPY --chown=app:app --chmod=644 conf/*.yaml /etc/\n", ["conf/*.yaml"]),
    ("FROM a\nADD https://example.com/x.tgz /x\nADD git@github.com:a/b.git /b\n", []),
    ("FROM a\nCOPY <<EOF /etc/motd\nhello\nEOF\n", []),
    ("FROM a\nCOPY --from=builder /out /out\nFROM b AS builder\n", []),
    ("FROM a\nARG CONF=prod\nCOPY conf/${CONF}.yaml /etc/\n", ["conf/prod.yaml"]),
    ("ARG CONF=prod\nFROM a\nARG CONF\nCOPY conf/$CONF /etc/\n", ["conf/prod"]),
    ("FROM a\nENV DIR=app\nCOPY ${DIR}/ /srv/\n", ["app"]),
    ("FROM a AS base\nENV DIR=app\nFROM base\nCOPY $DIR /srv/\n", ["app"]),
    ("FROM a\nCOPY $FROM_THE_BASE_IMAGE /srv/\n", ["."]),  # unknowable: the whole context
    ("FROM a\nARG TARGETARCH\nCOPY bin/$TARGETARCH/tool /bin/\n", ["."]),
    (
        "FROM a\nRUN --mount=type=bind,source=requirements.txt,target=/r pip install -r /r\n",
        ["requirements.txt"],
    ),
    ("FROM a\nRUN --mount=type=bind,target=/src make\n", ["."]),
    ("FROM a\nRUN --mount=type=cache,target=/c --mount=type=bind,from=b,target=/b true\n", []),
    ("FROM a\nCOPY /etc/../src /src\n", ["src"]),
]


@pytest.mark.parametrize(("text", "patterns"), SOURCE_CASES)
def test_context_sources(text: str, patterns: list[str]) -> None:
    use = context_use(parse_dockerfile(text))
    assert [s.pattern for s in use.sources] == patterns


def test_only_the_target_stages_read_the_context() -> None:
    text = "FROM a AS test\nCOPY tests/ /t\nFROM a AS build\nCOPY src/ /s\nFROM b\nCOPY --from=build /s /s\n"
    df = parse_dockerfile(text)
    assert [s.pattern for s in context_use(df).sources] == ["src"]
    assert [s.pattern for s in context_use(df, "test").sources] == ["tests"]


def test_build_args_reach_copy_sources() -> None:
    df = parse_dockerfile(
        "FROM a\nARG FLAVOR=slim\nCOPY conf/$FLAVOR.ini /\n", build_args={"FLAVOR": "full"}
    )
    assert [s.pattern for s in context_use(df).sources] == ["conf/full.ini"]


def test_unresolved_source_is_a_diagnostic() -> None:
    use = context_use(parse_dockerfile("FROM a\nCOPY $SRC /x\n", path="app/Dockerfile"))
    (diagnostic,) = use.diagnostics
    assert (diagnostic.code, diagnostic.path, diagnostic.line) == (
        "unresolved-copy-source",
        "app/Dockerfile",
        2,
    )
    assert "SRC" in diagnostic.message


FLEET = {
    "imagegraph.toml": """\
        [[image]]
        name = "base"
        context = "base"
        tags = ["acme/base:1"]

        [[image]]
        name = "api"
        context = "api"
        tags = ["acme/api:1"]
        target = "run"

        [[image]]
        name = "web"
        context = "."
        dockerfile = "web/Dockerfile"
        """,
    "base/Dockerfile": "FROM debian:12\nCOPY certs/ /usr/local/share/ca-certificates/\n",
    "base/certs/acme.crt": "x",
    "base/README.md": "docs",
    "api/Dockerfile": (
        "FROM python:3.12 AS build\nCOPY requirements.txt /r\nRUN pip wheel -r /r\n"
        "FROM python:3.12 AS test\nCOPY tests/ /t\n"
        "FROM acme/base:1 AS run\nCOPY --from=build /w /w\nCOPY app/ /app/\n"
    ),
    "api/.dockerignore": "**/__pycache__\n*.md\n",
    "api/requirements.txt": "flask\n",
    "api/app/main.py": "",
    "api/tests/test_main.py": "",
    "api/README.md": "",
    "web/Dockerfile": "FROM nginx:1.27\nCOPY web/site/ /usr/share/nginx/html/\n",
    "web/site/index.html": "",
    "README.md": "",
}


@pytest.mark.parametrize(
    ("paths", "expected"),
    [
        (["README.md"], []),
        (["base/README.md"], []),
        (["api/README.md"], []),  # ignored by api/.dockerignore
        (["api/tests/test_main.py"], []),  # only the test stage copies it
        (["api/app/__pycache__/main.pyc"], []),
        (["api/requirements.txt"], ["api"]),  # the builder stage reads it
        (["api/app/main.py"], ["api"]),
        (["api/Dockerfile"], ["api"]),
        (["api/.dockerignore"], ["api"]),
        (["base/certs/acme.crt"], ["api", "base"]),
        (["web/site/index.html"], ["web"]),
        (["imagegraph.toml"], ["api", "base", "web"]),
    ],
)
def test_file_changes_rebuild_only_readers(
    tmp_path: Path, paths: list[str], expected: list[str]
) -> None:
    graph = scan(write(tmp_path, FLEET))
    assert list(graph.impact([FileChange.of(paths)]).affected) == expected


def test_causes_say_which_line_reads_the_file(tmp_path: Path) -> None:
    graph = scan(write(tmp_path, FLEET))
    result = graph.impact([FileChange.of(["./api/requirements.txt"])])
    assert result.causes == {
        "api": ("api/requirements.txt: COPY requirements.txt (api/Dockerfile:2, stage build)",)
    }
    plan = graph.plan([FileChange.of(["base/certs/acme.crt"])])
    assert plan.names() == [["base"], ["api"]]
    assert plan.waves[0][0].cause == (
        "base/certs/acme.crt: COPY certs (base/Dockerfile:2, stage stage-0)",
    )
    assert plan.waves[1][0].reason[0].parent == "base"


FILES = [
    "README.md", "base/README.md", "base/certs/acme.crt", "base/certs/new.crt", "api/README.md",
    "api/requirements.txt", "api/app/main.py", "api/app/__pycache__/m.pyc", "api/tests/test_main.py",
    "api/docs/guide.md", "web/site/index.html", "web/site/app.js", "web/notes.txt", "other/x",
]  # fmt: skip


@pytest.fixture(scope="module")
def fleet_graph(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return scan(write(tmp_path_factory.mktemp("fleet"), FLEET))


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.sampled_from(FILES), max_size=6))
def test_a_file_plan_is_within_the_whole_context_plan(fleet_graph, paths: list[str]) -> None:  # type: ignore[no-untyped-def]
    graph = fleet_graph
    precise = {p.name for p in graph.plan([FileChange.of(paths)])}
    # "The whole context changed": every build whose context holds one of the files.
    touched = [
        b.name
        for b in graph.builds
        if any(b.context == "." or p.startswith(b.context + "/") for p in paths)
    ]
    coarse = {p.name for p in graph.plan(touched)} if touched else set()
    assert precise <= coarse


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.sampled_from(FILES), max_size=5),
    st.sampled_from(["api/README.md", "api/x/__pycache__/y.pyc", "api/docs/a.md"]),
)
def test_an_ignored_file_never_changes_the_plan(
    fleet_graph, paths: list[str], ignored: str
) -> None:  # type: ignore[no-untyped-def]
    graph = fleet_graph
    before = graph.plan([FileChange.of(paths)]).names()
    after = graph.plan([FileChange.of([*paths, ignored])]).names()
    assert before == after
