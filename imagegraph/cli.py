"""The ``imagegraph`` command: a thin shell over the public API; the only module that prints."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING

from imagegraph._version import __version__
from imagegraph.diagnostics import Diagnostic, Severity, printable
from imagegraph.errors import DockerfileSyntaxError, ImageGraphError

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

    from imagegraph.diff import GraphDiff
    from imagegraph.graph import Edge, ImageGraph
    from imagegraph.impact import FileChange, Impact
    from imagegraph.plan import RebuildPlan
    from imagegraph.stale import Freshness, StaleReport

__all__ = ["main"]

EXIT_OK, EXIT_BAD_INPUT, EXIT_USAGE, EXIT_NOT_REACHED = 0, 1, 2, 3


def _build_arg(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def _add_fleet_arguments(
    command: argparse.ArgumentParser,
    *,
    jobs_help: str = "processes that parse Dockerfiles (default: every core on large fleets)",
) -> None:
    command.add_argument(
        "path",
        nargs="?",
        default=".",
        help="the repository to scan (default: the current directory)",
    )
    command.add_argument(
        "--config", metavar="FILE", help="an imagegraph.toml to use instead of PATH/imagegraph.toml"
    )
    command.add_argument(
        "--root",
        metavar="DIR",
        help="the directory files may be read from, once symbolic links are followed "
        "(default: PATH; it must hold PATH): a Dockerfile, context or SBOM outside it is "
        "reported, not read",
    )
    command.add_argument(
        "--no-cache",
        action="store_true",
        help="neither read nor write the caches of parsed Dockerfiles and of the finished "
        "graph (kept under the user cache directory, or IMAGEGRAPH_CACHE_DIR)",
    )
    command.add_argument(
        "--jobs",
        type=_positive,
        metavar="N",
        help=jobs_help,
    )


def _add_changed(command: argparse.ArgumentParser, *, required: bool = False) -> None:
    command.add_argument(
        "--changed",
        action="append",
        default=[],
        required=required,
        metavar="REF",
        help="a changed image: an external base (debian:bookworm; debian for every tag), "
        "or a build name or tag of this fleet (repeatable)",
    )


def _add_registry_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--digests",
        metavar="FILE",
        help="answer from manifests recorded with --record (offline, reproducible) instead "
        "of the registry",
    )
    command.add_argument(
        "--record",
        metavar="FILE",
        help="write every manifest the check read to FILE, for --digests",
    )
    command.add_argument(
        "--insecure-registry",
        action="append",
        default=[],
        metavar="HOST",
        help="a registry (host or host:port) spoken to over plain HTTP, as docker's "
        "insecure-registries (loopback registries always are; repeatable)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imagegraph",
        description="Which container images must rebuild, in what order, and why.",
        epilog="Examples:\n"
        "  imagegraph plan examples/fleet --changed debian:bookworm\n"
        "  imagegraph graph examples/fleet --format mermaid\n"
        "  imagegraph why api examples/fleet --changed debian:bookworm\n"
        "  imagegraph lint examples/fleet\n"
        "  imagegraph stale examples/fleet --digests examples/fleet/stale-digests.json\n"
        "  imagegraph diff . --since origin/main\n"
        "  imagegraph parse examples/fleet/apps/api/Dockerfile",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"imagegraph {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    plan = commands.add_parser(
        "plan",
        help="the builds a change reaches, in waves that may run in parallel",
        description="Scan a repository's Dockerfiles and declarations and print the rebuild "
        "plan: every build a change reaches, parents before children, in waves whose builds "
        "may run in parallel. Without --changed, every build.",
        epilog="Formats: table (for people), json (schema imagegraph/plan/v2), gha (a GitHub "
        "Actions matrix per wave), bake (docker-bake.json, a group per wave), make (a Makefile "
        "for make -j), argo (an Argo Workflows Workflow). Paths in the output are relative to "
        "the directory imagegraph runs in (where CI runs the output), or to --relative-to DIR."
        "\n\n"
        "Examples:\n"
        "  imagegraph plan --changed debian:bookworm\n"
        "  imagegraph plan . --changed debian --format gha > waves.json\n"
        "  imagegraph plan --changed python-3.12-bookworm --format make > rebuild.mk && make -f rebuild.mk -j8\n"
        "  git diff --name-only origin/main | imagegraph plan --changed-files -\n"
        "  imagegraph plan --since origin/main --format gha\n"
        "  imagegraph plan --package openssl --below 3.0.13\n"
        "  imagegraph plan --advisory DEBIAN-CVE-2024-0727.json --include-unknown\n"
        "  imagegraph plan --durations durations.json --workers 16",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_fleet_arguments(
        plan,
        jobs_help="processes that parse Dockerfiles (default: every core on large fleets), "
        "and with --stale, requests to the registry at a time (default: 8)",
    )
    _add_changed(plan)
    plan.add_argument(
        "--changed-files",
        metavar="FILE",
        help="changed files, one path per line as git diff --name-only prints them (relative "
        "to the top of the git work tree or to PATH, absolute, quoted, or -z separated; '-' "
        "reads standard input): only builds that read them rebuild",
    )
    plan.add_argument(
        "--since",
        metavar="REV",
        help="what changed since git revision REV: the files (as git diff --name-only REV "
        "lists them) and, in the declaration files, the entries whose build differs (the "
        "fleet at REV is read from git without a checkout); git's data is only read: no "
        "hook, filter, fsmonitor or other program the repository configures runs, and "
        ".git/index is not written",
    )
    plan.add_argument(
        "--package",
        action="append",
        default=[],
        metavar="NAME|PURL",
        help="a changed package: a name (openssl) or a package URL (pkg:pypi/requests); "
        "images that install it rebuild (repeatable)",
    )
    plan.add_argument(
        "--below",
        metavar="VERSION",
        help="with --package: only versions before VERSION, compared by each package's "
        "ecosystem rules (Debian, Alpine, RPM, PEP 440, semver)",
    )
    plan.add_argument(
        "--ecosystem",
        choices=("deb", "apk", "rpm", "pypi", "npm", "gem", "golang", "generic"),
        help="with --package NAME: only packages of this ecosystem",
    )
    plan.add_argument(
        "--advisory",
        action="append",
        default=[],
        metavar="FILE",
        help="an OSV advisory (JSON): images holding an affected version rebuild (repeatable)",
    )
    plan.add_argument(
        "--stale",
        action="store_true",
        help="also rebuild the images the registry finds stale (built on a base tag that has "
        "moved since) or missing, and everything built on them; reads the registry, or "
        "--digests FILE",
    )
    _add_registry_arguments(plan)
    plan.add_argument(
        "--include-unknown",
        action="store_true",
        help="also rebuild images that hold a changed package whose version is not known "
        "(not pinned, no SBOM); by default they are only listed",
    )
    plan.add_argument(
        "--format",
        choices=("table", "json", "gha", "bake", "make", "argo"),
        default=None,
        help="table on a terminal, json when piped (default)",
    )
    plan.add_argument(
        "--relative-to",
        metavar="DIR",
        help="write the output's paths relative to DIR, where it will run (default: the "
        "current directory); the json format names PATH as seen from there (root)",
    )
    plan.add_argument(
        "--max-parallel",
        type=_positive,
        metavar="N",
        help="split waves so none has more than N builds (gha: 256 unless given)",
    )
    plan.add_argument(
        "--durations",
        metavar="FILE",
        help='JSON {"build or tag": seconds}: adds the critical path and the makespan',
    )
    plan.add_argument(
        "--workers",
        type=_positive,
        metavar="N",
        help="workers for the makespan (default: the widest wave)",
    )

    stale = commands.add_parser(
        "stale",
        help="which pushed images are stale: built on a base tag that has moved since",
        description="Read, for every tag the fleet builds and every platform it declares, the\n"
        "image the registry holds, and say whether it is fresh (built on what its base tag\n"
        "serves now), stale (its base tag has moved: the base, the old and new digests, and\n"
        "when), missing (not pushed: it must be built) or unknown (why, with the registry's\n"
        "error). The base is known from the image's org.opencontainers.image.base.*\n"
        "annotations, else by its layers. Nothing is read from a network unless this\n"
        "command runs without --digests.",
        epilog="Exit codes: 0 every image checked, 1 some image could not be checked (or the "
        "fleet cannot be read), 2 usage error.\n\n"
        "Examples:\n"
        "  imagegraph stale examples/fleet --digests examples/fleet/stale-digests.json\n"
        "  imagegraph stale . --record digests.json --format json > stale.json\n"
        "  imagegraph plan . --stale --digests digests.json --format gha",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_fleet_arguments(
        stale,
        jobs_help="processes that parse Dockerfiles (default: every core on large fleets), "
        "and requests to the registry at a time (default: 8)",
    )
    _add_registry_arguments(stale)
    stale.add_argument(
        "--format",
        choices=("table", "json"),
        default=None,
        help="table on a terminal, json when piped (default)",
    )

    graph = commands.add_parser(
        "graph",
        help="the image graph: which image is built from which",
        description="Scan a repository and print its image graph: builds, the external images "
        "they use, and parent -> child edges (from, copy, mount, context).",
        epilog="Examples:\n"
        "  imagegraph graph examples/fleet\n"
        "  imagegraph graph . --format svg > fleet.svg      # no Graphviz needed\n"
        "  imagegraph graph . --format dot | dot -Tsvg > fleet.svg\n"
        "  imagegraph graph . --format mermaid --changed debian:bookworm",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_fleet_arguments(graph)
    _add_changed(graph)
    graph.add_argument(
        "--format",
        choices=("tree", "json", "dot", "mermaid", "svg"),
        default=None,
        help="tree on a terminal, json when piped (default); svg is a picture drawn by "
        "imagegraph itself, grouped by base image past 150 images",
    )

    why = commands.add_parser(
        "why",
        help="why a change reaches an image: the chain of Dockerfile lines",
        description="Print the chain of edges, each with its Dockerfile and line, from a "
        "change to an image. Exit code 0 when the change reaches the image, 3 when it does not.",
        epilog="Example:\n  imagegraph why api examples/fleet --changed debian:bookworm",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    why.add_argument("image", help="a build name, or a tag of a build")
    _add_fleet_arguments(why)
    _add_changed(why, required=True)

    packages = commands.add_parser(
        "packages",
        help="the packages in an image: installed by its Dockerfile, inherited, or from an SBOM",
        description="List the packages each image holds, with where imagegraph learnt of "
        "them: an install command (file and line), an SBOM, or the image it is built on.",
        epilog="Examples:\n"
        "  imagegraph packages examples/fleet api\n"
        "  imagegraph packages . --format json > packages.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_fleet_arguments(packages)
    packages.add_argument("image", nargs="?", help="one image (a build name, tag or reference)")
    packages.add_argument(
        "--format",
        choices=("table", "json"),
        default=None,
        help="table on a terminal, json when piped (default)",
    )

    diff = commands.add_parser(
        "diff",
        help="what a change does to the image graph: builds, parents, bases, rebuilds",
        description="Compare the fleet at git revision --since with the work tree (or with\n"
        "revision --until): the builds added and removed (by build name: a Dockerfile\n"
        "renamed or moved keeps its image), for each build what changed as the build tool\n"
        "sees it (tags, build arguments, target, platforms, contexts, Dockerfile path and\n"
        "content) and the parents it gained or lost with the Dockerfile line, the external\n"
        "images that appear or disappear, and the rebuild plan for it (as plan --since).\n"
        "The revisions are read from git without a checkout; nothing the repository\n"
        "configures runs.",
        epilog="Exit codes: 0 compared, 1 a revision or fleet that cannot be read (or an error "
        "in the fleet), 2 usage error.\n\n"
        "Examples:\n"
        "  imagegraph diff . --since origin/main\n"
        "  imagegraph diff . --since v1.0 --until v1.1 --format json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_fleet_arguments(diff)
    diff.add_argument(
        "--since", required=True, metavar="REV", help="the git revision to compare from"
    )
    diff.add_argument(
        "--until",
        metavar="REV",
        help="the git revision to compare to (default: the work tree as it is)",
    )
    diff.add_argument(
        "--format",
        choices=("table", "json"),
        default=None,
        help="table on a terminal, json when piped (default)",
    )

    lint = commands.add_parser(
        "lint",
        help="fleet hygiene: unpinned and drifting bases, stragglers, deep chains",
        description="Scan a repository and report what to fix in its Dockerfiles, each finding\n"
        "with its code, severity, image, file and line: bases at latest or without a tag\n"
        "(unpinned-base), external images without the digest the [lint] policy asks for\n"
        "(digest-required), an external base used at several releases (base-drift), builds\n"
        "left on an older version of an image this fleet builds newer (straggler), COPY\n"
        "--from an unpinned image (unpinned-copy-source), chains of builds deeper than\n"
        "[lint] max_depth (deep-chain), and builds isolated from the rest of the fleet\n"
        "(isolated-build). The scan's own warnings and errors are findings too.",
        epilog="Policy, in imagegraph.toml (or [tool.imagegraph.lint] in pyproject.toml):\n"
        "  [lint]\n"
        '  require_digest = ["docker.io/*"]   # or true: every external image\n'
        "  max_depth = 5                      # builds of this fleet stacked on each other\n"
        '  ignore = ["isolated-build"]        # finding (or scan diagnostic) codes not to report\n\n'
        "Formats: table (for people), json (schema imagegraph/findings/v1), sarif (SARIF\n"
        "2.1.0 for code scanning, paths relative to the enclosing git repository, at most\n"
        "25,000 results, the most severe).\n\n"
        "Exit codes: 0 no finding at or above --fail-on, 1 a finding at or above --fail-on\n"
        "(or a fleet that cannot be read), 2 usage error.\n\n"
        "Examples:\n"
        "  imagegraph lint examples/fleet\n"
        "  imagegraph lint . --fail-on warning\n"
        "  imagegraph lint . --format sarif --output imagegraph.sarif --fail-on never",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_fleet_arguments(lint)
    lint.add_argument(
        "--format",
        choices=("table", "json", "sarif"),
        default=None,
        help="table on a terminal, json when piped or written to a file (sarif for a "
        "--output ending in .sarif, in any case)",
    )
    lint.add_argument(
        "--fail-on",
        choices=("error", "warning", "info", "never"),
        default="error",
        help="exit 1 when a finding is at least this severe (default: error)",
    )
    lint.add_argument(
        "--output",
        metavar="FILE",
        help="write the report to FILE instead of standard output",
    )

    parse = commands.add_parser(
        "parse",
        help="show the stages of a Dockerfile and the images it is built from",
        description="Read one Dockerfile as BuildKit would and show its stages, the "
        "images each stage starts from or copies from, and any diagnostics.",
        epilog="Examples:\n"
        "  imagegraph parse Dockerfile\n"
        "  imagegraph parse app/Dockerfile --build-arg PYTHON_VERSION=3.12 --format json\n"
        "  imagegraph parse app/Dockerfile --target runtime",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parse.add_argument("dockerfile", help="path of the Dockerfile")
    parse.add_argument(
        "--build-arg",
        action="append",
        type=_build_arg,
        default=[],
        metavar="NAME=VALUE",
        help="a build argument, as for docker build (repeatable)",
    )
    parse.add_argument("--target", help="only the stages this target needs")
    parse.add_argument(
        "--format",
        choices=("tree", "json"),
        default=None,
        help="tree for people (default on a terminal), json for tools (default when piped)",
    )
    return parser


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (0 ok, 1 bad input, 2 usage, 3 not reached)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 for --help
        return int(exc.code or 0)
    command = {
        "plan": _plan_command,
        "graph": _graph_command,
        "why": _why_command,
        "packages": _packages_command,
        "lint": _lint_command,
        "stale": _stale_command,
        "diff": _diff_command,
    }.get(args.command, _parse_command)
    try:
        return command(args)
    except ImageGraphError as err:
        _error(err)
        return EXIT_BAD_INPUT


def _error(err: ImageGraphError) -> None:
    """Write *err* to stderr, each line starting ``imagegraph: ``, its text from
    the repository escaped: no line of it can pass for a line of its own."""
    if isinstance(err, DockerfileSyntaxError):  # the offending text under a caret
        lines = [f"{err.path or 'Dockerfile'}:{err.line}: {err.message}"]
        shown = printable((err.source or "").strip())
        if len(shown) > 120:
            shown = shown[:117] + "..."
        if shown:
            lines += [f"    {shown}", "    ^" + "~" * (len(shown) - 1)]
    else:
        lines = [str(err)]
    with contextlib.suppress(OSError):  # else nowhere is left to say it: the exit code does
        sys.stderr.write("".join(f"imagegraph: {printable(line)}\n" for line in lines))


def _output_error(err: OSError | UnicodeError, where: str = "standard output") -> ImageGraphError:
    """The error for a write that failed (a closed pipe, a full disk). Standard
    output then goes to the null device, so exiting does not try it again."""
    if where == "standard output":
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass  # not a file descriptor (a test's capture): nothing to flush at exit
    reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
    return ImageGraphError(f"{where}: cannot write: {reason}")


def _write(text: str) -> None:
    """Write *text* to standard output now; a failure is an :class:`ImageGraphError`."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except (OSError, UnicodeError) as err:
        raise _output_error(err) from None


