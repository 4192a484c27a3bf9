"""Fleet hygiene findings for people and tools: a table, JSON, and SARIF 2.1.0.

Every function formats :class:`~imagegraph.findings.Findings` it is given
and computes nothing. The JSON form (``"schema": "imagegraph/findings/v1"``)
follows :func:`findings_schema`. The SARIF form is what CI code scanning
(GitHub, GitLab, Azure DevOps) reads to show each finding on its Dockerfile
line: one run, a rule per code, results with ``partialFingerprints`` that
do not change when the Dockerfile's lines move.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from imagegraph.diagnostics import Severity, printable
from imagegraph.findings import RULES, Finding, Findings, Rule
from imagegraph.render._json import dumps

if TYPE_CHECKING:
    from rich.console import RenderableType

__all__ = [
    "INFORMATION_URI",
    "OMITTED_PROPERTY",
    "SARIF_MAX_RESULTS",
    "SARIF_SCHEMA",
    "SARIF_VERSION",
    "SCHEMA",
    "findings_schema",
    "sarif_omitted",
    "to_data",
    "to_json",
    "to_sarif",
    "to_table",
]

SCHEMA = "imagegraph/findings/v1"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
INFORMATION_URI = "https://pypi.org/project/imagegraph/"
"""Where ``tool.driver.informationUri`` points: the project's page."""
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


def _facts(finding: Finding) -> dict[str, Any]:
    return dict(finding.facts)


def _edge(finding: Finding) -> dict[str, Any] | None:
    edge = finding.edge
    if edge is None:
        return None
    return {
        "parent": edge.parent,
        "child": edge.child,
        "kind": edge.kind,
        "path": edge.path,
        "line": edge.line,
        "text": edge.text,
        "stage": edge.stage,
        "value": edge.value,
    }


def to_data(findings: Findings) -> dict[str, Any]:
    """The findings as JSON-ready data (``"schema": "imagegraph/findings/v1"``).

    >>> from imagegraph.findings import Finding
    >>> data = to_data(Findings([Finding("isolated-build", Severity.INFO, "a", "a/Dockerfile",
    ...                                  1, "builds only on ...")]))
    >>> data["summary"], data["findings"][0]["where"]
    ({'error': 0, 'warning': 0, 'info': 1}, 'a/Dockerfile:1')
    """
    return {
        "schema": SCHEMA,
        "summary": findings.counts(),
        "findings": [
            {
                "code": f.code,
                "severity": f.severity.value,
                "image": f.image,
                "path": f.path,
                "line": f.line,
                "where": f.where,
                "message": f.message,
                "edge": _edge(f),
                "facts": _facts(f),
            }
            for f in findings
        ],
    }


def to_json(findings: Findings) -> str:
    """:func:`to_data` as indented JSON, ending in a newline."""
    return dumps(to_data(findings))


