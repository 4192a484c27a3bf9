"""Time ``check_stale`` on a fleet of N tags against a real local registry, and offline.

Usage::

    python benchmarks/stale.py [--tags 10000] [--jobs 8]

Starts Debian's ``docker-registry`` on a free loopback port (as the tests
do: ``apt-get install docker-registry``), pushes a base image and N images
built on it (one repository, N tags; a third annotated with their base, the
rest known by their layers), moves the base tag so that a tenth of them is
stale, and times the check with :class:`imagegraph.RegistryClient` (every
tag's manifest read over HTTP, ``--jobs`` at a time), then from the
recording it wrote. Prints the counts and wall times.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from imagegraph import (  # noqa: E402
    ImageBuild,
    ImageGraph,
    ImageRef,
    RecordedManifests,
    RegistryClient,
    check_stale,
    record,
)
from imagegraph.oci import BASE_DIGEST, BASE_NAME  # noqa: E402
from tests.registry_server import Pushed, Pusher, random_layers, start_registry  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tags", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        registry = start_registry(Path(work) / "registry", auth="none")
        pusher = Pusher(registry)
        try:
            host = registry.host
            base_ref = f"{host}/fleet/base:1"

            def on_base(layers: list[bytes], seeds: tuple[str, str]) -> tuple[Pushed, Pushed]:
                """Push *layers* as the base tag, then an app on it tagged *seeds*: one
                known by its layers, one annotated with the base."""
                base = pusher.image("fleet/base", "1", layers)
                plain = pusher.image("fleet/app", seeds[0], [*layers, b"app"])
                annotated = pusher.image(
                    "fleet/app", seeds[1], [*layers, b"app"],
                    annotations={BASE_NAME: base_ref, BASE_DIGEST: base.digest},
                )  # fmt: skip
                return plain, annotated

            old, new = random_layers(2), random_layers(2)
            started = time.perf_counter()
            # The base tag moves: apps on the old base are stale, on the new one fresh.
            on_old = on_base(old, ("seed-a", "seed-b"))
            on_new = on_base(new, ("seed-c", "seed-d"))
            for i in range(args.tags):
                plain, annotated = on_old if i % 10 == 0 else on_new
                image = annotated if i % 3 == 0 else plain
                pusher.manifest("fleet/app", f"v{i}", image.body, image.media_type)
            pushed = time.perf_counter() - started
        finally:
            pusher.close()
        try:
            graph = ImageGraph.from_builds(
                ImageBuild(
                    f"app-{i}",
                    "app/Dockerfile",
                    "app",
                    (ImageRef.parse(f"{host}/fleet/app:v{i}"),),
                    dockerfile_inline=f"FROM {base_ref}\nRUN true\n",
                )
                for i in range(args.tags)
            )
            cache = Path(work) / "cache"
            started = time.perf_counter()
            with RegistryClient(jobs=args.jobs, cache_dir=cache) as client:
                report = check_stale(graph, client)
            live = time.perf_counter() - started
            recording = Path(work) / "digests.json"
            import json

            recording.write_text(json.dumps(record(report)))
            started = time.perf_counter()
            offline = check_stale(graph, RecordedManifests(recording))
            replayed = time.perf_counter() - started
        finally:
            registry.stop()
    assert offline.entries == report.entries
    print(
        f"{args.tags:,} tags: {len(report.fresh):,} fresh, {len(report.stale):,} stale, "
        f"{len(report.missing):,} missing, {len(report.unknown):,} unknown\n"
        f"pushed in {pushed:.1f} s; checked against the registry in {live:.1f} s "
        f"({args.jobs} requests at a time); from the recording in {replayed:.2f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
