"""One generated fleet declared in every format, each scanned and planned in a process of its own.

Usage::

    python benchmarks/formats.py [SIZE ...] [--formats toml,bake-hcl,...] [--dir DIR]
                                 [--seed S] [--change REF] [--package NAME] [--profile DIR]

SIZE is a number of Dockerfiles (default 10,000 50,000 137,000). For each
size and format (``toml``, ``bake-hcl``, ``bake-json``, ``compose``,
``manifests``, ``convention``: see ``benchmarks/generate_fleet.py``) the
fleet of that seed and size is written to a temporary directory (or, with
``--dir``, to ``DIR/<format>-<size>``, kept and reused when it is there;
a new fleet is left to age past the two seconds within which imagegraph
trusts no file's stamp, else no warm run could use the cache), and a fresh
Python process, with an empty temporary
``IMAGEGRAPH_CACHE_DIR``, measures on it, in this order:

* cold: ``scan`` with the cache empty (it fills it) and ``plan`` of a base
  image change (``--change``, default ``debian:bookworm-slim``), then
  ``plan`` of a package change (``--package``, default ``libssl3``: the
  route of ``imagegraph plan --package``) on the same graph;
* warm: ``scan`` again, from the cache the cold run wrote, then ``plan`` of
  the base change, of the package change and of one changed file (the
  first framework's Dockerfile, as ``--changed-files`` gives it);
* the peak resident memory of that process so far (its own, from
  ``resource``; the parse workers of a cold scan are other processes);
* beside them, on the same Dockerfiles: the floor (read every file, one
  ``FROM`` regex) and dockerfile-parse (``structure`` and
  ``parent_images``, one core), measured once per size, in the first
  format's process (the Dockerfiles are the same bytes in every format).

Each ``plan`` figure is ``impact`` + ``plan`` (``graph.plan`` does both).
"package / base" is what a package change costs against a base change,
scan included: (scan + package plan) / (scan + base plan), cold and warm.
A fresh process per run keeps each peak memory and each cold start its
own. The result is one markdown table, ready for the README, then the cold
cost per Dockerfile at each size with its growth from one size to the next
(linear: 1.0x), and what the graphs are: builds, edges, and whether each
format's graph is the toml fleet's (the same edges between the same tags).
``--repeat N`` measures each format and size N times, each in a fresh
process, and keeps the least of each time (on a shared machine the runs
differ by up to twice; the least is the one least disturbed). Every
run's figures are also printed to stderr as JSON as they come.
``--profile DIR`` also runs, in yet another process per format and size,
a cold, then a warm scan and base-change plan under cProfile and writes its top
functions to ``DIR/<format>-<size>.txt`` (the parent process only: the
parse workers of a large cold scan are not in it). Nothing here is a
pass/fail check: the figures go into issue notes and the README.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import io
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate_fleet import FORMATS, generate  # noqa: E402
from scan import floor, with_dockerfile_parse  # noqa: E402  (the same floor and oracle)

from imagegraph._reading import RACY_NS  # noqa: E402

DEFAULT_SIZES = (10_000, 50_000, 137_000)
TIMES = (
    "cold_scan", "cold_base", "cold_package", "warm_scan", "warm_base", "warm_package",
    "warm_file", "floor", "dockerfile_parse",
)  # fmt: skip
"""The figures that are seconds: with ``--repeat``, each is the least of the runs."""
LABELS = {
    "toml": "`imagegraph.toml`",
    "bake-hcl": "`docker-bake.hcl`",
    "bake-json": "`docker-bake.json`",
    "compose": "`compose.yaml`",
    "manifests": "library manifests",
    "convention": "nothing (convention)",
}


# --- the child: one format at one size -------------------------------------------------


def dockerfile_paths(root: Path) -> list[Path]:
    """Every file named ``Dockerfile`` under *root*: the generator writes no other, and
    every one of them is built in every format."""
    found = [
        Path(directory) / "Dockerfile"
        for directory, _, names in os.walk(root)
        if "Dockerfile" in names
    ]
    return sorted(found)


def start() -> float:
    """Collect garbage (so no step pays for the one before it), then read the clock."""
    gc.collect()
    return time.perf_counter()


def since(started: float) -> float:
    return time.perf_counter() - started


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def changed_file(root: Path) -> str:
    """The Dockerfile of the first framework: a file change that reaches some apps."""
    first = sorted(os.listdir(root / "frameworks"))[0]
    return f"frameworks/{first}/Dockerfile"


def signature(graph: Any) -> dict[str, Any]:
    """The graph as tags: builds are their tags, external images their references."""
    keys = {}
    builds = {build.name: build for build in graph.builds}
    for node in graph.nx.nodes:
        build = builds.get(node)
        if build is None:
            keys[node] = f"external {node}"
        else:
            keys[node] = ",".join(sorted(str(tag) for tag in build.tags)) or f"untagged {node}"
    edges = sorted({(keys[parent], keys[child]) for parent, child in graph.nx.edges})
    between = sum(1 for parent, child in graph.nx.edges if parent in builds and child in builds)
    errors = sorted({d.code for d in graph.diagnostics if d.severity.name == "ERROR"})
    return {
        "builds": len(graph.builds),
        "edges": graph.nx.number_of_edges(),
        "edges_between_builds": between,
        "digest": hashlib.sha256(repr(edges).encode()).hexdigest()[:16],
        "error_codes": errors,
    }


def measure(root: Path, change: str, package: str, *, oracle: bool = True) -> dict[str, Any]:
    """Every figure of one fleet, in this process (which must be fresh)."""
    import imagegraph
    from imagegraph import FileChange, PackageChange

    by_package = PackageChange.named(package)
    by_file = FileChange.of([changed_file(root)])
    figures: dict[str, Any] = {}

    started = start()
    cold = imagegraph.scan(root)
    figures["cold_scan"] = since(started)
    started = start()
    figures["base_builds"] = len(cold.plan([change]))
    figures["cold_base"] = since(started)
    started = start()
    figures["package_builds"] = len(cold.plan([by_package]))
    figures["cold_package"] = since(started)
    figures.update(signature(cold))
    del cold

    started = start()
    warm = imagegraph.scan(root)
    figures["warm_scan"] = since(started)
    started = start()
    warm.plan([change])
    figures["warm_base"] = since(started)
    started = start()
    warm.plan([by_package])
    figures["warm_package"] = since(started)
    started = start()
    figures["file_builds"] = len(warm.plan([by_file]))
    figures["warm_file"] = since(started)
    figures["peak_mb"] = peak_mb()
    del warm

    paths = dockerfile_paths(root)
    figures["dockerfiles"] = len(paths)
    if not oracle:
        return figures
    started = start()
    floor(paths)
    figures["floor"] = since(started)
    started = start()
    with_dockerfile_parse(paths)
    figures["dockerfile_parse"] = since(started)
    return figures


def profile(root: Path, change: str, out: Path) -> None:
    """A cold, then a warm scan and base-change plan, each under cProfile; their top
    functions to *out*."""
    import cProfile
    import pstats

    import imagegraph

    text = io.StringIO()
    for label in ("cold", "warm"):
        profiler = cProfile.Profile()
        profiler.enable()
        imagegraph.scan(root).plan([change])
        profiler.disable()
        stats = pstats.Stats(profiler, stream=text).strip_dirs()
        text.write(f"# {label} scan + plan of {root}, this process only\n\n## by own time\n")
        stats.sort_stats("tottime").print_stats(25)
        text.write(f"\n## {label}, by cumulative time\n")
        stats.sort_stats("cumulative").print_stats(40)
    out.write_text(text.getvalue())


# --- the parent: every format and size, one child each ---------------------------------


def child(fleet: Path, args: argparse.Namespace, extra: list[str]) -> dict[str, Any] | None:
    """Run this script on *fleet* in a fresh process with an empty cache of its own."""
    with tempfile.TemporaryDirectory(prefix="imagegraph-cache-") as cache:
        env = {**os.environ, "IMAGEGRAPH_CACHE_DIR": cache}
        command = [sys.executable, __file__, "--child", str(fleet)]
        command += ["--change", args.change, "--package", args.package, *extra]
        done = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:
        print(f"  {fleet}: the measuring process exited {done.returncode}", file=sys.stderr)
        return None
    lines = done.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else {}


def run(
    fmt: str, size: int, args: argparse.Namespace, scratch: Path, *, oracle: bool
) -> dict[str, Any] | None:
    fleet = (args.dir or scratch) / f"{fmt}-{size}"
    if not fleet.exists():
        started = time.perf_counter()
        generate(fleet, size, args.seed, dockerfiles=size, format=fmt)
        print(
            f"  generated {fleet} in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )
        # Files changed within the last RACY_NS are not trusted by stamp: the cold scan
        # would write no graph snapshot and the warm one would rebuild. Let them age.
        time.sleep(RACY_NS / 1e9 + 0.5)
    figures = None
    for _ in range(args.repeat):
        measured = child(fleet, args, [] if oracle else ["--no-oracle"])
        if measured is None:
            continue
        print(f"  {json.dumps(measured)}", file=sys.stderr)
        if figures is None:
            figures = measured
        else:  # the fastest of the runs, figure by figure: the least disturbed by the machine
            for key in TIMES:
                if key in figures:
                    figures[key] = min(figures[key], measured[key])
    if figures is not None and args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
        out = args.profile / f"{fmt}-{size}.txt"
        child(fleet, args, ["--profile-to", str(out)])
    if args.dir is None:
        _remove(fleet)
    return figures


def _remove(tree: Path) -> None:
    for directory, dirs, names in os.walk(tree, topdown=False):
        for name in names:
            os.unlink(os.path.join(directory, name))
        for name in dirs:
            os.rmdir(os.path.join(directory, name))
    os.rmdir(tree)


def seconds(value: float) -> str:
    if value < 0.01:
        return "< 0.01 s"
    return f"{value:.2f} s" if value < 10 else f"{value:.1f} s"


def per_file(value: float, files: int) -> str:
    return f"{value / files * 1e6:,.0f} µs"


def table(results: dict[tuple[str, int], dict[str, Any]], sizes: list[int]) -> str:
    head = [
        "declared in", "Dockerfiles", "images / edges", "cold scan + plan", "warm scan + plan",
        "base change", "package change (cold / warm graph)", "package / base (cold / warm)",
        "file change", "peak RSS", "cold per Dockerfile", "floor", "dockerfile-parse",
    ]  # fmt: skip
    rows = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for size in sizes:  # size by size: the floor and dockerfile-parse head each size's rows
        for fmt in FORMATS:
            r = results.get((fmt, size))
            if r is None:
                continue
            files = r["dockerfiles"]
            cold = r["cold_scan"] + r["cold_base"]
            cells = [
                LABELS[fmt],
                f"{files:,}",
                f"{r['builds']:,} / {r['edges']:,}",
                seconds(cold),
                seconds(r["warm_scan"] + r["warm_base"]),
                seconds(r["warm_base"]),
                f"{seconds(r['cold_package'])} / {seconds(r['warm_package'])}",
                f"{(r['cold_scan'] + r['cold_package']) / cold:.2f}x / "
                f"{(r['warm_scan'] + r['warm_package']) / (r['warm_scan'] + r['warm_base']):.2f}x",
                seconds(r["warm_file"]),
                f"{r['peak_mb']:,.0f} MB",
                per_file(cold, files),
                seconds(r["floor"]) if "floor" in r else "(above)",
                seconds(r["dockerfile_parse"]) if "dockerfile_parse" in r else "(above)",
            ]
            rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def growth(results: dict[tuple[str, int], dict[str, Any]], sizes: list[int]) -> str:
    """Cold and warm cost per Dockerfile at each size, its growth from one size to the
    next, and the marginal cost of the Dockerfiles added between them (which a fixed cost,
    such as building a parser, does not dilute)."""
    lines = []
    for fmt in FORMATS:
        measured = [results[fmt, s] for s in sizes if (fmt, s) in results]
        if not measured:
            continue
        parts = []
        for key in ("cold", "warm"):
            totals = [(r[f"{key}_scan"] + r[f"{key}_base"], r["dockerfiles"]) for r in measured]
            costs = [t / n * 1e6 for t, n in totals]
            text = f"{key} " + ", ".join(f"{c:,.0f}" for c in costs) + " µs"
            steps = [
                f"{b / a:.2f}x, marginal {(tb - ta) / (nb - na) * 1e6:,.0f} µs"
                for a, b, (ta, na), (tb, nb) in zip(
                    costs, costs[1:], totals, totals[1:], strict=False
                )
                if nb != na
            ]
            parts.append(text + (f" (growth {'; '.join(steps)})" if steps else ""))
        lines.append(f"- {fmt}: " + "; ".join(parts))
    return "\n".join(lines)


def graphs(results: dict[tuple[str, int], dict[str, Any]], sizes: list[int]) -> str:
    lines = []
    for size in sizes:
        reference = results.get(("toml", size))
        for fmt in FORMATS:
            r = results.get((fmt, size))
            if r is None:
                continue
            same = (
                "the toml fleet's graph"
                if reference and fmt != "toml" and r["digest"] == reference["digest"]
                else "differs from the toml fleet's"
                if reference and fmt != "toml"
                else ""
            )
            lines.append(
                f"- {fmt} at {size:,}: {r['builds']:,} builds, {r['edges']:,} edges "
                f"({r['edges_between_builds']:,} between builds){'; ' + same if same else ''}; "
                f"base change {r['base_builds']:,} builds, package {r['package_builds']:,}, "
                f"file {r['file_builds']:,}"
                + (f"; errors: {', '.join(r['error_codes'])}" if r["error_codes"] else "")
            )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sizes", nargs="*", type=int, default=list(DEFAULT_SIZES))
    parser.add_argument("--formats", default=",".join(FORMATS), help="comma-separated")
    parser.add_argument("--dir", type=Path, help="write (or reuse) the fleets here and keep them")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--change", default="debian:bookworm-slim")
    parser.add_argument("--package", default="libssl3")
    parser.add_argument(
        "--repeat", type=int, default=1,
        help="measure each format and size this many times, in as many processes, and keep "
        "the fastest of each figure (default 1)",
    )  # fmt: skip
    parser.add_argument("--profile", type=Path, help="write a cProfile of each cold run here")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--profile-to", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--no-oracle", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        if args.profile_to is not None:
            profile(args.child, args.change, args.profile_to)
        else:
            figures = measure(args.child, args.change, args.package, oracle=not args.no_oracle)
            print(json.dumps(figures))
        return 0
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        parser.error(f"unknown format {unknown[0]!r} (known: {', '.join(FORMATS)})")
    formats = [f for f in FORMATS if f in formats]  # the table's order: the oracle's row first
    results: dict[tuple[str, int], dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="imagegraph-formats-") as scratch:
        for size in args.sizes:
            for index, fmt in enumerate(formats):
                print(f"{fmt} at {size:,} Dockerfiles", file=sys.stderr)
                figures = run(fmt, size, args, Path(scratch), oracle=index == 0)
                if figures is not None:
                    results[fmt, size] = figures
    print(
        f"{os.cpu_count()} cores, Python {platform.python_version()}; seed {args.seed}; "
        f"best of {args.repeat} run{'s' if args.repeat > 1 else ''}; "
        f"base change `{args.change}`, package change `{args.package}`, file change: "
        "the first framework's Dockerfile\n"
    )
    print(table(results, args.sizes))
    print("\nCost per Dockerfile (linear: the same at every size):\n")
    print(growth(results, args.sizes))
    print("\nGraphs:\n")
    print(graphs(results, args.sizes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
