"""The freshness check: fresh, stale, missing and unknown images, the recording, the plan, the CLI."""

from __future__ import annotations

import hashlib
import json
import secrets
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagegraph import (
    ConfigError,
    ImageBuild,
    ImageGraph,
    ImageRef,
    RecordedManifests,
    StaleChange,
    check_stale,
    record,
)
from imagegraph import stale as stale_module
from imagegraph.cli import main
from imagegraph.oci import (
    BASE_DIGEST,
    BASE_NAME,
    OCI_INDEX,
    OCI_MANIFEST,
    Descriptor,
    Manifest,
    RegistryError,
)
from tests.fleets import make_graph

# The real registry's harness; its fixtures (registry, pusher) imported for pytest to find.
from tests.registry_server import (
    Pusher,
    Registry,
    pusher_fixture,  # noqa: F401
    registry_fixture,  # noqa: F401
)

ROOT = Path(__file__).resolve().parent.parent
FLEET = ROOT / "examples" / "fleet"
DIGESTS = FLEET / "stale-digests.json"


def d(label: str) -> str:
    """A digest for *label*."""
    return "sha256:" + hashlib.sha256(label.encode()).hexdigest()


def image(
    reference: str,
    layers: Iterable[str],
    annotations: Mapping[str, str] | None = None,
    *,
    label: str | None = None,
    config: str | None = None,
) -> Manifest:
    """An image manifest of *layers* (labels), pushed as *reference*."""
    return Manifest(
        reference,
        d(f"manifest {label or reference} {sorted((annotations or {}).items())} {list(layers)}"),
        OCI_MANIFEST,
        dict(annotations or {}),
        tuple(d(f"layer {layer}") for layer in layers),
        config,
    )


def index(
    reference: str, images: Mapping[str, Manifest], annotations: Mapping[str, str] | None = None
) -> list[Manifest]:
    """An index of *images* (platform -> image manifest) as *reference*, and the images
    themselves, recorded under their digests."""
    repo = ImageRef.parse(reference)
    entries = tuple(
        Descriptor(OCI_MANIFEST, one.digest, 100, platform) for platform, one in images.items()
    )
    top = Manifest(
        reference, d(f"index {reference} {entries}"), OCI_INDEX, dict(annotations or {}),
        manifests=entries,
    )  # fmt: skip
    by_digest = [
        Manifest(
            f"{repo.name}@{one.digest}",
            one.digest,
            one.media_type,
            one.annotations,
            one.layers,
            one.config,
        )
        for one in images.values()
    ]
    return [top, *by_digest]


def per_platform(reference: str, layers: Mapping[str, Iterable[str]]) -> list[Manifest]:
    """:func:`index` as *reference* of one image per platform, each of its *layers*."""
    return index(
        reference,
        {
            platform: image(reference, listed, label=f"{reference} {platform}")
            for platform, listed in layers.items()
        },
    )


def built_on(base: Manifest, digest: str | None = None) -> dict[str, str]:
    """The base annotations of an image built on *base* (as it was at *digest*)."""
    return {BASE_NAME: base.reference, BASE_DIGEST: digest or base.digest}


def statuses(report: object) -> list[tuple[str, str | None, str]]:
    return [(e.image, e.platform, e.status) for e in report.entries]  # type: ignore[attr-defined]


DEBIAN = "docker.io/library/debian:12"
APP = "docker.io/acme/app:1"
BASE = "docker.io/acme/base:1"


@pytest.fixture
def graph() -> ImageGraph:
    return make_graph({"app": ["debian:12"]})


# -- the four answers ---------------------------------------------------------------


def test_fresh_by_annotation_with_the_index_digest_or_the_platform_manifest_digest(
    graph: ImageGraph,
) -> None:
    amd = image("docker.io/library/debian", ["deb-a"], label="deb amd64")
    debian = index(DEBIAN, {"linux/amd64": amd})
    for built in (debian[0].digest, amd.digest):
        source = RecordedManifests.of(
            [*debian, image(APP, ["deb-a", "own"], built_on(debian[0], built))]
        )
        report = check_stale(graph, source)
        [entry] = report.entries
        assert (entry.status, entry.method, entry.base) == ("fresh", "annotation", DEBIAN)
        assert entry.old_digest == built
        assert not report.diagnostics
        assert report.change() == StaleChange(())


def test_stale_by_annotation_names_the_base_the_digests_and_when(graph: ImageGraph) -> None:
    config = d("config debian new")
    new = image("docker.io/library/debian", ["deb-new"], label="deb new", config=config)
    debian = index(DEBIAN, {"linux/amd64": new})
    old = d("debian as it was")
    data = record(
        {
            **{str(ImageRef.parse(m.reference)): m for m in debian},
            APP: image(APP, ["deb-old", "own"], built_on(debian[0], old)),
        }
    )
    data["configs"] = {config: {"created": "2026-12-03T09:14:02Z"}}
    report = check_stale(graph, RecordedManifests.from_data(data))
    [entry] = report.stale
    assert (entry.image, entry.tag, entry.base) == ("app", APP, DEBIAN)
    assert (entry.old_digest, entry.new_digest) == (old, debian[0].digest)
    assert entry.since == "2026-12-03T09:14:02Z"
    assert entry.method == "annotation"
    assert report.change().builds == (
        (
            "app",
            (
                f"stale: base debian:12 moved sha256:{old[7:19]} -> "
                f"sha256:{debian[0].digest[7:19]} (since 2026-12-03T09:14:02Z)",
            ),
        ),
    )


