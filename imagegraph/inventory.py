"""Which Dockerfile builds which image: a repository turned into a list of image builds.

A Dockerfile does not say what it is tagged as; users declare that in the
files they already keep. :func:`load_inventory` reads them, in this order:

1. ``imagegraph.toml`` at the root (or ``[tool.imagegraph]`` in
   ``pyproject.toml``, or the file given as *config*): ``[[image]]``
   entries, plus the bake files, compose files and docker-library manifests
   it lists under ``[[bake]]``, ``[[compose]]`` and ``[[manifests]]``;
2. with no such file, a ``docker-bake.hcl``/``docker-bake.json`` and a
   compose file at the root, if there are any;
3. with none of those, convention: every ``Dockerfile``, ``Containerfile``,
   ``*.Dockerfile`` and ``Dockerfile.*`` in the tree is one image named
   after its directory, and an ``inferred-name`` diagnostic says so.

Dockerfiles found in the tree that no declaration builds are reported as
``undeclared-dockerfile``, so a declared fleet cannot silently miss one.
The tree walk skips ``.git``, ``node_modules``, what ``.gitignore`` files
ignore and the config's ``exclude`` globs; it does not follow links to
directories, and a directory it cannot list is an ``unreadable-directory``
error. Only regular files inside the root are read, at most 16 MiB each
(256 MiB for a declaration file; see *boundary* of :func:`load_inventory`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from imagegraph._pickling import positional_reduce
from imagegraph.diagnostics import Diagnostic
from imagegraph.errors import ImageGraphError
from imagegraph.reference import ImageRef

__all__ = ["ConfigError", "ImageBuild", "Inventory", "load_inventory"]


class ConfigError(ImageGraphError):
    """A declaration file (``imagegraph.toml``, a bake or compose file, a manifest) is wrong.

    ``path`` names the file and ``line`` the place in it when it is known.

    >>> str(ConfigError("'tags' must be a list of strings", path="imagegraph.toml", line=7))
    "imagegraph.toml:7: 'tags' must be a list of strings"
    """

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        self.message = message
        self.path = path
        self.line = line
        where = path or ""
        if path and line is not None:
            where += f":{line}"
        super().__init__(f"{where}: {message}" if where else message)

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_config_error, (self.message, self.path, self.line))


def _rebuild_config_error(message: str, path: str | None, line: int | None) -> ConfigError:
    return ConfigError(message, path=path, line=line)


@dataclass(frozen=True, slots=True)
class ImageBuild:
    """One build of one Dockerfile: what ``docker buildx build`` would be asked to do.

    Paths are relative to the repository root, with ``/`` separators.
    ``name`` is unique in an inventory and is what plans, Makefiles and CI
    matrices call the build; ``variant`` holds the matrix values that made
    it, if any; ``origin`` says where it was declared.

    >>> build = ImageBuild(
    ...     name="python-3.12",
    ...     dockerfile="runtimes/python/Dockerfile",
    ...     context="runtimes/python",
    ...     tags=(ImageRef.parse("acme/python:3.12"),),
    ...     args={"PYTHON_VERSION": "3.12"},
    ... )
    >>> build.tags[0].familiar
    'acme/python:3.12'
    """

    __reduce__ = positional_reduce

    name: str
    dockerfile: str
    context: str
    tags: tuple[ImageRef, ...] = ()
    args: Mapping[str, str] = field(default_factory=dict, hash=False)
    target: str | None = None
    platforms: tuple[str, ...] = ()
    contexts: Mapping[str, str] = field(default_factory=dict, hash=False)
    """Named build contexts (``--build-context``): ``name -> value``, where a
    value ``target:<build>`` is another build of this inventory and
    ``docker-image://<ref>`` an image."""
    variant: Mapping[str, str] = field(default_factory=dict, hash=False)
    origin: str = ""
    dockerfile_inline: str | None = None
    """The Dockerfile's text when it is written inline (compose
    ``dockerfile_inline``, bake ``dockerfile-inline``) rather than in a file."""
    inferred: bool = False
    """True when nothing declared this build and its name was made up from its path."""
    imported: bool = False
    """True for an image imported from an OCI image layout rather than built
    (bashbrew's ``Builder: oci-import``): :attr:`context` is the layout's
    directory and :attr:`dockerfile` the index (or manifest) file in it, which
    is not a Dockerfile and is never parsed. It has no parents; plans list it
    as an import of that layout under its tags, never as a build command."""
    constraints: tuple[str, ...] = ()
    """What the build needs of the host that builds it, beyond its platform
    (bashbrew's ``Constraints``, such as ``windowsservercore-ltsc2022``). Two
    builds of one tag for the same platform with different constraints are
    distinct images of one multi-platform index (a Windows image per host
    version), not the same image built twice."""


