"""Lint advice a maintainer would take, and many stray files read as one finding.

Advice (straggler, base-drift, the tag unpinned-base suggests) names only a
stable release of the same line, written as the user writes theirs; keeps a
digest pin; and leaves builds whose own tags name the version they build on.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from textwrap import dedent

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imagegraph import ImageBuild, ImageGraph, ImageRef, scan
from imagegraph.findings import AGGREGATE_AT, Finding, Findings, LintPolicy, findings
from imagegraph.findings import _version as version_of
from imagegraph.render.findings import to_data, to_sarif, to_table

from .fleets import write

DIGEST = "sha256:" + "b" * 64


def inline(name: str, text: str, *tags: str) -> ImageBuild:
    return ImageBuild(
        name=name,
        dockerfile=f"{name}/Dockerfile",
        context=name,
        tags=tuple(ImageRef.parse(t) for t in tags),
        dockerfile_inline=dedent(text),
    )


def lint(*builds: ImageBuild) -> Findings:
    return findings(ImageGraph.from_builds(builds), LintPolicy())


def built(*tags: str) -> list[ImageBuild]:
    """A build of each tag (an image of the fleet), from scratch."""
    return [inline(f"b{i}", "FROM scratch\n", tag) for i, tag in enumerate(tags)]


def uses(*refs: str) -> list[ImageBuild]:
    """A build FROM each reference."""
    return [inline(f"u{i}", f"FROM {ref}\n") for i, ref in enumerate(refs)]


def advice(found: Findings) -> dict[str, str]:
    """The image each straggler or drift finding's build is told to move to."""
    out: dict[str, str] = {}
    for f in found:
        if f.code == "straggler":
            out[str(f.facts["reference"])] = str(f.facts["newer"])
        elif f.code == "base-drift":
            out[str(f.facts["reference"])] = str(f.facts.get("suggested", f.facts["target"]))
    return out


# -- date-stamped tags -----------------------------------------------------------------


def test_a_date_stamped_tag_is_never_advised() -> None:
    # alpine:20260805 is an edge snapshot; 3.23 is the newest release
    found = lint(*built("alpine:3.19", "alpine:3.23", "alpine:20260805"), *uses("alpine:3.19"))
    assert advice(found) == {"alpine:3.19": "alpine:3.23"}
    found = lint(*uses("alpine:3.19", "alpine:3.23", "alpine:20260805"))
    assert advice(found) == {"alpine:3.19": "alpine:3.23"}
    (drift,) = found.with_code("base-drift")
    assert "move it to alpine:3.23 so" in drift.message


def test_a_date_stamped_snapshot_of_a_release_is_no_newer_release() -> None:
    found = lint(
        *built("debian:bookworm-slim", "debian:trixie-slim", "debian:trixie-20260803"),
        *uses("debian:bookworm-slim", "debian:bookworm-20260803"),
    )
    assert advice(found) == {"debian:bookworm-slim": "debian:trixie-slim"}


# -- Debian testing, Ubuntu interim releases, edge ----------------------------------------


def test_debian_testing_is_never_advised() -> None:
    found = lint(
        *built("debian:bookworm-slim", "debian:trixie-slim", "debian:forky-slim"),
        *uses("debian:trixie-slim", "debian:bookworm-slim"),
    )
    assert advice(found) == {"debian:bookworm-slim": "debian:trixie-slim"}
    # the same for external images: forky and 14 are testing, sid and duke no target
    found = lint(
        *uses(
            "debian:bookworm", "debian:trixie", "debian:forky", "debian:14", "debian:sid",
            "debian:testing", "debian:duke", "debian:experimental", "debian:rc-buggy",
        )
    )  # fmt: skip
    assert advice(found) == {"debian:bookworm": "debian:trixie"}
    (drift,) = found.with_code("base-drift")
    assert "the newest stable of the 4 debian releases this fleet builds on is 13" in (
        drift.message
    )


def test_a_codename_of_debian_testing_elsewhere_is_never_advised() -> None:
    found = lint(*uses("buildpack-deps:bookworm-curl", "buildpack-deps:forky-curl"))
    assert advice(found) == {}
    found = lint(*uses("buildpack-deps:bookworm-curl", "buildpack-deps:trixie-curl"))
    assert advice(found) == {"buildpack-deps:bookworm-curl": "buildpack-deps:trixie-curl"}


