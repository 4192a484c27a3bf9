"""Names of images for people, and identifiers for formats with stricter names than builds have."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from imagegraph.errors import InvalidReference
from imagegraph.reference import ImageRef

__all__ = ["IMPORTED", "familiar", "safe_names"]

IMPORTED = "imported from OCI layout"
"""How the views name an image imported from an OCI layout (bashbrew's
``Builder: oci-import``) beside its name or in its tooltip."""

_NOT_SAFE = re.compile(r"[^A-Za-z0-9_-]+")
_NOT_SAFE_DOTS = re.compile(r"[^A-Za-z0-9_.-]+")
_NOT_DNS = re.compile(r"[^a-z0-9-]+")


@functools.lru_cache(maxsize=4096)
def familiar(node: str) -> str:
    """A graph node as people write it: an external image (named by its
    normalised reference) in familiar form, a build name as it is (a build
    name is never its own normalised reference).

    >>> familiar("docker.io/library/debian:bookworm"), familiar("api")
    ('debian:bookworm', 'api')
    """
    if "/" not in node:  # a normalised reference always has one
        return node
    try:
        ref = ImageRef.parse(node)
    except InvalidReference:
        return node
    return ref.familiar if str(ref) == node else node


def safe_names(
    names: Iterable[str], *, dots: bool = False, dns: bool = False, reserved: Iterable[str] = ()
) -> dict[str, str]:
    """Map each name to one of letters, digits, ``_``, ``-`` (and ``.`` with *dots*), all distinct.

    Runs of other characters become ``-``; a name that then collides with an
    earlier one (or with a *reserved* name) gets ``-2``, ``-3``, ... in the
    order given. With *dns*, names are DNS-1123 labels (Argo and Kubernetes
    names): lower case letters, digits and ``-``, at most 63 characters.

    >>> safe_names(["python:3.12", "python/3.12", "api"])
    {'python:3.12': 'python-3-12', 'python/3.12': 'python-3-12-2', 'api': 'api'}
    >>> safe_names(["python:3.12"], dots=True)
    {'python:3.12': 'python-3.12'}
    >>> safe_names(["API_v2", "api/v2"], dns=True)
    {'API_v2': 'api-v2', 'api/v2': 'api-v2-2'}
    >>> safe_names(["all", "web"], reserved=["all"])
    {'all': 'all-2', 'web': 'web'}
    """
    pattern = _NOT_DNS if dns else _NOT_SAFE_DOTS if dots else _NOT_SAFE
    result: dict[str, str] = {}
    used: set[str] = set(reserved)
    for name in names:
        if name in result:
            continue
        candidate = pattern.sub("-", name.lower() if dns else name).strip("-.")
        if dns:  # room for a "-NNNNNN" suffix within 63 characters
            candidate = candidate[:55].rstrip("-")
        candidate = candidate or "image"
        unique, counter = candidate, 2
        while unique in used:
            unique, counter = f"{candidate}-{counter}", counter + 1
        used.add(unique)
        result[name] = unique
    return result
