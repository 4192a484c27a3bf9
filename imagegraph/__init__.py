"""imagegraph: which container images must rebuild, in what order, and why.

Read from the Dockerfiles themselves, the way BuildKit reads them.

>>> import imagegraph
>>> df = imagegraph.parse_dockerfile("FROM python:3.12-slim AS app\\nCOPY . /src")
>>> [str(p.ref) for p in df.parents]
['docker.io/library/python:3.12-slim']
"""

from __future__ import annotations

from imagegraph._version import __version__
from imagegraph.advisories import PackageChange, load_osv
from imagegraph.diagnostics import Diagnostic, Severity
from imagegraph.diff import BuildDiff, FieldChange, GraphDiff, diff, diff_revisions
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
from imagegraph.findings import Finding, Findings, LintPolicy, findings
from imagegraph.frames import GraphFrames, MissingExtra
from imagegraph.graph import Edge, EdgeKind, GraphCycleError, ImageGraph, UnknownImage, scan
from imagegraph.image_packages import ImagePackage, PackageList
from imagegraph.impact import Change, EntryChange, FileChange, Impact, StaleChange, impact
from imagegraph.instructions import Heredoc, Instruction
from imagegraph.inventory import ConfigError, ImageBuild, Inventory, load_inventory
from imagegraph.layers import collapse, depths, foundations
from imagegraph.plan import PlannedBuild, RebuildPlan, Schedule, load_durations, plan
from imagegraph.reference import ImageRef
from imagegraph.registry import RegistryClient
from imagegraph.render.picture import Picture
from imagegraph.revision import scan_revision
from imagegraph.stale import Freshness, RecordedManifests, StaleReport, check_stale, record

__all__ = [
    "AUTOMATIC_ARGS",
    "BuildDiff",
    "Change",
    "ConfigError",
    "Diagnostic",
    "Dockerfile",
    "DockerfileSyntaxError",
    "Edge",
    "EdgeKind",
    "EntryChange",
    "FieldChange",
    "FileChange",
    "Finding",
    "Findings",
    "Freshness",
    "GlobalArg",
    "GraphCycleError",
    "GraphDiff",
    "GraphFrames",
    "Heredoc",
    "ImageBuild",
    "ImageGraph",
    "ImageGraphError",
    "ImagePackage",
    "ImageRef",
    "Impact",
    "Instruction",
    "InvalidReference",
    "Inventory",
    "LintPolicy",
    "MissingExtra",
    "PackageChange",
    "PackageList",
    "Parent",
    "Picture",
    "PlannedBuild",
    "RebuildPlan",
    "RecordedManifests",
    "RegistryClient",
    "Schedule",
    "Severity",
    "Stage",
    "StageRef",
    "StaleChange",
    "StaleReport",
    "UnknownImage",
    "Usage",
    "__version__",
    "check_stale",
    "collapse",
    "depths",
    "diff",
    "diff_revisions",
    "findings",
    "foundations",
    "impact",
    "load_dockerfile",
    "load_durations",
    "load_inventory",
    "load_osv",
    "parse_dockerfile",
    "plan",
    "record",
    "scan",
    "scan_revision",
]
