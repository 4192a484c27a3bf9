"""imagegraph: which container images must rebuild, in what order, and why.

Read from the Dockerfiles themselves, the way BuildKit reads them.

>>> import imagegraph
>>> df = imagegraph.parse_dockerfile("FROM python:3.12-slim AS app\\nCOPY . /src")
>>> [str(p.ref) for p in df.parents]
['docker.io/library/python:3.12-slim']
"""

from __future__ import annotations

from imagegraph.diagnostics import Diagnostic, Severity
from imagegraph.dockerfile import (
    AUTOMATIC_ARGS,
    Dockerfile,
    GlobalArg,
    Parent,
    Stage,
    StageRef,
    Usage,
    load_dockerfile,
    parse_dockerfile,
)
from imagegraph.errors import DockerfileSyntaxError, ImageGraphError, InvalidReference
from imagegraph.instructions import Heredoc, Instruction
from imagegraph.reference import ImageRef

__version__ = "0.1.0"

__all__ = [
    "AUTOMATIC_ARGS",
    "Diagnostic",
    "Dockerfile",
    "DockerfileSyntaxError",
    "GlobalArg",
    "Heredoc",
    "ImageGraphError",
    "ImageRef",
    "Instruction",
    "InvalidReference",
    "Parent",
    "Severity",
    "Stage",
    "StageRef",
    "Usage",
    "__version__",
    "load_dockerfile",
    "parse_dockerfile",
]
