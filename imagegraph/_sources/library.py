"""docker-library manifests (``library/<name>`` files of official-images): one build per entry.

The format is bashbrew's (``github.com/docker-library/bashbrew``,
``manifest/rfc2822.go``): RFC 2822-like ``Field: value`` lines; a line
starting with whitespace continues the field before it; a line whose first
non-blank character is ``#`` is dropped wherever it is; blank lines separate
blocks. The first block is the global header: its fields (``GitRepo``,
``Directory``, ``File``, ``Architectures``, ``SharedTags``, ``Builder``,
``arm64v8-Directory``, ...) are the defaults of every entry after it, and it
may not have ``Tags``. List fields (``Tags``, ``SharedTags``,
``Architectures``, ``Constraints``) are comma-separated; an entry's
``Architectures`` or ``SharedTags`` replace the header's rather than add to
them. Entries with the same build artifacts are merged, as bashbrew does.

Each entry is built, per architecture, from ``<checkout>/<Directory>/<File>``
(``File`` defaults to ``Dockerfile``, and to ``index.json`` for ``Builder:
oci-import``) with its directory as the context, where ``<arch>-GitRepo``,
``-GitFetch``, ``-GitCommit``, ``-Directory``, ``-File`` and ``-Builder``
override the entry's values for one architecture. The entry becomes one
:class:`~imagegraph.inventory.ImageBuild` per distinct source among its
``Architectures``: each is tagged ``<repository>:<tag>`` for every ``Tags``
and ``SharedTags`` value and built for its own architectures only, so that
together they are one multi-platform image (as are the entries that share a
``SharedTags`` value). The build of the entry's own source (else amd64's,
else the first architecture's) is named ``<repository>:<first tag>``, the
others ``<repository>:<first tag>-<arch>``. ``Constraints`` are kept
(:attr:`~imagegraph.inventory.ImageBuild.constraints`): two Windows builds of
one platform for different hosts are distinct images of one index.

``Builder: oci-import`` imports an OCI image layout instead of building a
Dockerfile: the build is :attr:`~imagegraph.inventory.ImageBuild.imported`,
its ``dockerfile`` the layout's index file, which is never parsed.

A file the manifest names that is not in the checkout is one
``missing-dockerfile`` error at the entry's line. ``GitRepo``, ``GitFetch``
and ``GitCommit`` are not checked against the checkout: imagegraph reads
the working tree as it is, and bashbrew would build the commit the manifest
names. Where that may differ it says so: ``library-arch-source`` (some
architectures name another repository, branch or commit than the entry)
and ``library-git-fetch`` (entries name a branch other than
``master``/``main``: one warning per branch). A checkout whose path holds
``{commit}`` (``checkout = "src/python/{commit}"``) is one directory per
commit: each entry, and each architecture, is read from the directory of its
own ``GitCommit``, so that two entries building one directory at two
commits (kong: an older release on jammy, the newest on noble) each get theirs, as bashbrew
builds them; no warning then, and a ``GitCommit`` that is not a commit id
is refused (it would become a path).

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as tmp:
...     root = Path(tmp)
...     _ = (root / "python").write_text(
...         "Maintainers: A (@a)\\nGitRepo: https://example.com/python.git\\n\\n"
...         "Tags: 3.12-slim, 3.12\\nArchitectures: amd64, arm64v8\\nDirectory: 3.12/slim\\n")
...     result = read_library(root / "python", root, aliases={}, repository=None, checkout=root)
>>> build = result.builds[0]
>>> build.name, build.dockerfile, build.context, build.platforms
('python:3.12-slim', '3.12/slim/Dockerfile', '3.12/slim', ('linux/amd64', 'linux/arm64/v8'))
>>> [tag.familiar for tag in build.tags]
['python:3.12-slim', 'python:3.12']
>>> [d.code for d in result.diagnostics]
['missing-dockerfile']
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from imagegraph._files import MAX_DECLARATION_BYTES, exists, read_text
from imagegraph._sources.common import SourceResult, parse_tags, relative
from imagegraph.diagnostics import Diagnostic, Severity
from imagegraph.inventory import ConfigError, ImageBuild

__all__ = ["PLATFORMS", "read_library"]

PLATFORMS: Mapping[str, str] = {
    "amd64": "linux/amd64",
    "arm32v5": "linux/arm/v5",
    "arm32v6": "linux/arm/v6",
    "arm32v7": "linux/arm/v7",
    "arm64v8": "linux/arm64/v8",
    "i386": "linux/386",
    "loong64": "linux/loong64",
    "mips64le": "linux/mips64le",
    "ppc64le": "linux/ppc64le",
    "riscv64": "linux/riscv64",
    "s390x": "linux/s390x",
    "windows-amd64": "windows/amd64",
}
"""bashbrew's architecture names and the docker platforms they stand for
(``architecture/oci-platform.go``)."""

_DEFAULT_ARCHITECTURE = "amd64"
_DEFAULT_FILE = "Dockerfile"
_STRING_FIELDS = ("GitRepo", "GitFetch", "GitCommit", "Directory", "File", "Builder")
# The fields an architecture may override with "<arch>-<field>".
_ARCH_FIELDS = _STRING_FIELDS
# bashbrew's ValidTagRegex, the tag grammar of the distribution reference.
_TAG = re.compile(r"\w[\w.-]{0,127}", re.ASCII)


@dataclass
class _Field:
    value: str
    line: int


@dataclass
class _Block:
    line: int
    fields: dict[str, _Field] = field(default_factory=dict)


@dataclass
class _Entry:
    """One entry with the header's defaults applied, as bashbrew builds it."""

    line: int
    tags: list[str]
    tags_line: int
    shared_tags: list[str]
    architectures: list[str]
    constraints: list[str]
    values: dict[str, _Field]
    """The string fields, the entry's over the header's."""
    arch_values: dict[str, str]
    """``<arch>-<field>`` overrides with a value, the entry's over the header's."""

    def get(self, name: str, default: str = "") -> str:
        found = self.values.get(name)
        return found.value if found is not None else default

    def artifacts(self) -> tuple[object, ...]:
        """What bashbrew compares to merge two entries into one build."""
        return (
            tuple(self.architectures),
            *(self.get(name) for name in ("GitRepo", "GitFetch", "GitCommit", "Builder")),
            self.directory,
            self.file,
            tuple(self.constraints),
            tuple(sorted(self.arch_values.items())),
        )

    @property
    def directory(self) -> str:
        return _clean(self.get("Directory", "."))

    @property
    def file(self) -> str:
        return self.get("File", _DEFAULT_FILE) or _DEFAULT_FILE


