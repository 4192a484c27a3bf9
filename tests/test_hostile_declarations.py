"""Hostile declaration files: bake, compose, imagegraph.toml, library manifests (issue 12: 9, 11).

Every row of the table below is a declaration a fork's pull request could
bring. What must happen is named: a :class:`ConfigError` naming the file
(and the line where it is known) with the reason, or an error diagnostic
naming file, line and entry, while the other entries stay. What must not
happen is checked for every row: no exception but imagegraph's own (a
``RecursionError`` with a deeper caller's stack too), no message that
repeats megabytes. The exponential rows run once more in a child process
with a 1 GiB address-space limit, and through the real CLI with a time
bound, where the errors make the exit code 1. Complexity is checked as a
ratio of two sizes in one run, never as a time.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from imagegraph import load_inventory
from imagegraph.diagnostics import Severity
from imagegraph.inventory import ConfigError, Inventory
from tests.hostile import Entry, assert_contained, build, run_cli

DOCKERFILE = "FROM alpine:3\n"


@dataclass(frozen=True)
class Case:
    """Files, and what reading them must give: an error, or a diagnostic and the builds left."""

    files: dict[str, Entry]
    path: str
    """The file the error or diagnostic names."""
    error: str | None = None
    """Text the ConfigError's message holds."""
    code: str | None = None
    """The diagnostic's code when there is no error."""
    severity: Severity = Severity.ERROR
    line: int | None = None
    builds: set[str] | None = field(default=None)
    """Every build that must still be read, when the file is not refused."""


def bake(text: str) -> dict[str, Entry]:
    return {"docker-bake.hcl": text, "Dockerfile": DOCKERFILE}


def bake_json(text: str) -> dict[str, Entry]:
    return {"docker-bake.json": text, "Dockerfile": DOCKERFILE}


def compose(text: str, env: str | None = None) -> dict[str, Entry]:
    files: dict[str, Entry] = {"compose.yaml": text, "Dockerfile": DOCKERFILE}
    if env is not None:
        files[".env"] = env
    return files


def config(text: str, name: str = "imagegraph.toml") -> dict[str, Entry]:
    return {name: text, "Dockerfile": DOCKERFILE}


def variables(lines: Callable[[int], str], count: int, first: str) -> str:
    return first + "".join(lines(i) for i in range(1, count))


def values(count: int) -> str:
    return "[" + ", ".join(f'"{i}"' for i in range(count)) + "]"


CHAIN = variables(
    lambda i: f'variable "V{i}" {{ default = "${{V{i - 1}}}" }}\n',
    400,
    'variable "V0" { default = "x" }\n',
)
DOUBLING = variables(
    lambda i: f'variable "A{i}" {{ default = "${{A{i - 1}}}${{A{i - 1}}}" }}\n',
    41,
    'variable "A0" { default = "xy" }\n',
)
CONCAT = variables(
    lambda i: f'variable "L{i}" {{ default = concat(L{i - 1}, L{i - 1}) }}\n',
    41,
    'variable "L0" { default = ["x"] }\n',
)
REPLACE = variables(
    lambda i: f'variable "R{i}" {{ default = replace(R{i - 1}, "x", R{i - 1}) }}\n',
    41,
    'variable "R0" { default = "xx" }\n',
)
NESTED_LISTS = variables(
    lambda i: f'variable "N{i}" {{ default = [N{i - 1}, N{i - 1}] }}\n',
    60,
    'variable "N0" { default = ["x"] }\n',
)
# Long chains in JSON: the walk after parsing is the same, and JSON parses 50 times faster.
CYCLE = json.dumps(
    {
        "variable": {f"V{i}": {"default": f"${{V{(i - 1) % 1000}}}"} for i in range(1000)},
        "target": {"t": {"tags": ["${V0}"]}},
    }
)
# The deepest first, so that nothing is resolved yet when it is read.
INHERITS = json.dumps(
    {"target": {f"t{i}": {"inherits": [f"t{i - 1}"]} if i else {} for i in reversed(range(1000))}}
)
GROUPS = json.dumps(
    {
        "target": {"t": {}},
        "group": {
            "g0": {"targets": ["t"]},
            **{f"g{i}": {"targets": [f"g{i - 1}", f"g{i - 1}"]} for i in range(1, 1000)},
            "default": {"targets": ["g999"]},
        },
    }
)
TEN_AXES = ", ".join(f"a{k} = {values(10)}" for k in range(10))
MATRICES = (
    f'target "big" {{\n  name = "big-${{a0}}"\n  matrix = {{ {TEN_AXES} }}\n}}\n'
    f'target "s" {{\n  name = "s-${{a}}-${{b}}"\n  matrix = {{ a = {values(10)}, b = {values(10)} }}\n}}\n'
)
LAUGHS = (
    'x-a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    + "".join(f"x-a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]\n" for i in range(1, 10))
    + "services:\n  a:\n    build:\n      context: .\n      tags: *a0\n    x-all: *a9\n"
)
MERGES = "x-m0: &m0 {a: 1, b: 2}\n" + "".join(
    f"x-m{i}: &m{i}\n  <<: [*m{i - 1}, *m{i - 1}]\n  k{i}: v\n" for i in range(1, 40)
)
ENV_DOUBLING = "A0=xy\n" + "".join(f"A{i}=${{A{i - 1}}}${{A{i - 1}}}\n" for i in range(1, 40))
ENV_REPEATED = (
    "services:\n  a:\n    build: .\n    image: 'x/a:${BIG}" + "${BIG}" * 2000 + "'\n"
    "  b:\n    build: .\n"
)
FOUR_TO_NINE = ", ".join(f'a{k} = ["1", "2", "3", "4"]' for k in range(9))

