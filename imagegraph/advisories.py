"""Package changes and OSV advisories: which package versions a change or a vulnerability names.

A :class:`PackageChange` names a package (by name, with an optional
ecosystem, or by purl) and optionally a :class:`~imagegraph.versions.VersionRange`.
:func:`load_osv` reads an OSV advisory (the schema at ossf.github.io/osv-schema)
into package changes, one per ``affected`` entry, mapping OSV's ecosystem
names (``Debian:12``, ``Alpine:v3.20``, ``PyPI``, ``npm``, ...) to
imagegraph's (``deb``, ``apk``, ``pypi``, ``npm``, ...).

Matching a package gives one of three answers: it is affected, it is not,
or its version is unknown (not pinned in the Dockerfile and no SBOM says):
*possibly* affected, which is reported and never silently decided.

Debian and Alpine advisories name *source* packages (``openssl``) while
Dockerfiles install *binary* ones (``libssl3``); imagegraph matches names
as written and does not guess the mapping.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from imagegraph._jsonfile import field_error, json_kind, read_json
from imagegraph.diagnostics import Diagnostic, Severity
from imagegraph.inventory import ConfigError
from imagegraph.versions import VersionError, VersionRange

__all__ = ["Match", "PackageChange", "load_osv"]

# OSV ecosystem (before any ":release") -> (imagegraph ecosystem, distro namespace)
_OSV_ECOSYSTEMS = {
    "Debian": ("deb", "debian"),
    "Ubuntu": ("deb", "ubuntu"),
    "Alpine": ("apk", "alpine"),
    "Wolfi": ("apk", "wolfi"),
    "Chainguard": ("apk", "chainguard"),
    "Red Hat": ("rpm", "redhat"),
    "Rocky Linux": ("rpm", "rocky"),
    "AlmaLinux": ("rpm", "almalinux"),
    "openSUSE": ("rpm", "opensuse"),
    "SUSE": ("rpm", "suse"),
    "PyPI": ("pypi", None),
    "npm": ("npm", None),
    "RubyGems": ("gem", None),
    "Go": ("golang", None),
}
_PURL_TYPES = {"deb", "apk", "rpm", "pypi", "npm", "gem", "golang", "generic"}


class _PackageLike(Protocol):
    @property
    def ecosystem(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def version(self) -> str | None: ...


class Match(Enum):
    """How a package relates to a change."""

    AFFECTED = "affected"
    NOT_AFFECTED = "not-affected"
    UNKNOWN_VERSION = "unknown-version"


def _normalise(ecosystem: str | None, name: str) -> str:
    if ecosystem == "pypi":
        return re.sub(r"[-_.]+", "-", name).lower()
    return name.lower() if ecosystem in ("deb", "apk", "rpm", "generic") else name


@dataclass(frozen=True, slots=True)
class PackageChange:
    """A package, optionally only in a version range, that must leave the fleet.

    >>> change = PackageChange.named("openssl", below="3.0.13-1", ecosystem="deb")
    >>> str(change)
    'deb openssl below 3.0.13-1'
    """

    name: str
    ecosystem: str | None = None
    range: VersionRange | None = None
    below: str | None = None
    """With no ecosystem: versions before this one, in each package's own ecosystem."""
    origin: str = ""
    """Where the change comes from (an advisory id), for reasons."""
    label: str = field(default="", compare=False)

    @classmethod
    def named(
        cls, name: str, *, below: str | None = None, ecosystem: str | None = None
    ) -> PackageChange:
        """A package by name (``openssl``) or purl (``pkg:pypi/requests``), optionally below a version.

        Without an ecosystem, *below* is compared with each package's
        version by that package's own ecosystem rules.
        """
        if name.startswith("pkg:"):
            from packageurl import PackageURL

            try:
                purl = PackageURL.from_string(name)
            except ValueError as err:
                raise ConfigError(f"{name!r} is not a package URL: {err}") from None
            if purl.type not in _PURL_TYPES:
                raise ConfigError(f"package URL type {purl.type!r} is not one imagegraph reads")
            ecosystem, name = purl.type, purl.name
            if purl.version and below is None:
                version = purl.version
                return cls(name, ecosystem, VersionRange.of(ecosystem, [], [version]))
        if below is None:
            return cls(name, ecosystem)
        if ecosystem is None:
            # Compared in each package's own ecosystem when matched.
            return cls(name, None, None, below, label=f"below {below}")
        try:
            version_range = VersionRange.of(ecosystem, [("introduced", "0"), ("fixed", below)])
        except VersionError as err:
            raise ConfigError(str(err)) from None
        return cls(name, ecosystem, version_range, label=f"below {below}")

    def match(self, package: _PackageLike) -> Match:
        """Whether *package* is one this change names, in the range."""
        if self.ecosystem is not None and package.ecosystem != self.ecosystem:
            return Match.NOT_AFFECTED
        if _normalise(package.ecosystem, package.name) != _normalise(package.ecosystem, self.name):
            return Match.NOT_AFFECTED
        version_range = self.range
        if version_range is None and self.below is not None:
            try:
                version_range = VersionRange.of(
                    package.ecosystem, [("introduced", "0"), ("fixed", self.below)]
                )
            except VersionError:
                return Match.UNKNOWN_VERSION  # the bound means nothing in this ecosystem
        if version_range is None:
            return Match.AFFECTED
        if package.version is None:
            return Match.UNKNOWN_VERSION
        try:
            return Match.AFFECTED if version_range.contains(package.version) else Match.NOT_AFFECTED
        except VersionError:
            return Match.UNKNOWN_VERSION

    def __str__(self) -> str:
        text = f"{self.ecosystem} {self.name}" if self.ecosystem else self.name
        if self.label:
            text += f" {self.label}"
        elif self.range is not None:
            text += f" ({self.range})"
        return f"{self.origin}: {text}" if self.origin else text


