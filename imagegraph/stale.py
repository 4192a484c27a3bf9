"""Which images are stale: each pushed tag of the fleet against what its base tag serves now.

An upstream tag (``debian:bookworm``) is republished under the same name;
every image built on the old one is stale until rebuilt, and nothing in the
repository changed. :func:`check_stale` reads, for every tag the fleet
builds and every platform its build declares, the image the registry holds,
and decides:

- **fresh**: it was built on what its base tag serves now;
- **stale**: its base tag serves something else now (the base, the digest
  it was built on where known, the digest served now, and when that was made
  where the source says);
- **missing**: the registry has no such tag (or the tag's index has no image
  for the platform, or the tag is one image where the build declares several
  platforms): it must be built;
- **unknown**: nothing tells (no base annotation and no layers, a base that
  cannot be read, a registry error): why, with the registry's code.

The base is known, in order, from the OCI annotations
``org.opencontainers.image.base.name`` / ``.base.digest`` on the image's
manifest, else on its index (fresh when that digest is the base tag's
digest now, or its platform manifest's); else from the layers (fresh when
the image's layers begin with the base's current layers for its platform).
The base is the build's final stage's parent as the graph knows it
(:meth:`~imagegraph.ImageGraph.base`): an external image, or an image this
fleet builds, compared through the tag the fleet pushes it under. A build
without declared platforms is checked as the image its tag serves: a single
manifest as it is, an index by its one platform entry or else its
``linux/amd64`` one (what docker builds on the usual runner).

Children of a stale image are not guessed stale here: the plan of
:meth:`StaleReport.change` rebuilds them as descendants.

>>> from imagegraph import ImageBuild, ImageGraph, ImageRef
>>> from imagegraph.oci import OCI_MANIFEST, Manifest
>>> graph = ImageGraph.from_builds([
...     ImageBuild("app", "app/Dockerfile", "app", (ImageRef.parse("acme/app:1"),),
...                dockerfile_inline="FROM debian:bookworm"),
... ])
>>> old, new = "sha256:" + "1" * 64, "sha256:" + "2" * 64
>>> source = RecordedManifests.of([
...     Manifest("docker.io/library/debian:bookworm", new, OCI_MANIFEST, layers=(new,)),
...     Manifest("docker.io/acme/app:1", "sha256:" + "a" * 64, OCI_MANIFEST,
...              layers=(old, "sha256:" + "b" * 64)),
... ])
>>> report = check_stale(graph, source)
>>> [(e.image, e.status, e.reason) for e in report.entries]  # doctest: +NORMALIZE_WHITESPACE
[('app', 'stale', "base debian:bookworm moved to sha256:222222222222: the image's layers
  do not begin with its layers")]
>>> graph.plan([report.change()]).names()
[['app']]
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from imagegraph._jsonfile import field_error, json_kind, read_json
from imagegraph.diagnostics import Diagnostic, Severity
from imagegraph.errors import InvalidReference
from imagegraph.impact import StaleChange
from imagegraph.inventory import ConfigError, ImageBuild
from imagegraph.oci import (
    BASE_DIGEST,
    BASE_NAME,
    INDEX_TYPES,
    MANIFEST_TYPES,
    Descriptor,
    Manifest,
    ManifestSource,
    RegistryError,
)
from imagegraph.reference import ImageRef

if TYPE_CHECKING:
    from imagegraph.graph import ImageGraph

__all__ = [
    "DEFAULT_PLATFORM",
    "RECORD_SCHEMA",
    "Freshness",
    "RecordedManifests",
    "StaleReport",
    "StaleStatus",
    "check_stale",
    "record",
]

StaleStatus = Literal["fresh", "stale", "missing", "unknown"]

DEFAULT_PLATFORM = "linux/amd64"
"""The platform a build that declares none is checked for, when its tag serves an index
of several platforms."""

RECORD_SCHEMA = "imagegraph/manifests/v1"
"""The ``schema`` of a recording (:func:`record`, :class:`RecordedManifests`)."""

MAX_RECORD_BYTES = 64 * 1024 * 1024
"""The largest recording read: a fleet of 10,000 tags records a few megabytes."""

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}", re.ASCII)
_MAX_TEXT = 4096
"""The longest reference, media type or platform a recording may hold."""
_MAX_ANNOTATION = 64 * 1024
_MAX_CREATED = 64  # a config's "created" time, as a recording may hold it
_MAX_ITEMS = 100_000
"""The most layers or index entries one recorded manifest may list."""


@dataclass(frozen=True, slots=True)
class Freshness:
    """What the registry says of one tag of one build, for one platform.

    >>> Freshness("app", "docker.io/acme/app:1", None, "missing", reason="not in the registry")
    Freshness(image='app', tag='docker.io/acme/app:1', platform=None, status='missing', ...)
    """

    image: str
    """The build's name."""
    tag: str
    """The tag checked, normalised (``registry.acme.internal/apps/api:latest``)."""
    platform: str | None
    """The platform checked; ``None`` for a build that declares none."""
    status: StaleStatus
    base: str | None = None
    """The base tag compared against (normalised), when one was found."""
    old_digest: str | None = None
    """The base's digest the image was built on, where its annotation says."""
    new_digest: str | None = None
    """The digest the base tag serves now."""
    since: str | None = None
    """When the base the tag serves now was made (its config's ``created``), where known."""
    reason: str = ""
    method: Literal["annotation", "layers"] | None = None
    """How the base was compared: by the base annotations, or by the layers."""
    code: str | None = None
    """For an unknown: the registry's error code (``registry-timeout``), or
    ``stale-unknown`` when no registry error is the cause."""

    def __repr__(self) -> str:
        return (
            f"Freshness(image={self.image!r}, tag={self.tag!r}, platform={self.platform!r}, "
            f"status={self.status!r}, ...)"
        )

    def to_dict(self) -> dict[str, Any]:
        """The entry as the JSON output writes it."""
        return {
            "image": self.image,
            "tag": self.tag,
            "platform": self.platform,
            "status": self.status,
            "base": self.base,
            "old_digest": self.old_digest,
            "new_digest": self.new_digest,
            "since": self.since,
            "method": self.method,
            "reason": self.reason,
            "code": self.code,
        }