CASES: dict[str, Case] = {
    # --- bake: deep --------------------------------------------------------------------------
    "bake: 400 chained variables": Case(
        bake(CHAIN + 'target "t" { tags = ["acme/t:${V399}"] }\n'),
        "docker-bake.hcl",
        builds={"t"},
    ),
    "bake: 1,000-deep inherits": Case(
        bake_json(INHERITS), "docker-bake.json", builds={f"t{i}" for i in range(1000)}
    ),
    "bake: 1,000-deep groups, each naming the one below twice": Case(
        bake_json(GROUPS), "docker-bake.json", builds={"t"}
    ),
    "bake: 1,000-long variable cycle": Case(
        bake_json(CYCLE),
        "docker-bake.json",
        error="variables refer to each other in a cycle: V0 -> V999",
        line=1,
    ),
    "bake: 40 nested brackets in a value": Case(
        bake('target "t" { tags = ' + "[" * 40 + '"a"' + "]" * 40 + " }\n"),
        "docker-bake.hcl",
        error="nested more than 32 deep",
        line=1,
    ),
    "bake: 200 nested brackets in a value": Case(
        bake('target "t" { tags = ' + "[" * 200 + '"a"' + "]" * 200 + " }\n"),
        "docker-bake.hcl",
        error="nested",
    ),
    "bake: 200 nested parentheses in an expression": Case(
        bake(
            'variable "A" { default = ' + "(" * 200 + '"a"' + ")" * 200 + " }\n"
            'target "t" { tags = [A] }\n'
        ),
        "docker-bake.hcl",
        code="bake-unresolved",
        severity=Severity.WARNING,
        line=2,
        builds={"t"},
    ),
    "bake: 3,000 terms added in one interpolation": Case(
        bake('target "t" { tags = ["${' + "+".join(["1"] * 3000) + '}"] }\n'),
        "docker-bake.hcl",
        error="nested too deeply to read",
    ),
    "bake: strings in interpolations in strings, 300 deep": Case(
        bake('target "t" { tags = ["' + '${"' * 300 + "x" + '"}' * 300 + '"] }\n'),
        "docker-bake.hcl",
        error="nested too deeply to read",
    ),
    "bake: 10,000 nested JSON arrays": Case(
        bake_json('{"target": {"t": {"tags": ' + "[" * 10000 + "]" * 10000 + "}}}"),
        "docker-bake.json",
        error="nested too deeply to read",
    ),
    "bake: 100 nested JSON arrays": Case(
        bake_json('{"target": {"t": {"tags": ' + "[" * 100 + "]" * 100 + "}}}"),
        "docker-bake.json",
        error="nested more than 32 deep",
        line=1,
    ),
    "bake: an integer of 5,000 digits": Case(
        bake_json('{"target": {"t": {"args": {"X": ' + "9" * 5000 + "}}}}"),
        "docker-bake.json",
        error="more digits than imagegraph reads",
    ),
    "bake: a tag of 5 MB": Case(
        bake_json('{"target": {"t": {"tags": ["' + "a" * 5_000_000 + '"]}}}'),
        "docker-bake.json",
        error="is not an image reference",
        line=1,
    ),
    "bake: split with an empty separator": Case(
        bake('target "t" { tags = split("", "ab") }\n'), "docker-bake.hcl", builds={"t"}
    ),
    "bake: products of products": Case(
        bake(
            variables(
                lambda i: f'variable "P{i}" {{ default = P{i - 1} * P{i - 1} }}\n',
                40,
                'variable "P0" { default = 3 }\n',
            )
            + 'target "t" { args = { X = "${P39 / 7}" } }\n'
        ),
        "docker-bake.hcl",
        code="bake-unresolved",
        severity=Severity.WARNING,
        line=41,
        builds={"t"},
    ),
    # --- bake: growth ------------------------------------------------------------------------
    "bake: a variable doubling 40 times": Case(
        bake(DOUBLING + 'target "t" { args = { X = A40 } }\ntarget "u" {}\n'),
        "docker-bake.hcl",
        code="expansion-too-large",
        line=42,
        builds={"u"},
    ),
    "bake: concat doubling 40 times": Case(
        bake(CONCAT + 'target "t" { tags = L40 }\ntarget "u" {}\n'),
        "docker-bake.hcl",
        code="expansion-too-large",
        line=42,
        builds={"u"},
    ),
    "bake: replace squaring 40 times": Case(
        bake(REPLACE + 'target "t" { tags = [R40] }\ntarget "u" {}\n'),
        "docker-bake.hcl",
        code="expansion-too-large",
        line=42,
        builds={"u"},
    ),
    "bake: a list of itself twice, 60 deep, as a matrix value": Case(
        bake(
            NESTED_LISTS + 'target "t" {\n  name = "t-${v[0][0]}"\n  matrix = { v = [N59] }\n}\n'
            'target "u" {}\n'
        ),
        "docker-bake.hcl",
        code="expansion-too-large",
        line=61,
        builds={"u"},
    ),
    "bake: 10 axes of 10 values beside a 10x10 matrix": Case(
        bake(MATRICES),
        "docker-bake.hcl",
        code="matrix-too-large",
        line=1,
        builds={f"s-{a}-{b}" for a in range(10) for b in range(10)},
    ),
    "bake: exactly 1,024 combinations": Case(
        bake(
            'target "t" {\n  name = "t-${a}-${b}"\n'
            f"  matrix = {{ a = {values(32)}, b = {values(32)} }}\n}}\n"
        ),
        "docker-bake.hcl",
        builds={f"t-{a}-{b}" for a in range(32) for b in range(32)},
    ),
    "bake: 1,025 combinations": Case(
        bake(
            'target "t" {\n  name = "t-${a}-${b}"\n'
            f"  matrix = {{ a = {values(25)}, b = {values(41)} }}\n}}\n"
            'target "u" {}\n'
        ),
        "docker-bake.hcl",
        code="matrix-too-large",
        line=1,
        builds={"u"},
    ),
    # --- compose -----------------------------------------------------------------------------
    "compose: a null service name": Case(
        compose("services:\n  ~:\n    build: .\n"),
        "compose.yaml",
        error="a service has no name",
        line=1,
    ),
    "compose: a NUL character": Case(
        compose("services:\n  a:\n    build: .\x00\n"),
        "compose.yaml",
        error="control character U+0000",
        line=3,
    ),
    "compose: a C1 control character": Case(
        compose("services:\n  a:\n    build: .\n    image: x\x90\n"),
        "compose.yaml",
        error="control character U+0090",
        line=4,
    ),
    "compose: a flow sequence 3,000 deep": Case(
        compose("services:\n  a:\n    build: .\nx-deep: " + "[" * 3000 + "]" * 3000 + "\n"),
        "compose.yaml",
        error="nested too deeply to read",
    ),
    "compose: an explicit !!int that is not one": Case(
        compose("services:\n  a:\n    build: .\n    x-n: !!int twelve\n"),
        "compose.yaml",
        error="a value tagged !!int cannot be read",
        line=4,
    ),
    "compose: a billion laughs of aliases": Case(
        compose(LAUGHS),
        "compose.yaml",
        code="inferred-name",
        severity=Severity.INFO,
        line=12,
        builds={"a"},
    ),
    "compose: merge keys doubling 40 times": Case(
        compose(MERGES + "services:\n  a:\n    build: .\n"),
        "compose.yaml",
        error="merge keys (<<) would make more than 1,000,000 entries",
    ),
    "compose: ${...} nested 2,000 deep": Case(
        compose(
            "services:\n  a:\n    build: .\n    image: '"
            + "${A:-" * 2000
            + "x"
            + "}" * 2000
            + "'\n"
        ),
        "compose.yaml",
        error="more than 32 deep",
        line=4,
    ),
    "compose: extends 1,500 services long": Case(
        compose(
            "services:\n"
            + "".join(f"  s{i}:\n    extends: s{i - 1}\n" for i in reversed(range(1, 1500)))
            + "  s0:\n    build: .\n    image: acme/s\n"
        ),
        "compose.yaml",
        builds={f"s{i}" for i in range(1500)},
    ),
    "compose: .env values doubling": Case(
        compose("services:\n  a:\n    build: .\n", env=ENV_DOUBLING),
        ".env",
        error="characters of text",
    ),
    "compose: a .env quote left open before 200,000 lines": Case(
        compose("services:\n  a:\n    build: .\n", env='A="\n' + "x = y\n" * 200_000),
        ".env",
        error="value of A has no closing",
        line=1,
    ),
    "compose: a large .env value repeated 2,000 times": Case(
        compose(ENV_REPEATED, env="BIG=" + "x" * 100_000 + "\n"),
        "compose.yaml",
        code="expansion-too-large",
        line=2,
        builds={"b"},
    ),
    # --- imagegraph.toml ---------------------------------------------------------------------
    "toml: an array 10,000 deep": Case(
        config("a = " + "[" * 10000 + "]" * 10000 + "\n"),
        "imagegraph.toml",
        error="nested too deeply to read",
    ),
    "toml: exclude = ['[z-a]']": Case(
        config('aliases = {}\n\nexclude = ["[z-a]"]\n'),
        "imagegraph.toml",
        error="'exclude' pattern '[z-a]' is not a gitignore pattern",
        line=3,
    ),
    "pyproject: a bad glob under [tool.imagegraph]": Case(
        config(
            '[tool.ruff]\nexclude = ["x"]\n\n[tool.imagegraph]\nexclude = ["\\\\"]\n',
            name="pyproject.toml",
        ),
        "pyproject.toml",
        error="is not a gitignore pattern",
        line=5,
    ),
    "toml: 4^9 matrix combinations": Case(
        config(
            '[[image]]\nname = "x-${a0}"\ndockerfile = "Dockerfile"\n'
            f"matrix = {{ {FOUR_TO_NINE} }}\n\n"
            '[[image]]\nname = "ok"\ndockerfile = "Dockerfile"\n'
        ),
        "imagegraph.toml",
        code="matrix-too-large",
        line=1,
        builds={"ok"},
    ),
    "toml: an integer of 5,000 digits": Case(
        config("[[image]]\ndockerfile = 'Dockerfile'\ntags = [" + "9" * 5000 + "]\n"),
        "imagegraph.toml",
        error="more digits than imagegraph reads",
    ),
    # --- docker-library manifests -----------------------------------------------------------
    "library: a line of a megabyte that is no field": Case(
        {"imagegraph.toml": '[[manifests]]\npath = "library/x"\n', "library/x": "x" * 1_000_000},
        "library/x",
        error="is not a 'Field: value' line",
        line=1,
    ),
    "library: 200,000 continuation lines": Case(
        {
            "imagegraph.toml": '[[manifests]]\npath = "library/x"\n',
            "library/x": "Maintainers: x\n\nTags: a\nDirectory: d\nConstraints: c\n"
            + " , c\n" * 200_000,
            "d/Dockerfile": DOCKERFILE,
        },
        "library/x",
        builds={"x:a"},
    ),
}


