"""Stages, parents and ARG substitution, as BuildKit resolves them."""

from __future__ import annotations

from pathlib import Path

import pytest

from imagegraph import (
    Dockerfile,
    DockerfileSyntaxError,
    ImageGraphError,
    Parent,
    StageRef,
    load_dockerfile,
    parse_dockerfile,
)


def parents(df: Dockerfile) -> list[tuple[str, str | None, int]]:
    """(kind, familiar reference or raw text if unresolved, line) of each parent."""
    return [(p.kind, p.ref.familiar if p.ref else p.text, p.line) for p in df.parents]


def codes(df: Dockerfile) -> list[tuple[str, int | None]]:
    return [(d.code, d.line) for d in df.diagnostics]


MULTI_STAGE = """\
# syntax=docker/dockerfile:1
ARG GO_VERSION=1.22
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS Build
RUN --mount=type=cache,target=/root/.cache/go-build go build -o /out/app ./cmd/app
FROM build AS test
RUN go test ./...
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/app /app
COPY --from=docker.io/tonistiigi/xx:1.4 / /
RUN --mount=from=busybox:1.36,source=/bin,target=/tools true
"""


def test_multi_stage_parents_and_stages() -> None:
    df = parse_dockerfile(MULTI_STAGE)
    assert parents(df) == [
        ("from", "golang:1.22-bookworm", 3),
        ("from", "gcr.io/distroless/static-debian12:nonroot", 7),
        ("copy", "tonistiigi/xx:1.4", 9),
        ("mount", "busybox:1.36", 10),
    ]
    build, test, final = df.stages
    assert (build.name, build.platform, build.platform_value) == ("build", "$BUILDPLATFORM", None)
    assert test.base == StageRef(0, "build", "from", 5)
    assert final.name is None
    assert final.label == "stage-2"
    assert final.uses[1] == StageRef(0, "build", "copy", 8)
    assert df.final_stage is final
    assert df.syntax == "docker/dockerfile:1"
    assert df.diagnostics == ()


def test_required_stages_follow_stage_references() -> None:
    df = parse_dockerfile(MULTI_STAGE)
    assert [s.index for s in df.required_stages()] == [0, 2]
    assert [s.index for s in df.required_stages("test")] == [0, 1]
    assert [p.ref.familiar for p in df.parents_for("test") if p.ref] == ["golang:1.22-bookworm"]
    assert df.stage("BUILD") is df.stages[0]
    assert df.stage(2) is df.stages[2]


def test_unknown_target() -> None:
    df = parse_dockerfile("FROM a AS one\nFROM b AS two", path="svc/Dockerfile")
    with pytest.raises(ImageGraphError) as caught:
        df.parents_for("three")
    assert str(caught.value) == (
        "svc/Dockerfile: target stage 'three' could not be found (stages: one, two)"
    )


