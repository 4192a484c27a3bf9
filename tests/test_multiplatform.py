"""Multi-platform images: a tag several builds share, per-architecture Dockerfiles,
OCI imports, and the diagnostics of docker-library manifests (issue 14)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imagegraph import ImageBuild, ImageGraph, ImageRef, _snapshot, scan
from imagegraph.cli import main
from imagegraph.diagnostics import Severity
from imagegraph.impact import FileChange

from .fleets import write

HEADER = "Maintainers: Jane Doe <jane@example.com> (@jane)\nGitRepo: https://example.com/x.git\n"

# The shape of library/golang: a Linux entry, then two Windows entries for the
# same platform on different hosts, all three in the index 'latest'.
LINUX = (
    "Tags: 1.22-bookworm\nSharedTags: 1.22, latest\nArchitectures: amd64, arm64v8\n"
    "Directory: bookworm\n"
)
LTSC2025 = (
    "Tags: 1.22-windowsservercore-ltsc2025\nSharedTags: 1.22, latest\n"
    "Architectures: windows-amd64\nDirectory: ltsc2025\nConstraints: windowsservercore-ltsc2025\n"
)
LTSC2022 = (
    "Tags: 1.22-windowsservercore-ltsc2022\nSharedTags: 1.22, latest\n"
    "Architectures: windows-amd64\nDirectory: ltsc2022\nConstraints: windowsservercore-ltsc2022\n"
)
SERVERCORE = "mcr.microsoft.com/windows/servercore"
GOLANG_FILES = {
    "src/bookworm/Dockerfile": "FROM buildpack-deps:bookworm-scm\n",
    "src/ltsc2025/Dockerfile": f"FROM {SERVERCORE}:ltsc2025\n",
    "src/ltsc2022/Dockerfile": f"FROM {SERVERCORE}:ltsc2022\n",
}
CHILDREN = """
[[image]]
name = "app-linux"
dockerfile = "app/Dockerfile"
platforms = ["linux/amd64"]

[[image]]
name = "app-windows"
dockerfile = "app/Dockerfile.windows"
platforms = ["windows/amd64"]