class Hung(Exception):
    pass


def deep(call: Callable[[], Inventory], frames: int = 150) -> Inventory:
    """*call* from *frames* frames further down the stack (a deep caller's margin), and
    no longer than a minute: a hang guard, so a regression fails instead of stalling."""
    if frames == 0:

        def hung(signum: int, frame: object) -> None:
            raise Hung("reading the declarations did not end within 60 s")

        previous = signal.signal(signal.SIGALRM, hung)
        signal.alarm(60)
        try:
            return call()
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
    return deep(call, frames - 1)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_hostile_declaration_ends_in_an_error_or_a_named_diagnostic(
    tmp_path: Path, case: Case
) -> None:
    root = build(tmp_path / "repo", case.files)
    if case.error is not None:
        with pytest.raises(ConfigError) as caught:
            deep(lambda: load_inventory(root))
        error = caught.value
        assert error.path == case.path, str(error)
        assert case.error in error.message, str(error)
        if case.line is not None:
            assert error.line == case.line, str(error)
        assert len(str(error)) < 500, str(error)[:1000]
        return
    inventory = deep(lambda: load_inventory(root))
    if case.code is not None:
        found = [d for d in inventory.diagnostics if d.code == case.code]
        assert found, inventory.diagnostics
        assert all(d.path == case.path and d.severity is case.severity for d in found), found
        assert found[0].line == case.line, found
        assert all(len(d.message) < 500 for d in inventory.diagnostics)
    else:
        assert not [d for d in inventory.diagnostics if d.severity is Severity.ERROR]
    if case.builds is not None:
        assert {b.name for b in inventory.builds} == case.builds


