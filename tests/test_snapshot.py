"""The graph snapshot behind scan(): used only while nothing the scan read has changed."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import imagegraph.graph
from imagegraph import _snapshot, scan
from imagegraph._reading import cache_directory

HOUR_AGO = time.time() - 3600


def _age(root: Path) -> None:
    # Far from "now", so that a later change gives every stamp a new time.
    for path in [root, *root.rglob("*")]:
        os.utime(path, (HOUR_AGO, HOUR_AGO))


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # Test files are seconds old: allow snapshots of them (the trees are aged instead).
    monkeypatch.setattr(_snapshot, "RACY_NS", -3_600_000_000_000)
    root = tmp_path / "fleet"
    (root / "base").mkdir(parents=True)
    (root / "app").mkdir()
    (root / "base" / "Dockerfile").write_text("FROM debian:12\n")
    (root / "app" / "Dockerfile").write_text("ARG V=1\nFROM base:$V\n")
    (root / "imagegraph.toml").write_text(
        '[[image]]\nname = "base"\ndockerfile = "base/Dockerfile"\ntags = ["base:1"]\n\n'
        '[[image]]\nname = "app"\ndockerfile = "app/Dockerfile"\n'
    )
    _age(root)
    return root


@pytest.fixture
def inventories(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = imagegraph.graph.load_inventory

    def counting(path: object, *, config: object = None, **options: object) -> object:
        calls.append(str(path))
        return real(path, config=config, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(imagegraph.graph, "load_inventory", counting)
    return calls


def _shape(graph: imagegraph.ImageGraph) -> tuple[object, ...]:
    nx_graph = graph.nx
    return (
        sorted(nx_graph.nodes(data="kind")),
        sorted((a, b, d["uses"]) for a, b, d in nx_graph.edges(data=True)),
        graph.diagnostics,
        dict(graph.undetermined),
        graph.builds,
    )


def test_an_unchanged_fleet_is_loaded_not_scanned(fleet: Path, inventories: list[str]) -> None:
    first = scan(fleet)
    assert len(inventories) == 1
    second = scan(fleet)
    assert len(inventories) == 1
    assert _shape(second) == _shape(first)
    assert second.plan(["debian:12"]).names() == [["base"], ["app"]]


@pytest.mark.parametrize(
    "change",
    [
        lambda root: (root / "app" / "Dockerfile").write_text("FROM alpine:3\n"),
        lambda root: (root / "imagegraph.toml").write_text(
            '[[image]]\nname = "base"\ndockerfile = "base/Dockerfile"\n'
        ),
        lambda root: (root / "extra").mkdir(),
        lambda root: (root / "base" / "Dockerfile.dev").write_text("FROM x\n"),
        lambda root: (root / ".gitignore").write_text("app/\n"),
    ],
    ids=["dockerfile", "config", "new-directory", "new-dockerfile", "gitignore"],
)
def test_any_change_to_what_was_read_means_a_new_scan(
    fleet: Path, inventories: list[str], change: object
) -> None:
    scan(fleet)
    change(fleet)  # type: ignore[operator]
    fresh = scan(fleet)
    assert len(inventories) == 2
    assert _shape(fresh) == _shape(scan(fleet, cache=False))


def test_a_gitignore_edit_is_seen(fleet: Path, inventories: list[str]) -> None:
    (fleet / ".gitignore").write_text("# nothing\n")
    _age(fleet)
    scan(fleet)
    (fleet / ".gitignore").write_text("app/\n# now app is ignored\n")
    scan(fleet)
    assert len(inventories) == 2


def test_no_snapshot_while_the_tree_is_changing(
    fleet: Path, inventories: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_snapshot, "RACY_NS", 2_000_000_000)
    (fleet / "app" / "Dockerfile").write_text("FROM base:1\n")  # changed just now
    scan(fleet)
    assert not list(cache_directory().glob("graph-*"))
    scan(fleet)
    assert len(inventories) == 2


@pytest.mark.parametrize("content", [b"", b"garbage", b"cos\nsystem\n(S'echo pwned'\ntR."])
def test_a_bad_snapshot_is_ignored(fleet: Path, inventories: list[str], content: bytes) -> None:
    first = scan(fleet)
    (snapshot,) = cache_directory().glob("graph-*.pickle")
    snapshot.write_bytes(content)
    assert _shape(scan(fleet)) == _shape(first)
    assert len(inventories) == 2


def test_another_config_is_another_snapshot(fleet: Path, inventories: list[str]) -> None:
    other = fleet / "other.toml"
    other.write_text('[[image]]\nname = "base"\ndockerfile = "base/Dockerfile"\n')
    _age(fleet)
    assert len(scan(fleet).builds) == 2
    assert len(scan(fleet, config=other).builds) == 1
    assert len(scan(fleet).builds) == 2
    assert len(inventories) == 2


def test_a_pyproject_without_a_section_is_watched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, inventories: list[str]
) -> None:
    monkeypatch.setattr(_snapshot, "RACY_NS", -3_600_000_000_000)
    root = tmp_path / "repo"
    (root / "app").mkdir(parents=True)
    (root / "app" / "Dockerfile").write_text("FROM alpine:3\n")
    (root / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    _age(root)
    assert [b.name for b in scan(root).builds] == ["app"]
    with (root / "pyproject.toml").open("a") as handle:  # the directory's times stay
        handle.write('[[tool.imagegraph.image]]\nname = "other"\ndockerfile = "app/Dockerfile"\n')
    assert [b.name for b in scan(root).builds] == ["other"]


def test_a_compose_env_file_created_later_is_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_snapshot, "RACY_NS", -3_600_000_000_000)
    root = tmp_path / "repo"
    (root / "deploy").mkdir(parents=True)
    (root / "app").mkdir()
    (root / "app" / "Dockerfile").write_text("FROM alpine:3\n")
    (root / ".gitignore").write_text("deploy/\n")  # not walked: only the stamp can tell
    (root / "deploy" / "compose.yaml").write_text(
        "services:\n  app:\n    image: acme/app:${TAG:-dev}\n    build: ../app\n"
    )
    (root / "imagegraph.toml").write_text('[[compose]]\nfile = "deploy/compose.yaml"\n')
    _age(root)
    assert [t.familiar for t in scan(root).builds[0].tags] == ["acme/app:dev"]
    (root / "deploy" / ".env").write_text("TAG=1.0\n")
    assert [t.familiar for t in scan(root).builds[0].tags] == ["acme/app:1.0"]


def test_a_config_outside_the_root_can_be_snapshotted(
    fleet: Path, tmp_path: Path, inventories: list[str]
) -> None:
    outside = tmp_path / "elsewhere.toml"
    outside.write_text(f'[[image]]\nname = "base"\ndockerfile = "{fleet}/base/Dockerfile"\n')
    os.utime(outside, (HOUR_AGO, HOUR_AGO))
    first = scan(fleet, config=outside)
    second = scan(fleet, config=outside)
    assert len(inventories) == 1
    assert _shape(second) == _shape(first)


def test_a_file_changed_during_the_scan_is_not_snapshotted(
    fleet: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_snapshot, "RACY_NS", 0)  # a change after the scan began is seen as one
    graph = scan(fleet, cache=False)
    (fleet / "app" / "Dockerfile").write_text("FROM alpine:3\n")  # after the scan began
    _snapshot.save_snapshot(fleet.resolve(), None, "v", graph, started=time.time_ns() - 10**9)
    assert not list(cache_directory().glob("graph-*"))
