"""Package versions compared by each ecosystem's own rules, and version ranges.

* PyPI: PEP 440 (packaging).
* deb: Debian policy (epochs, ``~`` before anything), rpm: rpmvercmp
  (epochs, ``~`` and ``^``), gem: RubyGems; from univers, a maintained
  implementation of these schemes.
* npm and golang: strict semver 2.0 (semantic_version; golang's leading
  ``v`` dropped).
* apk: apk-tools' own ordering, implemented here because univers rejects
  real Alpine versions with ``_git``/``_cvs``/``_svn``/``_hg`` suffixes:
  digits, an optional letter, suffixes ``_alpha < _beta < _pre < _rc <
  (none) < _cvs < _svn < _git < _hg < _p`` each with an optional number,
  then the ``-rN`` revision.
* generic (runtime versions such as ``PYTHON_VERSION``): PEP 440 when the
  text is one, else dotted numbers.

Numbers are compared as digit strings (leading zeros dropped, then by
length, then digit by digit), never converted with ``int()``: a version
text may come from a hostile file, and Python refuses to convert more than
4,300 digits. Where another library does the converting (PyPI, RubyGems),
a number longer than :data:`MAX_DIGITS` is a :class:`VersionError`.

A :class:`VersionRange` holds OSV-style events (``introduced``, ``fixed``,
``last_affected``, ``limit``) and answers whether a version falls inside.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from packaging.version import InvalidVersion, Version

from imagegraph.errors import ImageGraphError

__all__ = ["ECOSYSTEMS", "MAX_DIGITS", "VersionError", "VersionRange", "compare", "sort_key"]

ECOSYSTEMS = ("deb", "apk", "rpm", "pypi", "npm", "gem", "golang", "generic")
MAX_DIGITS = 4000
"""The longest number a version may hold where a library converts it with
``int()`` (PyPI, RubyGems): below Python's limit of 4,300 digits."""
_LONG_NUMBER = re.compile(rf"\d{{{MAX_DIGITS + 1}}}")


class VersionError(ImageGraphError, ValueError):
    """A version that its ecosystem's rules cannot read."""

    def __init__(self, ecosystem: str, text: str, reason: str = "") -> None:
        self.ecosystem = ecosystem
        self.text = text
        self.reason = reason
        shown = text if len(text) <= 80 else f"{text[:60]}...({len(text)} characters)"
        super().__init__(
            f"{shown!r} is not a valid {ecosystem} version" + (f": {reason}" if reason else "")
        )

    def __reduce__(self) -> tuple[object, ...]:
        return (VersionError, (self.ecosystem, self.text, self.reason))


def _number(digits: str) -> tuple[int, str]:
    """A sort key for a run of digits that orders like its value, without ``int()``.

    >>> _number("0010") < _number("9") , _number("10") == _number("010")
    (False, True)
    """
    significant = digits.lstrip("0")
    return (len(significant), significant)


_APK = re.compile(
    r"(?P<digits>\d+(?:\.\d+)*)(?P<letter>[a-z])?"
    r"(?P<suffixes>(?:_(?:alpha|beta|pre|rc|cvs|svn|git|hg|p)\d*)*)"
    r"(?:-r(?P<revision>\d+))?",
    re.ASCII,
)
_SUFFIX = re.compile(r"_(alpha|beta|pre|rc|cvs|svn|git|hg|p)(\d*)")
_PRE = {"alpha": 0, "beta": 1, "pre": 2, "rc": 3}
_POST = {"cvs": 0, "svn": 1, "git": 2, "hg": 3, "p": 4}
_END = (1,)