def test_the_index_annotations_count_when_the_image_has_none(graph: ImageGraph) -> None:
    debian = image(DEBIAN, ["deb-new"])
    app = index(APP, {"linux/amd64": image("docker.io/acme/app", ["x"], label="app")},
                built_on(debian, d("old")))  # fmt: skip
    [entry] = check_stale(graph, RecordedManifests.of([debian, *app])).entries
    assert (entry.status, entry.method, entry.old_digest) == ("stale", "annotation", d("old"))


def test_fresh_and_stale_by_layers(graph: ImageGraph) -> None:
    debian = image(DEBIAN, ["deb-1", "deb-2"])
    fresh = image(APP, ["deb-1", "deb-2", "own"])
    stale = image(APP, ["deb-1", "deb-old", "own"])
    [entry] = check_stale(graph, RecordedManifests.of([debian, fresh])).entries
    assert (entry.status, entry.method, entry.new_digest) == ("fresh", "layers", debian.digest)
    [entry] = check_stale(graph, RecordedManifests.of([debian, stale])).entries
    assert (entry.status, entry.method, entry.old_digest) == ("stale", "layers", None)
    assert entry.reason == (
        f"base debian:12 moved to sha256:{debian.digest[7:19]}: the image's layers do not "
        "begin with its layers"
    )


def test_missing_is_a_tag_the_registry_does_not_have(graph: ImageGraph) -> None:
    report = check_stale(graph, RecordedManifests.of([image(DEBIAN, ["a"])], absent=[APP]))
    [entry] = report.missing
    assert entry.reason == "the registry has no such tag"
    assert report.change().builds == (("app", ("missing from the registry: acme/app:1",)),)
    assert not report.diagnostics


class Faulty(RecordedManifests):
    """A recording whose answers for some references are registry errors (as a live
    client gives them: the end-to-end test below has the real ones). Only
    :meth:`manifest` differs: :meth:`manifests` is the recording's own."""

    errors: Mapping[str, str]

    @classmethod
    def failing(
        cls, manifests: Iterable[Manifest], errors: Mapping[str, str], absent: Iterable[str] = ()
    ) -> Faulty:
        source = cls.of(manifests, absent=absent)
        assert isinstance(source, Faulty)
        source.errors = errors
        return source

    def manifest(self, reference: ImageRef) -> Manifest:
        code = self.errors.get(str(reference))
        if code is not None:
            raise RegistryError(code, str(reference), "refused")
        return super().manifest(reference)


