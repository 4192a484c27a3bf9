"""Package changes and OSV advisories."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from imagegraph import ConfigError
from imagegraph.advisories import Match, PackageChange, load_osv


@dataclass(frozen=True)
class Pkg:
    ecosystem: str
    name: str
    version: str | None


@pytest.mark.parametrize(
    ("change", "package", "expected"),
    [
        (
            PackageChange.named("openssl", below="3.0.13-1", ecosystem="deb"),
            Pkg("deb", "openssl", "3.0.11-1~deb12u2"),
            Match.AFFECTED,
        ),
        (
            PackageChange.named("openssl", below="3.0.13-1", ecosystem="deb"),
            Pkg("deb", "openssl", "3.0.13-1"),
            Match.NOT_AFFECTED,
        ),
        (
            PackageChange.named("openssl", below="3.0.13-1", ecosystem="deb"),
            Pkg("deb", "openssl", None),
            Match.UNKNOWN_VERSION,
        ),
        (
            PackageChange.named("openssl", below="3.0.13-1", ecosystem="deb"),
            Pkg("apk", "openssl", "3.0.1-r0"),
            Match.NOT_AFFECTED,
        ),
        (
            PackageChange.named("openssl", below="3.0.13-1", ecosystem="deb"),
            Pkg("deb", "libssl3", "3.0.11-1"),
            Match.NOT_AFFECTED,
        ),
        (PackageChange.named("openssl"), Pkg("apk", "openssl", None), Match.AFFECTED),
        (
            PackageChange.named("openssl", below="3.0.13"),
            Pkg("deb", "openssl", "3.0.11-1~deb12u2"),
            Match.AFFECTED,
        ),
        (
            PackageChange.named("openssl", below="3.0.13"),
            Pkg("apk", "openssl", "3.3.1-r0"),
            Match.NOT_AFFECTED,
        ),
        (
            PackageChange.named("openssl", below="3.0.13"),
            Pkg("apk", "openssl", "3.0.12-r4"),
            Match.AFFECTED,
        ),
        (
            PackageChange.named("pkg:pypi/Requests"),
            Pkg("pypi", "requests", "2.31.0"),
            Match.AFFECTED,
        ),
        (
            PackageChange.named("pkg:pypi/requests", below="2.32.0"),
            Pkg("pypi", "requests", "2.31.0"),
            Match.AFFECTED,
        ),
        (
            PackageChange.named("pkg:pypi/requests", below="2.32.0"),
            Pkg("pypi", "requests", "2.32.3"),
            Match.NOT_AFFECTED,
        ),
        (
            PackageChange.named("pkg:pypi/zope_interface@6.0"),
            Pkg("pypi", "zope.interface", "6.0"),
            Match.AFFECTED,
        ),
        (
            PackageChange.named("pkg:pypi/zope_interface@6.0"),
            Pkg("pypi", "zope.interface", "6.1"),
            Match.NOT_AFFECTED,
        ),
        (
            PackageChange.named("pkg:apk/alpine/busybox", below="1.36.1-r29"),
            Pkg("apk", "busybox", "1.36.1-r28"),
            Match.AFFECTED,
        ),
        (
            PackageChange.named("pkg:apk/alpine/busybox", below="1.36.1-r29"),
            Pkg("apk", "busybox", "weird"),
            Match.UNKNOWN_VERSION,
        ),
    ],
)
def test_matching(change: PackageChange, package: Pkg, expected: Match) -> None:
    assert change.match(package) is expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"name": "pkg:", "below": None}, "is not a package URL"),
        ({"name": "pkg:cargo/serde", "below": None}, "'cargo' is not one imagegraph reads"),
        (
            {"name": "busybox", "below": "not-a-version", "ecosystem": "apk"},
            "not a valid apk version",
        ),
    ],
)
def test_bad_changes(args: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        PackageChange.named(**args)


# Shaped like the Debian and PyPI advisories on osv.dev (trimmed).
DEBIAN = {
    "id": "DEBIAN-CVE-2024-0727",
    "affected": [
        {
            "package": {"ecosystem": "Debian:12", "name": "openssl"},
            "ranges": [
                {
                    "type": "ECOSYSTEM",
                    "events": [{"introduced": "0"}, {"fixed": "3.0.13-1~deb12u1"}],
                }
            ],
        },
        {
            "package": {"ecosystem": "Debian:11", "name": "openssl"},
            "ranges": [
                {
                    "type": "ECOSYSTEM",
                    "events": [{"introduced": "0"}, {"fixed": "1.1.1w-0+deb11u2"}],
                }
            ],
        },
    ],
}
PYPI = {
    "id": "GHSA-9wx4-h78v-vm56",
    "affected": [
        {
            "package": {"ecosystem": "PyPI", "name": "requests", "purl": "pkg:pypi/requests"},
            "ranges": [
                {
                    "type": "GIT",
                    "repo": "https://github.com/psf/requests",
                    "events": [{"introduced": "0"}],
                },
                {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.32.0"}]},
            ],
            "versions": ["2.31.0"],
        },
        {"package": {"ecosystem": "crates.io", "name": "x"}, "ranges": []},
    ],
}


def test_load_osv(tmp_path: Path) -> None:
    path = tmp_path / "osv.json"
    path.write_text(json.dumps([DEBIAN, PYPI]))
    changes, notes = load_osv(path)
    assert [(c.origin, c.ecosystem, c.name) for c in changes] == [
        ("DEBIAN-CVE-2024-0727", "deb", "openssl"),
        ("DEBIAN-CVE-2024-0727", "deb", "openssl"),
        ("GHSA-9wx4-h78v-vm56", "pypi", "requests"),
    ]
    assert changes[0].match(Pkg("deb", "openssl", "3.0.11-1~deb12u2")) is Match.AFFECTED
    assert changes[0].match(Pkg("deb", "openssl", "3.0.13-1~deb12u1")) is Match.NOT_AFFECTED
    assert changes[2].match(Pkg("pypi", "requests", "2.28.1")) is Match.AFFECTED
    assert [n.message for n in notes] == [
        "GHSA-9wx4-h78v-vm56: a GIT range for requests says nothing about package versions; ignored",
        "GHSA-9wx4-h78v-vm56: ecosystem 'crates.io' is not one imagegraph reads; skipped",
    ]


def test_bad_osv_files(tmp_path: Path) -> None:
    path = tmp_path / "osv.json"
    path.write_text('{"id": "X", "affected": [\n{"ranges": []}]}')
    with pytest.raises(ConfigError, match="needs a 'package'"):
        load_osv(path)
    path.write_text('{"id": \n')
    with pytest.raises(ConfigError) as caught:
        load_osv(path)
    assert (caught.value.path, caught.value.line) == (str(path), 2)