def _show(*renderables: RenderableType | str) -> None:
    """Print to standard output with rich; a failure is an :class:`ImageGraphError`."""
    from imagegraph.diagnostics import no_runner_commands

    try:
        console = _console()
        # Rendered first, then written: a table or tree folds long names, and
        # a fold may start a line with "::" a repository put in a name.
        with console.capture() as captured:
            for renderable in renderables:
                console.print(renderable)
        sys.stdout.write(no_runner_commands(captured.get()))
        sys.stdout.flush()
    except (OSError, UnicodeError) as err:
        raise _output_error(err) from None


def _console() -> Console:
    from rich.console import Console

    return Console(no_color="NO_COLOR" in os.environ)


def _report(diagnostics: Iterable[Diagnostic]) -> int:
    """Write warnings and errors to stderr; the exit code they call for."""
    worst = EXIT_OK
    for diagnostic in sorted(
        diagnostics, key=lambda d: (d.severity.rank, d.path or "", d.line or 0)
    ):
        if diagnostic.severity is Severity.INFO:
            continue
        sys.stderr.write(f"imagegraph: {diagnostic}\n")
        if diagnostic.severity is Severity.ERROR:
            worst = EXIT_BAD_INPUT
    return worst


def _plan_command(args: argparse.Namespace) -> int:
    from imagegraph.advisories import PackageChange, load_osv
    from imagegraph.impact import Change
    from imagegraph.plan import load_durations
    from imagegraph.render import plan as render

    graph = _scan(args)
    fmt = args.format or ("table" if sys.stdout.isatty() else "json")
    max_parallel = args.max_parallel
    if fmt == "gha" and max_parallel is None:
        max_parallel = render.GHA_MAX_JOBS
    for named in (args.durations, args.changed_files, args.digests, *args.advisory):
        _refuse_link_out(named, graph.inventory.readable_root)
    durations = load_durations(args.durations) if args.durations else None
    changes: list[Change] = list(args.changed)
    if args.changed_files is not None:
        changes.append(_listed_changes(args.changed_files, graph.inventory.root))
    since_notes: list[Diagnostic] = []
    if args.since is not None:
        from imagegraph.diff import changes_since

        since_changes, said = changes_since(
            graph, args.path, args.since, config=args.config, root=args.root,
            cache=not args.no_cache,
        )  # fmt: skip
        changes += since_changes
        since_notes = list(said)
    if args.below is not None and len(args.package) != 1:
        raise ImageGraphError("--below needs exactly one --package")
    changes += [
        PackageChange.named(name, below=args.below, ecosystem=args.ecosystem)
        for name in args.package
    ]
    advisory_notes: list[Diagnostic] = []
    for path in args.advisory:
        found, notes = load_osv(path)
        changes += found
        advisory_notes += notes
    stale_notes: list[Diagnostic] = []
    if args.stale:
        report = _stale_report(args, graph)
        changes.append(report.change())
        stale_notes = list(report.diagnostics)
    elif args.digests is not None or args.record is not None:
        raise ImageGraphError("--digests and --record go with --stale")
    plan = graph.plan(
        changes or None, max_parallel=max_parallel, durations=durations, workers=args.workers,
        include_unknown=args.include_unknown,
        relative_to=os.curdir if args.relative_to is None else args.relative_to,
    )  # fmt: skip
    if since_notes:
        plan = dataclasses.replace(plan, diagnostics=(*since_notes, *plan.diagnostics))
    if fmt == "table":
        from rich.text import Text

        shown: list[RenderableType] = [render.to_rich(plan)]
        if plan.schedule is not None:
            s = plan.schedule
            shown.append(
                Text(
                    f"critical path {s.critical_seconds:.0f}s: {_names(s.critical_path, ' -> ')}\n"
                    f"makespan on {s.workers} workers: {s.makespan_seconds:.0f}s (no schedule "
                    f"beats {s.lower_bound_seconds:.0f}s; total {s.total_seconds:.0f}s)"
                )
            )
        if plan.impact is not None and plan.impact.possibly:
            shown.append(
                Text.assemble(
                    ("possibly affected (package version not known;", "yellow"),
                    (" --include-unknown rebuilds them):", "yellow"),
                    " " + _names(plan.impact.possibly),
                )
            )
        if plan.impact is not None and plan.impact.undetermined:
            shown.append(
                Text.assemble(
                    ("may also be affected (base not resolved):", "yellow"),
                    " " + _names(plan.impact.undetermined),
                )
            )
        shown.extend(_said(plan.diagnostics))
        _show(*shown)
    else:
        writer = {
            "json": render.to_json,
            "gha": render.to_gha,
            "bake": render.to_bake,
            "make": render.to_make,
            "argo": _to_argo,
        }[fmt]
        _write(writer(plan))
        if fmt == "bake":  # what bake cannot do: imports, shared tags
            advisory_notes = [*advisory_notes, *render.bake_diagnostics(plan)]
    return _report([*advisory_notes, *stale_notes, *plan.diagnostics])