# (case id, Dockerfile, build args, expected parents, expected diagnostics)
ARG_CASES = [
    (
        "global ARG default",
        "ARG BASE=debian:bookworm\nFROM $BASE",
        {},
        [("from", "debian:bookworm", 2)],
        [],
    ),
    (
        "build argument overrides the default",
        "ARG BASE=debian:bookworm\nFROM ${BASE}",
        {"BASE": "debian:bullseye"},
        [("from", "debian:bullseye", 2)],
        [],
    ),
    (
        "ARG defaults see earlier ARGs",
        "ARG REGISTRY=ghcr.io/acme\nARG TAG=1.0\nARG IMAGE=$REGISTRY/base:$TAG\nFROM $IMAGE",
        {"TAG": "2.0"},
        [("from", "ghcr.io/acme/base:2.0", 4)],
        [],
    ),
    (
        "quoted ARG default",
        'ARG BASE="alpine:3.20"\nFROM $BASE',
        {},
        [("from", "alpine:3.20", 2)],
        [],
    ),
    (
        "default value form",
        "ARG VARIANT\nFROM python:${VARIANT:-3.12-slim}",
        {},
        [("from", "python:3.12-slim", 2)],
        [],
    ),
    (
        "alternative value form",
        "ARG DEBUG=1\nFROM app${DEBUG:+-debug}:1",
        {},
        [("from", "app-debug:1", 2)],
        [],
    ),
    (
        "unset alternative is empty, deterministically",
        "FROM app${DEBUG+-debug}:1",
        {},
        [("from", "app:1", 1)],
        [],
    ),
    (
        "an ARG without value stays unresolved",
        "ARG PY\nFROM python:${PY}-slim",
        {},
        [("from", "python:${PY}-slim", 2)],
        [("unresolved-arg", 2)],
    ),
    (
        "a build argument for an undeclared ARG is ignored, as BuildKit does",
        "FROM python:${PY}",
        {"PY": "3.12"},
        [("from", "python:${PY}", 1)],
        [("unresolved-arg", 1)],
    ),
    (
        "an ARG inside a stage does not reach FROM",
        "FROM a\nARG V=1\nFROM b:$V",
        {},
        [("from", "a", 1), ("from", "b:$V", 3)],
        [("unresolved-arg", 3)],
    ),
    (
        "platform ARGs are unknown without build arguments",
        "FROM base-${TARGETARCH}",
        {},
        [("from", "base-${TARGETARCH}", 1)],
        [("unresolved-arg", 1)],
    ),
    (
        "platform ARGs from build arguments",
        "FROM base-${TARGETARCH}",
        {"TARGETARCH": "arm64"},
        [("from", "base-arm64", 1)],
        [],
    ),
    (
        "an ARG that depends on an unknown value is unknown too",
        "ARG BASE=img-${TARGETOS}\nFROM $BASE",
        {},
        [("from", "$BASE", 2)],
        [("unresolved-arg", 2)],
    ),
    (
        "FROM an ARG naming an earlier stage",
        "FROM alpine AS base\nARG X=1\nFROM base",
        {},
        [("from", "alpine", 1)],
        [],
    ),
]


@pytest.mark.parametrize(
    ("text", "build_args", "expected", "diagnostics"),
    [c[1:] for c in ARG_CASES],
    ids=[c[0] for c in ARG_CASES],
)
def test_arg_substitution(
    text: str,
    build_args: dict[str, str],
    expected: list[tuple[str, str, int]],
    diagnostics: list[tuple[str, int]],
) -> None:
    df = parse_dockerfile(text, build_args=build_args)
    assert parents(df) == expected
    assert codes(df) == diagnostics


def test_unresolved_parent_keeps_raw_text_and_names_the_variable() -> None:
    df = parse_dockerfile("ARG PY\nFROM python:${PY}-slim", path="app/Dockerfile")
    (parent,) = df.parents
    assert parent == Parent("from", "python:${PY}-slim", None, None, 0, 2, ("PY",))
    assert not parent.resolved
    (diagnostic,) = df.diagnostics
    assert str(diagnostic) == (
        "app/Dockerfile:2: warning[unresolved-arg]: FROM python:${PY}-slim cannot be "
        "resolved: PY is declared without a default and no build argument sets it"
    )


def test_platform_arg_in_platform_flag_is_quiet() -> None:
    df = parse_dockerfile("FROM --platform=$BUILDPLATFORM golang AS b\nFROM alpine")
    assert df.diagnostics == ()
    df = parse_dockerfile(
        "FROM --platform=$BUILDPLATFORM golang", build_args={"BUILDPLATFORM": "linux/amd64"}
    )
    assert df.stages[0].platform_value == "linux/amd64"


def test_global_args() -> None:
    df = parse_dockerfile("ARG A=1 B\nARG C=${A}2\nFROM x", build_args={"B": "b"})
    assert [(a.name, a.default, a.value, a.line) for a in df.args] == [
        ("A", "1", "1", 1),
        ("B", None, "b", 1),
        ("C", "${A}2", "12", 2),
    ]