def test_an_ubuntu_lts_is_advised_lts_only() -> None:
    fleet = built("ubuntu:22.04", "ubuntu:24.04", "ubuntu:24.10", "ubuntu:25.04")
    found = lint(*fleet, *uses("ubuntu:22.04", "ubuntu:24.10", "ubuntu:devel", "ubuntu:rolling"))
    assert advice(found) == {"ubuntu:22.04": "ubuntu:24.04", "ubuntu:24.10": "ubuntu:25.04"}
    found = lint(*uses("ubuntu:jammy", "ubuntu:noble", "ubuntu:plucky"))
    assert advice(found) == {"ubuntu:jammy": "ubuntu:noble"}
    # only interim releases newer than an LTS: nothing to advise its users
    assert not lint(*uses("ubuntu:noble", "ubuntu:plucky")).with_code("base-drift")


def test_a_java_lts_is_advised_lts_only() -> None:
    found = lint(
        *built("eclipse-temurin:21-jdk", "eclipse-temurin:25-jdk", "eclipse-temurin:26-jdk"),
        *uses("eclipse-temurin:21-jdk", "eclipse-temurin:24-jdk"),
    )
    assert advice(found) == {
        "eclipse-temurin:21-jdk": "eclipse-temurin:25-jdk",
        "eclipse-temurin:24-jdk": "eclipse-temurin:26-jdk",
    }


def test_a_servlet_container_is_advised_within_its_major_only() -> None:
    # tomcat 9 is javax.servlet, 10 and 11 jakarta.servlet: a migration, not an update
    fleet = built(
        "tomcat:9-jre17-temurin-noble", "tomcat:9.0-jre17-temurin-noble",
        "tomcat:11-jre17-temurin-noble", "tomcat:11.0-jre17-temurin-noble",
        "tomcat:9.1-jre17-temurin-noble",
    )  # fmt: skip
    found = lint(*fleet, *uses("tomcat:9-jre17-temurin-noble", "tomcat:9.0-jre17-temurin-noble"))
    # within 9 the newer 9.1 is advised; never 11
    assert advice(found) == {"tomcat:9.0-jre17-temurin-noble": "tomcat:9.1-jre17-temurin-noble"}
    assert "tomcat:11" not in " ".join(f.message for f in found)
    # external uses of two majors are no drift; two releases of one major are
    assert not lint(*uses("jetty:9.4-jre17", "jetty:12.0-jre17")).with_code("base-drift")
    assert advice(lint(*uses("jetty:12.0-jre17", "jetty:12.1-jre17"))) == {
        "jetty:12.0-jre17": "jetty:12.1-jre17"
    }
    # other repositories still compare across majors
    assert advice(lint(*uses("php:7.4-apache", "php:8.5-apache"))) == {
        "php:7.4-apache": "php:8.5-apache"
    }


@pytest.mark.parametrize(
    "newer",
    ["3.15.0a1-slim", "3.15-rc-slim", "3.15.0rc1-slim", "3.15-beta-slim", "3.15-dev-slim",
     "3.15-nightly-slim", "3.15-slim-sid", "3.15-edge-slim", "3.15.0-M1-slim"],
)  # fmt: skip
def test_a_pre_release_is_never_advised(newer: str) -> None:
    found = lint(*built("acme/py:3.13-slim", f"acme/py:{newer}"), *uses("acme/py:3.13-slim"))
    assert advice(found) == {}
    found = lint(*uses("python:3.13-slim", f"python:{newer}"))
    assert advice(found) == {}


def test_alpine_edge_is_never_advised() -> None:
    found = lint(*built("alpine:3.22", "alpine:edge"), inline("app", "FROM alpine\n"))
    assert not advice(found)
    assert not lint(*uses("alpine:3.22", "alpine:edge")).with_code("base-drift")


# -- digests, granularity ----------------------------------------------------------------


def test_a_digest_pin_is_kept() -> None:
    pinned = f"debian:bullseye-slim@{DIGEST}"
    found = lint(*uses(pinned, "debian:trixie-slim", "debian:forky-slim"))
    (drift,) = found.with_code("base-drift")
    assert "move it to debian:trixie-slim and pin its digest so the fleet" in drift.message
    assert drift.facts["pin_digest"] is True
    assert "forky" not in drift.message
    found = lint(
        *built("acme/base:1-slim", "acme/base:2-slim"), *uses(f"acme/base:1-slim@{DIGEST}")
    )
    (straggler,) = found.with_code("straggler")
    assert "FROM acme/base:2-slim and pin its digest," in straggler.message
    assert straggler.facts["pin_digest"] is True
    # an unpinned user is not asked to pin
    found = lint(*uses("debian:bullseye-slim", "debian:trixie-slim"))
    assert "pin" not in found.with_code("base-drift")[0].message


