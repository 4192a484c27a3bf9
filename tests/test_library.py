"""docker-library manifests: blocks, inheritance, tags, architectures, overrides, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from imagegraph import ConfigError, load_inventory
from imagegraph._sources.common import SourceResult
from imagegraph._sources.library import PLATFORMS, read_library
from imagegraph.diagnostics import Severity

from .fleets import write

HEADER = "Maintainers: Jane Doe <jane@example.com> (@jane)\nGitRepo: https://example.com/x.git\n"


def read(
    root: Path,
    manifest: str,
    *,
    dockerfiles: tuple[str, ...] = (),
    name: str = "library/app",
    repository: str | None = None,
    aliases: dict[str, str] | None = None,
) -> SourceResult:
    write(root, {name: manifest, **{f"checkout/{d}": "FROM scratch\n" for d in dockerfiles}})
    return read_library(
        root / name,
        root,
        aliases=aliases or {},
        repository=repository,
        checkout=root / "checkout",
    )


def tags(result: SourceResult) -> list[list[str]]:
    return [[t.familiar for t in b.tags] for b in result.builds]


def codes(result: SourceResult) -> list[tuple[str, int | None]]:
    return [(d.code, d.line) for d in result.diagnostics]


# docker-library/official-images, library/python at commit
# 37079fb336f572a88700cf32e5e1f6be54a04e8f: the first four entries and one Windows entry.
PYTHON_EXCERPT = """\
# this file is generated via https://github.com/docker-library/python/blob/e34bccdb4a8d9590e0cb76483fa6289ba8097e21/generate-stackbrew-library.sh

Maintainers: Tianon Gravi <admwiggin@gmail.com> (@tianon),
             Joseph Ferguson <yosifkit@gmail.com> (@yosifkit)
GitRepo: https://github.com/docker-library/python.git
Builder: buildkit

Tags: 3.15.0rc1-trixie, 3.15-rc-trixie
SharedTags: 3.15.0rc1, 3.15-rc
Architectures: amd64, arm32v5, arm32v7, arm64v8, i386, ppc64le, riscv64, s390x
GitCommit: 9950175fe6f74b450230a95a31d7afca1adfbce7
Directory: 3.15-rc/trixie

Tags: 3.15.0rc1-slim-trixie, 3.15-rc-slim-trixie, 3.15.0rc1-slim, 3.15-rc-slim
Architectures: amd64, arm32v5, arm32v7, arm64v8, i386, ppc64le, riscv64, s390x
GitCommit: 9950175fe6f74b450230a95a31d7afca1adfbce7
Directory: 3.15-rc/slim-trixie

Tags: 3.15.0rc1-bookworm, 3.15-rc-bookworm
Architectures: amd64, arm32v7, arm64v8, i386, ppc64le
GitCommit: 9950175fe6f74b450230a95a31d7afca1adfbce7
Directory: 3.15-rc/bookworm

Tags: 3.15.0rc1-windowsservercore-ltsc2025, 3.15-rc-windowsservercore-ltsc2025
SharedTags: 3.15.0rc1-windowsservercore, 3.15-rc-windowsservercore, 3.15.0rc1, 3.15-rc
Architectures: windows-amd64
GitCommit: 9950175fe6f74b450230a95a31d7afca1adfbce7
Directory: 3.15-rc/windows/windowsservercore-ltsc2025
Constraints: windowsservercore-ltsc2025
Builder: classic
"""

# docker-library/official-images, library/hello-world at the same commit: one
# directory per architecture, and Windows entries with only an arch-specific field.
HELLO_WORLD_EXCERPT = """\
Maintainers: Tianon Gravi <admwiggin@gmail.com> (@tianon),
             Joseph Ferguson <yosifkit@gmail.com> (@yosifkit)
GitRepo: https://github.com/docker-library/hello-world.git
GitCommit: 3981a44a531e7c844d844e12cbbda232d10d5dfb

Tags: linux
SharedTags: latest
Architectures: amd64, arm32v5, arm32v6, arm32v7, arm64v8, i386, ppc64le, riscv64, s390x
amd64-Directory: amd64
arm32v5-Directory: arm32v5
arm32v6-Directory: arm32v6
arm32v7-Directory: arm32v7
arm64v8-Directory: arm64v8
i386-Directory: i386
ppc64le-Directory: ppc64le
riscv64-Directory: riscv64
s390x-Directory: s390x