def load_osv(path: str | os.PathLike[str]) -> tuple[list[PackageChange], list[Diagnostic]]:
    """The package changes of an OSV advisory file (one advisory, or a list of them).

    A field of the wrong type (``"ranges": "x"``, ``"versions": [1]``) is a
    :class:`~imagegraph.ConfigError` naming the file and the field: a
    malformed advisory is refused whole, never read in part, since a skipped
    entry would leave vulnerable images out of the plan. Well-formed entries
    imagegraph cannot use (an ecosystem it does not read, a ``GIT`` range, a
    version its ecosystem's rules cannot read) are ``advisory`` diagnostics.
    """
    display = str(path)
    data = read_json(path, "OSV advisory", pipes=True)
    advisories = data if isinstance(data, list) else [data]
    changes: list[PackageChange] = []
    notes: list[Diagnostic] = []
    for number, advisory in enumerate(advisories):
        where = f"[{number}]" if isinstance(data, list) else ""
        if not isinstance(advisory, dict):
            raise ConfigError(
                f"{where or 'the file'}: an OSV advisory is an object with an 'affected' list, "
                f"not {json_kind(advisory)}",
                path=display,
            )
        ident = advisory.get("id", "advisory")
        if not isinstance(ident, str):
            raise field_error(display, f"{where}.id".lstrip("."), "a string", ident)
        affected = _optional(advisory, "affected", list, display, where)
        for index, entry in enumerate(affected):
            change = _affected(
                entry, ident, display, f"{where}.affected[{index}]".lstrip("."), notes
            )
            if change is not None:
                changes.append(change)
    return changes, notes


def _optional(item: dict[str, Any], key: str, kind: type, display: str, where: str) -> Any:
    """``item[key]``, which must be a *kind* (a list or a dict) when it is there and not null."""
    value = item.get(key)
    if value is None:
        return kind()
    if not isinstance(value, kind):
        expected = "an array" if kind is list else "an object"
        raise field_error(display, f"{where}.{key}".lstrip("."), expected, value)
    return value


def _affected(
    entry: Any, ident: str, display: str, where: str, notes: list[Diagnostic]
) -> PackageChange | None:
    if not isinstance(entry, dict) or not isinstance(entry.get("package"), dict):
        raise ConfigError(
            f"{ident}: {where}: each 'affected' entry needs a 'package' object", path=display
        )
    package = entry["package"]
    for key in ("name", "ecosystem", "purl"):
        if key in package and not isinstance(package[key], str):
            raise field_error(display, f"{where}.package.{key}", "a string", package[key])
    name, osv_ecosystem = package.get("name"), package.get("ecosystem", "")
    ecosystem: str | None = None
    if "purl" in package:
        from packageurl import PackageURL

        try:
            purl = PackageURL.from_string(package["purl"])
            ecosystem, name = purl.type, purl.name
        except ValueError:
            pass
    if ecosystem is None:
        known = _OSV_ECOSYSTEMS.get(osv_ecosystem.split(":", 1)[0])
        if known is None:
            notes.append(
                _note(
                    f"{ident}: ecosystem {osv_ecosystem[:80]!r} is not one imagegraph reads; "
                    "skipped",
                    display,
                )
            )
            return None
        ecosystem = known[0]
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{ident}: {where}: an affected package has no name", path=display)
    events: list[tuple[str, str]] = []
    for number, version_range in enumerate(_optional(entry, "ranges", list, display, where)):
        at = f"{where}.ranges[{number}]"
        if not isinstance(version_range, dict):
            raise field_error(display, at, "an object", version_range)
        kind = version_range.get("type")
        if kind is not None and not isinstance(kind, str):
            raise field_error(display, f"{at}.type", "a string", kind)
        events_here = _optional(version_range, "events", list, display, at)
        for index, event in enumerate(events_here):
            if not isinstance(event, dict):
                raise field_error(display, f"{at}.events[{index}]", "an object", event)
            for key, value in event.items():
                if not isinstance(value, str):
                    raise field_error(display, f"{at}.events[{index}].{key}", "a string", value)
        if kind == "GIT":
            notes.append(
                _note(
                    f"{ident}: a GIT range for {name} says nothing about package versions; ignored",
                    display,
                )
            )
            continue
        for event in events_here:
            events.extend(event.items())
    versions = _optional(entry, "versions", list, display, where)
    for index, version in enumerate(versions):
        if not isinstance(version, str):
            raise field_error(display, f"{where}.versions[{index}]", "a string", version)
    if not events and not versions:
        notes.append(
            _note(f"{ident}: {name} lists no versions or ranges: every version counts", display)
        )
        return PackageChange(name, ecosystem, None, origin=ident)
    try:
        version_range = VersionRange.of(ecosystem, events, versions)
    except VersionError as err:
        notes.append(_note(f"{ident}: {err}; {name} skipped", display))
        return None
    return PackageChange(name, ecosystem, version_range, origin=ident)


def _note(message: str, path: str) -> Diagnostic:
    return Diagnostic("advisory", Severity.WARNING, message, path)
