"""Finding Dockerfiles in a tree, as git would list it, and naming them by convention."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
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


def find_dockerfiles(
    root: Path, exclude: Sequence[str] = (), *, walked: list[str] | None = None
) -> list[str]:
    """Relative paths of the Dockerfiles under *root*, sorted.

    Skips version-control directories and ``node_modules``, whatever a
    ``.gitignore`` (at the root or deeper) ignores, and paths matching the
    *exclude* globs (gitignore syntax, anchored at the root). *walked*, if
    given, receives every directory listed (``dir/``, the root as ``./``)
    and every ``.gitignore`` read: what can change the answer.
    """
    excluded = pathspec.GitIgnoreSpec.from_lines(exclude) if exclude else None
    found: list[str] = []
    _walk(os.fspath(root), "", excluded, [], found, walked)
    found.sort()
    return found


def _walk(
    directory: str,
    prefix: str,
    excluded: pathspec.GitIgnoreSpec | None,
    ignores: list[tuple[str, pathspec.GitIgnoreSpec]],
    found: list[str],
    walked: list[str] | None,
) -> None:
    # ignores: (directory prefix, spec) for every .gitignore above this directory.
    # Only Dockerfile names are matched against the ignore rules: on a large
    # tree the rules are the walk's cost, and other files are never reported.
    if walked is not None:
        walked.append(prefix or "./")  # even unreadable: a chmod shows in its own times
    try:
        with os.scandir(directory) as listing:
            entries = list(listing)
    except OSError:
        return
    depth = len(ignores)
    for entry in entries:
        if entry.name == ".gitignore":
            if walked is not None:
                walked.append(prefix + ".gitignore")
            try:
                if entry.is_file():
                    with open(entry.path, encoding="utf-8", errors="replace") as handle:
                        lines = handle.read().splitlines()
                    ignores.append((prefix, pathspec.GitIgnoreSpec.from_lines(lines)))
            except OSError:
                pass
            break
    for entry in entries:
        name = entry.name
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
        except OSError:
            continue
        if is_dir:
            if name in _ALWAYS_SKIPPED:
                continue
            relative = prefix + name
            if (excluded is not None or ignores) and _ignored(relative + "/", excluded, ignores):
                continue
            _walk(entry.path, relative + "/", excluded, ignores, found, walked)
        elif is_dockerfile_name(name):
            relative = prefix + name
            if (excluded is None and not ignores) or not _ignored(relative, excluded, ignores):
                found.append(relative)
    del ignores[depth:]


def _ignored(
    probe: str,
    excluded: pathspec.GitIgnoreSpec | None,
    ignores: list[tuple[str, pathspec.GitIgnoreSpec]],
) -> bool:
    if excluded is not None and excluded.match_file(probe):
        return True
    return any(
        probe.startswith(prefix) and spec.match_file(probe[len(prefix) :])
        for prefix, spec in ignores
    )


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
