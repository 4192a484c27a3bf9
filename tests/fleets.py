"""Small fleets built inline, in the domain's words, for graph, impact, plan and render tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from textwrap import dedent

from imagegraph import ImageBuild, ImageGraph, ImageRef


def write(root: Path, files: Mapping[str, str]) -> Path:
    """Write *files* (path under *root* -> text, dedented) and return *root*."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(text))
    return root


def tag_of(name: str) -> str:
    """The tag a test build produces: ``acme/<name>:1``."""
    return f"acme/{name}:1"


def make_graph(spec: Mapping[str, Sequence[str]], **build_fields: object) -> ImageGraph:
    """A graph where each build ``name`` produces ``acme/<name>:1`` and uses the listed parents.

    A parent that is a build name of *spec* means that build's tag; anything
    else is an external image. ``copy:<ref>`` and ``mount:<ref>`` make it a
    ``COPY --from`` or ``RUN --mount=from=`` use; the first plain parent is
    the ``FROM`` (``scratch`` when there is none).

    >>> make_graph({"base": ["debian:12"], "app": ["base", "copy:alpine:3"]}).parents("app")
    ['base', 'docker.io/library/alpine:3']
    """
    builds = []
    for name, parents in spec.items():
        uses: dict[str, list[str]] = {"from": [], "copy": [], "mount": []}
        for parent in parents:
            kind, ref = "from", parent
            if parent.startswith(("copy:", "mount:")):
                kind, _, ref = parent.partition(":")
            uses[kind].append(tag_of(ref) if ref in spec else ref)
        bases = uses["from"] or ["scratch"]
        lines = [f"FROM {ref} AS s{i}" for i, ref in enumerate(bases)]
        # Everything happens in the last stage, which needs every earlier one.
        lines += [f"COPY --from=s{i} /x /x" for i in range(len(bases) - 1)]
        lines += [f"COPY --from={ref} /x /x" for ref in uses["copy"]]
        lines += [f"RUN --mount=from={ref},target=/m true" for ref in uses["mount"]]
        builds.append(
            ImageBuild(
                name=name,
                dockerfile=f"{name}/Dockerfile",
                context=name,
                tags=(ImageRef.parse(tag_of(name)),),
                dockerfile_inline="\n".join(lines) + "\n",
                **build_fields,  # type: ignore[arg-type]
            )
        )
    return ImageGraph.from_builds(builds)
