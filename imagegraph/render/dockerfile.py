"""One parsed Dockerfile as JSON (``imagegraph/dockerfile/v1``) or as a rich tree for people."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from imagegraph.diagnostics import printable
from imagegraph.dockerfile import Dockerfile, Parent, Stage, StageRef
from imagegraph.render._json import dumps

if TYPE_CHECKING:
    from rich.console import RenderableType

__all__ = ["SCHEMA", "to_data", "to_json", "to_rich"]

SCHEMA = "imagegraph/dockerfile/v1"


def _use(use: Parent | StageRef) -> dict[str, Any]:
    if isinstance(use, StageRef):
        return {"kind": use.kind, "stage": use.index, "name": use.name, "line": use.line}
    return {
        "kind": use.kind,
        "text": use.text,
        "image": str(use.ref) if use.ref else None,
        "resolved": use.resolved,
        "unresolved": list(use.unresolved),
        "line": use.line,
    }


def _stage(stage: Stage) -> dict[str, Any]:
    return {
        "index": stage.index,
        "name": stage.name,
        "from": stage.base_text,
        "platform": stage.platform,
        "line": stage.line,
        "end_line": stage.end_line,
        "uses": [_use(use) for use in stage.uses],
    }


def to_data(dockerfile: Dockerfile, *, target: str | None = None) -> dict[str, Any]:
    """A JSON-ready dictionary: stages, parents, global args and diagnostics.

    With *target*, only the stages that target needs and their parents.
    """
    stages, parents = dockerfile.stages, dockerfile.parents
    if target is not None:
        stages, parents = dockerfile.required_stages(target), dockerfile.parents_for(target)
    return {
        "schema": SCHEMA,
        "path": dockerfile.path,
        "syntax": dockerfile.syntax,
        "target": target,
        "args": [
            {"name": a.name, "default": a.default, "value": a.value, "line": a.line}
            for a in dockerfile.args
        ],
        "stages": [_stage(stage) for stage in stages],
        "parents": [_use(parent) | {"stage": parent.stage} for parent in parents],
        "diagnostics": [
            {
                "code": d.code,
                "severity": d.severity.value,
                "path": d.path,
                "line": d.line,
                "message": d.message,
            }
            for d in dockerfile.diagnostics
        ],
    }


def to_json(dockerfile: Dockerfile, *, target: str | None = None) -> str:
    """:func:`to_data` as indented JSON text, ending in a newline."""
    return dumps(to_data(dockerfile, target=target))


def to_rich(dockerfile: Dockerfile, *, target: str | None = None) -> RenderableType:
    """A tree of stages, each with what it is built from, for a terminal; text
    from the Dockerfile is shown as it is, its control characters escaped."""
    from rich.markup import escape as _escape
    from rich.tree import Tree

    def escape(text: str) -> str:
        return _escape(printable(text, tabs=False))

    tree = Tree(f"[bold]{escape(dockerfile.path or 'Dockerfile')}[/]")
    stages = dockerfile.stages if target is None else dockerfile.required_stages(target)
    for stage in stages:
        title = f"stage {stage.index}"
        if stage.name:
            title += f" [cyan]{escape(stage.name)}[/]"
        title += f" [dim](line {stage.line})[/]"
        node = tree.add(title)
        if stage.is_scratch:
            node.add("from [dim]scratch[/]")
        for use in stage.uses:
            if isinstance(use, StageRef):
                target = use.name or f"stage {use.index}"
                node.add(f"{use.kind} stage [cyan]{escape(target)}[/] [dim](line {use.line})[/]")
            elif use.ref is not None:
                node.add(
                    f"{use.kind} [green]{escape(use.ref.familiar)}[/] [dim](line {use.line})[/]"
                )
            else:
                node.add(
                    f"{use.kind} [yellow]{escape(use.text)}[/] [dim](unresolved, line {use.line})[/]"
                )
    for diagnostic in dockerfile.diagnostics:
        colour = {"error": "red", "warning": "yellow"}.get(diagnostic.severity.value, "blue")
        tree.add(f"[{colour}]{escape(str(diagnostic))}[/]")
    return tree
