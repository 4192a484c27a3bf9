"""Version ordering per ecosystem, from each scheme's documented rules, and OSV-style ranges."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imagegraph.versions import VersionError, VersionRange, compare, sort_key

# Each row: ecosystem and versions in strictly increasing order.
ORDERS = [
    # Debian policy: epoch first; ~ sorts before everything, even the end of the string;
    # letters before non-letters; the revision compares last.
    ("deb", ["1.0~rc1", "1.0", "1.0-1", "1.0-1+b1", "1.0a", "1.0.1", "2.0", "1:0.9"]),
    ("deb", ["3.0.11-1~deb12u2", "3.0.13-1~deb12u1", "3.0.13-1", "3.0.13-2", "3.0.14-1"]),
    ("deb", ["2.36-9+deb12u4", "2.36-9+deb12u7", "2.36-9+deb12u10"]),
    # rpm: epoch, ~ before release, ^ after; numbers beat letters.
    ("rpm", ["1.0~rc1", "1.0", "1.0^git1", "1.0.1", "1:0.5"]),
    ("rpm", ["3.0.7-24.el9", "3.0.7-25.el9", "3.0.7-100.el9"]),
    # apk: pre-release suffixes < none < post-release suffixes < next digit; -rN last.
    (
        "apk",
        [
            "1.2_alpha",
            "1.2_beta2",
            "1.2_pre1",
            "1.2_rc1",
            "1.2",
            "1.2-r1",
            "1.2_cvs",
            "1.2_svn",
            "1.2_git20240101",
            "1.2_hg1",
            "1.2_p1",
            "1.2a",
            "1.2.1",
        ],
    ),
    ("apk", ["3.3.1-r0", "3.3.2-r0", "3.3.2-r1", "3.3.10-r0"]),
    # PEP 440: dev < pre < final < post; local versions after their public one.
    ("pypi", ["1.0.dev1", "1.0a1", "1.0b2", "1.0rc1", "1.0", "1.0+local", "1.0.post1", "1.1"]),
    # semver: pre-releases before the release; numeric identifiers compare as numbers.
    (
        "npm",
        [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0",
            "1.2.0",
            "1.10.0",
        ],
    ),
    ("golang", ["v0.4.28", "v0.5.0", "v1.0.0-rc.1", "v1.0.0"]),
    ("gem", ["1.0.0.pre", "1.0.0", "1.0.1", "1.10"]),
    ("generic", ["3.9.18", "3.11.9", "3.12.4", "3.12.10", "3.13.0"]),
]


@pytest.mark.parametrize(
    ("ecosystem", "ordered"), ORDERS, ids=[f"{e}-{i}" for i, (e, _) in enumerate(ORDERS)]
)
def test_orderings(ecosystem: str, ordered: list[str]) -> None:
    for lower, higher in itertools.pairwise(ordered):
        assert compare(ecosystem, lower, higher) == -1, (lower, higher)
        assert compare(ecosystem, higher, lower) == 1
    shuffled = ordered[1::2] + ordered[::2]
    assert sorted(shuffled, key=lambda v: sort_key(ecosystem, v)) == ordered


@pytest.mark.parametrize(
    ("ecosystem", "a", "b"),
    [
        ("deb", "1.0", "0:1.0"),
        ("pypi", "1.0", "1.0.0"),
        ("rpm", "1.0", "0:1.0"),
        ("apk", "1.2-r0", "1.2"),
    ],
)
def test_equal_spellings(ecosystem: str, a: str, b: str) -> None:
    assert compare(ecosystem, a, b) == 0


@pytest.mark.parametrize(
    ("ecosystem", "text"),
    [
        ("apk", "1.2_foo"),
        ("apk", "abc"),
        ("pypi", "not a version"),
        ("npm", "1.x.y"),
        ("deb", ""),
        ("nix", "1.0"),
    ],
)
def test_invalid_versions(ecosystem: str, text: str) -> None:
    with pytest.raises(VersionError) as caught:
        sort_key(ecosystem, text)
    assert repr(text) in str(caught.value)


RANGES = [
    # (events, listed, version, affected)
    ([("introduced", "0"), ("fixed", "3.0.13-1")], [], "3.0.11-1~deb12u2", True),
    ([("introduced", "0"), ("fixed", "3.0.13-1")], [], "3.0.13-1", False),
    ([("introduced", "0"), ("fixed", "3.0.13-1")], [], "3.0.13-1~deb12u1", True),
    ([("introduced", "3.0.0-1"), ("fixed", "3.0.13-1")], [], "1.1.1w-0+deb11u1", False),
    ([("introduced", "3.0.0-1"), ("last_affected", "3.0.11-1")], [], "3.0.11-1", True),
    ([("introduced", "3.0.0-1"), ("last_affected", "3.0.11-1")], [], "3.0.11-2", False),
    # Two affected spans: 1.0 <= v < 1.2 and 2.0 <= v < 2.3.
    (
        [("introduced", "1.0"), ("fixed", "1.2"), ("introduced", "2.0"), ("fixed", "2.3")],
        [],
        "1.5",
        False,
    ),
    (
        [("introduced", "1.0"), ("fixed", "1.2"), ("introduced", "2.0"), ("fixed", "2.3")],
        [],
        "2.1",
        True,
    ),
    (
        [("introduced", "1.0"), ("fixed", "1.2"), ("introduced", "2.0"), ("fixed", "2.3")],
        [],
        "1.1",
        True,
    ),
    ([("introduced", "0")], [], "99.0", True),
    ([], ["1.4"], "1.4", True),
    ([], ["1.4"], "1.5", False),
]


@pytest.mark.parametrize(("events", "listed", "version", "affected"), RANGES)
def test_osv_ranges(
    events: list[tuple[str, str]], listed: list[str], version: str, affected: bool
) -> None:
    ecosystem = "deb" if "deb" in version or "-" in version else "pypi"
    assert VersionRange.of(ecosystem, events, listed).contains(version) is affected


def test_a_range_with_an_unreadable_version_is_refused() -> None:
    with pytest.raises(VersionError):
        VersionRange.of("apk", [("introduced", "0"), ("fixed", "not-apk")])


@given(
    st.lists(
        st.tuples(
            st.integers(0, 20),
            st.integers(0, 20),
            st.sampled_from(["", "_rc1", "_p2", "_git1"]),
            st.integers(0, 3),
        ),
        min_size=2,
        max_size=8,
    )
)
def test_apk_order_is_total_and_consistent(parts: list[tuple[int, int, str, int]]) -> None:
    versions = [f"{a}.{b}{suffix}-r{rev}" for a, b, suffix, rev in parts]
    ordered = sorted(versions, key=lambda v: sort_key("apk", v))
    for lower, higher in itertools.pairwise(ordered):
        assert compare("apk", lower, higher) <= 0
        assert compare("apk", higher, lower) >= 0
