"""Image references: the distribution grammar, docker's normalisation, registry aliases."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from imagegraph._pickling import positional_reduce
from imagegraph.errors import InvalidReference

__all__ = ["DEFAULT_REGISTRY", "ImageRef"]

DEFAULT_REGISTRY = "docker.io"
_LEGACY_REGISTRY = "index.docker.io"
_OFFICIAL_PREFIX = "library/"
_NAME_TOTAL_MAX = 255
# Nothing valid comes near this; refusing early keeps every regex below cheap.
_TEXT_MAX = 4096

# The grammar of github.com/distribution/reference, written out piece by piece.
_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_IPV6 = r"\[[a-fA-F0-9:]+\]"
_DOMAIN = rf"(?:{_DOMAIN_NAME}|{_IPV6})(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

_DOMAIN_RE = re.compile(_DOMAIN, re.ASCII)
_PATH_RE = re.compile(rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*", re.ASCII)
_TAG_RE = re.compile(_TAG, re.ASCII)
_DIGEST_RE = re.compile(_DIGEST, re.ASCII)
_HEX64_RE = re.compile(r"[a-f0-9]{64}", re.ASCII)


@dataclass(frozen=True, slots=True)
class ImageRef:
    """A normalised image reference, as docker reads ``FROM`` lines.

    Equality and hashing use the normalised form: ``python``,
    ``python:latest``, ``library/python`` and
    ``index.docker.io/library/python:latest`` are one image.

    >>> ref = ImageRef.parse("python:3.12-slim")
    >>> str(ref)
    'docker.io/library/python:3.12-slim'
    >>> ref.familiar
    'python:3.12-slim'
    >>> ImageRef.parse("python") == ImageRef.parse("docker.io/library/python:latest")
    True
    >>> ImageRef.parse("localhost:5000/team/app@sha256:" + "a" * 64).registry
    'localhost:5000'
    """

    __reduce__ = positional_reduce

    registry: str
    """The registry host, with its port if any (``docker.io`` for Docker Hub)."""
    path: str
    """The repository path inside the registry (``library/python``)."""
    tag: str | None
    """The tag; ``latest`` when neither tag nor digest was written, ``None``
    when only a digest was."""
    digest: str | None
    """The digest (``sha256:...``), or ``None``."""
    text: str = field(default="", compare=False, repr=False)
    """The text the reference was parsed from, as written."""

    @classmethod
    def parse(cls, text: str, *, aliases: Mapping[str, str] | None = None) -> ImageRef:
        """Parse and normalise *text*; raise :class:`InvalidReference` if it is not one.

        *aliases* maps a repository prefix to the one it stands for, on
        whole path components: ``{"mirror.corp/hub": "docker.io"}`` makes
        ``mirror.corp/hub/library/debian:12`` the same image as ``debian:12``.
        The longest matching prefix wins.

        >>> ImageRef.parse("mirror.corp/hub/library/debian:12",
        ...                aliases={"mirror.corp/hub": "docker.io"}).familiar
        'debian:12'
        """
        return _parse(text, tuple(aliases.items()) if aliases else ())

    @property
    def name(self) -> str:
        """The repository with its registry, without tag or digest."""
        return f"{self.registry}/{self.path}"

    @property
    def familiar_name(self) -> str:
        """The repository as people write it: ``python``, ``bitnami/redis``."""
        if self.registry != DEFAULT_REGISTRY:
            return self.name
        if self.path.startswith(_OFFICIAL_PREFIX) and "/" not in self.path[len(_OFFICIAL_PREFIX) :]:
            return self.path[len(_OFFICIAL_PREFIX) :]
        return self.path

    @property
    def familiar(self) -> str:
        """The short form for display; ``:latest`` is left out."""
        out = self.familiar_name
        if self.tag is not None and self.tag != "latest":
            out += f":{self.tag}"
        if self.digest is not None:
            out += f"@{self.digest}"
        return out

    def with_tag(self, tag: str | None) -> ImageRef:
        """The same repository at another tag (``None``: no tag), keeping the digest."""
        if tag is not None and not _TAG_RE.fullmatch(tag):
            raise InvalidReference(tag, "not a valid tag")
        return ImageRef(self.registry, self.path, tag, self.digest, self.text)

    def __str__(self) -> str:
        out = self.name
        if self.tag is not None:
            out += f":{self.tag}"
        if self.digest is not None:
            out += f"@{self.digest}"
        return out


def _split(text: str) -> tuple[str, str, str | None, str | None]:
    if not text:
        raise InvalidReference(text, "empty reference")
    if len(text) > _TEXT_MAX:
        raise InvalidReference(text[:60] + "...", f"longer than {_TEXT_MAX} characters")
    if _HEX64_RE.fullmatch(text):
        raise InvalidReference(text, "a 64-character hexadecimal string is an image ID, not a name")

    rest, at, digest = text.partition("@")
    if at and not _DIGEST_RE.fullmatch(digest):
        raise InvalidReference(text, f"invalid digest {digest!r}")
    # A tag is what follows the last colon after the last slash (a colon
    # before it belongs to a registry port).
    tag: str | None = None
    colon = rest.rfind(":")
    if colon > rest.rfind("/"):
        rest, tag = rest[:colon], rest[colon + 1 :]
        if not _TAG_RE.fullmatch(tag):
            raise InvalidReference(text, f"invalid tag {tag!r}")

    registry, path = _split_registry(rest)
    if registry != DEFAULT_REGISTRY and not _DOMAIN_RE.fullmatch(registry):
        raise InvalidReference(text, f"invalid registry {registry!r}")
    if path.lower() != path:
        raise InvalidReference(text, "repository name must be lowercase")
    if not _PATH_RE.fullmatch(path):
        raise InvalidReference(text, f"invalid repository path {path!r}")
    if len(registry) + 1 + len(path) > _NAME_TOTAL_MAX:
        raise InvalidReference(text, f"repository name longer than {_NAME_TOTAL_MAX} characters")
    return registry, path, tag, digest or None


def _split_registry(name: str) -> tuple[str, str]:
    """Docker's rule for telling a registry from the first path component."""
    first, slash, remainder = name.partition("/")
    if not slash:
        return DEFAULT_REGISTRY, _OFFICIAL_PREFIX + name
    if first == "localhost":
        return first, remainder
    if first == _LEGACY_REGISTRY:
        registry, path = DEFAULT_REGISTRY, remainder
    elif "." in first or ":" in first or first.lower() != first:
        registry, path = first, remainder
    else:
        registry, path = DEFAULT_REGISTRY, name
    if registry == DEFAULT_REGISTRY and "/" not in path:
        path = _OFFICIAL_PREFIX + path
    return registry, path


