"""SBOMs: the packages an image really holds, from CycloneDX JSON or SPDX JSON.

What syft, trivy and docker scout write: CycloneDX ``components`` (nested
ones included) with a ``purl``, and SPDX ``packages`` with a ``purl``
external reference. Entries without a purl are skipped: a name alone does
not say which ecosystem's versions it has. Package types imagegraph does
not compare (``pkg:cargo``, ``pkg:maven``, ...) are kept, so an exact-name
change still finds them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from imagegraph._jsonfile import field_error, json_kind, read_json
from imagegraph.inventory import ConfigError

__all__ = ["SbomPackage", "read_sbom"]


@dataclass(frozen=True, slots=True)
class SbomPackage:
    """One package an SBOM lists.

    >>> SbomPackage.from_purl("pkg:deb/debian/libssl3@3.0.13-1~deb12u1?arch=amd64")
    SbomPackage(purl='pkg:deb/debian/libssl3@3.0.13-1~deb12u1?arch=amd64', ecosystem='deb', name='libssl3', version='3.0.13-1~deb12u1')
    """

    purl: str
    ecosystem: str
    name: str
    version: str | None

    @classmethod
    def from_purl(cls, text: str) -> SbomPackage:
        """Read a purl; ``ValueError`` if it is not one."""
        from packageurl import PackageURL

        purl = PackageURL.from_string(text)
        return cls(text, purl.type, purl.name, purl.version)


def read_sbom(
    path: str | os.PathLike[str], *, root: str | os.PathLike[str] | None = None
) -> tuple[str, list[SbomPackage]]:
    """The SBOM's format (``cyclonedx`` or ``spdx``) and its packages, in file order, deduplicated.

    Only a regular file is read, and with *root* only one that really lies
    inside that directory (symbolic links followed). A field of the wrong type (``"components":
    "x"``, ``"purl": 5``) is a :class:`~imagegraph.ConfigError` naming the
    file and the field: an SBOM that is not what it claims is refused whole,
    never read in part. A purl that is a string but not a package URL names
    nothing a change could match, and is skipped.
    """
    display = str(path)
    data = read_json(path, "SBOM", root=root)
    if not isinstance(data, dict):
        raise ConfigError(f"an SBOM is a JSON object, not {json_kind(data)}", path=display)
    if data.get("bomFormat") == "CycloneDX":
        kind, purls = "cyclonedx", _cyclonedx(data, display)
    elif "spdxVersion" in data:
        kind, purls = "spdx", _spdx(data, display)
    else:
        raise ConfigError(
            "not an SBOM imagegraph reads (CycloneDX JSON or SPDX JSON)", path=display
        )
    packages: dict[str, SbomPackage] = {}
    for purl in purls:
        if purl in packages:
            continue
        try:
            packages[purl] = SbomPackage.from_purl(purl)
        except ValueError:
            continue  # an unreadable purl names nothing a change could match
    return kind, list(packages.values())


def _list(item: dict[str, Any], key: str, display: str, where: str) -> list[Any]:
    value = item.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise field_error(display, f"{where}{key}", "an array", value)
    return value


def _cyclonedx(data: dict[str, Any], display: str) -> list[str]:
    # Depth first, in file order, without recursion: components nest as deep as the file says.
    purls: list[str] = []
    stack: list[tuple[str, list[Any], int]] = [("", _list(data, "components", display, ""), 0)]
    while stack:
        where, components, index = stack.pop()
        if index >= len(components):
            continue
        stack.append((where, components, index + 1))
        component = components[index]
        at = f"{where}components[{index}]"
        if not isinstance(component, dict):
            raise field_error(display, at, "an object", component)
        purl = component.get("purl")
        if purl is not None:
            if not isinstance(purl, str):
                raise field_error(display, f"{at}.purl", "a string", purl)
            purls.append(purl)
        stack.append((f"{at}.", _list(component, "components", display, f"{at}."), 0))
    return purls


def _spdx(data: dict[str, Any], display: str) -> list[str]:
    purls: list[str] = []
    for index, package in enumerate(_list(data, "packages", display, "")):
        at = f"packages[{index}]"
        if not isinstance(package, dict):
            raise field_error(display, at, "an object", package)
        for number, ref in enumerate(_list(package, "externalRefs", display, f"{at}.")):
            here = f"{at}.externalRefs[{number}]"
            if not isinstance(ref, dict):
                raise field_error(display, here, "an object", ref)
            if ref.get("referenceType") != "purl":
                continue
            locator = ref.get("referenceLocator")
            if not isinstance(locator, str):
                raise field_error(display, f"{here}.referenceLocator", "a string", locator)
            purls.append(locator)
    return purls