_SAID = frozenset({"declarations-change-nothing"})
"""Information a table shows under itself: that an edit rebuilds nothing, and why."""


def _said(diagnostics: Iterable[Diagnostic]) -> list[RenderableType]:
    """The lines a table shows for the :data:`_SAID` information among *diagnostics*."""
    from rich.text import Text

    return [
        Text(printable(d.message, tabs=False))
        for d in diagnostics
        if d.code in _SAID and d.severity is Severity.INFO
    ]


def _diff_command(args: argparse.Namespace) -> int:
    from imagegraph.diff import diff_revisions
    from imagegraph.render import plan as render

    graph = _scan(args) if args.until is None else None
    found = diff_revisions(
        args.path, args.since, args.until, graph=graph, config=args.config, root=args.root,
        cache=not args.no_cache,
    )  # fmt: skip
    new = found.new
    assert new is not None
    fmt = args.format or ("table" if sys.stdout.isatty() else "json")
    if fmt == "json":
        _write(found.to_json())
    else:
        plan = new.plan(found.changes(), relative_to=os.curdir)
        _show(*_diff_table(found), render.to_rich(plan), *_said(found.diagnostics))
    return _report(dict.fromkeys([*new.diagnostics, *found.diagnostics]))


def _parent_line(sign: str, edge: Edge, builds: Mapping[str, object]) -> str:
    """A parent gained (``+``) or lost (``-``): as written, expanded, where, and the
    build of the fleet it is, if any."""
    built = f" (the build {edge.parent})" if edge.parent in builds else ""
    return f"{sign} parent {_familiar(edge.value or edge.text)}{built}: {edge.kind} at {edge.where}"


