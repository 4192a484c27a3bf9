"""What is read: only regular files, only inside the root, never forever (issue 12: 3, 6, 9, 10).

Each row of the table is a repository a fork's pull request could bring,
beside a directory ``outside`` that holds the CI job's :data:`SECRET` (as
the files of a runner would). ``imagegraph plan``, ``lint --format sarif``
and ``graph`` run on it in a child process (``tests/hostile.run_cli``: it
fails on a hang or a traceback); each must end, print nothing of the
secret, name every refused file in a diagnostic or an error, and keep
every build in the graph.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import imagegraph
from imagegraph import _files
from imagegraph._files import Boundary, RefusedFile, read_bytes
from imagegraph._sources import tree
from imagegraph.diagnostics import Severity
from imagegraph.errors import ImageGraphError
from tests.hostile import SECRET, Entry, Fifo, Ran, Symlink, assert_contained, build, run_cli

NESTED = "/".join(["n"] * 1100)
"""1,100 nested directories: the recursive walk this replaced hit Python's recursion limit."""

# What the CI runner has outside the repository: the secret in every form a
# repository could try to pull it in as.
OUTSIDE: Mapping[str, Entry] = {
    "outside/Dockerfile": f"FROM alpine:3\nRUN {SECRET}\n",
    "outside/secret.txt": f"TOKEN={SECRET}\n",
    "outside/docker-bake.hcl": f'target "{SECRET}" {{}}\n',
    "outside/sbom.json": json.dumps({"bomFormat": "CycloneDX", "note": SECRET}),
}

TOML_IMAGES = """\
[[image]]
name = "dotdot"
dockerfile = "../outside/Dockerfile"

[[image]]
name = "environ"
dockerfile = "/proc/self/environ"
context = "."

[[image]]
name = "context"
context = "../outside"

[[image]]
name = "fifo"
dockerfile = "fifo/Dockerfile"

[[image]]
name = "zero"
dockerfile = "zero/Dockerfile"

[[image]]
name = "fine"
dockerfile = "fine/Dockerfile"

[sboms]
fine = "../outside/sbom.json"
fifo = "fifo.sbom.json"

[[manifests]]
path = "library/app"
"""

MANIFEST = """\
Maintainers: Jane Doe <jane@example.com> (@jane)
GitRepo: https://example.com/x.git

Tags: outside
GitCommit: 9950175fe6f74b450230a95a31d7afca1adfbce7
Directory: ../outside

Tags: passwd
GitCommit: 9950175fe6f74b450230a95a31d7afca1adfbce7
Directory: ../../../../../../../../etc
File: passwd
"""

OCI_MANIFEST = """\
Maintainers: Jane Doe <jane@example.com> (@jane)
GitRepo: https://example.com/x.git
Builder: oci-import

Tags: linked
Directory: linked

Tags: fifo
Directory: fifo

Tags: dir
Directory: dir

Tags: file
File: ../outside/secret.txt

Tags: dangling
Directory: dangling

Tags: fine
Directory: fine
"""

COMPOSE = """\
services:
  up:
    build:
      context: ../outside
  environ:
    build:
      context: .
      dockerfile: /proc/self/environ
  fifo:
    build: fifo
"""

BAKE = """\
target "bake-up" {
  context = "../outside"
}
target "bake-environ" {
  dockerfile = "/proc/self/environ"
}
target "bake-fifo" {
  context = "fifo"
}
"""


@dataclass(frozen=True)
class Case:
    """A hostile repository and what running imagegraph on it must show."""

    files: Mapping[str, Entry]
    named: Sequence[tuple[str, str]] = ()
    """``(code, file)``: a diagnostic or error with this code must name this file."""
    builds: Sequence[str] = ()
    """Builds that must be in the graph."""
    error: str | None = None
    """Instead of a graph: the error (exit 1) must say this, with the file it names."""
    argv: Sequence[str] = ()
    plan_argv: Sequence[str] = ()
    plan_named: Sequence[tuple[str, str]] = ()
    """As *named*, for files only ``plan`` with *plan_argv* reads (.dockerignore, SBOMs)."""


