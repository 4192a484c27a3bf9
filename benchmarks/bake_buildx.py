"""Differential check: imagegraph's bake reader next to the real ``docker buildx bake --print``.

Usage::

    python benchmarks/bake_buildx.py BUILDX_BINARY BUILDX_SOURCE [--show N] [--only NAME]

BUILDX_SOURCE is a checkout of docker/buildx. Every raw Go string in its
``bake/hcl_test.go`` and ``bake/bake_test.go`` that is a bake file (it
declares a ``target``) becomes one case, named after the Go test it comes
from; nothing of buildx is copied into this repository, the cases are read
from the checkout each run. Each case is written to an empty directory as
``docker-bake.hcl`` (or ``.json``) and given to both readers, asking for
every target the file declares:

* buildx: ``BUILDX_BINARY bake -f FILE --print TARGETS...`` with an empty
  environment (no variable overrides, an empty ``DOCKER_CONFIG``);
* imagegraph: ``read_bake`` on the same file and targets.

With ``--fuzz N`` the cases are instead N random files made of
expressions bake evaluates, refuses, or that imagegraph leaves unevaluated
(``--seed`` picks them), compared the same way.

Per case the outcome is one of: both refuse the file; both read it and
agree on every target (context, Dockerfile, tags, args, target, platforms,
named contexts, compared after normalising paths); both read it and
disagree; imagegraph leaves a value unevaluated (``bake-unresolved``) where
buildx has one; only buildx refuses; only imagegraph refuses. Targets built
from a remote context, which imagegraph does not read, are not compared.
The figures are printed; nothing here is a pass/fail check. Last run
(buildx built from its source of December 2026): 135 of buildx's 142 bake
test files get buildx's answer (97 read alike, 38 refused by both); of the
other seven, four are refused by buildx for what it checks when it builds
(a secret file that does not exist, a matrix key that is a list, an arg that
is a list, with a JSON override), one uses ``BAKE_CMD_CONTEXT`` and two
combine several files. ``--fuzz 300`` gives 287 and 294 of 300 (seeds 13
and 7); the rest are values imagegraph leaves unevaluated (``1 / 0``,
``timestamp()``) or tags it refuses that ``bake --print`` does not check. Many cases set
environment variables or pass overrides in Go, which this run does not:
both readers see the file's defaults, so the cases still compare like with
like, though not with the Go test's own expectations.
"""

from __future__ import annotations

import argparse
import json
import os
import posixpath
import random
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from imagegraph import ImageGraphError
from imagegraph._sources.bake import read_bake
from imagegraph.inventory import ImageBuild

TEST_FILES = ("bake/hcl_test.go", "bake/bake_test.go")
RAW_STRING = re.compile(r"`([^`]*)`", re.DOTALL)
TEST_NAME = re.compile(r"^func (Test\w+)\(", re.MULTILINE)
HCL_TARGET = re.compile(r'^\s*target\s+"([^"]+)"', re.MULTILINE)
REMOTE = ("https://", "http://", "git://", "ssh://", "github.com/", "git@")


def cases(source: Path) -> list[tuple[str, str]]:
    """(name, text) of every bake file written in buildx's bake tests, each once."""
    found: dict[str, str] = {}
    for name in TEST_FILES:
        go = (source / name).read_text(encoding="utf-8")
        starts = [(m.start(), m.group(1)) for m in TEST_NAME.finditer(go)]
        for match in RAW_STRING.finditer(go):
            text = match.group(1)
            if not (HCL_TARGET.search(text) or '"target"' in text):
                continue
            test = next((t for start, t in reversed(starts) if start < match.start()), "?")
            if text not in found.values():
                index = sum(1 for key in found if key.startswith(f"{test}#"))
                found[f"{test}#{index + 1}"] = text
    return list(found.items())