Tags: nanoserver-ltsc2025
SharedTags: nanoserver, latest
Architectures: windows-amd64
windows-amd64-Directory: amd64/nanoserver-ltsc2025
Constraints: nanoserver-ltsc2025
"""


def test_real_python_manifest(tmp_path: Path) -> None:
    result = read(
        tmp_path,
        PYTHON_EXCERPT,
        name="library/python",
        dockerfiles=(
            "3.15-rc/trixie/Dockerfile",
            "3.15-rc/slim-trixie/Dockerfile",
            "3.15-rc/bookworm/Dockerfile",
            "3.15-rc/windows/windowsservercore-ltsc2025/Dockerfile",
        ),
    )
    assert [b.name for b in result.builds] == [
        "python:3.15.0rc1-trixie",
        "python:3.15.0rc1-slim-trixie",
        "python:3.15.0rc1-bookworm",
        "python:3.15.0rc1-windowsservercore-ltsc2025",
    ]
    trixie, slim, bookworm, windows = result.builds
    assert (trixie.dockerfile, trixie.context) == (
        "checkout/3.15-rc/trixie/Dockerfile", "checkout/3.15-rc/trixie",
    )  # fmt: skip
    assert tags(result)[0] == [
        "python:3.15.0rc1-trixie", "python:3.15-rc-trixie", "python:3.15.0rc1", "python:3.15-rc",
    ]  # fmt: skip
    assert [t.familiar for t in slim.tags] == [
        "python:3.15.0rc1-slim-trixie", "python:3.15-rc-slim-trixie",
        "python:3.15.0rc1-slim", "python:3.15-rc-slim",
    ]  # fmt: skip
    assert trixie.platforms == (
        "linux/amd64", "linux/arm/v5", "linux/arm/v7", "linux/arm64/v8",
        "linux/386", "linux/ppc64le", "linux/riscv64", "linux/s390x",
    )  # fmt: skip
    assert bookworm.platforms == (
        "linux/amd64", "linux/arm/v7", "linux/arm64/v8", "linux/386", "linux/ppc64le",
    )  # fmt: skip
    assert windows.platforms == ("windows/amd64",)
    assert windows.dockerfile == "checkout/3.15-rc/windows/windowsservercore-ltsc2025/Dockerfile"
    # SharedTags may repeat across entries: they name a multi-platform index
    assert "python:3.15-rc" in [t.familiar for t in windows.tags]
    assert [b.origin for b in result.builds] == [
        "library/python:8", "library/python:14", "library/python:19", "library/python:24",
    ]  # fmt: skip
    assert all(b.variant == {} and b.args == {} for b in result.builds)
    assert result.diagnostics == []
    assert result.covered == set()
    assert result.files == ["library/python"]


def test_real_hello_world_manifest_arch_directories(tmp_path: Path) -> None:
    result = read(tmp_path, HELLO_WORLD_EXCERPT, name="library/hello-world")
    *linux, nanoserver = result.builds
    # every architecture has its own directory, so its own build: amd64's keeps the name
    assert [(b.name, b.dockerfile, b.platforms) for b in linux[:3]] == [
        ("hello-world:linux", "checkout/amd64/Dockerfile", ("linux/amd64",)),
        ("hello-world:linux-arm32v5", "checkout/arm32v5/Dockerfile", ("linux/arm/v5",)),
        ("hello-world:linux-arm32v6", "checkout/arm32v6/Dockerfile", ("linux/arm/v6",)),
    ]
    assert len(linux) == 9
    assert {t.familiar for b in linux for t in b.tags} == {"hello-world:linux", "hello-world"}
    assert all(b.origin == "library/hello-world:6" for b in linux)
    assert (nanoserver.name, nanoserver.dockerfile) == (
        "hello-world:nanoserver-ltsc2025", "checkout/amd64/nanoserver-ltsc2025/Dockerfile",
    )  # fmt: skip
    assert nanoserver.constraints == ("nanoserver-ltsc2025",)
    assert result.covered == set()
    # one missing-dockerfile per file, at the entry that names it
    assert codes(result) == [("missing-dockerfile", 6)] * 9 + [("missing-dockerfile", 19)]
    assert "checkout/arm32v5/Dockerfile" in result.diagnostics[1].message


# --- blocks and inheritance ---------------------------------------------------------


def test_entries_inherit_from_the_header(tmp_path: Path) -> None:
    result = read(
        tmp_path,
        """\
        Maintainers: Jane Doe <jane@example.com> (@jane)
        GitRepo: https://example.com/app.git
        GitCommit: 0123456789abcdef0123456789abcdef01234567
        Directory: images
        File: Containerfile
        Architectures: amd64, arm64v8
        SharedTags: latest

        Tags: 1.0
        GitCommit: fedcba9876543210fedcba9876543210fedcba98

        Tags: 2.0
        Directory: images/v2
        File: Dockerfile.v2
        Architectures: s390x
        SharedTags: two, stable
        """,
        dockerfiles=("images/Containerfile", "images/v2/Dockerfile.v2"),
    )
    one, two = result.builds
    assert (one.dockerfile, one.context) == ("checkout/images/Containerfile", "checkout/images")
    assert one.platforms == ("linux/amd64", "linux/arm64/v8")
    assert [t.familiar for t in one.tags] == ["app:1.0", "app"]
    assert (two.dockerfile, two.context) == (
        "checkout/images/v2/Dockerfile.v2", "checkout/images/v2",
    )  # fmt: skip
    # an entry's Architectures and SharedTags replace the header's, not add to them
    assert two.platforms == ("linux/s390x",)
    assert [t.familiar for t in two.tags] == ["app:2.0", "app:two", "app:stable"]
    assert result.diagnostics == []


@pytest.mark.parametrize(
    ("entry", "dockerfile", "context"),
    [
        ("Tags: 1\n", "checkout/Dockerfile", "checkout"),
        ("Tags: 1\nDirectory: 1.x/\n", "checkout/1.x/Dockerfile", "checkout/1.x"),
        ("Tags: 1\nDirectory: ./a/../b\n", "checkout/b/Dockerfile", "checkout/b"),
        ("Tags: 1\nFile: Dockerfile.alpine\n", "checkout/Dockerfile.alpine", "checkout"),
        (
            "Tags: 1\nDirectory: d\nFile: sub/Dockerfile\n",
            "checkout/d/sub/Dockerfile",
            "checkout/d",
        ),
        # the file is in the build's context (bashbrew hands docker the directory
        # alone), a leading / its top, as Go's path.Join reads it: never /Dockerfile
        ("Tags: 1\nDirectory: d\nFile: /Dockerfile\n", "checkout/d/Dockerfile", "checkout/d"),
        (
            "Tags: 1\nDirectory: d\namd64-File: /x/Dockerfile\n",
            "checkout/d/x/Dockerfile",
            "checkout/d",
        ),
    ],
)
def test_directory_and_file(tmp_path: Path, entry: str, dockerfile: str, context: str) -> None:
    (build,) = read(tmp_path, f"{HEADER}\n{entry}").builds
    assert (build.dockerfile, build.context) == (dockerfile, context)
    assert build.platforms == ("linux/amd64",)  # no Architectures anywhere: amd64


def test_continuation_lines_and_comments(tmp_path: Path) -> None:
    result = read(
        tmp_path,
        """\
        # leading comment

        Maintainers: Jane Doe <jane@example.com> (@jane),
        \tJohn Doe <john@example.com> (@john)
        GitRepo: https://example.com/app.git
        # a comment does not end a block

        # comments between blocks

          # even indented ones
        Tags: 1.2.3,
              1.2,
        # a comment inside a continued field
          1
        Architectures: amd64,
        \tarm64v8
        Directory: one
        \x20\x20\x20
        Tags: 2
        Directory: two\r
        """,
        dockerfiles=("one/Dockerfile", "two/Dockerfile"),
    )
    one, two = result.builds
    assert [t.familiar for t in one.tags] == ["app:1.2.3", "app:1.2", "app:1"]
    assert one.platforms == ("linux/amd64", "linux/arm64/v8")
    assert one.origin == "library/app:11"
    # a line of spaces separates blocks too; a CR before the newline is no part of the value
    assert (two.dockerfile, two.origin) == ("checkout/two/Dockerfile", "library/app:19")
    assert result.diagnostics == []


def test_same_build_artifacts_merge_into_one_build(tmp_path: Path) -> None:
    result = read(
        tmp_path,
        f"{HEADER}\nTags: 1.5.3\nSharedTags: 1.5-debian\nDirectory: 1.5\n\n"
        "Tags: 1.5\nSharedTags: 1.5-debian, debian\nDirectory: 1.5\n\n"
        "Tags: 1.6\nDirectory: 1.6\n",
        dockerfiles=("1.5/Dockerfile", "1.6/Dockerfile"),
    )
    assert [b.name for b in result.builds] == ["app:1.5.3", "app:1.6"]
    assert tags(result)[0] == ["app:1.5.3", "app:1.5", "app:1.5-debian", "app:debian"]


def test_repository_and_aliases(tmp_path: Path) -> None:
    result = read(
        tmp_path,
        f"{HEADER}\nTags: 3.12, latest\n",
        repository="mirror.corp/hub/acme/python",
        aliases={"mirror.corp/hub": "docker.io"},
        dockerfiles=("Dockerfile",),
    )
    (build,) = result.builds
    assert build.name == "mirror.corp/hub/acme/python:3.12"
    assert [str(t) for t in build.tags] == [
        "docker.io/acme/python:3.12", "docker.io/acme/python:latest",
    ]  # fmt: skip


@pytest.mark.parametrize(("arch", "platform"), list(PLATFORMS.items()))
def test_platform_mapping(tmp_path: Path, arch: str, platform: str) -> None:
    (build,) = read(tmp_path, f"{HEADER}\nTags: 1\nArchitectures: {arch}\n").builds
    assert build.platforms == (platform,)


def test_platforms_named_in_full() -> None:
    assert PLATFORMS == {
        "amd64": "linux/amd64",
        "arm32v5": "linux/arm/v5",
        "arm32v6": "linux/arm/v6",
        "arm32v7": "linux/arm/v7",
        "arm64v8": "linux/arm64/v8",
        "i386": "linux/386",
        "loong64": "linux/loong64",
        "mips64le": "linux/mips64le",
        "ppc64le": "linux/ppc64le",
        "riscv64": "linux/riscv64",
        "s390x": "linux/s390x",
        "windows-amd64": "windows/amd64",
    }


# --- architecture overrides and diagnostics -------------------------------------------


def test_arch_overrides_are_builds_of_their_own(tmp_path: Path) -> None:
    result = read(
        tmp_path,
        f"{HEADER}arm64v8-Directory: shared/arm64\n\n"
        "Tags: 1.5\nSharedTags: 1\nArchitectures: amd64, arm64v8, ppc64le, s390x, i386\n"
        "Directory: 1.5\nppc64le-Directory: 1.5/ppc64le/\ns390x-File: Dockerfile.s390x\n"
        "i386-Directory:\n",
        dockerfiles=(
            "1.5/Dockerfile", "shared/arm64/Dockerfile", "1.5/ppc64le/Dockerfile",
            "1.5/Dockerfile.s390x",
        ),
    )  # fmt: skip
    assert [(b.name, b.dockerfile, b.context, b.platforms) for b in result.builds] == [
        ("app:1.5", "checkout/1.5/Dockerfile", "checkout/1.5", ("linux/amd64", "linux/386")),
        ("app:1.5-arm64v8", "checkout/shared/arm64/Dockerfile", "checkout/shared/arm64",
         ("linux/arm64/v8",)),  # inherited from the header
        ("app:1.5-ppc64le", "checkout/1.5/ppc64le/Dockerfile", "checkout/1.5/ppc64le",
         ("linux/ppc64le",)),
        ("app:1.5-s390x", "checkout/1.5/Dockerfile.s390x", "checkout/1.5", ("linux/s390x",)),
    ]  # fmt: skip
    assert all(tags(result)[i] == ["app:1.5", "app:1"] for i in range(4))
    assert result.diagnostics == []
    assert result.covered == set()


def test_an_arch_build_name_never_takes_a_tag_of_the_manifest(tmp_path: Path) -> None:
    result = read(
        tmp_path,
        f"{HEADER}\nTags: 1\nArchitectures: amd64, arm64v8\narm64v8-Directory: arm\n\n"
        "Tags: 1-arm64v8\nDirectory: other\n\nTags: 1-arm64v8-2\nDirectory: third\n",
        dockerfiles=("Dockerfile", "arm/Dockerfile", "other/Dockerfile", "third/Dockerfile"),
    )
    assert [b.name for b in result.builds] == [
        "app:1", "app:1-arm64v8-3", "app:1-arm64v8", "app:1-arm64v8-2",
    ]  # fmt: skip


def test_architectures_built_from_another_commit_are_one_warning(tmp_path: Path) -> None:
    # library/debian: every architecture from its own dist-<arch> branch and commit
    result = read(
        tmp_path,
        f"{HEADER}GitCommit: {'a' * 40}\namd64-GitFetch: refs/heads/dist-amd64\n"
        f"amd64-GitCommit: {'b' * 40}\narm64v8-GitFetch: refs/heads/dist-arm64v8\n"
        f"arm64v8-GitCommit: {'c' * 40}\n\n"
        "Tags: bookworm\nArchitectures: amd64, arm64v8, i386\nDirectory: bookworm\n"
        "i386-GitRepo: https://example.com/fork.git\n",
        dockerfiles=("bookworm/Dockerfile",),
    )
    assert [(b.name, b.dockerfile, b.platforms) for b in result.builds] == [
        ("app:bookworm", "checkout/bookworm/Dockerfile", ("linux/amd64",)),
        ("app:bookworm-arm64v8", "checkout/bookworm/Dockerfile", ("linux/arm64/v8",)),
        ("app:bookworm-i386", "checkout/bookworm/Dockerfile", ("linux/386",)),
    ]
    (diagnostic,) = result.diagnostics
    assert (diagnostic.code, diagnostic.severity, diagnostic.path, diagnostic.line) == (
        "library-arch-source", Severity.WARNING, "library/app", 9,
    )  # fmt: skip
    assert "amd64 (GitFetch, GitCommit); arm64v8 (GitFetch, GitCommit); i386 (GitRepo)" in (
        diagnostic.message
    )
    assert "work tree" in diagnostic.message


@pytest.mark.parametrize(
    ("fetch", "warned"),
    [("refs/heads/dist-x", True), ("refs/tags/v1", True), ("refs/heads/main", False),
     ("refs/heads/master", False)],
)  # fmt: skip
def test_an_entry_on_another_branch_is_one_warning(
    tmp_path: Path, fetch: str, warned: bool
) -> None:
    result = read(
        tmp_path,
        f"{HEADER}GitFetch: {fetch}\n\nTags: 1\nArchitectures: amd64, arm64v8\n",
        dockerfiles=("Dockerfile",),
    )
    assert len(result.builds) == 1
    assert codes(result) == ([("library-git-fetch", 5)] if warned else [])
    if warned:
        assert fetch in result.diagnostics[0].message


def test_arch_overrides_count_as_declared_in_the_inventory(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "imagegraph.toml": """\
                [[manifests]]
                path = "library/app"
                checkout = "src"
                repository = "acme/app"
                """,
            "library/app": f"{HEADER}\nTags: 1\nArchitectures: amd64, arm32v7\n"
            "arm32v7-File: Dockerfile.arm\n",
            "src/Dockerfile": "FROM debian:bookworm\n",
            "src/Dockerfile.arm": "FROM arm32v7/debian:bookworm\n",
        },
    )
    inventory = load_inventory(tmp_path)
    assert [(b.name, b.dockerfile, b.context) for b in inventory.builds] == [
        ("acme/app:1", "src/Dockerfile", "src"),
        ("acme/app:1-arm32v7", "src/Dockerfile.arm", "src"),
    ]
    assert inventory.sources == ("imagegraph.toml", "library/app")
    assert inventory.diagnostics == ()


def test_missing_dockerfile_keeps_the_build(tmp_path: Path) -> None:
    result = read(
        tmp_path, f"{HEADER}\nTags: 1\nDirectory: gone\n\nTags: 2\n", dockerfiles=("Dockerfile",)
    )
    assert [b.name for b in result.builds] == ["app:1", "app:2"]
    (diagnostic,) = result.diagnostics
    assert (diagnostic.code, diagnostic.severity, diagnostic.path, diagnostic.line) == (
        "missing-dockerfile", Severity.ERROR, "library/app", 4,
    )  # fmt: skip
    assert "checkout/gone/Dockerfile" in diagnostic.message


def test_oci_import_is_an_imported_build(tmp_path: Path) -> None:
    result = read(
        tmp_path,
        f"{HEADER}Builder: oci-import\nFile: index.json\n\nTags: bookworm\nDirectory: bookworm/oci\n"
        "\nTags: slim\nDirectory: slim/oci\nFile: \n\nTags: 2\nBuilder: buildkit\nFile: Dockerfile\n",
        dockerfiles=("bookworm/oci/index.json", "slim/oci/index.json", "Dockerfile"),
    )
    bookworm, slim, built = result.builds
    assert (bookworm.imported, bookworm.dockerfile, bookworm.context) == (
        True, "checkout/bookworm/oci/index.json", "checkout/bookworm/oci",
    )  # fmt: skip
    assert (slim.imported, slim.dockerfile) == (True, "checkout/slim/oci/index.json")
    assert (built.imported, built.dockerfile) == (False, "checkout/Dockerfile")
    # the build says it is imported: no diagnostic repeats it for every entry
    assert result.diagnostics == []


def test_oci_import_per_architecture(tmp_path: Path) -> None:
    result = read(
        tmp_path,
        f"{HEADER}\nTags: 1\nArchitectures: amd64, arm64v8\narm64v8-Builder: oci-import\n"
        "arm64v8-Directory: oci/arm64\n",
        dockerfiles=("Dockerfile", "oci/arm64/index.json"),
    )
    assert [(b.name, b.imported, b.dockerfile) for b in result.builds] == [
        ("app:1", False, "checkout/Dockerfile"),
        ("app:1-arm64v8", True, "checkout/oci/arm64/index.json"),
    ]


def test_a_missing_oci_layout_is_one_error(tmp_path: Path) -> None:
    result = read(tmp_path, f"{HEADER}\nTags: 1\nBuilder: oci-import\nDirectory: gone\n")
    (diagnostic,) = result.diagnostics
    assert (diagnostic.code, diagnostic.severity, diagnostic.line) == (
        "missing-dockerfile", Severity.ERROR, 4,
    )  # fmt: skip
    assert "OCI image layout index checkout/gone/index.json" in diagnostic.message


# --- errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("manifest", "message", "line"),
    [
        (f"{HEADER}\nDirectory: x\n", "entry has no Tags", 4),
        (f"{HEADER}\nDirectory: x\nTags:\n", "entry has no Tags", 5),
        ("Tags: 1\nDirectory: x\n", "the first block is the global header", 1),
        (f"{HEADER}\nTags: 1\nthis line has no colon\n", "is not a 'Field: value' line", 5),
        ("  continued: from nowhere\nMaintainers: x\n", "follows no field", 1),
        (f"{HEADER}\nTags: 1\nArchitectures: amd64, arm64\n", "unknown architecture 'arm64'", 5),
        (f"{HEADER}Architectures: x86\n\nTags: 1\n", "unknown architecture 'x86'", 3),
        (f"{HEADER}\nTags: 1, , 2\n", "Tags has an empty value", 4),
        (f"{HEADER}\nTags: 1/2\n", "Tags value '1/2' is not a valid tag", 4),
        (f"{HEADER}\nTags: 1\nTags: 2\n", "Tags is given twice in one block (first on line 4)", 5),
        (f"{HEADER}\nTags: 1, 2, 1\n", "tag '1' is listed twice", 4),
        (
            f"{HEADER}\nTags: 1\n\nTags: 2, 1\nDirectory: b\n",
            "also in the Tags of the entry on line 4",
            6,
        ),
        (f"{HEADER}\nTags: 1\nSharedTags: 1\n", "tag '1' is in both Tags and SharedTags", 4),
        (f"{HEADER}\nTags: 1\n\nTags: 2\nSharedTags: 1\nDirectory: b\n", "shared tag '1'", 6),
        (f"{HEADER}\nTags: 1\nDirectory: a,\n  b\n", "Directory must be one line", 5),
        # an architecture's override as much as the entry's own value
        (
            f"{HEADER}\nTags: 1\narm64v8-Directory: a\n  b\n",
            "arm64v8-Directory must be one line",
            5,
        ),
        (f"{HEADER}arm64v8-File: a\n  b\n\nTags: 1\n", "arm64v8-File must be one line", 3),
    ],
)
def test_errors_name_the_file_and_line(
    tmp_path: Path, manifest: str, message: str, line: int | None
) -> None:
    with pytest.raises(ConfigError) as caught:
        read(tmp_path, manifest)
    assert message in caught.value.message
    assert (caught.value.path, caught.value.line) == ("library/app", line)


def test_unreadable_manifest(tmp_path: Path) -> None:
    (tmp_path / "library").mkdir()
    (tmp_path / "library/app").write_bytes(b"Maintainers: \xff\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        read_library(
            tmp_path / "library/app", tmp_path, aliases={}, repository=None, checkout=tmp_path
        )


# --- a checkout per GitCommit ({commit}) -------------------------------------------

KONG = f"""\
{HEADER}
Tags: 3.8, 3.8-ubuntu
GitCommit: 1f5199f7da45aa00000000000000000000000000
Directory: ubuntu

