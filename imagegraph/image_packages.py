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

import functools
import hashlib
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from packageurl import PackageURL

from imagegraph._pickling import checker
from imagegraph.diagnostics import Diagnostic, Severity
from imagegraph.errors import ImageGraphError, InvalidReference
from imagegraph.packages import Package
from imagegraph.reference import ImageRef

if TYPE_CHECKING:
    import pandas as pd

    from imagegraph.dockerfile import Dockerfile, Prepared
    from imagegraph.graph import ImageGraph
    from imagegraph.inventory import ImageBuild
    from imagegraph.sbom import SbomPackage

__all__ = [
    "ImagePackage",
    "PackageList",
    "image_packages",
    "own_packages",
    "prefetch_packages",
    "valid_package_entry",
]


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
        build = graph.build(node)
        extracted = _dockerfile_found(graph, build)
        if extracted is not None:
            packages, diagnostics = extracted
            notes.extend(diagnostics)
            distro = (
                _distro(graph, node) if any(p.ecosystem in _DISTRO_PURLS for p in packages) else ""
            )
            for package in packages:
                found.setdefault(
                    (package.ecosystem, package.name),
                    ImagePackage(
                        _purl_for(package, distro), package.ecosystem, package.name,
                        package.version, package.constraint, "dockerfile",
                        f"{build.dockerfile}:{package.line}",
                    ),
                )  # fmt: skip
    result = (tuple(found.values()), tuple(notes))
    cache[key] = result
    return result


# -- the packages each Dockerfile installs, extracted once per file content ----------
#
# What dockerfile_packages finds depends on the file's text, the build
# arguments the file declares an ARG for (BuildKit ignores the others), the
# target and the distro. The distro only names the namespace of deb and rpm
# purls, so it is applied afterwards (_purl_for): an extraction is kept per
# (file, declared arguments, target), in memory for the graph and on disk
# beside the parse cache, and reused while the file's stamp is unchanged.

# The purl types whose namespace is the distro, and their namespace without one.
_DISTRO_PURLS = {"deb": "debian", "rpm": "redhat"}
_Variant = tuple[tuple[tuple[str, str], ...], str | None]
"""A build's arguments the file declares, sorted, and its target."""
_Found = tuple[tuple[Package, ...], tuple[Diagnostic, ...]]
"""The packages in the image (extracted without a distro) and the extraction's diagnostics."""
# path -> (size, mtime_ns, ctime_ns, inode, b"", ARG names, variants); the empty field
# was a content hash: a file changed too recently to trust its stamp is no longer kept.
_PackageEntry = tuple[int, int, int, int, bytes, tuple[str, ...], dict[_Variant, _Found]]
_STORE_FORMAT = 2
_STORE_TYPES = frozenset(
    {
        ("imagegraph.packages", "Package"),
        ("imagegraph.diagnostics", "Diagnostic"),
        ("imagegraph.diagnostics", "Severity"),
    }
)


@functools.lru_cache(maxsize=64)
def _namespace_prefix(ecosystem: str, namespace: str) -> str:
    """How a purl of *ecosystem* in *namespace* starts: ``pkg:deb/ubuntu/``."""
    return PackageURL(type=ecosystem, namespace=namespace, name="x").to_string()[:-1]


def _purl_for(package: Package, distro: str) -> str:
    """The purl of *package*, extracted without a distro, as if extracted with *distro*.

    >>> from imagegraph import parse_dockerfile
    >>> from imagegraph.packages import dockerfile_packages
    >>> found = dockerfile_packages(parse_dockerfile("FROM x\\nRUN apt-get install curl=8.5"))
    >>> _purl_for(found.packages[0], "ubuntu")
    'pkg:deb/ubuntu/curl@8.5'
    """
    default = _DISTRO_PURLS.get(package.ecosystem)
    if default is None or not distro or distro == default:
        return package.purl
    was = _namespace_prefix(package.ecosystem, default)
    assert package.purl.startswith(was), package.purl
    return _namespace_prefix(package.ecosystem, distro) + package.purl[len(was) :]