def read_library(
    path: Path,
    root: Path,
    *,
    aliases: Mapping[str, str],
    repository: str | None,
    checkout: Path,
) -> SourceResult:
    """The builds of the manifest at *path*, whose Dockerfiles are under *checkout*.

    Tags are ``<repository>:<tag>``, *repository* defaulting to the
    manifest's file name. Raises :class:`ConfigError` for a file that cannot
    be read, a line that is neither a field nor a continuation, an entry
    without ``Tags`` and values bashbrew refuses (unknown architecture,
    invalid or repeated tag).
    """
    display = relative(root, path.parent, path.name) if path.is_relative_to(root) else str(path)
    try:
        text = read_text(path, encoding="utf-8-sig", limit=MAX_DECLARATION_BYTES)
    except OSError as err:
        raise ConfigError(f"cannot read: {err.strerror}", path=display) from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"not UTF-8 text: {err.reason}", path=display) from None
    repository = repository if repository is not None else path.name
    result = SourceResult(files=[display])
    blocks = _blocks(text, display)
    if not blocks:
        return result
    header, *rest = blocks
    if "Tags" in header.fields:
        raise ConfigError(
            "the first block is the global header and cannot have Tags (is the header with "
            "Maintainers missing?)",
            path=display,
            line=header.fields["Tags"].line,
        )
    entries: list[_Entry] = []
    by_artifacts: dict[tuple[object, ...], _Entry] = {}
    claimed = _Claims()
    for block in rest:
        entry = _entry(block, header, display)
        _check_tags(entry, claimed, display)
        artifacts = entry.artifacts()
        merged = by_artifacts.get(artifacts)
        if merged is not None:
            merged.tags.extend(entry.tags)
            known = set(merged.shared_tags)
            merged.shared_tags.extend(t for t in entry.shared_tags if t not in known)
        else:
            entries.append(entry)
            by_artifacts[artifacts] = entry
        claimed.add(entry)
    # Names of the builds of other architectures may not be any tag of the manifest.
    names = {f"{repository}:{tag}" for entry in entries for tag in entry.tags}
    names.update(f"{repository}:{tag}" for entry in entries for tag in entry.shared_tags)
    per_commit = COMMIT_FIELD in str(checkout)
    for entry in entries:
        result.builds.extend(
            _builds(
                entry, result, repository, aliases, names,
                display=display, root=root, checkout=checkout, per_commit=per_commit,
            )
        )  # fmt: skip
    if not per_commit:
        _note_branches(entries, result, repository, display)
    return result