UNKNOWNS = [
    pytest.param(
        [image(DEBIAN, ["a"]), image(APP, [])], {}, "stale-unknown",
        "no base annotation, and the image lists no layers to compare", id="nothing-tells",
    ),
    pytest.param(
        [image(APP, ["a", "own"])], {}, "registry-not-recorded",
        "the base debian:12 could not be read: docker.io/library/debian:12: not in the "
        "recorded manifests <manifests>", id="base-not-recorded",
    ),
    pytest.param(
        [image(APP, ["a", "own"])], {}, "registry-not-found",
        "the base debian:12 is not in the registry: docker.io/library/debian:12: not in the "
        "registry (recorded in <manifests>)", id="base-not-found",
    ),
    pytest.param(
        [image(DEBIAN, ["a"]), image(APP, ["a"])], {APP: "registry-unauthorized"},
        "registry-unauthorized", "the tag could not be read: docker.io/acme/app:1: refused",
        id="registry-error",
    ),
    pytest.param(
        [image(DEBIAN, ["a"]), image(APP, ["a"])], {DEBIAN: "registry-timeout"},
        "registry-timeout",
        "the base debian:12 could not be read: docker.io/library/debian:12: refused",
        id="base-registry-error",
    ),
    pytest.param(
        [image(DEBIAN, ["a"]), image(APP, ["a"], {BASE_DIGEST: "sha256:abc"})], {},
        "stale-unknown", f"the {BASE_DIGEST} annotation is no sha256 digest", id="bad-annotation",
    ),
    pytest.param(
        [image(APP, ["a"])], {APP: "registry-not-recorded"},
        "registry-not-recorded", "the tag could not be read: docker.io/acme/app:1: refused",
        id="tag-not-recorded-is-never-missing",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("manifests", "errors", "code", "reason"), UNKNOWNS)
def test_unknown_says_why_with_the_registry_code(
    graph: ImageGraph,
    manifests: list[Manifest],
    errors: dict[str, str],
    code: str,
    reason: str,
) -> None:
    absent = [DEBIAN] if code == "registry-not-found" else []
    source = Faulty.failing(manifests, errors, absent)
    report = check_stale(graph, source)
    [entry] = report.unknown
    assert (entry.code, entry.reason) == (code, reason)
    [note] = report.diagnostics
    assert (note.code, note.severity.value, note.path) == (
        "stale-unknown",
        "error",
        "app/Dockerfile",
    )
    assert note.message == f"acme/app:1 of build 'app' could not be checked: {reason} [{code}]"
    assert report.change() == StaleChange(())


def test_an_unresolved_base_is_unknown_and_scratch_is_fresh() -> None:
    graph = ImageGraph.from_builds([
        ImageBuild("app", "app/Dockerfile", "app", (ImageRef.parse(APP),),
                   dockerfile_inline="ARG BASE\nFROM $BASE\n"),
        ImageBuild("tool", "tool/Dockerfile", "tool", (ImageRef.parse("acme/tool:1"),),
                   dockerfile_inline="FROM scratch\nCOPY x /x\n"),
    ])  # fmt: skip
    source = RecordedManifests.of([image(APP, ["a"]), image("acme/tool:1", ["t"])])
    report = check_stale(graph, source)
    assert [(e.image, e.status, e.reason) for e in report.entries] == [
        ("app", "unknown", "its base is not resolved ($BASE)"),
        ("tool", "fresh", "no base image (FROM scratch, or imported)"),
    ]


def test_a_different_base_than_the_dockerfile_names_is_stale(graph: ImageGraph) -> None:
    bookworm = image("docker.io/library/debian:11", ["old"])
    source = RecordedManifests.of([image(DEBIAN, ["a"]), image(APP, ["old"], built_on(bookworm))])
    [entry] = check_stale(graph, source).entries
    assert (entry.status, entry.reason) == (
        "stale", "built on debian:11; the Dockerfile now builds on debian:12",
    )  # fmt: skip


# -- platforms, the fleet's own bases, shared tags --------------------------------------


def test_a_multi_platform_index_is_checked_per_platform() -> None:
    graph = make_graph({"app": ["debian:12"]}, platforms=("linux/amd64", "linux/arm64"))
    debian = per_platform(DEBIAN, {"linux/amd64": ["da"], "linux/arm64/v8": ["db"]})
    app = per_platform(APP, {"linux/amd64": ["da", "own"], "linux/arm64": ["db-old", "own"]})
    report = check_stale(graph, RecordedManifests.of([*debian, *app]))
    assert statuses(report) == [("app", "linux/amd64", "fresh"), ("app", "linux/arm64", "stale")]
    [(name, [why])] = [(n, list(w)) for n, w in report.change().builds]
    assert (name, why.endswith("(linux/arm64)")) == ("app", False)  # one reason: no platform
    only = check_stale(graph, RecordedManifests.of([*debian, *app]), platforms=["linux/amd64"])
    assert statuses(only) == [("app", "linux/amd64", "fresh")]


def test_a_platform_the_index_lacks_is_missing() -> None:
    graph = make_graph({"app": ["debian:12"]}, platforms=("linux/amd64", "linux/arm64"))
    debian = image(DEBIAN, ["da"])
    app = per_platform(APP, {"linux/amd64": ["da", "own"]})
    report = check_stale(graph, RecordedManifests.of([debian, *app]))
    assert statuses(report) == [("app", "linux/amd64", "fresh"), ("app", "linux/arm64", "missing")]
    assert report.missing[0].reason == "the tag's index has no linux/arm64 image"


def test_a_base_the_fleet_builds_is_compared_with_its_pushed_tag() -> None:
    graph = make_graph({"base": ["debian:12"], "app": ["base"], "web": ["base"]})
    debian = image(DEBIAN, ["d"])
    base = image(BASE, ["d", "base-2"])
    app = image(APP, ["d", "base-1", "app"])  # built on the previous push of base
    web = image("docker.io/acme/web:1", ["d", "base-2", "web"], built_on(base))
    report = check_stale(graph, RecordedManifests.of([debian, base, app, web]))
    assert statuses(report) == [
        ("base", None, "fresh"), ("app", None, "stale"), ("web", None, "fresh"),
    ]  # fmt: skip
    assert report.stale[0].base == BASE


def test_children_of_a_stale_image_are_planned_not_guessed_stale() -> None:
    graph = make_graph({"base": ["debian:12"], "app": ["base"], "tool": ["alpine:3"]})
    debian, alpine = image(DEBIAN, ["d-new"]), image("alpine:3", ["al"])
    base = image(BASE, ["d-old", "base"])  # stale
    app = image(APP, ["d-old", "base", "app"], built_on(base))  # fresh against base
    tool = image("acme/tool:1", ["al", "tool"])
    report = check_stale(graph, RecordedManifests.of([debian, alpine, base, app, tool]))
    assert statuses(report) == [
        ("base", None, "stale"), ("app", None, "fresh"), ("tool", None, "fresh"),
    ]  # fmt: skip
    plan = graph.plan([report.change()])
    assert plan.names() == [["base"], ["app"]]
    app_step = next(p for wave in plan.waves for p in wave if p.name == "app")
    assert app_step.cause[0].startswith("via base: stale: base debian:12 moved to")


def test_shared_tag_builds_are_each_checked_for_their_platform() -> None:
    tag = ImageRef.parse("acme/tool:1")
    graph = ImageGraph.from_builds([
        ImageBuild("tool", "tool/Dockerfile", "tool", (tag,), platforms=("linux/amd64",),
                   dockerfile_inline="FROM debian:12"),
        ImageBuild("tool-win", "win/Dockerfile", "win", (tag,), platforms=("windows/amd64",),
                   dockerfile_inline="FROM mcr.microsoft.com/windows/nanoserver:ltsc2022"),
    ])  # fmt: skip
    assert graph.shared_tags
    nano = image("mcr.microsoft.com/windows/nanoserver:ltsc2022", ["n-new"])
    tool = per_platform("acme/tool:1", {"linux/amd64": ["d", "t"], "windows/amd64": ["n-old", "t"]})
    report = check_stale(graph, RecordedManifests.of([image(DEBIAN, ["d"]), nano, *tool]))
    assert statuses(report) == [
        ("tool", "linux/amd64", "fresh"), ("tool-win", "windows/amd64", "stale"),
    ]  # fmt: skip
    assert graph.plan([report.change()]).names() == [["tool-win"]]


def test_a_build_without_platforms_takes_the_amd64_entry_of_an_index(graph: ImageGraph) -> None:
    debian = per_platform(DEBIAN, {"linux/amd64": ["da"], "linux/arm64": ["db"]})
    app = per_platform(APP, {"linux/arm64": ["db-old", "x"], "linux/amd64": ["da", "x"]})
    [entry] = check_stale(graph, RecordedManifests.of([*debian, *app])).entries
    assert (entry.platform, entry.status, entry.method) == (None, "fresh", "layers")
    two = per_platform(APP, {"linux/arm64": ["db"], "linux/s390x": ["db"]})
    [entry] = check_stale(graph, RecordedManifests.of([*debian, *two])).entries
    assert entry.status == "unknown"
    assert entry.reason.startswith("the tag's index has no linux/amd64 image (platforms:")


# -- the plan holds exactly the stale, the missing and what is built on them ---------------


@st.composite
def fleets(draw: st.DrawFn) -> tuple[dict[str, list[str]], dict[str, str]]:
    """A fleet of builds, each on debian:12 or an earlier build, and what each pushed image is."""
    count = draw(st.integers(1, 7))
    spec: dict[str, list[str]] = {}
    for i in range(count):
        parent = draw(st.sampled_from(["debian:12", *spec]))
        spec[f"b{i}"] = [parent]
    kinds = {name: draw(st.sampled_from(["fresh", "stale", "missing", "layers"])) for name in spec}
    return spec, kinds


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleets())
def test_the_plan_is_the_stale_and_missing_and_their_descendants(
    fleet: tuple[dict[str, list[str]], dict[str, str]],
) -> None:
    spec, kinds = fleet
    graph = make_graph(spec)
    debian = image(DEBIAN, ["debian"])
    pushed: dict[str, Manifest] = {}
    absent = []
    for name, (parent,) in spec.items():
        tag = f"docker.io/acme/{name}:1"
        below = debian if parent == "debian:12" else pushed.get(parent)
        if kinds[name] == "missing":
            absent.append(tag)
            continue
        if below is None:  # the parent was never pushed: built on something no longer there
            pushed[name] = image(tag, ["gone", name])
            continue
        layers = [*below.layers, d(name)] if kinds[name] != "stale" else [d("old"), d(name)]
        annotations = built_on(below) if kinds[name] == "fresh" else {}
        pushed[name] = Manifest(tag, d(f"m {name}"), OCI_MANIFEST, annotations, tuple(layers))
    report = check_stale(graph, RecordedManifests.of([debian, *pushed.values()], absent=absent))
    changed = {e.image for e in report.entries if e.status in ("stale", "missing")}
    # Only an image whose own base was never pushed is unknown (its base is not found).
    for entry in report.unknown:
        assert (entry.code, kinds[spec[entry.image][0]]) == ("registry-not-found", "missing")
    expected = changed | {below for name in changed for below in graph.descendants(name)}
    plan = graph.plan([report.change()])
    order = [name for wave in plan.names() for name in wave]
    assert set(order) == expected
    for parent, child in graph.nx.edges():
        if parent in expected and child in expected:
            assert order.index(parent) < order.index(child)
    assert nx.is_directed_acyclic_graph(graph.nx)


