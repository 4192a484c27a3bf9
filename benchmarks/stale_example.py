"""Write ``examples/fleet/stale-digests.json``: what a registry might hold for the example fleet.

Usage::

    python benchmarks/stale_example.py [--check]

The manifests are synthetic (digests are sha256 of labels) but consistent:
every index entry is recorded under its digest, every image lists its
base's layers first. The story they tell, for ``imagegraph stale
examples/fleet --digests examples/fleet/stale-digests.json``:

- ``debian:bookworm`` was republished upstream after the fleet's ``debian``
  image was built on it: ``debian`` is stale (by its base annotations), and a
  plan rebuilds everything on it;
- ``python-3.11-alpine`` was built on an earlier push of the fleet's own
  ``alpine`` (no annotations: known by its layers);
- ``web``'s base ``nginx-unprivileged:1.27-alpine`` moved upstream (annotations);
- ``reports`` was never pushed (missing);
- everything else is fresh, some known by annotations, some by layers.

``--check`` exits 1 when the shipped file differs from what this writes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from imagegraph import ImageGraph, ImageRef, record, scan
from imagegraph.oci import BASE_DIGEST, BASE_NAME, OCI_INDEX, OCI_MANIFEST, Descriptor, Manifest

ROOT = Path(__file__).resolve().parent.parent
FLEET = ROOT / "examples" / "fleet"
OUTPUT = FLEET / "stale-digests.json"

STALE_BY_ANNOTATION = {"debian", "web"}
STALE_BY_LAYERS = {"python-3.11-alpine"}
FRESH_BY_LAYERS = {"python-3.12-alpine", "jdk", "docs", "worker"}
MISSING = {"reports"}
MOVED_UPSTREAM = {
    "docker.io/library/debian:bookworm": "2026-12-03T09:14:02Z",
    "docker.io/nginxinc/nginx-unprivileged:1.27-alpine": "2026-12-02T17:40:11Z",
}
PLATFORMS = ("linux/amd64", "linux/arm64")


def digest(label: str) -> str:
    return "sha256:" + hashlib.sha256(label.encode()).hexdigest()


class Registry:
    """The manifests written so far: by reference, and by digest."""

    def __init__(self) -> None:
        self.observed: dict[str, Manifest | None] = {}
        self.configs: dict[str, str] = {}

    def put(self, ref: ImageRef, manifest: Manifest) -> None:
        self.observed[str(ref)] = manifest
        self.observed[str(ImageRef(ref.registry, ref.path, None, manifest.digest))] = manifest

    def image(
        self, ref: ImageRef, label: str, layers: tuple[str, ...], annotations: dict[str, str],
        created: str | None = None,
    ) -> Manifest:  # fmt: skip
        config = digest(f"config {label}")
        if created is not None:
            self.configs[config] = created
        manifest = Manifest(
            str(ref), digest(f"manifest {label}"), OCI_MANIFEST, annotations, layers, config
        )
        self.put(ref, manifest)
        return manifest

    def publish(
        self, ref: ImageRef, label: str, platforms: tuple[str | None, ...],
        layers_of: dict[str | None, tuple[str, ...]], annotations: dict[str, str],
        created: str | None = None,
    ) -> Manifest:  # fmt: skip
        """Push *ref*: one image manifest, or an index of one per platform."""
        if platforms == (None,):
            return self.image(ref, label, layers_of[None], annotations, created)
        entries = []
        for platform in platforms:
            assert platform is not None
            one = self.image(
                ImageRef(ref.registry, ref.path, None, None), f"{label} {platform}",
                layers_of[platform], annotations, created,
            )  # fmt: skip
            entries.append(Descriptor(OCI_MANIFEST, one.digest, 1000, platform))
        index = Manifest(str(ref), digest(f"index {label}"), OCI_INDEX, annotations,
                         manifests=tuple(entries))  # fmt: skip
        self.put(ref, index)
        return index


def layers_for(manifest: Manifest, platform: str | None, registry: Registry) -> tuple[str, ...]:
    """The layers of *manifest* for *platform* (an index's entry, ``linux/amd64`` for none)."""
    if not manifest.is_index:
        return manifest.layers
    entry = manifest.for_platform(platform or "linux/amd64")
    assert entry is not None
    ref = ImageRef.parse(manifest.reference)
    found = registry.observed[str(ImageRef(ref.registry, ref.path, None, entry.digest))]
    assert found is not None
    return found.layers


def build_record(graph: ImageGraph) -> dict[str, object]:
    registry = Registry()
    current: dict[str, Manifest] = {}  # a base reference -> what it serves now
    for node, data in graph.nx.nodes(data=True):
        if data["kind"] != "external":
            continue
        ref: ImageRef = data["ref"]
        created = MOVED_UPSTREAM.get(str(ref))
        label = f"{ref} {'new' if created else 'current'}"
        layers = {p: (digest(f"layer {label} {p}"),) for p in PLATFORMS}
        current[node] = registry.publish(ref, label, PLATFORMS, layers, {}, created)
    order = [n for n in _topological(graph) if graph.nx.nodes[n]["kind"] == "build"]
    for name in order:
        build = graph.build(name)
        if name in MISSING:
            for tag in build.tags:
                registry.observed[str(tag)] = None
            continue
        base_node = graph.base(name)
        assert base_node is not None, name
        base = current[base_node]
        base_ref = (
            graph.nx.nodes[base_node]["ref"]
            if graph.is_external(base_node)
            else graph.build(base_node).tags[0]
        )
        stale = name in STALE_BY_ANNOTATION | STALE_BY_LAYERS
        platforms: tuple[str | None, ...] = build.platforms or (None,)
        layers: dict[str | None, tuple[str, ...]] = {}
        for platform in platforms:
            below = (
                (digest(f"layer {base_ref} old {platform}"),)
                if stale
                else layers_for(base, platform, registry)
            )
            layers[platform] = (*below, digest(f"layer {name} {platform}"))
        annotations = {}
        if name not in STALE_BY_LAYERS | FRESH_BY_LAYERS:
            annotations = {
                BASE_NAME: str(base_ref),
                BASE_DIGEST: digest(f"index {base_ref} old") if stale else base.digest,
            }
        # Every tag of a build is one push: the same manifests under each.
        for tag in build.tags:
            current[name] = registry.publish(tag, name, platforms, layers, annotations)
    data = record(registry.observed)
    data["configs"] = {d: {"created": c} for d, c in sorted(registry.configs.items())}
    return data


def _topological(graph: ImageGraph) -> list[str]:
    import networkx as nx

    return list(nx.lexicographical_topological_sort(graph.nx))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the shipped file")
    args = parser.parse_args()
    text = json.dumps(build_record(scan(FLEET, cache=False)), indent=1) + "\n"
    if args.check:
        if OUTPUT.read_text() != text:
            print(f"{OUTPUT} differs from what {Path(__file__).name} writes", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