COMMIT_FIELD = "{commit}"
"""Written in a manifest's checkout (``checkout = "src/python/{commit}"``), it
stands for each entry's (or architecture's) ``GitCommit``: every entry is read
from a checkout of the commit bashbrew builds it from, not from one work tree."""

_COMMIT = re.compile(r"[0-9a-f]{7,64}")


def _checkout_of(checkout: Path, source: _Source, display: str, line: int) -> Path:
    """*checkout* with :data:`COMMIT_FIELD` replaced by *source*'s commit, which
    must be a commit id (nothing else may become a path: ``../..``)."""
    text = str(checkout)
    if COMMIT_FIELD not in text:
        return checkout
    if not _COMMIT.fullmatch(source.commit):
        raise ConfigError(
            f"GitCommit {_cut(source.commit)} is not a commit id (7 to 64 lowercase hex "
            f"digits), and the checkout {_cut(text)} is named after it",
            path=display,
            line=line,
        )
    return Path(text.replace(COMMIT_FIELD, source.commit))


def _blocks(text: str, display: str) -> list[_Block]:
    blocks: list[_Block] = []
    current: _Block | None = None
    last: _Field | None = None
    # The continuation lines of *last*, joined once it ends (adding each to the
    # value as it came copied the value every time: quadratic in a long field).
    continued: list[str] = []

    def finish() -> None:
        if last is not None and continued:
            last.value = "\n".join([last.value, *continued])
            continued.clear()

    for number, raw in enumerate(text.split("\n"), 1):
        line = raw.rstrip("\r")
        if line.lstrip().startswith("#"):
            continue  # bashbrew drops comment lines before reading blocks
        if not line.strip():
            # bashbrew reads a line of only spaces as a continuation; taking it as
            # the blank line it looks like is what its author meant.
            finish()
            current = last = None
            continue
        if line[0] in " \t":
            if last is None:
                raise ConfigError(
                    f"continuation line {_cut(line.strip())} follows no field",
                    path=display,
                    line=number,
                )
            continued.append(line.strip())
            continue
        finish()
        name, colon, value = line.partition(":")
        name = name.strip()
        if not colon or not name:
            raise ConfigError(
                f"line {_cut(line)} is not a 'Field: value' line", path=display, line=number
            )
        if current is None:
            current = _Block(number)
            blocks.append(current)
        if name in current.fields:
            raise ConfigError(
                f"{_cut(name)[1:-1]} is given twice in one block (first on line "
                f"{current.fields[name].line}); is a blank line missing between two entries?",
                path=display,
                line=number,
            )
        last = current.fields[name] = _Field(value.strip(), number)
    finish()
    return blocks


def _cut(text: str) -> str:
    """*text* quoted for a message, cut to 60 characters."""
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _entry(block: _Block, header: _Block, display: str) -> _Entry:
    fields = block.fields

    def inherited(name: str) -> _Field | None:
        return fields.get(name) or header.fields.get(name)

    tags = _list(fields.get("Tags"), "Tags", display)
    if not tags:
        found = fields.get("Tags")
        raise ConfigError(
            "entry has no Tags", path=display, line=found.line if found else block.line
        )
    shared = inherited("SharedTags")
    shared_tags = list(dict.fromkeys(_list(shared, "SharedTags", display)))
    for name, listed, source in (
        ("Tags", tags, fields["Tags"]),
        ("SharedTags", shared_tags, shared),
    ):
        for tag in listed:
            if not _TAG.fullmatch(tag):
                raise ConfigError(
                    f"{name} value {_cut(tag)} is not a valid tag",
                    path=display,
                    line=source.line if source else None,
                )
    found_arches = inherited("Architectures")
    architectures = list(dict.fromkeys(_list(found_arches, "Architectures", display)))
    for arch in architectures:
        if arch not in PLATFORMS:
            raise ConfigError(
                f"unknown architecture {_cut(arch)} (known: {', '.join(PLATFORMS)})",
                path=display,
                line=found_arches.line if found_arches else None,
            )
    values = {name: found for name in _STRING_FIELDS if (found := inherited(name)) is not None}
    for name, found in values.items():
        if "\n" in found.value:
            raise ConfigError(f"{name} must be one line", path=display, line=found.line)
    arch_values: dict[str, str] = {}
    for source_fields in (header.fields, fields):
        for name, found in source_fields.items():
            prefix, dash, suffix = name.rpartition("-")
            if dash and prefix and suffix in _ARCH_FIELDS:
                if "\n" in found.value:  # a path or a commit, as the entry's own
                    raise ConfigError(f"{name} must be one line", path=display, line=found.line)
                arch_values[name] = found.value
    constraints = _list(inherited("Constraints"), "Constraints", display)
    return _Entry(
        line=block.line,
        tags=tags,
        tags_line=fields["Tags"].line,
        shared_tags=shared_tags,
        architectures=architectures or [_DEFAULT_ARCHITECTURE],
        constraints=constraints,
        values=values,
        arch_values={name: value for name, value in arch_values.items() if value},
    )


