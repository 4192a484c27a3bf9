"""The ``imagegraph`` command: output, exit codes, and errors as messages rather than tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imagegraph.cli import main

API = Path(__file__).parent.parent / "examples" / "fleet" / "apps" / "api" / "Dockerfile"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_parse_json_lists_stages_and_parents(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "parse", str(API), "--format", "json")
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert data["schema"] == "imagegraph/dockerfile/v1"
    assert [s["name"] for s in data["stages"]] == ["builder", "runtime"]
    assert [(p["kind"], p["image"]) for p in data["parents"]] == [
        ("from", "registry.acme.internal/platform/python:3.12-bookworm"),
        ("from", "registry.acme.internal/platform/app-base:3.12-bookworm"),
        ("copy", "ghcr.io/grpc-ecosystem/grpc-health-probe:v0.4.28"),
    ]
    assert data["diagnostics"] == []


def test_json_is_the_default_when_piped(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "parse", str(API))
    assert code == 0
    assert json.loads(out)["path"] == str(API)


def test_build_args_and_target(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "parse", str(API), "--build-arg", "PYTHON_VERSION=3.13", "--target", "builder"
    )
    assert code == 0
    data = json.loads(out)
    assert [s["name"] for s in data["stages"]] == ["builder"]
    assert [p["image"] for p in data["parents"]] == [
        "registry.acme.internal/platform/python:3.13-bookworm"
    ]


def test_tree_for_people(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "parse", str(API), "--format", "tree")
    assert code == 0
    assert "stage 1 runtime (line 16)" in out
    assert "copy ghcr.io/grpc-ecosystem/grpc-health-probe:v0.4.28 (line 18)" in out


def test_unresolved_argument_is_shown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("ARG BASE\nFROM ${BASE}\n")
    code, out, _ = run(capsys, "parse", str(dockerfile), "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["parents"][0]["resolved"] is False
    assert data["parents"][0]["unresolved"] == ["BASE"]
    assert [(d["code"], d["line"]) for d in data["diagnostics"]] == [("unresolved-arg", 2)]


def test_syntax_error_is_a_message_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM a\nRUN <<EOF\necho never closed\n")
    code, out, err = run(capsys, "parse", str(dockerfile))
    assert (code, out) == (1, "")
    assert err.startswith(f"imagegraph: {dockerfile}:2: unterminated heredoc")
    assert "Traceback" not in err


def test_missing_file_is_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "parse", str(tmp_path / "nope"))
    assert code == 1
    assert "nope" in err
    assert "cannot read" in err


def test_unknown_target_is_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "parse", str(API), "--target", "nope")
    assert code == 1
    assert "'nope'" in err
    assert "builder, runtime" in err


@pytest.mark.parametrize(
    "argv",
    [[], ["parse"], ["parse", str(API), "--build-arg", "NOEQUALS"], ["frobnicate"]],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert "usage:" in err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "parse", "--help")
    assert code == 0
    assert "--build-arg" in out
