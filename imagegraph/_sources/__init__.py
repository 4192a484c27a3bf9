"""Declaration readers behind :func:`imagegraph.load_inventory`, one module per format."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from imagegraph._files import (
    Boundary,
    RefusedFile,
    confined,
    current_root,
    exists,
    inspect,
    named_in,
    named_outside,
    outside_message,
)
from imagegraph._sources.common import SourceResult, declared_at, relative
from imagegraph._sources.config import Config, config_images, read_config
from imagegraph._sources.tree import convention_builds, find_dockerfiles
from imagegraph.diagnostics import Diagnostic, Severity
from imagegraph.inventory import ConfigError, ImageBuild, Inventory

__all__ = ["BAKE_FILES", "COMPOSE_FILES", "discover"]

# What docker buildx bake and docker compose look for by default, in their order.
BAKE_FILES = ("docker-bake.json", "docker-bake.hcl")
COMPOSE_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")


def discover(root: Path, config_path: Path | None, boundary: Path | None = None) -> Inventory:
    if not root.is_dir():
        raise ConfigError("not a directory", path=str(root))
    root = root.resolve()
    limit = Boundary(boundary if boundary is not None else root)
    if not limit.contains(root):
        raise ConfigError(
            f"the directory to scan is not inside the root {limit.root!r} files may be read "
            "from (--root)",
            path=str(root),
        )
    with confined(limit.root):
        return _discover(root, config_path, limit)


def _discover(root: Path, config_path: Path | None, limit: Boundary) -> Inventory:
    config = _find_config(root, config_path)
    probed: list[str] = []
    results: list[SourceResult] = []
    aliases: dict[str, str] = {}
    exclude: list[str] = []
    sboms: dict[str, str] = {}
    sbom_dir: str | None = None
    lint: dict[str, object] = {}
    if config is None and config_path is None and exists(root / "pyproject.toml"):
        # Read, and found without [tool.imagegraph]: adding one changes the fleet.
        probed.append("pyproject.toml")
    if config is not None:
        aliases, exclude, sboms = config.aliases, config.exclude, config.sboms
        sbom_dir, lint = config.sbom_dir, config.lint
        results.append(config_images(config, root))
        results.extend(_declared_sources(config, root, limit))
    else:
        for name in BAKE_FILES:
            if exists(root / name):
                results.append(_bake(root / name, root, {}, aliases))
                break
        for name in COMPOSE_FILES:
            if exists(root / name):
                results.append(_compose(root / name, root, {}, aliases))
                break
    walked: list[str] = []
    diagnostics: list[Diagnostic] = []
    dockerfiles = find_dockerfiles(root, exclude, walked=walked, diagnostics=diagnostics)
    if not results:
        results.append(convention_builds(root, dockerfiles))
    builds: list[ImageBuild] = []
    files: list[str] = []
    covered: set[str] = set()
    for result in results:
        builds.extend(result.builds)
        diagnostics.extend(result.diagnostics)
        files.extend(result.files)
        covered |= result.covered
        probed.extend(result.watched)
    _check_unique(builds)
    built = {b.dockerfile for b in builds} | covered
    diagnostics.extend(
        Diagnostic(
            "undeclared-dockerfile",
            Severity.WARNING,
            "no declaration builds this Dockerfile, so no plan will rebuild it",
            path,
        )
        for path in dockerfiles
        if path not in built
    )
    diagnostics.extend(_outside(builds, root, limit))
    if config is not None:
        diagnostics.extend(_outside_sboms(config, root, limit, sboms, sbom_dir))
    return Inventory(
        root=str(root),
        builds=tuple(builds),
        aliases=aliases,
        sboms=sboms,
        sbom_dir=sbom_dir,
        sources=tuple(dict.fromkeys(files)),
        diagnostics=tuple(diagnostics),
        walked=tuple(dict.fromkeys([*walked, *probed])),
        lint=lint,
        boundary=limit.root,
    )


def _outside(builds: list[ImageBuild], root: Path, limit: Boundary) -> list[Diagnostic]:
    """An ``outside-root`` error for each build whose context resolves outside
    the boundary; its Dockerfile is refused, and reported, when it is read. An
    imported build's layout index, never read, is checked here instead."""
    notes = []
    base = os.fspath(root)
    for build in builds:
        context = build.context
        if "://" in context or context.startswith("target:"):
            continue
        if limit.contains(os.path.join(base, context)):
            if build.imported:  # an outside context is said once, below
                notes.extend(_refused_layout(build, base, limit))
            continue
        path, line = declared_at(build)
        notes.append(
            Diagnostic(
                "outside-root",
                Severity.ERROR,
                f"build {build.name!r} has its context {context!r} {outside_message(limit.root)}"
                "; a build tool would send all of it",
                path,
                line,
            )
        )
    return notes