@dataclass(frozen=True, slots=True)
class StaleReport:
    """The result of :func:`check_stale`: one :class:`Freshness` per tag and platform.

    ``observed`` holds every manifest the check read (a reference -> the
    manifest, or ``None`` where the registry had none), and ``configs`` the
    ``created`` time of each config read: what :func:`record` writes.
    """

    entries: tuple[Freshness, ...]
    diagnostics: tuple[Diagnostic, ...] = ()
    observed: Mapping[str, Manifest | None] = field(default_factory=dict, compare=False)
    configs: Mapping[str, str | None] = field(default_factory=dict, compare=False)

    def _of(self, status: StaleStatus) -> tuple[Freshness, ...]:
        return tuple(entry for entry in self.entries if entry.status == status)

    @property
    def fresh(self) -> tuple[Freshness, ...]:
        """The entries built on what their base tag serves now."""
        return self._of("fresh")

    @property
    def stale(self) -> tuple[Freshness, ...]:
        """The entries whose base tag serves something else now."""
        return self._of("stale")

    @property
    def missing(self) -> tuple[Freshness, ...]:
        """The entries the registry does not have: they must be built."""
        return self._of("missing")

    @property
    def unknown(self) -> tuple[Freshness, ...]:
        """The entries nothing could decide, each with its reason and code."""
        return self._of("unknown")

    def change(self) -> StaleChange:
        """The change a plan takes (``graph.plan([report.change()])``): every stale or
        missing build, with its reasons (``stale: base X moved A -> B``, ``missing from
        the registry``); the plan adds everything built on them."""
        texts: dict[str, dict[str, list[str]]] = {}
        for entry in self.entries:
            if entry.status in ("stale", "missing"):
                platforms = texts.setdefault(entry.image, {}).setdefault(_plan_reason(entry), [])
                if entry.platform is not None:
                    platforms.append(entry.platform)
        builds = []
        for name, found in texts.items():
            # The platform is named only where the platforms of a build differ.
            why = tuple(
                f"{text} ({', '.join(platforms)})" if len(found) > 1 and platforms else text
                for text, platforms in found.items()
            )
            builds.append((name, why))
        return StaleChange(tuple(builds))

    def to_json(self) -> str:
        """The report as JSON (schema ``imagegraph/stale/v1``): the entries, the
        counts, and the diagnostics."""
        data = {
            "schema": "imagegraph/stale/v1",
            "counts": {
                status: len(self._of(status)) for status in ("fresh", "stale", "missing", "unknown")
            },
            "entries": [entry.to_dict() for entry in self.entries],
            "diagnostics": [d.to_dict() for d in self.diagnostics],
        }
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"

    def _repr_html_(self) -> str:
        from imagegraph.render.html import stale_html

        return stale_html(self)

    def __repr__(self) -> str:
        """Short at any size.

        >>> StaleReport(())
        <StaleReport 0 fresh, 0 stale, 0 missing, 0 unknown>
        """
        return (
            f"<StaleReport {len(self.fresh)} fresh, {len(self.stale)} stale, "
            f"{len(self.missing)} missing, {len(self.unknown)} unknown>"
        )


def _short(digest: str | None) -> str:
    """``sha256:`` and the first 12 hex digits: enough to tell digests apart in a line."""
    if digest is None:
        return "?"
    algorithm, _, hexdigits = digest.partition(":")
    return f"{algorithm}:{hexdigits[:12]}"


def _familiar(reference: str | None) -> str:
    if reference is None:
        return "?"
    try:
        return ImageRef.parse(reference).familiar
    except InvalidReference:
        return reference


