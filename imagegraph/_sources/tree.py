"""Finding Dockerfiles in a tree, as git would list it, and naming them by convention."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import pathspec

from imagegraph._files import read_text
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
    root: Path,
    exclude: Sequence[str] = (),
    *,
    walked: list[str] | None = None,
    diagnostics: list[Diagnostic] | None = None,
) -> list[str]:
    """Relative paths of the Dockerfiles under *root*, sorted.

    Skips version-control directories and ``node_modules``, whatever a
    ``.gitignore`` (at the root or deeper) ignores, and paths matching the
    *exclude* globs (gitignore syntax, anchored at the root). *walked*, if
    given, receives every directory listed (``dir/``, the root as ``./``)
    and every ``.gitignore`` read: what can change the answer.

    Symbolic links to directories are not followed, as git does not: a link
    loop ends, and a link out of the root leads nowhere. The walk keeps its
    own stack, so no depth of nesting exhausts Python's. A directory that
    cannot be listed is an ``unreadable-directory`` error in *diagnostics*
    (its Dockerfiles would otherwise vanish from the graph unseen), and a
    ``.gitignore`` that cannot be read, or is refused (a FIFO, a link out of
    the root: see :mod:`imagegraph._files`), a warning: its rules are not
    applied.
    """
    excluded = pathspec.GitIgnoreSpec.from_lines(exclude) if exclude else None
    found: list[str] = []
    notes: list[Diagnostic] = diagnostics if diagnostics is not None else []
    ignores: list[tuple[str, pathspec.GitIgnoreSpec]] = []
    # One frame per directory being listed: its entries still to look at, its
    # prefix and how many .gitignore specs were in force above it.
    stack: list[tuple[Iterator[os.DirEntry[str]], str, int]] = []
    entries = _list(os.fspath(root), "", ignores, walked, notes)
    if entries is not None:
        stack.append((iter(entries), "", 0))
    while stack:
        pending, prefix, depth = stack[-1]
        entry = next(pending, None)
        if entry is None:
            stack.pop()
            del ignores[depth:]
            continue
        name = entry.name
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
        except OSError as err:
            notes.append(_unreadable(prefix + name + "/", err))
            continue
        if is_dir:
            if name in _ALWAYS_SKIPPED:
                continue
            relative = prefix + name
            if (excluded is not None or ignores) and _ignored(relative + "/", excluded, ignores):
                continue
            depth_here = len(ignores)
            inner = _list(entry.path, relative + "/", ignores, walked, notes)
            if inner is not None:
                stack.append((iter(inner), relative + "/", depth_here))
        elif is_dockerfile_name(name):
            relative = prefix + name
            if (excluded is None and not ignores) or not _ignored(relative, excluded, ignores):
                found.append(relative)
    found.sort()
    return found


def _list(
    directory: str,
    prefix: str,
    ignores: list[tuple[str, pathspec.GitIgnoreSpec]],
    walked: list[str] | None,
    notes: list[Diagnostic],
) -> list[os.DirEntry[str]] | None:
    """The entries of *directory*, after reading its ``.gitignore`` into *ignores*."""
    # ignores: (directory prefix, spec) for every .gitignore above this directory.
    # Only Dockerfile names are matched against the ignore rules: on a large
    # tree the rules are the walk's cost, and other files are never reported.
    if walked is not None:
        walked.append(prefix or "./")  # even unreadable: a chmod shows in its own times
    try:
        with os.scandir(directory) as listing:
            entries = list(listing)
    except OSError as err:
        notes.append(_unreadable(prefix or ".", err))
        return None
    for entry in entries:
        if entry.name == ".gitignore":
            if walked is not None:
                walked.append(prefix + ".gitignore")
            try:
                text = read_text(entry.path, errors="replace")
            except OSError as err:
                notes.append(
                    Diagnostic(
                        getattr(err, "code", "unreadable-gitignore"),
                        Severity.WARNING,
                        f"this .gitignore cannot be read ({err.strerror or err}); its rules "
                        "are not applied, so the Dockerfiles it would hide are in the graph",
                        prefix + ".gitignore",
                    )
                )
            else:
                ignores.append((prefix, pathspec.GitIgnoreSpec.from_lines(text.splitlines())))
            break
    return entries


def _unreadable(directory: str, err: OSError) -> Diagnostic:
    return Diagnostic(
        "unreadable-directory",
        Severity.ERROR,
        f"cannot list this directory ({err.strerror or err}); any Dockerfile in it is "
        "missing from the graph and from every plan",
        directory,
    )


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
