"""An image's packages: own, inherited, and SBOMs that win."""

from __future__ import annotations

import json
from pathlib import Path
from textwrap import dedent

import pytest

from imagegraph import PackageChange, scan


def cyclonedx(*purls: str) -> str:
    return json.dumps({"bomFormat": "CycloneDX", "components": [{"purl": p} for p in purls]})


def fleet(root: Path) -> Path:
    files = {
        "imagegraph.toml": """\
            sbom_dir = "sboms"

            [[image]]
            name = "base"
            context = "base"
            tags = ["acme/base:1"]

            [[image]]
            name = "app"
            context = "app"
            tags = ["acme/app:1"]

            [[image]]
            name = "tool"
            context = "tool"
            """,
        "base/Dockerfile": "FROM debian:12\nRUN apt-get update && apt-get install -y curl=7.88.1-10 libssl3\n",
        "app/Dockerfile": "FROM acme/base:1\nRUN pip install flask==3.0.3\n",
        "tool/Dockerfile": "FROM alpine:3.20\nRUN apk add --no-cache jq\n",
        "sboms/app.cdx.json": cyclonedx(
            "pkg:deb/debian/curl@7.88.1-10?distro=debian-12",
            "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?distro=debian-12",
        ),
        "sboms/alpine_3.20.spdx.json": json.dumps(
            {
                "spdxVersion": "SPDX-2.3",
                "packages": [
                    {
                        "name": "libcrypto3",
                        "externalRefs": [
                            {
                                "referenceType": "purl",
                                "referenceLocator": "pkg:apk/alpine/libcrypto3@3.3.1-r0",
                            }
                        ],
                    }
                ],
            }
        ),
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(text))
    return root


def test_own_and_inherited(tmp_path: Path) -> None:
    graph = scan(fleet(tmp_path))
    assert [
        (p.name, p.version, p.source, p.where, p.inherited_from) for p in graph.packages("base")
    ] == [
        ("curl", "7.88.1-10", "dockerfile", "base/Dockerfile:2", None),
        ("libssl3", None, "dockerfile", "base/Dockerfile:2", None),
    ]


def test_an_sbom_wins_and_needs_no_inheritance(tmp_path: Path) -> None:
    graph = scan(fleet(tmp_path))
    assert [(p.name, p.version, p.source, p.inherited_from) for p in graph.packages("app")] == [
        ("curl", "7.88.1-10", "sbom", None),
        ("libssl3", "3.0.11-1~deb12u2", "sbom", None),
        ("flask", "3.0.3", "dockerfile", None),  # the SBOM missed it: added, marked
    ]


def test_an_external_image_sbom_by_file_name(tmp_path: Path) -> None:
    graph = scan(fleet(tmp_path))
    tool = {p.name: p for p in graph.packages("tool")}
    assert tool["libcrypto3"].inherited_from == "docker.io/library/alpine:3.20"
    assert tool["libcrypto3"].where == "sboms/alpine_3.20.spdx.json"
    assert tool["jq"].inherited_from is None


def test_the_sbom_decides_between_known_and_unknown(tmp_path: Path) -> None:
    graph = scan(fleet(tmp_path))
    result = graph.impact([PackageChange.named("libssl3", below="3.0.13", ecosystem="deb")])
    # base installs libssl3 unpinned: possibly; app's SBOM says 3.0.11: affected.
    assert list(result.affected) == ["app"]
    assert list(result.possibly) == ["base"]
    assert result.causes["app"] == (
        "libssl3 3.0.11-1~deb12u2 (sboms/app.cdx.json): deb libssl3 below 3.0.13",
    )


DISTRO_CASES = [
    ("FROM ubuntu:24.04", "pkg:deb/ubuntu/curl@8.5.0-2ubuntu10"),
    ("FROM debian:bookworm", "pkg:deb/debian/curl@8.5.0-2ubuntu10"),
    ("FROM scratch", "pkg:deb/debian/curl@8.5.0-2ubuntu10"),
]


@pytest.mark.parametrize(("base", "purl"), DISTRO_CASES)
def test_deb_purls_name_the_distribution_at_the_bottom_of_the_base_chain(
    base: str, purl: str
) -> None:
    from imagegraph import ImageBuild, ImageGraph, ImageRef

    graph = ImageGraph.from_builds(
        [
            ImageBuild("base", "b/Dockerfile", "b", (ImageRef.parse("acme/base:1"),),
                       dockerfile_inline=base),
            ImageBuild("app", "a/Dockerfile", "a",
                       dockerfile_inline="FROM acme/base:1\nRUN apt-get install -y curl=8.5.0-2ubuntu10"),
        ]
    )  # fmt: skip
    assert [p.purl for p in graph.packages("app")] == [purl]