# Pieces of random bake files for --fuzz: expressions that bake evaluates, refuses or that
# imagegraph leaves unevaluated, over two variables and a function.
FUZZ_VALUES = [
    '"a"',
    "V",
    "L",
    "M",
    "null",
    "1",
    "true",
    '"${V}-x"',
    "L[0]",
    "L[5]",
    'M["a"]',
    'M["z"]',
    "UNDEF",
    "upper(V)",
    'lower("A")',
    "length(L)",
    "length(V)",
    'join("-", L)',
    'split(",", "a,b")',
    'format("%s/%d", V, 2)',
    'format("%q", V)',
    "coalesce(null, V)",
    'coalesce("", V)',
    "concat(L, L)",
    "flatten([L, [L]])",
    "distinct(L)",
    'contains(L, "a")',
    "keys(M)",
    "values(M)",
    'lookup(M, "z", "d")',
    'lookup(M, "z")',
    "element(L, 3)",
    "index(L, 1)",
    'indexof(L, "b")',
    "range(3)",
    "sort(L)",
    "tostring(1)",
    'f("q")',
    "f()",
    'try(M["z"], "t")',
    'can(M["z"])',
    "substr(V, 0, 2)",
    'trimprefix(V, "v")',
    '[for x in L : "${x}!"]',
    '{ for k, v in M : k => "${v}" }',
    "true ? V : UNDEF",
    "false ? V : UNDEF",
    'notequal(V, "") ? "y" : "n"',
    "1 + 2 * 3",
    '"${1 / 0}"',
    "target.t0.tags",
    "target.t0.dockerfile",
    "jsonencode(M)",
    "sha1(V)",
    "timestamp()",
]
FUZZ_ATTRIBUTES = ["tags", "args", "platforms", "dockerfile", "target", "context", "labels"]


def fuzz_case(rng: random.Random) -> str:
    lines = [
        'variable "V" {\n  default = "v1"\n}\n',
        'variable "L" {\n  default = ["a", "b"]\n}\n',
        'variable "M" {\n  default = { a = "1" }\n}\n',
        'function "f" {\n  params = [p]\n  result = "${p}-${V}"\n}\n',
    ]
    for index in range(rng.randint(1, 3)):
        body = []
        for key in rng.sample(FUZZ_ATTRIBUTES, rng.randint(1, 3)):
            value = rng.choice(FUZZ_VALUES)
            if key in ("tags", "platforms"):
                body.append(f"  {key} = [{value}]")
            elif key in ("args", "labels"):
                body.append(f"  {key} = {{ K = {value} }}")
            else:
                body.append(f"  {key} = {value}")
        lines.append(f'target "t{index}" {{\n' + "\n".join(body) + "\n}\n")
    return "".join(lines)


def target_names(text: str) -> list[str]:
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            return []
        targets = data.get("target") if isinstance(data, dict) else None
        return list(targets) if isinstance(targets, dict) else []
    return list(dict.fromkeys(HCL_TARGET.findall(text)))