def test_advice_keeps_the_users_granularity() -> None:
    fleet = built("php:8.3-apache", "php:8.5-apache", "php:8.5.9-apache")
    found = lint(*fleet, *uses("php:8.3-apache"))
    assert advice(found) == {"php:8.3-apache": "php:8.5-apache"}
    found = lint(*fleet, *uses("php:8.3.1-apache"))
    assert advice(found) == {"php:8.3.1-apache": "php:8.5.9-apache"}
    # a codename user is told a codename, a number user a number
    found = lint(*built("debian:12", "debian:13", "debian:bookworm", "debian:trixie"),
                 *uses("debian:bookworm", "debian:12"))  # fmt: skip
    assert advice(found) == {"debian:bookworm": "debian:trixie", "debian:12": "debian:13"}
    # external: the same, from the tags in use
    found = lint(*uses("php:8.3-apache", "php:8.5.9-apache", "php:8.5-apache"))
    assert advice(found) == {"php:8.3-apache": "php:8.5-apache"}
    # no tag of the user's shape at the newest release: the release, not a finer tag
    found = lint(*uses("php:8.3-apache", "php:8.5.9-apache"))
    (drift,) = found.with_code("base-drift")
    assert "move it to a php 8.5 tag" in drift.message
    assert "suggested" not in drift.facts


def test_unpinned_base_suggests_the_newest_release_tag() -> None:
    base = inline("base", "FROM scratch\n", "alpine:latest", "alpine:3.24", "alpine:3.24.1",
                  "alpine:3", "alpine:20260805")  # fmt: skip
    found = lint(base, inline("app", "FROM alpine\n"))
    (finding,) = found.with_code("unpinned-base")
    assert finding.facts["suggested"] == "alpine:3.24"


# -- builds that chose their parent's line ---------------------------------------------------


def test_a_build_whose_tags_name_its_parents_version_is_left_alone() -> None:
    fleet = built("eclipse-temurin:17-jdk-noble", "eclipse-temurin:25-jdk-noble")
    maven = inline(
        "maven", "FROM eclipse-temurin:17-jdk-noble\n", "maven:3.9.9-eclipse-temurin-17-noble"
    )
    assert advice(lint(*fleet, maven)) == {}
    # wordpress names its PHP line (php8.3), as a word of letters and the version
    wordpress = inline("wp", "FROM php:8.3-apache\n", "wordpress:6.7-php8.3-apache")
    assert advice(lint(*built("php:8.3-apache", "php:8.5-apache"), wordpress)) == {}
    # external parents too: python's bookworm images are built on bookworm on purpose
    python = [
        inline(f"py-{c}", f"FROM buildpack-deps:{c}\n", f"python:3.13-{c}")
        for c in ("bookworm", "trixie")
    ]
    assert not lint(*python).with_code("base-drift")
    # ubuntu:22.04 is jammy: a -jammy image chose it
    jammy = inline("t", "FROM ubuntu:22.04\n", "eclipse-temurin:25-jdk-jammy")
    assert not lint(jammy, *uses("ubuntu:24.04")).with_code("base-drift")
    # a child not naming it, or naming only what the target shares (py3), is advised
    tool = inline("tool", "FROM eclipse-temurin:17-jdk-noble\n", "acme/tool:2.0-py3")
    assert advice(lint(*fleet, tool)) == {
        "eclipse-temurin:17-jdk-noble": "eclipse-temurin:25-jdk-noble"
    }
    py3 = inline("py3", "FROM python:3.12-slim\n", "acme/tool:2.0-py3")
    assert advice(lint(py3, *uses("python:3.13-slim"))) == {"python:3.12-slim": "python:3.13-slim"}


# -- a property ---------------------------------------------------------------------------

_SUFFIXES = ("", "-rc1", "a1", "-beta", "-20250101", "-dev", "-nightly")


@st.composite
def versions(draw: st.DrawFn) -> str:
    numbers = draw(st.lists(st.integers(0, 30), min_size=1, max_size=3))
    return ".".join(map(str, numbers)) + draw(st.sampled_from(_SUFFIXES)) + "-slim"


@settings(max_examples=150, deadline=None)
@given(st.lists(versions(), min_size=1, max_size=8, unique=True), versions())
def test_advice_is_a_stable_release_at_the_users_granularity(fleet: list[str], user: str) -> None:
    found = lint(*built(*(f"acme/tool:{v}" for v in fleet)), *uses(f"acme/tool:{user}"))
    used = version_of(user)
    assert used is not None
    for finding in found.with_code("straggler"):
        newer = ImageRef.parse(str(finding.facts["newer"])).tag
        target = version_of(newer)
        assert target is not None
        assert not target.snapshot
        assert len(target.numbers) == len(used.numbers)
        assert target.numbers > used.numbers
        assert target.flavour == used.flavour
    found = lint(*uses(*(f"python:{v}" for v in [*fleet, user])))
    for finding in found.with_code("base-drift"):
        suggested = finding.facts.get("suggested")
        if suggested is None:
            continue
        target = version_of(ImageRef.parse(str(suggested)).tag)
        written = version_of(ImageRef.parse(str(finding.facts["reference"])).tag)
        assert target is not None
        assert written is not None
        assert not target.snapshot
        assert len(target.numbers) == len(written.numbers)