CASES: dict[str, Case] = {
    "tree": Case(
        {
            "environ/Dockerfile": Symlink("/proc/self/environ"),
            "linked/Dockerfile": Symlink("../../outside/Dockerfile"),
            "fifo/Dockerfile": Fifo(),
            "zero/Dockerfile": Symlink("/dev/zero"),
            "fine/Dockerfile": "FROM alpine:3\n",
            "fine/.gitignore": Symlink("../../outside/secret.txt"),
            "ignored/.gitignore": Fifo(),
            "ignored/Dockerfile": "FROM alpine:3\n",
            f"{NESTED}/Dockerfile": "FROM alpine:3\n",
            "loop/self": Symlink("."),
            "loop/Dockerfile": "FROM alpine:3\n",
            "escape": Symlink("../outside"),  # a directory outside: not walked
            "new\nline/Dockerfile": "FROM alpine:3\n",
        },
        named=[
            ("outside-root", "environ/Dockerfile"),
            ("outside-root", "linked/Dockerfile"),
            ("not-regular-file", "fifo/Dockerfile"),
            ("outside-root", "zero/Dockerfile"),
            ("outside-root", "fine/.gitignore"),
            ("not-regular-file", "ignored/.gitignore"),
        ],
        builds=["environ", "linked", "fifo", "zero", "fine", "ignored", NESTED, "loop"],
    ),
    "toml": Case(
        {
            "imagegraph.toml": TOML_IMAGES,
            "fifo/Dockerfile": Fifo(),
            "zero/Dockerfile": Symlink("/dev/zero"),
            "fine/Dockerfile": "FROM alpine:3\n",
            "fifo.sbom.json": Fifo(),
            "library/app": MANIFEST,
        },
        named=[
            ("outside-root", "imagegraph.toml:1"),
            ("outside-root", "imagegraph.toml:5"),
            ("outside-root", "imagegraph.toml:10"),
            ("not-regular-file", "fifo/Dockerfile"),
            ("outside-root", "imagegraph.toml:18"),
            ("outside-root", "imagegraph.toml"),  # the SBOM
            ("outside-root", "library/app:4"),
            ("outside-root", "library/app:8"),
        ],
        builds=[
            "dotdot",
            "environ",
            "context",
            "fifo",
            "zero",
            "fine",
            "app:outside",
            "app:passwd",
        ],
        plan_argv=["--package", "openssl"],
        plan_named=[("sbom-error", "fifo.sbom.json"), ("sbom-error", "../outside/sbom.json")],
    ),
    "compose-and-bake": Case(
        {"compose.yaml": COMPOSE, "docker-bake.hcl": BAKE, "fifo/Dockerfile": Fifo()},
        named=[
            ("outside-root", "compose.yaml:2"),
            ("outside-root", "compose.yaml:5"),
            ("outside-root", "docker-bake.hcl:1"),
            ("outside-root", "docker-bake.hcl:4"),
            ("not-regular-file", "fifo/Dockerfile"),
        ],
        builds=["up", "environ", "fifo", "bake-up", "bake-environ", "bake-fifo"],
    ),
    "dev-zero-inside-root": Case(
        {"zero/Dockerfile": Symlink("/dev/zero")},
        named=[("not-regular-file", "zero/Dockerfile")],
        builds=["zero"],
        argv=["--root", "/"],
    ),
    "dockerignore": Case(
        {
            "app/Dockerfile": "FROM alpine:3\nCOPY . /src\n",
            "app/.dockerignore": Fifo(),
            "api/Dockerfile": "FROM alpine:3\nCOPY . /src\n",
            "api/Dockerfile.dockerignore": Symlink("/proc/self/environ"),
        },
        builds=["app", "api"],
        plan_argv=["--changed-files", "changed.txt"],
        plan_named=[
            ("not-regular-file", "app/.dockerignore"),
            ("outside-root", "api/Dockerfile.dockerignore"),
        ],
    ),
    # An imported OCI layout is never read by imagegraph, but the plans hand it to
    # skopeo, which would follow its index out of the repository: refused as a
    # Dockerfile would be, at the entry that names it.
    "oci-import": Case(
        {
            "imagegraph.toml": '[[manifests]]\npath = "library/base"\n',
            "library/base": OCI_MANIFEST,
            "linked/index.json": Symlink("../../outside/secret.txt"),
            "fifo/index.json": Fifo(),
            "dir/index.json/blobs": "not an index\n",
            "dangling/index.json": Symlink("gone.json"),
            "fine/index.json": '{"schemaVersion": 2, "manifests": []}\n',
        },
        named=[
            ("outside-root", "library/base:5"),
            ("not-regular-file", "library/base:8"),
            ("not-regular-file", "library/base:11"),
            ("outside-root", "library/base:14"),
            ("missing-dockerfile", "library/base:17"),
        ],
        builds=["base:linked", "base:fifo", "base:dir", "base:file", "base:dangling", "base:fine"],
    ),
    "toml-fifo": Case({"imagegraph.toml": Fifo()}, error="imagegraph.toml: cannot read: not a"),
    "toml-outside": Case(
        {"imagegraph.toml": Symlink("../outside/secret.txt")},
        error="imagegraph.toml: cannot read: outside the root",
    ),
    "bake-fifo": Case({"docker-bake.hcl": Fifo()}, error="docker-bake.hcl: cannot read: not a"),
    "compose-fifo": Case({"compose.yaml": Fifo()}, error="compose.yaml: cannot read: not a"),
    "dotenv-fifo": Case(
        {"compose.yaml": "services:\n  app:\n    build: app\n", ".env": Fifo()},
        error=".env: cannot read: not a regular file",
    ),
    "dotenv-environ": Case(
        {
            "compose.yaml": "services:\n  app:\n    build: app\n",
            ".env": Symlink("/proc/self/environ"),
        },
        error=".env: cannot read: outside the root",
    ),
    "declared-bake-outside": Case(
        {"imagegraph.toml": '[[bake]]\nfile = "../outside/docker-bake.hcl"\n'},
        error="imagegraph.toml:1: [[bake]] file '../outside/docker-bake.hcl' is outside the root",
    ),
}


