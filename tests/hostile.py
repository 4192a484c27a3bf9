"""Hostile repositories for the tests: built from a table, scanned by the real CLI.

Every file imagegraph reads may come from a fork's pull request. The tests
that use this module build such a repository (files, symlinks, FIFOs, odd
names), run ``imagegraph`` on it in a child process with a time bound, and
check what must never happen: a traceback, a hang, a marker file created by
something the repository made run, or a secret of the CI job in any output.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "SECRET",
    "Fifo",
    "Ran",
    "Symlink",
    "assert_contained",
    "build",
    "run_cli",
]

#: Put into the child's environment and into files outside the repository:
#: it must never appear in anything imagegraph prints or writes.
SECRET = "ig-canary-3f9d1c7ab0e24d51"


@dataclass(frozen=True)
class Symlink:
    """A symbolic link to *target* (absolute, or relative to the link)."""

    target: str


@dataclass(frozen=True)
class Fifo:
    """A named pipe nobody writes to: reading it blocks forever."""


Entry = str | bytes | Symlink | Fifo


def build(root: Path, files: Mapping[str, Entry]) -> Path:
    """Create *files* under *root* (text, bytes, :class:`Symlink` or :class:`Fifo`)."""
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Symlink):
            path.symlink_to(content.target)
        elif isinstance(content, Fifo):
            os.mkfifo(path)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


@dataclass(frozen=True)
class Ran:
    """What one run of the CLI did."""

    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_cli(
    argv: Sequence[str],
    *,
    cwd: Path,
    timeout: float = 60,
    stdin: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Ran:
    """Run ``imagegraph ARGV`` in a child process in *cwd*, with :data:`SECRET` in its
    environment and its own cache directory; fail the test if it does not end within
    *timeout* seconds (a hang) or prints a traceback."""
    environment = {
        **os.environ,
        "IMAGEGRAPH_TEST_SECRET": SECRET,
        "IMAGEGRAPH_CACHE_DIR": str(cwd / ".." / f".cache-{cwd.name}"),
        "NO_COLOR": "1",
        "COLUMNS": "200",
        **(env or {}),
    }
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from imagegraph.cli import main; sys.exit(main())",
                *argv,
            ],
            cwd=cwd,
            input=stdin,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            env=environment,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise AssertionError(
            f"imagegraph {' '.join(argv)} did not end within {timeout} s"
        ) from None
    ran = Ran(done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in ran.stderr, ran.stderr
    return ran


def assert_contained(ran: Ran, *, written: Sequence[Path] = ()) -> None:
    """Nothing from outside the repository reached the output or the files written."""
    assert SECRET not in ran.output, ran.output
    for path in written:
        if path.exists():
            assert SECRET not in path.read_text(errors="replace"), path