def _apk_key(text: str) -> tuple[Any, ...]:
    """A sort key for an apk version.

    >>> sorted(["1.2", "1.2_rc1", "1.2_p1", "1.2.1", "1.2-r1", "1.2_git20240101"], key=_apk_key)
    ['1.2_rc1', '1.2', '1.2-r1', '1.2_git20240101', '1.2_p1', '1.2.1']
    """
    match = _APK.fullmatch(text)
    if match is None:
        raise VersionError("apk", text)
    tokens: list[tuple[Any, ...]] = [(4, _number(part)) for part in match["digits"].split(".")]
    if match["letter"]:
        tokens.append((3, ord(match["letter"])))
    for name, number in _SUFFIX.findall(match["suffixes"] or ""):
        value = _number(number)
        tokens.append((0, _PRE[name], value) if name in _PRE else (2, _POST[name], value))
    tokens.append(_END)
    return (tuple(tokens), _number(match["revision"] or ""))


def _dotted_key(text: str) -> tuple[Any, ...]:
    parts = re.split(r"[.\-+_]", text)
    if not parts or not all(parts):
        raise VersionError("generic", text)
    # Numbers sort before words at the same place, and compare as numbers.
    return tuple((0, _number(p), "") if _is_digits(p) else (1, (0, ""), p) for p in parts)


def _is_digits(text: str) -> bool:
    # str.isdigit is also true of other scripts' digits and of superscripts.
    return text.isascii() and text.isdigit()


def _pypi_key(text: str) -> Any:
    if _LONG_NUMBER.search(text):
        raise VersionError("pypi", text, f"a number of more than {MAX_DIGITS} digits")
    try:
        return Version(text)
    except InvalidVersion as err:
        raise VersionError("pypi", text, str(err)) from None


def _generic_key(text: str) -> Any:
    long = _LONG_NUMBER.search(text) is not None
    try:
        version = Version(_LONG_NUMBER.sub("0", text) if long else text)
    except InvalidVersion:
        return (1, Version("0"), _dotted_key(text))  # digit runs of any length compare
    if long:
        # PEP 440 text that packaging cannot hold (it calls int()): it would sort
        # after every PEP 440 version as dotted numbers, so it is refused instead.
        raise VersionError("generic", text, f"a number of more than {MAX_DIGITS} digits")
    return (0, version, ())


def _univers(class_name: str, ecosystem: str) -> Callable[[str], Any]:
    def key(text: str) -> Any:
        from univers import versions

        cls = getattr(versions, class_name)
        if ecosystem == "gem" and _LONG_NUMBER.search(text):
            # RubyGems' segments become ints when compared, not when read.
            raise VersionError(ecosystem, text, f"a number of more than {MAX_DIGITS} digits")
        try:
            return cls(text.removeprefix("v") if ecosystem == "golang" else text)
        except Exception as err:  # univers raises several unrelated types
            raise VersionError(ecosystem, text, str(err)) from None

    return key


def _semver(ecosystem: str) -> Callable[[str], Any]:
    # Strict semver: univers' SemverVersion coerces text such as "1.x.y".
    def key(text: str) -> Any:
        import semantic_version

        try:
            return semantic_version.Version(
                text.removeprefix("v") if ecosystem == "golang" else text
            )
        except ValueError as err:
            raise VersionError(ecosystem, text, str(err)) from None

    return key


_KEYS: dict[str, Callable[[str], Any]] = {
    "apk": _apk_key,
    "pypi": _pypi_key,
    "generic": _generic_key,
    "deb": _univers("DebianVersion", "deb"),
    "rpm": _univers("RpmVersion", "rpm"),
    "npm": _semver("npm"),
    "golang": _semver("golang"),
    "gem": _univers("RubygemsVersion", "gem"),
}


@functools.lru_cache(maxsize=65536)
def sort_key(ecosystem: str, text: str) -> Any:
    """A value that orders *text* among versions of *ecosystem*; :class:`VersionError` if invalid.

    >>> sort_key("deb", "1:1.0-1") > sort_key("deb", "2.0")
    True
    """
    try:
        key = _KEYS[ecosystem]
    except KeyError:
        raise VersionError(ecosystem, text, "unknown ecosystem") from None
    return key(text)


