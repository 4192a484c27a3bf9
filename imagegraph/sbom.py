"""SBOMs: the packages an image really holds, from CycloneDX JSON or SPDX JSON.

What syft, trivy and docker scout write: CycloneDX ``components`` (nested
ones included) with a ``purl``, and SPDX ``packages`` with a ``purl``
external reference. Entries without a purl are skipped: a name alone does
not say which ecosystem's versions it has. Package types imagegraph does
not compare (``pkg:cargo``, ``pkg:maven``, ...) are kept, so an exact-name
change still finds them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def read_sbom(path: str | os.PathLike[str]) -> tuple[str, list[SbomPackage]]:
    """The SBOM's format (``cyclonedx`` or ``spdx``) and its packages, in file order, deduplicated."""
    display = str(path)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"cannot read SBOM: {err.strerror}", path=display) from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"SBOM is not UTF-8 text: {err.reason}", path=display) from None
    except json.JSONDecodeError as err:
        raise ConfigError(f"SBOM is not JSON: {err.msg}", path=display, line=err.lineno) from None
    if not isinstance(data, dict):
        raise ConfigError("an SBOM is a JSON object", path=display)
    if data.get("bomFormat") == "CycloneDX":
        kind, purls = "cyclonedx", list(_cyclonedx(data.get("components", [])))
    elif "spdxVersion" in data:
        kind, purls = "spdx", list(_spdx(data.get("packages", [])))
    else:
        raise ConfigError(
            "not an SBOM imagegraph reads (CycloneDX JSON or SPDX JSON)", path=display
        )
    packages: dict[str, SbomPackage] = {}
    for purl in purls:
        try:
            packages.setdefault(purl, SbomPackage.from_purl(purl))
        except ValueError:
            continue  # an unreadable purl names nothing a change could match
    return kind, list(packages.values())


def _cyclonedx(components: Any) -> Iterator[str]:
    if not isinstance(components, list):
        return
    for component in components:
        if not isinstance(component, dict):
            continue
        if isinstance(component.get("purl"), str):
            yield component["purl"]
        yield from _cyclonedx(component.get("components", []))


def _spdx(packages: Any) -> Iterator[str]:
    if not isinstance(packages, list):
        return
    for package in packages:
        if not isinstance(package, dict):
            continue
        for ref in package.get("externalRefs", []) or []:
            if (
                isinstance(ref, dict)
                and ref.get("referenceType") == "purl"
                and isinstance(ref.get("referenceLocator"), str)
            ):
                yield ref["referenceLocator"]