def _arg_names(dockerfile: Dockerfile) -> tuple[str, ...]:
    """Every name an ``ARG`` of *dockerfile* declares, global or in a stage."""
    return tuple(
        sorted(
            {
                word.partition("=")[0]
                for instruction in dockerfile.instructions
                if instruction.keyword == "ARG"
                for word in instruction.args
            }
        )
    )


def _variant(args: Mapping[str, str], target: str | None, names: Sequence[str]) -> _Variant:
    return tuple(sorted((k, v) for k, v in args.items() if k in names)), target


def _extract(
    text: str | bytes | Prepared, path: str, builds: Sequence[tuple[Mapping[str, str], str | None]]
) -> tuple[tuple[str, ...], dict[_Variant, _Found]] | None:
    """The ARG names of the Dockerfile *text* (or the scan's reading of it) and
    what each of *builds* (its arguments and target) installs; ``None`` when
    it does not parse.

    The scan's reading keeps, of a file it outlined, every instruction the
    package reader needs (:func:`imagegraph._fastpath.outline`): resolving it
    gives the packages of the whole file without reading or parsing it again.
    """
    from imagegraph.dockerfile import Prepared, prepare_dockerfile, resolve_dockerfile
    from imagegraph.packages import dockerfile_packages

    prepared = text if isinstance(text, Prepared) else prepare_dockerfile(text, path=path)
    if prepared.error is not None:
        return None
    names: tuple[str, ...] | None = None
    parsed: dict[tuple[tuple[str, str], ...], Dockerfile] = {}
    out: dict[_Variant, _Found] = {}
    for args, target in builds:
        if names is not None:
            variant = _variant(args, target, names)
            if variant in out:
                continue
            dockerfile = parsed.get(variant[0])
        else:
            dockerfile = None
        if dockerfile is None:
            try:
                dockerfile = resolve_dockerfile(prepared, build_args=args, path=path)
            except ImageGraphError:
                return None
            if names is None:
                names = _arg_names(dockerfile)
            variant = _variant(args, target, names)
            parsed[variant[0]] = dockerfile
        try:
            use = dockerfile_packages(dockerfile, target)
        except ImageGraphError as err:
            out[variant] = ((), (Diagnostic("package-error", Severity.WARNING, str(err), path),))
        else:
            out[variant] = (tuple(p for p in use.packages if p.in_image), use.diagnostics)
    return (names or (), out) if names is not None else None