# -- many stray Dockerfiles: one finding ------------------------------------------------------


HEADER = "Maintainers: Jane Doe <jane@example.com> (@jane)\nGitRepo: https://example.com/x.git\n"


def library_fleet(root: Path, strays: dict[str, int]) -> Path:
    """Two manifests (neo4j, redis) building one Dockerfile each, and *strays*
    Dockerfiles no manifest builds under each of the given directories."""
    files = {
        "imagegraph.toml": """\
            [[manifests]]
            path = "library/neo4j"
            checkout = "src/neo4j"
            repository = "neo4j"

            [[manifests]]
            path = "library/redis"
            checkout = "src/redis"
            repository = "redis"
            """,
        "library/neo4j": f"{HEADER}\nTags: 5\nDirectory: 5/community\n",
        "library/redis": f"{HEADER}\nTags: 8\nDirectory: 8/debian\n",
        "src/neo4j/5/community/Dockerfile": "FROM debian:trixie-slim\n",
        "src/redis/8/debian/Dockerfile": "FROM debian:trixie-slim\n",
    }
    for directory, n in strays.items():
        for i in range(n):
            files[f"{directory}/{i:02d}/Dockerfile"] = "FROM debian:bookworm-slim\n"
    return write(root, files)


def undeclared(found: Findings) -> list[Finding]:
    return list(found.with_code("undeclared-dockerfile"))


def test_fifty_stray_dockerfiles_of_one_tree_are_one_finding(tmp_path: Path) -> None:
    graph = scan(library_fleet(tmp_path, {"src/neo4j/old/3.5": 30, "src/neo4j/old/4.4": 20}))
    # the scan keeps a diagnostic per file; lint reads them as one finding
    assert sum(d.code == "undeclared-dockerfile" for d in graph.diagnostics) == 50
    (finding,) = undeclared(findings(graph))
    paths = sorted(f"src/neo4j/old/{v}/{i:02d}/Dockerfile" for v, n in (("3.5", 30), ("4.4", 20))
                   for i in range(n))  # fmt: skip
    assert finding.facts == {
        "count": 50, "directory": "src/neo4j/old", "source": "library/neo4j", "paths": paths,
    }  # fmt: skip
    assert (finding.path, finding.line, finding.image) == (paths[0], None, None)
    assert finding.message == (
        "50 Dockerfiles under src/neo4j/old/ are built by no declaration, so no plan will "
        f"rebuild them ({paths[0]}, {paths[1]}, {paths[2]} and 47 more); the builds beside "
        "them are declared in library/neo4j"
    )


def test_a_few_stray_dockerfiles_are_each_a_finding(tmp_path: Path) -> None:
    graph = scan(library_fleet(tmp_path, {"src/neo4j/old": 1, "src/redis/tmp": AGGREGATE_AT - 1}))
    found = undeclared(findings(graph))
    assert [(f.path, f.message) for f in found] == [
        ("src/neo4j/old/00/Dockerfile",
         "no declaration builds this Dockerfile, so no plan will rebuild it"),
        *[(f"src/redis/tmp/{i:02d}/Dockerfile",
           "no declaration builds this Dockerfile, so no plan will rebuild it")
          for i in range(AGGREGATE_AT - 1)],
    ]  # fmt: skip
    assert all(f.facts == {} for f in found)


def test_strays_group_per_declaration_source(tmp_path: Path) -> None:
    strays = {
        "src/neo4j/old": 5, "src/neo4j/5/community/variants": 2, "src/redis/old": 4,
        "elsewhere/x": 2, "elsewhere/y": 1,
    }  # fmt: skip
    found = undeclared(findings(scan(library_fleet(tmp_path, strays))))
    # one finding per manifest, the strays beside its builds and in its old/ tree
    # together; files under no manifest's builds, by their top directory
    assert [(f.facts["count"], f.facts["directory"], f.facts["source"]) for f in found] == [
        (3, "elsewhere", ""),
        (7, "src/neo4j", "library/neo4j"),
        (4, "src/redis/old", "library/redis"),
    ]
    assert " more)" not in found[0].message  # three files: all named
    assert "declared in" not in found[0].message  # under no manifest's checkout