def _list(found: _Field | None, name: str, display: str) -> list[str]:
    """A comma-separated field's values; an empty field has none."""
    if found is None or not found.value.strip():
        return []
    items = [item.strip(" \t\r\n") for item in found.value.split(",")]
    if "" in items:
        raise ConfigError(
            f"{name} has an empty value (a stray comma?)", path=display, line=found.line
        )
    return items


class _Claims:
    """The tags and shared tags of the entries read so far, and the line of the entry
    that first claimed each: a new entry is checked against them in one look-up a tag."""

    def __init__(self) -> None:
        self.tags: dict[str, int] = {}
        self.shared: dict[str, int] = {}

    def add(self, entry: _Entry) -> None:
        for tag in entry.tags:
            self.tags.setdefault(tag, entry.line)
        for tag in entry.shared_tags:
            self.shared.setdefault(tag, entry.line)


def _check_tags(entry: _Entry, claimed: _Claims, display: str) -> None:
    """Refuse a tag two entries claim, as bashbrew does; SharedTags may repeat."""
    seen: set[str] = set()
    for tag in entry.tags:
        for kind, lines in (("Tags", claimed.tags), ("SharedTags", claimed.shared)):
            if tag in lines:
                raise ConfigError(
                    f"tag {tag!r} is also in the {kind} of the entry on line {lines[tag]}",
                    path=display,
                    line=entry.tags_line,
                )
        if tag in seen:
            raise ConfigError(f"tag {tag!r} is listed twice", path=display, line=entry.tags_line)
        seen.add(tag)
    for tag in entry.shared_tags:
        if tag in claimed.tags:
            raise ConfigError(
                f"shared tag {tag!r} is in the Tags of the entry on line {claimed.tags[tag]}",
                path=display,
                line=entry.line,
            )
        if tag in seen:
            raise ConfigError(
                f"tag {tag!r} is in both Tags and SharedTags", path=display, line=entry.line
            )


_DEFAULT_FETCH = ("", "refs/heads/master", "refs/heads/main")
"""``GitFetch`` values that name the repository's default branch: the checkout as it is."""


@dataclass(frozen=True)
class _Source:
    """Where one architecture of an entry is built from (bashbrew's ``Arch*`` values)."""

    repo: str
    fetch: str
    commit: str
    directory: str
    file: str
    builder: str


def _source(entry: _Entry, arch: str | None) -> _Source:
    """The source of *arch* (``None``: the entry's own values, no override)."""

    def value(name: str) -> str:
        if arch is not None:
            found = entry.arch_values.get(f"{arch}-{name}")
            if found:
                return found
        return entry.get(name)

    builder = value("Builder")
    directory = value("Directory")
    # In the build's context, as Go's path.Join reads it: a leading / is its top.
    file = value("File").lstrip("/") or (_OCI_INDEX if builder == _OCI_IMPORT else _DEFAULT_FILE)
    return _Source(
        value("GitRepo"),
        value("GitFetch"),
        value("GitCommit"),
        _clean(directory) if directory else ".",
        file,
        builder,
    )


_OCI_IMPORT = "oci-import"
_OCI_INDEX = "index.json"