class _PackageStore:
    """The extractions of one graph's Dockerfiles: those on disk, checked
    against each file's stamp once, and those made since."""

    def __init__(self, graph: ImageGraph, *, disk: bool) -> None:
        from imagegraph._reading import cache_directory, code_version

        self.root = os.fspath(graph.inventory.root)
        self.limit = os.path.realpath(graph.inventory.readable_root)
        key = hashlib.sha256(os.fsencode(os.path.abspath(self.root))).hexdigest()[:24]
        self.path = cache_directory() / f"packages-{key}.pickle" if disk else None
        self.header = ("imagegraph-package-cache", _STORE_FORMAT, code_version(), self.root)
        self.old: dict[str, _PackageEntry] = self._load()
        self.entries: dict[str, _PackageEntry] = {}
        """Entries checked against their file in this process, or made here."""
        self.unreadable: set[str] = set()
        self.volatile: set[str] = set()
        """Files changed within the stamps' granularity: their entries are not saved."""
        self.changed = False
        self.stamps: dict[str, tuple[int, int, int, int]] = {}
        """The stamps a snapshot found the files with when it was saved or loaded
        (they were checked then): no need to look at the files again."""
        recorded = graph._cache.get(("", "input-stamps"))
        if recorded is not None:
            paths, numbers = recorded
            stamps = zip(*[iter(numbers)] * 4, strict=True)
            self.stamps = {
                path: now for path, now in zip(paths, stamps, strict=True) if now[0] != -1
            }

    def _load(self) -> dict[str, _PackageEntry]:
        from imagegraph._reading import read_cache_entries, touch

        if self.path is None:
            return {}
        entries = read_cache_entries(self.path, _STORE_TYPES, self.header)
        if entries is None:
            return {}
        touch(self.path)
        return {
            path: entry
            for path, entry in entries.items()
            if type(path) is str and valid_package_entry(path, entry)
        }

    def save(self) -> None:
        from imagegraph._reading import write_cache_file

        if self.path is not None and self.changed:
            entries = {p: e for p, e in self.entries.items() if p not in self.volatile}
            write_cache_file(self.path, (self.header, entries))
            self.changed = False

    def lookup(self, path: str, variant_of: Callable[[Sequence[str]], _Variant]) -> _Found | None:
        """What the file at *path* installs for the variant *variant_of* its ARG
        names gives, if known; else ``None``."""
        entry = self.entries.get(path)
        if entry is None:
            entry = self._check(path)
        if entry is None:
            return None
        return entry[6].get(variant_of(entry[5]))

    def _check(self, path: str) -> _PackageEntry | None:
        """The stored entry of *path*, if the file is still the one it was made from."""
        from imagegraph._files import inspect
        from imagegraph._reading import stamp

        entry = self.old.pop(path, None)
        if entry is None:
            return None
        now: tuple[int, int, int, int] | None = self.stamps.get(path)
        if now is None:
            try:
                now = stamp(inspect(os.path.join(self.root, path), root=self.limit))
            except OSError:
                return None
        if entry[:4] != now:
            return None
        self.entries[path] = entry
        return entry

    def extract(
        self, wanted: dict[str, list[tuple[dict[str, str], str | None]]], jobs: int | None = None
    ) -> None:
        """Extract the files of *wanted* (path -> the builds' arguments and targets)
        from the scan's reading of them: the parse cache's (a file changed since is
        read again, in a process pool when there are many), or a fresh reading
        for a graph scanned without the cache."""
        from imagegraph._reading import read_dockerfiles

        stamps: dict[str, tuple[tuple[int, int, int, int], bool]] = {}
        readings = read_dockerfiles(
            Path(self.root), list(wanted), cache=self.path is not None, jobs=jobs,
            boundary=self.limit, prune=False, stamps=stamps,
        )  # fmt: skip
        self.unreadable.update(path for path in wanted if path not in stamps)
        for path, (now, racy) in stamps.items():
            reading = readings.get(path)
            builds = wanted[path]
            known = self.entries.get(path)
            if known is not None and known[:4] == now and not racy:
                # Only new variants: the entry's others stay.
                builds = [b for b in builds if _variant(*b, known[5]) not in known[6]]
                if not builds:
                    continue
            result = (
                None if isinstance(reading, OSError | None) else _extract(reading, path, builds)
            )
            if result is None:
                self.unreadable.add(path)
                self.entries.pop(path, None)
                continue
            names, variants = result
            if known is not None and known[:4] == now and known[5] == names:
                variants = {**known[6], **variants}
            # A file changed within the stamps' granularity may change again unseen:
            # used in this process, never kept on disk (the next run reads it again).
            self.entries[path] = (*now, b"", names, variants)
            if racy:
                self.volatile.add(path)
            else:
                self.volatile.discard(path)
            self.changed = True


def _store(graph: ImageGraph) -> _PackageStore:
    store: _PackageStore | None = graph._cache.get(("", "package-store"))
    if store is None:
        store = graph._cache[("", "package-store")] = _PackageStore(graph, disk=_disk(graph))
    return store


def _disk(graph: ImageGraph) -> bool:
    """Whether extractions go to the cache directory: only for the graph of a
    cached scan (``scan(cache=False)`` and ``from_builds`` leave it untouched);
    :mod:`imagegraph._snapshot` marks those when it saves or loads them."""
    return bool(graph._cache.get(("", "cached-scan"), False))