[[image]]
name = "app-any"
dockerfile = "app/Dockerfile"
"""
CHILD_FILES = {
    "app/Dockerfile": "FROM golang:latest\n",
    "app/Dockerfile.windows": "FROM golang:latest\n",
}


def fleet(root: Path, manifest: str, files: dict[str, str], images: str = "") -> Path:
    """A fleet of the manifest ``library/golang`` (checkout ``src``) and *images*."""
    toml = '[[manifests]]\npath = "library/golang"\ncheckout = "src"\n'
    return write(root, {"imagegraph.toml": toml + images, "library/golang": manifest, **files})


def golang(root: Path, *entries: str) -> ImageGraph:
    manifest = HEADER + "".join(f"\n{entry}" for entry in entries)
    return scan(fleet(root, manifest, {**GOLANG_FILES, **CHILD_FILES}, CHILDREN), cache=False)


def codes(graph: ImageGraph) -> list[str]:
    return [d.code for d in graph.diagnostics]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- a tag shared across entries is one image -----------------------------------------


@pytest.mark.parametrize(
    "order",
    [(LINUX, LTSC2025, LTSC2022), (LTSC2025, LTSC2022, LINUX), (LTSC2022, LINUX, LTSC2025)],
    ids=["linux-first", "windows-first", "mixed"],
)
def test_a_shared_tag_is_every_build_of_it(tmp_path: Path, order: tuple[str, ...]) -> None:
    graph = golang(tmp_path, *order)
    linux, w2025, w2022 = (
        "golang:1.22-bookworm",
        "golang:1.22-windowsservercore-ltsc2025",
        "golang:1.22-windowsservercore-ltsc2022",
    )
    declared = [b.name for b in graph.builds if b.name.startswith("golang:")]
    latest = ImageRef.parse("golang:latest")
    assert graph.tag_owners(latest) == tuple(declared)
    assert graph.tag_owner(latest) == declared[0]
    assert graph.nodes("golang:latest") == tuple(declared)
    assert graph.node("golang:latest") == declared[0]
    assert graph.node("golang:1.22-bookworm") == linux  # a tag of one build: that build
    # the same platform under different Constraints is no duplicate, and nothing is
    # reported twice
    assert codes(graph) == []
    assert graph.parents("golang:latest") == [
        "docker.io/library/buildpack-deps:bookworm-scm",
        f"{SERVERCORE}:ltsc2022",
        f"{SERVERCORE}:ltsc2025",
    ]
    # each child goes to the builds of its platform, whatever the order of the entries
    assert graph.parents("app-linux") == [linux]
    assert graph.parents("app-windows") == sorted([w2022, w2025])
    assert graph.parents("app-any") == sorted([linux, w2022, w2025])
    assert graph.children("golang:latest") == ["app-any", "app-linux", "app-windows"]
    assert graph.children(w2022) == ["app-any", "app-windows"]
    assert graph.descendants("golang:latest") == ["app-any", "app-linux", "app-windows"]
    assert f"{SERVERCORE}:ltsc2025" in graph.ancestors("golang:latest")
    assert [e.child for e in graph.edges("golang:latest", "app-windows")] == [
        "app-windows",
        "app-windows",
    ]


def test_why_and_impact_see_every_build_of_a_shared_tag(tmp_path: Path) -> None:
    graph = golang(tmp_path, LINUX, LTSC2025, LTSC2022)
    chain = graph.why("golang:latest", ImageRef.parse(f"{SERVERCORE}:ltsc2022"))
    assert chain is not None
    assert [(e.parent, e.child) for e in chain] == [
        (f"{SERVERCORE}:ltsc2022", "golang:1.22-windowsservercore-ltsc2022")
    ]
    assert graph.why("golang:latest", "golang:latest") == ()
    assert graph.why("app-linux", f"{SERVERCORE}:ltsc2022") is None
    result = graph.impact([f"{SERVERCORE}:ltsc2022"])
    assert result.affected == ("app-any", "app-windows", "golang:1.22-windowsservercore-ltsc2022")
    result = graph.impact(["golang:latest"])
    assert result.affected == (
        "app-any", "app-linux", "app-windows", "golang:1.22-bookworm",
        "golang:1.22-windowsservercore-ltsc2022", "golang:1.22-windowsservercore-ltsc2025",
    )  # fmt: skip


def test_the_cli_why_and_plan_see_every_build_of_a_shared_tag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    golang(tmp_path, LINUX, LTSC2025, LTSC2022)
    root = str(tmp_path)
    code, out, _ = run(
        capsys, "why", "golang:latest", root, "--changed", f"{SERVERCORE}:ltsc2022", "--no-cache"
    )
    assert code == 0, out
    assert "golang:1.22-windowsservercore-ltsc2022" in out
    code, out, _ = run(capsys, "why", "golang:latest", root, "--changed", "alpine", "--no-cache")
    assert code != 0
    code, out, _ = run(
        capsys, "plan", root, "--changed", "golang:latest", "--format", "json", "--no-cache"
    )
    assert code == 0, out
    planned = sorted(b["name"] for wave in json.loads(out)["waves"] for b in wave["builds"])
    assert planned == [
        "app-any", "app-linux", "app-windows", "golang:1.22-bookworm",
        "golang:1.22-windowsservercore-ltsc2022", "golang:1.22-windowsservercore-ltsc2025",
    ]  # fmt: skip


# --- which builds of a tag a child uses ----------------------------------------------


def build(name: str, text: str, *tags: str, platforms: tuple[str, ...] = ()) -> ImageBuild:
    return ImageBuild(
        name, f"{name}/Dockerfile", name, tuple(ImageRef.parse(t) for t in tags),
        platforms=platforms, dockerfile_inline=text,
    )  # fmt: skip


BASES = [
    build("base-amd64", "FROM debian:12\n", "acme/base:1", platforms=("linux/amd64",)),
    build("base-arm64", "FROM debian:12\n", "acme/base:1", platforms=("linux/arm64/v8",)),
    build("base-win", "FROM nanoserver\n", "acme/base:1", platforms=("windows/amd64",)),
]


@pytest.mark.parametrize(
    ("text", "platforms", "parents"),
    [
        ("FROM acme/base:1\n", ("linux/amd64",), ["base-amd64"]),
        ("FROM acme/base:1\n", ("linux/amd64", "linux/arm64"), ["base-amd64", "base-arm64"]),
        ("FROM acme/base:1\n", (), ["base-amd64", "base-arm64", "base-win"]),
        ("FROM --platform=linux/arm64 acme/base:1\n", ("linux/amd64",), ["base-arm64"]),
        ("FROM --platform=$BUILDPLATFORM acme/base:1\n", ("windows/amd64",), ["base-win"]),
        # an arm64 image cross-compiled on whatever the builder is: any Linux build
        (
            "FROM --platform=$BUILDPLATFORM acme/base:1 AS build\nFROM scratch\n"
            "COPY --from=build /app /app\n",
            ("linux/arm64",),
            ["base-amd64", "base-arm64"],
        ),
        (
            "FROM --platform=${BUILDOS}/${BUILDARCH} acme/base:1\n",
            ("linux/amd64",),
            ["base-amd64", "base-arm64"],
        ),
        (
            "FROM --platform=$BUILDPLATFORM acme/base:1\n",
            (),
            ["base-amd64", "base-arm64", "base-win"],
        ),
        ("ARG P=windows/amd64\nFROM --platform=$P acme/base:1\n", (), ["base-win"]),
        # COPY --from an image is for the build's own platforms
        (
            "FROM --platform=linux/arm64 alpine\nCOPY --from=acme/base:1 /a /a\n",
            ("linux/amd64",),
            ["base-amd64", "docker.io/library/alpine:latest"],
        ),
    ],
)
def test_a_child_uses_the_builds_of_its_platforms(
    text: str, platforms: tuple[str, ...], parents: list[str]
) -> None:
    for bases in (BASES, BASES[::-1]):  # the order of the builds changes nothing
        graph = ImageGraph.from_builds([*bases, build("app", text, platforms=platforms)])
        assert graph.parents("app") == parents
        assert "platform-not-built" not in codes(graph)


def test_a_platform_no_build_serves_is_a_warning_and_uses_the_builds_of_the_others() -> None:
    # clojure on eclipse-temurin in the official library: the Linux builds lack
    # riscv64, which is no reason to make the child a child of the Windows builds
    app = build("app", "ARG X\nFROM acme/base:1\n", platforms=("linux/s390x", "linux/amd64"))
    graph = ImageGraph.from_builds([*BASES, app])
    assert graph.parents("app") == ["base-amd64"]
    (warning,) = graph.diagnostics
    assert (warning.code, warning.path, warning.line) == ("platform-not-built", "app/Dockerfile", 2)
    built, missing = warning.message.split("not for")
    assert missing.startswith(" linux/s390x, which 'app' asks for")
    assert "for linux/amd64, linux/arm64/v8, windows/amd64," in built
    assert warning.message.endswith("counting the builds of it that serve its other platforms")
    # none of its platforms served: every build, so that it still rebuilds
    alone = build("alone", "FROM acme/base:1\n", platforms=("linux/s390x",))
    graph = ImageGraph.from_builds([*BASES, alone])
    assert graph.parents("alone") == ["base-amd64", "base-arm64", "base-win"]
    assert graph.diagnostics[0].message.endswith("counting every build of it as a parent")
    # one build for another platform is the same mistake
    lone = build("lone", "FROM acme/lone:1\n", platforms=("linux/arm64",))
    only = build("only", "FROM debian:12\n", "acme/lone:1", platforms=("linux/amd64",))
    graph = ImageGraph.from_builds([only, lone])
    assert graph.parents("lone") == ["only"]
    assert codes(graph) == ["platform-not-built"]


def test_duplicate_tag_is_the_same_platform_and_constraints_with_its_line(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "imagegraph.toml": """\
                [[image]]
                name = "a"
                dockerfile = "a/Dockerfile"
                tags = ["acme/x:1"]
                platforms = ["linux/amd64"]

                [[image]]
                name = "b"
                dockerfile = "a/Dockerfile"
                tags = ["acme/x:1"]
                platforms = ["linux/amd64", "linux/arm64"]
                """,
            "a/Dockerfile": "FROM debian:12\n",
        },
    )
    graph = scan(tmp_path, cache=False)
    (duplicate,) = graph.diagnostics
    assert (duplicate.code, duplicate.path, duplicate.line) == (
        "duplicate-tag",
        "imagegraph.toml",
        7,
    )
    assert "for the same platform (linux/amd64);" in duplicate.message
    assert graph.tag_owners(ImageRef.parse("acme/x:1")) == ("a",)
    # for one platform, different constraints make distinct images of one index
    graph = ImageGraph.from_builds(
        [
            ImageBuild("w1", "w/Dockerfile", "w", (ImageRef.parse("acme/w:1"),),
                       platforms=("windows/amd64",), constraints=("ltsc2022",),
                       dockerfile_inline="FROM scratch"),
            ImageBuild("w2", "w/Dockerfile", "w", (ImageRef.parse("acme/w:1"),),
                       platforms=("windows/amd64",), constraints=("ltsc2025",),
                       dockerfile_inline="FROM scratch"),
        ]
    )  # fmt: skip
    assert codes(graph) == []
    assert graph.nodes("acme/w:1") == ("w1", "w2")


# --- per-architecture Dockerfiles -------------------------------------------------------


def test_each_architecture_is_built_from_its_own_dockerfile(tmp_path: Path) -> None:
    manifest = (
        f"{HEADER}\nTags: 1.0\nSharedTags: latest\nArchitectures: amd64, arm64v8, s390x\n"
        "arm64v8-Directory: arm\ns390x-File: Dockerfile.s390x\n"
    )
    files = {
        "src/Dockerfile": "FROM alpine:3.20\n",
        "src/arm/Dockerfile": "FROM debian:12\n",
        "src/Dockerfile.s390x": "FROM ubuntu:24.04\n",
        "app/Dockerfile": "FROM golang:1.0\n",
    }
    images = '\n[[image]]\nname = "app"\ndockerfile = "app/Dockerfile"\n'
    graph = scan(fleet(tmp_path, manifest, files, images), cache=False)
    assert [b.name for b in graph.builds if b.name != "app"] == [
        "golang:1.0", "golang:1.0-arm64v8", "golang:1.0-s390x",
    ]  # fmt: skip
    assert graph.parents("golang:latest") == [
        "docker.io/library/alpine:3.20",
        "docker.io/library/debian:12",
        "docker.io/library/ubuntu:24.04",
    ]
    # the entry's first tag is its amd64 build's name, and the tag of every architecture
    assert graph.nodes("golang:1.0") == ("golang:1.0", "golang:1.0-arm64v8", "golang:1.0-s390x")
    assert graph.node("golang:1.0") == "golang:1.0"
    assert graph.build("golang:1.0").platforms == ("linux/amd64",)
    assert graph.parents("golang:1.0") == graph.parents("golang:latest")
    assert graph.nodes("golang:1.0-arm64v8") == ("golang:1.0-arm64v8",)
    assert graph.parents("app") == ["golang:1.0", "golang:1.0-arm64v8", "golang:1.0-s390x"]
    assert graph.impact(["debian:12"]).affected == ("app", "golang:1.0-arm64v8")
    assert graph.impact(["alpine:3.20"]).affected == ("app", "golang:1.0")
    assert codes(graph) == []


def test_architectures_from_another_commit_are_read_from_the_work_tree(tmp_path: Path) -> None:
    manifest = (
        f"{HEADER}GitCommit: {'a' * 40}\n\nTags: 12\nArchitectures: amd64, arm64v8\n"
        f"arm64v8-GitFetch: refs/heads/dist-arm64v8\narm64v8-GitCommit: {'b' * 40}\n"
    )
    graph = scan(fleet(tmp_path, manifest, {"src/Dockerfile": "FROM scratch\n"}), cache=False)
    assert [(b.name, b.platforms) for b in graph.builds] == [
        ("golang:12", ("linux/amd64",)),
        ("golang:12-arm64v8", ("linux/arm64/v8",)),
    ]
    (warning,) = graph.diagnostics
    assert (warning.code, warning.path, warning.line) == (
        "library-arch-source", "library/golang", 5,
    )  # fmt: skip


# --- OCI imports ----------------------------------------------------------------------


def test_an_oci_import_is_a_root_that_is_never_parsed(tmp_path: Path) -> None:
    manifest = (
        f"{HEADER}Builder: oci-import\n\nTags: bookworm, 12\nDirectory: bookworm/oci\n\n"
        "Tags: gone\nDirectory: gone/oci\n"
    )
    files = {
        "src/bookworm/oci/index.json": '{"schemaVersion": 2, "manifests": []}\n',
        "src/bookworm/oci/blobs/sha256/ab": "layer\n",
        "app/Dockerfile": "FROM golang:bookworm\nRUN apt-get install -y curl=8.0\n",
    }
    images = '\n[[image]]\nname = "app"\ndockerfile = "app/Dockerfile"\n'
    graph = scan(fleet(tmp_path, manifest, files, images), cache=False)
    imported = graph.build("golang:12")
    assert imported.imported
    assert imported.dockerfile == "src/bookworm/oci/index.json"
    assert graph.parents("golang:bookworm") == []
    assert "golang:bookworm" in graph.roots()
    assert graph.children("golang:12") == ["app"]
    assert "golang:bookworm" not in graph.undetermined
    assert graph.dockerfile("golang:bookworm") is None
    assert graph.packages("golang:bookworm") == ()
    # the layout it imports is not a Dockerfile: no parse error; the missing one is one
    # error, at the manifest line
    missing = [d for d in graph.diagnostics if d.code == "missing-dockerfile"]
    assert [(d.path, d.line) for d in missing] == [("library/golang", 8)]
    assert "src/gone/oci/index.json" in missing[0].message
    assert codes(graph) == ["missing-dockerfile"]
    assert graph.impact(["golang:12"]).affected == ("app", "golang:bookworm")
    # a file of the layout changes the image
    changed = graph.impact([FileChange(("src/bookworm/oci/blobs/sha256/ab",))])
    assert changed.affected == ("app", "golang:bookworm")
    assert "OCI image layout" in changed.causes["golang:bookworm"][0]


def test_a_missing_dockerfile_is_reported_once_at_its_declaration(tmp_path: Path) -> None:
    manifest = f"{HEADER}\nTags: 1\nArchitectures: amd64, arm64v8\nDirectory: gone\n"
    graph = scan(fleet(tmp_path, manifest, {}), cache=False)
    (missing,) = graph.diagnostics
    assert (missing.code, missing.path, missing.line) == ("missing-dockerfile", "library/golang", 4)
    assert "src/gone/Dockerfile" in missing.message
    assert graph.undetermined["golang:1"]  # its parents are still unknown


def test_an_unbuilt_tag_names_the_closest_few(tmp_path: Path) -> None:
    builds = [
        build(f"v{i}", "FROM scratch\n", f"acme/base:1.{i}", f"acme/base:1.{i}-slim")
        for i in range(200)
    ]
    graph = ImageGraph.from_builds([*builds, build("app", "FROM acme/base:1.2000\n")])
    (warning,) = [d for d in graph.diagnostics if d.code == "unbuilt-tag"]
    assert len(warning.message) < 300
    assert warning.message.endswith("and 395 more); treating it as external")
    shown = warning.message.split("(")[1].split(" and ")[0].split(", ")
    assert len(shown) == 5
    assert shown[0] == "acme/base:1.20"  # the closest first
    assert all(tag.startswith("acme/base:1.") for tag in shown)


# --- the rule as a property -------------------------------------------------------------

PLATFORMS = ["linux/amd64", "linux/arm64", "windows/amd64", "linux/s390x"]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.lists(st.sampled_from(PLATFORMS), unique=True, min_size=1, max_size=2),
        min_size=1,
        max_size=4,
    ),
    st.lists(st.lists(st.sampled_from(PLATFORMS), unique=True, max_size=3), max_size=4),
)
def test_children_use_exactly_the_builds_serving_their_platforms(
    owners: list[list[str]], children: list[list[str]]
) -> None:
    # Index members only: no two owners share a platform (a later one would be a duplicate).
    kept: list[tuple[str, ...]] = []
    for platforms in owners:
        if platforms and all(set(platforms).isdisjoint(other) for other in kept):
            kept.append(tuple(platforms))
    bases = [
        build(f"base{i}", f"FROM os:{i}\n", "acme/base:1", platforms=platforms)
        for i, platforms in enumerate(kept)
    ]
    apps = [
        build(f"app{i}", "FROM acme/base:1\n", platforms=tuple(platforms))
        for i, platforms in enumerate(children)
    ]
    graph = ImageGraph.from_builds([*bases, *apps])
    names = [b.name for b in bases]
    assert list(graph.tag_owners(ImageRef.parse("acme/base:1"))) == names
    assert graph.parents("acme/base:1") == sorted(
        f"docker.io/library/os:{i}" for i in range(len(kept))
    )
    warned = {d.message.split("which ")[1].split(" asks")[0] for d in graph.diagnostics}
    for app, platforms in zip(apps, children, strict=True):
        serving = [b.name for b in bases if not set(b.platforms).isdisjoint(platforms)]
        served = {p for b in bases for p in b.platforms}
        if not platforms:
            expected, gap = names, False
        elif set(platforms) <= served:
            expected, gap = serving, False
        else:
            expected, gap = serving or names, True
        assert graph.parents(app.name) == sorted(expected)
        assert (repr(app.name) in warned) == gap


def test_a_graph_from_the_cache_has_the_same_owners(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_snapshot, "RACY_NS", -3_600_000_000_000)  # files seconds old may be kept
    fresh = golang(tmp_path, LTSC2025, LINUX, LTSC2022)
    scan(tmp_path)  # writes the snapshot
    loaded: list[ImageGraph] = []
    real = _snapshot._revive

    def revive(*state: Any) -> ImageGraph:
        loaded.append(real(*state))
        return loaded[-1]

    monkeypatch.setattr(_snapshot, "_revive", revive)
    kept = scan(tmp_path)
    assert loaded == [kept]  # the graph came from the snapshot
    for tag in ("golang:latest", "golang:1.22", "golang:1.22-bookworm"):
        assert kept.nodes(tag) == fresh.nodes(tag)
        assert kept.parents(tag) == fresh.parents(tag)
    assert kept.parents("app-windows") == fresh.parents("app-windows")


def test_a_cross_compiled_child_is_rebuilt_with_any_build_of_its_os() -> None:
    # examples/github/rebuild.yml builds arm64 images on amd64 runners with QEMU:
    # FROM --platform=$BUILDPLATFORM then pulls the amd64 build of the tag.
    go = [
        build("go-amd64", "FROM debian:12\n", "acme/go:1", platforms=("linux/amd64",)),
        build("go-arm64", "FROM debian:12\n", "acme/go:1", platforms=("linux/arm64",)),
    ]
    app = build(
        "app",
        "FROM --platform=$BUILDPLATFORM acme/go:1 AS build\nFROM scratch\nCOPY --from=build / /\n",
        platforms=("linux/arm64",),
    )
    graph = ImageGraph.from_builds([*go, app])
    assert graph.plan(["go-amd64"]).names() == [["go-amd64"], ["app"]]
    assert codes(graph) == []


def test_a_reference_naming_the_target_platform_is_resolved_per_platform() -> None:
    # BuildKit sets TARGETARCH (and TARGETOS, TARGETPLATFORM, TARGETVARIANT) for
    # each platform it builds, declared or not: each platform has its own parent.
    bases = [
        build("amd", "FROM debian:12\n", "acme/amd64-base:1"),
        build("arm", "FROM debian:12\n", "acme/arm64-base:1"),
        build("s390x", "FROM debian:12\n", "acme/s390x-base:1"),
    ]
    app = build(
        "app", "FROM acme/${TARGETARCH}-base:1\nRUN make\n",
        platforms=("linux/amd64", "linux/arm64"),
    )  # fmt: skip
    declared = build(
        "declared", "ARG TARGETARCH\nARG TARGETOS\nFROM acme/base:$TARGETOS-$TARGETARCH\n",
        platforms=("linux/arm64/v8",),
    )  # fmt: skip
    unknown = build("unknown", "FROM acme/${TARGETARCH}-base:1\n")  # no platform: unknown
    graph = ImageGraph.from_builds([*bases, app, declared, unknown])
    assert graph.parents("app") == ["amd", "arm"]
    assert graph.base("app") == "amd"  # the first platform's
    assert "app" not in graph.undetermined
    assert graph.plan(["arm"]).names() == [["arm"], ["app"]]
    assert graph.parents("declared") == ["docker.io/acme/base:linux-arm64"]
    assert graph.undetermined == {"unknown": ("acme/${TARGETARCH}-base:1",)}
    assert [d.code for d in graph.diagnostics] == ["unresolved-arg"]  # unknown's only


def test_a_user_build_arg_wins_over_the_platform() -> None:
    app = build("app", "FROM acme/${TARGETARCH}-base:1\n", platforms=("linux/amd64",))
    pinned = ImageBuild(
        "pinned", "p/Dockerfile", "p", platforms=("linux/amd64",),
        args={"TARGETARCH": "riscv64"}, dockerfile_inline="FROM acme/${TARGETARCH}-base:1\n",
    )  # fmt: skip
    graph = ImageGraph.from_builds([app, pinned])
    assert graph.parents("app") == ["docker.io/acme/amd64-base:1"]
    assert graph.parents("pinned") == ["docker.io/acme/riscv64-base:1"]


def test_renderers_take_a_build_name_that_is_a_shared_tag_as_that_build() -> None:
    # A manifest entry split per architecture: its amd64 build is named after its
    # first tag, which its arm64 build carries too. Asked about the name, the
    # graph answers for the tag; drawn, each build keeps its own edges.
    from imagegraph.render.graph import to_data, to_dot, to_mermaid

    builds = [
        build("mybase", "FROM debian:12\n", "acme/mybase:1"),
        build("alt:p11", "FROM acme/mybase:1\n", "alt:p11", platforms=("linux/amd64",)),
        build("alt:p11-arm64v8", "FROM busybox:1\n", "alt:p11", platforms=("linux/arm64",)),
        build("app", "FROM alt:p11\n", platforms=("linux/amd64", "linux/arm64")),
    ]
    graph = ImageGraph.from_builds(builds)
    edges = {(e["parent"], e["child"], e["path"]) for e in to_data(graph)["edges"]}
    assert edges == {
        ("docker.io/library/debian:12", "mybase", "mybase/Dockerfile"),
        ("mybase", "alt:p11", "alt:p11/Dockerfile"),
        ("docker.io/library/busybox:1", "alt:p11-arm64v8", "alt:p11-arm64v8/Dockerfile"),
        ("alt:p11", "app", "app/Dockerfile"),
        ("alt:p11-arm64v8", "app", "app/Dockerfile"),
    }
    assert len(to_data(graph)["edges"]) == graph.nx.number_of_edges() == 5
    assert to_dot(graph).count(" -> ") == 5
    assert to_mermaid(graph).count("-->") == 5
    # the query about the name sees the tag: both builds' parents
    assert graph.parents("alt:p11") == ["docker.io/library/busybox:1", "mybase"]


# -- a tag of many builds -------------------------------------------------------------


def _same_image(a: ImageBuild, b: ImageBuild) -> bool:
    """The definition: *a* and *b* push the same image of a tag when their
    platforms overlap (none named is any) and their constraints are the same."""
    from imagegraph.graph import _platform_keys

    if a.constraints != b.constraints:
        return False
    if not a.platforms or not b.platforms:
        return True
    return not _platform_keys(a.platforms).isdisjoint(_platform_keys(b.platforms))


def _plain_owners(builds: list[ImageBuild]) -> tuple[dict[str, list[str]], list[tuple[str, str]]]:
    """The owners of each tag by the definition, comparing each build with every
    build of its tag so far: shared tags and (owner, duplicate) pairs, by name."""
    members: dict[ImageRef, list[ImageBuild]] = {}
    duplicates: list[tuple[str, str]] = []
    for build in builds:
        for tag in build.tags:
            known = members.setdefault(tag, [])
            if any(m is build for m in known):
                continue
            clash = next((m for m in known if _same_image(m, build)), None)
            if clash is not None:
                duplicates.append((clash.name, build.name))
            else:
                known.append(build)
    shared = {str(t): [b.name for b in bs] for t, bs in members.items() if len(bs) > 1}
    return shared, duplicates


_PLATFORMS = ("linux/amd64", "linux/arm64", "linux/arm64/v8", "windows/amd64", "linux/arm/v7")


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(st.sampled_from(("acme/a:1", "acme/b:1", "acme/c:2")), min_size=1, max_size=3),
            st.lists(st.sampled_from(_PLATFORMS), max_size=2),
            st.sampled_from(((), ("windowsservercore-ltsc2022",), ("nanoserver",))),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_the_owners_of_a_tag_are_those_of_the_definition(
    specs: list[tuple[list[str], list[str], tuple[str, ...]]],
) -> None:
    from imagegraph.graph import _tag_owners

    builds = [
        ImageBuild(
            f"b{i}",
            f"b{i}/Dockerfile",
            f"b{i}",
            tuple(ImageRef.parse(t) for t in tags),
            platforms=tuple(platforms),
            constraints=constraints,
        )
        for i, (tags, platforms, constraints) in enumerate(specs)
    ]
    owners = _tag_owners(builds)
    shared, duplicates = _plain_owners(builds)
    assert {str(t): [b.name for b in bs] for t, bs in owners.shared.items()} == shared
    assert [(o.name, b.name) for _, o, b in owners.duplicates] == duplicates


def _of_base(name: str, platform: str, *constraints: str, child: bool = False) -> ImageBuild:
    """A build of ``acme/base:1`` from scratch for *platform*, or with *child*, an
    untagged build FROM it asking for *platform*."""
    return ImageBuild(
        name,
        f"{name}/Dockerfile",
        name,
        () if child else (ImageRef.parse("acme/base:1"),),
        dockerfile_inline="FROM acme/base:1\n" if child else "FROM scratch\n",
        platforms=(platform,),
        constraints=constraints,
    )


def _many_owners_graph(n: int) -> float:
    """Seconds to build a graph where one tag has *n* builds (each its own
    platform) and *n* children each ask for one platform of it."""
    import time

    builds = [_of_base(f"o{i}", f"linux/arch{i}") for i in range(n)]
    builds += [_of_base(f"c{i}", f"linux/arch{n - 1 - i}", child=True) for i in range(n)]
    best = float("inf")
    for _ in range(2):
        started = time.perf_counter()
        ImageGraph.from_builds(builds)
        best = min(best, time.perf_counter() - started)
    return best


def test_a_tag_of_many_builds_is_linked_in_linear_time() -> None:
    # a manifest of entries sharing one tag: the owners were compared pairwise
    # and each use scanned them all (1,000 -> 4,000 builds took 30x as long);
    # the bound is 8x for 4x the builds
    small, large = _many_owners_graph(500), _many_owners_graph(2000)
    assert large / small < 8, (small, large)


def test_a_tag_of_more_builds_for_one_platform_than_the_limit_is_an_error() -> None:
    from imagegraph.graph import MAX_TAG_VARIANTS

    # Windows images per host version are one image; thousands of them (a
    # hostile manifest) would link each child to every one: the ones past the
    # limit are an error, kept in the graph, no owner of the tag
    n = MAX_TAG_VARIANTS + 3
    builds = [_of_base(f"o{i}", "windows/amd64", f"host-{i}") for i in range(n)]
    children = [_of_base(f"c{i}", "windows/amd64", child=True) for i in range(50)]
    graph = ImageGraph.from_builds([*builds, *children])
    owners = graph.tag_owners(ImageRef.parse("acme/base:1"))
    assert owners == tuple(f"o{i}" for i in range(MAX_TAG_VARIANTS))
    assert all(len(graph.nx.pred[f"c{i}"]) == MAX_TAG_VARIANTS for i in range(50))
    errors = [d for d in graph.diagnostics if d.code == "tag-variants-limit"]
    assert [d.severity for d in errors] == [Severity.ERROR] * 3
    assert all(f"o{i}" in graph.nx for i in range(n))  # kept, not dropped
    assert "'o16'" in errors[0].message
    # another platform of the same tag is not held back by the full one
    graph = ImageGraph.from_builds([*builds, _of_base("linux", "linux/amd64")])
    assert "linux" in graph.tag_owners(ImageRef.parse("acme/base:1"))