def _diff_table(found: GraphDiff) -> list[RenderableType]:
    """The diff for people: a title, then a table of each image and what changed in it."""
    from rich.table import Table
    from rich.text import Text

    until = f"revision {found.until}" if found.until is not None else "the work tree"
    counts = f"{len(found.added)} added, {len(found.removed)} removed, {len(found.changed)} changed"
    title = Text(
        printable(f"Changes from {found.since} to {until}: builds {counts}", tabs=False),
        style="bold",
    )
    table = Table()
    table.add_column("image")
    table.add_column("change", overflow="fold")
    rows: list[tuple[str, list[str]]] = []
    for name in found.added:
        build = found.new_builds[name]
        rows.append((name, [f"added ({build.origin or build.dockerfile})"]))
    for name in found.removed:
        build = found.old_builds[name]
        rows.append((name, [f"removed (was {build.origin or build.dockerfile})"]))
    for changed in found.changed:
        lines = list(changed.reasons)
        lines += [_parent_line("+", e, found.new_builds) for e in changed.parents_added]
        lines += [_parent_line("-", e, found.old_builds) for e in changed.parents_removed]
        rows.append((changed.name, lines))
    rows.sort(key=lambda row: row[0])
    rows += [(_familiar(base), ["+ external image, now used"]) for base in found.bases_added]
    rows += [
        (_familiar(base), ["- external image, no longer used"]) for base in found.bases_removed
    ]
    for image, lines in rows:
        table.add_row(
            Text(printable(image, tabs=False)),
            Text("\n".join(printable(line, tabs=False) for line in lines)),
        )
    if not table.row_count:
        return [title, Text("no build, parent or external image changed")]
    return [title, table]