def _refused_layout(build: ImageBuild, base: str, limit: Boundary) -> list[Diagnostic]:
    """What a read of an imported build's OCI layout index would refuse, as an
    error at its declaration: imagegraph never reads the layout, but the plans
    hand it to an importer (skopeo), which would follow a link out of the
    repository or block on a FIFO. Only the index is checked, not the opened
    file's contents; a missing one its source reports already."""
    path = os.path.join(base, build.dockerfile)
    if not limit.contains(path):
        code, reason = "outside-root", outside_message(limit.root)
    else:
        try:
            # No size limit: the layout is not read here. A FIFO is refused unopened.
            inspect(path, root=limit.root, limit=sys.maxsize)
            return []
        except RefusedFile as err:
            code, reason = err.code, str(err.strerror)
        except OSError as err:
            if not os.path.lexists(path):
                return []
            code, reason = "missing-dockerfile", f"a link to nothing ({err.strerror})"
    where, line = declared_at(build)
    return [
        Diagnostic(
            code,
            Severity.ERROR,
            f"build {build.name!r} imports the OCI image layout whose index is "
            f"{build.dockerfile!r}, which is {reason}; the import stays in the graph and "
            "its plans: check the layout before an importer runs on it",
            where,
            line,
        )
    ]


def _outside_sboms(
    config: Config, root: Path, limit: Boundary, sboms: dict[str, str], sbom_dir: str | None
) -> list[Diagnostic]:
    """An ``outside-root`` error for each SBOM (or SBOM directory) the config
    names outside the boundary: it is not read, and the image's packages come
    from its Dockerfile instead."""
    named = [(f"the SBOM of {image!r}", path) for image, path in sboms.items()]
    if sbom_dir is not None:
        named.append(("sbom_dir", sbom_dir))
    return [
        Diagnostic(
            "outside-root",
            Severity.ERROR,
            f"{what} is {path!r}, {outside_message(limit.root)}",
            config.display,
        )
        for what, path in named
        if not limit.contains(os.path.join(os.fspath(root), path))
    ]


def _find_config(root: Path, config_path: Path | None) -> Config | None:
    if config_path is not None:
        if not os.path.lexists(config_path):
            raise ConfigError("config file not found", path=str(config_path))
        limit = current_root()
        if named_outside(config_path, limit):
            # Named inside the repository: a link there must not send it elsewhere.
            assert limit is not None
            raise ConfigError(f"cannot read: {outside_message(limit)}", path=str(config_path))
        if named_in(config_path, limit):
            return read_config(config_path.resolve(), root)  # held to the root as read
        with confined(None):  # named by the user: it may be anywhere, what it names may not
            return read_config(config_path.resolve(), root)
    if exists(root / "imagegraph.toml"):
        return read_config(root / "imagegraph.toml", root)
    if exists(root / "pyproject.toml"):
        return read_config(root / "pyproject.toml", root, pyproject=True)
    return None


def _declared_sources(config: Config, root: Path, limit: Boundary) -> list[SourceResult]:
    base = config.path.parent
    results = []
    for kind, entries in (("bake", config.bake), ("compose", config.compose)):
        for entry, line in entries:
            _entry_file(entry, line, kind, config, root, limit)
            options = {k: v for k, v in entry.items() if k != "file"}
            reader = _bake if kind == "bake" else _compose
            results.append(
                reader(base / entry["file"], root, options, config.aliases, line, config)
            )
    for entry, line in config.manifests:
        results.append(_manifest(entry, line, config, root, limit))
    return results