def _plan_reason(entry: Freshness) -> str:
    if entry.status == "missing":
        return f"missing from the registry: {_familiar(entry.tag)}"
    moved = (
        f"moved {_short(entry.old_digest)} -> {_short(entry.new_digest)}"
        if entry.old_digest
        else f"moved to {_short(entry.new_digest)}"
    )
    since = f" (since {entry.since})" if entry.since else ""
    return f"stale: base {_familiar(entry.base)} {moved}{since}"


# -- the check ------------------------------------------------------------


@dataclass(slots=True)
class _Target:
    """One tag of one build for one platform, as the check learns about it."""

    build: ImageBuild
    tag: ImageRef
    platform: str | None
    result: Freshness | None = None
    image: Manifest | None = None
    """The image manifest for the platform."""
    index: Manifest | None = None
    """The index the tag serves, when it serves one."""
    entry: Descriptor | None = None
    """The index's entry for the platform, its image manifest to read."""
    chosen: str | None = None
    """The platform the image is (declared, or chosen from the index), if known."""
    base: ImageRef | None = None
    """The base reference to read now (tag, or digest for a pinned base)."""
    base_shown: str | None = None
    annotated: str | None = None
    """The base digest the annotations give."""
    base_manifest: Manifest | None = None
    base_image: Manifest | None = None
    """The base's image manifest for the platform (for layers, and ``created``)."""


def check_stale(
    graph: ImageGraph, source: ManifestSource, *, platforms: Iterable[str] | None = None
) -> StaleReport:
    """Check every tag *graph*'s builds push against *source* (a registry client or
    :class:`RecordedManifests`); with *platforms*, only those of the declared platforms.

    Each :class:`Freshness` names the build, tag, platform and status; an
    unknown also becomes a ``stale-unknown`` error diagnostic naming the
    registry's code. Reads go to *source* in a few batches
    (:meth:`~imagegraph.oci.ManifestSource.manifests`), which a registry
    client answers in parallel. Raises nothing for what a registry answers:
    a failure is an unknown entry. See the module's documentation.
    """
    return _Check(graph, source, platforms).run()