def _stale_report(args: argparse.Namespace, graph: ImageGraph) -> StaleReport:
    """The freshness check the options ask for: from the recording ``--digests`` names,
    else from the registries themselves; ``--record`` writes what it read."""
    from imagegraph.stale import RecordedManifests, check_stale, record

    if args.digests is not None:
        _refuse_link_out(args.digests, graph.inventory.readable_root)
        report = check_stale(graph, RecordedManifests(args.digests))
    else:
        report = _live_check(args, graph)
    if args.record is not None:
        import json

        try:
            with _open_output(args.record) as handle:
                handle.write(json.dumps(record(report), indent=1) + "\n")
        except (OSError, UnicodeError) as err:
            raise _output_error(err, args.record) from None
    return report


def _live_check(args: argparse.Namespace, graph: ImageGraph) -> StaleReport:
    """The check against the registries, with a progress bar on a terminal's stderr."""
    from imagegraph.registry import RegistryClient
    from imagegraph.stale import check_stale

    options = {
        "aliases": graph.inventory.aliases,
        "insecure": args.insecure_registry,
        "jobs": args.jobs or 8,
        "cache": not args.no_cache,
    }
    if not sys.stderr.isatty():
        with RegistryClient(**options) as client:
            return check_stale(graph, client)
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("reading the registry", total=None, visible=False)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, visible=total >= 50)

        with RegistryClient(**options, progress=progress) as client:
            return check_stale(graph, client)


