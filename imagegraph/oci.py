"""What a registry says of an image: manifests, indexes and their descriptors.

These are the values the registry client (:mod:`imagegraph.registry`) reads
over the OCI distribution API and the freshness check
(:mod:`imagegraph.stale`) reasons on; a recorded set of them (``imagegraph
stale --record``) answers the same questions offline. Both families of
media types read into the same shape: an OCI image index or a Docker
manifest list is an index, an OCI image manifest or a Docker v2 manifest an
image manifest.

>>> image = Manifest(
...     reference="registry.example.com/acme/app:1",
...     digest="sha256:" + "a" * 64,
...     media_type=OCI_MANIFEST,
...     layers=("sha256:" + "1" * 64, "sha256:" + "2" * 64),
...     annotations={BASE_NAME: "docker.io/library/debian:bookworm"},
... )
>>> image.is_index, image.base_name
(False, 'docker.io/library/debian:bookworm')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from imagegraph.errors import ImageGraphError
from imagegraph.reference import ImageRef

__all__ = [
    "BASE_DIGEST",
    "BASE_NAME",
    "DOCKER_LIST",
    "DOCKER_MANIFEST",
    "INDEX_TYPES",
    "MANIFEST_TYPES",
    "OCI_INDEX",
    "OCI_MANIFEST",
    "Descriptor",
    "Manifest",
    "ManifestSource",
    "RegistryError",
]

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})

BASE_NAME = "org.opencontainers.image.base.name"
"""The annotation naming the image an image was built on (a reference with a tag)."""
BASE_DIGEST = "org.opencontainers.image.base.digest"
"""The annotation giving the digest of that base as it was when the image was built."""


@dataclass(frozen=True, slots=True)
class Descriptor:
    """One entry of an index: a manifest, the platform it is for (``os/arch`` or
    ``os/arch/variant``; ``None`` for entries that are no platform's image, such
    as attestations), and its annotations."""

    media_type: str
    digest: str
    size: int
    platform: str | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Manifest:
    """A manifest as a registry served it: an image manifest (``layers`` and
    ``config``) or an index (``manifests``), with its digest and annotations.

    ``reference`` is what was asked for (a tag or a digest reference);
    ``digest`` the digest of the bytes served, as the registry's
    ``Docker-Content-Digest`` gives it and the bytes confirm.
    """

    reference: str
    digest: str
    media_type: str
    annotations: Mapping[str, str] = field(default_factory=dict)
    layers: tuple[str, ...] = ()
    config: str | None = None
    manifests: tuple[Descriptor, ...] = ()

    @property
    def is_index(self) -> bool:
        """Whether this is an index (an OCI image index or a Docker manifest list)."""
        return self.media_type in INDEX_TYPES

    @property
    def base_name(self) -> str | None:
        """The ``org.opencontainers.image.base.name`` annotation, if set."""
        return self.annotations.get(BASE_NAME)

    @property
    def base_digest(self) -> str | None:
        """The ``org.opencontainers.image.base.digest`` annotation, if set."""
        return self.annotations.get(BASE_DIGEST)

    def for_platform(self, platform: str) -> Descriptor | None:
        """The entry of this index for *platform* (``linux/arm64`` matches an entry
        ``linux/arm64/v8`` when no entry names the variant exactly); ``None`` when the
        index has none, or this is no index.

        >>> index = Manifest("r/x:1", "sha256:" + "0" * 64, OCI_INDEX, manifests=(
        ...     Descriptor(OCI_MANIFEST, "sha256:" + "1" * 64, 10, "linux/amd64"),
        ...     Descriptor(OCI_MANIFEST, "sha256:" + "2" * 64, 10, "linux/arm64/v8"),
        ... ))
        >>> index.for_platform("linux/arm64").digest == "sha256:" + "2" * 64
        True
        >>> index.for_platform("windows/amd64") is None
        True
        """
        if not self.is_index:
            return None
        for entry in self.manifests:
            if entry.platform == platform:
                return entry
        prefix = platform + "/"
        matches = [e for e in self.manifests if e.platform and e.platform.startswith(prefix)]
        return matches[0] if len(matches) == 1 else None


class RegistryError(ImageGraphError):
    """A registry did not answer what was asked: ``code`` says how (one of
    ``registry-unreachable``, ``registry-timeout``, ``registry-unauthorized``,
    ``registry-not-found``, ``registry-rate-limited``, ``registry-error`` for a
    5xx answer, ``registry-malformed`` for an answer that is no manifest,
    ``registry-credentials`` for docker's credentials that cannot be read,
    ``registry-invalid-host`` for a registry or mirror that is no host name,
    ``registry-insecure-redirect`` for a redirect to plain HTTP, and
    ``registry-not-recorded`` for a recording that does not hold the answer),
    ``reference`` what was asked. The message never holds a credential."""

    def __init__(self, code: str, reference: str, message: str) -> None:
        super().__init__(f"{reference}: {message}")
        self.code = code
        self.reference = reference


class ManifestSource(Protocol):
    """Where manifests come from: a live registry client or a recording of one."""

    def manifest(self, reference: ImageRef) -> Manifest:
        """The manifest *reference* (by tag or by digest) names now; raises
        :class:`RegistryError`."""
        ...

    def manifests(self, references: Sequence[ImageRef]) -> dict[ImageRef, Manifest | RegistryError]:
        """:meth:`manifest` for each of *references* (in parallel where the source
        can), each answer or the error for it."""
        ...