def _apply_aliases(registry: str, path: str, aliases: Mapping[str, str]) -> tuple[str, str]:
    full = f"{registry}/{path}"
    best: tuple[str, str] | None = None
    for prefix, target in aliases.items():
        key = _normalise_prefix(prefix)
        if (full == key or full.startswith(key + "/")) and (
            best is None or len(key) > len(best[0])
        ):
            best = (key, _normalise_prefix(target))
    if best is None:
        return registry, path
    key, target = best
    rewritten = target + full[len(key) :]
    new_registry, _, new_path = rewritten.partition("/")
    if not new_path:
        raise InvalidReference(rewritten, "an alias must leave a repository path")
    if new_registry == DEFAULT_REGISTRY and "/" not in new_path:
        new_path = _OFFICIAL_PREFIX + new_path
    return new_registry, new_path


def _normalise_prefix(prefix: str) -> str:
    """``docker.io`` stays a bare registry; ``bitnami/minideb`` gains its registry."""
    prefix = prefix.strip("/")
    if "/" not in prefix and ("." in prefix or ":" in prefix or prefix == "localhost"):
        return DEFAULT_REGISTRY if prefix == _LEGACY_REGISTRY else prefix
    registry, path = _split_registry(prefix)
    return f"{registry}/{path}"


@functools.lru_cache(maxsize=1 << 16)
def _parse(text: str, aliases: tuple[tuple[str, str], ...]) -> ImageRef:
    # A fleet names the same few hundred images thousands of times; the
    # result is immutable, so one parse serves every use (InvalidReference
    # is raised afresh each time: lru_cache does not keep exceptions).
    registry, path, tag, digest = _split(text)
    if aliases:
        registry, path = _apply_aliases(registry, path, dict(aliases))
    if tag is None and digest is None:
        tag = "latest"
    # An exact str: the cache answers every equal text with this reference, and a
    # str subclass kept here (compose's line-remembering strings) would reach
    # other fleets' graphs, whose snapshots then could not be loaded.
    return ImageRef(registry, path, tag, digest, str(text))