def _stale_command(args: argparse.Namespace) -> int:
    graph = _scan(args)
    report = _stale_report(args, graph)
    fmt = args.format or ("table" if sys.stdout.isatty() else "json")
    if fmt == "json":
        _write(report.to_json())
    else:
        from rich.table import Table
        from rich.text import Text

        table = Table()
        table.add_column("image")
        table.add_column("platform")
        table.add_column("status")
        table.add_column("why", overflow="fold")
        styles = {"stale": "yellow", "missing": "red", "unknown": "magenta"}
        # The platforms of one tag with the same answer share a row.
        rows: dict[tuple[str, str, str], list[str]] = {}
        for entry in report.entries:
            if entry.status == "fresh":
                continue
            why = _stale_detail(entry)
            if len(graph.build(entry.image).tags) > 1:
                why = f"{_familiar(entry.tag)}: {why}"
            rows.setdefault((entry.image, entry.status, why), []).append(entry.platform or "-")
        for (image, status, why), platforms in rows.items():
            table.add_row(
                Text(printable(image, tabs=False)),
                Text(", ".join(platforms)),
                Text(status, style=styles[status]),
                Text(printable(why, tabs=False)),
            )
        fresh = sorted({entry.image for entry in report.fresh})
        counts = (
            f"{len(report.fresh)} fresh, {len(report.stale)} stale, {len(report.missing)} "
            f"missing, {len(report.unknown)} unknown"
        )
        shown: list[RenderableType] = [table] if table.row_count else []
        shown.append(Text(counts + (f"; fresh: {_names(fresh)}" if fresh else "")))
        _show(*shown)
    return _report([*graph.diagnostics, *report.diagnostics])


def _stale_detail(entry: Freshness) -> str:
    """The table's "why" of an entry: for a stale one, the base, its digest then
    and now (12 hex digits each), when it was made and how this was known."""
    if entry.status != "stale" or entry.new_digest is None:
        return entry.reason + (f" [{entry.code}]" if entry.code else "")
    now = entry.new_digest.partition(":")[2][:12]
    moved = (
        f"{entry.old_digest.partition(':')[2][:12]} -> {now}" if entry.old_digest else f"to {now}"
    )
    made = f", made {entry.since}" if entry.since else ""
    return f"base {_familiar(entry.base or '?')} moved {moved}{made} (by {entry.method})"


def _familiar(reference: str) -> str:
    from imagegraph.reference import ImageRef

    try:
        return ImageRef.parse(reference).familiar
    except ImageGraphError:
        return reference


def _names(names: Iterable[str], separator: str = ", ") -> str:
    """Image names on one line, their control characters escaped."""
    return printable(separator.join(names), tabs=False)


def _to_argo(plan: RebuildPlan) -> str:
    from imagegraph.render.argo import to_argo

    return to_argo(plan)