def run_buildx(binary: str, directory: Path, file: str, targets: list[str]) -> dict | str:
    """The targets buildx prints, or its error message."""
    config = directory / ".docker"
    config.mkdir(exist_ok=True)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(directory), "DOCKER_CONFIG": str(config)}
    try:
        ran = subprocess.run(
            [binary, "bake", "-f", file, "--print", *targets],
            cwd=directory,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return "timed out"
    if ran.returncode != 0:
        errors = [line for line in ran.stderr.splitlines() if line.startswith("ERROR")]
        return (errors or ["exit status " + str(ran.returncode)])[-1]
    printed = json.loads(ran.stdout)
    return printed.get("target", {})


def norm(path: str) -> str:
    return posixpath.normpath(path) if path else "."


def context_value(value: str) -> str:
    """A named context's value: a local path normalised, anything else as it is."""
    if value.startswith(("target:", *REMOTE)) or "://" in value:
        return value
    return norm(value)


def from_buildx(target: dict) -> dict:
    context = target.get("context", ".")
    dockerfile = target.get("dockerfile", "Dockerfile")
    inline = target.get("dockerfile-inline")
    contexts = {
        key: context_value(value.removeprefix("cwd://"))
        for key, value in (target.get("contexts") or {}).items()
    }
    return {
        "context": norm(context),
        "dockerfile": None if inline is not None else norm(posixpath.join(context, dockerfile)),
        "dockerfile-inline": inline,
        "tags": sorted(target.get("tags") or []),
        "args": {k: v for k, v in (target.get("args") or {}).items() if v is not None},
        "target": target.get("target"),
        "platforms": sorted(dict.fromkeys(target.get("platforms") or [])),
        "contexts": contexts,
    }


def from_imagegraph(build: ImageBuild) -> dict:
    return {
        "context": norm(build.context),
        "dockerfile": None if build.dockerfile_inline is not None else norm(build.dockerfile),
        "dockerfile-inline": build.dockerfile_inline,
        "tags": sorted(tag.text or tag.familiar for tag in build.tags),
        "args": dict(build.args),
        "target": build.target,
        "platforms": sorted(build.platforms),
        "contexts": {k: context_value(v) for k, v in build.contexts.items()},
    }


def compare(name: str, text: str, binary: str) -> tuple[str, str]:
    """The outcome of one case and what it says."""
    targets = target_names(text)
    if not targets:
        return "skipped", "no target names found"
    file = "docker-bake.json" if text.lstrip().startswith("{") else "docker-bake.hcl"
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        (directory / file).write_text(text, encoding="utf-8")
        theirs = run_buildx(binary, directory, file, targets)
        try:
            result = read_bake(directory / file, directory, aliases={}, targets=targets)
            ours: dict[str, dict] | str = {b.name: from_imagegraph(b) for b in result.builds}
            unresolved = [d for d in result.diagnostics if d.code == "bake-unresolved"]
        except ImageGraphError as err:
            ours, unresolved = str(err), []
    if isinstance(theirs, str) and isinstance(ours, str):
        return "both refuse", f"buildx: {theirs} | imagegraph: {ours}"
    if isinstance(theirs, str):
        return "only buildx refuses", theirs
    if isinstance(ours, str):
        return "only imagegraph refuses", ours
    expected = {
        key: from_buildx(value)
        for key, value in theirs.items()
        if not str(value.get("context", "")).startswith(REMOTE)
        and "://" not in str(value.get("context", ""))
    }
    if set(expected) != set(ours):
        return "disagree", f"targets: buildx {sorted(expected)} imagegraph {sorted(ours)}"
    for key in expected:
        for field, value in expected[key].items():
            if ours[key][field] != value:
                kind = "unresolved" if unresolved else "disagree"
                return kind, f"{key}.{field}: buildx {value!r} imagegraph {ours[key][field]!r}"
    return "agree", f"{len(expected)} targets"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("buildx", help="the buildx binary")
    parser.add_argument("source", type=Path, help="a checkout of docker/buildx")
    parser.add_argument("--show", type=int, default=20, help="cases shown per outcome")
    parser.add_argument("--only", help="run the cases whose name contains this")
    parser.add_argument(
        "--fuzz", type=int, default=0, help="instead, this many random files (--seed)"
    )
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    outcomes: dict[str, list[tuple[str, str]]] = {}
    if args.fuzz:
        rng = random.Random(args.seed)
        chosen = [(f"fuzz#{i + 1}", fuzz_case(rng)) for i in range(args.fuzz)]
    else:
        chosen = cases(args.source)
    for name, text in chosen:
        if args.only and args.only not in name:
            continue
        outcome, detail = compare(name, text, os.path.abspath(args.buildx))
        outcomes.setdefault(outcome, []).append((name, detail))
    counts = Counter({k: len(v) for k, v in outcomes.items()})
    total = sum(counts.values())
    for outcome, count in counts.most_common():
        print(f"{outcome:>24}: {count:4d}")
        for name, detail in outcomes[outcome][: args.show if outcome != "agree" else 0]:
            print(f"{'':>26}{name}: {detail[:300]}")
    same = counts["agree"] + counts["both refuse"]
    print(f"{'same answer':>24}: {same} of {total} ({100 * same / max(total, 1):.0f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