class _Check:
    def __init__(
        self, graph: ImageGraph, source: ManifestSource, platforms: Iterable[str] | None
    ) -> None:
        from imagegraph.graph import _platform_keys

        self.graph = graph
        self.source = source
        self.only = None if platforms is None else _platform_keys(tuple(platforms))
        self.read: dict[str, Manifest | RegistryError] = {}
        self.configs: dict[str, str | None] = {}
        self.notes: list[Diagnostic] = []
        self.aliases = graph.inventory.aliases

    # -- reading, in batches --

    def fetch(self, refs: Iterable[ImageRef]) -> None:
        wanted = {str(ref): ref for ref in refs if str(ref) not in self.read}
        if not wanted:
            return
        answers = self.source.manifests(list(wanted.values()))
        for key, ref in wanted.items():
            answer = answers.get(ref)
            if answer is None:
                answer = RegistryError("registry-error", key, "the source gave no answer for it")
            elif isinstance(answer, Manifest) and not isinstance(self.source, RecordedManifests):
                answer = _recordable(answer, key)  # a recording's were checked as it was read
            self.read[key] = answer

    def answer(self, ref: ImageRef) -> Manifest | RegistryError:
        return self.read[str(ref)]

    # -- the phases --

    def run(self) -> StaleReport:
        from imagegraph.graph import _platform_keys

        targets: list[_Target] = []
        for build in self.graph.builds:
            if not build.tags:
                self.notes.append(
                    Diagnostic(
                        "stale-not-pushed", Severity.INFO,
                        f"build {build.name!r} has no tag: nothing pushed to check",
                        build.dockerfile,
                    )
                )  # fmt: skip
                continue
            for tag in dict.fromkeys(build.tags):
                if build.name not in self.graph.tag_owners(tag):
                    continue  # a duplicate build of the tag: the owner's image is checked
                for platform in build.platforms or (None,):
                    if (
                        platform is not None
                        and self.only is not None
                        and _platform_keys((platform,)).isdisjoint(self.only)
                    ):
                        continue
                    targets.append(_Target(build, tag, platform))
        self.fetch(t.tag for t in targets)
        for target in targets:
            self.resolve_tag(target)
        self.fetch(
            _by_digest(t.tag, t.entry.digest)
            for t in targets
            if t.result is None and t.entry is not None
        )
        for target in targets:
            if target.result is None:
                self.resolve_image(target)
        for target in targets:
            if target.result is None:
                self.find_base(target)
        self.fetch(t.base for t in targets if t.result is None and t.base is not None)
        for target in targets:
            if target.result is None:
                self.resolve_base(target)
        self.fetch(
            ref for t in targets if t.result is None and (ref := self.base_image_ref(t)) is not None
        )
        for target in targets:
            if target.result is None:
                self.compare(target)
        entries: list[Freshness] = []
        for target in targets:
            entry = target.result
            assert entry is not None, "every phase ends a target or hands it on"
            entries.append(entry)
            if entry.status == "unknown":
                self.notes.append(
                    Diagnostic(
                        "stale-unknown", Severity.ERROR,
                        f"{_familiar(entry.tag)}"
                        f"{f' ({entry.platform})' if entry.platform else ''} of build "
                        f"{entry.image!r} could not be checked: {entry.reason} [{entry.code}]",
                        target.build.dockerfile,
                    )
                )  # fmt: skip
        observed: dict[str, Manifest | None] = {}
        for key, answer in self.read.items():
            if isinstance(answer, Manifest):
                observed[key] = answer
            elif answer.code == "registry-not-found":
                observed[key] = None
        return StaleReport(tuple(entries), tuple(self.notes), observed, dict(self.configs))

    def done(self, target: _Target, status: StaleStatus, reason: str, **more: Any) -> None:
        target.result = Freshness(
            target.build.name, str(target.tag), target.platform, status, reason=reason, **more
        )

    def unknown(self, target: _Target, reason: str, error: RegistryError | None = None) -> None:
        code = error.code if error is not None else "stale-unknown"
        if error is not None:
            reason = f"{reason}: {error}"
        self.done(target, "unknown", reason, base=target.base_shown, code=code)

    def resolve_tag(self, target: _Target) -> None:
        answer = self.answer(target.tag)
        if isinstance(answer, RegistryError):
            if answer.code == "registry-not-found":
                self.done(target, "missing", "the registry has no such tag")
            else:
                self.unknown(target, "the tag could not be read", answer)
            return
        if not answer.is_index:
            declared = len(dict.fromkeys(target.build.platforms))
            if declared > 1:
                # A build of several platforms pushes an index; one image manifest
                # is one platform's, which cannot be told without its config.
                self.done(
                    target, "missing",
                    f"the tag serves one image, not an index of the {declared} platforms "
                    "the build declares",
                )  # fmt: skip
                return
            target.image = answer
            target.chosen = target.platform
            return
        target.index = answer
        platform = target.platform
        if platform is None:
            named = [e.platform for e in answer.manifests if e.platform is not None]
            platform = named[0] if len(named) == 1 else DEFAULT_PLATFORM
        entry = _entry_for(answer, platform)
        if entry is None:
            if target.platform is not None:
                self.done(target, "missing", f"the tag's index has no {platform} image")
            else:
                shown = ", ".join(e.platform for e in answer.manifests if e.platform) or "none"
                self.unknown(
                    target,
                    f"the tag's index has no {DEFAULT_PLATFORM} image (platforms: {shown}) and "
                    "the build declares no platform",
                )
            return
        target.chosen = platform
        target.entry = entry

    def resolve_image(self, target: _Target) -> None:
        if target.image is not None:
            return
        assert target.entry is not None
        answer = self.answer(_by_digest(target.tag, target.entry.digest))
        if isinstance(answer, RegistryError):
            self.unknown(target, f"the {target.chosen} image of the tag could not be read", answer)
        elif answer.is_index:
            self.unknown(target, f"the {target.chosen} entry of the tag's index is an index")
        else:
            target.image = answer

    def find_base(self, target: _Target) -> None:
        """The base to compare against: the annotation's, else the graph's."""
        image = target.image
        assert image is not None
        annotated = image if (image.base_name or image.base_digest) else target.index
        name = annotated.base_name if annotated is not None else None
        target.annotated = annotated.base_digest if annotated is not None else None
        if target.annotated is not None and not _DIGEST.fullmatch(target.annotated):
            self.unknown(target, f"the {BASE_DIGEST} annotation is no sha256 digest")
            return
        known = self.graph_base(target)
        if name is not None:
            try:
                ref = ImageRef.parse(name, aliases=self.aliases)
            except InvalidReference as err:
                self.unknown(target, f"the {BASE_NAME} annotation is no image reference: {err}")
                return
            target.base_shown = str(ref)
            if known is not None and (known.name, known.tag) != (ref.name, ref.tag):
                # Built on another image than the Dockerfile now names: whatever
                # that image serves, this one is not built from its Dockerfile.
                self.done(
                    target, "stale",
                    f"built on {ref.familiar}; the Dockerfile now builds on {known.familiar}",
                    base=str(known), old_digest=target.annotated, method="annotation",
                )  # fmt: skip
                return
            target.base = _pinned(ref if known is None else known)
            return
        if known is None:
            node = self.graph.base(target.build.name)
            undetermined = self.graph.undetermined.get(target.build.name)
            if undetermined:
                self.unknown(target, f"its base is not resolved ({', '.join(undetermined)})")
            elif node is None:
                self.done(target, "fresh", "no base image (FROM scratch, or imported)")
            else:
                self.unknown(target, f"the base {node!r} has no tag to read it by")
            return
        target.base_shown = str(known)
        target.base = _pinned(known)

    def graph_base(self, target: _Target) -> ImageRef | None:
        """The reference the build's final stage starts from, as the graph knows it:
        the external image itself, or the fleet's tag of its own base build."""
        node = self.graph.base(target.build.name)
        if node is None:
            return None
        data = self.graph.nx.nodes[node]
        if data["kind"] != "build":
            ref: ImageRef = data["ref"]
            return ref
        for edge in self.graph.node_edges(node, target.build.name):
            if edge.kind != "from" or not edge.value:
                continue
            try:
                used = ImageRef.parse(edge.value, aliases=self.aliases)
            except InvalidReference:
                continue
            # A pinned parent (tag@digest) is the build's by its tag; it is read by its digest.
            if node in self.graph.tag_owners(ImageRef(used.registry, used.path, used.tag, None)):
                return used
        tags: tuple[ImageRef, ...] = data["build"].tags
        return tags[0] if tags else None

    def resolve_base(self, target: _Target) -> None:
        assert target.base is not None
        answer = self.answer(target.base)
        if isinstance(answer, RegistryError):
            what = (
                "is not in the registry"
                if answer.code == "registry-not-found"
                else "could not be read"
            )
            self.unknown(target, f"the base {_familiar(target.base_shown)} {what}", answer)
            return
        target.base_manifest = answer

    def base_platform(self, target: _Target) -> str:
        if target.chosen is not None:
            return target.chosen
        base = target.base_manifest
        if base is not None:
            entries = [e for e in base.manifests if e.platform is not None]
            if len(entries) == 1 and entries[0].platform is not None:
                return entries[0].platform
        return DEFAULT_PLATFORM

    def base_entry(self, target: _Target) -> Descriptor | None:
        base = target.base_manifest
        assert base is not None
        return _entry_for(base, self.base_platform(target)) if base.is_index else None

    def base_image_ref(self, target: _Target) -> ImageRef | None:
        """The base's image manifest to read, if it is an index entry."""
        assert target.base is not None
        entry = self.base_entry(target)
        return _by_digest(target.base, entry.digest) if entry is not None else None

    def compare(self, target: _Target) -> None:
        base, image = target.base_manifest, target.image
        assert base is not None
        assert image is not None
        assert target.base is not None
        entry = self.base_entry(target)
        if base.is_index:
            if entry is not None:
                answer = self.answer(_by_digest(target.base, entry.digest))
                if isinstance(answer, Manifest) and not answer.is_index:
                    target.base_image = answer
        else:
            target.base_image = base
        shown = _familiar(target.base_shown)
        common = {"base": target.base_shown, "new_digest": base.digest}
        if target.annotated is not None:
            current = {base.digest}
            if entry is not None:
                current.add(entry.digest)
            elif base.is_index and target.chosen is None:
                current.update(e.digest for e in base.manifests)
            if target.annotated in current:
                self.done(
                    target, "fresh", f"built on {shown} as it is now (annotation)",
                    old_digest=target.annotated, method="annotation", **common,
                )  # fmt: skip
            else:
                self.done(
                    target, "stale",
                    f"built on {shown} at {_short(target.annotated)}; it serves "
                    f"{_short(base.digest)} now (annotation)",
                    old_digest=target.annotated, method="annotation",
                    since=self.created(target), **common,
                )  # fmt: skip
            return
        platform = self.base_platform(target)
        if target.base_image is None:
            if base.is_index and entry is None:
                self.unknown(target, f"the base {shown} has no {platform} image to compare with")
            else:
                failed = self.answer(_by_digest(target.base, entry.digest)) if entry else None
                self.unknown(
                    target, f"the {platform} image of the base {shown} could not be read",
                    failed if isinstance(failed, RegistryError) else None,
                )  # fmt: skip
            return
        if not image.layers:
            self.unknown(target, "no base annotation, and the image lists no layers to compare")
            return
        layers = target.base_image.layers
        if not layers:
            self.unknown(target, f"no base annotation, and the base {shown} has no layers")
            return
        if image.layers[: len(layers)] == layers:
            self.done(
                target, "fresh", f"its layers begin with those of {shown} now",
                method="layers", **common,
            )  # fmt: skip
        else:
            self.done(
                target, "stale",
                f"base {shown} moved to {_short(base.digest)}: the image's layers do not "
                "begin with its layers",
                method="layers", since=self.created(target), **common,
            )  # fmt: skip

    def created(self, target: _Target) -> str | None:
        """The ``created`` time of the base's config now, where the source offers configs
        (:meth:`compare` has set the base's image manifest wherever one was read)."""
        image = target.base_image
        reader = getattr(self.source, "config", None)
        if image is None or image.config is None or reader is None or target.base is None:
            return None
        digest = image.config
        if digest not in self.configs:
            try:
                found = reader(target.base, digest)
            except RegistryError:
                found = None
            created = (
                found.get("created")
                if isinstance(found, Mapping)
                else getattr(found, "created", None)
            )
            # The registry's word: a time, or nothing (a recording holds no more than
            # 64 characters, and a table row no megabyte of it).
            short = isinstance(created, str) and 0 < len(created) <= _MAX_CREATED
            self.configs[digest] = created if short else None
        return self.configs[digest]