def _builds(
    entry: _Entry,
    result: SourceResult,
    repository: str,
    aliases: Mapping[str, str],
    names: set[str],
    *,
    display: str,
    root: Path,
    checkout: Path,
    per_commit: bool,
) -> list[ImageBuild]:
    """One build per distinct source among the entry's architectures.

    Every build carries all of the entry's tags and its own architectures'
    platforms: together they are one multi-platform image. The build of the
    entry's own source (else amd64's, else the first architecture's) is
    named ``<repository>:<first tag>``, the others
    ``<repository>:<first tag>-<architecture>`` after their first
    architecture (with ``-2``, ``-3``, ... when the manifest has a tag or a
    build of that name already).
    """
    main_name = f"{repository}:{entry.tags[0]}"
    groups: dict[_Source, list[str]] = {}
    for arch in entry.architectures:
        groups.setdefault(_source(entry, arch), []).append(arch)
    own = _source(entry, None)
    if own in groups:
        main = own
    else:
        main = _source(entry, _DEFAULT_ARCHITECTURE if _DEFAULT_ARCHITECTURE in
                       entry.architectures else entry.architectures[0])  # fmt: skip
    ordered = [main, *(source for source in groups if source != main)]
    if not per_commit:
        _note_sources(own, groups, result, main_name, display, entry.line)
    tags = parse_tags(
        [f"{repository}:{tag}" for tag in [*entry.tags, *entry.shared_tags]],
        aliases,
        path=display,
        line=entry.tags_line,
    )
    builds: list[ImageBuild] = []
    reported: set[str] = set()
    for source in ordered:
        archs = groups[source]
        if source == main:
            name = main_name
        else:
            name = candidate = f"{main_name}-{archs[0]}"
            counter = 2
            while name in names:
                name, counter = f"{candidate}-{counter}", counter + 1
        names.add(name)
        base = _checkout_of(checkout, source, display, entry.line)
        dockerfile = relative(root, base, posixpath.join(source.directory, source.file))
        imported = source.builder == _OCI_IMPORT
        # A FIFO is refused by name when read; a missing file is reported
        # here once, at the entry, and not again by the graph.
        if dockerfile not in reported and not exists(base / source.directory / source.file):
            reported.add(dockerfile)
            what = "the OCI image layout index" if imported else "the Dockerfile"
            result.diagnostics.append(
                Diagnostic(
                    "missing-dockerfile",
                    Severity.ERROR,
                    f"{name} is {'imported from' if imported else 'built from'} {what} "
                    f"{dockerfile}, which is not in the checkout",
                    display,
                    entry.line,
                )
            )
        builds.append(
            ImageBuild(
                name=name,
                dockerfile=dockerfile,
                context=relative(root, base, source.directory),
                tags=tags,
                platforms=tuple(PLATFORMS[arch] for arch in archs),
                variant={},
                origin=f"{display}:{entry.line}",
                imported=imported,
                constraints=tuple(entry.constraints),
            )
        )
    return builds


def _note_sources(
    own: _Source,
    groups: Mapping[_Source, list[str]],
    result: SourceResult,
    name: str,
    display: str,
    line: int,
) -> None:
    """One diagnostic for the architectures bashbrew builds from another repository,
    branch or commit than the entry's own source *own*: imagegraph reads the
    checkout's work tree as it is."""
    elsewhere: list[str] = []
    for source, archs in groups.items():
        differs = [
            label
            for label, mine, theirs in (
                ("GitRepo", own.repo, source.repo),
                ("GitFetch", own.fetch, source.fetch),
                ("GitCommit", own.commit, source.commit),
            )
            if mine != theirs
        ]
        if differs:
            elsewhere.append(f"{', '.join(archs)} ({', '.join(differs)})")
    if elsewhere:
        result.diagnostics.append(
            Diagnostic(
                "library-arch-source",
                Severity.WARNING,
                f"{name}: the manifest builds some architectures from another repository, "
                f"branch or commit than the entry's: {'; '.join(elsewhere)}; imagegraph reads "
                "their files from the checkout's work tree as it is (name the checkout after "
                f"each GitCommit with {COMMIT_FIELD} to read what bashbrew builds)",
                display,
                line,
            )
        )


def _note_branches(
    entries: list[_Entry], result: SourceResult, repository: str, display: str
) -> None:
    """One ``library-git-fetch`` warning per branch other than the default that
    entries name in ``GitFetch``, at the first of them, with how many there are:
    imagegraph reads the checkout's work tree as it is (121 warnings, one per
    entry, said this once per manifest on the official library)."""
    branches: dict[str, list[_Entry]] = {}
    for entry in entries:
        fetch = _source(entry, None).fetch
        if fetch not in _DEFAULT_FETCH:
            branches.setdefault(fetch, []).append(entry)
    for fetch, named in branches.items():
        first = f"{repository}:{named[0].tags[0]}"
        which = first if len(named) == 1 else f"{first} and {len(named) - 1} more entries"
        result.diagnostics.append(
            Diagnostic(
                "library-git-fetch",
                Severity.WARNING,
                f"{which} build from GitFetch {fetch}, not the default branch; imagegraph "
                "reads the checkout's work tree as it is (name the checkout after each "
                f"entry's GitCommit with {COMMIT_FIELD} to read what bashbrew builds)",
                display,
                named[0].line,
            )
        )


def _clean(directory: str) -> str:
    """bashbrew's ``path.Clean``, inside the repository (a leading ``/`` is its root)."""
    return posixpath.normpath(directory.strip().lstrip("/") or ".")