def compare(ecosystem: str, a: str, b: str) -> int:
    """-1, 0 or 1 as version *a* sorts before, with or after *b* in *ecosystem*.

    >>> compare("deb", "3.0.13-1~deb12u1", "3.0.13-1")
    -1
    >>> compare("apk", "3.3.2-r0", "3.3.2_git20240101-r0")
    -1
    >>> compare("pypi", "2.0.0rc1", "2.0")
    -1
    """
    left, right = sort_key(ecosystem, a), sort_key(ecosystem, b)
    try:
        return -1 if left < right else (1 if left > right else 0)
    except VersionError:
        raise
    except (ValueError, TypeError, ArithmeticError) as err:
        # A library that reads lazily may only fail when comparing.
        raise VersionError(ecosystem, a, f"not comparable with {b[:60]!r}: {err}") from None


@dataclass(frozen=True, slots=True)
class VersionRange:
    """Versions of one ecosystem between OSV events, plus listed versions.

    ``events`` are ``(kind, version)`` with kind ``introduced`` (``"0"`` is
    the beginning of time), ``fixed`` (first version not affected),
    ``last_affected`` (last version affected) or ``limit``; evaluated as
    the OSV schema describes, after sorting by version.

    >>> below = VersionRange.below("deb", "3.0.13-1")
    >>> below.contains("3.0.11-1~deb12u2"), below.contains("3.0.13-1")
    (True, False)
    """

    ecosystem: str
    events: tuple[tuple[str, str], ...] = ()
    versions: frozenset[str] = frozenset()

    @classmethod
    def below(cls, ecosystem: str, version: str) -> VersionRange:
        """Every version before *version*."""
        return cls(ecosystem, (("introduced", "0"), ("fixed", version)))

    @classmethod
    def of(
        cls, ecosystem: str, events: Iterable[tuple[str, str]], versions: Iterable[str] = ()
    ) -> VersionRange:
        """A range from events and listed versions, checking every version is readable."""
        events = tuple(events)
        for kind, version in events:
            if kind not in ("introduced", "fixed", "last_affected", "limit"):
                raise VersionError(ecosystem, version, f"unknown event {kind!r}")
            if version != "0" and version != "*":
                sort_key(ecosystem, version)
        return cls(ecosystem, events, frozenset(versions))

    def contains(self, version: str) -> bool:
        """True when *version* is affected; :class:`VersionError` if it cannot be read."""
        if version in self.versions:
            return True
        if not self.events:
            return False
        try:
            return self._contains(version)
        except VersionError:
            raise
        except (ValueError, TypeError, ArithmeticError) as err:
            # A library that reads lazily may only fail when comparing.
            raise VersionError(self.ecosystem, version, str(err)) from None

    def _contains(self, version: str) -> bool:
        key = sort_key(self.ecosystem, version)
        limits = [sort_key(self.ecosystem, v) for k, v in self.events if k == "limit" and v != "*"]
        if limits and not any(key < limit for limit in limits):
            return False
        affected = False
        for kind, event in sorted(self.events, key=self._event_key):
            if kind == "limit":
                continue
            if kind == "introduced" and (event == "0" or key >= sort_key(self.ecosystem, event)):
                affected = True
            elif (kind == "fixed" and key >= sort_key(self.ecosystem, event)) or (
                kind == "last_affected" and key > sort_key(self.ecosystem, event)
            ):
                affected = False
        return affected

    def _event_key(self, event: tuple[str, str]) -> tuple[int, Any]:
        kind, version = event
        if version == "0" and kind == "introduced":
            return (0, None)
        return (1, sort_key(self.ecosystem, version))

    def __str__(self) -> str:
        parts = [f"{kind} {version}" for kind, version in self.events]
        if self.versions:
            parts.append("versions " + ", ".join(sorted(self.versions)))
        return f"{self.ecosystem}: " + "; ".join(parts)