# -- the recording ---------------------------------------------------------------------


def test_a_recording_round_trips_and_answers_the_same_offline(tmp_path: Path) -> None:
    graph = make_graph({"base": ["debian:12"], "app": ["base"], "new": ["base"]},
                       platforms=("linux/amd64",))  # fmt: skip
    config = d("config")
    debian = index(DEBIAN, {"linux/amd64": image("docker.io/library/debian", ["d"], label="d",
                                                 config=config)})  # fmt: skip
    base = index(BASE, {"linux/amd64": image("docker.io/acme/base", ["d-old", "b"], label="b")},
                 built_on(debian[0], d("old")))  # fmt: skip
    app = index(APP, {"linux/amd64": image("docker.io/acme/app", ["d-old", "b", "a"], label="a")})
    data = record({str(ImageRef.parse(m.reference)): m for m in [*debian, *base, *app]})
    data["manifests"]["docker.io/acme/new:1"] = None
    data["configs"] = {config: {"created": "2026-01-01T00:00:00Z"}}
    first = check_stale(graph, RecordedManifests.from_data(data))
    assert statuses(first) == [
        ("base", "linux/amd64", "stale"), ("app", "linux/amd64", "fresh"),
        ("new", "linux/amd64", "missing"),
    ]  # fmt: skip
    path = tmp_path / "digests.json"
    path.write_text(json.dumps(record(first)))
    again = check_stale(graph, RecordedManifests(path))
    assert again.entries == first.entries
    assert record(again) == record(first)
    # Everything the check read, and the config it read for "since": nothing else.
    assert record(first)["manifests"] == data["manifests"]
    assert record(first)["configs"] == {config: {"created": "2026-01-01T00:00:00Z"}}