def test_an_aggregated_finding_in_json_sarif_and_the_table(tmp_path: Path) -> None:
    graph = scan(library_fleet(tmp_path, {"src/neo4j/old": 40}))
    found = findings(graph)
    (_finding,) = undeclared(found)
    data = to_data(found)
    (entry,) = [f for f in data["findings"] if f["code"] == "undeclared-dockerfile"]
    assert entry["facts"]["count"] == 40
    assert entry["facts"]["paths"] == [f"src/neo4j/old/{i:02d}/Dockerfile" for i in range(40)]
    assert json.loads(json.dumps(data)) == data
    log = json.loads(to_sarif(found, tool_version="0"))
    (result,) = [r for r in log["runs"][0]["results"] if r["ruleId"] == "undeclared-dockerfile"]
    (location,) = result["locations"]
    assert location["physicalLocation"]["artifactLocation"]["uri"] == (
        "src/neo4j/old/00/Dockerfile"
    )
    assert result["properties"]["facts"]["count"] == 40
    assert len(result["properties"]["facts"]["paths"]) == 40
    # the alert is the tree's: one more stray file keeps its fingerprint
    write(
        tmp_path,
        {"src/neo4j/old/zz/Dockerfile": "FROM debian\n", "src/neo4j/old/00/Dockerfile": ""},
    )
    (tmp_path / "src/neo4j/old/00/Dockerfile").unlink()
    again = json.loads(to_sarif(findings(scan(tmp_path, cache=False)), tool_version="0"))
    (moved,) = [r for r in again["runs"][0]["results"] if r["ruleId"] == "undeclared-dockerfile"]
    assert moved["partialFingerprints"] == result["partialFingerprints"]
    assert moved["properties"]["facts"]["count"] == 40
    from rich.console import Console

    console = Console(width=200, record=True)
    console.print(to_table(found))
    assert "40 Dockerfiles under src/neo4j/old/" in console.export_text()


def test_a_child_of_any_build_of_a_shared_tag_is_advised() -> None:
    # acme/base:1.1 and :1.2 are each one index of a Linux and a Windows build;
    # a Windows child's edge goes to the second owner of the tag, which lint
    # once skipped as "not the tag's build".
    def made(name: str, text: str, tag: str, platform: str) -> ImageBuild:
        return ImageBuild(
            name, f"{name}/Dockerfile", name, (ImageRef.parse(tag),),
            platforms=(platform,), dockerfile_inline=text,
        )  # fmt: skip

    bases = [
        made(f"base{version}-{os}", "FROM debian:12\n", f"acme/base:{version}", f"{os}/amd64")
        for version in ("1.1", "1.2")
        for os in ("linux", "windows")
    ]
    for os in ("linux", "windows"):
        graph = ImageGraph.from_builds([
            *bases,
            made("app", "FROM acme/base:1.1\n", "acme/app:1", f"{os}/amd64"),
            made("other", "FROM acme/base:1.2\n", "acme/other:1", f"{os}/amd64"),
        ])  # fmt: skip
        assert graph.parents("app") == [f"base1.1-{os}"]
        (straggler,) = findings(graph).with_code("straggler")
        assert straggler.image == "app"
        assert "acme/base:1.2" in straggler.message


# -- one finding per thing to fix ---------------------------------------------------------


def per_arch_fleet(root: Path, child_from: str, children: int = 1) -> Path:
    """alpine 3.19 and 3.20 (and latest), each built per architecture from two
    directories (alpine:3.20 and alpine:3.20-arm64v8), and *children* app entries
    for both architectures, each FROM *child_from*."""
    entries = "".join(
        f"\nTags: {v}{', latest' if v == '3.20' else ''}\nArchitectures: amd64, arm64v8\n"
        f"Directory: {v}/x86_64\narm64v8-Directory: {v}/aarch64\n"
        for v in ("3.19", "3.20")
    )
    apps = "".join(
        f"\nTags: {i}\nArchitectures: amd64, arm64v8\nDirectory: app{i}\n" for i in range(children)
    )
    files = {
        "imagegraph.toml": """\
            [[manifests]]
            path = "library/alpine"
            checkout = "src/alpine"
            repository = "alpine"

            [[manifests]]
            path = "library/app"
            checkout = "src/app"
            repository = "app"
            """,
        "library/alpine": f"{HEADER}{entries}",
        "library/app": f"{HEADER}{apps}",
    }
    for v in ("3.19", "3.20"):
        for arch in ("x86_64", "aarch64"):
            files[f"src/alpine/{v}/{arch}/Dockerfile"] = "FROM scratch\nADD rootfs.tar.gz /\n"
    for i in range(children):
        files[f"src/app/app{i}/Dockerfile"] = f"FROM {child_from}\nRUN true\n"
    return write(root, files)


