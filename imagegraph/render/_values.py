"""Values of a build that a format cannot hold: the error that refuses them, and the checks."""

from __future__ import annotations

import re

from imagegraph.diagnostics import printable
from imagegraph.errors import ImageGraphError
from imagegraph.inventory import ImageBuild

__all__ = ["LINE_BREAK", "build_arguments", "refuse"]

LINE_BREAK = re.compile("[\n\r\x0b\x0c\x85\u2028\u2029]")
"""Where a line ends for a YAML or CSV reader, a shell's ``read``, or make."""


def refuse(build: ImageBuild, field: str, value: str, why: str) -> ImageGraphError:
    """The error for a value of *build* that a format cannot hold: it names the
    build, where it is declared, the field and the value (escaped, shortened).

    >>> str(refuse(ImageBuild("api", "api/Dockerfile", "api"), "tag", "a\\nb", "is bad"))
    "build 'api': tag 'a\\\\nb' is bad"
    """
    shown = value if len(value) <= 80 else value[:77] + "..."
    where = f" ({build.origin})" if build.origin else ""
    return ImageGraphError(printable(f"build {build.name!r}{where}: {field} {shown!r} {why}"))


def build_arguments(build: ImageBuild, fmt: str) -> list[str]:
    """``NAME=VALUE`` for each build argument of *build*, for a format *fmt* that
    passes them as ``--build-arg``, one a line: refused when a name is empty or
    holds ``=`` (the value would start elsewhere), or a name or value a line break
    (a second argument)."""
    arguments = []
    for key, value in sorted(build.args.items()):
        if not key or "=" in key:
            raise refuse(build, "build argument", key, f"is not a name {fmt} can pass")
        for text in (key, value):
            if LINE_BREAK.search(text):
                raise refuse(
                    build, f"build argument {key}", text,
                    f"holds a line break, which {fmt} would read as a second argument",
                )  # fmt: skip
        arguments.append(f"{key}={value}")
    return arguments
