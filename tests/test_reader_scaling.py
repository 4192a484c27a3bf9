"""Every declaration reader places its entries in time linear in the file.

Each format is written at two sizes, the second four times the first, with a
block of inert text (a comment, an unused label) beside every entry, so that a
reader that searched the whole text once per entry (as the bake and compose
readers did) would take about 16 times as long on the larger file. The bound
is 8x: generous for a linear reader on a loaded machine, far below quadratic.
Timings of whole runs belong in ``benchmarks/``; this compares two sizes as a
ratio within one run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from imagegraph.inventory import load_inventory

PAD = "x" * 2000
"""Inert text beside every entry: what a per-entry search of the file would scan."""


def _hcl(root: Path, n: int) -> None:
    blocks = [
        f'group "default" {{\n  targets = [{", ".join(f"{chr(34)}t{i}{chr(34)}" for i in range(n))}]\n}}\n'
    ]
    blocks.extend(
        f'/* {PAD} */\ntarget "t{i}" {{\n  context = "d{i % 50}"\n  tags = ["acme/t{i}:1"]\n}}\n'
        for i in range(n)
    )
    (root / "docker-bake.hcl").write_text("".join(blocks))


def _bake_json(root: Path, n: int) -> None:
    targets = {
        f"t{i}": {"context": f"d{i % 50}", "tags": [f"acme/t{i}:1"], "labels": {"pad": PAD}}
        for i in range(n)
    }
    document = {"group": {"default": {"targets": list(targets)}}, "target": targets}
    (root / "docker-bake.json").write_text(json.dumps(document, indent=1))


def _compose(root: Path, n: int) -> None:
    lines = ["services:"]
    for i in range(n):
        lines += [f"  # {PAD}", f"  s{i}:", f"    image: acme/s{i}:1", f"    build: d{i % 50}"]
    (root / "compose.yaml").write_text("\n".join(lines) + "\n")


def _toml(root: Path, n: int) -> None:
    entries = [
        f'# {PAD}\n[[image]]\nname = "t{i}"\ndockerfile = "d{i % 50}/Dockerfile"\n'
        f'tags = ["acme/t{i}:1"]\n'
        for i in range(n)
    ]
    (root / "imagegraph.toml").write_text("\n".join(entries))


def _manifest(root: Path, n: int) -> None:
    # Distinct directories: entries with the same build artifacts merge into one build.
    blocks = ["Maintainers: A (@a)\nGitRepo: https://example.com/x.git\n"]
    blocks += [f"# {PAD}\nTags: t{i}\nDirectory: d{i % 50}/v{i}\n" for i in range(n)]
    (root / "library").write_text("\n".join(blocks))
    (root / "imagegraph.toml").write_text('[[manifests]]\npath = "library"\nrepository = "acme"\n')


FORMATS: dict[str, tuple[Callable[[Path, int], None], int]] = {
    # format -> (writer, the smaller size): small enough for seconds, large
    # enough that the work per entry, not the fixed cost, is measured.
    "bake HCL": (_hcl, 150),
    "bake JSON": (_bake_json, 600),
    "compose": (_compose, 600),
    "imagegraph.toml": (_toml, 600),
    "library manifest": (_manifest, 600),
}


def _seconds(root: Path) -> float:
    best = float("inf")
    for _ in range(3):  # the fastest of three: the least disturbed by the machine
        started = time.perf_counter()
        load_inventory(root)
        best = min(best, time.perf_counter() - started)
    return best


@pytest.mark.parametrize("name", FORMATS)
def test_a_reader_takes_linear_time_in_its_entries(name: str, tmp_path: Path) -> None:
    write, small = FORMATS[name]
    times = []
    builds = []
    for size in (small, 4 * small):
        root = tmp_path / str(size)
        for d in range(50):
            (root / f"d{d}").mkdir(parents=True)
            (root / f"d{d}" / "Dockerfile").write_text("FROM debian:bookworm\n")
        write(root, size)
        builds.append(len(load_inventory(root).builds))
        times.append(_seconds(root))
    assert builds == [small, 4 * small]  # every entry read, at both sizes
    ratio = times[1] / times[0]
    assert ratio < 8, f"{name}: 4x the entries took {ratio:.1f}x the time ({times})"
