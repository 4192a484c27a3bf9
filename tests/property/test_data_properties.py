"""Properties: OSV, SBOM and version readers fail only with imagegraph's own errors.

The JSON values are arbitrary, but placed where each reader goes deep: an
OSV advisory's fields, a CycloneDX or SPDX document's (with the marker that
makes the reader take it for one), so that every path through the readers
sees values of every type.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagegraph import ImageGraphError, PackageChange, load_osv
from imagegraph.advisories import Match
from imagegraph.sbom import SbomPackage, read_sbom
from imagegraph.versions import ECOSYSTEMS, VersionError, VersionRange, compare

SOME = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# Version-like words: what real versions are made of, and numbers far past int()'s limit.
_VERSION_WORDS = st.sampled_from(
    ["0", "1", "2.0", "3.0.13-1~deb12u1", "1:2", "1.2_rc1-r3", "v1.2.3", "1.0.0-alpha",
     "2.31.0", "*", "", "1" * 4400, "0" * 5000 + "7", "1." + "9" * 4400, "1.2_p" + "5" * 4400]
)  # fmt: skip
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | _VERSION_WORDS
)
_KEYS = st.sampled_from(
    ["id", "affected", "package", "name", "ecosystem", "purl", "ranges", "type", "events",
     "introduced", "fixed", "last_affected", "limit", "versions", "components",
     "externalRefs", "referenceType", "referenceLocator", "packages", "x"]
) | st.text(max_size=6)  # fmt: skip
JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=5),
    max_leaves=25,
)
_ECOSYSTEM_NAMES = st.sampled_from(["Debian:12", "Alpine:v3.20", "PyPI", "npm", "Go", "Rocky"])
_PURLS = st.sampled_from(
    ["pkg:deb/debian/openssl@3.0.11-1", "pkg:apk/alpine/busybox@1.36.1-r28", "pkg:pypi/a@1",
     "pkg:npm/x", "not a purl", "pkg:", "pkg:deb/%zz", "pkg:/", "pkg:golang/a/b@v1.0.0"]
)  # fmt: skip


@st.composite
def _event(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(["introduced", "fixed", "last_affected", "limit", "other"]))
    return draw(st.just({kind: draw(_VERSION_WORDS)}) | JSON)


@st.composite
def osv_documents(draw: st.DrawFn) -> Any:
    """An OSV advisory (or a list of them) whose parts are sometimes right, sometimes any JSON."""

    def part(strategy: st.SearchStrategy[Any]) -> Any:
        return draw(strategy | JSON) if draw(st.integers(0, 4)) == 0 else draw(strategy)

    ranges = st.lists(
        st.fixed_dictionaries(
            {"type": st.sampled_from(["ECOSYSTEM", "SEMVER", "GIT"]), "events": st.lists(_event())}
        ),
        max_size=3,
    )
    package = st.fixed_dictionaries(
        {"name": st.sampled_from(["openssl", "busybox", "a"])},
        optional={"ecosystem": _ECOSYSTEM_NAMES, "purl": _PURLS},
    )
    affected = st.lists(
        st.fixed_dictionaries(
            {"package": package},
            optional={"ranges": ranges, "versions": st.lists(_VERSION_WORDS, max_size=3)},
        ),
        max_size=3,
    )
    advisory = {"id": part(st.text(max_size=8)), "affected": part(affected)}
    return [advisory, part(JSON)] if draw(st.booleans()) else advisory


@st.composite
def sbom_documents(draw: st.DrawFn) -> Any:
    """A CycloneDX or SPDX document with its marker, its lists holding sometimes any JSON."""
    if draw(st.booleans()):
        component = st.recursive(
            st.fixed_dictionaries({}, optional={"purl": _PURLS | JSON}),
            lambda inner: st.fixed_dictionaries(
                {}, optional={"purl": _PURLS, "components": st.lists(inner, max_size=3) | JSON}
            ),
            max_leaves=8,
        )
        return {"bomFormat": "CycloneDX", "components": draw(st.lists(component | JSON) | JSON)}
    reference = st.fixed_dictionaries(
        {"referenceType": st.sampled_from(["purl", "cpe23Type"]) | JSON},
        optional={"referenceLocator": _PURLS | JSON},
    )
    package = st.fixed_dictionaries(
        {}, optional={"name": JSON, "externalRefs": st.lists(reference | JSON) | JSON}
    )
    return {"spdxVersion": "SPDX-2.3", "packages": draw(st.lists(package | JSON) | JSON)}


def _write(document: Any) -> Path:
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - a file the reader opens by name
        "w", suffix=".json", delete=False, encoding="utf-8"
    )
    with handle:
        json.dump(document, handle)
    return Path(handle.name)


@SOME
@given(osv_documents())
def test_an_osv_advisory_is_read_or_refused_with_an_imagegraph_error(document: Any) -> None:
    path = _write(document)
    try:
        try:
            changes, notes = load_osv(path)
        except ImageGraphError as err:
            message = str(err)
            assert message.startswith(f"{path}:")  # names the file
            return
        for change in changes:
            assert isinstance(change, PackageChange)
            # Matching what was read never fails either.
            for version in ("1.0", "1" * 4400, "3.0.13-1", None):
                package = SbomPackage("pkg:x", change.ecosystem or "deb", change.name, version)
                assert isinstance(change.match(package), Match)
        assert all(note.path == str(path) for note in notes)
    finally:
        path.unlink()


@SOME
@given(sbom_documents())
def test_an_sbom_is_read_or_refused_with_an_imagegraph_error(document: Any) -> None:
    path = _write(document)
    try:
        try:
            kind, packages = read_sbom(path)
        except ImageGraphError as err:
            message = str(err)
            assert message.startswith(f"{path}:")
            assert message.count(str(path)) == 1  # named once, not "x.json: x.json: ..."
            return
        assert kind in ("cyclonedx", "spdx")
        assert all(isinstance(package, SbomPackage) for package in packages)
    finally:
        path.unlink()


_DIGITS = st.sampled_from(["0", "7", "10", "1" * 4400, "0" * 4400 + "1", "9" * 5000])
VERSIONS = st.one_of(
    st.text(max_size=20),
    st.lists(_DIGITS | st.text("abcrcpgit~^:+_-", max_size=3), min_size=1, max_size=5).map(
        lambda parts: ".".join(parts)
    ),
    _VERSION_WORDS,
)


@SOME
@given(st.sampled_from(ECOSYSTEMS), VERSIONS, VERSIONS)
def test_versions_compare_or_raise_version_error(ecosystem: str, a: str, b: str) -> None:
    try:
        result = compare(ecosystem, a, b)
    except VersionError:
        return
    assert result in (-1, 0, 1)
    assert compare(ecosystem, b, a) == -result
    assert compare(ecosystem, a, a) == 0


@SOME
@given(st.sampled_from(ECOSYSTEMS), VERSIONS, VERSIONS, VERSIONS)
def test_a_range_answers_or_raises_version_error(
    ecosystem: str, introduced: str, fixed: str, version: str
) -> None:
    try:
        version_range = VersionRange.of(ecosystem, [("introduced", introduced), ("fixed", fixed)])
        assert version_range.contains(version) in (True, False)
    except VersionError:
        pass


@SOME
@given(st.sampled_from(ECOSYSTEMS), st.integers(1, 5000), st.integers(1, 5000))
def test_long_digit_runs_order_by_value(ecosystem: str, left: int, right: int) -> None:
    # 10^left and 10^right as digit strings, with leading zeros: longer is larger.
    a, b = "0" * 3 + "1" + "0" * left, "1" + "0" * right
    try:
        result = compare(ecosystem, a, b)
    except VersionError:
        assert ecosystem in ("pypi", "gem", "generic", "npm", "golang")  # refused, not misordered
        return
    assert result == (left > right) - (left < right)