HOSTILE = [
    pytest.param([], "the recording: expected an object, found an array", id="not-an-object"),
    pytest.param({"schema": "x", "manifests": {}}, "schema: expected 'imagegraph/manifests/v1', found 'x'", id="schema"),
    pytest.param({"manifests": 3}, "schema: expected 'imagegraph/manifests/v1', found null", id="no-schema"),
    pytest.param({"manifests": []}, "manifests: expected an object, found an array", id="manifests-type"),
    pytest.param({"manifests": {"Bad Ref": None}}, "manifests['Bad Ref']: not an image reference: repository name must be lowercase", id="bad-reference"),
    pytest.param({"manifests": {"a:1": {"digest": "sha256:xyz", "media_type": OCI_MANIFEST, "layers": []}}},
                 "manifests['a:1'].digest: not a sha256 digest (sha256: and 64 hex digits)", id="bad-digest"),
    pytest.param({"manifests": {"a:1": {"digest": 5, "media_type": OCI_MANIFEST, "layers": []}}},
                 "manifests['a:1'].digest: expected a sha256 digest, found a number", id="digest-type"),
    pytest.param({"manifests": {"a:1": {"digest": d("x"), "media_type": "text/html", "layers": []}}},
                 "manifests['a:1'].media_type: expected an OCI or Docker manifest or index type, found 'text/html'", id="media-type"),
    pytest.param({"manifests": {"a:1": {"digest": d("x"), "media_type": OCI_MANIFEST, "layers": [d("l"), True]}}},
                 "manifests['a:1'].layers[1]: expected a sha256 digest, found a boolean", id="layer-type"),
    pytest.param({"manifests": {"a:1": {"digest": d("x"), "media_type": OCI_MANIFEST, "layers": "x"}}},
                 "manifests['a:1'].layers: expected an array of at most 100000, found a string", id="layers-type"),
    pytest.param({"manifests": {"a:1": {"digest": d("x"), "media_type": OCI_MANIFEST, "layers": [], "annotations": {"k": 1}}}},
                 "manifests['a:1'].annotations['k']: expected a string of at most 65536 characters, found a number", id="annotation-type"),
    pytest.param({"manifests": {"a:1": {"digest": d("x"), "media_type": OCI_MANIFEST, "layers": [], "extra": 1}}},
                 "manifests['a:1']: unknown field 'extra'", id="unknown-field"),
    pytest.param({"manifests": {"a:1": {"digest": d("x"), "media_type": OCI_INDEX, "manifests": [{"media_type": OCI_MANIFEST, "digest": d("y"), "size": -1}]}}},
                 "manifests['a:1'].manifests[0].size: expected a size in bytes, found a number", id="size"),
    pytest.param({"manifests": {"a:1": {"digest": d("x"), "media_type": OCI_INDEX, "manifests": [{"media_type": OCI_MANIFEST, "digest": d("y"), "size": 1, "platform": ["linux"]}]}}},
                 "manifests['a:1'].manifests[0].platform: expected a string of at most 4096 characters, found an array", id="platform"),
    pytest.param({"manifests": {f"a@{d('x')}": {"digest": d("y"), "media_type": OCI_MANIFEST, "layers": []}}},
                 f"manifests['a@{d('x')}']: digest {d('y')} is not the digest it is recorded under", id="digest-mismatch"),
    pytest.param({"manifests": {}, "configs": {d("c"): {"created": 7}}},
                 f"configs['{d('c')}'].created: expected a time (a short string) or null, found a number", id="created"),
    pytest.param({"manifests": {"a:" + "x" * 5000: None}}, "reference longer than 4096 characters", id="huge-reference"),
]  # fmt: skip


@pytest.mark.parametrize(("data", "message"), HOSTILE)
def test_a_hostile_recording_is_a_named_error(tmp_path: Path, data: object, message: str) -> None:
    if isinstance(data, dict):
        data = {"schema": "imagegraph/manifests/v1", **data} if "schema" not in data else data
        if data.get("manifests") == 3:
            del data["schema"]
    path = tmp_path / "digests.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError) as caught:
        RecordedManifests(path)
    assert caught.value.path == str(path)
    assert message in caught.value.message
    assert str(caught.value).startswith(f"{path}: ")


def test_a_huge_or_broken_recording_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "digests.json"
    path.write_text(json.dumps({"schema": "imagegraph/manifests/v1", "manifests": {}}) + " " * 200)
    monkeypatch.setattr(stale_module, "MAX_RECORD_BYTES", 100)
    with pytest.raises(ConfigError, match="recorded manifests larger than 100 bytes"):
        RecordedManifests(path)
    path.write_text("[" * 100_000)
    monkeypatch.undo()
    with pytest.raises(ConfigError, match="recorded manifests is nested too deeply to read"):
        RecordedManifests(path)
    with pytest.raises(ConfigError, match="cannot read recorded manifests"):
        RecordedManifests(tmp_path / "absent.json")


# -- the shipped example and the command line ------------------------------------------------


def test_the_shipped_example_recording_is_what_its_script_writes() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "stale_example.py"), "--check"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_stale_on_the_example_fleet_offline(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "stale", str(FLEET), "--digests", str(DIGESTS), "--format", "json", "--no-cache")  # fmt: skip
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert data["schema"] == "imagegraph/stale/v1"
    assert data["counts"] == {"fresh": 29, "stale": 5, "missing": 1, "unknown": 0}
    found = {(e["image"], e["platform"]): (e["status"], e["method"]) for e in data["entries"]}
    assert found[("debian", "linux/arm64")] == ("stale", "annotation")
    assert found[("python-3.11-alpine", "linux/amd64")] == ("stale", "layers")
    assert found[("web", None)] == ("stale", "annotation")
    assert found[("reports", None)] == ("missing", None)
    assert found[("jdk", None)] == ("fresh", "layers")