# (case id, Dockerfile, stage index, expected uses as (type, index-or-ref))
STAGE_REF_CASES = [
    (
        "COPY --from a stage name in another case",
        "FROM a AS Build\nFROM b\nCOPY --from=BUILD / /",
        1,
        [("image", "b"), ("stage", 0)],
    ),
    (
        "COPY --from a stage index",
        "FROM a\nFROM b\nCOPY --from=0 / /",
        1,
        [("image", "b"), ("stage", 0)],
    ),
    (
        "COPY --from an image",
        "FROM a\nCOPY --from=nginx:1.27 / /",
        0,
        [("image", "a"), ("image", "nginx:1.27")],
    ),
    (
        "mount from a stage",
        "FROM a AS x\nFROM b\nRUN --mount=from=x,target=/x true",
        1,
        [("image", "b"), ("stage", 0)],
    ),
    (
        "mount without from uses the context",
        "FROM a\nRUN --mount=type=bind,target=/x true",
        0,
        [("image", "a")],
    ),
    (
        "FROM scratch has no base",
        "FROM scratch\nCOPY --from=busybox / /",
        0,
        [("image", "busybox")],
    ),
]


@pytest.mark.parametrize(
    ("text", "index", "uses"), [c[1:] for c in STAGE_REF_CASES], ids=[c[0] for c in STAGE_REF_CASES]
)
def test_stage_references(text: str, index: int, uses: list[tuple[str, object]]) -> None:
    stage = parse_dockerfile(text).stages[index]
    got: list[tuple[str, object]] = []
    for use in stage.uses:
        if isinstance(use, StageRef):
            got.append(("stage", use.index))
        else:
            assert use.ref is not None
            got.append(("image", use.ref.familiar))
    assert got == uses


def test_scratch_is_not_a_parent() -> None:
    df = parse_dockerfile("FROM scratch\nCOPY app /app")
    assert df.parents == ()
    assert df.stages[0].is_scratch


def test_from_matches_stage_names_case_sensitively() -> None:
    df = parse_dockerfile("FROM alpine AS base\nFROM Base")
    assert df.stages[1].base == Parent("from", "Base", "Base", None, 1, 2)
    (diagnostic,) = df.diagnostics
    assert diagnostic.code == "invalid-reference"
    assert "FROM matches stage names case-sensitively, the stage is 'base'" in diagnostic.message


def test_from_a_later_stage_name_is_an_image() -> None:
    df = parse_dockerfile("FROM app AS base\nFROM debian AS app")
    assert parents(df) == [("from", "app", 1), ("from", "debian", 2)]


def test_copy_from_a_later_stage_is_reported() -> None:
    df = parse_dockerfile("FROM a AS x\nCOPY --from=y / /\nFROM b AS y", path="Dockerfile")
    assert codes(df) == [("stage-order", 2)]
    assert df.diagnostics[0].severity == "error"


def test_duplicate_stage_names() -> None:
    df = parse_dockerfile("FROM a AS x\nFROM b AS x\nFROM c\nCOPY --from=x / /")
    assert codes(df) == [("duplicate-stage-name", 2)]
    assert df.stages[2].uses[1] == StageRef(1, "x", "copy", 4)


def test_invalid_reference_is_a_diagnostic_not_an_error() -> None:
    df = parse_dockerfile("FROM a\nCOPY --from=Not_Valid:tag / /")
    assert codes(df) == [("invalid-reference", 2)]
    assert df.parents[1].ref is None
    assert df.parents[1].value == "Not_Valid:tag"


