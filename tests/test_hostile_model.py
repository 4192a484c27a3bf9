"""Builds never leave an answer in silence: undetermined bases and digest-pinned fleet images."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import imagegraph
from imagegraph import _files
from imagegraph.cli import main
from imagegraph.diagnostics import Severity
from tests.hostile import Entry, Fifo, Symlink, build

DIGEST = "sha256:" + "a" * 64


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def plan_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object]]:
    code = main(["plan", *argv, "--format", "json", "--no-cache"])
    out, _ = capsys.readouterr()
    return code, json.loads(out)


@pytest.fixture
def undetermined_fleet(tmp_path: Path) -> Path:
    # app's base is an ARG nobody sets; child is built on app; other on alpine.
    return write(
        tmp_path,
        {
            "imagegraph.toml": (
                '[[image]]\nname = "app"\ndockerfile = "app/Dockerfile"\ntags = ["acme/app:1"]\n'
                '[[image]]\nname = "child"\ndockerfile = "child/Dockerfile"\n'
                '[[image]]\nname = "other"\ndockerfile = "other/Dockerfile"\n'
            ),
            "app/Dockerfile": "ARG BASE\nFROM $BASE\nRUN true\n",
            "child/Dockerfile": "FROM acme/app:1\n",
            "other/Dockerfile": "FROM alpine:3\n",
        },
    )


@pytest.mark.parametrize(
    "change",
    [
        "debian:12",  # matches nothing resolved: the unresolved base may be exactly it
        "alpine:3",  # matches something else
    ],
)
def test_an_undetermined_build_and_its_children_are_listed_for_any_image_change(
    undetermined_fleet: Path, change: str
) -> None:
    graph = imagegraph.scan(undetermined_fleet, cache=False)
    result = graph.impact([change])
    assert dict(result.undetermined) == {"app": ("$BASE",), "child": ("via app",)}
    plan = graph.plan([change])
    assert plan.impact is not None
    assert set(plan.impact.undetermined) == {"app", "child"}


def test_a_change_that_matches_nothing_still_lists_the_undetermined_in_the_cli(
    undetermined_fleet: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, data = plan_json(capsys, str(undetermined_fleet), "--changed", "debian:12")
    assert data["build_count"] == 0
    assert [u["build"] for u in data["undetermined"]] == ["app", "child"]  # type: ignore[attr-defined]
    codes = {d["code"] for d in data["diagnostics"]}  # type: ignore[attr-defined]
    assert "change-matches-nothing" in codes


def test_why_says_may_be_reached_not_does_not_reach(
    undetermined_fleet: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["why", "child", str(undetermined_fleet), "--changed", "debian:12", "--no-cache"])
    out, _ = capsys.readouterr()
    assert code == 3
    assert out == "child may be reached: its base is not resolved (via app)\n"


def test_file_and_package_changes_do_not_make_builds_undetermined(
    undetermined_fleet: Path,
) -> None:
    graph = imagegraph.scan(undetermined_fleet, cache=False)
    assert graph.impact([imagegraph.FileChange.of(["other/Dockerfile"])]).undetermined == {}


@pytest.fixture
def pinned_fleet(tmp_path: Path) -> Path:
    return write(
        tmp_path,
        {
            "imagegraph.toml": (
                '[[image]]\nname = "x"\ndockerfile = "x/Dockerfile"\n'
                'tags = ["registry.acme/x:1"]\n'
                '[[image]]\nname = "y"\ndockerfile = "y/Dockerfile"\n'
                '[[image]]\nname = "z"\ndockerfile = "z/Dockerfile"\n'
            ),
            "x/Dockerfile": "FROM debian:12\n",
            "y/Dockerfile": f"FROM registry.acme/x:1@{DIGEST}\n",
            # Only a digest: nothing says which build, so it stays external.
            "z/Dockerfile": f"FROM registry.acme/x@{DIGEST}\n",
        },
    )


@pytest.mark.parametrize("change", ["x", "registry.acme/x:1", "debian:12"])
def test_a_digest_pinned_tag_of_the_fleet_is_reached_through_its_build(
    pinned_fleet: Path, change: str
) -> None:
    graph = imagegraph.scan(pinned_fleet, cache=False)
    assert graph.parents("y") == ["x"]
    plan = graph.plan([change])
    names = plan.names()
    flat = [n for wave in names for n in wave]
    assert "y" in flat
    assert flat.index("x") < flat.index("y")  # parent first
    assert "z" not in flat


def test_a_digest_pinned_tag_of_the_fleet_is_named_in_a_warning(pinned_fleet: Path) -> None:
    graph = imagegraph.scan(pinned_fleet, cache=False)
    found = [d for d in graph.diagnostics if d.code == "digest-pinned-fleet-image"]
    assert [(d.path, d.line) for d in found] == [("y/Dockerfile", 1)]
    assert "'x' builds" in found[0].message


# -- a Dockerfile that is not read or not parsed --------------------------------
#
# Its build has parents nobody knows: for an image change it is undetermined
# (and so are its children), never left out of the plan as if untouched; the
# diagnostic is an error and the CLI exits 1, whether the fleet is declared or
# found by convention.

UNREADABLE: dict[str, tuple[Entry | None, str, str, int | None]] = {
    # kind: (app/Dockerfile, or None for none at all; code, verb, line)
    "bare-from": ("FROM debian:12\nRUN true\nFROM\n", "dockerfile-error", "parsed", 3),
    "heredoc": ("FROM alpine:3\nRUN <<EOF\n", "dockerfile-error", "parsed", 2),
    "missing": (None, "missing-dockerfile", "read", None),
    "dangling-link": (Symlink("nowhere"), "missing-dockerfile", "read", None),
    "outside-root": (Symlink("../../outside/Dockerfile"), "outside-root", "read", None),
    "fifo": (Fifo(), "not-regular-file", "read", None),
    "too-large": ("FROM debian:12\n", "file-too-large", "read", None),
}

DECLARED = (
    '[[image]]\nname = "app"\ndockerfile = "app/Dockerfile"\ntags = ["app"]\n'
    '[[image]]\nname = "child"\ndockerfile = "child/Dockerfile"\n'
    '[[image]]\nname = "other"\ndockerfile = "other/Dockerfile"\n'
)


def unreadable_fleet(tmp_path: Path, kind: str, mode: str) -> Path:
    content = UNREADABLE[kind][0]
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside/Dockerfile").write_text("FROM debian:12\n")
    files: dict[str, Entry] = {
        "child/Dockerfile": "FROM app\n",
        "other/Dockerfile": "FROM alpine:3\n",
    }
    if mode == "declared":
        files["imagegraph.toml"] = DECLARED
    if content is not None:
        files["app/Dockerfile"] = content
    repo = build(tmp_path / "repo", files)
    if kind == "too-large":
        os.truncate(repo / "app/Dockerfile", _files.MAX_FILE_BYTES + 1)  # sparse
    return repo


CASES = [
    pytest.param(kind, mode, id=f"{kind}-{mode}")
    for kind in UNREADABLE
    for mode in ("declared", "convention")
    if not (kind == "missing" and mode == "convention")  # convention finds only what is there
]


@pytest.mark.parametrize(("kind", "mode"), CASES)
def test_a_build_whose_dockerfile_is_not_read_is_undetermined_and_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, mode: str
) -> None:
    _, code, verb, line = UNREADABLE[kind]
    repo = unreadable_fleet(tmp_path, kind, mode)
    graph = imagegraph.scan(repo, cache=False)
    assert "app" in [b.name for b in graph.builds]
    where = "app/Dockerfile" if line is None else f"app/Dockerfile:{line}"
    reason = f"Dockerfile not {verb}: {code} at {where}"
    assert dict(graph.undetermined) == {"app": (reason,)}
    (diagnostic,) = [d for d in graph.diagnostics if d.code == code]
    assert diagnostic.severity is Severity.ERROR
    assert diagnostic.line == line or diagnostic.path == "imagegraph.toml"  # outside: declared at
    # Any image change may reach it: one that matches nothing, and one that
    # matches something else.
    for change in ("debian:12", "alpine:3"):
        result = graph.impact([change])
        assert dict(result.undetermined) == {"app": (reason,), "child": ("via app",)}
    assert graph.impact([imagegraph.FileChange.of(["other/Dockerfile"])]).undetermined == {}

    exit_code, data = plan_json(capsys, str(repo), "--changed", "debian:12")
    assert exit_code == 1
    assert data["build_count"] == 0
    assert data["undetermined"] == [
        {"build": "app", "unresolved": [reason]},
        {"build": "child", "unresolved": ["via app"]},
    ]
    shown = {(d["code"], d["severity"]) for d in data["diagnostics"]}  # type: ignore[attr-defined]
    assert (code, "error") in shown

    assert main(["why", "child", str(repo), "--changed", "debian:12", "--no-cache"]) == 3
    out, _ = capsys.readouterr()
    assert out == "child may be reached: its base is not resolved (via app)\n"

    assert main(["lint", str(repo), "--format", "json", "--no-cache"]) == 1
    out, _ = capsys.readouterr()
    findings = json.loads(out)["findings"]
    assert [f["severity"] for f in findings if f["code"] == code] == ["error"]
    # Nothing says a build whose Dockerfile was not read builds FROM scratch.
    assert [f["image"] for f in findings if f["code"] == "isolated-build"] == ["other"]
    assert all("FROM scratch" not in f["message"] for f in findings)


@pytest.mark.parametrize(
    ("dockerfile", "reason"),
    [
        ("FROM Debian:12\n", "Debian:12 (not an image reference)"),
        ("FROM debian:12 AS b\nCOPY --from=UPPER:1 /x /x\n", "UPPER:1 (not an image reference)"),
    ],
)
def test_a_parent_that_is_no_image_reference_leaves_the_build_undetermined(
    tmp_path: Path, dockerfile: str, reason: str
) -> None:
    # BuildKit refuses the reference; which image was meant is unknown, so the
    # build (and what is built on it) may be reached by any change, never none.
    root = write(
        tmp_path,
        {
            "imagegraph.toml": (
                '[[image]]\nname = "app"\ndockerfile = "app/Dockerfile"\ntags = ["acme/app:1"]\n'
                '[[image]]\nname = "child"\ndockerfile = "child/Dockerfile"\n'
            ),
            "app/Dockerfile": dockerfile,
            "child/Dockerfile": "FROM acme/app:1\n",
        },
    )
    graph = imagegraph.scan(root, cache=False)
    assert any(d.code == "invalid-reference" and d.severity == "error" for d in graph.diagnostics)
    undetermined = graph.impact(["alpine:3"]).undetermined
    assert reason in undetermined["app"]
    assert undetermined["child"] == ("via app",)


def test_a_chain_of_builds_longer_than_python_recurses_is_shown_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Each build FROM the one before: the tree and the inherited packages were
    # walked by recursion (RecursionError past about 1,000 builds).
    files = {"d0/Dockerfile": "FROM debian:12\nRUN apt-get install -y openssl=3.0.1\n"}
    files |= {f"d{i}/Dockerfile": f"FROM d{i - 1}\n" for i in range(1, 1500)}
    root = write(tmp_path / "repo", files)
    assert main(["graph", str(root), "--format", "tree", "--no-cache"]) == 0
    assert "└── d0" in capsys.readouterr().out
    assert main(["packages", str(root), "d1499", "--format", "json", "--no-cache"]) == 0
    (package,) = json.loads(capsys.readouterr().out)["packages"]
    assert (package["name"], package["version"], package["inherited_from"]) == (
        "openssl", "3.0.1", "d0",
    )  # fmt: skip