def _entry_file(
    entry: dict[str, Any],
    line: int | None,
    kind: str,
    config: Config,
    root: Path,
    limit: Boundary,
) -> str:
    file = entry.get("file")
    if not isinstance(file, str):
        raise ConfigError(f"[[{kind}]] needs a 'file' (a path)", path=config.display, line=line)
    _check_inside(config.path.parent / file, f"[[{kind}]] file {file!r}", config, line, limit)
    if not exists(config.path.parent / file):
        raise ConfigError(f"[[{kind}]] file {file!r} not found", path=config.display, line=line)
    return relative(root, config.path.parent, file)


def _check_inside(path: Path, what: str, config: Config, line: int | None, limit: Boundary) -> None:
    """A declaration file the config names must be inside the boundary: its
    builds are unknown unless it is read, so this is an error, not a diagnostic."""
    if not limit.contains(path):
        raise ConfigError(
            f"{what} is {outside_message(limit.root)}", path=config.display, line=line
        )


def _options_error(
    kind: str, key: str, known: str, config: Config | None, line: int | None
) -> ConfigError:
    return ConfigError(
        f"[[{kind}]] has unknown key {key!r} (known: {known})",
        path=config.display if config else None,
        line=line,
    )


def _bake(
    path: Path,
    root: Path,
    options: dict[str, Any],
    aliases: dict[str, str],
    line: int | None = None,
    config: Config | None = None,
) -> SourceResult:
    from imagegraph._sources.bake import read_bake

    for key in options:
        if key not in ("targets", "variables"):
            raise _options_error("bake", key, "file, targets, variables", config, line)
    return read_bake(
        path,
        root,
        aliases=aliases,
        targets=options.get("targets"),
        variables=options.get("variables"),
    )


def _compose(
    path: Path,
    root: Path,
    options: dict[str, Any],
    aliases: dict[str, str],
    line: int | None = None,
    config: Config | None = None,
) -> SourceResult:
    from imagegraph._sources.compose import read_compose

    for key in options:
        if key != "services":
            raise _options_error("compose", key, "file, services", config, line)
    return read_compose(path, root, aliases=aliases, services=options.get("services"))


def _manifest(
    entry: dict[str, Any], line: int | None, config: Config, root: Path, limit: Boundary
) -> SourceResult:
    from imagegraph._sources.library import read_library

    known = {"format", "path", "repository", "checkout"}
    for key in entry:
        if key not in known:
            raise _options_error("manifests", key, ", ".join(sorted(known)), config, line)
    if entry.get("format", "library") != "library":
        raise ConfigError(
            f"[[manifests]] format {entry.get('format')!r} is not known (known: library)",
            path=config.display,
            line=line,
        )
    path = entry.get("path")
    if isinstance(path, str):
        _check_inside(
            config.path.parent / path, f"[[manifests]] path {path!r}", config, line, limit
        )
    if not isinstance(path, str) or not exists(config.path.parent / path):
        raise ConfigError(
            f"[[manifests]] needs a 'path' to a manifest file (got {path!r})",
            path=config.display,
            line=line,
        )
    checkout = entry.get("checkout", ".")
    repository = entry.get("repository")
    if not isinstance(checkout, str) or not isinstance(repository, str | None):
        raise ConfigError(
            "[[manifests]] 'checkout' and 'repository' must be strings",
            path=config.display,
            line=line,
        )
    return read_library(
        config.path.parent / path,
        root,
        aliases=config.aliases,
        repository=repository,
        checkout=config.path.parent / checkout,
    )


def _check_unique(builds: list[ImageBuild]) -> None:
    seen: dict[str, ImageBuild] = {}
    for build in builds:
        if build.name in seen:
            first = seen[build.name]
            raise ConfigError(
                f"two builds are called {build.name!r}: declared at {first.origin} and at "
                f"{build.origin}; give one of them another name",
                path=build.origin.partition(":")[0] or None,
            )
        seen[build.name] = build