def test_a_use_of_a_tag_built_per_architecture_is_one_finding(tmp_path: Path) -> None:
    graph = scan(per_arch_fleet(tmp_path / "old", "alpine:3.19"))
    # the child is linked to both builds of alpine:3.19 (one per architecture)
    assert len(graph.nx.pred["app:0"]) == 2
    (straggler,) = findings(graph).with_code("straggler")
    assert (straggler.where, straggler.facts["newer"]) == (
        "src/app/app0/Dockerfile:1",
        "alpine:3.20",
    )

    graph = scan(per_arch_fleet(tmp_path / "latest", "alpine:latest"))
    (unpinned,) = findings(graph).with_code("unpinned-base")
    # named after the build standing for the tag, not its arm64v8 build
    assert unpinned.facts["parent"] == "alpine:3.20"
    assert "alpine:3.20-arm64v8" not in unpinned.message
    assert unpinned.facts["suggested"] == "alpine:3.20"


def test_the_same_finding_of_one_image_is_reported_once() -> None:
    # acme/base:1.0 is one image of a Linux and a Windows build; the child's one
    # FROM line is linked to both
    builds = [
        replace(inline("old-linux", "FROM scratch\n", "acme/base:1.0"), platforms=("linux/amd64",)),
        replace(inline("old-win", "FROM scratch\n", "acme/base:1.0"), platforms=("windows/amd64",)),
        inline("new", "FROM scratch\n", "acme/base:2.0"),
    ]
    graph = ImageGraph.from_builds([*builds, *uses("acme/base:1.0")])
    assert sorted(graph.nx.pred["u0"]) == ["old-linux", "old-win"]
    found = findings(graph, LintPolicy())
    assert [(f.where, f.facts["parent"]) for f in found.with_code("straggler")] == [
        ("u0/Dockerfile:1", "old-linux")
    ]


def test_a_use_linked_to_a_later_build_of_a_shared_tag_is_checked() -> None:
    # acme/base:1.0 is an amd64 and an arm64 build; the child's FROM is linked to
    # the arm64 one only, while another use links it to the amd64 one: the FROM is
    # still checked (it was checked only through the first build the child had)
    base = [
        replace(inline("old-amd64", "FROM scratch\n", "acme/base:1.0"), platforms=("linux/amd64",)),
        replace(inline("old-arm64", "FROM scratch\n", "acme/base:1.0"), platforms=("linux/arm64",)),
        inline("new", "FROM scratch\n", "acme/base:2.0"),
    ]
    # the same tag by COPY --from, which serves any platform
    app = inline(
        "app", "FROM --platform=linux/arm64 acme/base:1.0\nCOPY --from=acme/base:1.0 / /\n"
    )
    graph = ImageGraph.from_builds([*base, app])
    assert [e.kind for e in graph.nx.pred["app"]["old-amd64"]["uses"]] == ["copy"]
    found = findings(graph, LintPolicy()).with_code("straggler")
    assert [(f.where, f.facts["parent"]) for f in found] == [("app/Dockerfile:1", "old-arm64")]
    # another tag of the amd64 build, used by an arm64 child (platform-not-built)
    tools = replace(base[0], tags=(*base[0].tags, ImageRef.parse("acme/tools:1")))
    app = replace(
        inline("app", "FROM acme/base:1.0\nCOPY --from=acme/tools:1 / /\n"),
        platforms=("linux/arm64",),
    )
    graph = ImageGraph.from_builds([tools, *base[1:], app])
    found = findings(graph, LintPolicy()).with_code("straggler")
    assert [(f.where, f.facts["parent"]) for f in found] == [("app/Dockerfile:1", "old-arm64")]


_PLATFORMS = [
    (),
    ("linux/amd64",),
    ("linux/arm64",),
    ("windows/amd64",),
    ("linux/amd64", "linux/arm64"),
]
_BUILT = ["acme/base:1.0", "acme/base:2.0", "acme/base:latest", "acme/tools:1"]
# built tags twice as likely: a use of a shared tag is what the property is about
_USED = [*_BUILT, *_BUILT, f"acme/base:1.0@{DIGEST}", "acme/base", "debian:12", "debian:latest"]


@st.composite
def multi_platform_fleets(draw: st.DrawFn) -> tuple[list[ImageBuild], list[ImageBuild]]:
    """Builds of a few tags for various platforms (several builds of one tag), and
    untagged children FROM and COPY --from those tags, for various platforms: the
    fleet, and the same with the children asking for no platform."""
    bases = [
        replace(
            inline(
                f"b{i}",
                "FROM scratch\n",
                *draw(st.lists(st.sampled_from(_BUILT), min_size=1, max_size=2)),
            ),
            platforms=draw(st.sampled_from(_PLATFORMS)),
        )
        for i in range(draw(st.integers(1, 5)))
    ]
    children: list[ImageBuild] = []
    plain: list[ImageBuild] = []
    for i in range(draw(st.integers(1, 3))):
        lines: list[str] = []
        bare: list[str] = []
        for _ in range(draw(st.integers(1, 3))):
            ref = draw(st.sampled_from(_USED))
            if draw(st.booleans()) or not lines:
                platform = draw(st.sampled_from(["", "linux/amd64", "linux/arm64"]))
                lines.append(f"FROM {f'--platform={platform} ' if platform else ''}{ref}")
                bare.append(f"FROM {ref}")
            else:
                lines.append(f"COPY --from={ref} / /")
                bare.append(lines[-1])
        child = inline(f"c{i}", "\n".join(lines) + "\n")
        children.append(replace(child, platforms=draw(st.sampled_from(_PLATFORMS))))
        plain.append(inline(f"c{i}", "\n".join(bare) + "\n"))
    return [*bases, *children], [*bases, *plain]


