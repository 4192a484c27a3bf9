"""The ``imagegraph`` command: a thin shell over the public API; the only module that prints."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from imagegraph import __version__
from imagegraph.errors import ImageGraphError

__all__ = ["main"]

EXIT_OK, EXIT_BAD_INPUT, EXIT_USAGE = 0, 1, 2


def _build_arg(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imagegraph",
        description="Which container images must rebuild, in what order, and why.",
        epilog="Example: imagegraph parse examples/fleet/apps/api/Dockerfile --target runtime",
    )
    parser.add_argument("--version", action="version", version=f"imagegraph {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (0 ok, 1 bad input, 2 usage)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 for --help
        return int(exc.code or 0)
    try:
        return _parse_command(args)
    except ImageGraphError as err:
        sys.stderr.write(f"imagegraph: {err}\n")
        return EXIT_BAD_INPUT


def _parse_command(args: argparse.Namespace) -> int:
    from imagegraph.dockerfile import load_dockerfile
    from imagegraph.render import dockerfile as render

    dockerfile = load_dockerfile(args.dockerfile, build_args=dict(args.build_arg))
    fmt = args.format or ("tree" if sys.stdout.isatty() else "json")
    if fmt == "json":
        sys.stdout.write(render.to_json(dockerfile, target=args.target))
    else:
        from rich.console import Console

        console = Console(no_color="NO_COLOR" in os.environ)
        console.print(render.to_rich(dockerfile, target=args.target))
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
