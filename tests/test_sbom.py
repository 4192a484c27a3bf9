"""SBOMs in the formats syft, trivy and docker scout write."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imagegraph import ConfigError
from imagegraph.sbom import read_sbom

CYCLONEDX = {
    "bomFormat": "CycloneDX",
    "specVersion": "1.5",
    "components": [
        {"type": "library", "name": "libssl3", "version": "3.0.13-1~deb12u1",
         "purl": "pkg:deb/debian/libssl3@3.0.13-1~deb12u1?arch=amd64&distro=debian-12"},
        {"type": "library", "name": "requests", "version": "2.31.0", "purl": "pkg:pypi/requests@2.31.0",
         "components": [{"type": "library", "name": "idna", "purl": "pkg:pypi/idna@3.6"}]},
        {"type": "operating-system", "name": "debian", "version": "12.5"},
        {"type": "library", "name": "libssl3", "purl": "pkg:deb/debian/libssl3@3.0.13-1~deb12u1?arch=amd64&distro=debian-12"},
        {"type": "library", "name": "broken", "purl": "not a purl"},
    ],
}  # fmt: skip
SPDX = {
    "spdxVersion": "SPDX-2.3",
    "packages": [
        {"name": "busybox", "versionInfo": "1.36.1-r28", "externalRefs": [
            {"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
             "referenceLocator": "pkg:apk/alpine/busybox@1.36.1-r28?arch=x86_64&distro=alpine-3.20.3"},
            {"referenceCategory": "SECURITY", "referenceType": "cpe23Type", "referenceLocator": "cpe:2.3:a:busybox"},
        ]},
        {"name": "no-purl", "versionInfo": "1"},
    ],
}  # fmt: skip


def test_cyclonedx(tmp_path: Path) -> None:
    path = tmp_path / "sbom.cdx.json"
    path.write_text(json.dumps(CYCLONEDX))
    kind, packages = read_sbom(path)
    assert kind == "cyclonedx"
    assert [(p.ecosystem, p.name, p.version) for p in packages] == [
        ("deb", "libssl3", "3.0.13-1~deb12u1"),
        ("pypi", "requests", "2.31.0"),
        ("pypi", "idna", "3.6"),
    ]


def test_spdx(tmp_path: Path) -> None:
    path = tmp_path / "sbom.spdx.json"
    path.write_text(json.dumps(SPDX))
    kind, packages = read_sbom(path)
    assert kind == "spdx"
    assert [(p.ecosystem, p.name, p.version) for p in packages] == [
        ("apk", "busybox", "1.36.1-r28")
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [("[]", "is a JSON object"), ('{"a": 1}', "not an SBOM"), ("{\n,", "not JSON")],
)
def test_not_an_sbom(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "x.json"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        read_sbom(path)