@dataclass(frozen=True, slots=True)
class Inventory:
    """Every image build of a repository, with what was read to find them."""

    __reduce__ = positional_reduce

    root: str
    builds: tuple[ImageBuild, ...]
    aliases: Mapping[str, str] = field(default_factory=dict, hash=False)
    """Registry aliases from the config, for :meth:`ImageRef.parse`."""
    sboms: Mapping[str, str] = field(default_factory=dict, hash=False)
    """Image (a build name or an image reference) -> SBOM file relative to the
    root, from ``[sboms]`` in the config: real package inventories that win
    over what the Dockerfiles say."""
    sbom_dir: str | None = None
    """A directory of SBOMs named after their image (``sbom_dir`` in the
    config): ``<build name>`` or the image's familiar reference with ``/``
    and ``:`` as ``_``, then ``.cdx.json``, ``.spdx.json`` or ``.json``."""
    sources: tuple[str, ...] = ()
    """The declaration files read, relative to the root."""
    diagnostics: tuple[Diagnostic, ...] = ()
    walked: tuple[str, ...] = field(default=(), repr=False)
    """The directories the tree walk listed (``dir/``, the root as ``./``), the
    ``.gitignore`` files it read, and files whose appearance or change would
    change the inventory (a compose ``.env`` not there yet, a ``pyproject.toml``
    without ``[tool.imagegraph]``): what a cached scan checks for changes."""
    lint: Mapping[str, object] = field(default_factory=dict, hash=False)
    """The ``[lint]`` table of the config, checked, in plain values (a cache holds
    only builtins and imagegraph's value types): ``require_digest`` (a bool or a
    tuple of repository patterns), ``max_depth``, ``ignore`` (a tuple of finding
    codes), and ``source`` (where it is written); empty without one. Read it as a
    policy with :meth:`imagegraph.findings.LintPolicy.from_inventory`."""
    boundary: str | None = None
    """The directory (a real path) files may be read from, once links are
    followed: the *root* given to :func:`load_inventory`, by default
    :attr:`root` itself (``None`` means that too). Dockerfiles, contexts,
    ``.dockerignore`` files and SBOMs outside it are refused, not read."""

    @property
    def readable_root(self) -> str:
        """:attr:`boundary`, or :attr:`root` where none was set."""
        return self.boundary if self.boundary is not None else self.root

    def build(self, name: str) -> ImageBuild:
        """The build called *name*; ``KeyError`` if there is none."""
        for build in self.builds:
            if build.name == name:
                return build
        raise KeyError(name)


def load_inventory(
    root: str | os.PathLike[str],
    *,
    config: str | os.PathLike[str] | None = None,
    boundary: str | os.PathLike[str] | None = None,
) -> Inventory:
    """Read the image builds of the repository at *root*.

    *config* is an ``imagegraph.toml`` to use instead of the one at the
    root; being named, it may be anywhere. *boundary* is the directory
    files may be read from (default: *root*), which must hold *root*: a
    Dockerfile, context or SBOM that resolves outside it (after symbolic
    links) is not read, and an ``outside-root`` diagnostic names the build's
    declaration; a declaration file outside it is a :class:`ConfigError`.
    Only regular files are read, each of at most 16 MiB
    (:data:`imagegraph._files.MAX_FILE_BYTES`), a declaration file of at most
    256 MiB (:data:`imagegraph._files.MAX_DECLARATION_BYTES`).

    Raises :class:`ConfigError` for a declaration file that cannot be
    read, with the file and, where known, the line.
    """
    from imagegraph._sources import discover

    return discover(
        Path(root),
        Path(config) if config is not None else None,
        Path(boundary) if boundary is not None else None,
    )