def _recordable(manifest: Manifest, key: str) -> Manifest | RegistryError:
    """*manifest* if a recording can hold it (sha256 digests, annotations and texts
    within the recording's bounds), else why not: what the check answers from is
    what --record writes, and --digests reads it back (a registry's 70 KiB
    annotation made the whole recording refused)."""
    try:
        _manifest(_manifest_fields(manifest), key, "the manifest", key)
    except ConfigError as err:
        return RegistryError(
            "registry-malformed", key, f"an answer imagegraph does not read: {err.message}"
        )
    return manifest


def _entry_for(index: Manifest, platform: str) -> Descriptor | None:
    """The entry of *index* for *platform*: as :meth:`Manifest.for_platform` finds it,
    else the one entry of that platform as containerd compares them (``linux/arm64/v8``
    and ``linux/arm64``, ``x86_64`` and ``amd64``)."""
    from imagegraph.graph import _platform_keys

    found = index.for_platform(platform)
    if found is not None or not index.is_index:
        return found
    wanted = _platform_keys((platform,))
    same = [e for e in index.manifests if e.platform and _platform_keys((e.platform,)) == wanted]
    return same[0] if len(same) == 1 else None


def _by_digest(ref: ImageRef, digest: str) -> ImageRef:
    """*ref*'s repository at *digest* (no tag)."""
    return ImageRef(ref.registry, ref.path, None, digest)