def findings_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) that :func:`to_data` output follows."""
    nullable_string = {"type": ["string", "null"]}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://imagegraph.invalid/schemas/findings-v1.json",
        "title": SCHEMA,
        "type": "object",
        "required": ["schema", "summary", "findings"],
        "additionalProperties": False,
        "properties": {
            "schema": {"const": SCHEMA},
            "summary": {
                "type": "object",
                "required": [s.value for s in Severity],
                "additionalProperties": False,
                "properties": {s.value: {"type": "integer", "minimum": 0} for s in Severity},
            },
            "findings": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": [
                        "code", "severity", "image", "path", "line", "where", "message",
                        "edge", "facts",
                    ],
                    "additionalProperties": False,
                    "properties": {
                        "code": {"type": "string", "pattern": "^[a-z0-9]+(-[a-z0-9]+)*$"},
                        "severity": {"enum": [s.value for s in Severity]},
                        "image": nullable_string,
                        "path": nullable_string,
                        "line": {"type": ["integer", "null"], "minimum": 1},
                        "where": {"type": "string"},
                        "message": {"type": "string", "minLength": 1},
                        "edge": {
                            "type": ["object", "null"],
                            "required": ["parent", "child", "kind", "path", "line", "text"],
                            "properties": {
                                "kind": {"enum": ["from", "copy", "mount", "context"]},
                            },
                        },
                        "facts": {"type": "object"},
                    },
                },
            },
        },
    }  # fmt: skip


def to_table(findings: Findings) -> RenderableType:
    """A table for people: where, then the severity, code, image and what to do.

    The message has the width the terminal leaves; the location is never cut.
    Text from the repository is plain text (never markup), its control
    characters escaped (:func:`~imagegraph.diagnostics.printable`).
    """
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    if not findings:
        return Text("No findings.")
    summary = ", ".join(
        f"{n} {severity}" if severity == "info" or n == 1 else f"{n} {severity}s"
        for severity, n in findings.counts().items()
        if n
    )
    table = Table(show_lines=True)
    table.add_column("where", overflow="fold", max_width=48)
    table.add_column("finding", ratio=1, min_width=30, overflow="fold")
    for f in findings:
        finding = Text.assemble(
            (f.severity.value, _STYLE[f.severity]), " ", (printable(f.code, tabs=False), "bold")
        )
        if f.image:
            finding.append(f" · {printable(f.image, tabs=False)}")
        finding.append("\n" + printable(f.message, tabs=False))
        table.add_row(Text(printable(f.where or "-", tabs=False)), finding)
    total = f"{len(findings)} finding" + ("s" if len(findings) != 1 else "")
    return Group(table, Text(f"{total}: {summary}"))


# -- SARIF 2.1.0 -------------------------------------------------------------------

SARIF_MAX_RESULTS = 25_000
"""The most results :func:`to_sarif` writes in its run: GitHub code scanning
rejects a run with more. The rest are counted in ``run.properties``."""
OMITTED_PROPERTY = "imagegraph/omitted"
"""The ``run.properties`` key that says how many findings a capped run leaves out."""

# What Markdown (and the HTML GitHub lets through it) would read as markup.
_MARKDOWN_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;"} | {c: "\\" + c for c in "\\`*_[]#|~"}
)


def _markdown(text: str) -> str:
    """*text* as Markdown that shows it as it is: ``<digest>`` is no HTML tag, and
    ``max_depth`` no emphasis."""
    return text.translate(_MARKDOWN_ESCAPES)


def _sarif_rule(rule: Rule, severity: Severity) -> dict[str, Any]:
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": f"{rule.summary} {rule.description}"},
        "help": {"text": rule.help, "markdown": _markdown(rule.help)},
        "defaultConfiguration": {"level": _LEVEL[severity]},
        "properties": {"tags": ["containers", "dockerfile"]},
    }


# A place in a file, as messages write it (imagegraph.toml:12, apps/api/Dockerfile:3:5):
# a path whose last part has an extension or is a Dockerfile, then the line. An
# image reference's tag (debian:12, ghcr.io/acme/tool:1) or a registry's port
# (registry.local:5000/x) is none.
_PLACE = re.compile(
    r"((?:[^\s:()'\"]*/)?(?:[^\s:()'\"/]+\.[A-Za-z][\w-]*|[^\s:()'\"/]*"
    r"(?:Dockerfile|Containerfile)[^\s:()'\"/]*)):\d+(?::\d+)?(?![\d/])"
)


def _fingerprint(finding: Finding, path: str) -> str:
    """What the finding is about, not where it is: its code, image, file, and the
    reference (or stage) it concerns, so moving lines keeps its alert. A finding
    for the files of a tree (``facts`` with ``paths`` and ``directory``) is about
    that tree; one for several builds (``images``) or lines (``places``) of one
    declaration source is about that source."""
    edge = finding.edge
    facts = finding.facts
    directory = facts.get("directory") if "paths" in facts else None
    scope = facts.get("source") or facts.get("directory") or ""
    if "places" in facts:
        # One warning at many lines: the warning and where it is declared, not
        # its count or first places, so a use more or less keeps its alert.
        stem = _PLACE.sub(r"\1", finding.message.rsplit(" (at ", 1)[0])
        subject, path = f"places\0{scope}\0{stem}", ""
    elif "images" in facts and "paths" in facts:
        # Builds of one declaration source as one finding: that source.
        subject, path = f"builds\0{scope}", ""
    elif isinstance(directory, str):
        # Files of one tree as one finding: the tree, not the first file in it
        # nor the count, so adding or removing a file keeps its alert.
        subject, path = f"tree\0{directory}", ""
    elif finding.code in _LINE_FREE:
        subject = ""  # about the whole build
    elif edge is not None:
        subject = f"{edge.kind}\0{edge.stage}\0{edge.value or edge.text}"
    else:
        # A scan diagnostic: its text says what it is about, but for the lines
        # it names (built by 'a' (imagegraph.toml:12)), which move.
        subject = _PLACE.sub(r"\1", finding.message)
    key = "\0".join([finding.code, finding.image or "", path, subject])
    return hashlib.sha256(_utf8(key)).hexdigest()[:32]


SARIF_MAX_RELATED = 1000
"""The most related locations one result carries (GitHub's limit per result)."""


def _related(finding: Finding, prefix: str, root: str | None) -> list[dict[str, Any]]:
    """The other places a finding for many stands for (``facts["places"]``, each
    ``path:line``, or ``facts["paths"]``), as SARIF related locations, so code
    scanning shows each; the first is the result's own location."""
    facts = finding.facts
    places = facts.get("places")
    if isinstance(places, list):
        found = [str(p).rpartition(":")[::2] for p in places[1:]]
    elif isinstance(facts.get("paths"), list):
        found = [(str(p), "1") for p in facts["paths"][1:]]  # type: ignore[index]
    else:
        return []
    related: list[dict[str, Any]] = []
    for n, (path, line) in enumerate(found[:SARIF_MAX_RELATED], start=1):
        location = {
            "artifactLocation": _artifact(path, prefix, root),
            "region": {"startLine": int(line) if line.isdigit() and int(line) >= 1 else 1},
        }
        related.append({"id": n, "physicalLocation": location})
    return related


def _utf8(text: str) -> bytes:
    """*text* as UTF-8, a file name that is not (its bytes decoded with
    ``surrogateescape``) as its own bytes, any other lone surrogate as such."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def _quote(text: str) -> str:
    """*text* percent-encoded for a URI path (a name that is not UTF-8: its bytes)."""
    return quote(_utf8(text), safe="/")


# Findings about a whole build, whatever line they point at.
_LINE_FREE = frozenset({"deep-chain", "isolated-build"})


def _artifact(path: str, prefix: str, root: str | None) -> dict[str, str]:
    """The ``artifactLocation`` of *path* (relative to the fleet): relative to
    ``%SRCROOT%``, normalised and percent-encoded; a ``file:`` URI when it
    leaves the repository (``../shared/Dockerfile``) and the root is known."""
    path = path.replace("\\", "/")
    if posixpath.isabs(path) or _DRIVE.match(path):
        return {"uri": _file_uri(path)}
    joined = posixpath.normpath(prefix + path)
    if (joined == ".." or joined.startswith("../")) and root is not None:
        return {"uri": _file_uri(posixpath.normpath(f"{root}/{joined}"))}
    return {"uri": _quote(joined), "uriBaseId": "%SRCROOT%"}


_DRIVE = re.compile(r"[A-Za-z]:/")


def _file_uri(path: str) -> str:
    """``file:///x/a%20b`` for ``/x/a b``; ``file:///C:/x`` for ``C:/x``."""
    if _DRIVE.match(path):
        return f"file:///{path[:2]}{_quote(path[2:])}"
    return "file://" + _quote(path)


def sarif_omitted(findings: Findings, max_results: int | None = None) -> int:
    """How many of *findings* :func:`to_sarif` leaves out (0 up to *max_results*,
    :data:`SARIF_MAX_RESULTS` by default)."""
    limit = SARIF_MAX_RESULTS if max_results is None else max_results
    return max(0, len(findings) - limit)


def to_sarif(
    findings: Findings,
    *,
    tool_version: str,
    source_root: str | None = None,
    path_prefix: str = "",
    max_results: int | None = None,
) -> str:
    """The findings as a SARIF 2.1.0 log, one run, ending in a newline.

    Locations are ``path_prefix`` + each finding's path, normalised and
    percent-encoded, relative to ``%SRCROOT%`` (``originalUriBaseIds`` gives
    it as *source_root*, a directory, when known): pass the fleet's place
    inside its repository as *path_prefix* (``"infra/images/"``) when it is
    not the repository's root, so code scanning finds the files. A path that
    leaves the repository (``../shared/Dockerfile``) is an absolute ``file:``
    URI when *source_root* is known. ``region.startLine`` is the finding's
    line, 1 for a finding about a whole file. Each code used is a rule, and
    each result's ``ruleIndex`` points at it.

    At most *max_results* results (:data:`SARIF_MAX_RESULTS`, what GitHub
    accepts in a run): the most severe, then in the findings' order; how
    many were left out is ``run.properties["imagegraph/omitted"]``.

    >>> import json
    >>> from imagegraph.findings import Finding
    >>> log = json.loads(to_sarif(Findings([Finding("unpinned-base", Severity.WARNING, "app",
    ...     "app/Dockerfile", 1, "FROM debian has no tag")]), tool_version="0.1.0"))
    >>> result = log["runs"][0]["results"][0]
    >>> result["ruleId"], result["level"], result["locations"][0]["physicalLocation"]["region"]
    ('unpinned-base', 'warning', {'startLine': 1})
    """
    prefix = path_prefix.replace("\\", "/").strip("/")
    prefix = f"{prefix}/" if prefix else ""
    root = Path(source_root).resolve().as_posix().rstrip("/") if source_root is not None else None
    # Fingerprints over every finding, kept or not: which are left out must not
    # change the fingerprints of those written.
    places: list[tuple[dict[str, str], str] | None] = []
    seen: dict[str, int] = {}
    for finding in findings:
        if not finding.path:
            places.append(None)
            continue
        artifact = _artifact(finding.path, prefix, root)
        fingerprint = _fingerprint(finding, artifact["uri"])
        seen[fingerprint] = seen.get(fingerprint, 0) + 1
        places.append((artifact, f"{fingerprint}:{seen[fingerprint]}"))
    kept: Sequence[int] = range(len(findings))
    omitted = sarif_omitted(findings, max_results)
    if omitted:
        ranked = sorted(kept, key=lambda i: findings[i].severity.rank)  # stable: then in order
        kept = sorted(ranked[: len(findings) - omitted])
    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    results: list[dict[str, Any]] = []
    for i in kept:
        finding = findings[i]
        if finding.code not in index:
            index[finding.code] = len(rules)
            # A scan diagnostic's code has no fixed severity: its first finding's stands.
            default = RULES[finding.code].severity if finding.code in RULES else finding.severity
            rules.append(_sarif_rule(finding.rule, default))
        result: dict[str, Any] = {
            "ruleId": finding.code,
            "ruleIndex": index[finding.code],
            "level": _LEVEL[finding.severity],
            "message": {
                "text": f"{finding.image}: {finding.message}" if finding.image else finding.message
            },
        }
        place = places[i]
        if place is not None:
            artifact, fingerprint = place
            line = finding.line if finding.line is not None and finding.line >= 1 else 1
            location = {"artifactLocation": artifact, "region": {"startLine": line}}
            result["locations"] = [{"physicalLocation": location}]
            result["partialFingerprints"] = {
                "imagegraphFinding/v1": fingerprint,
                "primaryLocationLineHash": fingerprint,
            }
            related = _related(finding, prefix, root)
            if related:
                result["relatedLocations"] = related
        properties: dict[str, Any] = {"severity": finding.severity.value}
        if finding.image:
            properties["image"] = finding.image
        if finding.facts:
            properties["facts"] = _facts(finding)
        result["properties"] = properties
        results.append(result)
    base: dict[str, Any] = {"description": {"text": "The root of the repository scanned."}}
    if root is not None:
        base["uri"] = Path(root).as_uri().rstrip("/") + "/"
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "imagegraph",
                "version": tool_version,
                "semanticVersion": tool_version,
                "informationUri": INFORMATION_URI,
                "rules": rules,
            }
        },
        "originalUriBaseIds": {"%SRCROOT%": base},
        "columnKind": "unicodeCodePoints",
        "results": results,
    }
    if omitted:
        run["properties"] = {OMITTED_PROPERTY: omitted}
    log = {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}
    return dumps(log)
