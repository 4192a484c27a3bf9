"""The ``imagegraph`` command: output, exit codes, and errors as messages rather than tracebacks."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
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


def small_fleet(root: Path) -> Path:
    files = {
        "imagegraph.toml": """
[[image]]
name = "os"
dockerfile = "os/Dockerfile"
tags = ["acme/os:1"]

[[image]]
name = "app"
dockerfile = "app/Dockerfile"
tags = ["acme/app:1"]

[[image]]
name = "tool"
dockerfile = "tool/Dockerfile"
""",
        "os/Dockerfile": "FROM debian:bookworm\n",
        "app/Dockerfile": "FROM acme/os:1\nCOPY --from=alpine:3 /x /x\n",
        "tool/Dockerfile": "FROM alpine:3\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_plan_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "plan", str(small_fleet(tmp_path)), "--changed", "debian:bookworm")
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert [[b["name"] for b in w["builds"]] for w in data["waves"]] == [["os"], ["app"]]


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("table", "│    2 │ app   │ debian:bookworm → os │"),
        ("make", "\napp: os\n"),
        ("bake", '"acme/os:1": "target:os"'),
        ("gha", '"wave2": {'),
    ],
)
def test_plan_formats(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str, expected: str
) -> None:
    code, out, _ = run(
        capsys, "plan", str(small_fleet(tmp_path)), "--changed", "debian:bookworm", "--format", fmt
    )
    assert code == 0
    assert expected in out


def test_plan_everything_and_max_parallel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "plan", str(small_fleet(tmp_path)), "--max-parallel", "1")
    assert code == 0
    data = json.loads(out)
    assert [[b["name"] for b in w["builds"]] for w in data["waves"]] == [["os"], ["tool"], ["app"]]


def test_plan_with_durations(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    durations = tmp_path / "durations.json"
    durations.write_text('{"os": 60, "app": 30, "tool": 10}')
    code, out, _ = run(
        capsys, "plan", str(small_fleet(tmp_path)), "--durations", str(durations),
        "--workers", "1", "--format", "table",
    )  # fmt: skip
    assert code == 0
    assert "critical path 90s: os -> app" in out
    assert "makespan on 1 workers: 100s" in out


def test_change_matching_nothing_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "plan", str(small_fleet(tmp_path)), "--changed", "debain")
    assert code == 1
    assert out == ""
    assert err.startswith("imagegraph: no build, tag or parent image of this fleet matches")
    assert err.endswith("did you mean debian?\n")


def test_broken_dockerfile_in_the_fleet_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    small_fleet(tmp_path)
    (tmp_path / "tool/Dockerfile").write_text("FROM alpine:3\nRUN <<EOF\n")
    code, out, err = run(capsys, "plan", str(tmp_path), "--changed", "debian:bookworm")
    assert code == 1
    assert json.loads(out)["build_count"] == 2  # the plan is still printed
    assert "tool/Dockerfile:2: error[dockerfile-error]: unterminated heredoc" in err


def test_bad_config_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "imagegraph.toml").write_text("[[image]]\nname = 1\n")
    code, out, err = run(capsys, "plan", str(tmp_path))
    assert (code, out) == (1, "")
    assert err.startswith("imagegraph: imagegraph.toml:1: ")
    assert "Traceback" not in err


def test_cycle_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    small_fleet(tmp_path)
    (tmp_path / "os/Dockerfile").write_text("FROM acme/app:1\n")
    code, _, err = run(capsys, "graph", str(tmp_path))
    assert code == 1
    assert "images depend on themselves" in err
    assert "os/Dockerfile:1" in err


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("json", '"schema": "imagegraph/graph/v1"'),
        ("dot", 'label="debian:bookworm", shape=ellipse'),
        ("mermaid", "flowchart LR"),
        ("tree", "└── debian:bookworm"),
    ],
)
def test_graph_formats(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str, expected: str
) -> None:
    code, out, _ = run(capsys, "graph", str(small_fleet(tmp_path)), "--format", fmt)
    assert code == 0
    assert expected in out


def test_why(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fleet = str(small_fleet(tmp_path))
    code, out, _ = run(capsys, "why", "acme/app:1", fleet, "--changed", "debian:bookworm")
    assert code == 0
    assert out.splitlines() == [
        "debian:bookworm",
        "  -> os  (from debian:bookworm at os/Dockerfile:1)",
        "  -> app  (from acme/os:1 at app/Dockerfile:1)",
    ]
    code, out, _ = run(capsys, "why", "tool", fleet, "--changed", "debian:bookworm")
    assert code == 3
    assert out == "debian:bookworm does not reach tool\n"
    code, _, err = run(capsys, "why", "nope", fleet, "--changed", "debian")
    assert code == 1
    assert "no image 'nope'" in err


def test_changed_files_from_a_file_and_stdin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet = small_fleet(tmp_path / "fleet")
    listing = tmp_path / "changed.txt"
    listing.write_text("os/Dockerfile\nREADME.md\n")
    code, out, _ = run(capsys, "plan", str(fleet), "--changed-files", str(listing))
    assert code == 0
    assert [[b["name"] for b in w["builds"]] for w in json.loads(out)["waves"]] == [["os"], ["app"]]
    monkeypatch.setattr("sys.stdin", io.StringIO("tool/Dockerfile\n"))
    code, out, _ = run(capsys, "plan", str(fleet), "--changed-files", "-")
    assert [[b["name"] for b in w["builds"]] for w in json.loads(out)["waves"]] == [["tool"]]
    code, _, err = run(capsys, "plan", str(fleet), "--changed-files", str(tmp_path / "nope"))
    assert code == 1
    assert "cannot read" in err


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_since_a_git_revision(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fleet = small_fleet(tmp_path)

    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
            cwd=fleet, check=True, capture_output=True,
        )  # fmt: skip

    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "fleet")
    (fleet / "app" / "notes.md").write_text("not copied: app's Dockerfile copies nothing\n")
    (fleet / "os" / "Dockerfile").write_text("FROM debian:bookworm\nRUN true\n")
    code, out, _ = run(capsys, "plan", str(fleet), "--since", "HEAD", "--format", "table")
    assert code == 0
    assert "os/Dockerfile: the Dockerfile" in out
    assert "│    2 │ app   │" in out
    code, _, err = run(capsys, "plan", str(fleet), "--since", "no-such-rev")
    assert code == 1
    assert "no-such-rev" in err
    code, _, err = run(capsys, "plan", str(fleet), "--since", "--output=/tmp/x")
    assert code in (1, 2)


def test_package_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fleet = small_fleet(tmp_path)
    (fleet / "app/Dockerfile").write_text("FROM acme/os:1\nRUN pip install requests==2.31.0\n")
    (fleet / "tool/Dockerfile").write_text("FROM alpine:3\nRUN pip install requests\n")
    code, out, _ = run(
        capsys, "plan", str(fleet), "--package", "pkg:pypi/requests", "--below", "2.32.0"
    )
    assert code == 0
    data = json.loads(out)
    assert [[b["name"] for b in w["builds"]] for w in data["waves"]] == [["app"]]
    assert data["possibly"] == [
        {
            "image": "tool",
            "why": ["requests, version not known (tool/Dockerfile:2): pypi requests below 2.32.0"],
        }
    ]
    code, out, _ = run(
        capsys,
        "plan",
        str(fleet),
        "--package",
        "requests",
        "--below",
        "2.32.0",
        "--include-unknown",
    )
    assert [[b["name"] for b in w["builds"]] for w in json.loads(out)["waves"]] == [["app", "tool"]]
    code, _, err = run(capsys, "plan", str(fleet), "--below", "2.0")
    assert code == 1
    assert "--below needs exactly one --package" in err
    code, out, _ = run(capsys, "packages", str(fleet), "app", "--format", "table")
    assert code == 0
    assert "pypi/requests" in out
    assert "2.31.0" in out