def _scan(args: argparse.Namespace) -> ImageGraph:
    """Scan PATH as the options say, with a progress bar on a terminal's stderr."""
    from imagegraph.graph import scan

    if not sys.stderr.isatty():
        return scan(
            args.path, config=args.config, root=args.root, cache=not args.no_cache, jobs=args.jobs
        )
    from rich.console import Console
    from rich.progress import Progress

    # Transient: the bar is gone once the scan is, and it only appears when
    # reading takes long enough to be worth watching.
    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("reading Dockerfiles", total=None, visible=False)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, visible=total >= 1000)

        return scan(
            args.path, config=args.config, root=args.root, cache=not args.no_cache,
            jobs=args.jobs, progress=progress,
        )  # fmt: skip


def _refuse_link_out(path: str | None, root: str) -> None:
    """A file named on the command line may be anywhere, but one named inside the
    repository (``ci/durations.json``) must not be a link a pull request pointed at
    a file of the runner, whose content an error would then quote."""
    from imagegraph._files import named_outside, outside_message

    if path is not None and path != "-" and named_outside(path, root):
        raise ImageGraphError(f"{path}: cannot read: {outside_message(os.path.realpath(root))}")


def _read_lines(source: str) -> list[str]:
    """The lines of *source* (``-``: standard input), NUL-separated when it holds a NUL
    (``git diff --name-only -z``); bytes that are not UTF-8 kept as file names keep them."""
    if source == "-":
        stream = getattr(sys.stdin, "buffer", None)
        data = stream.read() if stream is not None else sys.stdin.read().encode()
    else:
        try:
            with open(source, "rb") as handle:
                data = handle.read()
        except OSError as err:
            raise ImageGraphError(f"{source}: cannot read: {err.strerror}") from None
    text = data.decode("utf-8", "surrogateescape")
    return text.split("\0") if "\0" in text else text.split("\n")


_GIT_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}


def _unquote(text: str) -> str:
    """A path as git quotes unusual ones (``"caf\\303\\251.txt"``), unquoted; other text as is."""
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        return text
    body, out, at = text[1:-1], bytearray(), 0
    while at < len(body):
        char = body[at]
        if char != "\\":
            out += char.encode("utf-8", "surrogateescape")
            at += 1
        elif body[at + 1 : at + 2] in _GIT_ESCAPES:
            out.append(_GIT_ESCAPES[body[at + 1]])
            at += 2
        elif len(body) >= at + 4 and all(c in "01234567" for c in body[at + 1 : at + 4]):
            out.append(int(body[at + 1 : at + 4], 8) & 0xFF)
            at += 4
        else:
            return text  # not git's quoting: a name that starts and ends with '"'
    return os.fsdecode(bytes(out))


def _listed_changes(source: str, root: str) -> FileChange:
    """The files ``--changed-files`` lists, relative to the scanned *root*.

    A line is read as git prints it: absolute, or relative to the top of the git
    work tree holding *root* (``git diff --name-only`` from anywhere in it), or
    relative to *root* (``--relative``). When *root* is not that top, a path that
    exists from one place only is taken from there; otherwise both readings count:
    an extra rebuild rather than a missed one.
    """
    from imagegraph.impact import FileChange

    top = _repository_of(root)[0]
    real_root = os.path.realpath(root)
    paths = []
    for line in _read_lines(source):
        path = _unquote(line.strip())
        if not path or os.path.isabs(path) or top == real_root:
            paths.append(path)
            continue
        here, there = os.path.join(real_root, path), os.path.join(top, path)
        in_root, in_top = os.path.lexists(here), os.path.lexists(there)
        if in_root != in_top:
            paths.append(here if in_root else there)
        else:
            paths += [here, there]
    return FileChange.of(paths, root=root)


def _graph_command(args: argparse.Namespace) -> int:
    from imagegraph.render import graph as render

    graph = _scan(args)
    impact = graph.impact(args.changed) if args.changed else None
    fmt = args.format or ("tree" if sys.stdout.isatty() else "json")
    if fmt == "tree":
        _show(render.to_rich(graph, impact))
    else:
        writers: dict[str, Callable[[ImageGraph, Impact | None], str]] = {
            "json": render.to_json,
            "dot": render.to_dot,
            "mermaid": render.to_mermaid,
            "svg": _svg,
        }
        _write(writers[fmt](graph, impact))
    return _report([*graph.diagnostics, *(impact.diagnostics if impact else ())])


def _svg(graph: ImageGraph, impact: Impact | None) -> str:
    return graph.picture(impact).svg


def _why_command(args: argparse.Namespace) -> int:
    from imagegraph.render.graph import display_name

    graph = _scan(args)
    nodes = graph.nodes(args.image, suggest=True)
    result = graph.impact(args.changed)
    # A tag of several builds (one multi-platform image): the build the change reaches.
    node = (
        [n for n in nodes if n in result.changed]
        or sorted((n for n in nodes if n in result), key=lambda n: len(result.reasons[n]))
        or [n for n in nodes if n in result.undetermined]
        or [nodes[0]]
    )[0]
    code = _report([*graph.diagnostics, *result.diagnostics])
    # Each line escaped on its own: a name or a Dockerfile line holding a
    # newline stays on its line.
    if node in result.changed:
        lines = [f"{display_name(graph, node)} is itself a change"]
    elif node in result:
        chain = result.reasons[node]
        lines = [display_name(graph, chain[0].parent)]
        lines += [f"  -> {e.child}  ({e.kind} {e.text} at {e.where})" for e in chain]
    elif node in result.undetermined:
        lines = [
            f"{node} may be reached: its base is not resolved "
            f"({', '.join(result.undetermined[node])})"
        ]
        code = EXIT_NOT_REACHED
    else:
        lines = [f"{', '.join(args.changed)} does not reach {node}"]
        code = EXIT_NOT_REACHED
    _write("".join(printable(line) + "\n" for line in lines))
    return code