def test_plan_stale_rebuilds_the_stale_and_missing_and_what_is_on_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "plan", str(FLEET), "--stale", "--digests", str(DIGESTS), "--format", "json", "--no-cache")  # fmt: skip
    assert (code, err) == (0, "")
    waves = json.loads(out)["waves"]
    first = {b["name"]: b for b in waves[0]["builds"]}
    assert sorted(first) == ["debian", "python-3.11-alpine", "reports"]
    assert first["reports"]["cause"] == [
        "missing from the registry: registry.acme.internal/apps/reports"
    ]
    assert first["debian"]["cause"][0].startswith("stale: base debian:bookworm moved sha256:")
    planned = {b["name"] for wave in waves for b in wave["builds"]}
    assert "web" in planned
    assert not planned & {"alpine", "python-3.12-alpine", "docs", "gateway", "notifier"}
    # combined with another change
    code, out, _ = run(capsys, "plan", str(FLEET), "--stale", "--digests", str(DIGESTS), "--changed", "alpine:3.20", "--format", "json", "--no-cache")  # fmt: skip
    planned = {b["name"] for wave in json.loads(out)["waves"] for b in wave["builds"]}
    assert {"alpine", "python-3.12-alpine", "debian"} <= planned


def test_stale_exits_1_when_an_image_could_not_be_checked(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    data = json.loads(DIGESTS.read_text())
    del data["manifests"]["docker.io/envoyproxy/envoy:v1.31.2"]
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps(data))
    record_to = tmp_path / "again.json"
    code, out, err = run(capsys, "stale", str(FLEET), "--digests", str(partial), "--format", "table", "--record", str(record_to), "--no-cache")  # fmt: skip
    assert code == 1
    assert "gateway" in out
    assert "registry-not-recorded" in out
    assert err == (
        "imagegraph: edge/gateway/Dockerfile: error[stale-unknown]: "
        "registry.acme.internal/edge/gateway of build 'gateway' could not be checked: the base "
        "envoyproxy/envoy:v1.31.2 could not be read: docker.io/envoyproxy/envoy:v1.31.2: not in "
        f"the recorded manifests {partial} [registry-not-recorded]\n"
    )
    again = RecordedManifests(record_to)
    assert "docker.io/envoyproxy/envoy:v1.31.2" not in again._manifests