def _pinned(ref: ImageRef) -> ImageRef:
    """What to read for a base: a digest pin by its digest, else the tag."""
    return _by_digest(ref, ref.digest) if ref.digest is not None else ref


# -- the recording ----------------------------------------------------------


def record(observed: StaleReport | Mapping[str, Manifest | None]) -> dict[str, Any]:
    """The JSON value of a recording of every manifest a check read: ``manifests``
    maps each reference to the manifest's fields, or to ``null`` where the registry
    had none; ``configs`` each config digest read to its ``created`` time.
    :class:`RecordedManifests` answers from it.

    >>> from imagegraph.oci import OCI_MANIFEST
    >>> data = record({"docker.io/acme/app:1": None})
    >>> data["schema"], data["manifests"]
    ('imagegraph/manifests/v1', {'docker.io/acme/app:1': None})
    """
    configs: Mapping[str, str | None] = {}
    if isinstance(observed, StaleReport):
        configs = observed.configs
        observed = observed.observed
    manifests: dict[str, Any] = {}
    for key in sorted(observed):
        manifest = observed[key]
        manifests[key] = None if manifest is None else _manifest_fields(manifest)
    return {
        "schema": RECORD_SCHEMA,
        "manifests": manifests,
        "configs": {digest: {"created": configs[digest]} for digest in sorted(configs)},
    }


def _manifest_fields(manifest: Manifest) -> dict[str, Any]:
    fields: dict[str, Any] = {"digest": manifest.digest, "media_type": manifest.media_type}
    if manifest.annotations:
        fields["annotations"] = dict(manifest.annotations)
    if manifest.is_index:
        fields["manifests"] = [
            {
                "media_type": d.media_type,
                "digest": d.digest,
                "size": d.size,
                "platform": d.platform,
                **({"annotations": dict(d.annotations)} if d.annotations else {}),
            }
            for d in manifest.manifests
        ]
    else:
        fields["layers"] = list(manifest.layers)
        fields["config"] = manifest.config
    return fields