# The rows that grow: together, in one repository, so one run of the CLI sees them all.
GROWING = {
    "imagegraph.toml": (
        '[[image]]\nname = "x-${a0}"\ndockerfile = "Dockerfile"\n'
        f"matrix = {{ {FOUR_TO_NINE} }}\n\n"
        '[[image]]\nname = "ok"\ndockerfile = "Dockerfile"\n\n'
        '[[bake]]\nfile = "doubling.hcl"\n\n[[bake]]\nfile = "concat.hcl"\n\n'
        '[[bake]]\nfile = "matrix.hcl"\n\n[[compose]]\nfile = "compose.yaml"\n'
    ),
    "doubling.hcl": DOUBLING + 'target "t" { args = { X = A40 } }\ntarget "u" {}\n',
    "concat.hcl": CONCAT + 'target "c" { tags = L40 }\n',
    "matrix.hcl": MATRICES,
    "compose.yaml": ENV_REPEATED.replace("  a:", "  ca:").replace("  b:", "  cb:"),
    ".env": "BIG=" + "x" * 100_000 + "\n",
    "Dockerfile": DOCKERFILE,
}
GROWING_ERRORS = [
    ("imagegraph.toml:1", "matrix-too-large"),
    ("doubling.hcl:42", "expansion-too-large"),
    ("concat.hcl:42", "expansion-too-large"),
    ("matrix.hcl:1", "matrix-too-large"),
    ("compose.yaml:2", "expansion-too-large"),
]


