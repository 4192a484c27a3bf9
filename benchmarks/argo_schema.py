"""Check ``imagegraph plan --format argo`` against Argo Workflows' own JSON schema.

Usage::

    python benchmarks/argo_schema.py SCHEMA PLAN_OR_FLEET [PLAN_ARGS...]

SCHEMA is ``api/jsonschema/schema.json`` of argoproj/argo-workflows (taken
from a checkout each run; nothing of Argo is copied into this repository).
PLAN_OR_FLEET is a file holding a plan written with ``--format argo``
(``-`` reads standard input), or a fleet directory: then
``imagegraph plan FLEET --format argo PLAN_ARGS...`` is run (with this
interpreter) and its output checked; a PLAN_ARGS of ``--changed-files -``
reads the list from this script's standard input.

Each object is validated against the schema's definition for its kind
(``io.argoproj.workflow.v1alpha1.<Kind>``); a ``List`` has each item
validated the same way. Argo's schema allows any field it does not declare
(it has no ``additionalProperties: false``) while ``argo lint``,
``argo submit`` and ``argo template create`` refuse an unknown field
(``--strict``, their default), so a field the schema does not declare is
reported as well (``unknown field``), unless ``--lenient``. Prints one
line per object and one per problem; exits 1 if any object fails.

Last run (Argo's schema at its commit of August 2026, strict): valid are
the example fleet's plan (all builds; ``--changed debian:bookworm``;
``--max-parallel 2``), the empty plan (a ``suspend`` entrypoint), a
compose build with ``dockerfile_inline``, and a generated fleet of 3,000
Dockerfiles (3,545 images), written as a ``List`` of seven
``WorkflowTemplate`` slices and the ``Workflow`` that runs them.
"""

from __future__ import annotations

import argparse
import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

PREFIX = "io.argoproj.workflow.v1alpha1."


def _strict(node: Any) -> Any:
    """*node* with every object that declares its properties closed to others."""
    if isinstance(node, dict):
        closed = {key: _strict(value) for key, value in node.items()}
        if "properties" in node and "additionalProperties" not in node:
            closed["additionalProperties"] = False
        return closed
    if isinstance(node, list):
        return [_strict(value) for value in node]
    return node


def _validator(schema: dict[str, Any], kind: str, *, strict: bool) -> Draft202012Validator:
    definitions = schema["definitions"]
    if PREFIX + kind not in definitions:
        raise SystemExit(f"the schema has no definition for kind {kind!r}")
    if strict:
        definitions = _strict(copy.deepcopy(definitions))
    root = {
        "$schema": schema.get("$schema", "https://json-schema.org/draft/2020-12/schema"),
        "$ref": f"#/definitions/{PREFIX}{kind}",
        "definitions": definitions,
    }
    return Draft202012Validator(root)


def _path(error: Any) -> str:
    return "/".join(str(part) for part in error.absolute_path) or "(root)"


def _message(error: Any) -> str:
    if error.validator == "additionalProperties" and error.validator_value is False:
        return "unknown field: " + str(error.message).split("(")[-1].rstrip(")")
    message = str(error.message)
    return message if len(message) < 300 else message[:300] + "..."


def check(document: dict[str, Any], schema: dict[str, Any], *, strict: bool) -> int:
    """Print the outcome for every object of *document*; the number that failed."""
    if document.get("kind") == "List":
        objects = document.get("items", [])
        print(f"List of {len(objects)} items")
    else:
        objects = [document]
    validators: dict[str, Draft202012Validator] = {}
    failed = 0
    for index, item in enumerate(objects):
        kind = item.get("kind", "?")
        if kind not in validators:
            validators[kind] = _validator(schema, kind, strict=strict)
        errors = sorted(validators[kind].iter_errors(item), key=lambda e: list(e.absolute_path))
        meta = item.get("metadata", {})
        label = f"[{index}] {kind} {meta.get('name') or meta.get('generateName', '?')}"
        size = len(json.dumps(item, separators=(",", ":")).encode("utf-8"))
        if errors:
            failed += 1
            print(f"{label}: FAIL ({len(errors)} errors, {size} bytes)")
            for error in errors[:20]:
                print(f"    {_path(error)}: {_message(error)}")
        else:
            print(f"{label}: ok ({size} bytes)")
    return failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("schema", type=Path)
    parser.add_argument("target", help="a plan file (--format argo), '-', or a fleet directory")
    parser.add_argument("plan_args", nargs=argparse.REMAINDER, help="more arguments to plan")
    parser.add_argument("--lenient", action="store_true", help="allow fields the schema lacks")
    args = parser.parse_args(argv)
    schema = json.loads(args.schema.read_text(encoding="utf-8"))
    if args.target == "-":
        text = sys.stdin.read()
    elif Path(args.target).is_dir():
        command = [sys.executable, "-m", "imagegraph.cli", "plan", args.target, "--format", "argo"]
        command += args.plan_args
        stdin = sys.stdin.read() if "-" in args.plan_args else None
        done = subprocess.run(command, input=stdin, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(f"imagegraph plan exited {done.returncode}: {done.stderr.strip()}")
            return 2
        text = done.stdout
    else:
        text = Path(args.target).read_text(encoding="utf-8")
    print(f"{len(text.encode('utf-8'))} bytes of plan")
    failed = check(json.loads(text), schema, strict=not args.lenient)
    print("FAILED" if failed else "all valid", f"({failed} failed)" if failed else "")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