class RecordedManifests:
    """A :class:`~imagegraph.oci.ManifestSource` answering from a recording
    (:func:`record`, ``imagegraph stale --record FILE``): the same check offline.

    The file is untrusted input: every field is checked (digests are ``sha256:``
    and 64 hex digits, each value of its type, a manifest recorded under a digest
    is of that digest) and a wrong one is a :class:`~imagegraph.ConfigError`
    naming the file and the entry. A reference the recording lacks is a
    :class:`~imagegraph.oci.RegistryError` ``registry-not-recorded``: unknown,
    never missing; one recorded as ``null`` is ``registry-not-found``.

    >>> source = RecordedManifests.from_data({"schema": RECORD_SCHEMA, "manifests": {
    ...     "acme/app:1": None}}, name="rec.json")
    >>> source.manifest(ImageRef.parse("acme/app:1"))
    Traceback (most recent call last):
    ...
    imagegraph.oci.RegistryError: docker.io/acme/app:1: not in the registry (recorded in rec.json)
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        """Read the recording at *path*."""
        name = os.fspath(path)
        try:
            size = os.stat(name).st_size
        except OSError as err:
            raise ConfigError(
                f"cannot read recorded manifests: {err.strerror}", path=name
            ) from None
        if size > MAX_RECORD_BYTES:
            raise ConfigError(f"recorded manifests larger than {MAX_RECORD_BYTES} bytes", path=name)
        data = read_json(name, "recorded manifests")
        self.name = name
        self._manifests, self._configs = _validated(data, name)

    @classmethod
    def from_data(cls, data: object, *, name: str = "<recording>") -> RecordedManifests:
        """A source answering from the JSON value *data* (as :func:`record` makes it),
        checked as a file is; *name* names it in errors."""
        source = cls.__new__(cls)
        source.name = name
        source._manifests, source._configs = _validated(data, name)
        return source

    @classmethod
    def of(cls, manifests: Iterable[Manifest], *, absent: Iterable[str] = ()) -> RecordedManifests:
        """A source holding *manifests* (each under its reference, and under its
        digest) and answering not-found for the references in *absent*."""
        observed: dict[str, Manifest | None] = {}
        for manifest in manifests:
            ref = ImageRef.parse(manifest.reference)
            observed[str(ref)] = manifest
            observed[str(_by_digest(ref, manifest.digest))] = manifest
        for reference in absent:
            observed[str(ImageRef.parse(reference))] = None
        return cls.from_data(record(observed), name="<manifests>")

    def __repr__(self) -> str:
        return f"<RecordedManifests {self.name}: {len(self._manifests)} references>"

    def manifest(self, reference: ImageRef) -> Manifest:
        """The manifest recorded for *reference*; :class:`RegistryError` when the
        registry had none (``registry-not-found``) or the recording lacks it
        (``registry-not-recorded``)."""
        key = str(_pinned(reference))
        if key not in self._manifests:
            raise RegistryError(
                "registry-not-recorded", key, f"not in the recorded manifests {self.name}"
            )
        found = self._manifests[key]
        if found is None:
            raise RegistryError(
                "registry-not-found", key, f"not in the registry (recorded in {self.name})"
            )
        return found

    def manifests(self, references: Sequence[ImageRef]) -> dict[ImageRef, Manifest | RegistryError]:
        """:meth:`manifest` for each of *references*."""
        answers: dict[ImageRef, Manifest | RegistryError] = {}
        for reference in references:
            try:
                answers[reference] = self.manifest(reference)
            except RegistryError as err:
                answers[reference] = err
        return answers

    def config(self, reference: ImageRef, digest: str) -> Mapping[str, str | None]:
        """The recorded config *digest* of *reference*'s repository: ``{"created": ...}``."""
        if digest not in self._configs:
            raise RegistryError(
                "registry-not-recorded",
                str(_by_digest(reference, digest)),
                f"config not in the recorded manifests {self.name}",
            )
        return {"created": self._configs[digest]}


def _validated(data: object, name: str) -> tuple[dict[str, Manifest | None], dict[str, str | None]]:
    """The manifests and configs of a recording, every field checked."""
    if not isinstance(data, dict):
        raise field_error(name, "the recording", "an object", data)
    if data.get("schema") != RECORD_SCHEMA:
        shown = data.get("schema")
        raise ConfigError(
            f"schema: expected {RECORD_SCHEMA!r}, found "
            + (repr(shown[:80]) if isinstance(shown, str) else json_kind(shown)),
            path=name,
        )
    extra = set(data) - {"schema", "manifests", "configs"}
    if extra:
        raise ConfigError(f"unknown field {_shown(sorted(extra)[0])}", path=name)
    raw = data.get("manifests")
    if not isinstance(raw, dict):
        raise field_error(name, "manifests", "an object", raw)
    manifests: dict[str, Manifest | None] = {}
    for key, value in raw.items():
        where = f"manifests[{_shown(key)}]"
        try:
            ref = ImageRef.parse(key) if len(key) <= _MAX_TEXT else None
        except InvalidReference as err:
            raise ConfigError(f"{where}: not an image reference: {err.reason}", path=name) from None
        if ref is None:
            raise ConfigError(f"{where}: reference longer than {_MAX_TEXT} characters", path=name)
        if ref.digest is not None and not _DIGEST.fullmatch(ref.digest):
            raise ConfigError(f"{where}: the reference's digest is no sha256 digest", path=name)
        normal = str(_pinned(ref))
        if value is None:
            manifests[normal] = None
            continue
        manifest = _manifest(value, normal, where, name)
        if ref.digest is not None and manifest.digest != ref.digest:
            raise ConfigError(
                f"{where}: digest {manifest.digest} is not the digest it is recorded under",
                path=name,
            )
        manifests[normal] = manifest
    raw_configs = data.get("configs", {})
    if not isinstance(raw_configs, dict):
        raise field_error(name, "configs", "an object", raw_configs)
    configs: dict[str, str | None] = {}
    for digest, value in raw_configs.items():
        where = f"configs[{_shown(digest)}]"
        if not _DIGEST.fullmatch(digest):
            raise ConfigError(f"{where}: not a sha256 digest", path=name)
        if not isinstance(value, dict):
            raise field_error(name, where, "an object", value)
        created = value.get("created")
        if created is not None and not (isinstance(created, str) and len(created) <= _MAX_CREATED):
            raise field_error(name, f"{where}.created", "a time (a short string) or null", created)
        configs[digest] = created
    return manifests, configs


