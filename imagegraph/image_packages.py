"""An image's packages: its own (from its Dockerfile or its SBOM) and those of the image it starts from.

A build's own packages are those its Dockerfile installs in the image
(builder stages excluded) or, when ``[sboms]`` declares an SBOM for it,
the SBOM's (``[sboms]`` in the config, or a file named after the image in
``sbom_dir``), which win: an SBOM describes the whole image, so nothing more
is inherited, and Dockerfile packages it does not list are added. Other
builds inherit the packages of their :meth:`~imagegraph.ImageGraph.base`,
marked with where they come from. An external image has packages only
when an SBOM is declared for it.

Debian-family purls need the distribution: it is taken from the external
image at the bottom of the build's base chain (``ubuntu`` for Ubuntu
images, else ``debian``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from imagegraph.diagnostics import Diagnostic, Severity
from imagegraph.errors import ImageGraphError, InvalidReference
from imagegraph.reference import ImageRef

if TYPE_CHECKING:
    import pandas as pd

    from imagegraph.graph import ImageGraph
    from imagegraph.sbom import SbomPackage

__all__ = ["ImagePackage", "PackageList", "image_packages", "own_packages"]


@dataclass(frozen=True, slots=True)
class ImagePackage:
    """One package in an image, and where imagegraph learnt of it.

    ``where`` is ``path:line`` of the install command or the SBOM file;
    ``inherited_from`` the image it comes from, ``None`` for the image's own.
    """

    purl: str
    ecosystem: str
    name: str
    version: str | None
    constraint: str | None
    source: str
    """``dockerfile`` or ``sbom``."""
    where: str
    inherited_from: str | None = None


class PackageList(tuple[ImagePackage, ...]):
    """The packages of one image: a tuple of :class:`ImagePackage` that also
    shows itself in a notebook and converts to a DataFrame.

    It is a tuple in every other way (indexing, slicing, ``==`` with a plain
    tuple, pickling); ``image`` is the graph node it lists, or ``None``.

    >>> listing = PackageList(
    ...     [ImagePackage("pkg:pypi/flask@3.0.3", "pypi", "flask", "3.0.3", None, "dockerfile",
    ...                   "app/Dockerfile:2")],
    ...     image="app",
    ... )
    >>> listing
    <PackageList app, 1 package: 1 own, 0 inherited>
    >>> listing == (listing[0],)
    True
    """

    image: str | None

    def __new__(
        cls, packages: Iterable[ImagePackage] = (), image: str | None = None
    ) -> PackageList:
        listing = super().__new__(cls, packages)
        listing.image = image
        return listing

    def __repr__(self) -> str:
        inherited = sum(1 for p in self if p.inherited_from is not None)
        count = f"{len(self)} package{'' if len(self) == 1 else 's'}"
        head = f"{self.image}, " if self.image is not None else ""
        return f"<PackageList {head}{count}: {len(self) - inherited} own, {inherited} inherited>"

    def _repr_html_(self) -> str:
        from imagegraph.render.html import packages_html

        return packages_html(self)

    def to_pandas(self) -> pd.DataFrame:
        """One row per package; see :func:`imagegraph.frames.packages_frame`."""
        from imagegraph.frames import packages_frame

        return packages_frame(self)


def _sbom_for(graph: ImageGraph, node: str) -> str | None:
    sboms = graph.inventory.sboms
    if node in sboms:
        return sboms[node]
    for key, path in sboms.items():
        try:
            if graph.node(key) == node:
                return path
        except ImageGraphError:
            continue
    directory = graph.inventory.sbom_dir
    if directory is None:
        return None
    if graph.is_external(node):
        stem = re.sub(r"[/:@]", "_", ImageRef.parse(node).familiar)
    else:
        stem = node.replace("/", "_")
    root = Path(graph.inventory.root)
    for suffix in (".cdx.json", ".spdx.json", ".json"):
        candidate = f"{directory}/{stem}{suffix}" if directory != "." else f"{stem}{suffix}"
        if os.path.lexists(root / candidate):  # a pipe or a link too: refused when read
            return candidate
    return None


def _distro(graph: ImageGraph, node: str) -> str:
    from imagegraph.layers import foundation

    bottom = foundation(graph, node)
    if bottom is None:
        return "debian"
    try:
        name = ImageRef.parse(bottom).path
    except InvalidReference:
        return "debian"
    return "ubuntu" if "ubuntu" in name else "debian"


def _read_sbom(graph: ImageGraph, sbom: str, notes: list[Diagnostic]) -> list[SbomPackage]:
    """The packages of the SBOM at *sbom* (relative to the root), or none and an ``sbom-error``.

    The file must really lie inside the directory the scan may read (the
    root, or ``--root``): a declaration or a link in the repository does not
    make imagegraph read anything outside it.
    """
    from imagegraph.inventory import ConfigError
    from imagegraph.sbom import read_sbom

    inventory = graph.inventory
    try:
        return read_sbom(Path(inventory.root) / sbom, root=inventory.readable_root)[1]
    except ConfigError as err:  # its message without the path, which the diagnostic has
        notes.append(Diagnostic("sbom-error", Severity.ERROR, err.message, sbom, err.line))
    except ImageGraphError as err:
        notes.append(Diagnostic("sbom-error", Severity.ERROR, str(err), sbom))
    return []


def own_packages(
    graph: ImageGraph, node: str
) -> tuple[tuple[ImagePackage, ...], tuple[Diagnostic, ...]]:
    """What *node* itself holds (not inherited), and diagnostics about reading it."""
    cache = graph._cache
    key = (node, "own-packages")
    if key in cache:
        cached: tuple[tuple[ImagePackage, ...], tuple[Diagnostic, ...]] = cache[key]
        return cached
    notes: list[Diagnostic] = []
    found: dict[tuple[str, str], ImagePackage] = {}
    sbom = _sbom_for(graph, node)
    if sbom is not None:
        listed = _read_sbom(graph, sbom, notes)
        for item in listed:
            found.setdefault(
                (item.ecosystem, item.name),
                ImagePackage(
                    item.purl, item.ecosystem, item.name, item.version, None, "sbom", sbom
                ),
            )
    if not graph.is_external(node):
        from imagegraph.packages import dockerfile_packages

        build = graph.build(node)
        dockerfile = graph._read_dockerfile(build)  # the packages are kept, not the file
        if dockerfile is not None:
            try:
                use = dockerfile_packages(dockerfile, build.target, distro=_distro(graph, node))
            except ImageGraphError as err:
                notes.append(
                    Diagnostic("package-error", Severity.WARNING, str(err), build.dockerfile)
                )
            else:
                notes.extend(use.diagnostics)
                for package in use.packages:
                    if not package.in_image:
                        continue
                    found.setdefault(
                        (package.ecosystem, package.name),
                        ImagePackage(
                            package.purl, package.ecosystem, package.name, package.version,
                            package.constraint, "dockerfile", f"{build.dockerfile}:{package.line}",
                        ),
                    )  # fmt: skip
    result = (tuple(found.values()), tuple(notes))
    cache[key] = result
    return result


def image_packages(graph: ImageGraph, image: str | ImageRef) -> PackageList:
    """Every package in *image*: its own, then inherited ones not overridden.

    An image with an SBOM inherits nothing: the SBOM already lists what its
    base put there.
    """
    node = graph.node(image)
    # The image, its base, the base's base, ... down to one with an SBOM or none:
    # a list, not recursion (a chain of builds may be longer than Python recurses).
    chain, seen = [node], {node}
    while _sbom_for(graph, chain[-1]) is None:
        base = graph.base(chain[-1]) if not graph.is_external(chain[-1]) else None
        if base is None or base in seen:
            break
        chain.append(base)
        seen.add(base)
    inherited: list[ImagePackage] = []  # the packages of the image below
    for index in range(len(chain) - 1, -1, -1):
        own, _ = own_packages(graph, chain[index])
        packages = list(own)
        if index + 1 < len(chain):
            base = chain[index + 1]
            names = {(p.ecosystem, p.name) for p in own}
            for package in inherited:
                if (package.ecosystem, package.name) in names:
                    continue  # reinstalled here: the image's own version counts
                origin = package.inherited_from or base
                packages.append(
                    ImagePackage(
                        package.purl, package.ecosystem, package.name, package.version,
                        package.constraint, package.source, package.where, origin,
                    )
                )  # fmt: skip
        inherited = packages
    return PackageList(inherited, image=node)