def _dockerfile_found(graph: ImageGraph, build: ImageBuild) -> _Found | None:
    """What *build*'s Dockerfile installs in its image, extracted without a distro;
    ``None`` when there is no Dockerfile or it cannot be read or parsed."""
    if build.imported:
        return None
    key = (build.name, "dockerfile-packages")
    if key in graph._cache:  # found by prefetch_packages
        known: _Found | None = graph._cache.pop(key)
        return known
    if build.dockerfile_inline is not None:  # nothing to read: extracted each time asked
        done = _extract(build.dockerfile_inline, build.dockerfile, [(build.args, build.target)])
        return None if done is None else next(iter(done[1].values()))
    store = _store(graph)
    if build.dockerfile in store.unreadable:
        return None
    variant_of = functools.partial(_variant, build.args, build.target)
    found = store.lookup(build.dockerfile, variant_of)
    if found is None:
        store.extract({build.dockerfile: [(dict(build.args), build.target)]}, jobs=1)
        found = store.lookup(build.dockerfile, variant_of)
    return found


def prefetch_packages(graph: ImageGraph, *, jobs: int | None = None) -> None:
    """Extract the packages of every build's Dockerfile that is not known yet (in a
    process pool for many), and keep them on disk for the next run: what a
    package change, which reads every build, does first."""
    store = _store(graph)
    wanted: dict[str, list[tuple[dict[str, str], str | None]]] = {}
    for build in graph.inventory.builds:
        if build.imported or build.dockerfile_inline is not None:
            continue
        path = build.dockerfile
        if path in store.unreadable:
            continue
        found = store.lookup(path, functools.partial(_variant, build.args, build.target))
        if found is None:
            wanted.setdefault(path, []).append((dict(build.args), build.target))
        else:  # own_packages takes it from here, once
            graph._cache[(build.name, "dockerfile-packages")] = found
    if wanted:
        store.extract(wanted, jobs=jobs)
    store.save()


_NOTHING: _Found = ((), ())
_TARGETS = (str, type(None))
_VARIANT = checker(_Variant)
_FOUND = checker(_Found)


def valid_package_entry(path: str, entry: object) -> bool:
    """Whether *entry* is a package cache entry of the Dockerfile at *path* as
    :func:`prefetch_packages` writes them: every field of its declared type,
    the retired content-hash field empty, each variant's arguments among the names
    the file declares, and each package and diagnostic one of that file (the
    packages those in the image)."""
    # The fields one by one (what conforms(entry, _PackageEntry) checks, without
    # its generic walk: a warm package plan checks every entry, most of them empty).
    if not (type(entry) is tuple and len(entry) == 7):
        return False
    size, mtime, ctime, inode, digest, names, variants = entry
    if not (
        type(size) is int
        and type(mtime) is int
        and type(ctime) is int
        and type(inode) is int
        and min(size, mtime, ctime, inode) >= 0
        and digest == b""
        and type(names) is tuple
        and all(type(name) is str for name in names)
        and list(names) == sorted(set(names))
        and type(variants) is dict
    ):
        return False
    for variant, found in variants.items():
        if not (type(found) is tuple and found == _NOTHING) and not _FOUND(found):
            return False
        common = type(variant) is tuple and len(variant) == 2 and variant[0] == ()
        if not (common and type(variant[1]) in _TARGETS) and not _VARIANT(variant):
            return False
        args, packages = variant[0], found[0]
        if list(args) != sorted(dict(args).items()) or any(k not in names for k, _ in args):
            return False
        for package in packages:
            if not package.in_image or package.path != path or package.line < 1:
                return False
            default = _DISTRO_PURLS.get(package.ecosystem)
            if default is not None and not package.purl.startswith(
                _namespace_prefix(package.ecosystem, default)
            ):
                return False
        if any(d.path != path or (d.line is not None and d.line < 1) for d in found[1]):
            return False
    return True


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