def _mkdirs(base: Path, relative: str) -> None:
    """``os.makedirs`` without its recursion, which 1,100 levels exhaust."""
    current = os.fspath(base)
    for part in relative.split("/") if relative else ():
        current = os.path.join(current, part)
        if not os.path.isdir(current):
            os.mkdir(current)


def _rmtree(top: Path) -> None:
    """``shutil.rmtree`` without its recursion, and in linear time: each
    subdirectory is moved up beside *top* before it is emptied, so no path
    grows with the depth."""
    pending = [os.fspath(top)]
    moved = 0
    while pending:
        path = pending.pop()
        with os.scandir(path) as entries:
            listed = list(entries)
        for entry in listed:
            if entry.is_dir(follow_symlinks=False):
                moved += 1
                flat = f"{top}.{moved}"
                os.rename(entry.path, flat)
                pending.append(flat)
            else:
                os.unlink(entry.path)
        os.rmdir(path)


def _commands(case: Case) -> list[list[str]]:
    common = ["--no-cache", *case.argv]
    return [
        ["plan", ".", *common, *case.plan_argv],
        ["lint", ".", "--format", "sarif", *common],
        ["graph", ".", "--format", "json", *common],
    ]


def _run_all(commands: list[list[str]], repo: Path) -> list[Ran]:
    # Three child processes at once: each mostly waits for its imports.
    with ThreadPoolExecutor(max_workers=3) as pool:
        return list(pool.map(lambda argv: run_cli(argv, cwd=repo, timeout=60), commands))


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[Path]:
    """A directory on tmpfs where there is one: this disk takes 3 ms per rmdir,
    and the 1,100 nested directories must go again."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    base = Path(tempfile.mkdtemp(dir=shm, prefix="imagegraph-test-"))
    try:
        yield base
    finally:
        _rmtree(base)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_hostile_repository_is_read_only_where_it_may_be(scratch: Path, case: Case) -> None:
    tmp_path = scratch
    build(tmp_path, OUTSIDE)
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in case.files:
        _mkdirs(repo, os.path.dirname(name))
    build(repo, case.files)
    (repo / "changed.txt").write_text("app/src/main.py\napi/src/main.py\n")
    if case.error is not None:
        # Refused while the declarations are read, before any command differs:
        # one command shows it for all (the one whose output is uploaded).
        (ran,) = _run_all(_commands(case)[1:2], repo)
        assert_contained(ran)
        assert ran.code == 1, ran.output
        assert f"imagegraph: {case.error}" in ran.stderr, ran.stderr
        assert ran.stdout == ""
        return
    try:
        plan, lint, graph = _run_all(_commands(case), repo)
    finally:
        if (repo / "n").is_dir():
            _rmtree(repo / "n")  # pytest's clean-up of old runs recurses, once per level
    for ran in (plan, lint, graph):
        assert_contained(ran)
    sarif = json.loads(lint.stdout)
    located = {
        (
            result["ruleId"],
            location["physicalLocation"]["artifactLocation"]["uri"],
            location["physicalLocation"].get("region", {}).get("startLine"),
        )
        for result in sarif["runs"][0]["results"]
        for location in result.get("locations", [])
    }
    for code, name in case.named:
        path, _, line = name.partition(":")
        # On stderr as "imagegraph: path[:line]: severity[code]: ...", in SARIF as a result there.
        for ran in (plan, graph):
            assert _shows(ran.stderr, code, name), (code, name, ran.stderr)
        lines = {at for rule, uri, at in located if (rule, uri) == (code, path)}
        assert lines, (code, name, located)
        assert not line or int(line) in lines, (code, name, located)
    for code, name in case.plan_named:
        assert _shows(plan.stderr, code, name), (code, name, plan.stderr)
    nodes = {node["id"] for node in json.loads(graph.stdout)["nodes"]}
    assert set(case.builds) <= nodes, sorted(nodes)
    assert plan.code in (0, 1), plan.output  # 1: error diagnostics; never a crash


def _shows(stderr: str, code: str, name: str) -> bool:
    return any(
        line.startswith(f"imagegraph: {name}: ") and f"[{code}]: " in line
        for line in stderr.splitlines()
    )


# --- in-process cases: nothing here can hang ---------------------------------


def _write(root: Path, files: Mapping[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_root_allows_what_is_outside_the_scanned_directory(tmp_path: Path) -> None:
    _write(tmp_path, {"shared/Dockerfile": "FROM alpine:3\n"})
    repo = _write(
        tmp_path / "repo",
        {"imagegraph.toml": '[[image]]\nname = "app"\ndockerfile = "../shared/Dockerfile"\n'},
    )
    refused = imagegraph.scan(repo, cache=False)
    # Its Dockerfile and its context (the Dockerfile's directory) are both outside.
    assert [d.code for d in refused.diagnostics] == ["outside-root", "outside-root"]
    assert refused.parents("app") == []
    allowed = imagegraph.scan(repo, root=tmp_path, cache=False)
    assert [d.code for d in allowed.diagnostics if d.severity is Severity.ERROR] == []
    assert allowed.parents("app") == ["docker.io/library/alpine:3"]


def test_links_inside_the_root_to_inside_the_root_are_read(tmp_path: Path) -> None:
    _write(tmp_path, {"shared/Dockerfile": "FROM alpine:3\n", "shared/ignore": "skipped/\n"})
    (tmp_path / "app").mkdir()
    (tmp_path / "app/Dockerfile").symlink_to("../shared/Dockerfile")
    (tmp_path / ".gitignore").symlink_to("shared/ignore")
    _write(tmp_path, {"skipped/Dockerfile": "FROM x\n"})
    graph = imagegraph.scan(tmp_path, cache=False)
    assert [d.code for d in graph.diagnostics if d.severity is not Severity.INFO] == []
    assert sorted(b.name for b in graph.builds) == ["app", "shared"]
    assert graph.parents("app") == ["docker.io/library/alpine:3"]


def test_the_scanned_directory_must_be_inside_the_root(tmp_path: Path) -> None:
    repo = _write(tmp_path / "repo", {"Dockerfile": "FROM alpine:3\n"})
    (tmp_path / "other").mkdir()
    with pytest.raises(ImageGraphError, match="not inside the root"):
        imagegraph.scan(repo, root=tmp_path / "other", cache=False)


def test_a_named_config_may_be_anywhere_but_what_it_names_may_not(tmp_path: Path) -> None:
    repo = _write(tmp_path / "repo", {"app/Dockerfile": "FROM alpine:3\n"})
    config = _write(
        tmp_path / "ci",
        {
            "imagegraph.toml": (
                '[[image]]\nname = "app"\ndockerfile = "../repo/app/Dockerfile"\n'
                '[[image]]\nname = "ci"\ndockerfile = "Dockerfile"\n'
            ),
            "Dockerfile": "FROM alpine:3\n",
        },
    )
    graph = imagegraph.scan(repo, config=config / "imagegraph.toml", cache=False)
    assert graph.parents("app") == ["docker.io/library/alpine:3"]
    outside = [d for d in graph.diagnostics if d.code == "outside-root"]
    assert [(d.path, d.line) for d in outside] == [(str(config / "imagegraph.toml"), 4)] * 2


@pytest.mark.parametrize("named", ["ci/imagegraph.toml", "{repo}/ci/imagegraph.toml", "cd/x.toml"])
def test_a_named_config_inside_the_repository_is_not_followed_out_of_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, named: str
) -> None:
    # CI names ci/imagegraph.toml; the pull request made it a link to a file of
    # the runner (or made ci/ a link): it was read, and its values quoted.
    outside = _write(tmp_path / "home", {"x.toml": f'exclude = "{SECRET}"\n'})
    repo = _write(tmp_path / "repo", {"app/Dockerfile": "FROM alpine:3\n"})
    (repo / "ci").mkdir()
    (repo / "ci" / "imagegraph.toml").symlink_to(outside / "x.toml")
    (repo / "cd").symlink_to(outside)
    monkeypatch.chdir(repo)
    ran = run_cli(["plan", ".", "--config", named.format(repo=repo)], cwd=repo)
    assert ran.code == 1
    assert "outside the root" in ran.stderr, ran.stderr
    assert_contained(ran)
    assert str(outside) not in ran.output
    # A link inside the repository to a file inside it is read as before.
    _write(repo, {"real.toml": '[[image]]\nname = "app"\ndockerfile = "app/Dockerfile"\n'})
    (repo / "ci" / "imagegraph.toml").unlink()
    (repo / "ci" / "imagegraph.toml").symlink_to("../real.toml")
    graph = imagegraph.scan(repo, config=Path("ci/imagegraph.toml"), cache=False)
    assert [b.name for b in graph.builds] == ["app"]


@pytest.mark.parametrize(
    ("option", "content"),
    [
        ("--durations", f'{{"{SECRET}": "x"}}\n'),
        ("--advisory", f'{{"id": "{SECRET}", "affected": 5}}\n'),
        ("--changed-files", f"{SECRET}\n"),
    ],
)
def test_a_named_input_inside_the_repository_is_not_followed_out_of_it(
    tmp_path: Path, option: str, content: str
) -> None:
    # CI names ci/durations.json (or an advisory, a list of changed files) of the
    # repository; the pull request made it a link to a file of the runner.
    outside = _write(tmp_path / "home", {"x.json": content})
    repo = _write(tmp_path / "repo", {"app/Dockerfile": "FROM alpine:3\n"})
    (repo / "ci").mkdir()
    (repo / "ci" / "input.json").symlink_to(outside / "x.json")
    argv = ["plan", ".", "--changed", "alpine:3", "--format", "json", option, "ci/input.json"]
    ran = run_cli(argv, cwd=repo)
    assert ran.code == 1
    assert "ci/input.json: cannot read: outside the root" in ran.stderr, ran.stderr
    assert_contained(ran)
    # Named outside the repository, it may be anywhere (a file of the job, a pipe).
    ran = run_cli([*argv[:-1], str(outside / "x.json")], cwd=repo)
    assert "outside the root" not in ran.stderr, ran.stderr


def test_the_parse_cache_serves_nothing_for_a_path_now_refused(tmp_path: Path) -> None:
    # The same file, unchanged, read once under a wider root and cached: read
    # again without it, it is refused before the cache is looked at.
    _write(tmp_path, {"shared/Dockerfile": "FROM alpine:3\n"})
    repo = _write(
        tmp_path / "repo",
        {"imagegraph.toml": '[[image]]\nname = "app"\ndockerfile = "../shared/Dockerfile"\n'},
    )
    assert imagegraph.scan(repo, root=tmp_path).parents("app") == ["docker.io/library/alpine:3"]
    again = imagegraph.scan(repo)
    assert [d.code for d in again.diagnostics] == ["outside-root", "outside-root"]
    assert again.parents("app") == []
    assert imagegraph.scan(repo, root=tmp_path).parents("app") == ["docker.io/library/alpine:3"]


def test_a_file_over_the_size_cap_is_refused_unread(tmp_path: Path) -> None:
    repo = _write(tmp_path, {"app/Dockerfile": "FROM alpine:3\n"})
    os.truncate(repo / "app/Dockerfile", _files.MAX_FILE_BYTES + 1)  # sparse: nothing written
    graph = imagegraph.scan(repo, cache=False)
    (refused,) = [d for d in graph.diagnostics if d.code == "file-too-large"]
    assert refused.path == "app/Dockerfile"
    assert "16 MiB" in refused.message
    assert "app" in [b.name for b in graph.builds]


def test_a_file_larger_than_it_says_is_refused_at_the_cap(tmp_path: Path) -> None:
    # Files of /proc report a size of 0: the read stops one byte past the cap.
    path = tmp_path / "f"
    path.write_bytes(b"x" * 11)
    with pytest.raises(RefusedFile) as refused:
        read_bytes(path, root=tmp_path, limit=10)
    assert refused.value.code == "file-too-large"
    assert read_bytes(path, root=tmp_path, limit=11) == b"x" * 11
    assert _files.read_text("/proc/self/status", root=None, limit=1 << 20).startswith("Name:")
    with pytest.raises(RefusedFile):
        read_bytes("/proc/self/status", root=None, limit=10)


def test_what_is_not_a_regular_file_is_never_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Opening a device can act (a watchdog starts, a tape rewinds): the refusal
    # comes before any open, inside the root (--root /) or not.
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "zero").symlink_to("/dev/zero")
    opened: list[str] = []
    real_open = os.open

    def recording(path: str, flags: int, *args: int, **kwargs: object) -> int:
        opened.append(os.fspath(path))
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_files.os, "open", recording)
    for name, root in [("fifo", tmp_path), ("zero", "/"), ("zero", tmp_path), ("zero", None)]:
        with pytest.raises(RefusedFile):
            read_bytes(tmp_path / name, root=root)
    assert opened == []


def test_a_socket_is_refused_by_name(tmp_path: Path) -> None:
    import socket

    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(tmp_path / "Dockerfile"))
        with pytest.raises(RefusedFile, match="a socket") as refused:
            read_bytes(tmp_path / "Dockerfile", root=tmp_path)
    assert refused.value.code == "not-regular-file"


def test_a_control_character_in_a_directory_name_keeps_the_build_and_its_path(
    tmp_path: Path,
) -> None:
    names = ["new\nline", "tab\there", "esc\x1b[31m", "bell\x07"]
    _write(tmp_path, {f"{name}/Dockerfile": "FROM alpine:3\n" for name in names})
    graph = imagegraph.scan(tmp_path, cache=False)
    assert sorted(b.dockerfile for b in graph.builds) == sorted(f"{n}/Dockerfile" for n in names)
    for each in graph.builds:
        assert graph.parents(each.name) == ["docker.io/library/alpine:3"]


def test_a_directory_that_cannot_be_listed_is_an_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As root, chmod 000 does not stop a listing: this makes os.scandir fail as
    # it would for another user, and proves the walk reports it; the child
    # process test below proves it with a real permission error.
    _write(tmp_path, {"open/Dockerfile": "FROM alpine:3\n", "closed/Dockerfile": "FROM x\n"})
    real_scandir = os.scandir

    def scandir(path: str) -> object:
        if os.path.basename(path) == "closed":
            raise PermissionError(13, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr(tree.os, "scandir", scandir)
    graph = imagegraph.scan(tmp_path, cache=False)
    (error,) = [d for d in graph.diagnostics if d.code == "unreadable-directory"]
    assert (error.severity, error.path) == (Severity.ERROR, "closed/")
    assert "Permission denied" in error.message
    assert [b.name for b in graph.builds] == ["open"]


@pytest.fixture
def world_readable_tree() -> Iterator[Path]:
    # tmp_path lies below a directory only root may enter: another user needs its own.
    base = Path(tempfile.mkdtemp(prefix="imagegraph-nobody-"))
    base.chmod(0o755)
    try:
        yield base
    finally:
        for path in base.rglob("*"):
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o755)
        shutil.rmtree(base)


# Started as root (the interpreter lives where nobody may not go), the child
# imports what a scan needs by scanning once, then becomes nobody and scans
# again, for real: chmod 000 holds for it.
AS_NOBODY = """
import contextlib, io, os, sys
from imagegraph.cli import main
uid, gid = int(sys.argv[1]), int(sys.argv[2])
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    main(["graph", "warm", "--format", "json", "--no-cache"])
os.setgroups([])
os.setgid(gid)
os.setuid(uid)
sys.exit(main(["graph", "repo", "--format", "json", "--no-cache"]))
"""


@pytest.mark.skipif(not hasattr(os, "setuid") or os.geteuid() != 0, reason="needs root")
def test_unreadable_files_and_directories_as_another_user(world_readable_tree: Path) -> None:
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user nobody")
    base = world_readable_tree
    files = {
        "open/Dockerfile": "FROM alpine:3\n",
        "closed/Dockerfile": "FROM alpine:3\n",
        "secret/Dockerfile": "FROM alpine:3\n",
        "gone/Dockerfile": Symlink("nowhere"),
    }
    build(base / "warm", files)
    repo = build(base / "repo", files)
    for path in [base, *base.rglob("*")]:
        if path.is_dir():
            path.chmod(0o755)
    (repo / "closed").chmod(0)
    (repo / "secret/Dockerfile").chmod(0)
    done = subprocess.run(
        [sys.executable, "-c", AS_NOBODY, str(nobody.pw_uid), str(nobody.pw_gid)],
        cwd=base, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr
    assert "imagegraph: closed/: error[unreadable-directory]: cannot list" in done.stderr
    assert "secret/Dockerfile: error[missing-dockerfile]" in done.stderr, done.stderr
    assert "Permission denied" in done.stderr
    nodes = {node["id"] for node in json.loads(done.stdout)["nodes"]}
    assert {"open", "secret", "gone"} <= nodes


def test_the_walk_does_not_follow_links_to_directories(tmp_path: Path) -> None:
    _write(tmp_path, {"outside/Dockerfile": "FROM alpine:3\n", "repo/app/Dockerfile": "FROM x\n"})
    repo = tmp_path / "repo"
    (repo / "app/loop").symlink_to("..")
    (repo / "escape").symlink_to("../outside")
    walked: list[str] = []
    assert tree.find_dockerfiles(repo, walked=walked) == ["app/Dockerfile"]
    assert walked == ["./", "app/"]


# --- properties ------------------------------------------------------------


@pytest.fixture(scope="module")
def linked_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("links")
    (base / "root/a/b").mkdir(parents=True)
    (base / "out").mkdir()
    (base / "root/in").symlink_to("a/b")
    (base / "root/a/up").symlink_to("..")
    (base / "root/a/out").symlink_to("../../out")
    (base / "root/a/abs").symlink_to(base / "out")
    (base / "root/loop").symlink_to("loop")
    (base / "root/dangling").symlink_to("nowhere/at/all")
    return base / "root"


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.sampled_from(["a", "b", "..", ".", "in", "up", "out", "abs", "loop", "dangling", "x"]),
        max_size=8,
    )
)
def test_boundary_resolves_as_realpath_does(linked_tree: Path, parts: list[str]) -> None:
    path = os.path.join(linked_tree, *parts)
    boundary = Boundary(linked_tree)
    try:
        expected = os.path.realpath(path, strict=True)
    except FileNotFoundError:
        expected = os.path.realpath(path)  # what is not there is taken as written
    except OSError:
        # Through the link loop: the kernel opens nothing by this path, and
        # realpath gives up on the rest of it; only that it ends matters.
        assert isinstance(boundary.contains(path), bool)
        return
    assert boundary.real(path) == expected
    assert boundary.contains(path) == _files.within(expected, boundary.root)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.text(
        st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",)),
        min_size=1,
        max_size=20,
    ).filter(lambda name: name not in (".", "..") and len(name.encode()) < 200)
)
def test_any_directory_name_keeps_its_build(tmp_path: Path, name: str) -> None:
    repo = Path(tempfile.mkdtemp(dir=tmp_path))
    try:
        (repo / name).mkdir()
    except OSError:
        return  # not a name this file system takes
    (repo / name / "Dockerfile").write_text("FROM alpine:3\n")
    try:
        graph = imagegraph.scan(repo, cache=False)
    except ImageGraphError:
        return  # a refusal that says why is fine; anything else is not
    if name in (".git", ".hg", ".svn", "node_modules"):
        assert graph.builds == ()
        return
    assert [b.dockerfile for b in graph.builds] == [f"{name}/Dockerfile"]


# Every file role of a declared fleet, each given a kind that cannot block
# (FIFOs and devices are in the table above, run where a hang is caught).
ROLES: Mapping[str, str] = {
    "imagegraph.toml": (
        '[[image]]\nname = "app"\ndockerfile = "app/Dockerfile"\n'
        '[[compose]]\nfile = "compose.yaml"\n[sboms]\napp = "app.sbom.json"\n'
    ),
    "compose.yaml": "services:\n  web:\n    build: web\n",
    ".env": "TAG=1\n",
    "app/Dockerfile": "FROM alpine:3\n",
    "web/Dockerfile": "FROM alpine:3\n",
    ".gitignore": "build/\n",
    "app/.dockerignore": "*.md\n",
    "app.sbom.json": '{"bomFormat": "CycloneDX", "components": []}',
}
KINDS = ("regular", "missing", "dangling", "outside", "loop", "directory")


def _place(repo: Path, role: str, kind: str, secret: Path) -> None:
    path = repo / role
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "regular":
        path.write_text(ROLES[role])
    elif kind == "dangling":
        path.symlink_to("no/such/file")
    elif kind == "outside":
        path.symlink_to(secret)
    elif kind == "loop":
        path.symlink_to(path.name)
    elif kind == "directory":
        path.mkdir()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.fixed_dictionaries({role: st.sampled_from(KINDS) for role in ROLES}))
def test_any_kind_of_file_in_any_role_is_refused_by_name_and_never_quoted(
    tmp_path: Path, kinds: dict[str, str]
) -> None:
    base = Path(tempfile.mkdtemp(dir=tmp_path))
    secret = base / "secret.txt"
    secret.write_text(f"FROM {SECRET}\n[[image]]\nname = '{SECRET}'\n")
    repo = base / "repo"
    repo.mkdir()
    for role, kind in kinds.items():
        _place(repo, role, kind, secret)
    try:
        graph = imagegraph.scan(repo, cache=False)
    except ImageGraphError as err:
        stopped = str(err)
    else:
        stopped = None
    if stopped is not None:
        # A declaration that cannot be read stops the scan, naming it.
        assert SECRET not in stopped
        assert any(role in stopped for role in ROLES), stopped
        return
    shown = "\n".join(str(d) for d in graph.diagnostics)
    assert SECRET not in shown
    packages = graph.packages("app") if "app" in graph.nx else None
    assert SECRET not in repr(packages)
    builds = {b.name for b in graph.builds}
    if kinds["imagegraph.toml"] == "regular":
        assert "app" in builds
        if kinds["app/Dockerfile"] == "outside":
            assert "imagegraph.toml:1: error[outside-root]" in shown, shown
    if kinds["imagegraph.toml"] == kinds["compose.yaml"] == "missing":
        # By convention, every Dockerfile the walk finds, however it is refused.
        found = {
            n for n in ("app", "web") if kinds[f"{n}/Dockerfile"] not in ("missing", "directory")
        }
        assert found <= builds


def test_refusals_survive_a_process_pool() -> None:
    import pickle

    refused = RefusedFile("outside-root", "outside", "x/Dockerfile")
    again = pickle.loads(pickle.dumps(refused))
    assert (again.code, again.strerror, again.filename) == (
        "outside-root",
        "outside",
        "x/Dockerfile",
    )
    assert isinstance(again, OSError)


@pytest.mark.parametrize(
    "name", ["imagegraph.toml", "docker-bake.hcl", "docker-bake.json", "compose.yaml"]
)
def test_a_declaration_has_a_cap_of_its_own(tmp_path: Path, name: str) -> None:
    # A fleet of a hundred thousand images declared in one file runs to tens of
    # megabytes: past the Dockerfile cap, read; past the declaration cap, refused unread.
    repo = _write(tmp_path, {"app/Dockerfile": "FROM alpine:3\n"})
    declared = repo / name
    entry = {
        "imagegraph.toml": '[[image]]\nname = "app"\ndockerfile = "app/Dockerfile"\n',
        "docker-bake.hcl": 'target "app" {\n  context = "app"\n}\n',
        "docker-bake.json": '{"target": {"app": {"context": "app"}}}\n',
        "compose.yaml": "services:\n  app:\n    build: app\n",
    }[name]
    padding = ("#" if name != "docker-bake.json" else " ") * 1023 + "\n"
    lines = (_files.MAX_FILE_BYTES + 1024) // len(padding)
    if name == "docker-bake.json":
        declared.write_text(entry[:-2] + padding * lines + "}\n")
    else:
        declared.write_text(entry + padding * lines)
    assert declared.stat().st_size > _files.MAX_FILE_BYTES
    assert [b.name for b in imagegraph.scan(repo, cache=False).builds] == ["app"]
    os.truncate(declared, _files.MAX_DECLARATION_BYTES + 1)  # sparse: nothing written
    with pytest.raises(imagegraph.ConfigError, match="larger than 256 MiB") as refused:
        imagegraph.scan(repo, cache=False)
    assert refused.value.path == name