def _packages_command(args: argparse.Namespace) -> int:
    from imagegraph.image_packages import own_packages
    from imagegraph.render._json import dumps

    graph = _scan(args)
    images = [graph.node(args.image)] if args.image else [b.name for b in graph.builds]
    rows = []
    notes: list[Diagnostic] = list(graph.diagnostics)
    for image in images:
        notes += own_packages(graph, image)[1]
        rows += [
            {
                "image": image,
                "purl": p.purl,
                "name": p.name,
                "ecosystem": p.ecosystem,
                "version": p.version,
                "constraint": p.constraint,
                "source": p.source,
                "where": p.where,
                "inherited_from": p.inherited_from,
            }
            for p in graph.packages(image)
        ]
    fmt = args.format or ("table" if sys.stdout.isatty() else "json")
    if fmt == "json":
        data = {"schema": "imagegraph/packages/v1", "packages": rows}
        _write(dumps(data))
    else:
        from rich.table import Table
        from rich.text import Text

        table = Table()
        for column in ("image", "package", "version", "from"):
            table.add_column(column)
        for row in rows:
            version = str(row["version"] or row["constraint"] or "not pinned")
            via = f" (via {row['inherited_from']})" if row["inherited_from"] else ""
            cells = (str(row["image"]), f"{row['ecosystem']}/{row['name']}", version,
                     f"{row['where']}{via}")  # fmt: skip
            table.add_row(*(Text(printable(cell, tabs=False)) for cell in cells))
        _show(table)
    return _report(dict.fromkeys(notes))


def _lint_command(args: argparse.Namespace) -> int:
    from imagegraph.findings import findings
    from imagegraph.render import findings as render

    fmt = args.format
    if fmt is None and args.output is not None:
        fmt = "sarif" if args.output.lower().endswith(".sarif") else "json"
    fmt = fmt or ("table" if sys.stdout.isatty() else "json")
    graph = _scan(args)
    found = findings(graph)
    if fmt == "table":
        if args.output is None:
            _show(render.to_table(found))
        else:
            from rich.console import Console

            try:
                with _open_output(args.output) as handle:
                    Console(file=handle, no_color=True, width=160).print(render.to_table(found))
            except (OSError, UnicodeError) as err:
                raise _output_error(err, args.output) from None
    else:
        if fmt == "json":
            text = render.to_json(found)
        else:
            root, prefix = _repository_of(graph.inventory.root)
            text = render.to_sarif(
                found, tool_version=__version__, source_root=root, path_prefix=prefix
            )
            omitted = render.sarif_omitted(found)
            if omitted:
                sys.stderr.write(
                    f"imagegraph: warning: the SARIF log holds the {len(found) - omitted:,} most "
                    f"severe of {len(found):,} findings, as many as code scanning takes in a "
                    f"run; {omitted:,} left out (run property {render.OMITTED_PROPERTY!r}), "
                    "--format json lists them all\n"
                )
        if args.output is None:
            _write(text)
        else:
            try:
                with _open_output(args.output) as handle:
                    handle.write(text)
            except (OSError, UnicodeError) as err:
                raise _output_error(err, args.output) from None
    if args.fail_on != "never" and found.at_or_above(args.fail_on):
        return EXIT_BAD_INPUT
    return EXIT_OK


def _open_output(path: str) -> IO[str]:
    try:
        return open(path, "w", encoding="utf-8")  # the caller closes it
    except OSError as err:
        raise ImageGraphError(f"{path}: cannot write: {err.strerror}") from None


def _repository_of(root: str) -> tuple[str, str]:
    """The git work tree that holds *root* (the nearest directory with a ``.git``) and
    *root*'s place in it (``"infra/images"``); *root* itself and ``""`` outside one.

    Code scanning resolves SARIF paths against the repository, not the fleet."""
    start = Path(root).resolve()
    for directory in (start, *start.parents):
        if (directory / ".git").exists():
            inside = start.relative_to(directory).as_posix()
            return str(directory), "" if inside == "." else inside
    return str(start), ""


def _parse_command(args: argparse.Namespace) -> int:
    from imagegraph.dockerfile import load_dockerfile
    from imagegraph.render import dockerfile as render

    dockerfile = load_dockerfile(args.dockerfile, build_args=dict(args.build_arg))
    fmt = args.format or ("tree" if sys.stdout.isatty() else "json")
    if fmt == "json":
        _write(render.to_json(dockerfile, target=args.target))
    else:
        _show(render.to_rich(dockerfile, target=args.target))
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