def _shown(key: str) -> str:
    """A key of the file as an error shows it: quoted, and cut when long."""
    return repr(key if len(key) <= 100 else key[:60] + "..." + key[-20:])


_MANIFEST_FIELDS = frozenset(
    {"digest", "media_type", "annotations", "layers", "config", "manifests"}
)
_DESCRIPTOR_FIELDS = frozenset({"media_type", "digest", "size", "platform", "annotations"})


def _manifest(value: object, reference: str, where: str, name: str) -> Manifest:
    if not isinstance(value, dict):
        raise field_error(name, where, "an object or null", value)
    extra = set(value) - _MANIFEST_FIELDS
    if extra:
        raise ConfigError(f"{where}: unknown field {_shown(sorted(extra)[0])}", path=name)
    digest = _digest(value.get("digest"), f"{where}.digest", name)
    media_type = value.get("media_type")
    if media_type not in INDEX_TYPES | MANIFEST_TYPES:
        raise ConfigError(
            f"{where}.media_type: expected an OCI or Docker manifest or index type, found "
            + (repr(media_type[:100]) if isinstance(media_type, str) else json_kind(media_type)),
            path=name,
        )
    annotations = _annotations(value.get("annotations", {}), f"{where}.annotations", name)
    if media_type in INDEX_TYPES:
        if "layers" in value or "config" in value:
            raise ConfigError(f"{where}: an index has no layers or config", path=name)
        entries = value.get("manifests")
        if not isinstance(entries, list) or len(entries) > _MAX_ITEMS:
            raise field_error(
                name, f"{where}.manifests", f"an array of at most {_MAX_ITEMS}", entries
            )
        descriptors = tuple(
            _descriptor(entry, f"{where}.manifests[{i}]", name) for i, entry in enumerate(entries)
        )
        return Manifest(reference, digest, media_type, annotations, manifests=descriptors)
    if "manifests" in value:
        raise ConfigError(f"{where}: an image manifest lists no manifests", path=name)
    layers = value.get("layers")
    if not isinstance(layers, list) or len(layers) > _MAX_ITEMS:
        raise field_error(name, f"{where}.layers", f"an array of at most {_MAX_ITEMS}", layers)
    config = value.get("config")
    return Manifest(
        reference, digest, media_type, annotations,
        layers=tuple(_digest(layer, f"{where}.layers[{i}]", name) for i, layer in enumerate(layers)),
        config=None if config is None else _digest(config, f"{where}.config", name),
    )  # fmt: skip


def _descriptor(value: object, where: str, name: str) -> Descriptor:
    if not isinstance(value, dict):
        raise field_error(name, where, "an object", value)
    extra = set(value) - _DESCRIPTOR_FIELDS
    if extra:
        raise ConfigError(f"{where}: unknown field {_shown(sorted(extra)[0])}", path=name)
    media_type = _text(value.get("media_type"), f"{where}.media_type", name)
    size = value.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size < 2**63:
        raise field_error(name, f"{where}.size", "a size in bytes", size)
    platform = value.get("platform")
    if platform is not None:
        platform = _text(platform, f"{where}.platform", name)
    return Descriptor(
        media_type,
        _digest(value.get("digest"), f"{where}.digest", name),
        size,
        platform,
        _annotations(value.get("annotations", {}), f"{where}.annotations", name),
    )


def _digest(value: object, where: str, name: str) -> str:
    if not isinstance(value, str):
        raise field_error(name, where, "a sha256 digest", value)
    if len(value) != 71 or not _DIGEST.fullmatch(value):
        raise ConfigError(f"{where}: not a sha256 digest (sha256: and 64 hex digits)", path=name)
    return value


def _text(value: object, where: str, name: str) -> str:
    if not isinstance(value, str) or len(value) > _MAX_TEXT:
        raise field_error(name, where, f"a string of at most {_MAX_TEXT} characters", value)
    return value


def _annotations(value: object, where: str, name: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise field_error(name, where, "an object of strings", value)
    for key, text in value.items():
        if len(key) > _MAX_TEXT:
            raise ConfigError(
                f"{where}: a key longer than {_MAX_TEXT} characters ({_shown(key)})", path=name
            )
        if not isinstance(text, str) or len(text) > _MAX_ANNOTATION:
            raise field_error(
                name,
                f"{where}[{_shown(key)}]",
                f"a string of at most {_MAX_ANNOTATION} characters",
                text,
            )
    return dict(value)