def test_growing_declarations_through_the_cli_exit_1_naming_each_entry(tmp_path: Path) -> None:
    root = build(tmp_path / "repo", GROWING)
    ran = run_cli(["graph", "--no-cache", "--format", "json", "."], cwd=root, timeout=60)
    assert ran.code == 1, ran.output[-3000:]
    for where, code in GROWING_ERRORS:
        assert f"{where}: error[{code}]" in ran.stderr, ran.stderr[-3000:]
    assert len(ran.output) < 500_000  # no megabytes of expanded text echoed back
    assert_contained(ran)


MEMORY_SCRIPT = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
from imagegraph import load_inventory
inventory = load_inventory(sys.argv[1])
print(sorted(b.name for b in inventory.builds if not b.name.startswith("s-")))
print(sorted({d.code for d in inventory.diagnostics if d.severity == "error"}))
"""


def test_growing_declarations_stay_within_a_gibibyte(tmp_path: Path) -> None:
    root = build(tmp_path / "repo", GROWING)
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, str(root)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    names, codes = done.stdout.splitlines()
    assert names == "['cb', 'ok', 'u']"
    assert codes == "['expansion-too-large', 'matrix-too-large']"


def manifest(entries: int) -> str:
    return "Maintainers: x\nGitRepo: https://example.com/x.git\n\n" + "".join(
        f"Tags: t{i}, u{i}\nSharedTags: s{i % 7}\nDirectory: d{i}\n\n" for i in range(entries)
    )


def test_a_long_manifest_costs_in_proportion_to_its_entries(tmp_path: Path) -> None:
    """4x the entries must cost less than 8x the time (every tag against every earlier
    entry, and every entry's artifacts against every earlier one's, were quadratic)."""
    from imagegraph._sources.library import read_library

    timings = []
    for size in (500, 2000):
        path = build(tmp_path / str(size), {"x": manifest(size)}) / "x"
        best = float("inf")
        for _ in range(3):  # the best of three: a moment of another process's noise is not ours
            start = time.perf_counter()
            result = read_library(
                path, path.parent, aliases={}, repository=None, checkout=path.parent
            )
            best = min(best, time.perf_counter() - start)
            assert len(result.builds) == size
        timings.append(best)
    assert timings[1] < 8 * timings[0], timings