Tags: 3.4, 3.4-ubuntu
GitCommit: e07de903edf2bb00000000000000000000000000
Directory: ubuntu
Architectures: amd64, arm64v8
arm64v8-GitCommit: 0123456789abcdef000000000000000000000000
"""
# After kong in the official library: entries build ubuntu/Dockerfile at several commits
# (here, made up: 3.4 on jammy, 3.8 on noble); one work tree holds only one of them.


def test_a_checkout_per_commit_reads_each_entry_at_its_own_commit(tmp_path: Path) -> None:
    write(tmp_path, {
        "library/kong": KONG,
        "src/1f5199f7da45aa00000000000000000000000000/ubuntu/Dockerfile": "FROM ubuntu:noble\n",
        "src/e07de903edf2bb00000000000000000000000000/ubuntu/Dockerfile": "FROM ubuntu:jammy\n",
        "src/0123456789abcdef000000000000000000000000/ubuntu/Dockerfile": "FROM ubuntu:focal\n",
        "imagegraph.toml": '[[manifests]]\npath = "library/kong"\ncheckout = "src/{commit}"\n',
    })  # fmt: skip
    from imagegraph import scan

    graph = scan(tmp_path, cache=False)
    assert graph.parents("kong:3.8") == ["docker.io/library/ubuntu:noble"]
    # 3.4 is one index of its amd64 build (jammy) and its arm64 build (focal)
    assert graph.parents("kong:3.4") == [
        "docker.io/library/ubuntu:focal",
        "docker.io/library/ubuntu:jammy",
    ]
    assert graph.build("kong:3.4").dockerfile == (
        "src/e07de903edf2bb00000000000000000000000000/ubuntu/Dockerfile"
    )
    assert graph.build("kong:3.4").context == "src/e07de903edf2bb00000000000000000000000000/ubuntu"
    # each architecture is read at its commit: nothing to warn about
    assert [d.code for d in graph.diagnostics] == []
    # a work tree for all of them would have said so
    result = read(tmp_path / "plain", KONG, dockerfiles=("ubuntu/Dockerfile",))
    assert [code for code, _ in codes(result)] == ["library-arch-source"]
    assert "{commit}" in result.diagnostics[0].message


def test_a_checkout_per_commit_without_the_commit_is_a_missing_dockerfile(tmp_path: Path) -> None:
    write(tmp_path, {
        "library/kong": KONG,
        "src/1f5199f7da45aa00000000000000000000000000/ubuntu/Dockerfile": "FROM ubuntu:noble\n",
    })  # fmt: skip
    result = read_library(
        tmp_path / "library/kong", tmp_path, aliases={}, repository=None,
        checkout=tmp_path / "src/{commit}",
    )  # fmt: skip
    missing = [(d.code, d.line) for d in result.diagnostics]
    assert missing == [("missing-dockerfile", 8), ("missing-dockerfile", 8)]
    assert "e07de903edf2bb00000000000000000000000000/ubuntu/Dockerfile" in (
        result.diagnostics[0].message
    )


@pytest.mark.parametrize(
    "commit",
    ["../../../etc", "", "1F5199F7DA45", "abc", "1f5199f7da45/../x", "1f5199f7da45 x"],
)
def test_a_checkout_per_commit_takes_only_commit_ids(tmp_path: Path, commit: str) -> None:
    manifest = f"{HEADER}\nTags: 1\nDirectory: d\n" + (f"GitCommit: {commit}\n" if commit else "")
    write(tmp_path, {"library/app": manifest})
    with pytest.raises(ConfigError) as caught:
        read_library(
            tmp_path / "library/app", tmp_path, aliases={}, repository=None,
            checkout=tmp_path / "src/{commit}",
        )  # fmt: skip
    assert caught.value.line == 4
    assert "is not a commit id" in caught.value.message


def test_a_branch_other_than_the_default_is_said_once_per_manifest(tmp_path: Path) -> None:
    manifest = f"{HEADER}GitFetch: refs/heads/dist\n" + "".join(
        f"\nTags: {n}\nDirectory: d{n}\n" for n in range(5)
    )
    result = read(tmp_path, manifest, dockerfiles=tuple(f"d{n}/Dockerfile" for n in range(5)))
    assert codes(result) == [("library-git-fetch", 5)]
    assert result.diagnostics[0].message.startswith("app:0 and 4 more entries build from")
