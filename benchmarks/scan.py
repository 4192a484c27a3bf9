"""Scan throughput side by side: a regex floor, dockerfile-parse, and imagegraph cold and warm.

Usage::

    python benchmarks/scan.py FLEET [FLEET ...] [--change debian:bookworm-slim] [--package curl]

Each FLEET is a repository, e.g. one written by ``benchmarks/generate_fleet.py``.
For each, in one process and on the same files, it measures:

* floor: read every Dockerfile and run one regular expression for its ``FROM`` lines;
* dockerfile-parse: ``DockerfileParser(fileobj=...)`` with ``structure`` and
  ``parent_images`` on every file (one core);
* imagegraph ``scan`` cold (no cache; a process pool once the fleet is large),
  then ``scan`` warm (the cache the cold run wrote), then ``impact`` + ``plan``
  for one base image change and for a package change;

and prints files per second, wall seconds and peak memory (the process's
maximum resident set size after each step, from ``resource``), with the
ratios imagegraph/floor and imagegraph/dockerfile-parse. The cache goes to
a temporary directory, so nothing of the user's is read or written. Nothing
here is a pass/fail check: the figures go into issue notes and the README.
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import re
import resource
import sys
import tempfile
import time
from pathlib import Path

_FROM = re.compile(rb"^[ \t]*FROM[ \t]+(\S+)", re.MULTILINE | re.IGNORECASE)


def dockerfiles(root: Path) -> list[Path]:
    from imagegraph.inventory import load_inventory

    inventory = load_inventory(root)
    seen = dict.fromkeys(b.dockerfile for b in inventory.builds if b.dockerfile_inline is None)
    return [Path(inventory.root) / path for path in seen]


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(label: str, files: int, rows: list[tuple[str, float, int, float]], fn):  # type: ignore[no-untyped-def]
    gc.collect()
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    rows.append((label, seconds, files, peak_mb()))
    return result, seconds


def floor(paths: list[Path]) -> int:
    count = 0
    for path in paths:
        count += len(_FROM.findall(path.read_bytes()))
    return count


def with_dockerfile_parse(paths: list[Path]) -> int:
    from dockerfile_parse import DockerfileParser

    rejected = 0
    for path in paths:
        parser = DockerfileParser(fileobj=io.BytesIO(path.read_bytes()))
        try:
            parser.structure  # noqa: B018 - the property does the parsing
            parser.parent_images  # noqa: B018
        except Exception:
            rejected += 1
    return rejected


def parse_only(root: Path, paths: list[Path]) -> int:
    from imagegraph._reading import read_dockerfiles

    relative = [os.path.relpath(path, root) for path in paths]
    return len(read_dockerfiles(root, relative, cache=False, jobs=os.cpu_count()))


def measure(root: Path, change: str, package: str) -> None:
    import imagegraph

    paths = dockerfiles(root)
    files = len(paths)
    rows: list[tuple[str, float, int, float]] = []
    _, floor_s = timed("floor: read + FROM regex", files, rows, lambda: floor(paths))
    _, dfp_s = timed("dockerfile-parse", files, rows, lambda: with_dockerfile_parse(paths))
    _, parse_s = timed(
        "imagegraph parse only (all cores)", files, rows, lambda: parse_only(root, paths)
    )
    graph, cold_s = timed("imagegraph scan, cold", files, rows, lambda: imagegraph.scan(root))
    del graph
    graph, warm_s = timed("imagegraph scan, warm", files, rows, lambda: imagegraph.scan(root))
    plan, plan_s = timed(
        f"impact + plan --changed {change}", files, rows, lambda: graph.plan([change])
    )
    by_package, package_s = (
        timed(
            f"impact + plan --package {package}",
            files,
            rows,
            lambda: graph.plan([imagegraph.PackageChange.named(package)]),
        )
        if package
        else ((), 0.0)
    )
    print(
        f"\n{root}: {files:,} Dockerfiles, {len(graph.builds):,} images, "
        f"{graph.nx.number_of_edges():,} edges; --changed {change}: {len(plan):,} builds "
        f"in {len(plan.waves)} waves; --package {package}: {len(by_package):,} builds"
    )
    print(f"{'step':<40} {'seconds':>9} {'files/s':>10} {'peak RSS MB':>12}")
    for label, seconds, count, peak in rows:
        rate = f"{count / seconds:10,.0f}" if "plan" not in label else f"{'':>10}"
        print(f"{label:<40} {seconds:9.2f} {rate} {peak:12,.0f}")
    print(
        f"cold scan / floor: {cold_s / floor_s:.2f}x the floor's time;  "
        f"parse throughput vs dockerfile-parse: {dfp_s / parse_s:.1f}x;  "
        f"warm scan + base-change plan: {warm_s + plan_s:.2f} s;  "
        f"cold scan + plan: {cold_s + plan_s:.2f} s;  package plan {package_s:.2f} s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("fleets", nargs="+", type=Path)
    parser.add_argument("--change", default="debian:bookworm-slim")
    parser.add_argument("--package", default="curl", help="'' skips the package change")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="imagegraph-cache-") as cache:
        os.environ["IMAGEGRAPH_CACHE_DIR"] = cache
        print(f"{os.cpu_count()} cores; Python {sys.version.split()[0]}; cache in {cache}")
        for fleet in args.fleets:
            measure(fleet, args.change, args.package)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
