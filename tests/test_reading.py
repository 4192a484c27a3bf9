"""The parse cache and the process pool behind scan(): reuse, invalidation, safety, equality."""

from __future__ import annotations

import importlib.util
import os
import pickle
import sys
from pathlib import Path

import pytest

from imagegraph import _reading, scan
from imagegraph._reading import MAX_CACHE_FILES, cache_directory, read_dockerfiles

ROOT = Path(__file__).resolve().parent.parent


def _fleet(tmp_path: Path) -> Path:
    root = tmp_path / "fleet"
    (root / "base").mkdir(parents=True)
    (root / "app").mkdir()
    (root / "base" / "Dockerfile").write_text("FROM debian:12\nRUN apt-get update\n")
    (root / "app" / "Dockerfile").write_text("FROM base\nCOPY --from=busybox:1 /bin/sh /sh\n")
    return root


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    real = _reading.prepare_dockerfile

    def counting(data: bytes, *, path: str | None = None) -> object:
        seen.append(path or "")
        return real(data, path=path)

    monkeypatch.setattr(_reading, "prepare_dockerfile", counting)
    return seen


def _cache_file() -> Path:
    files = list(cache_directory().glob("parse-*.pickle"))
    assert len(files) == 1
    return files[0]


def test_a_second_scan_parses_nothing(tmp_path: Path, parses: list[str]) -> None:
    root = _fleet(tmp_path)
    first = scan(root)
    assert sorted(parses) == ["app/Dockerfile", "base/Dockerfile"]
    parses.clear()
    second = scan(root)
    assert parses == []
    assert first.parents("app") == second.parents("app") == ["base", "docker.io/library/busybox:1"]


def test_a_changed_file_is_parsed_again(tmp_path: Path, parses: list[str]) -> None:
    root = _fleet(tmp_path)
    scan(root)
    parses.clear()
    (root / "app" / "Dockerfile").write_text("FROM alpine:3\n")
    graph = scan(root)
    assert parses == ["app/Dockerfile"]
    assert graph.parents("app") == ["docker.io/library/alpine:3"]


def test_a_racy_entry_is_checked_by_content(tmp_path: Path, parses: list[str]) -> None:
    root = _fleet(tmp_path)
    scan(root)
    path = _cache_file()
    data = path.read_bytes()
    assert data.startswith(_reading.MAGIC)
    header, entries = pickle.loads(data[len(_reading.MAGIC) :])
    # Written just now, so every entry is racy and carries a content hash.
    assert all(len(entry[4]) == 16 for entry in entries.values())
    entries["app/Dockerfile"] = (
        *entries["app/Dockerfile"][:4],
        b"0" * 16,
        entries["app/Dockerfile"][5],
    )
    path.write_bytes(_reading.MAGIC + pickle.dumps((header, entries)))
    parses.clear()
    scan(root)
    assert parses == ["app/Dockerfile"]


@pytest.mark.parametrize(
    "content",
    [
        b"not a pickle at all",
        pickle.dumps((("imagegraph-parse-cache", 1, "0.0.0-other", "/x"), {})),
        # A pickle that would call os.system when loaded by a plain unpickler.
        b"cos\nsystem\n(S'echo pwned'\ntR.",
    ],
    ids=["garbage", "other-version", "foreign-code"],
)
def test_a_bad_cache_is_ignored_and_rewritten(
    tmp_path: Path, parses: list[str], content: bytes
) -> None:
    root = _fleet(tmp_path)
    scan(root)
    path = _cache_file()
    path.write_bytes(content)
    parses.clear()
    graph = scan(root)
    assert sorted(parses) == ["app/Dockerfile", "base/Dockerfile"]
    assert graph.parents("app") == ["base", "docker.io/library/busybox:1"]
    parses.clear()
    scan(root)
    assert parses == []  # rewritten whole


def test_no_cache_writes_nothing(tmp_path: Path) -> None:
    scan(_fleet(tmp_path), cache=False)
    assert not list(cache_directory().glob("parse-*"))


def test_unreadable_files_are_errors_not_entries(tmp_path: Path) -> None:
    root = _fleet(tmp_path)
    found = read_dockerfiles(root, ["base/Dockerfile", "gone/Dockerfile"])
    assert isinstance(found["gone/Dockerfile"], FileNotFoundError)
    assert not isinstance(found["base/Dockerfile"], OSError)


def test_old_caches_are_trimmed(tmp_path: Path) -> None:
    directory = cache_directory()
    directory.mkdir(parents=True, exist_ok=True)
    for index in range(MAX_CACHE_FILES + 5):
        stale = directory / f"parse-{index:024x}.pickle"
        stale.write_bytes(_reading.MAGIC)
        os.utime(stale, (1_000_000 + index, 1_000_000 + index))
    scan(_fleet(tmp_path))
    kept = list(directory.glob("parse-*.pickle"))
    assert len(kept) == MAX_CACHE_FILES
    assert directory / f"parse-{0:024x}.pickle" not in kept  # the least recently used went


def _generated(tmp_path: Path, images: int) -> Path:
    spec = importlib.util.spec_from_file_location(
        "generate_fleet", ROOT / "benchmarks" / "generate_fleet.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["generate_fleet"] = module  # its dataclasses look their module up
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules["generate_fleet"]
    out = tmp_path / "generated"
    module.generate(out, images, 3)
    return out


def _everything(graph: object) -> tuple[object, ...]:
    nx_graph = graph.nx  # type: ignore[attr-defined]
    return (
        sorted(nx_graph.nodes),
        sorted((a, b, d["uses"]) for a, b, d in nx_graph.edges(data=True)),
        {n: nx_graph.nodes[n].get("base") for n in nx_graph.nodes},
        graph.diagnostics,  # type: ignore[attr-defined]
        dict(graph.undetermined),  # type: ignore[attr-defined]
    )


def test_the_process_pool_gives_the_serial_result(tmp_path: Path) -> None:
    root = _generated(tmp_path, 1400)  # about 700 Dockerfiles: enough chunks for the pool
    serial = scan(root, cache=False, jobs=1)
    parallel = scan(root, cache=False, jobs=2)
    assert len(serial.builds) == 1400
    assert _everything(parallel) == _everything(serial)
    warm_source = scan(root)  # fills the cache
    assert _everything(scan(root)) == _everything(warm_source) == _everything(serial)


def test_progress_counts_every_dockerfile_once(tmp_path: Path) -> None:
    root = _generated(tmp_path, 700)
    seen: list[tuple[int, int]] = []
    graph = scan(root, cache=False, jobs=2, progress=lambda done, total: seen.append((done, total)))
    files = len({b.dockerfile for b in graph.builds})
    assert seen
    assert all(total == files for _, total in seen)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert seen[-1][0] == files


def test_the_cli_can_skip_the_cache(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from imagegraph.cli import main

    root = _fleet(tmp_path)
    assert main(["plan", str(root), "--changed", "debian:12", "--no-cache", "--jobs", "1"]) == 0
    assert not list(cache_directory().glob("*.pickle"))
    assert main(["plan", str(root), "--changed", "debian:12", "--format", "json"]) == 0
    assert list(cache_directory().glob("parse-*.pickle"))
    assert '"build_count": 2' in capsys.readouterr().out