@settings(max_examples=300, deadline=None)
@given(multi_platform_fleets())
def test_which_builds_of_a_shared_tag_serve_a_use_changes_no_finding(
    fleets: tuple[list[ImageBuild], list[ImageBuild]],
) -> None:
    # A use of a tag is checked once however many builds of it serve the child:
    # the platforms the child asks for pick which, never whether it is reported.
    def reported(builds: list[ImageBuild]) -> set[tuple[str, str | None, str | None, int | None]]:
        found = findings(ImageGraph.from_builds(builds), LintPolicy(require_digest=("debian",)))
        return {
            (f.code, f.image, f.path, f.line)
            for f in found.with_code("straggler", "unpinned-base", "digest-required")
        }

    fleet, plain = fleets
    assert reported(fleet) == reported(plain)


def test_isolated_builds_of_one_manifest_are_one_finding(tmp_path: Path) -> None:
    graph = scan(per_arch_fleet(tmp_path, "debian:trixie", children=AGGREGATE_AT))
    isolated = list(findings(graph).with_code("isolated-build"))
    # alpine's four builds are used by nothing; the apps are on debian alone
    assert [(f.facts["source"], f.facts["count"]) for f in isolated] == [
        ("library/alpine", 4), ("library/app", AGGREGATE_AT),
    ]  # fmt: skip
    apps = isolated[1]
    assert apps.image is None
    assert apps.facts["images"] == [f"app:{i}" for i in range(AGGREGATE_AT)]
    assert apps.facts["paths"] == [f"src/app/app{i}/Dockerfile" for i in range(AGGREGATE_AT)]
    assert apps.facts["parents_of"] == {f"app:{i}": ["debian:trixie"] for i in range(AGGREGATE_AT)}
    assert "build only on images from outside this fleet" in apps.message
    # alpine's builds are roots: no advice to build them on a base
    roots = isolated[0]
    images = roots.facts["images"]
    assert isinstance(images, list)
    assert roots.facts["parents_of"] == {image: [] for image in images}
    assert "build FROM scratch" in roots.message
    assert "build them on one of those bases" not in roots.message
    assert (apps.path, apps.line) == ("src/app/app0/Dockerfile", 1)
    assert apps.message.startswith(f"{AGGREGATE_AT} builds declared in library/app (app:0, ")


def test_a_few_isolated_builds_are_each_a_finding(tmp_path: Path) -> None:
    graph = scan(per_arch_fleet(tmp_path, "debian:trixie", children=AGGREGATE_AT - 1))
    apps = [f for f in findings(graph).with_code("isolated-build") if f.image is not None]
    assert [f.image for f in apps] == [f"app:{i}" for i in range(AGGREGATE_AT - 1)]
    assert all(f.facts == {"parents": ["debian:trixie"]} for f in apps)


def test_a_scan_warning_repeated_in_one_tree_is_one_finding(tmp_path: Path) -> None:
    # alpine:3.21 is not built though alpine is: unbuilt-tag at each app's FROM
    graph = scan(per_arch_fleet(tmp_path, "alpine:3.21", children=4))
    assert sum(d.code == "unbuilt-tag" for d in graph.diagnostics) == 4
    (finding,) = findings(graph).with_code("unbuilt-tag")
    places = [f"src/app/app{i}/Dockerfile:1" for i in range(4)]
    assert finding.facts == {
        "count": 4, "directory": "src/app", "source": "library/app", "places": places,
        "images": [f"app:{i}" for i in range(4)],
    }  # fmt: skip
    assert finding.where == places[0]
    assert finding.message.endswith(
        "(at 4 places under src/app/: app0/Dockerfile:1, app1/Dockerfile:1, "
        "app2/Dockerfile:1 and 1 more)"
    )


def test_a_scan_warning_at_a_few_places_is_one_finding_each(tmp_path: Path) -> None:
    graph = scan(per_arch_fleet(tmp_path, "alpine:3.21", children=AGGREGATE_AT - 1))
    found = list(findings(graph).with_code("unbuilt-tag"))
    assert [f.where for f in found] == [
        f"src/app/app{i}/Dockerfile:1" for i in range(AGGREGATE_AT - 1)
    ]
    assert all(f.facts == {} and f.image == f"app:{i}" for i, f in enumerate(found))


