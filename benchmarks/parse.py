"""Parse throughput: imagegraph next to dockerfile-parse on the same Dockerfiles.

Usage::

    python benchmarks/parse.py DIR [--repeat N]

Every file under DIR whose name is ``Dockerfile``, starts with ``Dockerfile.``
or ``Dockerfile-``, or ends in ``.dockerfile`` is read into memory once; then
each parser reads all of them, N times, and the best run is reported (files
per second and MB per second, one process, one core). Reading files from
disk is left out so the figures compare parsers, not disks.

What each parser is asked for is what imagegraph needs from a Dockerfile:
its instructions and the images its stages are built from. For
dockerfile-parse that is ``structure`` and ``parent_images`` (each a full
re-parse of the text; both are needed); for imagegraph it is
``parse_dockerfile``, which also resolves ARGs, stages, ``COPY --from`` and
mounts, and validates what BuildKit validates; "imagegraph, graph route" is
what a scan does (``prepare_dockerfile`` then ``resolve_dockerfile``: the
outline of :mod:`imagegraph._fastpath` where the file allows it). Files a
parser rejects count as read (a rejection is an answer) and are reported.

Nothing here is a pass/fail check; the printed figures go into issue notes.
"""

from __future__ import annotations

import argparse
import io
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

from dockerfile_parse import DockerfileParser

from imagegraph import ImageGraphError, parse_dockerfile
from imagegraph.dockerfile import prepare_dockerfile, resolve_dockerfile

NAME = re.compile(r"^(Dockerfile([.-].*)?|.*\.dockerfile)$", re.IGNORECASE)


def collect(root: Path) -> list[tuple[str, bytes]]:
    return [
        (str(path), path.read_bytes())
        for path in sorted(root.rglob("*"))
        if path.is_file() and NAME.match(path.name)
    ]


def with_imagegraph(name: str, data: bytes) -> bool:
    try:
        parse_dockerfile(data, path=name)
    except ImageGraphError:
        return False
    return True


def with_graph_route(name: str, data: bytes) -> bool:
    try:
        resolve_dockerfile(prepare_dockerfile(data, path=name), build_args={}, path=name)
    except ImageGraphError:
        return False
    return True


def with_dockerfile_parse(name: str, data: bytes) -> bool:
    parser = DockerfileParser(fileobj=io.BytesIO(data))
    try:
        parser.structure  # noqa: B018 - the property does the parsing
        parser.parent_images  # noqa: B018
    except Exception:  # any failure is a rejection here
        return False
    return True


def measure(
    parse: Callable[[str, bytes], bool], files: list[tuple[str, bytes]], repeat: int
) -> tuple[float, int]:
    best, rejected = float("inf"), 0
    for _ in range(repeat):
        start = time.perf_counter()
        rejected = sum(not parse(name, data) for name, data in files)
        best = min(best, time.perf_counter() - start)
    return best, rejected


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    files = collect(args.directory)
    if not files:
        print(f"no Dockerfiles under {args.directory}", file=sys.stderr)
        return 1
    size = sum(len(data) for _, data in files)
    lines = sum(data.count(b"\n") for _, data in files)
    print(f"{len(files)} Dockerfiles, {size / 1e6:.2f} MB, {lines} lines; best of {args.repeat}")
    for label, parse in [
        ("imagegraph", with_imagegraph),
        ("imagegraph, graph route", with_graph_route),
        ("dockerfile-parse", with_dockerfile_parse),
    ]:
        seconds, rejected = measure(parse, files, args.repeat)
        print(
            f"{label:>24}: {len(files) / seconds:8.0f} files/s {size / 1e6 / seconds:6.2f} MB/s"
            f"  ({seconds * 1e3:.0f} ms, {rejected} rejected)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