def test_stale_table_and_bad_input(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    code, out, _ = run(capsys, "stale", str(FLEET), "--digests", str(DIGESTS), "--format", "table", "--no-cache")  # fmt: skip
    assert code == 0
    assert "29 fresh, 5 stale, 1 missing, 0 unknown; fresh: admin, alpine," in out
    assert "base debian:bookworm moved" in out
    bad = tmp_path / "bad.json"
    bad.write_text(
        '{"schema": "imagegraph/manifests/v1", "manifests": {"a:1": {"digest": "md5:x"}}}'
    )
    code, out, err = run(capsys, "stale", str(FLEET), "--digests", str(bad), "--no-cache")
    assert (code, out) == (1, "")
    assert err == (
        f"imagegraph: {bad}: manifests['a:1'].digest: not a sha256 digest (sha256: and 64 hex "
        "digits)\n"
    )
    code, _, err = run(capsys, "plan", str(FLEET), "--digests", str(DIGESTS), "--no-cache")
    assert (code, err) == (1, "imagegraph: --digests and --record go with --stale\n")


# -- end to end, against a real registry (docker-registry on loopback) -----------------------


@pytest.fixture
def pushed_fleet(
    registry: Registry, pusher: Pusher, tmp_path: Path
) -> tuple[Path, Path, dict[str, str]]:
    """A fleet on disk whose images are pushed to the registry, after which the base tag
    moves: ``app`` (annotated) and ``tool`` (layers only) were built on the old base,
    ``child`` on ``app``, ``fresh`` on the new base, and ``new`` was never pushed."""
    from tests.registry_server import basic_auths, random_layers, write_docker_config

    host, ns = registry.host, f"stale-{secrets.token_hex(4)}"
    old, new = random_layers(2), random_layers(2)
    base_v1 = pusher.image(f"{ns}/debian", "12", old)
    base_ref = f"{host}/{ns}/debian:12"
    app = pusher.image(
        f"{ns}/app", "1", [*old, b"app"],
        annotations={BASE_NAME: base_ref, BASE_DIGEST: base_v1.digest},
    )  # fmt: skip
    pusher.image(f"{ns}/tool", "1", [*old, b"tool"])
    pusher.image(
        f"{ns}/child", "1", [*old, b"app", b"child"],
        annotations={BASE_NAME: f"{host}/{ns}/app:1", BASE_DIGEST: app.digest},
    )  # fmt: skip
    base_v2 = pusher.image(f"{ns}/debian", "12", new, created="2026-12-01T00:00:00Z")
    pusher.image(
        f"{ns}/fresh", "1", [*new, b"fresh"],
        annotations={BASE_NAME: base_ref, BASE_DIGEST: base_v2.digest},
    )  # fmt: skip
    fleet = tmp_path / "fleet"
    config = []
    parents = {"app": base_ref, "tool": base_ref, "child": f"{host}/{ns}/app:1",
               "fresh": base_ref, "new": base_ref}  # fmt: skip
    for name, parent in parents.items():
        (fleet / name).mkdir(parents=True)
        (fleet / name / "Dockerfile").write_text(f"FROM {parent}\nRUN true\n")
        config += [
            "[[image]]", f'name = "{name}"', f'dockerfile = "{name}/Dockerfile"',
            f'tags = ["{host}/{ns}/{name}:1"]', "",
        ]  # fmt: skip
    (fleet / "imagegraph.toml").write_text("\n".join(config))
    docker = write_docker_config(tmp_path / "docker", basic_auths(host))
    return fleet, docker, {"old": base_v1.digest, "new": base_v2.digest}


def test_end_to_end_the_base_tag_moves_in_a_real_registry(
    pushed_fleet: tuple[Path, Path, dict[str, str]], tmp_path: Path
) -> None:
    from imagegraph import scan
    from imagegraph.registry import RegistryClient

    fleet, docker, digests = pushed_fleet
    graph = scan(fleet, cache=False)
    with RegistryClient(docker_config=docker, cache_dir=tmp_path / "cache") as client:
        report = check_stale(graph, client)
    found = {e.image: (e.status, e.method) for e in report.entries}
    assert found == {
        "app": ("stale", "annotation"), "tool": ("stale", "layers"),
        "child": ("fresh", "annotation"), "fresh": ("fresh", "annotation"),
        "new": ("missing", None),
    }  # fmt: skip
    app = next(e for e in report.stale if e.image == "app")
    assert (app.old_digest, app.new_digest) == (digests["old"], digests["new"])
    assert app.since == "2026-12-01T00:00:00Z"
    assert not report.diagnostics
    assert graph.plan([report.change()]).names() == [["app", "new", "tool"], ["child"]]
    # The recording answers the same, offline.
    again = check_stale(graph, RecordedManifests.from_data(record(report)))
    assert again.entries == report.entries


def test_end_to_end_the_command_reads_the_registry_and_records(
    pushed_fleet: tuple[Path, Path, dict[str, str]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fleet, docker, _ = pushed_fleet
    monkeypatch.setenv("DOCKER_CONFIG", str(docker))
    monkeypatch.setenv("IMAGEGRAPH_CACHE_DIR", str(tmp_path / "cache"))
    recorded = tmp_path / "digests.json"
    code, out, err = run(capsys, "stale", str(fleet), "--format", "json", "--record", str(recorded))  # fmt: skip
    assert (code, err) == (0, "")
    assert json.loads(out)["counts"] == {"fresh": 2, "stale": 2, "missing": 1, "unknown": 0}
    code, offline, _ = run(capsys, "stale", str(fleet), "--format", "json", "--digests", str(recorded))  # fmt: skip
    assert (code, offline) == (0, out)
    code, out, _ = run(capsys, "plan", str(fleet), "--stale", "--format", "json")
    assert code == 0
    assert [sorted(b["name"] for b in w["builds"]) for w in json.loads(out)["waves"]] == [
        ["app", "new", "tool"], ["child"],
    ]  # fmt: skip


def test_a_base_pinned_by_digest_is_compared_with_the_pin() -> None:
    pin = image("docker.io/library/debian", ["d-pinned"], label="pinned")
    graph = make_graph(
        {
            "app": [f"debian:12@{pin.digest}"],
            "base": ["debian:12"],
            "web": [f"acme/base:1@{d('b')}"],
        }
    )
    moved = image(DEBIAN, ["d-now"])  # the tag moved; the pin did not
    base = Manifest(
        f"docker.io/acme/base@{d('b')}", d("b"), OCI_MANIFEST, {}, (d("layer d-now"), d("layer b"))
    )
    source = RecordedManifests.of([
        moved, pin, image(APP, ["d-pinned", "app"]), base, image(BASE, ["d-now", "b2"]),
        image("docker.io/acme/web:1", ["d-now", "b", "web"]),
    ])  # fmt: skip
    report = check_stale(graph, source)
    assert statuses(report) == [
        ("app", None, "fresh"),
        ("base", None, "fresh"),
        ("web", None, "fresh"),
    ]
    assert report.entries[0].new_digest == pin.digest
    assert report.entries[2].base == f"docker.io/acme/base:1@{d('b')}"


def test_platforms_are_compared_as_containerd_compares_them() -> None:
    graph = make_graph({"app": ["debian:12"]}, platforms=("linux/arm64/v8",))
    debian = per_platform(DEBIAN, {"linux/arm64": ["d"]})
    app = per_platform(APP, {"linux/arm64/v8": ["d", "a"]})
    report = check_stale(graph, RecordedManifests.of([*debian, *app]))
    assert statuses(report) == [("app", "linux/arm64/v8", "fresh")]


def test_the_readme_shows_what_stale_prints(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Which images are stale") :]
    shown = section[section.index("On a terminal, the first prints:") :].split("```")[1]
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.chdir(ROOT)
    code, out, _ = run(capsys, "stale", "examples/fleet", "--digests", "examples/fleet/stale-digests.json", "--format", "table", "--no-cache")  # fmt: skip
    assert code == 0
    assert [line.rstrip() for line in out.splitlines()] == shown.strip("\n").splitlines()
    # and the example tells the story the README tells of it
    assert "python-3.11-alpine │ linux/amd64, linux/arm64 │ stale" in shown


def test_a_notebook_shows_the_report_as_well_formed_html() -> None:
    import xml.etree.ElementTree as ET

    graph = make_graph({"app": ["debian:12"], "new": ["debian:12"], "ok": ["debian:12"]})
    debian = image(DEBIAN, ["d-new"])
    source = RecordedManifests.of(
        [debian, image(APP, ["d-old", "a"], built_on(debian, d("old"))),
         image("acme/ok:1", ["d-new", "<b>"])],
        absent=["acme/new:1"],
    )  # fmt: skip
    html = check_stale(graph, source)._repr_html_()
    root = ET.fromstring(html)
    cells = ["".join(td.itertext()) for td in root.iter("td")]
    assert cells[:4] == ["1", "1", "0", "1"]  # stale, missing, unknown, fresh
    assert "acme/app:1" in cells
    assert f"{d('old')[7:19]} → {debian.digest[7:19]}" in cells
    assert "missing" in cells


def test_a_registry_config_with_an_overlong_created_time_still_records(
    registry: Registry, pusher: Pusher, tmp_path: Path
) -> None:
    """The live check keeps only a time a recording may hold: a base whose config says
    "created" at length is stale without a since, and its recording reads back."""
    from imagegraph import scan
    from imagegraph.registry import RegistryClient
    from tests.registry_server import basic_auths, random_layers, write_docker_config

    host, ns = registry.host, f"stale-{secrets.token_hex(4)}"
    old = random_layers(1)
    pusher.image(f"{ns}/debian", "12", old)
    pusher.image(f"{ns}/tool", "1", [*old, b"tool"])
    pusher.image(f"{ns}/debian", "12", random_layers(1), created="2026-12-01T00:00:00Z" * 50)
    fleet = tmp_path / "fleet"
    (fleet / "tool").mkdir(parents=True)
    (fleet / "tool" / "Dockerfile").write_text(f"FROM {host}/{ns}/debian:12\n")
    (fleet / "imagegraph.toml").write_text(
        f'[[image]]\nname = "tool"\ndockerfile = "tool/Dockerfile"\ntags = ["{host}/{ns}/tool:1"]\n'
    )
    docker = write_docker_config(tmp_path / "docker", basic_auths(host))
    graph = scan(fleet, cache=False)
    with RegistryClient(docker_config=docker, cache=False) as client:
        report = check_stale(graph, client)
    (entry,) = report.entries
    assert (entry.status, entry.method, entry.since) == ("stale", "layers", None)
    again = check_stale(graph, RecordedManifests.from_data(record(report)))
    assert again.entries == report.entries


def test_a_registry_answer_no_recording_could_hold_is_unknown_live_and_offline(
    registry: Registry, pusher: Pusher, tmp_path: Path
) -> None:
    """What the check answers from is what --record writes: a manifest with an annotation
    past the recording's bounds is unknown (registry-malformed), and the recording of the
    run still reads back, instead of refusing the whole file."""
    from imagegraph import scan
    from imagegraph.registry import RegistryClient
    from tests.registry_server import basic_auths, random_layers, write_docker_config

    host, ns = registry.host, f"stale-{secrets.token_hex(4)}"
    old = random_layers(1)
    pusher.image(f"{ns}/debian", "12", old)
    pusher.image(f"{ns}/tool", "1", [*old, b"tool"], annotations={"note": "x" * 70_000})
    pusher.image(f"{ns}/other", "1", [*old, b"other"])
    fleet = tmp_path / "fleet"
    config = []
    for name in ("tool", "other"):
        (fleet / name).mkdir(parents=True)
        (fleet / name / "Dockerfile").write_text(f"FROM {host}/{ns}/debian:12\n")
        config.append(
            f'[[image]]\nname = "{name}"\ndockerfile = "{name}/Dockerfile"\n'
            f'tags = ["{host}/{ns}/{name}:1"]\n'
        )
    (fleet / "imagegraph.toml").write_text("\n".join(config))
    docker = write_docker_config(tmp_path / "docker", basic_auths(host))
    graph = scan(fleet, cache=False)
    with RegistryClient(docker_config=docker, cache=False) as client:
        report = check_stale(graph, client)
    found = {e.image: (e.status, e.code) for e in report.entries}
    assert found == {"tool": ("unknown", "registry-malformed"), "other": ("fresh", None)}
    tool = next(e for e in report.entries if e.image == "tool")
    assert "annotations" in tool.reason
    again = check_stale(graph, RecordedManifests.from_data(record(report)))
    assert {e.image: e.status for e in again.entries} == {"tool": "unknown", "other": "fresh"}


def test_a_single_image_where_the_build_declares_several_platforms_is_missing_for_each() -> None:
    """A build of two platforms pushes an index; a tag serving one image manifest lacks
    the index (an older single-platform push): the image of one platform was compared
    as if it were each platform's, and an arm64 image never pushed could pass as fresh."""
    graph = make_graph({"app": ["debian:12"]}, platforms=("linux/amd64", "linux/arm64"))
    debian = per_platform(DEBIAN, {"linux/amd64": ["da"], "linux/arm64": ["db"]})
    app = image(APP, ["da", "own"], built_on(debian[0]))
    report = check_stale(graph, RecordedManifests.of([*debian, app]))
    assert statuses(report) == [
        ("app", "linux/amd64", "missing"), ("app", "linux/arm64", "missing"),
    ]  # fmt: skip
    assert "not an index of the 2 platforms" in report.missing[0].reason
    assert graph.plan([report.change()]).names() == [["app"]]
    # One declared platform: the single image is that platform's.
    single = make_graph({"app": ["debian:12"]}, platforms=("linux/amd64",))
    assert statuses(check_stale(single, RecordedManifests.of([*debian, app]))) == [
        ("app", "linux/amd64", "fresh"),
    ]  # fmt: skip