# (case id, Dockerfile, line, message): refused whatever the build arguments
SEMANTIC_ERRORS = [
    ("instruction before FROM", "RUN x\nFROM a", 1, "no build stage in current context"),
    ("only ARGs", "ARG A=1", 1, "dockerfile contains no stages to build"),
    (
        "variable in COPY --from",
        "ARG S=x\nFROM a\nCOPY --from=$S / /",
        3,
        "variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround",
    ),
    (
        "variable in a mount's from",
        "FROM a\nRUN --mount=from=${S} true",
        2,
        "'from' doesn't support variable expansion, define alias stage instead",
    ),
    ("stage index out of range", "FROM a\nCOPY --from=3 / /", 2, "invalid stage index 3"),
    ("negative stage index", "FROM a\nCOPY --from=-1 / /", 2, "invalid stage index -1"),
    ("blank base", "ARG E=\nFROM ${E}", 2, "base name (${E}) should not be blank"),
    (
        "bad substitution in FROM",
        "FROM ${A:x}",
        1,
        "failed to process '${A:x}': unsupported modifier (:x) in substitution",
    ),
]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [c[1:] for c in SEMANTIC_ERRORS],
    ids=[c[0] for c in SEMANTIC_ERRORS],
)
def test_semantic_errors(text: str, line: int, message: str) -> None:
    with pytest.raises(DockerfileSyntaxError) as caught:
        parse_dockerfile(text, path="Dockerfile")
    assert (caught.value.line, caught.value.message) == (line, message)


def test_load_dockerfile(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_bytes(b"\xef\xbb\xbfFROM debian:12\r\nRUN true\r\n")
    df = load_dockerfile(path)
    assert df.path == str(path)
    assert parents(df) == [("from", "debian:12", 1)]


def test_load_invalid_utf8_is_decoded_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_bytes(b"FROM debian:12\nLABEL x=\xff\xfe\nRUN true\n")
    df = load_dockerfile(path)
    assert codes(df) == [("invalid-utf8", 2)]
    assert df.instructions[1].args == ("x", "\ufffd\ufffd", "=")


def test_load_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "Dockerfile"
    with pytest.raises(ImageGraphError) as caught:
        load_dockerfile(missing)
    assert str(caught.value) == f"{missing}: cannot read: No such file or directory"


def test_result_is_immutable_and_comparable() -> None:
    one = parse_dockerfile(MULTI_STAGE, path="a")
    two = parse_dockerfile(MULTI_STAGE, path="a")
    assert one == two
    with pytest.raises(AttributeError):
        one.path = "b"  # type: ignore[misc]


def test_one_byte_order_mark_is_dropped_not_two() -> None:
    assert [i.keyword for i in parse_dockerfile(b"\xef\xbb\xbfFROM a\n").instructions] == ["FROM"]
    with pytest.raises(DockerfileSyntaxError) as caught:
        parse_dockerfile(b"\xef\xbb\xbf\xef\xbb\xbfFROM a\n", path="Dockerfile")
    assert caught.value.line == 1
    assert caught.value.message.startswith("unknown instruction: \ufeffFROM")


def test_stage_names_are_lower_cased_as_go_does() -> None:
    # Go's ToLower maps U+0130 to "i" (Python's str.lower gives two code points).
    df = parse_dockerfile("FROM a AS \u0130x\nFROM \u0131x\nFROM ix")
    assert df.stages[0].name == "ix"
    assert df.stages[2].base == StageRef(0, "ix", "from", 3)


def test_a_byte_order_mark_before_an_image_name_is_skipped_as_buildkit_skips_it() -> None:
    # BuildKit expands FROM and ARG values with Go's text/scanner, which drops
    # a U+FEFF that starts the word: these build on debian:12, valid references
    df = parse_dockerfile("ARG V=\ufeffdebian:12\nFROM \ufeffdebian:12\nFROM $V\n")
    assert parents(df) == [("from", "debian:12", 2), ("from", "debian:12", 3)]
    assert codes(df) == []


@pytest.mark.parametrize(
    "text",
    [
        "FROM alpine:3\nCOPY --from=scratch / /\n",
        "FROM alpine:3\nRUN --mount=from=scratch,target=/s true\n",
        "FROM alpine:3\nCOPY --from=scratch --link / /\n",
    ],
)
def test_copying_from_scratch_pulls_nothing(text: str) -> None:
    # BuildKit gives an implicit stage named scratch the empty filesystem
    # (dockerfile2llb: BaseName == "scratch" -> llb.Scratch()), as for FROM.
    df = parse_dockerfile(text)
    assert [p.value for p in df.parents] == ["alpine:3"]
    assert df.diagnostics == ()
