"""Finding Dockerfiles in a tree, as git would list it, and naming them by convention."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import pathspec

from imagegraph._sources.common import SourceResult
from imagegraph.diagnostics import Diagnostic, Severity
from imagegraph.errors import InvalidReference
from imagegraph.inventory import ImageBuild
from imagegraph.reference import ImageRef

__all__ = ["convention_builds", "find_dockerfiles", "is_dockerfile_name"]

_ALWAYS_SKIPPED = frozenset({".git", ".hg", ".svn", "node_modules"})


def is_dockerfile_name(name: str) -> bool:
    """``Dockerfile``, ``Containerfile``, ``*.Dockerfile``, ``Dockerfile.*``; not ignore files.

    >>> [n for n in ["Dockerfile", "api.Dockerfile", "Dockerfile.dev", "Dockerfile.dockerignore",
    ...              "Containerfile", "dockerfile.md"] if is_dockerfile_name(n)]
    ['Dockerfile', 'api.Dockerfile', 'Dockerfile.dev', 'Containerfile']
    """
    if name.endswith(".dockerignore"):
        return False
    return (
        name in ("Dockerfile", "Containerfile")
        or name.startswith("Dockerfile.")
        or (name.endswith(".Dockerfile") and len(name) > len(".Dockerfile"))
    )


def find_dockerfiles(root: Path, exclude: Sequence[str] = ()) -> list[str]:
    """Relative paths of the Dockerfiles under *root*, sorted.

    Skips version-control directories and ``node_modules``, whatever a
    ``.gitignore`` (at the root or deeper) ignores, and paths matching the
    *exclude* globs (gitignore syntax, anchored at the root).
    """
    excluded = pathspec.GitIgnoreSpec.from_lines(exclude)
    return sorted(
        relative
        for relative in _walk(root, excluded)
        if is_dockerfile_name(relative.rpartition("/")[2])
    )


def _walk(root: Path, excluded: pathspec.GitIgnoreSpec) -> Iterator[str]:
    # (directory prefix, spec) for every .gitignore above the current directory
    ignores: list[tuple[str, pathspec.GitIgnoreSpec]] = []

    def ignored(relative: str, is_dir: bool) -> bool:
        probe = relative + "/" if is_dir else relative
        if excluded.match_file(probe):
            return True
        for prefix, spec in ignores:
            if relative.startswith(prefix) and spec.match_file(probe[len(prefix) :]):
                return True
        return False

    def visit(directory: Path, prefix: str) -> Iterator[str]:
        depth = len(ignores)
        gitignore = directory / ".gitignore"
        if gitignore.is_file():
            try:
                lines = gitignore.read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                lines = []
            ignores.append((prefix, pathspec.GitIgnoreSpec.from_lines(lines)))
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            entries = []
        for entry in entries:
            relative = prefix + entry.name
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if is_dir:
                if entry.name in _ALWAYS_SKIPPED or ignored(relative, True):
                    continue
                yield from visit(Path(entry.path), relative + "/")
            elif not ignored(relative, False):
                yield relative
        del ignores[depth:]

    yield from visit(root, "")


def convention_builds(root: Path, dockerfiles: Sequence[str]) -> SourceResult:
    """One build per Dockerfile, named and tagged after its directory."""
    result = SourceResult()
    for path in dockerfiles:
        directory, _, filename = path.rpartition("/")
        name = directory or root.resolve().name or "root"
        if filename not in ("Dockerfile", "Containerfile"):
            variant = filename.removeprefix("Dockerfile.").removesuffix(".Dockerfile")
            name = f"{name}/{variant}" if directory else variant
        tags: tuple[ImageRef, ...] = ()
        repository = re.sub(r"[^a-z0-9/]+", "-", name.lower()).strip("-/")
        repository = re.sub(r"/+-*|-*/+", "/", repository)
        try:
            tags = (ImageRef.parse(repository),) if repository else ()
        except InvalidReference:
            tags = ()
        shown = tags[0].familiar if tags else "no tag"
        result.diagnostics.append(
            Diagnostic(
                "inferred-name",
                Severity.INFO,
                f"no declaration builds this Dockerfile; calling it {name!r} ({shown})",
                path,
            )
        )
        result.builds.append(
            ImageBuild(
                name=name,
                dockerfile=path,
                context=directory or ".",
                tags=tags,
                origin="convention",
                inferred=True,
            )
        )
    return result