def test_a_warning_repeated_in_absolute_and_relative_dockerfiles_is_one_finding() -> None:
    # builds given to the library with an absolute Dockerfile path beside relative
    # ones, declared in one file: the places share no directory, which is no error
    base = replace(inline("base", "FROM scratch\n", "acme/base:1.0"), origin="docker-bake.hcl:1")
    paths = ["a/Dockerfile", "b/Dockerfile", "/opt/c/Dockerfile"]
    users = [
        replace(
            inline(f"u{i}", "FROM acme/base:9.9\n"),
            dockerfile=path,
            origin=f"docker-bake.hcl:{i + 2}",
        )
        for i, path in enumerate(paths)
    ]
    (finding,) = findings(ImageGraph.from_builds([base, *users]), LintPolicy()).with_code(
        "unbuilt-tag"
    )
    assert finding.facts["directory"] == ""
    assert finding.facts["places"] == sorted(f"{path}:1" for path in paths)
    assert "(at 3 places under the root: " in finding.message


def _sarif_results(found: Findings, code: str) -> list[dict[str, object]]:
    log = json.loads(to_sarif(found, tool_version="0"))
    return [r for r in log["runs"][0]["results"] if r["ruleId"] == code]


def test_a_repeated_warning_keeps_its_alert_and_shows_every_place(tmp_path: Path) -> None:
    (result,) = _sarif_results(
        findings(scan(per_arch_fleet(tmp_path / "four", "alpine:3.21", children=4))), "unbuilt-tag"
    )
    # every other place is a related location code scanning shows
    related = result["relatedLocations"]
    assert isinstance(related, list)
    assert [
        (r["physicalLocation"]["artifactLocation"]["uri"], r["physicalLocation"]["region"])
        for r in related
    ] == [(f"src/app/app{i}/Dockerfile", {"startLine": 1}) for i in (1, 2, 3)]
    # a fifth use changes the count and the message, not the alert
    (five,) = _sarif_results(
        findings(scan(per_arch_fleet(tmp_path / "five", "alpine:3.21", children=5))), "unbuilt-tag"
    )
    assert five["message"] != result["message"]
    assert five["partialFingerprints"] == result["partialFingerprints"]
    # isolated builds of one source: the source's alert, whatever their number
    (roots,) = [
        r
        for r in _sarif_results(
            findings(scan(per_arch_fleet(tmp_path / "iso", "debian:trixie", children=3))),
            "isolated-build",
        )
        if "library/app" in str(r["message"])
    ]
    (more,) = [
        r
        for r in _sarif_results(
            findings(scan(per_arch_fleet(tmp_path / "iso4", "debian:trixie", children=4))),
            "isolated-build",
        )
        if "library/app" in str(r["message"])
    ]
    assert roots["partialFingerprints"] == more["partialFingerprints"]
    assert len(more["relatedLocations"]) == 3  # type: ignore[arg-type]


def test_a_directory_naming_the_parents_version_is_a_line_kept_on_purpose() -> None:
    fleet = built("ubuntu:24.04", "ubuntu:26.04")
    # aerospike's .../community/ubuntu24.04/Dockerfile is FROM ubuntu:24.04 on purpose
    chosen = replace(
        inline("a", "FROM ubuntu:24.04\n"),
        dockerfile="releases/8.1/community/ubuntu24.04/Dockerfile",
    )
    assert advice(lint(*fleet, chosen)) == {}
    elsewhere = replace(
        inline("b", "FROM ubuntu:24.04\n"), dockerfile="releases/8.1/community/Dockerfile"
    )
    assert advice(lint(*fleet, elsewhere)) == {"ubuntu:24.04": "ubuntu:26.04"}


def test_a_repeated_warning_in_a_convention_fleet_is_grouped_per_top_directory(
    tmp_path: Path,
) -> None:
    # no declaration: every directory is its own image; the same warning in
    # unrelated top directories is one finding per directory, not one "under the root"
    files = {"base/Dockerfile": "FROM scratch\n"}
    for top in ("svc", "tools"):
        for i in range(AGGREGATE_AT):
            files[f"{top}/t{i}/Dockerfile"] = "FROM debian:trixie\nRUN a \\\n\n  b\n"
    found = findings(scan(write(tmp_path, files)))
    grouped = list(found.with_code("empty-continuation-line"))
    assert [(f.facts["directory"], f.facts["count"]) for f in grouped] == [
        ("svc", AGGREGATE_AT), ("tools", AGGREGATE_AT),
    ]  # fmt: skip
